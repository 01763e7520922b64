import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Config,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Schema,
  type Scope,
  Stream,
  TestClock
} from "effect"
import * as BkendClient from "../src/BkendClient.js"
import * as Session from "../src/Session.js"
import { Me, me, signIn } from "./utils/scriptedClient.js"
import * as Scripted from "./utils/scriptedServer.js"
import { recordingTracer } from "./utils/tracing.js"

const PK = `pk_${"a1".repeat(32)}`
const SK = `sk_${"b2".repeat(32)}`

const Echo = Schema.Struct({
  method: Schema.String,
  headers: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Array(Schema.String)) }),
  body: Schema.String
})

type Transport = Layer.Layer<HttpClient.HttpClient>
const transports: ReadonlyArray<readonly [string, Transport]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["fetch", FetchHttpClient.layer]
]

const clientLayer = (
  server: Scripted.ScriptedServer,
  options: Partial<BkendClient.Options> = {},
  transport: Transport = NodeHttpClient.layerUndici
) => BkendClient.layer({ apiKey: Redacted.make(PK), baseUrl: server.url, ...options }).pipe(Layer.provide(transport))

const build = <E>(layer: Layer.Layer<BkendClient.BkendClient, E>): Effect.Effect<BkendClient.Service, E, Scope.Scope> =>
  Effect.map(Layer.build(layer), (ctx) => Context.get(ctx, BkendClient.BkendClient))

/**
 * Waits (in real time) until the TestClock has a pending backoff sleep (one due within 20 s: the attempt and
 * call timeouts are 30 s and 120 s) and returns its wake-up time.
 */
const pendingSleep = Effect.gen(function* () {
  for (let i = 0; i < 500; i++) {
    const now = yield* Clock.currentTimeMillis
    const due = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((t) => t > now && t - now < 20_000)
    if (due.length > 0) return Math.min(...due)
    yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
  }
  throw new Error("no pending sleep")
})

const until = (predicate: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5))
    if (!predicate()) throw new Error("condition not reached")
  })

describe("BkendClient headers", () => {
  for (const [name, transport] of transports) {
    it.scoped(`pk_ key, with and without a session (${name})`, () =>
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(clientLayer(server, {}, transport))
        const echo = (auth: BkendClient.AuthMode, body?: unknown) =>
          client.request({ method: body === undefined ? "GET" : "POST", route: "/v1/echo", auth, body, response: Echo })

        const anonymous = yield* echo("optional")
        expect(anonymous.headers["x-api-key"]).toBe(PK)
        expect(anonymous.headers.accept).toBe("application/json")
        expect(anonymous.headers.authorization).toBeUndefined()
        expect(anonymous.headers["content-type"]).toBeUndefined()

        yield* signIn(client)
        const session = Option.getOrThrow(yield* client.session)
        const withSession = yield* echo("optional", { title: "x" })
        expect(withSession.headers.authorization).toBe(`Bearer ${Redacted.value(session.accessToken)}`)
        expect(withSession.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(withSession.body)).toEqual({ title: "x" })

        const none = yield* echo("none", { a: 1 })
        expect(none.headers.authorization).toBeUndefined()
        expect(none.headers["x-api-key"]).toBe(PK)
      })
    )
  }

  it.scoped("sk_ key without a session sends only X-API-Key", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server, { apiKey: Redacted.make(SK) }))
      const echo = yield* client.request({ method: "GET", route: "/v1/echo", auth: "optional", response: Echo })
      expect(echo.headers["x-api-key"]).toBe(SK)
      expect(echo.headers.authorization).toBeUndefined()
      const required = yield* client
        .request({ method: "GET", route: "/v1/echo", auth: "required", response: Echo })
        .pipe(Effect.flip)
      expect(required._tag).toBe("Unauthorized")
      expect(server.hits("/v1/echo")).toBe(1)
    })
  )

  it.scoped("path parameters are percent-encoded and cannot change the route", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      server.script("/v1/script/a%2Fb%3Fx%3D1", { status: 200, body: "{}" })
      yield* client.request({
        method: "GET",
        route: "/v1/script/:id",
        params: { id: "a/b?x=1" },
        auth: "none",
        response: Schema.Unknown
      })
      expect(server.requests.at(-1)?.path).toBe("/v1/script/a%2Fb%3Fx%3D1")
      for (const id of ["", ".", "..", "a\uD800b"]) {
        const error = yield* client
          .request({ method: "GET", route: "/v1/script/:id", params: { id }, auth: "none", response: Schema.Unknown })
          .pipe(Effect.flip)
        expect(error._tag).toBe("InvalidInput")
      }
      expect(server.requests.length).toBe(1)
    })
  )
})

