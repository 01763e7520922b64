/**
 * The client: wiring (config, transport, session, refresh coordinator, storage) and the call loop.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { Clock, Duration, Effect, Option, Redacted, type Scope, type Tracer } from "effect"
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

    const call = <A, I, R>(options: BkendClient.Request<A, I, R>): Effect.Effect<A, BkendError.BkendError, R> => {
      const { method, route } = options
      const idempotent = options.idempotent ?? IDEMPOTENT.has(method)
      const refreshOn401 = options.refreshOn401 ?? options.auth !== "none"
      const callTimedOut = timedOut(method, route)
      return spanned(
        Effect.gen(function* () {
          const request = yield* Request.make(options)
          const deadline = (yield* Clock.currentTimeMillis) + totalMillis
          const proactive = options.proactiveRefresh !== false
          const state: CallState = { refreshed: !proactive, proactive, token: undefined, attempt: 0 }
          const attempt = (n: number, budget: Budget) =>
            Effect.gen(function* () {
              state.attempt = n
              const token =
                options.auth === "none" ? undefined : yield* coordinator.accessToken(deadline, state, callTimedOut)
              state.token = token
              if (options.auth === "required" && token === undefined) return yield* notSignedIn(method, route)
              const authed = token === undefined ? request : HttpClientRequest.bearerToken(request, token)
              const raw = yield* Transport.send(bkend, authed, method, route, budget, Transport.readText)
              yield* Effect.annotateCurrentSpan({ "http.response.status_code": raw.status, attempt: n })
              if (raw.status >= 200 && raw.status < 300)
                return yield* Decode.success(raw, options.response, method, route)
              return yield* Effect.flatMap(Decode.failure(raw, method, route, secrets()), Effect.fail)
            })
          const loop = (firstAttempt: number) =>
            retrying(
              {
                deadline,
                deadlineMessage: totalMessage,
                timedOut: callTimedOut,
                retryable: (e: BkendError.BkendError) => policy.isRetryable(e, idempotent),
                errorOf: (e: BkendError.BkendError) => e,
                completed: (e: BkendError.BkendError, n: number) => Transport.completed(e, host, n),
                firstAttempt,
                label: { method, route }
              },
              attempt
            )
          // 401 → the coordinator (refresh, or adopt a rotation) → the call once more, the 401 attempt not counted
          return yield* loop(1).pipe(
            Effect.catchIf(
              (e) => e._tag === "Unauthorized" && refreshOn401 && state.token !== undefined,
              (e) => {
                const stale = state.token
                if (stale === undefined) return Effect.fail(e)
                return Effect.flatMap(coordinator.afterUnauthorized(stale, deadline, state, callTimedOut), (retry) =>
                  retry ? loop(state.attempt) : Effect.fail(e)
                )
              }
            )
          )
        }),
        `bkend ${method} ${route}`,
        {
          kind: "client",
          captureStackTrace: false,
          attributes: { "http.request.method": method, "http.route": route, "bkend.auth": options.auth }
        }
      )
    }

    const storage = Storage.make(http, policy, secrets)

    return {
      config: { baseUrl: config.baseUrl, apiKey: config.apiKey, retryPolicy: policy },
      request: call,
      session: session.current,
      sessionChanges: session.changes,
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
      storageStream: storage.stream
    } satisfies BkendClient.Service
  })
