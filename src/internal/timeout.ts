import { Cause, type Effect as E, Effect } from "effect"

/** How long an attempt may take, and what its timeout says (which limit ran out). */
export interface Budget {
  readonly millis: number
  readonly message: string
}

const timeoutException = new Cause.TimeoutException()

/**
 * `Effect.timeout` for the hot path: one fiber and a timer, instead of a race of two fibers (which costs about a
 * third of a call's CPU). The fiber is interruptible, so the timeout fires even when the caller is not (a
 * finalizer, an `acquireRelease` release), where `Effect.timeout` would wait for ever. It is a daemon, not the
 * caller's child: the caller's interruption reaches it only through this wait, so never while the caller runs
 * uninterruptibly (a child would be interrupted at once, and a sign-out's store clear in a finalizer abandoned
 * halfway when its caller is interrupted meanwhile). The timer is the platform's
 * `setTimeout`, not the Effect `Clock`: a network deadline is wall-clock time, and a `TestClock` should not be able
 * to fire it.
 */
export const withTimeout = <A, Err, R>(
  self: E.Effect<A, Err, R>,
  millis: number
): E.Effect<A, Err | Cause.TimeoutException, R> =>
  Number.isFinite(millis)
    ? Effect.flatMap(Effect.forkDaemon(Effect.interruptible(self)), (fiber) =>
        Effect.async<A, Err | Cause.TimeoutException>((resume) => {
          let settled = false
          const timer = setTimeout(
            () => {
              if (settled) return
              settled = true
              fiber.unsafeInterruptAsFork(fiber.id())
              resume(Effect.fail(timeoutException))
            },
            Math.max(0, millis)
          )
          fiber.addObserver((exit) => {
            if (settled) return
            settled = true
            clearTimeout(timer)
            resume(exit)
          })
          return Effect.sync(() => {
            settled = true
            clearTimeout(timer)
            fiber.unsafeInterruptAsFork(fiber.id())
          })
        })
      )
    : self
