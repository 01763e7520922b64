/**
 * Auth routes of bkend-local (CONTRACT §6, A01–A33): password and magic-link sign-up/in, OAuth stub providers,
 * refresh rotation with replay detection, sessions, password management, e-mail verification, TOTP MFA,
 * account linking and invitations. Mails go to the in-memory outbox.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import * as Jwt from "./jwt.js"
import * as K from "./kernel.js"
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

const accessTokenOf = (local: K.Local["Type"], session: K.SessionRecord, user: K.UserRecord, iat: number): string =>
  Jwt.sign(
    {
      sub: user.id,
      sid: session.id,
      typ: "access",
      iat,
      exp: iat + local.options.accessTokenTtlSeconds,
      role: user.role
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

const issueTokens = (local: K.Local["Type"], session: K.SessionRecord, user: K.UserRecord, t: number): TokenPair => {
  const { options, state } = local
  const iat = Math.floor(t / 1000)
  const refreshExp = Math.min(iat + options.refreshTokenTtlSeconds, Math.floor(session.expiresAt / 1000))
  const record: K.RefreshTokenRecord = {
    jti: K.uuid(),
    sessionId: session.id,
    userId: user.id,
    status: "active",
    issuedAt: iat,
    expiresAt: refreshExp * 1000,
    rotatedAt: undefined,
    childJti: undefined
  }
  state.refreshTokens.set(record.jti, record)
  session.refreshJti = record.jti
  return pairOf(local, accessTokenOf(local, session, user, iat), refreshTokenOf(state, record))
}

/**
 * Inside the reuse interval, a rotated-out token whose child is still the session's current, unused refresh token:
 * that child, else undefined (then the presentation is a replay).
 */
const reusableChild = (local: K.Local["Type"], record: K.RefreshTokenRecord, t: number) => {
  const windowMillis = local.options.refreshReuseIntervalSeconds * 1000
  if (windowMillis <= 0 || record.rotatedAt === undefined || record.childJti === undefined) return undefined
  if (t - record.rotatedAt >= windowMillis) return undefined
  const child = local.state.refreshTokens.get(record.childJti)
  const session = local.state.sessions.get(record.sessionId)
  if (child === undefined || child.status !== "active" || child.expiresAt <= t) return undefined
  if (session === undefined || session.revokedAt !== undefined || session.refreshJti !== child.jti) return undefined
  return session.expiresAt > t ? { child, session } : undefined
}

const startSession = (local: K.Local["Type"], user: K.UserRecord, req: Req, t: number): TokenPair => {
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
  local.state.sessions.set(session.id, session)
  return issueTokens(local, session, user, t)
}

const endSession = (state: K.LocalState, session: K.SessionRecord, t: number): void => {
  session.revokedAt = t
  for (const r of state.refreshTokens.values()) {
    if (r.sessionId === session.id && r.status === "active") r.status = "revoked"
  }
}

/** Key + valid bearer; the signed-in user and session. */
const requireSession = Effect.gen(function* () {
  const c = yield* K.caller("auth")
  const { state } = yield* K.Local
  if (c.userId === undefined || c.sessionId === undefined) {
    return yield* K.fail(401, "auth/unauthorized", "Authentication required")
  }
  const user = state.users.get(c.userId)
  const session = state.sessions.get(c.sessionId)
  if (user === undefined || user.deletedAt !== undefined)
    return yield* K.fail(404, "auth/user-not-found", "User not found")
  if (session === undefined) return yield* K.fail(401, "auth/invalid-token", "Session is no longer active")
  return { user, session }
})

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
  state: K.LocalState,
  kind: K.MailKind,
  email: string,
  userId: string | undefined,
  ttl: number,
  t: number,
  callbackUrl: string | undefined
): K.OneTimeToken => {
  const token: K.OneTimeToken = {
    token: K.randomToken(),
    kind,
    email,
    userId,
    expiresAt: t + ttl,
    usedAt: undefined,
    callbackUrl
  }
  state.oneTimeTokens.set(token.token, token)
  return token
}

const mail = (state: K.LocalState, to: string, kind: K.MailKind, token: string, link: string | undefined, t: number) =>
  K.sendMail(state, { to, kind, token, link, createdAt: K.iso(t) })

