/**
 * bkend-effect/testing's fakes: the in-memory `Tables` and `Files` (the SDK's services on a client that keeps
 * everything in maps) and the typed table mocks. The in-memory tables answer as bkend-local does for the same
 * calls (compared against the real SDK on an in-process bkend-local).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Schema, Stream, TestClock } from "effect"
import { Auth, Files, Tables } from "bkend-effect"
import * as BkendTesting from "bkend-effect/testing"
import { BkendErrors, InMemory, TableMock } from "bkend-effect/testing"

const Post = Schema.Struct({
  title: Schema.String,
  views: Schema.Number,
  tags: Schema.optional(Schema.Array(Schema.String))
})

const posts = Effect.map(Tables.Tables, (tables) => tables.table("posts", Post))

const seeded = (n: number) =>
  InMemory.layer({
    seed: { posts: Array.from({ length: n }, (_, i) => ({ title: `post ${i}`, views: i * 10 })) }
  })

/** The message of a defect, for mocks that die. */
const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "(succeeded)"
  const defect = Chunk.head(Cause.defects(exit.cause))
  return defect._tag === "Some" && defect.value instanceof Error ? defect.value.message : Cause.pretty(exit.cause)
}

describe("InMemory tables", () => {
  it.effect("create, get, update and delete with ids, owner and timestamps; a deleted row is NotFound", () =>
    Effect.gen(function* () {
      const table = yield* posts
      const created = yield* table.create({ data: { title: "Hello", views: 1 } })
      expect(created.id).toMatch(/^[0-9a-f]{24}$/)
      expect(created).toMatchObject({ title: "Hello", views: 1, createdBy: "test-user" })
      expect(created.createdAt).toBe("1970-01-01T00:00:00.000Z")
      expect(yield* table.get({ id: created.id })).toEqual(created)

      yield* TestClock.adjust("1 minute")
      const updated = yield* table.update({ id: created.id, data: { views: 2 } })
      expect(updated).toMatchObject({ title: "Hello", views: 2, createdAt: created.createdAt })
      expect(updated.updatedAt).toBe("1970-01-01T00:01:00.000Z")

      yield* table.delete({ id: created.id })
      const error = yield* Effect.flip(table.get({ id: created.id }))
      expect(error).toMatchObject({
        _tag: "NotFound",
        status: 404,
        code: "data/not-found",
        route: "/v1/data/:table/:id"
      })
      const contents = yield* InMemory.Store
      expect(contents.rows("posts")).toEqual([])
    }).pipe(Effect.provide(InMemory.layer()))
  )

  it.effect("list applies the SDK's filter, or, search, sort and paging as the server does", () =>
    Effect.gen(function* () {
      const table = yield* posts
      const popular = yield* table.list({
        filter: { views: { $gte: 50 } },
        sort: { by: "views", direction: "asc" },
        limit: 2,
        page: 2
      })
      expect(popular.items.map((p) => p.views)).toEqual([70, 80])
      expect(popular).toMatchObject({ page: 2, limit: 2, total: 5, totalPages: 3, hasNext: true, hasPrev: true })

      const either = yield* table.list({ or: [{ views: 0 }, { views: 90 }], sort: { by: "views" } })
      expect(either.items.map((p) => p.views)).toEqual([90, 0])
      const searched = yield* table.list({ search: "POST 3", searchType: "title" })
      expect(searched.items.map((p) => p.title)).toEqual(["post 3"])
      const selected = yield* table.list({ select: ["title"], filter: { title: { $regex: "^post [12]$" } } })
      expect(selected.items.map((p) => Object.keys(p).sort())).toEqual([
        ["createdAt", "createdBy", "id", "title", "updatedAt"],
        ["createdAt", "createdBy", "id", "title", "updatedAt"]
      ])
      expect(yield* table.count({ filter: { views: { $lt: 30 } } })).toBe(3)
    }).pipe(Effect.provide(seeded(10)))
  )

  it.effect("stream reads every page; the default order is newest first", () =>
    Effect.gen(function* () {
      const all = yield* Stream.runCollect((yield* posts).stream({}))
      expect(all.length).toBe(150)
      expect(Chunk.unsafeHead(all).title).toBe("post 149")
    }).pipe(Effect.provide(seeded(150)))
  )

  it.effect("the SDK's own validation and decoding run: InvalidInput before sending, DecodeError on a bad row", () =>
    Effect.gen(function* () {
      const table = yield* posts
      const invalid = yield* Effect.flip(table.list({ limit: 500 }))
      expect(invalid).toMatchObject({ _tag: "InvalidInput", field: "limit" })
      const badFilter = yield* Effect.flip(table.list({ filter: { title: { $regex: "(" } } }))
      expect(badFilter).toMatchObject({ _tag: "BadRequest", code: "data/validation-error" })
      const decode = yield* Effect.flip(table.list())
      expect(decode._tag).toBe("DecodeError")
    }).pipe(Effect.provide(InMemory.layer({ seed: { posts: [{ title: "no views" }] } })))
  )

  it.effect(
    "declared tables enforce their columns: a duplicate unique value is Conflict, a missing field BadRequest",
    () =>
      Effect.gen(function* () {
        const users = (yield* Tables.Tables).table("handles", Schema.Struct({ handle: Schema.String }))
        yield* users.create({ data: { handle: "ada" } })
        const duplicate = yield* Effect.flip(users.create({ data: { handle: "ada" } }))
        expect(duplicate).toMatchObject({ _tag: "Conflict", code: "data/duplicate-value" })
        const missing = yield* Effect.flip((yield* Tables.Tables).table("handles").create({ data: {} }))
        expect(missing).toMatchObject({ _tag: "BadRequest", code: "data/validation-error" })
        const unknownTable = yield* Effect.flip((yield* Tables.Tables).table("nowhere").get({ id: "0".repeat(24) }))
        expect(unknownTable).toMatchObject({ _tag: "NotFound", code: "data/table-not-found" })
      }).pipe(
        Effect.provide(
          InMemory.layer({
            tables: [{ name: "handles", columns: { handle: { type: "string", required: true, unique: true } } }]
          })
        )
      )
  )

  it.effect("a seed row the table engine refuses fails the layer with the reason", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.provide(
          posts,
          InMemory.layer({
            tables: [{ name: "posts", columns: { views: { type: "number" } } }],
            seed: { posts: [{ views: "many" }] }
          })
        )
      )
      expect(defectMessage(exit)).toContain("seeding table 'posts'")
    })
  )
})

