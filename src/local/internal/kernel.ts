/**
 * Kernel of bkend-local: options, the instance state and the server context (with its Store), errors, envelopes,
 * caller resolution, body parsing, users.
 *
 * How to write a route (DATA / FILES+USERS helpers):
 *
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Effect, Schema } from "effect"
 * import * as K from "./kernel.js"
 *
 * const CreateBody = Schema.Struct({ name: Schema.String, email: Schema.String })
 *
 * export const usersRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty.pipe(
 *   HttpRouter.post("/v1/users", Effect.gen(function* () {
 *     const caller = yield* K.requireUser("users")            // key check + bearer (401 user/unauthorized)
 *     const input = yield* K.body(CreateBody, "common/invalid-parameters") // 400 on bad JSON / schema
 *     if (caller.role !== "admin") return yield* K.fail(403, "user/forbidden", "Admins only")
 *     // every read-modify-write is one atomic Store method (`K.stored`, `K.updateUser`, …), never get then put
 *     const user = yield* K.createUser({ email: input.email, name: input.name }, yield* K.now)
 *     return yield* K.ok(K.userView(user), 201)                // honours envelope=wrapped|bare
 *   }))
 * )
 * ```
 *
 * Path params: `const { userId } = yield* HttpRouter.params`. Query: `yield* K.query` (a record of strings).
 * Never render errors yourself: fail with `K.fail(status, code, message)`; LocalServer renders the envelope.
 * Time comes only from `K.now` (Clock, TestClock-injectable). Ids: `K.uuid()`, `K.hex24()`.
 * Storage objects live under the `STORAGE_PREFIX` path (body-size limit uses `maxUploadBytes` there).
 *
 * @since 0.1.0
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Clock, Context, Data, Effect, Either, Option, ParseResult, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import { Readable } from "node:stream"
import * as Store from "../Store.js"
import * as Jwt from "./jwt.js"
import * as MemoryStore from "./memory/MemoryStore.js"
import type * as OAuth from "./oauth.js"
import type * as Storage from "./storage.js"
import type * as Tables from "./tables.js"

// ---------------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------------

/**
 * One fault-injection rule. `route` is matched against `"METHOD /path"` (e.g. `"POST /v1/auth/refresh"`); `*` matches
 * any run of characters, so `"* /v1/data/*"` hits every data route. Decisions use a seeded PRNG (`faultSeed`).
 *
 * @since 0.1.0
 * @category options
 */
export interface FaultRule {
  readonly route: string
  readonly kind: "500" | "503" | "429" | "reset" | "delay"
  /** Probability in [0, 1]; default 1. */
  readonly probability?: number | undefined
  /** For `delay`: milliseconds to wait (Clock-based). Default 1000. */
  readonly delayMillis?: number | undefined
  /** Stop after this many injections. Default: unlimited. */
  readonly times?: number | undefined
}

/**
 * Server options. Every default matches bkend's documented behaviour.
 *
 * @since 0.1.0
 * @category options
 */
export interface LocalOptions {
  /**
   * Shape of success bodies. `wrapped` = `{ success: true, data }`; `bare` = the payload alone; `hybrid` = the
   * wrapped body with an object payload's fields also at the top level (`{ ...payload, success: true, data: payload }`),
   * so clients that read `body.data.x` and clients that read `body.x` both work. An array or scalar payload is only
   * wrapped. With `hybrid`, error bodies also carry `code` and `message` at the top level.
   */
  readonly envelope: "wrapped" | "bare" | "hybrid"
  /** error body shape. `domain` (default) = `{ success: false, error: { code, message } }`. */
  readonly errors: "domain" | "ref-auth" | "nest" | "superset"
  /** per-endpoint documented pagination fields, or all eight everywhere. */
  readonly pagination: "documented" | "union"
  /** deletes answer 200 with the documented body (default) or 204. */
  readonly deletes: "200" | "204"
  readonly accessTokenTtlSeconds: number
  readonly refreshTokenTtlSeconds: number
  /** `default` = at least 6 chars; `strict` = 8–128 chars with upper, lower, digit and special. */
  readonly passwordPolicy: "default" | "strict"
  readonly tables: ReadonlyArray<Tables.TableConfig>
  /** Permissive mode: unknown tables are created on first write. */
  readonly devMode: boolean
  readonly rateLimit: { readonly limit: number; readonly windowSeconds: number } | undefined
  /** Limit for API request bodies (413 above it). */
  readonly maxBodyBytes: number
  /** Limit for storage PUT bodies under STORAGE_PREFIX. */
  readonly maxUploadBytes: number
  /**
   * Directory for the bytes of uploaded objects, streamed to and from files there (never held whole in memory).
   * Default: kept in memory (and in snapshots). Several servers sharing one database share this directory too.
   */
  readonly filesDir: string | undefined
  /** Deepest nesting of objects/arrays accepted in a JSON body (400 above it). Default 32. */
  readonly maxJsonDepth: number
  readonly faults: ReadonlyArray<FaultRule>
  readonly faultSeed: number
  /**
   * Public base URL for links (presigned URLs, mailed links), e.g. `https://api.example.com`. Set it when the
   * server is reached through another address than the one it listens on. Default: the address the server is
   * bound to (in-process: the request URL's origin). Never taken from the Host header.
   */
  readonly baseUrl: string | undefined
  /**
   * When the local-only endpoints (`/_local/*`: outbox, counters, snapshot) are served: `loopback` (default) only
   * while the server is bound to a loopback address (or in-process), `always`, or `never`. They always need the
   * secret key.
   */
  readonly localEndpoints: "loopback" | "always" | "never"
  /** Socket server: time allowed to receive the request headers (408 after it). Default 10 s. */
  readonly headersTimeoutMillis: number
  /** Socket server: time allowed to receive a whole request, body included (408 after it). Default 5 min. */
  readonly requestTimeoutMillis: number
  /** Socket server: how long an idle keep-alive connection stays open between requests. Default 5 s. */
  readonly keepAliveTimeoutMillis: number
  /** Socket server: a connection with no traffic for this long (e.g. a stalled body) is closed. Default 30 s. */
  readonly idleTimeoutMillis: number
  /** Socket server: largest request line + headers accepted (431 / 414 above it). Default 16 KiB. */
  readonly maxHeaderBytes: number
  /**
   * Socket server: on shutdown, how long requests in flight may take to finish after the server stops accepting
   * connections; those still running then are cut off. Default 10 s.
   */
  readonly shutdownTimeoutMillis: number
  /** Fixed keys (default: random at start). */
  readonly publishableKey: string | undefined
  readonly secretKey: string | undefined
  readonly magicLinkEnabled: boolean
  readonly magicLinkTtlMinutes: number
  /** Sign-in requires a verified e-mail (403 auth/email-not-verified). */
  readonly requireEmailVerification: boolean
  /** sessions and linked accounts as the topic-page `{ items, pagination }` (default) or Ref-page arrays. */
  readonly lists: "topic" | "ref-array"
  /** OAuth providers that are "configured"; others of google/github answer 400 auth/oauth-not-configured. */
  readonly oauthProviders: ReadonlyArray<"google" | "github">
  /** After this many failed password sign-ins for one e-mail within 15 minutes: 429 auth/too-many-login-attempts. */
  readonly maxFailedSignIns: number | undefined
  /**
   * Refresh-token reuse interval in seconds. `0` (default) is the strict rule: a refresh token presented again after
   * it was rotated is a replay, and every session of its user is ended. With `N > 0`, a rotated-out token presented
   * again less than `N` seconds after its rotation, while the token that rotation issued is still the session's
   * current, unused refresh token, is answered like a refresh: a fresh access token and that current refresh token
   * (no new rotation, no revocation; counted as `refreshReuses`). Later, or once the newer token was itself used,
   * it is a replay as before. This lets clients that refresh several times at once (or retry a refresh whose answer
   * they lost) keep their session; the price is that a stolen rotated-out token replayed inside the window also
   * receives the current pair.
   */
  readonly refreshReuseIntervalSeconds: number
  /**
   * `GET /v1/files` without a bearer token lists the public files (as a guest) instead of answering 401. Default
   * `false`: every file route requires a signed-in user.
   */
  readonly guestFileList: boolean
  /**
   * The development sign-in page: `GET /v1/auth/:provider/authorize` (for a configured provider) answers with a URL
   * of a page served by bkend-local, where any e-mail address can be typed and is signed in, standing in for the
   * provider. Default `false` (authorize then answers 400 `auth/oauth-not-configured`, as bkend-local has no
   * connection to real providers). Never turn it on where untrusted people can reach the server: whoever types an
   * address is signed in as its owner.
   */
  readonly oauthDevSignIn: boolean
}

