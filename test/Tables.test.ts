import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as BkendClient from "../src/BkendClient.js"
import type * as BkendError from "../src/BkendError.js"
import type * as LocalTables from "../src/local/internal/tables.js"
import * as Session from "../src/Session.js"
import * as Tables from "../src/Tables.js"
import { BkendLocal, clientLayer, localLayer, uniqueEmail } from "./utils/bkend.js"

const serverLayer = localLayer

const postsConfig: LocalTables.TableConfig = {
  name: "posts",
  columns: {
    title: { type: "string", required: true },
    views: { type: "int", minimum: 0 },
    category: "string",
    published: "boolean",
    tags: { type: "array", items: "string" },
    subtitle: "string"
  },
  permissions: {
    user: { create: true, read: true, update: true, delete: true, list: true },
    guest: { read: true, list: true }
  }
}

// user: create only; self: own rows; guest: nothing
const notesConfig: LocalTables.TableConfig = {
  name: "notes",
  columns: { text: { type: "string", required: true } },
  permissions: {
    user: { create: true },
    self: { read: true, update: true, delete: true, list: true }
  }
}

const bigConfig: LocalTables.TableConfig = { name: "big", columns: { n: { type: "int", required: true } } }

const Post = Schema.Struct({
  title: Schema.String,
  views: Schema.Number,
  category: Schema.String,
  published: Schema.Boolean,
  tags: Schema.Array(Schema.String),
  subtitle: Schema.optional(Schema.String)
})

const Note = Schema.Struct({ text: Schema.String })

const BIG = 10_000

/** Seeds `big` with rows n = 0 … BIG-1 through the server's store (10,000 HTTP creates would be slow). */
const seedBig = Effect.flatMap(BkendLocal, ({ server }) => {
  const at = new Date(0).toISOString()
  const row = (n: number): LocalTables.Row => ({
    id: n.toString(16).padStart(24, "0"),
    n,
    createdBy: "",
    createdAt: at,
    updatedAt: at
  })
  const insertAll = Effect.zipRight(
    server.store.tables.put(bigConfig),
    Effect.forEach(
      Array.from({ length: BIG }, (_, n) => row(n)),
      (r) => server.store.rows.insert("big", r),
      {
        concurrency: 8,
        discard: true
      }
    )
  )
  // once per server: the tests that use it share one
  return Effect.orDie(
    Effect.flatMap(server.store.tables.get("big"), (existing) => (Option.isSome(existing) ? Effect.void : insertAll))
  )
})

/** Signs up a fresh user through the client and stores its session; returns the user id. */
const signUp = Effect.gen(function* () {
  const client = yield* BkendClient.BkendClient
  const tokens = yield* client.request({
    method: "POST",
    route: "/v1/auth/email/signup",
    body: { method: "password", email: uniqueEmail("tables"), password: "Passw0rd!", name: "T" },
    auth: "none",
    response: Session.TokenResponse
  })
  yield* client.setTokens(tokens)
  const me = yield* client.request({
    method: "GET",
    route: "/v1/auth/me",
    auth: "required",
    response: Schema.Struct({ id: Schema.String })
  })
  return me.id
})

/** Tables on a fresh client (own session) for the current server. */
const withClient =
  (key: "pk" | "sk") =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, Layer.provideMerge(Tables.layer, clientLayer(key)))

const failure = <A, R>(effect: Effect.Effect<A, BkendError.BkendError, R>) =>
  Effect.flip(effect).pipe(
    Effect.map((e) => ({ tag: e._tag, code: e.code, status: e.status, field: "field" in e ? e.field : undefined }))
  )

const TestLayer = Layer.provideMerge(
  Layer.provideMerge(Tables.layer, clientLayer("pk")),
  serverLayer({ tables: [postsConfig, notesConfig, bigConfig] })
)

