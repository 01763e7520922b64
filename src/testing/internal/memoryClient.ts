/**
 * A `BkendClient` that answers the data and file routes from memory. The SDK's own `Tables` and `Files` run on
 * it unchanged (their validation, encoding, decoding and errors are the real ones); each body goes through the
 * same JSON text and success / error decoding as a server's response would.
 */
import * as Headers from "@effect/platform/Headers"
import { Effect, Option, Redacted, Stream } from "effect"
import type * as BkendClient from "../../BkendClient.js"
import type * as BkendError from "../../BkendError.js"
import * as K from "../../local/internal/kernel.js"
import * as decode from "../../internal/decode.js"
import * as retry from "../../internal/retry.js"
import * as BkendErrors from "../BkendErrors.js"
import * as MemoryFiles from "./memoryFiles.js"
import * as MemoryTables from "./memoryTables.js"

/** Everything the in-memory client holds. */
export interface State extends MemoryTables.TablesState, MemoryFiles.FilesState {}

/** A fresh, empty state whose writes are made by `userId`. */
export const makeState = (options: {
  readonly userId: string
  readonly tables: ReadonlyArray<MemoryTables.TablesState["declared"][number]>
}): State => ({
  tables: new Map(),
  declared: options.tables,
  files: new Map(),
  storage: K.makeLocal(K.resolveOptions()),
  userId: options.userId
})

const raw = (status: number, body: unknown) => ({ status, headers: Headers.empty, text: JSON.stringify(body) })

/** A rejection as the error response a server sends, decoded by the SDK's one error mapping. */
const toError = (call: MemoryTables.Call, rejection: MemoryTables.Rejection) =>
  decode.failure(
    raw(rejection.status, { success: false, error: { code: rejection.code, message: rejection.message } }),
    call.method,
    call.route,
    []
  )

const notInMemory = (what: string) =>
  `the in-memory client answers the data and file routes only; ${what} needs BkendTesting.layer (a local server)`

const storageMissing = (method: string) => BkendErrors.notFound({ method, route: "<storage>", code: "file/not-found" })

/** The client over `state`. Sessions do not exist here: there is never a session, and refreshing fails. */
export const make = (state: State): BkendClient.Service => {
  const request = <A, I, R>(request: BkendClient.Request<A, I, R>): Effect.Effect<A, BkendError.BkendError, R> => {
    const call: MemoryTables.Call = {
      method: request.method,
      route: request.route,
      params: request.params ?? {},
      query: request.query ?? {},
      body: request.body === undefined ? undefined : JSON.parse(JSON.stringify(request.body))
    }
    const answer = MemoryTables.handle(state, call) ?? MemoryFiles.handle(state, call)
    if (answer === undefined) return Effect.dieMessage(notInMemory(`${request.method} ${request.route}`))
    return answer.pipe(
      Effect.matchEffect({
        onFailure: (rejection) => Effect.flatMap(toError(call, rejection), Effect.fail),
        onSuccess: (body) => decode.success(raw(200, body), request.response, request.method, request.route)
      })
    )
  }
  const read = (url: string) =>
    Effect.flatMap(MemoryFiles.get(state, url), (bytes) =>
      bytes === undefined ? Effect.fail(storageMissing("GET")) : Effect.succeed(bytes)
    )
  return {
    config: {
      baseUrl: "memory://bkend",
      apiKey: Redacted.make("in-memory"),
      retryPolicy: retry.defaultRetryPolicy
    },
    request,
    session: Effect.succeed(Option.none()),
    sessionChanges: Stream.empty,
    setTokens: () => Effect.dieMessage(notInMemory("signing in")),
    clearSession: () => Effect.void,
    adopt: () => Effect.void,
    refresh: Effect.fail(BkendErrors.unauthorized({ method: "POST", route: "/v1/auth/refresh" })),
    storagePut: (put) =>
      Effect.flatMap(MemoryFiles.put(state, put.url, put.body, put.contentType), (etag) =>
        etag === undefined
          ? Effect.fail(storageMissing("PUT"))
          : Effect.as(put.onProgress?.(put.body.length) ?? Effect.void, { etag })
      ),
    storageGet: read,
    storageStream: (url) => Stream.fromEffect(read(url))
  }
}
