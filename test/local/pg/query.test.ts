/**
 * The PostgreSQL query compiler against the in-memory engine (`memory/query.ts`, the same row query) on
 * random rows and random filters, and the plans of filtered lists on a 100,000-row table.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { RE2JS } from "re2js"
import * as Ddl from "../../../src/local/internal/pg/ddl.js"
import * as MemoryQuery from "../../../src/local/internal/memory/query.js"
import * as PgStore from "../../../src/local/internal/pg/PgStore.js"
import { compileQuery } from "../../../src/local/internal/pg/where.js"
import * as Q from "../../../src/local/internal/rowQuery.js"
import * as Tables from "../../../src/local/internal/tables.js"
import { Store } from "../../../src/local/Store.js"
import { clientLayer } from "./db.js"

const T0 = Date.UTC(2026, 0, 1)
const iso = (ms: number) => new Date(ms).toISOString()

// --- generators ----------------------------------------------------------------------------------------------------

const str = fc.constantFrom("a", "b", "ab", "B", "ba", "", "abc")
const num = fc.constantFrom(-2, 0, 1, 1.5, 3, 10)
const scalar = fc.oneof(str, num, fc.boolean(), fc.constant(null))
const absent = Symbol("absent")
const maybe = <A>(arb: fc.Arbitrary<A>) => fc.oneof(arb, fc.constant(absent))

const schemalessRow = fc.record({
  n: maybe(fc.oneof(num, str, fc.boolean(), fc.constant(null))),
  s: maybe(fc.oneof(str, num, fc.constant(null))),
  tags: maybe(fc.oneof(fc.array(fc.oneof(str, num), { maxLength: 3 }), str, num)),
  b: maybe(fc.boolean())
})
const typedRow = fc.record({
  n: maybe(fc.oneof(num, fc.constant(null))),
  s: maybe(fc.oneof(str, fc.constant(null))),
  tags: maybe(fc.array(str, { maxLength: 3 })),
  b: maybe(fc.boolean())
})

const dataFields = ["n", "s", "tags", "tags", "b"]
const patterns = ["^a", "b$", "a.", "[ab]+c", "^$", "B", "\\bab"]
const condition: fc.Arbitrary<Tables.Condition> = fc.oneof(
  fc.record({ op: fc.constantFrom("$eq" as const, "$ne" as const), value: scalar }),
  fc.record({
    op: fc.constantFrom("$gt" as const, "$gte" as const, "$lt" as const, "$lte" as const),
    value: fc.oneof(str, num)
  }),
  fc.record({ op: fc.constantFrom("$in" as const, "$nin" as const), values: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ op: fc.constant("$exists" as const), value: fc.boolean() }),
  fc.constantFrom(...patterns).map((p): Tables.Condition => ({ op: "$regex", regex: RE2JS.compile(p) }))
)
const createdAtCondition: fc.Arbitrary<Tables.Condition> = fc
  .record({
    op: fc.constantFrom("$gt" as const, "$gte" as const, "$lt" as const, "$eq" as const),
    k: fc.integer({ min: 0, max: 12 })
  })
  .map(({ op, k }) => ({ op, value: iso(T0 + k * 1000) }))
const entry = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      field: fc.constantFrom(...dataFields),
      conditions: fc.array(condition, { minLength: 1, maxLength: 2 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      field: fc.constant("createdAt"),
      conditions: fc.array(createdAtCondition, { minLength: 1, maxLength: 1 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      field: fc.constantFrom("createdBy", "id"),
      conditions: fc.array(condition, { minLength: 1, maxLength: 1 })
    })
  }
)
const filter = fc.array(entry, { maxLength: 2 })
const often = <A>(value: A, arb: fc.Arbitrary<A>) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(value) }, { weight: 1, arbitrary: arb })

const listQuery: fc.Arbitrary<Tables.ListQuery> = fc.record({
  page: often(1, fc.integer({ min: 2, max: 3 })),
  limit: fc.integer({ min: 1, max: 8 }),
  sortBy: fc.constantFrom("id", "n", "s", "b", "createdAt", "createdBy"),
  sortDirection: fc.constantFrom("asc" as const, "desc" as const),
  search: often(undefined, fc.constantFrom("a", "b", "ab")),
  searchType: fc.option(fc.constantFrom("s", "tags", "createdBy"), { nil: undefined }),
  andFilters: filter,
  orFilters: filter,
  select: fc.constant(undefined),
  unreadable: often(new Set<string>(), fc.constant(new Set(["tags"])))
})

const request = fc.record({
  query: listQuery,
  ownerId: often(undefined, fc.constantFrom("", "u1", "u2")),
  rowFilters: often(undefined, fc.array(filter, { maxLength: 2 }))
})

const withoutAbsent = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== absent))

const scenario = (row: fc.Arbitrary<Record<string, unknown>>) =>
  fc.record({
    rows: fc.array(
      fc.record({ fields: row, by: fc.constantFrom("", "u1", "u2"), k: fc.integer({ min: 0, max: 12 }) }),
      {
        maxLength: 16
      }
    ),
    requests: fc.array(request, { minLength: 1, maxLength: 6 })
  })

// --- the property --------------------------------------------------------------------------------------------------

let tableCount = 0
/** Requests whose expected page was non-empty, and all requests: the property must not be vacuous. */
const seen = { nonEmpty: 0, all: 0 }

