import { describe, expect, it, layer } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { totp } from "../../src/local/index.js"
import { base32Encode } from "../../src/local/internal/totp.js"
import { arr, errorCode, get, Harness, harnessLayer, request, signUp, str, uniqueEmail } from "./utils.js"

const post = (path: string, body: unknown, token?: string) =>
  request("POST", path, { body, ...(token !== undefined ? { token } : {}) })

const signIn = (email: string, password: string, mfaCode?: string) =>
  post("/v1/auth/email/signin", { method: "password", email, password, ...(mfaCode !== undefined ? { mfaCode } : {}) })

const latestMail = (
  to: string,
  kind: "signup-verification" | "email-verification" | "password-reset" | "magic-link" | "invitation"
) => Effect.flatMap(Harness, (h) => h.server.outbox.latest(to, kind))

const counters = Effect.flatMap(Harness, (h) => h.server.counters)

layer(harnessLayer())("bkend-local auth (socket)", (it) => {
  it.effect("A01/A05 sign-up returns a token pair; /me returns the User shape", () =>
    Effect.gen(function* () {
      const email = uniqueEmail()
      const res = yield* post("/v1/auth/email/signup", { method: "password", email, password: "secret1", name: "Ann" })
      expect(res.status).toBe(201)
      expect(get(res.json, "success")).toBe(true)
      expect(get(res.data, "tokenType")).toBe("Bearer")
      expect(get(res.data, "expiresIn")).toBe(3600)
      expect(get(res.data, "is_new_user")).toBeUndefined()
      const me = yield* request("GET", "/v1/auth/me", { token: str(res.data, "accessToken") })
      expect(me.status).toBe(200)
      expect(me.data).toMatchObject({
        email,
        name: "Ann",
        role: "user",
        emailVerified: null,
        onboardingStatus: "pending"
      })
      expect(typeof get(me.data, "id")).toBe("string")
      expect(typeof get(me.data, "updatedAt")).toBe("string")
      expect(typeof get(me.data, "createdAt")).toBe("string")
    })
  )

  it.effect(
    "A01 sign-up errors: duplicate 409, bad e-mail 400, short password 400, missing name 400, bad JSON 400",
    () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const dup = yield* post("/v1/auth/email/signup", {
          method: "password",
          email: user.email,
          password: "secret1",
          name: "B"
        })
        expect([dup.status, errorCode(dup)]).toEqual([409, "auth/email-already-exists"])
        const bad = yield* post("/v1/auth/email/signup", {
          method: "password",
          email: "nope",
          password: "secret1",
          name: "B"
        })
        expect([bad.status, errorCode(bad)]).toEqual([400, "auth/invalid-email"])
        const short = yield* post("/v1/auth/email/signup", {
          method: "password",
          email: uniqueEmail(),
          password: "12345",
          name: "B"
        })
        expect([short.status, errorCode(short)]).toEqual([400, "auth/invalid-password-format"])
        const noName = yield* post("/v1/auth/email/signup", {
          method: "password",
          email: uniqueEmail(),
          password: "secret1"
        })
        expect([noName.status, errorCode(noName)]).toEqual([400, "auth/invalid-request"])
        const malformed = yield* request("POST", "/v1/auth/email/signup", {
          rawBody: "{not json",
          headers: { "content-type": "application/json" }
        })
        expect([malformed.status, errorCode(malformed)]).toEqual([400, "auth/invalid-request"])
        expect(malformed.json).toMatchObject({ success: false, error: { code: "auth/invalid-request" } })
      })
  )

  it.effect("A02 sign-in: success, wrong password and unknown e-mail are the same 401", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const ok = yield* signIn(user.email, user.password)
      expect(ok.status).toBe(200)
      expect(typeof get(ok.data, "refreshToken")).toBe("string")
      const wrong = yield* signIn(user.email, "wrong-password")
      expect([wrong.status, errorCode(wrong)]).toEqual([401, "auth/invalid-credentials"])
      const unknown = yield* signIn(uniqueEmail(), "whatever1")
      expect([unknown.status, errorCode(unknown)]).toEqual([401, "auth/invalid-credentials"])
    })
  )

  it.effect("key and bearer checks: missing key 401, unknown key 401, no bearer 401, bad bearer 401", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const noKey = yield* request("GET", "/v1/auth/me", { key: "none", token: user.accessToken })
      expect([noKey.status, errorCode(noKey)]).toEqual([401, "auth/unauthorized"])
      const badKey = yield* request("GET", "/v1/auth/me", { key: `pk_${"0".repeat(64)}`, token: user.accessToken })
      expect([badKey.status, errorCode(badKey)]).toEqual([401, "auth/unauthorized"])
      const noBearer = yield* request("GET", "/v1/auth/me")
      expect([noBearer.status, errorCode(noBearer)]).toEqual([401, "auth/unauthorized"])
      const garbage = yield* request("GET", "/v1/auth/me", { token: "abc.def.ghi" })
      expect([garbage.status, errorCode(garbage)]).toEqual([401, "auth/invalid-token"])
      const sk = yield* request("GET", "/v1/auth/me", { key: "sk", token: user.accessToken })
      expect(sk.status).toBe(200)
    })
  )

  it.effect("A06 refresh rotates; replaying the old token revokes every session of the user", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const other = yield* signIn(user.email, user.password) // second device
      const otherAccess = str(other.data, "accessToken")
      const otherRefresh = str(other.data, "refreshToken")
      const before = yield* counters
      const r1 = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect(r1.status).toBe(200)
      expect(r1.data).toMatchObject({ tokenType: "Bearer", expiresIn: 3600 })
      const newRefresh = str(r1.data, "refreshToken")
      const newAccess = str(r1.data, "accessToken")
      expect(newRefresh).not.toBe(user.refreshToken)
      expect((yield* request("GET", "/v1/auth/me", { token: newAccess })).status).toBe(200)
      // replay of the rotated-out token
      const replay = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect([replay.status, errorCode(replay)]).toEqual([401, "auth/invalid-refresh-token"])
      const after = yield* counters
      expect(after.replaysDetected).toBe(before.replaysDetected + 1)
      expect(after.refreshCalls).toBe(before.refreshCalls + 2)
      // every session of the user is gone: access and refresh tokens of both devices fail
      for (const token of [newAccess, otherAccess, user.accessToken]) {
        const me = yield* request("GET", "/v1/auth/me", { token })
        expect(me.status).toBe(401)
      }
      for (const refreshToken of [newRefresh, otherRefresh]) {
        const r = yield* post("/v1/auth/refresh", { refreshToken })
        expect([r.status, errorCode(r)]).toEqual([401, "auth/invalid-refresh-token"])
      }
      const junk = yield* post("/v1/auth/refresh", { refreshToken: "not-a-token" })
      expect([junk.status, errorCode(junk)]).toEqual([401, "auth/invalid-refresh-token"])
    })
  )

  it.effect("access token expiry (TestClock) → 401 auth/token-expired; refresh still works", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      yield* TestClock.adjust("3601 seconds")
      const me = yield* request("GET", "/v1/auth/me", { token: user.accessToken })
      expect([me.status, errorCode(me)]).toEqual([401, "auth/token-expired"])
      const r = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect(r.status).toBe(200)
      expect((yield* request("GET", "/v1/auth/me", { token: str(r.data, "accessToken") })).status).toBe(200)
    })
  )

  it.effect("A07 sign-out: the session's refresh token then fails with 401 auth/invalid-refresh-token", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const out = yield* post("/v1/auth/signout", undefined, user.accessToken)
      expect(out.status).toBe(200)
      expect(typeof get(out.data, "message")).toBe("string")
      const r = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect([r.status, errorCode(r)]).toEqual([401, "auth/invalid-refresh-token"])
      expect((yield* request("GET", "/v1/auth/me", { token: user.accessToken })).status).toBe(401)
    })
  )

  it.effect("A13/A14 sessions: paginated topic-page shape; deleting a session ends it; unknown → 404", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const second = yield* signIn(user.email, user.password)
      const list = yield* request("GET", "/v1/auth/sessions", { token: user.accessToken })
      expect(list.status).toBe(200)
      expect(arr(list.data, "items")).toHaveLength(2)
      expect(get(list.data, "pagination")).toEqual({ page: 1, limit: 10, total: 2 })
      expect(get(list.data, "items.0")).toMatchObject({ userId: user.userId, deviceInfo: expect.any(String) })
      for (const f of ["id", "userAgent", "ipAddress", "lastActivityAt", "createdAt"]) {
        expect(get(list.data, `items.0.${f}`)).toBeDefined()
      }
      const page2 = yield* request("GET", "/v1/auth/sessions", {
        token: user.accessToken,
        query: { page: "2", limit: "1" }
      })
      expect(arr(page2.data, "items")).toHaveLength(1)
      expect(get(page2.data, "pagination")).toEqual({ page: 2, limit: 1, total: 2 })
      const secondToken = str(second.data, "accessToken")
      const ids = arr(list.data, "items").map((_, i) => str(list.data, `items.${i}.id`))
      const meAsSecond = yield* request("GET", "/v1/auth/sessions", { token: secondToken })
      expect(meAsSecond.status).toBe(200)
      // the session of `second` is the newest → items[0] when listed; delete it from the first device
      const secondClaims = JSON.parse(Buffer.from(secondToken.split(".")[1] ?? "", "base64url").toString())
      expect(ids).toContain(secondClaims.sid)
      const del = yield* request("DELETE", `/v1/auth/sessions/${secondClaims.sid}`, { token: user.accessToken })
      expect(del.status).toBe(200)
      expect((yield* request("GET", "/v1/auth/me", { token: secondToken })).status).toBe(401)
      const again = yield* request("DELETE", `/v1/auth/sessions/${secondClaims.sid}`, { token: user.accessToken })
      expect([again.status, errorCode(again)]).toEqual([404, "auth/session-not-found"])
      const bad = yield* request("GET", "/v1/auth/sessions", { token: user.accessToken, query: { limit: "0" } })
      expect(bad.status).toBe(400)
    })
  )

  it.effect("A08 withdraw: soft delete, sessions ended, cannot sign in again", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const res = yield* request("DELETE", "/v1/auth/withdraw", { token: user.accessToken })
      expect(res.status).toBe(200)
      expect((yield* request("GET", "/v1/auth/me", { token: user.accessToken })).status).toBe(401)
      const s = yield* signIn(user.email, user.password)
      expect([s.status, errorCode(s)]).toEqual([401, "auth/invalid-credentials"])
      const noAuth = yield* request("DELETE", "/v1/auth/withdraw")
      expect([noAuth.status, errorCode(noAuth)]).toEqual([401, "auth/unauthorized"])
    })
  )

  it.effect("A09 switch-organization returns a new working pair", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const res = yield* post("/v1/auth/switch-organization", { organizationId: "org_1" }, user.accessToken)
      expect(res.status).toBe(200)
      const access = str(res.data, "accessToken")
      const refreshToken = str(res.data, "refreshToken")
      expect(refreshToken).not.toBe(user.refreshToken)
      expect((yield* request("GET", "/v1/auth/me", { token: access })).status).toBe(200)
      expect((yield* post("/v1/auth/refresh", { refreshToken })).status).toBe(200)
      const missing = yield* post("/v1/auth/switch-organization", {}, user.accessToken)
      expect([missing.status, errorCode(missing)]).toEqual([400, "auth/invalid-request"])
    })
  )

  it.effect("A12 password change: wrong current 401, same 400, success invalidates every session", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const wrong = yield* post(
        "/v1/auth/password/change",
        { currentPassword: "nope-nope", newPassword: "another1" },
        user.accessToken
      )
      expect([wrong.status, errorCode(wrong)]).toEqual([401, "auth/invalid-password"])
      const same = yield* post(
        "/v1/auth/password/change",
        { currentPassword: user.password, newPassword: user.password },
        user.accessToken
      )
      expect([same.status, errorCode(same)]).toEqual([400, "auth/same-as-previous-password"])
      const ok = yield* post(
        "/v1/auth/password/change",
        { currentPassword: user.password, newPassword: "brand-new-1" },
        user.accessToken
      )
      expect(ok.status).toBe(200)
      expect((yield* request("GET", "/v1/auth/me", { token: user.accessToken })).status).toBe(401)
      expect((yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })).status).toBe(401)
      expect((yield* signIn(user.email, user.password)).status).toBe(401)
      expect((yield* signIn(user.email, "brand-new-1")).status).toBe(200)
    })
  )

  it.effect("A10/A11 password reset via the outbox; unknown e-mail still 200; token errors 404/401", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const unknownEmail = uniqueEmail()
      const unknown = yield* post("/v1/auth/password/reset/request", { email: unknownEmail })
      expect(unknown.status).toBe(200)
      expect(yield* latestMail(unknownEmail, "password-reset")).toBeUndefined()
      const req = yield* post("/v1/auth/password/reset/request", { email: user.email })
      expect(req.status).toBe(200)
      const m = yield* latestMail(user.email, "password-reset")
      expect(m?.token).toBeDefined()
      const token = m?.token ?? ""
      const bogus = yield* post("/v1/auth/password/reset/confirm", {
        email: user.email,
        token: "nope",
        newPassword: "reset-pw-1"
      })
      expect([bogus.status, errorCode(bogus)]).toEqual([404, "auth/verification-token-not-found"])
      const short = yield* post("/v1/auth/password/reset/confirm", { email: user.email, token, newPassword: "123" })
      expect([short.status, errorCode(short)]).toEqual([400, "auth/invalid-password-format"])
      const ok = yield* post("/v1/auth/password/reset/confirm", { email: user.email, token, newPassword: "reset-pw-1" })
      expect(ok.status).toBe(200)
      expect((yield* signIn(user.email, "reset-pw-1")).status).toBe(200)
      const reuse = yield* post("/v1/auth/password/reset/confirm", {
        email: user.email,
        token,
        newPassword: "reset-pw-2"
      })
      expect([reuse.status, errorCode(reuse)]).toEqual([404, "auth/verification-token-not-found"])
      // expiry after 24 h
      yield* post("/v1/auth/password/reset/request", { email: user.email })
      const m2 = yield* latestMail(user.email, "password-reset")
      yield* TestClock.adjust("24 hours")
      const expired = yield* post("/v1/auth/password/reset/confirm", {
        email: user.email,
        token: m2?.token ?? "",
        newPassword: "reset-pw-3"
      })
      expect([expired.status, errorCode(expired)]).toEqual([401, "auth/verification-token-expired"])
      const badEmail = yield* post("/v1/auth/password/reset/request", { email: "not-an-email" })
      expect([badEmail.status, errorCode(badEmail)]).toEqual([400, "auth/invalid-email"])
    })
  )

  it.effect("A31/A32 sign-up confirmation: 302 with callbackUrl, wrapped 200 without, then already-verified", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const first = yield* latestMail(user.email, "signup-verification")
      expect(first?.link).toContain("/v1/auth/signup/email/confirm?token=")
      const resend = yield* post("/v1/auth/signup/email/resend", {
        email: user.email,
        callbackUrl: "http://app.test/verified"
      })
      expect(resend.status).toBe(200)
      expect(resend.data).toEqual({ message: expect.any(String), email: user.email })
      const m = yield* latestMail(user.email, "signup-verification")
      const bad = yield* request("GET", "/v1/auth/signup/email/confirm", { query: { token: "zzz", email: user.email } })
      expect([bad.status, errorCode(bad)]).toEqual([401, "auth/invalid-token"])
      const redirect = yield* request("GET", "/v1/auth/signup/email/confirm", {
        query: { token: m?.token ?? "", email: user.email, callbackUrl: "http://app.test/verified" }
      })
      expect(redirect.status).toBe(302)
      expect(redirect.headers.get("location")).toBe(
        `http://app.test/verified?verified=true&email=${encodeURIComponent(user.email)}`
      )
      const me = yield* request("GET", "/v1/auth/me", { token: user.accessToken })
      expect(typeof get(me.data, "emailVerified")).toBe("string")
      const again = yield* request("GET", "/v1/auth/signup/email/confirm", {
        query: { token: m?.token ?? "", email: user.email }
      })
      expect([again.status, errorCode(again)]).toEqual([400, "auth/already-verified"])

      const other = yield* signUp()
      const m2 = yield* latestMail(other.email, "signup-verification")
      const json = yield* request("GET", "/v1/auth/signup/email/confirm", {
        key: "none",
        query: { token: m2?.token ?? "", email: other.email }
      })
      expect(json.status).toBe(200)
      expect(json.json).toEqual({ success: true, data: { verified: true, email: other.email } })
    })
  )

  it.effect("A28/A29/A30 contact e-mail verification send/confirm/resend", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const send = yield* post("/v1/auth/email/verify/send", { email: user.email, callbackUrl: "http://app.test/v" })
      expect(send.status).toBe(200)
      expect(get(send.data, "email")).toBe(user.email)
      const resend = yield* post("/v1/auth/email/verify/resend", { email: user.email })
      expect(resend.status).toBe(200)
      const m = yield* latestMail(user.email, "email-verification")
      const wrong = yield* post("/v1/auth/email/verify/confirm", { email: user.email, token: "nope" })
      expect([wrong.status, errorCode(wrong)]).toEqual([401, "auth/invalid-token"])
      const ok = yield* post("/v1/auth/email/verify/confirm", { email: user.email, token: m?.token ?? "" })
      expect(ok.status).toBe(200)
      expect(ok.data).toEqual({ message: expect.any(String), verified: true })
      const again = yield* post("/v1/auth/email/verify/send", { email: user.email })
      expect([again.status, errorCode(again)]).toEqual([400, "auth/already-verified"])
      const bad = yield* post("/v1/auth/email/verify/send", { email: "x" })
      expect([bad.status, errorCode(bad)]).toEqual([400, "auth/invalid-email"])
    })
  )

  it.effect("A01b/A02b/A33 magic link: mailed link, exchange with is_new_user, reuse 401, expiry 401", () =>
    Effect.gen(function* () {
      const email = uniqueEmail("magic")
      const cb = "http://app.test/magic"
      const noCb = yield* post("/v1/auth/email/signup", { method: "magiclink", email })
      expect([noCb.status, errorCode(noCb)]).toEqual([400, "auth/invalid-request"])
      const res = yield* post("/v1/auth/email/signup", { method: "magiclink", email, callbackUrl: cb })
      expect(res.status).toBe(201)
      expect(res.data).toEqual({ message: expect.any(String), email })
      const m = yield* latestMail(email, "magic-link")
      expect(m?.link).toBe(`${cb}?token=${m?.token}`)
      const ex = yield* post("/v1/auth/email/callback", { token: m?.token })
      expect(ex.status).toBe(200)
      expect(get(ex.data, "is_new_user")).toBe(true)
      expect((yield* request("GET", "/v1/auth/me", { token: str(ex.data, "accessToken") })).status).toBe(200)
      const reuse = yield* post("/v1/auth/email/callback", { token: m?.token })
      expect([reuse.status, errorCode(reuse)]).toEqual([401, "auth/invalid-token"])
      const signin = yield* post("/v1/auth/email/signin", { method: "magiclink", email, callbackUrl: cb })
      expect(signin.status).toBe(200)
      const m2 = yield* latestMail(email, "magic-link")
      const ex2 = yield* post("/v1/auth/email/callback", { token: m2?.token })
      expect(get(ex2.data, "is_new_user")).toBe(false)
      yield* post("/v1/auth/email/signin", { method: "magiclink", email, callbackUrl: cb })
      const m3 = yield* latestMail(email, "magic-link")
      yield* TestClock.adjust("16 minutes")
      const expired = yield* post("/v1/auth/email/callback", { token: m3?.token })
      expect([expired.status, errorCode(expired)]).toEqual([401, "auth/token-expired"])
    })
  )

  it.effect("A03/A04 OAuth stub: deterministic identity from the code; documented errors", () =>
    Effect.gen(function* () {
      const code = `code-${uniqueEmail()}`
      const first = yield* post("/v1/auth/google/callback", { code, redirectUri: "http://app.test/cb", state: "s" })
      expect(first.status).toBe(200)
      expect(get(first.data, "is_new_user")).toBe(true)
      const second = yield* request("GET", "/v1/auth/google/callback", {
        query: { code, redirectUri: "http://app.test/cb" }
      })
      expect(second.status).toBe(200)
      expect(get(second.data, "is_new_user")).toBe(false)
      const me1 = yield* request("GET", "/v1/auth/me", { token: str(first.data, "accessToken") })
      const me2 = yield* request("GET", "/v1/auth/me", { token: str(second.data, "accessToken") })
      expect(get(me1.data, "id")).toBe(get(me2.data, "id"))
      const emailCode = uniqueEmail("gh")
      const gh = yield* post("/v1/auth/github/callback", { idToken: emailCode })
      expect(gh.status).toBe(200)
      const me3 = yield* request("GET", "/v1/auth/me", { token: str(gh.data, "accessToken") })
      expect(get(me3.data, "email")).toBe(emailCode)
      const noRedirect = yield* post("/v1/auth/google/callback", { code })
      expect([noRedirect.status, errorCode(noRedirect)]).toEqual([400, "auth/invalid-request"])
      const unsupported = yield* post("/v1/auth/facebook/callback", { code, redirectUri: "x" })
      expect([unsupported.status, errorCode(unsupported)]).toEqual([400, "auth/unsupported-provider"])
      const invalid = yield* post("/v1/auth/google/callback", { code: "invalid-code", redirectUri: "x" })
      expect([invalid.status, errorCode(invalid)]).toEqual([401, "auth/invalid-oauth-code"])
    })
  )

  it.effect("A15/A16/A17 MFA with real TOTP codes (TestClock)", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const early = yield* post("/v1/auth/mfa/confirm", { code: "123456" }, user.accessToken)
      expect([early.status, errorCode(early)]).toEqual([400, "auth/mfa-setup-expired"])
      const wrongPw = yield* post("/v1/auth/mfa/enable", { password: "nope-nope" }, user.accessToken)
      expect([wrongPw.status, errorCode(wrongPw)]).toEqual([401, "auth/invalid-credentials"])
      const enable = yield* post("/v1/auth/mfa/enable", { password: user.password }, user.accessToken)
      expect(enable.status).toBe(200)
      const secret = str(enable.data, "secret")
      expect(secret).toMatch(/^[A-Z2-7]+$/)
      expect(str(enable.data, "qrCodeUrl")).toMatch(/^otpauth:\/\/totp\//)
      expect(arr(enable.data, "backupCodes").length).toBeGreaterThan(0)
      const now = yield* Clock.currentTimeMillis
      const code = totp(secret, now)
      const wrong = yield* post(
        "/v1/auth/mfa/confirm",
        { code: code === "000000" ? "111111" : "000000" },
        user.accessToken
      )
      expect([wrong.status, errorCode(wrong)]).toEqual([401, "auth/invalid-mfa-code"])
      const confirm = yield* post("/v1/auth/mfa/confirm", { code }, user.accessToken)
      expect(confirm.status).toBe(200)
      expect(arr(confirm.data, "backupCodes").length).toBeGreaterThan(0)
      const again = yield* post("/v1/auth/mfa/enable", { password: user.password }, user.accessToken)
      expect([again.status, errorCode(again)]).toEqual([409, "auth/mfa-already-enabled"])

      const required = yield* signIn(user.email, user.password)
      expect([required.status, errorCode(required)]).toEqual([403, "auth/mfa-required"])
      yield* TestClock.adjust("90 seconds")
      const later = yield* Clock.currentTimeMillis
      const current = totp(secret, later)
      const bad = yield* signIn(user.email, user.password, current === "123456" ? "654321" : "123456")
      expect([bad.status, errorCode(bad)]).toEqual([401, "auth/invalid-mfa-code"])
      // the code from 90 s ago is outside the ±1 step window
      if (code !== current) {
        const stale = yield* signIn(user.email, user.password, code)
        expect(stale.status).toBe(401)
      }
      const good = yield* signIn(user.email, user.password, current)
      expect(good.status).toBe(200)
      // a backup code works exactly once
      const backup = str(confirm.data, "backupCodes.0")
      expect((yield* signIn(user.email, user.password, backup)).status).toBe(200)
      const reused = yield* signIn(user.email, user.password, backup)
      expect([reused.status, errorCode(reused)]).toEqual([401, "auth/invalid-mfa-code"])
      const token = str(good.data, "accessToken")

      const disableWrong = yield* post(
        "/v1/auth/mfa/disable",
        { password: user.password, code: "000000" === current ? "111111" : "000000" },
        token
      )
      expect([disableWrong.status, errorCode(disableWrong)]).toEqual([401, "auth/invalid-mfa-code"])
      const disable = yield* post("/v1/auth/mfa/disable", { password: user.password, code: current }, token)
      expect(disable.status).toBe(200)
      expect(disable.data).toEqual({})
      const notEnabled = yield* post("/v1/auth/mfa/disable", { password: user.password }, token)
      expect([notEnabled.status, errorCode(notEnabled)]).toEqual([400, "auth/mfa-not-enabled"])
      expect((yield* signIn(user.email, user.password)).status).toBe(200)
    })
  )

  it.effect("A18–A21 account linking: link, list, duplicate 409, check, unlink, last method 400", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const list0 = yield* request("GET", "/v1/auth/accounts", { token: user.accessToken })
      expect(list0.status).toBe(200)
      expect(get(list0.data, "items.0")).toMatchObject({
        provider: "email",
        providerAccountId: user.email,
        userId: user.userId
      })
      const code = `link-${uniqueEmail()}`
      const link = yield* post("/v1/auth/accounts", { provider: "google", code }, user.accessToken)
      expect(link.status).toBe(201)
      expect(link.data).toEqual({})
      const list = yield* request("GET", "/v1/auth/accounts", { token: user.accessToken })
      expect(arr(list.data, "items").map((_, i) => get(list.data, `items.${i}.provider`))).toEqual(["email", "google"])
      expect(get(list.data, "pagination")).toEqual({ page: 1, limit: 10, total: 2 })
      const dup = yield* post("/v1/auth/accounts", { provider: "google", code }, user.accessToken)
      expect([dup.status, errorCode(dup)]).toEqual([409, "auth/account-already-linked"])
      const unsupported = yield* post("/v1/auth/accounts", { provider: "myspace", code }, user.accessToken)
      expect([unsupported.status, errorCode(unsupported)]).toEqual([400, "auth/unsupported-provider"])
      const check = yield* post("/v1/auth/accounts/check", {
        type: "credentials",
        provider: "email",
        providerAccountId: user.email
      })
      expect(check.data).toEqual({ exists: true, type: "credentials", provider: "email" })
      const googleId = str(list.data, "items.1.providerAccountId")
      const checkOauth = yield* post("/v1/auth/accounts/check", {
        type: "oauth",
        provider: "google",
        providerAccountId: googleId
      })
      expect(get(checkOauth.data, "exists")).toBe(true)
      const checkNo = yield* post("/v1/auth/accounts/check", {
        type: "oauth",
        provider: "github",
        providerAccountId: "zzz"
      })
      expect(checkNo.data).toEqual({ exists: false })
      const unlink = yield* request("DELETE", "/v1/auth/accounts/google", { token: user.accessToken })
      expect(unlink.status).toBe(200)
      const last = yield* request("DELETE", "/v1/auth/accounts/email", { token: user.accessToken })
      expect([last.status, errorCode(last)]).toEqual([400, "auth/last-auth-method"])
      const none = yield* request("DELETE", "/v1/auth/accounts/github", { token: user.accessToken })
      expect(none.status).toBe(404)
    })
  )

  it.effect("A22–A27 invitations: create (mailed token), list, get, accept, reject, revoke, expiry 410", () =>
    Effect.gen(function* () {
      const inviter = yield* signUp()
      const invitee = uniqueEmail("invitee")
      const body = { resourceType: "organization", resourceId: "org_1", email: invitee, resourceRole: "member" }
      const created = yield* post("/v1/auth/invitations", body, inviter.accessToken)
      expect(created.status).toBe(201)
      expect(created.data).toMatchObject({ ...body, status: "pending", invitedBy: inviter.userId })
      const now = yield* Clock.currentTimeMillis
      expect(Date.parse(str(created.data, "expiresAt")) - now).toBe(7 * 24 * 3600 * 1000)
      const id = str(created.data, "id")
      const m = yield* latestMail(invitee, "invitation")
      expect(m?.token).toBeDefined()
      const list = yield* request("GET", "/v1/auth/invitations", {
        token: inviter.accessToken,
        query: { status: "pending" }
      })
      expect(arr(list.data, "items").some((_, i) => get(list.data, `items.${i}.id`) === id)).toBe(true)
      expect(get(list.data, "pagination.page")).toBe(1)
      const one = yield* request("GET", `/v1/auth/invitations/${id}`, { token: inviter.accessToken })
      expect(get(one.data, "id")).toBe(id)
      const missing = yield* request("GET", "/v1/auth/invitations/nope", { token: inviter.accessToken })
      expect([missing.status, errorCode(missing)]).toEqual([404, "auth/invitation-not-found"])
      const accept = yield* post("/v1/auth/invitations/accept", { token: m?.token, email: invitee })
      expect(accept.status).toBe(200)
      expect(accept.data).toMatchObject({ id, status: "accepted", resourceType: "organization", resourceId: "org_1" })
      const twice = yield* post("/v1/auth/invitations/accept", { token: m?.token })
      expect([twice.status, errorCode(twice)]).toEqual([400, "auth/invitation-already-accepted"])
      const unknown = yield* post("/v1/auth/invitations/accept", { token: "nope" })
      expect([unknown.status, errorCode(unknown)]).toEqual([404, "auth/invitation-not-found"])

      const second = yield* post("/v1/auth/invitations", { ...body, email: uniqueEmail("r") }, inviter.accessToken)
      const secondMail = yield* latestMail(str(second.data, "email"), "invitation")
      const reject = yield* post("/v1/auth/invitations/reject", {
        token: secondMail?.token,
        email: str(second.data, "email")
      })
      expect(reject.status).toBe(200)
      expect(reject.data).toEqual({})

      const third = yield* post("/v1/auth/invitations", { ...body, email: uniqueEmail("v") }, inviter.accessToken)
      const outsider = yield* signUp()
      const notMine = yield* request("DELETE", `/v1/auth/invitations/${str(third.data, "id")}`, {
        token: outsider.accessToken
      })
      expect(notMine.status).toBe(404)
      const revoke = yield* request("DELETE", `/v1/auth/invitations/${str(third.data, "id")}`, {
        token: inviter.accessToken
      })
      expect(revoke.status).toBe(200)
      const gone = yield* request("GET", `/v1/auth/invitations/${str(third.data, "id")}`, {
        token: inviter.accessToken
      })
      expect(get(gone.data, "status")).toBe("revoked")

      const badType = yield* post("/v1/auth/invitations", { ...body, resourceType: "galaxy" }, inviter.accessToken)
      expect(badType.status).toBe(400)
      const fourth = yield* post("/v1/auth/invitations", { ...body, email: uniqueEmail("x") }, inviter.accessToken)
      const fourthMail = yield* latestMail(str(fourth.data, "email"), "invitation")
      yield* TestClock.adjust("7 days")
      const expired = yield* post("/v1/auth/invitations/accept", { token: fourthMail?.token })
      expect([expired.status, errorCode(expired)]).toEqual([410, "auth/invitation-expired"])
    })
  )
})

