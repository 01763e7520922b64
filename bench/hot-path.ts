/**
 * Benchmark 1b — the call's hot path, without a network: CPU per call of `BkendClient.request` on an in-memory
 * `HttpClient` that answers at once with a canned JSON body, next to a bare Effect pipeline (execute → status check →
 * `schemaBodyJson`) on the same transport. What remains per call is the SDK's own work and the Effect runtime's (the
 * span, the attempt's timeout fiber, the retry loop, the request build, the decode), which is what a change to
 * src/internal/{client,timeout,retry,request,transport}.ts moves; sockets and undici would only add noise.
 *
 * Rounds are interleaved (bare, SDK GET, SDK POST, …); the table shows medians over rounds of CPU µs per call
 * (user + system of this process) and calls per second, at concurrency 1 and 64. On a shared machine only ratios
 * measured in one run mean anything; the load average is printed with the table. `--baseline DIR` adds another
 * checkout's SDK (e.g. an export of main) as more rows of the same interleaved run.
 *
 *   npx tsx bench/hot-path.ts [--rounds 5] [--ms 1000] [--baseline ../previous-checkout]
 * Env: BENCH_ROUNDS, BENCH_MS.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { loadavg } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Current from "../src/BkendClient.js"
import { argValue, closedLoopEffect, envInt, fmt, isMain, median, type RoundResult, table } from "./lib.js"

const API_KEY = `pk_${"ab".repeat(32)}`
const ACCESS = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJzaWQiOiJzLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
const REFRESH = "refresh-token-opaque-0123456789abcdef"
const BASE_URL = "http://bench.invalid"

const Item = Schema.Struct({ id: Schema.String, title: Schema.String, n: Schema.Number, done: Schema.Boolean })
const Wrapped = Schema.Struct({ success: Schema.Boolean, data: Item })

const item = JSON.stringify({ success: true, data: { id: "abc123", title: "hello world", n: 1, done: false } })
const headers = { "content-type": "application/json" }

/** Answers every request at once: 201 for a POST, 200 otherwise, the same small JSON document. */
const canned = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) =>
    Effect.sync(() =>
      HttpClientResponse.fromWeb(
        request,
        new Response(item, { status: request.method === "POST" ? 201 : 200, headers })
      )
    )
  )
)

type Op = Effect.Effect<unknown, unknown>

/** GET and POST through one checkout's SDK, on its own runtime. */
const sdkOps = async (BkendClient: typeof Current) => {
  const runtime = ManagedRuntime.make(
    BkendClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: BASE_URL }).pipe(Layer.provide(canned), Layer.orDie)
  )
  const client = await runtime.runPromise(BkendClient.BkendClient)
  await runtime.runPromise(
    client.setTokens({ accessToken: ACCESS, refreshToken: REFRESH, tokenType: "Bearer", expiresIn: 3600 })
  )
  const GET: Op = client.request({
    method: "GET",
    route: "/v1/data/:table/:id",
    params: { table: "items", id: "abc123" },
    auth: "required",
    response: Item
  })
  const POST: Op = client.request({
    method: "POST",
    route: "/v1/data/:table",
    params: { table: "items" },
    body: { title: "hello world", n: 2, done: false },
    auth: "required",
    response: Item
  })
  return { GET, POST, dispose: () => runtime.dispose() }
}

const loadBaseline = async (dir: string): Promise<typeof Current> =>
  import(pathToFileURL(path.resolve(dir, "src/BkendClient.ts")).href)

const makeCases = async (baselineDir: string | undefined) => {
  const http = await Effect.runPromise(Effect.provide(HttpClient.HttpClient, canned))
  const bare: Op = http
    .pipe(HttpClient.filterStatusOk)
    .execute(
      HttpClientRequest.get(`${BASE_URL}/v1/data/items/abc123`).pipe(
        HttpClientRequest.setHeader("x-api-key", API_KEY),
        HttpClientRequest.bearerToken(ACCESS)
      )
    )
    .pipe(Effect.flatMap((res) => HttpClientResponse.schemaBodyJson(Wrapped)(res)))
  const current = await sdkOps(Current)
  const baseline = baselineDir === undefined ? undefined : await sdkOps(await loadBaseline(baselineDir))
  const cases: Array<readonly [string, Op]> = [
    ["bare GET", bare],
    ["SDK GET", current.GET],
    ["SDK POST", current.POST],
    ...(baseline === undefined
      ? []
      : ([
          ["baseline SDK GET", baseline.GET],
          ["baseline SDK POST", baseline.POST]
        ] as const))
  ]
  return {
    cases,
    dispose: async () => {
      await current.dispose()
      await baseline?.dispose()
    }
  }
}

export const run = async () => {
  const rounds = Number(argValue("rounds") ?? envInt("BENCH_ROUNDS", 5))
  const ms = Number(argValue("ms") ?? envInt("BENCH_MS", 1000))
  const { cases, dispose } = await makeCases(argValue("baseline"))
  const results = new Map<string, Array<RoundResult>>()
  const load = loadavg()
  // warm-up: the JIT, the schema decoders' caches
  for (const [, op] of cases) await Effect.runPromise(closedLoopEffect(1, 300, op))
  for (let r = 0; r < rounds; r++) {
    for (const concurrency of [1, 64]) {
      for (const [name, op] of cases) {
        const key = `${name} c=${concurrency}`
        const result = await Effect.runPromise(closedLoopEffect(concurrency, ms, op))
        if (result.errors > 0) throw new Error(`${key}: ${result.errors} calls failed`)
        results.set(key, [...(results.get(key) ?? []), result])
      }
    }
  }
  await dispose()
  const cpuOf = (key: string) => median((results.get(key) ?? []).map((x) => x.cpuMicros))
  const rows = [...results.entries()].map(([key, rs]) => {
    const cpu = cpuOf(key)
    const concurrency = key.slice(key.lastIndexOf(" "))
    const baseline = key.startsWith("SDK") ? cpuOf(`baseline ${key}`) : Number.NaN
    return [
      key,
      fmt(median(rs.map((x) => x.rps))),
      fmt(cpu, 1),
      key.startsWith("bare") ? "" : `${(cpu / cpuOf(`bare GET${concurrency}`)).toFixed(2)}x`,
      Number.isNaN(baseline) ? "" : `${(cpu / baseline).toFixed(2)}x`
    ]
  })
  const loads = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(" / ")
  console.log(
    `\n## Benchmark 1b — hot path (in-memory transport), ${rounds} rounds x ${ms} ms, load average ${loads(load)} → ${loads(loadavg())}\n`
  )
  console.log(table(["case", "calls/s", "CPU µs/call", "CPU vs bare GET", "CPU vs baseline"], rows))
}

if (isMain(import.meta.url)) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