/**
 * @since 0.1.0
 * @category options
 */
export const defaultOptions: LocalOptions = {
  envelope: "wrapped",
  errors: "domain",
  pagination: "documented",
  deletes: "200",
  accessTokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 7 * 24 * 3600,
  passwordPolicy: "default",
  tables: [],
  devMode: false,
  rateLimit: undefined,
  maxBodyBytes: 1024 * 1024,
  maxUploadBytes: 100 * 1024 * 1024,
  filesDir: undefined,
  maxJsonDepth: 32,
  faults: [],
  faultSeed: 1,
  baseUrl: undefined,
  localEndpoints: "loopback",
  headersTimeoutMillis: 10_000,
  requestTimeoutMillis: 300_000,
  keepAliveTimeoutMillis: 5_000,
  idleTimeoutMillis: 30_000,
  maxHeaderBytes: 16 * 1024,
  shutdownTimeoutMillis: 10_000,
  publishableKey: undefined,
  secretKey: undefined,
  magicLinkEnabled: true,
  magicLinkTtlMinutes: 15,
  requireEmailVerification: false,
  lists: "topic",
  oauthProviders: ["google", "github"],
  maxFailedSignIns: undefined,
  refreshReuseIntervalSeconds: 0,
  guestFileList: false,
  oauthDevSignIn: false
}

/**
 * What the `bkend-local` command changes on top of `defaultOptions`, so that apps written for bkend run against it
 * unmodified: tables are created on their first write, success bodies carry their fields both under `data` and at
 * the top level, and a refresh token presented again within 10 seconds of its rotation gets the current pair instead
 * of ending every session (apps that refresh once per failing request send several refreshes at once), and
 * `GET /v1/files` without a token lists the public files, and "Sign in with Google/GitHub" goes through a local
 * development sign-in page.
 * The library keeps bkend's strict defaults; pass these to `make` to get the command's behaviour in code.
 *
 * @since 0.1.0
 * @category options
 */
export const cliDefaults: Partial<LocalOptions> = {
  devMode: true,
  envelope: "hybrid",
  refreshReuseIntervalSeconds: 10,
  guestFileList: true,
  oauthDevSignIn: true
}

/**
 * @since 0.1.0
 * @category options
 */
export const resolveOptions = (partial?: Partial<LocalOptions>): LocalOptions => ({ ...defaultOptions, ...partial })

/**
 * Path prefix of the object store (presigned PUT/GET). Owned by storage.ts; the body-limit middleware uses it.
 *
 * @since 0.1.0
 * @category constants
 */
export const STORAGE_PREFIX = "/_storage/"

// ---------------------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category state
 */
export type Role = "admin" | "user" | "guest"

/**
 * A linked sign-in method. The e-mail/password credential is provider `email`.
 *
 * @since 0.1.0
 * @category state
 */
export interface LinkedAccount {
  id: string
  provider: string
  providerAccountId: string
  email: string
  connectedAt: string
}

/**
 * @since 0.1.0
 * @category state
 */
export interface UserRecord {
  id: string
  email: string
  name: string
  role: Role
  /** scrypt hash (`salt:hash` hex), undefined for passwordless users. */
  passwordHash: string | undefined
  emailVerified: string | null
  image: string | null
  nickname: string | null
  mobile: string | null
  gender: string | null
  bio: string | null
  socialLinks: { github: string | null; twitter: string | null; linkedin: string | null } | null
  preferences: { locale: string | null; timezone: string | null; theme: string | null }
  notifications: {
    service: boolean
    marketing: boolean
    push: boolean
    email: boolean
    sms: boolean
    nightTime: boolean
    securityAlerts: boolean
  }
  /** Stored verbatim; `status` feeds `onboardingStatus` on /me. */
  onboarding: Record<string, unknown>
  publicSettings: { slug: string | null; isPublic: boolean }
  mfa: { enabled: boolean; secret: string | undefined; pendingSecret: string | undefined; backupCodes: Array<string> }
  accounts: Array<LinkedAccount>
  organizationId: string | undefined
  createdAt: string
  updatedAt: string
  deletedAt: string | undefined
}

/**
 * @since 0.1.0
 * @category state
 */
export interface SessionRecord {
  id: string
  userId: string
  userAgent: string
  ipAddress: string
  deviceInfo: string
  organizationId: string | undefined
  createdAt: number
  lastActivityAt: number
  /** Session end (7 days by default = refresh TTL). */
  expiresAt: number
  /** jti of the only refresh token currently valid for this session. */
  refreshJti: string
  revokedAt: number | undefined
}

/**
 * Every refresh token ever issued, by jti (for rotation and replay detection).
 *
 * @since 0.1.0
 * @category state
 */
export interface RefreshTokenRecord {
  jti: string
  sessionId: string
  userId: string
  status: "active" | "rotated" | "revoked"
  /** Issue time (JWT `iat`, seconds): with the other fields it re-creates the token's exact text. */
  issuedAt: number
  expiresAt: number
  /** When this token was rotated out (millis), and the jti of the token that rotation issued. */
  rotatedAt: number | undefined
  childJti: string | undefined
}

