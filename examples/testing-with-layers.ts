/**
 * How to test your own program that uses the SDK, two ways:
 *
 * 1. Mocked services: `Layer.mock` for `Auth` (only the methods the program calls) and `Layer.succeed` for an
 *    in-memory `Tables` — no HTTP at all, and failures you choose (here a 403 from bkend).
 * 2. The ready-made test layer from `bkend-effect/testing`: the real SDK on an in-process bkend-local (no socket),
 *    with the server itself available to read its state, outbox and counters.
 *
 *   npx tsx examples/testing-with-layers.ts
 */
import * as assert from "node:assert/strict"
import { Effect, Layer, Schema } from "effect"
import { Auth, Tables } from "bkend-effect"
import * as LocalServer from "bkend-effect/local"
import * as BkendTesting from "bkend-effect/testing"
import { BkendErrors } from "bkend-effect/testing"

// ---- the program under test: publish a post as the signed-in user -------------------------------------------

const Post = Schema.Struct({ title: Schema.String, author: Schema.String })

const publish = (title: string) =>
  Effect.gen(function* () {
    const me = yield* (yield* Auth.Auth).me
    const posts = (yield* Tables.Tables).table("posts", Post)
    const post = yield* posts.create({ data: { title, author: me.email } })
    return `${post.id}: "${post.title}" by ${post.author}`
  })

// ---- 1. mocked layers ---------------------------------------------------------------------------------------

const AuthMock = Layer.mock(Auth.Auth, {
  me: Effect.succeed({ id: "user-1", email: "ada@example.com" })
})

/** An in-memory `Tables` whose `create` stores rows; `fail` makes every write fail like bkend's RLS would. */
const tablesInMemory = (options: { readonly fail?: boolean }) => {
  const rows: Array<Record<string, unknown>> = []
  const table = (name: string) => ({
    create: ({ data }: { readonly data: Record<string, unknown> }) =>
      options.fail
        ? Effect.fail(BkendErrors.forbidden({ route: "/v1/data/:table" }))
        : Effect.sync(() => {
            const row = {
              ...data,
              id: String(rows.length + 1).padStart(24, "0"),
              createdBy: "user-1",
              createdAt: new Date(0).toISOString(),
              updatedAt: new Date(0).toISOString()
            }
            rows.push(row)
            return row
          }),
    name
  })
  // only `create` is used by the program; Layer.mock would also do, this shows a hand-written fake
  return { rows, layer: Layer.mock(Tables.Tables, { table: table as unknown as Tables.Service["table"] }) }
}

const mocked = Effect.gen(function* () {
  const ok = tablesInMemory({})
  const result = yield* publish("Hello").pipe(Effect.provide(Layer.merge(AuthMock, ok.layer)))
  assert.equal(result, `${"1".padStart(24, "0")}: "Hello" by ada@example.com`)
  assert.equal(ok.rows.length, 1)
  console.log(`  ✓ mocked: publish stores one row → ${result}`)

  const denied = tablesInMemory({ fail: true })
  const error = yield* publish("Nope").pipe(Effect.provide(Layer.merge(AuthMock, denied.layer)), Effect.flip)
  assert.equal(error._tag, "Forbidden")
  console.log(`  ✓ mocked: a Forbidden from bkend reaches the caller as ${error._tag} (${error.code})`)
})

// ---- 2. the in-process local server ------------------------------------------------------------------------

const inProcess = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  yield* auth.signUp({ email: "grace@example.com", password: "s3cret!pw", name: "Grace" })
  const result = yield* publish("From the local server")
  const server = yield* LocalServer.LocalServerTag
  const rows = server.local.state.tables.get("posts")?.rows
  assert.equal(rows?.size, 1)
  const counters = yield* server.counters
  assert.equal(counters.signUps, 1)
  console.log(`  ✓ in-process bkend-local: ${result} (server holds ${rows?.size} row, ${counters.requests} requests)`)
}).pipe(Effect.provide(BkendTesting.layer({ local: { devMode: true } })))

Effect.runPromise(
  Effect.gen(function* () {
    console.log("testing with layers")
    yield* mocked
    yield* inProcess
    console.log("all checks passed")
  })
).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("testing-with-layers failed:", error)
    process.exit(1)
  }
)
