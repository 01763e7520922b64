/**
 * The spans the SDK produces, recorded by a tracer, against bkend-local over a real socket: names, parent/child
 * links, attributes, and that no API key, token or presigned URL appears in any attribute or event. It pins the
 * span tree as it is, so a change to the call path that moves, drops or adds a span, or changes its attributes,
 * fails here.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FiberRef, Layer, Option, Redacted, Schema, Stream, type Tracer } from "effect"
import * as Auth from "../src/Auth.js"
import * as BkendClient from "../src/BkendClient.js"
import * as Files from "../src/Files.js"
import type * as LocalTables from "../src/local/internal/tables.js"
import type * as Session from "../src/Session.js"
import * as Tables from "../src/Tables.js"
import { BkendLocal, clientLayer, clientOptions, localLayer, uniqueEmail } from "./utils/bkend.js"
import { recordingTracer } from "./utils/tracing.js"

const postsConfig: LocalTables.TableConfig = {
  name: "posts",
  columns: { title: { type: "string", required: true } },
  permissions: { user: { create: true, read: true, update: true, delete: true, list: true } }
}

const Post = Schema.Struct({ title: Schema.String })

interface Recorded {
  readonly name: string
  readonly parent: string | undefined
  readonly kind: Tracer.SpanKind
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<unknown>
}

const nameOf = (span: Tracer.AnySpan) => (span._tag === "Span" ? span.name : `external ${span.spanId}`)

const record = (span: Tracer.Span): Recorded => ({
  name: span.name,
  parent: Option.match(span.parent, { onNone: () => undefined, onSome: nameOf }),
  kind: span.kind,
  attributes: Object.fromEntries(span.attributes),
  events: "events" in span && Array.isArray(span.events) ? span.events : []
})

/** `parent > child` for every span, in start order: the shape of the tree. */
const edges = (spans: ReadonlyArray<Recorded>) => spans.map((s) => `${s.parent ?? "(root)"} > ${s.name}`)

const TOKEN_TTL_SECONDS = 2

const servicesLayer = Layer.mergeAll(Auth.layer, Tables.layer, Files.layer).pipe(
  Layer.provideMerge(
    clientLayer("pk", {
      retryPolicy: { maxAttempts: 2, baseDelay: "1 millis", jitter: 0 },
      refreshMargin: "60 seconds"
    })
  ),
  Layer.provideMerge(
    localLayer({
      tables: [postsConfig],
      accessTokenTtlSeconds: TOKEN_TTL_SECONDS,
      faults: [{ route: "GET /v1/data/posts", kind: "503", times: 1 }]
    })
  )
)

const tokensOf = (s: Session.Session) => [Redacted.value(s.accessToken), Redacted.value(s.refreshToken)]

