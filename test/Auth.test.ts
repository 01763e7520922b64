import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Clock, Effect, FastCheck, Fiber, Layer, Option, Redacted, Schema, Stream, TestClock } from "effect"
import { expectTypeOf } from "vitest"
import * as Auth from "../src/Auth.js"
import { documented } from "../src/AuthSchema.js"
import * as BkendClient from "../src/BkendClient.js"
import * as BkendError from "../src/BkendError.js"
import * as Page from "../src/Page.js"
import * as Session from "../src/Session.js"
import {
  BkendLocal,
  counters,
  failure,
  latestMail,
  localLayer,
  provideServices,
  type ScriptedRequest,
  scriptedClientLayer,
  totp,
  uniqueEmail
} from "./utils/bkend.js"

const withAuth = provideServices(Auth.layer, "pk")
const password = "Passw0rd!"

/** Signs up a fresh user on the current client; returns its e-mail. */
const signUpFresh = (prefix = "auth") =>
  Effect.gen(function* () {
    const auth = yield* Auth.Auth
    const email = uniqueEmail(prefix)
    yield* auth.signUp({ email, password, name: "Auth Test" })
    return email
  })

/** A clock stopped at `millis` (its sleeps never end). */
const frozenClock = (millis: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => millis,
  currentTimeMillis: Effect.succeed(millis),
  unsafeCurrentTimeNanos: () => BigInt(millis) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(millis) * 1_000_000n),
  sleep: () => Effect.never
})

/** Collects the tags of the next `n` session changes; subscribed before it returns. */
const collectChanges = (n: number) =>
  Effect.gen(function* () {
    const auth = yield* Auth.Auth
    const fiber = yield* Stream.take(Session.changes(auth), n).pipe(
      Stream.map((change) => change._tag),
      Stream.runCollect,
      Effect.fork
    )
    // let the fiber subscribe to the hub before anything is published
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
    return fiber
  })

