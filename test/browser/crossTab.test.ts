/**
 * The SDK in a real headless Chromium: two tabs (two pages of one browser context, so they share localStorage
 * and Web Locks) run the bundled page (./page.ts) against bkend-local on a real socket.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import * as esbuild from "esbuild"
import * as crypto from "node:crypto"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import { decodeJwt } from "../../src/local/index.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import type { StartOptions } from "./page.js"

const CHROMIUM = "/usr/bin/chromium"
const SESSION_KEY = "bkend-effect/session"
const REFRESH_DELAY_MILLIS = 300
/** the short cross-tab lock wait of the 429 case */
const LOCK_WAIT_MILLIS = 500

interface Harness {
  readonly server: LocalServer.LocalServer
  readonly apiUrl: string
  readonly pageUrl: string
  readonly browser: Browser
}

class BrowserHarness extends Context.Tag("test/browser/BrowserHarness")<BrowserHarness, Harness>() {}

const bundle = Effect.promise(() =>
  esbuild.build({
    entryPoints: [fileURLToPath(new URL("./page.ts", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent"
  })
).pipe(
  Effect.flatMap((result) => {
    const file = result.outputFiles[0]
    return file === undefined ? Effect.dieMessage("esbuild produced no output") : Effect.succeed(file.text)
  })
)

/** Serves the page and its bundle on 127.0.0.1 (the API is another origin: CORS is exercised too). */
const staticServer = (js: string) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((req, res) => {
        if (req.url === "/") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
          res.end(
            '<!doctype html><html><head><script type="module" src="/page.js"></script></head><body></body></html>'
          )
        } else if (req.url === "/page.js") {
          res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" })
          res.end(js)
        } else {
          res.writeHead(404).end()
        }
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.flatMap((server) => {
      const address = server.address()
      return typeof address === "object" && address !== null
        ? Effect.succeed(`http://127.0.0.1:${address.port}/`)
        : Effect.dieMessage("static server has no TCP address")
    })
  )

/** A bkend-local of its own on 127.0.0.1 (for a test whose faults would disturb the others). */
const ownServer = (options: Partial<LocalServer.LocalOptions>) =>
  Effect.gen(function* () {
    const server = yield* LocalServer.make(options)
    const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0, host: "127.0.0.1" })).pipe(
      Effect.orDie
    )
    return { server, apiUrl: yield* Effect.provide(LocalServer.serverUrl, ctx) }
  })

/** One server, one bundle, one browser for the file; each test opens its own browser context (fresh storage). */
const HarnessLive = Layer.scoped(
  BrowserHarness,
  Effect.gen(function* () {
    const server = yield* LocalServer.make({
      accessTokenTtlSeconds: 2,
      // a slow refresh: the second tab is certainly waiting while the first one's refresh is in flight
      faults: [{ route: "POST /v1/auth/refresh", kind: "delay", delayMillis: REFRESH_DELAY_MILLIS }]
    })
    const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0, host: "127.0.0.1" })).pipe(
      Effect.orDie
    )
    const apiUrl = yield* Effect.provide(LocalServer.serverUrl, ctx)
    const pageUrl = yield* staticServer(yield* bundle)
    const browser = yield* Effect.acquireRelease(
      Effect.promise(() =>
        chromium.launch({
          executablePath: CHROMIUM,
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync"
          ]
        })
      ),
      (browser) => Effect.promise(() => browser.close())
    )
    return { server, apiUrl, pageUrl, browser }
  })
)

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** One tab: the page's `window.bkendTest` API, called through Playwright. */
const tab = (page: Page, errors: Array<string>, logs: Array<string>) => ({
  page,
  errors,
  /** the page's console output (the SDK's log lines) */
  logs,
  start: (options: StartOptions) => promise(() => page.evaluate((o) => window.bkendTest.start(o), options)),
  stop: promise(() => page.evaluate(() => window.bkendTest.stop())),
  signUp: (email: string) => promise(() => page.evaluate((e) => window.bkendTest.signUp(e, "secret-pass-1"), email)),
  me: (at?: number) => promise(() => page.evaluate((t) => window.bkendTest.me(t), at)),
  signOut: promise(() => page.evaluate(() => window.bkendTest.signOut())),
  state: promise(() => page.evaluate(() => window.bkendTest.state())),
  lockHold: promise(() => page.evaluate(() => window.bkendTest.lockHold())),
  writeAndRelease: (value: string) => promise(() => page.evaluate((v) => window.bkendTest.writeAndRelease(v), value)),
  readUnderLock: (naive: boolean) => promise(() => page.evaluate((n) => window.bkendTest.readUnderLock(n), naive)),
  stored: promise(() => page.evaluate((key) => localStorage.getItem(key), SESSION_KEY)),
  /** rewrites the stored expiry, as a client clock that is off would see it */
  setStoredExpiry: (offsetMillis: number) =>
    promise(() =>
      page.evaluate(
        ([key, offset]) => {
          const raw = localStorage.getItem(key)
          if (raw === null) throw new Error("no stored session")
          const session: unknown = JSON.parse(raw)
          if (typeof session !== "object" || session === null) throw new Error("stored session is not an object")
          localStorage.setItem(key, JSON.stringify({ ...session, expiresAt: Date.now() + offset }))
        },
        [SESSION_KEY, offsetMillis] as const
      )
    )
})

