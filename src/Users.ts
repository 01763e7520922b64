/**
 * The bkend users API (`/v1/users/*`): user management (list, create, get, update, delete, role),
 * profile, avatar, preferences, notification settings, onboarding and public settings.
 *
 * Who may call what: listing and reading users needs any signed-in caller (non-admins see public fields only);
 * a user's own record and sub-resources need that user or an admin; create, role and deleting others need an
 * admin (an `sk_` key, or a signed-in user with the `admin` role).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Errors } from "./Auth.js"
import { documented } from "./AuthSchema.js"
import * as BkendClient from "./BkendClient.js"
import * as Page from "./Page.js"
import {
  AvatarSaved,
  AvatarUploadUrl,
  Notifications,
  Onboarding,
  Preferences,
  Profile,
  PublicSettings,
  type Role,
  User,
  UserSummary
} from "./UsersSchema.js"

export {
  /**
   * A user role: `admin`, `user` or `guest`.
   *
   * @since 0.1.0
   * @category schemas
   */
  Role,
  /**
   * A linked account as embedded in a user list item (with `includeAccounts`).
   *
   * @since 0.1.0
   * @category schemas
   */
  UserAccount,
  /**
   * A user as lists show it; only `id` is guaranteed (non-admins see public fields only).
   *
   * @since 0.1.0
   * @category schemas
   */
  UserSummary,
  /**
   * A user as get, create, update and role changes return it.
   *
   * @since 0.1.0
   * @category schemas
   */
  User,
  /**
   * A profile's GitHub, Twitter and LinkedIn links.
   *
   * @since 0.1.0
   * @category schemas
   */
  SocialLinks,
  /**
   * A user's public profile: name, nickname, contact fields, bio and image.
   *
   * @since 0.1.0
   * @category schemas
   */
  Profile,
  /**
   * Where to PUT a new avatar's bytes, and the key to save it under.
   *
   * @since 0.1.0
   * @category schemas
   */
  AvatarUploadUrl,
  /**
   * The image URL of a saved avatar.
   *
   * @since 0.1.0
   * @category schemas
   */
  AvatarSaved,
  /**
   * A user's locale, time zone and theme.
   *
   * @since 0.1.0
   * @category schemas
   */
  Preferences,
  /**
   * Which notifications a user receives.
   *
   * @since 0.1.0
   * @category schemas
   */
  Notifications,
  /**
   * The user's onboarding record, an open object.
   *
   * @since 0.1.0
   * @category schemas
   */
  Onboarding,
  /**
   * Whether a user's profile is public, and its slug.
   *
   * @since 0.1.0
   * @category schemas
   */
  PublicSettings
} from "./UsersSchema.js"

// ---------------------------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Errors of calls on one user: bad input, not signed in, not allowed (another user's data, admin-only), no such
 * user, or an id the SDK refused to put in the route.
 *
 * @since 0.1.0
 * @category errors
 */
export type UserError = Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">

/**
 * Paging, search and sort of a user list, and whether items embed their linked accounts.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  readonly page?: number | undefined
  /** 1–100, default 20 */
  readonly limit?: number | undefined
  /** matches name, nickname or e-mail */
  readonly search?: string | undefined
  readonly searchType?: "name" | "nickname" | "email" | undefined
  readonly sortBy?: "createdAt" | "updatedAt" | "name" | "email" | "role" | undefined
  readonly sortDirection?: "asc" | "desc" | undefined
  readonly includeAccounts?: boolean | undefined
}

/**
 * Fields to change; `null` clears a nullable field. `extra` is sent as-is (fields bkend may add, e.g. `image`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProfileUpdate {
  readonly userId: string
  readonly name?: string | undefined
  readonly nickname?: string | null | undefined
  /** E.164 */
  readonly mobile?: string | null | undefined
  readonly gender?: "none" | "male" | "female" | "etc" | null | undefined
  readonly bio?: string | null | undefined
  readonly socialLinks?:
    | {
        readonly github?: string | null | undefined
        readonly twitter?: string | null | undefined
        readonly linkedin?: string | null | undefined
      }
    | null
    | undefined
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The image types an avatar may have.
 *
 * @since 0.1.0
 * @category models
 */
export type AvatarContentType = "image/jpeg" | "image/png" | "image/gif" | "image/webp"

interface UserId {
  readonly userId: string
}

