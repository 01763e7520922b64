import { describe, expect, layer } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as http from "node:http"
import * as K from "../../src/local/internal/kernel.js"
import * as Tables from "../../src/local/internal/tables.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import {
  arr,
  errorCode,
  get,
  Harness,
  harnessLayer,
  inProcessLayer,
  memoryInProcessLayer,
  type Reply,
  request,
  signUp,
  signUpAdmin,
  str
} from "./utils.js"

const posts: Tables.TableConfig = {
  name: "posts",
  columns: {
    title: { type: "string", required: true, maxLength: 50 },
    body: "string",
    views: { type: "int", minimum: 0 },
    slug: { type: "string", unique: true },
    category: { type: "string", enum: ["notice", "general"] }
  }
}

const catalog: Tables.TableConfig = {
  name: "catalog",
  columns: {
    name: { type: "string", required: true },
    price: "number",
    qty: "int",
    color: "string",
    tags: { type: "array", items: "string" },
    active: "boolean",
    releasedAt: "date"
  },
  permissions: {}
}

const big: Tables.TableConfig = { name: "big", columns: { n: "int" } }

// A table whose name collides with the users API: only /v1/data/users reaches it (I-45).
const usersTable: Tables.TableConfig = { name: "users", columns: { nick: "string" } }

const notes: Tables.TableConfig = {
  name: "notes",
  columns: { text: "string" },
  permissions: { user: { create: true }, self: { read: true, update: true, delete: true, list: true } }
}

const locked: Tables.TableConfig = { name: "locked", permissions: { user: { read: true } } }

const writeOnly: Tables.TableConfig = {
  name: "inbox",
  permissions: { user: { create: true }, guest: { create: true } }
}

const audit: Tables.TableConfig = { name: "_audit" }

const diary: Tables.TableConfig = {
  name: "diary",
  expressionPermissions: { create: "user", read: "admin | self", update: "self", delete: "admin" }
}

const profiles: Tables.TableConfig = {
  name: "profiles",
  permissions: { user: { create: true, read: true, update: true, list: true }, guest: { read: true, list: true } },
  columnPermissions: { phone: { read: "self", write: "self" }, verified: { write: "admin" } },
  rowFilters: [
    { expression: "guest", filter: { public: true } },
    { expression: "user", filter: { createdBy: "$userId" } }
  ]
}

const tables = [posts, catalog, big, usersTable, notes, locked, writeOnly, audit, diary, profiles]

const catalogRows = [
  { name: "apple", price: 1.5, qty: 10, color: "red", tags: ["fruit"], active: true, releasedAt: "2025-01-01" },
  {
    name: "banana",
    price: 0.5,
    qty: 0,
    color: "yellow",
    tags: ["fruit", "long"],
    active: false,
    releasedAt: "2025-02-01"
  },
  { name: "cherry", price: 3, qty: 25, color: "red", tags: [], active: true },
  { name: "date", price: 2, qty: 5, color: "brown", active: false, releasedAt: "2025-03-15T00:00:00Z" },
  { name: "Elderberry", price: 4.25, qty: 100, tags: ["berry"], active: true }
]

const expectError = (res: Reply, status: number, code: string) => {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status, code })
}

const keysOf = (u: unknown): ReadonlyArray<string> => (typeof u === "object" && u !== null ? Object.keys(u) : [])

const names = (res: Reply): ReadonlyArray<unknown> => arr(res.data, "items").map((item) => get(item, "name"))

const seedCatalog = Effect.gen(function* () {
  const seeded = yield* request("GET", "/v1/data/catalog", { key: "sk" })
  if (get(seeded.data, "pagination.total") !== 0) return
  for (const row of catalogRows) {
    const res = yield* request("POST", "/v1/data/catalog", { key: "sk", body: row })
    expect(res.status).toBe(201)
  }
})

const listCatalog = (query: Record<string, string>) =>
  Effect.flatMap(seedCatalog, () => request("GET", "/v1/data/catalog", { key: "sk", query }))

const filtered = (and: unknown, or?: unknown) =>
  Effect.map(
    listCatalog({
      sortBy: "price",
      sortDirection: "asc",
      ...(and !== undefined ? { andFilters: JSON.stringify(and) } : {}),
      ...(or !== undefined ? { orFilters: JSON.stringify(or) } : {})
    }),
    (res) => {
      expect(res.status).toBe(200)
      return names(res)
    }
  )

// node:http sends the path verbatim (no dot-segment normalisation, no re-encoding), unlike fetch.
const rawGet = (path: string) =>
  Effect.gen(function* () {
    const h = yield* Harness
    const url = new URL(h.url)
    return yield* Effect.async<{ status: number; body: string }, Error>((resume) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method: "GET",
          headers: { "x-api-key": h.server.keys.secret }
        },
        (res) => {
          let body = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => {
            body += chunk
          })
          res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
        }
      )
      req.on("error", (e) => resume(Effect.fail(e)))
      req.end()
    })
  })

