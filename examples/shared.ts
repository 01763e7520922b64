/**
 * Where the examples send their requests: a real bkend when `BKEND_API_URL` and `BKEND_API_KEY` are set, otherwise
 * an embedded bkend-local on a free loopback port (stopped with the scope). Each example builds its own SDK layer
 * from the `baseUrl` and `apiKey` this returns.
 */
import { Effect, Layer, Option, Redacted, type Scope } from "effect"
import * as Local from "bkend-effect/local"

export interface Target {
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted
  readonly description: string
  /** the embedded server, when there is one (its counters, outbox and secret key) */
  readonly local: Option.Option<Local.LocalServer>
}

export const target = (options: {
  readonly local?: Partial<Local.LocalOptions>
  readonly key?: "publishable" | "secret"
}): Effect.Effect<Target, never, Scope.Scope> =>
  Effect.gen(function* () {
    const url = process.env.BKEND_API_URL
    const key = process.env.BKEND_API_KEY
    if (url !== undefined && key !== undefined) {
      return { baseUrl: url, apiKey: Redacted.make(key), description: `bkend at ${url}`, local: Option.none() }
    }
    const server = yield* Local.make(options.local)
    const served = yield* Layer.build(Local.layerNodeServer(server, { port: 0 })).pipe(Effect.orDie)
    const baseUrl = yield* Effect.provide(Local.serverUrl, served)
    return {
      baseUrl,
      apiKey: Redacted.make(options.key === "secret" ? server.keys.secret : server.keys.publishable),
      description: `embedded bkend-local at ${baseUrl}`,
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
