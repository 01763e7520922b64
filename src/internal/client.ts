import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import {
  Cause,
  Clock,
  Duration,
  Effect,
  Option,
  ParseResult,
  PubSub,
  Redacted,
  Ref,
  Schema,
  type Scope,
  Stream
} from "effect"
import * as BkendError from "../BkendError.js"
import * as Session from "../Session.js"
import { unwrapSuccess } from "./envelope.js"
import { fromResponse, parseIntHeader, parseRetryAfter } from "./errors.js"
import { defaultRetryPolicy, delayFor, type RetryPolicy } from "./retry.js"

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
export type AuthMode = "required" | "optional" | "none"
export type QueryValue = string | number | boolean | ReadonlyArray<string> | undefined

export interface RequestOptions<A, I, R> {
  readonly method: Method
  readonly route: `/v1/${string}`
  readonly params?: Readonly<Record<string, string>> | undefined
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly body?: unknown
  readonly auth: AuthMode
  readonly response: Schema.Schema<A, I, R>
  readonly refreshOn401?: boolean | undefined
  readonly idempotent?: boolean | undefined
}

export interface StoragePut {
  readonly url: string
  readonly body: Uint8Array
  readonly contentType?: string | undefined
  /** bytes of this attempt sent so far (restarts from 0 when the attempt is retried) */
  readonly onProgress?: ((sent: number) => Effect.Effect<void>) | undefined
}

export interface Options {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl?: string | undefined
  readonly retryPolicy?: Partial<RetryPolicy> | undefined
  readonly refreshMargin?: Duration.DurationInput | undefined
  readonly storageChunkSize?: number | undefined
}

export interface Config {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly retryPolicy: RetryPolicy
  readonly refreshMargin: Duration.Duration
}

export const DEFAULT_BASE_URL = "https://api-client.bkend.ai"
const IDEMPOTENT: ReadonlySet<Method> = new Set<Method>(["GET", "PUT", "DELETE"])
const PROGRESS_CHUNK = 64 * 1024

const invalid = (field: string, message: string) => new BkendError.InvalidConfig({ field, message })

const validDuration = (field: string, input: Duration.DurationInput | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return Effect.succeed(fallback)
  // Duration clamps negative numbers to zero, so check the raw number first
  if (typeof input === "number" && !(input >= 0)) {
    return Effect.fail(invalid(field, `${field} must be a non-negative duration`))
  }
  const decoded = Duration.decodeUnknown(input)
  if (
    Option.isNone(decoded) ||
    Duration.toMillis(decoded.value) < 0 ||
    Number.isNaN(Duration.toMillis(decoded.value))
  ) {
    return Effect.fail(invalid(field, `${field} must be a non-negative duration`))
  }
  return Effect.succeed(decoded.value)
}

/** Checks every option; fails with `InvalidConfig` naming the field. */
export const validate = (options: Options): Effect.Effect<Config, BkendError.InvalidConfig> =>
  Effect.gen(function* () {
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    let url: URL | undefined
    try {
      url = new URL(baseUrl)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
      return yield* invalid("baseUrl", `baseUrl must be an absolute http(s) URL without query or fragment`)
    }
    if (!Redacted.isRedacted(options.apiKey)) {
      return yield* invalid("apiKey", "apiKey must be a Redacted string (Redacted.make or Config.redacted)")
    }
    const key = Redacted.value(options.apiKey)
    if (typeof key !== "string" || !/^(pk|sk)_[A-Za-z0-9_-]+$/.test(key)) {
      return yield* invalid("apiKey", "apiKey must be a bkend key starting with pk_ (publishable) or sk_ (secret)")
    }
    const p = options.retryPolicy ?? {}
    const maxAttempts = p.maxAttempts ?? defaultRetryPolicy.maxAttempts
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      return yield* invalid("retryPolicy.maxAttempts", "retryPolicy.maxAttempts must be an integer >= 1")
    }
    const jitter = p.jitter ?? defaultRetryPolicy.jitter
    if (!(jitter >= 0 && jitter <= 1)) {
      return yield* invalid("retryPolicy.jitter", "retryPolicy.jitter must be between 0 and 1")
    }
    const d = (name: keyof RetryPolicy & string) =>
      validDuration(
        `retryPolicy.${name}`,
        p[name] as Duration.DurationInput | undefined,
        Duration.decode(defaultRetryPolicy[name] as Duration.DurationInput)
      )
    const retryPolicy: RetryPolicy = {
      maxAttempts,
      jitter,
      baseDelay: yield* d("baseDelay"),
      maxDelay: yield* d("maxDelay"),
      maxRetryAfter: yield* d("maxRetryAfter"),
      attemptTimeout: yield* d("attemptTimeout"),
      totalTimeout: yield* d("totalTimeout"),
      isRetryable: p.isRetryable ?? defaultRetryPolicy.isRetryable
    }
    const refreshMargin = yield* validDuration("refreshMargin", options.refreshMargin, Duration.seconds(60))
    return { apiKey: options.apiKey, baseUrl, retryPolicy, refreshMargin }
  })

