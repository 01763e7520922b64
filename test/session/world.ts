/**
 * One model run: a fresh bkend-local, one or two SDK clients on the faulting wire (transport.ts), the shared
 * store (store.ts) and, for two tabs or two processes, a shared RefreshLock (lock.ts). The operations of the run
 * are all started at once; each one's start, every request and answer, every store access, every `storage`
 * event and every interruption waits at a gate of fast-check's scheduler, which picks the interleaving. The run
 * records what every client did and saw; invariants.ts judges it.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import {
  Cause,
  Deferred,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Schema,
  Scope,
  Stream
} from "effect"
import type * as fc from "fast-check"
import * as Auth from "../../src/Auth.js"
import * as BkendClient from "../../src/BkendClient.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import * as K from "../../src/local/internal/kernel.js"
import * as Session from "../../src/Session.js"
import * as NodeSession from "../../src/node/NodeSession.js"
import { counting, makeTestLock } from "./lock.js"
import { gatedTokenStore, makeSharedStore, type SharedStore, type StoreMode } from "./store.js"
import { makeWire, type RefreshFault, type Wire } from "./transport.js"

/**
 * one client; two tabs (one shared storage with `storage` events, one in-memory lock on an Effect semaphore); two
 * processes (NodeSession: one session file, each process its own lock on the same lock file)
 */
export type Topology = "single" | "tabs" | "processes"

export type Op =
  /** an authenticated call (`GET /v1/auth/me`) */
  | { readonly kind: "call"; readonly client: number; readonly interrupt: boolean; readonly after: boolean }
  /** `client.refresh` */
  | { readonly kind: "refresh"; readonly client: number; readonly interrupt: boolean; readonly after: boolean }
  /** `Auth.signOut` (the server call, then the local sign-out) */
  | { readonly kind: "signOut"; readonly client: number; readonly interrupt: boolean; readonly after: boolean }
  /** `Auth.signIn` as user A (a new session of the same user) or B (another user) */
  | { readonly kind: "signIn"; readonly client: number; readonly user: "A" | "B"; readonly after: boolean }
  /**
   * `client.adopt` of what the store holds now (tabs, processes), or (one client) of what an unmodelled other tab
   * just wrote to the store: another user's session, or none after its sign-out
   */
  | {
      readonly kind: "adopt"
      readonly client: number
      readonly what: "stored" | "other" | "none"
      readonly after: boolean
    }
  /** the server's clock passes the access-token lifetime: every access token issued so far is rejected */
  | { readonly kind: "expire"; readonly after: boolean }

export interface RunParams {
  readonly topology: Topology
  readonly faults: ReadonlyArray<RefreshFault>
  /** issued pairs arrive with `expiresIn: 0`: the client refreshes proactively before every call */
  readonly expiredOnArrival: boolean
  readonly store: {
    readonly mode: StoreMode
    readonly failWrites: ReadonlyArray<boolean>
    readonly delayMillis: number
  }
  /** the shared lock's wait timeout (two clients) */
  readonly lockWaitMillis: number
  readonly ops: ReadonlyArray<Op>
}

export const ATTEMPT_TIMEOUT_MILLIS = 40
export const TOTAL_TIMEOUT_MILLIS = 120
const ACCESS_TTL_SECONDS = 600
const EMAIL = { A: "a@example.com", B: "b@example.com" } as const
const HARD_CAP_MILLIS = 5_000
const CALLBACK = "http://app.local/callback"

export const clientOptions = {
  retryPolicy: {
    maxAttempts: 3,
    baseDelay: "5 millis",
    maxDelay: "20 millis",
    jitter: 0,
    maxRetryAfter: "100 millis",
    attemptTimeout: `${ATTEMPT_TIMEOUT_MILLIS} millis`,
    totalTimeout: `${TOTAL_TIMEOUT_MILLIS} millis`
  }
} satisfies Omit<BkendClient.Options, "apiKey" | "baseUrl">

