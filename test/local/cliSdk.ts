/**
 * The SDK against a `bkend-local` child process (see `cliProcess.ts`): a client and its Files service on undici,
 * for one server URL and key, optionally sharing a session store with other clients.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Chunk, Effect, Layer, Redacted, Stream } from "effect"
import * as BkendClient from "../../src/BkendClient.js"
import * as Files from "../../src/Files.js"
import * as Session from "../../src/Session.js"
import type { CliServer } from "./cliProcess.js"

/**
 * A client of `server` (no retries: a test sees every failure) with Files; its transport and `session` layer live
 * as long as the current scope.
 */
export const sdk = (
  server: Pick<CliServer, "baseUrl" | "pk">,
  session: Layer.Layer<Session.TokenStore | Session.RefreshLock> | Layer.Layer<never> = Layer.empty,
  options: Partial<BkendClient.Options> = {}
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Layer.merge(NodeHttpClient.layerUndici, session))
    const client = yield* Effect.orDie(
      BkendClient.make({
        apiKey: Redacted.make(server.pk),
        baseUrl: server.baseUrl,
        retryPolicy: { maxAttempts: 1 },
        ...options
      })
    ).pipe(Effect.provide(context))
    const files = yield* Effect.provideService(Files.make, BkendClient.BkendClient, client)
    return { client, files }
  })

/** Signs up (or, with `"signin"`, in) `email` with the password `Passw0rd!` through `client`; stores the session. */
export const signUp = (client: BkendClient.Service, email: string, route: "signup" | "signin" = "signup") =>
  Effect.flatMap(
    client.request({
      method: "POST",
      route: `/v1/auth/email/${route}`,
      body: { method: "password", email, password: "Passw0rd!", ...(route === "signup" ? { name: "Durable" } : {}) },
      auth: "none",
      response: Session.TokenResponse
    }),
    client.setTokens
  )

/** A file's bytes, downloaded through Files. */
export const download = (files: Files.Service, id: string) =>
  files.download({ id }).pipe(
    Stream.runCollect,
    Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
  )
