/**
 * Auth routes of bkend-local: password and magic-link sign-up/in, OAuth stub providers,
 * refresh rotation with replay detection, sessions, password management, e-mail verification, TOTP MFA,
 * account linking and invitations. Users, sessions, tokens, mails and counters go through the server's Store, each
 * change one atomic Store method; invitations stay with the instance.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import * as Jwt from "./jwt.js"
import type { LineageToken, NextToken } from "../Store.js"
import * as K from "./kernel.js"
import * as OAuth from "./oauth.js"
import * as Totp from "./totp.js"

const INVALID = "auth/invalid-request"
const DAY = 24 * 3600 * 1000
const RESET_TTL = DAY
const VERIFY_TTL = DAY
const INVITATION_TTL = 7 * DAY
const LOCKOUT_WINDOW = 15 * 60 * 1000
const OAUTH_PROVIDERS = ["google", "github"] as const

type Req = HttpServerRequest.HttpServerRequest

// ---------------------------------------------------------------------------------------------------------------------
// Sessions and tokens
// ---------------------------------------------------------------------------------------------------------------------

const deviceInfoOf = (ua: string): string => {
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Chrome\//.test(ua)
      ? "Chrome"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Safari\//.test(ua)
          ? "Safari"
          : /curl\//i.test(ua)
            ? "curl"
            : /node|undici/i.test(ua)
              ? "Node.js"
              : undefined
  const os = /Windows/.test(ua)
    ? "Windows"
    : /iPhone|iPad|iOS/.test(ua)
      ? "iOS"
      : /Mac OS X|Macintosh/.test(ua)
        ? "macOS"
        : /Android/.test(ua)
          ? "Android"
          : /Linux/.test(ua)
            ? "Linux"
            : undefined
  if (browser === undefined && os === undefined) return "Unknown device"
  return os === undefined ? (browser ?? "Unknown") : `${browser ?? "Browser"} on ${os}`
}

const clientOf = (req: Req) => {
  const ua = K.header(req, "user-agent") ?? ""
  const forwarded = K.header(req, "x-forwarded-for")?.split(",")[0]?.trim()
  const ip = forwarded ?? Option.getOrElse(req.remoteAddress, () => "127.0.0.1")
  return { userAgent: ua, ipAddress: ip, deviceInfo: deviceInfoOf(ua) }
}

interface TokenPair {
  readonly accessToken: string
  readonly refreshToken: string
  readonly tokenType: "Bearer"
  readonly expiresIn: number
}

/**
 * A new access token. Its own `jti` makes every issued token distinct: without it, a rotation within the second of
 * the previous issue answered the very same access token, and a client that tells sessions apart by their access
 * token (as the SDK does when another process may have refreshed first) took the rotated session for the old one.
 */
const accessTokenOf = (local: K.Local["Type"], session: K.SessionRecord, user: K.UserRecord, iat: number): string =>
  Jwt.sign(
    {
      sub: user.id,
      sid: session.id,
      typ: "access",
      iat,
      exp: iat + local.options.accessTokenTtlSeconds,
      role: user.role,
      jti: K.uuid()
    },
    local.state.signingSecret
  )

/** The refresh token's text, re-created from its record (signing is deterministic). */
const refreshTokenOf = (state: K.LocalState, r: K.RefreshTokenRecord): string =>
  Jwt.sign(
    {
      sub: r.userId,
      sid: r.sessionId,
      typ: "refresh",
      iat: r.issuedAt,
      exp: Math.floor(r.expiresAt / 1000),
      jti: r.jti
    },
    state.signingSecret
  )

const pairOf = (local: K.Local["Type"], accessToken: string, refreshToken: string): TokenPair => ({
  accessToken,
  refreshToken,
  tokenType: "Bearer",
  expiresIn: local.options.accessTokenTtlSeconds
})

/** The refresh token a session gets next (it ends with the session at the latest). */
const nextToken =
  (local: K.Local["Type"], t: number) =>
  (session: K.SessionRecord): NextToken => {
    const iat = Math.floor(t / 1000)
    const exp = Math.min(iat + local.options.refreshTokenTtlSeconds, Math.floor(session.expiresAt / 1000))
    return { jti: K.uuid(), issuedAt: iat, expiresAt: exp * 1000 }
  }

/** A fresh access token with the session's refresh token. */
const pairFor = (
  local: K.Local["Type"],
  session: K.SessionRecord,
  user: K.UserRecord,
  token: LineageToken,
  t: number
): TokenPair =>
  pairOf(local, accessTokenOf(local, session, user, Math.floor(t / 1000)), refreshTokenOf(local.state, token))

const startSession = (local: K.Local["Type"], user: K.UserRecord, req: Req, t: number) => {
  const session: K.SessionRecord = {
    id: K.uuid(),
    userId: user.id,
    ...clientOf(req),
    organizationId: user.organizationId,
    createdAt: t,
    lastActivityAt: t,
    expiresAt: t + local.options.refreshTokenTtlSeconds * 1000,
    refreshJti: "",
    revokedAt: undefined
  }
  return Effect.map(
    K.stored((s) => s.sessions.start(session, nextToken(local, t)(session))),
    (token) => pairFor(local, { ...session, refreshJti: token.jti }, user, token, t)
  )
}

/** Counts a sign-in and starts its session. */
const signInAs = (local: K.Local["Type"], user: K.UserRecord, req: Req, t: number) =>
  Effect.zipRight(K.count("signIns"), startSession(local, user, req, t))

/** Key + valid bearer; the signed-in user and session. */
const requireSession = Effect.gen(function* () {
  const { user, session } = yield* K.authenticate("auth")
  if (user === undefined || session === undefined) {
    return yield* K.fail(401, "auth/unauthorized", "Authentication required")
  }
  return { user, session }
})

/** Changes the signed-in user (404 `auth/user-not-found` when gone). */
const updateSelf = (user: K.UserRecord, f: (u: K.UserRecord) => K.UserRecord, t: number) =>
  K.updateUser(user.id, f, t, [404, "auth/user-not-found"])