layer(localLayer())("Auth against bkend-local", (it) => {
  describe("password sign-up and sign-in", () => {
    it.effect("signUp stores the session; me returns the user", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        expect(Option.isNone(yield* auth.session)).toBe(true)
        const email = yield* signUpFresh()
        const session = yield* auth.session
        expect(Option.isSome(session)).toBe(true)
        const me = yield* auth.me
        expect(me.email).toBe(email)
        expect(me.name).toBe("Auth Test")
        expect(typeof me.id).toBe("string")
        // tokens stay redacted
        expect(String(Option.getOrThrow(session).accessToken)).toBe("<redacted>")
      }).pipe(withAuth)
    )

    it.effect("duplicate e-mail → Conflict; weak password → BadRequest", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh()
        const dup = yield* failure(auth.signUp({ email, password, name: "Again" }))
        expect(dup.tag).toBe("Conflict")
        expect(dup.code).toBe("auth/email-already-exists")
        const weak = yield* failure(auth.signUp({ email: uniqueEmail("weak"), password: "abc", name: "Weak" }))
        expect(weak.tag).toBe("BadRequest")
        expect(weak.code).toBe("auth/invalid-password-format")
      }).pipe(withAuth)
    )

    it.effect("wrong password → Unauthorized auth/invalid-credentials, no refresh attempted", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh()
        // a session is stored, so a 401-driven refresh would be possible if sign-in allowed it
        const before = yield* counters
        const wrong = yield* failure(auth.signIn({ email, password: "Wrong-pass1" }))
        expect(wrong.tag).toBe("Unauthorized")
        expect(wrong.code).toBe("auth/invalid-credentials")
        expect(Auth.isInvalidCredentials(wrong.error)).toBe(true)
        expect(Auth.isMfaRequired(wrong.error)).toBe(false)
        const after = yield* counters
        expect(after.refreshCalls).toBe(before.refreshCalls)

        // negative control: the same wrong credentials sent with the bearer token and refresh-on-401 enabled
        // do trigger a refresh, so the assertion above would catch one
        const client = yield* BkendClient.BkendClient
        const control = yield* failure(
          client.request({
            method: "POST",
            route: "/v1/auth/email/signin",
            body: { method: "password", email, password: "Wrong-pass1" },
            auth: "optional",
            refreshOn401: true,
            response: Schema.Unknown
          })
        )
        expect(control.tag).toBe("Unauthorized")
        expect((yield* counters).refreshCalls).toBe(after.refreshCalls + 1)
        // the earlier session is untouched
        expect((yield* auth.me).email).toBe(email)
        // and signing in with the right password works
        yield* auth.signIn({ email, password })
        expect((yield* auth.me).email).toBe(email)
      }).pipe(withAuth)
    )

    it.effect("MFA: enable + confirm with a real TOTP code; sign-in needs mfaCode; disable", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("mfa")
        const setup = yield* auth.enableMfa({ password })
        expect(setup.secret).toMatch(/^[A-Z2-7]+=*$/)
        expect(setup.qrCodeUrl).toMatch(/^otpauth:\/\/totp\//)
        const confirmed = yield* auth.confirmMfa({ code: yield* totp(setup.secret) })
        expect(confirmed.backupCodes.length).toBeGreaterThan(0)

        yield* auth.signOut
        const required = yield* failure(auth.signIn({ email, password }))
        expect(required.tag).toBe("Forbidden")
        expect(required.code).toBe("auth/mfa-required")
        expect(Auth.isMfaRequired(required.error)).toBe(true)
        expect(Option.isNone(yield* auth.session)).toBe(true)

        const badCode = yield* failure(auth.signIn({ email, password, mfaCode: "000000" }))
        // (a 1-in-a-million chance that 000000 is the current code; the server would then accept it)
        expect(badCode.code).toBe("auth/invalid-mfa-code")

        yield* auth.signIn({ email, password, mfaCode: yield* totp(setup.secret) })
        expect((yield* auth.me).email).toBe(email)

        yield* auth.disableMfa({ password, code: yield* totp(setup.secret) })
        yield* auth.signOut
        yield* auth.signIn({ email, password })
        expect((yield* auth.me).email).toBe(email)
      }).pipe(withAuth)
    )
  })

  describe("session lifecycle", () => {
    it.effect("sign-in → expiry → one transparent refresh → sign-out → Unauthorized without refresh", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const client = yield* BkendClient.BkendClient
        const email = yield* signUpFresh("life")
        yield* auth.signOut

        const changes = yield* collectChanges(3)
        yield* auth.signIn({ email, password })
        expect((yield* auth.me).email).toBe(email)

        const before = yield* counters
        yield* TestClock.adjust("3601 seconds")
        // five concurrent calls on an expired access token share one refresh
        const results = yield* Effect.all(
          Array.from({ length: 5 }, () => auth.me),
          { concurrency: "unbounded" }
        )
        expect(results.map((u) => u.email)).toEqual(Array(5).fill(email))
        const afterRefresh = yield* counters
        expect(afterRefresh.refreshCalls - before.refreshCalls).toBe(1)
        expect(afterRefresh.refreshSucceeded - before.refreshSucceeded).toBe(1)

        const last = Option.getOrThrow(yield* auth.session)
        yield* auth.signOut
        expect(Option.isNone(yield* auth.session)).toBe(true)

        const requestsBefore = (yield* counters).requests
        const after = yield* failure(auth.me)
        expect(after.tag).toBe("Unauthorized")
        const final = yield* counters
        expect(final.refreshCalls).toBe(afterRefresh.refreshCalls)
        // rejected locally: nothing was sent
        expect(final.requests).toBe(requestsBefore)

        // the server ended the session too: its refresh token no longer works
        const replay = yield* failure(
          client.request({
            method: "POST",
            route: "/v1/auth/refresh",
            body: { refreshToken: Redacted.value(last.refreshToken) },
            auth: "none",
            response: Schema.Unknown
          })
        )
        expect(replay.tag).toBe("Unauthorized")

        const tags = Chunk.toReadonlyArray(yield* Fiber.join(changes))
        expect(tags).toEqual(["SignedIn", "Refreshed", "SignedOut"])
      }).pipe(withAuth)
    )

    it.effect("a token the server already considers expired: 401 → one refresh → the call is retried", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const { server } = yield* BkendLocal
        const email = yield* signUpFresh("reactive")
        const signedInAt = yield* Clock.currentTimeMillis
        yield* TestClock.adjust("3601 seconds")
        // the client still believes the token is fresh (its clock is frozen at sign-in), the server does not
        const logStart = (yield* server.requestLog).length
        const before = yield* counters
        const me = yield* auth.me.pipe(Effect.withClock(frozenClock(signedInAt)))
        expect(me.email).toBe(email)
        const after = yield* counters
        expect(after.refreshCalls - before.refreshCalls).toBe(1)
        const log = (yield* server.requestLog).slice(logStart).map((e) => `${e.method} ${e.path} ${e.status}`)
        expect(log).toEqual(["GET /v1/auth/me 401", "POST /v1/auth/refresh 200", "GET /v1/auth/me 200"])
      }).pipe(withAuth)
    )

    it.effect("refresh rotates the tokens; session list, terminate own session, sign-out still clears", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        yield* signUpFresh("sessions")
        const first = Option.getOrThrow(yield* auth.session)
        const refreshed = yield* auth.refresh
        expect(Redacted.value(refreshed.refreshToken)).not.toBe(Redacted.value(first.refreshToken))

        const page = yield* auth.listSessions({ page: 1, limit: 10 })
        expect(page.items.length).toBe(1)
        expect(page.total).toBe(1)
        expect(page.hasNext).toBe(false)
        const mine = page.items[0]
        expect(mine?.deviceInfo).toBeTypeOf("string")
        expect(mine?.lastActivityAt).toBeTypeOf("string")

        yield* auth.terminateSession({ sessionId: mine?.id ?? "" })
        // the server signed this session out: sign-out fails on the wire, yet the local session is cleared
        const out = yield* failure(auth.signOut)
        expect(out.tag).toBe("Unauthorized")
        expect(Option.isNone(yield* auth.session)).toBe(true)

        const missing = yield* failure(auth.terminateSession({ sessionId: ".." }))
        expect(missing.tag).toBe("InvalidInput")
      }).pipe(withAuth)
    )

    it.effect("switchOrganization stores the new pair; withdraw deletes the account and clears the session", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("org")
        const before = Option.getOrThrow(yield* auth.session)
        const switched = yield* auth.switchOrganization({ organizationId: "org-42" })
        // a new pair (the access token may be byte-identical: same claims within the same second)
        expect(Redacted.value(switched.refreshToken)).not.toBe(Redacted.value(before.refreshToken))
        expect(Redacted.value(Option.getOrThrow(yield* auth.session).refreshToken)).toBe(
          Redacted.value(switched.refreshToken)
        )
        expect((yield* auth.me).email).toBe(email)

        yield* auth.withdraw
        expect(Option.isNone(yield* auth.session)).toBe(true)
        const again = yield* failure(auth.signIn({ email, password }))
        expect(again.tag).toBe("Unauthorized")
      }).pipe(withAuth)
    )
  })

  describe("mail flows through the outbox", () => {
    it.effect("password reset: request → mailed token → confirm → sign in with the new password", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("reset")
        yield* auth.signOut
        yield* auth.requestPasswordReset({ email })
        // unknown addresses get the same answer
        yield* auth.requestPasswordReset({ email: uniqueEmail("nobody") })
        const mail = yield* latestMail(email, "password-reset")
        yield* auth.confirmPasswordReset({ email, token: mail.token, newPassword: "N3w-Passw0rd!" })
        const old = yield* failure(auth.signIn({ email, password }))
        expect(old.code).toBe("auth/invalid-credentials")
        yield* auth.signIn({ email, password: "N3w-Passw0rd!" })
        expect((yield* auth.me).email).toBe(email)
        // a used token is gone
        const reused = yield* failure(
          auth.confirmPasswordReset({ email, token: mail.token, newPassword: "An0ther-Pass!" })
        )
        expect(reused.tag).toBe("NotFound")
      }).pipe(withAuth)
    )

    it.effect("an expired reset token → Unauthorized auth/verification-token-expired (TestClock)", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("expired")
        yield* auth.requestPasswordReset({ email })
        const mail = yield* latestMail(email, "password-reset")
        yield* TestClock.adjust("25 hours")
        const expired = yield* failure(
          auth.confirmPasswordReset({ email, token: mail.token, newPassword: "N3w-Pass!" })
        )
        expect(expired.tag).toBe("Unauthorized")
        expect(expired.code).toBe("auth/verification-token-expired")
      }).pipe(withAuth)
    )

    it.effect("changePassword ends the session; the new password signs in", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("change")
        const wrong = yield* failure(auth.changePassword({ currentPassword: "nope-nope", newPassword: "Other-1!" }))
        expect(wrong.tag).toBe("Unauthorized")
        expect(Option.isSome(yield* auth.session)).toBe(true)
        yield* auth.changePassword({ currentPassword: password, newPassword: "Chang3d-Pass!" })
        expect(Option.isNone(yield* auth.session)).toBe(true)
        yield* auth.signIn({ email, password: "Chang3d-Pass!" })
        expect((yield* auth.me).email).toBe(email)
      }).pipe(withAuth)
    )

    it.effect("sign-up e-mail confirmation (GET, JSON form) and contact e-mail verification", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("verify")
        expect((yield* auth.me).emailVerified ?? null).toBe(null)
        const resent = yield* auth.resendSignUpConfirmation({ email })
        expect(resent.email).toBe(email)
        const mail = yield* latestMail(email, "signup-verification")
        const confirmed = yield* auth.confirmSignUpEmail({ email, token: mail.token })
        expect(confirmed).toMatchObject({ verified: true, email })
        expect((yield* auth.me).emailVerified).toBeTypeOf("string")
        const twice = yield* failure(auth.confirmSignUpEmail({ email, token: mail.token }))
        expect(twice.code).toBe("auth/already-verified")

        // the contact-e-mail family, on another unverified account
        const other = yield* signUpFresh("contact")
        const sent = yield* auth.sendEmailVerification({ email: other })
        expect(sent.email).toBe(other)
        yield* auth.resendEmailVerification({ email: other })
        const verifyMail = yield* latestMail(other, "email-verification")
        const verified = yield* auth.confirmEmailVerification({ email: other, token: verifyMail.token })
        expect(verified.verified).toBe(true)
        expect((yield* auth.me).emailVerified).toBeTypeOf("string")
      }).pipe(withAuth)
    )

    it.effect("a confirm mail requested with a callbackUrl redirects: UnexpectedStatus 302, not followed", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("redirect")
        yield* auth.resendSignUpConfirmation({ email, callbackUrl: "https://app.example/verified" })
        const mail = yield* latestMail(email, "signup-verification")
        const redirected = yield* failure(auth.confirmSignUpEmail({ email, token: mail.token }))
        expect(redirected.tag).toBe("UnexpectedStatus")
        expect(redirected.error.status).toBe(302)
        // the server did verify the address before redirecting
        expect((yield* auth.me).emailVerified).toBeTypeOf("string")
      }).pipe(withAuth)
    )

    it.effect("magic link: sign-in and sign-up requests, token exchange stores the session", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = uniqueEmail("magic")
        const sent = yield* auth.signInWithMagicLink({ email, callbackUrl: "https://app.example/magic" })
        expect(sent.email).toBe(email)
        const mail = yield* latestMail(email, "magic-link")
        expect(mail.link).toContain("https://app.example/magic?token=")
        const result = yield* auth.exchangeMagicLink({ token: mail.token })
        expect(result.isNewUser).toBe(true)
        expect((yield* auth.me).email).toBe(email)
        const reused = yield* failure(auth.exchangeMagicLink({ token: mail.token }))
        expect(reused.tag).toBe("Unauthorized")

        // an existing account: signUpWithMagicLink sends a sign-in link, the exchange reports an old user
        yield* auth.signUpWithMagicLink({ email, callbackUrl: "https://app.example/magic" })
        const again = yield* latestMail(email, "magic-link")
        expect(again.token).not.toBe(mail.token)
        const second = yield* auth.exchangeMagicLink({ token: again.token })
        expect(second.isNewUser).toBe(false)
      }).pipe(withAuth)
    )

    it.effect("invitations: create → mail → accept; reject; list, get, revoke", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        yield* signUpFresh("inviter")
        const invitee = uniqueEmail("invitee")
        const created = yield* auth.createInvitation({
          resourceType: "organization",
          resourceId: "org-1",
          resourceName: "Org One",
          email: invitee,
          name: "Invitee",
          resourceRole: "member"
        })
        expect(created.status).toBe("pending")
        const got = yield* auth.getInvitation({ invitationId: created.id })
        expect(got.email).toBe(invitee)
        const mail = yield* latestMail(invitee, "invitation")
        const accepted = yield* auth.acceptInvitation({ token: mail.token, email: invitee })
        expect(accepted.status).toBe("accepted")
        const twice = yield* failure(auth.acceptInvitation({ token: mail.token }))
        expect(twice.code).toBe("auth/invitation-already-accepted")

        const second = yield* auth.createInvitation({
          resourceType: "project",
          resourceId: "p-1",
          email: invitee,
          resourceRole: "viewer"
        })
        const secondMail = yield* latestMail(invitee, "invitation")
        yield* auth.rejectInvitation({ token: secondMail.token, email: invitee })
        expect((yield* auth.getInvitation({ invitationId: second.id })).status).toBe("rejected")

        const third = yield* auth.createInvitation({
          resourceType: "organization",
          resourceId: "org-1",
          email: uniqueEmail("third"),
          resourceRole: "member"
        })
        const pending = yield* auth.listInvitations({ resourceId: "org-1", status: "pending" })
        expect(pending.items.map((i) => i.id)).toEqual([third.id])
        const all = yield* auth.listInvitations({ limit: 2 })
        expect(all.total).toBe(3)
        expect(all.items.length).toBe(2)
        expect(all.hasNext).toBe(true)
        yield* auth.revokeInvitation({ invitationId: third.id })
        const revoked = yield* failure(auth.revokeInvitation({ invitationId: third.id }))
        expect(revoked.tag).toBe("NotFound")
      }).pipe(withAuth)
    )
  })

  describe("OAuth and linked accounts", () => {
    it.effect("OAuth callbacks (POST and GET) store the session; provider is validated before sending", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = uniqueEmail("oauth")
        const first = yield* auth.signInWithOAuth({
          provider: "google",
          code: email,
          redirectUri: "https://app.example/cb",
          state: "xyz"
        })
        expect(first.isNewUser).toBe(true)
        expect((yield* auth.me).email).toBe(email)
        const again = yield* auth.signInWithOAuthRedirect({
          provider: "google",
          code: email,
          redirectUri: "https://app.example/cb"
        })
        expect(again.isNewUser).toBe(false)
        expect((yield* auth.me).email).toBe(email)

        const bad = yield* failure(
          auth.signInWithOAuth({ provider: "google", code: "invalid-code", redirectUri: "https://app.example/cb" })
        )
        expect(bad.code).toBe("auth/invalid-oauth-code")

        const requests = (yield* counters).requests
        const unsupported = yield* failure(
          // a caller outside TypeScript's reach (e.g. a provider name from a URL)
          auth.signInWithOAuth({ provider: JSON.parse('"email"'), code: "x", redirectUri: "https://app.example/cb" })
        )
        expect(unsupported.tag).toBe("InvalidInput")
        expect((yield* counters).requests).toBe(requests)
      }).pipe(withAuth)
    )

    it.effect("link, list, check and unlink accounts", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("link")
        yield* auth.linkAccount({ provider: "github", code: `gh-${email}` })
        const accounts = yield* auth.listAccounts()
        expect(accounts.items.map((a) => a.provider).sort()).toEqual(["email", "github"])
        const github = accounts.items.find((a) => a.provider === "github")
        expect(github?.connectedAt).toBeTypeOf("string")

        const exists = yield* auth.checkAccount({
          type: "oauth",
          provider: "github",
          providerAccountId: github?.providerAccountId ?? ""
        })
        expect(exists.exists).toBe(true)
        const credentials = yield* auth.checkAccount({
          type: "credentials",
          provider: "email",
          providerAccountId: email
        })
        expect(credentials.exists).toBe(true)
        const nobody = yield* auth.checkAccount({
          type: "credentials",
          provider: "email",
          providerAccountId: uniqueEmail("none")
        })
        expect(nobody.exists).toBe(false)

        const dup = yield* failure(auth.linkAccount({ provider: "github", code: `gh-${email}` }))
        expect(dup.tag).toBe("Conflict")
        yield* auth.unlinkAccount({ provider: "github" })
        const last = yield* failure(auth.unlinkAccount({ provider: "email" }))
        expect(last.tag).toBe("BadRequest")
        expect(last.code).toBe("auth/last-auth-method")
        expect((yield* auth.listAccounts()).items.map((a) => a.provider)).toEqual(["email"])
      }).pipe(withAuth)
    )
  })

  it.effect("calls that need a session fail Unauthorized locally when signed out", () =>
    Effect.gen(function* () {
      const auth = yield* Auth.Auth
      const { server } = yield* BkendLocal
      const before = (yield* server.counters).requests
      const e = yield* failure(auth.listSessions())
      expect(e.tag).toBe("Unauthorized")
      // signOut with no session is a no-op
      yield* auth.signOut
      expect((yield* server.counters).requests).toBe(before)
    }).pipe(withAuth)
  )
})

