/**
 * The in-memory session: authoritative, with an epoch per signed-in identity, ordered change events and ordered
 * store writes. It knows nothing of HTTP or refreshing; the coordinator (refresh.ts) drives it.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Session from "../Session.js"
import { claims, sameLineage } from "./jwt.js"
import { withTimeout } from "./timeout.js"

/** The current session and its epoch, read together. */
export interface Snapshot {
  readonly current: Option.Option<Session.Session>
  readonly epoch: number
}

export interface SessionState {
  readonly snapshot: Effect.Effect<Snapshot>
  readonly current: Effect.Effect<Option.Option<Session.Session>>
  /**
   * Calls `listener` with every change from now on, in order, synchronously with the transition, until the scope
   * closes. A listener that throws is skipped, never the transition.
   */
  readonly subscribe: Session.ChangeSource["onSessionChange"]
  /** the access and refresh tokens held recently (a bounded set), for scrubbing server text */
  readonly recentTokens: () => ReadonlyArray<string>
  /** a sign-in: a new epoch, written to the store */
  readonly signIn: (session: Session.Session) => Effect.Effect<void>
  /** waits for the store write in progress (a sign-out's clear, a sign-in's write) to land */
  readonly flush: Effect.Effect<void>
  /** a sign-out: a new epoch, the store cleared; returns without waiting for any refresh */
  readonly signOut: (reason: Session.SignOutReason) => Effect.Effect<void>
  /** ends the session only if `epoch` is still current */
  readonly endInEpoch: (epoch: number, reason: Session.SignOutReason) => Effect.Effect<boolean>
  /**
   * A refresh's result: kept (and written) only if `epoch` is still current and, with a shared store, the store
   * still holds the pair whose refresh token was `presented` (else another client signed out or in meanwhile:
   * that is followed instead, and nothing is written).
   */
  readonly commitInEpoch: (epoch: number, session: Session.Session, presented: string) => Effect.Effect<boolean>
  /**
   * Marks the current refresh token as never to be presented again (outcome unknown), in memory and store; with a
   * shared store, only while the store still holds it.
   */
  readonly retireInEpoch: (epoch: number, refreshToken: string) => Effect.Effect<void>
  /**
   * Takes over a session read from the store, never writing it back: another tab or process changed it (a sign-in,
   * a refresh, a sign-out).
   */
  readonly adopt: (stored: Option.Option<Session.Session>) => Effect.Effect<void>
  /**
   * The re-read of the store inside the refresh lock, for a refresh started in epoch `e`: it only ever replaces the
   * current session by a newer one (a sign-out here is never undone by what the store held), and does nothing if
   * this client moved on (signed out or in) since `e` or during the read. It reads after this client's own store
   * write in progress, which is never mistaken for another client's change.
   */
  readonly rereadInEpoch: (e: number) => Effect.Effect<void>
}

const RECENT_TOKENS = 16
export const STORE_TIMEOUT_MILLIS = 5_000

const access = (s: Session.Session) => Redacted.value(s.accessToken)
const refresh = (s: Session.Session) => Redacted.value(s.refreshToken)

/**
 * Whether `stored` should replace `current`: a different pair not received before it (an older pair never comes
 * back), or the same pair now retired.
 */
const isNewer = (stored: Session.Session, current: Session.Session) =>
  access(stored) === access(current) && refresh(stored) === refresh(current)
    ? stored.refreshRetired && !current.refreshRetired
    : stored.issuedAt >= current.issuedAt

/**
 * `shared`: other clients use the same store (a `RefreshLock` is present). Then an empty store read under the lock
 * means they signed out, and a refresh never writes over what they changed meanwhile.
 */
