import { HttpClient, HttpClientRequest, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Option, TestClock } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as K from "../../src/local/internal/kernel.js"
import { presignUrl } from "../../src/local/internal/storage.js"
import { handleErrors } from "../../src/local/internal/middleware.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import {
  errorCode,
  get,
  Harness,
  harnessLayer,
  inProcessLayer,
  request,
  signUp,
  snapshotStatus,
  str,
  uniqueEmail
} from "./utils.js"

layer(harnessLayer())("server basics (socket)", (it) => {
  it.effect("unknown route → 404 envelope", () =>
    Effect.gen(function* () {
      const res = yield* request("GET", "/v1/auth/nope/deeper/still")
      expect(res.status).toBe(404)
      expect(res.json).toEqual({ success: false, error: { code: "common/not-found", message: "Route not found" } })
      const root = yield* request("GET", "/")
      expect(root.status).toBe(404)
      expect(errorCode(root)).toBe("common/not-found")
    })
  )

  it.effect(
    "missing key: 400 data/invalid-header on data routes, 401 auth/unauthorized elsewhere; unknown key 401",
    () =>
      Effect.gen(function* () {
        const data = yield* request("GET", "/v1/data/posts", { key: "none" })
        expect([data.status, errorCode(data)]).toEqual([400, "data/invalid-header"])
        const auth = yield* request("POST", "/v1/auth/refresh", { key: "none", body: { refreshToken: "x" } })
        expect([auth.status, errorCode(auth)]).toEqual([401, "auth/unauthorized"])
        const unknown = yield* request("POST", "/v1/auth/email/signin", {
          key: `sk_${"a".repeat(64)}`,
          body: { method: "password", email: "a@b.co", password: "secret1" }
        })
        expect([unknown.status, errorCode(unknown)]).toEqual([401, "auth/unauthorized"])
        const malformed = yield* request("POST", "/v1/auth/email/signin", { key: "pk_short", body: {} })
        expect(malformed.status).toBe(401)
      })
  )

  it.effect("CORS: preflight from any origin allows the bkend headers; the real response carries CORS headers", () =>
    Effect.gen(function* () {
      const origin = "https://some-random-origin.example"
      const pre = yield* request("OPTIONS", "/v1/auth/email/signup", {
        key: "none",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-api-key, authorization, content-type"
        }
      })
      expect(pre.status).toBe(204)
      expect(pre.headers.get("access-control-allow-origin")).toBe(origin)
      const allowed = (pre.headers.get("access-control-allow-headers") ?? "").toLowerCase()
      for (const h of ["x-api-key", "authorization", "content-type"]) expect(allowed).toContain(h)
      expect(pre.headers.get("access-control-allow-methods")).toContain("POST")
      const res = yield* request("POST", "/v1/auth/email/signup", {
        headers: { origin },
        body: { method: "password", email: uniqueEmail(), password: "secret1", name: "C" }
      })
      expect(res.status).toBe(201)
      expect(res.headers.get("access-control-allow-origin")).toBe(origin)
      const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase()
      for (const h of ["retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "etag"])
        expect(exposed).toContain(h)
      // error responses carry them too
      const err = yield* request("GET", "/v1/auth/me", { headers: { origin } })
      expect(err.status).toBe(401)
      expect(err.headers.get("access-control-allow-origin")).toBe(origin)
    })
  )

  it.effect("413 for a body over maxBodyBytes (declared length), with the error envelope", () =>
    Effect.gen(function* () {
      const big = JSON.stringify({
        method: "password",
        email: "a@b.co",
        password: "x".repeat(2 * 1024 * 1024),
        name: "A"
      })
      const res = yield* request("POST", "/v1/auth/email/signup", {
        rawBody: big,
        headers: { "content-type": "application/json" }
      })
      expect(res.status).toBe(413)
      expect(res.json).toMatchObject({ success: false, error: { code: "common/payload-too-large" } })
    })
  )

  it.effect("malformed JSON and wrong types → 400 envelopes with the area's code", () =>
    Effect.gen(function* () {
      const broken = yield* request("POST", "/v1/auth/refresh", {
        rawBody: '{"refreshToken":',
        headers: { "content-type": "application/json" }
      })
      expect(broken.status).toBe(400)
      expect(broken.json).toMatchObject({ success: false, error: { code: "auth/invalid-request" } })
      const wrongType = yield* request("POST", "/v1/auth/email/signin", {
        body: { method: "password", email: 42, password: ["secret-value"] }
      })
      expect(wrongType.status).toBe(400)
      expect(errorCode(wrongType)).toBe("auth/invalid-request")
      // values are never echoed back
      expect(wrongType.text).not.toContain("secret-value")
      const empty = yield* request("POST", "/v1/auth/refresh", { headers: { "content-type": "application/json" } })
      expect([empty.status, errorCode(empty)]).toEqual([400, "auth/invalid-request"])
    })
  )

  it.effect("local endpoints: outbox, counters and snapshot need the secret key", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      for (const path of ["/_local/outbox", "/_local/counters"]) {
        expect((yield* request("GET", path, { key: "none" })).status).toBe(401)
        expect((yield* request("GET", path)).status).toBe(403)
      }
      const outbox = yield* request("GET", "/_local/outbox", { key: "sk", query: { to: user.email } })
      expect(outbox.status).toBe(200)
      expect(get(outbox.json, "items.0.kind")).toBe("signup-verification")
      const counters = yield* request("GET", "/_local/counters", { key: "sk" })
      expect(get(counters.json, "signUps")).toEqual(expect.any(Number))
      expect(Number(get(counters.json, "requests"))).toBeGreaterThan(0)
      const denied = yield* request("GET", "/_local/snapshot")
      expect(denied.status).toBe(403)
      const snap = yield* request("GET", "/_local/snapshot", { key: "sk" })
      const h = yield* Harness
      expect(snap.status).toBe(snapshotStatus(h.server))
      if (h.server.engine === "memory") {
        expect(get(snap.json, "format")).toBe("bkend-local-snapshot")
        expect(snap.text).toContain(user.email)
      }
      const bad = yield* request("POST", "/_local/snapshot", { key: "sk", rawBody: '{"format":"other"}' })
      expect([bad.status, errorCode(bad)]).toEqual([400, "common/invalid-parameters"])
    })
  )
})

