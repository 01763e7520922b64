/**
 * NetworkError over real sockets: a refused port and a connection reset, on both transports. The error names the
 * underlying code, the host and the attempts, and carries no key, token or presigned-URL secret.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import * as Net from "node:net"
import * as BkendClient from "../src/BkendClient.js"
import * as BkendError from "../src/BkendError.js"

const PK = `pk_${"c3".repeat(32)}`
const ACCESS = `at_${"x".repeat(40)}`
const REFRESH = `rt_${"y".repeat(40)}`
const SIGNATURE = `sig${"z".repeat(40)}`

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["fetch", FetchHttpClient.layer]
]

/** A loopback port nothing listens on: bound, then closed. */
const refusedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = Net.createServer()
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
)

/** A server that resets every connection once the request has arrived. */
const resettingServer = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ server: Net.Server; port: number }>((resolve) => {
        const server = Net.createServer((socket) => socket.once("data", () => socket.resetAndDestroy()))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 })
        })
      })
  ),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

const client = (port: number, transport: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function* () {
    const layer = BkendClient.layer({
      apiKey: Redacted.make(PK),
      baseUrl: `http://127.0.0.1:${port}`,
      retryPolicy: { maxAttempts: 3, baseDelay: 1, maxDelay: 1, jitter: 0 }
    }).pipe(Layer.provide(transport))
    const c = Context.get(yield* Layer.build(layer), BkendClient.BkendClient)
    yield* c.setTokens({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 })
    return c
  })

const networkError = (u: unknown): BkendError.NetworkError => {
  if (!(u instanceof BkendError.NetworkError)) throw new Error(`expected NetworkError, got ${String(u)}`)
  return u
}

const expectNoSecret = (error: BkendError.NetworkError) => {
  for (const text of [error.message, String(error), error.toString(), JSON.stringify(error)]) {
    for (const secret of [PK, ACCESS, REFRESH, SIGNATURE]) expect(text).not.toContain(secret)
  }
}

describe("NetworkError", () => {
  for (const [name, transport] of transports) {
    it.live(`a refused port: the code, the host and the attempts (${name})`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* refusedPort
          const c = yield* client(port, transport)
          const error = networkError(
            yield* c
              .request({
                method: "GET",
                route: "/v1/data/:table",
                params: { table: "t" },
                query: { q: ACCESS },
                auth: "required",
                response: Schema.Unknown
              })
              .pipe(Effect.flip)
          )
          expect(error.reason).toBe("Transport")
          expect(error.causeCode).toBe("ECONNREFUSED")
          expect(error.host).toBe(`127.0.0.1:${port}`)
          expect(error.attempts).toBe(3)
          expect(error.message).toBe(`connect ECONNREFUSED to 127.0.0.1:${port} after 3 attempts`)
          expect(error.route).toBe("/v1/data/:table")
          expectNoSecret(error)
          // a POST is not retried: one attempt
          const post = networkError(
            yield* c
              .request({ method: "POST", route: "/v1/data/t", body: {}, auth: "required", response: Schema.Unknown })
              .pipe(Effect.flip)
          )
          expect(post.message).toBe(`connect ECONNREFUSED to 127.0.0.1:${port} after 1 attempt`)
        })
      )
    )

    it.live(`a reset connection (${name})`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { port } = yield* resettingServer
          const c = yield* client(port, transport)
          const error = networkError(
            yield* c
              .request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Schema.Unknown })
              .pipe(Effect.flip)
          )
          expect(error.reason).toBe("Transport")
          expect(error.causeCode).toBe("ECONNRESET")
          expect(error.host).toBe(`127.0.0.1:${port}`)
          expect(error.attempts).toBe(3)
          expect(error.message).toBe(`read ECONNRESET to 127.0.0.1:${port} after 3 attempts`)
          expectNoSecret(error)
        })
      )
    )

    it.live(`a presigned storage URL: only its host is named (${name})`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* refusedPort
          const c = yield* client(port, transport)
          const url = `http://127.0.0.1:${port}/bucket/secret-key.bin?X-Amz-Signature=${SIGNATURE}`
          for (const error of [
            yield* c.storageGet(url).pipe(Effect.flip),
            yield* c.storagePut({ url, body: new Uint8Array([1, 2, 3]) }).pipe(Effect.flip)
          ]) {
            const e = networkError(error)
            expect(e.causeCode).toBe("ECONNREFUSED")
            expect(e.host).toBe(`127.0.0.1:${port}`)
            expect(e.message).toBe(`connect ECONNREFUSED to 127.0.0.1:${port} after 3 attempts`)
            for (const text of [e.message, String(e), JSON.stringify(e)]) expect(text).not.toContain("secret-key")
            expectNoSecret(e)
          }
        })
      )
    )
  }

  it("existing constructions compile and read as before (the new fields are optional)", () => {
    const e = new BkendError.NetworkError({
      status: 0,
      reason: "Transport",
      message: "Transport",
      method: "GET",
      route: "/x"
    })
    expect(e.causeCode).toBeUndefined()
    expect(e.host).toBeUndefined()
    expect(e.attempts).toBeUndefined()
    expect(e.isRetryable).toBe(true)
  })
})
