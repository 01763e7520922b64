/**
 * One session shared by Node processes (CLIs, workers, cron jobs of one user on one machine): the session in a
 * file, and a lock file that serialises refreshes across the processes.
 *
 * ```ts
 * const live = Bkend.layer({ apiKey, baseUrl }).pipe(
 *   Layer.provide(NodeSession.layer({ path: path.join(os.homedir(), ".config", "my-cli", "session.json") })),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * Only Node built-ins and `proper-lockfile` are used here; nothing else in the SDK imports this module.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Clock, Duration, Effect, Layer, Option, Runtime, Schedule, Schema } from "effect"
import { lock } from "proper-lockfile"
import * as Session from "../Session.js"

/**
 * The lock file beside the session file, and how long a process waits for another one's refresh.
 *
 * @since 0.1.0
 * @category models
 */
export interface LockOptions {
  /** the session file whose lock this is; the lock is the directory `${path}.lock` next to it */
  readonly path: string
  /**
   * how long a process waits for another one's refresh before failing with `Session.RefreshLockTimeout`, without
   * refreshing (default 35 s)
   */
  readonly lockWaitTimeout?: Duration.DurationInput | undefined
}

/**
 * Where the session file is and how processes lock refreshes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends LockOptions {}

const DEFAULT_WAIT_TIMEOUT = Duration.seconds(35)
/**
 * A holder refreshes the lock's modification time every `STALE_MILLIS / 2`; a lock not refreshed for
 * `STALE_MILLIS` belongs to a process that died, and the next process takes it over.
 */
const STALE_MILLIS = 10_000
/** polls for a busy lock: 10 ms, doubling, at most 100 ms apart, jittered */
const POLL = Schedule.exponential(Duration.millis(10)).pipe(
  Schedule.union(Schedule.spaced(Duration.millis(100))),
  Schedule.jittered
)

const StoredSession = Schema.parseJson(Session.Session)
const decode = Schema.decodeUnknown(StoredSession)
const encode = Schema.encode(StoredSession)

/** The error's `code` (`ENOENT`, `ELOCKED`, …) or its tag: what is logged, never a message that could hold data. */
const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  if ("code" in error && typeof error.code === "string") return error.code
  return "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
}

const warn = (message: string, file: string, cause: unknown) =>
  Effect.logWarning(`bkend-effect: ${message}`).pipe(
    Effect.annotateLogs({ path: file, code: codeOf(cause) ?? "unknown" })
  )