// ---------------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------------

const requireEmail = (email: string) =>
  K.isEmail(email.trim())
    ? Effect.succeed(K.normalizeEmail(email))
    : K.fail(400, "auth/invalid-email", "Invalid e-mail address")

const withQuery = (url: string, params: Record<string, string>): string => {
  const qs = new URLSearchParams(params).toString()
  return `${url}${url.includes("?") ? "&" : "?"}${qs}`
}

const issueOneTime = (
  kind: K.MailKind,
  email: string,
  userId: string | undefined,
  ttl: number,
  t: number,
  callbackUrl: string | undefined
) => {
  const token: K.OneTimeToken = {
    token: K.randomToken(),
    kind,
    email,
    userId,
    expiresAt: t + ttl,
    usedAt: undefined,
    callbackUrl
  }
  return Effect.as(
    K.stored((s) => s.oneTime.issue(token)),
    token
  )
}

const mail = (to: string, kind: K.MailKind, token: string, link: string | undefined, t: number) =>
  K.sendMail({ to, kind, token, link, createdAt: K.iso(t) })

const signupVerificationLink = (base: string, token: string, email: string, callbackUrl: string | undefined) =>
  withQuery(`${base}/v1/auth/signup/email/confirm`, {
    token,
    email,
    ...(callbackUrl !== undefined ? { callbackUrl } : {})
  })

const sendSignupVerification = (user: K.UserRecord, base: string, callbackUrl: string | undefined, t: number) =>
  Effect.flatMap(issueOneTime("signup-verification", user.email, user.id, VERIFY_TTL, t, callbackUrl), (tok) =>
    mail(
      user.email,
      "signup-verification",
      tok.token,
      signupVerificationLink(base, tok.token, user.email, callbackUrl),
      t
    )
  )

const sendMagicLink = (local: K.Local["Type"], email: string, callbackUrl: string, t: number) =>
  Effect.gen(function* () {
    const user = yield* K.findUserByEmail(email)
    const ttl = local.options.magicLinkTtlMinutes * 60_000
    const tok = yield* issueOneTime("magic-link", email, user?.id, ttl, t, callbackUrl)
    yield* mail(email, "magic-link", tok.token, withQuery(callbackUrl, { token: tok.token }), t)
  })

/** Uses up a one-time token of a kind (once: a second use is unknown), or fails with the given codes. */
const consumeOneTime = (
  kind: K.MailKind,
  token: string,
  t: number,
  codes: { readonly missing: readonly [number, string]; readonly expired: readonly [number, string] },
  email?: string
) =>
  Effect.flatMap(
    K.stored((s) => s.oneTime.consume(token, kind, t, email)),
    (result) => {
      switch (result._tag) {
        case "Consumed":
          return Effect.succeed(result.token)
        case "Expired":
          return K.fail(codes.expired[0], codes.expired[1], "Token expired")
        case "Unknown":
          return K.fail(codes.missing[0], codes.missing[1], "Unknown or already used token")
      }
    }
  )

const message = (text: string) => ({ message: text })

// Deterministic stub identity for the OAuth providers (documented in src/local/README.md).
const oauthIdentity = (provider: string, credential: string) => {
  const trimmed = credential.trim()
  const email = K.isEmail(trimmed)
    ? K.normalizeEmail(trimmed)
    : `${provider}-${K.sha256Hex(trimmed).slice(0, 12)}@${provider}.example`
  const providerAccountId = K.sha256Hex(`${provider}:${email}`).slice(0, 20)
  const local = email.slice(0, email.indexOf("@"))
  return {
    email,
    providerAccountId,
    name: local,
    image: `https://avatars.example/${provider}/${providerAccountId}.png`
  }
}

const OAuthInput = Schema.Struct({
  code: Schema.optional(Schema.String),
  redirectUri: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  idToken: Schema.optional(Schema.String),
  accessToken: Schema.optional(Schema.String),
  token: Schema.optional(Schema.String)
})

const credentialOf = (input: typeof OAuthInput.Type) =>
  Effect.gen(function* () {
    if (input.code !== undefined && input.code !== "") {
      if (input.redirectUri === undefined || input.redirectUri === "") {
        return yield* K.fail(400, INVALID, "redirectUri is required with code")
      }
      if (input.code.startsWith("invalid"))
        return yield* K.fail(401, "auth/invalid-oauth-code", "Invalid authorization code")
      return input.code
    }
    if (input.idToken !== undefined && input.idToken !== "") {
      if (input.idToken.startsWith("invalid")) return yield* K.fail(401, "auth/invalid-oauth-code", "Invalid ID token")
      return input.idToken
    }
    return yield* K.fail(400, INVALID, "code or idToken is required")
  })

const findLinked = (provider: string, providerAccountId: string) =>
  Effect.map(
    K.stored((s) => s.users.list),
    (users) =>
      users.find(
        (u) =>
          u.deletedAt === undefined &&
          u.accounts.some((a) => a.provider === provider && a.providerAccountId === providerAccountId)
      )
  )

const linked = (provider: string, providerAccountId: string, email: string, t: number): K.LinkedAccount => ({
  id: K.uuid(),
  provider,
  providerAccountId,
  email,
  connectedAt: K.iso(t)
})

/** The user with `account` added, unless that provider's account is already there (a concurrent sign-in added it). */
const withAccount = (u: K.UserRecord, account: K.LinkedAccount): K.UserRecord =>
  u.accounts.some((a) => a.provider === account.provider && a.providerAccountId === account.providerAccountId)
    ? u
    : { ...u, accounts: [...u.accounts, account] }

const isOAuthProvider = (p: string): p is (typeof OAUTH_PROVIDERS)[number] => p === "google" || p === "github"