/**
 * @since 0.1.0
 * @category state
 */
export type MailKind = "signup-verification" | "email-verification" | "password-reset" | "magic-link" | "invitation"

/**
 * @since 0.1.0
 * @category state
 */
export interface Mail {
  readonly to: string
  readonly kind: MailKind
  readonly token: string
  readonly link: string | undefined
  readonly createdAt: string
}

/**
 * One-time tokens (reset, verification, magic link) by token value.
 *
 * @since 0.1.0
 * @category state
 */
export interface OneTimeToken {
  token: string
  kind: MailKind
  email: string
  userId: string | undefined
  expiresAt: number
  usedAt: number | undefined
  callbackUrl: string | undefined
}

/**
 * @since 0.1.0
 * @category state
 */
export interface InvitationRecord {
  id: string
  token: string
  resourceType: string
  resourceId: string
  resourceName: string | null
  resourceRole: string
  email: string
  name: string | null
  inviterName: string | null
  status: "pending" | "accepted" | "rejected" | "expired" | "revoked"
  expiresAt: number
  invitedBy: string
  createdAt: string
  updatedAt: string
}

/**
 * Registered file metadata (FILES area).
 *
 * @since 0.1.0
 * @category state
 */
export interface FileRecord {
  id: string
  s3Key: string
  originalName: string
  mimeType: string
  size: number
  visibility: string
  ownerId: string
  ownerType: string
  metadata: Record<string, unknown>
  bucket: string | undefined
  width: number | undefined
  height: number | undefined
  createdAt: string
  updatedAt: string
}

/**
 * @since 0.1.0
 * @category state
 */
export interface Counters {
  requests: number
  byRoute: Record<string, number>
  byStatus: Record<string, number>
  signIns: number
  signUps: number
  refreshCalls: number
  refreshSucceeded: number
  replaysDetected: number
  /** Rotated-out refresh tokens answered with the current pair inside the reuse interval (not replays). */
  refreshReuses: number
  rateLimited: number
  faultsInjected: number
}

/**
 * @since 0.1.0
 * @category state
 */
export interface RequestLogEntry {
  readonly at: string
  readonly method: string
  readonly path: string
  readonly status: number
}

/**
 * The state of one server instance. The in-memory store works on its Maps (users, sessions, tables, files, …);
 * routes reach those only through the store, whose methods are each one atomic step. What is per instance by
 * nature stays here for the routes: the keys as loaded from the store, the request log, fault-injection state,
 * OAuth flows in progress, invitations and the listening address. Fields are reassigned wholesale by snapshot
 * import, so never cache a Map across requests.
 *
 * @since 0.1.0
 * @category state
 */
export interface LocalState {
  keys: { publishable: string; secret: string }
  /** HMAC secret for JWTs and presigned URLs (hex). */
  signingSecret: string
  users: Map<string, UserRecord>
  sessions: Map<string, SessionRecord>
  refreshTokens: Map<string, RefreshTokenRecord>
  oneTimeTokens: Map<string, OneTimeToken>
  invitations: Map<string, InvitationRecord>
  outbox: Array<Mail>
  counters: Counters
  requestLog: Array<RequestLogEntry>
  /** Fixed windows by key (rate limits per API key, failed sign-ins per e-mail): start millis + count. Not persisted. */
  windows: Map<string, { readonly windowStart: number; readonly count: number }>
  /** Counters of the storage boundary that have no place in `counters`. Not persisted. */
  namedCounters: Map<string, number>
  /** Fault rule index → injections so far; PRNG state. */
  faultHits: Map<number, number>
  faultRng: number
  /** DATA area (tables.ts). */
  tables: Map<string, Tables.TableState>
  /** FILES area: registered metadata by file id. */
  files: Map<string, FileRecord>
  /**
   * FILES area (storage.ts): object metadata by key, multipart uploads by upload id; HMAC secret for presigned URLs.
   * The bytes are in a blob service: in memory, `blobs` (name → bytes); with `filesDir`, files on disk.
   */
  objects: Map<string, Storage.StoredObject>
  uploads: Map<string, Storage.MultipartUpload>
  blobs: Map<string, Uint8Array>
  storageSecret: Uint8Array
  /** Redirect-style OAuth flows waiting for their callback, by state (oauth.ts; not in snapshots). */
  oauthFlows: Map<string, OAuth.OAuthFlow>
  /** The socket address the server listens on (set by the node layer; undefined in-process). Not persisted. */
  listening: { readonly host: string; readonly port: number } | undefined
}

const randomHex = (bytes: number): string => crypto.randomBytes(bytes).toString("hex")

/**
 * @since 0.1.0
 * @category state
 */
export const emptyCounters = (): Counters => ({
  requests: 0,
  byRoute: {},
  byStatus: {},
  signIns: 0,
  signUps: 0,
  refreshCalls: 0,
  refreshSucceeded: 0,
  replaysDetected: 0,
  refreshReuses: 0,
  rateLimited: 0,
  faultsInjected: 0
})

/**
 * @since 0.1.0
 * @category state
 */
export const makeState = (options: LocalOptions): LocalState => ({
  keys: {
    publishable: options.publishableKey ?? `pk_${randomHex(32)}`,
    secret: options.secretKey ?? `sk_${randomHex(32)}`
  },
  signingSecret: randomHex(32),
  users: new Map(),
  sessions: new Map(),
  refreshTokens: new Map(),
  oneTimeTokens: new Map(),
  invitations: new Map(),
  outbox: [],
  counters: emptyCounters(),
  requestLog: [],
  windows: new Map(),
  namedCounters: new Map(),
  faultHits: new Map(),
  faultRng: options.faultSeed >>> 0,
  tables: new Map(),
  files: new Map(),
  objects: new Map(),
  uploads: new Map(),
  blobs: new Map(),
  storageSecret: new Uint8Array(crypto.randomBytes(32)),
  oauthFlows: new Map(),
  listening: undefined
})

/**
 * The running server's options and state.
 *
 * @since 0.1.0
 * @category tags
 */
export class Local extends Context.Tag("bkend-local/Local")<
  Local,
  {
    readonly options: LocalOptions
    /** What this instance keeps for itself (and, on the in-memory engine, the Maps the store works on). */
    readonly state: LocalState
    readonly keys: { readonly publishable: string; readonly secret: string }
    /** Where users, sessions, tables, rows, files and the rest are kept. */
    readonly store: Store.Service
    /** `memory`: `store` works on `state`; `external`: a store of its own (e.g. PostgreSQL). */
    readonly engine: "memory" | "external"
  }
>() {}