const seedPosts = [
  { title: "alpha", views: 10, category: "notice", published: true, tags: ["a", "x"] },
  { title: "beta", views: 20, category: "event", published: false, tags: ["b"] },
  { title: "gamma", views: 30, category: "general", published: true, tags: ["x"], subtitle: "g" },
  { title: "delta", views: 40, category: "notice", published: false, tags: [] },
  { title: "epsilon", views: 50, category: "event", published: true, tags: ["e", "x"], subtitle: "e" }
] as const

layer(TestLayer, { excludeTestServices: true })("Tables against bkend-local", (it) => {
  const seeded = Effect.gen(function* () {
    const { server } = yield* BkendLocal
    const stored = yield* Effect.orDie(
      server.store.rows.query("posts", {
        where: { _tag: "All" },
        sortBy: "id",
        sortDirection: "asc",
        offset: 0,
        limit: 1,
        select: undefined
      })
    )
    if (stored.total > 0) return
    yield* withClient("sk")(
      Effect.gen(function* () {
        const posts = (yield* Tables.Tables).table("posts", Post)
        for (const data of seedPosts) yield* posts.create({ data: { ...data, tags: [...data.tags] } })
      })
    )
  })

  const titles = (rows: ReadonlyArray<{ readonly title: string }>) => rows.map((r) => r.title).sort()

  it.effect("typed CRUD round trip on a declared table", () =>
    Effect.gen(function* () {
      yield* signUp
      const posts = (yield* Tables.Tables).table("posts", Post)
      const created = yield* posts.create({
        data: { title: "crud", views: 1, category: "general", published: false, tags: ["t"] }
      })
      expect(created.id).toMatch(/^[0-9a-f]{24}$/)
      expect(created.title).toBe("crud")
      expect(typeof created.createdBy).toBe("string")
      const read = yield* posts.get({ id: created.id })
      expect(read).toEqual(created)
      const updated = yield* posts.update({ id: created.id, data: { views: 2, subtitle: "s" } })
      expect(updated.views).toBe(2)
      expect(updated.subtitle).toBe("s")
      expect(updated.title).toBe("crud")
      yield* posts.delete({ id: created.id })
      const gone = yield* failure(posts.get({ id: created.id }))
      expect(gone).toMatchObject({ tag: "NotFound", code: "data/not-found", status: 404 })
    })
  )

  it.effect("every filter operator selects the expected rows", () =>
    Effect.gen(function* () {
      yield* seeded
      const posts = (yield* Tables.Tables).table("posts", Post)
      const run = (filter: Tables.Filter<Tables.WireRow<typeof Post.Encoded>>) =>
        Effect.map(posts.list({ filter: { ...filter, title: filter.title ?? { $ne: "crud" } }, limit: 100 }), (p) =>
          titles(p.items)
        )
      expect(yield* run({ category: "notice" })).toEqual(["alpha", "delta"])
      expect(yield* run({ category: { $eq: "event" } })).toEqual(["beta", "epsilon"])
      expect(yield* run({ category: { $ne: "notice" } })).toEqual(["beta", "epsilon", "gamma"])
      expect(yield* run({ views: { $gt: 30 } })).toEqual(["delta", "epsilon"])
      expect(yield* run({ views: { $gte: 30 } })).toEqual(["delta", "epsilon", "gamma"])
      expect(yield* run({ views: { $lt: 20 } })).toEqual(["alpha"])
      expect(yield* run({ views: { $lte: 20 } })).toEqual(["alpha", "beta"])
      expect(yield* run({ views: { $gt: 10, $lt: 40 } })).toEqual(["beta", "gamma"])
      expect(yield* run({ category: { $in: ["general", "event"] } })).toEqual(["beta", "epsilon", "gamma"])
      expect(yield* run({ category: { $nin: ["general", "event"] } })).toEqual(["alpha", "delta"])
      expect(yield* run({ title: { $regex: "^(al|ga)" } })).toEqual(["alpha", "gamma"])
      expect(yield* run({ subtitle: { $exists: true } })).toEqual(["epsilon", "gamma"])
      expect(yield* run({ subtitle: { $exists: false } })).toEqual(["alpha", "beta", "delta"])
      expect(yield* run({ published: true })).toEqual(["alpha", "epsilon", "gamma"])
      expect(yield* run({ tags: "x" })).toEqual(["alpha", "epsilon", "gamma"])
      const count = yield* posts.count({ filter: { published: false } })
      expect(count).toBe(2)
    })
  )

  it.effect("or: two conditions on one field are both honoured (merged into $in), mixed fields OR", () =>
    Effect.gen(function* () {
      yield* seeded
      const posts = (yield* Tables.Tables).table("posts", Post)
      const page = yield* posts.list({ or: [{ category: "notice" }, { category: "event" }], limit: 100 })
      expect(titles(page.items)).toEqual(["alpha", "beta", "delta", "epsilon"])
      const mixed = yield* posts.list({ or: [{ views: { $lt: 15 } }, { category: "general" }], limit: 100 })
      expect(titles(mixed.items)).toEqual(["alpha", "gamma"])
      const both = yield* posts.list({
        filter: { published: true },
        or: [{ category: "notice" }, { category: "general" }],
        limit: 100
      })
      expect(titles(both.items)).toEqual(["alpha", "gamma"])
      const unrepresentable = yield* failure(posts.list({ or: [{ views: { $lt: 15 } }, { views: { $gt: 45 } }] }))
      expect(unrepresentable).toMatchObject({ tag: "InvalidInput", status: 0 })
    })
  )

  it.effect("sort both directions, search, select, pagination", () =>
    Effect.gen(function* () {
      yield* seeded
      const posts = (yield* Tables.Tables).table("posts", Post)
      const filter = { title: { $ne: "crud" } }
      const asc = yield* posts.list({ filter, sort: { by: "views", direction: "asc" }, limit: 100 })
      expect(asc.items.map((p) => p.views)).toEqual([10, 20, 30, 40, 50])
      const desc = yield* posts.list({ filter, sort: { by: "views", direction: "desc" }, limit: 100 })
      expect(desc.items.map((p) => p.views)).toEqual([50, 40, 30, 20, 10])
      const searched = yield* posts.list({ filter, search: "lta", searchType: "title" })
      expect(titles(searched.items)).toEqual(["delta"])
      const selected = yield* posts.list({ filter, select: ["title"], sort: { by: "views", direction: "asc" } })
      const first = selected.items[0]
      expect(first?.title).toBe("alpha")
      expect(first?.id).toMatch(/^[0-9a-f]{24}$/)
      expect(first !== undefined && "views" in first).toBe(false)
      const page2 = yield* posts.list({ filter, sort: { by: "views", direction: "asc" }, page: 2, limit: 2 })
      expect(page2.items.map((p) => p.views)).toEqual([30, 40])
      expect(page2).toMatchObject({ page: 2, limit: 2, total: 5, totalPages: 3, hasNext: true, hasPrev: true })
    })
  )

  it.effect("stream returns 10,000 rows once, in order, with one page request in flight at a time", () =>
    Effect.gen(function* () {
      yield* seedBig
      let inFlight = 0
      let maxInFlight = 0
      let pagesFetched = 0
      const counting = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (c) =>
          c.pipe(
            HttpClient.transformResponse((response) =>
              Effect.acquireUseRelease(
                Effect.sync(() => {
                  inFlight++
                  maxInFlight = Math.max(maxInFlight, inFlight)
                }),
                () => response,
                () =>
                  Effect.sync(() => {
                    inFlight--
                    pagesFetched++
                  })
              )
            )
          )
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const { server, url } = yield* BkendLocal
      const client = Layer.scoped(
        BkendClient.BkendClient,
        Effect.orDie(
          BkendClient.make({
            apiKey: Redacted.make(server.keys.secret),
            baseUrl: url,
            retryPolicy: { maxAttempts: 1 }
          })
        )
      ).pipe(Layer.provide(counting))
      // pages held = fetched (or being fetched) − fully consumed; checked at every element
      let maxHeld = 0
      let consumed = 0
      const rows = yield* Effect.provide(
        Effect.gen(function* () {
          const big = (yield* Tables.Tables).table("big", Schema.Struct({ n: Schema.Number }))
          return yield* big.stream({ sort: { by: "n", direction: "asc" }, limit: 100 }).pipe(
            Stream.tap(() =>
              Effect.suspend(() => {
                maxHeld = Math.max(maxHeld, pagesFetched + inFlight - Math.floor(consumed / 100))
                consumed++
                // a consumer that yields, as one doing I/O would: lets the prefetch fiber run
                return Effect.yieldNow()
              })
            ),
            Stream.runCollect
          )
        }),
        Layer.provideMerge(Tables.layer, client)
      )
      const ns = Chunk.toReadonlyArray(rows).map((r) => r.n)
      expect(ns.length).toBe(BIG)
      expect(ns).toEqual(Array.from({ length: BIG }, (_, i) => i))
      expect(new Set(Chunk.toReadonlyArray(rows).map((r) => r.id)).size).toBe(BIG)
      expect(pagesFetched).toBe(BIG / 100)
      expect(maxInFlight).toBe(1)
      expect(maxHeld).toBeLessThanOrEqual(2)
      // prefetching happened: while page n was consumed, page n + 1 was already requested
      expect(maxHeld).toBe(2)
    })
  )

  it.effect("stream is lazy: taking a few rows requests at most the first page and one prefetch", () =>
    Effect.gen(function* () {
      yield* seedBig
      const { server } = yield* BkendLocal
      const pageRequests = Effect.map(server.requestLog, (log) => log.filter((e) => e.path === "/v1/data/big").length)
      const before = yield* pageRequests
      const rows = yield* withClient("sk")(
        Effect.flatMap(Tables.Tables, (tables) =>
          tables
            .table("big", Schema.Struct({ n: Schema.Number }))
            .stream({ sort: { by: "n", direction: "asc" }, limit: 100 })
            .pipe(Stream.take(5), Stream.runCollect)
        )
      )
      expect(Chunk.toReadonlyArray(rows).map((r) => r.n)).toEqual([0, 1, 2, 3, 4])
      expect((yield* pageRequests) - before).toBeLessThanOrEqual(2)
    })
  )

  it.effect("RLS: guest, user, self and admin per the table's permissions", () =>
    Effect.gen(function* () {
      yield* seeded
      // guest (pk key, no session)
      const guest = yield* withClient("pk")(
        Effect.gen(function* () {
          const tables = yield* Tables.Tables
          return {
            list: yield* Effect.either(tables.table("posts", Post).list()),
            create: yield* failure(
              tables
                .table("posts", Post)
                .create({ data: { title: "g", views: 0, category: "c", published: false, tags: [] } })
            ),
            notes: yield* failure(tables.table("notes", Note).list())
          }
        })
      )
      expect(Either.isRight(guest.list)).toBe(true)
      expect(guest.create).toMatchObject({ tag: "Forbidden", status: 403, code: "data/permission-denied" })
      expect(guest.notes).toMatchObject({ tag: "Forbidden", status: 403, code: "data/permission-denied" })

      // alice writes a note; bob cannot read, update or delete it, and lists only his own
      const alice = yield* withClient("pk")(
        Effect.gen(function* () {
          const id = yield* signUp
          const notes = (yield* Tables.Tables).table("notes", Note)
          const note = yield* notes.create({ data: { text: "alice's" } })
          const own = yield* notes.get({ id: note.id })
          return { id, note, own }
        })
      )
      expect(alice.note.createdBy).toBe(alice.id)
      expect(alice.own.text).toBe("alice's")
      const bob = yield* withClient("pk")(
        Effect.gen(function* () {
          yield* signUp
          const notes = (yield* Tables.Tables).table("notes", Note)
          yield* notes.create({ data: { text: "bob's" } })
          return {
            read: yield* failure(notes.get({ id: alice.note.id })),
            update: yield* failure(notes.update({ id: alice.note.id, data: { text: "x" } })),
            remove: yield* failure(notes.delete({ id: alice.note.id })),
            list: yield* notes.list()
          }
        })
      )
      expect(bob.read).toMatchObject({ tag: "Forbidden", code: "data/permission-denied" })
      expect(bob.update).toMatchObject({ tag: "Forbidden", code: "data/permission-denied" })
      expect(bob.remove).toMatchObject({ tag: "Forbidden", code: "data/permission-denied" })
      expect(bob.list.items.map((n) => n.text)).toEqual(["bob's"])

      // admin (sk key) sees everything and may update anything
      const admin = yield* withClient("sk")(
        Effect.gen(function* () {
          const notes = (yield* Tables.Tables).table("notes", Note)
          const updated = yield* notes.update({ id: alice.note.id, data: { text: "moderated" } })
          return { updated, total: yield* notes.count() }
        })
      )
      expect(admin.updated.text).toBe("moderated")
      expect(admin.total).toBeGreaterThanOrEqual(2)
    })
  )

  it.effect("spec and openapi", () =>
    Effect.gen(function* () {
      const { spec, doc } = yield* withClient("sk")(
        Effect.gen(function* () {
          const posts = (yield* Tables.Tables).table("posts")
          return { spec: yield* posts.spec, doc: yield* posts.openapi }
        })
      )
      expect(spec.tableName).toBe("posts")
      expect(Object.keys(spec.schema).length).toBeGreaterThan(0)
      expect(doc.openapi).toMatch(/^3\./)
      expect(Object.keys(doc.paths)).toContain("/v1/data/posts")
    })
  )

  it.effect("invalid input fails before any request", () =>
    Effect.gen(function* () {
      const { server } = yield* BkendLocal
      const before = (yield* server.counters).requests
      const tables = yield* Tables.Tables
      const bad = tables.table("no/slash")
      expect(yield* failure(bad.list())).toMatchObject({ tag: "InvalidInput", status: 0 })
      expect(yield* failure(bad.get({ id: "x" }))).toMatchObject({ tag: "InvalidInput" })
      const posts = tables.table("posts", Post)
      expect(yield* failure(posts.get({ id: ".." }))).toMatchObject({ tag: "InvalidInput" })
      expect(yield* failure(posts.get({ id: "\ud800" }))).toMatchObject({ tag: "InvalidInput", field: "id" })
      expect(yield* failure(posts.list({ limit: 101 }))).toMatchObject({ tag: "InvalidInput" })
      expect(yield* failure(posts.list({ page: 0 }))).toMatchObject({ tag: "InvalidInput" })
      const untyped = tables.table("posts")
      // what an untyped caller (e.g. JSON from elsewhere) could pass
      const rogue: Tables.Filter<Record<string, unknown>> = JSON.parse('{"views":{"$where":"1"}}')
      expect(yield* failure(untyped.list({ filter: rogue }))).toMatchObject({
        tag: "InvalidInput"
      })
      expect(yield* failure(untyped.create({ data: { id: "mine", title: "x" } }))).toMatchObject({
        tag: "InvalidInput"
      })
      const withExtra = { title: "x", views: 1, category: "c", published: true, tags: [], extra: 1 }
      expect(yield* failure(posts.create({ data: withExtra }))).toMatchObject({ tag: "InvalidInput" })
      const wrongType: Tables.UpdateInput<typeof Post.Type> = JSON.parse('{"views":"many"}')
      expect(yield* failure(posts.update({ id: "1", data: wrongType }))).toMatchObject({ tag: "InvalidInput" })
      expect((yield* server.counters).requests).toBe(before)
    })
  )
})