describe("snapshots", () => {
  it.effect("export → import into a fresh server: users, keys and tokens survive", () =>
    Effect.gen(function* () {
      const a = yield* LocalServer.make()
      const handlerA = LocalServer.toWebHandler(a)
      const email = uniqueEmail("snap")
      const signup = yield* Effect.promise(() =>
        handlerA(
          new Request(`${LocalServer.inProcessBaseUrl}/v1/auth/email/signup`, {
            method: "POST",
            headers: { "x-api-key": a.keys.publishable, "content-type": "application/json" },
            body: JSON.stringify({ method: "password", email, password: "secret1", name: "Snap" })
          })
        ).then((r) => r.json())
      )
      const accessToken = str(signup, "data.accessToken")
      const json = yield* a.exportSnapshot
      const b = yield* LocalServer.make()
      expect(b.keys.publishable).not.toBe(a.keys.publishable)
      yield* b.importSnapshot(json)
      expect(b.keys).toEqual(a.keys)
      const me = yield* Effect.promise(() =>
        LocalServer.toWebHandler(b)(
          new Request(`${LocalServer.inProcessBaseUrl}/v1/auth/me`, {
            headers: { "x-api-key": b.keys.publishable, authorization: `Bearer ${accessToken}` }
          })
        ).then((r) => r.json())
      )
      expect(get(me, "data.email")).toBe(email)
      // the round trip is stable
      const again = yield* b.exportSnapshot
      expect(JSON.parse(again).state.users).toEqual(JSON.parse(json).state.users)
      expect(JSON.parse(again).state.keys).toEqual(JSON.parse(json).state.keys)
      const err = yield* Effect.flip(b.importSnapshot("not json"))
      expect(err._tag).toBe("SnapshotError")
    })
  )

  it.effect("binary objects and Maps survive the JSON round trip", () =>
    Effect.gen(function* () {
      const a = yield* LocalServer.make()
      a.local.state.objects.set("k", { key: "k", size: 4, contentType: "x/y", etag: '"e"', createdAt: 1 })
      a.local.state.blobs.set("objects/k/e", new Uint8Array([0, 1, 254, 255]))
      const b = yield* LocalServer.make()
      yield* b.importSnapshot(yield* a.exportSnapshot)
      expect(b.local.state.objects.get("k")?.size).toBe(4)
      const bytes = b.local.state.blobs.get("objects/k/e")
      expect(bytes).toBeInstanceOf(Uint8Array)
      expect(Array.from(bytes ?? [])).toEqual([0, 1, 254, 255])
    })
  )

  it.effect("a snapshot with the bytes inside its object records (older format) serves them", () =>
    Effect.gen(function* () {
      const old = yield* LocalServer.make()
      const etag = `"${createHash("md5").update("legacy").digest("hex")}"`
      const legacy = JSON.parse(yield* old.exportSnapshot)
      delete legacy.state.blobs
      const inline = { $bytes: Buffer.from("legacy").toString("base64") }
      legacy.state.objects = {
        $map: [["a/b", { key: "a/b", bytes: inline, contentType: "text/plain", etag, createdAt: 1 }]]
      }
      const b = yield* LocalServer.make()
      yield* b.importSnapshot(JSON.stringify(legacy))
      expect(b.local.state.objects.get("a/b")).toEqual({
        key: "a/b",
        size: 6,
        contentType: "text/plain",
        etag,
        createdAt: 1
      })
      const url = presignUrl(LocalServer.inProcessBaseUrl, b.local.state.storageSecret, {
        method: "GET",
        key: "a/b",
        expiresAt: Date.now() + 60_000
      })
      const res = yield* Effect.promise(() => LocalServer.toWebHandler(b)(new Request(url)))
      expect(yield* Effect.promise(() => res.text())).toBe("legacy")
    })
  )
})

