/**
 * The client: wiring (config, transport, session, refresh coordinator, storage) and the call loop.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type * as BkendClient from "../BkendClient.js"
import * as BkendError from "../BkendError.js"
import * as Session from "../Session.js"
import { validate } from "./config.js"
import * as Decode from "./decode.js"
import * as Refresh from "./refresh.js"
import * as Request from "./request.js"
import * as Retry from "./retry.js"
import * as SessionState from "./session.js"
import * as Storage from "./storage.js"
import type { Budget } from "./timeout.js"
import * as Transport from "./transport.js"

const IDEMPOTENT: ReadonlySet<BkendClient.Method> = new Set<BkendClient.Method>(["GET", "PUT", "DELETE"])
const REFRESH_ROUTE = "/v1/auth/refresh"

/**
 * A span whose end value is not the result: exporters may record it, and results hold tokens and user data.
 */
const spanned = <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: Tracer.SpanOptions) =>
  Effect.map(
    Effect.withSpan(
      Effect.map(self, (a) => () => a),
      name,
      options
    ),
    (result) => result()
  )

const notSignedIn = (method: string, route: string) =>
  new BkendError.Unauthorized({
    status: 401,
    code: "auth/unauthorized",
    message: "not signed in: this call needs a session",
    method,
    route
  })

interface CallState extends Refresh.CallState {
  /** the access token the latest attempt sent */
  token: string | undefined
  attempt: number
}