const signupVerificationLink = (base: string, token: string, email: string, callbackUrl: string | undefined) =>
  withQuery(`${base}/v1/auth/signup/email/confirm`, {
    token,
    email,
    ...(callbackUrl !== undefined ? { callbackUrl } : {})
  })

const sendSignupVerification = (
  state: K.LocalState,
  user: K.UserRecord,
  base: string,
  callbackUrl: string | undefined,
  t: number
) => {
  const tok = issueOneTime(state, "signup-verification", user.email, user.id, VERIFY_TTL, t, callbackUrl)
  mail(
    state,
    user.email,
    "signup-verification",
    tok.token,
    signupVerificationLink(base, tok.token, user.email, callbackUrl),
    t
  )
}

const sendMagicLink = (local: K.Local["Type"], email: string, callbackUrl: string, t: number) => {
  const { state, options } = local
  const user = K.findUserByEmail(state, email)
  const tok = issueOneTime(state, "magic-link", email, user?.id, options.magicLinkTtlMinutes * 60_000, t, callbackUrl)
  mail(state, email, "magic-link", tok.token, withQuery(callbackUrl, { token: tok.token }), t)
}

/** A one-time token of a kind, checked for existence, use and expiry. */
const consumeOneTime = (
  state: K.LocalState,
  kind: K.MailKind,
  token: string,
  t: number,
  codes: { readonly missing: readonly [number, string]; readonly expired: readonly [number, string] },
  email?: string
) => {
  const tok = state.oneTimeTokens.get(token)
  if (
    tok === undefined ||
    tok.kind !== kind ||
    tok.usedAt !== undefined ||
    (email !== undefined && tok.email !== email)
  ) {
    return K.fail(codes.missing[0], codes.missing[1], "Unknown or already used token")
  }
  if (tok.expiresAt <= t) return K.fail(codes.expired[0], codes.expired[1], "Token expired")
  return Effect.succeed(tok)
}

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

const findLinked = (state: K.LocalState, provider: string, providerAccountId: string) => {
  for (const u of state.users.values()) {
    if (
      u.deletedAt === undefined &&
      u.accounts.some((a) => a.provider === provider && a.providerAccountId === providerAccountId)
    ) {
      return u
    }
  }
  return undefined
}

const isOAuthProvider = (p: string): p is (typeof OAUTH_PROVIDERS)[number] => p === "google" || p === "github"

const callback = (provider: string, input: typeof OAuthInput.Type) =>
  Effect.gen(function* () {
    yield* K.apiKey("auth")
    const local = yield* K.Local
    const { state } = local
    const req = yield* HttpServerRequest.HttpServerRequest
    const t = yield* K.now
    if (provider === "email") {
      // A33: magic-link token exchange
      if (input.token === undefined || input.token === "") return yield* K.fail(400, INVALID, "token is required")
      const tok = yield* consumeOneTime(state, "magic-link", input.token, t, {
        missing: [401, "auth/invalid-token"],
        expired: [401, "auth/token-expired"]
      })
      tok.usedAt = t
      let user = K.findUserByEmail(state, tok.email)
      const isNew = user === undefined
      if (user === undefined) {
        user = K.createUser(state, { email: tok.email, name: tok.email.slice(0, tok.email.indexOf("@")) }, t)
        user.accounts.push({
          id: K.uuid(),
          provider: "email",
          providerAccountId: user.email,
          email: user.email,
          connectedAt: K.iso(t)
        })
      }
      if (user.emailVerified === null) user.emailVerified = K.iso(t)
      state.counters.signIns++
      return yield* K.ok({ ...startSession(local, user, req, t), is_new_user: isNew })
    }
    if (!isOAuthProvider(provider)) return yield* K.fail(400, "auth/unsupported-provider", "Unsupported provider")
    if (!local.options.oauthProviders.includes(provider)) {
      return yield* K.fail(400, "auth/oauth-not-configured", `${provider} sign-in is not configured`)
    }
    const credential = yield* credentialOf(input)
    const id = oauthIdentity(provider, credential)
    let user = findLinked(state, provider, id.providerAccountId)
    let isNew = false
    if (user === undefined) {
      user = K.findUserByEmail(state, id.email)
      if (user === undefined) {
        isNew = true
        user = K.createUser(state, { email: id.email, name: id.name, emailVerified: true, image: id.image }, t)
      }
      user.accounts.push({
        id: K.uuid(),
        provider,
        providerAccountId: id.providerAccountId,
        email: id.email,
        connectedAt: K.iso(t)
      })
    }
    state.counters.signIns++
    return yield* K.ok({ ...startSession(local, user, req, t), is_new_user: isNew })
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
  callbackUrl: Schema.optional(Schema.String),
  mfaCode: Schema.optional(Schema.String)
})
const RefreshBody = Schema.Struct({ refreshToken: Schema.String })
const EmailBody = Schema.Struct({ email: Schema.String, callbackUrl: Schema.optional(Schema.String) })
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