layer(harnessLayer({ magicLinkEnabled: false, requireEmailVerification: true }))("auth switches (socket)", (it) => {
  it.effect("magicLinkEnabled=false → 400 auth/magiclink-disabled", () =>
    Effect.gen(function* () {
      const res = yield* post("/v1/auth/email/signin", {
        method: "magiclink",
        email: uniqueEmail(),
        callbackUrl: "http://app.test/cb"
      })
      expect([res.status, errorCode(res)]).toEqual([400, "auth/magiclink-disabled"])
    })
  )

  it.effect("requireEmailVerification: 403 auth/email-not-verified until the sign-up link is confirmed", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const blocked = yield* signIn(user.email, user.password)
      expect([blocked.status, errorCode(blocked)]).toEqual([403, "auth/email-not-verified"])
      const m = yield* latestMail(user.email, "signup-verification")
      const confirm = yield* request("GET", "/v1/auth/signup/email/confirm", {
        query: { token: m?.token ?? "", email: user.email }
      })
      expect(confirm.status).toBe(200)
      expect((yield* signIn(user.email, user.password)).status).toBe(200)
    })
  )

  it.effect("contact verification token expires after 24 h → 401 auth/token-expired", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      yield* post("/v1/auth/email/verify/send", { email: user.email })
      const m = yield* latestMail(user.email, "email-verification")
      yield* TestClock.adjust("24 hours")
      const res = yield* post("/v1/auth/email/verify/confirm", { email: user.email, token: m?.token ?? "" })
      expect([res.status, errorCode(res)]).toEqual([401, "auth/token-expired"])
      const badCheck = yield* post("/v1/auth/accounts/check", { type: "magic", provider: "x", providerAccountId: "y" })
      expect([badCheck.status, errorCode(badCheck)]).toEqual([400, "auth/invalid-request"])
      const rejectUnknown = yield* post("/v1/auth/invitations/reject", { token: "nope" })
      expect([rejectUnknown.status, errorCode(rejectUnknown)]).toEqual([404, "auth/invitation-not-found"])
    })
  )
})

