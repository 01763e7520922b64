/**
 * The one HTTP pipeline every bkend call goes through: base URL, `X-API-Key`, `Content-Type` for JSON bodies,
 * `Authorization: Bearer` from the current session, a shared refresh (proactive, or after a 401) that never
 * presents a refresh token twice, retries with backoff and `Retry-After`, timeouts, envelope decoding with Schema,
 * typed errors and a span per call.
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
  type Schema,
  type Scope,
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
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

/**
 * How a call authenticates: `required` sends the session's access token (and fails with `Unauthorized` without
 * one), `optional` sends it when signed in, `none` never sends it.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMode = "required" | "optional" | "none"

/**
 * A query parameter value; arrays become repeated parameters, `undefined` is omitted.
 *
 * @since 0.1.0
 * @category models
 */
export type QueryValue = string | number | boolean | ReadonlyArray<string> | undefined

/**
 * One typed call. `route` is a template (`/v1/data/:table/:id`) whose `:params` are percent-encoded from
 * `params` (empty, `.` and `..` are rejected with `InvalidInput`); the template is what spans and errors show.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request<A, I, R> {
  readonly method: Method
  readonly route: `/v1/${string}`
  readonly params?: Readonly<Record<string, string>> | undefined
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly body?: unknown
  readonly auth: AuthMode
  readonly response: Schema.Schema<A, I, R>
  /** refresh and retry once on a 401 (default: for authenticated calls) */
  readonly refreshOn401?: boolean | undefined
  /**
   * refresh first when the access token is within the margin of expiry (default `true`); `false` sends the token
   * as it is and never waits for a refresh, neither before sending nor after a 401 (sign-out does this)
   */
  readonly proactiveRefresh?: boolean | undefined
  /** whether a failed attempt may be re-sent after a 5xx or a transport error (default: GET, PUT, DELETE) */
  readonly idempotent?: boolean | undefined
}

/**
 * The retry policy. Replace any field through `Options.retryPolicy`. The backoff is either the simple form
 * (`baseDelay`, `maxDelay`, `jitter`) or a `Schedule` in `schedule`, e.g.
 * `retryPolicy: { schedule: Schedule.exponential("100 millis").pipe(Schedule.jittered) }`.
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
 * What a client needs: the API key, and optionally the base URL, retry policy, refresh margin and reuse window.
 *
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
  /**
   * Opt-in recovery for servers with a refresh-token reuse interval (bkend-local's
   * `refreshReuseIntervalSeconds`; Auth0, Okta and Supabase offer the same): a refresh whose outcome is unknown
   * (a timeout, a reset connection, a 5xx, an unreadable answer) is presented once more, at most half this window
   * after it was sent. Set it to the server's interval or less. Default 0: never, as bkend's strict rotation
   * requires (a second presentation of a rotated-out token revokes every session of the user).
   */
  readonly refreshReuseWindow?: Duration.DurationInput | undefined
}

/**
 * A PUT of bytes to a presigned storage URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoragePut {
  readonly url: string
  readonly body: Uint8Array
  readonly contentType?: string | undefined
  /** bytes of this attempt sent so far (restarts from 0 when the attempt is retried) */
  readonly onProgress?: ((sent: number) => Effect.Effect<void>) | undefined
}

/**
 * The pipeline every service call goes through, and the session it keeps; services are built on it, and a
 * program may call routes the services do not cover with `request`.
 *
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
  /** forgets the session locally, at once; a refresh still in flight is discarded when it ends */
  readonly clearSession: (reason?: Session.SignOutReason) => Effect.Effect<void>
  /**
   * Takes over a session that another tab or process wrote to the shared `TokenStore` (or its absence, after a
   * sign-out there), without writing it back; emits `SignedIn`, `Refreshed` or `SignedOut("cleared")`. With a
   * `RefreshLock` (a shared store) it follows what the store holds when it runs (the value given may have been
   * read before this client's own sign-out), and never a session this client ended.
   */
  readonly adopt: (session: Option.Option<Session.Session>) => Effect.Effect<void>
  /** refreshes now, through the same shared refresh as automatic refreshes */
  readonly refresh: Effect.Effect<Session.Session, BkendError.BkendError>
  /**
   * PUT to a presigned storage URL (never with bkend headers); retried per the policy, the whole body
   * re-sent each attempt. Returns the `ETag` header verbatim.
   */
  readonly storagePut: (put: StoragePut) => Effect.Effect<{ readonly etag: string | undefined }, BkendError.BkendError>
  /** GET a presigned download URL (never with bkend headers): the whole object, each attempt reading it all */
  readonly storageGet: (url: string) => Effect.Effect<Uint8Array, BkendError.BkendError>
  /**
   * GET a presigned download URL (never with bkend headers) as a stream of the body's chunks, as they arrive:
   * retried and timed per the policy up to the first byte.
   */
  readonly storageStream: (url: string) => Stream.Stream<Uint8Array, BkendError.BkendError>
}

/**
 * The tag of the client every service is built on.
 *
 * @since 0.1.0
 * @category tags
 */
export class BkendClient extends Context.Tag("bkend-effect/BkendClient")<BkendClient, Service>() {}

/**
 * Builds the client in the current scope (its refreshes run there, detached from the callers that started them).
 * Uses the `TokenStore` and `RefreshLock` from the context when present (an in-memory store otherwise). Fails
 * with `InvalidConfig` naming the field when an option is invalid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<Service, BkendError.InvalidConfig, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * The client from options; it needs an `HttpClient` (`FetchHttpClient.layer` or `NodeTransport.layer`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BkendClient, BkendError.InvalidConfig, HttpClient.HttpClient> =>
  Layer.scoped(BkendClient, make(options))

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
  Layer.scoped(BkendClient, Effect.flatMap(Config.unwrap(config), make))
