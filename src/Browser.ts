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
import type * as HttpClient from "@effect/platform/HttpClient"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { Duration, Effect, Layer, Runtime, type Scope } from "effect"
import * as BkendClient from "./BkendClient.js"
import type * as BkendError from "./BkendError.js"
import * as Session from "./Session.js"

/**
 * Where a browser keeps the session: the `localStorage` key, or another `Storage`.
 *
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
 * How tabs share one refresh through Web Locks: the lock's name and how long a tab waits for another.
 *
 * @since 0.1.0
 * @category models
 */
export interface LockOptions {
  /** the Web Locks name (default `"bkend-effect/refresh"`); tabs of one origin sharing it refresh one at a time */
  readonly name?: string | undefined
  /**
   * how long a tab waits for another tab's refresh (default 35 s). A tab that stops waiting does not refresh: the
   * lock fails with `Session.RefreshLockTimeout` and the refresh token is left to the tab holding the lock. The
   * client keeps its own refresh budget below this wait, so a live holder has finished or given up first.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * after waiting for another tab's lock, how long to wait for that tab's session write to reach this tab
   * (default 1 s; it normally arrives within milliseconds, later on a loaded machine, see {@link makeRefreshLock})
   */
  readonly settle?: Duration.DurationInput | undefined
}

/**
 * The client's options plus where the session is stored and how tabs lock refreshes.
 *
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
const DEFAULT_SETTLE = Duration.seconds(1)
/** writes reach other tabs in about a millisecond (12 ms at worst measured under load in headless Chromium) */
const HANDOFF_GRACE_MILLIS = 100

