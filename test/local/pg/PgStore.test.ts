/**
 * The PostgreSQL engine: the shared Store contract, its migrations, and what must hold with several server
 * processes on one database (each store below has its own connection pool, as an instance would).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { migrate } from "../../../src/local/internal/pg/migrations.js"
import * as PgStore from "../../../src/local/internal/pg/PgStore.js"
import { Store } from "../../../src/local/Store.js"
import { signedIn, storeContract, userRecord } from "../storeContract.js"
import { clientConfig, clientLayer, databaseLayer, TestDatabase } from "./db.js"

storeContract("PostgreSQL", PgStore.layer.pipe(Layer.provide(clientLayer)))

const pool = (database: string) => PgClient.layer(clientConfig(database))

/** A second, independent store on the same database (another "instance"). */
const otherInstance = Effect.flatMap(TestDatabase, (name) =>
  Effect.map(Layer.build(PgStore.layer.pipe(Layer.provide(pool(name)))), (ctx) => Context.get(ctx, Store))
)

layer(databaseLayer, { timeout: 60_000, excludeTestServices: true })("PgStore migrations", (it) => {
  it.scoped("apply to an empty database once; running them again applies nothing", () =>
    Effect.gen(function* () {
      const name = yield* TestDatabase
      const first = yield* Effect.provide(migrate, pool(name))
      expect(first.map(([id, label]) => `${id}_${label}`)).toEqual(["1_core", "2_data", "3_files"])
      expect(yield* Effect.provide(migrate, pool(name))).toEqual([])
    })
  )
})

layer(databaseLayer, { timeout: 60_000, excludeTestServices: true })("PgStore instances migrating at once", (it) => {
  it.scoped("each migration runs exactly once", () =>
    Effect.gen(function* () {
      const name = yield* TestDatabase
      const runs = yield* Effect.all(
        [0, 1, 2].map(() => Effect.provide(migrate, pool(name))),
        { concurrency: "unbounded" }
      )
      expect(
        runs
          .flat()
          .map(([id]) => id)
          .sort()
      ).toEqual([1, 2, 3])
    })
  )
})

layer(Layer.provideMerge(PgStore.layer, clientLayer), { timeout: 60_000, excludeTestServices: true })(
  "PgStore with two instances",
  (it) => {
    describe("one refresh token presented to both at once", () => {
      it.scoped("rotates once; the other sees a replay and every session is revoked", () =>
        Effect.gen(function* () {
          const other = yield* otherInstance
          for (let trial = 0; trial < 12; trial++) {
            const { store, token, session } = yield* signedIn()
            const next = () => ({ jti: crypto.randomUUID(), issuedAt: 0, expiresAt: session.expiresAt })
            const outcomes = yield* Effect.all(
              [store.lineage.rotate(token.jti, next, 1), other.lineage.rotate(token.jti, next, 1)],
              { concurrency: 2 }
            )
            expect(outcomes.map((o) => o._tag).sort()).toEqual(["Replayed", "Rotated"])
            const after = yield* store.sessions.get(session.id)
            expect(after._tag === "Some" && after.value.revokedAt).toBe(1)
          }
        })
      )
    })
    describe("one e-mail signed up on both at once", () => {
      it.scoped("exactly one insert succeeds, the other is a DuplicateKey", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const other = yield* otherInstance
          for (let trial = 0; trial < 12; trial++) {
            const email = `race-${trial}-${crypto.randomUUID()}@example.com`
            const results = yield* Effect.all(
              [store.users.insert(userRecord({ email })), other.users.insert(userRecord({ email }))].map((e) =>
                Effect.either(e)
              ),
              { concurrency: 2 }
            )
            expect(results.map((r) => (r._tag === "Right" ? "inserted" : r.left._tag)).sort()).toEqual([
              "DuplicateKey",
              "inserted"
            ])
          }
        })
      )
    })
  }
)
