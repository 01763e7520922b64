import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import type * as Tracer from "effect/Tracer"
import type * as BkendError from "../BkendError.js"
import type { Budget } from "./timeout.js"

/**
 * How failed attempts are retried. See `BkendClient.defaultRetryPolicy` for the documented defaults.
 */
export interface RetryPolicy {
  /** total attempts per call, the first included (a 401 → refresh → retry does not count) */
  readonly maxAttempts: number
  /** first backoff delay; doubles per attempt (the simple form of `schedule`) */
  readonly baseDelay: Duration.DurationInput
  /** backoff cap (the simple form of `schedule`) */
  readonly maxDelay: Duration.DurationInput
  /** random spread applied to backoff delays, 0 (none) … 1 (full jitter) (the simple form of `schedule`) */
  readonly jitter: number
  /**
   * The backoff as a `Schedule`, in place of `baseDelay`, `maxDelay` and `jitter` (setting both fails with
   * `InvalidConfig`). It is stepped once per retry with the error that failed the attempt as its input; its delay
   * is the wait, and when it is done the call fails with that error. `Retry-After` replaces its delay, and
   * `maxAttempts`, `isRetryable` and `totalTimeout` still apply. Each call starts it afresh, e.g.
   * `Schedule.exponential("100 millis").pipe(Schedule.jittered)`.
   */
  readonly schedule?: Schedule.Schedule<unknown, BkendError.BkendError> | undefined
  /** cap on a server-sent `Retry-After`; a longer wait fails with `RateLimited` at once */
  readonly maxRetryAfter: Duration.DurationInput
  /** per-attempt timeout (request + body) */
  readonly attemptTimeout: Duration.DurationInput
  /** timeout of the whole call, retries and waits included */
  readonly totalTimeout: Duration.DurationInput
  /**
   * Whether a failed attempt may be retried. The default retries 429 for any method, and 5xx, 408 and
   * transport errors / timeouts only for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS).
   */
  readonly isRetryable: (error: BkendError.BkendError, idempotent: boolean) => boolean
}

export const defaultIsRetryable = (error: BkendError.BkendError, idempotent: boolean): boolean => {
  switch (error._tag) {
    case "RateLimited":
      return true
    case "ServerError":
      return idempotent
    case "UnexpectedStatus":
      return idempotent && error.status === 408
    case "NetworkError":
      return idempotent && (error.reason === "Transport" || error.reason === "Timeout")
    default:
      return false
  }
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 4,
  baseDelay: Duration.millis(500),
  maxDelay: Duration.seconds(8),
  jitter: 0.5,
  maxRetryAfter: Duration.seconds(60),
  attemptTimeout: Duration.seconds(30),
  totalTimeout: Duration.seconds(120),
  isRetryable: defaultIsRetryable
}

/**
 * Steps of a backoff: given the error that failed the latest attempt, the wait (ms) before the next one, or
 * `undefined` when the backoff is done. One per call that retries.
 */
type Backoff = (error: BkendError.BkendError) => Effect.Effect<number | undefined>

/**
 * The simple form: exponential from `baseDelay` (doubling per retry), capped at `maxDelay`, then jittered down by up
 * to `jitter` and rounded to the millisecond. The same waits as `Schedule.exponential` → cap → `jitteredWith`, computed
 * directly: the client's code then needs nothing of `Schedule` (it would weigh ~9 KiB gzipped in a browser bundle).
 */
const simpleBackoff = (policy: RetryPolicy) => {
  const base = Duration.toMillis(policy.baseDelay)
  const max = Duration.toMillis(policy.maxDelay)
  const min = 1 - policy.jitter
  return (): Backoff => {
    let retries = 0
    return () => {
      const capped = Math.min(base * 2 ** retries++, max)
      return policy.jitter <= 0
        ? Effect.succeed(capped)
        : Effect.map(Random.next, (r) => Math.round(capped * min * (1 - r) + capped * r))
    }
  }
}

/**
 * A user's `Schedule`, stepped through its own `initial` and `step` (as a `ScheduleDriver` does, without sleeping):
 * the wait is the start of the next interval it decides on.
 */
const scheduleBackoff = (schedule: Schedule.Schedule<unknown, BkendError.BkendError>) => (): Backoff => {
  let state: unknown = schedule.initial
  return (error) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(schedule.step(now, error, state), ([next, , decision]) => {
        state = next
        if (decision._tag === "Done") return undefined
        let start = 0
        for (const interval of decision.intervals.intervals) {
          start = interval.startMillis
          break
        }
        return Math.max(0, start - now)
      })
    )
}

/**
 * The wait before the next attempt, or `undefined` when there is none: the backoff is done, or the error's
 * `Retry-After` exceeds the cap. `Retry-After` is honoured exactly (no jitter) in place of the backoff's delay.
 */
const nextWait = (
  policy: RetryPolicy,
  backoff: Backoff,
  error: BkendError.BkendError
): Effect.Effect<number | undefined> =>
  Effect.map(backoff(error), (delay) => {
    if (delay === undefined) return undefined
    if (error._tag !== "RateLimited" || error.retryAfterMillis === undefined) return delay
    return error.retryAfterMillis > Duration.toMillis(policy.maxRetryAfter) ? undefined : error.retryAfterMillis
  })