type Tab = ReturnType<typeof tab>

/** Two tabs of one browser context (shared localStorage and Web Locks), on the test page. */
const twoTabs = (h: Harness) =>
  Effect.gen(function* () {
    const context = yield* Effect.acquireRelease(
      promise(() => h.browser.newContext()),
      (c) => promise(() => c.close())
    )
    const open = Effect.gen(function* () {
      const page = yield* promise(() => context.newPage())
      const errors: Array<string> = []
      const logs: Array<string> = []
      page.on("pageerror", (e) => errors.push(e.message))
      page.on("console", (m) => logs.push(m.text()))
      yield* promise(() => page.goto(h.pageUrl))
      yield* promise(() => page.waitForFunction(() => window.bkendTest !== undefined))
      return tab(page, errors, logs)
    })
    return [yield* open, yield* open] as const
  })

const refreshes = (h: Pick<Harness, "server">) => Effect.map(h.server.counters, (c) => c.refreshCalls)
const replays = (h: Pick<Harness, "server">) => Effect.map(h.server.counters, (c) => c.replaysDetected)
const meStatuses = (h: Harness) =>
  Effect.map(h.server.requestLog, (log) =>
    log.filter((e) => e.method === "GET" && e.path === "/v1/auth/me").map((e) => e.status)
  )

/** Sleeps until the stored access token has expired on the server (its JWT `exp`, in seconds). */
const waitForServerExpiry = (t: Tab) =>
  Effect.gen(function* () {
    const raw = yield* t.stored
    const parsed: unknown = raw === null ? undefined : JSON.parse(raw)
    const token =
      typeof parsed === "object" && parsed !== null && "accessToken" in parsed ? parsed.accessToken : undefined
    const claims = typeof token === "string" ? decodeJwt(token) : undefined
    if (claims === undefined) return yield* Effect.dieMessage("no stored access token")
    yield* Effect.sleep(Duration.millis(Math.max(0, claims.exp * 1000 + 50 - Date.now())))
  })

const eventually = <A>(check: Effect.Effect<A>, done: (a: A) => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      const a = yield* check
      if (done(a)) return a
      yield* Effect.sleep(Duration.millis(50))
    }
    return yield* check
  })

/** Both results succeeded; on failure the message shows the results, the tabs' session changes and the server log. */
const expectBothOk = (h: Harness, a: Tab, b: Tab, results: ReadonlyArray<unknown>, logFrom: number) =>
  Effect.gen(function* () {
    const diagnostics = {
      results,
      changesA: (yield* a.state).changes,
      changesB: (yield* b.state).changes,
      log: (yield* h.server.requestLog).slice(logFrom).map((e) => `${e.at} ${e.method} ${e.path} ${e.status}`)
    }
    expect(diagnostics).toMatchObject({ results: [{ ok: true }, { ok: true }] })
  })

const email = () => `tab-${crypto.randomUUID()}@example.com`

