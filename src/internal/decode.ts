import { Clock, Effect, ParseResult, Schema } from "effect"
import * as BkendError from "../BkendError.js"
import { unwrapSuccess } from "./envelope.js"
import { fromResponse, parseIntHeader, parseRetryAfter } from "./errors.js"
import type { RawResponse } from "./transport.js"

/** Formats a parse error as paths only: values are never copied into messages (they may hold tokens). */
export const issuePaths = (error: ParseResult.ParseError): string => {
  const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".")
  )
  return [...new Set(paths)].slice(0, 5).join(", ")
}

/** A 2xx body: unwrapped from `{ success, data }` and decoded with `schema`. */
export const success = <A, I, R>(
  raw: RawResponse,
  schema: Schema.Schema<A, I, R>,
  method: string,
  route: string
): Effect.Effect<A, BkendError.DecodeError, R> => {
  const decodeError = (message: string) => new BkendError.DecodeError({ status: raw.status, message, method, route })
  let json: unknown
  try {
    json = raw.text.length === 0 ? undefined : JSON.parse(raw.text)
  } catch {
    return Effect.fail(decodeError("response body is not JSON"))
  }
  return Schema.decodeUnknown(schema)(unwrapSuccess(json)).pipe(
    Effect.mapError((e) => decodeError(`response body does not match the expected schema at: ${issuePaths(e)}`))
  )
}

/** A non-2xx response as its typed error, with every secret in `secrets` removed from what the server said. */
export const failure = (
  raw: RawResponse,
  method: string,
  route: string,
  secrets: ReadonlyArray<string>
): Effect.Effect<BkendError.BkendError> =>
  Effect.map(Clock.currentTimeMillis, (now) =>
    fromResponse({
      status: raw.status,
      method,
      route,
      text: raw.text,
      retryAfterMillis: parseRetryAfter(raw.headers["retry-after"], now),
      limit: parseIntHeader(raw.headers["x-ratelimit-limit"]),
      remaining: parseIntHeader(raw.headers["x-ratelimit-remaining"]),
      secrets
    })
  )
