/**
 * The wire between the SDK clients of a model run and one in-process bkend-local: every request passes a
 * scheduler gate on the way in and on the way out (so fast-check decides the interleaving), is logged, and the
 * refresh route can be faulted. "Before" faults never reach the server; "after" faults are forwarded and fully
 * processed (the server rotated) and then the answer is lost or replaced.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Clock, Duration, Effect } from "effect"
import * as LocalServer from "../../src/local/LocalServer.js"

/** What happens to one refresh request. */
export type RefreshFault =
  | "none"
  /** never forwarded, never answered: the SDK's attempt timeout ends it (timeout before rotation) */
  | "hangBefore"
  /** forwarded and processed, the answer never arrives (timeout after rotation) */
  | "hangAfter"
  /** the connection resets before the request reaches the server */
  | "resetBefore"
  /** the server processed it, then the connection resets */
  | "resetAfter"
  /** a 503 from a proxy in front of the server (not forwarded) */
  | "503Before"
  /** the server processed it, a proxy answers 500 instead */
  | "500After"
  /** 429 with a short Retry-After (not forwarded: a 429 is known not to have been processed) */
  | "429"
  /** 429 with a Retry-After beyond the client's cap (the client fails at once with RateLimited) */
  | "429Long"
  /** the server rotated, the 2xx body does not decode (`expiresIn` as a string) */
  | "garbled"

export const refreshFaults: ReadonlyArray<RefreshFault> = [
  "none",
  "hangBefore",
  "hangAfter",
  "resetBefore",
  "resetAfter",
  "503Before",
  "500After",
  "429",
  "429Long",
  "garbled"
]

/** One presentation of a refresh token, as the wire saw it. */
export interface Presentation {
  readonly index: number
  readonly client: string
  readonly token: string
  readonly fault: RefreshFault
  /** the status the client received, or `lost` (never answered / interrupted) or `reset` */
  outcome: number | "pending" | "lost" | "reset"
  forwarded: boolean
  /** the access token of the pair the server issued for it (when it rotated) */
  issued: string | undefined
}

/** One answer delivered to a client. */
export interface Delivered {
  readonly client: string
  readonly path: string
  readonly status: number
  readonly bearer: string | undefined
}

/** A clock that runs with real time plus an offset the model moves (the server's clock). */
export class OffsetClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  offset = 0
  unsafeCurrentTimeMillis(): number {
    return Date.now() + this.offset
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.unsafeCurrentTimeMillis()) * 1_000_000n
  }
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const timer = setTimeout(() => resume(Effect.void), Duration.toMillis(duration))
      return Effect.sync(() => clearTimeout(timer))
    })
  }
}

export interface WireOptions {
  /** faults for the refresh requests, in the order they arrive (across all clients); `none` after the list */
  readonly faults: ReadonlyArray<RefreshFault>
  /** rewrite `expiresIn` of issued pairs to 0, so the SDK refreshes proactively before every call */
  readonly expiredOnArrival: boolean
  readonly gate: (label: string) => Effect.Effect<void>
}

export interface Wire {
  readonly clock: OffsetClock
  readonly presentations: Array<Presentation>
  readonly delivered: Array<Delivered>
  readonly faultsFired: Record<string, number>
  /** requests between the SDK and the wire's answer (hung ones included) */
  inFlight: number
  /** the `HttpClient` for one named client */
  readonly client: (name: string) => HttpClient.HttpClient
}

const textOf = (request: HttpClientRequest.HttpClientRequest): string =>
  request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""

const refreshTokenOf = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    const parsed: unknown = JSON.parse(textOf(request))
    if (typeof parsed === "object" && parsed !== null && "refreshToken" in parsed) {
      return typeof parsed.refreshToken === "string" ? parsed.refreshToken : ""
    }
  } catch {
    return ""
  }
  return ""
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
}