/**
 * The running server's context; the store defaults to the in-memory engine over `state`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLocal = (
  options: LocalOptions,
  state: LocalState = makeState(options),
  store: Store.Service = MemoryStore.make(state),
  engine: "memory" | "external" = "memory"
): Local["Type"] => ({
  options,
  state,
  store,
  engine,
  get keys() {
    return state.keys
  }
})

const storeFailure = (e: Store.StoreError) =>
  Effect.zipRight(
    Effect.logError("storage operation failed", { operation: e.operation, code: e.code }),
    fail(503, "common/service-unavailable", "Storage is unavailable, try again")
  )

/**
 * Runs one store operation; an engine failure becomes a 503 (its operation logged, never its values). Other
 * failures (e.g. `DuplicateKey`) are the caller's to handle.
 *
 * @since 0.1.0
 * @category storage
 */
export const stored = <A, E>(
  f: (store: Store.Service) => Effect.Effect<A, E>
): Effect.Effect<A, Exclude<E, Extract<E, Store.StoreError>> | ApiError, Local> =>
  Effect.flatMap(Local, (local) => f(local.store)).pipe(
    Effect.catchIf(
      (e: E): e is Extract<E, Store.StoreError> => e instanceof Store.StoreError,
      (e: Extract<E, Store.StoreError>) => storeFailure(e)
    )
  )

// ---------------------------------------------------------------------------------------------------------------------
// Errors and envelopes
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A documented API error; rendered by LocalServer with the configured error envelope.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: number
  readonly code: string
  readonly message: string
  readonly headers?: Record<string, string> | undefined
}> {}

/**
 * @since 0.1.0
 * @category errors
 */
export const fail = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>
): Effect.Effect<never, ApiError> => Effect.fail(new ApiError({ status, code, message, headers }))

const upperSnakeAliases: Record<string, string> = {
  "auth/unauthorized": "UNAUTHORIZED",
  "auth/invalid-token": "INVALID_TOKEN",
  "auth/token-expired": "TOKEN_EXPIRED",
  "data/permission-denied": "PERMISSION_DENIED",
  "data/scope-insufficient": "SCOPE_INSUFFICIENT",
  "data/system-table-access": "SYSTEM_TABLE_ACCESS",
  "data/project-access-denied": "PROJECT_ACCESS_DENIED",
  "data/environment-not-found": "ENVIRONMENT_NOT_FOUND",
  "data/validation-error": "VALIDATION_ERROR",
  "data/table-not-found": "TABLE_NOT_FOUND",
  "data/not-found": "RECORD_NOT_FOUND",
  "auth/email-already-exists": "EMAIL_ALREADY_EXISTS",
  "data/rate-limit-exceeded": "RATE_LIMIT_EXCEEDED",
  "common/authentication-required": "AUTHENTICATION_REQUIRED",
  "data/invalid-header": "MISSING_HEADER",
  "file/file-too-large": "FILE_TOO_LARGE",
  "data/duplicate-value": "DUPLICATE_VALUE"
}

/**
 * UPPER_SNAKE twin of a domain code (the documented pairs; otherwise the name part upper-cased).
 *
 * @since 0.1.0
 * @category errors
 */
export const upperSnake = (code: string): string => {
  const alias = upperSnakeAliases[code]
  if (alias !== undefined) return alias
  const name = code.includes("/") ? code.slice(code.indexOf("/") + 1) : code
  return name.replace(/[^A-Za-z0-9]+/g, "_").toUpperCase()
}

/**
 * The error body for the configured shape.
 *
 * @since 0.1.0
 * @category errors
 */
export const errorBody = (options: LocalOptions, status: number, code: string, message: string): object => {
  const body = errorShape(options, status, code, message)
  return options.envelope === "hybrid" ? { ...body, code, message } : body
}

const errorShape = (options: LocalOptions, status: number, code: string, message: string): object => {
  switch (options.errors) {
    case "ref-auth":
      return { error: { code, message } }
    case "nest":
      return { statusCode: status, error: upperSnake(code), message }
    case "superset":
      return { success: false, error: { code, message }, statusCode: status, message }
    default:
      return { success: false, error: { code, message } }
  }
}

/**
 * Renders an ApiError as a response.
 *
 * @since 0.1.0
 * @category errors
 */