/** wraps the building of each client (e.g. to provide a service the client reads when it is built) */
export type ClientConfigure = <A, E, R>(build: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export interface OpRecord {
  readonly index: number
  readonly op: Op
  started: number | undefined
  ended: number | undefined
  exit: Exit.Exit<unknown, unknown> | undefined
  /** for `adopt stored`: whether the store held a session */
  adoptedSome: boolean | undefined
}

export interface ClientRecord {
  readonly name: string
  /** the session when the ops started */
  initial: Option.Option<Session.Session>
  readonly events: Array<Session.SessionChange>
  final: Option.Option<Session.Session>
  /** `storage` events delivered to this client (tabs), with their outcome */
  readonly follows: Array<Exit.Exit<unknown, unknown>>
}

export interface RunRecord {
  readonly params: RunParams
  readonly wire: Wire
  readonly store: SharedStore
  /** waits for the RefreshLock that gave up (RefreshLockTimeout), all clients */
  readonly lockTimeouts: number
  readonly clients: ReadonlyArray<ClientRecord>
  readonly ops: ReadonlyArray<OpRecord>
  readonly counters: LocalServer.Counters
  /** Error-level logs (unhandled fiber failures included) */
  readonly errorLogs: Array<string>
  /** the largest gap between two iterations of the driver loop (event-loop lag) */
  maxLagMillis: number
  /** the run did not settle within the hard cap */
  hung: boolean
}

const Me = Schema.Unknown

/** `sid` claim of a bkend-local JWT (the server session a token belongs to) */
export const sidOf = (token: string): string => {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"))
    return typeof payload === "object" && payload !== null && "sid" in payload ? String(payload.sid) : "?"
  } catch {
    return "?"
  }
}

export const describeOp = (op: Op): string => {
  const flags = `${"interrupt" in op && op.interrupt ? " +interrupt" : ""}${op.after ? " (after previous)" : ""}`
  switch (op.kind) {
    case "expire":
      return `expire${flags}`
    case "signIn":
      return `c${op.client} signIn ${op.user}${flags}`
    case "adopt":
      return `c${op.client} adopt ${op.what}${flags}`
    default:
      return `c${op.client} ${op.kind}${flags}`
  }
}

const captureLogger = (sink: Array<string>) =>
  Logger.make(({ logLevel, message, cause }) => {
    // a failed fiber nobody joined is logged too; only its defects count (typed failures are observed elsewhere)
    const record = Cause.isEmpty(cause) ? LogLevel.greaterThanEqual(logLevel, LogLevel.Error) : Cause.isDie(cause)
    if (record) sink.push(`${logLevel.label} ${String(message)} ${Cause.isEmpty(cause) ? "" : Cause.pretty(cause)}`)
  })

const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
const pause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/**
 * Runs one model run under scheduler `s`. `configure` wraps the building of each client (the negative control
 * provides the core's unsafe-resend switch there).
 */
