/**
 * NodeSession: the session file (atomic, owner-only, tolerant of bad contents) and the lock file (mutual exclusion,
 * stale-lock recovery, bounded wait, release on interruption). Real files in a temporary directory, real time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Logger, Option, Redacted, Ref } from "effect"
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NodeSession } from "../../src/node/index.js"
import * as Session from "../../src/Session.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bkend-node-session-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const session = (n: number) =>
  new Session.Session({
    accessToken: Redacted.make(`access-${n}`),
    refreshToken: Redacted.make(`refresh-${n}`),
    tokenType: "Bearer",
    issuedAt: 1_000 * n,
    expiresAt: 1_000 * n + 3_600_000
  })

const tokens = (s: Option.Option<Session.Session>) =>
  Option.map(s, (v) => [Redacted.value(v.accessToken), Redacted.value(v.refreshToken), v.expiresAt] as const)

/** Polls (real time) until `check` holds, at most ~5 s. */
const until = (check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500 && !check(); i++) yield* Effect.sleep(Duration.millis(10))
    expect(check()).toBe(true)
  })

describe("NodeSession.makeTokenStore", () => {
  it.scopedLive("round trip: set, get, overwrite, clear; the file is owner-only and no temporary file is left", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // a parent directory that does not exist yet is created
      const file = path.join(dir, "nested", "session.json")
      const store = NodeSession.makeTokenStore(file)
      expect(yield* store.get).toEqual(Option.none())
      yield* store.set(session(1))
      expect(tokens(yield* store.get)).toEqual(tokens(Option.some(session(1))))
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
      yield* store.set(session(2))
      expect(tokens(yield* store.get)).toEqual(tokens(Option.some(session(2))))
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.readdirSync(path.dirname(file))).toEqual(["session.json"])
      // a second store on the same file (another process) reads what the first wrote
      expect(tokens(yield* NodeSession.makeTokenStore(file).get)).toEqual(tokens(Option.some(session(2))))
      yield* store.clear
      expect(fs.existsSync(file)).toBe(false)
      expect(yield* store.get).toEqual(Option.none())
      yield* store.clear
    })
  )

  it.scopedLive("a corrupt, half-written or foreign file is no session, and the next write replaces it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "session.json")
      const store = NodeSession.makeTokenStore(file)
      yield* store.set(session(1))
      const whole = fs.readFileSync(file, "utf8")
      for (const text of [whole.slice(0, Math.floor(whole.length / 2)), "", "{not json", '{"accessToken":1}', "null"]) {
        fs.writeFileSync(file, text)
        expect(yield* store.get).toEqual(Option.none())
      }
      yield* store.set(session(3))
      expect(tokens(yield* store.get)).toEqual(tokens(Option.some(session(3))))
    })
  )

  it.scopedLive("a failed write is logged without the tokens and does not fail", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // the session path is a directory: the rename fails
      const file = path.join(dir, "session.json")
      fs.mkdirSync(file)
      const logs: Array<string> = []
      yield* NodeSession.makeTokenStore(file)
        .set(session(1))
        .pipe(
          Effect.provide(
            Logger.replace(
              Logger.defaultLogger,
              Logger.make((o) => {
                logs.push(`${String(o.message)} ${JSON.stringify([...o.annotations])}`)
              })
            )
          )
        )
      expect(logs.join("\n")).toContain("could not persist the session")
      expect(logs.join("\n")).not.toContain("refresh-1")
      expect(logs.join("\n")).not.toContain("access-1")
      expect(fs.readdirSync(dir)).toEqual(["session.json"])
    })
  )
})

