/**
 * Benchmark 5 — storage engines: create, get and a filtered list over HTTP (undici, closed loop) at c=1 and c=64,
 * on the in-memory engine and on PostgreSQL (a fresh database, dropped after), in one interleaved run: every round
 * measures each cell on both engines back to back, and the table shows medians over rounds and PostgreSQL/memory
 * ratios. Then the filtered-list p50 on a 100,000-row PostgreSQL table (seeded with one INSERT … SELECT
 * generate_series, its declared columns indexed) and the EXPLAIN line of that list's query.
 *
 * get and list read a table of 2,000 rows (list: equality on a declared column, sorted by another, 20 per page);
 * creates write to a table of their own. Both servers run in this process, each on its own loopback socket, the
 * client too: the ratios compare the engines under the same load, not absolute capacity.
 *
 *   npx tsx bench/storage.ts [--rounds 3] [--ms 1500]
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Layer, Redacted, Scope } from "effect"
import { Agent, request } from "undici"
import { compileQuery } from "../src/local/internal/pg/where.js"
import type * as Q from "../src/local/internal/rowQuery.js"
import type * as Tables from "../src/local/internal/tables.js"
import * as LocalServer from "../src/local/LocalServer.js"
import { databaseLayer, databaseUrl, TestDatabase } from "../test/local/pg/db.js"
import { argValue, closedLoop, envInt, fmt, isMain, median, percentile, ratio, table } from "./lib.js"

const items: Tables.TableConfig = {
  name: "items",
  columns: { n: "int", category: "string" },
  permissions: { guest: { create: true, read: true, list: true } }
}
/** creates go to their own table, so the table that get and list read has the same rows on both engines */
const writes: Tables.TableConfig = { ...items, name: "writes" }
const big: Tables.TableConfig = {
  name: "big",
  columns: { price: "number", category: "string" },
  permissions: { guest: { read: true, list: true } }
}
const SEEDED = 2000
const BIG_ROWS = 100_000

const dispatcher = new Agent({ connections: 128, pipelining: 1 })

