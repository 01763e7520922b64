/**
 * How to test your own program that uses the SDK, with vitest and @effect/vitest, three ways:
 *
 * 1. Mocks: `TableMock` for the table the program uses (typed by its row schema, every method you do not give
 *    dies naming itself) and `Layer.mock` for `Auth`; failures from `BkendErrors` (here a 403 from bkend).
 * 2. In-memory fakes: `InMemory.layer()` is the SDK's own `Tables` and `Files` on maps instead of a server, with
 *    what they hold readable through `InMemory.Store`.
 * 3. The real SDK on an in-process bkend-local (no socket): `BkendTesting.layer(…)`, the server itself readable
 *    through `LocalServer.LocalServerTag`.
 *
 *   npx vitest run examples/testing-with-layers.ts
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Auth, Tables } from "bkend-effect"
import * as LocalServer from "bkend-effect/local"
import * as BkendTesting from "bkend-effect/testing"
import { BkendErrors, InMemory, TableMock } from "bkend-effect/testing"

// ---- the program under test: publish a post as the signed-in user -------------------------------------------

const Post = Schema.Struct({ title: Schema.String, author: Schema.String })

const publish = (title: string) =>
  Effect.gen(function* () {
    const me = yield* (yield* Auth.Auth).me
    const posts = (yield* Tables.Tables).table("posts", Post)
    const post = yield* posts.create({ data: { title, author: me.email } })
    return `${post.id}: "${post.title}" by ${post.author}`
  })

const SignedIn = Layer.mock(Auth.Auth, { me: Effect.succeed({ id: "user-1", email: "ada@example.com" }) })

// ---- 1. mocks -----------------------------------------------------------------------------------------------

describe("with mocks", () => {
  it.effect("publish creates the post it is given", () =>
    Effect.gen(function* () {
      expect(yield* publish("Hello")).toBe('post-1: "Hello" by ada@example.com')
    }).pipe(
      Effect.provide(SignedIn),
      Effect.provide(
        TableMock.layer(
          // `data` is typed from Post: { title: string; author: string }
          TableMock.make("posts", Post, { create: ({ data }) => Effect.succeed({ ...data, id: "post-1" }) })
        )
      )
    )
  )

  it.effect("a Forbidden from bkend reaches the caller by its tag", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(publish("Nope"))
      expect(error._tag).toBe("Forbidden")
      expect(error.code).toBe("data/permission-denied")
    }).pipe(
      Effect.provide(SignedIn),
      Effect.provide(
        TableMock.layer(TableMock.make("posts", Post, { create: () => Effect.fail(BkendErrors.forbidden()) }))
      )
    )
  )
})

// ---- 2. in-memory fakes -------------------------------------------------------------------------------------

describe("with the in-memory fakes", () => {
  it.effect("publish stores one row, which lists like any other", () =>
    Effect.gen(function* () {
      const result = yield* publish("Hello")
      const rows = (yield* InMemory.Store).rows("posts")
      expect(rows).toHaveLength(1)
      expect(result).toBe(`${rows[0]?.id}: "Hello" by ada@example.com`)
      const mine = yield* (yield* Tables.Tables).table("posts", Post).list({ filter: { author: "ada@example.com" } })
      expect(mine.items.map((p) => p.title)).toEqual(["Hello"])
    }).pipe(Effect.provide(SignedIn), Effect.provide(InMemory.layer()))
  )
})

// ---- 3. the in-process local server -------------------------------------------------------------------------

layer(BkendTesting.layer({ local: { devMode: true } }))("against the in-process bkend-local", (it) => {
  it.effect("a signed-up user publishes; the server holds the row", () =>
    Effect.gen(function* () {
      yield* (yield* Auth.Auth).signUp({ email: "grace@example.com", password: "s3cret!pw", name: "Grace" })
      const result = yield* publish("From the local server")
      expect(result).toMatch(/^[0-9a-f]{24}: "From the local server" by grace@example\.com$/)
      const server = yield* LocalServer.LocalServerTag
      expect(server.local.state.tables.get("posts")?.rows.size).toBe(1)
      expect((yield* server.counters).signUps).toBe(1)
    })
  )
})
