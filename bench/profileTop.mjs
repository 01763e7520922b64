// Summarises a V8 .cpuprofile: top functions by self time and self time grouped by package/file.
//   node bench/profileTop.mjs <file.cpuprofile> [topN]
import { readFileSync } from "node:fs"

const [file, topArg] = process.argv.slice(2)
const detailFiles = process.argv.includes("--files")
if (file === undefined) {
  console.error("usage: node bench/profileTop.mjs <file.cpuprofile> [topN]")
  process.exit(2)
}
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, "utf8"))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const where = (url, detail = false) => {
  if (url === "") return "(native/vm)"
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (m)
    return detail ? `${m[1]}/${url.slice(url.indexOf(m[1]) + m[1].length + 1).replace(/^dist\/(esm|cjs)\//, "")}` : m[1]
  if (url.startsWith("node:")) return "node:internal"
  const s = url.match(/\/(src|bench)\/.*$/)
  return s ? s[0].slice(1) : url
}
const fn = new Map()
const pkg = new Map()
for (const [id, t] of self) {
  const n = byId.get(id)
  const cf = n.callFrame
  const name = `${cf.functionName || "(anonymous)"} ${where(cf.url, true)}:${cf.lineNumber + 1}`
  fn.set(name, (fn.get(name) ?? 0) + t)
  const p =
    cf.functionName === "(garbage collector)"
      ? "(gc)"
      : cf.functionName === "(idle)"
        ? "(idle)"
        : where(cf.url, detailFiles)
  pkg.set(p, (pkg.get(p) ?? 0) + t)
}
const group = (cf) => {
  const u = cf.url
  if (cf.functionName === "(garbage collector)") return "GC"
  if (cf.functionName === "(idle)") return "idle"
  if (cf.functionName === "writeLatin1String" || cf.functionName === "writeUtf8String" || cf.functionName === "writev")
    return "node net + undici (transport)"
  if (u.includes("node_modules/effect/")) return "effect runtime (fibers, spans, fiberRefs)"
  if (u.includes("node_modules/@effect/platform")) return "@effect/platform HttpClient"
  if (
    u.includes("node_modules/undici/") ||
    u.startsWith("node:net") ||
    u.startsWith("node:internal/stream") ||
    u.startsWith("node:_http") ||
    u.startsWith("node:internal/streams") ||
    u.startsWith("node:internal/stream_base")
  )
    return "node net + undici (transport)"
  if (u.includes("/src/")) return "SDK (src/)"
  if (u.includes("/bench/")) return "benchmark harness"
  if (u.includes("tsx") || u.includes("esm/") || cf.functionName === "compileSourceTextModule")
    return "module loading (start-up)"
  if (u.startsWith("node:")) return "node internals (other)"
  return "native / vm (other)"
}
const groups = new Map()
for (const [id, t] of self) {
  const g = group(byId.get(id).callFrame)
  groups.set(g, (groups.get(g) ?? 0) + t)
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)} %`
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms`)
console.log("\nself time by category:")
for (const [k, t] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`${pct(t)}  ${k}`)
console.log("\nself time by package / file:")
for (const [k, t] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(t)}  ${k}`)
console.log(`\ntop ${top} functions by self time:`)
for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`)