describe("BkendClient refresh gate", () => {
  it.scoped("200 fibers on an expired token: exactly one refresh, no replay, all succeed", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      yield* signIn(client)
      server.expireAccessTokens()
      const results = yield* Effect.all(
        Array.from({ length: 200 }, () => me(client)),
        { concurrency: "unbounded" }
      )
      expect(results).toHaveLength(200)
      expect(results.every((r) => r.id === "u1")).toBe(true)
      expect(server.counters.refresh).toBe(1)
      expect(server.counters.replays).toBe(0)
    })
  )

  it.scoped("negative control: the seed's per-request refresh (no gate) refreshes many times and replays", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const tokens = server.issue()
      server.expireAccessTokens()
      // The documented bkendFetch helper: on 401, every failing request refreshes with the stored token.
      const store = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }
      const bkendFetch = async () => {
        const get = () =>
          fetch(`${server.url}/v1/auth/me`, {
            headers: { "X-API-Key": PK, Authorization: `Bearer ${store.accessToken}` }
          })
        let res = await get()
        if (res.status === 401) {
          const r = await fetch(`${server.url}/v1/auth/refresh`, {
            method: "POST",
            headers: { "X-API-Key": PK, "Content-Type": "application/json" },
            body: JSON.stringify({ refreshToken: store.refreshToken })
          })
          if (r.ok) {
            const body = (await r.json()) as { data: { accessToken: string; refreshToken: string } }
            store.accessToken = body.data.accessToken
            store.refreshToken = body.data.refreshToken
            res = await get()
          }
        }
        return res.status
      }
      yield* Effect.promise(() => Promise.all(Array.from({ length: 200 }, bkendFetch)))
      // the assertions of the gated test fail for the ungated helper
      expect(server.counters.refresh).not.toBe(1)
      expect(server.counters.replays).toBeGreaterThan(0)
    })
  )

  it.scoped("a 401 from sign-in is Unauthorized auth/invalid-credentials and causes no refresh", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      yield* signIn(client)
      const error = yield* client
        .request({
          method: "POST",
          route: "/v1/auth/email/signin",
          auth: "none",
          refreshOn401: false,
          body: { method: "password", email: "a@example.com", password: "wrong" },
          response: Session.TokenResponse
        })
        .pipe(Effect.flip)
      expect(error._tag).toBe("Unauthorized")
      expect(error.code).toBe("auth/invalid-credentials")
      expect(error.route).toBe("/v1/auth/email/signin")
      expect(server.counters.refresh).toBe(0)
    })
  )

  it.scoped("a refresh rejected with 401 clears the session and fails with Unauthorized", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      const changes = yield* Session.changes(client).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      yield* signIn(client)
      server.expireAccessTokens()
      server.validRefresh.clear()
      const error = yield* me(client).pipe(Effect.flip)
      expect(error._tag).toBe("Unauthorized")
      expect(Option.isNone(yield* client.session)).toBe(true)
      expect(server.counters.refresh).toBe(1)
      const tags = Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((c) => c._tag)
      expect(tags).toEqual(["SignedIn", "SignedOut"])
      // signed out: the next call fails locally, with no refresh
      expect((yield* me(client).pipe(Effect.flip))._tag).toBe("Unauthorized")
      expect(server.counters.refresh).toBe(1)
    })
  )

  it.scoped(
    "a refresh answered 503 is in doubt: never presented again; the rejected session ends (refresh-in-doubt)",
    () =>
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(clientLayer(server))
        const changes = yield* Session.changes(client).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
        yield* Effect.yieldNow()
        yield* signIn(client)
        server.expireAccessTokens()
        server.refreshFailure = { status: 503, body: "upstream down" }
        const error = yield* me(client).pipe(Effect.flip)
        // the access token was rejected and the refresh token may have been rotated: the session ends locally
        expect(error._tag).toBe("Unauthorized")
        expect(server.counters.refresh).toBe(1)
        expect(Option.isNone(yield* client.session)).toBe(true)
        const out = Chunk.toReadonlyArray(yield* Fiber.join(changes))
        expect(out.map((c) => c._tag)).toEqual(["SignedIn", "SignedOut"])
        expect(out[1]?._tag === "SignedOut" && out[1].reason).toBe("refresh-in-doubt")
        expect((yield* me(client).pipe(Effect.flip))._tag).toBe("Unauthorized")
        expect(server.counters.refresh).toBe(1)
      })
  )

  it.scoped("a refresh answered 429 was not processed: the session is kept and the token presented later", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      yield* signIn(client)
      server.expireAccessTokens()
      server.refreshFailure = { status: 429, headers: { "retry-after": "3600" }, body: "{}" }
      const error = yield* me(client).pipe(Effect.flip)
      expect(error._tag).toBe("RateLimited")
      expect(Option.isSome(yield* client.session)).toBe(true)
      expect((yield* me(client)).id).toBe("u1")
      expect(server.counters.refresh).toBe(2)
      expect(server.counters.replays).toBe(0)
    })
  )

  it.live("a refresh completing after sign-out is discarded", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(clientLayer(server))
        yield* signIn(client)
        server.expireAccessTokens()
        server.refreshDelayMs = 200
        const call = yield* Effect.fork(me(client))
        yield* until(() => server.counters.refresh === 1)
        yield* client.clearSession("sign-out")
        const exit = yield* Fiber.await(call)
        expect(Exit.isFailure(exit)).toBe(true)
        expect(Option.isNone(yield* client.session)).toBe(true)
      })
    )
  )

  it.scoped("proactive refresh near expiry is single-flight too", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server, { refreshMargin: "60 seconds" }))
      const tokens = server.issue()
      yield* client.setTokens({ ...tokens, expiresIn: 100 })
      // the margin is capped at half the lifetime (50 s): 60 s left is not yet within it
      yield* TestClock.adjust("40 seconds")
      expect((yield* me(client)).id).toBe("u1")
      expect(server.counters.refresh).toBe(0)
      yield* TestClock.adjust("20 seconds")
      const before = server.requests.length
      const results = yield* Effect.all(
        Array.from({ length: 50 }, () => me(client)),
        { concurrency: "unbounded" }
      )
      expect(results).toHaveLength(50)
      expect(server.counters.refresh).toBe(1)
      // every /me carried the refreshed token, none the old one
      const sent = server.requests
        .slice(before)
        .filter((r) => r.path === "/v1/auth/me")
        .map((r) => r.headers.authorization)
      expect(sent.includes(`Bearer ${tokens.accessToken}`)).toBe(false)
    })
  )

  it.scoped("two clients sharing a TokenStore and a RefreshLock adopt each other's rotation (no replay)", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const lock = yield* Effect.makeSemaphore(1)
      const shared = Layer.merge(
        Session.layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerMemory)),
        Layer.succeed(Session.RefreshLock, {
          waitTimeout: Duration.infinity,
          withLock: (self) => lock.withPermits(1)(self)
        })
      )
      const sharedContext = yield* Layer.build(shared)
      const tab = () => build(clientLayer(server).pipe(Layer.provide(Layer.succeedContext(sharedContext))))
      const a = yield* tab()
      yield* signIn(a)
      const b = yield* tab() // reads the stored session
      expect(Option.isSome(yield* b.session)).toBe(true)
      server.expireAccessTokens()
      expect((yield* me(a)).id).toBe("u1") // a refreshes
      expect((yield* me(b)).id).toBe("u1") // b gets 401, re-reads the store, adopts
      expect(server.counters.refresh).toBe(1)
      expect(server.counters.replays).toBe(0)
    })
  )
  it.scoped("adopt takes over another tab's session without writing the store", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const writes: Array<string> = []
      const store = Layer.succeed(Session.TokenStore, {
        get: Effect.succeedNone,
        set: () => Effect.sync(() => writes.push("set")),
        clear: Effect.sync(() => writes.push("clear"))
      })
      const client = yield* build(clientLayer(server).pipe(Layer.provide(store)))
      const changes = yield* Session.changes(client).pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      // let the subscriber start (the stream subscribes when it runs)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      const first = Session.fromTokenResponse(server.issue(), 1)
      const second = Session.fromTokenResponse(server.issue(), 2)
      yield* client.adopt(Option.some(first))
      yield* client.adopt(Option.some(first)) // unchanged: nothing happens
      yield* client.adopt(Option.some(second))
      expect((yield* me(client)).id).toBe("u1")
      const sent = server.requests.at(-1)?.headers.authorization
      expect(sent).toBe(`Bearer ${Redacted.value(second.accessToken)}`)
      yield* client.adopt(Option.none())
      expect(Option.isNone(yield* client.session)).toBe(true)
      const tags = Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((c) => c._tag)
      // opaque tokens are not recognisably a rotation of each other: the second is another sign-in
      expect(tags).toEqual(["SignedIn", "SignedIn", "SignedOut"])
      expect(writes).toEqual([])
    })
  )
})

