/**
 * Helpers for testing programs that use the SDK, from the lightest to the most complete:
 *
 * - `TableMock`: a `Tables` answering with the methods you give, typed by the row schema; the others die naming
 *   themselves. `BkendErrors` builds the errors a mock fails with.
 * - `InMemory`: the SDK's own `Tables` and `Files` on maps instead of a server (no users or permissions).
 * - `layer`: the whole SDK wired to an in-process bkend-local (no socket, no network).
 *
 * ```ts
 * import { layer } from "@effect/vitest"
 * import * as BkendTesting from "bkend-effect/testing"
 *
 * layer(BkendTesting.layer({ local: { devMode: true } }))("my program", (it) => {
 *   it.effect("signs up and creates a post", () => myProgram)
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Layer, Redacted } from "effect"

/**
 * Error values with defaults, for mocks: `BkendErrors.forbidden()`, `BkendErrors.notFound({ route })`, …
 *
 * @since 0.1.0
 * @category testing
 */
export * as BkendErrors from "./BkendErrors.js"

/**
 * In-memory fakes of `Tables` and `Files` (the SDK's own services on maps instead of a server), with their
 * contents readable for assertions: `InMemory.layer({ seed: { posts: [...] } })`.
 *
 * @since 0.1.0
 * @category testing
 */
export * as InMemory from "./InMemory.js"

/**
 * Typed table mocks whose unmocked methods die naming themselves: `TableMock.layer(TableMock.make("posts", Post, { create }))`.
 *
 * @since 0.1.0
 * @category testing
 */
export * as TableMock from "./TableMock.js"
import * as Bkend from "../Bkend.js"
import type * as BkendClient from "../BkendClient.js"
import * as LocalServer from "../local/LocalServer.js"

/**
 * What {@link layer} starts with: the local server's options, which key the SDK uses, and client options.
 *
 * @since 0.1.0
 * @category testing
 */
export interface Options {
  /** options of the local server (tables, TTLs, envelope switches, faults, …) */
  readonly local?: Partial<LocalServer.LocalOptions> | undefined
  /** which key the SDK uses: the publishable key (default; RLS applies) or the secret key (admin) */
  readonly key?: "publishable" | "secret" | undefined
  /** client options other than the key and base URL (retry policy, refresh margin) */
  readonly client?: Omit<BkendClient.Options, "apiKey" | "baseUrl"> | undefined
}

/**
 * The SDK (`Bkend.layer`) on an in-process local server, plus the server itself (`LocalServer.LocalServerTag`)
 * so tests can read its outbox, counters and state. Each build of the layer starts a fresh, empty server.
 *
 * @since 0.1.0
 * @category testing
 */
export const layer = (options: Options = {}): Layer.Layer<Bkend.Services | LocalServer.LocalServerTag> =>
  Layer.unwrapEffect(
    Effect.map(LocalServer.make({ baseUrl: LocalServer.inProcessBaseUrl, ...options.local }), (server) =>
      Bkend.layer({
        ...options.client,
        apiKey: Redacted.make(options.key === "secret" ? server.keys.secret : server.keys.publishable),
        baseUrl: LocalServer.inProcessBaseUrl
      }).pipe(
        Layer.provide(LocalServer.layerHttpClient(server)),
        Layer.merge(Layer.succeed(LocalServer.LocalServerTag, server)),
        Layer.orDie
      )
    )
  )