layer(harnessLayer({ tables }))("data routes", (it) => {
  describe("CRUD", () => {
    it.effect("create → read → update → delete on a declared table, with system fields", () =>
      Effect.gen(function* () {
        const created = yield* request("POST", "/v1/data/posts", {
          key: "sk",
          body: { title: "Hello", body: "World", views: 1, id: "client-id", createdBy: "mallory" }
        })
        expect(created.status).toBe(201)
        expect(get(created.json, "success")).toBe(true)
        const id = str(created.data, "id")
        expect(id).toMatch(/^[0-9a-f]{24}$/)
        expect(created.data).toEqual({
          id,
          title: "Hello",
          body: "World",
          views: 1,
          createdBy: "",
          createdAt: str(created.data, "createdAt"),
          updatedAt: str(created.data, "createdAt")
        })

        const read = yield* request("GET", `/v1/data/posts/${id}`, { key: "sk" })
        expect(read.status).toBe(200)
        expect(read.data).toEqual(created.data)

        yield* TestClock.adjust("1 second")
        const updated = yield* request("PATCH", `/v1/data/posts/${id}`, {
          key: "sk",
          body: { views: 2, createdAt: "1999-01-01T00:00:00.000Z" }
        })
        expect(updated.status).toBe(200)
        expect(get(updated.data, "views")).toBe(2)
        expect(get(updated.data, "title")).toBe("Hello")
        expect(get(updated.data, "createdAt")).toBe(get(created.data, "createdAt"))
        expect(Date.parse(str(updated.data, "updatedAt")) - Date.parse(str(created.data, "updatedAt"))).toBe(1000)

        const removed = yield* request("DELETE", `/v1/data/posts/${id}`, { key: "sk" })
        expect(removed.status).toBe(200)
        expect(removed.json).toEqual({ success: true })
        expectError(yield* request("GET", `/v1/data/posts/${id}`, { key: "sk" }), 404, "data/not-found")
        expectError(yield* request("DELETE", `/v1/data/posts/${id}`, { key: "sk" }), 404, "data/not-found")
      })
    )

    it.effect("the shorthand path /v1/:tableName behaves identically", () =>
      Effect.gen(function* () {
        const created = yield* request("POST", "/v1/posts", { key: "sk", body: { title: "Short" } })
        expect(created.status).toBe(201)
        const id = str(created.data, "id")
        const viaStandard = yield* request("GET", `/v1/data/posts/${id}`, { key: "sk" })
        expect(get(viaStandard.data, "title")).toBe("Short")
        const patched = yield* request("PATCH", `/v1/posts/${id}`, { key: "sk", body: { body: "b" } })
        expect(get(patched.data, "body")).toBe("b")
        const listed = yield* request("GET", "/v1/posts", {
          key: "sk",
          query: { andFilters: JSON.stringify({ id }) }
        })
        expect(arr(listed.data, "items").map((i) => get(i, "id"))).toEqual([id])
        expect((yield* request("DELETE", `/v1/posts/${id}`, { key: "sk" })).status).toBe(200)
        expectError(yield* request("GET", `/v1/posts/${id}`, { key: "sk" }), 404, "data/not-found")
      })
    )

    it.effect("unknown ids and malformed ids → 404 data/not-found; unknown table → 404 data/table-not-found", () =>
      Effect.gen(function* () {
        expectError(
          yield* request("GET", "/v1/data/posts/507f1f77bcf86cd799439011", { key: "sk" }),
          404,
          "data/not-found"
        )
        expectError(yield* request("GET", "/v1/data/posts/not-an-id", { key: "sk" }), 404, "data/not-found")
        expectError(
          yield* request("PATCH", "/v1/data/posts/507f1f77bcf86cd799439011", { key: "sk", body: { views: 1 } }),
          404,
          "data/not-found"
        )
        expectError(yield* request("GET", "/v1/data/nope", { key: "sk" }), 404, "data/table-not-found")
        expectError(yield* request("POST", "/v1/data/nope", { key: "sk", body: { a: 1 } }), 404, "data/table-not-found")
        expectError(yield* request("GET", "/v1/nope/spec", { key: "sk" }), 404, "data/table-not-found")
        // Case-sensitive names.
        expectError(yield* request("GET", "/v1/data/Posts", { key: "sk" }), 404, "data/table-not-found")
      })
    )

    it.effect("headers: missing X-API-Key → 400 data/invalid-header; unknown key → 401", () =>
      Effect.gen(function* () {
        expectError(yield* request("GET", "/v1/data/posts", { key: "none" }), 400, "data/invalid-header")
        expectError(yield* request("GET", "/v1/posts", { key: "none" }), 400, "data/invalid-header")
        expectError(
          yield* request("POST", "/v1/data/posts", { key: "none", body: { title: "x" } }),
          400,
          "data/invalid-header"
        )
        const bad = yield* request("GET", "/v1/data/posts", { key: `pk_${"0".repeat(64)}` })
        expect(bad.status).toBe(401)
        const badToken = yield* request("GET", "/v1/data/posts", { token: "not.a.jwt" })
        expect(badToken.status).toBe(401)
      })
    )
  })

  describe("validation", () => {
    it.effect("schema violations → 400 data/validation-error naming the field", () =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [{ body: "no title" }, "Field 'title' is required"],
          [{ title: 42 }, "Field 'title' must be a string"],
          [{ title: "x".repeat(51) }, "Field 'title' must have at most 50 characters"],
          [{ title: "t", views: -1 }, "Field 'views' must be >= 0"],
          [{ title: "t", views: 1.5 }, "Field 'views' must be an integer"],
          [{ title: "t", category: "other" }, 'Field \'category\' must be one of: "notice", "general"'],
          [{ title: "t", unknown: 1 }, "Unknown field 'unknown'"],
          [[{ title: "batch" }], "Request body must be a single JSON object; array bodies are not supported"],
          ["text", "Request body must be a JSON object"]
        ]
        for (const [body, message] of cases) {
          const res = yield* request("POST", "/v1/data/posts", { key: "sk", body })
          expectError(res, 400, "data/validation-error")
          expect(get(res.json, "error.message")).toBe(message)
        }
        const malformed = yield* request("POST", "/v1/data/posts", {
          key: "sk",
          rawBody: "{oops",
          headers: { "content-type": "application/json" }
        })
        expectError(malformed, 400, "data/validation-error")
        const empty = yield* request("POST", "/v1/data/posts", { key: "sk" })
        expectError(empty, 400, "data/validation-error")
      })
    )

    it.effect("update validation and unique violations → 400 / 409 data/duplicate-value", () =>
      Effect.gen(function* () {
        const a = yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "A", slug: "same" } })
        expect(a.status).toBe(201)
        const dup = yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "B", slug: "same" } })
        expectError(dup, 409, "data/duplicate-value")
        const b = yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "B", slug: "other" } })
        const bId = str(b.data, "id")
        expectError(
          yield* request("PATCH", `/v1/data/posts/${bId}`, { key: "sk", body: { slug: "same" } }),
          409,
          "data/duplicate-value"
        )
        const badPatch = yield* request("PATCH", `/v1/data/posts/${bId}`, { key: "sk", body: { title: null } })
        expectError(badPatch, 400, "data/validation-error")
        expect(get(badPatch.json, "error.message")).toBe("Field 'title' is required")
        // Patching a row to its own unique value is not a conflict; the failed updates changed nothing.
        const same = yield* request("PATCH", `/v1/data/posts/${bId}`, { key: "sk", body: { slug: "other" } })
        expect(same.status).toBe(200)
        expect(get(same.data, "title")).toBe("B")
      })
    )

    it.effect("concurrent creates with the same unique value: exactly one wins", () =>
      Effect.gen(function* () {
        const replies = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => request("POST", "/v1/data/posts", { key: "sk", body: { title: `race ${i}`, slug: "race" } }),
          { concurrency: "unbounded" }
        )
        const statuses = replies.map((r) => r.status).sort()
        expect(statuses.filter((s) => s === 201)).toHaveLength(1)
        expect(statuses.filter((s) => s === 409)).toHaveLength(19)
      })
    )
  })

  describe("list queries", () => {
    it.effect("every filter operator returns the exact matching rows", () =>
      Effect.gen(function* () {
        expect(yield* filtered({ color: "red" })).toEqual(["apple", "cherry"])
        expect(yield* filtered({ qty: { $eq: 0 } })).toEqual(["banana"])
        expect(yield* filtered({ color: { $ne: "red" } })).toEqual(["banana", "date", "Elderberry"])
        expect(yield* filtered({ price: { $gt: 2 } })).toEqual(["cherry", "Elderberry"])
        expect(yield* filtered({ price: { $gte: 2 } })).toEqual(["date", "cherry", "Elderberry"])
        expect(yield* filtered({ qty: { $lt: 10 } })).toEqual(["banana", "date"])
        expect(yield* filtered({ qty: { $lte: 10 } })).toEqual(["banana", "apple", "date"])
        expect(yield* filtered({ color: { $in: ["yellow", "brown"] } })).toEqual(["banana", "date"])
        expect(yield* filtered({ color: { $nin: ["red"] } })).toEqual(["banana", "date", "Elderberry"])
        expect(yield* filtered({ name: { $regex: "^[a-c]" } })).toEqual(["banana", "apple", "cherry"])
        expect(yield* filtered({ releasedAt: { $exists: false } })).toEqual(["cherry", "Elderberry"])
        expect(yield* filtered({ releasedAt: { $exists: true } })).toEqual(["banana", "apple", "date"])
        expect(yield* filtered({ releasedAt: { $gte: "2025-02-01T00:00:00Z" } })).toEqual(["banana", "date"])
        expect(yield* filtered({ tags: "fruit" })).toEqual(["banana", "apple"])
        expect(yield* filtered({ active: true, qty: { $gt: 10, $lt: 100 } })).toEqual(["cherry"])
      })
    )

    it.effect(
      "$regex syntax only RE2 knows (\\p{L}, \\z, \\Q…\\E, \\x{…}, named and flag groups) is 400 on every engine",
      () =>
        Effect.gen(function* () {
          for (const pattern of [
            "^\\p{Lu}",
            "rry\\z",
            "\\Qan\\E",
            "^\\x{61}",
            "^(?P<first>d)",
            "a(?i)p",
            "(?i:a)",
            "[[:^alpha:]]"
          ]) {
            expectError(
              yield* listCatalog({ andFilters: JSON.stringify({ name: { $regex: pattern } }) }),
              400,
              "data/validation-error"
            )
          }
          // what both engines share still filters
          expect(yield* filtered({ name: { $regex: "(?i)^e[[:alpha:]]+\\b" } })).toEqual(["Elderberry"])
          expect(yield* filtered({ name: { $regex: "^[^a-c]\\w" } })).toEqual(["date", "Elderberry"])
        })
    )

    it.effect("dates outside years 1 to 9999 on createdAt: the same answer on every engine, never a 5xx", () =>
      Effect.gen(function* () {
        for (const date of ["-000001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "+010000-01-01T00:00:00Z"]) {
          for (const condition of [{ $gt: date }, { $lt: date }, date, { $in: [date] }]) {
            const res = yield* listCatalog({ andFilters: JSON.stringify({ createdAt: condition }) })
            expectError(res, 400, "data/validation-error")
          }
        }
      })
    )

    it.effect(
      "a NUL character in a filter value, a search or a row: the same answer on every engine, never a 5xx",
      () =>
        Effect.gen(function* () {
          const statuses = [
            (yield* listCatalog({ andFilters: JSON.stringify({ name: "a\u0000" }) })).status,
            (yield* listCatalog({ andFilters: JSON.stringify({ name: { $in: ["a\u0000"] } }) })).status,
            (yield* listCatalog({ andFilters: JSON.stringify({ name: { $gt: "a\u0000" } }) })).status,
            (yield* listCatalog({ andFilters: JSON.stringify({ id: "a\u0000" }) })).status,
            (yield* listCatalog({ search: "a\u0000" })).status,
            (yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "nul\u0000title" } })).status,
            (yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "half \ud800 pair" } })).status,
            (yield* request("GET", "/v1/data/posts/a%00b", { key: "sk" })).status,
            (yield* request("GET", "/v1/users/a%00b", { key: "sk" })).status,
            (yield* request("GET", "/v1/files/a%00b", { key: "sk" })).status
          ]
          expect(statuses).toEqual([400, 400, 400, 400, 400, 400, 400, 400, 400, 400])
        })
    )

    it.effect("orFilters on two fields, and combined with andFilters", () =>
      Effect.gen(function* () {
        expect(yield* filtered(undefined, { color: "yellow", qty: { $gte: 100 } })).toEqual(["banana", "Elderberry"])
        expect(yield* filtered({ active: true }, { color: "red", price: { $gt: 4 } })).toEqual([
          "apple",
          "cherry",
          "Elderberry"
        ])
        expect(yield* filtered({ active: false }, { color: "red", price: { $gt: 4 } })).toEqual([])
      })
    )

    it.effect("invalid filters → 400 data/validation-error", () =>
      Effect.gen(function* () {
        for (const raw of [
          "{not json",
          "[1]",
          '{"price":{"$foo":1}}',
          '{"$or":[]}',
          '{"price":{"$in":1}}',
          '{"name":{"$regex":"(?=a)"}}',
          '{"missing":1}'
        ]) {
          expectError(yield* listCatalog({ andFilters: raw }), 400, "data/validation-error")
          expectError(yield* listCatalog({ orFilters: raw }), 400, "data/validation-error")
        }
      })
    )

    it.effect("sortBy / sortDirection, default order, search, select", () =>
      Effect.gen(function* () {
        expect(names(yield* listCatalog({ sortBy: "name", sortDirection: "asc" }))).toEqual([
          "Elderberry",
          "apple",
          "banana",
          "cherry",
          "date"
        ])
        expect(names(yield* listCatalog({ sortBy: "name", sortDirection: "desc" }))).toEqual([
          "date",
          "cherry",
          "banana",
          "apple",
          "Elderberry"
        ])
        // Default: by id, newest first.
        expect(names(yield* listCatalog({}))).toEqual(["Elderberry", "date", "cherry", "banana", "apple"])
        expect(names(yield* listCatalog({ search: "ERR", sortBy: "price", sortDirection: "asc" }))).toEqual([
          "cherry",
          "Elderberry"
        ])
        expect(names(yield* listCatalog({ search: "re", searchType: "color", sortBy: "price" }))).toEqual([
          "cherry",
          "apple"
        ])
        const selected = yield* listCatalog({ select: "name,price", sortBy: "price", sortDirection: "asc", limit: "1" })
        const item = arr(selected.data, "items")[0]
        expect([...keysOf(item)].sort()).toEqual(["createdAt", "createdBy", "id", "name", "price", "updatedAt"].sort())
        expect(get(item, "name")).toBe("banana")
      })
    )

    it.effect("pagination object, page/limit defaults and bounds", () =>
      Effect.gen(function* () {
        const page2 = yield* listCatalog({ limit: "2", page: "2", sortBy: "price", sortDirection: "asc" })
        expect(names(page2)).toEqual(["date", "cherry"])
        expect(get(page2.data, "pagination")).toEqual({
          total: 5,
          page: 2,
          limit: 2,
          totalPages: 3,
          hasNext: true,
          hasPrev: true
        })
        const defaults = yield* listCatalog({})
        expect(get(defaults.data, "pagination")).toEqual({
          total: 5,
          page: 1,
          limit: 20,
          totalPages: 1,
          hasNext: false,
          hasPrev: false
        })
        const count = yield* listCatalog({ limit: "1" })
        expect(get(count.data, "pagination.total")).toBe(5)
        expect(arr(count.data, "items")).toHaveLength(1)
        for (const query of [{ page: "0" }, { limit: "0" }, { limit: "101" }, { page: "x" }, { sortDirection: "up" }]) {
          expectError(yield* listCatalog(query), 400, "data/validation-error")
        }
        expect((yield* listCatalog({ limit: "100" })).status).toBe(200)
      })
    )

    it.effect("a 10,000-row table paginates fully with limit=100", () =>
      Effect.gen(function* () {
        const { store } = (yield* Harness).server
        yield* Effect.orDie(store.tables.put(big))
        yield* Effect.forEach(
          Array.from({ length: 10_000 }, (_, n) => n),
          (n) => {
            const at = K.iso(n * 1000)
            return Effect.orDie(
              store.rows.insert("big", {
                id: Tables.newRowId(n * 1000),
                n,
                createdBy: "",
                createdAt: at,
                updatedAt: at
              })
            )
          },
          { concurrency: 8, discard: true }
        )
        const seen = new Set<unknown>()
        let page = 1
        let hasNext = true
        let previous = Number.POSITIVE_INFINITY
        while (hasNext) {
          const res = yield* request("GET", "/v1/data/big", { key: "sk", query: { page: String(page), limit: "100" } })
          expect(res.status).toBe(200)
          const items = arr(res.data, "items")
          expect(items).toHaveLength(100)
          for (const item of items) {
            const n = get(item, "n")
            // Default order: id descending = newest first.
            expect(typeof n === "number" && n < previous).toBe(true)
            previous = typeof n === "number" ? n : previous
            seen.add(get(item, "id"))
          }
          expect(get(res.data, "pagination.total")).toBe(10_000)
          hasNext = get(res.data, "pagination.hasNext") === true
          page++
        }
        expect(page - 1).toBe(100)
        expect(seen.size).toBe(10_000)
      })
    )
  })

  describe("RLS", () => {
    it.effect("default permissions: guest reads and lists, user creates, only admin updates and deletes", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const created = yield* request("POST", "/v1/data/posts", { token: user.accessToken, body: { title: "mine" } })
        expect(created.status).toBe(201)
        expect(get(created.data, "createdBy")).toBe(user.userId)
        const id = str(created.data, "id")
        // guest (pk, no JWT)
        expect((yield* request("GET", `/v1/data/posts/${id}`)).status).toBe(200)
        expect((yield* request("GET", "/v1/data/posts")).status).toBe(200)
        expectError(yield* request("POST", "/v1/data/posts", { body: { title: "g" } }), 403, "data/permission-denied")
        // user: even the creator may not update or delete without self/user grants
        expectError(
          yield* request("PATCH", `/v1/data/posts/${id}`, { token: user.accessToken, body: { views: 1 } }),
          403,
          "data/permission-denied"
        )
        expectError(
          yield* request("DELETE", `/v1/data/posts/${id}`, { token: user.accessToken }),
          403,
          "data/permission-denied"
        )
        // admin via sk_ and via an admin JWT
        const admin = yield* signUpAdmin()
        const patched = yield* request("PATCH", `/v1/data/posts/${id}`, {
          token: admin.accessToken,
          body: { views: 3 }
        })
        expect(get(patched.data, "views")).toBe(3)
        expect((yield* request("DELETE", `/v1/data/posts/${id}`, { key: "sk" })).status).toBe(200)
      })
    )

    it.effect("self grants: owners read, update, delete and list only their own rows", () =>
      Effect.gen(function* () {
        const alice = yield* signUp()
        const bob = yield* signUp()
        const a1 = yield* request("POST", "/v1/data/notes", { token: alice.accessToken, body: { text: "a1" } })
        const a2 = yield* request("POST", "/v1/data/notes", { token: alice.accessToken, body: { text: "a2" } })
        const b1 = yield* request("POST", "/v1/data/notes", { token: bob.accessToken, body: { text: "b1" } })
        expect([a1.status, a2.status, b1.status]).toEqual([201, 201, 201])
        const a1Id = str(a1.data, "id")
        const texts = (res: Reply) => arr(res.data, "items").map((i) => get(i, "text"))

        const aliceList = yield* request("GET", "/v1/data/notes", {
          token: alice.accessToken,
          query: { sortDirection: "asc" }
        })
        expect(texts(aliceList)).toEqual(["a1", "a2"])
        expect(get(aliceList.data, "pagination.total")).toBe(2)
        // The automatic createdBy filter cannot be widened by the caller's own filters.
        const bobList = yield* request("GET", "/v1/data/notes", {
          token: bob.accessToken,
          query: { orFilters: JSON.stringify({ createdBy: alice.userId, text: "a1" }) }
        })
        expect(texts(bobList)).toEqual([])
        expect(texts(yield* request("GET", "/v1/data/notes", { token: bob.accessToken }))).toEqual(["b1"])

        expect(get((yield* request("GET", `/v1/data/notes/${a1Id}`, { token: alice.accessToken })).data, "text")).toBe(
          "a1"
        )
        expectError(
          yield* request("GET", `/v1/data/notes/${a1Id}`, { token: bob.accessToken }),
          403,
          "data/permission-denied"
        )
        expectError(
          yield* request("PATCH", `/v1/data/notes/${a1Id}`, { token: bob.accessToken, body: { text: "hacked" } }),
          403,
          "data/permission-denied"
        )
        expectError(
          yield* request("DELETE", `/v1/data/notes/${a1Id}`, { token: bob.accessToken }),
          403,
          "data/permission-denied"
        )
        const patched = yield* request("PATCH", `/v1/data/notes/${a1Id}`, {
          token: alice.accessToken,
          body: { text: "A1" }
        })
        expect(get(patched.data, "text")).toBe("A1")

        // guests get nothing (self never matches without a user id); admin sees every row
        expectError(yield* request("GET", "/v1/data/notes"), 403, "data/permission-denied")
        expectError(yield* request("GET", `/v1/data/notes/${a1Id}`), 403, "data/permission-denied")
        expectError(yield* request("POST", "/v1/data/notes", { body: { text: "g" } }), 403, "data/permission-denied")
        const all = yield* request("GET", "/v1/data/notes", {
          key: "sk",
          query: { sortBy: "text", sortDirection: "asc" }
        })
        expect(texts(all)).toEqual(["A1", "a2", "b1"])

        expect((yield* request("DELETE", `/v1/data/notes/${a1Id}`, { token: alice.accessToken })).status).toBe(200)
        expectError(
          yield* request("GET", `/v1/data/notes/${a1Id}`, { token: alice.accessToken }),
          404,
          "data/not-found"
        )
      })
    )

    it.effect("configured permissions replace the defaults; system tables are admin-only", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        expectError(yield* request("GET", "/v1/data/locked"), 403, "data/permission-denied")
        expect((yield* request("GET", "/v1/data/locked", { token: user.accessToken })).status).toBe(200)
        expectError(
          yield* request("POST", "/v1/data/locked", { token: user.accessToken, body: { a: 1 } }),
          403,
          "data/permission-denied"
        )
        const guestWrite = yield* request("POST", "/v1/data/inbox", { body: { msg: "hi" } })
        expect(guestWrite.status).toBe(201)
        expect(get(guestWrite.data, "createdBy")).toBe("")
        expectError(yield* request("GET", "/v1/data/inbox"), 403, "data/permission-denied")

        expectError(
          yield* request("GET", "/v1/data/_audit", { token: user.accessToken }),
          403,
          "data/system-table-access"
        )
        expectError(yield* request("POST", "/v1/data/_audit", { body: { a: 1 } }), 403, "data/system-table-access")
        expect((yield* request("POST", "/v1/data/_audit", { key: "sk", body: { a: 1 } })).status).toBe(201)
        expect((yield* request("GET", "/v1/_audit", { key: "sk" })).status).toBe(200)
      })
    )

    it.effect("expression permissions: self filters lists and guards rows", () =>
      Effect.gen(function* () {
        const alice = yield* signUp()
        const bob = yield* signUp()
        expectError(yield* request("POST", "/v1/data/diary", { body: { t: "g" } }), 403, "data/permission-denied")
        const a = yield* request("POST", "/v1/data/diary", { token: alice.accessToken, body: { t: "a" } })
        const b = yield* request("POST", "/v1/data/diary", { token: bob.accessToken, body: { t: "b" } })
        expect([a.status, b.status]).toEqual([201, 201])
        const ts = (res: Reply) => arr(res.data, "items").map((i) => get(i, "t"))
        expect(ts(yield* request("GET", "/v1/data/diary", { token: alice.accessToken }))).toEqual(["a"])
        expect(ts(yield* request("GET", "/v1/data/diary", { key: "sk", query: { sortDirection: "asc" } }))).toEqual([
          "a",
          "b"
        ])
        const aId = str(a.data, "id")
        expectError(
          yield* request("GET", `/v1/data/diary/${aId}`, { token: bob.accessToken }),
          403,
          "data/permission-denied"
        )
        const edited = yield* request("PATCH", `/v1/data/diary/${aId}`, { token: alice.accessToken, body: { t: "A" } })
        expect(get(edited.data, "t")).toBe("A")
        expectError(
          yield* request("DELETE", `/v1/data/diary/${aId}`, { token: alice.accessToken }),
          403,
          "data/permission-denied"
        )
        expect((yield* request("DELETE", `/v1/data/diary/${aId}`, { key: "sk" })).status).toBe(200)
      })
    )

    it.effect("column permissions hide and protect fields; row filters narrow lists", () =>
      Effect.gen(function* () {
        const alice = yield* signUp()
        const bob = yield* signUp()
        const created = yield* request("POST", "/v1/data/profiles", {
          token: alice.accessToken,
          body: { nick: "alice", phone: "123", public: false }
        })
        expect(get(created.data, "phone")).toBe("123")
        const id = str(created.data, "id")
        expectError(
          yield* request("POST", "/v1/data/profiles", { token: bob.accessToken, body: { nick: "b", verified: true } }),
          403,
          "data/permission-denied"
        )
        yield* request("POST", "/v1/data/profiles", { token: bob.accessToken, body: { nick: "bob", public: true } })
        // bob may read alice's row (user.read) but not her phone
        const asBob = yield* request("GET", `/v1/data/profiles/${id}`, { token: bob.accessToken })
        expect(get(asBob.data, "nick")).toBe("alice")
        expect(get(asBob.data, "phone")).toBeUndefined()
        expect(get(asBob.data, "createdBy")).toBe(alice.userId)
        expectError(
          yield* request("PATCH", `/v1/data/profiles/${id}`, { token: bob.accessToken, body: { phone: "666" } }),
          403,
          "data/permission-denied"
        )
        const own = yield* request("PATCH", `/v1/data/profiles/${id}`, {
          token: alice.accessToken,
          body: { phone: "9" }
        })
        expect(get(own.data, "phone")).toBe("9")
        const nicks = (res: Reply) => arr(res.data, "items").map((i) => get(i, "nick"))
        // `guest` holds for every caller (§10.4), so alice sees public rows OR her own.
        expect(nicks(yield* request("GET", "/v1/data/profiles", { token: alice.accessToken }))).toEqual([
          "bob",
          "alice"
        ])
        expect(nicks(yield* request("GET", "/v1/data/profiles"))).toEqual(["bob"])
        const all = yield* request("GET", "/v1/data/profiles", { key: "sk", query: { sortDirection: "asc" } })
        expect(nicks(all)).toEqual(["alice", "bob"])
        expect(get(arr(all.data, "items")[0], "phone")).toBe("9")
      })
    )

    it.effect("an invalid or revoked token is 401, never downgraded to guest", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const forged = `${user.accessToken.slice(0, -4)}AAAA`
        expect((yield* request("GET", "/v1/data/posts", { token: forged })).status).toBe(401)
        const signedOut = yield* request("POST", "/v1/auth/signout", { token: user.accessToken })
        expect(signedOut.status).toBe(200)
        expect((yield* request("GET", "/v1/data/posts", { token: user.accessToken })).status).toBe(401)
      })
    )

    it.effect("spec: authentication required; admin or a group with read; openapi: authenticated", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        expect((yield* request("GET", "/v1/data/posts/spec")).status).toBe(401)
        expect((yield* request("GET", "/v1/data/posts/openapi")).status).toBe(401)
        expect((yield* request("GET", "/v1/data/posts/spec", { token: user.accessToken })).status).toBe(200)
        expectError(
          yield* request("GET", "/v1/data/inbox/spec", { token: user.accessToken }),
          403,
          "data/permission-denied"
        )
        expect((yield* request("GET", "/v1/data/inbox/spec", { key: "sk" })).status).toBe(200)
        expect((yield* request("GET", "/v1/data/inbox/openapi", { token: user.accessToken })).status).toBe(200)
        expectError(
          yield* request("GET", "/v1/data/_audit/spec", { token: user.accessToken }),
          403,
          "data/system-table-access"
        )
        expectError(
          yield* request("GET", "/v1/data/nope/spec", { token: user.accessToken }),
          404,
          "data/table-not-found"
        )
      })
    )
  })

  describe("snapshots", () => {
    it.effect("table rows survive a snapshot export and import", () =>
      Effect.gen(function* () {
        yield* seedCatalog
        const h = yield* Harness
        if (h.server.engine !== "memory") {
          // snapshots are the in-memory engine's persistence; a database engine refuses them (pg_dump backs it up)
          const refused = yield* Effect.flip(h.server.exportSnapshot)
          expect(refused._tag).toBe("SnapshotError")
          return
        }
        const json = yield* h.server.exportSnapshot
        const other = yield* LocalServer.make({ tables })
        yield* other.importSnapshot(json)
        const restored = other.local.state.tables.get("catalog")
        const original = h.server.local.state.tables.get("catalog")
        expect(restored?.rows.size).toBe(5)
        expect([...(restored?.rows.values() ?? [])]).toEqual([...(original?.rows.values() ?? [])])
        expect(restored?.config.name).toBe("catalog")
      }).pipe(Effect.provide(memoryInProcessLayer({ tables })))
    )
  })

  describe("paths", () => {
    it.effect("table names with separators or dots never reach another route", () =>
      Effect.gen(function* () {
        const results = yield* Effect.forEach(
          [
            "/v1/data/../x",
            "/v1/data/%2e%2e",
            "/v1/data/%2e%2e/x",
            "/v1/data/a%2Fb",
            "/v1/%2e%2e",
            "/v1/data/..%2Fauth"
          ],
          (path) => Effect.map(rawGet(path), (r) => ({ path, status: r.status, body: r.body }))
        )
        for (const r of results) {
          expect(r.status >= 400 && r.status < 500, `${r.path} → ${r.status}`).toBe(true)
          expect(r.body).toContain('"success":false')
        }
        // a/b is parsed as table "a", id "b": a table that does not exist.
        expectError(yield* request("GET", "/v1/data/a/b", { key: "sk" }), 404, "data/table-not-found")
        const dotted = yield* rawGet("/v1/data/%2e%2e")
        expect(JSON.parse(dotted.body)).toEqual({
          success: false,
          error: { code: "data/validation-error", message: "Invalid table name" }
        })
      })
    )

    it.effect("fixed prefixes win over the shorthand; /v1/data/users addresses the table", () =>
      Effect.gen(function* () {
        const created = yield* request("POST", "/v1/data/users", { key: "sk", body: { nick: "n1" } })
        expect(created.status).toBe(201)
        const id = str(created.data, "id")
        const viaData = yield* request("GET", `/v1/data/users/${id}`, { key: "sk" })
        expect(get(viaData.data, "nick")).toBe("n1")
        // The shorthand /v1/users/:id is the users API (or not found), never the table.
        const viaShort = yield* request("GET", `/v1/users/${id}`, { key: "sk" })
        expect(viaShort.text).not.toContain("n1")
        const listShort = yield* request("GET", "/v1/users", { key: "sk" })
        expect(listShort.text).not.toContain(id)
        const dataAsTable = yield* request("GET", "/v1/data", { key: "sk" })
        expect(dataAsTable.status).toBe(404)
        expect(errorCode(dataAsTable)).not.toBe("data/table-not-found")
      })
    )

    it.effect("spec and openapi literals beat :id", () =>
      Effect.gen(function* () {
        const spec = yield* request("GET", "/v1/data/posts/spec", { key: "sk" })
        expect(spec.status).toBe(200)
        expect(get(spec.data, "tableName")).toBe("posts")
        expect(get(spec.data, "schema.required")).toEqual(["title"])
        expect(get(spec.data, "schema.properties.views")).toEqual({ bsonType: "int", minimum: 0 })
        expect(get(spec.data, "schema.properties.category")).toEqual({
          bsonType: "string",
          enum: ["notice", "general"]
        })
        expect(arr(spec.data, "indexes")).toContainEqual({ key: { slug: 1 }, unique: true })
        expect(get(spec.data, "permissions.user")).toEqual({
          create: true,
          read: true,
          update: false,
          delete: false,
          list: true
        })
        const short = yield* request("GET", "/v1/posts/spec", { key: "sk" })
        expect(short.data).toEqual(spec.data)

        const doc = yield* request("GET", "/v1/data/posts/openapi", { key: "sk" })
        expect(doc.status).toBe(200)
        expect(get(doc.data, "openapi")).toBe("3.0.0")
        expect(get(doc.data, "info.version")).toBe("1.0.0")
        expect(typeof get(doc.data, "info.title")).toBe("string")
        const paths = get(doc.data, "paths")
        expect(keysOf(paths)).toEqual(["/v1/data/posts", "/v1/data/posts/{id}"])
        expect(keysOf(get(doc.data, "paths./v1/data/posts"))).toEqual(["get", "post"])
        expect(keysOf(get(doc.data, "paths./v1/data/posts/{id}"))).toEqual(["get", "patch", "delete"])
        expect(get(doc.data, "components.schemas.posts.properties.views")).toEqual({
          type: "integer",
          minimum: 0,
          nullable: true
        })
        expect(get(doc.data, "components.schemas.postsInput.required")).toEqual(["title"])
      })
    )
  })
})