const agrees = (
  store: Store["Type"],
  config: Omit<Tables.TableConfig, "name">,
  row: fc.Arbitrary<Record<string, unknown>>
) =>
  fc.asyncProperty(scenario(row), async ({ rows, requests }) => {
    const table: Tables.TableConfig = { ...config, name: `prop_${++tableCount}` }
    const stored = rows.map(
      ({ fields, by, k }): Tables.Row => ({
        ...withoutAbsent(fields),
        id: Tables.newRowId(T0),
        createdBy: by,
        createdAt: iso(T0 + k * 1000),
        updatedAt: iso(T0 + k * 1000)
      })
    )
    await Effect.runPromise(
      Effect.zipRight(
        store.tables.put(table),
        Effect.forEach(stored, (r) => store.rows.insert(table.name, r), { discard: true })
      )
    )
    for (const { query, ownerId, rowFilters } of requests) {
      // the in-memory engine answers the same query
      const expected = MemoryQuery.run(stored, Q.fromListQuery(query, ownerId, rowFilters))
      seen.all++
      if (expected.items.length > 0) seen.nonEmpty++
      const actual = await Effect.runPromise(store.rows.query(table.name, Q.fromListQuery(query, ownerId, rowFilters)))
      expect(actual.items.map((r) => r.id)).toEqual(expected.items.map((r) => r.id))
      expect(actual.total).toBe(expected.total)
      expect(actual.items).toEqual(expected.items)
    }
  })

const storeLayer = Layer.provideMerge(PgStore.layer, clientLayer)

const checked = (property: fc.IAsyncProperty<unknown>) =>
  Effect.promise(async () => {
    seen.nonEmpty = 0
    seen.all = 0
    await fc.assert(property, { numRuns: 80 })
    // not vacuous: a good share of the pages have rows (observed 10–25 % over 80 runs; 5 % leaves room for chance)
    expect(seen.nonEmpty / seen.all).toBeGreaterThan(0.05)
  })

layer(storeLayer, { timeout: 120_000, excludeTestServices: true })("PostgreSQL query compiler", (it) => {
  it.effect("agrees with the in-memory engine on a schemaless table", () =>
    Effect.flatMap(Store, (store) => checked(agrees(store, {}, schemalessRow)))
  )
  it.effect("agrees with the in-memory engine on a table with declared columns", () =>
    Effect.flatMap(Store, (store) =>
      checked(
        agrees(
          store,
          { columns: { n: "number", s: "string", tags: "array", b: "boolean" }, additionalFields: true },
          typedRow
        )
      )
    )
  )

  it.effect("filtered lists on 100,000 rows use an index", () =>
    Effect.gen(function* () {
      const store = yield* Store
      const sql = yield* SqlClient.SqlClient
      const config: Tables.TableConfig = { name: "big", columns: { price: "number", category: "string" } }
      yield* store.tables.put({ name: config.name })
      yield* sql`INSERT INTO bkend_rows (table_name, id, data, created_at, updated_at, created_by)
        SELECT 'big', lpad(to_hex(g), 24, '0'), jsonb_build_object('price', g % 1000, 'category', 'c' || (g % 500), 'tag', 't' || (g % 5000)),
               ${iso(T0)}::timestamptz + g * interval '1 second', ${iso(T0)}::timestamptz, 'u' || (g % 50)
        FROM generate_series(1, 100000) AS g`
      yield* store.tables.put(config) // declaring the columns builds their indexes over the existing rows
      yield* sql`ANALYZE bkend_rows`
      const plan = (where: Q.Where, sortBy: string, sortDirection: "asc" | "desc" = "desc") =>
        Effect.map(
          sql<{
            "QUERY PLAN": string
          }>`EXPLAIN ${compileQuery(sql, config, { where, sortBy, sortDirection, offset: 0, limit: 20, select: undefined }).page}`,
          (rows) => rows.map((r) => r["QUERY PLAN"]).join("\n")
        )
      const field = (name: string, condition: Q.Condition): Q.Where => ({ _tag: "Field", field: name, condition })
      const indexOf = (f: string) => Ddl.indexesFor(config).find((i) => i.fields[0] === f)!.name
      const priceIndex = indexOf("price")

      // a declared column: its own btree; an undeclared field: the GIN index on `data`
      const declared = yield* plan(field("category", { op: "$eq", value: "c7" }), "id")
      expect(declared).toMatch(new RegExp(`Index Scan( Backward)? using ${indexOf("category")}`))
      const equality = yield* plan(field("tag", { op: "$eq", value: "t7" }), "id")
      expect(equality).toMatch(/Bitmap Index Scan on bkend_rows_data/)
      const membership = yield* plan(field("tag", { op: "$in", values: ["t7", "t8"] }), "id")
      expect(membership).toMatch(/Bitmap Index Scan on bkend_rows_data/)
      const range = yield* plan(field("price", { op: "$gte", value: 990 }), "price", "asc")
      expect(range).toMatch(new RegExp(`Index Scan using ${priceIndex}`))
      expect(range).not.toMatch(/Sort Key/)
      const recent = yield* plan(field("createdAt", { op: "$gte", value: iso(T0 + 99_000 * 1000) }), "createdAt")
      expect(recent).toMatch(/Index Scan( Backward)? using bkend_rows_created_at/)

      const page = yield* store.rows.query("big", {
        where: field("price", { op: "$gte", value: 990 }),
        sortBy: "price",
        sortDirection: "asc",
        offset: 0,
        limit: 3,
        select: undefined
      })
      expect(page.total).toBe(1000)
      expect(page.items.map((r) => r.price)).toEqual([990, 990, 990])
    })
  )
})