// The documented variants the server can emit instead of its defaults (CONTRACT I-01 E-C, I-02 bare, I-03, I-04 204).
layer(localLayer({ envelope: "bare", errors: "nest", deletes: "204", pagination: "union" }))(
  "Auth against bkend-local with bare bodies, E-C errors, 204 deletes",
  (it) => {
    it.effect("sign-up, me, sessions, invitations revoke (204), conflict code mapped from UPPER_SNAKE, sign-out", () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const email = yield* signUpFresh("compat")
        expect((yield* auth.me).email).toBe(email)
        const dup = yield* failure(auth.signUp({ email, password, name: "Again" }))
        expect(dup.tag).toBe("Conflict")
        expect(dup.code).toBe("auth/email-already-exists")
        const wrong = yield* failure(auth.signIn({ email, password: "Wrong-pass1" }))
        expect(wrong.tag).toBe("Unauthorized")
        const sessions = yield* auth.listSessions()
        expect(sessions.items.length).toBe(1)
        const invitation = yield* auth.createInvitation({
          resourceType: "project",
          resourceId: "p",
          email: uniqueEmail("compat-invitee"),
          resourceRole: "member"
        })
        yield* auth.revokeInvitation({ invitationId: invitation.id })
        yield* auth.signOut
        expect(Option.isNone(yield* auth.session)).toBe(true)
      }).pipe(withAuth)
    )
  }
)