describe("InMemory files", () => {
  it.effect("upload, get, list, update, download and delete, single and multipart", () =>
    Effect.gen(function* () {
      const files = yield* Files.Files
      const small = yield* files.upload({
        data: new TextEncoder().encode("hello"),
        filename: "a.txt",
        contentType: "text/plain"
      })
      expect(small).toMatchObject({ originalName: "a.txt", size: 5, mimeType: "text/plain", ownerId: "test-user" })
      const bytes = Uint8Array.from({ length: 10 }, (_, i) => i)
      const big = yield* files.upload({
        data: bytes,
        filename: "b.bin",
        contentType: "application/octet-stream",
        multipartThreshold: 4,
        partSize: 4,
        visibility: "public"
      })
      const downloaded = yield* Stream.runCollect(files.download({ id: big.id }))
      expect(Chunk.toArray(downloaded).flatMap((c) => [...c])).toEqual([...bytes])
      expect((yield* files.list({ visibility: "public" })).items.map((f) => f.id)).toEqual([big.id])
      expect((yield* files.list({ search: "A.TXT" })).items.map((f) => f.id)).toEqual([small.id])

      const renamed = yield* files.update({ id: small.id, originalName: "b.txt", metadata: { tags: ["x"] } })
      expect(renamed).toMatchObject({ originalName: "b.txt", metadata: { tags: ["x"] } })
      expect(new TextDecoder().decode((yield* InMemory.Store).bytes(small.id))).toBe("hello")

      yield* files.delete({ id: small.id })
      expect(yield* Effect.flip(files.get({ id: small.id }))).toMatchObject({
        _tag: "NotFound",
        code: "file/not-found"
      })
      expect((yield* InMemory.Store).files().map((f) => f.id)).toEqual([big.id])
    }).pipe(Effect.provide(InMemory.layer()))
  )

  it.effect("a route the fakes do not hold dies naming the layer to use instead", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.flatMap(Auth.Auth, (auth) => auth.me))
      expect(defectMessage(exit)).toContain("needs BkendTesting.layer")
    }).pipe(Effect.provide(Auth.layer.pipe(Layer.provide(InMemory.layerClient()))))
  )
})

