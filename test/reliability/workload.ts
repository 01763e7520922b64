/**
 * The chaos workload shared by chaos.test.ts and secrets.test.ts.
 *
 * bkend-local runs on a real loopback socket with seeded fault injection (500, 503, 429 + Retry-After, connection
 * reset before the handler, 200/500/800 ms delays) and a short access-token TTL. In front of it sits a seeded TCP
 * proxy (`proxy.ts`) that adds the one fault the server cannot inject itself: the connection is reset AFTER the server
 * handled the request (the response is dropped). The SDK talks to the proxy through a recording `HttpClient` (every
 * request: op id, method, URL, bkend headers present, status, Retry-After, times).
 *
 * `fibers` fibers share ONE client (one session) and run `opsPerFiber` mixed operations each on their own records:
 * creates, reads, updates, deletes, lists, uploads (presign → storage PUT → register). Every operation has a deadline.
 */
import { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Cause, Effect, Exit, FiberRef, Layer, Option, Random, Redacted, Schema, type Scope, Stream } from "effect"
import * as BkendClient from "../../src/BkendClient.js"
import * as BkendError from "../../src/BkendError.js"
import * as Files from "../../src/Files.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import * as Session from "../../src/Session.js"
import * as Tables from "../../src/Tables.js"
import { startProxy } from "./proxy.js"

export interface SentRequest {
  readonly op: string | undefined
  readonly method: string
  readonly url: string
  /** the JSON body text (empty for streams and bodiless requests) */
  readonly body: string
  readonly apiKey: boolean
  readonly authorization: boolean
  readonly sentAt: number
  receivedAt: number | undefined
  status: number | undefined
  retryAfter: string | undefined
  transportError: boolean
}

export type OpKind = "create" | "read" | "update" | "delete" | "list" | "upload"

export interface OpRecord {
  readonly id: string
  readonly fiber: number
  readonly kind: OpKind
  /** record id (update/read/delete) or the created id once known */
  target: string | undefined
  /** value written (update) */
  readonly value: number | undefined
  outcome: "ok" | "typed" | "defect" | "hang"
  tag: string | undefined
  error: unknown
}

export interface FileUpload {
  readonly op: string
  readonly bytes: Uint8Array
  fileId: string | undefined
}

export interface ChaosResult {
  readonly server: LocalServer.LocalServer
  readonly baseUrl: string
  readonly apiKey: string
  readonly ops: ReadonlyArray<OpRecord>
  readonly requests: ReadonlyArray<SentRequest>
  /** every access and refresh token the client ever held */
  readonly tokens: ReadonlyArray<string>
  readonly uploads: ReadonlyArray<FileUpload>
  readonly proxy: { readonly resetsAfterHandling: number; readonly connections: number }
  readonly sessionAtEnd: Option.Option<Session.Session>
  readonly finalMe: Exit.Exit<unknown, BkendError.BkendError>
  readonly userId: string
}

export const ItemFields = Schema.Struct({
  opId: Schema.String,
  fiber: Schema.Number,
  value: Schema.Number,
  label: Schema.String
})

const Me = Schema.Struct({ id: Schema.String })

const CurrentOp = FiberRef.unsafeMake<string | undefined>(undefined)

export const TTL_SECONDS = 4

export const faultRules: ReadonlyArray<LocalServer.FaultRule> = [
  // The refresh route gets only the faults a client can recover from under strict rotation: 429 (known not
  // processed) and delays. A 5xx or a reset there leaves the outcome unknown, so the client retires the refresh
  // token and the session ends at the next 401, by design (test/Refresh.test.ts); this run checks that the
  // session survives everything else. The first matching rule wins, so the zero delay shields the route.
  { route: "POST /v1/auth/refresh", kind: "429", probability: 0.02 },
  { route: "POST /v1/auth/refresh", kind: "delay", delayMillis: 500, probability: 0.01 },
  { route: "POST /v1/auth/refresh", kind: "delay", delayMillis: 0 },
  { route: "*", kind: "500", probability: 0.02 },
  { route: "*", kind: "503", probability: 0.02 },
  // 429 + Retry-After everywhere, storage included: storage retries honour Retry-After too
  { route: "*", kind: "429", probability: 0.02 },
  { route: "*", kind: "reset", probability: 0.015 },
  { route: "*", kind: "delay", delayMillis: 200, probability: 0.005 },
  { route: "*", kind: "delay", delayMillis: 500, probability: 0.005 },
  { route: "*", kind: "delay", delayMillis: 800, probability: 0.005 }
]