/** Writes `text` to a temporary file beside `file` (owner-only), then renames it over `file`. */
const writeAtomically = (file: string, text: string) =>
  Effect.tryPromise(async () => {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    const temp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`
    try {
      const handle = await fs.open(temp, "wx", 0o600)
      try {
        await handle.writeFile(text, "utf8")
        await handle.sync()
      } finally {
        await handle.close()
      }
      await fs.rename(temp, file)
    } catch (error) {
      await fs.rm(temp, { force: true })
      throw error
    }
  })

/**
 * A {@link Session.TokenStore} in one JSON file, readable and writable by its owner only (mode 0600; a missing
 * parent directory is created with mode 0700). Writes are atomic: the session goes to a temporary file in the same
 * directory, which is then renamed over the file, so another process reads the old session or the new one, never
 * half of one. A file that is missing, unreadable or does not hold a session counts as "no session"; a failed
 * write is logged (without the tokens) and the client's in-memory session stays authoritative.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTokenStore = (file: string): Session.TokenStore["Type"] =>
  Session.TokenStore.of({
    get: Effect.tryPromise(() => fs.readFile(file, "utf8")).pipe(
      Effect.flatMap((text) => Effect.asSome(decode(text))),
      Effect.catchAll((error) =>
        error._tag === "ParseError" || codeOf(error.cause) === "ENOENT"
          ? Effect.succeedNone
          : Effect.as(warn("could not read the session file", file, error.cause), Option.none())
      )
    ),
    set: (session) =>
      encode(session).pipe(
        Effect.flatMap((text) => writeAtomically(file, text)),
        Effect.uninterruptible,
        Effect.catchAll((error) =>
          warn("could not persist the session", file, error._tag === "ParseError" ? error : error.cause)
        )
      ),
    clear: Effect.tryPromise(() => fs.rm(file, { force: true })).pipe(
      Effect.catchAll((error) => warn("could not clear the session file", file, error.cause))
    )
  })

/**
 * One try at the lock directory (its parent created first). Fails with the error, whose `code` is `ELOCKED` while
 * another process holds the lock. A grant is handed to `onGranted` as soon as it happens, before the fiber resumes,
 * so that the caller's finalizer can release it even when the fiber is interrupted right then.
 */
const tryLock = (lockfilePath: string, onCompromised: (error: Error) => void, onGranted: (release: Release) => void) =>
  Effect.async<void, unknown>((resume) => {
    let cancelled = false
    fs.mkdir(path.dirname(lockfilePath), { recursive: true, mode: 0o700 })
      .then(() => lock(lockfilePath, { lockfilePath, realpath: false, stale: STALE_MILLIS, retries: 0, onCompromised }))
      .then(
        (release) => {
          // granted after the waiter was interrupted: give it back at once
          if (cancelled) return release().catch(() => undefined)
          onGranted(release)
          resume(Effect.void)
        },
        (error: unknown) => resume(Effect.fail(error))
      )
    return Effect.sync(() => {
      cancelled = true
    })
  })

type Release = () => Promise<void>

/**
 * A cross-process {@link Session.RefreshLock} on a lock file (`proper-lockfile`: an atomically created directory
 * `${path}.lock`). Processes sharing one session file refresh one at a time, and each re-reads the file inside the
 * lock, so a session another process already rotated is adopted instead of being spent twice.
 *
 * A waiter polls (10 ms to 100 ms apart) for at most `lockWaitTimeout` (default 35 s), then fails with
 * `Session.RefreshLockTimeout` without running the refresh; so does a process that cannot create the lock at all
 * (a read-only directory). The lock is released when the refresh ends, fails or is interrupted, and when the process
 * exits. A process that dies while holding it (killed, crashed) leaves the directory behind: a holder touches it
 * every 5 s, so once it is 10 s old the next waiter removes it and takes the lock. A holder whose event loop is
 * blocked for longer than that can lose the lock to another process (a warning is logged). The wait and the
 * staleness are wall-clock time (a `TestClock` does not move them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshLock = (options: LockOptions): Effect.Effect<Session.RefreshLock["Type"]> =>
  Effect.gen(function* () {
    const lockfilePath = `${path.resolve(options.path)}.lock`
    const waitTimeout =
      options.lockWaitTimeout === undefined ? DEFAULT_WAIT_TIMEOUT : Duration.decode(options.lockWaitTimeout)
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const onCompromised = (error: Error) => {
      runFork(warn("the refresh lock was taken over by another process", lockfilePath, error))
    }
    const wallClock = Clock.make()

    const acquire = (onGranted: (release: Release) => void) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        return yield* tryLock(lockfilePath, onCompromised, onGranted).pipe(
          Effect.retry({ schedule: POLL.pipe(Schedule.upTo(waitTimeout)), while: (e) => codeOf(e) === "ELOCKED" }),
          Effect.catchAll((error) =>
            Effect.gen(function* () {
              const waitedMillis = (yield* Clock.currentTimeMillis) - started
              yield* warn(
                codeOf(error) === "ELOCKED"
                  ? "the refresh lock was not granted in time; not refreshing"
                  : "could not take the refresh lock; not refreshing",
                lockfilePath,
                error
              ).pipe(Effect.annotateLogs({ waitedMillis }))
              return yield* new Session.RefreshLockTimeout({ waitedMillis })
            })
          )
        )
      }).pipe(Effect.withClock(wallClock))

    const withLock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        let held: Release | undefined
        const release = Effect.promise(() => held?.().catch(() => undefined) ?? Promise.resolve())
        return Effect.uninterruptibleMask((restore) =>
          restore(
            acquire((r) => {
              held = r
            })
          ).pipe(Effect.zipRight(restore(self)), Effect.ensuring(release))
        )
      })
    return { waitTimeout, withLock } satisfies Session.RefreshLock["Type"]
  })

/**
 * The session file as the {@link Session.TokenStore} (see {@link makeTokenStore}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTokenStore = (options: { readonly path: string }): Layer.Layer<Session.TokenStore> =>
  Layer.succeed(Session.TokenStore, makeTokenStore(options.path))

/**
 * The lock file beside the session file as the {@link Session.RefreshLock} (see {@link makeRefreshLock}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRefreshLock = (options: LockOptions): Layer.Layer<Session.RefreshLock> =>
  Layer.effect(Session.RefreshLock, makeRefreshLock(options))

/**
 * Both: the session in the file at `path` and refreshes serialised across every process that uses the same
 * `path`. Provide it to `BkendClient.layer` (or `Bkend.layer`) in each process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Session.TokenStore | Session.RefreshLock> =>
  Layer.merge(layerTokenStore(options), layerRefreshLock(options))
