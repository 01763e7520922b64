/**
 * Transport conformance: the behaviour the SDK relies on from its `HttpClient`, checked on the three transports a
 * Node app can use — `NodeTransport.layer` (ours), `NodeHttpClient.layerUndici` and `FetchHttpClient.layer`.
 *
 * Two loopback servers: "bkend" (127.0.0.1) and "elsewhere" (127.0.0.2, another origin). Both record what they
 * receive (headers, body bytes as they arrive, disconnects); the assertions are on what the servers saw.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Context,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schema,
  type Scope,
  Stream
} from "effect"
import type * as Http from "node:http"
import { inspect } from "node:util"
import * as undici from "undici"
import * as BkendClient from "../../src/BkendClient.js"
import { NodeTransport } from "../../src/node/index.js"
import { progressBody } from "../../src/internal/multipart.js"
import { recordingTracer } from "../utils/tracing.js"
import { listen } from "../utils/listen.js"

interface Transport {
  readonly name: string
  readonly layer: Layer.Layer<HttpClient.HttpClient>
  /** decodes a multipart response body (`formData`) and sends a FormData request body */
  readonly formData: boolean
  /** an aborted upload interrupts its request-body stream */
  readonly endsUploadStream: boolean
}

const transports: ReadonlyArray<Transport> = [
  { name: "NodeTransport.layer", layer: NodeTransport.layer, formData: true, endsUploadStream: true },
  // @effect/platform-node 0.108.2 on undici 7.16: undici's body has no formData(), and undici's own FormData
  // encoder fails on Node's global FormData
  { name: "NodeHttpClient.layerUndici", layer: NodeHttpClient.layerUndici, formData: false, endsUploadStream: true },
  // Node's fetch does not cancel the ReadableStream it was given when its request is aborted: the stream's fiber
  // is left running (here: for ever)
  { name: "FetchHttpClient.layer", layer: FetchHttpClient.layer, formData: true, endsUploadStream: false }
]

const API_KEY = `pk_${"5ec7e7".repeat(10)}`
const ACCESS = "access-token-0123456789abcdef"
const REFRESH = "refresh-token-fedcba9876543210"

interface Seen {
  readonly server: "bkend" | "elsewhere"
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  bytes: number
  ended: boolean
}

interface Servers {
  readonly bkend: string
  readonly elsewhere: string
  readonly seen: Array<Seen>
  readonly disconnects: { count: number }
  readonly hits: (path: string) => number
}

const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Http.OutgoingHttpHeaders = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body))

const multipart = async (): Promise<{ readonly type: string; readonly bytes: Buffer }> => {
  const form = new FormData()
  form.append("name", "ada")
  form.append("file", new Blob(["file bytes"], { type: "text/plain" }), "a.txt")
  const web = new Response(form)
  return { type: web.headers.get("content-type") ?? "", bytes: Buffer.from(await web.arrayBuffer()) }
}