/** A `HttpClient` layer that records every request the SDK sends (after all its request mapping). */
const recordingTransport = (log: Array<SentRequest>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (inner) =>
      HttpClient.transform(inner, (effect, request) =>
        Effect.gen(function* () {
          const entry: SentRequest = {
            op: yield* FiberRef.get(CurrentOp),
            method: request.method,
            url: request.url,
            body:
              request.body._tag === "Uint8Array" && request.body.contentType === "application/json"
                ? new TextDecoder().decode(request.body.body)
                : "",
            apiKey: request.headers["x-api-key"] !== undefined,
            authorization: request.headers.authorization !== undefined,
            sentAt: performance.now(),
            receivedAt: undefined,
            status: undefined,
            retryAfter: undefined,
            transportError: false
          }
          log.push(entry)
          return yield* effect.pipe(
            Effect.tap((res) =>
              Effect.sync(() => {
                entry.receivedAt = performance.now()
                entry.status = res.status
                entry.retryAfter = res.headers["retry-after"]
              })
            ),
            Effect.tapError(() =>
              Effect.sync(() => {
                entry.receivedAt = performance.now()
                entry.transportError = true
              })
            )
          )
        })
      )
    )
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

const signUp = (client: BkendClient.Service, email: string) =>
  Effect.gen(function* () {
    // faults apply to sign-up too: try until it goes through (a 409 means an earlier attempt did)
    for (let attempt = 0; attempt < 30; attempt++) {
      const result = yield* Effect.either(
        client.request({
          method: "POST",
          route: "/v1/auth/email/signup",
          auth: "none",
          refreshOn401: false,
          body: { method: "password", email, password: "chaos-password-1", name: "Chaos" },
          response: Session.TokenResponse
        })
      )
      if (result._tag === "Right") return yield* client.setTokens(result.right)
      if (result.left._tag === "Conflict") break
    }
    for (let attempt = 0; attempt < 30; attempt++) {
      const result = yield* Effect.either(
        client.request({
          method: "POST",
          route: "/v1/auth/email/signin",
          auth: "none",
          refreshOn401: false,
          body: { method: "password", email, password: "chaos-password-1" },
          response: Session.TokenResponse
        })
      )
      if (result._tag === "Right") return yield* client.setTokens(result.right)
    }
    return yield* Effect.dieMessage("could not sign up through the faults")
  })

export interface ChaosOptions {
  readonly fibers: number
  readonly opsPerFiber: number
  readonly seed: number
  /** probability that the proxy drops a response after the server handled the request */
  readonly resetAfterProbability: number
  /** access-token lifetime on the server (default TTL_SECONDS); the client refreshes 1 s before expiry */
  readonly ttlSeconds?: number | undefined
}

