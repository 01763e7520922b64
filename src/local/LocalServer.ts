/**
 * bkend-local: a wire-compatible bkend server, on the in-memory engine (tests and local development) or on
 * PostgreSQL.
 *
 * @since 0.1.0
 */
import {
  FetchHttpClient,
  HttpApp,
  HttpClient,
  HttpRouter,
  HttpServer,
  type HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import type { Redacted } from "effect"
import { Context, Data, Effect, Either, Layer, Runtime } from "effect"
import type { Server } from "node:http"
import { authRouter } from "./internal/auth.js"
import * as Blobs from "./internal/blobs.js"
import * as DiskBlobs from "./internal/blobs/disk.js"
import * as MemoryBlobs from "./internal/blobs/memory.js"
import * as CounterNames from "./internal/counters.js"
import { dataRouter } from "./internal/data.js"
import { filesRouter } from "./internal/files.js"
import { withHealth } from "./internal/health.js"
import * as K from "./internal/kernel.js"
import { handleErrors, middleware, RESET_MARKER } from "./internal/middleware.js"
import * as MemoryStore from "./internal/memory/MemoryStore.js"
import { drain, makeNodeServer } from "./internal/socket.js"
import { storageRouter } from "./internal/storage.js"
import { usersRouter } from "./internal/users.js"
import { type Service as StoreService, Store, type StoreError } from "./Store.js"

/**
 * Every option of the local server: wire variants, TTLs, tables, devMode, limits, faults, keys and more
 * (see `defaultOptions` for the defaults).
 *
 * @since 0.1.0
 * @category models
 */
export type LocalOptions = K.LocalOptions

/**
 * A mail the server would have sent (verification, reset, magic link, invitation), kept in its outbox.
 *
 * @since 0.1.0
 * @category models
 */
export type Mail = K.Mail

/**
 * What a mail in the outbox is for.
 *
 * @since 0.1.0
 * @category models
 */
export type MailKind = K.MailKind

/**
 * The server's counters: requests by route and status, sign-ins and sign-ups, refreshes, replays detected,
 * rate-limited requests and injected faults.
 *
 * @since 0.1.0
 * @category models
 */
export type Counters = K.Counters

/**
 * One injected fault: a route pattern and what happens to matching requests (an error status, a reset, a delay).
 *
 * @since 0.1.0
 * @category models
 */
export type FaultRule = K.FaultRule

/**
 * A snapshot could not be imported (bad JSON or not a bkend-local snapshot).
 *
 * @since 0.1.0
 * @category errors
 */
export class SnapshotError extends Data.TaggedError("SnapshotError")<{ readonly message: string }> {}

/**
 * A running bkend-local instance, on the in-memory engine (`make`) or on a store of its own (`makeOnStore`, e.g.
 * PostgreSQL).
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalServer {
  /** The HTTP app (serve it with `HttpServer.serve`, or use `toWebHandler` / `layerHttpClient`). */
  readonly app: HttpApp.Default
  readonly keys: { readonly publishable: string; readonly secret: string }
  readonly options: K.LocalOptions
  /** The storage the server keeps everything in (for seeding and inspecting in tests, on every engine). */
  readonly store: StoreService
  /** `memory`: the store is over `local.state` (snapshots work); `external`: a store of its own. */
  readonly engine: "memory" | "external"
  readonly outbox: {
    readonly all: Effect.Effect<ReadonlyArray<K.Mail>>
    /** The newest mail to `to` (optionally of one kind). */
    readonly latest: (to: string, kind?: K.MailKind) => Effect.Effect<K.Mail | undefined>
    readonly clear: Effect.Effect<void>
  }
  /** A copy of the counters (requests by route/status, refresh calls, replays detected, …). */
  readonly counters: Effect.Effect<K.Counters>
  readonly requestLog: Effect.Effect<ReadonlyArray<K.RequestLogEntry>>
  /** The whole state (users, sessions, tables, files, objects, keys) as JSON text (in-memory engine only). */
  readonly exportSnapshot: Effect.Effect<string, SnapshotError>
  readonly importSnapshot: (json: string) => Effect.Effect<void, SnapshotError>
  /** Raw access to options and this instance's state (on the in-memory engine, also the store's Maps). */
  readonly local: K.Local["Type"]
}

/**
 * The tag of a running local server, for tests that read its outbox, counters or state.
 *
 * @since 0.1.0
 * @category tags
 */
export class LocalServerTag extends Context.Tag("bkend-local/LocalServer")<LocalServerTag, LocalServer>() {}