export const renderError = (options: LocalOptions, e: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(errorBody(options, e.status, e.code, e.message), {
    status: e.status,
    ...(e.headers !== undefined ? { headers: e.headers } : {})
  })

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The success body for the configured `envelope`. In `hybrid`, the envelope's own keys win over payload fields of
 * the same name (a row with a `data` column is still found under `data`).
 *
 * @since 0.1.0
 * @category responses
 */
export const successBody = (options: LocalOptions, payload: unknown): unknown => {
  switch (options.envelope) {
    case "bare":
      return payload
    case "hybrid":
      return isPlainObject(payload) ? { ...payload, success: true, data: payload } : { success: true, data: payload }
    default:
      return { success: true, data: payload }
  }
}

/**
 * Success response honouring `envelope`.
 *
 * @since 0.1.0
 * @category responses
 */
export const ok = (
  payload: unknown,
  status = 200
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Local> =>
  Effect.map(Local, ({ options }) => HttpServerResponse.unsafeJson(successBody(options, payload), { status }))

/**
 * A body that is already in its final documented form (e.g. an auth body documented as `{ success: true, data }`): never wrapped again.
 *
 * @since 0.1.0
 * @category responses
 */
export const okRaw = (body: unknown, status = 200): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.succeed(HttpServerResponse.unsafeJson(body, { status }))

/**
 * Delete / "no content" response: 204 when `deletes=204`; otherwise 200 with the documented body.
 * `payload === undefined` gives the data-delete body `{ success: true }` in both envelope modes.
 *
 * @since 0.1.0
 * @category responses
 */
export const deleted = (payload?: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Local> =>
  Effect.flatMap(Local, ({ options }) => {
    if (options.deletes === "204") return Effect.succeed(HttpServerResponse.empty({ status: 204 }))
    if (payload === undefined) return Effect.succeed(HttpServerResponse.unsafeJson({ success: true }))
    return ok(payload)
  })

/**
 * @since 0.1.0
 * @category responses
 */
export type PaginationKind = "data" | "files" | "users" | "short"

/**
 * Pagination object with the documented fields per kind, or all eight when `pagination=union`.
 *
 * @since 0.1.0
 * @category responses
 */
export const paginationOf = (
  options: LocalOptions,
  kind: PaginationKind,
  page: number,
  limit: number,
  total: number
): Record<string, number | boolean> => {
  const totalPages = limit > 0 ? Math.ceil(total / limit) : 0
  const hasNext = page < totalPages
  const hasPrev = page > 1
  if (options.pagination === "union") {
    return { total, page, limit, totalPages, hasNext, hasPrev, hasNextPage: hasNext, hasPrevPage: hasPrev }
  }
  switch (kind) {
    case "data":
      return { total, page, limit, totalPages, hasNext, hasPrev }
    case "files":
      return { total, page, limit, totalPages, hasNextPage: hasNext, hasPrevPage: hasPrev }
    case "users":
      return { page, limit, total, totalPages }
    case "short":
      return { page, limit, total }
  }
}

/**
 * @since 0.1.0
 * @category responses
 */
export const pagination = (
  kind: PaginationKind,
  page: number,
  limit: number,
  total: number
): Effect.Effect<Record<string, number | boolean>, never, Local> =>
  Effect.map(Local, ({ options }) => paginationOf(options, kind, page, limit, total))

/**
 * The one parser of integer query parameters (paging on every list): plain decimal digits only (no sign, exponent,
 * hex, fraction or blanks inside), within [min, max]; `undefined` otherwise.
 *
 * @since 0.1.0
 * @category requests
 */
export const parseIntParam = (raw: string, min: number, max: number): number | undefined => {
  const trimmed = raw.trim()
  if (!/^\d{1,10}$/.test(trimmed)) return undefined
  const n = Number(trimmed)
  return n >= min && n <= max ? n : undefined
}

/**
 * Parses `page` / `limit` query values (1-based page, limit clamped to [1, max]); invalid → 400 with `code`.
 *
 * @since 0.1.0
 * @category requests
 */
export const pageParams = (
  query: Readonly<Record<string, string>>,
  defaults: { readonly limit: number; readonly max: number },
  code: string
): Effect.Effect<{ page: number; limit: number }, ApiError> => {
  const parse = (raw: string | undefined, fallback: number, name: string) => {
    if (raw === undefined || raw === "") return Either.right(fallback)
    const n = parseIntParam(raw, 1, 1_000_000_000)
    return n !== undefined ? Either.right(n) : Either.left(`${name} must be a positive integer`)
  }
  const page = parse(query.page, 1, "page")
  const limit = parse(query.limit, defaults.limit, "limit")
  if (Either.isLeft(page)) return fail(400, code, page.left)
  if (Either.isLeft(limit)) return fail(400, code, limit.left)
  if (limit.right > defaults.max) return fail(400, code, `limit must be at most ${defaults.max}`)
  return Effect.succeed({ page: page.right, limit: limit.right })
}

// ---------------------------------------------------------------------------------------------------------------------
// Time and ids
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The only time source (TestClock-injectable).
 *
 * @since 0.1.0
 * @category time
 */
export const now: Effect.Effect<number> = Clock.currentTimeMillis

/**
 * @since 0.1.0
 * @category time
 */
export const iso = (millis: number): string => new Date(millis).toISOString()

/**
 * @since 0.1.0
 * @category ids
 */
export const uuid = (): string => crypto.randomUUID()

/**
 * 24-hex id (table rows).
 *
 * @since 0.1.0
 * @category ids
 */
export const hex24 = (): string => randomHex(12)

/**
 * Alias of `uuid` (users, sessions, files, invitations).
 *
 * @since 0.1.0
 * @category ids
 */
export const newId = uuid

/**
 * Opaque random token (url-safe).
 *
 * @since 0.1.0
 * @category ids
 */
export const randomToken = (bytes = 24): string => crypto.randomBytes(bytes).toString("base64url")

/**
 * @since 0.1.0
 * @category ids
 */
export const sha256Hex = (s: string): string => crypto.createHash("sha256").update(s).digest("hex")

// ---------------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category requests
 */
export type Area = "auth" | "data" | "users" | "files"

/**
 * @since 0.1.0
 * @category requests
 */
export interface Caller {
  readonly role: Role
  readonly keyKind: "pk" | "sk"
  readonly userId: string | undefined
  readonly sessionId: string | undefined
}

const unauthorizedCode = (area: Area): string =>
  area === "users" ? "user/unauthorized" : area === "files" ? "common/authentication-required" : "auth/unauthorized"

/**
 * Header lookup (Node lower-cases names).
 *
 * @since 0.1.0
 * @category requests
 */
export const header = (req: HttpServerRequest.HttpServerRequest, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()]
  return typeof v === "string" ? v : undefined
}

/**
 * Checks `X-API-Key`: missing → 400 `data/invalid-header` (area data) or 401 `auth/unauthorized`; unknown → 401.
 *
 * @since 0.1.0
 * @category requests
 */
export const apiKey = (area: Area): Effect.Effect<"pk" | "sk", ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const { state } = yield* Local
    const key = header(req, "x-api-key")
    if (key === undefined || key === "") {
      return area === "data"
        ? yield* fail(400, "data/invalid-header", "The X-API-Key header is required")
        : yield* fail(401, "auth/unauthorized", "The X-API-Key header is required")
    }
    if (key === state.keys.publishable) return "pk" as const
    if (key === state.keys.secret) return "sk" as const
    return yield* fail(401, "auth/unauthorized", "Invalid API key")
  })

/**
 * How finely a session's `lastActivityAt` follows its requests: at most one store write per session per minute.
 *
 * @since 0.1.0
 * @category requests
 */
export const ACTIVITY_RESOLUTION_MILLIS = 60_000

type Verified = Either.Either<
  { readonly user: UserRecord; readonly session: SessionRecord },
  { readonly code: "invalid" | "expired"; readonly message: string }
>

/**
 * Verifies an access token against the signing secret, expiry, and the stored session and user.
 *
 * @since 0.1.0
 * @category requests
 */
export const verifyAccessToken = (token: string, nowMillis: number): Effect.Effect<Verified, ApiError, Local> =>
  Effect.gen(function* () {
    const { state } = yield* Local
    const claims = Jwt.verify(token, state.signingSecret)
    if (claims === undefined || claims.typ !== "access") {
      return Either.left({ code: "invalid", message: "Invalid access token" } as const)
    }
    if (claims.exp * 1000 <= nowMillis)
      return Either.left({ code: "expired", message: "Access token expired" } as const)
    const session = Option.getOrUndefined(yield* stored((s) => s.sessions.get(claims.sid)))
    if (session === undefined || session.revokedAt !== undefined || session.userId !== claims.sub) {
      return Either.left({ code: "invalid", message: "Session is no longer active" } as const)
    }
    if (session.expiresAt <= nowMillis) return Either.left({ code: "expired", message: "Session expired" } as const)
    const user = Option.getOrUndefined(yield* stored((s) => s.users.get(claims.sub)))
    if (user === undefined || user.deletedAt !== undefined) {
      return Either.left({ code: "invalid", message: "User no longer exists" } as const)
    }
    return Either.right({ user, session })
  })

/**
 * The caller with the records its bearer token resolved to (none without a token).
 *
 * @since 0.1.0
 * @category requests
 */
export interface Authenticated {
  readonly caller: Caller
  readonly user: UserRecord | undefined
  readonly session: SessionRecord | undefined
}

/**
 * Resolves the caller and its records: key check first, then the bearer token. An invalid or expired token is a
 * 401, never downgraded to guest.
 *
 * @since 0.1.0
 * @category requests
 */
