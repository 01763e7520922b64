/**
 * Every failure a bkend call can produce, as `Schema.TaggedError` classes, and the `BkendError` union.
 *
 * Each error carries the HTTP `status`, the normalised bkend `code` (for example `auth/invalid-credentials`;
 * UPPER_SNAKE codes are mapped to their domain twin and kept in `rawCode`), a human `message`, the request
 * `method` and the `route` template (never query values, never secrets).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const fields = {
  /** HTTP status of the response (0 when no response was received). */
  status: Schema.Number,
  /** Normalised bkend error code, e.g. `auth/invalid-credentials`. */
  code: Schema.optional(Schema.String),
  /** The code exactly as the server sent it, when it differs from `code`. */
  rawCode: Schema.optional(Schema.String),
  message: Schema.String,
  /** HTTP method of the call. */
  method: Schema.String,
  /** Route template of the call, e.g. `/v1/data/:table/:id`. */
  route: Schema.String
}

/**
 * 400: missing or invalid input.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 401: missing, invalid or expired credentials (after the one refresh-and-retry, where it applies).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 403: the caller may not do this (RLS, scopes, visibility, MFA required, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 404: table, record, user or file not found.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 409: duplicate e-mail, unique field, linked account or storage key.
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 410: gone (e.g. an expired invitation).
 *
 * @since 0.1.0
 * @category errors
 */
export class Gone extends Schema.TaggedError<Gone>()("Gone", fields) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * 429: rate limited. `retryAfterMillis` is the server's `Retry-After`, when it sent one.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...fields,
  retryAfterMillis: Schema.optional(Schema.Number),
  limit: Schema.optional(Schema.Number),
  remaining: Schema.optional(Schema.Number)
}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * 5xx: the server failed. `bodyExcerpt` holds the start of a non-JSON body (e.g. a proxy's HTML page).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  ...fields,
  bodyExcerpt: Schema.optional(Schema.String)
}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * Any other status (3xx, 405, 413, 415, 422, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedStatus extends Schema.TaggedError<UnexpectedStatus>()("UnexpectedStatus", {
  ...fields,
  bodyExcerpt: Schema.optional(Schema.String)
}) {
  get isRetryable(): boolean {
    return this.status === 408
  }
}

/**
 * No usable response: transport failure, per-attempt or total timeout. The message names what failed, where and
 * how often, e.g. `connect ECONNREFUSED to api.example.com:443 after 3 attempts`.
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  ...fields,
  reason: Schema.Literal("Transport", "Timeout", "InvalidUrl", "Encode"),
  /** The underlying error code, e.g. `ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`, `ENOTFOUND`, `UND_ERR_SOCKET`. */
  causeCode: Schema.optional(Schema.String),
  /** `hostname:port` of the server the call talked to (never a path or query). */
  host: Schema.optional(Schema.String),
  /** How many attempts the call made. */
  attempts: Schema.optional(Schema.Number)
}) {
  get isRetryable(): boolean {
    return this.reason === "Transport" || this.reason === "Timeout"
  }
}

/**
 * One failing path of a body that did not decode: the path (`data.expiresIn`, `(root)` for the body itself), the
 * type the schema expected and the kind of value that came (`string`, `number`, `null`, `object`, `array`,
 * `undefined` …). Never the value: it may hold a token.
 *
 * @since 0.1.0
 * @category models
 */
export const DecodeIssue = Schema.Struct({
  path: Schema.String,
  expected: Schema.String,
  actual: Schema.String
})

/**
 * One entry of `DecodeError.issues`: where a body failed, what was expected and what kind of value came.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeIssue extends Schema.Schema.Type<typeof DecodeIssue> {}

/**
 * A 2xx body that does not match the expected schema (or is not JSON). The message names each failing path with the
 * expected type and the actual kind, e.g. `expiresIn: expected number, got string`; `issues` holds the same, at most
 * five.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  ...fields,
  issues: Schema.optional(Schema.Array(DecodeIssue))
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Input rejected by the SDK before anything was sent (an invalid table name, an id that would change the
 * route, a filter that cannot be encoded). `status` is 0.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  ...fields,
  field: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Invalid client configuration, raised when a layer is built. `field` names the offending option.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * Every error a bkend call can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type BkendError =
  | BadRequest
  | Unauthorized
  | Forbidden
  | NotFound
  | Conflict
  | Gone
  | RateLimited
  | ServerError
  | UnexpectedStatus
  | NetworkError
  | DecodeError
  | InvalidInput

/**
 * Tags of every member of {@link BkendError}.
 *
 * @since 0.1.0
 * @category guards
 */
export const tags = [
  "BadRequest",
  "Unauthorized",
  "Forbidden",
  "NotFound",
  "Conflict",
  "Gone",
  "RateLimited",
  "ServerError",
  "UnexpectedStatus",
  "NetworkError",
  "DecodeError",
  "InvalidInput"
] as const

/**
 * Whether a value is one of the SDK's errors (by its tag), e.g. to tell them from a program's own errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isBkendError = (u: unknown): u is BkendError =>
  typeof u === "object" && u !== null && "_tag" in u && (tags as ReadonlyArray<unknown>).includes(u._tag)
