/**
 * One layer for the whole SDK: `BkendClient` plus the `Auth`, `Users`, `Tables` and `Files` services, from one
 * set of options. Still requires an `HttpClient` (Fetch, Node/undici, or a test client).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as Auth from "./Auth.js"
import * as BkendClient from "./BkendClient.js"
import type * as BkendError from "./BkendError.js"
import * as Files from "./Files.js"
import * as Tables from "./Tables.js"
import * as Users from "./Users.js"

/**
 * Everything `Bkend.layer` provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = BkendClient.BkendClient | Auth.Auth | Users.Users | Tables.Tables | Files.Files

const services = Layer.mergeAll(Auth.layer, Users.layer, Tables.layer, Files.layer)

/**
 * The whole SDK from options: `BkendClient` plus `Auth`, `Users`, `Tables` and `Files`. Fails with `InvalidConfig`
 * when an option is invalid (an empty key, a base URL that is not http(s)). Provide an `HttpClient` to it.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
 * import { Bkend } from "bkend-effect"
 *
 * const BkendLive = Bkend.layer({
 *   apiKey: Redacted.make("pk_…"),
 *   baseUrl: "https://api-client.bkend.ai"
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: BkendClient.Options
): Layer.Layer<Services, BkendError.InvalidConfig, HttpClient.HttpClient> =>
  services.pipe(Layer.provideMerge(BkendClient.layer(options)))

/**
 * `layer` with its options read from `Config` (environment variables by default); fails with `ConfigError` when
 * one is missing or malformed.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
 * import { Bkend } from "bkend-effect"
 *
 * const BkendLive = Bkend.layerConfig({
 *   apiKey: Config.redacted("BKEND_API_KEY"),
 *   baseUrl: Config.string("BKEND_API_URL")
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<BkendClient.Options>
): Layer.Layer<Services, ConfigError.ConfigError | BkendError.InvalidConfig, HttpClient.HttpClient> =>
  services.pipe(Layer.provideMerge(BkendClient.layerConfig(config)))