/** A01b / A02b: sign-up (201) and sign-in (200) with `method: "magiclink"` both mail a link. */
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
    sendMagicLink(local, email, callbackUrl, t)
    return yield* K.ok({ message: "Magic link sent", email }, status)
  })

const signUp = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(SignBody, INVALID)
  const local = yield* K.Local
  const { state, options } = local
  const req = yield* HttpServerRequest.HttpServerRequest
  const base = yield* K.publicBaseUrl
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  if (input.method === "magiclink") return yield* requestMagicLink(local, email, input.callbackUrl, t, 201)
  if (input.method !== "password") return yield* K.fail(400, INVALID, "method must be password or magiclink")
  if (input.password === undefined) return yield* K.fail(400, INVALID, "password is required")
  if (input.name === undefined || input.name.trim() === "") return yield* K.fail(400, INVALID, "name is required")
  const problem = K.passwordProblem(options, input.password)
  if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
  if (K.findUserByEmail(state, email) !== undefined) {
    return yield* K.fail(409, "auth/email-already-exists", "E-mail already registered")
  }
  const user = K.createUser(state, { email, name: input.name, password: input.password }, t)
  sendSignupVerification(state, user, base, undefined, t)
  state.counters.signUps++
  return yield* K.ok(startSession(local, user, req, t), 201)
})

const signIn = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(SignBody, INVALID)
  const local = yield* K.Local
  const { state, options } = local
  const req = yield* HttpServerRequest.HttpServerRequest
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  if (input.method === "magiclink") return yield* requestMagicLink(local, email, input.callbackUrl, t, 200)
  if (input.method !== "password") return yield* K.fail(400, INVALID, "method must be password or magiclink")
  if (input.password === undefined) return yield* K.fail(400, INVALID, "password is required")
  const lockout = options.maxFailedSignIns
  const failures = state.failedSignIns.get(email)
  if (lockout !== undefined && failures !== undefined && t < failures.windowStart + LOCKOUT_WINDOW) {
    if (failures.count >= lockout) {
      const retryAfter = Math.max(1, Math.ceil((failures.windowStart + LOCKOUT_WINDOW - t) / 1000))
      return yield* K.fail(429, "auth/too-many-login-attempts", "Too many failed sign-in attempts", {
        "retry-after": String(retryAfter)
      })
    }
  }
  const user = K.findUserByEmail(state, email)
  if (user === undefined || !K.verifyPassword(input.password, user.passwordHash)) {
    if (lockout !== undefined) {
      const current =
        failures !== undefined && t < failures.windowStart + LOCKOUT_WINDOW ? failures : { windowStart: t, count: 0 }
      current.count++
      state.failedSignIns.set(email, current)
    }
    return yield* K.fail(401, "auth/invalid-credentials", "Invalid e-mail or password")
  }
  state.failedSignIns.delete(email)
  if (options.requireEmailVerification && user.emailVerified === null) {
    return yield* K.fail(403, "auth/email-not-verified", "E-mail not verified")
  }
  if (user.mfa.enabled && user.mfa.secret !== undefined) {
    if (input.mfaCode === undefined || input.mfaCode === "") {
      return yield* K.fail(403, "auth/mfa-required", "MFA code required")
    }
    const backup = user.mfa.backupCodes.indexOf(input.mfaCode)
    if (backup >= 0) user.mfa.backupCodes.splice(backup, 1)
    else if (!Totp.verifyTotp(user.mfa.secret, input.mfaCode, t)) {
      return yield* K.fail(401, "auth/invalid-mfa-code", "Invalid MFA code")
    }
  }
  state.counters.signIns++
  return yield* K.ok(startSession(local, user, req, t))
})

