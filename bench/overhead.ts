/**
 * Benchmark 1 — per-request client overhead.
 *
 * The same GET and POST against a minimal canned-response `node:http` server on loopback, at concurrency 1 and 64.
 * The server runs in a CHILD PROCESS (bench/cannedServer.mjs, forked) so client and server never share one event
 * loop; on a 2-core machine they still share the cores, which is why only ratios measured in the same run matter.
 *
 * Clients: raw `undici.request` (the floor), raw `fetch`, the seed `bkendFetch` helper (bench/bkendFetch.ts, on
 * fetch), a bare Effect `HttpClient` pipeline on undici (reference), the SDK (`BkendClient.request`) on
 * `NodeHttpClient.layerUndici`, on the SDK's own `NodeTransport.layer` and on `FetchHttpClient.layer` (the bare pipeline
 * on both undici transports). Rounds are interleaved across clients; the table
 * shows the median over rounds.
 *
 * `--baseline DIR` adds the SDK of another checkout (say a worktree of the previous release) as two more rows, so a
 * change is compared with what it replaces in one interleaved run rather than across two noisy ones.
 *
 *   npx tsx bench/overhead.ts [--only sdk-undici,undici] [--rounds 5] [--ms 1500] [--concurrency 64] [--method GET]
 *                             [--baseline ../previous-checkout]
 * Env: BENCH_ROUNDS, BENCH_MS.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import * as undici from "undici"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Current from "../src/BkendClient.js"
import { NodeTransport } from "../src/node/index.js"
import { makeBkendFetch } from "./bkendFetch.js"
import {
  argValue,
  closedLoop,
  closedLoopEffect,
  envInt,
  fmt,
  isMain,
  median,
  type RoundResult,
  startCannedServer,
  table
} from "./lib.js"

const API_KEY = `pk_${"ab".repeat(32)}`
const ACCESS = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJzaWQiOiJzLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
const REFRESH = "refresh-token-opaque-0123456789abcdef"
const GET_PATH = "/v1/data/items/abc123"
const POST_PATH = "/v1/data/items"
const POST_BODY = { title: "hello world", n: 2, done: false }

const Item = Schema.Struct({ id: Schema.String, title: Schema.String, n: Schema.Number, done: Schema.Boolean })

type Method = "GET" | "POST"

interface Client {
  readonly name: string
  readonly run: (method: Method, concurrency: number, ms: number) => Promise<RoundResult>
  readonly close: () => Promise<void>
}

const promiseClient = (
  name: string,
  ops: { readonly GET: () => Promise<unknown>; readonly POST: () => Promise<unknown> }
): Client => ({
  name,
  run: (method, concurrency, ms) => closedLoop(concurrency, ms, ops[method]),
  close: async () => {}
})

const effectClient = <R>(
  name: string,
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  ops: { readonly GET: Effect.Effect<unknown, unknown, R>; readonly POST: Effect.Effect<unknown, unknown, R> }
): Client => ({
  name,
  run: (method, concurrency, ms) => runtime.runPromise(closedLoopEffect(concurrency, ms, ops[method])),
  close: () => runtime.dispose()
})

/** The SDK modules one row runs on: this checkout's, or a baseline checkout's (`--baseline DIR`). */
interface Sdk {
  readonly BkendClient: typeof Current
  readonly NodeTransport: typeof NodeTransport
}

const loadBaseline = async (dir: string): Promise<Sdk> => {
  const at = (file: string) => pathToFileURL(path.resolve(dir, file)).href
  const client: typeof Current = await import(at("src/BkendClient.ts"))
  const node: { NodeTransport: typeof NodeTransport } = await import(at("src/node/index.ts"))
  return { BkendClient: client, NodeTransport: node.NodeTransport }
}