/**
 * Every users call: list, create, read, update and delete users, and their roles, profiles, avatars, preferences,
 * notifications, onboarding and public settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `GET /v1/users` */
  readonly list: (options?: ListOptions) => Effect.Effect<Page.Page<UserSummary>, UserError>
  /** `POST /v1/users` (admin) */
  readonly create: (options: {
    readonly name: string
    readonly email: string
    readonly role?: Role | undefined
  }) => Effect.Effect<User, UserError | Errors<"Conflict">>
  /** `GET /v1/users/:userId` */
  readonly get: (options: UserId) => Effect.Effect<User, UserError>
  /** `PATCH /v1/users/:userId` */
  readonly update: (options: UserId & { readonly name?: string | undefined }) => Effect.Effect<User, UserError>
  /** `DELETE /v1/users/:userId` (admin, or the user themself: soft delete, sessions ended) */
  readonly delete: (options: UserId) => Effect.Effect<void, UserError>
  /** `PATCH /v1/users/:userId/role` (admin) */
  readonly setRole: (options: UserId & { readonly role: Role }) => Effect.Effect<User, UserError>
  /** `GET /v1/users/:userId/profile` */
  readonly getProfile: (options: UserId) => Effect.Effect<Profile, UserError>
  /** `PATCH /v1/users/:userId/profile` */
  readonly updateProfile: (options: ProfileUpdate) => Effect.Effect<Profile, UserError>
  /** `POST /v1/users/:userId/avatar/upload-url`: a presigned URL for one image */
  readonly createAvatarUploadUrl: (
    options: UserId & { readonly filename: string; readonly contentType: AvatarContentType }
  ) => Effect.Effect<AvatarUploadUrl, UserError>
  /** `PATCH /v1/users/:userId/avatar` with the `key` of an uploaded image */
  readonly saveAvatar: (options: UserId & { readonly s3Key: string }) => Effect.Effect<AvatarSaved, UserError>
  /** `DELETE /v1/users/:userId/avatar` */
  readonly deleteAvatar: (options: UserId) => Effect.Effect<void, UserError>
  /**
   * Upload URL → `PUT` of `data` to storage (no bkend headers, retried with the whole body) → save. Returns the new
   * image URL.
   */
  readonly uploadAvatar: (
    options: UserId & {
      readonly data: Uint8Array
      readonly filename: string
      readonly contentType: AvatarContentType
    }
  ) => Effect.Effect<AvatarSaved, UserError>
  /** `GET /v1/users/:userId/preferences` */
  readonly getPreferences: (options: UserId) => Effect.Effect<Preferences, UserError>
  /** `PATCH /v1/users/:userId/preferences` */
  readonly updatePreferences: (
    options: UserId & {
      readonly locale?: string | null | undefined
      readonly timezone?: string | null | undefined
      readonly theme?: "light" | "dark" | "system" | null | undefined
    }
  ) => Effect.Effect<Preferences, UserError>
  /** `GET /v1/users/:userId/notifications` */
  readonly getNotifications: (options: UserId) => Effect.Effect<Notifications, UserError>
  /** `PATCH /v1/users/:userId/notifications` */
  readonly updateNotifications: (
    options: UserId & { readonly [K in keyof Notifications]?: boolean | undefined }
  ) => Effect.Effect<Notifications, UserError>
  /** `GET /v1/users/:userId/onboarding` */
  readonly getOnboarding: (options: UserId) => Effect.Effect<Onboarding, UserError>
  /** `PATCH /v1/users/:userId/onboarding` with an open record, e.g. `{ status: "completed" }` */
  readonly updateOnboarding: (
    options: UserId & { readonly onboarding: Readonly<Record<string, unknown>> }
  ) => Effect.Effect<Onboarding, UserError>
  /** `GET /v1/users/:userId/public-settings` */
  readonly getPublicSettings: (options: UserId) => Effect.Effect<PublicSettings, UserError>
  /** `PATCH /v1/users/:userId/public-settings` */
  readonly updatePublicSettings: (
    options: UserId & { readonly slug?: string | null | undefined; readonly isPublic?: boolean | undefined }
  ) => Effect.Effect<PublicSettings, UserError>
}

