/**
 * The bkend auth API (`/v1/auth/*`): sign-up and sign-in (password, magic link, OAuth), the session
 * (me, refresh, sign-out, sessions, switch organization, withdraw), passwords, e-mail verification, MFA, linked
 * accounts and invitations. Calls that return tokens store them in the `BkendClient` session.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, type Stream } from "effect"
import * as AuthSchema from "./AuthSchema.js"
import { documented, type TransportError } from "./AuthSchema.js"
import * as BkendClient from "./BkendClient.js"
import * as BkendError from "./BkendError.js"
import * as Page from "./Page.js"
import * as Session from "./Session.js"

export {
  /**
   * Whether an e-mail already has an account, and of which kind (`checkAccount`).
   *
   * @since 0.1.0
   * @category schemas
   */
  AccountCheck,
  /**
   * The outcome of confirming an e-mail address with the token from its mail.
   *
   * @since 0.1.0
   * @category schemas
   */
  EmailConfirmed,
  /**
   * An invitation to an organization or project, with its status and expiry.
   *
   * @since 0.1.0
   * @category schemas
   */
  Invitation,
  /**
   * What accepting an invitation answers: the invitation and the resource it grants.
   *
   * @since 0.1.0
   * @category schemas
   */
  InvitationAccepted,
  /**
   * Where an invitation stands: pending, accepted, rejected, expired or revoked.
   *
   * @since 0.1.0
   * @category schemas
   */
  InvitationStatus,
  /**
   * A sign-in method linked to the user (e-mail, Google, GitHub), from either documented shape.
   *
   * @since 0.1.0
   * @category schemas
   */
  LinkedAccount,
  /**
   * The answer to a request that sends a mail (magic link, verification): the address it went to.
   *
   * @since 0.1.0
   * @category schemas
   */
  MailSent,
  /**
   * The backup codes returned once MFA is confirmed with a first TOTP code.
   *
   * @since 0.1.0
   * @category schemas
   */
  MfaConfirmed,
  /**
   * What enabling MFA returns: the TOTP secret, its `otpauth://` URI and backup codes.
   *
   * @since 0.1.0
   * @category schemas
   */
  MfaSetup,
  /**
   * One of the user's server-side sessions (device, IP, last activity), as `sessions` lists them.
   *
   * @since 0.1.0
   * @category schemas
   */
  SessionInfo,
  /**
   * The errors any call can fail with whatever its endpoint: rate limiting, network, 5xx, an undecodable body or
   * an undocumented status.
   *
   * @since 0.1.0
   * @category errors
   */
  type TransportError,
  /**
   * The signed-in user as `me` returns it; only `id` and `email` are guaranteed.
   *
   * @since 0.1.0
   * @category schemas
   */
  User
} from "./AuthSchema.js"

// ---------------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------------

/**
 * OAuth providers bkend supports.
 *
 * @since 0.1.0
 * @category models
 */
export type OAuthProvider = "google" | "github"

/**
 * Every {@link OAuthProvider}, for building a provider picker or validating input.
 *
 * @since 0.1.0
 * @category models
 */
export const oauthProviders: ReadonlyArray<OAuthProvider> = ["google", "github"]

