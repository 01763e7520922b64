/**
 * Shared helpers for SDK tests against bkend-local over a real socket (127.0.0.1, port 0).
 *
 * ```ts
 * import { layer } from "@effect/vitest"
 * import { BkendLocal, clientLayer, localLayer } from "./utils/bkend.js"
 *
 * const TestLayer = Tables.layer.pipe(Layer.provideMerge(clientLayer("pk")), Layer.provideMerge(localLayer()))
 * layer(TestLayer)("Tables", (it) => { … })
 * ```
 *
 * - `localLayer(options)` starts a server (scoped; closed with the layer) and provides `BkendLocal`.
 * - `clientLayer("pk" | "sk", options)` builds a `BkendClient` for that server's key (undici transport).
 * - `provideClient("pk" | "sk", options)(effect)` runs an effect with a fresh client: use it when one test needs
 *   several signed-in users (each client holds one session).
 * - Inside `layer(...)` the server and the clients run on the TestClock: `TestClock.adjust` moves both.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Clock, Context, Effect, Layer, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as BkendClient from "../../src/BkendClient.js"
import type * as BkendError from "../../src/BkendError.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import { makeTestServer } from "./engine.js"

/**
 * A running bkend-local server and its base URL (`http://127.0.0.1:<port>`).
 */
export interface BkendLocalShape {
  readonly server: LocalServer.LocalServer
  readonly url: string
}

/**
 * The server of the current test layer.
 */
export class BkendLocal extends Context.Tag("test/utils/BkendLocal")<BkendLocal, BkendLocalShape>() {}

/**
 * Starts bkend-local on 127.0.0.1 with a random port, on the test engine (`BKEND_TEST_ENGINE`, see
 * test/utils/engine.ts); the socket closes when the layer's scope closes.
 */
export const localLayer = (options?: Partial<LocalServer.LocalOptions>): Layer.Layer<BkendLocal> =>
  Layer.scoped(
    BkendLocal,
    Effect.gen(function* () {
      const server = yield* makeTestServer(options)
      const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0, host: "127.0.0.1" }))
      const url = yield* Effect.provide(LocalServer.serverUrl, ctx)
      return { server, url }
    }).pipe(Effect.orDie)
  )

/**
 * Which key a client sends: the publishable `pk_` key (apps; RLS applies) or the secret `sk_` key (admin).
 */
export type KeyKind = "pk" | "sk"

/**
 * Client options beyond the key and base URL.
 */
export type ClientOptions = Omit<BkendClient.Options, "apiKey" | "baseUrl">

/**
 * Retries off by default in tests: a retry would hide the status under test and sleep on the TestClock.
 */
const testDefaults: ClientOptions = { retryPolicy: { maxAttempts: 1 } }

/**
 * The `BkendClient.Options` for the current server and key.
 */
export const clientOptions = (
  key: KeyKind,
  options: ClientOptions = {}
): Effect.Effect<BkendClient.Options, never, BkendLocal> =>
  Effect.map(BkendLocal, ({ server, url }) => ({
    ...testDefaults,
    ...options,
    apiKey: Redacted.make(key === "pk" ? server.keys.publishable : server.keys.secret),
    baseUrl: url
  }))

/**
 * A `BkendClient` for the server in `BkendLocal`, over `NodeHttpClient.layerUndici`.
 */
