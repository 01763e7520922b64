/**
 * Header leak: X-API-Key and Authorization go to the bkend base URL only — never to a storage URL, never to another
 * host, including when a bkend route or a storage URL answers with a redirect. Checked on both transports.
 *
 * Two loopback servers: "bkend" (127.0.0.1) and "elsewhere" (127.0.0.2, another host). Both record every request
 * they receive; the assertion is on what the servers saw, not on what the client meant to send.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, Schema } from "effect"
import type * as Http from "node:http"
import * as BkendClient from "../../src/BkendClient.js"
import { progressBody } from "../../src/internal/multipart.js"
import { listen } from "../utils/listen.js"

interface Seen {
  readonly server: "bkend" | "elsewhere"
  readonly method: string
  readonly path: string
  readonly apiKey: boolean
  readonly authorization: boolean
}

const API_KEY = `pk_${"c0ffee".repeat(10)}`
const ACCESS = "access.token.value"

const servers = Effect.gen(function* () {
  const seen: Array<Seen> = []
  const record = (server: Seen["server"], req: Http.IncomingMessage) =>
    seen.push({
      server,
      method: req.method ?? "",
      path: req.url ?? "",
      apiKey: req.headers["x-api-key"] !== undefined,
      authorization: req.headers.authorization !== undefined
    })
  const urls = { bkend: "", elsewhere: "" }
  urls.elsewhere = yield* listen("127.0.0.2", (req, res) => {
    record("elsewhere", req)
    req.resume()
    req.on("end", () => {
      if (req.url?.startsWith("/storage/to-bkend")) {
        res.writeHead(302, { location: `${urls.bkend}/v1/data/from-storage/x` }).end()
      } else if (req.url?.startsWith("/storage/")) {
        res.writeHead(200, { etag: '"e1"', "content-type": "application/octet-stream" }).end("bytes")
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end('{"id":"stolen"}')
      }
    })
  })
  urls.bkend = yield* listen("127.0.0.1", (req, res) => {
    record("bkend", req)
    req.resume()
    req.on("end", () => {
      const path = req.url ?? ""
      if (path.startsWith("/v1/data/redirect/")) {
        res.writeHead(302, { location: `${urls.elsewhere}/steal?from=get` }).end()
      } else if (path.startsWith("/v1/data/redirect")) {
        res.writeHead(307, { location: `${urls.elsewhere}/steal?from=post` }).end()
      } else if (path.startsWith("/v1/data/relative/")) {
        res.writeHead(301, { location: `//127.0.0.2:${new URL(urls.elsewhere).port}/steal?from=relative` }).end()
      } else if (path.startsWith("/v1/files/presigned-url")) {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ success: true, data: { url: `${urls.elsewhere}/storage/obj?sig=abc`, key: "k" } }))
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"data":{"id":"ok"}}')
      }
    })
  })
  return { seen, urls }
})

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici],
  ["FetchHttpClient.layer", FetchHttpClient.layer]
]

const Id = Schema.Struct({ id: Schema.String })

describe("reliability: header leak", () => {
  for (const [name, transport] of transports) {
    it.live(`no bkend header reaches storage or another host, redirects included (${name})`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { seen, urls } = yield* servers
          // built in the test's scope: the undici dispatcher lives as long as the scope
          const http = yield* Layer.build(transport)
          const client = yield* BkendClient.make({
            apiKey: Redacted.make(API_KEY),
            baseUrl: urls.bkend,
            retryPolicy: { maxAttempts: 1 }
          }).pipe(Effect.provide(http))
          yield* client.setTokens({ accessToken: ACCESS, refreshToken: "refresh.token", expiresIn: 3600 })

          // bkend routes answering redirects to another host: GET 302, POST 307, protocol-relative 301
          const get = yield* Effect.either(
            client.request({
              method: "GET",
              route: "/v1/data/:table/:id",
              params: { table: "redirect", id: "x" },
              auth: "required",
              response: Id
            })
          )
          const post = yield* Effect.either(
            client.request({
              method: "POST",
              route: "/v1/data/:table",
              params: { table: "redirect" },
              body: { a: 1 },
              auth: "required",
              response: Id
            })
          )
          const relative = yield* Effect.either(
            client.request({
              method: "GET",
              route: "/v1/data/:table/:id",
              params: { table: "relative", id: "x" },
              auth: "required",
              response: Id
            })
          )
          // a redirect is never followed, so it is never a success with the other host's body
          for (const r of [get, post, relative]) {
            expect(Either.isLeft(r)).toBe(true)
            if (Either.isLeft(r))
              expect(r.left.status === 0 || (r.left.status >= 300 && r.left.status < 400)).toBe(true)
          }

          // presigned storage: PUT and GET on the other host, and a storage URL redirecting back to bkend
          const presigned = yield* client.request({
            method: "POST",
            route: "/v1/files/presigned-url",
            auth: "required",
            body: { filename: "a.txt", contentType: "text/plain", fileSize: 3 },
            response: Schema.Struct({ url: Schema.String, key: Schema.String })
          })
          const put = yield* client.storagePut({
            url: presigned.url,
            body: new Uint8Array([1, 2, 3]),
            contentType: "text/plain"
          })
          expect(put.etag).toBe('"e1"')
          const bytes = yield* client.storageGet(presigned.url)
          expect(new TextDecoder().decode(bytes)).toBe("bytes")
          yield* Effect.either(client.storageGet(`${urls.elsewhere}/storage/to-bkend`))
          // progress-reporting PUT takes the streaming path
          yield* client.storagePut({
            url: `${urls.elsewhere}/storage/obj2?sig=def`,
            body: new Uint8Array(200_000),
            stream: progressBody(new Uint8Array(200_000), () => Effect.void)
          })

          // the servers' view: bkend headers only on bkend /v1 routes
          const leaks = seen.filter(
            (s) => (s.apiKey || s.authorization) && !(s.server === "bkend" && s.path.startsWith("/v1/"))
          )
          expect(leaks).toEqual([])
          const storage = seen.filter((s) => s.path.startsWith("/storage/"))
          expect(storage.length).toBeGreaterThanOrEqual(4)
          // and the bkend routes did get them (the check is not vacuous)
          const bkend = seen.filter((s) => s.server === "bkend" && s.path.startsWith("/v1/"))
          expect(bkend.length).toBeGreaterThanOrEqual(4)
          expect(bkend.every((s) => s.apiKey && s.authorization)).toBe(true)
          // nothing followed a bkend redirect to the other host
          expect(seen.filter((s) => s.path.startsWith("/steal"))).toEqual([])
        })
      )
    )
  }
})
