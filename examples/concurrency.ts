/**
 * 100 concurrent authenticated requests across an access-token expiry: one refresh, no replay.
 *
 * The embedded server issues 4-second access tokens. After one expires, 100 calls start at once: the first
 * sends the only refresh, the other 99 wait for it and go out with the new token (calls that meet a 401
 * instead — e.g. when the server's clock runs ahead — take the same gate). The docs' `bkendFetch` helper would
 * send up to 100 refreshes with the same refresh token, and bkend answers the second one by revoking every
 * session of the user.
 *
 *   npx tsx examples/concurrency.ts
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Option, Schema } from "effect"
import { Auth, Bkend, Tables } from "bkend-effect"
import { target, uniqueEmail } from "./shared.js"

const N = 100

const program = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  const notes = (yield* Tables.Tables).table("notes", Schema.Struct({ text: Schema.String }))
  yield* auth.signUp({ email: uniqueEmail("storm"), password: "s3cret!pw", name: "Storm" })
  yield* notes.create({ data: { text: "first" } })
  const before = Option.getOrThrow(yield* auth.session)
  const storm = Effect.all(
    Array.from({ length: N }, (_, i) => (i % 2 === 0 ? notes.list({ limit: 5 }) : auth.me)),
    { concurrency: "unbounded" }
  )
  let started = performance.now()
  yield* storm
  console.log(`${N} concurrent calls with a fresh token: ${(performance.now() - started).toFixed(0)} ms`)
  const wait = Math.max(0, before.expiresAt - Date.now()) + 200
  console.log(`waiting ${(wait / 1000).toFixed(1)} s for the access token to expire…`)
  yield* Effect.sleep(wait)
  started = performance.now()
  const results = yield* storm
  const elapsed = performance.now() - started
  const after = Option.getOrThrow(yield* auth.session)
  console.log(`${results.length}/${N} concurrent calls across the expiry: ${elapsed.toFixed(0)} ms`)
  console.log(`session rotated: ${after.expiresAt > before.expiresAt}`)
})

const main = Effect.gen(function* () {
  // refreshMargin 0: no early refresh, the token really expires before the storm
  const env = yield* target({ local: { devMode: true, accessTokenTtlSeconds: 4 } })
  console.log(`bkend-effect concurrency — ${env.description}`)
  // the SDK: one layer for every service, on Node's undici HTTP client
  const BkendLive = Bkend.layer({ apiKey: env.apiKey, baseUrl: env.baseUrl, refreshMargin: 0 }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  yield* Effect.provide(program, BkendLive)
  if (Option.isSome(env.local)) {
    const c = yield* env.local.value.counters
    console.log(
      `server counters: refresh requests ${c.refreshCalls}, refreshes succeeded ${c.refreshSucceeded}, replays detected ${c.replaysDetected}, 401s ${c.byStatus["401"] ?? 0}`
    )
    if (c.refreshCalls !== 1 || c.replaysDetected !== 0) {
      throw new Error(`expected exactly one refresh and no replay, got ${c.refreshCalls} and ${c.replaysDetected}`)
    }
  }
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("concurrency example failed:", error)
    process.exit(1)
  }
)