describe("TOTP implementation", () => {
  it("matches the RFC 6238 SHA-1 test vectors (last 6 digits)", () => {
    const secret = base32Encode(new TextEncoder().encode("12345678901234567890"))
    expect(secret).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    expect(totp(secret, 59_000)).toBe("287082")
    expect(totp(secret, 1111111109_000)).toBe("081804")
    expect(totp(secret, 1234567890_000)).toBe("005924")
    expect(totp(secret, 20000000000_000)).toBe("353130")
  })
})

layer(harnessLayer())("token tampering (socket)", (it) => {
  it.effect("a token whose payload was changed (signature kept) is rejected with 401 auth/invalid-token", () =>
    Effect.gen(function* () {
      const alice = yield* signUp()
      const bob = yield* signUp()
      const [h, p, sig] = alice.accessToken.split(".")
      const claims = JSON.parse(Buffer.from(p ?? "", "base64url").toString())
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: bob.userId })).toString("base64url")
      const res = yield* request("GET", "/v1/auth/me", { token: `${h}.${forged}.${sig}` })
      expect([res.status, errorCode(res)]).toEqual([401, "auth/invalid-token"])
      // a refresh token is not an access token
      const asAccess = yield* request("GET", "/v1/auth/me", { token: alice.refreshToken })
      expect([asAccess.status, errorCode(asAccess)]).toEqual([401, "auth/invalid-token"])
    })
  )
})