const servers: Effect.Effect<Servers, never, Scope.Scope> = Effect.gen(function* () {
  const seen: Array<Seen> = []
  const disconnects = { count: 0 }
  const limited = { n: 0 }
  const form = yield* Effect.promise(multipart)
  const urls = { bkend: "", elsewhere: "" }
  const handler =
    (server: Seen["server"]): Http.RequestListener =>
    (req, res) => {
      const path = req.url ?? "/"
      const entry: Seen = { server, method: req.method ?? "", path, headers: req.headers, bytes: 0, ended: false }
      seen.push(entry)
      res.on("close", () => {
        if (!res.writableEnded) disconnects.count++
      })
      req.on("data", (chunk: Buffer) => {
        entry.bytes += chunk.length
      })
      if (path.startsWith("/hang") || path.startsWith("/v1/hang")) return // never answers (the upload, if any, is still read)
      if (path === "/slow-body") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "100" }).write("0123456789")
        return
      }
      if (path === "/truncated") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "100" }).write("0123456789", () => {
          res.destroy()
        })
        return
      }
      req.on("end", () => {
        entry.ended = true
        const [route = "", query = ""] = path.split("?")
        if (route === "/echo") {
          return json(res, 200, {
            method: req.method,
            bytes: entry.bytes,
            contentType: req.headers["content-type"] ?? null
          })
        }
        if (route === "/response") {
          return json(
            res,
            200,
            { hello: "world" },
            { "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"], "X-Mixed-Case": "yes", "retry-after": "7" }
          )
        }
        if (route === "/form") return res.writeHead(200, { "content-type": form.type }).end(form.bytes)
        if (route === "/urlencoded") {
          return res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" }).end("a=1&b=two")
        }
        if (route === "/bytes") return res.writeHead(200).end(Buffer.alloc(70_000, 7))
        if (route === "/redirect") return res.writeHead(302, { location: `${urls.elsewhere}/steal?${query}` }).end()
        if (route === "/v1/data/items/redirect") {
          return res.writeHead(302, { location: `${urls.elsewhere}/steal?from=get` }).end()
        }
        if (route === "/v1/data/items") return res.writeHead(307, { location: `${urls.elsewhere}/steal` }).end()
        if (route === "/v1/data/items/limited") {
          limited.n++
          return limited.n % 2 === 1
            ? json(
                res,
                429,
                { success: false, error: { code: "data/rate-limit-exceeded", message: "slow down" } },
                {
                  "retry-after": "0",
                  "x-ratelimit-limit": "100",
                  "x-ratelimit-remaining": "0"
                }
              )
            : json(res, 200, { success: true, data: { id: "after-429" } })
        }
        if (route === "/v1/data/items/always-limited") {
          return json(
            res,
            429,
            { success: false, error: { code: "data/rate-limit-exceeded", message: "no" } },
            {
              "retry-after": "0",
              "x-ratelimit-limit": "100",
              "x-ratelimit-remaining": "0"
            }
          )
        }
        if (route === "/v1/data/items/leaky") {
          // a broken server echoing credentials into an error body
          return json(res, 500, {
            success: false,
            error: { code: "internal", message: `key ${req.headers["x-api-key"]} ${req.headers.authorization}` }
          })
        }
        if (route.startsWith("/storage/")) {
          if (req.method === "PUT") return res.writeHead(200, { etag: `"${entry.bytes}"` }).end()
          return res.writeHead(200, { "content-type": "application/octet-stream" }).end("stored bytes")
        }
        if (route === "/steal") return json(res, 200, { success: true, data: { id: "stolen" } })
        return json(res, 200, { success: true, data: { id: "ok" } })
      })
    }
  urls.elsewhere = yield* listen("127.0.0.2", handler("elsewhere"))
  urls.bkend = yield* listen("127.0.0.1", handler("bkend"))
  return {
    ...urls,
    seen,
    disconnects,
    hits: (path: string) => seen.filter((s) => s.path.split("?")[0] === path).length
  }
})

/** Polls (real time) until `predicate` holds; fails the test after ~5 s. */
const until = (predicate: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5))
    if (!predicate()) throw new Error(`condition not reached: ${predicate.toString()}`)
  })

/** A transport's client, built in the test's scope (the layer's dispatcher closes with it). */
const httpClient = (transport: Transport) =>
  Effect.map(Layer.build(transport.layer), (ctx) => Context.get(ctx, HttpClient.HttpClient))

/** fetch follows redirects unless told not to; the SDK always tells it (the undici transports never follow). */
const manual = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provideService(self, FetchHttpClient.RequestInit, { redirect: "manual" })

const render = (u: unknown): string => {
  let text = ""
  try {
    text = JSON.stringify(u) ?? ""
  } catch {
    text = ""
  }
  return `${text}\n${inspect(u, { depth: 12 })}\n${String(u)}`
}

const Id = Schema.Struct({ id: Schema.String })