// ---------------------------------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------------------------------

const SNAPSHOT_FORMAT = "bkend-local-snapshot"

const snapshotFields = [
  "keys",
  "signingSecret",
  "users",
  "sessions",
  "refreshTokens",
  "oneTimeTokens",
  "invitations",
  "outbox",
  "counters",
  "tables",
  "files",
  "objects",
  "uploads",
  "blobs",
  "storageSecret"
] as const

// `blobs` is missing from snapshots written before the bytes left the object records
type SnapshotState = Omit<Pick<K.LocalState, (typeof snapshotFields)[number]>, "blobs"> & { readonly blobs?: unknown }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

function replacer(this: unknown, key: string, value: unknown): unknown {
  const original: unknown = isRecord(this) ? this[key] : value
  if (original instanceof Map) return { $map: Array.from(original.entries()) }
  if (original instanceof Uint8Array) return { $bytes: Buffer.from(original).toString("base64") }
  return value
}

const reviver = (_key: string, value: unknown): unknown => {
  if (isRecord(value)) {
    if (Array.isArray(value.$map) && Object.keys(value).length === 1) return new Map(value.$map)
    if (typeof value.$bytes === "string" && Object.keys(value).length === 1) {
      return new Uint8Array(Buffer.from(value.$bytes, "base64"))
    }
  }
  return value
}

/**
 * Serialises the persistent parts of the state (not the request log, rate windows or fault counters).
 *
 * @since 0.1.0
 * @category snapshots
 */
export const snapshotOf = (state: K.LocalState, nowMillis: number): string => {
  const picked: Record<string, unknown> = {}
  for (const f of snapshotFields) picked[f] = state[f]
  return JSON.stringify({ format: SNAPSHOT_FORMAT, version: 1, exportedAt: K.iso(nowMillis), state: picked }, replacer)
}

const mapFields = [
  "users",
  "sessions",
  "refreshTokens",
  "oneTimeTokens",
  "invitations",
  "tables",
  "files",
  "objects",
  "uploads"
] as const

// A shallow structural check: enough to refuse foreign JSON; records are trusted to come from `snapshotOf`.
const isSnapshotState = (u: unknown): u is SnapshotState => {
  if (!isRecord(u)) return false
  for (const f of mapFields) if (!(u[f] instanceof Map)) return false
  const keys = u.keys
  return (
    isRecord(keys) &&
    typeof keys.publishable === "string" &&
    typeof keys.secret === "string" &&
    typeof u.signingSecret === "string" &&
    u.storageSecret instanceof Uint8Array &&
    Array.isArray(u.outbox) &&
    isRecord(u.counters)
  )
}

// Snapshots written before the bytes left the object records carry them inline: move them to the blobs.
const adoptInlineBytes = (state: K.LocalState): void => {
  for (const [key, object] of state.objects) {
    const bytes: unknown = Reflect.get(object, "bytes")
    if (!(bytes instanceof Uint8Array)) continue
    Either.map(Blobs.objectBlob(key), (version) => state.blobs.set(version(object.etag), bytes))
    const { contentType, etag, createdAt } = object
    state.objects.set(key, { key, size: bytes.length, contentType, etag, createdAt })
  }
  for (const upload of state.uploads.values()) {
    for (const [partNumber, part] of upload.parts) {
      const bytes: unknown = Reflect.get(part, "bytes")
      if (!(bytes instanceof Uint8Array)) continue
      state.blobs.set(Blobs.partBlob(upload.uploadId, partNumber, part.etag), bytes)
      upload.parts.set(partNumber, { partNumber, size: bytes.length, etag: part.etag })
    }
  }
}

/**
 * Replaces the state's persistent fields with a snapshot's (in place: running handlers see the new data).
 *
 * @since 0.1.0
 * @category snapshots
 */
export const restoreSnapshot = (state: K.LocalState, json: string): Effect.Effect<void, SnapshotError> =>
  Effect.suspend(() => {
    let parsed: unknown
    try {
      parsed = JSON.parse(json, reviver)
    } catch {
      return Effect.fail(new SnapshotError({ message: "Snapshot is not valid JSON" }))
    }
    if (!isRecord(parsed) || parsed.format !== SNAPSHOT_FORMAT || parsed.version !== 1) {
      return Effect.fail(new SnapshotError({ message: "Not a bkend-local snapshot (version 1)" }))
    }
    const s = parsed.state
    if (!isSnapshotState(s)) return Effect.fail(new SnapshotError({ message: "Snapshot state is incomplete" }))
    state.keys = s.keys
    state.signingSecret = s.signingSecret
    state.users = s.users
    state.sessions = s.sessions
    state.refreshTokens = s.refreshTokens
    state.oneTimeTokens = s.oneTimeTokens
    state.invitations = s.invitations
    state.outbox = s.outbox
    state.counters = { ...K.emptyCounters(), ...s.counters }
    state.tables = s.tables
    state.files = s.files
    state.objects = s.objects
    state.uploads = s.uploads
    state.blobs = s.blobs instanceof Map ? s.blobs : new Map()
    adoptInlineBytes(state)
    state.storageSecret = s.storageSecret
    return Effect.void
  })

