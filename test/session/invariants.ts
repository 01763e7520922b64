/**
 * The invariants every model run must keep, judged from its record (world.ts), and the statistics that show the
 * runs were not vacuous (refreshes happened, faults fired, interruptions landed, …).
 */
import { Cause, Exit, Option, Redacted } from "effect"
import * as BkendError from "../../src/BkendError.js"
import type * as Session from "../../src/Session.js"
import type { Presentation } from "./transport.js"
import { type ClientRecord, describeOp, type OpRecord, type RunRecord, sidOf, TOTAL_TIMEOUT_MILLIS } from "./world.js"

/**
 * Slack on top of totalTimeout: timers, the scheduler's hand-offs, store I/O, and three times the event-loop lag
 * seen in the run (on a machine with a load of 15–18 on 2 cores, lags of 300–700 ms were measured).
 */
export const MARGIN_MILLIS = 300

const tokenOf = (session: Session.Session): string => Redacted.value(session.accessToken)

/** the answer left the session's fate unknown: it may have rotated, the client cannot know the new pair */
const inDoubt = (p: Presentation): boolean =>
  p.outcome === "lost" ||
  p.outcome === "reset" ||
  (typeof p.outcome === "number" && p.outcome >= 500) ||
  (p.fault === "garbled" && p.outcome === 200)

/** 1 + 2: the server saw no replay, and no refresh token was presented again unless every earlier answer was 429 */
const noReplays = (run: RunRecord, out: Array<string>) => {
  if (run.counters.replaysDetected > 0)
    out.push(`server detected ${run.counters.replaysDetected} refresh-token replay(s)`)
  const byToken = new Map<string, Array<Presentation>>()
  for (const p of run.wire.presentations) byToken.set(p.token, [...(byToken.get(p.token) ?? []), p])
  for (const list of byToken.values()) {
    for (let i = 0; i + 1 < list.length; i++) {
      const earlier = list[i]!
      if (earlier.outcome === 429) continue
      const again = list[i + 1]!
      out.push(
        `refresh token presented again: #${earlier.index} (${earlier.client}, ${earlier.fault}, answer ${String(earlier.outcome)}) then #${again.index} (${again.client})`
      )
    }
  }
}

const opsOf = (run: RunRecord, client: number) =>
  run.ops.filter((r) => r.op.kind !== "expire" && r.op.client === client && r.started !== undefined)

/** 3 + 4: every end of a session has a cause; a client's own refresh never revives a signed-out or other session */
/**
 * Another client of the shared store ended the shared session for a cause of its own (the server rejected it, or a
 * refresh ended in doubt and the server then refused the access token): the store is cleared, and following that is
 * this client's cause too, since its only refresh token is the one that other client already presented.
 */
const sharedSessionEnded = (run: RunRecord, client: ClientRecord): boolean =>
  run.clients.some(
    (other) =>
      other !== client &&
      other.events.some(
        (e) => e._tag === "SignedOut" && (e.reason === "refresh-in-doubt" || e.reason === "refresh-rejected")
      )
  )