export const runModel = (
  params: RunParams,
  s: fc.Scheduler,
  configure: ClientConfigure = (build) => build
): Promise<RunRecord> => {
  const errorLogs: Array<string> = []
  const program = Effect.gen(function* () {
    let gated = false
    // lazy: stores build their effects once, before the run starts gating
    const gate = (label: string): Effect.Effect<void> =>
      Effect.suspend(() => (gated ? Effect.promise(() => s.schedule(Promise.resolve(label), label)) : Effect.void))
    const server = yield* LocalServer.make({ accessTokenTtlSeconds: ACCESS_TTL_SECONDS })
    for (const user of ["A", "B"] as const) {
      yield* Effect.orDie(
        server.store.users.insert(K.newUserRecord({ email: EMAIL[user], name: user, emailVerified: true }, Date.now()))
      )
    }
    const wire = yield* makeWire(server, { faults: params.faults, expiredOnArrival: params.expiredOnArrival, gate })
    const store = makeSharedStore({ ...params.store, gate })
    const count = params.topology === "single" ? 1 : 2
    const tabLock = params.topology === "tabs" ? counting(yield* makeTestLock(params.lockWaitMillis)) : undefined
    const dir = params.topology === "processes" ? fs.mkdtempSync(path.join(os.tmpdir(), "bkend-model-")) : undefined
    const file = dir === undefined ? undefined : path.join(dir, "session.json")
    const locks: Array<{ readonly timeouts: () => number }> = tabLock === undefined ? [] : [tabLock]
    const scope = yield* Scope.make()

    const makeClient = (name: string) =>
      Effect.gen(function* () {
        const tokens =
          file === undefined
            ? yield* Session.makeKeyValueStore().pipe(
                Effect.provideService(KeyValueStore.KeyValueStore, store.view(name))
              )
            : gatedTokenStore(NodeSession.makeTokenStore(file), name, { ...params.store, gate })
        let lock = tabLock?.lock
        if (file !== undefined && !name.startsWith("mint")) {
          const own = counting(
            yield* NodeSession.makeRefreshLock({ path: file, lockWaitTimeout: params.lockWaitMillis })
          )
          locks.push(own)
          lock = own.lock
        }
        const options: BkendClient.Options = {
          ...clientOptions,
          apiKey: Redacted.make(server.keys.publishable),
          baseUrl: LocalServer.inProcessBaseUrl
        }
        let build = BkendClient.make(options).pipe(
          Effect.provideService(HttpClient.HttpClient, wire.client(name)),
          Effect.provideService(Session.TokenStore, tokens)
        )
        if (lock !== undefined) build = Effect.provideService(build, Session.RefreshLock, lock)
        const client = yield* configure(build).pipe(Scope.extend(scope), Effect.orDie)
        const auth = yield* Effect.provideService(Auth.make, BkendClient.BkendClient, client)
        // a magic-link sign-in (a password sign-in costs an scrypt hash on the server: too slow for many runs)
        const signIn = (user: "A" | "B") =>
          auth.signInWithMagicLink({ email: EMAIL[user], callbackUrl: CALLBACK }).pipe(
            Effect.zipRight(server.outbox.latest(EMAIL[user], "magic-link")),
            Effect.flatMap((mail) => auth.exchangeMagicLink({ token: mail?.token ?? "" })),
            Effect.map((result) => result.session)
          )
        const record: ClientRecord = { name, initial: Option.none(), events: [], final: Option.none(), follows: [] }
        const pull = yield* Stream.toPull(client.sessionChanges).pipe(Scope.extend(scope))
        yield* pull.pipe(
          Effect.flatMap((chunk) => Effect.sync(() => record.events.push(...chunk))),
          Effect.forever,
          Effect.ignore,
          Effect.forkIn(scope)
        )
        return { name, client, auth, signIn, tokens, record }
      })

    // setup, outside the scheduler: client 0 signs in as A; a second client starts from the shared store
    const clients = [yield* makeClient("c0")]
    yield* clients[0]!.signIn("A").pipe(Effect.orDie)
    if (count > 1) clients.push(yield* makeClient("c1"))
    for (const c of clients) c.record.initial = yield* c.client.session

    const mint = (user: "A" | "B") =>
      Effect.gen(function* () {
        const minted = yield* makeClient(`mint-${user}`)
        return yield* minted.signIn(user)
      })

    // tabs: a write or removal by one tab is a `storage` event in the other, which adopts what is stored then
    let background = 0
    if (params.topology === "tabs") {
      for (const c of clients) {
        const serial = yield* Effect.makeSemaphore(1)
        const follow = gate(`${c.name} storage event`).pipe(
          Effect.zipRight(serial.withPermits(1)(Effect.flatMap(c.tokens.get, c.client.adopt))),
          Effect.exit,
          Effect.flatMap((exit) => Effect.sync(() => c.record.follows.push(exit))),
          Effect.ensuring(Effect.sync(() => background--))
        )
        store.onChange(c.name, () =>
          Effect.suspend(() => {
            background++
            return Effect.asVoid(Effect.forkIn(follow, scope))
          })
        )
      }
    }

    const opRecords: Array<OpRecord> = params.ops.map((op, index) => ({
      index,
      op,
      started: undefined,
      ended: undefined,
      exit: undefined,
      adoptedSome: undefined
    }))
    const done = params.ops.map(() => Deferred.unsafeMake<void>(FiberId.none))

    const body = (r: OpRecord): Effect.Effect<unknown, unknown> => {
      const op = r.op
      if (op.kind === "expire") {
        return Effect.sync(() => {
          wire.clock.offset += (ACCESS_TTL_SECONDS + 1) * 1000
        })
      }
      const c = clients[op.client] ?? clients[0]!
      switch (op.kind) {
        case "call":
          return c.client.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me })
        case "refresh":
          return c.client.refresh
        case "signOut":
          return c.auth.signOut
        case "signIn":
          return c.signIn(op.user)
        case "adopt":
          // as when another tab (not modelled) signs out, or in as user B: the shared store changes, then the
          // client is told
          if (op.what === "none") return Effect.zipRight(c.tokens.clear, c.client.adopt(Option.none()))
          if (op.what === "other") {
            return Effect.flatMap(mint("B"), (session) =>
              Effect.zipRight(c.tokens.set(session), c.client.adopt(Option.some(session)))
            )
          }
          return Effect.flatMap(c.tokens.get, (stored) => {
            r.adoptedSome = Option.isSome(stored)
            return c.client.adopt(stored)
          })
      }
    }

    const runOp = (r: OpRecord) =>
      Effect.gen(function* () {
        const previous = done[r.index - 1]
        if (r.op.after && previous !== undefined) yield* Deferred.await(previous)
        yield* gate(`op${r.index} start: ${describeOp(r.op)}`)
        r.started = performance.now()
        yield* body(r)
      }).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            r.exit = exit
            r.ended = performance.now()
          })
        ),
        Effect.ensuring(Deferred.succeed(done[r.index]!, undefined))
      )

    gated = true
    store.startCounting()
    for (const r of opRecords) {
      const fiber = yield* Effect.forkIn(Effect.exit(runOp(r)), scope)
      if ("interrupt" in r.op && r.op.interrupt) {
        yield* Effect.forkIn(Effect.zipRight(gate(`interrupt op${r.index}`), Fiber.interrupt(fiber)), scope)
      }
    }

    // the driver: release one scheduled task at a time until everything settled
    const started = performance.now()
    let last = started
    let maxLag = 0
    let quiet = 0
    let hung = false
    while (true) {
      yield* tick
      const now = performance.now()
      maxLag = Math.max(maxLag, now - last)
      last = now
      if (s.count() > 0) {
        quiet = 0
        yield* Effect.promise(() => s.waitOne())
        continue
      }
      const settled = opRecords.every((r) => r.ended !== undefined) && wire.inFlight === 0 && background === 0
      // a refresh answered 429 may still retry after its Retry-After: wait for it
      const lastOutcome = wire.presentations[wire.presentations.length - 1]?.outcome
      if (settled && ++quiet > (lastOutcome === 429 ? 30 : 3)) break
      if (!settled) quiet = 0
      if (now - started > HARD_CAP_MILLIS) {
        hung = true
        break
      }
      yield* pause
      last = performance.now()
    }
    for (const c of clients) c.record.final = yield* c.client.session
    const counters = yield* server.counters
    yield* Scope.close(scope, Exit.void)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
    return {
      params,
      wire,
      store,
      lockTimeouts: locks.reduce((n, l) => n + l.timeouts(), 0),
      clients: clients.map((c) => c.record),
      ops: opRecords,
      counters,
      errorLogs,
      maxLagMillis: maxLag,
      hung
    } satisfies RunRecord
  })
  return Effect.runPromise(
    program.pipe(
      Effect.withUnhandledErrorLogLevel(Option.some(LogLevel.Error)),
      Effect.provide(Logger.replace(Logger.defaultLogger, captureLogger(errorLogs)))
    )
  )
}