describe("Spans", () => {
  it.live(
    "Auth, Tables and Files calls, a retry and refreshes: span names, parents, attributes; no secret in any",
    () =>
      Effect.gen(function* () {
        const { tracer, spans } = yield* recordingTracer
        const { server } = yield* BkendLocal
        const client = yield* BkendClient.BkendClient
        const auth = yield* Auth.Auth
        const files = yield* Files.Files
        const posts = (yield* Tables.Tables).table("posts", Post)
        const sessions: Array<Session.Session> = []
        const urls: Array<string> = []
        const run = Effect.gen(function* () {
          sessions.push(yield* auth.signUp({ email: uniqueEmail("spans"), password: "Passw0rd!", name: "S" }))
          const created = yield* posts.create({ data: { title: "hello" } })
          // the first list attempt meets an injected 503: retried once
          const page = yield* posts.list({ limit: 5 })
          expect(page.items.map((p) => p.id)).toContain(created.id)
          sessions.push(yield* auth.refresh)
          // past the refresh margin (half the token's lifetime): the next call refreshes first
          yield* Effect.sleep(`${(TOKEN_TTL_SECONDS * 1000) / 2 + 200} millis`)
          yield* posts.get({ id: created.id })
          const record = yield* files.upload({
            data: new Uint8Array(3000).fill(7),
            filename: "a.bin",
            contentType: "application/octet-stream",
            onProgress: () => Effect.void
          })
          urls.push((yield* files.downloadUrl({ id: record.id })).url)
          const bytes = yield* files.download({ id: record.id }).pipe(Stream.runCollect)
          expect(Chunk.reduce(bytes, 0, (n, c) => n + c.length)).toBe(3000)
          sessions.push(Option.getOrThrow(yield* client.session))
        }).pipe(Effect.withSpan("test"), Effect.withTracer(tracer))
        yield* run

        const recorded = spans.map(record)
        expect(edges(recorded)).toEqual([
          "(root) > test",
          "test > Auth.signUp",
          "Auth.signUp > bkend POST /v1/auth/email/signup",
          "test > Tables.create",
          "Tables.create > bkend POST /v1/data/:table",
          "test > Tables.list",
          "Tables.list > bkend GET /v1/data/:table",
          "test > Auth.refresh",
          "Auth.refresh > BkendClient.refresh",
          "BkendClient.refresh > bkend POST /v1/auth/refresh",
          "test > Tables.get",
          "Tables.get > bkend GET /v1/data/:table/:id",
          "bkend GET /v1/data/:table/:id > BkendClient.refresh",
          "BkendClient.refresh > bkend POST /v1/auth/refresh",
          "test > Files.upload",
          "Files.upload > bkend POST /v1/files/presigned-url",
          "Files.upload > bkend storage PUT",
          "Files.upload > bkend POST /v1/files",
          "test > Files.downloadUrl",
          "Files.downloadUrl > bkend POST /v1/files/:fileId/download-url",
          "test > Files.download",
          "Files.download > Files.downloadUrl",
          "Files.downloadUrl > bkend POST /v1/files/:fileId/download-url",
          "Files.download > bkend storage GET"
        ])

        const calls = recorded.filter((s) => s.name.startsWith("bkend "))
        for (const call of calls) expect(call.kind).toBe("client")
        const byName = (name: string) => recorded.filter((s) => s.name === name)
        expect(byName("bkend POST /v1/auth/email/signup")[0]?.attributes).toEqual({
          "http.request.method": "POST",
          "http.route": "/v1/auth/email/signup",
          "bkend.auth": "none",
          "http.response.status_code": 201,
          attempt: 1
        })
        // the retried call: the status and attempt of the last attempt
        expect(byName("bkend GET /v1/data/:table")[0]?.attributes).toEqual({
          "http.request.method": "GET",
          "http.route": "/v1/data/:table",
          "bkend.auth": "optional",
          "http.response.status_code": 200,
          attempt: 2
        })
        for (const refresh of byName("bkend POST /v1/auth/refresh")) {
          expect(refresh.attributes).toEqual({
            "http.request.method": "POST",
            "http.route": "/v1/auth/refresh",
            "http.response.status_code": 200
          })
        }
        expect(byName("bkend GET /v1/data/:table/:id")[0]?.attributes).toEqual({
          "http.request.method": "GET",
          "http.route": "/v1/data/:table/:id",
          "bkend.auth": "optional",
          "http.response.status_code": 200,
          attempt: 1
        })
        expect(byName("bkend storage PUT")[0]?.attributes).toEqual({})
        expect(byName("bkend storage GET")[0]?.attributes).toEqual({})
        expect(byName("Tables.list")[0]?.attributes).toMatchObject({ table: "posts" })

        // no API key, token or presigned URL in any span's name, attributes or events
        const secrets = [
          server.keys.publishable,
          ...sessions.flatMap(tokensOf),
          ...urls.map((u) => new URL(u).pathname),
          ...urls.map((u) => new URL(u).search).filter((q) => q !== "")
        ]
        // three pairs: the sign-up's, the explicit refresh's and the proactive refresh's
        expect(new Set(sessions.map((s) => Redacted.value(s.refreshToken))).size).toBe(3)
        const texts = recorded.map((s) => JSON.stringify([s.name, s.attributes, s.events]))
        for (const secret of secrets) for (const text of texts) expect(text).not.toContain(secret)
      }).pipe(Effect.provide(servicesLayer))
  )
})

