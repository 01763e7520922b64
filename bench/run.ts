/**
 * `npm run bench`: runs every benchmark in sequence and prints its tables. Not part of `npm test`.
 * Options are passed through (e.g. `npm run bench -- --rounds 3`); env BENCH_ROUNDS, BENCH_MS, BENCH_SAMPLES.
 */
import { existsSync } from "node:fs"
import { availableParallelism, cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"

const header = () => {
  const cpu = cpus()[0]?.model ?? "unknown CPU"
  console.log(
    `# bkend-effect benchmarks — node ${process.version}, ${availableParallelism()} cores (${cpu}), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}, ${new Date().toISOString()}`
  )
}

const main = async () => {
  header()
  const overhead = await import("./overhead.js")
  await overhead.run()
  const hotPath = await import("./hot-path.js")
  await hotPath.run()
  const storm = await import("./refresh-storm.js")
  await storm.run()
  if (existsSync(fileURLToPath(new URL("../src/Tables.ts", import.meta.url)))) {
    const pagination = await import("./pagination.js")
    await pagination.run()
  } else {
    console.log("\n## Benchmark 3 — pagination: skipped (src/Tables.ts does not exist yet)\n")
  }
  const cold = await import("./cold-start.js")
  await cold.run()
  const storage = await import("./storage.js")
  await storage.run()
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`
  )
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