const tokenData = (text: string): Record<string, unknown> | undefined => {
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== "object" || parsed === null || !("data" in parsed)) return undefined
    const data = parsed.data
    return typeof data === "object" && data !== null && "accessToken" in data
      ? (data as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

const withData = (data: Record<string, unknown>): string => JSON.stringify({ success: true, data })

const json = { "content-type": "application/json" }

/**
 * Builds the wire for `server`; its handlers run with the wire's offset clock.
 */
export const makeWire = (server: LocalServer.LocalServer, options: WireOptions): Effect.Effect<Wire> =>
  Effect.gen(function* () {
    const clock = new OffsetClock()
    const handler = LocalServer.toWebHandler(server, yield* Effect.withClock(Effect.runtime<never>(), clock))
    const fetchImpl: typeof globalThis.fetch = (input, init) => handler(new Request(input, init))
    const base = (yield* HttpClient.HttpClient.pipe(Effect.provide(FetchHttpClient.layer))).pipe(
      HttpClient.transformResponse(Effect.provideService(FetchHttpClient.Fetch, fetchImpl))
    )
    const wire: Wire = {
      clock,
      presentations: [],
      delivered: [],
      faultsFired: {},
      inFlight: 0,
      client: (name) => HttpClient.make((request, url) => exchange(name, request, url))
    }
    let refreshes = 0

    const forward = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.uninterruptible(
        base.execute(request).pipe(
          Effect.flatMap((res) =>
            Effect.map(res.text, (text): Answer => ({ status: res.status, headers: { ...res.headers }, text }))
          ),
          Effect.orDie
        )
      )

    const reset = (request: HttpClientRequest.HttpClientRequest) =>
      new HttpClientError.RequestError({ request, reason: "Transport", description: "connection reset (injected)" })

    const exchange = (
      name: string,
      request: HttpClientRequest.HttpClientRequest,
      url: URL
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
      const path = url.pathname
      const isRefresh = path === "/v1/auth/refresh"
      const issuesTokens = isRefresh || path === "/v1/auth/email/callback"
      const fault: RefreshFault = isRefresh ? (options.faults[refreshes] ?? "none") : "none"
      const presentation: Presentation | undefined = isRefresh
        ? {
            index: refreshes++,
            client: name,
            token: refreshTokenOf(request),
            fault,
            outcome: "pending",
            forwarded: false,
            issued: undefined
          }
        : undefined
      if (presentation !== undefined) wire.presentations.push(presentation)
      if (fault !== "none") wire.faultsFired[fault] = (wire.faultsFired[fault] ?? 0) + 1
      const auth = request.headers.authorization
      const bearer = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined
      const tag = presentation === undefined ? "" : ` #${presentation.index}${fault === "none" ? "" : ` [${fault}]`}`
      const lost = () => {
        if (presentation !== undefined && presentation.outcome === "pending") presentation.outcome = "lost"
      }
      const answer = (a: Answer) =>
        Effect.gen(function* () {
          yield* options.gate(`${name} ← ${a.status} ${path}${tag}`)
          if (presentation !== undefined) presentation.outcome = a.status
          wire.delivered.push({ client: name, path, status: a.status, bearer })
          return HttpClientResponse.fromWeb(request, new Response(a.text, { status: a.status, headers: a.headers }))
        })
      const failReset = Effect.suspend(() => {
        if (presentation !== undefined) presentation.outcome = "reset"
        return Effect.fail(reset(request))
      })
      return Effect.gen(function* () {
        wire.inFlight++
        yield* options.gate(`${name} → ${request.method} ${path}${tag}`)
        switch (fault) {
          case "hangBefore":
            return yield* Effect.never
          case "resetBefore":
            return yield* failReset
          case "503Before":
            return yield* answer({ status: 503, headers: json, text: "" })
          case "429":
            return yield* answer({
              status: 429,
              headers: { ...json, "retry-after": "0.01" },
              text: JSON.stringify({ success: false, error: { code: "common/rate-limited", message: "slow down" } })
            })
          case "429Long":
            return yield* answer({
              status: 429,
              headers: { ...json, "retry-after": "30" },
              text: JSON.stringify({ success: false, error: { code: "common/rate-limited", message: "slow down" } })
            })
        }
        // every token-issuing request happens at least a second after the previous one (distinct `iat`)
        if (issuesTokens) clock.offset += 1000
        const got = yield* forward(request)
        if (presentation !== undefined) presentation.forwarded = true
        let data = got.status === 200 ? tokenData(got.text) : undefined
        if (presentation !== undefined && data !== undefined && typeof data.accessToken === "string") {
          presentation.issued = data.accessToken
        }
        if (data !== undefined && options.expiredOnArrival) data = { ...data, expiresIn: 0 }
        const text = data !== undefined ? withData(data) : got.text
        switch (fault) {
          case "hangAfter":
            return yield* Effect.never
          case "resetAfter":
            return yield* failReset
          case "500After":
            return yield* answer({ status: 500, headers: json, text: "" })
          case "garbled":
            return yield* answer({ ...got, text: withData({ ...data, expiresIn: "3600" }) })
        }
        return yield* answer({ ...got, text })
      }).pipe(
        Effect.onInterrupt(() => Effect.sync(lost)),
        Effect.ensuring(Effect.sync(() => wire.inFlight--))
      )
    }
    return wire
  })