describe("Tables against bkend-local compat variants", () => {
  it.live("bare envelopes, 204 deletes and union pagination decode the same", () =>
    Effect.gen(function* () {
      const posts = (yield* Tables.Tables).table("posts", Post)
      const created = yield* posts.create({
        data: { title: "bare", views: 3, category: "c", published: true, tags: [] }
      })
      expect((yield* posts.get({ id: created.id })).title).toBe("bare")
      const page = yield* posts.list({ limit: 1 })
      expect(page).toMatchObject({ page: 1, limit: 1, total: 1, hasNext: false, hasPrev: false })
      yield* posts.delete({ id: created.id })
      expect(yield* posts.count()).toBe(0)
    }).pipe(
      Effect.provide(Layer.provideMerge(Tables.layer, clientLayer("sk"))),
      Effect.provide(serverLayer({ tables: [postsConfig], envelope: "bare", deletes: "204", pagination: "union" }))
    )
  )

  it.scopedLive("records carrying `_id` instead of `id` are normalised (I-05)", () =>
    Effect.gen(function* () {
      const transport = HttpClient.make((request) =>
        Effect.succeed(
          HttpClientResponse.fromWeb(
            request,
            new Response(JSON.stringify({ _id: "abc", title: "t", createdAt: "2025-01-01T00:00:00.000Z" }), {
              status: 200,
              headers: { "content-type": "application/json" }
            })
          )
        )
      )
      const client = yield* BkendClient.make({ apiKey: Redacted.make("pk_test") }).pipe(
        Effect.provideService(HttpClient.HttpClient, transport)
      )
      const tables = yield* Effect.provideService(Tables.make, BkendClient.BkendClient, client)
      const row = yield* tables.table("posts", Schema.Struct({ title: Schema.String })).get({ id: "abc" })
      expect(row).toEqual({ id: "abc", title: "t", createdAt: "2025-01-01T00:00:00.000Z" })
      const untyped = yield* tables.table("posts").get({ id: "abc" })
      expect(untyped.id).toBe("abc")
      class Titled extends Schema.Class<Titled>("Titled")({ title: Schema.String }) {}
      const created = yield* tables.table("posts", Titled).create({ data: { title: "t" } })
      expect(created).toMatchObject({ id: "abc", title: "t" })
    })
  )
})