const sessionsEndOnlyForCause = (run: RunRecord, index: number, client: ClientRecord, out: Array<string>) => {
  const mine = run.wire.presentations.filter((p) => p.client === client.name)
  const ownIssued = new Set(mine.flatMap((p) => (p.outcome === 200 && p.issued !== undefined ? [p.issued] : [])))
  const ops = opsOf(run, index)
  const others = run.ops.filter((r) => r.op.kind !== "expire" && r.op.client !== index && r.started !== undefined)
  const rejected = run.wire.delivered.some(
    (d) => d.client === client.name && d.status === 401 && d.path === "/v1/auth/refresh"
  )
  const rejectedAny = run.wire.delivered.some((d) => d.client === client.name && d.status === 401)
  const doubt = mine.some(inDoubt)
  const budget: Record<string, number> = {
    "sign-out": ops.filter((r) => r.op.kind === "signOut").length,
    cleared:
      ops.filter((r) => r.op.kind === "adopt" && (r.op.what === "none" || r.adoptedSome === false)).length +
      client.follows.length +
      (others.some((r) => r.op.kind === "signOut") || sharedSessionEnded(run, client) ? Number.POSITIVE_INFINITY : 0),
    "refresh-rejected": rejected ? Number.POSITIVE_INFINITY : 0,
    withdrawn: 0
  }
  let current = Option.map(client.initial, tokenOf)
  const ended = new Set<string>()
  for (const event of client.events) {
    if (event._tag === "SignedOut") {
      if (Option.isSome(current)) ended.add(sidOf(current.value))
      const reason = event.reason
      const left = reason in budget ? (budget[reason] ?? 0) : doubt || rejectedAny ? Number.POSITIVE_INFINITY : 0
      if (left <= 0) {
        out.push(
          `${client.name}: session ended (${reason}) without cause (rejected: ${rejectedAny}, in-doubt refresh: ${doubt})`
        )
      }
      budget[reason] = left - 1
      current = Option.none()
      continue
    }
    const token = tokenOf(event.session)
    if (ended.has(sidOf(token))) {
      out.push(`${client.name}: a session it had ended came back (${event._tag} after SignedOut, no new sign-in)`)
    }
    if (event._tag === "Refreshed" && ownIssued.has(token)) {
      if (Option.isNone(current)) {
        out.push(`${client.name}: its refresh committed after the session had ended (a signed-out client came back)`)
      } else if (sidOf(current.value) !== sidOf(token)) {
        out.push(`${client.name}: its refresh of one session committed into another (sign-in or adopt in between)`)
      }
    }
    current = Option.some(token)
  }
  const final = Option.map(client.final, tokenOf)
  // a rotation adopted without a Refreshed event is tolerated; a session ended, begun or replaced silently is not
  const sid = (o: Option.Option<string>) => Option.map(o, sidOf)
  if (!Option.getEquivalence((a: string, b: string) => a === b)(sid(final), sid(current))) {
    const say = (o: Option.Option<string>) =>
      Option.isSome(o) ? `session ${sidOf(o.value).slice(0, 8)}` : "signed out"
    out.push(
      `${client.name}: session changed without an event (events say ${say(current)}, client holds ${say(final)})`
    )
  }
}

/**
 * 4 (end state): after a client's sign-out, with no sign-in or adopt overlapping or after it, it stays signed out.
 * Only a sign-out that ended a session counts: one run while the client held none (it had followed another
 * client's sign-out) does nothing, and the client then rightly follows a sign-in that another client made before
 * it but that it hears of only later.
 */
const signOutSticks = (run: RunRecord, index: number, client: ClientRecord, out: Array<string>) => {
  const signOuts = opsOf(run, index).filter(
    (r) => r.op.kind === "signOut" && r.hadSession === true && r.exit !== undefined && !Exit.isInterrupted(r.exit)
  )
  const last = signOuts[signOuts.length - 1]
  if (last === undefined || last.started === undefined) return
  // its own sign-ins and adopts, and any client's sign-in (a tab follows it; a process adopts it from the store)
  const revivers = run.ops.filter(
    (r) =>
      r.op.kind !== "expire" &&
      (r.op.kind === "signIn" || (r.op.kind === "adopt" && r.op.what !== "none" && r.op.client === index)) &&
      r.started !== undefined &&
      (r.ended ?? Number.POSITIVE_INFINITY) >= (last.started ?? 0)
  )
  if (revivers.length === 0 && Option.isSome(client.final)) {
    out.push(`${client.name}: signed out (op${last.index}) but signed in again at the end without a new sign-in`)
  }
}

/** 5 + 6: every operation ended in time, with success, a typed error, or its own interruption */
const opsEndWell = (run: RunRecord, out: Array<string>) => {
  const bound = TOTAL_TIMEOUT_MILLIS + MARGIN_MILLIS + 3 * run.maxLagMillis
  for (const r of run.ops) {
    if (r.exit === undefined) {
      out.push(`op${r.index} (${describeOp(r.op)}) never ended`)
      continue
    }
    if (r.started !== undefined && r.ended !== undefined && r.op.kind !== "expire" && r.ended - r.started > bound) {
      out.push(
        `op${r.index} (${describeOp(r.op)}) took ${Math.round(r.ended - r.started)} ms, over totalTimeout ${TOTAL_TIMEOUT_MILLIS} ms + margin (bound ${Math.round(bound)} ms)`
      )
    }
    if (Exit.isSuccess(r.exit)) continue
    const cause = r.exit.cause
    if (Cause.isInterruptedOnly(cause)) {
      if (!("interrupt" in r.op && r.op.interrupt))
        out.push(`op${r.index} (${describeOp(r.op)}) was interrupted by no one`)
      continue
    }
    const failure = Cause.failureOption(cause)
    if (Cause.isDie(cause) || Option.isNone(failure)) {
      out.push(`op${r.index} (${describeOp(r.op)}) died: ${Cause.pretty(cause).split("\n")[0]}`)
    } else if (!BkendError.isBkendError(failure.value)) {
      out.push(`op${r.index} (${describeOp(r.op)}) failed with a non-BkendError: ${String(failure.value)}`)
    }
  }
  for (const c of run.clients) {
    for (const exit of c.follows) {
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
        out.push(`${c.name}: a storage-event adopt failed: ${Cause.pretty(exit.cause).split("\n")[0]}`)
      }
    }
  }
  for (const log of run.errorLogs) out.push(`error logged: ${log.split("\n")[0]}`)
  if (run.hung) out.push("the run did not settle within 5 s")
}