export const make = (
  options: BkendClient.Options
): Effect.Effect<BkendClient.Service, BkendError.InvalidConfig, HttpClient.HttpClient | Scope.Scope> =>
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
    const lock = yield* Effect.serviceOption(Session.RefreshLock)
    // a RefreshLock means other clients share the store
    const session = yield* SessionState.make(store, Option.isSome(lock))
    const retrying = Retry.make(policy)
    const apiKey = Redacted.value(config.apiKey)
    const secrets = () => [apiKey, ...session.recentTokens()]
    const bkend = Transport.bkendClient(http, config.baseUrl, config.apiKey)
    const host = Transport.hostOf(config.baseUrl)
    const totalMillis = Duration.toMillis(policy.totalTimeout)
    const totalMessage = `call timed out after ${Duration.format(policy.totalTimeout)}`
    const timedOut = (method: string, route: string) => () =>
      new BkendError.NetworkError({ status: 0, reason: "Timeout", message: totalMessage, method, route })

    /** One presentation of `token`, classified; retried only while it certainly was not processed. */
    const presentOnce = (token: string, budget: Budget) =>
      Effect.gen(function* () {
        const sentAt = yield* Clock.currentTimeMillis
        const request = HttpClientRequest.bodyUnsafeJson(HttpClientRequest.post(REFRESH_ROUTE), { refreshToken: token })
        const result = yield* Effect.either(Transport.exchange(bkend, request, budget, Transport.readText))
        if (result._tag === "Left") {
          const error = Transport.networkError(result.left, budget, "POST", REFRESH_ROUTE)
          return yield* Transport.neverSent(result.left)
            ? new Refresh.NotProcessed({ error })
            : new Refresh.InDoubt({ error, sentAt })
        }
        const raw = result.right
        yield* Effect.annotateCurrentSpan({ "http.response.status_code": raw.status })
        if (raw.status >= 200 && raw.status < 300) {
          return yield* Decode.success(raw, Session.TokenResponse, "POST", REFRESH_ROUTE).pipe(
            Effect.catchAll((error) => new Refresh.InDoubt({ error, sentAt }))
          )
        }
        const error = yield* Decode.failure(raw, "POST", REFRESH_ROUTE, secrets())
        if (raw.status === 401) return yield* new Refresh.Rejected({ error })
        // a 4xx is a definite refusal (nothing rotated); a 5xx or anything else may have been processed
        return yield* raw.status >= 400 && raw.status < 500
          ? new Refresh.NotProcessed({ error })
          : new Refresh.InDoubt({ error, sentAt })
      })

    const present = (token: string, deadline: number) =>
      spanned(
        retrying(
          {
            deadline,
            deadlineMessage: "refresh timed out",
            timedOut: (): Refresh.Refused => new Refresh.NotProcessed({ error: timedOut("POST", REFRESH_ROUTE)() }),
            retryable: (r: Refresh.Refused) => r._tag === "NotProcessed" && policy.isRetryable(r.error, true),
            errorOf: (r: Refresh.Refused) => r.error,
            completed: (r: Refresh.Refused, n: number) => Refresh.mapError(r, (e) => Transport.completed(e, host, n)),
            label: { method: "POST", route: REFRESH_ROUTE }
          },
          (_, budget) => presentOnce(token, budget)
        ),
        `bkend POST ${REFRESH_ROUTE}`,
        {
          kind: "client",
          captureStackTrace: false,
          attributes: { "http.request.method": "POST", "http.route": REFRESH_ROUTE }
        }
      )

    const coordinator = yield* Refresh.make({
      session,
      lock,
      present,
      budgetMillis: totalMillis,
      marginMillis: Duration.toMillis(config.refreshMargin),
      reuseWindowMillis: Duration.toMillis(config.refreshReuseWindow),
      allowInDoubtResend: yield* Refresh.AllowInDoubtResend
    })

    /**
     * One call in its span. The span is not made the current span of the call's fiber (that would copy the fiber's
     * locals twice per call): it is the current span inside each attempt's own fiber (where the transport and any
     * `HttpClient` middleware run), the parent of a refresh the call starts, and where its failures are raised.
     */
    const call = <A, I, R>(options: BkendClient.Request<A, I, R>): Effect.Effect<A, BkendError.BkendError, R> => {
      const { method, route } = options
      return Effect.map(
        Effect.useSpan(
          `bkend ${method} ${route}`,
          {
            kind: "client",
            captureStackTrace: false,
            attributes: { "http.request.method": method, "http.route": route, "bkend.auth": options.auth }
          },
          (span) =>
            Effect.map(
              Effect.flatMap(Clock.currentTimeMillis, (now) => run(options, span, now)),
              // the span's end value is not the result: exporters may record it, and results hold user data
              (a) => () => a
            )
        ),
        (result) => result()
      )
    }

    /** The call loop: one Clock read (`now`) before the first attempt, the request built from a parsed template. */
    const run = <A, I, R>(
      options: BkendClient.Request<A, I, R>,
      span: Tracer.Span,
      now: number
    ): Effect.Effect<A, BkendError.BkendError, R> => {
      const { method, route, auth } = options
      const fail = (e: BkendError.BkendError) => Retry.failUnder(span, e)
      const request = Request.make(options)
      if (request instanceof BkendError.InvalidInput) return fail(request)
      const idempotent = options.idempotent ?? IDEMPOTENT.has(method)
      const refreshOn401 = options.refreshOn401 ?? auth !== "none"
      const proactive = options.proactiveRefresh !== false
      const callTimedOut = timedOut(method, route)
      const deadline = now + totalMillis
      const state: CallState = { refreshed: !proactive, proactive, token: undefined, attempt: 0, span }
      const send = (token: string | undefined, n: number, budget: Budget) => {
        state.token = token
        if (auth === "required" && token === undefined) return fail(notSignedIn(method, route))
        const authed = token === undefined ? request : HttpClientRequest.bearerToken(request, token)
        return Effect.flatMap(Transport.send(bkend, authed, method, route, budget, Transport.readText, span), (raw) => {
          span.attribute("http.response.status_code", raw.status)
          span.attribute("attempt", n)
          if (raw.status >= 200 && raw.status < 300) return Decode.success(raw, options.response, method, route)
          return Effect.flatMap(Decode.failure(raw, method, route, secrets()), fail)
        })
      }
      const attempt = (n: number, budget: Budget, at: number) => {
        state.attempt = n
        return auth === "none"
          ? send(undefined, n, budget)
          : Effect.flatMap(coordinator.accessToken(deadline, state, callTimedOut, at), (token) =>
              send(token, n, budget)
            )
      }
      const loop = (firstAttempt: number, startedAt: number | undefined) =>
        retrying(
          {
            deadline,
            deadlineMessage: totalMessage,
            timedOut: callTimedOut,
            retryable: (e: BkendError.BkendError) => policy.isRetryable(e, idempotent),
            errorOf: (e: BkendError.BkendError) => e,
            completed: (e: BkendError.BkendError, n: number) => Transport.completed(e, host, n),
            firstAttempt,
            label: { method, route },
            now: startedAt,
            span
          },
          attempt
        )
      // 401 → the coordinator (refresh, or adopt a rotation) → the call once more, the 401 attempt not counted
      return Effect.catchIf(
        loop(1, now),
        (e) => e._tag === "Unauthorized" && refreshOn401 && state.token !== undefined,
        (e) => {
          const stale = state.token
          if (stale === undefined) return Effect.fail(e)
          return Effect.flatMap(coordinator.afterUnauthorized(stale, deadline, state, callTimedOut), (retry) =>
            retry ? loop(state.attempt, undefined) : Effect.fail(e)
          )
        }
      )
    }

    const storage = Storage.make(http, policy, secrets)

    return {
      config: { baseUrl: config.baseUrl, apiKey: config.apiKey, retryPolicy: policy },
      request: call,
      session: session.current,
      onSessionChange: session.subscribe,
      setTokens: (tokens) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const next = Session.fromTokenResponse(tokens, now)
          return Effect.as(session.signIn(next), next)
        }),
      clearSession: (reason = "cleared") => session.signOut(reason),
      adopt: session.adopt,
      refresh: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        coordinator.refreshNow(now + totalMillis, timedOut("POST", REFRESH_ROUTE))
      ),
      storagePut: storage.put,
      storageGet: storage.get,
      storageOpen: storage.open
    } satisfies BkendClient.Service
  })
