/**
 * Regression tests for the refresh coordinator and the session core, one per fault the review reproduced: each
 * would present a refresh token twice, lose the session, undo a sign-out, wait past a deadline or leak a token
 * on the previous core. The model-based suite explores their interleavings; these pin each case down.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schema,
  type Scope,
  Stream,
  TestClock
} from "effect"
import * as Auth from "../src/Auth.js"
import * as BkendClient from "../src/BkendClient.js"
import * as Refresh from "../src/internal/refresh.js"
import * as Session from "../src/Session.js"
import * as Local from "./utils/bkend.js"
import { me, signIn } from "./utils/scriptedClient.js"
import * as Scripted from "./utils/scriptedServer.js"
import { recordingTracer } from "./utils/tracing.js"

const PK = `pk_${"c3".repeat(32)}`

const build = (
  server: Scripted.ScriptedServer,
  options: Partial<BkendClient.Options> = {},
  context: Layer.Layer<never> = Layer.empty
): Effect.Effect<BkendClient.Service, never, Scope.Scope> =>
  Effect.map(
    Layer.build(
      BkendClient.layer({ apiKey: Redacted.make(PK), baseUrl: server.url, ...options }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(context),
        Layer.orDie
      )
    ),
    (ctx) => Context.get(ctx, BkendClient.BkendClient)
  )

const until = (predicate: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5))
    if (!predicate()) throw new Error("condition not reached")
  })

const signOuts = (client: BkendClient.Service) =>
  Session.changes(client).pipe(
    Stream.filter((c) => c._tag === "SignedOut"),
    Stream.map((c) => (c._tag === "SignedOut" ? c.reason : "")),
    Stream.take(1),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.fork
  )

const fast = { retryPolicy: { maxAttempts: 1, attemptTimeout: "1 second", totalTimeout: "4 seconds" } } as const

/** A TokenStore over a plain variable, with hooks to slow or drop its operations. */
const memoryStore = (hooks: {
  readonly get?: (stored: Option.Option<Session.Session>) => Effect.Effect<Option.Option<Session.Session>>
  readonly set?: (session: Session.Session, save: Effect.Effect<void>) => Effect.Effect<void>
  readonly clear?: (save: Effect.Effect<void>) => Effect.Effect<void>
}) => {
  const log: Array<string> = []
  let stored = Option.none<Session.Session>()
  const store: Session.TokenStore["Type"] = {
    get: Effect.suspend(() => (hooks.get ?? Effect.succeed)(stored)),
    set: (session) => {
      const save = Effect.sync(() => {
        stored = Option.some(session)
        log.push(`set ${Redacted.value(session.accessToken)}`)
      })
      return hooks.set ? hooks.set(session, save) : save
    },
    clear: Effect.suspend(() => {
      const save = Effect.sync(() => {
        stored = Option.none()
        log.push("clear")
      })
      return hooks.clear ? hooks.clear(save) : save
    })
  }
  return { log, layer: Layer.succeed(Session.TokenStore, store), stored: () => stored }
}

describe("refresh: a token whose outcome is unknown is never presented again", () => {
  for (const lost of ["hang", "reset", "undecodable"] as const) {
    it.live(`the answer is lost after rotation (${lost}): 20 queued callers, one presentation, no replay`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* Scripted.start
          const client = yield* build(server, fast)
          const ended = yield* signOuts(client)
          yield* client.setTokens(server.issue())
          server.expireAccessTokens()
          server.refreshAfterRotate = lost
          const exits = yield* Effect.all(
            Array.from({ length: 20 }, () => Effect.exit(me(client))),
            { concurrency: "unbounded" }
          )
          expect(exits.every(Exit.isFailure)).toBe(true)
          // later calls do not present it either
          yield* Effect.exit(me(client))
          expect(server.counters.refresh).toBe(1)
          expect(server.counters.replays).toBe(0)
          // the access token was rejected after the refresh was in doubt: the session ended with its own reason
          expect(Option.isNone(yield* client.session)).toBe(true)
          expect(yield* Fiber.join(ended)).toEqual(["refresh-in-doubt"])
        })
      )
    )
  }

  it.scoped("one call: a failed proactive refresh is its one refresh (no second one on the 401 that follows)", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { refreshMargin: "60 seconds", retryPolicy: { maxAttempts: 1 } })
      yield* client.setTokens({ ...server.issue(), expiresIn: 200 })
      yield* TestClock.adjust("150 seconds")
      server.expireAccessTokens()
      server.refreshFailure = { status: 503, body: "upstream down" }
      const error = yield* me(client).pipe(Effect.flip)
      expect(error._tag).toBe("Unauthorized")
      expect(server.counters.refresh).toBe(1)
      expect(server.counters.replays).toBe(0)
    })
  )

  it.live("interrupting the caller that leads the refresh ends only its own wait", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
        yield* signIn(client)
        server.expireAccessTokens()
        server.refreshDelayMs = 300
        const leader = yield* Effect.fork(me(client))
        yield* until(() => server.counters.refresh === 1)
        const waiter = yield* Effect.fork(me(client))
        // the caller that started the refresh gives up (a timeout, a race, an aborted request handler)
        yield* Fiber.interrupt(leader)
        expect((yield* Fiber.join(waiter)).id).toBe("u1")
        expect(server.counters.refresh).toBe(1)
        expect(server.counters.replays).toBe(0)
        expect(Option.isSome(yield* client.session)).toBe(true)
      })
    )
  )

  it.live("a hung refresh endpoint: one presentation; every caller ends by its own deadline", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(server, {
          retryPolicy: { maxAttempts: 1, attemptTimeout: "10 seconds", totalTimeout: "1 second" }
        })
        yield* client.setTokens(server.issue())
        server.expireAccessTokens()
        server.refreshAfterRotate = "hang"
        const errors = yield* Effect.all(
          Array.from({ length: 5 }, () => Effect.flip(me(client))),
          { concurrency: "unbounded" }
        )
        expect(errors.map((e) => e._tag).every((t) => t === "NetworkError" || t === "Unauthorized")).toBe(true)
        expect(errors.some((e) => e._tag === "NetworkError" && e.message.startsWith("call timed out"))).toBe(true)
        expect(server.counters.refresh).toBe(1)
        expect(server.counters.replays).toBe(0)
      })
    )
  )
})

