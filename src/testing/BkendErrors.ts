/**
 * Error values for mocks, with defaults: `BkendErrors.forbidden()` is the 403 a table with row-level security
 * answers; pass only what your test cares about (`BkendErrors.notFound({ route: "/v1/data/:table/:id" })`).
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Auth } from "bkend-effect"
 * import { BkendErrors } from "bkend-effect/testing"
 *
 * const SignedOut = Layer.mock(Auth.Auth, { me: Effect.fail(BkendErrors.unauthorized()) })
 * ```
 *
 * @since 0.1.0
 */
import * as BkendError from "../BkendError.js"

/**
 * What a constructor takes: any of the common fields; the rest have defaults for the error's status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  readonly status?: number | undefined
  readonly code?: string | undefined
  readonly message?: string | undefined
  readonly method?: string | undefined
  readonly route?: string | undefined
}

const withDefaults = (defaults: { status: number; code: string; message: string; method: string }, f: Fields) => {
  return {
    status: f.status ?? defaults.status,
    code: f.code ?? defaults.code,
    message: f.message ?? defaults.message,
    method: f.method ?? defaults.method,
    route: f.route ?? "/v1/data/:table"
  }
}

/**
 * A 400 (`data/validation-error` by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const badRequest = (f: Fields = {}): BkendError.BadRequest =>
  new BkendError.BadRequest(
    withDefaults({ status: 400, code: "data/validation-error", message: "Validation failed", method: "POST" }, f)
  )

/**
 * A 401 (`auth/unauthorized` by default): no session, or it expired and could not be refreshed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unauthorized = (f: Fields = {}): BkendError.Unauthorized =>
  new BkendError.Unauthorized(
    withDefaults({ status: 401, code: "auth/unauthorized", message: "Unauthorized", method: "GET" }, f)
  )

/**
 * A 403 (`data/permission-denied` by default): row-level security denied the operation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forbidden = (f: Fields = {}): BkendError.Forbidden =>
  new BkendError.Forbidden(
    withDefaults({ status: 403, code: "data/permission-denied", message: "Permission denied", method: "POST" }, f)
  )

/**
 * A 404 (`data/not-found` by default): no such record.
 *
 * @since 0.1.0
 * @category constructors
 */
export const notFound = (f: Fields = {}): BkendError.NotFound =>
  new BkendError.NotFound(
    withDefaults({ status: 404, code: "data/not-found", message: "Record not found", method: "GET" }, f)
  )

/**
 * A 409 (`data/duplicate-value` by default): a unique value is taken.
 *
 * @since 0.1.0
 * @category constructors
 */
export const conflict = (f: Fields = {}): BkendError.Conflict =>
  new BkendError.Conflict(
    withDefaults({ status: 409, code: "data/duplicate-value", message: "Duplicate value", method: "POST" }, f)
  )

/**
 * A 429 (`data/rate-limit-exceeded` by default), optionally with the server's `Retry-After` in milliseconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rateLimited = (
  f: Fields & { readonly retryAfterMillis?: number | undefined } = {}
): BkendError.RateLimited =>
  new BkendError.RateLimited({
    ...withDefaults({ status: 429, code: "data/rate-limit-exceeded", message: "Too many requests", method: "GET" }, f),
    ...(f.retryAfterMillis === undefined ? {} : { retryAfterMillis: f.retryAfterMillis })
  })

/**
 * A 500 (`common/internal-error` by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverError = (f: Fields = {}): BkendError.ServerError =>
  new BkendError.ServerError(
    withDefaults({ status: 500, code: "common/internal-error", message: "Internal server error", method: "GET" }, f)
  )
