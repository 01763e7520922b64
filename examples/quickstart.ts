/**
 * The bkend "integrate in your app" page, through the SDK: sign up (unauthenticated), create a post
 * (authenticated), list posts with pagination, one filtered list, and the page's error table — a 403 and a 404
 * caught by tag.
 *
 * Runs against an embedded bkend-local by default; set BKEND_API_URL and BKEND_API_KEY to use a real bkend
 * (the project needs a `posts` table with title/content/published).
 *
 *   npm start
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Option, Schema } from "effect"
import { Auth, Bkend, Tables } from "bkend-effect"
import { target, timed, uniqueEmail } from "./shared.js"

const Post = Schema.Struct({
  title: Schema.String,
  content: Schema.String,
  published: Schema.optional(Schema.Boolean)
})

/** The embedded server's `posts` table: users create and read; only the author may change a post. */
const posts = {
  name: "posts",
  columns: {
    title: { type: "string", required: true },
    content: { type: "string" },
    published: { type: "boolean" }
  },
  permissions: {
    user: { create: true, read: true, list: true },
    guest: { read: true, list: true },
    self: { read: true, update: true, delete: true, list: true }
  }
} as const

/** The quickstart's expectations: a broken one fails the run (non-zero exit), it is not just printed. */
const expect = (holds: boolean, what: string) =>
  holds ? Effect.void : Effect.dieMessage(`quickstart expectation failed: ${what}`)

const program = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  const table = (yield* Tables.Tables).table("posts", Post)

  console.log("\n1. Unauthenticated request: sign up")
  const email = uniqueEmail("ada")
  yield* timed(`signed up ${email}`, auth.signUp({ email, password: "s3cret!pw", name: "Ada" }))
  const me = yield* auth.me
  console.log(`     user id ${me.id}, signed in: ${Option.isSome(yield* auth.session)}`)

  console.log("\n2. Authenticated request: create data")
  const post = yield* timed(
    "created a post",
    table.create({ data: { title: "My First Post", content: "Hello, world!", published: true } })
  )
  console.log(`     post.id = ${post.id}, createdBy = ${post.createdBy}`)
  for (let i = 2; i <= 12; i++) {
    yield* table.create({ data: { title: `Post ${i}`, content: `Body ${i}`, published: i % 3 !== 0 } })
  }
  console.log("     …and 11 more posts")

  console.log("\n3. List data: GET /v1/data/posts?page=1&limit=10")
  const page = yield* timed(
    "listed page 1",
    table.list({ page: 1, limit: 10, sort: { by: "createdAt", direction: "asc" } })
  )
  console.log(`     items: ${page.items.map((p) => p.title).join(", ")}`)
  const { items: _items, ...pagination } = page
  console.log(`     pagination: ${JSON.stringify(pagination)}`)

  console.log("\n4. Filtered list: published posts whose title starts with 'Post'")
  const filtered = yield* timed(
    "listed with andFilters",
    table.list({ limit: 100, filter: { published: true, title: { $regex: "^Post" } } })
  )
  console.log(`     ${filtered.total} matches: ${filtered.items.map((p) => p.title).join(", ")}`)

  console.log("\n5. Error handling, by tag")
  yield* auth.signOut
  const forbidden = yield* table.create({ data: { title: "guest post", content: "" } }).pipe(
    Effect.as("created (unexpected)"),
    Effect.catchTag("Forbidden", (e) => Effect.succeed(`Forbidden — ${e.status} ${e.code}: ${e.message}`))
  )
  console.log(`     403 (signed out, RLS denies guests create): ${forbidden}`)
  const notFound = yield* table.get({ id: "000000000000000000000000" }).pipe(
    Effect.as("found (unexpected)"),
    Effect.catchTag("NotFound", (e) => Effect.succeed(`NotFound — ${e.status} ${e.code}: ${e.message}`))
  )
  console.log(`     404 (no such record): ${notFound}`)
  yield* expect(forbidden.startsWith("Forbidden"), "a guest's create was not rejected with 403 Forbidden")
  yield* expect(notFound.startsWith("NotFound"), "reading a missing record did not fail with 404 NotFound")
  yield* expect(page.items.length === 10 && page.total >= 12, `expected 10 of at least 12 posts: ${page.total}`)
  return { forbidden, notFound }
})

const main = Effect.gen(function* () {
  const started = performance.now()
  const env = yield* target({ local: { tables: [posts] } })
  console.log(`bkend-effect quickstart — ${env.description}`)
  // the SDK: one layer for every service, on Node's undici HTTP client
  const BkendLive = Bkend.layer({ apiKey: env.apiKey, baseUrl: env.baseUrl }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const result = yield* Effect.provide(program, BkendLive)
  if (Option.isSome(env.local)) {
    const counters = yield* env.local.value.counters
    console.log(
      `\nserver saw ${counters.requests} requests, ${counters.refreshCalls} refreshes, ${counters.replaysDetected} replays`
    )
  }
  console.log(`done in ${(performance.now() - started).toFixed(0)} ms`)
  return result
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("quickstart failed:", error)
    process.exit(1)
  }
)
