/**
 * Benchmark 4 — cold start: the time a fresh `node` process needs to import the SDK and build its layer
 * (`Bkend.layer` when src/Bkend.ts exists, else `BkendClient.layer`) on `NodeHttpClient.layerUndici`.
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
}

const probe = (sdkPath: string, which: "baseline" | "effect-only" | "sdk") => `
const t0 = performance.now()
let t1 = t0, t2 = t0, t3 = t0
if (${JSON.stringify(which)} !== "baseline") {
  const { Effect, Layer, ManagedRuntime, Redacted } = await import("effect")
  t1 = performance.now()
  if (${JSON.stringify(which)} === "sdk") {
    const sdk = await import(${JSON.stringify(sdkPath)})
    const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")
    t2 = performance.now()
    const options = { apiKey: Redacted.make("pk_" + "0".repeat(64)), baseUrl: "http://127.0.0.1:9" }
    const layer = sdk.Bkend?.layer
      ? sdk.Bkend.layer(options)
      : sdk.BkendClient.layer(options)
    const runtime = ManagedRuntime.make(layer.pipe(Layer.provide(NodeHttpClient.layerUndici)))
    await runtime.runtime()
    t3 = performance.now()
    await runtime.dispose()
  }
}
process.stdout.write(JSON.stringify({ processStart: t0, importEffect: t1 - t0, importSdk: t2 - t1, buildLayer: t3 - t2, ready: Math.max(t0, t1, t2, t3) }))
`

export const run = async (): Promise<void> => {
  const samples = Number(argValue("samples") ?? envInt("BENCH_SAMPLES", 9))
  // the bundle must live inside the project so that `effect` resolves from its node_modules
  const dir = mkdtempSync(join(root, "bench", ".cold-"))
  try {
    const sdkPath = join(dir, "sdk.mjs")
    await esbuild.build({
      entryPoints: [join(root, "src/index.ts")],
      bundle: true,
      format: "esm",
      platform: "node",
      outfile: sdkPath,
      external: ["effect", "effect/*", "@effect/*", "undici"],
      logLevel: "silent"
    })
    const cases = ["baseline", "effect-only", "sdk"] as const
    const results = new Map<string, Array<Sample>>()
    for (let i = 0; i < samples; i++) {
      for (const which of cases) {
        const file = join(dir, `probe-${which}.mjs`)
        writeFileSync(file, probe(sdkPath, which))
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
      `\n## Benchmark 4 — cold start (${samples} fresh processes per row, medians, ms; layer = ${hasBkend ? "Bkend.layer" : "BkendClient.layer (src/Bkend.ts not present yet)"} on NodeHttpClient.layerUndici)\n`
    )
    const rows = cases.map((which) => {
      const ready = med(which, (s) => s.ready)
      return [
        which,
        fmt(
          med(which, (s) => s.processStart),
          1
        ),
        fmt(
          med(which, (s) => s.importEffect),
          1
        ),
        which === "sdk"
          ? fmt(
              med(which, (s) => s.importSdk),
              1
            )
          : "-",
        which === "sdk"
          ? fmt(
              med(which, (s) => s.buildLayer),
              1
            )
          : "-",
        fmt(ready, 1)
      ]
    })
    console.log(
      table(
        ["case", "node start→script", "import effect", "import SDK+platform-node", "build layer", "start→ready"],
        rows
      )
    )
    const sdk = med("sdk", (s) => s.ready)
    const base = med("baseline", (s) => s.ready)
    const eff = med("effect-only", (s) => s.ready)
    console.log(
      `\nSDK adds ${fmt(sdk - base, 1)} ms over an empty node process (${fmt(sdk - eff, 1)} ms over importing effect alone).`
    )
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
