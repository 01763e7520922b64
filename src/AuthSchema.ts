/**
 * Request and response shapes of the bkend auth endpoints, decoded tolerantly (every documented variant of a
 * field is accepted, extra fields are ignored), and the error-narrowing combinator the API modules share.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as BkendError from "./BkendError.js"

// ---------------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Errors any call can fail with whatever the endpoint: rate limiting, transport, 5xx, a body that does not
 * decode, or a status outside the endpoint's documented set.
 *
 * @since 0.1.0
 * @category errors
 */
export type TransportError =
  | BkendError.RateLimited
  | BkendError.NetworkError
  | BkendError.ServerError
  | BkendError.DecodeError
  | BkendError.UnexpectedStatus

type Tag = BkendError.BkendError["_tag"]

const transportTags: ReadonlyArray<Tag> = [
  "RateLimited",
  "NetworkError",
  "ServerError",
  "DecodeError",
  "UnexpectedStatus"
]

/**
 * Narrows a call's error channel to the endpoint's documented errors plus {@link TransportError}. An error with
 * any other tag (a status the endpoint is not documented to return) is reported as `UnexpectedStatus`, keeping
 * its status, code, message, method and route — so the narrowed type is true at run time.
 *
 * @since 0.1.0
 * @category combinators
 */
export const documented =
  <const T extends ReadonlyArray<Tag>>(...tags: T) =>
  <A, R>(
    self: Effect.Effect<A, BkendError.BkendError, R>
  ): Effect.Effect<A, Extract<BkendError.BkendError, { readonly _tag: T[number] }> | TransportError, R> =>
    Effect.mapError(self, narrowTo(...tags))

/**
 * The error mapping of {@link documented}, for one error: kept when its tag is documented (or a
 * {@link TransportError}), otherwise reported as `UnexpectedStatus` with the same status, code, message and route.
 *
 * @since 0.1.0
 * @category combinators
 */
export const narrowTo = <const T extends ReadonlyArray<Tag>>(...tags: T) => {
  const allowed = new Set<Tag>([...tags, ...transportTags])
  const isDocumented = (
    e: BkendError.BkendError
  ): e is Extract<BkendError.BkendError, { readonly _tag: T[number] }> | TransportError => allowed.has(e._tag)
  return (e: BkendError.BkendError): Extract<BkendError.BkendError, { readonly _tag: T[number] }> | TransportError =>
    isDocumented(e)
      ? e
      : new BkendError.UnexpectedStatus({
          status: e.status,
          ...(e.code === undefined ? {} : { code: e.code }),
          ...(e.rawCode === undefined ? {} : { rawCode: e.rawCode }),
          message: e.message,
          method: e.method,
          route: e.route
        })
}

// ---------------------------------------------------------------------------------------------------------------------
// Users and tokens
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A user role.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Role = Schema.Literal("admin", "user", "guest")

/**
 * A user role: `admin`, `user` or `guest`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Role = typeof Role.Type

/**
 * The signed-in user (`GET /v1/auth/me`). Only `id` and `email` are guaranteed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const User = Schema.Struct({
  id: Schema.String,
  email: Schema.String,
  role: Schema.optional(Schema.String),
  name: Schema.optional(Schema.NullOr(Schema.String)),
  /** ISO timestamp of verification, `null` when unverified */
  emailVerified: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Boolean))),
  image: Schema.optional(Schema.NullOr(Schema.String)),
  onboardingStatus: Schema.optional(Schema.NullOr(Schema.String)),
  createdAt: Schema.optional(Schema.String),
  updatedAt: Schema.optional(Schema.String)
})

/**
 * The signed-in user, as `Auth.me` returns it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type User = typeof User.Type

/**
 * `{ message }` bodies, `{}` and empty bodies alike.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NoContent = Schema.Void

/**
 * Answer to a magic-link or verification mail request: `{ message, email }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MailSent = Schema.Struct({
  message: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String)
})

/**
 * What the calls that send a mail return (`signInWithMagicLink`, `sendEmailVerification`, …).
 *
 * @since 0.1.0
 * @category schemas
 */