/**
 * A session obtained from a callback (magic link, OAuth); `isNewUser` is `true` when the account was just created.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallbackResult {
  readonly session: Session.Session
  readonly isNewUser: boolean
}

/**
 * Page and size of a list call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  readonly page?: number | undefined
  readonly limit?: number | undefined
}

/**
 * Body fields of an OAuth code exchange: `code` (with `redirectUri`, and `state` if used) or a Google `idToken`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthCallbackOptions {
  readonly provider: OAuthProvider
  readonly code?: string | undefined
  readonly redirectUri?: string | undefined
  readonly state?: string | undefined
  readonly idToken?: string | undefined
  readonly accessToken?: string | undefined
}

/**
 * What `createInvitation` sends: the resource (organization or project), who is invited and with which role.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateInvitationOptions {
  readonly resourceType: "organization" | "project"
  readonly resourceId: string
  readonly email: string
  readonly resourceRole: string
  readonly resourceName?: string | undefined
  readonly name?: string | undefined
  readonly inviterName?: string | undefined
}

/**
 * Filters and paging of `listInvitations`: by resource and by status.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListInvitationsOptions extends ListOptions {
  readonly resourceType?: "organization" | "project" | "user" | undefined
  readonly resourceId?: string | undefined
  readonly status?: AuthSchema.InvitationStatus | undefined
}

/**
 * A typed error channel: `Errors<"Unauthorized" | "Forbidden">` is those errors plus {@link TransportError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type Errors<T extends BkendError.BkendError["_tag"]> =
  | Extract<BkendError.BkendError, { readonly _tag: T }>
  | TransportError

/**
 * Every auth call, each typed with the errors its endpoint documents; calls that return tokens store the
 * session in the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `POST /v1/auth/email/signup` (method `password`): creates the account and stores its session. */
  readonly signUp: (options: {
    readonly email: string
    readonly password: string
    readonly name: string
  }) => Effect.Effect<Session.Session, Errors<"BadRequest" | "Conflict" | "Forbidden">>
  /**
   * `POST /v1/auth/email/signin` (method `password`) and stores the session. An account with MFA fails with
   * `Forbidden` code `auth/mfa-required` (see {@link isMfaRequired}) until `mfaCode` is given. A wrong password is
   * `Unauthorized` `auth/invalid-credentials` and never triggers a token refresh.
   */
  readonly signIn: (options: {
    readonly email: string
    readonly password: string
    readonly mfaCode?: string | undefined
  }) => Effect.Effect<Session.Session, Errors<"BadRequest" | "Unauthorized" | "Forbidden">>
  /** `POST /v1/auth/email/signup` (method `magiclink`): mails a link to `callbackUrl?token=…`. */
  readonly signUpWithMagicLink: (options: {
    readonly email: string
    readonly callbackUrl: string
  }) => Effect.Effect<AuthSchema.MailSent, Errors<"BadRequest" | "Conflict">>
  /** `POST /v1/auth/email/signin` (method `magiclink`): mails a link to `callbackUrl?token=…`. */
  readonly signInWithMagicLink: (options: {
    readonly email: string
    readonly callbackUrl: string
  }) => Effect.Effect<AuthSchema.MailSent, Errors<"BadRequest" | "NotFound">>
  /** `POST /v1/auth/email/callback`: exchanges the magic-link `token` for a session (stored). */
  readonly exchangeMagicLink: (options: {
    readonly token: string
  }) => Effect.Effect<CallbackResult, Errors<"BadRequest" | "Unauthorized">>
  /** `POST /v1/auth/:provider/callback`: exchanges an OAuth code or ID token for a session (stored). */
  readonly signInWithOAuth: (
    options: OAuthCallbackOptions
  ) => Effect.Effect<CallbackResult, Errors<"BadRequest" | "Unauthorized" | "InvalidInput">>
  /** `GET /v1/auth/:provider/callback` (redirect style, fields in the query): same as {@link Service.signInWithOAuth}. */
  readonly signInWithOAuthRedirect: (
    options: OAuthCallbackOptions
  ) => Effect.Effect<CallbackResult, Errors<"BadRequest" | "Unauthorized" | "InvalidInput">>
  /** `GET /v1/auth/me` */
  readonly me: Effect.Effect<AuthSchema.User, Errors<"Unauthorized" | "NotFound">>
  /** `POST /v1/auth/refresh`, through the client's single-flight gate. */
  readonly refresh: Effect.Effect<Session.Session, Errors<"Unauthorized">>
  /**
   * `POST /v1/auth/signout`, then forgets the session locally whatever the server answered (a refresh in flight is
   * discarded). Succeeds at once when not signed in.
   */
  readonly signOut: Effect.Effect<void, Errors<"Unauthorized">>
  /** `DELETE /v1/auth/withdraw`: deletes the caller's account, then forgets the session. */
  readonly withdraw: Effect.Effect<void, Errors<"Unauthorized" | "NotFound">>
  /** `POST /v1/auth/switch-organization`: stores the new token pair. */
  readonly switchOrganization: (options: {
    readonly organizationId: string
  }) => Effect.Effect<Session.Session, Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "NotFound">>
  /** `POST /v1/auth/password/reset/request` (same answer for unknown addresses) */
  readonly requestPasswordReset: (options: { readonly email: string }) => Effect.Effect<void, Errors<"BadRequest">>
  /** `POST /v1/auth/password/reset/confirm`: an expired token is `Unauthorized` `auth/verification-token-expired`. */
  readonly confirmPasswordReset: (options: {
    readonly email: string
    readonly token: string
    readonly newPassword: string
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "Gone">>
  /**
   * `POST /v1/auth/password/change`. bkend then ends every session of the user, so the local session is forgotten
   * too: sign in again with the new password.
   */
  readonly changePassword: (options: {
    readonly currentPassword: string
    readonly newPassword: string
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized">>
  /** `POST /v1/auth/signup/email/resend`: mails the sign-up confirmation again. */
  readonly resendSignUpConfirmation: (options: {
    readonly email: string
    readonly callbackUrl?: string | undefined
  }) => Effect.Effect<AuthSchema.MailSent, Errors<"BadRequest" | "NotFound">>
  /**
   * `GET /v1/auth/signup/email/confirm`, JSON form: no `callbackUrl` is sent. A server that still redirects (e.g.
   * to a `callbackUrl` given when the mail was requested) yields `UnexpectedStatus` with status 302.
   */
  readonly confirmSignUpEmail: (options: {
    readonly email: string
    readonly token: string
  }) => Effect.Effect<AuthSchema.EmailConfirmed, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "Gone">>
  /** `POST /v1/auth/email/verify/send` */
  readonly sendEmailVerification: (options: {
    readonly email: string
    readonly callbackUrl?: string | undefined
  }) => Effect.Effect<AuthSchema.MailSent, Errors<"BadRequest" | "NotFound">>
  /** `POST /v1/auth/email/verify/confirm` */
  readonly confirmEmailVerification: (options: {
    readonly email: string
    readonly token: string
  }) => Effect.Effect<AuthSchema.EmailConfirmed, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "Gone">>
  /** `POST /v1/auth/email/verify/resend` */
  readonly resendEmailVerification: (options: {
    readonly email: string
    readonly callbackUrl?: string | undefined
  }) => Effect.Effect<AuthSchema.MailSent, Errors<"BadRequest" | "NotFound">>
  /** `GET /v1/auth/sessions` */
  readonly listSessions: (
    options?: ListOptions
  ) => Effect.Effect<Page.Page<AuthSchema.SessionInfo>, Errors<"BadRequest" | "Unauthorized">>
  /** `DELETE /v1/auth/sessions/:sessionId` (ending the caller's own session signs it out on the server) */
  readonly terminateSession: (options: {
    readonly sessionId: string
  }) => Effect.Effect<void, Errors<"Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">>
  /** `POST /v1/auth/mfa/enable`: returns the TOTP secret to show; confirm with a code to turn MFA on. */
  readonly enableMfa: (options: {
    readonly password: string
  }) => Effect.Effect<AuthSchema.MfaSetup, Errors<"BadRequest" | "Unauthorized" | "Conflict">>
  /** `POST /v1/auth/mfa/confirm` with a 6-digit code from the authenticator */
  readonly confirmMfa: (options: {
    readonly code: string
  }) => Effect.Effect<AuthSchema.MfaConfirmed, Errors<"BadRequest" | "Unauthorized" | "Gone">>
  /** `POST /v1/auth/mfa/disable` */
  readonly disableMfa: (options: {
    readonly password: string
    readonly code?: string | undefined
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized">>
  /** `POST /v1/auth/accounts`: links a social account to the signed-in user. */
  readonly linkAccount: (
    options: Omit<OAuthCallbackOptions, "redirectUri">
  ) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized" | "Conflict" | "InvalidInput">>
  /** `GET /v1/auth/accounts` */
  readonly listAccounts: (
    options?: ListOptions
  ) => Effect.Effect<Page.Page<AuthSchema.LinkedAccount>, Errors<"BadRequest" | "Unauthorized">>
  /** `DELETE /v1/auth/accounts/:provider` (the last sign-in method cannot be removed: `BadRequest`) */
  readonly unlinkAccount: (options: {
    readonly provider: string
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "InvalidInput">>
  /** `POST /v1/auth/accounts/check`: is this e-mail or provider account registered? */
  readonly checkAccount: (options: {
    readonly type: "credentials" | "oauth"
    readonly provider: string
    readonly providerAccountId: string
  }) => Effect.Effect<AuthSchema.AccountCheck, Errors<"BadRequest">>
  /** `POST /v1/auth/invitations` */
  readonly createInvitation: (
    options: CreateInvitationOptions
  ) => Effect.Effect<AuthSchema.Invitation, Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "Conflict">>
  /** `GET /v1/auth/invitations` */
  readonly listInvitations: (
    options?: ListInvitationsOptions
  ) => Effect.Effect<Page.Page<AuthSchema.Invitation>, Errors<"BadRequest" | "Unauthorized">>
  /** `GET /v1/auth/invitations/:invitationId` */
  readonly getInvitation: (options: {
    readonly invitationId: string
  }) => Effect.Effect<AuthSchema.Invitation, Errors<"Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">>
  /** `POST /v1/auth/invitations/accept` with the token from the invitation mail */
  readonly acceptInvitation: (options: {
    readonly token: string
    readonly email?: string | undefined
  }) => Effect.Effect<AuthSchema.InvitationAccepted, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "Gone">>
  /** `POST /v1/auth/invitations/reject` */
  readonly rejectInvitation: (options: {
    readonly token: string
    readonly email?: string | undefined
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized" | "NotFound" | "Gone">>
  /** `DELETE /v1/auth/invitations/:invitationId` (only the inviter may revoke) */
  readonly revokeInvitation: (options: {
    readonly invitationId: string
  }) => Effect.Effect<void, Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">>
  /** the current session, if signed in */
  readonly session: Effect.Effect<Option.Option<Session.Session>>
  /** session changes from now on: `SignedIn`, `Refreshed`, `SignedOut` */
  readonly sessionChanges: Stream.Stream<Session.SessionChange>
}

/**
 * The tag of the auth service; `Bkend.layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Auth extends Context.Tag("bkend-effect/Auth")<Auth, Service>() {}

// ---------------------------------------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------------------------------------

/**
 * `true` for the sign-in failure that asks for a TOTP code: retry `signIn` with `mfaCode`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isMfaRequired = (error: unknown): error is BkendError.Forbidden =>
  error instanceof BkendError.Forbidden && error.code === "auth/mfa-required"

/**
 * `true` for a wrong e-mail or password.
 *
 * @since 0.1.0
 * @category guards
 */
export const isInvalidCredentials = (error: unknown): error is BkendError.Unauthorized =>
  error instanceof BkendError.Unauthorized && error.code === "auth/invalid-credentials"

// ---------------------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------------------

const isNewUser = (tokens: Session.TokenResponse): boolean => tokens.is_new_user ?? tokens.isNewUser ?? false

/**
 * Builds the auth service on a `BkendClient` (what {@link layer} provides).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, BkendClient.BkendClient> = Effect.gen(function* () {
  const client = yield* BkendClient.BkendClient

  const validProvider = (provider: string, method: "GET" | "POST" | "DELETE", route: string) =>
    oauthProviders.some((p) => p === provider)
      ? Effect.void
      : Effect.fail(
          new BkendError.InvalidInput({
            status: 0,
            field: "provider",
            message: `provider must be one of ${oauthProviders.join(", ")}`,
            method,
            route
          })
        )

  const oauthFields = (o: Omit<OAuthCallbackOptions, "provider">) => ({
    code: o.code,
    redirectUri: o.redirectUri,
    state: o.state,
    idToken: o.idToken,
    accessToken: o.accessToken
  })

  const storeCallback = (tokens: Session.TokenResponse) =>
    Effect.map(client.setTokens(tokens), (session): CallbackResult => ({ session, isNewUser: isNewUser(tokens) }))

  const signUp = Effect.fn("Auth.signUp")(function* (options: Parameters<Service["signUp"]>[0]) {
    const tokens = yield* client
      .request({
        method: "POST",
        route: "/v1/auth/email/signup",
        body: { method: "password", email: options.email, password: options.password, name: options.name },
        auth: "none",
        refreshOn401: false,
        response: Session.TokenResponse
      })
      .pipe(documented("BadRequest", "Conflict", "Forbidden"))
    return yield* client.setTokens(tokens)
  })

  const signIn = Effect.fn("Auth.signIn")(function* (options: Parameters<Service["signIn"]>[0]) {
    const tokens = yield* client
      .request({
        method: "POST",
        route: "/v1/auth/email/signin",
        body: {
          method: "password",
          email: options.email,
          password: options.password,
          ...(options.mfaCode === undefined ? {} : { mfaCode: options.mfaCode })
        },
        auth: "none",
        refreshOn401: false,
        response: Session.TokenResponse
      })
      .pipe(documented("BadRequest", "Unauthorized", "Forbidden"))
    return yield* client.setTokens(tokens)
  })

  const magicLink = (route: "/v1/auth/email/signup" | "/v1/auth/email/signin", email: string, callbackUrl: string) =>
    client.request({
      method: "POST",
      route,
      body: { method: "magiclink", email, callbackUrl },
      auth: "none",
      refreshOn401: false,
      response: AuthSchema.MailSent
    })

  const oauth = (method: "GET" | "POST", options: OAuthCallbackOptions) =>
    Effect.gen(function* () {
      const route = "/v1/auth/:provider/callback"
      yield* validProvider(options.provider, method, route)
      const fields = oauthFields(options)
      const tokens = yield* client
        .request({
          method,
          route,
          params: { provider: options.provider },
          ...(method === "POST" ? { body: fields } : { query: fields }),
          auth: "none",
          refreshOn401: false,
          response: Session.TokenResponse
        })
        .pipe(documented("BadRequest", "Unauthorized"))
      return yield* storeCallback(tokens)
    })

  const noContent = (
    method: BkendClient.Method,
    route: `/v1/${string}`,
    extra: {
      readonly body?: unknown
      readonly params?: Readonly<Record<string, string>>
      readonly refreshOn401?: boolean
      readonly proactiveRefresh?: boolean
    } = {}
  ) => client.request({ method, route, ...extra, auth: "required", response: AuthSchema.NoContent })

  const pageQuery = (options: ListOptions | undefined) => ({ page: options?.page, limit: options?.limit })

  return Auth.of({
    signUp,
    signIn,
    signUpWithMagicLink: (options) =>
      magicLink("/v1/auth/email/signup", options.email, options.callbackUrl).pipe(
        documented("BadRequest", "Conflict"),
        Effect.withSpan("Auth.signUpWithMagicLink")
      ),
    signInWithMagicLink: (options) =>
      magicLink("/v1/auth/email/signin", options.email, options.callbackUrl).pipe(
        documented("BadRequest", "NotFound"),
        Effect.withSpan("Auth.signInWithMagicLink")
      ),
    exchangeMagicLink: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/email/callback",
          body: { token: options.token },
          auth: "none",
          refreshOn401: false,
          response: Session.TokenResponse
        })
        .pipe(
          documented("BadRequest", "Unauthorized"),
          Effect.flatMap(storeCallback),
          Effect.withSpan("Auth.exchangeMagicLink")
        ),
    signInWithOAuth: (options) => oauth("POST", options).pipe(Effect.withSpan("Auth.signInWithOAuth")),
    signInWithOAuthRedirect: (options) => oauth("GET", options).pipe(Effect.withSpan("Auth.signInWithOAuthRedirect")),
    me: client
      .request({ method: "GET", route: "/v1/auth/me", auth: "required", response: AuthSchema.User })
      .pipe(documented("Unauthorized", "NotFound"), Effect.withSpan("Auth.me")),
    refresh: client.refresh.pipe(documented("Unauthorized"), Effect.withSpan("Auth.refresh")),
    signOut: Effect.gen(function* () {
      const current = yield* client.session
      if (Option.isNone(current)) return
      // with the token it has: a sign-out never waits for a refresh (one in flight is discarded when it ends)
      yield* noContent("POST", "/v1/auth/signout", { refreshOn401: false, proactiveRefresh: false }).pipe(
        documented("Unauthorized"),
        Effect.ensuring(client.clearSession("sign-out"))
      )
    }).pipe(Effect.withSpan("Auth.signOut")),
    withdraw: noContent("DELETE", "/v1/auth/withdraw").pipe(
      documented("Unauthorized", "NotFound"),
      Effect.zipRight(client.clearSession("withdrawn")),
      Effect.withSpan("Auth.withdraw")
    ),
    switchOrganization: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/switch-organization",
          body: { organizationId: options.organizationId },
          auth: "required",
          response: Session.TokenResponse
        })
        .pipe(
          documented("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
          Effect.flatMap(client.setTokens),
          Effect.withSpan("Auth.switchOrganization")
        ),
    requestPasswordReset: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/password/reset/request",
          body: { email: options.email },
          auth: "none",
          response: AuthSchema.NoContent
        })
        .pipe(documented("BadRequest"), Effect.withSpan("Auth.requestPasswordReset")),
    confirmPasswordReset: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/password/reset/confirm",
          body: { email: options.email, token: options.token, newPassword: options.newPassword },
          auth: "none",
          response: AuthSchema.NoContent
        })
        .pipe(
          documented("BadRequest", "Unauthorized", "NotFound", "Gone"),
          Effect.withSpan("Auth.confirmPasswordReset")
        ),
    changePassword: (options) =>
      noContent("POST", "/v1/auth/password/change", {
        body: { currentPassword: options.currentPassword, newPassword: options.newPassword },
        // a wrong current password is a 401 about the body, not the token (an expiring token is refreshed
        // proactively before the call)
        refreshOn401: false
      }).pipe(
        documented("BadRequest", "Unauthorized"),
        Effect.zipRight(client.clearSession("cleared")),
        Effect.withSpan("Auth.changePassword")
      ),
    resendSignUpConfirmation: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/signup/email/resend",
          body: { email: options.email, callbackUrl: options.callbackUrl },
          auth: "none",
          response: AuthSchema.MailSent
        })
        .pipe(documented("BadRequest", "NotFound"), Effect.withSpan("Auth.resendSignUpConfirmation")),
    confirmSignUpEmail: (options) =>
      client
        .request({
          method: "GET",
          route: "/v1/auth/signup/email/confirm",
          query: { token: options.token, email: options.email },
          auth: "none",
          response: AuthSchema.EmailConfirmed
        })
        .pipe(documented("BadRequest", "Unauthorized", "NotFound", "Gone"), Effect.withSpan("Auth.confirmSignUpEmail")),
    sendEmailVerification: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/email/verify/send",
          body: { email: options.email, callbackUrl: options.callbackUrl },
          auth: "optional",
          refreshOn401: false,
          response: AuthSchema.MailSent
        })
        .pipe(documented("BadRequest", "NotFound"), Effect.withSpan("Auth.sendEmailVerification")),
    confirmEmailVerification: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/email/verify/confirm",
          body: { email: options.email, token: options.token },
          auth: "none",
          response: AuthSchema.EmailConfirmed
        })
        .pipe(
          documented("BadRequest", "Unauthorized", "NotFound", "Gone"),
          Effect.withSpan("Auth.confirmEmailVerification")
        ),
    resendEmailVerification: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/email/verify/resend",
          body: { email: options.email, callbackUrl: options.callbackUrl },
          auth: "optional",
          refreshOn401: false,
          response: AuthSchema.MailSent
        })
        .pipe(documented("BadRequest", "NotFound"), Effect.withSpan("Auth.resendEmailVerification")),
    listSessions: (options) =>
      client
        .request({
          method: "GET",
          route: "/v1/auth/sessions",
          query: pageQuery(options),
          auth: "required",
          response: Page.schema(AuthSchema.SessionInfo, pageQuery(options))
        })
        .pipe(documented("BadRequest", "Unauthorized"), Effect.withSpan("Auth.listSessions")),
    terminateSession: (options) =>
      noContent("DELETE", "/v1/auth/sessions/:sessionId", { params: { sessionId: options.sessionId } }).pipe(
        documented("Unauthorized", "Forbidden", "NotFound", "InvalidInput"),
        Effect.withSpan("Auth.terminateSession")
      ),
    enableMfa: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/mfa/enable",
          body: { password: options.password },
          auth: "required",
          refreshOn401: false,
          response: AuthSchema.MfaSetup
        })
        .pipe(documented("BadRequest", "Unauthorized", "Conflict"), Effect.withSpan("Auth.enableMfa")),
    confirmMfa: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/mfa/confirm",
          body: { code: options.code },
          auth: "required",
          refreshOn401: false,
          response: AuthSchema.MfaConfirmed
        })
        .pipe(documented("BadRequest", "Unauthorized", "Gone"), Effect.withSpan("Auth.confirmMfa")),
    disableMfa: (options) =>
      noContent("POST", "/v1/auth/mfa/disable", {
        body: { password: options.password, code: options.code },
        refreshOn401: false
      }).pipe(documented("BadRequest", "Unauthorized"), Effect.withSpan("Auth.disableMfa")),
    linkAccount: (options) =>
      validProvider(options.provider, "POST", "/v1/auth/accounts").pipe(
        Effect.zipRight(
          noContent("POST", "/v1/auth/accounts", { body: { provider: options.provider, ...oauthFields(options) } })
        ),
        documented("BadRequest", "Unauthorized", "Conflict", "InvalidInput"),
        Effect.withSpan("Auth.linkAccount")
      ),
    listAccounts: (options) =>
      client
        .request({
          method: "GET",
          route: "/v1/auth/accounts",
          query: pageQuery(options),
          auth: "required",
          response: Page.schema(AuthSchema.LinkedAccount, pageQuery(options))
        })
        .pipe(documented("BadRequest", "Unauthorized"), Effect.withSpan("Auth.listAccounts")),
    unlinkAccount: (options) =>
      noContent("DELETE", "/v1/auth/accounts/:provider", { params: { provider: options.provider } }).pipe(
        documented("BadRequest", "Unauthorized", "NotFound", "InvalidInput"),
        Effect.withSpan("Auth.unlinkAccount")
      ),
    checkAccount: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/accounts/check",
          body: { type: options.type, provider: options.provider, providerAccountId: options.providerAccountId },
          auth: "none",
          response: AuthSchema.AccountCheck
        })
        .pipe(documented("BadRequest"), Effect.withSpan("Auth.checkAccount")),
    createInvitation: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/invitations",
          body: {
            resourceType: options.resourceType,
            resourceId: options.resourceId,
            resourceName: options.resourceName,
            email: options.email,
            name: options.name,
            resourceRole: options.resourceRole,
            inviterName: options.inviterName
          },
          auth: "required",
          response: AuthSchema.Invitation
        })
        .pipe(
          documented("BadRequest", "Unauthorized", "Forbidden", "Conflict"),
          Effect.withSpan("Auth.createInvitation")
        ),
    listInvitations: (options) =>
      client
        .request({
          method: "GET",
          route: "/v1/auth/invitations",
          query: {
            ...pageQuery(options),
            resourceType: options?.resourceType,
            resourceId: options?.resourceId,
            status: options?.status
          },
          auth: "required",
          response: Page.schema(AuthSchema.Invitation, pageQuery(options))
        })
        .pipe(documented("BadRequest", "Unauthorized"), Effect.withSpan("Auth.listInvitations")),
    getInvitation: (options) =>
      client
        .request({
          method: "GET",
          route: "/v1/auth/invitations/:invitationId",
          params: { invitationId: options.invitationId },
          auth: "required",
          response: AuthSchema.Invitation
        })
        .pipe(
          documented("Unauthorized", "Forbidden", "NotFound", "InvalidInput"),
          Effect.withSpan("Auth.getInvitation")
        ),
    acceptInvitation: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/invitations/accept",
          body: { token: options.token, email: options.email },
          auth: "none",
          response: AuthSchema.InvitationAccepted
        })
        .pipe(documented("BadRequest", "Unauthorized", "NotFound", "Gone"), Effect.withSpan("Auth.acceptInvitation")),
    rejectInvitation: (options) =>
      client
        .request({
          method: "POST",
          route: "/v1/auth/invitations/reject",
          body: { token: options.token, email: options.email },
          auth: "none",
          response: AuthSchema.NoContent
        })
        .pipe(documented("BadRequest", "Unauthorized", "NotFound", "Gone"), Effect.withSpan("Auth.rejectInvitation")),
    revokeInvitation: (options) =>
      noContent("DELETE", "/v1/auth/invitations/:invitationId", {
        params: { invitationId: options.invitationId }
      }).pipe(
        documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput"),
        Effect.withSpan("Auth.revokeInvitation")
      ),
    session: client.session,
    sessionChanges: client.sessionChanges
  })
})

/**
 * The auth service, for a `BkendClient` provided from outside (`Bkend.layer` wires both).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Auth, never, BkendClient.BkendClient> = Layer.effect(Auth, make)
