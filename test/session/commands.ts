/**
 * The generators of a model run: its parameters (topology, faults on the refresh route, store behaviour, lock
 * wait) and its operations as `fc.commands`, so a failing run shrinks to the shortest list of operations.
 */
import * as fc from "fast-check"
import { type RefreshFault, refreshFaults } from "./transport.js"
import { describeOp, type Op, type RunParams, type Topology } from "./world.js"

export interface Real {
  readonly ops: Array<Op>
}

type Model = object

/** One operation of the run; running the command only adds it to the run (the world starts them all). */
export class OpCommand implements fc.Command<Model, Real> {
  constructor(readonly op: Op) {}
  check(): boolean {
    return true
  }
  run(_model: Model, real: Real): void {
    real.ops.push(this.op)
  }
  toString(): string {
    return describeOp(this.op)
  }
}

const fault: fc.Arbitrary<RefreshFault> = fc.oneof(
  { arbitrary: fc.constant<RefreshFault>("none"), weight: 3 },
  { arbitrary: fc.constantFrom(...refreshFaults.filter((f) => f !== "none")), weight: 7 }
)

const opArbitraries = (topology: Topology): Array<fc.Arbitrary<fc.Command<Model, Real>>> => {
  const client = topology === "single" ? fc.constant(0) : fc.integer({ min: 0, max: 1 })
  const after = fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 })
  const interrupt = fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 })
  // one client adopts another user's session or none; a tab or process re-reads the shared store (adopting
  // "none" while the store still holds the session would be a sign-out the other client never hears of)
  const adoptWhat =
    topology === "single" ? fc.constantFrom("other" as const, "none" as const) : fc.constant("stored" as const)
  const command = (op: fc.Arbitrary<Op>) => op.map((o) => new OpCommand(o))
  const call = command(fc.record({ kind: fc.constant("call" as const), client, interrupt, after }))
  return [
    call,
    call,
    call,
    command(fc.record({ kind: fc.constant("refresh" as const), client, interrupt, after })),
    command(fc.record({ kind: fc.constant("refresh" as const), client, interrupt, after })),
    command(fc.record({ kind: fc.constant("signOut" as const), client, interrupt, after })),
    command(
      fc.record({
        kind: fc.constant("signIn" as const),
        client,
        user: fc.constantFrom("A" as const, "B" as const),
        after
      })
    ),
    command(fc.record({ kind: fc.constant("adopt" as const), client, what: adoptWhat, after })),
    command(fc.record({ kind: fc.constant("expire" as const), after })),
    command(fc.record({ kind: fc.constant("expire" as const), after }))
  ]
}

export const commandsFor = (topology: Topology, maxCommands: number) =>
  fc.commands(opArbitraries(topology), { maxCommands })

/** The run's parameters (its operations come from {@link commandsFor}). */
export const paramsFor = (topology: Topology): fc.Arbitrary<Omit<RunParams, "ops">> =>
  fc.record({
    topology: fc.constant(topology),
    faults: fc.array(fault, { maxLength: 4 }),
    // two clients refresh less often per run (each call may find the other's rotation): expire more often there
    expiredOnArrival:
      topology === "single"
        ? fc.boolean()
        : fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
    // a store that loses writes makes a second client replay unavoidably (it never learns the rotated pair):
    // failing stores are a one-client case
    store:
      topology === "single"
        ? fc.record({
            mode: fc.constantFrom("ok" as const, "ok" as const, "flaky" as const, "never" as const),
            failWrites: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
            delayMillis: fc.constantFrom(0, 0, 0, 5)
          })
        : fc.record({
            mode: fc.constant("ok" as const),
            failWrites: fc.constant([]),
            delayMillis: fc.constantFrom(0, 0, 0, 5)
          }),
    lockWaitMillis: fc.constantFrom(10, 30, 400)
  })

/** Collects the operations of a generated command list (in order; the iterable records which ran). */
export const opsOf = (commands: Iterable<fc.Command<Model, Real>>): Array<Op> => {
  const real: Real = { ops: [] }
  const model: Model = {}
  for (const c of commands) if (c.check(model)) c.run(model, real)
  return real.ops
}
