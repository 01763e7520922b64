/**
 * Cross-cutting behaviour of bkend-local: error rendering, CORS, rate limiting, body-size limit, seeded fault
 * injection, request log and counters.
 *
 * @since 0.1.0
 */
import type { HttpApp } from "@effect/platform"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import * as Counters from "./counters.js"
import * as K from "./kernel.js"

const ALLOW_HEADERS = "X-API-Key, Authorization, Content-Type"
const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
const EXPOSE_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, ETag"

/**
 * Response header by which an in-process "connection reset" fault is signalled to the in-process adapters
 * (toWebHandler / layerHttpClient turn it into a network error). Never reaches a real socket.
 *
 * @since 0.1.0
 * @category faults
 */
export const RESET_MARKER = "x-bkend-local-reset"

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  const p = q >= 0 ? url.slice(0, q) : url
  // absolute-form request targets (rare) → path only
  if (p.startsWith("http://") || p.startsWith("https://")) {
    try {
      return new URL(p).pathname
    } catch {
      return p
    }
  }
  return p
}

/** Whether the decoded path or query of a request URL holds what no storage engine keeps alike. */
const unstorableUrl = (url: string): boolean => {
  try {
    return K.unstorableText(decodeURIComponent(url.replace(/\+/g, " ")))
  } catch {
    // not percent-decodable as a whole: each part is decoded (or refused) where it is read
    return false
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * Converts any failure of a route into a documented envelope: ApiError (or any error carrying numeric `status`
 * and string `code`/`message`) as itself, RouteNotFound as 404, everything else (including defects) as 500.
 * Interruptions pass through untouched.
 *
 * @since 0.1.0
 * @category errors
 */
export const handleErrors = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<never, R | K.Local> =>
  Effect.catchAllCause(app, (cause) =>
    Effect.flatMap(K.Local, ({ options }) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        const e: unknown = failure.value
        if (e instanceof K.ApiError) return Effect.succeed(K.renderError(options, e))
        if (isRecord(e)) {
          if (e._tag === "RouteNotFound") {
            return Effect.succeed(K.renderError(options, notFound))
          }
          if (typeof e.status === "number" && typeof e.code === "string" && typeof e.message === "string") {
            const status = e.status >= 400 && e.status <= 599 ? e.status : 500
            return Effect.succeed(K.renderError(options, new K.ApiError({ status, code: e.code, message: e.message })))
          }
        }
      }
      if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
      const defect = Cause.dieOption(cause)
      if (Option.isSome(defect) && HttpServerResponse.isServerResponse(defect.value)) {
        return Effect.succeed(defect.value)
      }
      return Effect.succeed(K.renderError(options, internal))
    })
  )

const notFound = new K.ApiError({ status: 404, code: "common/not-found", message: "Route not found" })
const internal = new K.ApiError({ status: 500, code: "common/internal-error", message: "Internal server error" })

const withHeaders = (
  res: HttpServerResponse.HttpServerResponse,
  headers: Record<string, string>
): HttpServerResponse.HttpServerResponse => HttpServerResponse.setHeaders(res, headers)

/**
 * Seeded PRNG step (mulberry32) over `state.faultRng`.
 *
 * @since 0.1.0
 * @category faults
 */