describe("NodeSession.makeRefreshLock", () => {
  it.scopedLive("two locks on one file (as two processes would) never run their sections at once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "session.json")
      const a = yield* NodeSession.makeRefreshLock({ path: file })
      const b = yield* NodeSession.makeRefreshLock({ path: file })
      const inside = yield* Ref.make(0)
      const most = yield* Ref.make(0)
      const section = Effect.gen(function* () {
        const n = yield* Ref.updateAndGet(inside, (x) => x + 1)
        yield* Ref.update(most, (m) => Math.max(m, n))
        yield* Effect.sleep(Duration.millis(5))
        yield* Ref.update(inside, (x) => x - 1)
      })
      yield* Effect.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).withLock(section)),
        { concurrency: "unbounded" }
      )
      expect(yield* Ref.get(most)).toBe(1)
      expect(fs.existsSync(`${file}.lock`)).toBe(false)
    })
  )

  it.scopedLive("a waiter gives up after waitTimeout with RefreshLockTimeout and never runs its section", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "session.json")
      const holder = yield* NodeSession.makeRefreshLock({ path: file })
      const waiter = yield* NodeSession.makeRefreshLock({ path: file, lockWaitTimeout: "300 millis" })
      expect(Duration.toMillis(waiter.waitTimeout)).toBe(300)
      expect(Duration.toMillis(holder.waitTimeout)).toBe(35_000)
      const held = yield* Effect.fork(holder.withLock(Effect.never))
      yield* until(() => fs.existsSync(`${file}.lock`))
      const ran = yield* Ref.make(false)
      const exit = yield* Effect.exit(waiter.withLock(Ref.set(ran, true)))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit).toBeInstanceOf(
        Session.RefreshLockTimeout
      )
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error.waitedMillis).toBeGreaterThan(0)
      expect(yield* Ref.get(ran)).toBe(false)
      // the holder still holds it
      expect(fs.existsSync(`${file}.lock`)).toBe(true)
      yield* Fiber.interrupt(held)
    })
  )

  it.scopedLive("interrupting the holder releases the lock; interrupting a waiter leaves no lock behind", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "session.json")
      const lock = yield* NodeSession.makeRefreshLock({ path: file })
      const other = yield* NodeSession.makeRefreshLock({ path: file, lockWaitTimeout: "5 seconds" })
      const held = yield* Effect.fork(lock.withLock(Effect.never))
      yield* until(() => fs.existsSync(`${file}.lock`))
      const waiting = yield* Effect.fork(other.withLock(Effect.never))
      yield* Effect.sleep(Duration.millis(100))
      yield* Fiber.interrupt(waiting)
      yield* Fiber.interrupt(held)
      expect(fs.existsSync(`${file}.lock`)).toBe(false)
      // taken at once now, and released after a failing section too
      const ran = yield* Effect.exit(other.withLock(Effect.fail("boom" as const)))
      expect(ran).toEqual(Exit.fail("boom"))
      expect(fs.existsSync(`${file}.lock`)).toBe(false)
      // the interrupted waiter did not take the lock later either
      yield* Effect.sleep(Duration.millis(200))
      expect(fs.existsSync(`${file}.lock`)).toBe(false)
    })
  )

  it.scopedLive("a lock left by a dead holder is recovered once stale; a live foreign lock is not", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "session.json")
      const lock = yield* NodeSession.makeRefreshLock({ path: file, lockWaitTimeout: "500 millis" })
      // a process that held the lock and was killed: its directory stays, no longer touched
      fs.mkdirSync(`${file}.lock`)
      const ran = yield* Ref.make(0)
      const fresh = yield* Effect.exit(lock.withLock(Ref.update(ran, (n) => n + 1)))
      expect(Exit.isFailure(fresh)).toBe(true)
      expect(yield* Ref.get(ran)).toBe(0)
      const past = new Date(Date.now() - 60_000)
      fs.utimesSync(`${file}.lock`, past, past)
      expect(
        yield* lock.withLock(
          Effect.as(
            Ref.update(ran, (n) => n + 1),
            "ran"
          )
        )
      ).toBe("ran")
      expect(yield* Ref.get(ran)).toBe(1)
      expect(fs.existsSync(`${file}.lock`)).toBe(false)
    })
  )

  it.scopedLive(
    "a lock that cannot be created fails with RefreshLockTimeout at once, without running the section",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        // the session file's directory is a file: the lock directory cannot be made
        fs.writeFileSync(path.join(dir, "blocker"), "")
        const lock = yield* NodeSession.makeRefreshLock({ path: path.join(dir, "blocker", "session.json") })
        const ran = yield* Ref.make(false)
        const exit = yield* Effect.exit(lock.withLock(Ref.set(ran, true)))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit).toBeInstanceOf(
          Session.RefreshLockTimeout
        )
        expect(yield* Ref.get(ran)).toBe(false)
      })
  )
})

describe("bkend-effect/node stays out of the other entry points", () => {
  it.live("a browser bundle of the SDK and Browser.layer contains neither proper-lockfile nor src/node", () =>
    Effect.gen(function* () {
      const result = yield* Effect.promise(() =>
        esbuild.build({
          stdin: {
            contents: 'export { Auth, Bkend, Browser, Tables } from "./src/index.js"',
            resolveDir: fileURLToPath(new URL("../..", import.meta.url))
          },
          bundle: true,
          platform: "browser",
          format: "esm",
          write: false,
          metafile: true,
          logLevel: "silent"
        })
      )
      const inputs = Object.keys(result.metafile.inputs)
      expect(inputs.some((i) => i.includes("src/Browser.ts"))).toBe(true)
      expect(inputs.filter((i) => i.includes("proper-lockfile") || i.includes("src/node/"))).toEqual([])
    })
  )
})