const refresh = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const local = yield* K.Local
  const { state } = local
  state.counters.refreshCalls++
  const input = yield* K.body(RefreshBody, INVALID)
  const t = yield* K.now
  const invalid = K.fail(401, "auth/invalid-refresh-token", "Invalid refresh token")
  const claims = Jwt.verify(input.refreshToken, state.signingSecret)
  if (claims === undefined || claims.typ !== "refresh" || claims.jti === undefined) return yield* invalid
  const record = state.refreshTokens.get(claims.jti)
  if (record === undefined) return yield* invalid
  if (record.status === "rotated") {
    const reuse = reusableChild(local, record, t)
    const owner = state.users.get(record.userId)
    if (reuse !== undefined && owner !== undefined && owner.deletedAt === undefined) {
      // inside the reuse interval: the current pair again (a fresh access token), no rotation, no revocation
      state.counters.refreshReuses++
      reuse.session.lastActivityAt = t
      const access = accessTokenOf(local, reuse.session, owner, Math.floor(t / 1000))
      return yield* K.ok(pairOf(local, access, refreshTokenOf(state, reuse.child)))
    }
    // replay of a rotated-out token: treat as theft, end every session of the user
    state.counters.replaysDetected++
    K.revokeUserSessions(state, record.userId, t)
    return yield* invalid
  }
  if (record.status === "revoked") return yield* invalid
  const session = state.sessions.get(record.sessionId)
  const user = state.users.get(record.userId)
  if (session === undefined || session.revokedAt !== undefined || user === undefined || user.deletedAt !== undefined) {
    return yield* invalid
  }
  if (session.expiresAt <= t) return yield* K.fail(401, "auth/session-expired", "Session expired")
  if (record.expiresAt <= t) return yield* K.fail(401, "auth/token-expired", "Refresh token expired")
  record.status = "rotated"
  record.rotatedAt = t
  session.lastActivityAt = t
  const pair = issueTokens(local, session, user, t)
  record.childJti = session.refreshJti
  state.counters.refreshSucceeded++
  return yield* K.ok(pair)
})

const me = Effect.gen(function* () {
  const { user } = yield* requireSession
  return yield* K.ok(K.userView(user))
})

const signOut = Effect.gen(function* () {
  const { session } = yield* requireSession
  const { state } = yield* K.Local
  endSession(state, session, yield* K.now)
  return yield* K.deleted(message("Signed out"))
})

const withdraw = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { state } = yield* K.Local
  K.softDeleteUser(state, user, yield* K.now)
  return yield* K.deleted(message("Account deleted"))
})

const switchOrganization = Effect.gen(function* () {
  const { user, session } = yield* requireSession
  const input = yield* K.body(OrgBody, INVALID)
  const local = yield* K.Local
  const t = yield* K.now
  if (input.organizationId.trim() === "") return yield* K.fail(400, INVALID, "organizationId is required")
  user.organizationId = input.organizationId
  session.organizationId = input.organizationId
  // the previous refresh token is retired without counting as a rotation (no replay alarm)
  const old = local.state.refreshTokens.get(session.refreshJti)
  if (old !== undefined) old.status = "revoked"
  return yield* K.ok(issueTokens(local, session, user, t))
})

const resetRequest = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(EmailBody, INVALID)
  const { state } = yield* K.Local
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = K.findUserByEmail(state, email)
  if (user !== undefined) {
    const tok = issueOneTime(state, "password-reset", email, user.id, RESET_TTL, t, input.callbackUrl)
    const link = input.callbackUrl !== undefined ? withQuery(input.callbackUrl, { token: tok.token, email }) : undefined
    mail(state, email, "password-reset", tok.token, link, t)
  }
  return yield* K.ok(message("If the account exists, a reset e-mail has been sent"))
})

