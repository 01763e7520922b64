/**
 * The page the cross-tab test drives (bundled with esbuild for the browser). Each tab runs one SDK client and
 * exposes a small API on `window.bkendTest`; results are plain JSON so Playwright can read them.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Effect, Either, Layer, ManagedRuntime, Option, Redacted, Schema, Stream } from "effect"
import * as BkendClient from "../../src/BkendClient.js"
import * as Browser from "../../src/Browser.js"
import * as Session from "../../src/Session.js"

export interface StartOptions {
  readonly baseUrl: string
  readonly apiKey: string
  /** false: the same localStorage store but no Web Lock and no cross-tab following (the negative control) */
  readonly crossTab: boolean
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

const Me = Schema.Struct({ id: Schema.String, email: Schema.String })

let runtime: ManagedRuntime.ManagedRuntime<BkendClient.BkendClient, unknown> | undefined
let changes: Array<string> = []

const run = <A>(f: (client: BkendClient.Service) => Effect.Effect<A, { readonly _tag: string }>): Promise<Result> => {
  const rt = runtime
  if (rt === undefined) return Promise.resolve({ ok: false, tag: "NotStarted", code: undefined })
  return rt.runPromise(
    Effect.flatMap(BkendClient.BkendClient, f).pipe(
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

window.bkendTest = {
  start: async (options) => {
    const clientOptions = { apiKey: Redacted.make(options.apiKey), baseUrl: options.baseUrl, refreshMargin: 0 }
    const layer = options.crossTab
      ? Browser.layer(clientOptions)
      : BkendClient.layer(clientOptions).pipe(
          Layer.provide(Layer.merge(FetchHttpClient.layer, Browser.layerTokenStore()))
        )
    runtime = ManagedRuntime.make(layer)
    changes = []
    await runtime.runPromise(
      Effect.gen(function* () {
        const c = yield* BkendClient.BkendClient
        yield* Effect.forkDaemon(
          Stream.runForEach(c.sessionChanges, (change) =>
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
  signUp: (email, password) =>
    run((c) =>
      c
        .request({
          method: "POST",
          route: "/v1/auth/email/signup",
          auth: "none",
          refreshOn401: false,
          body: { method: "password", email, password, name: "Tab" },
          response: Session.TokenResponse
        })
        .pipe(Effect.flatMap(c.setTokens), Effect.as(null))
    ),
  me: (at) =>
    run((c) =>
      Effect.zipRight(waitUntil(at), c.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me }))
    ),
  signOut: () =>
    run((c) =>
      c
        .request({ method: "POST", route: "/v1/auth/signout", auth: "required", response: Schema.Unknown })
        .pipe(Effect.ensuring(c.clearSession("sign-out")), Effect.as(null))
    ),
  state: async () => {
    const rt = runtime
    if (rt === undefined) throw new Error("not started")
    const session = await rt.runPromise(Effect.flatMap(BkendClient.BkendClient, (c) => c.session))
    return {
      signedIn: Option.isSome(session),
      fingerprint: Option.isSome(session) ? fnv1a(Redacted.value(session.value.accessToken)) : undefined,
      changes: changes.slice()
    }
  }
}
