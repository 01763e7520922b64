import { Clock, Duration, Effect, Option, Schedule } from "effect"
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

/** The simple form as a schedule: exponential from `baseDelay`, capped at `maxDelay`, then jittered down. */
const simpleBackoff = (policy: RetryPolicy): Schedule.Schedule<unknown, BkendError.BkendError> => {
  const max = Duration.decode(policy.maxDelay)
  const capped = Schedule.exponential(policy.baseDelay).pipe(Schedule.modifyDelay((_, d) => Duration.min(d, max)))
  return policy.jitter <= 0
    ? capped
    : capped.pipe(
        Schedule.jitteredWith({ min: 1 - policy.jitter, max: 1 }),
        Schedule.modifyDelay((_, d) => Duration.millis(Math.round(Duration.toMillis(d))))
      )
}

/**
 * The policy's backoff for a `ScheduleDriver` that does not sleep: each step yields the delay the schedule asks for
 * (or fails when it is done), and the retry loop decides whether and how long to wait.
 */
const backoffOf = (policy: RetryPolicy): Schedule.Schedule<Duration.Duration, BkendError.BkendError> =>
  (policy.schedule ?? simpleBackoff(policy)).pipe(
    Schedule.delays,
    Schedule.modifyDelay(() => Duration.zero)
  )

/**
 * The wait before the next attempt, or `undefined` when there is none: the schedule is done, or the error's
 * `Retry-After` exceeds the cap. `Retry-After` is honoured exactly (no jitter) in place of the schedule's delay.
 */
const nextWait = (
  policy: RetryPolicy,
  driver: Schedule.ScheduleDriver<Duration.Duration, BkendError.BkendError>,
  error: BkendError.BkendError
): Effect.Effect<Duration.Duration | undefined> =>
  Effect.map(Effect.option(driver.next(error)), (delay) => {
    if (Option.isNone(delay)) return undefined
    if (error._tag !== "RateLimited" || error.retryAfterMillis === undefined) return delay.value
    return error.retryAfterMillis > Duration.toMillis(policy.maxRetryAfter)
      ? undefined
      : Duration.millis(error.retryAfterMillis)
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
}

/**
 * The one retry loop, for bkend calls, refresh presentations and storage transfers: attempt `n` gets
 * `min(attemptTimeout, time left until the deadline)`; failures the options call retryable are retried after the
 * policy's wait (its schedule's delay, or `Retry-After`), up to `maxAttempts` and while the schedule goes on, and
 * never past the deadline (the error that ended the operation is reported, not a timeout). `make(policy)` once per
 * client: the attempt budget and the backoff schedule are made once, a schedule driver per call that retries.
 */
export const make = (policy: RetryPolicy) => {
  const attemptMillis = Duration.toMillis(policy.attemptTimeout)
  const attemptBudget: Budget = {
    millis: attemptMillis,
    message: `attempt timed out after ${Duration.format(policy.attemptTimeout)}`
  }
  const backoff = backoffOf(policy)
  return <A, E, R>(
    options: Retrying<E>,
    attempt: (n: number, budget: Budget) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> => {
    const completed = options.completed ?? ((error: E) => error)
    return Effect.gen(function* () {
      let driver: Schedule.ScheduleDriver<Duration.Duration, BkendError.BkendError> | undefined
      let n = (options.firstAttempt ?? 1) - 1
      while (true) {
        n++
        const left = options.deadline - (yield* Clock.currentTimeMillis)
        if (left <= 0) return yield* Effect.fail(completed(options.timedOut(), n - 1))
        const budget = left < attemptMillis ? { millis: left, message: options.deadlineMessage } : attemptBudget
        const result = yield* Effect.either(attempt(n, budget))
        if (result._tag === "Right") return result.right
        const error = result.left
        if (n >= policy.maxAttempts || !options.retryable(error)) return yield* Effect.fail(completed(error, n))
        const cause = options.errorOf(error)
        // a timeout of the deadline itself (its message may have been completed with the host and attempts)
        if (cause.message.startsWith(options.deadlineMessage)) return yield* Effect.fail(completed(error, n))
        driver ??= yield* Schedule.driver(backoff)
        const wait = yield* nextWait(policy, driver, cause)
        // no time for another attempt after this wait: report the error that ended the operation
        if (wait === undefined || (yield* Clock.currentTimeMillis) + Duration.toMillis(wait) >= options.deadline) {
          return yield* Effect.fail(completed(error, n))
        }
        yield* Effect.logDebug("bkend-effect: retrying").pipe(
          Effect.annotateLogs({ ...options.label, attempt: n, error: cause._tag, waitMillis: Duration.toMillis(wait) })
        )
        yield* Effect.sleep(wait)
      }
    })
  }
}

export type Retry = ReturnType<typeof make>
