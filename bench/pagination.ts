/**
 * Benchmark 3 — pagination: `Tables.stream` over 10,000 and 100,000 rows vs loading every page into an array
 * (`Tables.list` page after page). Rows/s and the client's peak RSS.
 *
 * bkend-local runs in its own child process (so its 100k rows do not count towards the client's memory), seeded
 * directly in its state; each measurement is a FRESH client process, and its peak RSS is `process.resourceUsage()
 * .maxRSS` (the OS high-water mark). Rows carry a ~200-byte payload. Page size 100 (the maximum) for both.
 *
 *   npx tsx bench/pagination.ts [--sizes 10000,100000]
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, ManagedRuntime, Redacted, Schema, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as BkendClient from "../src/BkendClient.js"
import { makeTableState, type TableConfig } from "../src/local/internal/tables.js"
import * as LocalServer from "../src/local/LocalServer.js"
import * as Tables from "../src/Tables.js"
import { argValue, fmt, isMain, table } from "./lib.js"

const self = fileURLToPath(import.meta.url)
const Item = Schema.Struct({ n: Schema.Number, title: Schema.String, body: Schema.String })
const tableName = (n: number) => `rows${n}`

const startChild = (args: ReadonlyArray<string>): { child: ChildProcess; message: Promise<unknown> } => {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", self, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const message = new Promise<unknown>((resolve, reject) => {
    child.once("message", resolve)
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`child exited with ${code}`)))
  })
  return { child, message }
}

const serverRole = async (sizes: ReadonlyArray<number>) => {
  const configs: Array<TableConfig> = sizes.map((n) => ({
    name: tableName(n),
    columns: { n: "int", title: "string", body: "string" },
    permissions: { guest: { read: true, list: true } }
  }))
  const runtime = ManagedRuntime.make(LocalServer.layerNode({ port: 0, tables: configs }))
  const [server, url] = await runtime.runPromise(Effect.all([LocalServer.LocalServerTag, LocalServer.serverUrl]))
  const at = new Date(0).toISOString()
  for (const config of configs) {
    const n = Number(config.name.slice(4))
    // declared tables are materialised on first use; do it now to seed them
    const state = makeTableState(config)
    server.local.state.tables.set(config.name, state)
    const rows = state.rows
    for (let i = 0; i < n; i++) {
      const id = `row-${String(i).padStart(7, "0")}`
      rows.set(id, {
        id,
        createdBy: "seed",
        createdAt: at,
        updatedAt: at,
        n: i,
        title: `row ${i}`,
        body: "x".repeat(200)
      })
    }
  }
  process.send?.({ url, key: server.keys.publishable })
  process.on("disconnect", () => {
    void runtime.dispose().then(() => process.exit(0))
  })
}

const clientRole = async (url: string, key: string, n: number, mode: "stream" | "array") => {
  const runtime = ManagedRuntime.make(
    Layer.provideMerge(Tables.layer, BkendClient.layer({ apiKey: Redacted.make(key), baseUrl: url })).pipe(
      Layer.provide(NodeHttpClient.layerUndici),
      Layer.orDie
    )
  )
  // live memory: every 10,000 rows a full GC, then the heap in use (what is really retained, unlike peak RSS,
  // which also counts garbage not yet collected)
  let maxLiveHeap = 0
  const sampleLive = () => {
    const gc: unknown = Reflect.get(globalThis, "gc")
    if (typeof gc === "function") gc()
    maxLiveHeap = Math.max(maxLiveHeap, process.memoryUsage().heapUsed)
  }
  sampleLive()
  const heapBefore = maxLiveHeap
  const rssBefore = process.memoryUsage().rss
  const t0 = performance.now()
  const count = await runtime.runPromise(
    Effect.gen(function* () {
      const items = (yield* Tables.Tables).table(tableName(n), Item)
      if (mode === "stream") {
        let seen = 0
        yield* Stream.runForEach(Tables.stream(items, { limit: 100 }), () =>
          Effect.sync(() => {
            seen++
            if (seen % 10_000 === 0) sampleLive()
          })
        )
        return seen
      }
      const all: Array<unknown> = []
      for (let page = 1; ; page++) {
        const p = yield* items.list({ page, limit: 100 })
        all.push(...p.items)
        if (all.length % 10_000 === 0) sampleLive()
        if (!p.hasNext) break
      }
      return all.length
    })
  )
  const seconds = (performance.now() - t0) / 1000
  await runtime.dispose()
  process.send?.({
    count,
    seconds,
    rssBefore,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapBefore,
    maxLiveHeap
  })
}

interface ClientReport {
  readonly count: number
  readonly seconds: number
  readonly rssBefore: number
  readonly maxRssBytes: number
  readonly heapBefore: number
  readonly maxLiveHeap: number
}

export const run = async (): Promise<void> => {
  const sizes = (argValue("sizes") ?? "10000,100000").split(",").map(Number)
  const server = startChild(["--role", "server", "--sizes", sizes.join(",")])
  const info = (await server.message) as { url: string; key: string }
  try {
    console.log(
      `\n## Benchmark 3 — pagination (bkend-local in a child process; one fresh client process per row; page size 100)\n`
    )
    const rows: Array<Array<string>> = []
    for (const n of sizes) {
      for (const mode of ["stream", "array"] as const) {
        const c = startChild([
          "--role",
          "client",
          "--url",
          info.url,
          "--key",
          info.key,
          "--n",
          String(n),
          "--mode",
          mode
        ])
        const r = (await c.message) as ClientReport
        rows.push([
          String(n),
          mode === "stream" ? "Tables.stream" : "all pages → array",
          String(r.count),
          fmt(r.seconds, 2),
          fmt(r.count / r.seconds),
          fmt(r.rssBefore / 2 ** 20, 1),
          fmt(r.maxRssBytes / 2 ** 20, 1),
          fmt((r.maxRssBytes - r.rssBefore) / 2 ** 20, 1),
          fmt((r.maxLiveHeap - r.heapBefore) / 2 ** 20, 1)
        ])
      }
    }
    console.log(
      table(
        [
          "rows",
          "method",
          "read",
          "seconds",
          "rows/s",
          "RSS before MB",
          "peak RSS MB",
          "peak − before MB",
          "max live heap growth MB"
        ],
        rows
      )
    )
    console.log(
      "\n(live heap growth: heap in use right after a forced full GC, sampled every 10,000 rows, minus the same before" +
        " the first request — the memory actually retained; peak RSS also counts garbage not yet collected)"
    )
  } finally {
    server.child.disconnect()
  }
}

if (isMain(import.meta.url)) {
  const role = argValue("role")
  const main =
    role === "server"
      ? serverRole((argValue("sizes") ?? "").split(",").map(Number))
      : role === "client"
        ? clientRole(
            argValue("url") ?? "",
            argValue("key") ?? "",
            Number(argValue("n")),
            argValue("mode") === "array" ? "array" : "stream"
          )
        : run()
  main.catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