describe("BkendClient retries", () => {
  it.scoped("429 with Retry-After: 2 waits exactly 2 s, then succeeds", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      server.script(
        "/v1/script/limited",
        { status: 429, headers: { "retry-after": "2" }, body: '{"error":{"code":"data/rate-limit-exceeded"}}' },
        { status: 200, body: '{"ok":true}' }
      )
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(
        client.request({ method: "POST", route: "/v1/script/limited", auth: "none", response: Schema.Unknown })
      )
      expect((yield* pendingSleep) - start).toBe(2000)
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual({ ok: true })
      expect(server.hits("/v1/script/limited")).toBe(2)
    })
  )

  it.scoped("429 with an HTTP-date Retry-After", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      const now = yield* Clock.currentTimeMillis
      server.script(
        "/v1/script/date",
        { status: 429, headers: { "retry-after": new Date(now + 3000).toUTCString() } },
        { status: 200, body: "{}" }
      )
      const fiber = yield* Effect.fork(
        client.request({ method: "GET", route: "/v1/script/date", auth: "none", response: Schema.Unknown })
      )
      expect((yield* pendingSleep) - now).toBe(3000)
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(fiber)
      expect(server.hits("/v1/script/date")).toBe(2)
    })
  )

  it.scoped("gives up with RateLimited after maxAttempts", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server, { retryPolicy: { maxAttempts: 3 } }))
      const limited = {
        status: 429,
        headers: { "retry-after": "0", "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0" }
      }
      server.script("/v1/script/always", limited, limited, limited, limited)
      const error = yield* client
        .request({ method: "GET", route: "/v1/script/always", auth: "none", response: Schema.Unknown })
        .pipe(Effect.flip)
      expect(error._tag).toBe("RateLimited")
      if (error._tag === "RateLimited") {
        expect(error.limit).toBe(100)
        expect(error.remaining).toBe(0)
        expect(error.isRetryable).toBe(true)
      }
      expect(server.hits("/v1/script/always")).toBe(3)
    })
  )

  it.scoped("a POST that gets 503 is not retried; a GET is retried with backoff", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      server.script("/v1/script/post", { status: 503, body: "busy" }, { status: 200, body: "{}" })
      const postError = yield* client
        .request({ method: "POST", route: "/v1/script/post", auth: "none", body: {}, response: Schema.Unknown })
        .pipe(Effect.flip)
      expect(postError._tag).toBe("ServerError")
      expect(server.hits("/v1/script/post")).toBe(1)

      server.script("/v1/script/get", { status: 503 }, { status: 503 }, { status: 200, body: '{"n":1}' })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(
        client.request({ method: "GET", route: "/v1/script/get", auth: "none", response: Schema.Unknown })
      )
      const first = (yield* pendingSleep) - start
      expect(first).toBeGreaterThanOrEqual(250) // 500 ms with 50 % jitter
      expect(first).toBeLessThanOrEqual(500)
      yield* TestClock.adjust(first)
      const second = (yield* pendingSleep) - (yield* Clock.currentTimeMillis)
      expect(second).toBeGreaterThanOrEqual(500) // doubled
      expect(second).toBeLessThanOrEqual(1000)
      yield* TestClock.adjust(second)
      expect(yield* Fiber.join(fiber)).toEqual({ n: 1 })
      expect(server.hits("/v1/script/get")).toBe(3)
    })
  )

  it.live("interruption aborts the in-flight request (the server sees the disconnect)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(clientLayer(server))
        const fiber = yield* Effect.fork(
          client.request({ method: "GET", route: "/v1/hang", auth: "none", response: Schema.Unknown })
        )
        yield* until(() => server.hits("/v1/hang") === 1)
        yield* Fiber.interrupt(fiber)
        yield* until(() => server.counters.disconnects === 1)
        expect(server.counters.disconnects).toBe(1)
      })
    )
  )

  it.live("timeouts still fire when the caller is uninterruptible (e.g. a finalizer)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(clientLayer(server, { retryPolicy: { attemptTimeout: 50, maxAttempts: 1 } }))
        const error = yield* client
          .request({ method: "GET", route: "/v1/hang", auth: "none", response: Schema.Unknown })
          .pipe(Effect.uninterruptible, Effect.flip)
        expect(error._tag).toBe("NetworkError")
        if (error._tag === "NetworkError") expect(error.reason).toBe("Timeout")
      })
    )
  )

  it.live("a per-attempt timeout becomes NetworkError Timeout and is retried for GET", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(
          clientLayer(server, { retryPolicy: { attemptTimeout: 50, maxAttempts: 2, baseDelay: 1 } })
        )
        const error = yield* client
          .request({ method: "GET", route: "/v1/hang", auth: "none", response: Schema.Unknown })
          .pipe(Effect.flip)
        expect(error._tag).toBe("NetworkError")
        if (error._tag === "NetworkError") expect(error.reason).toBe("Timeout")
        expect(server.hits("/v1/hang")).toBe(2)
      })
    )
  )
})