layer(harnessLayer({ rateLimit: { limit: 3, windowSeconds: 60 } }))("rate limit (socket)", (it) => {
  it.effect("X-RateLimit-* on every response; 429 data/rate-limit-exceeded + Retry-After; per key; window resets", () =>
    Effect.gen(function* () {
      const remaining: Array<string | null> = []
      for (let i = 0; i < 3; i++) {
        const res = yield* request("GET", "/v1/auth/me")
        expect(res.status).toBe(401)
        expect(res.headers.get("x-ratelimit-limit")).toBe("3")
        remaining.push(res.headers.get("x-ratelimit-remaining"))
      }
      expect(remaining).toEqual(["2", "1", "0"])
      const limited = yield* request("GET", "/v1/auth/me")
      expect(limited.status).toBe(429)
      expect(errorCode(limited)).toBe("data/rate-limit-exceeded")
      expect(limited.headers.get("retry-after")).toBe("60")
      expect(limited.headers.get("x-ratelimit-remaining")).toBe("0")
      const otherKey = yield* request("GET", "/v1/auth/me", { key: "sk" })
      expect(otherKey.status).toBe(401)
      expect(otherKey.headers.get("x-ratelimit-remaining")).toBe("2")
      yield* TestClock.adjust("30 seconds")
      const stillLimited = yield* request("GET", "/v1/auth/me")
      expect(stillLimited.headers.get("retry-after")).toBe("30")
      yield* TestClock.adjust("30 seconds")
      const after = yield* request("GET", "/v1/auth/me")
      expect(after.status).toBe(401)
      expect(after.headers.get("x-ratelimit-remaining")).toBe("2")
      const h = yield* Harness
      expect((yield* h.server.counters).rateLimited).toBe(2)
    })
  )
})

