/**
 * Bad input at the SDK boundary (fast-check): configuration values, table names, ids, filters, page bounds, record
 * data and storage-upload inputs. Each call must end in a typed `BkendError` (usually `InvalidConfig` /
 * `InvalidInput`, sent nothing) or in a correct request — never in a defect.
 *
 * The transport is an in-memory `HttpClient` that records what would have been sent and answers like bkend, so the
 * properties run fast and check the exact request.
 */
import { HttpClient, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Redacted } from "effect"
import * as BkendClient from "../../src/BkendClient.js"
import * as BkendError from "../../src/BkendError.js"
import * as Tables from "../../src/Tables.js"
import { progressBody } from "../../src/internal/multipart.js"

interface Sent {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
}

const API_KEY = `pk_${"ab".repeat(32)}`
const BASE = "http://127.0.0.1:9"
const at = "2026-01-01T00:00:00.000Z"

const bodyText = (request: HttpClientRequest.HttpClientRequest): string | undefined => {
  const body = request.body
  if (body._tag === "Uint8Array") return new TextDecoder().decode(body.body)
  return undefined
}

/** A transport that records requests and answers like bkend (rows echo the id from the path). */
const fakeTransport = (sent: Array<Sent>) =>
  HttpClient.make((request, url) =>
    Effect.sync(() => {
      sent.push({ method: request.method, url, headers: request.headers, body: bodyText(request) })
      const segments = url.pathname.split("/")
      const json = (status: number, data: unknown) =>
        HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify({ success: true, data }), {
            status,
            headers: { "content-type": "application/json" }
          })
        )
      if (!url.pathname.startsWith("/v1/")) {
        return HttpClientResponse.fromWeb(request, new Response(null, { status: 200, headers: { etag: '"e"' } }))
      }
      const row = (id: string) => ({ id, createdBy: "u1", createdAt: at, updatedAt: at })
      if (segments.length === 4) {
        if (request.method === "POST") return json(201, row("new-id"))
        return json(200, {
          items: [],
          pagination: { total: 0, page: 1, limit: 20, totalPages: 0, hasNext: false, hasPrev: false }
        })
      }
      if (request.method === "DELETE") return json(200, { deleted: true })
      return json(200, row(decodeURIComponent(segments[4] ?? "")))
    })
  )

const setup = Effect.gen(function* () {
  const sent: Array<Sent> = []
  const client = yield* BkendClient.make({
    apiKey: Redacted.make(API_KEY),
    baseUrl: BASE,
    retryPolicy: { maxAttempts: 1 }
  }).pipe(Effect.provideService(HttpClient.HttpClient, fakeTransport(sent)))
  const tables = yield* Tables.make.pipe(Effect.provideService(BkendClient.BkendClient, client))
  return { sent, client, tables }
})

const isTyped = (e: unknown) => BkendError.isBkendError(e) || e instanceof BkendError.InvalidConfig

/** The exit is a success or a typed BkendError / InvalidConfig failure — never a defect or an interruption. */
const typedOrSuccess = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return true
  const failures = [...Cause.failures(exit.cause)]
  return Cause.isFailType(exit.cause) && failures.length === 1 && failures.every(isTyped)
}

const describeExit = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause).slice(0, 500)

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)

// strings from every corner: full unicode (lone surrogates included), path tricks, control characters
const nasty = fc.oneof(
  fc.string({ unit: "binary", maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom(
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "a?b",
    "a#b",
    "%2e%2e",
    "%",
    "\u0000",
    "\uD800",
    " ",
    "spec",
    "openapi"
  ),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,20}$/)
)

const numRuns = 300