describe("BkendClient decoding and errors", () => {
  it.scoped("accepts wrapped and bare success bodies; a mismatch is DecodeError", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      server.script("/v1/script/wrapped", { status: 200, body: '{"success":true,"data":{"id":"1","email":"e"}}' })
      server.script("/v1/script/bare", { status: 200, body: '{"id":"2","email":"f"}' })
      server.script("/v1/script/row", { status: 200, body: '{"success":true,"data":1,"id":"3"}' })
      server.script("/v1/script/bad", { status: 200, body: '{"id":4}' })
      const get = <A, I>(path: string, response: Schema.Schema<A, I>) =>
        client.request({ method: "GET", route: `/v1/script/${path}`, auth: "none", response })
      expect(yield* get("wrapped", Me)).toEqual({ id: "1", email: "e" })
      expect(yield* get("bare", Me)).toEqual({ id: "2", email: "f" })
      // extra keys: a row that happens to have success/data fields is not unwrapped
      expect(yield* get("row", Schema.Struct({ id: Schema.String, data: Schema.Number }))).toEqual({
        id: "3",
        data: 1
      })
      const error = yield* get("bad", Me).pipe(Effect.flip)
      expect(error._tag).toBe("DecodeError")
      expect(error.message).toContain("id: expected string, got number")
    })
  )

  it.scoped("a non-JSON 502 body becomes ServerError with a short excerpt", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server, { retryPolicy: { maxAttempts: 1 } }))
      const html = `<html><body><h1>502 Bad Gateway</h1>${"x".repeat(2000)}</body></html>`
      server.script("/v1/script/gw", { status: 502, headers: { "content-type": "text/html" }, body: html })
      const error = yield* client
        .request({ method: "GET", route: "/v1/script/gw", auth: "none", response: Schema.Unknown })
        .pipe(Effect.flip)
      expect(error._tag).toBe("ServerError")
      if (error._tag === "ServerError") {
        expect(error.bodyExcerpt?.startsWith("<html><body><h1>502 Bad Gateway</h1>")).toBe(true)
        expect(error.bodyExcerpt?.length).toBeLessThanOrEqual(161)
        expect(error.status).toBe(502)
        expect(error.isRetryable).toBe(true)
      }
    })
  )

  it.scoped("no secret appears in errors, their JSON or string forms, sessions, or logs", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const logs: Array<string> = []
      const capture = Logger.make(({ message, annotations }) => {
        logs.push(JSON.stringify({ message, annotations: [...annotations] }))
      })
      const client = yield* build(clientLayer(server))
      const secretsOf = (s: Session.Session) => [PK, Redacted.value(s.accessToken), Redacted.value(s.refreshToken)]
      const run = Effect.gen(function* () {
        yield* signIn(client)
        const session = Option.getOrThrow(yield* client.session)
        // a hostile server that echoes credentials in its error message
        server.script("/v1/script/echo-secret", {
          status: 403,
          body: JSON.stringify({
            error: {
              code: "data/permission-denied",
              message: `denied for ${PK} ${Redacted.value(session.accessToken)}`
            }
          })
        })
        server.script("/v1/script/retry", { status: 429, headers: { "retry-after": "0" } }, { status: 200, body: "{}" })
        const e1 = yield* client
          .request({ method: "GET", route: "/v1/script/echo-secret", auth: "required", response: Schema.Unknown })
          .pipe(Effect.flip)
        yield* client.request({ method: "GET", route: "/v1/script/retry", auth: "required", response: Schema.Unknown })
        server.expireAccessTokens()
        yield* me(client)
        const refreshed = Option.getOrThrow(yield* client.session)
        server.validRefresh.clear()
        server.expireAccessTokens()
        const e2 = yield* me(client).pipe(Effect.flip)
        yield* Effect.logInfo("session", session, refreshed)
        return { errors: [e1, e2], sessions: [session, refreshed] }
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)), Logger.withMinimumLogLevel(LogLevel.All))
      const { errors, sessions } = yield* run
      expect(errors[0]?.message).toContain("denied for")
      const texts = [
        ...errors.flatMap((e) => [e.message, String(e), e.toString(), JSON.stringify(e)]),
        ...sessions.flatMap((s) => [JSON.stringify(s), String(s)]),
        ...logs
      ]
      expect(logs.length).toBeGreaterThan(0)
      for (const secret of sessions.flatMap(secretsOf)) {
        for (const text of texts) expect(text).not.toContain(secret)
      }
    })
  )
})