layer(
  harnessLayer({
    faults: [
      { route: "GET /v1/auth/sessions", kind: "500", times: 1 },
      { route: "POST /v1/auth/refresh", kind: "503", times: 1 },
      { route: "GET /v1/auth/invitations", kind: "429", times: 1 },
      { route: "GET /v1/auth/accounts", kind: "reset", times: 1 },
      { route: "DELETE *", kind: "500", probability: 0 }
    ]
  })
)("fault injection (socket)", (it) => {
  it.effect("500 / 503 / 429 once, then normal; probability 0 never fires", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const first = yield* request("GET", "/v1/auth/sessions", { token: user.accessToken })
      expect([first.status, errorCode(first)]).toEqual([500, "common/internal-error"])
      expect((yield* request("GET", "/v1/auth/sessions", { token: user.accessToken })).status).toBe(200)
      const unavailable = yield* request("POST", "/v1/auth/refresh", { body: { refreshToken: user.refreshToken } })
      expect(unavailable.status).toBe(503)
      expect((yield* request("POST", "/v1/auth/refresh", { body: { refreshToken: user.refreshToken } })).status).toBe(
        200
      )
      const limited = yield* request("GET", "/v1/auth/invitations", { token: user.accessToken })
      expect(limited.status).toBe(429)
      expect(limited.headers.get("retry-after")).toBe("1")
      expect((yield* request("GET", "/v1/auth/invitations", { token: user.accessToken })).status).toBe(200)
      const del = yield* request("DELETE", "/v1/auth/sessions/nope", { token: user.accessToken })
      expect(del.status).toBe(404)
      const h = yield* Harness
      expect((yield* h.server.counters).faultsInjected).toBe(3)
    })
  )

  it.effect("connection reset closes the socket; the server keeps answering", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const reset = yield* Effect.either(request("GET", "/v1/auth/accounts", { token: user.accessToken }))
      expect(reset._tag).toBe("Left")
      const next = yield* request("GET", "/v1/auth/accounts", { token: user.accessToken })
      expect(next.status).toBe(200)
    })
  )
})

layer(
  inProcessLayer({
    faults: [
      { route: "GET /v1/auth/me", kind: "reset", times: 1 },
      { route: "GET /v1/auth/sessions", kind: "delay", delayMillis: 5000, times: 1 }
    ]
  })
)("in-process", (it) => {
  it.effect("delay fault waits on the server's Clock (TestClock here), then answers normally", () =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(request("GET", "/v1/auth/sessions"))
      // poll with real timers until the handler's sleep is registered on the TestClock (an engine's own timers,
      // e.g. a connection pool's, may be there too)
      const registered = Effect.map(TestClock.sleeps(), (sleeps) => Chunk.some(sleeps, (at) => at === start + 5000))
      for (let i = 0; i < 200 && !(yield* registered); i++) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      }
      expect(yield* registered).toBe(true)
      yield* TestClock.adjust("4999 millis")
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const res = yield* Fiber.join(fiber)
      expect([res.status, errorCode(res)]).toEqual([401, "auth/unauthorized"])
    })
  )

  it.effect("toWebHandler: a reset fault rejects like a network error", () =>
    Effect.gen(function* () {
      const reset = yield* Effect.either(request("GET", "/v1/auth/me"))
      expect(reset._tag).toBe("Left")
      const next = yield* request("GET", "/v1/auth/me")
      expect(next.status).toBe(401)
    })
  )

  it.effect("layerHttpClient dispatches in-process", () =>
    Effect.gen(function* () {
      const h = yield* Harness
      const email = uniqueEmail("client")
      const res = yield* Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        return yield* client.execute(
          HttpClientRequest.post(`${LocalServer.inProcessBaseUrl}/v1/auth/email/signup`).pipe(
            HttpClientRequest.setHeader("x-api-key", h.server.keys.publishable),
            HttpClientRequest.bodyUnsafeJson({ method: "password", email, password: "secret1", name: "Cl" })
          )
        )
      }).pipe(Effect.provide(LocalServer.layerHttpClient(h.server)))
      expect(res.status).toBe(201)
      const body = yield* res.json
      expect(get(body, "data.tokenType")).toBe("Bearer")
    })
  )
})

