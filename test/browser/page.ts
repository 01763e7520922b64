/**
 * The page the cross-tab test drives (bundled with esbuild for the browser). Each tab runs one SDK client and
 * exposes a small API on `window.bkendTest`; results are plain JSON so Playwright can read them.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Effect, Either, Layer, ManagedRuntime, Option, Redacted, Scope, Stream } from "effect"
import * as Auth from "../../src/Auth.js"
import * as BkendClient from "../../src/BkendClient.js"
import * as Browser from "../../src/Browser.js"
import * as Session from "../../src/Session.js"

export interface StartOptions {
  readonly baseUrl: string
  readonly apiKey: string
  /** false: the same localStorage store but no Web Lock and no cross-tab following (the negative control) */
  readonly crossTab: boolean
  /** with `crossTab`: how long a tab waits for another tab's refresh (`Browser` `lock.timeout`; default 35 s) */
  readonly lockTimeoutMillis?: number
}

export type Result =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly tag: string; readonly code: string | undefined }

export interface TabState {
  readonly signedIn: boolean
  /** a hash of the access token: compares sessions across tabs without exposing the token */
  readonly fingerprint: string | undefined
  readonly changes: ReadonlyArray<string>
}

export interface TestApi {
  readonly start: (options: StartOptions) => Promise<void>
  readonly stop: () => Promise<void>
  readonly signUp: (email: string, password: string) => Promise<Result>
  /** GET /v1/auth/me, started at the epoch millisecond `at` when given (so two tabs start together) */
  readonly me: (at?: number) => Promise<Result>
  readonly signOut: () => Promise<Result>
  readonly state: () => Promise<TabState>
  /** takes the Web Lock `LOCK` with a bare request and holds it until `writeAndRelease` */
  readonly lockHold: () => Promise<void>
  /** writes `value` to localStorage, then releases the lock taken by `lockHold` */
  readonly writeAndRelease: (value: string) => void
  /**
   * reads the value under the lock: `naive` right after a bare Web Lock grant, otherwise inside
   * `Browser.makeRefreshLock(...).withLock`
   */
  readonly readUnderLock: (naive: boolean) => Promise<string | null>
}

declare global {
  interface Window {
    bkendTest: TestApi
  }
}

const fnv1a = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16)
}

let runtime: ManagedRuntime.ManagedRuntime<BkendClient.BkendClient | Auth.Auth, unknown> | undefined
let changes: Array<string> = []

const run = <A>(f: (auth: Auth.Service) => Effect.Effect<A, { readonly _tag: string }>): Promise<Result> => {
  const rt = runtime
  if (rt === undefined) return Promise.resolve({ ok: false, tag: "NotStarted", code: undefined })
  return rt.runPromise(
    Effect.flatMap(Auth.Auth, f).pipe(
      Effect.either,
      Effect.map(
        Either.match({
          onRight: (value): Result => ({ ok: true, value }),
          onLeft: (e): Result => ({
            ok: false,
            tag: e._tag,
            code: "code" in e && typeof e.code === "string" ? e.code : undefined
          })
        })
      )
    )
  )
}

const waitUntil = (at: number | undefined) =>
  at === undefined ? Effect.void : Effect.promise(() => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now()))))

const COUNTER = "bkend-test/counter"
const LOCK = "bkend-test/lock"

let rawRelease: (() => void) | undefined
let lock: Session.RefreshLock["Type"] | undefined

window.bkendTest = {
  start: async (options) => {
    const clientOptions = { apiKey: Redacted.make(options.apiKey), baseUrl: options.baseUrl, refreshMargin: 0 }
    const services = Auth.layer.pipe(Layer.provideMerge(BkendClient.layer(clientOptions)))
    runtime = ManagedRuntime.make(
      options.crossTab
        ? Browser.provide(services, { lock: { timeout: options.lockTimeoutMillis } })
        : services.pipe(Layer.provide(Layer.merge(FetchHttpClient.layer, Browser.layerTokenStore())))
    )
    changes = []
    await runtime.runPromise(
      Effect.gen(function* () {
        const c = yield* BkendClient.BkendClient
        yield* Effect.forkDaemon(
          Stream.runForEach(Session.changes(c), (change) =>
            Effect.sync(() => {
              changes.push(change._tag === "SignedOut" ? `SignedOut:${change.reason}` : change._tag)
            })
          )
        )
      })
    )
  },
  stop: async () => {
    const rt = runtime
    runtime = undefined
    if (rt !== undefined) await rt.dispose()
  },
  signUp: (email, password) => run((auth) => Effect.as(auth.signUp({ email, password, name: "Tab" }), null)),
  me: (at) =>
    run((auth) =>
      Effect.zipRight(
        waitUntil(at),
        Effect.map(auth.me, (user) => user.id)
      )
    ),
  signOut: () => run((auth) => Effect.as(auth.signOut, null)),
  state: async () => {
    const rt = runtime
    if (rt === undefined) throw new Error("not started")
    const session = await rt.runPromise(Effect.flatMap(BkendClient.BkendClient, (c) => c.session))
    return {
      signedIn: Option.isSome(session),
      fingerprint: Option.isSome(session) ? fnv1a(Redacted.value(session.value.accessToken)) : undefined,
      changes: changes.slice()
    }
  },
  lockHold: () =>
    new Promise<void>((granted) => {
      navigator.locks.request(
        LOCK,
        () =>
          new Promise<void>((release) => {
            rawRelease = release
            granted()
          })
      )
    }),
  writeAndRelease: (value) => {
    localStorage.setItem(COUNTER, value)
    rawRelease?.()
    rawRelease = undefined
  },
  readUnderLock: async (naive) => {
    if (naive) return navigator.locks.request(LOCK, () => localStorage.getItem(COUNTER))
    // created once and kept: its storage listener must be in place before the other tab writes
    lock ??= await Effect.runPromise(
      Effect.flatMap(Scope.make(), (scope) =>
        Scope.extend(Browser.makeRefreshLock({ name: LOCK }, { key: COUNTER }), scope)
      )
    )
    return Effect.runPromise(lock.withLock(Effect.sync(() => localStorage.getItem(COUNTER))))
  }
}