describe("BkendClient spans", () => {
  it.scoped("one span per call: method, route template, status, attempt; no query values, no headers", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(clientLayer(server))
      const { spans, tracer } = yield* recordingTracer
      server.script("/v1/script/rows", { status: 503 }, { status: 200, body: "[]" })
      const fiber = yield* client
        .request({
          method: "GET",
          route: "/v1/script/:name",
          params: { name: "rows" },
          query: { andFilters: '{"secret":"query-value"}' },
          auth: "none",
          response: Schema.Unknown
        })
        .pipe(Effect.withTracer(tracer), Effect.fork)
      yield* TestClock.adjust((yield* pendingSleep) - (yield* Clock.currentTimeMillis))
      yield* Fiber.join(fiber)
      expect(spans.map((s) => s.name)).toEqual(["bkend GET /v1/script/:name"])
      const attributes = Object.fromEntries(spans[0]?.attributes ?? [])
      expect(attributes).toMatchObject({
        "http.request.method": "GET",
        "http.route": "/v1/script/:name",
        "http.response.status_code": 200,
        attempt: 2
      })
      const text = JSON.stringify([...(spans[0]?.attributes ?? [])])
      expect(text).not.toContain("query-value")
      expect(text).not.toContain(PK)
      expect(server.hits("/v1/script/rows")).toBe(2)
    })
  )
})