layer(HarnessLive, { excludeTestServices: true, timeout: "60 seconds" })(
  "Browser (headless Chromium, two tabs)",
  (it) => {
    it.scoped(
      "an expired token hit by both tabs at once is refreshed once; sign-out in one tab signs the other out",
      () =>
        Effect.gen(function* () {
          const h = yield* BrowserHarness
          const [a, b] = yield* twoTabs(h)
          const options: StartOptions = { baseUrl: h.apiUrl, apiKey: h.server.keys.publishable, crossTab: true }
          expect(yield* promise(() => a.page.evaluate(() => typeof navigator.locks?.request === "function"))).toBe(true)

          yield* a.start(options)
          expect(yield* a.signUp(email())).toEqual({ ok: true, value: null })
          // the access token dies on the server while both clients still believe it valid (a client clock that
          // runs behind): both send it, both get 401, both go to the refresh gate at once
          yield* waitForServerExpiry(a)
          yield* a.setStoredExpiry(3_600_000)
          yield* a.stop
          yield* a.start(options)
          yield* b.start(options)
          const before = yield* a.state
          expect(before.signedIn).toBe(true)
          expect((yield* b.state).fingerprint).toBe(before.fingerprint)

          const refreshesBefore = yield* refreshes(h)
          const replaysBefore = yield* replays(h)
          const mesBefore = (yield* meStatuses(h)).length
          const at = Date.now() + 250
          const logFrom = (yield* h.server.requestLog).length
          const [ra, rb] = yield* Effect.all([a.me(at), b.me(at)], { concurrency: 2 })
          yield* expectBothOk(h, a, b, [ra, rb], logFrom)
          expect((yield* meStatuses(h)).slice(mesBefore).sort()).toEqual([200, 200, 401, 401])
          expect((yield* refreshes(h)) - refreshesBefore).toBe(1)
          expect((yield* replays(h)) - replaysBefore).toBe(0)
          // both tabs continue on the one rotated session
          const sa = yield* a.state
          const sb = yield* b.state
          expect(sa.fingerprint).not.toBe(before.fingerprint)
          expect(sb.fingerprint).toBe(sa.fingerprint)
          expect((yield* a.me()).ok).toBe(true)
          expect((yield* b.me()).ok).toBe(true)

          // proactive path: both clients see the stored token as expired and refresh before sending it
          yield* a.setStoredExpiry(-1_000)
          yield* a.stop
          yield* b.stop
          yield* a.start(options)
          yield* b.start(options)
          const proactiveBefore = yield* refreshes(h)
          const mesBefore2 = (yield* meStatuses(h)).length
          const at2 = Date.now() + 250
          const logFrom2 = (yield* h.server.requestLog).length
          const [pa, pb] = yield* Effect.all([a.me(at2), b.me(at2)], { concurrency: 2 })
          yield* expectBothOk(h, a, b, [pa, pb], logFrom2)
          expect((yield* refreshes(h)) - proactiveBefore).toBe(1)
          expect((yield* meStatuses(h)).slice(mesBefore2)).toEqual([200, 200])
          expect((yield* replays(h)) - replaysBefore).toBe(0)
          expect((yield* b.state).fingerprint).toBe((yield* a.state).fingerprint)

          // sign-out in tab A: tab B follows through the storage event, without a request
          expect((yield* a.signOut).ok).toBe(true)
          expect(yield* a.stored).toBe(null)
          const followed = yield* eventually(b.state, (s) => !s.signedIn)
          expect(followed.signedIn).toBe(false)
          expect(followed.changes).toContain("SignedOut:cleared")
          const mesBefore3 = (yield* meStatuses(h)).length
          const after = yield* b.me()
          expect(after).toMatchObject({ ok: false, tag: "Unauthorized" })
          expect((yield* meStatuses(h)).length).toBe(mesBefore3)
          expect([...a.errors, ...b.errors]).toEqual([])
        })
    )

    it.scoped(
      "a refresh held by 429 retries outlasts the other tab's lock wait: the waiting tab does not spend the token",
      () =>
        Effect.gen(function* () {
          const h = yield* BrowserHarness
          // two 429s with Retry-After: 1 hold tab A's refresh for over 2 s; tab B waits for the lock 500 ms only
          const api = yield* ownServer({ faults: [{ route: "POST /v1/auth/refresh", kind: "429", times: 2 }] })
          const [a, b] = yield* twoTabs(h)
          const options: StartOptions = {
            baseUrl: api.apiUrl,
            apiKey: api.server.keys.publishable,
            crossTab: true,
            lockTimeoutMillis: LOCK_WAIT_MILLIS
          }
          yield* a.start(options)
          expect((yield* a.signUp(email())).ok).toBe(true)
          yield* a.setStoredExpiry(-1_000)
          yield* a.stop
          yield* a.start(options)
          yield* b.start(options)
          const before = yield* a.state
          const logFrom = (yield* api.server.requestLog).length
          const at = Date.now() + 250
          const [ra, rb] = yield* Effect.all([a.me(at), b.me(at)], { concurrency: 2 })
          const log = (yield* api.server.requestLog).slice(logFrom)
          const refreshStatuses = log
            .filter((e) => e.method === "POST" && e.path === "/v1/auth/refresh")
            .map((e) => e.status)
          const diagnostics = {
            results: [ra, rb],
            changesA: (yield* a.state).changes,
            changesB: (yield* b.state).changes,
            log: log.map((e) => `${e.at} ${e.method} ${e.path} ${e.status}`)
          }
          // the holder's three attempts are the only refresh requests: 429, 429, then the one rotation
          expect({ refreshStatuses, diagnostics }).toMatchObject({ refreshStatuses: [429, 429, 200] })
          expect(yield* replays(api)).toBe(0)
          expect(yield* refreshes(api)).toBe(1)
          // one tab gave up waiting for the lock (and so sent no refresh of its own)...
          const gaveUp = [a, b].filter((t) => t.logs.some((l) => l.includes("lock was not granted in time")))
          expect({ gaveUp: gaveUp.length, diagnostics }).toMatchObject({ gaveUp: 1 })
          // ...and went on with its access token, still valid at the server (or failed as a timeout); the holder's
          // call succeeded
          const sorted = [ra, rb].sort((x, y) => Number(y.ok) - Number(x.ok))
          expect({ sorted, diagnostics }).toMatchObject({ sorted: [{ ok: true }, {}] })
          expect(sorted[1]?.ok === true || sorted[1]?.tag === "NetworkError").toBe(true)
          // it then follows the holder's rotated session, and its next call needs no refresh
          const rotated = (yield* a.state).fingerprint ?? (yield* b.state).fingerprint
          expect(rotated).not.toBe(before.fingerprint)
          const followed = yield* eventually(
            Effect.zip(a.state, b.state),
            ([sa, sb]) => sa.fingerprint === sb.fingerprint
          )
          expect(followed[0].fingerprint).toBe(followed[1].fingerprint)
          expect((yield* a.me()).ok).toBe(true)
          expect((yield* b.me()).ok).toBe(true)
          expect(yield* refreshes(api)).toBe(1)
          expect(yield* replays(api)).toBe(0)
          expect([...a.errors, ...b.errors]).toEqual([])
        })
    )

    it.scoped("negative control: without the cross-tab lock the same race spends the refresh token twice", () =>
      Effect.gen(function* () {
        const h = yield* BrowserHarness
        const [a, b] = yield* twoTabs(h)
        const options: StartOptions = { baseUrl: h.apiUrl, apiKey: h.server.keys.publishable, crossTab: false }
        yield* a.start(options)
        expect((yield* a.signUp(email())).ok).toBe(true)
        yield* a.setStoredExpiry(-1_000)
        yield* a.stop
        yield* a.start(options)
        yield* b.start(options)
        const refreshesBefore = yield* refreshes(h)
        const replaysBefore = yield* replays(h)
        const at = Date.now() + 250
        yield* Effect.all([a.me(at), b.me(at)], { concurrency: 2 })
        // the second refresh is a replay; the winner's new session dies with it (and may try once more)
        expect((yield* refreshes(h)) - refreshesBefore).toBeGreaterThanOrEqual(2)
        expect((yield* replays(h)) - replaysBefore).toBe(1)
      })
    )

    it.scoped("negative control: without following storage events a tab stays signed in after another signs out", () =>
      Effect.gen(function* () {
        const h = yield* BrowserHarness
        const [a, b] = yield* twoTabs(h)
        const options: StartOptions = { baseUrl: h.apiUrl, apiKey: h.server.keys.publishable, crossTab: false }
        yield* a.start(options)
        expect((yield* a.signUp(email())).ok).toBe(true)
        yield* b.start(options)
        expect((yield* a.signOut).ok).toBe(true)
        // give a storage event time to arrive; nothing listens for it here
        yield* Effect.sleep(Duration.millis(200))
        expect((yield* b.state).signedIn).toBe(true)
      })
    )

    /** Tab A holds the lock, tab B queues for it, A writes and releases: how often B reads the old value. */
    const staleHandoffs = (a: Tab, b: Tab, naive: boolean, rounds: number) =>
      Effect.gen(function* () {
        let stale = 0
        // the negative control stops at the first stale read (about one handoff in three, varying with load)
        for (let i = 0; i < rounds && !(naive && stale > 0); i++) {
          yield* a.lockHold
          const read = yield* Effect.fork(b.readUnderLock(naive))
          yield* Effect.sleep(Duration.millis(10)) // B is queued behind A
          yield* a.writeAndRelease(`v${i}`)
          if ((yield* Fiber.join(read)) !== `v${i}`) stale++
        }
        return stale
      })

    it.scoped("the refresh lock's next holder reads the previous holder's localStorage write", () =>
      Effect.gen(function* () {
        const h = yield* BrowserHarness
        const [a, b] = yield* twoTabs(h)
        expect(yield* staleHandoffs(a, b, false, 20)).toBe(0)
      })
    )

    it.scoped("negative control: right after a bare Web Lock grant, localStorage can still be stale", () =>
      Effect.gen(function* () {
        const h = yield* BrowserHarness
        const [a, b] = yield* twoTabs(h)
        // Chromium propagates localStorage writes to other tabs asynchronously
        expect(yield* staleHandoffs(a, b, true, 100)).toBeGreaterThan(0)
      })
    )
  }
)