/** What one retried operation needs besides the policy. */
export interface Retrying<E> {
  /** Clock time (epoch ms) past which no attempt starts and no wait ends */
  readonly deadline: number
  /** what the operation fails with when the deadline has passed before an attempt could start */
  readonly timedOut: () => E
  /** the message of a timeout caused by the deadline rather than by `attemptTimeout` */
  readonly deadlineMessage: string
  readonly retryable: (error: E) => boolean
  /** the bkend error behind a failure: its `Retry-After` sets the wait */
  readonly errorOf: (error: E) => BkendError.BkendError
  /** the number of the first attempt (a call retried after a 401 continues its count) */
  readonly firstAttempt?: number | undefined
  /** the error the operation fails with, given the one that ended it and the attempts made */
  readonly completed?: ((error: E, attempts: number) => E) | undefined
  /** a label for the debug log of each retry */
  readonly label: { readonly method: string; readonly route: string }
  /** the Clock time (epoch ms) the operation started at, if just read: the first attempt then reads no other */
  readonly now?: number | undefined
  /** the operation's span, when it is not the current span: its retries log and its failures are raised there */
  readonly span?: Tracer.AnySpan | undefined
}

/**
 * The one retry loop, for bkend calls, refresh presentations and storage transfers: attempt `n` gets
 * `min(attemptTimeout, time left until the deadline)`; failures the options call retryable are retried after the
 * policy's wait (its schedule's delay, or `Retry-After`), up to `maxAttempts` and while the schedule goes on, and
 * never past the deadline (the error that ended the operation is reported, not a timeout). `make(policy)` once per
 * client: the attempt budget and the backoff are made once, a backoff stepper per call that retries.
 */
export const make = (policy: RetryPolicy) => {
  const attemptMillis = Duration.toMillis(policy.attemptTimeout)
  const attemptBudget: Budget = {
    millis: attemptMillis,
    message: `attempt timed out after ${Duration.format(policy.attemptTimeout)}`
  }
  const backoffOf = policy.schedule === undefined ? simpleBackoff(policy) : scheduleBackoff(policy.schedule)
  return <A, E, R>(
    options: Retrying<E>,
    attempt: (n: number, budget: Budget, now: number) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> => {
    const completed = options.completed ?? ((error: E) => error)
    const fail = (error: E) => failUnder(options.span, error)
    const first = options.firstAttempt ?? 1
    return Effect.suspend(() => {
      // the backoff of this run, made at its first retry
      let backoff: Backoff | undefined
      /** attempt `n` at Clock time `now`; its failure goes to `retry` */
      const step = (n: number, now: number): Effect.Effect<A, E, R> => {
        const left = options.deadline - now
        if (left <= 0) return fail(completed(options.timedOut(), n - 1))
        const budget = left < attemptMillis ? { millis: left, message: options.deadlineMessage } : attemptBudget
        return Effect.catchAll(attempt(n, budget, now), (error) => retry(n, error))
      }
      const retry = (n: number, error: E): Effect.Effect<A, E, R> => {
        if (n >= policy.maxAttempts || !options.retryable(error)) return fail(completed(error, n))
        const cause = options.errorOf(error)
        // a timeout of the deadline itself (its message may have been completed with the host and attempts)
        if (cause.message.startsWith(options.deadlineMessage)) return fail(completed(error, n))
        backoff ??= backoffOf()
        return Effect.flatMap(Effect.zip(nextWait(policy, backoff, cause), Clock.currentTimeMillis), ([wait, now]) => {
          // no time for another attempt after this wait: report the error that ended the operation
          if (wait === undefined || now + wait >= options.deadline) return fail(completed(error, n))
          const log = Effect.logDebug("bkend-effect: retrying").pipe(
            Effect.annotateLogs({ ...options.label, attempt: n, error: cause._tag, waitMillis: wait })
          )
          return (options.span === undefined ? log : Effect.withParentSpan(log, options.span)).pipe(
            Effect.zipRight(Effect.sleep(Duration.millis(wait))),
            Effect.zipRight(Clock.currentTimeMillis),
            Effect.flatMap((now) => step(n + 1, now))
          )
        })
      }
      return options.now === undefined
        ? Effect.flatMap(Clock.currentTimeMillis, (now) => step(first, now))
        : step(first, options.now)
    })
  }
}

/**
 * Fails with `error` while `span` is the current span (when given): the span an error records as where it was
 * raised, as if the failing code ran inside it. The call loop runs without making its span current (that would cost
 * two copies of the fiber's locals per call); its failures, the uncommon path, pay for this instead.
 */
export const failUnder = <E>(span: Tracer.AnySpan | undefined, error: E): Effect.Effect<never, E> =>
  span === undefined ? Effect.fail(error) : Effect.withParentSpan(Effect.fail(error), span)

export type Retry = ReturnType<typeof make>