export const make = (store: Session.TokenStore["Type"], shared: boolean): Effect.Effect<SessionState> =>
  Effect.gen(function* () {
    const listeners = new Set<(change: Session.SessionChange) => void>()
    const writeLock = yield* Effect.makeSemaphore(1)
    // every transition below is synchronous: memory, epoch and the order of events change together
    let current = Option.none<Session.Session>()
    let epoch = 0
    let version = 0
    let written = 0
    const recent: Array<string> = []
    // refresh tokens and server session ids (`sid`) of sessions this client ended: neither a stale read of the
    // store nor another client's late commit of a rotation of one of them (its sign-out raced the write) brings
    // one back
    const ended: Array<string> = []
    const endedSids: Array<string> = []
    const sidOf = (s: Session.Session) => claims(access(s))?.sid
    const endedBefore = (s: Session.Session) => {
      const sid = sidOf(s)
      return ended.includes(refresh(s)) || (sid !== undefined && endedSids.includes(sid))
    }

    const remember = (s: Session.Session) => {
      for (const token of [access(s), refresh(s)]) if (!recent.includes(token)) recent.push(token)
      while (recent.length > RECENT_TOKENS) recent.shift()
    }
    const announce = (change: Session.SessionChange) => {
      for (const listener of [...listeners]) {
        try {
          listener(change)
        } catch {
          // a listener's failure is its own: the transition has happened
        }
      }
    }
    const become = (next: Option.Option<Session.Session>, change: Session.SessionChange | undefined) => {
      if (Option.isSome(current) && Option.isNone(next)) {
        ended.push(refresh(current.value))
        if (ended.length > RECENT_TOKENS) ended.shift()
        const sid = sidOf(current.value)
        if (sid !== undefined && !endedSids.includes(sid)) endedSids.push(sid)
        if (endedSids.length > RECENT_TOKENS) endedSids.shift()
      }
      current = next
      if (Option.isSome(next)) remember(next.value)
      if (change !== undefined) announce(change)
      return ++version
    }

    const bounded = (what: string, op: Effect.Effect<void>) =>
      withTimeout(op, STORE_TIMEOUT_MILLIS).pipe(
        Effect.catchAllCause(() =>
          Effect.logWarning(`bkend-effect: could not ${what}; the session in memory stays authoritative`)
        )
      )
    // store writes in the order of the transitions that caused them; a write overtaken by a later one is skipped.
    // A caller's interruption never abandons one halfway (bounded in time instead): other tabs and processes read
    // the store, and must find what this client's transition left there
    const write = (v: number, what: string, op: Effect.Effect<void>) =>
      Effect.uninterruptible(
        writeLock.withPermits(1)(
          Effect.suspend(() => {
            if (v < written) return Effect.void
            written = v
            return bounded(what, op)
          })
        )
      )
    const flush = writeLock.withPermits(1)(Effect.void)
    const persist = (v: number, s: Session.Session) => write(v, "persist the session", store.set(s))
    const clearStore = (v: number) => write(v, "clear the stored session", store.clear)

    const signOutNow = (reason: Session.SignOutReason) =>
      Effect.suspend(() => {
        epoch++
        const had = Option.isSome(current)
        return clearStore(become(Option.none(), had ? Session.SessionChange.SignedOut({ reason }) : undefined))
      })

    // a store that cannot be read says nothing (it is not "empty": with a shared store that would mean signed out)
    const readStore = withTimeout(store.get, STORE_TIMEOUT_MILLIS).pipe(
      Effect.asSome,
      Effect.catchAllCause(() => Effect.succeedNone)
    )

    const follow = (stored: Option.Option<Session.Session>) =>
      Effect.sync(() => {
        if (Option.isNone(stored)) {
          if (Option.isNone(current)) return
          epoch++
          become(stored, Session.SessionChange.SignedOut({ reason: "cleared" }))
          return
        }
        const next = stored.value
        if (endedBefore(next)) return
        if (Option.isNone(current)) {
          epoch++
          become(stored, Session.SessionChange.SignedIn({ session: next }))
          return
        }
        const now = current.value
        // memory is authoritative: never an older pair
        if (!isNewer(next, now)) return
        if (access(next) === access(now)) {
          become(stored, undefined)
        } else if (sameLineage(access(now), access(next))) {
          become(stored, Session.SessionChange.Refreshed({ session: next }))
        } else {
          // another identity or another sign-in: a refresh of the old session must not commit over it
          epoch++
          become(stored, Session.SessionChange.SignedIn({ session: next }))
        }
      })

    // read between this client's own writes: a write of its own still landing is never read as "cleared"
    const readBetweenWrites = writeLock.withPermits(1)(readStore)

    /**
     * With a shared store, `stored` may have been read before this client's own sign-out or sign-in (a storage
     * event's read races it): what the store holds now is followed instead, and nothing if this client moved on
     * during the read. `stored` is used only when the store cannot be read.
     */
    const followNow = (stored: Option.Option<Session.Session>) =>
      Effect.suspend(() => {
        const e = epoch
        return Effect.flatMap(readBetweenWrites, (read) =>
          e === epoch ? follow(Option.getOrElse(read, () => stored)) : Effect.void
        )
      })

    /**
     * With a shared store: `true` when it still holds `token`. Otherwise another client signed out or in: this
     * client follows, unless it has itself moved on since epoch `e` (a refresh never signs anyone in). When what
     * the store holds is not newer (another client's write that landed after this client's later sign-in), memory
     * stays authoritative and this is `true` too: the refresh's result must replace the token it just spent.
     */
    const storeStillHolds = (e: number, token: string) =>
      shared
        ? Effect.flatMap(readStore, (read) => {
            if (Option.isNone(read)) return Effect.succeed(true)
            const stored = read.value
            if (Option.isSome(stored) && refresh(stored.value) === token) return Effect.succeed(true)
            if (e !== epoch || Option.isNone(current)) return Effect.succeed(false)
            return Effect.map(
              follow(stored),
              () => e === epoch && Option.isSome(current) && refresh(current.value) === token
            )
          })
        : Effect.succeed(true)

    const initial = Option.flatten(yield* readStore)
    if (Option.isSome(initial)) become(initial, undefined)

    return {
      snapshot: Effect.sync(() => ({ current, epoch })),
      current: Effect.sync(() => current),
      subscribe: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            // one entry per subscription, even of the same function
            const own = (change: Session.SessionChange) => listener(change)
            listeners.add(own)
            return own
          }),
          (own) => Effect.sync(() => listeners.delete(own))
        ).pipe(Effect.asVoid),
      recentTokens: () => recent,
      signIn: (session) =>
        Effect.suspend(() => {
          epoch++
          return persist(become(Option.some(session), Session.SessionChange.SignedIn({ session })), session)
        }),
      flush,
      signOut: signOutNow,
      endInEpoch: (e, reason) =>
        Effect.suspend(() => (e === epoch ? Effect.as(signOutNow(reason), true) : Effect.succeed(false))),
      commitInEpoch: (e, session, presented) =>
        Effect.flatMap(storeStillHolds(e, presented), (holds) => {
          if (!holds || e !== epoch) return Effect.succeed(false)
          const v = become(Option.some(session), Session.SessionChange.Refreshed({ session }))
          return Effect.as(persist(v, session), true)
        }),
      retireInEpoch: (e, token) =>
        Effect.flatMap(storeStillHolds(e, token), (holds) => {
          if (!holds || e !== epoch || Option.isNone(current) || refresh(current.value) !== token) return Effect.void
          const retired = new Session.Session({ ...current.value, refreshRetired: true })
          return persist(become(Option.some(retired), undefined), retired)
        }),
      adopt: (stored) => (shared ? followNow(stored) : follow(stored)),
      rereadInEpoch: (e) =>
        Effect.flatMap(readBetweenWrites, (read) => {
          // never a sign-in; a shared store that is empty says "signed out"
          if (Option.isNone(read) || e !== epoch || Option.isNone(current)) return Effect.void
          return Option.isNone(read.value) && !shared ? Effect.void : follow(read.value)
        })
    } satisfies SessionState
  })