describe("Auth schemas accept the other documented shapes", () => {
  it("sessions: Ref bare array with device / ip / lastAccessedAt (I-16)", () => {
    const page = Schema.decodeUnknownSync(Page.schema(Auth.SessionInfo))([
      { id: "s1", device: "Chrome on macOS", ip: "10.0.0.1", lastAccessedAt: "2025-01-01T00:00:00.000Z" }
    ])
    expect(page.items[0]).toMatchObject({
      id: "s1",
      deviceInfo: "Chrome on macOS",
      ipAddress: "10.0.0.1",
      lastActivityAt: "2025-01-01T00:00:00.000Z"
    })
    expect(page).toMatchObject({ total: 1, hasNext: false, hasPrev: false })
  })

  it("linked accounts: Ref bare array with linkedAt (I-17)", () => {
    const page = Schema.decodeUnknownSync(Page.schema(Auth.LinkedAccount))([
      { provider: "google", email: "a@example.com", linkedAt: "2025-01-01T00:00:00.000Z" }
    ])
    expect(page.items[0]).toMatchObject({
      provider: "google",
      email: "a@example.com",
      connectedAt: "2025-01-01T00:00:00.000Z"
    })
  })

  it("e-mail confirm: { verified } and a once-more wrapped { data: { verified } } (I-37)", () => {
    const decode = Schema.decodeUnknownSync(Auth.EmailConfirmed)
    expect(decode({ message: "ok", verified: true })).toMatchObject({ verified: true })
    expect(decode({ data: { verified: true, email: "a@example.com" } })).toMatchObject({
      verified: true,
      email: "a@example.com"
    })
    expect(() => decode({ message: "no flag" })).toThrow()
  })

  it("me: only id and email are required (I-43)", () => {
    expect(Schema.decodeUnknownSync(Auth.User)({ id: "u", email: "a@example.com" })).toEqual({
      id: "u",
      email: "a@example.com"
    })
    expect(() => Schema.decodeUnknownSync(Auth.User)({ id: "u" })).toThrow()
  })
})