const makeClients = async (baseUrl: string, baseline: Sdk | undefined): Promise<ReadonlyArray<Client>> => {
  const headers = {
    "content-type": "application/json",
    "x-api-key": API_KEY,
    authorization: `Bearer ${ACCESS}`,
    accept: "application/json"
  }
  const check = (status: number) => {
    if (status < 200 || status >= 300) throw new Error(`status ${status}`)
  }

  const undiciClient = promiseClient("undici.request", {
    GET: async () => {
      const res = await undici.request(`${baseUrl}${GET_PATH}`, { method: "GET", headers })
      const json = await res.body.json()
      check(res.statusCode)
      return json
    },
    POST: async () => {
      const res = await undici.request(`${baseUrl}${POST_PATH}`, {
        method: "POST",
        headers,
        body: JSON.stringify(POST_BODY)
      })
      const json = await res.body.json()
      check(res.statusCode)
      return json
    }
  })

  const fetchClient = promiseClient("fetch", {
    GET: async () => {
      const res = await fetch(`${baseUrl}${GET_PATH}`, { headers })
      const json = await res.json()
      check(res.status)
      return json
    },
    POST: async () => {
      const res = await fetch(`${baseUrl}${POST_PATH}`, { method: "POST", headers, body: JSON.stringify(POST_BODY) })
      const json = await res.json()
      check(res.status)
      return json
    }
  })

  const { bkendFetch } = makeBkendFetch({
    baseUrl,
    publishableKey: API_KEY,
    storage: { accessToken: ACCESS, refreshToken: REFRESH }
  })
  const helperClient = promiseClient("bkendFetch (seed helper)", {
    GET: () => bkendFetch(GET_PATH),
    POST: () => bkendFetch(POST_PATH, { method: "POST", body: POST_BODY })
  })

  // The reference point: base URL, two headers, filterStatusOk, Schema decode — nothing else.
  const bare = Effect.map(HttpClient.HttpClient, (http) =>
    http.pipe(
      HttpClient.mapRequest((r) =>
        r.pipe(
          HttpClientRequest.prependUrl(baseUrl),
          HttpClientRequest.setHeader("x-api-key", API_KEY),
          HttpClientRequest.bearerToken(ACCESS)
        )
      ),
      HttpClient.filterStatusOk
    )
  )
  const Wrapped = Schema.Struct({ success: Schema.Literal(true), data: Item })
  const bareClient = (name: string, transport: Layer.Layer<HttpClient.HttpClient>) =>
    effectClient(name, ManagedRuntime.make(transport), {
      GET: Effect.flatMap(bare, (http) =>
        Effect.flatMap(http.get(GET_PATH), (res) => HttpClientResponse.schemaBodyJson(Wrapped)(res))
      ),
      POST: Effect.flatMap(bare, (http) =>
        Effect.flatMap(
          http.post(POST_PATH, { body: HttpClientRequest.bodyUnsafeJson(HttpClientRequest.post(""), POST_BODY).body }),
          (res) => HttpClientResponse.schemaBodyJson(Wrapped)(res)
        )
      )
    })

  const sdk = async (
    name: string,
    transport: Layer.Layer<HttpClient.HttpClient>,
    tracing = true,
    { BkendClient }: Sdk = { BkendClient: Current, NodeTransport }
  ) => {
    const runtime = ManagedRuntime.make(
      BkendClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl }).pipe(
        Layer.provide(transport),
        Layer.orDie,
        Layer.merge(tracing ? Layer.empty : Layer.setTracerEnabled(false))
      )
    )
    await runtime.runPromise(
      Effect.flatMap(BkendClient.BkendClient, (c) =>
        c.setTokens({ accessToken: ACCESS, refreshToken: REFRESH, tokenType: "Bearer", expiresIn: 3600 })
      )
    )
    return effectClient(name, runtime, {
      GET: Effect.flatMap(BkendClient.BkendClient, (c) =>
        c.request({
          method: "GET",
          route: "/v1/data/:table/:id",
          params: { table: "items", id: "abc123" },
          auth: "required",
          response: Item
        })
      ),
      POST: Effect.flatMap(BkendClient.BkendClient, (c) =>
        c.request({
          method: "POST",
          route: "/v1/data/:table",
          params: { table: "items" },
          body: POST_BODY,
          auth: "required",
          response: Item
        })
      )
    })
  }

  return [
    undiciClient,
    fetchClient,
    helperClient,
    bareClient("Effect HttpClient bare (undici)", NodeHttpClient.layerUndici),
    bareClient("Effect HttpClient bare (NodeTransport)", NodeTransport.layer),
    await sdk("SDK on NodeHttpClient.layerUndici", NodeHttpClient.layerUndici),
    await sdk("SDK on NodeTransport.layer", NodeTransport.layer),
    await sdk("SDK on FetchHttpClient.layer", FetchHttpClient.layer),
    // a user-level knob: with the tracer disabled every span (the SDK's and the HTTP client's) is a no-op
    await sdk("SDK on undici, tracer disabled", NodeHttpClient.layerUndici, false),
    ...(baseline === undefined
      ? []
      : [
          await sdk("baseline SDK on layerUndici", NodeHttpClient.layerUndici, true, baseline),
          await sdk("baseline SDK on NodeTransport", baseline.NodeTransport.layer, true, baseline)
        ])
  ]
}

