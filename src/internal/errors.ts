import * as BkendError from "../BkendError.js"

/** UPPER_SNAKE codes (the `{ statusCode, error, message }` shape) and their domain twins. */
const aliases: Readonly<Record<string, string>> = {
  UNAUTHORIZED: "auth/unauthorized",
  INVALID_TOKEN: "auth/invalid-token",
  TOKEN_EXPIRED: "auth/token-expired",
  PERMISSION_DENIED: "data/permission-denied",
  SCOPE_INSUFFICIENT: "data/scope-insufficient",
  SYSTEM_TABLE_ACCESS: "data/system-table-access",
  PROJECT_ACCESS_DENIED: "data/project-access-denied",
  ENVIRONMENT_NOT_FOUND: "data/environment-not-found",
  VALIDATION_ERROR: "data/validation-error",
  TABLE_NOT_FOUND: "data/table-not-found",
  RECORD_NOT_FOUND: "data/not-found",
  NOT_FOUND: "data/not-found",
  EMAIL_ALREADY_EXISTS: "auth/email-already-exists",
  RATE_LIMIT_EXCEEDED: "data/rate-limit-exceeded",
  AUTHENTICATION_REQUIRED: "common/authentication-required",
  MISSING_HEADER: "data/invalid-header",
  FILE_TOO_LARGE: "file/file-too-large",
  DUPLICATE_VALUE: "data/duplicate-value"
}

/** Codes that the docs name twice for one condition ; mapped to the API reference's variant. */
const variants: Readonly<Record<string, string>> = {
  "auth/access-token-expired": "auth/token-expired",
  "auth/invalid-access-token": "auth/invalid-token",
  "auth/invalid-token-format": "auth/invalid-token",
  "auth/missing-authorization-header": "auth/unauthorized",
  "auth/cannot-unlink-last-account": "auth/last-auth-method",
  "auth/expired-password-reset-token": "auth/verification-token-expired",
  "auth/magic-token-expired": "auth/token-expired",
  "auth/magic-token-missing": "auth/invalid-token",
  "auth/invalid-email-format": "auth/invalid-email",
  "auth/account-locked": "auth/too-many-login-attempts"
}

/**
 * Normalises an error code: UPPER_SNAKE and variant codes become the domain code of the reference pages.
 */
export const normaliseCode = (code: string): string => aliases[code] ?? variants[code] ?? code

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const str = (u: unknown): string | undefined => (typeof u === "string" && u.length > 0 ? u : undefined)

/** The parts of an error body, read from any of the six documented shapes. */
export interface ParsedError {
  readonly code: string | undefined
  readonly rawCode: string | undefined
  readonly message: string | undefined
}

export const parseErrorBody = (body: unknown): ParsedError => {
  if (!isRecord(body)) return { code: undefined, rawCode: undefined, message: undefined }
  let raw: unknown
  let message: unknown
  if (isRecord(body.error)) {
    raw = body.error.code
    message = body.error.message ?? body.message
  } else if (typeof body.error === "string") {
    raw = body.error
    message = body.message
  } else {
    raw = body.code
    message = body.message
  }
  // one documented shape puts the HTTP status (a number) in `error.code`: a status echo, not a code.
  const rawCode = str(raw)
  const code = rawCode === undefined ? undefined : normaliseCode(rawCode)
  return { code, rawCode: code === rawCode ? undefined : rawCode, message: str(message) }
}

const reasons: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const EXCERPT_LENGTH = 160

/** A short, single-line excerpt of a body that is not a JSON error envelope. */
export const excerpt = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat
}

/** Removes every secret (API key, tokens) from a text that came from the server. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 8) out = out.split(secret).join("<redacted>")
  }
  return out
}

export interface ResponseInfo {
  readonly status: number
  readonly method: string
  readonly route: string
  /** the raw body text */
  readonly text: string
  readonly retryAfterMillis: number | undefined
  readonly limit: number | undefined
  readonly remaining: number | undefined
  readonly secrets: ReadonlyArray<string>
}

/**
 * The one mapping from a non-2xx response to a {@link BkendError.BkendError}. Branches on the HTTP status
 * first and keeps the normalised code (branch on status first, and on code second).
 */
export const fromResponse = (info: ResponseInfo): BkendError.BkendError => {
  let body: unknown
  let json = false
  try {
    body = info.text.length === 0 ? undefined : JSON.parse(info.text)
    json = info.text.length > 0
  } catch {
    body = undefined
  }
  const parsed = parseErrorBody(body)
  const reason = reasons[info.status] ?? "Unexpected status"
  // scrub the whole body first: a secret cut in two by the excerpt would no longer match
  const bodyExcerpt = !json && info.text.length > 0 ? excerpt(scrub(info.text, info.secrets)) : undefined
  const message = scrub(
    parsed.message ?? (bodyExcerpt ? `${info.status} ${reason}: ${bodyExcerpt}` : `${info.status} ${reason}`),
    info.secrets
  )
  const base = {
    status: info.status,
    message,
    method: info.method,
    route: info.route,
    ...(parsed.code === undefined ? {} : { code: parsed.code }),
    ...(parsed.rawCode === undefined ? {} : { rawCode: parsed.rawCode })
  }
  const withExcerpt = bodyExcerpt === undefined ? base : { ...base, bodyExcerpt }
  switch (info.status) {
    case 400:
      return new BkendError.BadRequest(base)
    case 401:
      return new BkendError.Unauthorized(base)
    case 403:
      return new BkendError.Forbidden(base)
    case 404:
      return new BkendError.NotFound(base)
    case 409:
      return new BkendError.Conflict(base)
    case 410:
      return new BkendError.Gone(base)
    case 429:
      return new BkendError.RateLimited({
        ...base,
        ...(info.retryAfterMillis === undefined ? {} : { retryAfterMillis: info.retryAfterMillis }),
        ...(info.limit === undefined ? {} : { limit: info.limit }),
        ...(info.remaining === undefined ? {} : { remaining: info.remaining })
      })
    default:
      return info.status >= 500 && info.status <= 599
        ? new BkendError.ServerError(withExcerpt)
        : new BkendError.UnexpectedStatus(withExcerpt)
  }
}

/**
 * Parses `Retry-After` as delta-seconds or an HTTP-date (RFC 9110, section 10.2.3) into milliseconds from `now`.
 * Returns `undefined` for a missing or unparsable value; negative values become 0.
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (trimmed.length === 0) return undefined
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  if (!/[a-z]/i.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

export const parseIntHeader = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined
  return Number(value.trim())
}