interface LockManagerLike {
  readonly request: (
    name: string,
    options: { readonly signal?: AbortSignal; readonly ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>
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

interface Granted {
  readonly release: () => void
  /** another tab held the lock when this one asked for it */
  readonly waited: boolean
  /** settles once the browser has processed the release */
  readonly released: Promise<unknown>
}

/**
 * Takes the named Web Lock: at once when it is free, otherwise waits at most `timeout`. Resolves with the grant,
 * or with `undefined` when the wait timed out. Interrupting the wait aborts the request (and releases the lock if
 * it was granted meanwhile).
 */
const acquire = (locks: LockManagerLike, name: string, timeout: Duration.Duration) =>
  Effect.async<Granted | undefined>((resume) => {
    const controller = new AbortController()
    let cancelled = false
    let release: (() => void) | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    let released: Promise<unknown> = Promise.resolve()
    const hold = (waited: boolean) =>
      new Promise<void>((resolve) => {
        clearTimeout(timer)
        if (cancelled) return resolve()
        release = () => resolve()
        resume(Effect.succeed({ release, waited, released }))
      })
    // a request promise settles after its lock is released
    released = locks
      .request(name, { ifAvailable: true }, (lock) => (lock === null ? Promise.resolve("busy") : hold(false)))
      .then((first) => {
        if (first !== "busy" || cancelled) return
        timer = setTimeout(() => controller.abort(), Duration.toMillis(timeout))
        return locks.request(name, { signal: controller.signal }, () => hold(true))
      })
      .catch(() => {
        // aborted by the timeout (or refused): not granted, and the caller must not refresh
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
 * Browsers propagate `localStorage` writes to other tabs asynchronously (Chromium keeps a copy per renderer
 * process), so the lock alone does not guarantee that the next holder reads what the previous one wrote. When
 * this tab had to wait for the lock, it therefore also waits (at most `settle`) until a `storage` event for the
 * session key has arrived since it started waiting — the previous holder's write — before the client re-reads
 * the store. A holder that rotated nothing costs the next one that bounded pause. A holder that did write keeps
 * the lock 100 ms longer, so a tab asking just after the write queues behind it (and waits for the write) rather
 * than finding the lock free and reading a copy the write has not reached yet; a tab asking later than that
 * reads storage long after writes normally arrive (about a millisecond; 12 ms was the worst measured under load).
 *
 * The wait for the lock is bounded too (`timeout`), so a tab whose refresh hangs cannot stall the others for
 * ever. When it elapses, this tab does not refresh at all: `withLock` fails with `Session.RefreshLockTimeout`
 * without running the refresh, because the holder may still be using the refresh token (a refresh held by 429
 * retries, say), and a second use of it would make the server end every session of the user. The session is kept
 * as it is; once the holder writes its rotated session, this tab adopts it through the `storage` event
 * ({@link layerSync}, part of {@link provide} and {@link layer}).
 *
 * Where `navigator.locks` is missing (older browsers, insecure origins, workers without it) there is no cross-tab
 * lock: the in-process single-flight gate and the re-read of the store remain.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshLock = (
  options?: LockOptions,
  storageOptions?: StorageOptions
): Effect.Effect<Session.RefreshLock["Type"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const locks = webLocks()
    if (locks === undefined) return { waitTimeout: Duration.infinity, withLock: (self) => self }
    const name = options?.name ?? DEFAULT_LOCK_NAME
    const timeout = options?.timeout === undefined ? DEFAULT_LOCK_TIMEOUT : Duration.decode(options.timeout)
    const settle = options?.settle === undefined ? DEFAULT_SETTLE : Duration.decode(options.settle)
    const key = storageOptions?.key ?? DEFAULT_KEY
    const storage = (storageOptions?.storage ?? (() => localStorage))()

    // storage events for the session key seen so far, and who waits for the next one
    let writes = 0
    const waiters = new Set<() => void>()
    const onStorage = (event: StorageEvent) => {
      if (event.storageArea !== storage || (event.key !== key && event.key !== null)) return
      writes++
      for (const wake of waiters) wake()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => addEventListener("storage", onStorage)),
      () => Effect.sync(() => removeEventListener("storage", onStorage))
    )
    const writeSince = (seen: number) =>
      Effect.async<void>((resume) => {
        if (writes > seen) return resume(Effect.void)
        const wake = () => {
          clearTimeout(timer)
          waiters.delete(wake)
          resume(Effect.void)
        }
        const timer = setTimeout(wake, Duration.toMillis(settle))
        waiters.add(wake)
        return Effect.sync(() => {
          clearTimeout(timer)
          waiters.delete(wake)
        })
      })

    const readStored = () => {
      try {
        return storage.getItem(key)
      } catch {
        return null
      }
    }
    // this tab's last lock request (settled once its release went through), and a lock kept after a write
    let previous: Promise<unknown> = Promise.resolve()
    let kept: { readonly granted: Granted; readonly timer: ReturnType<typeof setTimeout> } | undefined

    const take = (restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>) =>
      Effect.gen(function* () {
        if (kept !== undefined) {
          // still held after this tab's own write: nobody else can have written since
          clearTimeout(kept.timer)
          const granted = kept.granted
          kept = undefined
          return { ...granted, waited: false }
        }
        // until the browser has processed this tab's own release, "busy" could mean this tab itself
        yield* restore(Effect.promise(() => previous))
        const seen = writes
        const granted = yield* restore(acquire(locks, name, timeout))
        if (granted === undefined) return undefined
        previous = granted.released
        if (granted.waited) yield* restore(writeSince(seen))
        return granted
      })

    const withLock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const granted = yield* take(restore)
          if (granted === undefined) {
            // never spend the refresh token without the lock: the holder may still be using it
            yield* Effect.logWarning(
              "bkend-effect: the cross-tab refresh lock was not granted in time; not refreshing"
            ).pipe(Effect.annotateLogs({ lock: name, timeoutMillis: Duration.toMillis(timeout) }))
            return yield* new Session.RefreshLockTimeout({ waitedMillis: Duration.toMillis(timeout) })
          }
          const before = readStored()
          return yield* restore(self).pipe(
            Effect.ensuring(
              Effect.sync(() => {
                if (readStored() === before) return granted.release()
                // after a write, keep the lock a moment: a tab asking now queues (and then waits for the write to
                // arrive) instead of finding the lock free and reading its stale copy
                const timer = setTimeout(() => {
                  if (kept?.granted === granted) kept = undefined
                  granted.release()
                }, HANDOFF_GRACE_MILLIS)
                kept = { granted, timer }
              })
            )
          )
        })
      )
    return { waitTimeout: timeout, withLock } satisfies Session.RefreshLock["Type"]
  })

/**
 * The cross-tab refresh lock alone, for a client whose session store is set up separately.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRefreshLock = (
  options?: LockOptions,
  storageOptions?: StorageOptions
): Layer.Layer<Session.RefreshLock> => Layer.scoped(Session.RefreshLock, makeRefreshLock(options, storageOptions))

/**
 * A {@link Session.TokenStore} in `localStorage` (through `KeyValueStore.layerStorage`). Every `get` reads
 * storage, so the client's refresh path sees what other tabs wrote.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTokenStore = (options?: StorageOptions): Layer.Layer<Session.TokenStore> =>
  Layer.effect(Session.TokenStore, Session.makeKeyValueStore({ key: options?.key ?? DEFAULT_KEY })).pipe(
    Layer.provide(KeyValueStore.layerStorage(options?.storage ?? (() => localStorage)))
  )

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
      // adopting never writes to storage: the session there is already the other tab's
      const follow = serial.withPermits(1)(Effect.flatMap(stored.get, client.adopt))
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
 * The browser context for the client: `fetch`, the session in `localStorage` and the Web Locks refresh lock.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerContext = (options?: {
  readonly storage?: StorageOptions | undefined
  readonly lock?: LockOptions | undefined
}): Layer.Layer<HttpClient.HttpClient | Session.TokenStore | Session.RefreshLock> =>
  Layer.mergeAll(
    FetchHttpClient.layer,
    layerTokenStore(options?.storage),
    layerRefreshLock(options?.lock, options?.storage)
  )

/**
 * Runs any layer that builds the `BkendClient` in the browser: provides {@link layerContext} and adds
 * {@link layerSync}. For the whole SDK: `Browser.provide(Bkend.layer({ apiKey, baseUrl }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const provide = <A, E, R>(
  self: Layer.Layer<A | BkendClient.BkendClient, E, R>,
  options?: { readonly storage?: StorageOptions | undefined; readonly lock?: LockOptions | undefined }
): Layer.Layer<
  A | BkendClient.BkendClient,
  E,
  Exclude<R, HttpClient.HttpClient | Session.TokenStore | Session.RefreshLock>
> => layerSync(options?.storage).pipe(Layer.provideMerge(self), Layer.provide(layerContext(options)))

/**
 * Everything a browser app needs: `BkendClient` over `fetch`, the session in `localStorage`, refreshes
 * serialised across tabs with Web Locks, and sign-in / refresh / sign-out followed across tabs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BkendClient.BkendClient, BkendError.InvalidConfig> => {
  const { storage, lock, ...clientOptions } = options
  return provide(BkendClient.layer(clientOptions), { storage, lock })
}