export const clientLayer = (
  key: KeyKind,
  options?: ClientOptions
): Layer.Layer<BkendClient.BkendClient, never, BkendLocal> =>
  Layer.scoped(
    BkendClient.BkendClient,
    Effect.flatMap(clientOptions(key, options), (o) => Effect.orDie(BkendClient.make(o)))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * Runs `effect` with a fresh client (its own session) for the current server.
 */
export const provideClient =
  (key: KeyKind, options?: ClientOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, BkendClient.BkendClient> | BkendLocal> =>
    Effect.provide(effect, clientLayer(key, options))

/**
 * Runs `effect` with a fresh client plus the services `layer` builds on it, e.g.
 * `provideServices(Auth.layer, "pk")(effect)`: use it when one test needs several signed-in users.
 */
export const provideServices =
  <ROut>(layer: Layer.Layer<ROut, never, BkendClient.BkendClient>, key: KeyKind, options?: ClientOptions) =>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, Exclude<R, BkendClient.BkendClient | ROut> | BkendLocal> =>
    Effect.provide(effect, Layer.provideMerge(layer, clientLayer(key, options)))

/**
 * The server's counters right now (refresh calls, sign-ins, requests by route, …).
 */
export const counters = Effect.flatMap(BkendLocal, ({ server }) => server.counters)

let emailCounter = 0

/**
 * A fresh e-mail address (unique within the test process).
 */
export const uniqueEmail = (prefix = "user"): string =>
  `${prefix}-${Date.now().toString(36)}-${++emailCounter}@example.com`

/**
 * The newest mail sent to `to` (optionally of one kind); dies when there is none.
 */
export const latestMail = (to: string, kind?: LocalServer.MailKind) =>
  Effect.flatMap(BkendLocal, ({ server }) =>
    Effect.flatMap(server.outbox.latest(to, kind), (mail) =>
      mail === undefined ? Effect.dieMessage(`no ${kind ?? "mail"} sent to ${to}`) : Effect.succeed(mail)
    )
  )

/**
 * Sets a user's role directly in the server's store (there is no bootstrap route for the first admin).
 */
export const setRole = (userId: string, role: "admin" | "user" | "guest") =>
  Effect.flatMap(BkendLocal, ({ server }) =>
    Effect.flatMap(Effect.orDie(server.store.users.update(userId, (u) => ({ ...u, role }))), (updated) =>
      updated._tag === "Some" ? Effect.void : Effect.dieMessage(`no user ${userId}`)
    )
  )

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

const base32Decode = (input: string): Uint8Array => {
  const clean = input.replace(/=+$/, "").replace(/\s+/g, "").toUpperCase()
  const out: Array<number> = []
  let bits = 0
  let value = 0
  for (const char of clean) {
    const index = BASE32.indexOf(char)
    if (index < 0) throw new Error("invalid base32 secret")
    value = (value << 5) | index
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Uint8Array.from(out)
}

/**
 * RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret at `timeMillis`.
 */
export const totpAt = (secretBase32: string, timeMillis: number): string => {
  const counter = Math.floor(timeMillis / 1000 / 30)
  const message = Buffer.alloc(8)
  message.writeBigUInt64BE(BigInt(counter))
  const mac = crypto.createHmac("sha1", base32Decode(secretBase32)).update(message).digest()
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f
  const binary =
    (((mac[offset] ?? 0) & 0x7f) << 24) |
    ((mac[offset + 1] ?? 0) << 16) |
    ((mac[offset + 2] ?? 0) << 8) |
    (mac[offset + 3] ?? 0)
  return (binary % 1_000_000).toString().padStart(6, "0")
}

/**
 * The TOTP code for the current (Clock) time: the TestClock inside test layers, as the server sees it.
 */
export const totp = (secretBase32: string): Effect.Effect<string> =>
  Effect.map(Clock.currentTimeMillis, (now) => totpAt(secretBase32, now))

/**
 * The error of an effect that must fail (dies when it succeeds), with its `_tag` and `code` for compact assertions.
 */
export const failure = <A, E extends BkendError.BkendError, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.matchEffect(effect, {
    onFailure: (error) => Effect.succeed({ tag: error._tag, code: error.code, error }),
    onSuccess: () => Effect.dieMessage("expected the call to fail, but it succeeded")
  })

/**
 * One request seen by {@link scriptedClientLayer}: method, path (no query), query and parsed JSON body.
 */
export interface ScriptedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly body: unknown
}

/**
 * A `BkendClient` whose transport answers in memory from `respond` (no socket): for response shapes bkend-local
 * does not emit, e.g. the Ref-page variants of CONTRACT §14. A `status` of 200 with `body` as JSON by default.
 */
export const scriptedClientLayer = (
  respond: (request: ScriptedRequest) => { readonly status?: number; readonly body?: unknown }
): Layer.Layer<BkendClient.BkendClient> =>
  Layer.scoped(
    BkendClient.BkendClient,
    Effect.orDie(
      BkendClient.make({
        ...testDefaults,
        apiKey: Redacted.make(`pk_${"0".repeat(64)}`),
        baseUrl: "http://127.0.0.1:9"
      })
    )
  ).pipe(
    Layer.provide(
      Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request, url) =>
          Effect.sync(() => {
            const raw = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
            const answer = respond({
              method: request.method,
              path: url.pathname,
              query: url.searchParams,
              body: raw === "" ? undefined : JSON.parse(raw)
            })
            const text = answer.body === undefined ? "" : JSON.stringify(answer.body)
            return HttpClientResponse.fromWeb(
              request,
              new Response(text === "" ? null : text, {
                status: answer.status ?? 200,
                headers: { "content-type": "application/json" }
              })
            )
          })
        )
      )
    )
  )
