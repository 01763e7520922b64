/**
 * A `RefreshLock` for tests: one holder at a time among every client given the same lock (two "tabs" or two
 * "processes" in one test), FIFO, and a waiter that has not got the lock after `waitTimeout` (or when `giveUp`
 * completes first) fails with `RefreshLockTimeout` without running its effect. Ownership is handed over atomically on release, so a waiter
 * that times out (or is interrupted) at the moment it is handed the lock releases it instead of leaking it.
 */
import { Deferred, Duration, Effect, Option, Ref } from "effect"
import * as Session from "../../src/Session.js"

interface LockState {
  readonly held: boolean
  readonly waiters: ReadonlyArray<Deferred.Deferred<void>>
}

type LockShape = Session.RefreshLock["Type"]

export interface TestLock extends LockShape {
  /** how many waiters gave up (`RefreshLockTimeout`) so far */
  readonly timeouts: () => number
  /** how many times the lock was taken */
  readonly acquisitions: () => number
}

export const makeTestLock = (
  waitTimeout: Duration.DurationInput,
  /** a waiter also gives up when this completes first (a model run's scheduler decides when a tab stops waiting) */
  giveUp: Effect.Effect<void> = Effect.never
): Effect.Effect<TestLock> =>
  Effect.gen(function* () {
    const timeout = Duration.decode(waitTimeout)
    const state = yield* Ref.make<LockState>({ held: false, waiters: [] })
    let timeouts = 0
    let acquisitions = 0

    const release = Ref.modify(state, (s): [Deferred.Deferred<void> | undefined, LockState] => {
      const [next, ...rest] = s.waiters
      return next === undefined ? [undefined, { held: false, waiters: [] }] : [next, { held: true, waiters: rest }]
    }).pipe(Effect.flatMap((next) => (next === undefined ? Effect.void : Deferred.succeed(next, undefined))))

    /** true: removed from the queue (not the owner); false: already handed the lock (the owner) */
    const leave = (me: Deferred.Deferred<void>) =>
      Ref.modify(state, (s): [boolean, LockState] =>
        s.waiters.includes(me) ? [true, { held: s.held, waiters: s.waiters.filter((w) => w !== me) }] : [false, s]
      )

    const withLock = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Session.RefreshLockTimeout, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const me = yield* Deferred.make<void>()
          const immediate = yield* Ref.modify(state, (s): [boolean, LockState] =>
            s.held ? [false, { held: true, waiters: [...s.waiters, me] }] : [true, { held: true, waiters: s.waiters }]
          )
          if (!immediate) {
            const stop = Effect.as(Effect.race(Effect.sleep(timeout), giveUp), Option.none())
            const got = yield* restore(Effect.raceFirst(Effect.asSome(Deferred.await(me)), stop)).pipe(
              Effect.onInterrupt(() => Effect.flatMap(leave(me), (removed) => (removed ? Effect.void : release)))
            )
            if (Option.isNone(got) && (yield* leave(me))) {
              timeouts++
              return yield* new Session.RefreshLockTimeout({ waitedMillis: Duration.toMillis(timeout) })
            }
          }
          acquisitions++
          return yield* restore(self).pipe(Effect.ensuring(release))
        })
      )

    return { waitTimeout: timeout, withLock, timeouts: () => timeouts, acquisitions: () => acquisitions }
  })

export interface Counted {
  readonly lock: LockShape
  /** how many waits gave up (`RefreshLockTimeout`) */
  readonly timeouts: () => number
  /** how many `withLock` calls are waiting or holding now (a refresh detached from its caller may still run) */
  readonly active: () => number
}

/** `lock`, counting the waits that gave up and the calls in progress */
export const counting = (lock: LockShape): Counted => {
  let timeouts = 0
  let active = 0
  return {
    lock: {
      waitTimeout: lock.waitTimeout,
      withLock: (self) =>
        Effect.suspend(() => {
          active++
          return lock.withLock(self)
        }).pipe(
          Effect.tapError((e) =>
            Effect.sync(() => {
              if (e instanceof Session.RefreshLockTimeout) timeouts++
            })
          ),
          Effect.ensuring(Effect.sync(() => active--))
        )
    },
    timeouts: () => timeouts,
    active: () => active
  }
}

/** Negative control: `lock`'s shape, excluding nobody (every holder runs at once). */
export const lockless = (lock: LockShape): LockShape => ({ waitTimeout: lock.waitTimeout, withLock: (self) => self })