describe("reliability: bad input at the SDK boundary", () => {
  it.live("config values: InvalidConfig or a working client, never a defect", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.record({
            apiKey: fc.oneof(
              fc.constantFrom("pk_abc", "sk_abc", "", "pk_", "bad"),
              nasty.map((s) => `pk_${s}`),
              nasty
            ),
            redacted: fc.boolean(),
            baseUrl: fc.option(
              fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), nasty, fc.constant("ftp://x")),
              { nil: undefined }
            ),
            maxAttempts: fc.option(fc.oneof(fc.integer({ min: -3, max: 10 }), fc.double()), { nil: undefined }),
            jitter: fc.option(fc.double(), { nil: undefined }),
            delay: fc.option(
              fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double(), nasty, fc.constantFrom("1 second", "-1 millis")),
              { nil: undefined }
            ),
            margin: fc.option(fc.oneof(fc.double(), nasty), { nil: undefined })
          }),
          async (input) => {
            // JavaScript callers can pass anything: the options are deliberately untyped here
            const options: unknown = {
              apiKey: input.redacted ? Redacted.make(input.apiKey) : input.apiKey,
              baseUrl: input.baseUrl,
              refreshMargin: input.margin,
              retryPolicy: {
                maxAttempts: input.maxAttempts,
                jitter: input.jitter,
                baseDelay: input.delay,
                attemptTimeout: input.delay
              }
            }
            const exit = await run(
              BkendClient.make(options as BkendClient.Options).pipe(
                Effect.provideService(HttpClient.HttpClient, fakeTransport([])),
                Effect.scoped
              )
            )
            if (!typedOrSuccess(exit)) throw new Error(describeExit(exit))
            if (Exit.isFailure(exit)) {
              const [error] = Cause.failures(exit.cause)
              expect(error?._tag).toBe("InvalidConfig")
            }
          }
        ),
        { numRuns }
      )
    )
  )

  it.scopedLive("table names and ids: InvalidInput (nothing sent) or exactly the percent-encoded path", () =>
    Effect.gen(function* () {
      const { sent, tables } = yield* setup
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(nasty, nasty, fc.constantFrom("get", "update", "delete"), async (name, id, op) => {
            sent.length = 0
            const t = tables.table(name)
            const effect =
              op === "get" ? t.get({ id }) : op === "update" ? t.update({ id, data: { a: 1 } }) : t.delete({ id })
            const exit = await run(effect)
            if (!typedOrSuccess(exit))
              throw new Error(`${op}(${JSON.stringify(name)}, ${JSON.stringify(id)}): ${describeExit(exit)}`)
            if (Exit.isFailure(exit)) {
              const [error] = Cause.failures(exit.cause)
              expect(error?._tag).toBe("InvalidInput")
              expect(sent).toEqual([])
              return
            }
            expect(Tables.tableNamePattern.test(name)).toBe(true)
            expect(sent).toHaveLength(1)
            const request = sent[0]
            expect(request?.url.origin).toBe(BASE)
            expect(request?.url.pathname).toBe(`/v1/data/${encodeURIComponent(name)}/${encodeURIComponent(id)}`)
            expect(request?.url.search).toBe("")
          }),
          { numRuns }
        )
      )
    })
  )

  it.scopedLive(
    "filters, or-filters, search and page bounds: InvalidInput or a request with well-formed JSON filters",
    () =>
      Effect.gen(function* () {
        const { sent, tables } = yield* setup
        const value = fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0),
          fc.dictionary(
            fc.constantFrom("$eq", "$ne", "$gt", "$in", "$regex", "$bogus", "$where"),
            fc.jsonValue({ maxDepth: 1 })
          )
        )
        const filter = fc.dictionary(nasty, value, { maxKeys: 4 })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.option(filter, { nil: undefined }),
              fc.option(fc.array(filter, { maxLength: 3 }), { nil: undefined }),
              fc.option(nasty, { nil: undefined }),
              fc.option(fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double()), { nil: undefined }),
              fc.option(fc.oneof(fc.integer({ min: -5, max: 10 }), fc.double()), { nil: undefined }),
              async (and, or, search, limit, page) => {
                sent.length = 0
                // deliberately untyped, as from a JavaScript caller or parsed user input
                const untyped: unknown = { filter: and, or, search, limit, page }
                const query = untyped as Tables.ListQuery<
                  Readonly<Record<string, unknown>>,
                  Readonly<Record<string, unknown>>,
                  never
                >
                const exit = await run(tables.table("posts").list(query))
                if (!typedOrSuccess(exit)) throw new Error(`${JSON.stringify(query)}: ${describeExit(exit)}`)
                if (Exit.isFailure(exit)) {
                  const [error] = Cause.failures(exit.cause)
                  expect(error?._tag).toBe("InvalidInput")
                  expect(sent).toEqual([])
                  return
                }
                expect(sent).toHaveLength(1)
                const params = sent[0]?.url.searchParams
                for (const key of ["andFilters", "orFilters"]) {
                  const raw = params?.get(key)
                  if (raw !== null && raw !== undefined) expect(() => JSON.parse(raw)).not.toThrow()
                }
                const sentLimit = Number(params?.get("limit"))
                expect(Number.isInteger(sentLimit) && sentLimit >= 1 && sentLimit <= 100).toBe(true)
                const sentPage = Number(params?.get("page"))
                expect(Number.isInteger(sentPage) && sentPage >= 1).toBe(true)
              }
            ),
            { numRuns }
          )
        )
      })
  )

  it.scopedLive("record data: InvalidInput or a JSON body that parses back to the input", () =>
    Effect.gen(function* () {
      const { sent, tables } = yield* setup
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.dictionary(nasty, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
              fc.dictionary(fc.string(), fc.anything({ maxDepth: 2 }), { maxKeys: 4 })
            ),
            async (data) => {
              sent.length = 0
              const exit = await run(tables.table("posts").create({ data }))
              if (!typedOrSuccess(exit)) throw new Error(`${String(data)}: ${describeExit(exit)}`)
              if (Exit.isFailure(exit)) {
                expect(sent).toEqual([])
                return
              }
              expect(sent).toHaveLength(1)
              expect(sent[0]?.headers["content-type"]).toBe("application/json")
              expect(() => JSON.parse(sent[0]?.body ?? "")).not.toThrow()
            }
          ),
          { numRuns }
        )
      )
    })
  )

  it.scopedLive("storage upload inputs: InvalidInput or a PUT to exactly that URL, without bkend headers", () =>
    Effect.gen(function* () {
      const { sent, client } = yield* setup
      yield* client.setTokens({ accessToken: "access-token-x", refreshToken: "refresh-token-x", expiresIn: 3600 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.webUrl({ withQueryParameters: true }),
              nasty,
              fc.constantFrom("file:///etc/passwd", "javascript:x")
            ),
            fc.uint8Array({ maxLength: 300_000 }),
            fc.option(fc.oneof(nasty, fc.constantFrom("text/plain", "image/png")), { nil: undefined }),
            fc.boolean(),
            async (url, body, contentType, progress) => {
              sent.length = 0
              let reported = 0
              const exit = await run(
                client.storagePut({
                  url,
                  body,
                  contentType,
                  stream: progress
                    ? progressBody(body, (n) =>
                        Effect.sync(() => {
                          reported = n
                        })
                      )
                    : undefined
                })
              )
              if (!typedOrSuccess(exit)) throw new Error(`${JSON.stringify(url)}: ${describeExit(exit)}`)
              if (Exit.isFailure(exit)) {
                const [error] = Cause.failures(exit.cause)
                expect(error?._tag).toBe("InvalidInput")
                expect(sent).toEqual([])
                return
              }
              expect(sent).toHaveLength(1)
              const request = sent[0]
              expect(request?.method).toBe("PUT")
              expect(request?.url.href).toBe(new URL(url).href)
              expect(request?.headers["x-api-key"]).toBeUndefined()
              expect(request?.headers.authorization).toBeUndefined()
              if (progress && body.length > 0) expect(reported).toBeLessThanOrEqual(body.length)
            }
          ),
          { numRuns: 150 }
        )
      )
    })
  )
})