const resetConfirm = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(ResetConfirmBody, INVALID)
  const { state, options } = yield* K.Local
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const tok = yield* consumeOneTime(
    state,
    "password-reset",
    input.token,
    t,
    { missing: [404, "auth/verification-token-not-found"], expired: [401, "auth/verification-token-expired"] },
    email
  )
  const user = K.findUserByEmail(state, email)
  if (user === undefined) return yield* K.fail(404, "auth/account-not-found", "Account not found")
  const problem = K.passwordProblem(options, input.newPassword)
  if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
  if (K.verifyPassword(input.newPassword, user.passwordHash)) {
    return yield* K.fail(400, "auth/same-as-previous-password", "New password equals the previous one")
  }
  tok.usedAt = t
  user.passwordHash = K.hashPassword(input.newPassword)
  user.updatedAt = K.iso(t)
  if (!user.accounts.some((a) => a.provider === "email")) {
    user.accounts.push({ id: K.uuid(), provider: "email", providerAccountId: email, email, connectedAt: K.iso(t) })
  }
  K.revokeUserSessions(state, user.id, t)
  return yield* K.ok(message("Password has been reset"))
})

const changePassword = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(ChangeBody, INVALID)
  const { state, options } = yield* K.Local
  const t = yield* K.now
  if (!K.verifyPassword(input.currentPassword, user.passwordHash)) {
    return yield* K.fail(401, "auth/invalid-password", "Current password is wrong")
  }
  if (input.currentPassword === input.newPassword) {
    return yield* K.fail(400, "auth/same-as-previous-password", "New password equals the current one")
  }
  const problem = K.passwordProblem(options, input.newPassword)
  if (problem !== undefined) return yield* K.fail(400, "auth/invalid-password-format", problem)
  user.passwordHash = K.hashPassword(input.newPassword)
  user.updatedAt = K.iso(t)
  K.revokeUserSessions(state, user.id, t)
  return yield* K.ok(message("Password changed"))
})

const listSessions = Effect.gen(function* () {
  const { user } = yield* requireSession
  const { state, options } = yield* K.Local
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 10, max: 100 }, INVALID)
  const t = yield* K.now
  const all = Array.from(state.sessions.values())
    .filter((s) => s.userId === user.id && s.revokedAt === undefined && s.expiresAt > t)
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
  const { state } = yield* K.Local
  const t = yield* K.now
  const s = sessionId === undefined ? undefined : state.sessions.get(sessionId)
  if (s === undefined || s.userId !== user.id || s.revokedAt !== undefined) {
    return yield* K.fail(404, "auth/session-not-found", "Session not found")
  }
  endSession(state, s, t)
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
  user.mfa.pendingSecret = secret
  user.mfa.backupCodes = backupCodes()
  return yield* K.ok({
    secret,
    qrCodeUrl: Totp.otpauthUri(secret, user.email),
    backupCodes: user.mfa.backupCodes
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
  user.mfa = { enabled: true, secret: pending, pendingSecret: undefined, backupCodes: user.mfa.backupCodes }
  user.updatedAt = K.iso(t)
  return yield* K.ok({ backupCodes: user.mfa.backupCodes })
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
  user.mfa = { enabled: false, secret: undefined, pendingSecret: undefined, backupCodes: [] }
  user.updatedAt = K.iso(t)
  return yield* K.ok({})
})

const linkAccount = Effect.gen(function* () {
  const { user } = yield* requireSession
  const input = yield* K.body(LinkBody, INVALID)
  const { state, options } = yield* K.Local
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
  const owner = findLinked(state, input.provider, id.providerAccountId)
  if (owner !== undefined || user.accounts.some((a) => a.provider === input.provider)) {
    return yield* K.fail(409, "auth/account-already-linked", "Account already linked")
  }
  user.accounts.push({
    id: K.uuid(),
    provider: input.provider,
    providerAccountId: id.providerAccountId,
    email: id.email,
    connectedAt: K.iso(t)
  })
  user.updatedAt = K.iso(t)
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
  const idx = user.accounts.findIndex((a) => a.provider === provider)
  if (idx < 0) return yield* K.fail(404, "auth/account-not-found", "No such linked account")
  if (user.accounts.length <= 1)
    return yield* K.fail(400, "auth/last-auth-method", "Cannot remove the last sign-in method")
  user.accounts.splice(idx, 1)
  if (provider === "email") user.passwordHash = undefined
  user.updatedAt = K.iso(t)
  return yield* K.deleted(message("Account unlinked"))
})