// ---------------------------------------------------------------------------------------------------------------------
// Local-only routes
// ---------------------------------------------------------------------------------------------------------------------

const requireSecretKey = Effect.flatMap(K.apiKey("auth"), (kind) =>
  kind === "sk" ? Effect.void : K.fail(403, "auth/forbidden", "The secret (sk_) key is required")
)

/**
 * Whether `/_local/*` is served: per `localEndpoints`, by default only while bound to a loopback address (or
 * in-process).
 *
 * @since 0.1.0
 * @category local
 */
export const localEndpointsEnabled = (local: K.Local["Type"]): boolean => {
  switch (local.options.localEndpoints) {
    case "always":
      return true
    case "never":
      return false
    default:
      return local.state.listening === undefined || K.isLoopbackHost(local.state.listening.host)
  }
}

// Off: the routes do not exist (404). On: the secret key is required.
const localOnly = <A, R>(
  handler: Effect.Effect<A, K.ApiError, R>
): Effect.Effect<A, K.ApiError, R | K.Local | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(K.Local, (local) =>
    localEndpointsEnabled(local)
      ? Effect.zipRight(requireSecretKey, handler)
      : K.fail(404, "common/not-found", "Route not found")
  )

const noSnapshots = K.fail(400, "common/invalid-parameters", "Snapshots are a feature of the in-memory engine")

const memoryOnly = <A, R>(handler: Effect.Effect<A, K.ApiError, R>): Effect.Effect<A, K.ApiError, R | K.Local> =>
  Effect.flatMap(K.Local, (local) => (local.engine === "memory" ? handler : noSnapshots))

const localRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/_local/outbox",
    localOnly(
      Effect.gen(function* () {
        const q = yield* K.query
        const items = (yield* K.stored((store) => store.mail.list)).filter(
          (m) => (q.to === undefined || m.to === K.normalizeEmail(q.to)) && (q.kind === undefined || m.kind === q.kind)
        )
        return HttpServerResponse.unsafeJson({ items })
      })
    )
  ),
  HttpRouter.get(
    "/_local/counters",
    localOnly(
      Effect.map(
        K.stored((store) => store.counters.all),
        (all) => HttpServerResponse.unsafeJson(CounterNames.fromFlat(all))
      )
    )
  ),
  HttpRouter.get(
    "/_local/snapshot",
    localOnly(
      memoryOnly(
        Effect.gen(function* () {
          const { state } = yield* K.Local
          return HttpServerResponse.text(snapshotOf(state, yield* K.now), { contentType: "application/json" })
        })
      )
    )
  ),
  HttpRouter.post(
    "/_local/snapshot",
    localOnly(
      memoryOnly(
        Effect.gen(function* () {
          const { state, options } = yield* K.Local
          const bytes = yield* K.rawBody(Math.max(options.maxBodyBytes, options.maxUploadBytes))
          yield* Effect.mapError(
            restoreSnapshot(state, new TextDecoder().decode(bytes)),
            (e) => new K.ApiError({ status: 400, code: "common/invalid-parameters", message: e.message })
          )
          return HttpServerResponse.unsafeJson({ imported: true })
        })
      )
    )
  )
)

// ---------------------------------------------------------------------------------------------------------------------
// Assembly
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Every route of the server, unrendered errors included.
 *
 * @since 0.1.0
 * @category routers
 */
export const router: HttpRouter.HttpRouter<K.ApiError, K.Local | Blobs.Blobs> = HttpRouter.concatAll(
  authRouter,
  usersRouter,
  filesRouter,
  storageRouter,
  localRouter,
  // last: its shorthand `/v1/:table` routes only get what the fixed prefixes above do not claim
  dataRouter
)

const latestMail = (mails: ReadonlyArray<K.Mail>, to: string, kind: K.MailKind | undefined) => {
  const email = K.normalizeEmail(to)
  for (let i = mails.length - 1; i >= 0; i--) {
    const m = mails[i]
    if (m !== undefined && m.to === email && (kind === undefined || m.kind === kind)) return m
  }
  return undefined
}

