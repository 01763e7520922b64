import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Cause, Effect, Redacted } from "effect"
import * as BkendError from "../BkendError.js"
import { type Budget, withTimeout } from "./timeout.js"

/** A response read to its end as text (bkend bodies are small JSON documents). */
export interface RawResponse {
  readonly status: number
  readonly headers: HttpClientResponse.HttpClientResponse["headers"]
  readonly text: string
}

export const readText = (
  res: HttpClientResponse.HttpClientResponse
): Effect.Effect<RawResponse, HttpClientError.ResponseError> =>
  Effect.map(res.text, (text) => ({ status: res.status, headers: res.headers, text }))

/** The bkend client: base URL, `Accept` and `X-API-Key` on every request; URLs are always baseUrl + a route path. */
export const bkendClient = (http: HttpClient.HttpClient, baseUrl: string, apiKey: Redacted.Redacted<string>) =>
  http.pipe(
    HttpClient.mapRequest((request) =>
      request.pipe(
        HttpClientRequest.prependUrl(baseUrl),
        HttpClientRequest.acceptJson,
        HttpClientRequest.setHeader("x-api-key", Redacted.value(apiKey))
      )
    ),
    // the call's own span (method, route template, status, attempt) replaces the platform's per-request span,
    // which costs ~10 % per request and would carry full URLs
    HttpClient.withTracerDisabledWhen(() => true)
  )

/** Presigned storage URLs are credentials: no bkend headers, no trace propagation, no URL in spans. */
export const storageClient = (http: HttpClient.HttpClient) =>
  http.pipe(
    HttpClient.withTracerPropagation(false),
    HttpClient.withTracerDisabledWhen(() => true)
  )

const manualRedirect: globalThis.RequestInit = { redirect: "manual" }

type Failure = HttpClientError.HttpClientError | Cause.TimeoutException

/** One exchange within `budget`, failing with what the platform reported. Redirects are never followed. */
export const exchange = <B>(
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  budget: Budget,
  read: (res: HttpClientResponse.HttpClientResponse) => Effect.Effect<B, HttpClientError.ResponseError>
): Effect.Effect<B, Failure> =>
  client.execute(request).pipe(
    Effect.flatMap(read),
    // stop fetch from following redirects (it would forward X-API-Key to another origin)
    Effect.provideService(FetchHttpClient.RequestInit, manualRedirect),
    (self) => withTimeout(self, budget.millis)
  )

export const networkError = (e: Failure, budget: Budget, method: string, route: string): BkendError.NetworkError => {
  const timeout = Cause.isTimeoutException(e)
  const reason = timeout ? ("Timeout" as const) : e._tag === "RequestError" ? e.reason : ("Transport" as const)
  return new BkendError.NetworkError({ status: 0, reason, message: timeout ? budget.message : reason, method, route })
}

// errors of the connect phase: no byte of the request can have reached the server
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

const codeOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "code" in u && typeof u.code === "string" ? u.code : undefined

/**
 * Whether a failed exchange certainly never reached the server: the request could not be built or encoded, or
 * the connection was refused or the host not found. A reset, a timeout or any failure after connecting may have
 * been processed.
 */
export const neverSent = (e: Failure): boolean => {
  if (Cause.isTimeoutException(e) || e._tag !== "RequestError") return false
  if (e.reason === "InvalidUrl" || e.reason === "Encode") return true
  let cause: unknown = e.cause
  for (let depth = 0; depth < 4 && cause !== undefined; depth++) {
    const code = codeOf(cause)
    if (code !== undefined && CONNECT_CODES.has(code)) return true
    cause = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : undefined
  }
  return false
}

/** One attempt: the request and its whole body, within `budget`; failures become `NetworkError`. */
export const send = <B>(
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  method: string,
  route: string,
  budget: Budget,
  read: (res: HttpClientResponse.HttpClientResponse) => Effect.Effect<B, HttpClientError.ResponseError>
): Effect.Effect<B, BkendError.NetworkError> =>
  Effect.catchAll(exchange(client, request, budget, read), (e) => Effect.fail(networkError(e, budget, method, route)))