/** Builds the path from a route template, percent-encoding each parameter; rejects values that change the route. */
export const buildPath = (
  method: Method,
  route: string,
  params: Readonly<Record<string, string>> | undefined
): Effect.Effect<string, BkendError.InvalidInput> =>
  Effect.suspend(() => {
    let path = ""
    for (const segment of route.split("/")) {
      if (path !== "" || segment !== "") path += "/"
      if (!segment.startsWith(":")) {
        path += segment
        continue
      }
      const name = segment.slice(1)
      const value = params?.[name]
      if (typeof value !== "string" || value.length === 0 || value === "." || value === "..") {
        return Effect.fail(
          new BkendError.InvalidInput({
            status: 0,
            field: name,
            message: `${name} must be a non-empty string other than "." and ".."`,
            method,
            route
          })
        )
      }
      // a lone surrogate cannot be percent-encoded (URIError): reject it like any other bad value
      if (LONE_SURROGATE.test(value)) {
        return Effect.fail(
          new BkendError.InvalidInput({
            status: 0,
            field: name,
            message: `${name} must be well-formed Unicode`,
            method,
            route
          })
        )
      }
      path += encodeURIComponent(value)
    }
    return Effect.succeed(path)
  })

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const queryParams = (query: Readonly<Record<string, QueryValue>> | undefined) => {
  const out: Array<[string, string]> = []
  if (query === undefined) return out
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push([key, String(v)])
    else out.push([key, String(value)])
  }
  return out
}

interface RawResponse {
  readonly status: number
  readonly headers: HttpClientResponse.HttpClientResponse["headers"]
  readonly text: string
}

const readText = (
  res: HttpClientResponse.HttpClientResponse
): Effect.Effect<RawResponse, HttpClientError.ResponseError> =>
  Effect.map(res.text, (text) => ({ status: res.status, headers: res.headers, text }))

/** 2xx: the body's bytes; otherwise its text, for the error. */
const readBytesOrText = (
  res: HttpClientResponse.HttpClientResponse
): Effect.Effect<Uint8Array | RawResponse, HttpClientError.ResponseError> =>
  res.status >= 200 && res.status < 300 ? Effect.map(res.arrayBuffer, (b) => new Uint8Array(b)) : readText(res)

const manualRedirect: globalThis.RequestInit = { redirect: "manual" }

const timeoutException = new Cause.TimeoutException()

/**
 * `Effect.timeout` for the hot path: one child fiber and a timer, instead of a race of two fibers (which costs
 * about a third of a call's CPU). The child is interruptible, so the timeout fires even when the caller is not (a
 * finalizer, an `acquireRelease` release), where `Effect.timeout` would wait for ever. The timer is the platform's `setTimeout`, not the Effect `Clock`: a network
 * deadline is wall-clock time, and a `TestClock` should not be able to fire it.
 */
