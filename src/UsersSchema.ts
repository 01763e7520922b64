/**
 * Request and response shapes of the bkend users endpoints, decoded tolerantly: every documented variant
 * of a field is accepted and extra fields are ignored. Re-exported by `Users`.
 *
 * @since 0.1.0
 */
import { ParseResult, Schema } from "effect"

/**
 * A user role: `admin`, `user` or `guest`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Role = Schema.Literal("admin", "user", "guest")

/**
 * A user role, as `Users.setRole` takes it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Role = typeof Role.Type

const optionalText = Schema.optional(Schema.NullOr(Schema.String))

/**
 * A linked account embedded in a user list item (`includeAccounts=true`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserAccount = Schema.Struct({
  provider: Schema.String,
  email: optionalText,
  connectedAt: optionalText,
  linkedAt: optionalText
})

/**
 * A user list item. Non-admin callers get public fields only (no `email`), so only `id` is guaranteed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserSummary = Schema.Struct({
  id: Schema.String,
  role: Schema.optional(Schema.String),
  name: optionalText,
  nickname: optionalText,
  email: optionalText,
  image: optionalText,
  createdAt: Schema.optional(Schema.String),
  updatedAt: Schema.optional(Schema.String),
  accounts: Schema.optional(Schema.Array(UserAccount))
})

/**
 * One item of `Users.list`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type UserSummary = typeof UserSummary.Type

/**
 * A user object (get, create, update, role). The self and admin views add `emailVerified`, `onboardingStatus`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const User = Schema.Struct({
  ...UserSummary.fields,
  emailVerified: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Boolean))),
  onboardingStatus: optionalText
})

/**
 * A user as `Users.get`, `create`, `update` and `setRole` return it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type User = typeof User.Type

/**
 * A profile's social links; `null` clears one.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SocialLinks = Schema.Struct({
  github: optionalText,
  twitter: optionalText,
  linkedin: optionalText
})

/**
 * `GET /v1/users/:userId/profile` (plus `image`, which the example apps read).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Profile = Schema.Struct({
  name: optionalText,
  nickname: optionalText,
  email: optionalText,
  mobile: optionalText,
  gender: optionalText,
  bio: optionalText,
  socialLinks: Schema.optional(Schema.NullOr(SocialLinks)),
  image: optionalText
})

/**
 * A profile as `Users.getProfile` and `updateProfile` return it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Profile = typeof Profile.Type

const WireUploadUrl = Schema.Struct({
  url: Schema.optional(Schema.String),
  uploadUrl: Schema.optional(Schema.String),
  key: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

const UploadUrlType = Schema.Struct({
  /** presigned storage URL: PUT the bytes there without bkend headers */
  url: Schema.String,
  /** storage key to save with `saveAvatar` */
  key: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

/**
 * `POST /v1/users/:userId/avatar/upload-url`: `url ?? uploadUrl`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AvatarUploadUrl = Schema.transformOrFail(WireUploadUrl, UploadUrlType, {
  strict: true,
  decode: (wire, _, ast) => {
    const url = wire.url ?? wire.uploadUrl
    return url === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, wire, "expected url or uploadUrl"))
      : ParseResult.succeed({ url, key: wire.key, expiresAt: wire.expiresAt })
  },
  encode: (value) => ParseResult.succeed(value)
})

/**
 * What `Users.createAvatarUploadUrl` returns: the URL to PUT the image to and the key for `saveAvatar`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type AvatarUploadUrl = typeof AvatarUploadUrl.Type

/**
 * `PATCH /v1/users/:userId/avatar`: the new image URL (extra fields tolerated).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AvatarSaved = Schema.Struct({ image: Schema.NullOr(Schema.String) })

/**
 * What `Users.saveAvatar` returns: the avatar's new image URL.
 *
 * @since 0.1.0
 * @category schemas
 */
export type AvatarSaved = typeof AvatarSaved.Type

/**
 * A user's locale, time zone and theme (`GET`/`PATCH /v1/users/:userId/preferences`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Preferences = Schema.Struct({ locale: optionalText, timezone: optionalText, theme: optionalText })

/**
 * The preferences as `Users.getPreferences` and `updatePreferences` return them.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Preferences = typeof Preferences.Type

const flag = Schema.optional(Schema.Boolean)

/**
 * Notification settings (defaults for a new user: service, push, email, securityAlerts on; the rest off).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Notifications = Schema.Struct({
  service: flag,
  marketing: flag,
  push: flag,
  email: flag,
  sms: flag,
  nightTime: flag,
  securityAlerts: flag
})

/**
 * The notification settings as `Users.getNotifications` and `updateNotifications` return them.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Notifications = typeof Notifications.Type

/**
 * The onboarding record: undocumented, so an open record (bkend-local stores `{ status }` verbatim).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Onboarding = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * The onboarding record as `Users.getOnboarding` and `updateOnboarding` return it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Onboarding = typeof Onboarding.Type

/**
 * Whether a user's profile is public, and the slug it is reached by.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PublicSettings = Schema.Struct({ slug: optionalText, isPublic: flag })

/**
 * The public settings as `Users.getPublicSettings` and `updatePublicSettings` return them.
 *
 * @since 0.1.0
 * @category schemas
 */
export type PublicSettings = typeof PublicSettings.Type
