/**
 * Chaos run: 20 fibers × 100 mixed operations through one SDK client (one session) against bkend-local with ~10 %
 * of requests faulted (500/503, 429 + Retry-After, reset before handling, 200–800 ms delays on the server; reset
 * after handling at the proxy) and a 4 s access-token TTL. Invariants are checked against the server's state.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Option } from "effect"
import * as Blobs from "../../src/local/internal/blobs.js"
import type { Row } from "../../src/local/internal/tables.js"
import { type OpRecord, runChaos, type SentRequest } from "./workload.js"

const FIBERS = 20
const OPS_PER_FIBER = 100

type State = "deleted" | number

/** The states a record may be in after its ops: acknowledged writes fix it, unacknowledged ones may have applied. */
const possibleStates = (ops: ReadonlyArray<OpRecord>): Set<State> => {
  let possible = new Set<State>([0])
  for (const op of ops) {
    const next: State = op.kind === "delete" ? "deleted" : (op.value ?? 0)
    if (op.outcome === "ok") possible = new Set([next])
    else possible.add(next)
  }
  return possible
}

const countBy = <A>(xs: ReadonlyArray<A>, key: (a: A) => string | undefined): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const x of xs) {
    const k = key(x)
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1
  }
  return out
}

describe("reliability: chaos", () => {
  it.live(
    "2,000 mixed operations from 20 fibers under injected faults keep every invariant",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const result = yield* runChaos({
            fibers: FIBERS,
            opsPerFiber: OPS_PER_FIBER,
            seed: 20261126,
            resetAfterProbability: 0.01
          })
          const { server, ops, requests } = result
          const state = server.local.state
          const counters = yield* server.counters
          const rows: ReadonlyArray<Row> = [...(state.tables.get("items")?.rows.values() ?? [])]

          // 1. every operation ended in success or a typed BkendError: no defects, no hangs
          const bad = ops.filter((o) => o.outcome === "defect" || o.outcome === "hang")
          expect(bad.map((o) => `${o.id} ${o.kind} ${o.outcome} ${String(o.error)}`)).toEqual([])
          expect(ops.length).toBe(FIBERS * OPS_PER_FIBER)

          // 2. no record created twice by a retry
          const byOpId = countBy(rows, (r) => (typeof r.opId === "string" ? r.opId : undefined))
          const duplicated = Object.entries(byOpId).filter(([, n]) => n > 1)
          expect(duplicated).toEqual([])
          // an acknowledged create's row carries that create's opId
          for (const op of ops) {
            if (op.kind !== "create" || op.outcome !== "ok" || op.target === undefined) continue
            const row = state.tables.get("items")?.rows.get(op.target)
            if (row !== undefined) expect(row.opId).toBe(op.id)
          }

          // 3. every acknowledged write is present (or superseded by a later write that may have applied)
          const opsByTarget = new Map<string, Array<OpRecord>>()
          for (const op of ops) {
            if (op.kind === "create" || op.kind === "read" || op.kind === "list" || op.kind === "upload") continue
            if (op.target === undefined) continue
            const list = opsByTarget.get(op.target) ?? []
            list.push(op)
            opsByTarget.set(op.target, list)
          }
          const wrong: Array<string> = []
          for (const op of ops) {
            if (op.kind !== "create" || op.outcome !== "ok" || op.target === undefined) continue
            const possible = possibleStates(opsByTarget.get(op.target) ?? [])
            const row = state.tables.get("items")?.rows.get(op.target)
            const actual: State = row === undefined ? "deleted" : typeof row.value === "number" ? row.value : -1
            if (!possible.has(actual)) wrong.push(`${op.target}: ${String(actual)} not in ${[...possible].join("|")}`)
          }
          expect(wrong).toEqual([])
          const ackedUploads = result.uploads.filter((u) => u.fileId !== undefined)
          for (const upload of ackedUploads) {
            const file = state.files.get(upload.fileId ?? "")
            expect(file).toBeDefined()
            const key = file?.s3Key ?? ""
            const object = state.objects.get(key)
            const version = Either.getOrThrow(Blobs.objectBlob(key))
            expect(object && state.blobs.get(version(Blobs.versionOf(object)))).toEqual(upload.bytes)
          }

          // 4. no refresh-token replay, and the session survived
          expect(counters.replaysDetected).toBe(0)
          expect(Option.isSome(result.sessionAtEnd)).toBe(true)
          expect(Exit.isSuccess(result.finalMe)).toBe(true)
          const sessions = yield* Effect.orDie(server.store.sessions.listByUser(result.userId))
          expect(sessions.length).toBeGreaterThan(0)

          // 5. no request was sent before a Retry-After allowed it (same op, method, URL and body: the same request)
          const early: Array<string> = []
          const groups = new Map<string, Array<SentRequest>>()
          for (const r of requests) {
            if (r.op === undefined) continue
            const key = `${r.op} ${r.method} ${r.url} ${r.body}`
            const list = groups.get(key) ?? []
            list.push(r)
            groups.set(key, list)
          }
          let retries = 0
          let honoured = 0
          for (const [key, list] of groups) {
            list.sort((a, b) => a.sentAt - b.sentAt)
            retries += list.length - 1
            for (let i = 1; i < list.length; i++) {
              const prev = list[i - 1]
              const next = list[i]
              if (prev?.status !== 429 || prev.retryAfter === undefined || next === undefined) continue
              honoured++
              const allowedAt = (prev.receivedAt ?? prev.sentAt) + Number(prev.retryAfter) * 1000
              // 5 ms of slack for timer granularity (libuv rounds timers to whole milliseconds)
              if (next.sentAt < allowedAt - 5) early.push(`${key}: ${(allowedAt - next.sentAt).toFixed(1)} ms early`)
            }
          }
          expect(early).toEqual([])

          // 6. bkend headers only ever went to the bkend base URL, never to storage
          const base = new URL(result.baseUrl)
          const leaks = requests.filter((r) => {
            const url = new URL(r.url)
            const isBkend = url.origin === base.origin && url.pathname.startsWith("/v1/")
            return !isBkend && (r.apiKey || r.authorization)
          })
          expect(leaks.map((r) => `${r.method} ${r.url}`)).toEqual([])
          expect(requests.filter((r) => new URL(r.url).pathname.startsWith("/_storage/")).length).toBeGreaterThan(0)

          // the run really was chaotic
          expect(counters.faultsInjected).toBeGreaterThan(100)
          expect(counters.refreshCalls).toBeGreaterThan(0)
          expect(retries).toBeGreaterThan(0)

          const typed = countBy(
            ops.filter((o) => o.outcome === "typed"),
            (o) => o.tag
          )
          console.log(
            [
              "chaos run:",
              `  ops ${ops.length} by kind ${JSON.stringify(countBy(ops, (o) => o.kind))}`,
              `  outcomes ${JSON.stringify(countBy(ops, (o) => o.outcome))}; typed failures by tag ${JSON.stringify(typed)}`,
              `  requests sent ${requests.length}; retries ${retries} (${honoured} after a 429 + Retry-After, all on time)`,
              `  faults injected: server ${counters.faultsInjected}, proxy resets after handling ${result.proxy.resetsAfterHandling}`,
              `  refreshes ${counters.refreshCalls} (succeeded ${counters.refreshSucceeded}), replays ${counters.replaysDetected}`,
              `  rows at end ${rows.length}; acknowledged creates ${ops.filter((o) => o.kind === "create" && o.outcome === "ok").length}; files registered ${ackedUploads.length}/${result.uploads.length}`
            ].join("\n")
          )
        })
      ),
    120_000
  )
})