export const nextRandom = (state: K.LocalState): number => {
  state.faultRng = (state.faultRng + 0x6d2b79f5) >>> 0
  let t = state.faultRng
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .split("*")
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`
  )

const pickFault = (state: K.LocalState, rules: ReadonlyArray<K.FaultRule>, target: string): K.FaultRule | undefined => {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]
    if (rule === undefined || !globToRegExp(rule.route).test(target)) continue
    const hits = state.faultHits.get(i) ?? 0
    if (rule.times !== undefined && hits >= rule.times) continue
    if (nextRandom(state) >= (rule.probability ?? 1)) continue
    state.faultHits.set(i, hits + 1)
    return rule
  }
  return undefined
}

const destroySocket = (req: HttpServerRequest.HttpServerRequest): boolean => {
  const source: unknown = Reflect.get(req, "source")
  if (isRecord(source) && isRecord(source.socket)) {
    const destroy = source.socket.destroy
    if (typeof destroy === "function") {
      destroy.call(source.socket)
      return true
    }
  }
  return false
}

// The middleware's own bookkeeping never decides a request's answer: a store failure there is logged (by
// K.stored) and the request goes on; the route it reaches answers 503 if the store is really gone.
const countOrLog = (name: string) => Effect.catchAll(K.count(name), () => Effect.void)

// one store write per request
const countRequest = (method: string, path: string, status: number) =>
  Effect.catchAll(
    K.stored((s) => s.counters.bumpAll(["requests", Counters.byRoute(`${method} ${path}`), Counters.byStatus(status)])),
    () => Effect.void
  )

const hitWindow = (key: string, windowMillis: number, t: number) =>
  Effect.catchAll(
    K.stored((s) => s.windows.hit(key, windowMillis, t)),
    () => Effect.succeed({ windowStart: t, count: 0 })
  )

/**
 * Wraps the (error-handled) app with CORS, rate limit, faults, body limit and request accounting.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = <R>(app: HttpApp.Default<never, R>): HttpApp.Default<never, R | K.Local> =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const local = yield* K.Local
    const { options, state } = local
    const path = pathOf(req.url)
    const method = req.method.toUpperCase()
    const origin = K.header(req, "origin")
    const cors: Record<string, string> = {
      "access-control-allow-origin": origin ?? "*",
      "access-control-expose-headers": EXPOSE_HEADERS,
      vary: "Origin"
    }
    const startedAt = yield* K.now
    // the counters are the store's (shared by every instance); the request log is this instance's
    const finish = (res: HttpServerResponse.HttpServerResponse) =>
      Effect.gen(function* () {
        yield* countRequest(method, path, res.status)
        state.requestLog.push({ at: K.iso(startedAt), method, path, status: res.status })
        if (state.requestLog.length > 500) state.requestLog.splice(0, state.requestLog.length - 500)
        return withHeaders(res, cors)
      })
    const renderFail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      finish(withHeaders(K.renderError(options, new K.ApiError({ status, code, message })), headers))

    // CORS preflight: any origin, the bkend headers.
    if (method === "OPTIONS" && K.header(req, "access-control-request-method") !== undefined) {
      return yield* finish(
        HttpServerResponse.empty({
          status: 204,
          headers: {
            "access-control-allow-methods": ALLOW_METHODS,
            "access-control-allow-headers": K.header(req, "access-control-request-headers") ?? ALLOW_HEADERS,
            "access-control-max-age": "600"
          }
        })
      )
    }

    const isStorage = path.startsWith(K.STORAGE_PREFIX)
    const isLocal = path.startsWith("/_local/")
    const rateHeaders: Record<string, string> = {}
    if (options.rateLimit !== undefined && !isStorage && !isLocal) {
      const { limit, windowSeconds } = options.rateLimit
      const key = K.header(req, "x-api-key") ?? "(no key)"
      const windowMillis = windowSeconds * 1000
      // one atomic hit per request: instances sharing a store share the window
      const w = yield* hitWindow(`rate:${key}`, windowMillis, startedAt)
      rateHeaders["x-ratelimit-limit"] = String(limit)
      if (w.count > limit) {
        yield* countOrLog("rateLimited")
        const retryAfter = Math.max(1, Math.ceil((w.windowStart + windowMillis - startedAt) / 1000))
        rateHeaders["x-ratelimit-remaining"] = "0"
        return yield* renderFail(429, "data/rate-limit-exceeded", "Rate limit exceeded", {
          ...rateHeaders,
          "retry-after": String(retryAfter)
        })
      }
      rateHeaders["x-ratelimit-remaining"] = String(Math.max(0, limit - w.count))
    }

    if (options.faults.length > 0 && !isLocal) {
      const rule = pickFault(state, options.faults, `${method} ${path}`)
      if (rule !== undefined) {
        yield* countOrLog("faultsInjected")
        switch (rule.kind) {
          case "500":
            return yield* renderFail(500, "common/internal-error", "Injected fault", rateHeaders)
          case "503":
            return yield* renderFail(503, "common/service-unavailable", "Injected fault", rateHeaders)
          case "429":
            return yield* renderFail(429, "data/rate-limit-exceeded", "Injected rate limit", {
              ...rateHeaders,
              "retry-after": "1"
            })
          case "reset": {
            if (destroySocket(req)) return yield* Effect.interrupt
            return yield* finish(HttpServerResponse.empty({ status: 500, headers: { [RESET_MARKER]: "1" } }))
          }
          case "delay":
            yield* Effect.sleep(rule.delayMillis ?? 1000)
        }
      }
    }

    // a NUL in the path or the query would reach the store (ids, searches): no engine keeps it alike
    if (!isStorage && unstorableUrl(req.url)) {
      return yield* renderFail(400, "common/invalid-parameters", "The URL must not contain NUL characters", rateHeaders)
    }

    const declared = Number(K.header(req, "content-length") ?? "0")
    const limit = isStorage ? options.maxUploadBytes : options.maxBodyBytes
    if (Number.isFinite(declared) && declared > limit) {
      return yield* renderFail(413, "common/payload-too-large", "Request body too large", {
        ...rateHeaders,
        connection: "close"
      })
    }

    const res = yield* app
    return yield* finish(withHeaders(res, rateHeaders))
  })