/** The state's keys as a candidate for the store, and the stored keys applied to the state (fixed keys win). */
const adoptKeys = (store: StoreService, state: K.LocalState, options: K.LocalOptions) =>
  Effect.map(
    store.keys.ensure({
      publishable: state.keys.publishable,
      secret: state.keys.secret,
      signingSecret: state.signingSecret,
      storageSecret: Buffer.from(state.storageSecret).toString("hex")
    }),
    (keys) => {
      state.keys = {
        publishable: options.publishableKey ?? keys.publishable,
        secret: options.secretKey ?? keys.secret
      }
      state.signingSecret = keys.signingSecret
      state.storageSecret = new Uint8Array(Buffer.from(keys.storageSecret, "hex"))
    }
  )

const assemble = (
  resolved: K.LocalOptions,
  state: K.LocalState,
  store: StoreService,
  engine: "memory" | "external"
): LocalServer => {
  const local = K.makeLocal(resolved, state, store, engine)
  const blobs = resolved.filesDir === undefined ? MemoryBlobs.make(state) : DiskBlobs.make(resolved.filesDir)
  // the outer handleErrors turns a defect in the middleware itself into a 500 envelope too
  const app: HttpApp.Default = withHealth(store, handleErrors(middleware(handleErrors(router)))).pipe(
    Effect.provideService(K.Local, local),
    Effect.provideService(Blobs.Blobs, blobs)
  )
  const snapshots = <A>(f: Effect.Effect<A, SnapshotError>) =>
    engine === "memory"
      ? f
      : Effect.fail(new SnapshotError({ message: "Snapshots are a feature of the in-memory engine" }))
  return {
    app,
    get keys() {
      return state.keys
    },
    options: resolved,
    store,
    engine,
    outbox: {
      all: Effect.orDie(store.mail.list),
      latest: (to, kind) => Effect.map(Effect.orDie(store.mail.list), (mails) => latestMail(mails, to, kind)),
      clear: Effect.orDie(store.mail.clear)
    },
    counters: Effect.map(Effect.orDie(store.counters.all), CounterNames.fromFlat),
    requestLog: Effect.sync(() => state.requestLog.slice()),
    exportSnapshot: snapshots(Effect.map(K.now, (t) => snapshotOf(state, t))),
    importSnapshot: (json) =>
      snapshots(
        Effect.tap(restoreSnapshot(state, json), () =>
          Effect.sync(() => {
            if (resolved.publishableKey !== undefined) state.keys.publishable = resolved.publishableKey
            if (resolved.secretKey !== undefined) state.keys.secret = resolved.secretKey
          })
        )
      ),
    local
  }
}

/**
 * Builds a server on the in-memory engine. Nothing listens: serve `app` yourself, or use `layerNode`,
 * `toWebHandler`, `layerHttpClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Partial<K.LocalOptions>): Effect.Effect<LocalServer> =>
  Effect.sync(() => {
    const resolved = K.resolveOptions(options)
    const state = K.makeState(resolved)
    return assemble(resolved, state, MemoryStore.make(state), "memory")
  })

/**
 * Builds a server on the `Store` in the context (e.g. `PgStore.layerFromUrl`). Its keys and signing secrets come
 * from the store (stored on first start), so a restart, or another instance on the same database, uses the same
 * ones; fixed `publishableKey` / `secretKey` options still win.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeOnStore = (options?: Partial<K.LocalOptions>): Effect.Effect<LocalServer, StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const resolved = K.resolveOptions(options)
    const state = K.makeState(resolved)
    yield* adoptKeys(store, state, resolved)
    return assemble(resolved, state, store, "external")
  })

/**
 * A fresh local server under {@link LocalServerTag}, without a socket (serve it, or use `layerHttpClient`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Partial<K.LocalOptions>): Layer.Layer<LocalServerTag> =>
  Layer.effect(LocalServerTag, make(options))

/**
 * A server on the `Store` the layer is given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOnStore = (options?: Partial<K.LocalOptions>): Layer.Layer<LocalServerTag, StoreError, Store> =>
  Layer.effect(LocalServerTag, makeOnStore(options))

/**
 * A server on the PostgreSQL database at `databaseUrl` (migrated on start), with its own connection pool. The
 * PostgreSQL driver is loaded only when this layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPg = (
  databaseUrl: string | Redacted.Redacted<string>,
  options?: Partial<K.LocalOptions>
): Layer.Layer<LocalServerTag, StoreError> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("./internal/pg/PgStore.js")),
      (PgStore) => layerOnStore(options).pipe(Layer.provide(PgStore.layerFromUrl(databaseUrl)))
    )
  )

/**
 * A Fetch-style handler running the server in-process. An injected "reset" fault rejects like a network error.
 * Handlers run on `runtime` (default: the default runtime); pass `yield* Effect.runtime<never>()` to run them on
 * the caller's services, e.g. a TestClock.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toWebHandler = (
  server: LocalServer,
  runtime: Runtime.Runtime<never> = Runtime.defaultRuntime
): ((request: Request) => Promise<Response>) => {
  const handler = HttpApp.toWebHandlerRuntime(runtime)(server.app)
  return async (request) => {
    const response = await handler(request)
    if (response.headers.has(RESET_MARKER)) throw new TypeError("fetch failed: connection reset (injected fault)")
    return response
  }
}

/**
 * Base URL to use with `layerHttpClient` (any absolute URL works; links in mails and presigned URLs use it).
 *
 * @since 0.1.0
 * @category constants
 */