describe("envelope and error switches", () => {
  const call = <A>(
    options: Partial<LocalServer.LocalOptions>,
    f: (h: (path: string, init?: RequestInit) => Promise<Response>, s: LocalServer.LocalServer) => Promise<A>
  ) =>
    Effect.gen(function* () {
      const server = yield* LocalServer.make(options)
      const handler = LocalServer.toWebHandler(server)
      return yield* Effect.promise(() =>
        f((p, init) => {
          const headers = new Headers(init?.headers)
          if (!headers.has("x-api-key")) headers.set("x-api-key", server.keys.publishable)
          return handler(new Request(`${LocalServer.inProcessBaseUrl}${p}`, { ...init, headers }))
        }, server)
      )
    })

  const signupInit = (email: string): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ method: "password", email, password: "secret1", name: "S" })
  })

  it.effect("envelope=bare: payloads unwrapped", () =>
    Effect.gen(function* () {
      const body = yield* call({ envelope: "bare" }, (h) =>
        h("/v1/auth/email/signup", signupInit(uniqueEmail())).then((r) => r.json())
      )
      expect(get(body, "tokenType")).toBe("Bearer")
      expect(get(body, "success")).toBeUndefined()
    })
  )

  it.effect("envelope=hybrid: object payloads both under data and at the top level; arrays only wrapped", () =>
    Effect.gen(function* () {
      const body = yield* call({ envelope: "hybrid" }, (h) =>
        h("/v1/auth/email/signup", signupInit(uniqueEmail())).then((r) => r.json())
      )
      expect(get(body, "success")).toBe(true)
      expect(get(body, "tokenType")).toBe("Bearer")
      expect(get(body, "data.tokenType")).toBe("Bearer")
      expect(get(body, "accessToken")).toBe(get(body, "data.accessToken"))
      const sessions = yield* call({ envelope: "hybrid", lists: "ref-array" }, async (h) => {
        const tokens = await h("/v1/auth/email/signup", signupInit(uniqueEmail())).then((r) => r.json())
        const auth = { authorization: `Bearer ${str(tokens, "accessToken")}` }
        return h("/v1/auth/sessions", { headers: auth }).then((r) => r.json())
      })
      expect(Object.keys(sessions as object).sort()).toEqual(["data", "success"])
      expect(Array.isArray(get(sessions, "data"))).toBe(true)
      const confirmed = yield* call({ envelope: "hybrid" }, async (h, s) => {
        const email = uniqueEmail()
        await h("/v1/auth/email/signup", signupInit(email))
        const mail = await Effect.runPromise(s.outbox.latest(email, "signup-verification"))
        const qs = new URLSearchParams({ token: mail?.token ?? "", email }).toString()
        return h(`/v1/auth/signup/email/confirm?${qs}`).then((r) => r.json())
      })
      expect(confirmed).toMatchObject({ success: true, verified: true, data: { verified: true } })
      const me = yield* call({ envelope: "hybrid" }, (h) => h("/v1/auth/me").then((r) => r.json()))
      expect(me).toEqual({
        success: false,
        error: { code: "auth/unauthorized", message: "Authentication required" },
        code: "auth/unauthorized",
        message: "Authentication required"
      })
    })
  )

  it.effect("envelope=hybrid: the envelope's own keys win over payload fields named success or data", () =>
    Effect.sync(() => {
      const options = K.resolveOptions({ envelope: "hybrid" })
      const row = { id: "r1", data: "column", success: "no" }
      expect(K.successBody(options, row)).toEqual({ id: "r1", success: true, data: row })
      expect(K.successBody(options, null)).toEqual({ success: true, data: null })
    })
  )

  it.effect("errors=ref-auth / nest / superset shapes", () =>
    Effect.gen(function* () {
      const me = (h: (path: string) => Promise<Response>) => h("/v1/auth/me").then((r) => r.json())
      expect(yield* call({ errors: "ref-auth" }, me)).toEqual({
        error: { code: "auth/unauthorized", message: "Authentication required" }
      })
      expect(yield* call({ errors: "nest" }, me)).toEqual({
        statusCode: 401,
        error: "UNAUTHORIZED",
        message: "Authentication required"
      })
      expect(yield* call({ errors: "superset" }, me)).toEqual({
        success: false,
        error: { code: "auth/unauthorized", message: "Authentication required" },
        statusCode: 401,
        message: "Authentication required"
      })
      const mfa = yield* call({ errors: "nest" }, (h) =>
        h("/v1/auth/email/signin", {
          method: "POST",
          body: JSON.stringify({ method: "password", email: "nobody@example.com", password: "secret1" })
        }).then((r) => r.json())
      )
      expect(get(mfa, "error")).toBe("INVALID_CREDENTIALS")
    })
  )

  it.effect("deletes=204: sign-out answers 204 with no body", () =>
    Effect.gen(function* () {
      const result = yield* call({ deletes: "204" }, async (h) => {
        const tokens = await h("/v1/auth/email/signup", signupInit(uniqueEmail())).then((r) => r.json())
        const res = await h("/v1/auth/signout", {
          method: "POST",
          headers: { authorization: `Bearer ${str(tokens, "data.accessToken")}` }
        })
        return { status: res.status, text: await res.text() }
      })
      expect(result).toEqual({ status: 204, text: "" })
    })
  )

  it.effect("passwordPolicy=strict requires 8+ chars with all four classes", () =>
    Effect.gen(function* () {
      const statuses = yield* call({ passwordPolicy: "strict" }, async (h) => {
        const weak = await h("/v1/auth/email/signup", signupInit(uniqueEmail()))
        const strong = await h("/v1/auth/email/signup", {
          method: "POST",
          body: JSON.stringify({ method: "password", email: uniqueEmail(), password: "Str0ng!pw", name: "S" })
        })
        return [weak.status, await weak.json().then(errorCodeOf), strong.status]
      })
      expect(statuses).toEqual([400, "auth/invalid-password-format", 201])
    })
  )

  it.effect("lists=ref-array: sessions and accounts as Ref-page arrays (I-16/I-17)", () =>
    Effect.gen(function* () {
      const [sessions, accounts] = yield* call({ lists: "ref-array" }, async (h) => {
        const tokens = await h("/v1/auth/email/signup", signupInit(uniqueEmail())).then((r) => r.json())
        const auth = { authorization: `Bearer ${str(tokens, "data.accessToken")}` }
        return [
          await h("/v1/auth/sessions", { headers: auth }).then((r) => r.json()),
          await h("/v1/auth/accounts", { headers: auth }).then((r) => r.json())
        ]
      })
      expect(get(sessions, "data")).toEqual([
        {
          id: expect.any(String),
          device: expect.any(String),
          ip: expect.any(String),
          lastAccessedAt: expect.any(String),
          userAgent: expect.any(String),
          createdAt: expect.any(String)
        }
      ])
      expect(get(accounts, "data")).toEqual([
        { provider: "email", email: expect.any(String), linkedAt: expect.any(String) }
      ])
    })
  )

  it.effect("oauthProviders: an unconfigured provider answers 400 auth/oauth-not-configured", () =>
    Effect.gen(function* () {
      const [github, google] = yield* call({ oauthProviders: ["google"] }, async (h) => {
        const cb = (p: string) =>
          h(`/v1/auth/${p}/callback`, { method: "POST", body: JSON.stringify({ idToken: "someone@example.com" }) })
        const gh = await cb("github")
        const go = await cb("google")
        return [[gh.status, errorCodeOf(await gh.json())], go.status]
      })
      expect(github).toEqual([400, "auth/oauth-not-configured"])
      expect(google).toBe(200)
    })
  )

  it.effect(
    "maxFailedSignIns: after N failures even the right password gets 429 auth/too-many-login-attempts + Retry-After",
    () =>
      Effect.gen(function* () {
        const result = yield* call({ maxFailedSignIns: 2 }, async (h) => {
          const email = uniqueEmail("lock")
          await h("/v1/auth/email/signup", {
            method: "POST",
            body: JSON.stringify({ method: "password", email, password: "secret1", name: "L" })
          })
          const signin = (password: string) =>
            h("/v1/auth/email/signin", {
              method: "POST",
              body: JSON.stringify({ method: "password", email, password })
            })
          const statuses: Array<number> = []
          for (const pw of ["bad-1", "bad-2", "secret1"]) statuses.push((await signin(pw)).status)
          const locked = await signin("secret1")
          return { statuses, retryAfter: locked.headers.get("retry-after"), code: errorCodeOf(await locked.json()) }
        })
        expect(result.statuses).toEqual([401, 401, 429])
        expect(result.code).toBe("auth/too-many-login-attempts")
        expect(Number(result.retryAfter)).toBeGreaterThan(0)
      })
  )

  it.effect("catch-all: a defect in a route becomes a 500 envelope", () =>
    Effect.gen(function* () {
      const server = yield* LocalServer.make()
      const app = handleErrors(Effect.die(new Error("boom"))).pipe(Effect.provideService(K.Local, server.local))
      const res = yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(new Request("http://x/")))
      )
      expect(res.status).toBe(500)
      const web = HttpServerResponse.toWeb(res)
      expect(yield* Effect.promise(() => web.json())).toEqual({
        success: false,
        error: { code: "common/internal-error", message: "Internal server error" }
      })
    })
  )
})

