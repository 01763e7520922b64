/**
 * Replays a failure reported by model.test.ts (`fc.assert`'s seed and path): `npx tsx test/session/replay.ts
 * <topology> <numRuns> <seed> [path] [trace]`, with `BKEND_MODEL_SABOTAGE=lockless|privateStore` for a negative
 * control. It stops at the first failing run and prints it (with `trace`: the schedule, every refresh presentation
 * and each client's events). The world runs on real timers, so a run does not always take the same turns: a
 * failure may need a few replays, and a shrunk path (`57:4:0:…`) may not replay at all; its first number can.
 */
import * as fc from "fast-check"
import { commandsFor, opsOf, paramsFor } from "./commands.js"
import { violations } from "./invariants.js"
import { describeOp, runModel, type Sabotage, type Topology } from "./world.js"

const [topology = "single", runs = "100", seed = "1", ...rest] = process.argv.slice(2)
const trace = rest.includes("trace")
const path = rest.find((a) => a !== "trace")
const sabotage = process.env.BKEND_MODEL_SABOTAGE as Sabotage | undefined

const result = await fc.check(
  fc.asyncProperty(
    fc.scheduler(),
    paramsFor(topology as Topology),
    commandsFor(topology as Topology, 7),
    async (s, params, commands) => {
      const ops = opsOf(commands)
      const run = await runModel({ ...params, ops }, s, { sabotage })
      const found = violations(run)
      if (found.length === 0) return
      if (trace) {
        console.log(`${ops.map(describeOp).join("; ")} ${JSON.stringify(params)}`)
        for (const t of s.report()) console.log(`  ${t.status === "resolved" ? "" : `(${t.status}) `}${t.label}`)
        for (const p of run.wire.presentations) {
          console.log(
            `  refresh #${p.index} by ${p.client}: token …${p.token.slice(-6)} ${p.fault} → ${String(p.outcome)}`
          )
        }
        for (const c of run.clients) {
          const events = c.events.map((e) => (e._tag === "SignedOut" ? `SignedOut(${e.reason})` : e._tag))
          console.log(`  ${c.name} events: ${events.join(", ")}`)
        }
      }
      throw new Error(found.join("\n"))
    }
  ),
  { seed: Number(seed), numRuns: Number(runs), endOnFailure: true, ...(path === undefined ? {} : { path }) }
)
console.log(
  result.failed
    ? `failed: seed ${result.seed}, path ${result.counterexamplePath}: ${String(result.errorInstance)}`
    : `${result.numRuns} runs kept the invariants`
)