export const inProcessBaseUrl = "http://bkend.local"

/**
 * An `HttpClient` that dispatches every request to the server in-process (no socket). Requests need an absolute
 * URL (e.g. `inProcessBaseUrl`). The server's handlers run with the services of the fiber that builds the layer
 * (so a TestClock there is the server's clock too).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient = (server: LocalServer): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function* () {
      const handler = toWebHandler(server, yield* Effect.runtime<never>())
      const fetchImpl: typeof globalThis.fetch = (input, init) => handler(new Request(input, init))
      const client = yield* HttpClient.HttpClient
      return client.pipe(HttpClient.transformResponse(Effect.provideService(FetchHttpClient.Fetch, fetchImpl)))
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * Serves a server on a real socket with `@effect/platform-node` (loaded lazily, so the in-process path never
 * needs it). Port 0 picks a free port; read it with `HttpServer.addressWith`. The socket server applies the
 * header/request/keep-alive/idle timeouts and the header-size limit of the server's options; the bound address
 * becomes the default base URL for links and decides whether the local-only endpoints are served. Closing the layer
 * drains the server: it stops accepting connections and waits up to `shutdownTimeoutMillis` for the requests in
 * flight.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNodeServer = (
  server: LocalServer,
  listen: { readonly port: number; readonly host?: string | undefined }
): Layer.Layer<HttpServer.HttpServer, unknown> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@effect/platform-node/NodeHttpServer")),
      (NodeHttpServer) => {
        const host = listen.host ?? "127.0.0.1"
        const recordAddress = Layer.effectDiscard(
          HttpServer.addressWith((a) =>
            Effect.sync(() => {
              server.local.state.listening = { host, port: a._tag === "TcpAddress" ? a.port : listen.port }
            })
          )
        )
        let node: Server | undefined
        const nodeServer = NodeHttpServer.layer(
          () => {
            node = makeNodeServer(server.options)
            return node
          },
          { port: listen.port, host }
        )
        // built last, so released first: requests in flight finish while the app still serves them
        const drainOnClose = Layer.scopedDiscard(
          Effect.addFinalizer(() =>
            node === undefined ? Effect.void : drain(node, server.options.shutdownTimeoutMillis)
          )
        )
        return drainOnClose.pipe(
          Layer.provideMerge(HttpServer.serve(server.app).pipe(Layer.merge(recordAddress))),
          Layer.provideMerge(nodeServer)
        )
      }
    )
  )

/**
 * Builds a server and serves it on a socket; provides both the `LocalServerTag` and the `HttpServer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode = (
  options: Partial<K.LocalOptions> & { readonly port: number; readonly host?: string | undefined }
): Layer.Layer<LocalServerTag | HttpServer.HttpServer, unknown> => {
  const { port, host, ...rest } = options
  return Layer.unwrapEffect(
    Effect.map(make(rest), (server) =>
      Layer.merge(Layer.succeed(LocalServerTag, server), layerNodeServer(server, { port, host }))
    )
  )
}

/**
 * `http://host:port` of the served server.
 *
 * @since 0.1.0
 * @category accessors
 */
export const serverUrl: Effect.Effect<string, never, HttpServer.HttpServer> = HttpServer.addressWith((a) =>
  Effect.succeed(a._tag === "TcpAddress" ? `http://${a.hostname}:${a.port}` : "")
)