/**
 * The tag of the users service; `Bkend.layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Users extends Context.Tag("bkend-effect/Users")<Users, Service>() {}

const userErrors = documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput")

/**
 * Builds the users service on a `BkendClient` (what {@link layer} provides).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, BkendClient.BkendClient> = Effect.gen(function* () {
  const client = yield* BkendClient.BkendClient

  const call = <A, I>(
    span: string,
    request: {
      readonly method: BkendClient.Method
      readonly route: `/v1/users${string}`
      readonly userId?: string
      readonly query?: Readonly<Record<string, BkendClient.QueryValue>>
      readonly body?: unknown
      readonly response: Schema.Schema<A, I>
    }
  ) => {
    const { userId, ...rest } = request
    // admin calls with an sk_ key carry no session, so the bearer token is sent only when there is one
    return client
      .request({ ...rest, ...(userId === undefined ? {} : { params: { userId } }), auth: "optional" })
      .pipe(userErrors, Effect.withSpan(span))
  }

  const byId =
    <A, I>(
      span: string,
      method: BkendClient.Method,
      route: `/v1/users/:userId${string}`,
      response: Schema.Schema<A, I>
    ) =>
    (userId: string, body?: unknown) =>
      call(span, { method, route, userId, response, ...(body === undefined ? {} : { body }) })

  const createAvatarUploadUrl: Service["createAvatarUploadUrl"] = (o) =>
    byId(
      "Users.createAvatarUploadUrl",
      "POST",
      "/v1/users/:userId/avatar/upload-url",
      AvatarUploadUrl
    )(o.userId, {
      filename: o.filename,
      contentType: o.contentType
    })

  const saveAvatar: Service["saveAvatar"] = (o) =>
    byId("Users.saveAvatar", "PATCH", "/v1/users/:userId/avatar", AvatarSaved)(o.userId, { s3Key: o.s3Key })

  return Users.of({
    list: (o = {}) =>
      call("Users.list", {
        method: "GET",
        route: "/v1/users",
        query: {
          page: o.page,
          limit: o.limit,
          search: o.search,
          searchType: o.searchType,
          sortBy: o.sortBy,
          sortDirection: o.sortDirection,
          includeAccounts: o.includeAccounts
        },
        response: Page.schema(UserSummary, { page: o.page, limit: o.limit })
      }),
    create: (o) =>
      client
        .request({
          method: "POST",
          route: "/v1/users",
          body: { name: o.name, email: o.email, role: o.role },
          auth: "optional",
          response: User
        })
        .pipe(
          documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput", "Conflict"),
          Effect.withSpan("Users.create")
        ),
    get: (o) => byId("Users.get", "GET", "/v1/users/:userId", User)(o.userId),
    update: (o) => byId("Users.update", "PATCH", "/v1/users/:userId", User)(o.userId, { name: o.name }),
    delete: (o) => byId("Users.delete", "DELETE", "/v1/users/:userId", Schema.Void)(o.userId),
    setRole: (o) => byId("Users.setRole", "PATCH", "/v1/users/:userId/role", User)(o.userId, { role: o.role }),
    getProfile: (o) => byId("Users.getProfile", "GET", "/v1/users/:userId/profile", Profile)(o.userId),
    updateProfile: ({ userId, extra, ...fields }) =>
      byId("Users.updateProfile", "PATCH", "/v1/users/:userId/profile", Profile)(userId, { ...extra, ...fields }),
    createAvatarUploadUrl,
    saveAvatar,
    deleteAvatar: (o) => byId("Users.deleteAvatar", "DELETE", "/v1/users/:userId/avatar", Schema.Void)(o.userId),
    uploadAvatar: (o) =>
      Effect.gen(function* () {
        const target = yield* createAvatarUploadUrl(o)
        yield* client.storagePut({ url: target.url, body: o.data, contentType: o.contentType }).pipe(userErrors)
        return yield* saveAvatar({ userId: o.userId, s3Key: target.key })
      }).pipe(Effect.withSpan("Users.uploadAvatar")),
    getPreferences: (o) => byId("Users.getPreferences", "GET", "/v1/users/:userId/preferences", Preferences)(o.userId),
    updatePreferences: ({ userId, ...fields }) =>
      byId("Users.updatePreferences", "PATCH", "/v1/users/:userId/preferences", Preferences)(userId, fields),
    getNotifications: (o) =>
      byId("Users.getNotifications", "GET", "/v1/users/:userId/notifications", Notifications)(o.userId),
    updateNotifications: ({ userId, ...fields }) =>
      byId("Users.updateNotifications", "PATCH", "/v1/users/:userId/notifications", Notifications)(userId, fields),
    getOnboarding: (o) => byId("Users.getOnboarding", "GET", "/v1/users/:userId/onboarding", Onboarding)(o.userId),
    updateOnboarding: (o) =>
      byId("Users.updateOnboarding", "PATCH", "/v1/users/:userId/onboarding", Onboarding)(o.userId, o.onboarding),
    getPublicSettings: (o) =>
      byId("Users.getPublicSettings", "GET", "/v1/users/:userId/public-settings", PublicSettings)(o.userId),
    updatePublicSettings: ({ userId, ...fields }) =>
      byId("Users.updatePublicSettings", "PATCH", "/v1/users/:userId/public-settings", PublicSettings)(userId, fields)
  })
})

/**
 * The users service, for a `BkendClient` provided from outside (`Bkend.layer` wires both).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Users, never, BkendClient.BkendClient> = Layer.effect(Users, make)