/** One HTTP call with the publishable key; fails unless the status is `expected`. */
const call = async (url: string, key: string, method: "GET" | "POST", path: string, body?: unknown, expected = 200) => {
  const res = await request(`${url}${path}`, {
    method,
    dispatcher,
    headers: { "x-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.body.text()
  if (res.statusCode !== expected) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`)
  return text
}

interface Engine {
  readonly name: string
  readonly url: string
  readonly key: string
  readonly server: LocalServer.LocalServer
  ids: Array<string>
}

/** Serves a server built by `layer` on a loopback socket in `scope`. */
const serve = (name: string, layer: Layer.Layer<LocalServer.LocalServerTag, unknown>, scope: Scope.Scope) =>
  Effect.gen(function* () {
    const server = Context.get(yield* Layer.buildWithScope(layer, scope), LocalServer.LocalServerTag)
    const http = yield* Layer.buildWithScope(LocalServer.layerNodeServer(server, { port: 0 }), scope)
    const url = yield* Effect.provide(LocalServer.serverUrl, http)
    return { name, url, key: server.keys.publishable, server, ids: [] } satisfies Engine
  })

const filter = encodeURIComponent(JSON.stringify({ category: "c7" }))
const ops = {
  create: (e: Engine) => () => call(e.url, e.key, "POST", "/v1/data/writes", { n: 1, category: "c1" }, 201),
  get: (e: Engine) => () =>
    call(e.url, e.key, "GET", `/v1/data/items/${e.ids[Math.floor(Math.random() * e.ids.length)]}`),
  list: (e: Engine) => () => call(e.url, e.key, "GET", `/v1/data/items?andFilters=${filter}&sortBy=n&limit=20`)
} as const

const seed = async (e: Engine) => {
  for (let i = 0; i < SEEDED; i++) {
    const text = await call(e.url, e.key, "POST", "/v1/data/items", { n: i, category: `c${i % 50}` }, 201)
    e.ids.push((JSON.parse(text) as { data: { id: string } }).data.id)
  }
}

/** The 100,000-row table: rows inserted by one statement, then the declared columns (and their indexes). */
const seedBig = (e: Engine) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* e.server.store.tables.put({ name: big.name })
    yield* sql`INSERT INTO bkend_rows (table_name, id, data, created_at, updated_at, created_by)
      SELECT 'big', lpad(to_hex(g), 24, '0'), jsonb_build_object('price', g % 1000, 'category', 'c' || (g % 500)),
             now() + g * interval '1 millisecond', now(), 'seed'
      FROM generate_series(1, ${BIG_ROWS}) AS g`
    yield* e.server.store.tables.put(big)
    yield* sql`ANALYZE bkend_rows`
    const where: Q.Where = { _tag: "Field", field: "price", condition: { op: "$gte", value: 990 } }
    const query = { where, sortBy: "price", sortDirection: "asc" as const, offset: 0, limit: 20, select: undefined }
    const plan = yield* sql<{ "QUERY PLAN": string }>`EXPLAIN ${compileQuery(sql, big, query).page}`
    return plan.map((r) => r["QUERY PLAN"].trim()).find((line) => /Index|Scan/.test(line)) ?? "(no plan)"
  })

const bigList = async (e: Engine, n: number) => {
  const path = `/v1/data/big?andFilters=${encodeURIComponent(JSON.stringify({ price: { $gte: 990 } }))}&sortBy=price&sortDirection=asc&limit=20`
  await call(e.url, e.key, "GET", path) // warm-up
  const latencies: Array<number> = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await call(e.url, e.key, "GET", path)
    latencies.push(performance.now() - t0)
  }
  return percentile(
    latencies.sort((a, b) => a - b),
    50
  )
}

type Cell = { readonly op: keyof typeof ops; readonly c: number }
const cells: ReadonlyArray<Cell> = (["create", "get", "list"] as const).flatMap((op) => [1, 64].map((c) => ({ op, c })))

export const run = async (): Promise<void> => {
  const rounds = Number(argValue("rounds") ?? envInt("BENCH_ROUNDS", 3))
  const ms = Number(argValue("ms") ?? envInt("BENCH_MS", 1500))
  console.log(`\n## Benchmark 5 — storage engines over HTTP (${rounds} interleaved rounds of ${ms} ms per cell)\n`)
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const scope = yield* Scope.Scope
        const name = Context.get(yield* Layer.buildWithScope(databaseLayer, scope), TestDatabase)
        const url = databaseUrl(name)
        const options = { tables: [items, writes, big] }
        const memory = yield* serve("memory", LocalServer.layer(options), scope)
        const pg = yield* serve("PostgreSQL", LocalServer.layerPg(url, options), scope)
        const engines = [memory, pg]
        yield* Effect.promise(() => Promise.all(engines.map(seed)))
        const results = new Map<string, Array<{ rps: number; p50: number }>>()
        for (let r = 0; r < rounds; r++) {
          for (const cell of cells) {
            for (const e of r % 2 === 0 ? engines : [...engines].reverse()) {
              const result = yield* Effect.promise(() => closedLoop(cell.c, ms, ops[cell.op](e)))
              if (result.errors > 0) console.log(`  ${e.name} ${cell.op} c=${cell.c}: ${result.errors} errors`)
              const key = `${cell.op}/${cell.c}/${e.name}`
              results.set(key, [...(results.get(key) ?? []), { rps: result.rps, p50: result.p50 }])
            }
          }
        }
        const med = (cell: Cell, e: Engine, f: "rps" | "p50") =>
          median((results.get(`${cell.op}/${cell.c}/${e.name}`) ?? []).map((x) => x[f]))
        console.log(
          table(
            ["operation", "c", "memory req/s", "pg req/s", "pg/memory", "memory p50 ms", "pg p50 ms"],
            cells.map((cell) => [
              cell.op,
              String(cell.c),
              fmt(med(cell, memory, "rps")),
              fmt(med(cell, pg, "rps")),
              ratio(med(cell, pg, "rps"), med(cell, memory, "rps")),
              fmt(med(cell, memory, "p50"), 2),
              fmt(med(cell, pg, "p50"), 2)
            ])
          )
        )
        const explain = yield* seedBig(pg).pipe(
          Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))
        )
        const p50 = yield* Effect.promise(() => bigList(pg, 200))
        console.log(
          `\nfiltered list (price >= 990, sorted by price, 20 per page) on ${fmt(BIG_ROWS)} PostgreSQL rows: p50 ${fmt(p50, 2)} ms`
        )
        console.log(`EXPLAIN: ${explain}`)
      })
    )
  )
  await dispatcher.close()
}

if (isMain(import.meta.url)) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
