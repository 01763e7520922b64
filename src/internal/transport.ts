import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import * as BkendError from "../BkendError.js"
import { type Budget, inChildFiber } from "./timeout.js"

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

/**
 * The bkend client: base URL, `Accept` and `X-API-Key` on every request; URLs are always baseUrl + a route path.
 * Its requests go through {@link exchange}, which turns the platform's per-request span off.
 */
export const bkendClient = (http: HttpClient.HttpClient, baseUrl: string, apiKey: Redacted.Redacted<string>) =>
  http.pipe(
    HttpClient.mapRequest((request) =>
      request.pipe(
        HttpClientRequest.prependUrl(baseUrl),
        HttpClientRequest.acceptJson,
        HttpClientRequest.setHeader("x-api-key", Redacted.value(apiKey))
      )
    )
  )

/** Presigned storage URLs are credentials: no bkend headers, no trace propagation, no URL in spans. */
export const storageClient = (http: HttpClient.HttpClient) =>
  http.pipe(
    HttpClient.withTracerPropagation(false),
    HttpClient.withTracerDisabledWhen(() => true)
  )

const manualRedirect: globalThis.RequestInit = { redirect: "manual" }
const always = () => true

type Failure = HttpClientError.HttpClientError | Cause.TimeoutException

/**
 * The settings of one attempt, made in its own fiber (the transport and any `HttpClient` middleware see them):
 * fetch never follows a redirect (it would forward X-API-Key to another origin); the platform's per-request span is
 * off (the call's own span, with method, route template, status and attempt, replaces it: it costs ~10 % per
 * request and would carry full URLs); and `span`, when given, is the current span.
 */
const enterAttempt = (span: Tracer.AnySpan | undefined) =>
  Effect.updateFiberRefs((id, refs) => {
    const context = Context.add(
      FiberRefs.getOrDefault(refs, FiberRef.currentContext),
      FetchHttpClient.RequestInit,
      manualRedirect
    )
    return FiberRefs.updateManyAs(refs, {
      entries: [
        [FiberRef.currentContext, [[id, span === undefined ? context : Context.add(context, Tracer.ParentSpan, span)]]],
        [HttpClient.currentTracerDisabledWhen, [[id, always]]]
      ]
    })
  })

/**
 * One exchange within `budget`, in a fiber of its own (see `enterAttempt`), failing with what the platform
 * reported. Redirects are never followed.
 */
export const exchange = <B>(
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  budget: Budget,
  read: (res: HttpClientResponse.HttpClientResponse) => Effect.Effect<B, HttpClientError.ResponseError>,
  span?: Tracer.AnySpan | undefined
): Effect.Effect<B, Failure> =>
  inChildFiber(enterAttempt(span), Effect.flatMap(client.execute(request), read), budget.millis)

const field = (u: unknown, name: string): unknown =>
  typeof u === "object" && u !== null ? Reflect.get(u, name) : undefined

/** The `cause` chain of a platform error (undici and fetch nest the socket's error as `cause.cause`). */
const causes = (e: unknown): ReadonlyArray<unknown> => {
  const out: Array<unknown> = []
  for (let cause = field(e, "cause"); cause !== undefined && out.length < 5; cause = field(cause, "cause")) {
    out.push(cause)
  }
  return out
}

const CODE = /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/

/**
 * The underlying error code of a failed exchange (`ECONNREFUSED`, `ECONNRESET`, `ENOTFOUND`, `UND_ERR_SOCKET` …) and
 * the system call it came from, if any: a system error code wins over undici's wrapper code.
 */
export const causeOf = (e: unknown): { readonly code: string; readonly syscall: string | undefined } | undefined => {
  const found = causes(e).flatMap((c) => {
    const code = field(c, "code")
    const syscall = field(c, "syscall")
    return typeof code === "string" && CODE.test(code)
      ? [{ code, syscall: typeof syscall === "string" && /^[a-z]+$/.test(syscall) ? syscall : undefined }]
      : []
  })
  return found.find((c) => !c.code.startsWith("UND_ERR_")) ?? found[0]
}

/** `hostname:port` of a URL (the default port made explicit); never its path, query or credentials. */
export const hostOf = (url: string): string | undefined => {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port || (parsed.protocol === "https:" ? "443" : "80")}`
  } catch {
    return undefined
  }
}

export const networkError = (e: Failure, budget: Budget, method: string, route: string): BkendError.NetworkError => {
  if (Cause.isTimeoutException(e)) {
    return new BkendError.NetworkError({ status: 0, reason: "Timeout", message: budget.message, method, route })
  }
  const reason = e._tag === "RequestError" ? e.reason : ("Transport" as const)
  const cause = causeOf(e)
  const message = cause === undefined ? reason : cause.syscall ? `${cause.syscall} ${cause.code}` : cause.code
  return new BkendError.NetworkError({
    status: 0,
    reason,
    message,
    method,
    route,
    ...(cause === undefined ? {} : { causeCode: cause.code })
  })
}

/**
 * A call's final `NetworkError`, with the host it talked to and the attempts it made, e.g.
 * `connect ECONNREFUSED to api.example.com:443 after 3 attempts`. Other errors, and network errors already
 * completed (a refresh's, met by a call), are returned as they are.
 */
export const completed = (
  error: BkendError.BkendError,
  host: string | undefined,
  attempts: number | undefined
): BkendError.BkendError => {
  if (!(error instanceof BkendError.NetworkError) || error.attempts !== undefined) return error
  const tries = attempts === undefined ? undefined : `${attempts} attempt${attempts === 1 ? "" : "s"}`
  const message =
    error.reason === "Timeout"
      ? `${error.message} (${[host, tries].filter((s) => s !== undefined).join(", ")})`
      : `${error.message}${host === undefined ? "" : ` to ${host}`}${tries === undefined ? "" : ` after ${tries}`}`
  return new BkendError.NetworkError({
    ...error,
    message,
    ...(attempts === undefined ? {} : { attempts }),
    ...(host === undefined ? {} : { host })
  })
}

// errors of the connect phase: no byte of the request can have reached the server
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

/**
 * Whether a failed exchange certainly never reached the server: the request could not be built or encoded, or
 * the connection was refused or the host not found. A reset, a timeout or any failure after connecting may have
 * been processed.
 */
export const neverSent = (e: Failure): boolean => {
  if (Cause.isTimeoutException(e) || e._tag !== "RequestError") return false
  if (e.reason === "InvalidUrl" || e.reason === "Encode") return true
  return causes(e).some((c) => {
    const code = field(c, "code")
    return typeof code === "string" && CONNECT_CODES.has(code)
  })
}

/** One attempt: the request and its whole body, within `budget`; failures become `NetworkError`. */
export const send = <B>(
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  method: string,
  route: string,
  budget: Budget,
  read: (res: HttpClientResponse.HttpClientResponse) => Effect.Effect<B, HttpClientError.ResponseError>,
  span?: Tracer.AnySpan | undefined
): Effect.Effect<B, BkendError.NetworkError> =>
  Effect.catchAll(exchange(client, request, budget, read, span), (e) =>
    Effect.fail(networkError(e, budget, method, route))
  )
