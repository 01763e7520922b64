/**
 * Two bkend-local servers on one PostgreSQL database, each with its own connection pool (as two processes would):
 * they share keys, refuse a second sign-up of one e-mail, rotate a refresh token once, and answer a refresh storm
 * spread over both with one rotation and no replay (under the reuse interval).
 */
import { expect, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option } from "effect"
import * as PgStore from "../../../src/local/internal/pg/PgStore.js"
import { cliDefaults } from "../../../src/local/index.js"
import * as LocalServer from "../../../src/local/LocalServer.js"
import { Store } from "../../../src/local/Store.js"
import * as PgClient from "@effect/sql-pg/PgClient"
import { clientConfig, databaseLayer, TestDatabase } from "./db.js"

const instanceWith = (options?: Partial<LocalServer.LocalOptions>) =>
  Effect.gen(function* () {
    const name = yield* TestDatabase
    const ctx = yield* Layer.build(PgStore.layer.pipe(Layer.provide(PgClient.layer(clientConfig(name)))))
    const server = yield* Effect.provideService(LocalServer.makeOnStore(options), Store, Context.get(ctx, Store))
    return { server, fetch: LocalServer.toWebHandler(server) }
  })

const instance = instanceWith()

type Instance = Effect.Effect.Success<typeof instance>

const post = (i: Instance, path: string, body: unknown) =>
  Effect.promise(async () => {
    const res = await i.fetch(
      new Request(`${LocalServer.inProcessBaseUrl}${path}`, {
        method: "POST",
        headers: { "x-api-key": i.server.keys.publishable, "content-type": "application/json" },
        body: JSON.stringify(body)
      })
    )
    return { status: res.status, json: (await res.json()) as { data?: Record<string, unknown> } }
  })

const signUpBody = (email: string) => ({ method: "password", email, password: "Passw0rd!", name: "Twin" })

layer(databaseLayer, { timeout: 60_000, excludeTestServices: true })("two instances on one database", (it) => {
  it.scoped("share the keys stored by the first", () =>
    Effect.gen(function* () {
      const a = yield* instance
      const b = yield* instance
      expect(b.server.keys).toEqual(a.server.keys)
      expect(a.server.keys.publishable).toMatch(/^pk_/)
    })
  )

  it.scoped("one e-mail signed up on both at once: exactly one 201, the other 409", () =>
    Effect.gen(function* () {
      const a = yield* instance
      const b = yield* instance
      for (let trial = 0; trial < 8; trial++) {
        const email = `twin-${trial}-${crypto.randomUUID()}@example.com`
        const replies = yield* Effect.all(
          [post(a, "/v1/auth/email/signup", signUpBody(email)), post(b, "/v1/auth/email/signup", signUpBody(email))],
          {
            concurrency: 2
          }
        )
        expect(replies.map((r) => r.status).sort()).toEqual([201, 409])
      }
    })
  )

  it.scoped("one refresh token sent to both at once: one rotation, the other a replay that ends the session", () =>
    Effect.gen(function* () {
      const a = yield* instance
      const b = yield* instance
      for (let trial = 0; trial < 8; trial++) {
        const signedUp = yield* post(a, "/v1/auth/email/signup", signUpBody(`pair-${crypto.randomUUID()}@example.com`))
        const refreshToken = signedUp.json.data?.refreshToken
        const replies = yield* Effect.all(
          [post(a, "/v1/auth/refresh", { refreshToken }), post(b, "/v1/auth/refresh", { refreshToken })],
          { concurrency: 2 }
        )
        expect(replies.map((r) => r.status).sort()).toEqual([200, 401])
        // the replay ended every session: the rotated pair is dead too
        const winner = replies.find((r) => r.status === 200)
        const next = yield* post(b, "/v1/auth/refresh", { refreshToken: winner?.json.data?.refreshToken })
        expect(next.status).toBe(401)
      }
      const counters = yield* a.server.counters
      expect([counters.refreshSucceeded, counters.replaysDetected]).toEqual([8, 8])
    })
  )

  it.scoped("a refresh storm over both under the command's reuse interval: one rotation, no replay", () =>
    Effect.gen(function* () {
      const a = yield* instanceWith(cliDefaults)
      const b = yield* instanceWith(cliDefaults)
      const before = yield* a.server.counters
      const signedUp = yield* post(a, "/v1/auth/email/signup", signUpBody(`storm-${crypto.randomUUID()}@example.com`))
      const refreshToken = signedUp.json.data?.refreshToken
      // eight callers that each refresh on their own, alternating instances, all with the same token
      const replies = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => post(i % 2 === 0 ? a : b, "/v1/auth/refresh", { refreshToken })),
        { concurrency: "unbounded" }
      )
      expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200))
      // every caller holds the one current refresh token
      expect(new Set(replies.map((r) => r.json.data?.refreshToken)).size).toBe(1)
      const after = yield* b.server.counters
      expect({
        rotations: after.refreshSucceeded - before.refreshSucceeded,
        reuses: after.refreshReuses - before.refreshReuses,
        replays: after.replaysDetected - before.replaysDetected
      }).toEqual({ rotations: 1, reuses: 7, replays: 0 })
    })
  )

  it.scoped("a refresh and an organization switch of one session at once: one active refresh token remains", () =>
    Effect.gen(function* () {
      const a = yield* instance
      const b = yield* instance
      const name = yield* TestDatabase
      const raw = Context.get(yield* Layer.build(PgClient.layer(clientConfig(name))), PgClient.PgClient)
      const email = `org-${crypto.randomUUID()}@example.com`
      yield* post(a, "/v1/auth/email/signup", signUpBody(email))
      const user = Option.getOrThrow(yield* a.server.store.users.getByEmail(email))
      const [session] = yield* a.server.store.sessions.listByUser(user.id)
      const sessionId = session!.id
      const oldJti = session!.refreshJti
      const next = () => ({ jti: crypto.randomUUID(), issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000 })
      const waiting = (n: number) =>
        Effect.repeat(
          raw<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          { until: (rows) => (rows[0]?.n ?? 0) >= n }
        )
      // the token row is held (on its own connection) while the rotation, then the switch queue for it
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        raw.withTransaction(
          Effect.gen(function* () {
            yield* raw`SELECT 1 FROM bkend_refresh_tokens WHERE jti = ${oldJti} FOR UPDATE`
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
          })
        )
      )
      yield* Deferred.await(locked)
      const rotation = yield* Effect.fork(a.server.store.lineage.rotate(oldJti, next, Date.now()))
      yield* waiting(1)
      const reissue = yield* Effect.fork(
        b.server.store.lineage.reissue(sessionId, (s) => ({ ...s, organizationId: "org-2" }), next)
      )
      yield* waiting(2)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect((yield* Fiber.join(rotation))._tag).toBe("Rotated")
      const reissued = Option.getOrThrow(yield* Fiber.join(reissue))
      const active = yield* raw<{ jti: string }>`SELECT jti FROM bkend_refresh_tokens
        WHERE session_id = ${sessionId} AND data ->> 'status' = 'active'`
      expect(active.map((r) => r.jti)).toEqual([reissued.token.jti])
    })
  )
})