export type MailSent = typeof MailSent.Type

// ---------------------------------------------------------------------------------------------------------------------
// E-mail verification
// ---------------------------------------------------------------------------------------------------------------------

const Verified = Schema.Struct({
  verified: Schema.Boolean,
  email: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})

/**
 * Result of an e-mail confirmation. Accepts `{ verified, … }` and `{ data: { verified, … } }` (a sign-up confirm
 * JSON that arrives wrapped once more than usual).
 *
 * @since 0.1.0
 * @category schemas
 */
export const EmailConfirmed = Schema.Union(
  Verified,
  Schema.transform(Schema.Struct({ data: Verified }), Schema.typeSchema(Verified), {
    strict: true,
    decode: (wrapped) => wrapped.data,
    encode: (data) => ({ data })
  })
)

/**
 * What `confirmSignUpEmail` and `confirmEmailVerification` return: whether the address is now verified.
 *
 * @since 0.1.0
 * @category schemas
 */
export type EmailConfirmed = typeof EmailConfirmed.Type

// ---------------------------------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------------------------------

const WireSession = Schema.Struct({
  id: Schema.String,
  userId: Schema.optional(Schema.String),
  userAgent: Schema.optional(Schema.NullOr(Schema.String)),
  deviceInfo: Schema.optional(Schema.NullOr(Schema.String)),
  device: Schema.optional(Schema.NullOr(Schema.String)),
  ipAddress: Schema.optional(Schema.NullOr(Schema.String)),
  ip: Schema.optional(Schema.NullOr(Schema.String)),
  lastActivityAt: Schema.optional(Schema.NullOr(Schema.String)),
  lastAccessedAt: Schema.optional(Schema.NullOr(Schema.String)),
  createdAt: Schema.optional(Schema.NullOr(Schema.String))
})

const SessionInfoType = Schema.Struct({
  id: Schema.String,
  userId: Schema.optional(Schema.String),
  userAgent: Schema.optional(Schema.String),
  /** e.g. "Chrome on macOS" (`deviceInfo`, or `device` in the Ref shape) */
  deviceInfo: Schema.optional(Schema.String),
  /** `ipAddress`, or `ip` in the Ref shape */
  ipAddress: Schema.optional(Schema.String),
  /** `lastActivityAt`, or `lastAccessedAt` in the Ref shape */
  lastActivityAt: Schema.optional(Schema.String),
  createdAt: Schema.optional(Schema.String)
})

/**
 * One server-side session (`GET /v1/auth/sessions` item), normalised from either documented field set.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionInfo = Schema.transform(WireSession, SessionInfoType, {
  strict: true,
  decode: (s) => ({
    id: s.id,
    userId: s.userId,
    userAgent: s.userAgent ?? undefined,
    deviceInfo: s.deviceInfo ?? s.device ?? undefined,
    ipAddress: s.ipAddress ?? s.ip ?? undefined,
    lastActivityAt: s.lastActivityAt ?? s.lastAccessedAt ?? undefined,
    createdAt: s.createdAt ?? undefined
  }),
  encode: (s) => s
})

/**
 * One item of `Auth.listSessions`: a device signed in as the user, to show or `terminateSession`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type SessionInfo = typeof SessionInfo.Type

// ---------------------------------------------------------------------------------------------------------------------
// MFA
// ---------------------------------------------------------------------------------------------------------------------

/**
 * `POST /v1/auth/mfa/enable`: the TOTP secret (base32), its `otpauth://` URI and backup codes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MfaSetup = Schema.Struct({
  secret: Schema.String,
  qrCodeUrl: Schema.optional(Schema.String),
  backupCodes: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})

/**
 * What `Auth.enableMfa` returns: the secret to show as a QR code, then confirm with `confirmMfa`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type MfaSetup = typeof MfaSetup.Type

/**
 * `POST /v1/auth/mfa/confirm`: the backup codes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MfaConfirmed = Schema.Struct({
  backupCodes: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})

/**
 * What `Auth.confirmMfa` returns: the backup codes to show the user once.
 *
 * @since 0.1.0
 * @category schemas
 */