export const authenticate = (
  area: Area
): Effect.Effect<Authenticated, ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.gen(function* () {
    const keyKind = yield* apiKey(area)
    const req = yield* HttpServerRequest.HttpServerRequest
    const authorization = header(req, "authorization")
    if (authorization === undefined || authorization === "") {
      const role = keyKind === "sk" ? "admin" : "guest"
      return { caller: { role, keyKind, userId: undefined, sessionId: undefined }, user: undefined, session: undefined }
    }
    const match = /^Bearer (\S+)$/.exec(authorization)
    const areaCode = (code: string) => (area === "auth" || area === "data" ? code : unauthorizedCode(area))
    if (match === null || match[1] === undefined) {
      return yield* fail(401, areaCode("auth/invalid-token"), "Malformed Authorization header")
    }
    const t = yield* now
    const verified = yield* verifyAccessToken(match[1], t)
    if (Either.isLeft(verified)) {
      const code = verified.left.code === "expired" ? "auth/token-expired" : "auth/invalid-token"
      return yield* fail(401, areaCode(code), verified.left.message)
    }
    const { session, user } = verified.right
    if (t - session.lastActivityAt >= ACTIVITY_RESOLUTION_MILLIS) yield* stored((s) => s.sessions.touch(session.id, t))
    const role: Role = keyKind === "sk" ? "admin" : user.role
    return { caller: { role, keyKind, userId: user.id, sessionId: session.id }, user, session }
  })

/**
 * Resolves the caller (see `authenticate`).
 *
 * @since 0.1.0
 * @category requests
 */
export const caller = (area: Area): Effect.Effect<Caller, ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.map(authenticate(area), (a) => a.caller)

/**
 * Like `caller`, but 401 (area code) without a valid bearer token. An `sk_` key counts as authenticated for the
 * data and users areas (then `userId` may be undefined).
 *
 * @since 0.1.0
 * @category requests
 */
export const requireUser = (area: Area): Effect.Effect<Caller, ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.flatMap(caller(area), (c) => {
    if (c.userId !== undefined) return Effect.succeed(c)
    if (c.keyKind === "sk" && (area === "data" || area === "users")) return Effect.succeed(c)
    return fail(401, unauthorizedCode(area), "Authentication required")
  })

/**
 * Query-string parameters as a record (last value wins).
 *
 * @since 0.1.0
 * @category requests
 */
export const query: Effect.Effect<Record<string, string>, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (req) => {
    const out: Record<string, string> = {}
    const i = req.url.indexOf("?")
    if (i >= 0) {
      for (const [k, v] of new URLSearchParams(req.url.slice(i + 1))) out[k] = v
    }
    return out
  }
)

/**
 * Every value of a repeated query parameter.
 *
 * @since 0.1.0
 * @category requests
 */
export const queryAll = (
  name: string
): Effect.Effect<ReadonlyArray<string>, never, HttpServerRequest.HttpServerRequest> =>
  Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
    const i = req.url.indexOf("?")
    return i >= 0 ? new URLSearchParams(req.url.slice(i + 1)).getAll(name) : []
  })

const tooLarge = (): ApiError =>
  new ApiError({
    status: 413,
    code: "common/payload-too-large",
    message: "Request body too large",
    // the rest of the body is never read: the connection cannot carry another request
    headers: { connection: "close" }
  })

const unreadable = (): ApiError =>
  new ApiError({ status: 400, code: "common/invalid-parameters", message: "Could not read the request body" })

// Always a plain Uint8Array (a single node chunk is a Buffer: viewed, not copied)
const concatOnce = (chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  const only = chunks.length === 1 ? chunks[0] : undefined
  if (only !== undefined) return new Uint8Array(only.buffer, only.byteOffset, only.byteLength)
  const out = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

// One chunk of a node request body, `None` at its end. Paused-mode reads: bytes left unread stay in the socket, so
// a body is pulled only as fast as it is consumed, and stopping early never destroys the socket (a 413 can still be
// written).
const nodeChunk = (source: Readable): Effect.Effect<Uint8Array, Option.Option<ApiError>> =>
  Effect.async<Uint8Array, Option.Option<ApiError>>((resume) => {
    const cleanup = () => {
      source.off("readable", onReadable)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("aborted", onError)
    }
    const onReadable = () => {
      const chunk: unknown = source.read()
      if (chunk instanceof Uint8Array) {
        cleanup()
        resume(Effect.succeed(chunk))
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.fail(Option.none()))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(Option.some(unreadable())))
    }
    const ready: unknown = source.read()
    if (ready instanceof Uint8Array) return resume(Effect.succeed(ready))
    if (source.readableEnded) return resume(Effect.fail(Option.none()))
    source.on("readable", onReadable)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("aborted", onError)
    return Effect.sync(cleanup)
  })

/**
 * The request body as a stream of chunks, enforcing `limit` while the bytes arrive (413 `common/payload-too-large`
 * as soon as it is passed, or up front for a larger `Content-Length`). Bytes are read only as the stream is pulled.
 *
 * @since 0.1.0
 * @category requests
 */
export const bodyStream = (limit: number): Stream.Stream<Uint8Array, ApiError, HttpServerRequest.HttpServerRequest> =>
  Stream.unwrap(
    Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
      const declared = Number(header(req, "content-length") ?? "0")
      if (declared > limit) return Stream.fail(tooLarge())
      const source: unknown = req.source
      const chunks =
        source instanceof Readable
          ? Stream.repeatEffectOption(nodeChunk(source))
          : // in-process (web) requests: the platform stream
            Stream.catchTag(req.stream, "RequestError", () => Stream.fail(unreadable()))
      return Stream.mapAccumEffect(chunks, 0, (total, chunk) =>
        total + chunk.length > limit ? Effect.fail(tooLarge()) : Effect.succeed([total + chunk.length, chunk] as const)
      )
    })
  )

/**
 * Raw request body bytes in one buffer, read with `bodyStream` (the limit enforced while they arrive); memory stays
 * proportional to `limit`.
 *
 * @since 0.1.0
 * @category requests
 */
export const rawBody = (limit: number): Effect.Effect<Uint8Array, ApiError, HttpServerRequest.HttpServerRequest> =>
  Effect.map(Stream.runCollect(bodyStream(limit)), (chunks) => {
    const all = Chunk.toReadonlyArray(chunks)
    return concatOnce(
      all,
      all.reduce((n, c) => n + c.length, 0)
    )
  })

const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const parts = issues.slice(0, 3).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "body"
    return issue._tag === "Missing" ? `${path} is required` : `${path} is invalid`
  })
  return `Invalid request body: ${parts.join("; ")}`
}

// a NUL, or a surrogate without its pair
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding the NUL character is the point
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Whether a string holds what no storage engine keeps alike: a NUL character or an unpaired surrogate (PostgreSQL
 * refuses both in text and JSON, the memory engine would keep them).
 *
 * @since 0.1.0
 * @category requests
 */
export const unstorableText = (text: string): boolean => UNSTORABLE.test(text)