const SHORT: Record<string, string> = {
  "undici.request": "undici",
  fetch: "fetch",
  "bkendFetch (seed helper)": "helper",
  "Effect HttpClient bare (undici)": "bare",
  "Effect HttpClient bare (NodeTransport)": "bare-node",
  "SDK on NodeHttpClient.layerUndici": "sdk-undici",
  "SDK on NodeTransport.layer": "sdk-node",
  "SDK on FetchHttpClient.layer": "sdk-fetch",
  "SDK on undici, tracer disabled": "sdk-notrace",
  "baseline SDK on layerUndici": "base-undici",
  "baseline SDK on NodeTransport": "base-node"
}

export const run = async (): Promise<void> => {
  const rounds = Number(argValue("rounds") ?? envInt("BENCH_ROUNDS", 5))
  const ms = Number(argValue("ms") ?? envInt("BENCH_MS", 1500))
  const only = argValue("only")?.split(",")
  const concurrencies = (argValue("concurrency") ?? "1,64").split(",").map(Number)
  const methods = (argValue("method") ?? "GET,POST").split(",") as Array<Method>

  const server = await startCannedServer()
  try {
    const baselineDir = argValue("baseline")
    const all = await makeClients(server.url, baselineDir === undefined ? undefined : await loadBaseline(baselineDir))
    const clients = all.filter((c) => only === undefined || only.includes(SHORT[c.name] ?? c.name))
    console.log(
      `\n## Benchmark 1 — per-request overhead (server: forked child process, ${server.url}; ${rounds} rounds x ${ms} ms, medians)\n`
    )
    for (const method of methods) {
      for (const concurrency of concurrencies) {
        // warm-up: JIT, connection pools
        for (const c of clients) await c.run(method, concurrency, Math.min(500, ms))
        const results = new Map<string, Array<RoundResult>>()
        for (let r = 0; r < rounds; r++) {
          for (const c of clients) {
            const res = await c.run(method, concurrency, ms)
            const list = results.get(c.name) ?? []
            list.push(res)
            results.set(c.name, list)
          }
        }
        const med = (name: string, f: (r: RoundResult) => number) => median((results.get(name) ?? []).map(f))
        // ratios are taken per round (the clients of one round ran back to back), then the median over rounds
        const perRound = (name: string, base: string, f: (r: RoundResult) => number) => {
          const a = results.get(name) ?? []
          const b = results.get(base) ?? []
          return median(a.flatMap((r, i) => (b[i] === undefined ? [] : [f(r) / f(b[i])])))
        }
        const x = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : "-")
        const rows = clients.map((c) => {
          const rps = results.get(c.name)?.map((r) => r.rps) ?? []
          const errors = (results.get(c.name) ?? []).reduce((n, r) => n + r.errors, 0)
          return [
            c.name,
            fmt(med(c.name, (r) => r.rps)),
            `${fmt(Math.min(...rps))}–${fmt(Math.max(...rps))}`,
            fmt(
              med(c.name, (r) => r.p50),
              2
            ),
            fmt(
              med(c.name, (r) => r.p99),
              2
            ),
            fmt(med(c.name, (r) => r.cpuMicros)),
            x(perRound(c.name, "undici.request", (r) => r.rps)),
            x(perRound(c.name, "bkendFetch (seed helper)", (r) => r.rps)),
            x(perRound(c.name, "bkendFetch (seed helper)", (r) => r.cpuMicros)),
            String(errors)
          ]
        })
        console.log(`### ${method} at concurrency ${concurrency}`)
        console.log(
          table(
            [
              "client",
              "req/s",
              "req/s range",
              "p50 ms",
              "p99 ms",
              "CPU µs/req",
              "req/s vs undici",
              "req/s vs helper",
              "CPU vs helper",
              "errors"
            ],
            rows
          )
        )
        console.log("")
      }
    }
    for (const c of all) await c.close()
  } finally {
    server.stop()
  }
}

if (isMain(import.meta.url)) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
