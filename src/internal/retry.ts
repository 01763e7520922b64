import { Duration, Effect, Random } from "effect"
import type * as BkendError from "../BkendError.js"

/**
 * How failed attempts are retried. See `BkendClient.defaultRetryPolicy` for the documented defaults.
 */
export interface RetryPolicy {
  /** total attempts per call, the first included (a 401 → refresh → retry does not count) */
  readonly maxAttempts: number
  /** first backoff delay; doubles per attempt */
  readonly baseDelay: Duration.DurationInput
  /** backoff cap */
  readonly maxDelay: Duration.DurationInput
  /** random spread applied to backoff delays, 0 (none) … 1 (full jitter) */
  readonly jitter: number
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
 * The wait before attempt `attempt + 1`, or `undefined` when the error's `Retry-After` exceeds the cap.
 * `Retry-After` is honoured exactly (no jitter); otherwise exponential backoff with jitter.
 */
export const delayFor = (
  policy: RetryPolicy,
  error: BkendError.BkendError,
  attempt: number
): Effect.Effect<Duration.Duration | undefined> => {
  if (error._tag === "RateLimited" && error.retryAfterMillis !== undefined) {
    return Effect.succeed(
      error.retryAfterMillis > Duration.toMillis(policy.maxRetryAfter)
        ? undefined
        : Duration.millis(error.retryAfterMillis)
    )
  }
  const exponential = Math.min(
    Duration.toMillis(policy.baseDelay) * 2 ** (attempt - 1),
    Duration.toMillis(policy.maxDelay)
  )
  if (policy.jitter <= 0) return Effect.succeed(Duration.millis(exponential))
  return Effect.map(Random.next, (r) => Duration.millis(Math.round(exponential * (1 - policy.jitter * r))))
}
