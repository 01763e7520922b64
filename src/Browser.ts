/**
 * The SDK in a browser: the session in `localStorage`, refreshes serialised across tabs with Web Locks, and
 * tabs that follow each other's sign-in, refresh and sign-out.
 *
 * ```ts
 * const runtime = ManagedRuntime.make(Browser.layer({ apiKey: Redacted.make("pk_…"), baseUrl }))
 * ```
 *
 * Only web APIs are used here (`fetch`, `localStorage`, `navigator.locks`, the `storage` event).
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { Clock, Duration, Effect, FiberRef, Layer, Option, Redacted, Runtime } from "effect"
import * as BkendClient from "./BkendClient.js"
import type * as BkendError from "./BkendError.js"
import * as Session from "./Session.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface StorageOptions {
  /** the `localStorage` key of the session (default `"bkend-effect/session"`) */
  readonly key?: string | undefined
  /** the `Storage` to use (default `() => localStorage`) */
  readonly storage?: (() => Storage) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LockOptions {
  /** the Web Locks name (default `"bkend-effect/refresh"`); tabs of one origin sharing it refresh one at a time */
  readonly name?: string | undefined
  /**
   * how long to wait for another tab's refresh before refreshing without the cross-tab lock (default 35 s:
   * longer than the client's default 30 s per-attempt timeout, so a live holder finishes first)
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends BkendClient.Options {
  readonly storage?: StorageOptions | undefined
  readonly lock?: LockOptions | undefined
}

const DEFAULT_KEY = "bkend-effect/session"
const DEFAULT_LOCK_NAME = "bkend-effect/refresh"
const DEFAULT_LOCK_TIMEOUT = Duration.seconds(35)

/**
 * Set while this tab adopts a change another tab made: the session is already in `localStorage`, so writing it
 * back (or clearing it) would only race with that tab.
 */
const adopting = /* @__PURE__ */ FiberRef.unsafeMake(false)

interface LockManagerLike {
  readonly request: (
    name: string,
    options: { readonly signal: AbortSignal },
    callback: () => Promise<void>
  ) => Promise<unknown>
}

const webLocks = (): LockManagerLike | undefined => {
  const nav: unknown = typeof navigator === "undefined" ? undefined : navigator
  if (typeof nav !== "object" || nav === null || !("locks" in nav)) return undefined
  const locks: unknown = nav.locks
  if (typeof locks !== "object" || locks === null || !("request" in locks)) return undefined
  const request = locks.request
  if (typeof request !== "function") return undefined
  return { request: (name, options, callback) => request.call(locks, name, options, callback) }
}

/**
 * Waits for the named Web Lock. Resolves with its release function, or with `undefined` when the wait timed
 * out. Interrupting the wait aborts the request (and releases the lock if it was granted meanwhile).
 */
const acquire = (locks: LockManagerLike, name: string, timeout: Duration.Duration) =>
  Effect.async<(() => void) | undefined>((resume) => {
    const controller = new AbortController()
    let cancelled = false
    let release: (() => void) | undefined
    const timer = setTimeout(() => controller.abort(), Duration.toMillis(timeout))
    locks
      .request(
        name,
        { signal: controller.signal },
        () =>
          new Promise<void>((resolve) => {
            clearTimeout(timer)
            if (cancelled) return resolve()
            release = () => resolve()
            resume(Effect.succeed(release))
          })
      )
      .catch(() => {
        // aborted by the timeout (or refused): continue without the cross-tab lock
        clearTimeout(timer)
        if (!cancelled && release === undefined) resume(Effect.succeed(undefined))
      })
    return Effect.sync(() => {
      cancelled = true
      clearTimeout(timer)
      controller.abort()
      release?.()
    })
  })

/**
 * A {@link Session.RefreshLock} on Web Locks: one refresh at a time across every tab of the origin.
 *
 * The wait is bounded (`timeout`) so a tab whose refresh hangs cannot stall the others for ever. When it
 * elapses, the refresh goes ahead under the client's in-process gate only. That is still safe because the client
 * re-reads the stored session first: if the holder has finished, its rotated token is adopted and nothing is
 * spent. Only a holder still waiting on the network after the timeout can overlap; then the server sees the same
 * refresh token twice and, by its replay rule, ends the user's sessions — the failure is a sign-out, never two
 * live sessions or a leaked token.
 *
 * Where `navigator.locks` is missing (older browsers, insecure origins, workers without it) there is no cross-tab
 * lock: the in-process single-flight gate and the re-read of the store remain.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshLock = (options?: LockOptions): Session.RefreshLock["Type"] => {
  const locks = webLocks()
  if (locks === undefined) return { withLock: (self) => self }
  const name = options?.name ?? DEFAULT_LOCK_NAME
  const timeout = options?.timeout === undefined ? DEFAULT_LOCK_TIMEOUT : Duration.decode(options.timeout)
  return {
    withLock: (self) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(acquire(locks, name, timeout)), (release) =>
          release === undefined
            ? Effect.zipRight(
                Effect.logWarning(
                  "bkend-effect: the cross-tab refresh lock was not granted in time; refreshing under the in-process gate"
                ).pipe(Effect.annotateLogs({ lock: name, timeoutMillis: Duration.toMillis(timeout) })),
                restore(self)
              )
            : Effect.ensuring(
                restore(self),
                Effect.sync(() => release())
              )
        )
      )
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerRefreshLock = (options?: LockOptions): Layer.Layer<Session.RefreshLock> =>
  Layer.sync(Session.RefreshLock, () => makeRefreshLock(options))

/**
 * A {@link Session.TokenStore} in `localStorage` (through `KeyValueStore.layerStorage`). Every `get` reads
 * storage, so the client's refresh path sees what other tabs wrote.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTokenStore = (options?: StorageOptions): Layer.Layer<Session.TokenStore> =>
  Layer.effect(
    Session.TokenStore,
    Effect.map(Session.makeKeyValueStore({ key: options?.key ?? DEFAULT_KEY }), (store) =>
      Session.TokenStore.of({
        get: store.get,
        set: (session) => Effect.flatMap(FiberRef.get(adopting), (skip) => (skip ? Effect.void : store.set(session))),
        clear: Effect.flatMap(FiberRef.get(adopting), (skip) => (skip ? Effect.void : store.clear))
      })
    )
  ).pipe(Layer.provide(KeyValueStore.layerStorage(options?.storage ?? (() => localStorage))))

const sameTokens = (a: Session.Session, b: Session.Session) =>
  Redacted.value(a.accessToken) === Redacted.value(b.accessToken) &&
  Redacted.value(a.refreshToken) === Redacted.value(b.refreshToken)

/**
 * Follows the other tabs: on a `storage` event for the session key, the client adopts what is stored now — a
 * session another tab signed in or refreshed, or no session after another tab signed out (the client then
 * emits `SignedOut` with reason `"cleared"`). Adopting never writes to storage. Use it with
 * {@link layerTokenStore} and the same `key`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSync = (options?: StorageOptions): Layer.Layer<never, never, BkendClient.BkendClient> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const client = yield* BkendClient.BkendClient
      const key = options?.key ?? DEFAULT_KEY
      const storage = (options?.storage ?? (() => localStorage))()
      const stored = yield* Session.makeKeyValueStore({ key }).pipe(
        Effect.provide(KeyValueStore.layerStorage(() => storage))
      )
      const serial = yield* Effect.makeSemaphore(1)
      const follow = serial.withPermits(1)(
        Effect.gen(function* () {
          const next = yield* stored.get
          const current = yield* client.session
          if (Option.isNone(next)) {
            if (Option.isSome(current)) yield* client.clearSession("cleared")
            return
          }
          if (Option.isSome(current) && sameTokens(current.value, next.value)) return
          const session = next.value
          const now = yield* Clock.currentTimeMillis
          yield* client.setTokens({
            accessToken: Redacted.value(session.accessToken),
            refreshToken: Redacted.value(session.refreshToken),
            tokenType: session.tokenType,
            expiresIn: (session.expiresAt - now) / 1000
          })
        }).pipe(Effect.locally(adopting, true))
      )
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const onStorage = (event: StorageEvent) => {
        // key null: the whole storage was cleared
        if (event.storageArea === storage && (event.key === key || event.key === null)) runFork(follow)
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => addEventListener("storage", onStorage)),
        () => Effect.sync(() => removeEventListener("storage", onStorage))
      )
    })
  )

/**
 * Everything a browser app needs: `BkendClient` over `fetch`, the session in `localStorage`, refreshes
 * serialised across tabs with Web Locks, and sign-in / refresh / sign-out followed across tabs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BkendClient.BkendClient, BkendError.InvalidConfig> => {
  const { storage, lock, ...clientOptions } = options
  const client = BkendClient.layer(clientOptions).pipe(
    Layer.provide(Layer.mergeAll(FetchHttpClient.layer, layerTokenStore(storage), layerRefreshLock(lock)))
  )
  return layerSync(storage).pipe(Layer.provideMerge(client))
}