layer(harnessLayer({ devMode: true }))("devMode", (it) => {
  it.effect("an undeclared table lists as an empty page, is created on first write, with the default permissions", () =>
    Effect.gen(function* () {
      // Listing before anything was written answers an empty page (apps list before they create).
      const empty = yield* request("GET", "/v1/data/fresh", { key: "pk" })
      expect(empty.status).toBe(200)
      expect(arr(empty.data, "items")).toEqual([])
      expect(get(empty.data, "pagination.total")).toBe(0)
      // Reading a record of it is still a 404 for the table.
      const missingId = "000000000000000000000000"
      expectError(yield* request("GET", `/v1/data/fresh/${missingId}`, { key: "pk" }), 404, "data/table-not-found")
      // Default permissions: guests may not create.
      expectError(
        yield* request("POST", "/v1/data/fresh", { key: "pk", body: { a: 1 } }),
        403,
        "data/permission-denied"
      )
      const user = yield* signUp()
      // A failed first write creates nothing.
      expectError(
        yield* request("POST", "/v1/data/fresh", { token: user.accessToken, body: [1] }),
        400,
        "data/validation-error"
      )
      expectError(yield* request("GET", `/v1/data/fresh/${missingId}`, { key: "pk" }), 404, "data/table-not-found")
      const created = yield* request("POST", "/v1/data/fresh", { token: user.accessToken, body: { anything: [1, 2] } })
      expect(created.status).toBe(201)
      expect(get(created.data, "createdBy")).toBe(user.userId)
      // Guests read and list.
      const listed = yield* request("GET", "/v1/fresh", { key: "pk" })
      expect(arr(listed.data, "items").map((i) => get(i, "anything"))).toEqual([[1, 2]])
      const id = str(created.data, "id")
      expect((yield* request("GET", `/v1/fresh/${id}`, { key: "pk" })).status).toBe(200)
      // Users may not update or delete (not even their own rows); the secret key may.
      expectError(
        yield* request("PATCH", `/v1/fresh/${id}`, { token: user.accessToken, body: { more: true } }),
        403,
        "data/permission-denied"
      )
      expectError(
        yield* request("DELETE", `/v1/fresh/${id}`, { token: user.accessToken }),
        403,
        "data/permission-denied"
      )
      const patched = yield* request("PATCH", `/v1/fresh/${id}`, { key: "sk", body: { more: true } })
      expect(get(patched.data, "more")).toBe(true)
      expect((yield* request("DELETE", `/v1/fresh/${id}`, { key: "sk" })).status).toBe(200)
      // A system table created in dev mode stays admin-only.
      expectError(
        yield* request("POST", "/v1/data/_sys", { key: "pk", body: { a: 1 } }),
        403,
        "data/system-table-access"
      )
      expect((yield* request("POST", "/v1/data/_sys", { key: "sk", body: { a: 1 } })).status).toBe(201)
      expectError(
        yield* request("POST", "/v1/data/bad.name", { key: "pk", body: { a: 1 } }),
        400,
        "data/validation-error"
      )
    })
  )

  it.effect("$regex: . does not match a line break, on every engine (RE2's meaning)", () =>
    Effect.gen(function* () {
      for (const text of ["a\nb", "a-b"]) {
        expect((yield* request("POST", "/v1/data/lines", { key: "sk", body: { text } })).status).toBe(201)
      }
      const list = (pattern: string) =>
        Effect.map(
          request("GET", "/v1/data/lines", {
            key: "sk",
            query: { andFilters: JSON.stringify({ text: { $regex: pattern } }) }
          }),
          (res) => arr(res.data, "items").map((item) => get(item, "text"))
        )
      expect(yield* list("^a.b$")).toEqual(["a-b"])
      // a negated class does match one, in RE2 as in PostgreSQL
      expect([...(yield* list("^a[^x]b$"))].sort()).toEqual(["a\nb", "a-b"].sort())
    })
  )
})