/**
 * Parses JSON text; `unstorable` tells whether a key or string in it is `unstorableText` (escapes such as `\u0000`
 * only become one when parsed).
 *
 * @since 0.1.0
 * @category requests
 */
export const parseJson = (text: string): { readonly value: unknown; readonly unstorable: boolean } => {
  let unstorable = false
  const value: unknown = JSON.parse(text, (key, v: unknown) => {
    if (unstorableText(key) || (typeof v === "string" && unstorableText(v))) unstorable = true
    return v
  })
  return { value, unstorable }
}

/**
 * The answer to a JSON text that `parseJson` found unstorable.
 *
 * @since 0.1.0
 * @category requests
 */
export const UNSTORABLE_MESSAGE = "JSON strings must not contain NUL characters or unpaired surrogates"

/**
 * Whether JSON text nests objects/arrays deeper than `max` (a linear scan that skips string contents), so a deep
 * document is refused before `JSON.parse` recurses into it.
 *
 * @since 0.1.0
 * @category requests
 */
export const jsonTooDeep = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/**
 * Parsed JSON of the request body (`undefined` when empty). Malformed JSON, invalid UTF-8 and documents nested
 * deeper than `maxJsonDepth` → 400 with `code`; bodies above `maxBodyBytes` → 413.
 *
 * @since 0.1.0
 * @category requests
 */
export const jsonBody = (code: string): Effect.Effect<unknown, ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.gen(function* () {
    const { options } = yield* Local
    const bytes = yield* rawBody(options.maxBodyBytes)
    let text: string
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return yield* fail(400, code, "The request body is not valid UTF-8")
    }
    if (text.trim() === "") return undefined
    if (jsonTooDeep(text, options.maxJsonDepth)) {
      return yield* fail(400, code, `JSON body nests deeper than ${options.maxJsonDepth} levels`)
    }
    let parsed: ReturnType<typeof parseJson>
    try {
      parsed = parseJson(text)
    } catch {
      return yield* fail(400, code, "Malformed JSON body")
    }
    return parsed.unstorable ? yield* fail(400, code, UNSTORABLE_MESSAGE) : parsed.value
  })

/**
 * Decodes the JSON body with a Schema; malformed JSON or a schema mismatch → 400 with `code`. Messages name the
 * failing fields but never echo values.
 *
 * @since 0.1.0
 * @category requests
 */
export const body = <A, I>(
  schema: Schema.Schema<A, I, never>,
  code: string
): Effect.Effect<A, ApiError, HttpServerRequest.HttpServerRequest | Local> =>
  Effect.flatMap(jsonBody(code), (json) => {
    if (json === undefined) return fail(400, code, "A JSON body is required")
    const decoded = Schema.decodeUnknownEither(schema)(json, { errors: "all", onExcessProperty: "ignore" })
    return Either.isLeft(decoded) ? fail(400, code, describeIssues(decoded.left)) : Effect.succeed(decoded.right)
  })

/**
 * Whether a host name or address is loopback (`localhost`, `127.0.0.0/8`, `::1`).
 *
 * @since 0.1.0
 * @category requests
 */
export const isLoopbackHost = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase()
  return h === "localhost" || h === "::1" || h === "::ffff:127.0.0.1" || /^127(\.\d{1,3}){3}$/.test(h)
}

/**
 * `http://host:port` of a socket address (IPv6 in brackets).
 *
 * @since 0.1.0
 * @category requests
 */
export const addressUrl = (address: { readonly host: string; readonly port: number }): string =>
  `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`

/**
 * Base URL for links: `options.baseUrl`, else the address the server listens on, else (in-process) the origin of
 * the absolute request URL. Never the Host header, which the client controls.
 *
 * @since 0.1.0
 * @category requests
 */
export const publicBaseUrl: Effect.Effect<string, never, HttpServerRequest.HttpServerRequest | Local> = Effect.gen(
  function* () {
    const { options, state } = yield* Local
    if (options.baseUrl !== undefined) return options.baseUrl.replace(/\/+$/, "")
    if (state.listening !== undefined) return addressUrl(state.listening)
    const req = yield* HttpServerRequest.HttpServerRequest
    // in-process (web) requests carry the absolute URL
    if (/^https?:\/\//.test(req.originalUrl)) return new URL(req.originalUrl).origin
    return "http://127.0.0.1"
  }
)

/**
 * Why a client-supplied callback URL (mailed links, redirects) is unsafe, if it is: it must be an absolute
 * `http(s)` URL with a host, without credentials, control characters (CR/LF), backslashes or blanks, and at most
 * 2048 characters.
 *
 * @since 0.1.0
 * @category requests
 */
export const callbackUrlProblem = (raw: string): string | undefined => {
  if (raw.length > 2048) return "callbackUrl must be at most 2048 characters"
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u0020\u007f\\]/.test(raw)) return "callbackUrl must not contain blanks, control characters or '\\'"
  if (!/^https?:\/\//i.test(raw)) return "callbackUrl must be an absolute http or https URL"
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return "callbackUrl must be an absolute http or https URL"
  }
  if (url.hostname === "") return "callbackUrl must name a host"
  if (url.username !== "" || url.password !== "") return "callbackUrl must not carry credentials"
  return undefined
}

/**
 * A callback URL field: a string accepted only when `callbackUrlProblem` finds nothing.
 *
 * @since 0.1.0
 * @category requests
 */
export const CallbackUrl = Schema.String.pipe(Schema.filter((s) => callbackUrlProblem(s) === undefined))

// ---------------------------------------------------------------------------------------------------------------------
// Users, passwords, sessions (shared by auth.ts and users.ts)
// ---------------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category users
 */
export const isEmail = (s: string): boolean => s.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s)

/**
 * @since 0.1.0
 * @category users
 */
export const normalizeEmail = (s: string): string => s.trim().toLowerCase()

/**
 * scrypt password hash (`salt:hash`, hex). Cost kept low: this is a test server.
 *
 * @since 0.1.0
 * @category users
 */
export const hashPassword = (password: string): string => {
  const salt = crypto.randomBytes(16)
  const hash = crypto.scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 })
  return `${salt.toString("hex")}:${hash.toString("hex")}`
}

/**
 * @since 0.1.0
 * @category users
 */
export const verifyPassword = (password: string, stored: string | undefined): boolean => {
  if (stored === undefined) return false
  const [saltHex, hashHex] = stored.split(":")
  if (saltHex === undefined || hashHex === undefined) return false
  const expected = Buffer.from(hashHex, "hex")
  const actual = crypto.scryptSync(password, Buffer.from(saltHex, "hex"), expected.length, { N: 1024, r: 8, p: 1 })
  return crypto.timingSafeEqual(expected, actual)
}

/**
 * Password policy check; returns a message on violation.
 *
 * @since 0.1.0
 * @category users
 */