layer(harnessLayer({ refreshReuseIntervalSeconds: 10 }))("refresh-token reuse interval (socket)", (it) => {
  const refresh = (refreshToken: string) => post("/v1/auth/refresh", { refreshToken })
  const me = (token: string) => request("GET", "/v1/auth/me", { token })

  it.effect("inside the window: the rotated-out token gets a fresh access token and the current refresh token", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const r1 = yield* refresh(user.refreshToken)
      expect(r1.status).toBe(200)
      const current = str(r1.data, "refreshToken")
      const before = yield* counters
      yield* TestClock.adjust("9 seconds")
      const again = yield* refresh(user.refreshToken)
      expect(again.status).toBe(200)
      expect(again.data).toMatchObject({ refreshToken: current, tokenType: "Bearer", expiresIn: 3600 })
      const after = yield* counters
      expect(after.refreshReuses).toBe(before.refreshReuses + 1)
      expect(after.replaysDetected).toBe(before.replaysDetected)
      expect(after.refreshSucceeded).toBe(before.refreshSucceeded)
      // nothing was revoked: both access tokens work and the current refresh token still rotates once
      expect((yield* me(str(again.data, "accessToken"))).status).toBe(200)
      expect((yield* me(str(r1.data, "accessToken"))).status).toBe(200)
      const r2 = yield* refresh(current)
      expect(r2.status).toBe(200)
      expect(str(r2.data, "refreshToken")).not.toBe(current)
    })
  )

  it.effect("after the window: the same presentation is a replay and ends every session of the user", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const r1 = yield* refresh(user.refreshToken)
      const current = str(r1.data, "refreshToken")
      const before = yield* counters
      yield* TestClock.adjust("10 seconds")
      const late = yield* refresh(user.refreshToken)
      expect([late.status, errorCode(late)]).toEqual([401, "auth/invalid-refresh-token"])
      const after = yield* counters
      expect(after.replaysDetected).toBe(before.replaysDetected + 1)
      expect(after.refreshReuses).toBe(before.refreshReuses)
      expect((yield* me(str(r1.data, "accessToken"))).status).toBe(401)
      expect((yield* refresh(current)).status).toBe(401)
    })
  )

  it.effect("once the child was itself rotated, the grandparent is a replay even inside the window", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const r1 = yield* refresh(user.refreshToken)
      const r2 = yield* refresh(str(r1.data, "refreshToken"))
      expect(r2.status).toBe(200)
      const before = yield* counters
      const stale = yield* refresh(user.refreshToken)
      expect([stale.status, errorCode(stale)]).toEqual([401, "auth/invalid-refresh-token"])
      expect((yield* counters).replaysDetected).toBe(before.replaysDetected + 1)
      expect((yield* me(str(r2.data, "accessToken"))).status).toBe(401)
    })
  )

  it.effect("a signed-out session gets nothing back inside the window", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const r1 = yield* refresh(user.refreshToken)
      expect((yield* post("/v1/auth/signout", {}, str(r1.data, "accessToken"))).status).toBe(200)
      const again = yield* refresh(user.refreshToken)
      expect([again.status, errorCode(again)]).toEqual([401, "auth/invalid-refresh-token"])
    })
  )
})

