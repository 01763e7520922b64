/**
 * `GET /healthz`: 200 `{ "ok": true }` while the storage answers, 503 `{ "ok": false }` when it fails or takes longer
 * than two seconds. Answered before the request pipeline: no API key, no rate limit, not counted, so a load
 * balancer may probe it as often as it likes.
 *
 * @since 0.1.0
 */
import { type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect } from "effect"
import type { Service } from "../Store.js"

/**
 * The path of the health check.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEALTH_PATH = "/healthz"

const PROBE_TIMEOUT = Duration.seconds(2)

/**
 * One cheap read of the store (a table configuration by primary key), bounded in time.
 *
 * @since 0.1.0
 * @category handlers
 */
export const health = (store: Service): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  store.tables.get("_healthz").pipe(
    Effect.timeoutFail({ duration: PROBE_TIMEOUT, onTimeout: () => "timeout" as const }),
    Effect.match({
      onFailure: () => HttpServerResponse.unsafeJson({ ok: false }, { status: 503 }),
      onSuccess: () => HttpServerResponse.unsafeJson({ ok: true })
    }),
    Effect.map(HttpServerResponse.setHeader("cache-control", "no-store"))
  )

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q < 0 ? url : url.slice(0, q)
}

/**
 * `app` with `GET` / `HEAD /healthz` answered first.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withHealth = <E, R>(
  store: Service,
  app: HttpApp.HttpApp<HttpServerResponse.HttpServerResponse, E, R>
): HttpApp.HttpApp<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
    (req.method === "GET" || req.method === "HEAD") && pathOf(req.url) === HEALTH_PATH ? health(store) : app
  )
