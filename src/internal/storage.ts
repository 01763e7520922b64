/**
 * Transfers to and from presigned storage URLs: never with bkend headers, retried by the one retry loop with
 * idempotent semantics, and within the call's totalTimeout (a download up to its first byte).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as BkendClient from "../BkendClient.js"
import * as BkendError from "../BkendError.js"
import * as Decode from "./decode.js"
import * as Retry from "./retry.js"
import type { Budget } from "./timeout.js"
import * as Transport from "./transport.js"

const ROUTE = "<storage>"
/** the budget of a failure that is not a timeout */
const noBudget: Budget = { millis: Number.POSITIVE_INFINITY, message: "" }

const validUrl = (method: string, url: string) => {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  return parsed !== undefined && (parsed.protocol === "https:" || parsed.protocol === "http:")
    ? Effect.void
    : Effect.fail(
        new BkendError.InvalidInput({
          status: 0,
          field: "url",
          message: "storage URL must be an absolute http(s) URL",
          method,
          route: ROUTE
        })
      )
}

export const make = (http: HttpClient.HttpClient, policy: Retry.RetryPolicy, secrets: () => ReadonlyArray<string>) => {
  const retrying = Retry.make(policy)
  const client = Transport.storageClient(http)
  const totalMillis = Duration.toMillis(policy.totalTimeout)
  const deadlineMessage = `transfer timed out after ${Duration.format(policy.totalTimeout)}`

  /** Retries `attempt` per the policy (as an idempotent request) until the transfer's deadline. */
  const retried = <A>(
    method: string,
    url: string,
    attempt: (budget: Budget) => Effect.Effect<A, BkendError.BkendError>
  ) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      retrying<A, BkendError.BkendError, never>(
        {
          deadline: now + totalMillis,
          deadlineMessage,
          timedOut: () =>
            new BkendError.NetworkError({
              status: 0,
              reason: "Timeout",
              message: deadlineMessage,
              method,
              route: ROUTE
            }),
          retryable: (e) => policy.isRetryable(e, true),
          errorOf: (e) => e,
          // a presigned URL is a credential: only its host is named
          completed: (e, n) => Transport.completed(e, Transport.hostOf(url), n),
          label: { method, route: ROUTE }
        },
        (_, budget) => attempt(budget)
      )
    ).pipe(Effect.withSpan(`bkend storage ${method}`, { kind: "client", captureStackTrace: false }))

  const fail = (method: string, raw: Transport.RawResponse) =>
    Effect.flatMap(Decode.failure(raw, method, ROUTE, secrets()), Effect.fail)

  /** PUT bytes to a presigned URL; returns the `ETag` header (verbatim, quotes included). */
  const put = (
    p: BkendClient.StoragePut
  ): Effect.Effect<{ readonly etag: string | undefined }, BkendError.BkendError> =>
    Effect.zipRight(
      validUrl("PUT", p.url),
      retried("PUT", p.url, (budget) => {
        const contentType = p.contentType ?? "application/octet-stream"
        const request =
          p.stream === undefined
            ? HttpClientRequest.bodyUint8Array(HttpClientRequest.put(p.url), p.body, contentType)
            : HttpClientRequest.bodyStream(HttpClientRequest.put(p.url), p.stream(), {
                contentType,
                contentLength: p.body.length
              })
        return Effect.flatMap(Transport.send(client, request, "PUT", ROUTE, budget, Transport.readText), (raw) =>
          raw.status >= 200 && raw.status < 300 ? Effect.succeed({ etag: raw.headers.etag }) : fail("PUT", raw)
        )
      })
    )

  /** 2xx: the response, its body unread; otherwise its text, for the error. */
  const head = (
    res: HttpClientResponse.HttpClientResponse
  ): Effect.Effect<HttpClientResponse.HttpClientResponse | Transport.RawResponse, HttpClientError.ResponseError> =>
    res.status >= 200 && res.status < 300 ? Effect.succeed(res) : Transport.readText(res)

  /** GET a presigned URL: retried and timed up to the first byte; a 2xx response, its body unread. */
  const open = (url: string): Effect.Effect<HttpClientResponse.HttpClientResponse, BkendError.BkendError> =>
    Effect.zipRight(
      validUrl("GET", url),
      retried("GET", url, (budget) =>
        Effect.flatMap(Transport.send(client, HttpClientRequest.get(url), "GET", ROUTE, budget, head), (res) =>
          "stream" in res ? Effect.succeed(res) : fail("GET", res)
        )
      )
    )

  /** GET a presigned URL: the whole object as bytes, each attempt reading it to the end. */
  const get = (url: string): Effect.Effect<Uint8Array, BkendError.BkendError> =>
    Effect.zipRight(
      validUrl("GET", url),
      retried("GET", url, (budget) =>
        Effect.flatMap(
          Transport.send(
            client,
            HttpClientRequest.get(url),
            "GET",
            ROUTE,
            budget,
            (res): Effect.Effect<Uint8Array | Transport.RawResponse, HttpClientError.ResponseError> =>
              res.status >= 200 && res.status < 300
                ? Effect.map(res.arrayBuffer, (b) => new Uint8Array(b))
                : Transport.readText(res)
          ),
          (body) => (body instanceof Uint8Array ? Effect.succeed(body) : fail("GET", body))
        )
      )
    )

  return { put, get, open }
}

/**
 * The body of the response `open` gives as a stream of its chunks, as they arrive. Kept out of `make` (the client):
 * an app that never streams a download does not bundle effect's `Stream`.
 */
export const stream = (
  open: Effect.Effect<HttpClientResponse.HttpClientResponse, BkendError.BkendError>,
  url: string
): Stream.Stream<Uint8Array, BkendError.BkendError> =>
  Stream.unwrap(Effect.map(open, (res) => res.stream)).pipe(
    // the body broke off after the first byte (a reset, a closed socket)
    Stream.catchTag("ResponseError", (e) =>
      Stream.fail(
        Transport.completed(Transport.networkError(e, noBudget, "GET", ROUTE), Transport.hostOf(url), undefined)
      )
    )
  )
