/**
 * What every example needs: the SDK layer, pointed at a real bkend when `BKEND_API_URL` and `BKEND_API_KEY` are
 * set, otherwise at an embedded bkend-local on a free loopback port.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Option, Redacted, type Scope } from "effect"
import * as Bkend from "../src/Bkend.js"
import type * as BkendClient from "../src/BkendClient.js"
import * as LocalServer from "../src/local/LocalServer.js"

export interface Target {
  readonly layer: Layer.Layer<Bkend.Services>
  readonly description: string
  readonly baseUrl: string
  /** the embedded server, when there is one (its counters, outbox and secret key) */
  readonly local: Option.Option<LocalServer.LocalServer>
}

export const target = (options: {
  readonly local?: Partial<LocalServer.LocalOptions>
  readonly key?: "publishable" | "secret"
  readonly client?: Omit<BkendClient.Options, "apiKey" | "baseUrl">
}): Effect.Effect<Target, never, Scope.Scope> =>
  Effect.gen(function* () {
    const url = process.env.BKEND_API_URL
    const key = process.env.BKEND_API_KEY
    // one undici agent for the whole example, closed with its scope
    const http = yield* Layer.build(NodeHttpClient.layerUndici)
    if (url !== undefined && key !== undefined) {
      return {
        layer: Bkend.layer({ ...options.client, apiKey: Redacted.make(key), baseUrl: url }).pipe(
          Layer.provide(Layer.succeedContext(http)),
          Layer.orDie
        ),
        description: `bkend at ${url}`,
        baseUrl: url,
        local: Option.none()
      }
    }
    const server = yield* LocalServer.make(options.local)
    const served = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0 })).pipe(Effect.orDie)
    const baseUrl = yield* Effect.provide(LocalServer.serverUrl, served)
    return {
      layer: Bkend.layer({
        ...options.client,
        apiKey: Redacted.make(options.key === "secret" ? server.keys.secret : server.keys.publishable),
        baseUrl
      }).pipe(Layer.provide(Layer.succeedContext(http)), Layer.orDie),
      description: `embedded bkend-local at ${baseUrl}`,
      baseUrl,
      local: Option.some(server)
    }
  })

/** Runs `self` and prints how long it took. */
export const timed = <A, E, R>(label: string, self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const result = yield* self
    console.log(`  ✓ ${label} (${(performance.now() - start).toFixed(1)} ms)`)
    return result
  })

/** A unique e-mail per run, so examples also work against a shared real project. */
export const uniqueEmail = (name: string) => `${name}+${Date.now().toString(36)}@example.com`