export const passwordProblem = (options: LocalOptions, password: string): string | undefined => {
  if (options.passwordPolicy === "strict") {
    if (password.length < 8 || password.length > 128) return "Password must be 8 to 128 characters"
    if (
      !/[a-z]/.test(password) ||
      !/[A-Z]/.test(password) ||
      !/[0-9]/.test(password) ||
      !/[^A-Za-z0-9]/.test(password)
    ) {
      return "Password must contain upper and lower case letters, a digit and a special character"
    }
    return undefined
  }
  return password.length < 6 ? "Password must be at least 6 characters" : undefined
}

/**
 * The live user with this e-mail (normalized first).
 *
 * @since 0.1.0
 * @category users
 */
export const findUserByEmail = (email: string): Effect.Effect<UserRecord | undefined, ApiError, Local> =>
  Effect.map(
    stored((s) => s.users.getByEmail(normalizeEmail(email))),
    Option.getOrUndefined
  )

const emailTaken = () => fail(409, "auth/email-already-exists", "A user with this e-mail already exists")

/**
 * Creates and stores a user: 409 `auth/email-already-exists` when a live user has the e-mail.
 *
 * @since 0.1.0
 * @category users
 */
export const createUser = (input: NewUser, nowMillis: number): Effect.Effect<UserRecord, ApiError, Local> =>
  Effect.catchTag(
    stored((s) => s.users.insert(newUserRecord(input, nowMillis))),
    "DuplicateKey",
    emailTaken
  )

/**
 * The live user with the input's e-mail, or that user created now (`isNew`); a concurrent creation of the same
 * e-mail is read back instead of failing.
 *
 * @since 0.1.0
 * @category users
 */
export const findOrCreateUser = (
  input: NewUser,
  nowMillis: number
): Effect.Effect<{ readonly user: UserRecord; readonly isNew: boolean }, ApiError, Local> =>
  Effect.gen(function* () {
    const existing = yield* findUserByEmail(input.email)
    if (existing !== undefined) return { user: existing, isNew: false }
    const created = yield* stored((s) => s.users.insert(newUserRecord(input, nowMillis))).pipe(
      Effect.map(Option.some),
      Effect.catchTag("DuplicateKey", () => Effect.succeed(Option.none<UserRecord>()))
    )
    if (Option.isSome(created)) return { user: created.value, isNew: true }
    const raced = yield* findUserByEmail(input.email)
    return raced === undefined ? yield* emailTaken() : { user: raced, isNew: false }
  })

/**
 * Applies `f` to the stored user in one atomic step and stamps `updatedAt`: 404 `notFound` when the user is gone
 * (or deleted), 409 when the change would take another live user's e-mail. `f` may run more than once: keep it
 * free of effects.
 *
 * @since 0.1.0
 * @category users
 */
export const updateUser = (
  id: string,
  f: (user: UserRecord) => UserRecord,
  nowMillis: number,
  notFound: readonly [number, string] = [404, "user/not-found"]
): Effect.Effect<UserRecord, ApiError, Local> =>
  Effect.flatMap(
    Effect.catchTag(
      stored((s) =>
        s.users.update(id, (u) => (u.deletedAt !== undefined ? u : { ...f(u), updatedAt: iso(nowMillis) }))
      ),
      "DuplicateKey",
      emailTaken
    ),
    (user) =>
      Option.isSome(user) && user.value.deletedAt === undefined
        ? Effect.succeed(user.value)
        : fail(notFound[0], notFound[1], "User not found")
  )

/**
 * What a new user is made of.
 *
 * @since 0.1.0
 * @category users
 */
export interface NewUser {
  readonly email: string
  readonly name: string
  readonly role?: Role | undefined
  readonly password?: string | undefined
  readonly emailVerified?: boolean | undefined
  readonly image?: string | null | undefined
}

/**
 * A new user's record with every default, not stored anywhere yet.
 *
 * @since 0.1.0
 * @category users
 */
export const newUserRecord = (input: NewUser, nowMillis: number): UserRecord => {
  const at = iso(nowMillis)
  const email = normalizeEmail(input.email)
  const id = uuid()
  const user: UserRecord = {
    id,
    email,
    name: input.name,
    role: input.role ?? "user",
    passwordHash: input.password !== undefined ? hashPassword(input.password) : undefined,
    emailVerified: input.emailVerified === true ? at : null,
    image: input.image ?? null,
    nickname: null,
    mobile: null,
    gender: null,
    bio: null,
    socialLinks: null,
    preferences: { locale: null, timezone: null, theme: null },
    notifications: {
      service: true,
      marketing: false,
      push: true,
      email: true,
      sms: false,
      nightTime: false,
      securityAlerts: true
    },
    onboarding: { status: "pending" },
    publicSettings: { slug: null, isPublic: false },
    mfa: { enabled: false, secret: undefined, pendingSecret: undefined, backupCodes: [] },
    accounts:
      input.password !== undefined
        ? [{ id: uuid(), provider: "email", providerAccountId: email, email, connectedAt: at }]
        : [],
    organizationId: undefined,
    createdAt: at,
    updatedAt: at,
    deletedAt: undefined
  }
  return user
}

/**
 * The `User` shape of `GET /v1/auth/me` (plus `updatedAt`).
 *
 * @since 0.1.0
 * @category users
 */
export const userView = (u: UserRecord) => ({
  id: u.id,
  role: u.role,
  name: u.name,
  email: u.email,
  emailVerified: u.emailVerified,
  image: u.image,
  onboardingStatus: typeof u.onboarding.status === "string" ? u.onboarding.status : "pending",
  createdAt: u.createdAt,
  updatedAt: u.updatedAt
})

/**
 * Ends every active session of a user (their access and refresh tokens stop working); the number ended.
 *
 * @since 0.1.0
 * @category users
 */
export const revokeUserSessions = (userId: string, nowMillis: number): Effect.Effect<number, ApiError, Local> =>
  stored((s) => s.sessions.endAllForUser(userId, nowMillis))

/**
 * Soft-deletes a user, its sessions ended together: social links removed, the e-mail free again.
 *
 * @since 0.1.0
 * @category users
 */
export const softDeleteUser = (userId: string, nowMillis: number): Effect.Effect<void, ApiError, Local> =>
  Effect.asVoid(
    stored((s) =>
      s.users.softDelete(
        userId,
        (u) => ({
          ...u,
          deletedAt: iso(nowMillis),
          updatedAt: iso(nowMillis),
          accounts: u.accounts.filter((a) => a.provider === "email")
        }),
        nowMillis
      )
    )
  )

/**
 * Appends a mail to the outbox.
 *
 * @since 0.1.0
 * @category mail
 */
export const sendMail = (mail: Mail): Effect.Effect<void, ApiError, Local> => stored((s) => s.mail.send(mail))

/**
 * Adds one to a counter (see counters.ts for the names).
 *
 * @since 0.1.0
 * @category counters
 */
export const count = (name: string): Effect.Effect<void, ApiError, Local> =>
  Effect.asVoid(stored((s) => s.counters.bump(name)))