const callback = (provider: string, input: typeof OAuthInput.Type) =>
  Effect.gen(function* () {
    yield* K.apiKey("auth")
    const local = yield* K.Local
    const req = yield* HttpServerRequest.HttpServerRequest
    const t = yield* K.now
    if (provider === "email") {
      // magic-link token exchange
      if (input.token === undefined || input.token === "") return yield* K.fail(400, INVALID, "token is required")
      const tok = yield* consumeOneTime("magic-link", input.token, t, {
        missing: [401, "auth/invalid-token"],
        expired: [401, "auth/token-expired"]
      })
      const found = yield* K.findOrCreateUser({ email: tok.email, name: tok.email.slice(0, tok.email.indexOf("@")) }, t)
      const account = linked("email", found.user.email, found.user.email, t)
      const user = yield* K.updateUser(
        found.user.id,
        (u) => ({
          ...(found.isNew ? withAccount(u, account) : u),
          emailVerified: u.emailVerified ?? K.iso(t)
        }),
        t
      )
      return yield* K.ok({ ...(yield* signInAs(local, user, req, t)), is_new_user: found.isNew })
    }
    yield* configuredProvider(provider)
    const credential = yield* credentialOf(input)
    const { pair, isNew } = yield* oauthSignIn(local, provider, credential, req, t)
    return yield* K.ok({ ...pair, is_new_user: isNew })
  })

/** 400 unless `provider` is google/github and configured. */
const configuredProvider = (provider: string) =>
  Effect.flatMap(K.Local, ({ options }) => {
    if (!isOAuthProvider(provider)) return K.fail(400, "auth/unsupported-provider", "Unsupported provider")
    if (!options.oauthProviders.includes(provider)) {
      return K.fail(400, "auth/oauth-not-configured", `${provider} sign-in is not configured`)
    }
    return Effect.void
  })

/** Signs in (creating or linking as needed) the stub identity of a provider credential. */
const oauthSignIn = (local: K.Local["Type"], provider: string, credential: string, req: Req, t: number) =>
  Effect.gen(function* () {
    const id = oauthIdentity(provider, credential)
    const known = yield* findLinked(provider, id.providerAccountId)
    if (known !== undefined) return { pair: yield* signInAs(local, known, req, t), isNew: false }
    const found = yield* K.findOrCreateUser({ email: id.email, name: id.name, emailVerified: true, image: id.image }, t)
    const account = linked(provider, id.providerAccountId, id.email, t)
    const user = yield* K.updateUser(found.user.id, (u) => withAccount(u, account), t)
    return { pair: yield* signInAs(local, user, req, t), isNew: found.isNew }
  })

const flowSignIn: OAuth.SignIn = (provider, email) =>
  Effect.gen(function* () {
    const local = yield* K.Local
    const req = yield* HttpServerRequest.HttpServerRequest
    const { pair, isNew } = yield* oauthSignIn(local, provider, email, req, yield* K.now)
    return { ...pair, isNewUser: isNew }
  })

const invitationView = (inv: K.InvitationRecord, t: number) => ({
  id: inv.id,
  resourceType: inv.resourceType,
  resourceId: inv.resourceId,
  resourceName: inv.resourceName,
  resourceRole: inv.resourceRole,
  email: inv.email,
  name: inv.name,
  status: inv.status === "pending" && inv.expiresAt <= t ? "expired" : inv.status,
  expiresAt: K.iso(inv.expiresAt),
  invitedBy: inv.invitedBy,
  createdAt: inv.createdAt,
  updatedAt: inv.updatedAt
})

const findInvitationByToken = (state: K.LocalState, token: string, email: string | undefined, t: number) =>
  Effect.gen(function* () {
    if (token === "") return yield* K.fail(401, "auth/invalid-token", "Invalid invitation token")
    let inv: K.InvitationRecord | undefined
    for (const i of state.invitations.values()) if (i.token === token) inv = i
    if (inv === undefined || inv.status === "revoked") {
      return yield* K.fail(404, "auth/invitation-not-found", "Invitation not found")
    }
    if (email !== undefined && K.normalizeEmail(email) !== inv.email) {
      return yield* K.fail(401, "auth/invalid-token", "The invitation was sent to another address")
    }
    if (inv.status === "accepted") return yield* K.fail(400, "auth/invitation-already-accepted", "Already accepted")
    if (inv.status !== "pending") return yield* K.fail(400, INVALID, `Invitation is ${inv.status}`)
    if (inv.expiresAt <= t) {
      inv.status = "expired"
      return yield* K.fail(410, "auth/invitation-expired", "Invitation expired")
    }
    return inv
  })

const backupCodes = (): Array<string> => Array.from({ length: 8 }, () => crypto.randomBytes(5).toString("hex"))

// ---------------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------------

const SignBody = Schema.Struct({
  method: Schema.String,
  email: Schema.String,
  password: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  callbackUrl: Schema.optional(K.CallbackUrl),
  mfaCode: Schema.optional(Schema.String)
})
const RefreshBody = Schema.Struct({ refreshToken: Schema.String })
const EmailBody = Schema.Struct({ email: Schema.String, callbackUrl: Schema.optional(K.CallbackUrl) })
const ResetConfirmBody = Schema.Struct({ email: Schema.String, token: Schema.String, newPassword: Schema.String })
const ChangeBody = Schema.Struct({ currentPassword: Schema.String, newPassword: Schema.String })
const OrgBody = Schema.Struct({ organizationId: Schema.String })
const PasswordBody = Schema.Struct({ password: Schema.String })
const CodeBody = Schema.Struct({ code: Schema.String })
const DisableBody = Schema.Struct({ password: Schema.String, code: Schema.optional(Schema.String) })
const VerifyConfirmBody = Schema.Struct({ email: Schema.String, token: Schema.String })
const LinkBody = Schema.Struct({
  provider: Schema.String,
  code: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  idToken: Schema.optional(Schema.String),
  accessToken: Schema.optional(Schema.String),
  redirectUri: Schema.optional(Schema.String)
})
const CheckBody = Schema.Struct({ type: Schema.String, provider: Schema.String, providerAccountId: Schema.String })
const InviteBody = Schema.Struct({
  resourceType: Schema.String,
  resourceId: Schema.String,
  resourceName: Schema.optional(Schema.NullOr(Schema.String)),
  email: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String)),
  resourceRole: Schema.String,
  inviterName: Schema.optional(Schema.NullOr(Schema.String))
})
const TokenBody = Schema.Struct({ token: Schema.String, email: Schema.optional(Schema.String) })