export type MfaConfirmed = typeof MfaConfirmed.Type

// ---------------------------------------------------------------------------------------------------------------------
// Linked accounts
// ---------------------------------------------------------------------------------------------------------------------

const WireAccount = Schema.Struct({
  id: Schema.optional(Schema.String),
  userId: Schema.optional(Schema.String),
  provider: Schema.String,
  providerAccountId: Schema.optional(Schema.String),
  email: Schema.optional(Schema.NullOr(Schema.String)),
  connectedAt: Schema.optional(Schema.NullOr(Schema.String)),
  linkedAt: Schema.optional(Schema.NullOr(Schema.String))
})

const LinkedAccountType = Schema.Struct({
  id: Schema.optional(Schema.String),
  userId: Schema.optional(Schema.String),
  /** `email`, `google`, `github` */
  provider: Schema.String,
  providerAccountId: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String),
  /** `connectedAt`, or `linkedAt` in the Ref shape */
  connectedAt: Schema.optional(Schema.String)
})

/**
 * A linked sign-in method (`GET /v1/auth/accounts` item), from either documented shape.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LinkedAccount = Schema.transform(WireAccount, LinkedAccountType, {
  strict: true,
  decode: (a) => ({
    provider: a.provider,
    id: a.id,
    userId: a.userId,
    providerAccountId: a.providerAccountId,
    email: a.email ?? undefined,
    connectedAt: a.connectedAt ?? a.linkedAt ?? undefined
  }),
  encode: (a) => a
})

/**
 * One item of `Auth.listAccounts`: a sign-in method the user may `unlinkAccount`.
 *
 * @since 0.1.0
 * @category schemas
 */
export type LinkedAccount = typeof LinkedAccount.Type

/**
 * `POST /v1/auth/accounts/check`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AccountCheck = Schema.Struct({
  exists: Schema.Boolean,
  type: Schema.optional(Schema.NullOr(Schema.String)),
  provider: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * What `Auth.checkAccount` returns: whether a sign-in identity already belongs to an account.
 *
 * @since 0.1.0
 * @category schemas
 */
export type AccountCheck = typeof AccountCheck.Type

// ---------------------------------------------------------------------------------------------------------------------
// Invitations
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The statuses an invitation goes through: pending, then accepted, rejected, expired or revoked.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InvitationStatus = Schema.Literal("pending", "accepted", "rejected", "expired", "revoked")

/**
 * An invitation's status, e.g. to filter `listInvitations` with.
 *
 * @since 0.1.0
 * @category schemas
 */
export type InvitationStatus = typeof InvitationStatus.Type

/**
 * An invitation (`resourceName` and `name` are optional: not every endpoint returns them).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Invitation = Schema.Struct({
  id: Schema.String,
  resourceType: Schema.String,
  resourceId: Schema.String,
  resourceName: Schema.optional(Schema.NullOr(Schema.String)),
  resourceRole: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String),
  name: Schema.optional(Schema.NullOr(Schema.String)),
  status: InvitationStatus,
  expiresAt: Schema.optional(Schema.String),
  invitedBy: Schema.optional(Schema.String),
  createdAt: Schema.optional(Schema.String)
})

/**
 * An invitation as `createInvitation`, `getInvitation` and `listInvitations` return it.
 *
 * @since 0.1.0
 * @category schemas
 */
export type Invitation = typeof Invitation.Type

/**
 * `POST /v1/auth/invitations/accept`: `{ id, resourceType, resourceId, status, … }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InvitationAccepted = Schema.Struct({
  id: Schema.String,
  resourceType: Schema.optional(Schema.String),
  resourceId: Schema.optional(Schema.String),
  resourceRole: Schema.optional(Schema.String),
  status: Schema.optional(InvitationStatus)
})

/**
 * What `Auth.acceptInvitation` returns: the invitation now accepted and the resource it grants.
 *
 * @since 0.1.0
 * @category schemas
 */
export type InvitationAccepted = typeof InvitationAccepted.Type
