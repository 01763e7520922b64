/**
 * Benchmark 4 — cold start: the time a fresh `node` process needs to import the SDK and build its layer
 * (`Bkend.layer` when src/Bkend.ts exists, else `BkendClient.layer`) on `NodeHttpClient.layerUndici` or on the SDK's
 * `NodeTransport.layer` (which imports undici at the first request: "first call" is one call to a closed port, so the
 * deferred import is counted there; the "undici imported up front" row shows what deferring saves before it).
 *
 * The SDK is bundled first with esbuild (effect and @effect/* stay external, loaded from node_modules exactly as an
 * application would), so no TypeScript compilation is measured. Each sample is a new process; the table shows
 * medians over the samples. "node baseline" is an empty script (process start-up only).
 *
 *   npx tsx bench/cold-start.ts [--samples 9]
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { argValue, envInt, fmt, isMain, median, table } from "./lib.js"

const root = fileURLToPath(new URL("..", import.meta.url))

interface Sample {
  readonly processStart: number
  readonly importEffect: number
  readonly importSdk: number
  readonly buildLayer: number
  readonly ready: number
  /** the first call (to a closed port: it fails fast once a connection is attempted), from ready */
  readonly firstCall: number
}

type Case = "baseline" | "effect-only" | "sdk" | "sdk-node" | "sdk-node-eager"

const CASES: ReadonlyArray<Case> = ["baseline", "effect-only", "sdk", "sdk-node", "sdk-node-eager"]

const LABEL: Record<Case, string> = {
  baseline: "baseline (empty script)",
  "effect-only": "effect only",
  sdk: "SDK on NodeHttpClient.layerUndici",
  "sdk-node": "SDK on NodeTransport.layer",
  "sdk-node-eager": "SDK on NodeTransport.layer, undici imported up front"
}

const probe = (sdkPath: string, nodePath: string, which: Case) => `
const which = ${JSON.stringify(which)}
const t0 = performance.now()
let t1 = t0, t2 = t0, t3 = t0, t4 = t0
if (which !== "baseline") {
  const { Effect, Layer, ManagedRuntime, Redacted, Schema } = await import("effect")
  t1 = performance.now()
  if (which !== "effect-only") {
    const sdk = await import(${JSON.stringify(sdkPath)})
    let transport
    if (which === "sdk") {
      transport = (await import("@effect/platform-node/NodeHttpClient")).layerUndici
    } else {
      if (which === "sdk-node-eager") await import("undici")
      transport = (await import(${JSON.stringify(nodePath)})).NodeTransport.layer
    }
    t2 = performance.now()
    const options = {
      apiKey: Redacted.make("pk_" + "0".repeat(64)),
      baseUrl: "http://127.0.0.1:9",
      retryPolicy: { maxAttempts: 1 }
    }
    const layer = sdk.Bkend?.layer
      ? sdk.Bkend.layer(options)
      : sdk.BkendClient.layer(options)
    const runtime = ManagedRuntime.make(layer.pipe(Layer.provide(transport)))
    await runtime.runtime()
    t3 = performance.now()
    await runtime.runPromise(
      Effect.either(
        Effect.flatMap(sdk.BkendClient.BkendClient, (client) =>
          client.request({ method: "GET", route: "/v1/data/:table", params: { table: "t" }, auth: "none", response: Schema.Unknown })
        )
      )
    )
    t4 = performance.now()
    await runtime.dispose()
  }
}
const ready = Math.max(t0, t1, t2, t3)
process.stdout.write(JSON.stringify({ processStart: t0, importEffect: t1 - t0, importSdk: t2 - t1, buildLayer: t3 - t2, ready, firstCall: Math.max(0, t4 - ready) }))
`

export const run = async (): Promise<void> => {
  const samples = Number(argValue("samples") ?? envInt("BENCH_SAMPLES", 9))
  // the bundle must live inside the project so that `effect` resolves from its node_modules
  const dir = mkdtempSync(join(root, "bench", ".cold-"))
  try {
    const bundle = async (entry: string, outfile: string) =>
      esbuild.build({
        entryPoints: [join(root, entry)],
        bundle: true,
        format: "esm",
        platform: "node",
        outfile,
        external: ["effect", "effect/*", "@effect/*", "undici", "proper-lockfile"],
        logLevel: "silent"
      })
    const sdkPath = join(dir, "sdk.mjs")
    const nodePath = join(dir, "node.mjs")
    await bundle("src/index.ts", sdkPath)
    await bundle("src/node/index.ts", nodePath)
    const cases = CASES
    const results = new Map<string, Array<Sample>>()
    for (let i = 0; i < samples; i++) {
      for (const which of cases) {
        const file = join(dir, `probe-${which}.mjs`)
        writeFileSync(file, probe(sdkPath, nodePath, which))
        const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8" })
        const parsed: Sample = JSON.parse(out)
        const list = results.get(which) ?? []
        list.push(parsed)
        results.set(which, list)
      }
    }
    const med = (which: string, f: (s: Sample) => number) => median((results.get(which) ?? []).map(f))
    const hasBkend = existsSync(join(root, "src/Bkend.ts"))
    console.log(
      `\n## Benchmark 4 — cold start (${samples} fresh processes per row, medians, ms; layer = ${hasBkend ? "Bkend.layer" : "BkendClient.layer (src/Bkend.ts not present yet)"}; first call = one request to a closed port, after ready)\n`
    )
    const ms = (which: Case, f: (s: Sample) => number) => fmt(med(which, f), 1)
    const withSdk = (which: Case) => which !== "baseline" && which !== "effect-only"
    const rows = cases.map((which) => [
      LABEL[which],
      ms(which, (s) => s.processStart),
      which === "baseline" ? "-" : ms(which, (s) => s.importEffect),
      withSdk(which) ? ms(which, (s) => s.importSdk) : "-",
      withSdk(which) ? ms(which, (s) => s.buildLayer) : "-",
      ms(which, (s) => s.ready),
      withSdk(which) ? ms(which, (s) => s.firstCall) : "-",
      withSdk(which) ? ms(which, (s) => s.ready + s.firstCall) : "-"
    ])
    console.log(
      table(
        [
          "case",
          "node start→script",
          "import effect",
          "import SDK+transport",
          "build layer",
          "start→ready",
          "first call",
          "start→first call done"
        ],
        rows
      )
    )
    const base = med("baseline", (s) => s.ready)
    const eff = med("effect-only", (s) => s.ready)
    for (const which of cases.filter(withSdk)) {
      const ready = med(which, (s) => s.ready)
      // on a loaded machine the import of effect dominates and varies most; the SDK's own part is steadier
      const own = med(which, (s) => s.importSdk + s.buildLayer)
      console.log(
        `${LABEL[which]}: ready ${fmt(ready - base, 1)} ms over an empty node process, ${fmt(ready - eff, 1)} ms over importing effect alone (${(ready / eff).toFixed(2)}x); SDK import + layer ${fmt(own, 1)} ms`
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
