/**
 * Benchmark 2 — refresh storm: N concurrent authenticated calls (`GET /v1/auth/me`) across an access-token expiry,
 * against bkend-local (in this process, on a real loopback socket, refresh-token rotation with replay detection).
 * The access-token TTL is 5 s: longer than a 1,000-call storm takes here, so the refreshed token does not expire again
 * mid-storm (with 2 s it did, and a second — legitimate — refresh followed). Each row uses a fresh user and session.
 *
 * - "fresh": the same N calls with a valid token (the latency baseline);
 * - "storm": the token has expired (we wait TTL + 0.3 s) and then the N calls start together.
 *
 * Clients:
 * - SDK reactive: the client believes the token is still valid (stored with a long `expiresIn`, as after clock
 *   skew), so every call gets 401 and goes through 401 → single-flight refresh → retry;
 * - SDK proactive: the client knows the expiry (`refreshMargin` 0) and refreshes before sending;
 * - bkendFetch: the seed helper (no single-flight: every 401 starts its own refresh).
 *
 * Refreshes and replays are the server's own counters (`counters.refreshCalls`, `counters.replaysDetected`).
 *
 *   npx tsx bench/refresh-storm.ts [--n 1,100,1000]
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Duration, Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { Agent, setGlobalDispatcher } from "undici"
import * as BkendClient from "../src/BkendClient.js"
import * as LocalServer from "../src/local/LocalServer.js"
import { makeBkendFetch } from "./bkendFetch.js"
import { argValue, fmt, isMain, percentile, table } from "./lib.js"

const TTL_SECONDS = 5
const Me = Schema.Struct({ id: Schema.String, email: Schema.String })
const TokenData = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.String,
  tokenType: Schema.optional(Schema.String),
  expiresIn: Schema.Number
})
const Envelope = Schema.Struct({ success: Schema.Literal(true), data: TokenData })

interface Outcome {
  readonly ok: number
  readonly failed: number
  readonly wallMs: number
  readonly p50: number
  readonly p99: number
  readonly refreshes: number
  readonly replays: number
  readonly failures: Record<string, number>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const run = async (): Promise<void> => {
  const sizes = (argValue("n") ?? "1,100,1000").split(",").map(Number)
  // enough sockets for 1,000 concurrent calls on both transports
  setGlobalDispatcher(new Agent({ connections: 2000, pipelining: 0 }))
  const runtime = ManagedRuntime.make(LocalServer.layerNode({ port: 0, accessTokenTtlSeconds: TTL_SECONDS }))
  try {
    const [server, url] = await runtime.runPromise(Effect.all([LocalServer.LocalServerTag, LocalServer.serverUrl]))
    const key = server.keys.publishable
    const counters = () => runtime.runPromise(server.counters)
    let userSeq = 0

    const signUp = async () => {
      const email = `storm-${Date.now().toString(36)}-${++userSeq}@example.com`
      const res = await fetch(`${url}/v1/auth/email/signup`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify({ method: "password", email, password: "password-123", name: "Storm" })
      })
      const json: unknown = await res.json()
      if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(json)}`)
      return Schema.decodeUnknownSync(Envelope)(json).data
    }

    const measure = async (
      n: number,
      callOnce: () => Promise<"ok" | string>
    ): Promise<Omit<Outcome, "refreshes" | "replays">> => {
      const latencies: Array<number> = []
      const failures: Record<string, number> = {}
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: n }, async () => {
          const s = performance.now()
          const r = await callOnce()
          if (r === "ok") latencies.push(performance.now() - s)
          else failures[r] = (failures[r] ?? 0) + 1
        })
      )
      const wallMs = performance.now() - t0
      latencies.sort((a, b) => a - b)
      return {
        ok: latencies.length,
        failed: n - latencies.length,
        wallMs,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        failures
      }
    }

    const withCounters = async (f: () => Promise<Omit<Outcome, "refreshes" | "replays">>): Promise<Outcome> => {
      const before = await counters()
      const out = await f()
      const after = await counters()
      return {
        ...out,
        refreshes: after.refreshCalls - before.refreshCalls,
        replays: after.replaysDetected - before.replaysDetected
      }
    }

    type Scenario = (n: number, expired: boolean) => Promise<Outcome>

    const sdkScenario =
      (mode: "reactive" | "proactive"): Scenario =>
      async (n, expired) => {
        const tokens = await signUp()
        const client = ManagedRuntime.make(
          BkendClient.layer({
            apiKey: Redacted.make(key),
            baseUrl: url,
            refreshMargin: Duration.zero,
            retryPolicy: { maxAttempts: 1 }
          }).pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.orDie)
        )
        try {
          await client.runPromise(
            Effect.flatMap(BkendClient.BkendClient, (c) =>
              c.setTokens({
                accessToken: tokens.accessToken,
                refreshToken: tokens.refreshToken,
                tokenType: "Bearer",
                expiresIn: mode === "reactive" ? 3600 : tokens.expiresIn
              })
            )
          )
          if (expired) await sleep(TTL_SECONDS * 1000 + 300)
          const me = Effect.flatMap(BkendClient.BkendClient, (c) =>
            c.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me })
          )
          return await withCounters(() =>
            measure(n, () =>
              client.runPromise(
                Effect.match(me, { onSuccess: () => "ok" as const, onFailure: (e) => `${e._tag} ${e.status}` })
              )
            )
          )
        } finally {
          await client.dispose()
        }
      }

    const helperScenario: Scenario = async (n, expired) => {
      const tokens = await signUp()
      const storage = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }
      const { bkendFetch } = makeBkendFetch({ baseUrl: url, publishableKey: key, storage })
      if (expired) await sleep(TTL_SECONDS * 1000 + 300)
      return withCounters(() =>
        measure(n, async () => {
          try {
            await bkendFetch("/v1/auth/me")
            return "ok"
          } catch (e) {
            return e instanceof Error && "status" in e ? `Error ${String(e.status)}` : "Error"
          }
        })
      )
    }

    const scenarios: ReadonlyArray<readonly [string, Scenario]> = [
      ["SDK reactive (401 → refresh)", sdkScenario("reactive")],
      ["SDK proactive (expiry known)", sdkScenario("proactive")],
      ["bkendFetch (seed helper)", helperScenario]
    ]

    console.log(
      `\n## Benchmark 2 — refresh storm against bkend-local (${url}, access-token TTL ${TTL_SECONDS} s, GET /v1/auth/me)\n`
    )
    // warm-up (JIT, connection pools) so the first measured row is not penalised
    for (const [, scenario] of scenarios) await scenario(50, false)
    const rows: Array<Array<string>> = []
    for (const n of sizes) {
      for (const [name, scenario] of scenarios) {
        const fresh = await scenario(n, false)
        const storm = await scenario(n, true)
        const failures = Object.entries(storm.failures)
          .map(([k, v]) => `${v}× ${k}`)
          .join(", ")
        rows.push([
          String(n),
          name,
          `${storm.ok}/${n}`,
          String(storm.refreshes),
          String(storm.replays),
          fmt(fresh.p50, 1),
          fmt(storm.p50, 1),
          fmt(storm.p50 - fresh.p50, 1),
          fmt(fresh.p99, 1),
          fmt(storm.p99, 1),
          fmt(fresh.wallMs, 0),
          fmt(storm.wallMs, 0),
          failures === "" ? "-" : failures
        ])
      }
    }
    console.log(
      table(
        [
          "N",
          "client",
          "ok",
          "refreshes",
          "replays",
          "fresh p50",
          "storm p50",
          "added p50",
          "fresh p99",
          "storm p99",
          "fresh wall",
          "storm wall",
          "storm failures"
        ],
        rows
      )
    )
    console.log("\n(latencies in ms; 'refreshes' = POST /v1/auth/refresh seen by the server during the storm)")
  } finally {
    await runtime.dispose()
  }
}

if (isMain(import.meta.url)) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