layer(harnessLayer())("library defaults: strict refresh, no sign-in page (socket)", (it) => {
  it.effect("without oauthDevSignIn (the default), authorize answers 400 auth/oauth-not-configured", () =>
    Effect.gen(function* () {
      const res = yield* request("GET", "/v1/auth/google/authorize", { query: { redirect: "http://app.test/cb" } })
      expect([res.status, errorCode(res)]).toEqual([400, "auth/oauth-not-configured"])
    })
  )

  it.effect("the default is bkend's strict rule: an immediate second presentation is a replay", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const r1 = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect(r1.status).toBe(200)
      const before = yield* counters
      const again = yield* post("/v1/auth/refresh", { refreshToken: user.refreshToken })
      expect([again.status, errorCode(again)]).toEqual([401, "auth/invalid-refresh-token"])
      const after = yield* counters
      expect(after.replaysDetected).toBe(before.replaysDetected + 1)
      expect(after.refreshReuses).toBe(0)
    })
  )
})

layer(harnessLayer({ oauthProviders: ["google"], oauthDevSignIn: true }))(
  "OAuth authorize flow and development sign-in page (socket)",
  (it) => {
    const authorize = (provider: string, query: Record<string, string>) =>
      request("GET", `/v1/auth/${provider}/authorize`, { query })
    const submit = (pageUrl: string, form: Record<string, string>) =>
      request("POST", pageUrl, {
        absolute: true,
        key: "none",
        rawBody: new URLSearchParams(form).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
    const follow = (location: string | null) => request("GET", location ?? "", { absolute: true, key: "none" })
    const startPage = (query: Record<string, string>) =>
      Effect.gen(function* () {
        const res = yield* authorize("google", query)
        expect(res.status).toBe(200)
        const pageUrl = str(res.data, "authorizationUrl")
        const page = new URL(pageUrl)
        return {
          pageUrl,
          state: page.searchParams.get("state") ?? "",
          redirectUri: page.searchParams.get("redirect_uri")
        }
      })

    it.effect("authorize → sign-in page → callback → the app's URL with tokens; the same e-mail again is not new", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const email = uniqueEmail("oauth")
        for (const isNewUser of ["true", "false"]) {
          const { pageUrl, state, redirectUri } = yield* startPage({ redirect_uri: "http://app.test/cb", state: "s1" })
          expect(redirectUri).toBe(`${h.url}/v1/auth/google/callback`)
          const shown = yield* request("GET", pageUrl, { absolute: true, key: "none" })
          expect(shown.status).toBe(200)
          expect(shown.headers.get("content-type")).toContain("text/html")
          expect(shown.text).toContain(`value="${state}"`)
          const submitted = yield* submit(pageUrl, { state, email })
          expect(submitted.status).toBe(302)
          const callback = new URL(submitted.headers.get("location") ?? "")
          expect(`${callback.origin}${callback.pathname}`).toBe(`${h.url}/v1/auth/google/callback`)
          expect(callback.searchParams.get("state")).toBe(state)
          const back = yield* follow(callback.toString())
          expect(back.status).toBe(302)
          const app = new URL(back.headers.get("location") ?? "")
          expect(`${app.origin}${app.pathname}`).toBe("http://app.test/cb")
          expect(app.searchParams.get("isNewUser")).toBe(isNewUser)
          expect(app.searchParams.get("state")).toBe("s1")
          const me = yield* request("GET", "/v1/auth/me", { token: app.searchParams.get("accessToken") ?? "" })
          expect(str(me.data, "email")).toBe(email)
          const r = yield* post("/v1/auth/refresh", { refreshToken: app.searchParams.get("refreshToken") })
          expect(r.status).toBe(200)
          // the flow is used once: its callback URL replayed is not a sign-in any more
          const again = yield* follow(callback.toString())
          expect(again.status).not.toBe(302)
        }
      })
    )

    it.effect("cancel and a forged code come back to the app as error + errorMessage", () =>
      Effect.gen(function* () {
        const cancelled = yield* startPage({ redirect: "http://app.test/cb" })
        const c = yield* submit(cancelled.pageUrl, { state: cancelled.state, cancel: "1" })
        const backC = yield* follow(c.headers.get("location"))
        const appC = new URL(backC.headers.get("location") ?? "")
        expect(appC.searchParams.get("error")).toBe("access_denied")
        expect(appC.searchParams.get("accessToken")).toBeNull()
        const forged = yield* startPage({ callbackUrl: "http://app.test/cb" })
        yield* submit(forged.pageUrl, { state: forged.state, email: uniqueEmail() })
        const h = yield* Harness
        const backF = yield* follow(`${h.url}/v1/auth/google/callback?code=guess&state=${forged.state}`)
        const appF = new URL(backF.headers.get("location") ?? "")
        expect(appF.searchParams.get("error")).toBe("invalid_code")
        expect(appF.searchParams.get("accessToken")).toBeNull()
      })
    )

    it.effect(
      "authorize errors: unconfigured 400, unknown provider 400, missing or non-http redirect 400, no key 401",
      () =>
        Effect.gen(function* () {
          const github = yield* authorize("github", { redirect: "http://app.test/cb" })
          expect([github.status, errorCode(github)]).toEqual([400, "auth/oauth-not-configured"])
          const other = yield* authorize("myspace", { redirect: "http://app.test/cb" })
          expect([other.status, errorCode(other)]).toEqual([400, "auth/unsupported-provider"])
          const none = yield* authorize("google", {})
          expect([none.status, errorCode(none)]).toEqual([400, "auth/invalid-request"])
          const js = yield* authorize("google", { redirect: "javascript:alert(1)" })
          expect([js.status, errorCode(js)]).toEqual([400, "auth/invalid-request"])
          const noKey = yield* request("GET", "/v1/auth/google/authorize", {
            key: "none",
            query: { redirect: "http://a.b/" }
          })
          expect(noKey.status).toBe(401)
          const unknownPage = yield* request("GET", "/_oauth/google/authorize", {
            key: "none",
            query: { state: "nope" }
          })
          expect(unknownPage.status).toBe(400)
        })
    )
  }
)

layer(harnessLayer({ maxFailedSignIns: 3 }))("sign-in lockout under concurrency (socket)", (it) => {
  it.effect("concurrent wrong passwords: at most maxFailedSignIns of them are checked, the rest get 429", () =>
    Effect.gen(function* () {
      const email = uniqueEmail("race-lock")
      yield* post("/v1/auth/email/signup", { method: "password", email, password: "secret1", name: "R" })
      const guesses = Array.from({ length: 20 }, (_, i) => `wrong-${i}`)
      const replies = yield* Effect.forEach(guesses, (pw) => signIn(email, pw), { concurrency: "unbounded" })
      const statuses = replies.map((r) => r.status)
      // every guess past the third is refused without its password being tried
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3)
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(17)
    })
  )
})
