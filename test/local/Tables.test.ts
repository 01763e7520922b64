import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import * as MemoryQuery from "../../src/local/internal/memory/query.js"
import * as RowQuery from "../../src/local/internal/rowQuery.js"
import * as Tables from "../../src/local/internal/tables.js"

const posts: Tables.TableConfig = {
  name: "posts",
  columns: {
    title: { type: "string", required: true, maxLength: 20 },
    slug: { type: "string", unique: true, pattern: "^[a-z0-9-]+$" },
    views: { type: "int", minimum: 0, maximum: 1000 },
    score: "number",
    published: "boolean",
    category: { type: "string", enum: ["notice", "general", "event"] },
    tags: { type: "array", items: "string", maxLength: 3 },
    meta: "object",
    publishedAt: "date",
    author: { type: "reference", references: "users" }
  }
}

const right = <A>(e: Either.Either<A, Tables.TableError>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got ${e.left.code}: ${e.left.message}`)
  return e.right
}

const left = <A>(e: Either.Either<A, Tables.TableError>): Tables.TableError => {
  if (Either.isRight(e)) throw new Error(`expected Left, got ${JSON.stringify(e.right)}`)
  return e.left
}

let clock = Date.parse("2025-01-01T00:00:00.000Z")

const make = (config: Tables.TableConfig, body: Record<string, unknown>, createdBy = "u1"): Tables.Row => {
  clock += 1000
  return right(
    Tables.prepareCreate(config, body, {
      id: Tables.newRowId(clock),
      createdBy,
      now: new Date(clock).toISOString()
    })
  )
}

// Seed: 6 rows with distinct, predictable values.
const seed = (): ReadonlyArray<Tables.Row> => [
  make(posts, {
    title: "Alpha",
    slug: "a",
    views: 10,
    score: 1.5,
    published: true,
    category: "notice",
    tags: ["x"],
    publishedAt: "2025-01-10"
  }),
  make(posts, { title: "Beta", slug: "b", views: 20, score: 2.5, published: false, category: "general", tags: [] }),
  make(posts, { title: "Gamma", slug: "c", views: 30, published: true, category: "event", tags: ["x", "y"] }, "u2"),
  make(posts, { title: "delta", views: 40, score: 0, category: "notice", publishedAt: "2025-03-01T12:00:00Z" }, "u2"),
  make(posts, { title: "Epsilon", views: 50, published: false, meta: { a: 1 } }, ""),
  make(posts, { title: "Zeta", views: 60, score: null, author: "507f1f77bcf86cd799439011" })
]

/** A parsed list over `rows` on the in-memory engine, with the owner and row-filter rules inside the query. */
const runQuery = (
  rows: ReadonlyArray<Tables.Row>,
  query: Tables.ListQuery,
  owner: string | undefined,
  rowFilters?: ReadonlyArray<Tables.Filter> | undefined
) => Either.right(MemoryQuery.run(rows, RowQuery.fromListQuery(query, owner, rowFilters)))

const titles = (rows: ReadonlyArray<Tables.Row>): ReadonlyArray<unknown> => rows.map((r) => r.title)

const list = (
  rows: ReadonlyArray<Tables.Row>,
  params: Tables.QueryParams,
  owner?: string
): { readonly items: ReadonlyArray<Tables.Row>; readonly total: number } =>
  right(runQuery(rows, right(Tables.parseListQuery(posts, params)), owner))

const filterTitles = (rows: ReadonlyArray<Tables.Row>, and: unknown, or?: unknown): ReadonlyArray<unknown> => [
  ...titles(
    list(rows, {
      limit: "100",
      sortBy: "views",
      sortDirection: "asc",
      ...(and !== undefined ? { andFilters: JSON.stringify(and) } : {}),
      ...(or !== undefined ? { orFilters: JSON.stringify(or) } : {})
    }).items
  )
]

describe("table names", () => {
  it("accepts letters, digits, _ and -; _ prefix marks a system table", () => {
    expect(right(Tables.validateTableName("posts_2-b"))).toBe("posts_2-b")
    expect(right(Tables.validateTableName("_audit"))).toBe("_audit")
    expect(Tables.isSystemTable("_audit")).toBe(true)
    expect(Tables.isSystemTable("posts")).toBe(false)
  })
  it("rejects traversal, separators, dots, encodings and overlong names", () => {
    for (const bad of ["", "../x", "a/b", "%2e%2e", "..", "a.b", "1abc", "-x", "a b", "x".repeat(65)]) {
      const e = left(Tables.validateTableName(bad))
      expect(e.status).toBe(400)
      expect(e.code).toBe("data/validation-error")
    }
  })
})

describe("record validation", () => {
  it("create fills system fields and ignores client-sent ones", () => {
    const row = right(
      Tables.prepareCreate(
        posts,
        { title: "T", id: "evil", createdBy: "evil", createdAt: "1999", updatedAt: "1999" },
        { id: "0123456789abcdef01234567", createdBy: "u1", now: "2025-01-01T00:00:00.000Z" }
      )
    )
    expect(row).toEqual({
      id: "0123456789abcdef01234567",
      title: "T",
      createdBy: "u1",
      createdAt: "2025-01-01T00:00:00.000Z",
      updatedAt: "2025-01-01T00:00:00.000Z"
    })
  })

  const meta = { id: "0123456789abcdef01234567", createdBy: "", now: "2025-01-01T00:00:00.000Z" }
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ["missing required", { slug: "x" }, "Field 'title' is required"],
    ["null required", { title: null }, "Field 'title' is required"],
    ["wrong type string", { title: 5 }, "Field 'title' must be a string"],
    ["too long", { title: "x".repeat(21) }, "Field 'title' must have at most 20 characters"],
    ["pattern", { title: "t", slug: "Not Valid" }, "Field 'slug' does not match the pattern"],
    ["int", { title: "t", views: 1.5 }, "Field 'views' must be an integer"],
    ["minimum", { title: "t", views: -1 }, "Field 'views' must be >= 0"],
    ["maximum", { title: "t", views: 1001 }, "Field 'views' must be <= 1000"],
    ["number", { title: "t", score: "1" }, "Field 'score' must be a number"],
    ["boolean", { title: "t", published: "yes" }, "Field 'published' must be a boolean"],
    ["enum", { title: "t", category: "other" }, 'Field \'category\' must be one of: "notice", "general", "event"'],
    ["array", { title: "t", tags: "x" }, "Field 'tags' must be an array"],
    ["array items", { title: "t", tags: ["a", 1] }, "Field 'tags[1]' must be a string"],
    ["array maxLength", { title: "t", tags: ["a", "b", "c", "d"] }, "Field 'tags' must have at most 3 items"],
    ["object", { title: "t", meta: [1] }, "Field 'meta' must be an object"],
    ["date", { title: "t", publishedAt: "not a date" }, "Field 'publishedAt' must be an ISO 8601 date string"],
    ["reference", { title: "t", author: "" }, "Field 'author' must be a string id"],
    ["unknown field", { title: "t", nope: 1 }, "Unknown field 'nope'"],
    ["$ field", { title: "t", $where: 1 }, "Invalid field name '$where'"],
    ["dotted field", { title: "t", "a.b": 1 }, "Invalid field name 'a.b'"],
    ["array body", [{ title: "t" }], "Request body must be a single JSON object; array bodies are not supported"],
    ["string body", "hello", "Request body must be a JSON object"],
    ["null body", null, "Request body must be a JSON object"]
  ]
  for (const [name, body, message] of cases) {
    it(`400 data/validation-error: ${name}`, () => {
      const e = left(Tables.prepareCreate(posts, body, meta))
      expect(e.status).toBe(400)
      expect(e.code).toBe("data/validation-error")
      expect(e.message).toBe(message)
    })
  }

  it("normalises dates to ISO and accepts null for optional fields", () => {
    const row = right(Tables.prepareCreate(posts, { title: "t", publishedAt: "2025-01-15", score: null }, meta))
    expect(row.publishedAt).toBe("2025-01-15T00:00:00.000Z")
    expect(row.score).toBeNull()
  })

  it("schemaless tables accept any field; additionalFields opens a schema", () => {
    const free: Tables.TableConfig = { name: "free" }
    expect(right(Tables.prepareCreate(free, { anything: { deep: [1] } }, meta)).anything).toEqual({ deep: [1] })
    const open: Tables.TableConfig = { name: "open", columns: { a: "int" }, additionalFields: true }
    expect(right(Tables.prepareCreate(open, { a: 1, b: "x" }, meta)).b).toBe("x")
    expect(left(Tables.prepareCreate(open, { a: "x" }, meta)).message).toBe("Field 'a' must be an integer")
  })

  it("update changes only sent fields, refreshes updatedAt, keeps system fields", () => {
    const row = make(posts, { title: "Old", views: 1 })
    const next = right(
      Tables.prepareUpdate(
        posts,
        row,
        { views: 2, id: "x", createdBy: "y", createdAt: "z" },
        "2030-01-01T00:00:00.000Z"
      )
    )
    expect(next).toEqual({ ...row, views: 2, updatedAt: "2030-01-01T00:00:00.000Z" })
    expect(left(Tables.prepareUpdate(posts, row, { title: null }, "now")).message).toBe("Field 'title' is required")
    expect(left(Tables.prepareUpdate(posts, row, { views: -5 }, "now")).message).toBe("Field 'views' must be >= 0")
  })

  it("unique columns → 409 data/duplicate-value; null/missing never collide; self excluded", () => {
    const a = make(posts, { title: "a", slug: "same" })
    const b = make(posts, { title: "b", slug: "same" })
    const e = left(Tables.checkUnique(posts, [a], b))
    expect(e.status).toBe(409)
    expect(e.code).toBe("data/duplicate-value")
    expect(e.message).toContain("slug")
    expect(Either.isRight(Tables.checkUnique(posts, [a], a))).toBe(true)
    const n1 = make(posts, { title: "n1" })
    const n2 = make(posts, { title: "n2" })
    expect(Either.isRight(Tables.checkUnique(posts, [n1], n2))).toBe(true)
    const compound: Tables.TableConfig = { name: "c", indexes: [{ key: { a: 1, b: 1 }, unique: true }] }
    const c1 = make(compound, { a: 1, b: 2 })
    expect(Either.isRight(Tables.checkUnique(compound, [c1], make(compound, { a: 1, b: 3 })))).toBe(true)
    expect(left(Tables.checkUnique(compound, [c1], make(compound, { a: 1, b: 2 }))).status).toBe(409)
  })
})

describe("filters", () => {
  const rows = seed()
  it("literal and $eq", () => {
    expect(filterTitles(rows, { category: "notice" })).toEqual(["Alpha", "delta"])
    expect(filterTitles(rows, { category: { $eq: "event" } })).toEqual(["Gamma"])
    expect(filterTitles(rows, { published: true })).toEqual(["Alpha", "Gamma"])
  })
  it("$eq null matches null and missing", () => {
    expect(filterTitles(rows, { score: null })).toEqual(["Gamma", "Epsilon", "Zeta"])
  })
  it("$ne (missing fields match)", () => {
    expect(filterTitles(rows, { category: { $ne: "notice" } })).toEqual(["Beta", "Gamma", "Epsilon", "Zeta"])
  })
  it("$gt $gte $lt $lte on numbers", () => {
    expect(filterTitles(rows, { views: { $gt: 30 } })).toEqual(["delta", "Epsilon", "Zeta"])
    expect(filterTitles(rows, { views: { $gte: 30 } })).toEqual(["Gamma", "delta", "Epsilon", "Zeta"])
    expect(filterTitles(rows, { views: { $lt: 30 } })).toEqual(["Alpha", "Beta"])
    expect(filterTitles(rows, { views: { $lte: 30 } })).toEqual(["Alpha", "Beta", "Gamma"])
    expect(filterTitles(rows, { views: { $gt: 10, $lt: 40 } })).toEqual(["Beta", "Gamma"])
  })
  it("comparisons on dates accept any ISO form", () => {
    expect(filterTitles(rows, { publishedAt: { $gte: "2025-01-10T00:00:00Z" } })).toEqual(["Alpha", "delta"])
    expect(filterTitles(rows, { publishedAt: { $gt: "2025-02-01" } })).toEqual(["delta"])
    expect(filterTitles(rows, { createdAt: { $gte: rows[4]!.createdAt } })).toEqual(["Epsilon", "Zeta"])
  })
  it("$in and $nin (arrays match any element)", () => {
    expect(filterTitles(rows, { category: { $in: ["event", "general"] } })).toEqual(["Beta", "Gamma"])
    expect(filterTitles(rows, { category: { $nin: ["event", "general"] } })).toEqual([
      "Alpha",
      "delta",
      "Epsilon",
      "Zeta"
    ])
    expect(filterTitles(rows, { tags: { $in: ["y"] } })).toEqual(["Gamma"])
    expect(filterTitles(rows, { tags: "x" })).toEqual(["Alpha", "Gamma"])
  })
  it("$regex", () => {
    expect(filterTitles(rows, { title: { $regex: "^[A-E]" } })).toEqual(["Alpha", "Beta", "Epsilon"])
    expect(filterTitles(rows, { title: { $regex: "ta$" } })).toEqual(["Beta", "delta", "Zeta"])
    expect(filterTitles(rows, { tags: { $regex: "^y$" } })).toEqual(["Gamma"])
  })
  it("$exists", () => {
    expect(filterTitles(rows, { meta: { $exists: true } })).toEqual(["Epsilon"])
    expect(filterTitles(rows, { score: { $exists: true } })).toEqual(["Alpha", "Beta", "delta", "Zeta"])
    expect(filterTitles(rows, { publishedAt: { $exists: false } })).toEqual(["Beta", "Gamma", "Epsilon", "Zeta"])
  })
  it("$contains: substring of a string (case-sensitive), element of an array", () => {
    expect(filterTitles(rows, { title: { $contains: "lt" } })).toEqual(["delta"])
    expect(filterTitles(rows, { title: { $contains: "ta" } })).toEqual(["Beta", "delta", "Zeta"])
    expect(filterTitles(rows, { title: { $contains: "ALPHA" } })).toEqual([])
    expect(filterTitles(rows, { tags: { $contains: "y" } })).toEqual(["Gamma"])
    expect(filterTitles(rows, { tags: { $contains: "x" } })).toEqual(["Alpha", "Gamma"])
    expect(filterTitles(rows, { views: { $contains: 3 } })).toEqual([])
  })
  it("filters on system fields (createdBy)", () => {
    expect(filterTitles(rows, { createdBy: "u2" })).toEqual(["Gamma", "delta"])
    expect(filterTitles(rows, { createdBy: "" })).toEqual(["Epsilon"])
  })
  it("orFilters: any condition, on different fields", () => {
    expect(filterTitles(rows, undefined, { category: "event", views: { $gte: 50 } })).toEqual([
      "Gamma",
      "Epsilon",
      "Zeta"
    ])
  })
  it("andFilters ∧ (any of orFilters)", () => {
    expect(
      filterTitles(rows, { views: { $lte: 50 } }, { category: "event", published: false, score: { $lt: 1 } })
    ).toEqual(["Beta", "Gamma", "delta", "Epsilon"])
    expect(filterTitles(rows, { views: { $lt: 40 } }, { category: "notice", title: { $regex: "^G" } })).toEqual([
      "Alpha",
      "Gamma"
    ])
  })

  const invalidFilters: ReadonlyArray<readonly [string, string]> = [
    ["not JSON", "{nope"],
    ["array", "[1,2]"],
    ["string", '"x"'],
    ["null", "null"],
    ["unknown operator", '{"views":{"$where":"1"}}'],
    ["top-level $or", '{"$or":[{"a":1}]}'],
    ["unknown field", '{"nope":1}'],
    ["array literal", '{"category":["a","b"]}'],
    ["object literal", '{"meta":{"a":1}}'],
    ["empty operator object", '{"views":{}}'],
    ["$in not array", '{"category":{"$in":"x"}}'],
    ["$nin of objects", '{"category":{"$nin":[{}]}}'],
    ["$gt boolean", '{"views":{"$gt":true}}'],
    ["$gt string on number column", '{"views":{"$gt":"10"}}'],
    ["$gt bad date", '{"publishedAt":{"$gt":"yesterday"}}'],
    ["$lt on boolean column", '{"published":{"$lt":1}}'],
    ["$eq object", '{"views":{"$eq":{"a":1}}}'],
    ["$exists not boolean", '{"meta":{"$exists":1}}'],
    ["$contains null", '{"title":{"$contains":null}}'],
    ["$contains array", '{"tags":{"$contains":["x"]}}'],
    ["$regex not string", '{"title":{"$regex":1}}'],
    ["$regex invalid", '{"title":{"$regex":"("}}'],
    ["$regex backreference", JSON.stringify({ title: { $regex: "(a)\\1" } })],
    ["$regex too long", JSON.stringify({ title: { $regex: "a".repeat(201) } })]
  ]
  for (const [name, raw] of invalidFilters) {
    it(`400 data/validation-error: ${name}`, () => {
      const e = left(Tables.parseListQuery(posts, { andFilters: raw }))
      expect(e.status).toBe(400)
      expect(e.code).toBe("data/validation-error")
      const o = left(Tables.parseListQuery(posts, { orFilters: raw }))
      expect(o.code).toBe("data/validation-error")
    })
  }

  it("decodes a value that is still percent-encoded", () => {
    const q = right(Tables.parseListQuery(posts, { andFilters: encodeURIComponent('{"views":10}') }))
    expect(q.andFilters).toEqual([{ field: "views", conditions: [{ op: "$eq", value: 10 }] }])
  })
})

describe("regex (RE2)", () => {
  it("rejects backreferences, lookaround, invalid syntax and long patterns", () => {
    for (const p of ["(a)\\1", "(?=a)b", "(?<!a)b", "a(", "[z-a]", "a".repeat(201), "((a{100}){100}){100}"]) {
      expect(Either.isLeft(Tables.compileRegex(p))).toBe(true)
    }
  })
  it("accepts ordinary patterns, nested quantifiers included", () => {
    for (const p of ["^abc$", "@example\\.com$", "(foo|bar)", "(ab)+", "[a-z]+\\d{2,4}", "(a+)+", "(a|aa)*$"]) {
      expect(Either.isRight(Tables.compileRegex(p))).toBe(true)
    }
  })
  it("an unsupported pattern is a 400 at parse time", () => {
    const e = left(Tables.parseListQuery(posts, { andFilters: JSON.stringify({ title: { $regex: "(a)\\1" } }) }))
    expect(e.message).toContain("Rejected $regex on field 'title'")
    expect(e.status).toBe(400)
  })
  it("patterns that backtrack in a backtracking engine run in linear time", () => {
    const free: Tables.TableConfig = { name: "free" }
    const long = "a".repeat(5000)
    const rows = [make(free, { s: long }), make(free, { s: `${long}b` })]
    // O(n^4) or exponential for a backtracking engine on 5000 characters; RE2 answers at once
    for (const pattern of ["a*a*a*a*b", "^(a|a)*$", "^(a+)+b$"]) {
      const q = right(Tables.parseListQuery(free, { andFilters: JSON.stringify({ s: { $regex: pattern } }) }))
      expect(right(runQuery(rows, q, undefined)).total).toBeGreaterThan(0)
    }
  })
})

describe("search, sort, select, pagination", () => {
  const rows = seed()
  it("search is a case-insensitive partial match over all string fields, or one field", () => {
    expect(titles(list(rows, { search: "ALP" }).items)).toEqual(["Alpha"])
    expect(titles(list(rows, { search: "ta", sortDirection: "asc" }).items)).toEqual(["Beta", "delta", "Zeta"])
    expect(titles(list(rows, { search: "notice", sortDirection: "asc" }).items)).toEqual(["Alpha", "delta"])
    expect(titles(list(rows, { search: "notice", searchType: "title" }).items)).toEqual([])
  })
  it("default order is by id, descending", () => {
    expect(titles(list(rows, {}).items)).toEqual(["Zeta", "Epsilon", "delta", "Gamma", "Beta", "Alpha"])
  })
  it("sortBy in both directions (strings by code unit, missing first ascending)", () => {
    expect(titles(list(rows, { sortBy: "views", sortDirection: "asc" }).items)).toEqual([
      "Alpha",
      "Beta",
      "Gamma",
      "delta",
      "Epsilon",
      "Zeta"
    ])
    expect(titles(list(rows, { sortBy: "views", sortDirection: "desc" }).items)).toEqual([
      "Zeta",
      "Epsilon",
      "delta",
      "Gamma",
      "Beta",
      "Alpha"
    ])
    expect(titles(list(rows, { sortBy: "title", sortDirection: "asc" }).items)).toEqual([
      "Alpha",
      "Beta",
      "Epsilon",
      "Gamma",
      "Zeta",
      "delta"
    ])
    expect(titles(list(rows, { sortBy: "score", sortDirection: "asc" }).items)).toEqual([
      "Gamma",
      "Epsilon",
      "Zeta",
      "delta",
      "Alpha",
      "Beta"
    ])
  })
  it("select keeps system fields; comma-separated and repeated", () => {
    const items = list(rows, { select: ["title,views", "category"], limit: "1" }).items
    expect(Object.keys(items[0]!).sort()).toEqual(
      ["id", "createdBy", "createdAt", "updatedAt", "title", "views"].sort()
    )
    const one = list(rows, { select: "category", sortBy: "views", sortDirection: "asc", limit: "1" }).items[0]!
    expect(one).toEqual({
      id: rows[0]!.id,
      category: "notice",
      createdBy: "u1",
      createdAt: rows[0]!.createdAt,
      updatedAt: rows[0]!.updatedAt
    })
  })
  it("page and limit slice the sorted result; total counts all matches", () => {
    const page2 = list(rows, { sortBy: "views", sortDirection: "asc", page: "2", limit: "4" })
    expect(titles(page2.items)).toEqual(["Epsilon", "Zeta"])
    expect(page2.total).toBe(6)
    expect(list(rows, { page: "3", limit: "4" }).items).toEqual([])
    const q = right(Tables.parseListQuery(posts, {}))
    expect([q.page, q.limit, q.sortBy, q.sortDirection]).toEqual([1, 20, "id", "desc"])
    expect(right(Tables.parseListQuery(posts, { limit: "100" })).limit).toBe(100)
    expect(right(Tables.parseListQuery(posts, { offset: "40", limit: "20" })).page).toBe(3)
  })
  for (const [name, params] of [
    ["page 0", { page: "0" }],
    ["page negative", { page: "-1" }],
    ["page not a number", { page: "abc" }],
    ["page fractional", { page: "1.5" }],
    ["limit 0", { limit: "0" }],
    ["limit 101", { limit: "101" }],
    ["limit not a number", { limit: "ten" }],
    ["repeated page", { page: ["1", "2"] }],
    ["sortDirection", { sortDirection: "up" }],
    ["sortBy unknown", { sortBy: "nope" }],
    ["searchType unknown", { searchType: "nope" }],
    ["select unknown", { select: "title,nope" }]
  ] as const) {
    it(`400 data/validation-error: ${name}`, () => {
      const e = left(Tables.parseListQuery(posts, params))
      expect(e.status).toBe(400)
      expect(e.code).toBe("data/validation-error")
    })
  }
})

describe("RLS", () => {
  const admin: Tables.Principal = { role: "admin", userId: undefined }
  const user: Tables.Principal = { role: "user", userId: "u1" }
  const guest: Tables.Principal = { role: "guest", userId: undefined }
  const ops: ReadonlyArray<Tables.Operation> = ["create", "read", "update", "delete", "list"]
  const allowed = (config: Tables.TableConfig, p: Tables.Principal) =>
    ops.map((op) => {
      const r = Tables.authorize(config, op, p)
      return Either.isRight(r) ? r.right : left(r).code
    })

  it("defaults: admin all, user create/read/list, guest read/list", () => {
    const t: Tables.TableConfig = { name: "t" }
    expect(allowed(t, admin)).toEqual(["all", "all", "all", "all", "all"])
    const d = "data/permission-denied"
    expect(allowed(t, user)).toEqual(["all", "all", d, d, "all"])
    expect(allowed(t, guest)).toEqual([d, "all", d, d, "all"])
  })
  it("configured permissions replace the defaults; list falls back to read", () => {
    const t: Tables.TableConfig = { name: "t", permissions: { user: { read: true } } }
    const d = "data/permission-denied"
    expect(allowed(t, user)).toEqual([d, "all", d, d, "all"])
    expect(allowed(t, guest)).toEqual([d, d, d, d, d])
    expect(allowed(t, admin)).toEqual(["all", "all", "all", "all", "all"])
    const explicit: Tables.TableConfig = { name: "t", permissions: { guest: { read: true, list: false } } }
    expect(allowed(explicit, guest)).toEqual([d, "all", d, d, d])
  })
  it("self grants apply only to authenticated callers and never to create", () => {
    const t: Tables.TableConfig = {
      name: "t",
      permissions: { user: { create: true }, self: { read: true, update: true, delete: true } }
    }
    expect(allowed(t, user)).toEqual(["all", "self", "self", "self", "self"])
    const d = "data/permission-denied"
    expect(allowed(t, guest)).toEqual([d, d, d, d, d])
    expect(allowed(t, { role: "user", userId: "" })).toEqual(["all", d, d, d, d])
  })
  it("group grant wins over self (no owner restriction)", () => {
    const t: Tables.TableConfig = { name: "t", permissions: { user: { read: true }, self: { read: true } } }
    expect(right(Tables.authorize(t, "read", user))).toBe("all")
  })
  it("row check: own rows only, empty createdBy never matches", () => {
    const mine = make(posts, { title: "m" }, "u1")
    const theirs = make(posts, { title: "t" }, "u2")
    const orphan = make(posts, { title: "o" }, "")
    expect(Either.isRight(Tables.checkRowAccess("self", mine, user, "read"))).toBe(true)
    expect(left(Tables.checkRowAccess("self", theirs, user, "read")).code).toBe("data/permission-denied")
    expect(left(Tables.checkRowAccess("self", orphan, { role: "user", userId: "" }, "read")).status).toBe(403)
    expect(Either.isRight(Tables.checkRowAccess("all", theirs, user, "read"))).toBe(true)
    expect(Tables.ownsRow(orphan, guest)).toBe(false)
  })
  it("self.list restricts the result to the caller's rows", () => {
    const rows = seed()
    expect(titles(list(rows, { sortBy: "views", sortDirection: "asc" }, "u2").items)).toEqual(["Gamma", "delta"])
    expect(list(rows, {}, "").items).toEqual([])
  })
  it("system tables: admin only unless permissions are configured", () => {
    const sys: Tables.TableConfig = { name: "_audit" }
    expect(left(Tables.authorize(sys, "read", user)).code).toBe("data/system-table-access")
    expect(left(Tables.authorize(sys, "list", guest)).status).toBe(403)
    expect(right(Tables.authorize(sys, "delete", admin))).toBe("all")
    const opened: Tables.TableConfig = { name: "_audit", permissions: { user: { read: true } } }
    expect(right(Tables.authorize(opened, "read", user))).toBe("all")
    expect(left(Tables.authorizeSpec(sys, user)).code).toBe("data/system-table-access")
  })
  it("spec access: admin, or a group holding read", () => {
    expect(Either.isRight(Tables.authorizeSpec({ name: "t" }, user))).toBe(true)
    const noRead: Tables.TableConfig = { name: "t", permissions: { user: { create: true } } }
    expect(left(Tables.authorizeSpec(noRead, user)).code).toBe("data/permission-denied")
    expect(Either.isRight(Tables.authorizeSpec(noRead, admin))).toBe(true)
  })
  it("devMode tables get the default permissions; system tables stay admin-only", () => {
    expect(Tables.effectivePermissions(Tables.devTableConfig("x"))).toEqual(
      Tables.effectivePermissions({ name: "x", permissions: Tables.defaultPermissions })
    )
    expect(Tables.effectivePermissions(Tables.devTableConfig("x")).guest).toEqual({
      create: false,
      read: true,
      update: false,
      delete: false,
      list: true
    })
    expect(left(Tables.authorize(Tables.devTableConfig("_x"), "create", user)).code).toBe("data/system-table-access")
  })
})

describe("ids and spec", () => {
  it("row ids are 24 hex and increase with creation", () => {
    const a = Tables.newRowId(Date.parse("2025-01-01T00:00:00Z"))
    const b = Tables.newRowId(Date.parse("2025-01-01T00:00:00Z"))
    const c = Tables.newRowId(Date.parse("2025-01-01T00:00:01Z"))
    for (const id of [a, b, c]) expect(Tables.isRowId(id)).toBe(true)
    expect(a < b && b < c).toBe(true)
    expect(Tables.isRowId("507f1f77bcf86cd79943901")).toBe(false)
    expect(Tables.isRowId("507F1F77BCF86CD799439011")).toBe(false)
  })
  it("row ids cannot be guessed from a neighbour's: their last 40 bits are random, not a sequence", () => {
    const at = Date.parse("2025-01-01T00:00:05Z")
    const ids = Array.from({ length: 200 }, () => Tables.newRowId(at))
    const low = ids.map((id) => BigInt(`0x${id.slice(14)}`))
    const successors = low.filter((v, i) => i > 0 && v === (low[i - 1] ?? 0n) + 1n).length
    expect(successors).toBe(0)
    expect(new Set(low).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
  })
  it("spec: bsonType schema, required, indexes, effective permissions", () => {
    const s = Tables.spec(posts)
    expect(s.tableName).toBe("posts")
    expect(s.schema.bsonType).toBe("object")
    expect(s.schema.required).toEqual(["title"])
    expect(s.schema.properties.title).toEqual({ bsonType: "string", maxLength: 20 })
    expect(s.schema.properties.views).toEqual({ bsonType: "int", minimum: 0, maximum: 1000 })
    expect(s.schema.properties.score).toEqual({ bsonType: "double" })
    expect(s.schema.properties.published).toEqual({ bsonType: "bool" })
    expect(s.schema.properties.tags).toEqual({ bsonType: "array", items: { bsonType: "string" }, maxLength: 3 })
    expect(s.schema.properties.publishedAt).toEqual({ bsonType: "date" })
    expect(s.indexes).toContainEqual({ key: { slug: 1 }, unique: true })
    expect(s.indexes).toContainEqual({ key: { createdAt: -1 } })
    expect(s.permissions.user).toEqual({ create: true, read: true, update: false, delete: false, list: true })
    expect(s.permissions.self).toEqual({ read: false, update: false, delete: false, list: false })
  })
})

describe("robustness", () => {
  const rows = seed()
  const scalar = FastCheck.oneof(
    FastCheck.string({ maxLength: 8 }),
    FastCheck.integer(),
    FastCheck.double({ noNaN: true }),
    FastCheck.boolean(),
    FastCheck.constant(null)
  )
  const operatorObject = FastCheck.dictionary(
    FastCheck.constantFrom(...Tables.operators, "$foo", "$where"),
    FastCheck.oneof(scalar, FastCheck.array(scalar, { maxLength: 3 }), FastCheck.string({ maxLength: 12 }))
  )
  const filterObject = FastCheck.dictionary(
    FastCheck.constantFrom("title", "views", "score", "published", "tags", "publishedAt", "createdBy", "nope"),
    FastCheck.oneof(scalar, operatorObject)
  )

  it.prop(
    "any filter object parses to a filter or a 400, and evaluation never throws",
    [filterObject, filterObject],
    ([and, or]) => {
      const parsed = Tables.parseListQuery(posts, { andFilters: JSON.stringify(and), orFilters: JSON.stringify(or) })
      if (Either.isLeft(parsed)) {
        expect(parsed.left.status).toBe(400)
        expect(parsed.left.code).toBe("data/validation-error")
        return
      }
      expect(right(runQuery(rows, parsed.right, undefined)).items.length).toBeLessThanOrEqual(rows.length)
    }
  )

  it.prop(
    "arbitrary query strings never throw",
    [FastCheck.dictionary(FastCheck.string(), FastCheck.string())],
    ([params]) => {
      const parsed = Tables.parseListQuery(posts, params)
      if (Either.isLeft(parsed)) expect(parsed.left.status).toBe(400)
      else expect(parsed.right.limit).toBeGreaterThanOrEqual(1)
    }
  )

  it.prop(
    "arbitrary regex sources are rejected or evaluated within the budget",
    [FastCheck.string({ maxLength: 40 })],
    ([source]) => {
      const parsed = Tables.parseListQuery(posts, { andFilters: JSON.stringify({ title: { $regex: source } }) })
      const outcome = Either.flatMap(parsed, (q) => runQuery(rows, q, undefined))
      if (Either.isLeft(outcome)) expect(outcome.left.code).toBe("data/validation-error")
      else expect(outcome.right.total).toBeLessThanOrEqual(rows.length)
    }
  )

  it.prop(
    "$eq / $ne partition the rows; $in / $nin too",
    [scalar, FastCheck.array(scalar, { maxLength: 4 })],
    ([v, vs]) => {
      const count = (filter: unknown) =>
        right(
          runQuery(
            rows,
            right(Tables.parseListQuery(posts, { andFilters: JSON.stringify(filter), limit: "100" })),
            undefined
          )
        ).total
      expect(count({ views: { $eq: v } }) + count({ views: { $ne: v } })).toBe(rows.length)
      expect(count({ title: { $in: vs } }) + count({ title: { $nin: vs } })).toBe(rows.length)
    }
  )
})

describe("config checks", () => {
  it("a good config has no problems; bad names, patterns and bounds are reported", () => {
    expect(Tables.tableConfigProblems(posts)).toEqual([])
    expect(
      Tables.tableConfigProblems({
        name: "bad/name",
        columns: {
          id: "string",
          "a.b": "string",
          p: { type: "string", pattern: "(" },
          i: { type: "string", items: "string" },
          r: { type: "int", minimum: 5, maximum: 1 },
          l: { type: "string", minLength: 5, maxLength: 1 }
        }
      })
    ).toEqual([
      "invalid table name 'bad/name'",
      "invalid column name 'bad/name.id'",
      "invalid column name 'bad/name.a.b'",
      "invalid pattern on 'bad/name.p'",
      "'items' on non-array column 'bad/name.i'",
      "minimum > maximum on 'bad/name.r'",
      "minLength > maxLength on 'bad/name.l'"
    ])
  })
})

describe("expression permissions (§10.4)", () => {
  const admin: Tables.Principal = { role: "admin", userId: "a" }
  const user: Tables.Principal = { role: "user", userId: "u1" }
  const guest: Tables.Principal = { role: "guest", userId: undefined }

  it("terms, | and & (& binds tighter), symbolic self", () => {
    const cases: ReadonlyArray<readonly [string, Tables.Principal, Tables.Operation, string]> = [
      ["public", guest, "read", "all"],
      ["guest", user, "update", "all"],
      ["user", guest, "read", "none"],
      ["user", user, "read", "all"],
      ["admin", user, "read", "none"],
      ["self", user, "read", "self"],
      ["self", guest, "read", "none"],
      ["self", user, "create", "all"],
      ["admin | self", user, "delete", "self"],
      ["user & self", user, "update", "self"],
      ["user & self | public", guest, "read", "all"],
      ["self | user", user, "read", "all"],
      ["role:editor | role:*", user, "read", "none"],
      ["admin & user", user, "read", "none"]
    ]
    for (const [expression, principal, op, expected] of cases) {
      expect([expression, Tables.evaluateExpression(expression, principal, op)]).toEqual([expression, expected])
    }
  })

  it("expressions take priority over boolean permissions; list falls back to read; admin always allowed", () => {
    const t: Tables.TableConfig = {
      name: "t",
      permissions: { guest: { read: true, list: true } },
      expressionPermissions: { read: "user & self", create: "user", delete: "admin" }
    }
    expect(left(Tables.authorize(t, "read", guest)).code).toBe("data/permission-denied")
    expect(right(Tables.authorize(t, "read", user))).toBe("self")
    expect(right(Tables.authorize(t, "list", user))).toBe("self")
    expect(right(Tables.authorize(t, "create", user))).toBe("all")
    expect(left(Tables.authorize(t, "delete", user)).status).toBe(403)
    expect(right(Tables.authorize(t, "delete", { role: "admin", userId: undefined }))).toBe("all")
    // no expression for update: the boolean model applies (configured object without user.update)
    expect(left(Tables.authorize(t, "update", user)).code).toBe("data/permission-denied")
    expect(right(Tables.authorize(t, "read", admin))).toBe("all")
  })

  it("a system table with expressions is no longer admin-only; bad terms are reported", () => {
    const sys: Tables.TableConfig = { name: "_log", expressionPermissions: { read: "user" } }
    expect(right(Tables.authorize(sys, "read", user))).toBe("all")
    expect(Tables.expressionProblems("user | sel f & admin")).toEqual(["unknown term 'sel f'"])
    expect(Tables.tableConfigProblems({ name: "x", expressionPermissions: { read: "everyone" } })).toEqual([
      "expressionPermissions.read: unknown term 'everyone'"
    ])
    expect(Tables.spec({ name: "x", expressionPermissions: { read: "public" } }).expressionPermissions).toEqual({
      read: "public"
    })
  })
})

describe("column permissions and row filters (§10.5)", () => {
  const user: Tables.Principal = { role: "user", userId: "u1" }
  const other: Tables.Principal = { role: "user", userId: "u2" }
  const guest: Tables.Principal = { role: "guest", userId: undefined }
  const admin: Tables.Principal = { role: "admin", userId: undefined }
  const t: Tables.TableConfig = {
    name: "t",
    permissions: { user: { create: true, read: true, update: true, list: true }, guest: { read: true, list: true } },
    columnPermissions: {
      secret: { read: "admin | self", write: "self" },
      price: { write: "admin" },
      createdBy: { read: "admin" }
    },
    rowFilters: [
      { expression: "guest", filter: { status: "published" } },
      { expression: "user", filter: { createdBy: "$userId" } }
    ]
  }
  const row = make(t, { status: "draft", secret: "s", price: 1 }, "u1")

  it("unreadable columns are dropped; self-readable only for the owner; system fields stay", () => {
    expect(Tables.readableRow(t, row, user)).toEqual(row)
    const forOther = Tables.readableRow(t, row, other)
    expect(forOther).toEqual({
      id: row.id,
      status: "draft",
      price: 1,
      createdBy: "u1",
      createdAt: row.createdAt,
      updatedAt: row.updatedAt
    })
    expect(Tables.readableRow(t, row, guest).secret).toBeUndefined()
    expect(Tables.readableRow(t, row, admin)).toEqual(row)
  })

  it("writing an unwritable column → 403 data/permission-denied", () => {
    expect(left(Tables.checkWritable(t, { price: 2 }, user, row)).message).toBe(
      "Permission denied: field 'price' is not writable"
    )
    expect(Either.isRight(Tables.checkWritable(t, { secret: "x" }, user, row))).toBe(true)
    expect(left(Tables.checkWritable(t, { secret: "x" }, other, row)).code).toBe("data/permission-denied")
    expect(Either.isRight(Tables.checkWritable(t, { secret: "x", status: "a" }, user, undefined))).toBe(true)
    expect(left(Tables.checkWritable(t, { secret: "x" }, guest, undefined)).status).toBe(403)
    expect(Either.isRight(Tables.checkWritable(t, { price: 5 }, admin, row))).toBe(true)
  })

  it("row filters: matching entries OR-combined, $userId substituted, admin unfiltered", () => {
    const rows = [
      make(t, { status: "published" }, "u2"),
      make(t, { status: "draft" }, "u1"),
      make(t, { status: "draft" }, "u2"),
      make(t, { status: "draft" }, "")
    ]
    const visible = (p: Tables.Principal) => {
      const filters = right(Tables.rowFiltersFor(t, p))
      const q = right(Tables.parseListQuery(t, { sortDirection: "asc" }))
      return right(runQuery(rows, q, undefined, filters)).items.map((r) => rows.indexOf(r))
    }
    expect(visible(guest)).toEqual([0])
    expect(visible(user)).toEqual([0, 1])
    expect(visible(other)).toEqual([0, 2])
    expect(visible(admin)).toEqual([0, 1, 2, 3])
    expect(right(Tables.rowFiltersFor({ name: "plain" }, user))).toBeUndefined()
    const onlyUsers: Tables.TableConfig = { name: "o", rowFilters: [{ expression: "user", filter: { a: 1 } }] }
    expect(right(Tables.rowFiltersFor(onlyUsers, guest))).toEqual([])
  })

  it("config checks cover column expressions and row filters", () => {
    expect(Tables.tableConfigProblems(t)).toEqual([])
    expect(
      Tables.tableConfigProblems({
        name: "x",
        columns: { a: "int" },
        columnPermissions: { a: { read: "nobody" } },
        rowFilters: [{ expression: "user", filter: { a: { $bad: 1 } } }]
      })
    ).toEqual([
      "columnPermissions.a.read: unknown term 'nobody'",
      "rowFilters[0].filter: Unknown operator '$bad' on field 'a'"
    ])
  })
})
