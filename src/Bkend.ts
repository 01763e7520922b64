/**
 * One layer for the whole SDK: `BkendClient` plus the `Auth`, `Users`, `Tables` and `Files` services, from one
 * set of options. Still requires an `HttpClient` (Fetch, Node/undici, or a test client).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type Config, type ConfigError, Layer } from "effect"
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
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: BkendClient.Options
): Layer.Layer<Services, BkendError.InvalidConfig, HttpClient.HttpClient> =>
  services.pipe(Layer.provideMerge(BkendClient.layer(options)))

/**
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<BkendClient.Options>
): Layer.Layer<Services, ConfigError.ConfigError | BkendError.InvalidConfig, HttpClient.HttpClient> =>
  services.pipe(Layer.provideMerge(BkendClient.layerConfig(config)))