const checkAccount = Effect.gen(function* () {
  yield* K.apiKey("auth")
  const input = yield* K.body(CheckBody, INVALID)
  const { state } = yield* K.Local
  if (input.type !== "credentials" && input.type !== "oauth") {
    return yield* K.fail(400, INVALID, "type must be credentials or oauth")
  }
  const exists =
    input.type === "credentials"
      ? (K.findUserByEmail(state, input.providerAccountId)?.accounts.some((a) => a.provider === "email") ?? false)
      : findLinked(state, input.provider, input.providerAccountId) !== undefined
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
  mail(state, email, "invitation", inv.token, withQuery(`${base}/invitations/accept`, { token: inv.token }), t)
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
  const { state } = yield* K.Local
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = K.findUserByEmail(state, email)
  if (user !== undefined && user.emailVerified !== null) {
    return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
  }
  const tok = issueOneTime(state, "email-verification", email, user?.id, VERIFY_TTL, t, input.callbackUrl)
  const link = input.callbackUrl !== undefined ? withQuery(input.callbackUrl, { token: tok.token, email }) : undefined
  mail(state, email, "email-verification", tok.token, link, t)
  return yield* K.ok({ message: "Verification e-mail sent", email })
})

/** Consumes a verification token (sign-up or contact e-mail) and marks the user's e-mail verified. */
const confirmVerification = (kind: "email-verification" | "signup-verification", token: string, rawEmail: string) =>
  Effect.gen(function* () {
    const { state } = yield* K.Local
    const t = yield* K.now
    const email = yield* requireEmail(rawEmail)
    const user = K.findUserByEmail(state, email)
    if (user !== undefined && user.emailVerified !== null) {
      return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
    }
    const tok = yield* consumeOneTime(
      state,
      kind,
      token,
      t,
      { missing: [401, "auth/invalid-token"], expired: [401, "auth/token-expired"] },
      email
    )
    tok.usedAt = t
    if (user !== undefined) {
      user.emailVerified = K.iso(t)
      user.updatedAt = K.iso(t)
    }
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
  const { state } = yield* K.Local
  const base = yield* K.publicBaseUrl
  const t = yield* K.now
  const email = yield* requireEmail(input.email)
  const user = K.findUserByEmail(state, email)
  if (user !== undefined) {
    if (user.emailVerified !== null) return yield* K.fail(400, "auth/already-verified", "E-mail already verified")
    sendSignupVerification(state, user, base, input.callbackUrl, t)
  }
  return yield* K.ok({ message: "Verification e-mail sent", email })
})

// Opened from the e-mail link: a browser cannot add X-API-Key, so the key is checked only when present.
const signupConfirm = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  if (K.header(req, "x-api-key") !== undefined) yield* K.apiKey("auth")
  const q = yield* K.query
  if (q.token === undefined || q.email === undefined) return yield* K.fail(400, INVALID, "token and email are required")
  const { email, tok } = yield* confirmVerification("signup-verification", q.token, q.email)
  const callbackUrl = q.callbackUrl ?? tok.callbackUrl
  if (callbackUrl !== undefined && callbackUrl !== "") {
    return HttpServerResponse.redirect(withQuery(callbackUrl, { verified: "true", email }), { status: 302 })
  }
  // documented already wrapped (I-37): never wrapped again
  return yield* K.okRaw({ success: true, data: { verified: true, email } })
})

const callbackPost = Effect.gen(function* () {
  const { provider } = yield* HttpRouter.params
  const input = yield* K.body(OAuthInput, INVALID)
  return yield* callback(provider ?? "", input)
})

const callbackGet = Effect.gen(function* () {
  const { provider } = yield* HttpRouter.params
  const q = yield* K.query
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
 * All `/v1/auth/*` routes (A01–A33).
 *
 * @since 0.1.0
 * @category routers
 */
export const authRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty
  .pipe(
    HttpRouter.post("/v1/auth/email/signup", signUp),
    HttpRouter.post("/v1/auth/email/signin", signIn),
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
    HttpRouter.get("/v1/auth/signup/email/confirm", signupConfirm)
  )