// ---------------------------------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------------------------------

/** Magic-link sign-up (201) and sign-in (200) with `method: "magiclink"` both mail a link. */
const requestMagicLink = (
  local: K.Local["Type"],
  email: string,
  callbackUrl: string | undefined,
  t: number,
  status: 200 | 201
) =>
  Effect.gen(function* () {
    if (!local.options.magicLinkEnabled) {
      return yield* K.fail(400, "auth/magiclink-disabled", "Magic links are disabled")
    }
    if (callbackUrl === undefined || callbackUrl === "") return yield* K.fail(400, INVALID, "callbackUrl is required")
    yield* sendMagicLink(local, email, callbackUrl, t)
    return yield* K.ok({ message: "Magic link sent", email }, status)
  })

const lockoutKey = (email: string) => `signin-failures:${email}`

/**
 * Counts a sign-in attempt for the e-mail, then answers 429 when it is past the `lockout` attempts of its window. The
 * attempt is counted before its password is checked, in one store write: concurrent guesses (also on other instances)
 * cannot all pass a count read before any of them was recorded. A successful sign-in resets the window.
 */
const claimAttempt = (email: string, lockout: number, t: number) =>
  Effect.flatMap(
    K.stored((s) => s.windows.hit(lockoutKey(email), LOCKOUT_WINDOW, t)),
    (window) => {
      if (window.count <= lockout) return Effect.void
      const retryAfter = Math.max(1, Math.ceil((window.windowStart + LOCKOUT_WINDOW - t) / 1000))
      return K.fail(429, "auth/too-many-login-attempts", "Too many failed sign-in attempts", {
        "retry-after": String(retryAfter)
      })
    }
  )

/** Removes `code` from the user's backup codes when it is one of them (once: two sign-ins cannot both use it). */
const useBackupCode = (user: K.UserRecord, code: string, t: number) =>
  Effect.gen(function* () {
    if (!user.mfa.backupCodes.includes(code)) return false
    let used = false
    yield* updateSelf(
      user,
      (u) => {
        used = u.mfa.backupCodes.includes(code)
        return used ? { ...u, mfa: { ...u.mfa, backupCodes: u.mfa.backupCodes.filter((c) => c !== code) } } : u
      },
      t
    )
    return used
  })

const signUp = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(SignBody, INVALID)
  const local = yield* K.Local
  const req = yield* HttpServerRequest.HttpServerRequest
  const base = yield* K.publicBaseUrl
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  if (input.method === "magiclink") return yield* requestMagicLink(local, email, input.callbackUrl, t, 201)
  if (input.method !== "password") return yield* K.fail(400, INVALID, "method must be password or magiclink")
  if (input.password === undefined) return yield* K.fail(400, INVALID, "password is required")
  if (input.name === undefined || input.name.trim() === "") return yield* K.fail(400, INVALID, "name is required")
  const problem = K.passwordProblem(local.options, input.password)
  if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
  // the store refuses a second live user with the e-mail (409), also from another instance at the same moment
  const user = yield* K.createUser({ email, name: input.name, password: input.password }, t)
  yield* sendSignupVerification(user, base, undefined, t)
  yield* K.count("signUps")
  return yield* K.ok(yield* startSession(local, user, req, t), 201)
})

const signIn = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(SignBody, INVALID)
  const local = yield* K.Local
  const { options } = local
  const req = yield* HttpServerRequest.HttpServerRequest
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  if (input.method === "magiclink") return yield* requestMagicLink(local, email, input.callbackUrl, t, 200)
  if (input.method !== "password") return yield* K.fail(400, INVALID, "method must be password or magiclink")
  if (input.password === undefined) return yield* K.fail(400, INVALID, "password is required")
  const lockout = options.maxFailedSignIns
  if (lockout !== undefined) yield* claimAttempt(email, lockout, t)
  const user = yield* K.findUserByEmail(email)
  if (user === undefined || !K.verifyPassword(input.password, user.passwordHash)) {
    return yield* K.fail(401, "auth/invalid-credentials", "Invalid e-mail or password")
  }
  if (lockout !== undefined) yield* K.stored((s) => s.windows.reset(lockoutKey(email)))
  if (options.requireEmailVerification && user.emailVerified === null) {
    return yield* K.fail(403, "auth/email-not-verified", "E-mail not verified")
  }
  if (user.mfa.enabled && user.mfa.secret !== undefined) {
    if (input.mfaCode === undefined || input.mfaCode === "") {
      return yield* K.fail(403, "auth/mfa-required", "MFA code required")
    }
    const usedBackup = yield* useBackupCode(user, input.mfaCode, t)
    if (!usedBackup && !Totp.verifyTotp(user.mfa.secret, input.mfaCode, t)) {
      return yield* K.fail(401, "auth/invalid-mfa-code", "Invalid MFA code")
    }
  }
  return yield* K.ok(yield* signInAs(local, user, req, t))
})