const withTimeout = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  millis: number
): Effect.Effect<A, E | Cause.TimeoutException, R> =>
  Number.isFinite(millis)
    ? Effect.flatMap(Effect.fork(Effect.interruptible(self)), (fiber) =>
        Effect.async<A, E | Cause.TimeoutException>((resume) => {
          let settled = false
          const timer = setTimeout(() => {
            if (settled) return
            settled = true
            fiber.unsafeInterruptAsFork(fiber.id())
            resume(Effect.fail(timeoutException))
          }, millis)
          fiber.addObserver((exit) => {
            if (settled) return
            settled = true
            clearTimeout(timer)
            resume(exit)
          })
          return Effect.sync(() => {
            settled = true
            clearTimeout(timer)
            fiber.unsafeInterruptAsFork(fiber.id())
          })
        })
      )
    : self

/** Formats a parse error as paths only: values are never copied into messages (they may hold tokens). */
const parsePaths = (error: ParseResult.ParseError): string => {
  const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".")
  )
  return [...new Set(paths)].slice(0, 5).join(", ")
}

export const make = (options: Options) =>
  Effect.gen(function* () {
    const config = yield* validate(options)
    const policy = config.retryPolicy
    const http = yield* HttpClient.HttpClient
    const store = yield* Effect.serviceOption(Session.TokenStore).pipe(
      Effect.flatMap(
        Option.match({
          onSome: Effect.succeed,
          onNone: () => Session.makeKeyValueStore().pipe(Effect.provide(KeyValueStore.layerMemory))
        })
      )
    )
    const crossLock = yield* Effect.serviceOption(Session.RefreshLock)
    // a waiter that gave up on another tab's or process's refresh has spent nothing: the call fails as a timeout
    const withCrossLock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Option.isSome(crossLock)
        ? crossLock.value.withLock(self).pipe(
            Effect.catchIf(
              (e): e is Session.RefreshLockTimeout => e instanceof Session.RefreshLockTimeout,
              (e) =>
                Effect.fail(
                  new BkendError.NetworkError({
                    status: 0,
                    reason: "Timeout",
                    message: `gave up after ${e.waitedMillis} ms waiting for another tab or process to refresh the session`,
                    method: "POST",
                    route: "/v1/auth/refresh"
                  })
                )
            )
          )
        : self

    const cache = yield* Ref.make(yield* store.get)
    const generation = yield* Ref.make(0)
    const changes = yield* PubSub.unbounded<Session.SessionChange>()
    const refreshLock = yield* Effect.makeSemaphore(1)
    const writeLock = yield* Effect.makeSemaphore(1)

    // bkend headers are set on this client only; its URLs are always baseUrl + a route path.
    const bkend = http.pipe(
      HttpClient.mapRequest((request) =>
        request.pipe(
          HttpClientRequest.prependUrl(config.baseUrl),
          HttpClientRequest.acceptJson,
          HttpClientRequest.setHeader("x-api-key", Redacted.value(config.apiKey))
        )
      ),
      // the call's own span (method, route template, status, attempt) replaces the platform's per-request span,
      // which costs ~10 % per request and would carry full URLs
      HttpClient.withTracerDisabledWhen(() => true)
    )
    // presigned storage URLs are credentials: no bkend headers, no trace propagation, no URL in spans.
    const storage = http.pipe(
      HttpClient.withTracerPropagation(false),
      HttpClient.withTracerDisabledWhen(() => true)
    )

    const secrets = Effect.map(Ref.get(cache), (s) => {
      const out = [Redacted.value(config.apiKey)]
      if (Option.isSome(s)) out.push(Redacted.value(s.value.accessToken), Redacted.value(s.value.refreshToken))
      return out
    })

    /**
     * One attempt: the request and its whole body, within `budgetMillis`. The timeout message says which limit
     * ran out: the attempt's own, or what was left of the call's.
     */
    const send = <B>(
      client: HttpClient.HttpClient,
      request: HttpClientRequest.HttpClientRequest,
      method: string,
      route: string,
      budget: { readonly millis: number; readonly message: string },
      read: (res: HttpClientResponse.HttpClientResponse) => Effect.Effect<B, HttpClientError.ResponseError>
    ): Effect.Effect<B, BkendError.NetworkError> =>
      client.execute(request).pipe(
        Effect.flatMap(read),
        // stop fetch from following redirects (it would forward X-API-Key to another origin)
        Effect.provideService(FetchHttpClient.RequestInit, manualRedirect),
        (self) => withTimeout(self, budget.millis),
        Effect.catchAll((e: HttpClientError.HttpClientError | Cause.TimeoutException) => {
          const reason = Cause.isTimeoutException(e)
            ? ("Timeout" as const)
            : e._tag === "RequestError"
              ? e.reason
              : ("Transport" as const)
          return Effect.fail(
            new BkendError.NetworkError({
              status: 0,
              reason,
              message: Cause.isTimeoutException(e) ? budget.message : reason,
              method,
              route
            })
          )
        })
      )

    const attemptBudget = {
      millis: Duration.toMillis(policy.attemptTimeout),
      message: `attempt timed out after ${Duration.format(policy.attemptTimeout)}`
    }
    const totalMillis = Duration.toMillis(policy.totalTimeout)
    const totalMessage = `call timed out after ${Duration.format(policy.totalTimeout)}`

    const toError = (raw: RawResponse, method: string, route: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return fromResponse({
          status: raw.status,
          method,
          route,
          text: raw.text,
          retryAfterMillis: parseRetryAfter(raw.headers["retry-after"], now),
          limit: parseIntHeader(raw.headers["x-ratelimit-limit"]),
          remaining: parseIntHeader(raw.headers["x-ratelimit-remaining"]),
          secrets: yield* secrets
        })
      })

    const decode = <A, I, R>(raw: RawResponse, schema: Schema.Schema<A, I, R>, method: string, route: string) => {
      const decodeError = (message: string) =>
        new BkendError.DecodeError({ status: raw.status, message, method, route })
      let json: unknown
      try {
        json = raw.text.length === 0 ? undefined : JSON.parse(raw.text)
      } catch {
        return Effect.fail(decodeError("response body is not JSON"))
      }
      return Schema.decodeUnknown(schema)(unwrapSuccess(json)).pipe(
        Effect.mapError((e) => decodeError(`response body does not match the expected schema at: ${parsePaths(e)}`))
      )
    }

    const publish = (change: Session.SessionChange) => PubSub.publish(changes, change)

    const setSession = (session: Session.Session) =>
      writeLock.withPermits(1)(
        Effect.gen(function* () {
          yield* Ref.update(generation, (n) => n + 1)
          yield* Ref.set(cache, Option.some(session))
          yield* store.set(session)
          yield* publish(Session.SessionChange.SignedIn({ session }))
        })
      )

    const clearSessionIf = (reason: Session.SignOutReason, expectedGeneration: number | undefined) =>
      writeLock.withPermits(1)(
        Effect.gen(function* () {
          if (expectedGeneration !== undefined && (yield* Ref.get(generation)) !== expectedGeneration) return
          yield* Ref.update(generation, (n) => n + 1)
          const had = Option.isSome(yield* Ref.get(cache))
          yield* Ref.set(cache, Option.none())
          yield* store.clear
          if (had) yield* publish(Session.SessionChange.SignedOut({ reason }))
        })
      )

    const clearSession = (reason: Session.SignOutReason = "cleared") => clearSessionIf(reason, undefined)

    /**
     * Takes over a session another tab or process wrote to the shared store, without writing it back: a
     * sign-in (none → some), a refresh (some → other), or a sign-out (some → none).
     */
    const adopt = (next: Option.Option<Session.Session>) =>
      writeLock.withPermits(1)(
        Effect.gen(function* () {
          const current = yield* Ref.get(cache)
          if (Option.isNone(current) && Option.isNone(next)) return
          if (
            Option.isSome(current) &&
            Option.isSome(next) &&
            Redacted.value(current.value.accessToken) === Redacted.value(next.value.accessToken)
          ) {
            return
          }
          // a new sign-in or a sign-out starts a new generation; an adopted refresh continues the same one
          if (Option.isNone(current) || Option.isNone(next)) yield* Ref.update(generation, (n) => n + 1)
          yield* Ref.set(cache, next)
          yield* publish(
            Option.isNone(next)
              ? Session.SessionChange.SignedOut({ reason: "cleared" })
              : Option.isNone(current)
                ? Session.SessionChange.SignedIn({ session: next.value })
                : Session.SessionChange.Refreshed({ session: next.value })
          )
        })
      )

    const sameToken = (session: Session.Session, token: string) => Redacted.value(session.accessToken) === token

    // The refresh gate. One refresh at a time per client (and per RefreshLock, across tabs/processes);
    // waiters find the session already rotated and retry with it instead of spending the rotated-out
    // refresh token, which bkend would treat as theft and answer by revoking every session of the user.
    const refresh = (trigger: { readonly stale: string | undefined; readonly proactive: boolean }) =>
      refreshLock
        .withPermits(1)(
          withCrossLock(
            Effect.gen(function* () {
              const stored = yield* store.get
              const cached = yield* Ref.get(cache)
              const storedToken = Option.map(stored, (s) => Redacted.value(s.accessToken))
              const cachedToken = Option.map(cached, (s) => Redacted.value(s.accessToken))
              if (!Option.getEquivalence((a: string, b: string) => a === b)(storedToken, cachedToken)) {
                // another tab or process changed the session: adopt it
                yield* Ref.set(cache, stored)
              }
              const current = stored
              if (Option.isNone(current)) {
                return yield* new BkendError.Unauthorized({
                  status: 401,
                  code: "auth/unauthorized",
                  message: "not signed in",
                  method: "POST",
                  route: "/v1/auth/refresh"
                })
              }
              const now = yield* Clock.currentTimeMillis
              if (trigger.stale !== undefined && !sameToken(current.value, trigger.stale)) return current.value
              const margin = current.value.refreshMarginMillis(Duration.toMillis(config.refreshMargin))
              if (trigger.proactive && current.value.expiresAt - now > margin) {
                return current.value
              }
              const gen = yield* Ref.get(generation)
              const tokens = yield* call({
                method: "POST",
                route: "/v1/auth/refresh",
                auth: "none",
                refreshOn401: false,
                body: { refreshToken: Redacted.value(current.value.refreshToken) },
                response: Session.TokenResponse
              }).pipe(
                Effect.tapError((e) =>
                  e._tag === "Unauthorized" ? clearSessionIf("refresh-rejected", gen) : Effect.void
                )
              )
              const session = Session.fromTokenResponse(tokens, yield* Clock.currentTimeMillis)
              const kept = yield* writeLock.withPermits(1)(
                Effect.gen(function* () {
                  // signed out (or signed in anew) while the refresh was in flight: discard its result
                  if ((yield* Ref.get(generation)) !== gen) return false
                  yield* Ref.set(cache, Option.some(session))
                  yield* store.set(session)
                  yield* publish(Session.SessionChange.Refreshed({ session }))
                  return true
                })
              )
              if (!kept) {
                return yield* new BkendError.Unauthorized({
                  status: 401,
                  code: "auth/unauthorized",
                  message: "signed out while the session was being refreshed",
                  method: "POST",
                  route: "/v1/auth/refresh"
                })
              }
              return session
            })
          )
        )
        .pipe(Effect.withSpan("BkendClient.refresh", { attributes: { proactive: trigger.proactive } }))

    /** The access token to send: refreshed first when it is within the margin of expiry. */
    const currentToken = Effect.gen(function* () {
      const session = yield* Ref.get(cache)
      if (Option.isNone(session)) return undefined
      const now = yield* Clock.currentTimeMillis
      if (session.value.expiresAt - now > session.value.refreshMarginMillis(Duration.toMillis(config.refreshMargin))) {
        return Redacted.value(session.value.accessToken)
      }
      return yield* refresh({ stale: Redacted.value(session.value.accessToken), proactive: true }).pipe(
        Effect.map((s) => Redacted.value(s.accessToken)),
        Effect.catchAll((e) =>
          e._tag === "Unauthorized"
            ? Effect.succeed(undefined)
            : // a transient failure keeps the session: try the current token, the server decides
              Effect.map(Ref.get(cache), (s) => (Option.isSome(s) ? Redacted.value(s.value.accessToken) : undefined))
        )
      )
    })

    function call<A, I, R>(options: RequestOptions<A, I, R>): Effect.Effect<A, BkendError.BkendError, R> {
      const { method, route } = options
      const idempotent = options.idempotent ?? IDEMPOTENT.has(method)
      const refreshOn401 = options.refreshOn401 ?? options.auth !== "none"
      // One timer per attempt, never more: each attempt gets min(attemptTimeout, time left of totalTimeout), and
      // no retry starts (or waits) past the call's deadline. (A timeout around the whole call would cost a second
      // race of fibers on every request.)
      return Effect.gen(function* () {
        const path = yield* buildPath(method, route, options.params)
        let request = HttpClientRequest.make(method)(path).pipe(
          HttpClientRequest.setUrlParams(queryParams(options.query))
        )
        if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
        const deadline = (yield* Clock.currentTimeMillis) + totalMillis
        const timedOut = () =>
          new BkendError.NetworkError({ status: 0, reason: "Timeout", message: totalMessage, method, route })
        let refreshed = false
        let attempt = 0
        while (true) {
          attempt++
          const token = options.auth === "none" ? undefined : yield* currentToken
          if (options.auth === "required" && token === undefined) {
            return yield* new BkendError.Unauthorized({
              status: 401,
              code: "auth/unauthorized",
              message: "not signed in: this call needs a session",
              method,
              route
            })
          }
          const left = deadline - (yield* Clock.currentTimeMillis)
          if (left <= 0) return yield* timedOut()
          const raw = yield* send(
            bkend,
            token === undefined ? request : HttpClientRequest.bearerToken(request, token),
            method,
            route,
            left < attemptBudget.millis ? { millis: left, message: totalMessage } : attemptBudget,
            readText
          ).pipe(Effect.either)
          let error: BkendError.BkendError
          if (raw._tag === "Right") {
            yield* Effect.annotateCurrentSpan({ "http.response.status_code": raw.right.status, attempt })
            if (raw.right.status >= 200 && raw.right.status < 300) {
              return yield* decode(raw.right, options.response, method, route)
            }
            error = yield* toError(raw.right, method, route)
            if (error._tag === "Unauthorized" && refreshOn401 && token !== undefined && !refreshed) {
              refreshed = true
              attempt--
              // refresh (or, when this token was already rotated by someone else, just adopt the new one)
              const original = error
              yield* refresh({ stale: token, proactive: false }).pipe(
                // rejected: the session is gone; report this call's own 401
                Effect.catchTag("Unauthorized", () => Effect.fail(original))
              )
              continue
            }
          } else {
            error = raw.left
            if (error.message === totalMessage) return yield* error
          }
          if (attempt >= policy.maxAttempts || !policy.isRetryable(error, idempotent)) return yield* error
          const wait = yield* delayFor(policy, error, attempt)
          if (wait === undefined) return yield* error
          // no time for another attempt after this wait: report the error that ended the call
          if ((yield* Clock.currentTimeMillis) + Duration.toMillis(wait) >= deadline) return yield* error
          yield* Effect.logDebug("bkend-effect: retrying").pipe(
            Effect.annotateLogs({ method, route, attempt, error: error._tag, waitMillis: Duration.toMillis(wait) })
          )
          yield* Effect.sleep(wait)
        }
      }).pipe(
        Effect.withSpan(`bkend ${method} ${route}`, {
          kind: "client",
          captureStackTrace: false,
          attributes: { "http.request.method": method, "http.route": route, "bkend.auth": options.auth }
        })
      )
    }

    const storageError = (method: string, raw: RawResponse) => toError(raw, method, "<storage>")

    const validStorageUrl = (method: string, url: string) => {
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
              route: "<storage>"
            })
          )
    }

    const storageRetry = <A>(method: string, attemptOnce: Effect.Effect<A, BkendError.BkendError>) =>
      Effect.gen(function* () {
        let attempt = 0
        while (true) {
          attempt++
          const result = yield* Effect.either(attemptOnce)
          if (result._tag === "Right") return result.right
          const error = result.left
          if (attempt >= policy.maxAttempts || !policy.isRetryable(error, true)) return yield* error
          const wait = yield* delayFor(policy, error, attempt)
          if (wait === undefined) return yield* error
          yield* Effect.sleep(wait)
        }
      }).pipe(Effect.withSpan(`bkend storage ${method}`, { kind: "client" }))

    /** PUT bytes to a presigned URL; returns the `ETag` header (verbatim, quotes included). */
    const storagePut = (put: StoragePut): Effect.Effect<{ readonly etag: string | undefined }, BkendError.BkendError> =>
      Effect.gen(function* () {
        yield* validStorageUrl("PUT", put.url)
        const contentType = put.contentType ?? "application/octet-stream"
        const attemptOnce = Effect.gen(function* () {
          let request = HttpClientRequest.put(put.url)
          if (put.onProgress === undefined) {
            request = HttpClientRequest.bodyUint8Array(request, put.body, contentType)
          } else {
            // a fresh stream per attempt: a retried part re-sends its whole body
            const onProgress = put.onProgress
            let sent = 0
            const chunks = Stream.suspend(() => {
              sent = 0
              const out: Array<Uint8Array> = []
              for (let i = 0; i < put.body.length; i += PROGRESS_CHUNK)
                out.push(put.body.subarray(i, i + PROGRESS_CHUNK))
              return Stream.fromIterable(out)
            }).pipe(
              Stream.tap((chunk) => {
                sent += chunk.length
                return onProgress(sent)
              })
            )
            request = HttpClientRequest.bodyStream(request, chunks, { contentType, contentLength: put.body.length })
          }
          const raw = yield* send(storage, request, "PUT", "<storage>", attemptBudget, readText)
          if (raw.status >= 200 && raw.status < 300) return { etag: raw.headers.etag }
          return yield* Effect.flatMap(storageError("PUT", raw), Effect.fail)
        })
        return yield* storageRetry("PUT", attemptOnce)
      })

    /** GET a presigned download URL; the whole object as bytes. */
    const storageGet = (url: string): Effect.Effect<Uint8Array, BkendError.BkendError> =>
      Effect.gen(function* () {
        yield* validStorageUrl("GET", url)
        const attemptOnce = send(
          storage,
          HttpClientRequest.get(url),
          "GET",
          "<storage>",
          attemptBudget,
          readBytesOrText
        ).pipe(
          Effect.flatMap((body) =>
            body instanceof Uint8Array ? Effect.succeed(body) : Effect.flatMap(storageError("GET", body), Effect.fail)
          )
        )
        return yield* storageRetry("GET", attemptOnce)
      })

    return {
      config,
      call,
      session: Ref.get(cache),
      sessionChanges: Stream.fromPubSub(changes),
      setTokens: (tokens: Session.TokenResponse) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const session = Session.fromTokenResponse(tokens, now)
          return Effect.as(setSession(session), session)
        }),
      setSession,
      clearSession,
      adopt,
      refresh: refresh({ stale: undefined, proactive: false }),
      storagePut,
      storageGet
    }
  })

export type Client = Effect.Effect.Success<ReturnType<typeof make>>
export type MakeRequirements = HttpClient.HttpClient | Scope.Scope
