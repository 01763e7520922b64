/**
 * The model-based concurrency suite of the session core. fast-check generates each run's operations
 * (`fc.commands`: calls, refreshes, sign-outs, sign-ins, adopts, token expiry, each possibly interrupted) and
 * parameters (faults on the refresh route, store behaviour, lock wait), and its scheduler (`fc.scheduler`) picks
 * the interleaving of every request, answer, store access, storage event and interruption. Each run is judged by
 * invariants.ts against an in-process bkend-local that detects refresh-token replays. A failing run prints its
 * seed, the shrunk operation list and the schedule. `BKEND_MODEL_RUNS=<n>` multiplies the number of runs.
 */
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { commandsFor, opsOf, paramsFor } from "./commands.js"
import { Stats, violations } from "./invariants.js"
import { refreshFaults } from "./transport.js"
import { Effect } from "effect"
import { AllowInDoubtResend } from "../../src/internal/refresh.js"
import { type ClientConfigure, type ModelOptions, runModel, type Topology } from "./world.js"

const SCALE = Number(process.env.BKEND_MODEL_RUNS ?? "1")

const property = (topology: Topology, stats: Stats, options?: ModelOptions) =>
  fc.asyncProperty(fc.scheduler(), paramsFor(topology), commandsFor(topology, 7), async (s, params, commands) => {
    const run = await runModel({ ...params, ops: opsOf(commands) }, s, options)
    stats.add(run)
    const found = violations(run)
    if (found.length > 0) throw new Error(`invariants violated:\n  ${found.join("\n  ")}`)
  })

const cases: ReadonlyArray<{ readonly topology: Topology; readonly runs: number }> = [
  { topology: "single", runs: 250 },
  { topology: "tabs", runs: 150 },
  { topology: "processes", runs: 150 }
]

describe("session model", () => {
  for (const { topology, runs } of cases) {
    it(`${topology}: every interleaving keeps the invariants`, { timeout: 300_000 }, async () => {
      const stats = new Stats()
      const started = performance.now()
      await fc.assert(property(topology, stats), {
        numRuns: Math.round(runs * SCALE),
        interruptAfterTimeLimit: 90_000
      })
      console.log(stats.summary(topology, performance.now() - started))
      // the runs were not vacuous
      expect(stats.refreshRequests).toBeGreaterThan(runs / 4)
      expect(stats.rotations).toBeGreaterThan(runs / 8)
      const kinds = refreshFaults.filter((f) => f !== "none")
      if (topology === "single") expect(Object.keys(stats.faults).sort()).toEqual([...kinds].sort())
      // two clients refresh about half as often per run: most kinds, each seen 2–9 times in 150 runs
      else expect(Object.keys(stats.faults).length).toBeGreaterThanOrEqual(kinds.length - 3)
      expect(stats.interruptsLanded).toBeGreaterThan(runs / 20)
      expect(stats.signOuts).toBeGreaterThan(runs / 10)
      expect(stats.signIns).toBeGreaterThan(runs / 10)
      expect(stats.adopts).toBeGreaterThan(runs / 10)
      expect(stats.rejected401).toBeGreaterThan(0)
      if (topology === "single") expect(stats.storeWriteFailures).toBeGreaterThan(0)
      // one client took over the other's rotation from the shared store (instead of presenting the old token):
      // 7–10 times per 150 runs of two processes, about 30 of two tabs
      else expect(stats.crossAdoptions).toBeGreaterThan(0)
      // the scheduler makes waiting tabs give up while the holder refreshes; NodeSession's file lock gives up on
      // wall-clock time only, which these short runs rarely reach (test/node/NodeSession.test.ts covers it)
      if (topology === "tabs") expect(stats.lockTimeouts).toBeGreaterThan(runs / 20)
      if (topology === "tabs") expect(stats.follows).toBeGreaterThan(runs / 10)
    })
  }

  it("negative control: with in-doubt resending allowed again, the same property finds a replay", {
    timeout: 300_000
  }, async () => {
    const unsafe: ClientConfigure = (build) => Effect.provideService(build, AllowInDoubtResend, true)
    const result = await fc.check(property("single", new Stats(), { configure: unsafe }), {
      numRuns: Math.round(600 * SCALE),
      interruptAfterTimeLimit: 120_000,
      // a counterexample is all it must find: no shrinking
      endOnFailure: true
    })
    expect(result.failed).toBe(true)
    const message = String(result.errorInstance)
    console.log(
      `negative control: counterexample after ${result.numRuns} runs (seed ${result.seed}): ${message.split("\n").slice(0, 4).join(" | ")}`
    )
    expect(message).toMatch(/replay|presented again/)
  })

  // the two-client topologies rely on the lock excluding the other client and on the re-read of the shared store:
  // break either, and the same property finds a token presented twice
  for (const topology of ["tabs", "processes"] as const) {
    for (const sabotage of ["lockless", "privateStore"] as const) {
      it(`negative control (${topology}): with ${sabotage === "lockless" ? "a lock that excludes nobody" : "clients that never read each other's writes"}, the property finds a replay`, {
        timeout: 300_000
      }, async () => {
        const result = await fc.check(property(topology, new Stats(), { sabotage }), {
          numRuns: Math.round(300 * SCALE),
          interruptAfterTimeLimit: 120_000,
          endOnFailure: true
        })
        expect(result.failed).toBe(true)
        const message = String(result.errorInstance)
        console.log(
          `negative control (${topology}, ${sabotage}): counterexample after ${result.numRuns} runs (seed ${result.seed}): ${message.split("\n").slice(0, 3).join(" | ")}`
        )
        expect(message).toMatch(/replay|presented again/)
      })
    }
  }
})