const refresh = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const local = yield* K.Local
  yield* K.count("refreshCalls")
  const input = yield* K.body(RefreshBody, INVALID)
  const t = yield* K.now
  const invalid = K.fail(401, "auth/invalid-refresh-token", "Invalid refresh token")
  const claims = Jwt.verify(input.refreshToken, local.state.signingSecret)
  if (claims === undefined || claims.typ !== "refresh" || claims.jti === undefined) return yield* invalid
  const jti = claims.jti
  const reuseMillis = local.options.refreshReuseIntervalSeconds * 1000
  // one atomic step: two presentations of one token (on any instance) rotate once, the other is a replay
  const rotation = yield* K.stored((s) => s.lineage.rotate(jti, nextToken(local, t), t, reuseMillis))
  switch (rotation._tag) {
    case "Rotated":
      yield* K.count("refreshSucceeded")
      return yield* K.ok(pairFor(local, rotation.session, rotation.user, rotation.token, t))
    case "Reused":
      // inside the reuse interval: the current pair again (a fresh access token), no rotation, no revocation
      yield* K.count("refreshReuses")
      yield* K.stored((s) => s.sessions.touch(rotation.session.id, t))
      return yield* K.ok(pairFor(local, rotation.session, rotation.user, rotation.token, t))
    case "Replayed":
      // replay of a rotated-out token: treated as theft, every session of the user was ended
      yield* K.count("replaysDetected")
      return yield* invalid
    case "Expired":
      return rotation.which === "session"
        ? yield* K.fail(401, "auth/session-expired", "Session expired")
        : yield* K.fail(401, "auth/token-expired", "Refresh token expired")
    case "Revoked":
    case "Unknown":
      return yield* invalid
  }
})

const me = Effect.gen(function* () {
  const { user } = yield* requireSession
  return yield* K.ok(K.userView(user))
})

const signOut = Effect.gen(function* () {
  const { session } = yield* requireSession
  const t = yield* K.now
  yield* K.stored((s) => s.sessions.end(session.id, t))
  return yield* K.deleted(message("Signed out"))
})

const withdraw = Effect.gen(function* () {
  const { user } = yield* requireSession
  yield* K.softDeleteUser(user.id, yield* K.now)
  return yield* K.deleted(message("Account deleted"))
})

const switchOrganization = Effect.gen(function* () {
  const { user, session } = yield* requireSession
  const input = yield* K.body(OrgBody, INVALID)
  const local = yield* K.Local
  const t = yield* K.now
  if (input.organizationId.trim() === "") return yield* K.fail(400, INVALID, "organizationId is required")
  const organizationId = input.organizationId
  const changed = yield* updateSelf(user, (u) => ({ ...u, organizationId }), t)
  // the previous refresh token is retired without counting as a rotation (no replay alarm)
  const reissued = yield* K.stored((s) =>
    s.lineage.reissue(session.id, (current) => ({ ...current, organizationId }), nextToken(local, t))
  )
  if (Option.isNone(reissued)) return yield* K.fail(401, "auth/invalid-token", "Session is no longer active")
  return yield* K.ok(pairFor(local, reissued.value.session, changed, reissued.value.token, t))
})

const resetRequest = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(EmailBody, INVALID)
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = yield* K.findUserByEmail(email)
  if (user !== undefined) {
    const tok = yield* issueOneTime("password-reset", email, user.id, RESET_TTL, t, input.callbackUrl)
    const link = input.callbackUrl !== undefined ? withQuery(input.callbackUrl, { token: tok.token, email }) : undefined
    yield* mail(email, "password-reset", tok.token, link, t)
  }
  return yield* K.ok(message("If the account exists, a reset e-mail has been sent"))
})

const resetConfirm = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(ResetConfirmBody, INVALID)
  const { options } = yield* K.Local
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  // what a new password can be wrong about is checked before the token is used up, so a retry can fix it
  const found = yield* K.findUserByEmail(email)
  if (found !== undefined) {
    const problem = K.passwordProblem(options, input.newPassword)
    if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
    if (K.verifyPassword(input.newPassword, found.passwordHash)) {
      return yield* K.fail(400, "auth/same-as-previous-password", "New password equals the previous one")
    }
  }
  yield* consumeOneTime(
    "password-reset",
    input.token,
    t,
    { missing: [404, "auth/verification-token-not-found"], expired: [401, "auth/verification-token-expired"] },
    email
  )
  if (found === undefined) return yield* K.fail(404, "auth/account-not-found", "Account not found")
  const passwordHash = K.hashPassword(input.newPassword)
  const user = yield* K.updateUser(
    found.id,
    (u) => withAccount({ ...u, passwordHash }, linked("email", email, email, t)),
    t,
    [404, "auth/account-not-found"]
  )
  yield* K.revokeUserSessions(user.id, t)
  return yield* K.ok(message("Password has been reset"))
})

const changePassword = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(ChangeBody, INVALID)
  const { options } = yield* K.Local
  const t = yield* K.now
  if (!K.verifyPassword(input.currentPassword, user.passwordHash)) {
    return yield* K.fail(401, "auth/invalid-password", "Current password is wrong")
  }
  if (input.currentPassword === input.newPassword) {
    return yield* K.fail(400, "auth/same-as-previous-password", "New password equals the current one")
  }
  const problem = K.passwordProblem(options, input.newPassword)
  if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
  const passwordHash = K.hashPassword(input.newPassword)
  yield* updateSelf(user, (u) => ({ ...u, passwordHash }), t)
  yield* K.revokeUserSessions(user.id, t)
  return yield* K.ok(message("Password changed"))
})

const listSessions = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { options } = yield* K.Local
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 10, max: 100 }, INVALID)
  const t = yield* K.now
  const all = (yield* K.stored((store) => store.sessions.listByUser(user.id)))
    .filter((s) => s.revokedAt === undefined && s.expiresAt > t)
    .sort((a, b) => b.createdAt - a.createdAt)
  const pageItems = all.slice((page - 1) * limit, page * limit)
  if (options.lists === "ref-array") {
    return yield* K.ok(
      pageItems.map((s) => ({
        id: s.id,
        device: s.deviceInfo,
        ip: s.ipAddress,
        lastAccessedAt: K.iso(s.lastActivityAt),
        userAgent: s.userAgent,
        createdAt: K.iso(s.createdAt)
      }))
    )
  }
  const items = pageItems.map((s) => ({
    id: s.id,
    userId: s.userId,
    userAgent: s.userAgent,
    ipAddress: s.ipAddress,
    deviceInfo: s.deviceInfo,
    lastActivityAt: K.iso(s.lastActivityAt),
    createdAt: K.iso(s.createdAt)
  }))
  return yield* K.ok({ items, pagination: yield* K.pagination("short", page, limit, all.length) })
})

