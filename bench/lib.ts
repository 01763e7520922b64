/**
 * Small helpers shared by the benchmarks: closed-loop load generation (Promise and Effect flavours), percentiles,
 * medians and plain-text tables.
 */
import { Effect } from "effect"
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface RoundResult {
  readonly requests: number
  readonly errors: number
  readonly seconds: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** client-process CPU time (user + system) per completed request, in microseconds */
  readonly cpuMicros: number
}

class Latencies {
  private data = new Float64Array(1 << 16)
  length = 0
  push(ms: number) {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = ms
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort()
  }
}

export const percentile = (sorted: Float64Array | ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] ?? Number.NaN
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const summarise = (lat: Latencies, errors: number, started: number, cpu: NodeJS.CpuUsage): RoundResult => {
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const sorted = lat.sorted()
  return {
    cpuMicros: (used.user + used.system) / Math.max(1, lat.length),
    requests: lat.length,
    errors,
    seconds,
    rps: lat.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99)
  }
}

/** `concurrency` async workers, each calling `op` back to back until `durationMs` has passed. */
export const closedLoop = async (
  concurrency: number,
  durationMs: number,
  op: () => Promise<unknown>
): Promise<RoundResult> => {
  const lat = new Latencies()
  let errors = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      try {
        await op()
        lat.push(performance.now() - t0)
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return summarise(lat, errors, started, cpu)
}

/** The same closed loop with `concurrency` fibers inside one Effect run (no per-request `runPromise`). */
export const closedLoopEffect = <A, E, R>(
  concurrency: number,
  durationMs: number,
  op: Effect.Effect<A, E, R>
): Effect.Effect<RoundResult, never, R> =>
  Effect.suspend(() => {
    const lat = new Latencies()
    let errors = 0
    const cpu = process.cpuUsage()
    const started = performance.now()
    const deadline = started + durationMs
    const once = Effect.suspend(() => {
      const t0 = performance.now()
      return Effect.matchEffect(op, {
        onFailure: () =>
          Effect.sync(() => {
            errors++
          }),
        onSuccess: () => Effect.sync(() => lat.push(performance.now() - t0))
      })
    })
    const worker = Effect.whileLoop({
      while: () => performance.now() < deadline,
      body: () => once,
      step: () => undefined
    })
    return Effect.as(
      Effect.forEach(Array.from({ length: concurrency }), () => worker, { concurrency: "unbounded", discard: true }),
      undefined
    ).pipe(Effect.map(() => summarise(lat, errors, started, cpu)))
  })

/** Formats rows as an aligned plain-text table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "-"

export const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}x` : "-")

/** Starts the canned server in a child process; resolves with its base URL and a stop function. */
export const startCannedServer = (): Promise<{ readonly url: string; readonly stop: () => void }> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL("./cannedServer.mjs", import.meta.url))
    const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] })
    child.once("error", reject)
    child.once("message", (m: unknown) => {
      const port = typeof m === "object" && m !== null && "port" in m && typeof m.port === "number" ? m.port : 0
      if (port === 0) reject(new Error("canned server did not report a port"))
      else resolve({ url: `http://127.0.0.1:${port}`, stop: () => child.kill() })
    })
  })

export const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

export const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name])
  return Number.isInteger(v) && v > 0 ? v : fallback
}

/** True when the module at `url` is the process entry point. */
export const isMain = (url: string): boolean =>
  process.argv[1] !== undefined && fileURLToPath(url).replace(/\.ts$/, "") === process.argv[1].replace(/\.ts$/, "")
