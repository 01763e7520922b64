import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import type { ReadableStream as WebReadableStream } from "node:stream/web"
import type * as Undici from "undici"

type Body = Exclude<Undici.Dispatcher.RequestOptions["body"], undefined>

const isBody = (u: unknown): u is Body =>
  u === null || typeof u === "string" || u instanceof Uint8Array || u instanceof Readable

/** What undici is handed: the body, and the content type when the body chose it (a multipart boundary). */
interface Outgoing {
  readonly body: Body
  readonly contentType?: string | undefined
}

/**
 * The request body as undici takes it: bytes as they are, a Stream as a Readable, FormData encoded by the web
 * `Response` (undici 7's own FormData encoder fails on Node's global FormData).
 */
const outgoing = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Outgoing, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ body: null })
    case "Uint8Array":
      return Effect.succeed({ body: body.body })
    case "Raw":
      return isBody(body.body)
        ? Effect.succeed({ body: body.body })
        : Effect.fail(
            new HttpClientError.RequestError({
              request,
              reason: "Encode",
              description: "a raw body must be a string, a Uint8Array or a Readable"
            })
          )
    case "FormData": {
      const web = new Response(body.formData)
      // (`web.body` is typed with the DOM's ReadableStream; at run time it is Node's, which `fromWeb` takes)
      return web.body === null
        ? Effect.succeed({ body: null })
        : Effect.succeed({
            body: Readable.fromWeb(web.body as WebReadableStream<Uint8Array>),
            contentType: web.headers.get("content-type") ?? undefined
          })
    }
    case "Stream":
      // the stream runs on the requesting fiber's runtime (its services, its FiberRefs); an abort destroys the
      // Readable, which interrupts the stream
      return Effect.map(Stream.toAsyncIterableEffect(body.stream), (chunks) => ({
        body: Readable.from(chunks, { objectMode: false })
      }))
  }
}

const send = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  signal: AbortSignal,
  out: Outgoing
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async((resume) => {
    dispatcher
      .request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers:
          out.contentType === undefined ? request.headers : { ...request.headers, "content-type": out.contentType },
        body: out.body,
        signal,
        // timeouts are the caller's (Effect.timeout, the SDK's retry policy), not the socket's
        headersTimeout: 0,
        bodyTimeout: 0
      })
      .then(
        (data) => resume(Effect.succeed(new NodeResponse(request, data))),
        (cause: unknown) =>
          resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
      )
  })

const decodeError = (response: NodeResponse, cause: unknown) =>
  new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", cause })

/**
 * A body read: one promise per kind, memoised so that `text` then `json` reads once, and, once it has settled, an
 * effect that needs no async step (so `Effect.runSync` in `toJSON` sees the body as the platform's responses let it).
 */
class Memo<A> {
  private promise: Promise<A> | undefined
  private done: Effect.Effect<A, HttpClientError.ResponseError> | undefined
  constructor(
    private readonly response: NodeResponse,
    private readonly read: () => Promise<A>
  ) {}
  get effect(): Effect.Effect<A, HttpClientError.ResponseError> {
    return this.done ?? Effect.async((resume) => this.settle(resume))
  }
  private settle(resume: (effect: Effect.Effect<A, HttpClientError.ResponseError>) => void) {
    this.promise ??= this.read()
    this.promise.then(
      (a) => {
        this.done = Effect.succeed(a)
        resume(this.done)
      },
      (cause: unknown) => {
        this.done = Effect.fail(decodeError(this.response, cause))
        resume(this.done)
      }
    )
  }
}

class NodeResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private readonly textBody: Memo<string>
  private readonly bytesBody: Memo<ArrayBuffer>
  private readonly formDataBody: Memo<FormData>
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Cookies.Cookies | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly source: Undici.Dispatcher.ResponseData
  ) {
    // (undici itself keeps an aborted or broken body's "error" from crashing the process when nobody reads it)
    super()
    this.textBody = new Memo(this, () => source.body.text())
    this.bytesBody = new Memo(this, () => source.body.arrayBuffer())
    // undici's body has no formData(): the web Response parses multipart and urlencoded bodies
    this.formDataBody = new Memo(this, () =>
      source.body
        .arrayBuffer()
        .then((bytes) => new Response(bytes, { headers: { "content-type": this.headers["content-type"] ?? "" } }))
        .then((web) => web.formData())
    )
  }

  get status(): number {
    return this.source.statusCode
  }

  get headers(): Headers.Headers {
    if (this.cachedHeaders === undefined) this.cachedHeaders = Headers.fromInput(this.source.headers)
    return this.cachedHeaders
  }

  get cookies(): Cookies.Cookies {
    if (this.cachedCookies === undefined) {
      const header = this.source.headers["set-cookie"]
      this.cachedCookies =
        header === undefined ? Cookies.empty : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
    }
    return this.cachedCookies
  }

  /** undici's response does not expose the socket */
  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.textBody.effect
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.textBody.effect, (text) =>
      Effect.try({
        try: (): unknown => (text === "" ? null : JSON.parse(text)),
        catch: (cause) => decodeError(this, cause)
      })
    )
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.textBody.effect, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => decodeError(this, cause)
      })
    )
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return this.bytesBody.effect
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.formDataBody.effect
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.fromAsyncIterable(this.source.body, (cause) => decodeError(this, cause))
  }

  override toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/**
 * Where the dispatcher comes from: given, or created on the first request (so that building the layer does not
 * load undici) and destroyed with the layer.
 */
export interface DispatcherSource {
  /** the dispatcher, once there is one: the common path takes it without an extra async step */
  readonly current: () => Undici.Dispatcher | undefined
  readonly load: () => Promise<Undici.Dispatcher>
}

export const make = (source: DispatcherSource): HttpClient.HttpClient =>
  HttpClient.make((request, url, signal) =>
    Effect.flatMap(outgoing(request), (out) => {
      const dispatcher = source.current()
      if (dispatcher !== undefined) return send(dispatcher, request, url, signal, out)
      return Effect.flatMap(
        Effect.async<Undici.Dispatcher, HttpClientError.RequestError>((resume) => {
          source.load().then(
            (d) => resume(Effect.succeed(d)),
            (cause: unknown) =>
              resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
          )
        }),
        (d) => send(d, request, url, signal, out)
      )
    })
  )

export const fixed = (dispatcher: Undici.Dispatcher): DispatcherSource => ({
  current: () => dispatcher,
  load: () => Promise.resolve(dispatcher)
})

interface AgentState {
  agent: Undici.Agent | undefined
  pending: Promise<Undici.Agent> | undefined
  closed: boolean
}

/** An `undici.Agent` created on the first request (undici is imported then) and destroyed when the scope closes. */
export const ownAgent = Effect.map(
  Effect.acquireRelease(
    Effect.sync((): AgentState => ({ agent: undefined, pending: undefined, closed: false })),
    (state) =>
      Effect.promise(async () => {
        state.closed = true
        const agent = await state.pending?.catch(() => undefined)
        await agent?.destroy()
      })
  ),
  (state): DispatcherSource => ({
    current: () => state.agent,
    load: () =>
      (state.pending ??= import("undici").then((undici) => {
        if (state.closed) throw new Error("the HTTP client's layer is closed")
        state.agent = new undici.Agent()
        return state.agent
      }))
  })
)

export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(HttpClient.HttpClient, Effect.map(ownAgent, make))

export const layerWithDispatcher = (dispatcher: Undici.Dispatcher): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(HttpClient.HttpClient, make(fixed(dispatcher)))