const deleteSession = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { sessionId } = yield* HttpRouter.params
  const t = yield* K.now
  const found = sessionId === undefined ? Option.none() : yield* K.stored((store) => store.sessions.get(sessionId))
  const s = Option.getOrUndefined(found)
  if (s === undefined || s.userId !== user.id || s.revokedAt !== undefined) {
    return yield* K.fail(404, "auth/session-not-found", "Session not found")
  }
  yield* K.stored((store) => store.sessions.end(s.id, t))
  return yield* K.deleted(message("Session ended"))
})

const mfaEnable = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(PasswordBody, INVALID)
  if (!K.verifyPassword(input.password, user.passwordHash)) {
    return yield* K.fail(401, "auth/invalid-credentials", "Wrong password")
  }
  if (user.mfa.enabled) return yield* K.fail(409, "auth/mfa-already-enabled", "MFA is already enabled")
  const secret = Totp.generateSecret()
  const codes = backupCodes()
  yield* updateSelf(user, (u) => ({ ...u, mfa: { ...u.mfa, pendingSecret: secret, backupCodes: codes } }), yield* K.now)
  return yield* K.ok({
    secret,
    qrCodeUrl: Totp.otpauthUri(secret, user.email),
    backupCodes: codes
  })
})

const mfaConfirm = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(CodeBody, INVALID)
  const t = yield* K.now
  if (user.mfa.enabled) return yield* K.fail(409, "auth/mfa-already-enabled", "MFA is already enabled")
  const pending = user.mfa.pendingSecret
  if (pending === undefined) return yield* K.fail(400, "auth/mfa-setup-expired", "Start MFA setup first")
  if (!Totp.verifyTotp(pending, input.code, t)) return yield* K.fail(401, "auth/invalid-mfa-code", "Invalid MFA code")
  const changed = yield* updateSelf(
    user,
    (u) => ({
      ...u,
      mfa: { enabled: true, secret: pending, pendingSecret: undefined, backupCodes: u.mfa.backupCodes }
    }),
    t
  )
  return yield* K.ok({ backupCodes: changed.mfa.backupCodes })
})

const mfaDisable = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(DisableBody, INVALID)
  const t = yield* K.now
  if (!K.verifyPassword(input.password, user.passwordHash)) {
    return yield* K.fail(401, "auth/invalid-credentials", "Wrong password")
  }
  if (!user.mfa.enabled || user.mfa.secret === undefined) {
    return yield* K.fail(400, "auth/mfa-not-enabled", "MFA is not enabled")
  }
  if (input.code !== undefined && !Totp.verifyTotp(user.mfa.secret, input.code, t)) {
    return yield* K.fail(401, "auth/invalid-mfa-code", "Invalid MFA code")
  }
  yield* updateSelf(
    user,
    (u) => ({ ...u, mfa: { enabled: false, secret: undefined, pendingSecret: undefined, backupCodes: [] } }),
    t
  )
  return yield* K.ok({})
})

const linkAccount = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(LinkBody, INVALID)
  const { options } = yield* K.Local
  const t = yield* K.now
  if (!isOAuthProvider(input.provider)) return yield* K.fail(400, "auth/unsupported-provider", "Unsupported provider")
  if (!options.oauthProviders.includes(input.provider)) {
    return yield* K.fail(400, "auth/oauth-not-configured", `${input.provider} is not configured`)
  }
  const credential = yield* credentialOf({
    ...(input.code !== undefined ? { code: input.code } : {}),
    ...(input.idToken !== undefined ? { idToken: input.idToken } : {}),
    // linking does not exchange the code at the provider here, so redirectUri is optional
    redirectUri: input.redirectUri ?? "linked"
  })
  const id = oauthIdentity(input.provider, credential)
  const owner = yield* findLinked(input.provider, id.providerAccountId)
  if (owner !== undefined || user.accounts.some((a) => a.provider === input.provider)) {
    return yield* K.fail(409, "auth/account-already-linked", "Account already linked")
  }
  const account = linked(input.provider, id.providerAccountId, id.email, t)
  yield* updateSelf(user, (u) => withAccount(u, account), t)
  return yield* K.ok({}, 201)
})

const listAccounts = Effect.gen(function* () {
  const { user } = yield* requireSession
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 10, max: 100 }, INVALID)
  const { options } = yield* K.Local
  if (options.lists === "ref-array") {
    return yield* K.ok(
      user.accounts
        .slice((page - 1) * limit, page * limit)
        .map((a) => ({ provider: a.provider, email: a.email, linkedAt: a.connectedAt }))
    )
  }
  const items = user.accounts.slice((page - 1) * limit, page * limit).map((a) => ({
    id: a.id,
    userId: user.id,
    provider: a.provider,
    providerAccountId: a.providerAccountId,
    connectedAt: a.connectedAt
  }))
  return yield* K.ok({ items, pagination: yield* K.pagination("short", page, limit, user.accounts.length) })
})

const unlinkAccount = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { provider } = yield* HttpRouter.params
  const t = yield* K.now
  if (!user.accounts.some((a) => a.provider === provider)) {
    return yield* K.fail(404, "auth/account-not-found", "No such linked account")
  }
  if (user.accounts.length <= 1)
    return yield* K.fail(400, "auth/last-auth-method", "Cannot remove the last sign-in method")
  yield* updateSelf(
    user,
    (u) => ({
      ...u,
      accounts: u.accounts.length <= 1 ? u.accounts : u.accounts.filter((a) => a.provider !== provider),
      passwordHash: provider === "email" && u.accounts.length > 1 ? undefined : u.passwordHash
    }),
    t
  )
  return yield* K.deleted(message("Account unlinked"))
})