describe("Auth over a scripted transport (variants bkend-local does not emit)", () => {
  const tokens = (n: number) => ({ accessToken: `access-${n}`, refreshToken: `refresh-${n}` })

  it.effect("OAuth POST/GET: fields in body/query, bare token pair, camelCase isNewUser (I-07, I-13)", () =>
    Effect.gen(function* () {
      const seen: Array<ScriptedRequest> = []
      const result = yield* Effect.gen(function* () {
        const auth = yield* Auth.Auth
        const post = yield* auth.signInWithOAuth({
          provider: "github",
          code: "c0de",
          redirectUri: "https://app.example/cb",
          state: "s"
        })
        const get = yield* auth.signInWithOAuthRedirect({ provider: "google", idToken: "id-token" })
        return { post, get, session: yield* auth.session }
      }).pipe(
        Effect.provide(
          Auth.layer.pipe(
            Layer.provideMerge(
              scriptedClientLayer((request) => {
                seen.push(request)
                return request.method === "POST"
                  ? { body: { ...tokens(1), isNewUser: true } }
                  : { body: { success: true, data: { ...tokens(2), is_new_user: false } } }
              })
            )
          )
        )
      )
      expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /v1/auth/github/callback",
        "GET /v1/auth/google/callback"
      ])
      expect(seen[0]?.body).toEqual({ code: "c0de", redirectUri: "https://app.example/cb", state: "s" })
      expect(seen[1]?.query.get("idToken")).toBe("id-token")
      expect(seen[1]?.query.has("code")).toBe(false)
      expect(result.post.isNewUser).toBe(true)
      expect(result.get.isNewUser).toBe(false)
      expect(Redacted.value(Option.getOrThrow(result.session).accessToken)).toBe("access-2")
    })
  )

  it.effect("sign-out clears the session even when the server fails (5xx); sessions as a Ref array", () =>
    Effect.gen(function* () {
      const paths: Array<string> = []
      const outcome = yield* Effect.gen(function* () {
        const auth = yield* Auth.Auth
        yield* auth.signIn({ email: "a@example.com", password })
        const sessions = yield* auth.listSessions()
        const failed = yield* failure(auth.signOut)
        return { sessions, failed, session: yield* auth.session }
      }).pipe(
        Effect.provide(
          Auth.layer.pipe(
            Layer.provideMerge(
              scriptedClientLayer((request) => {
                paths.push(`${request.method} ${request.path}`)
                if (request.path === "/v1/auth/email/signin") return { body: tokens(1) }
                if (request.path === "/v1/auth/sessions") return { body: [{ id: "s1", device: "curl", ip: "::1" }] }
                return { status: 503, body: { error: { code: "common/unavailable", message: "down" } } }
              })
            )
          )
        )
      )
      expect(outcome.sessions.items).toEqual([
        expect.objectContaining({ id: "s1", deviceInfo: "curl", ipAddress: "::1" })
      ])
      expect(outcome.failed.tag).toBe("ServerError")
      expect(Option.isNone(outcome.session)).toBe(true)
      expect(paths).toEqual(["POST /v1/auth/email/signin", "GET /v1/auth/sessions", "POST /v1/auth/signout"])
    })
  )

  it.effect("an undocumented status becomes UnexpectedStatus, keeping status and code", () =>
    Effect.gen(function* () {
      const e = yield* failure(Effect.flatMap(Auth.Auth, (auth) => auth.requestPasswordReset({ email: "a@b.c" }))).pipe(
        Effect.provide(
          Auth.layer.pipe(
            Layer.provideMerge(
              scriptedClientLayer(() => ({ status: 404, body: { error: { code: "auth/odd", message: "odd" } } }))
            )
          )
        )
      )
      expect(e.tag).toBe("UnexpectedStatus")
      expect(e.error.status).toBe(404)
      expect(e.code).toBe("auth/odd")
    })
  )
})