describe.each(transports)("transport conformance: $name", (transport) => {
  it.live("response: status, lower-cased headers, cookies; text then json read the body once", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)
        const res = yield* http.get(`${s.bkend}/response`)
        expect(res.status).toBe(200)
        expect(res.headers["x-mixed-case"]).toBe("yes")
        expect(res.headers["retry-after"]).toBe("7")
        expect(Object.keys(res.headers).every((k) => k === k.toLowerCase())).toBe(true)
        expect(res.cookies.cookies.a?.value).toBe("1")
        expect(res.cookies.cookies.b?.value).toBe("2")
        expect(res.cookies.cookies.b?.options?.httpOnly).toBe(true)
        expect(Option.isOption(res.remoteAddress)).toBe(true)
        expect(yield* res.text).toBe('{"hello":"world"}')
        expect(yield* res.json).toEqual({ hello: "world" })
        expect(yield* res.text).toBe('{"hello":"world"}')
      })
    )
  )

  it.live("response bodies: arrayBuffer, stream, urlParamsBody, formData", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)
        const bytes = yield* Effect.flatMap(http.get(`${s.bkend}/bytes`), (r) => r.arrayBuffer)
        expect(bytes.byteLength).toBe(70_000)
        const chunks = yield* Stream.runCollect(
          Stream.unwrap(Effect.map(http.get(`${s.bkend}/bytes`), (r) => r.stream))
        )
        expect(Chunk.reduce(chunks, 0, (n, c) => n + c.length)).toBe(70_000)
        const params = yield* Effect.flatMap(http.get(`${s.bkend}/urlencoded`), (r) => r.urlParamsBody)
        expect(params).toEqual([
          ["a", "1"],
          ["b", "two"]
        ])
        const form = yield* Effect.exit(Effect.flatMap(http.get(`${s.bkend}/form`), (r) => r.formData))
        if (transport.formData) {
          const value = Exit.isSuccess(form) ? form.value : undefined
          expect(value?.get("name")).toBe("ada")
          const file = value?.get("file")
          expect(file instanceof Blob ? yield* Effect.promise(() => file.text()) : file).toBe("file bytes")
        } else {
          expect(Exit.isFailure(form)).toBe(true)
        }
      })
    )
  )

  it.live("request bodies: bytes, FormData, and a Stream that is sent as it is produced", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)
        const echo = (request: HttpClientRequest.HttpClientRequest) =>
          Effect.flatMap(http.execute(request), (r) => r.json)

        expect(
          yield* echo(
            HttpClientRequest.post(`${s.bkend}/echo`).pipe(HttpClientRequest.bodyUint8Array(new Uint8Array(5)))
          )
        ).toEqual({ method: "POST", bytes: 5, contentType: "application/octet-stream" })

        const form = new FormData()
        form.append("field", "value")
        const formEcho = yield* Effect.either(
          echo(HttpClientRequest.post(`${s.bkend}/echo`).pipe(HttpClientRequest.bodyFormData(form)))
        )
        if (transport.formData) {
          expect(Either.getOrThrow(formEcho)).toMatchObject({
            method: "POST",
            bytes: expect.any(Number),
            contentType: expect.stringMatching(/^multipart\/form-data; boundary=/)
          })
        } else {
          expect(Either.isLeft(formEcho)).toBe(true)
        }

        // the second chunk is produced only once the server has received the first: a transport that buffered
        // the whole stream before sending would never get there
        const first = new Uint8Array(1000)
        const upload = () => s.seen.find((x) => x.path === "/echo?stream")
        const body = Stream.concat(
          Stream.make(first),
          Stream.fromEffect(
            Effect.as(
              until(() => (upload()?.bytes ?? 0) >= first.length),
              new Uint8Array(500)
            )
          )
        )
        const streamed = yield* echo(
          HttpClientRequest.post(`${s.bkend}/echo?stream`).pipe(
            HttpClientRequest.bodyStream(body, { contentType: "application/x-test", contentLength: 1500 })
          )
        )
        expect(streamed).toEqual({ method: "POST", bytes: 1500, contentType: "application/x-test" })
      })
    )
  )

  it.live("interruption aborts: before headers, while reading, unread at scope end, mid-upload", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)

        const waiting = yield* Effect.fork(http.get(`${s.bkend}/hang`))
        yield* until(() => s.hits("/hang") === 1)
        yield* Fiber.interrupt(waiting)
        yield* until(() => s.disconnects.count === 1)

        const reading = yield* Effect.fork(Effect.flatMap(http.get(`${s.bkend}/slow-body`), (r) => r.text))
        yield* until(() => s.hits("/slow-body") === 1)
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(reading)
        yield* until(() => s.disconnects.count === 2)

        // a response left unread when its scope closes: aborted, and its body's error reaches no one
        yield* Effect.scoped(http.pipe(HttpClient.withScope).get(`${s.bkend}/slow-body`))
        yield* until(() => s.disconnects.count === 3)

        // an upload whose stream never ends: interrupting the request aborts it (and interrupts the stream)
        let streamInterrupted = false
        const body = Stream.concat(
          Stream.make(new Uint8Array(100)),
          Stream.fromEffect(
            Effect.onInterrupt(Effect.never, () =>
              Effect.sync(() => {
                streamInterrupted = true
              })
            )
          )
        )
        const uploading = yield* Effect.fork(
          http.execute(HttpClientRequest.post(`${s.bkend}/hang-upload`).pipe(HttpClientRequest.bodyStream(body)))
        )
        yield* until(() => (s.seen.find((x) => x.path === "/hang-upload")?.bytes ?? 0) >= 100)
        yield* Fiber.interrupt(uploading)
        yield* until(() => s.disconnects.count === 4)
        if (transport.endsUploadStream) {
          yield* until(() => streamInterrupted)
          expect(streamInterrupted).toBe(true)
        }
      })
    )
  )

  it.live("redirects are returned, not followed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)
        const res = yield* manual(http.get(`${s.bkend}/redirect?x=1`))
        // fetch reports a manual redirect as status 0 (an opaque redirect) in browsers and 302 on Node
        expect([0, 302]).toContain(res.status)
        expect(s.seen.filter((x) => x.path.startsWith("/steal"))).toEqual([])
      })
    )
  )

  it.live(
    "errors: a refused connection and a failing upload stream are RequestError Transport; a cut body is ResponseError Decode",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const s = yield* servers
          const http = yield* httpClient(transport)
          const closed = yield* Effect.scoped(listen("127.0.0.1", () => {}))
          const refused = yield* Effect.flip(http.get(`${closed}/x`))
          expect(refused._tag).toBe("RequestError")
          if (refused._tag === "RequestError") {
            expect(refused.reason).toBe("Transport")
            expect(refused.cause).toBeDefined()
          }

          const failing = Stream.concat(Stream.make(new Uint8Array(10)), Stream.fail("the source broke"))
          const broken = yield* Effect.flip(
            http.execute(HttpClientRequest.post(`${s.bkend}/echo`).pipe(HttpClientRequest.bodyStream(failing)))
          )
          expect(broken._tag).toBe("RequestError")
          if (broken._tag === "RequestError") expect(broken.reason).toBe("Transport")

          const cut = yield* Effect.flip(Effect.flatMap(http.get(`${s.bkend}/truncated`), (r) => r.text))
          expect(cut._tag).toBe("ResponseError")
          if (cut._tag === "ResponseError") expect(cut.reason).toBe("Decode")
        })
      )
  )

  it.live("tracing: a client span with redacted headers, traceparent sent unless propagation is off", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* httpClient(transport)
        const { spans, tracer } = yield* recordingTracer
        const get = (client: HttpClient.HttpClient, path: string) =>
          client.execute(HttpClientRequest.get(`${s.bkend}${path}`).pipe(HttpClientRequest.bearerToken(ACCESS))).pipe(
            Effect.flatMap((r) => r.text),
            Effect.withSpan("caller"),
            Effect.withTracer(tracer)
          )
        yield* get(http, "/echo?traced")
        yield* get(http.pipe(HttpClient.withTracerPropagation(false)), "/echo?unpropagated")
        const traced = s.seen.find((x) => x.path === "/echo?traced")
        const unpropagated = s.seen.find((x) => x.path === "/echo?unpropagated")
        expect(traced?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
        expect(unpropagated?.headers.traceparent).toBeUndefined()
        expect(unpropagated?.headers.b3).toBeUndefined()
        expect(unpropagated?.headers.authorization).toBe(`Bearer ${ACCESS}`)

        const client = spans.filter((span) => span.kind === "client")
        expect(client.length).toBe(2)
        const caller = spans.find((span) => span.name === "caller")
        expect(client[0]?.parent).toEqual(Option.some(caller))
        expect(client[0]?.attributes.get("http.request.method")).toBe("GET")
        expect(client[0]?.attributes.get("http.response.status_code")).toBe(200)
        expect(String(client[0]?.attributes.get("http.request.header.authorization"))).toBe("<redacted>")
        expect(render([...(client[0]?.attributes.entries() ?? [])])).not.toContain(ACCESS)
      })
    )
  )

  describe("through BkendClient", () => {
    const sdk = (s: Servers, retryPolicy: Partial<BkendClient.RetryPolicy> = { maxAttempts: 1 }) =>
      Effect.gen(function* () {
        const http = yield* Layer.build(transport.layer)
        const client = yield* BkendClient.make({ apiKey: Redacted.make(API_KEY), baseUrl: s.bkend, retryPolicy }).pipe(
          Effect.provide(http)
        )
        yield* client.setTokens({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 })
        return client
      })
    const get = (client: BkendClient.Service, id: string) =>
      client.request({
        method: "GET",
        route: "/v1/data/:table/:id",
        params: { table: "items", id },
        auth: "required",
        response: Id
      })

    it.live("no bkend header or traceparent to storage or another origin; redirects not followed", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const s = yield* servers
          const client = yield* sdk(s)
          const { tracer } = yield* recordingTracer
          const size = 200_000
          yield* Effect.gen(function* () {
            const redirected = yield* Effect.either(get(client, "redirect"))
            const posted = yield* Effect.either(
              client.request({
                method: "POST",
                route: "/v1/data/:table",
                params: { table: "items" },
                body: { a: 1 },
                auth: "required",
                response: Id
              })
            )
            for (const r of [redirected, posted]) {
              expect(Either.isLeft(r)).toBe(true)
              if (Either.isLeft(r))
                expect(r.left.status === 0 || (r.left.status >= 300 && r.left.status < 400)).toBe(true)
            }
            expect((yield* get(client, "fine")).id).toBe("ok")

            // presigned storage on the other origin: a plain PUT, a streaming PUT with progress, a GET
            const put = yield* client.storagePut({ url: `${s.elsewhere}/storage/a?sig=1`, body: new Uint8Array(3) })
            expect(put.etag).toBe('"3"')
            const progress: Array<number> = []
            const streamed = yield* client.storagePut({
              url: `${s.elsewhere}/storage/b?sig=2`,
              body: new Uint8Array(size),
              stream: progressBody(new Uint8Array(size), (sent) => Effect.sync(() => progress.push(sent)))
            })
            expect(streamed.etag).toBe(`"${size}"`)
            expect(progress.length).toBeGreaterThan(1)
            expect(progress.every((p, i) => i === 0 || p > (progress[i - 1] ?? 0))).toBe(true)
            expect(progress.at(-1)).toBe(size)
            const bytes = yield* client.storageGet(`${s.elsewhere}/storage/c?sig=3`)
            expect(new TextDecoder().decode(bytes)).toBe("stored bytes")
          }).pipe(Effect.withSpan("app"), Effect.withTracer(tracer))

          const credentialed = (x: Seen) =>
            x.headers["x-api-key"] !== undefined || x.headers.authorization !== undefined
          expect(s.seen.filter((x) => x.server === "elsewhere" && credentialed(x))).toEqual([])
          expect(s.seen.filter((x) => x.headers.traceparent !== undefined || x.headers.b3 !== undefined)).toEqual([])
          expect(s.seen.filter((x) => x.path.startsWith("/steal"))).toEqual([])
          // not vacuous: bkend got the credentials, storage got the requests (and the whole streamed body)
          const bkend = s.seen.filter((x) => x.server === "bkend")
          expect(bkend.length).toBe(3)
          expect(bkend.every(credentialed)).toBe(true)
          expect(s.seen.filter((x) => x.path.startsWith("/storage/")).map((x) => x.bytes)).toEqual([3, size, 0])
        })
      )
    )

    it.live("429 with Retry-After is retried, rate-limit headers reach the error", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const s = yield* servers
          const client = yield* sdk(s, { maxAttempts: 2 })
          expect((yield* get(client, "limited")).id).toBe("after-429")
          expect(s.hits("/v1/data/items/limited")).toBe(2)
          const error = yield* Effect.flip(get(client, "always-limited"))
          expect(error._tag).toBe("RateLimited")
          if (error._tag === "RateLimited") {
            expect(error.limit).toBe(100)
            expect(error.remaining).toBe(0)
          }
          expect(s.hits("/v1/data/items/always-limited")).toBe(2)
        })
      )
    )

    it.live("an attempt timeout aborts the request and becomes NetworkError Timeout; interruption aborts too", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const s = yield* servers
          const client = yield* sdk(s, { maxAttempts: 1, attemptTimeout: 100 })
          const hang = client.request({ method: "GET", route: "/v1/hang", auth: "none", response: Id })
          const error = yield* Effect.flip(hang)
          expect(error._tag).toBe("NetworkError")
          if (error._tag === "NetworkError") expect(error.reason).toBe("Timeout")
          yield* until(() => s.disconnects.count === 1)

          const patient = yield* sdk(s, { maxAttempts: 1, attemptTimeout: 60_000 })
          const fiber = yield* Effect.fork(
            patient.request({ method: "GET", route: "/v1/hang", auth: "none", response: Id })
          )
          yield* until(() => s.hits("/v1/hang") === 2)
          yield* Fiber.interrupt(fiber)
          yield* until(() => s.disconnects.count === 2)
        })
      )
    )

    it.live("no secret in errors from a transport failure or a server that echoes credentials", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const s = yield* servers
          const client = yield* sdk(s)
          const leaky = yield* Effect.flip(get(client, "leaky"))
          expect(leaky._tag).toBe("ServerError")
          const closed = yield* Effect.scoped(listen("127.0.0.1", () => {}))
          const http = yield* Layer.build(transport.layer)
          const refusedClient = yield* BkendClient.make({
            apiKey: Redacted.make(API_KEY),
            baseUrl: closed,
            retryPolicy: { maxAttempts: 1 }
          }).pipe(Effect.provide(http))
          yield* refusedClient.setTokens({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 })
          const refused = yield* Effect.flip(get(refusedClient, "x"))
          expect(refused._tag).toBe("NetworkError")
          for (const e of [leaky, refused]) {
            const text = `${render(e)}\n${e.message}\n${e.stack ?? ""}`
            for (const secret of [API_KEY, ACCESS, REFRESH]) expect(text).not.toContain(secret)
          }
          // not vacuous: the server did echo the credentials it received
          expect(s.seen.find((x) => x.path === "/v1/data/items/leaky")?.headers["x-api-key"]).toBe(API_KEY)
        })
      )
    )
  })
})