describe("Tables types", () => {
  // The assertions here are the `@ts-expect-error` lines: `tsc --noEmit` (npm run typecheck) fails if any of them
  // stops being an error. The effects are built, never run.
  it("rows, inputs, filters and select are typed from the schema", () => {
    const check = (posts: Tables.Table<typeof Post.Type, typeof Post.Encoded>) => {
      const selected = posts.list({ select: ["title"] }).pipe(
        Effect.map((page) => {
          const row = page.items[0]
          const title: string | undefined = row?.title
          const id: string | undefined = row?.id
          // @ts-expect-error views was not selected
          row?.views
          return [title, id]
        })
      )
      // @ts-expect-error system fields cannot be created
      posts.create({ data: { id: "x", title: "t", views: 1, category: "c", published: true, tags: [] } })
      // @ts-expect-error views is a number
      posts.list({ filter: { views: { $gt: "10" } } })
      // @ts-expect-error no such field
      posts.list({ filter: { nope: 1 } })
      // @ts-expect-error $in takes an array
      posts.list({ filter: { category: { $in: "notice" } } })
      // @ts-expect-error unknown operator
      posts.list({ filter: { category: { $where: "1" } } })
      // @ts-expect-error select names a field of the schema
      posts.list({ select: ["nope"] })
      // array fields compare element-wise
      posts.list({ filter: { tags: "x", createdBy: "u1" }, or: [{ views: 1 }, { views: 2 }] })
      posts.update({ id: "1", data: { views: 2 } })
      return selected
    }
    expect(typeof check).toBe("function")
  })
})

describe("Tables (schemaless)", () => {
  it("table names follow CONTRACT §8.1", () => {
    expect(Tables.tableNamePattern.test("posts")).toBe(true)
    expect(Tables.tableNamePattern.test("_system")).toBe(true)
    expect(Tables.tableNamePattern.test("my-table_2")).toBe(true)
    expect(Tables.tableNamePattern.test("2posts")).toBe(false)
    expect(Tables.tableNamePattern.test("a b")).toBe(false)
    expect(Tables.tableNamePattern.test("")).toBe(false)
  })
})