describe("documented error sets", () => {
  const plain = {
    BadRequest: BkendError.BadRequest,
    Unauthorized: BkendError.Unauthorized,
    Forbidden: BkendError.Forbidden,
    NotFound: BkendError.NotFound,
    Conflict: BkendError.Conflict,
    Gone: BkendError.Gone,
    RateLimited: BkendError.RateLimited,
    ServerError: BkendError.ServerError,
    UnexpectedStatus: BkendError.UnexpectedStatus,
    DecodeError: BkendError.DecodeError
  }
  const makeError = (tag: BkendError.BkendError["_tag"], status: number, code: string | undefined) => {
    const base = { status, message: "m", method: "GET", route: "/v1/x", ...(code === undefined ? {} : { code }) }
    switch (tag) {
      case "NetworkError":
        return new BkendError.NetworkError({ ...base, reason: "Transport" })
      case "InvalidInput":
        return new BkendError.InvalidInput({ ...base, field: "x" })
      default:
        return new plain[tag](base)
    }
  }
  const kept = new Set(["BadRequest", "Unauthorized", "RateLimited", "NetworkError", "ServerError", "DecodeError"])

  it.prop(
    "an error outside the set becomes UnexpectedStatus with the same status and code; others pass unchanged",
    [
      FastCheck.constantFrom(...BkendError.tags),
      FastCheck.integer({ min: 0, max: 599 }),
      FastCheck.option(FastCheck.constantFrom("auth/x", "user/forbidden", "NOT_FOUND"), { nil: undefined })
    ],
    ([tag, status, code]) => {
      const error = makeError(tag, status, code)
      const out = Effect.runSync(Effect.flip(documented("BadRequest", "Unauthorized")(Effect.fail(error))))
      if (kept.has(tag)) {
        expect(out).toBe(error)
      } else {
        expect(out._tag).toBe("UnexpectedStatus")
        expect(out.status).toBe(status)
        expect(out.code).toBe(code)
        expect(out.route).toBe("/v1/x")
      }
    }
  )
})

describe("Auth types", () => {
  it("signIn's error channel is a precise union", () => {
    type SignInError = Effect.Effect.Error<ReturnType<Auth.Service["signIn"]>>
    expectTypeOf<SignInError>().not.toBeAny()
    expectTypeOf<SignInError>().not.toBeUnknown()
    expectTypeOf<SignInError>().toEqualTypeOf<
      | BkendError.BadRequest
      | BkendError.Unauthorized
      | BkendError.Forbidden
      | BkendError.RateLimited
      | BkendError.NetworkError
      | BkendError.ServerError
      | BkendError.DecodeError
      | BkendError.UnexpectedStatus
    >()
    expectTypeOf<BkendError.Unauthorized>().toExtend<SignInError>()
    expectTypeOf<BkendError.RateLimited>().toExtend<SignInError>()
    expectTypeOf<BkendError.NotFound>().not.toExtend<SignInError>()
    expect(
      Auth.isMfaRequired(new BkendError.Forbidden({ status: 403, message: "x", method: "POST", route: "/" }))
    ).toBe(false)
  })
})