describe("BkendClient config", () => {
  const fail = (options: Partial<BkendClient.Options>) =>
    BkendClient.make({ apiKey: Redacted.make(PK), ...options }).pipe(
      Effect.provide(FetchHttpClient.layer),
      Effect.flip,
      Effect.scoped
    )

  it.effect("invalid options fail at construction, naming the field", () =>
    Effect.gen(function* () {
      const url = yield* fail({ baseUrl: "not a url" })
      expect(url.field).toBe("baseUrl")
      expect(url.message).toContain("baseUrl")
      const key = yield* fail({ apiKey: Redacted.make("ak_123") })
      expect(key.field).toBe("apiKey")
      expect(key.message).not.toContain("ak_123")
      const timeout = yield* fail({ retryPolicy: { attemptTimeout: -1 } })
      expect(timeout.field).toBe("retryPolicy.attemptTimeout")
      const attempts = yield* fail({ retryPolicy: { maxAttempts: 0 } })
      expect(attempts.field).toBe("retryPolicy.maxAttempts")
      const margin = yield* fail({ refreshMargin: -5 })
      expect(margin.field).toBe("refreshMargin")
    })
  )

  it.effect("layerConfig reads Config values (the key as Redacted) and validates them", () =>
    Effect.gen(function* () {
      const layer = (env: Record<string, string>) =>
        BkendClient.layerConfig({
          apiKey: Config.redacted("BKEND_API_KEY"),
          baseUrl: Config.string("BKEND_API_URL")
        }).pipe(
          Layer.provide(FetchHttpClient.layer),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
        )
      const client = yield* Effect.provide(
        BkendClient.BkendClient,
        layer({ BKEND_API_KEY: PK, BKEND_API_URL: "http://127.0.0.1:9/" })
      )
      expect(client.config.baseUrl).toBe("http://127.0.0.1:9")
      expect(Redacted.value(client.config.apiKey)).toBe(PK)
      expect(String(client.config.apiKey)).not.toContain(PK)
      const missing = yield* Effect.provide(BkendClient.BkendClient, layer({ BKEND_API_URL: "http://x" })).pipe(
        Effect.flip
      )
      expect(String(missing)).toContain("BKEND_API_KEY")
      const invalid = yield* Effect.provide(
        BkendClient.BkendClient,
        layer({ BKEND_API_KEY: "nope", BKEND_API_URL: "http://x" })
      ).pipe(Effect.flip)
      expect(invalid._tag).toBe("InvalidConfig")
    })
  )

  it.effect("layer construction fails with InvalidConfig", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(
        BkendClient.layer({ apiKey: Redacted.make("nope"), baseUrl: "ftp://x" }).pipe(
          Layer.provide(FetchHttpClient.layer)
        )
      ).pipe(Effect.scoped, Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("baseUrl")
    })
  )
})