const errorCodeOf = (json: unknown): unknown => get(json, "error.code")

describe("CLI", () => {
  it.live(
    "bkend-local --port 0 --import --export: serves the imported state, answers, exports on SIGTERM",
    () =>
      Effect.gen(function* () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-local-"))
        const snapshot = path.join(dir, "snap.json")
        const seedFile = path.join(dir, "seed.json")
        // seed: a server with one user, exported in-process
        const seed = yield* LocalServer.make()
        const seededEmail = uniqueEmail("seeded")
        yield* seed.store.users.insert(
          K.newUserRecord({ email: seededEmail, name: "Seed", password: "seeded-pw" }, Date.now())
        )
        fs.writeFileSync(seedFile, yield* seed.exportSnapshot)
        const child = spawn(
          process.execPath,
          ["--import", "tsx", "src/local/cli.ts", "--port", "0", "--import", seedFile, "--export", snapshot],
          { cwd: path.resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "pipe"] }
        )
        let out = ""
        child.stdout.on("data", (d) => {
          out += String(d)
        })
        child.stderr.on("data", (d) => {
          out += String(d)
        })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
        const url = yield* Effect.promise(
          () =>
            new Promise<string>((resolve, reject) => {
              const timer = setInterval(() => {
                const m = /listening on (http:\/\/[0-9.]+:\d+)/.exec(out)
                if (m?.[1] !== undefined) {
                  clearInterval(timer)
                  resolve(m[1])
                }
              }, 50)
              setTimeout(() => {
                clearInterval(timer)
                reject(new Error(`CLI did not start: ${out}`))
              }, 20_000)
            })
        )
        const pk = /pk_[0-9a-f]{64}/.exec(out)?.[0] ?? ""
        expect(pk).toBe(seed.keys.publishable)
        expect(/sk_[0-9a-f]{64}/.exec(out)?.[0]).toBe(seed.keys.secret)
        const seededSignIn = yield* Effect.promise(() =>
          fetch(`${url}/v1/auth/email/signin`, {
            method: "POST",
            headers: { "x-api-key": pk, "content-type": "application/json" },
            body: JSON.stringify({ method: "password", email: seededEmail, password: "seeded-pw" })
          })
        )
        expect(seededSignIn.status).toBe(200)
        const email = uniqueEmail("cli")
        const res = yield* Effect.promise(() =>
          fetch(`${url}/v1/auth/email/signup`, {
            method: "POST",
            headers: { "x-api-key": pk, "content-type": "application/json" },
            body: JSON.stringify({ method: "password", email, password: "secret1", name: "Cli" })
          })
        )
        expect(res.status).toBe(201)
        // the CLI defaults to devMode: an undeclared table is created on first write
        const { accessToken } = yield* Effect.promise(() =>
          res.json().then((b) => ({ accessToken: str(b, "data.accessToken") }))
        )
        const row = yield* Effect.promise(() =>
          fetch(`${url}/v1/data/posts`, {
            method: "POST",
            headers: { "x-api-key": pk, "content-type": "application/json", authorization: `Bearer ${accessToken}` },
            body: JSON.stringify({ title: "from the CLI" })
          })
        )
        expect(row.status).toBe(201)
        child.kill("SIGTERM")
        yield* Effect.promise(() => exited)
        const exported = fs.readFileSync(snapshot, "utf8")
        expect(exported).toContain(email)
        expect(exported).toContain(seededEmail)
      }).pipe(Effect.scoped),
    30_000
  )
})

layer(LocalServer.layerNode({ port: 0, envelope: "bare" }))("layerNode (public API)", (it) => {
  it.effect("serves on a socket and provides the LocalServerTag", () =>
    Effect.gen(function* () {
      const server = yield* LocalServer.LocalServerTag
      const url = yield* LocalServer.serverUrl
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const res = yield* Effect.promise(() =>
        fetch(`${url}/v1/auth/email/signup`, {
          method: "POST",
          headers: { "x-api-key": server.keys.publishable, "content-type": "application/json" },
          body: JSON.stringify({ method: "password", email: uniqueEmail("node"), password: "secret1", name: "N" })
        }).then(async (r) => ({ status: r.status, body: await r.json() }))
      )
      expect(res.status).toBe(201)
      expect(get(res.body, "tokenType")).toBe("Bearer")
      expect((yield* server.counters).signUps).toBe(1)
    })
  )
})
