/**
 * The one HTTP pipeline every bkend call goes through: base URL, `X-API-Key`, `Content-Type` for JSON bodies,
 * `Authorization: Bearer` from the current session, single-flight refresh-then-retry on 401, proactive refresh,
 * retries with backoff and `Retry-After`, timeouts, envelope decoding with Schema, typed errors and a span per call.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import {
  Config,
  type ConfigError,
  Context,
  type Duration,
  Effect,
  Layer,
  type Option,
  type Redacted,
  type Stream
} from "effect"
import type * as BkendError from "./BkendError.js"
import * as internal from "./internal/client.js"
import * as retry from "./internal/retry.js"
import type * as Session from "./Session.js"

/**
 * HTTP methods used by bkend routes.
 *
 * @since 0.1.0
 * @category models
 */
export type Method = internal.Method

/**
 * How a call authenticates: `required` sends the session's access token (and fails with `Unauthorized` without
 * one), `optional` sends it when signed in, `none` never sends it.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMode = internal.AuthMode

/**
 * A query parameter value; arrays become repeated parameters, `undefined` is omitted.
 *
 * @since 0.1.0
 * @category models
 */
export type QueryValue = internal.QueryValue

/**
 * One typed call. `route` is a template (`/v1/data/:table/:id`) whose `:params` are percent-encoded from
 * `params` (empty, `.` and `..` are rejected with `InvalidInput`); the template is what spans and errors show.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request<A, I, R> extends internal.RequestOptions<A, I, R> {}

/**
 * The retry policy. Replace any field through `Options.retryPolicy`.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryPolicy = retry.RetryPolicy

/**
 * The documented defaults: 4 attempts; exponential backoff from 500 ms doubling to at most 8 s with 50 % jitter;
 * `Retry-After` honoured exactly up to 60 s (longer fails at once with `RateLimited`); 30 s per attempt, 120 s per
 * call; 429 retried for every method, 5xx / 408 / transport errors / timeouts only for GET, PUT and DELETE.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRetryPolicy: RetryPolicy = retry.defaultRetryPolicy

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** a publishable (`pk_…`) or secret (`sk_…`) key */
  readonly apiKey: Redacted.Redacted<string>
  /** default `https://api-client.bkend.ai` */
  readonly baseUrl?: string | undefined
  readonly retryPolicy?: Partial<RetryPolicy> | undefined
  /** refresh proactively when the access token expires within this margin (default 60 s) */
  readonly refreshMargin?: Duration.DurationInput | undefined
}

/**
 * A PUT of bytes to a presigned storage URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoragePut extends internal.StoragePut {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** the validated configuration (the key stays `Redacted`) */
  readonly config: {
    readonly baseUrl: string
    readonly apiKey: Redacted.Redacted<string>
    readonly retryPolicy: RetryPolicy
  }
  /** Runs one call through the pipeline and decodes its success body with `request.response`. */
  readonly request: <A, I, R>(request: Request<A, I, R>) => Effect.Effect<A, BkendError.BkendError, R>
  /** the current session, if signed in */
  readonly session: Effect.Effect<Option.Option<Session.Session>>
  /** session changes from now on (signed in, refreshed, signed out) */
  readonly sessionChanges: Stream.Stream<Session.SessionChange>
  /** stores a token pair received from bkend (sign-in, sign-up, callbacks) as the new session */
  readonly setTokens: (tokens: Session.TokenResponse) => Effect.Effect<Session.Session>
  /** forgets the session locally; a refresh still in flight is discarded */
  readonly clearSession: (reason?: Session.SignOutReason) => Effect.Effect<void>
  /**
   * Takes over a session that another tab or process wrote to the shared `TokenStore` (or its absence, after a
   * sign-out there), without writing it back; emits `SignedIn`, `Refreshed` or `SignedOut("cleared")`.
   */
  readonly adopt: (session: Option.Option<Session.Session>) => Effect.Effect<void>
  /** refreshes now, through the same single-flight gate as automatic refreshes */
  readonly refresh: Effect.Effect<Session.Session, BkendError.BkendError>
  /**
   * PUT to a presigned storage URL (never with bkend headers); retried per the policy, the whole body
   * re-sent each attempt. Returns the `ETag` header verbatim.
   */
  readonly storagePut: (put: StoragePut) => Effect.Effect<{ readonly etag: string | undefined }, BkendError.BkendError>
  /** GET a presigned download URL (never with bkend headers) */
  readonly storageGet: (url: string) => Effect.Effect<Uint8Array, BkendError.BkendError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class BkendClient extends Context.Tag("bkend-effect/BkendClient")<BkendClient, Service>() {}

/**
 * Builds the client. Uses the `TokenStore` and `RefreshLock` from the context when present (an in-memory store
 * otherwise). Fails with `InvalidConfig` naming the field when an option is invalid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, BkendError.InvalidConfig, HttpClient.HttpClient> =>
  Effect.map(internal.make(options), (client) => ({
    config: client.config,
    request: client.call,
    session: client.session,
    sessionChanges: client.sessionChanges,
    setTokens: client.setTokens,
    clearSession: client.clearSession,
    adopt: client.adopt,
    refresh: client.refresh,
    storagePut: client.storagePut,
    storageGet: client.storageGet
  }))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BkendClient, BkendError.InvalidConfig, HttpClient.HttpClient> =>
  Layer.effect(BkendClient, make(options))

/**
 * The layer from `Config` values, e.g.
 * `layerConfig({ apiKey: Config.redacted("BKEND_API_KEY"), baseUrl: Config.string("BKEND_API_URL") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<BkendClient, ConfigError.ConfigError | BkendError.InvalidConfig, HttpClient.HttpClient> =>
  Layer.effect(BkendClient, Effect.flatMap(Config.unwrap(config), make))