const checkAccount = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(CheckBody, INVALID)
  if (input.type !== "credentials" && input.type !== "oauth") {
    return yield* K.fail(400, INVALID, "type must be credentials or oauth")
  }
  const exists =
    input.type === "credentials"
      ? ((yield* K.findUserByEmail(input.providerAccountId))?.accounts.some((a) => a.provider === "email") ?? false)
      : (yield* findLinked(input.provider, input.providerAccountId)) !== undefined
  return yield* K.ok(exists ? { exists, type: input.type, provider: input.provider } : { exists })
})

const createInvitation = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(InviteBody, INVALID)
  const { state } = yield* K.Local
  const base = yield* K.publicBaseUrl
  const t = yield* K.now
  if (input.resourceType !== "organization" && input.resourceType !== "project") {
    return yield* K.fail(400, INVALID, "resourceType must be organization or project")
  }
  const email = yield* requireEmail(input.email)
  const inv: K.InvitationRecord = {
    id: K.uuid(),
    token: K.randomToken(),
    resourceType: input.resourceType,
    resourceId: input.resourceId,
    resourceName: input.resourceName ?? null,
    resourceRole: input.resourceRole,
    email,
    name: input.name ?? null,
    inviterName: input.inviterName ?? null,
    status: "pending",
    expiresAt: t + INVITATION_TTL,
    invitedBy: user.id,
    createdAt: K.iso(t),
    updatedAt: K.iso(t)
  }
  state.invitations.set(inv.id, inv)
  yield* mail(email, "invitation", inv.token, withQuery(`${base}/invitations/accept`, { token: inv.token }), t)
  return yield* K.ok(invitationView(inv, t), 201)
})

const visibleTo = (inv: K.InvitationRecord, user: K.UserRecord) => inv.invitedBy === user.id || inv.email === user.email

const listInvitations = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { state } = yield* K.Local
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 10, max: 100 }, INVALID)
  const t = yield* K.now
  const all = Array.from(state.invitations.values())
    .filter((i) => visibleTo(i, user))
    .map((i) => invitationView(i, t))
    .filter(
      (v) =>
        (q.resourceType === undefined || v.resourceType === q.resourceType) &&
        (q.resourceId === undefined || v.resourceId === q.resourceId) &&
        (q.status === undefined || v.status === q.status)
    )
  const items = all.slice((page - 1) * limit, page * limit)
  return yield* K.ok({ items, pagination: yield* K.pagination("short", page, limit, all.length) })
})

const getInvitation = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { invitationId } = yield* HttpRouter.params
  const { state } = yield* K.Local
  const inv = invitationId === undefined ? undefined : state.invitations.get(invitationId)
  if (inv === undefined || !visibleTo(inv, user)) {
    return yield* K.fail(404, "auth/invitation-not-found", "Invitation not found")
  }
  return yield* K.ok(invitationView(inv, yield* K.now))
})

const acceptInvitation = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(TokenBody, INVALID)
  const { state } = yield* K.Local
  const t = yield* K.now
  const inv = yield* findInvitationByToken(state, input.token, input.email, t)
  inv.status = "accepted"
  inv.updatedAt = K.iso(t)
  return yield* K.ok(invitationView(inv, t))
})

const rejectInvitation = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(TokenBody, INVALID)
  const { state } = yield* K.Local
  const t = yield* K.now
  const inv = yield* findInvitationByToken(state, input.token, input.email, t)
  inv.status = "rejected"
  inv.updatedAt = K.iso(t)
  return yield* K.ok({})
})

const revokeInvitation = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { invitationId } = yield* HttpRouter.params
  const { state } = yield* K.Local
  const t = yield* K.now
  const inv = invitationId === undefined ? undefined : state.invitations.get(invitationId)
  if (inv === undefined || !visibleTo(inv, user) || inv.status === "revoked") {
    return yield* K.fail(404, "auth/invitation-not-found", "Invitation not found")
  }
  if (inv.invitedBy !== user.id) return yield* K.fail(403, "auth/forbidden", "Only the inviter may revoke")
  inv.status = "revoked"
  inv.updatedAt = K.iso(t)
  return yield* K.deleted(message("Invitation revoked"))
})

const verifySend = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(EmailBody, INVALID)
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = yield* K.findUserByEmail(email)
  if (user !== undefined && user.emailVerified !== null) {
    return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
  }
  const tok = yield* issueOneTime("email-verification", email, user?.id, VERIFY_TTL, t, input.callbackUrl)
  const link = input.callbackUrl !== undefined ? withQuery(input.callbackUrl, { token: tok.token, email }) : undefined
  yield* mail(email, "email-verification", tok.token, link, t)
  return yield* K.ok({ message: "Verification e-mail sent", email })
})

/** Consumes a verification token (sign-up or contact e-mail) and marks the user's e-mail verified. */
const confirmVerification = (kind: "email-verification" | "signup-verification", token: string, rawEmail: string) =>
  Effect.gen(function* () {
    const t = yield* K.now
    const email = yield* requireEmail(rawEmail)
    const user = yield* K.findUserByEmail(email)
    if (user !== undefined && user.emailVerified !== null) {
      return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
    }
    const tok = yield* consumeOneTime(
      kind,
      token,
      t,
      { missing: [401, "auth/invalid-token"], expired: [401, "auth/token-expired"] },
      email
    )
    if (user !== undefined)
      yield* K.updateUser(user.id, (u) => ({ ...u, emailVerified: u.emailVerified ?? K.iso(t) }), t)
    return { email, tok }
  })

const verifyConfirm = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(VerifyConfirmBody, INVALID)
  yield* confirmVerification("email-verification", input.token, input.email)
  return yield* K.ok({ message: "E-mail verified", verified: true })
})

