/**
 * A lean `HttpClient` for Node over `undici.request`: what the SDK needs from a transport and nothing else.
 *
 * Compared with `NodeHttpClient.layerUndici` from `@effect/platform-node` it reads response bodies without an extra
 * fiber per response, merges no layer context into each request, and does not load undici until the first request.
 * Like it, it is built with `HttpClient.make`, so interruption aborts the request, redirects are returned (never
 * followed), and tracing (spans, `traceparent` propagation, `withTracerPropagation`, `withTracerDisabledWhen`, header
 * redaction) behaves exactly as with any platform client.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Layer from "effect/Layer"
import type * as Undici from "undici"
import * as internal from "./internal/transport.js"

/**
 * An `HttpClient` with its own `undici.Agent`, created (and undici imported) on the first request and destroyed
 * when the layer's scope closes. Requests made after that fail with a `RequestError` (reason `Transport`).
 *
 * @example
 * ```ts
 * import { Bkend } from "bkend-effect"
 * import { NodeTransport } from "bkend-effect/node"
 * import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
 *
 * const BkendLive = Bkend.layerConfig({
 *   apiKey: Config.redacted("BKEND_API_KEY"),
 *   baseUrl: Config.string("BKEND_API_URL")
 * }).pipe(Layer.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = internal.layer

/**
 * An `HttpClient` on a dispatcher you own (an `undici.Agent` with your pool, TLS or proxy options, a `MockAgent`):
 * the layer never closes it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithDispatcher: (dispatcher: Undici.Dispatcher) => Layer.Layer<HttpClient.HttpClient> =
  internal.layerWithDispatcher

/**
 * The client itself, on a dispatcher you own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient => internal.make(internal.fixed(dispatcher))