describe("session epochs: memory is authoritative", () => {
  it.live("a sign-out while the refresh reads a slow store is not undone", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        let reading = 0
        const store = memoryStore({
          get: (stored) =>
            Effect.zipRight(
              Effect.sync(() => reading++),
              Effect.as(Effect.sleep("150 millis"), stored)
            )
        })
        const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } }, store.layer)
        yield* signIn(client)
        server.expireAccessTokens()
        const readsBefore = reading
        const call = yield* Effect.fork(Effect.exit(me(client)))
        yield* until(() => reading > readsBefore)
        yield* client.clearSession("sign-out")
        expect(Exit.isFailure(yield* Fiber.join(call))).toBe(true)
        yield* Effect.sleep("50 millis")
        expect(Option.isNone(yield* client.session)).toBe(true)
        expect(Option.isNone(store.stored())).toBe(true)
        expect(store.log.at(-1)).toBe("clear")
        expect(server.counters.replays).toBe(0)
      })
    )
  )

  it.live("adopting another user's session while a refresh is in flight: the refresh does not overwrite it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const store = memoryStore({})
        const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } }, store.layer)
        yield* signIn(client)
        server.expireAccessTokens()
        server.refreshDelayMs = 200
        const call = yield* Effect.fork(Effect.exit(me(client)))
        yield* until(() => server.counters.refresh === 1)
        const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`
        const now = Math.floor(Date.now() / 1000)
        const other = Session.fromTokenResponse(
          {
            accessToken: jwt({ sub: "u2", sid: "s2", iat: now, exp: now + 3600 }),
            refreshToken: jwt({ sub: "u2", sid: "s2", typ: "refresh" }),
            expiresIn: 3600
          },
          Date.now() + 1
        )
        yield* client.adopt(Option.some(other))
        yield* Fiber.join(call)
        yield* until(() => server.refreshAnswered === 1)
        yield* Effect.sleep("50 millis")
        const current = Option.getOrThrow(yield* client.session)
        expect(Redacted.value(current.accessToken)).toBe(Redacted.value(other.accessToken))
        // the store still holds what this client wrote last (the sign-in): the discarded refresh wrote nothing
        expect(store.log.filter((l) => l.startsWith("set"))).toHaveLength(1)
      })
    )
  )

  it.scoped("a failed store write does not bring back the older stored pair", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      let writes = 0
      // the first write lands, every later one is lost (a full localStorage, logged by the store)
      const store = memoryStore({ set: (_, save) => (writes++ === 0 ? save : Effect.void) })
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } }, store.layer)
      yield* signIn(client)
      for (let i = 0; i < 2; i++) {
        yield* TestClock.adjust("1 second")
        server.expireAccessTokens()
        expect((yield* me(client)).id).toBe("u1")
      }
      expect(server.counters.refresh).toBe(2)
      expect(server.counters.replays).toBe(0)
    })
  )

  it.scoped("a store that never persists: the refresh still presents and the session goes on", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const store = memoryStore({ get: () => Effect.succeedNone, set: () => Effect.void })
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } }, store.layer)
      yield* signIn(client)
      server.expireAccessTokens()
      expect((yield* me(client)).id).toBe("u1")
      expect(server.counters.refresh).toBe(1)
      expect(Option.isSome(yield* client.session)).toBe(true)
    })
  )

  it.live("a sign-out issued while a refresh is in flight returns at once", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
        const auth = yield* Effect.provideService(Auth.make, BkendClient.BkendClient, client)
        yield* signIn(client)
        server.expireAccessTokens()
        server.refreshDelayMs = 1000
        const call = yield* Effect.fork(Effect.exit(me(client)))
        yield* until(() => server.counters.refresh === 1)
        // the server answers the sign-out 401 (the token expired): that is no reason to wait for the refresh
        yield* Effect.exit(auth.signOut)
        expect(server.refreshAnswered).toBe(0)
        expect(Option.isNone(yield* client.session)).toBe(true)
        expect(Exit.isFailure(yield* Fiber.join(call))).toBe(true)
        expect(Option.isNone(yield* client.session)).toBe(true)
      })
    )
  )
})

describe("store writes are never abandoned halfway", () => {
  // through Auth.signOut (the local clear in its finalizer) and through clearSession itself
  for (const via of ["Auth.signOut", "clearSession"] as const) {
    it.live(`a sign-out (${via}) interrupted while the store is being cleared still clears it`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* Scripted.start
          const clearing = yield* Deferred.make<void>()
          const proceed = yield* Deferred.make<void>()
          const store = memoryStore({
            clear: (save) =>
              Deferred.succeed(clearing, undefined).pipe(
                Effect.zipRight(Deferred.await(proceed)),
                Effect.zipRight(save)
              )
          })
          const client = yield* build(server, fast, store.layer)
          const auth = yield* Effect.provideService(Auth.make, BkendClient.BkendClient, client)
          yield* signIn(client)
          const signOut = yield* Effect.fork(via === "Auth.signOut" ? auth.signOut : client.clearSession("sign-out"))
          yield* Deferred.await(clearing)
          // the caller gives up (a timeout, a race) while the local clear is writing to the store: other tabs
          // and processes read that store, and must not find the session this client ended
          yield* Fiber.interruptFork(signOut)
          yield* Effect.sleep("20 millis")
          yield* Deferred.succeed(proceed, undefined)
          yield* Fiber.await(signOut)
          expect(Option.isNone(yield* client.session)).toBe(true)
          expect(Option.isNone(store.stored())).toBe(true)
          expect(store.log.at(-1)).toBe("clear")
        })
      )
    )
  }
})

describe("secrets and deadlines", () => {
  it.scoped("a non-JSON error body is scrubbed before it is cut: no part of a token straddling the cut", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
      yield* signIn(client)
      const token = Redacted.value(Option.getOrThrow(yield* client.session).accessToken)
      // the token starts 10 characters before the 160-character excerpt ends
      server.script("/v1/script/cut", { status: 502, body: `${"x".repeat(150)}${token} tail` })
      const error = yield* client
        .request({ method: "GET", route: "/v1/script/cut", auth: "required", response: Schema.Unknown })
        .pipe(Effect.flip)
      const text = JSON.stringify(error) + String(error)
      expect(text).not.toContain(token.slice(0, 10))
    })
  )

  it.scoped("an error answered to the previous access token after a concurrent refresh keeps no token", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
      yield* signIn(client)
      const old = Redacted.value(Option.getOrThrow(yield* client.session).accessToken)
      server.expireAccessTokens()
      yield* me(client) // refreshed: `old` is no longer the session's
      server.script("/v1/script/echo", { status: 500, body: `upstream saw ${old}` })
      const error = yield* client
        .request({ method: "GET", route: "/v1/script/echo", auth: "optional", response: Schema.Unknown })
        .pipe(Effect.flip)
      expect(JSON.stringify(error) + String(error)).not.toContain(old)
    })
  )

  it.scoped("no span ends with a raw token (sign-in and refresh)", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const { spans, tracer } = yield* recordingTracer
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
      const run = Effect.gen(function* () {
        yield* signIn(client)
        server.expireAccessTokens()
        yield* me(client)
        return yield* client.refresh
      })
      const last = yield* run.pipe(Effect.withTracer(tracer))
      const tokens = [...server.validAccess, ...server.validRefresh, Redacted.value(last.refreshToken)]
      expect(tokens.length).toBeGreaterThan(0)
      expect(spans.some((s) => s.name === "bkend POST /v1/auth/refresh")).toBe(true)
      for (const span of spans) {
        const ended = span.status._tag === "Ended" ? span.status.exit : undefined
        const text = `${JSON.stringify(ended)} ${String(ended)} ${JSON.stringify([...span.attributes])}`
        for (const token of tokens) expect(text).not.toContain(token)
      }
    })
  )

  it.live("storage transfers honour totalTimeout", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* Scripted.start
        const client = yield* build(server, {
          retryPolicy: { maxAttempts: 3, attemptTimeout: "10 seconds", totalTimeout: "300 millis" }
        })
        const put = yield* client
          .storagePut({ url: `${server.url}/v1/hang`, body: new Uint8Array(8) })
          .pipe(Effect.flip)
        const get = yield* client.storageGet(`${server.url}/v1/hang`).pipe(Effect.flip)
        for (const error of [put, get]) {
          expect(error._tag).toBe("NetworkError")
          // the transfer's deadline ended it, not the 10 s attempt timeout
          expect(error.message).toContain("300")
        }
      })
    )
  )

  it.scoped("without expiresIn, expiry is the token's lifetime from receipt, whatever the device clock says", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { retryPolicy: { maxAttempts: 1 } })
      // the device is two hours ahead of the server that issued a 15-minute token
      const iat = 1_800_000_000
      yield* TestClock.setTime((iat + 7200) * 1000)
      const issued = server.issue()
      const jwt = `h.${Buffer.from(JSON.stringify({ sub: "u1", iat, exp: iat + 900 })).toString("base64url")}.s`
      server.validAccess.add(jwt)
      yield* client.setTokens({ accessToken: jwt, refreshToken: issued.refreshToken })
      expect((yield* me(client)).id).toBe("u1")
      expect((yield* me(client)).id).toBe("u1")
      expect(server.counters.refresh).toBe(0)
    })
  )
})

/** A transport that loses the answer of the next `lose.count` refreshes after the server has processed them. */
const losingRefreshAnswers = (lose: { count: number }) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (http) =>
      HttpClient.transform(http, (response, request) =>
        request.url.endsWith("/v1/auth/refresh") && lose.count-- > 0
          ? Effect.flatMap(response, (res) =>
              Effect.zipRight(
                res.text,
                Effect.fail(
                  new HttpClientError.RequestError({
                    request,
                    reason: "Transport",
                    description: "reset after the answer"
                  })
                )
              )
            )
          : response
      )
    )
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

const localClient = (lose: { count: number }, options: Local.ClientOptions = {}) =>
  Effect.gen(function* () {
    // the transport lives as long as the test's scope (the client sends through it after construction)
    const transport = yield* Layer.build(losingRefreshAnswers(lose))
    const client = yield* Effect.flatMap(Local.clientOptions("pk", options), BkendClient.make).pipe(
      Effect.provide(transport),
      Effect.orDie
    )
    const tokens = yield* client.request({
      method: "POST",
      route: "/v1/auth/email/signup",
      body: { method: "password", email: Local.uniqueEmail("reuse"), password: "Passw0rd!", name: "R" },
      auth: "none",
      response: Session.TokenResponse
    })
    yield* client.setTokens(tokens)
    return client
  })

const UserMe = Schema.Struct({ id: Schema.String })

describe("reuse window, against bkend-local", () => {
  it.live("opt-in: a refresh whose answer was lost is presented once more inside the window and recovers", () =>
    Effect.gen(function* () {
      const client = yield* localClient({ count: 1 }, { refreshReuseWindow: "30 seconds" })
      const before = Option.getOrThrow(yield* client.session)
      const after = yield* client.refresh
      expect(Redacted.value(after.refreshToken)).not.toBe(Redacted.value(before.refreshToken))
      yield* client.refresh // the recovered refresh token rotates normally
      yield* client.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: UserMe })
      const counters = yield* Local.counters
      expect(counters.refreshReuses).toBe(1)
      expect(counters.replaysDetected).toBe(0)
    }).pipe(Effect.provide(Local.localLayer({ refreshReuseIntervalSeconds: 30 })), Effect.scoped)
  )

  it.live("strict (default): the lost refresh retires the token; it is never presented again", () =>
    Effect.gen(function* () {
      const client = yield* localClient({ count: 1 })
      expect((yield* Effect.flip(client.refresh))._tag).toBe("NetworkError")
      yield* Effect.exit(client.refresh)
      const session = Option.getOrThrow(yield* client.session)
      expect(session.refreshRetired).toBe(true)
      // the access token is still good: the session goes on
      yield* client.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: UserMe })
      const counters = yield* Local.counters
      expect(counters.refreshCalls).toBe(1)
      expect(counters.replaysDetected).toBe(0)
    }).pipe(Effect.provide(Local.localLayer()), Effect.scoped)
  )

  it.live("negative control: with AllowInDoubtResend the lost refresh is replayed and the server revokes", () =>
    Effect.gen(function* () {
      const client = yield* localClient({ count: 1 }).pipe(Effect.provideService(Refresh.AllowInDoubtResend, true))
      yield* Effect.exit(client.refresh)
      yield* Effect.exit(client.refresh)
      expect((yield* Local.counters).replaysDetected).toBe(1)
    }).pipe(Effect.provide(Local.localLayer()), Effect.scoped)
  )
})