layer(harnessLayer({ tables, envelope: "bare", deletes: "204", errors: "nest", pagination: "union" }))(
  "compat flags",
  (it) => {
    it.effect("envelope=bare and deletes=204 apply to data routes", () =>
      Effect.gen(function* () {
        const created = yield* request("POST", "/v1/data/posts", { key: "sk", body: { title: "bare" } })
        expect(created.status).toBe(201)
        expect(get(created.json, "title")).toBe("bare")
        expect(get(created.json, "success")).toBeUndefined()
        const listed = yield* request("GET", "/v1/data/posts", { key: "sk" })
        expect(arr(listed.json, "items")).toHaveLength(1)
        const removed = yield* request("DELETE", `/v1/data/posts/${str(created.json, "id")}`, { key: "sk" })
        expect(removed.status).toBe(204)
        expect(removed.text).toBe("")
      })
    )

    it.effect("errors=nest renders UPPER_SNAKE codes; pagination=union adds hasNextPage/hasPrevPage", () =>
      Effect.gen(function* () {
        const missing = yield* request("GET", "/v1/data/nope", { key: "sk" })
        expect(missing.json).toEqual({ statusCode: 404, error: "TABLE_NOT_FOUND", message: "Table 'nope' not found" })
        const denied = yield* request("POST", "/v1/data/posts", { body: { title: "guest" } })
        expect(get(denied.json, "error")).toBe("PERMISSION_DENIED")
        const invalid = yield* request("GET", "/v1/data/posts", { key: "sk", query: { limit: "500" } })
        expect(get(invalid.json, "error")).toBe("VALIDATION_ERROR")
        const listed = yield* request("GET", "/v1/data/posts", { key: "sk", query: { limit: "1" } })
        expect(get(listed.json, "pagination")).toEqual({
          total: 0,
          page: 1,
          limit: 1,
          totalPages: 0,
          hasNext: false,
          hasPrev: false,
          hasNextPage: false,
          hasPrevPage: false
        })
      })
    )
  }
)

layer(inProcessLayer({ tables }))("in-process handler", (it) => {
  it.effect("data routes work without a socket (filters, select, RLS)", () =>
    Effect.gen(function* () {
      for (const row of catalogRows) {
        expect((yield* request("POST", "/v1/catalog", { key: "sk", body: row })).status).toBe(201)
      }
      const res = yield* request("GET", "/v1/data/catalog", {
        key: "sk",
        query: { andFilters: JSON.stringify({ price: { $gte: 2 } }), sortBy: "price", select: "name" }
      })
      expect(names(res)).toEqual(["Elderberry", "cherry", "date"])
      expect(get(res.data, "pagination.total")).toBe(3)
      expectError(yield* request("GET", "/v1/data/catalog"), 403, "data/permission-denied")
    })
  )
})
