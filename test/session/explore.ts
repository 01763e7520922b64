/**
 * Explores the model without stopping at the first failure: `npx tsx test/session/explore.ts <topology> <runs>
 * [firstSeed] [trace]` runs one generated run per seed (firstSeed, firstSeed + 1, …) and prints every kind of
 * violation found, how often, and the first seed that shows it; `trace` prints each run's schedule, presentations
 * and events. Replay one seed with `npx tsx test/session/explore.ts <topology> 1 <seed> trace` (the world runs on
 * real timers: a run may need a few replays to take the same turns), and a model.test.ts failure (its seed and
 * path) with replay.ts.
 */
import * as fc from "fast-check"
import { commandsFor, opsOf, paramsFor } from "./commands.js"
import { Stats, violations } from "./invariants.js"
import { describeOp, runModel, type Topology } from "./world.js"

const topology = (process.argv[2] ?? "single") as Topology
const runs = Number(process.argv[3] ?? "200")
const first = Number(process.argv[4] ?? "1")
const trace = process.argv[5] === "trace"

const kinds = new Map<string, { count: number; seed: number; example: string; ops: string }>()
const stats = new Stats()
const started = performance.now()
let crashed = 0
for (let seed = first; seed < first + runs; seed++) {
  const result = await fc.check(
    fc.asyncProperty(fc.scheduler(), paramsFor(topology), commandsFor(topology, 7), async (s, params, commands) => {
      const ops = opsOf(commands)
      const run = await runModel({ ...params, ops }, s)
      stats.add(run)
      if (trace) {
        console.log(`seed ${seed}: ${ops.map(describeOp).join("; ")} ${JSON.stringify(params)}`)
        for (const t of s.report()) console.log(`  ${t.status === "resolved" ? "" : `(${t.status}) `}${t.label}`)
        for (const p of run.wire.presentations) {
          console.log(
            `  refresh #${p.index} by ${p.client}: token …${p.token.slice(-6)} ${p.fault} → ${String(p.outcome)}`
          )
        }
        for (const c of run.clients) console.log(`  ${c.name} events: ${c.events.map((e) => e._tag).join(", ")}`)
        for (const v of violations(run)) console.log(`  VIOLATION ${v}`)
      }
      for (const v of violations(run)) {
        const kind = v.replace(/session [0-9a-f?]{8}\b/g, "session S").replace(/\d+/g, "N")
        const known = kinds.get(kind)
        if (known !== undefined) known.count++
        else {
          const faults = params.faults.join(",") || "-"
          kinds.set(kind, {
            count: 1,
            seed,
            example: v,
            ops: `${ops.map(describeOp).join("; ")} | faults ${faults} | expired ${params.expiredOnArrival} | store ${params.store.mode} | wait ${params.lockWaitMillis}`
          })
        }
      }
      return true
    }),
    { seed, numRuns: 1 }
  )
  // a run that throws (the world itself broke) is no evidence either way: say so
  if (result.failed) {
    crashed++
    if (crashed === 1) console.log(`seed ${seed}: the run threw: ${String(result.errorInstance).split("\n")[0]}`)
  }
}
if (crashed > 0) console.log(`${crashed} run(s) threw instead of completing`)
console.log(stats.summary(topology, performance.now() - started))
for (const [kind, k] of [...kinds].sort((a, b) => b[1].count - a[1].count)) {
  console.log(`${k.count}× ${kind}\n    seed ${k.seed}: ${k.example}\n    ${k.ops}`)
}