describe("TableMock", () => {
  const created = TableMock.make("posts", Post, {
    create: ({ data }) => Effect.succeed({ ...data, id: "post-1" }),
    delete: () => Effect.fail(BkendErrors.forbidden({ method: "DELETE", route: "/v1/data/:table/:id" }))
  })

  it.effect("answers with the given methods, typed by the schema", () =>
    Effect.gen(function* () {
      const table = yield* posts
      expect(yield* table.create({ data: { title: "t", views: 0 } })).toEqual({ title: "t", views: 0, id: "post-1" })
      expect((yield* Effect.flip(table.delete({ id: "post-1" })))._tag).toBe("Forbidden")
    }).pipe(Effect.provide(TableMock.layer(created)))
  )

  it.effect("every other method, and every table without a mock, dies naming the method", () =>
    Effect.gen(function* () {
      const table = yield* posts
      expect(defectMessage(yield* Effect.exit(table.update({ id: "x", data: {} })))).toBe(
        'Tables.table("posts").update is not mocked'
      )
      expect(defectMessage(yield* Effect.exit(Stream.runDrain(table.stream())))).toBe(
        'Tables.table("posts").stream is not mocked'
      )
      const other = (yield* Tables.Tables).table("comments")
      expect(defectMessage(yield* Effect.exit(other.list()))).toBe('Tables.table("comments").list is not mocked')
    }).pipe(Effect.provide(TableMock.layer(created)))
  )

  it.effect("a table asked for with another schema than its mock's dies saying so", () =>
    Effect.gen(function* () {
      const untyped = (yield* Tables.Tables).table("posts")
      expect(defectMessage(yield* Effect.exit(untyped.create({ data: {} })))).toContain("another schema")
    }).pipe(Effect.provide(TableMock.layer(created)))
  )

  it.effect("a mock without a schema serves the untyped table", () =>
    Effect.gen(function* () {
      const table = (yield* Tables.Tables).table("events")
      expect(yield* table.count()).toBe(3)
    }).pipe(Effect.provide(TableMock.layer(TableMock.make("events", { count: () => Effect.succeed(3) }))))
  )
})

describe("InMemory answers as bkend-local does", () => {
  const scenario = Effect.gen(function* () {
    const table = yield* posts
    const rows = [
      { title: "b", views: 30, tags: ["x"] },
      { title: "a", views: 30 },
      { title: "c", views: 5, tags: ["x", "y"] },
      { title: "d", views: 100 }
    ]
    const created = yield* Effect.forEach(rows, (data) => table.create({ data }))
    const view = (page: { readonly items: ReadonlyArray<typeof Post.Type> }) =>
      page.items.map((p) => `${p.title}:${p.views}`)
    const sorted = yield* table.list({ filter: { views: { $gte: 10 } }, sort: { by: "views", direction: "desc" } })
    const tagged = yield* table.list({ filter: { tags: "x" }, sort: { by: "title", direction: "asc" } })
    const paged = yield* table.list({ limit: 3, page: 2 })
    const missing = yield* Effect.flip(table.get({ id: "0".repeat(24) }))
    const badRegex = yield* Effect.flip(table.list({ filter: { title: { $regex: "(" } } }))
    return {
      created: created.map((p) => ({ title: p.title, views: p.views, tags: p.tags })),
      sorted: view(sorted),
      tagged: view(tagged),
      paged: { items: view(paged), total: paged.total, hasNext: paged.hasNext, hasPrev: paged.hasPrev },
      count: yield* table.count({ or: [{ title: "a" }, { title: "d" }] }),
      errors: [missing, badRegex].map((e) => `${e._tag} ${e.status} ${e.code}`)
    }
  })

  it.live("same results for create, filtered and sorted lists, pages, counts and errors", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.provide(scenario, InMemory.layer())
      const local = yield* Effect.gen(function* () {
        yield* (yield* Auth.Auth).signUp({ email: "parity@example.com", password: "s3cret!pw", name: "P" })
        return yield* scenario
      }).pipe(Effect.provide(BkendTesting.layer({ local: { devMode: true } })))
      expect(fake).toEqual(local)
      expect(fake.sorted).toEqual(["d:100", "a:30", "b:30"])
      expect(fake.errors).toEqual(["NotFound 404 data/not-found", "BadRequest 400 data/validation-error"])
    })
  )
})