export const runChaos = (options: ChaosOptions): Effect.Effect<ChaosResult, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* LocalServer.make({
      accessTokenTtlSeconds: options.ttlSeconds ?? TTL_SECONDS,
      faults: faultRules,
      faultSeed: options.seed,
      tables: [
        {
          name: "items",
          columns: {
            opId: { type: "string", required: true },
            fiber: "int",
            value: "int",
            label: "string"
          },
          permissions: { user: { create: true, read: true, update: true, delete: true, list: true } }
        }
      ]
    })
    const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0, host: "127.0.0.1" }))
    const direct = yield* Effect.provide(LocalServer.serverUrl, ctx)
    const proxy = yield* startProxy({
      target: direct,
      seed: options.seed,
      resetAfterProbability: options.resetAfterProbability,
      // a lost refresh response cannot be recovered by any client under strict rotation (the rotated-out token is
      // all it has, and presenting it again is a replay): keep this fault off the auth routes
      eligible: (_method, path) => !path.startsWith("/v1/auth/")
    })
    const apiKey = server.keys.publishable
    const requests: Array<SentRequest> = []
    const clientLayer = Layer.provideMerge(
      Layer.merge(Tables.layer, Files.layer),
      BkendClient.layer({
        apiKey: Redacted.make(apiKey),
        baseUrl: proxy.url,
        refreshMargin: "1 second",
        retryPolicy: {
          maxAttempts: 4,
          baseDelay: "20 millis",
          maxDelay: "200 millis",
          attemptTimeout: "5 seconds",
          totalTimeout: "20 seconds"
        }
      })
    ).pipe(Layer.provide(recordingTransport(requests)), Layer.orDie)
    const built = yield* Layer.build(clientLayer)
    const client = yield* Effect.provide(BkendClient.BkendClient, built)
    const tables = yield* Effect.provide(Tables.Tables, built)
    const items = tables.table("items", ItemFields)
    const files = yield* Effect.provide(Files.Files, built)

    const tokens = new Set<string>()
    const remember = (s: Session.Session) => {
      tokens.add(Redacted.value(s.accessToken))
      tokens.add(Redacted.value(s.refreshToken))
    }
    yield* Session.changes(client).pipe(
      Stream.runForEach((change) =>
        Effect.sync(() => {
          if (change._tag !== "SignedOut") remember(change.session)
        })
      ),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    const session = yield* signUp(client, `chaos-${options.seed}-${Date.now().toString(36)}@example.com`)
    remember(session)
    const me = yield* client
      .request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me })
      .pipe(Effect.retry({ times: 20 }), Effect.orDie)

    const ops: Array<OpRecord> = []
    const uploads: Array<FileUpload> = []

    const runOp = (record: OpRecord, body: Effect.Effect<unknown, BkendError.BkendError>) =>
      body.pipe(
        Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => "hang" as const }),
        Effect.locally(CurrentOp, record.id),
        Effect.exit,
        Effect.tap((exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) {
              record.outcome = "ok"
              return
            }
            const failure = Cause.failureOption(exit.cause)
            if (Option.isSome(failure) && failure.value === "hang") {
              record.outcome = "hang"
            } else if (Option.isSome(failure) && BkendError.isBkendError(failure.value)) {
              record.outcome = "typed"
              record.tag = failure.value._tag
              record.error = failure.value
            } else {
              record.outcome = "defect"
              record.error = Cause.pretty(exit.cause)
            }
          })
        )
      )

    const fiber = (f: number) =>
      Effect.gen(function* () {
        const owned: Array<string> = []
        for (let n = 0; n < options.opsPerFiber; n++) {
          const roll = yield* Random.nextIntBetween(0, 100)
          const pick = yield* Random.nextIntBetween(0, 1_000_000)
          const target = owned.length === 0 ? undefined : owned[pick % owned.length]
          const kind: OpKind =
            target === undefined || roll < 30
              ? "create"
              : roll < 50
                ? "read"
                : roll < 68
                  ? "update"
                  : roll < 78
                    ? "delete"
                    : roll < 94
                      ? "list"
                      : "upload"
          const id = `f${f}-op${n}`
          const value = kind === "update" ? yield* Random.nextIntBetween(1, 1_000_000) : undefined
          const record: OpRecord = {
            id,
            fiber: f,
            kind,
            target: kind === "create" || kind === "list" || kind === "upload" ? undefined : target,
            value,
            outcome: "hang",
            tag: undefined,
            error: undefined
          }
          ops.push(record)
          switch (kind) {
            case "create":
              yield* runOp(
                record,
                Effect.tap(items.create({ data: { opId: id, fiber: f, value: 0, label: `fiber ${f}` } }), (row) =>
                  Effect.sync(() => {
                    record.target = row.id
                    owned.push(row.id)
                  })
                )
              )
              break
            case "read":
              yield* runOp(record, items.get({ id: target ?? "" }))
              break
            case "update":
              yield* runOp(record, items.update({ id: target ?? "", data: { value: value ?? 0 } }))
              break
            case "delete":
              yield* runOp(
                record,
                Effect.tap(items.delete({ id: target ?? "" }), () =>
                  Effect.sync(() => {
                    owned.splice(owned.indexOf(target ?? ""), 1)
                  })
                )
              )
              break
            case "list":
              yield* runOp(record, items.list({ filter: { fiber: f }, limit: 20 }))
              break
            case "upload": {
              const bytes = new TextEncoder().encode(`${id} `.repeat(1 + (pick % 200)))
              const upload: FileUpload = { op: id, bytes, fileId: undefined }
              uploads.push(upload)
              // every other upload goes multipart (small parts, so several part PUTs per file)
              const multipart = pick % 2 === 0
              yield* runOp(
                record,
                Effect.tap(
                  files.upload({
                    data: bytes,
                    filename: `${id}.txt`,
                    contentType: "text/plain",
                    ...(multipart ? { multipartThreshold: 1024, partSize: 1024, concurrency: 2 } : {})
                  }),
                  (file) =>
                    Effect.sync(() => {
                      upload.fileId = file.id
                      record.target = file.id
                    })
                )
              )
              break
            }
          }
        }
      })

    yield* Effect.forEach(
      Array.from({ length: options.fibers }, (_, i) => i),
      (f) => Effect.withRandom(fiber(f), Random.make(`${options.seed}-${f}`)),
      { concurrency: "unbounded", discard: true }
    )

    const finalMe = yield* client
      .request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me })
      .pipe(
        Effect.retry({ times: 10, while: (e) => e._tag !== "Unauthorized" }),
        Effect.locally(CurrentOp, "final-me"),
        Effect.exit
      )
    return {
      server,
      baseUrl: proxy.url,
      apiKey,
      ops,
      requests,
      tokens: [...tokens],
      uploads,
      proxy: proxy.stats,
      sessionAtEnd: yield* client.session,
      finalMe,
      userId: me.id
    }
  }).pipe(Effect.orDie)