/** Every invariant violated by the run (empty: the run is fine). */
export const violations = (run: RunRecord): Array<string> => {
  const out: Array<string> = []
  noReplays(run, out)
  run.clients.forEach((client, index) => {
    sessionsEndOnlyForCause(run, index, client, out)
    signOutSticks(run, index, client, out)
  })
  opsEndWell(run, out)
  return out
}

/** Counts over many runs, to show they exercised what they claim to. */
export class Stats {
  runs = 0
  ops = 0
  refreshRequests = 0
  rotations = 0
  readonly faults: Record<string, number> = {}
  interruptsLanded = 0
  signOuts = 0
  signIns = 0
  adopts = 0
  storeWriteFailures = 0
  lockTimeouts = 0
  follows = 0
  /** sessions a client took over from a rotation another client made (two clients: the shared store at work) */
  crossAdoptions = 0
  rejected401 = 0
  sessionEnds: Record<string, number> = {}
  maxOpMillis = 0
  maxLagMillis = 0

  add(run: RunRecord): void {
    this.runs++
    this.ops += run.ops.length
    this.refreshRequests += run.wire.presentations.length
    this.rotations += run.counters.refreshSucceeded
    for (const [k, n] of Object.entries(run.wire.faultsFired)) this.faults[k] = (this.faults[k] ?? 0) + n
    for (const r of run.ops) this.countOp(r)
    this.storeWriteFailures += run.store.failedWrites()
    this.lockTimeouts += run.lockTimeouts
    this.rejected401 += run.wire.delivered.filter((d) => d.status === 401).length
    this.maxLagMillis = Math.max(this.maxLagMillis, run.maxLagMillis)
    for (const c of run.clients) {
      this.follows += c.follows.length
      const others = new Set(
        run.wire.presentations.flatMap((p) => (p.client !== c.name && p.issued !== undefined ? [p.issued] : []))
      )
      this.crossAdoptions += c.events.filter((e) => e._tag !== "SignedOut" && others.has(tokenOf(e.session))).length
      for (const e of c.events)
        if (e._tag === "SignedOut") this.sessionEnds[e.reason] = (this.sessionEnds[e.reason] ?? 0) + 1
    }
  }

  private countOp(r: OpRecord): void {
    if (r.started !== undefined && r.ended !== undefined)
      this.maxOpMillis = Math.max(this.maxOpMillis, r.ended - r.started)
    if (r.exit === undefined) return
    if (r.started !== undefined && Exit.isInterrupted(r.exit) && "interrupt" in r.op && r.op.interrupt) {
      this.interruptsLanded++
    }
    if (r.op.kind === "signOut") this.signOuts++
    if (r.op.kind === "signIn") this.signIns++
    if (r.op.kind === "adopt") this.adopts++
  }

  summary(title: string, millis: number): string {
    return `${title}: ${this.runs} runs, ${this.ops} ops in ${(millis / 1000).toFixed(1)} s; refresh requests ${this.refreshRequests} (rotations ${this.rotations}); faults ${JSON.stringify(this.faults)}; interrupts landed ${this.interruptsLanded}; sign-outs ${this.signOuts}, sign-ins ${this.signIns}, adopts ${this.adopts}, storage events ${this.follows}; adopted the other client's rotation ${this.crossAdoptions}; store write failures ${this.storeWriteFailures}; lock timeouts ${this.lockTimeouts}; 401s ${this.rejected401}; session ends ${JSON.stringify(this.sessionEnds)}; slowest op ${Math.round(this.maxOpMillis)} ms, worst lag ${Math.round(this.maxLagMillis)} ms`
  }
}