/** What a user's `HttpClient` middleware sees of the fiber it runs in, before and around the platform's request. */
interface Seen {
  readonly stage: "tapRequest" | "transform"
  readonly method: string
  readonly url: string
  readonly span: string | undefined
  readonly requestInit: unknown
  readonly tracerDisabled: boolean
  readonly propagation: boolean
}

const observe = (stage: Seen["stage"], request: { readonly method: string; readonly url: string }) =>
  Effect.gen(function* () {
    const span = yield* Effect.option(Effect.currentSpan)
    const requestInit = yield* Effect.serviceOption(FetchHttpClient.RequestInit)
    const disabledWhen = yield* FiberRef.get(HttpClient.currentTracerDisabledWhen)
    const seen: Seen = {
      stage,
      method: request.method,
      url: request.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, "<local>").replace(/\?.*$/, "?…"),
      span: Option.getOrUndefined(Option.map(span, (s) => s.name)),
      requestInit: Option.getOrUndefined(requestInit),
      tracerDisabled: disabledWhen(request as never),
      propagation: yield* FiberRef.get(HttpClient.currentTracerPropagation)
    }
    return seen
  })

describe("HttpClient middleware", () => {
  it.live("sees the call's span, manual redirects and the platform's span off, as it always has", () => {
    const seen: Array<Seen> = []
    const middleware = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (http) =>
        http.pipe(
          HttpClient.tapRequest((request) => Effect.map(observe("tapRequest", request), (s) => seen.push(s))),
          HttpClient.transform((response, request) =>
            Effect.zipRight(
              Effect.map(observe("transform", request), (s) => seen.push(s)),
              response
            )
          )
        )
      )
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    const client = Layer.scoped(
      BkendClient.BkendClient,
      Effect.flatMap(clientOptions("pk"), (o) => Effect.orDie(BkendClient.make(o)))
    ).pipe(Layer.provide(middleware))
    return Effect.gen(function* () {
      const auth = yield* Auth.Auth
      const files = yield* Files.Files
      yield* auth.signUp({ email: uniqueEmail("middleware"), password: "Passw0rd!", name: "M" })
      yield* files.upload({ data: new Uint8Array(10), filename: "m.bin", contentType: "application/octet-stream" })
      // a bkend request: the user's request mapping runs before the SDK's (base URL, key), its transform around all
      const bkend = (method: string, path: string) =>
        (["tapRequest", "transform"] as const).map((stage) => ({
          stage,
          method,
          url: stage === "tapRequest" ? path : `<local>${path}`,
          span: `bkend ${method} ${path}`,
          requestInit: { redirect: "manual" },
          tracerDisabled: true,
          propagation: true
        }))
      expect(seen).toEqual([
        ...bkend("POST", "/v1/auth/email/signup"),
        ...bkend("POST", "/v1/files/presigned-url"),
        // a presigned storage URL: no trace propagation either
        ...(["tapRequest", "transform"] as const).map((stage) => ({
          stage,
          method: "PUT",
          url: expect.stringMatching(/^<local>\/_storage\/.*\?…$/),
          span: "bkend storage PUT",
          requestInit: { redirect: "manual" },
          tracerDisabled: true,
          propagation: false
        })),
        ...bkend("POST", "/v1/files")
      ])
    }).pipe(
      Effect.provide(Layer.mergeAll(Auth.layer, Files.layer).pipe(Layer.provideMerge(client))),
      Effect.provide(localLayer())
    )
  })
})