const signupResend = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(EmailBody, INVALID)
  const base = yield* K.publicBaseUrl
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = yield* K.findUserByEmail(email)
  if (user !== undefined) {
    if (user.emailVerified !== null) return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
    yield* sendSignupVerification(user, base, input.callbackUrl, t)
  }
  return yield* K.ok({ message: "Verification e-mail sent", email })
})

// Opened from the e-mail link: a browser cannot add X-API-Key, so the key is checked only when present.
const signupConfirm = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  if (K.header(req, "x-api-key") !== undefined) yield* K.apiKey("auth")
  const q = yield* K.query
  if (q.token === undefined || q.email === undefined) return yield* K.fail(400, INVALID, "token and email are required")
  // checked before the token is consumed; a stored callbackUrl was checked when the mail was requested
  const problem = q.callbackUrl === undefined || q.callbackUrl === "" ? undefined : K.callbackUrlProblem(q.callbackUrl)
  if (problem !== undefined) return yield* K.fail(400, INVALID, problem)
  const { email, tok } = yield* confirmVerification("signup-verification", q.token, q.email)
  const callbackUrl = q.callbackUrl ?? tok.callbackUrl
  if (callbackUrl !== undefined && callbackUrl !== "") {
    return HttpServerResponse.redirect(withQuery(callbackUrl, { verified: "true", email }), { status: 302 })
  }
  // documented already wrapped: never wrapped again; the hybrid envelope only adds the fields on top
  const payload = { verified: true, email }
  if ((yield* K.Local).options.envelope === "hybrid") return yield* K.ok(payload)
  return yield* K.okRaw({ success: true, data: payload })
})

const callbackPost = Effect.gen(function* () {
  const { provider } = yield* HttpRouter.params
  const input = yield* K.body(OAuthInput, INVALID)
  return yield* callback(provider ?? "", input)
})

// GET /v1/auth/:provider/authorize: the redirect-style flow (see oauth.ts)
const authorize = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const { provider } = yield* HttpRouter.params
  yield* configuredProvider(provider ?? "")
  if (!(yield* K.Local).options.oauthDevSignIn) {
    return yield* K.fail(400, "auth/oauth-not-configured", "No sign-in page for this provider: enable oauthDevSignIn")
  }
  const q = yield* K.query
  return yield* K.ok(yield* OAuth.startFlow(provider ?? "", OAuth.returnUrlOf(q), q.state))
})

const callbackGet = Effect.gen(function* () {
  const { provider } = yield* HttpRouter.params
  const q = yield* K.query
  // the browser arrives here from the sign-in page of an authorize flow: no API key, answer with a redirect
  const flow = OAuth.pendingFlow((yield* K.Local).state, provider ?? "", q.state, yield* K.now)
  if (flow !== undefined) return yield* OAuth.finishFlow(flow, q, flowSignIn)
  const input: typeof OAuthInput.Type = {
    ...(q.code !== undefined ? { code: q.code } : {}),
    ...(q.redirectUri !== undefined ? { redirectUri: q.redirectUri } : {}),
    ...(q.state !== undefined ? { state: q.state } : {}),
    ...(q.idToken !== undefined ? { idToken: q.idToken } : {}),
    ...(q.token !== undefined ? { token: q.token } : {})
  }
  return yield* callback(provider ?? "", input)
})

/**
 * All `/v1/auth/*` routes.
 *
 * @since 0.1.0
 * @category routers
 */
export const authRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty
  .pipe(
    HttpRouter.post("/v1/auth/email/signup", signUp),
    HttpRouter.post("/v1/auth/email/signin", signIn),
    HttpRouter.get("/v1/auth/:provider/authorize", authorize),
    HttpRouter.post("/v1/auth/:provider/callback", callbackPost),
    HttpRouter.get("/v1/auth/:provider/callback", callbackGet),
    HttpRouter.get("/v1/auth/me", me),
    HttpRouter.post("/v1/auth/refresh", refresh),
    HttpRouter.post("/v1/auth/signout", signOut),
    HttpRouter.del("/v1/auth/withdraw", withdraw),
    HttpRouter.post("/v1/auth/switch-organization", switchOrganization),
    HttpRouter.post("/v1/auth/password/reset/request", resetRequest),
    HttpRouter.post("/v1/auth/password/reset/confirm", resetConfirm),
    HttpRouter.post("/v1/auth/password/change", changePassword),
    HttpRouter.get("/v1/auth/sessions", listSessions),
    HttpRouter.del("/v1/auth/sessions/:sessionId", deleteSession),
    HttpRouter.post("/v1/auth/mfa/enable", mfaEnable)
  )
  .pipe(
    HttpRouter.post("/v1/auth/mfa/confirm", mfaConfirm),
    HttpRouter.post("/v1/auth/mfa/disable", mfaDisable),
    HttpRouter.post("/v1/auth/accounts/check", checkAccount),
    HttpRouter.post("/v1/auth/accounts", linkAccount),
    HttpRouter.get("/v1/auth/accounts", listAccounts),
    HttpRouter.del("/v1/auth/accounts/:provider", unlinkAccount),
    HttpRouter.post("/v1/auth/invitations/accept", acceptInvitation),
    HttpRouter.post("/v1/auth/invitations/reject", rejectInvitation),
    HttpRouter.post("/v1/auth/invitations", createInvitation),
    HttpRouter.get("/v1/auth/invitations", listInvitations),
    HttpRouter.get("/v1/auth/invitations/:invitationId", getInvitation),
    HttpRouter.del("/v1/auth/invitations/:invitationId", revokeInvitation),
    HttpRouter.post("/v1/auth/email/verify/send", verifySend),
    HttpRouter.post("/v1/auth/email/verify/confirm", verifyConfirm),
    HttpRouter.post("/v1/auth/email/verify/resend", verifySend),
    HttpRouter.post("/v1/auth/signup/email/resend", signupResend),
    HttpRouter.get("/v1/auth/signup/email/confirm", signupConfirm),
    HttpRouter.concat(OAuth.pageRouter)
  )
