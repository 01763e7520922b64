import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as BkendClient from "../BkendClient.js"
import * as BkendError from "../BkendError.js"
import { defaultRetryPolicy, type RetryPolicy } from "./retry.js"

/** The validated options. */
export interface Config {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly retryPolicy: RetryPolicy
  readonly refreshMargin: Duration.Duration
  readonly refreshReuseWindow: Duration.Duration
}

export const DEFAULT_BASE_URL = "https://api-client.bkend.ai"

const invalid = (field: string, message: string) => new BkendError.InvalidConfig({ field, message })

const validDuration = (field: string, input: Duration.DurationInput | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return Effect.succeed(fallback)
  // Duration clamps negative numbers to zero, so check the raw number first
  if (typeof input === "number" && !(input >= 0)) {
    return Effect.fail(invalid(field, `${field} must be a non-negative duration`))
  }
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !(Duration.toMillis(decoded.value) >= 0)) {
    return Effect.fail(invalid(field, `${field} must be a non-negative duration`))
  }
  return Effect.succeed(decoded.value)
}

const validBaseUrl = (input: string | undefined) => {
  const baseUrl = (input ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
  let url: URL | undefined
  try {
    url = new URL(baseUrl)
  } catch {
    url = undefined
  }
  return url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash
    ? Effect.fail(invalid("baseUrl", "baseUrl must be an absolute http(s) URL without query or fragment"))
    : Effect.succeed(baseUrl)
}

const validApiKey = (apiKey: Redacted.Redacted<string>) => {
  if (!Redacted.isRedacted(apiKey)) {
    return Effect.fail(invalid("apiKey", "apiKey must be a Redacted string (Redacted.make or Config.redacted)"))
  }
  const key = Redacted.value(apiKey)
  return typeof key === "string" && /^(pk|sk)_[A-Za-z0-9_-]+$/.test(key)
    ? Effect.succeed(apiKey)
    : Effect.fail(invalid("apiKey", "apiKey must be a bkend key starting with pk_ (publishable) or sk_ (secret)"))
}

const SCHEDULE_TYPE_ID = Symbol.for("effect/Schedule")

const SIMPLE_BACKOFF = ["baseDelay", "maxDelay", "jitter"] as const

/** A schedule replaces the simple form: both at once would leave one of them silently ignored. */
const validSchedule = (p: Partial<RetryPolicy>) => {
  if (p.schedule === undefined) return Effect.void
  // `Schedule.isSchedule` by its type id: importing the Schedule module would add ~9 KiB gzipped to a browser bundle
  if (!(typeof p.schedule === "object" && p.schedule !== null && SCHEDULE_TYPE_ID in p.schedule)) {
    return Effect.fail(invalid("retryPolicy.schedule", "retryPolicy.schedule must be a Schedule"))
  }
  const both = SIMPLE_BACKOFF.find((name) => p[name] !== undefined)
  return both === undefined
    ? Effect.void
    : Effect.fail(
        invalid(
          `retryPolicy.${both}`,
          `retryPolicy.${both} cannot be combined with retryPolicy.schedule: put the backoff in the schedule`
        )
      )
}

const validRetryPolicy = (p: Partial<RetryPolicy>) =>
  Effect.gen(function* () {
    yield* validSchedule(p)
    const maxAttempts = p.maxAttempts ?? defaultRetryPolicy.maxAttempts
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      return yield* invalid("retryPolicy.maxAttempts", "retryPolicy.maxAttempts must be an integer >= 1")
    }
    const jitter = p.jitter ?? defaultRetryPolicy.jitter
    if (!(jitter >= 0 && jitter <= 1)) {
      return yield* invalid("retryPolicy.jitter", "retryPolicy.jitter must be between 0 and 1")
    }
    const d = (name: "baseDelay" | "maxDelay" | "maxRetryAfter" | "attemptTimeout" | "totalTimeout") =>
      validDuration(`retryPolicy.${name}`, p[name], Duration.decode(defaultRetryPolicy[name]))
    const policy: RetryPolicy = {
      maxAttempts,
      jitter,
      baseDelay: yield* d("baseDelay"),
      maxDelay: yield* d("maxDelay"),
      maxRetryAfter: yield* d("maxRetryAfter"),
      attemptTimeout: yield* d("attemptTimeout"),
      totalTimeout: yield* d("totalTimeout"),
      isRetryable: p.isRetryable ?? defaultRetryPolicy.isRetryable,
      ...(p.schedule === undefined ? {} : { schedule: p.schedule })
    }
    return policy
  })

/** Checks every option; fails with `InvalidConfig` naming the field. */
export const validate = (options: BkendClient.Options): Effect.Effect<Config, BkendError.InvalidConfig> =>
  Effect.gen(function* () {
    const baseUrl = yield* validBaseUrl(options.baseUrl)
    const apiKey = yield* validApiKey(options.apiKey)
    const retryPolicy = yield* validRetryPolicy(options.retryPolicy ?? {})
    const refreshMargin = yield* validDuration("refreshMargin", options.refreshMargin, Duration.seconds(60))
    const refreshReuseWindow = yield* validDuration("refreshReuseWindow", options.refreshReuseWindow, Duration.zero)
    return { apiKey, baseUrl, retryPolicy, refreshMargin, refreshReuseWindow }
  })