describe("NodeTransport.layer", () => {
  it.live("layerWithDispatcher uses the given dispatcher and leaves it open", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const agent = new undici.Agent({ connections: 1 })
        yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
        let dispatched = 0
        const counting = agent.compose((dispatch) => (options, handler) => {
          dispatched++
          return dispatch(options, handler)
        })
        const echo = yield* Effect.scoped(
          Effect.flatMap(Layer.build(NodeTransport.layerWithDispatcher(counting)), (ctx) =>
            Effect.flatMap(Context.get(ctx, HttpClient.HttpClient).get(`${s.bkend}/echo`), (r) => r.json)
          )
        )
        expect(echo).toEqual({ method: "GET", bytes: 0, contentType: null })
        expect(dispatched).toBe(1)
        expect(agent.destroyed).toBe(false)
        const again = yield* Effect.flatMap(NodeTransport.make(agent).get(`${s.bkend}/echo`), (r) => r.text)
        expect(again).toContain('"method":"GET"')
      })
    )
  )

  it.live("requests after the layer's scope closed fail with RequestError Transport", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const s = yield* servers
        const http = yield* Effect.scoped(
          Effect.gen(function* () {
            const http = yield* httpClient(transports[0]!)
            yield* Effect.flatMap(http.get(`${s.bkend}/echo`), (r) => r.json)
            return http
          })
        )
        const error = yield* Effect.flip(http.get(`${s.bkend}/echo`))
        expect(error._tag).toBe("RequestError")
        if (error._tag === "RequestError") expect(error.reason).toBe("Transport")
        expect(s.hits("/echo")).toBe(1)
      })
    )
  )
})
