import * as HttpClient from "@effect/platform/HttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as BkendClient from "../src/BkendClient.js"
import * as Files from "../src/Files.js"
import * as Session from "../src/Session.js"
import { BkendLocal, localLayer, uniqueEmail } from "./utils/bkend.js"

const serverLayer = localLayer

interface Sent {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * Files on a client for the current server, over undici. The transport is wrapped so the test sees every request
 * exactly as the client hands it to undici (after all of the client's own request mapping).
 */
const clientLayer = (
  sent: Array<Sent>,
  retryPolicy: Partial<BkendClient.RetryPolicy> = { maxAttempts: 1 },
  storagePuts = { inFlight: 0, max: 0 }
) => {
  const recording = Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (transport) =>
      HttpClient.make((request) => {
        sent.push({ method: request.method, url: request.url, headers: request.headers })
        if (!(request.method === "PUT" && request.url.includes("/_storage/"))) return transport.execute(request)
        return Effect.acquireUseRelease(
          Effect.sync(() => {
            storagePuts.inFlight++
            storagePuts.max = Math.max(storagePuts.max, storagePuts.inFlight)
          }),
          () => transport.execute(request),
          () =>
            Effect.sync(() => {
              storagePuts.inFlight--
            })
        )
      })
    )
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))
  const client = Layer.scoped(
    BkendClient.BkendClient,
    Effect.flatMap(BkendLocal, ({ server, url }) =>
      Effect.orDie(BkendClient.make({ apiKey: Redacted.make(server.keys.publishable), baseUrl: url, retryPolicy }))
    )
  ).pipe(Layer.provide(recording))
  return Layer.provideMerge(Files.layer, client)
}

const signUp = Effect.gen(function* () {
  const client = yield* BkendClient.BkendClient
  const tokens = yield* client.request({
    method: "POST",
    route: "/v1/auth/email/signup",
    body: { method: "password", email: uniqueEmail("files"), password: "Passw0rd!", name: "F" },
    auth: "none",
    response: Session.TokenResponse
  })
  yield* client.setTokens(tokens)
})

const bytesOf = (length: number, seed = 7): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const downloaded = (id: string) =>
  Effect.flatMap(Files.Files, (files) =>
    files.download({ id }).pipe(
      Stream.runCollect,
      Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
    )
  )

const storageRequests = (sent: ReadonlyArray<Sent>) => sent.filter((s) => s.url.includes("/_storage/"))

/** Whether the server still holds the multipart upload the client's first part PUT named. */
const uploadOpen = (sent: ReadonlyArray<Sent>) =>
  Effect.gen(function* () {
    const { server } = yield* BkendLocal
    const first = storageRequests(sent).find((s) => new URL(s.url).searchParams.has("uploadId"))
    const uploadId = first === undefined ? null : new URL(first.url).searchParams.get("uploadId")
    if (uploadId === null) return false
    return Option.isSome(yield* Effect.orDie(server.store.uploads.get(uploadId)))
  })

/** Storage requests carried no bkend credentials (the local storage route would also refuse them with 403). */
const expectNoCredentials = (sent: ReadonlyArray<Sent>) => {
  const storage = storageRequests(sent)
  expect(storage.length).toBeGreaterThan(0)
  for (const s of storage) {
    expect(Object.keys(s.headers).map((h) => h.toLowerCase())).not.toContain("x-api-key")
    expect(Object.keys(s.headers).map((h) => h.toLowerCase())).not.toContain("authorization")
  }
  // negative control: the recorder does see bkend credentials where they are sent
  const bkend = sent.filter((s) => s.url.includes("/v1/files"))
  expect(bkend.length).toBeGreaterThan(0)
  for (const s of bkend) {
    expect(s.headers["x-api-key"]).toMatch(/^pk_/)
    expect(s.headers.authorization).toMatch(/^Bearer /)
  }
}

const KB = 1024
const small = { multipartThreshold: 100 * KB, partSize: 64 * KB }

const logged = (path: string) =>
  Effect.flatMap(BkendLocal, ({ server }) => Effect.map(server.requestLog, (log) => log.filter((e) => e.path === path)))

describe("Files against bkend-local", () => {
  it.live("single upload round trip: register, get, list, update, download, delete", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(5000)
      const progress: Array<Files.UploadProgress> = []
      const record = yield* files.upload({
        data,
        filename: "hello.bin",
        contentType: "application/octet-stream",
        metadata: { tags: ["t1"], description: "d" },
        onProgress: (p) => Effect.sync(() => progress.push(p)),
        ...small
      })
      expect(record).toMatchObject({ originalName: "hello.bin", size: 5000, visibility: "private" })
      expect(record.key.length).toBeGreaterThan(0)
      expect(record.metadata?.tags).toEqual(["t1"])
      expect(progress.at(-1)).toEqual({ sent: 5000, total: 5000 })
      expect(yield* logged("/v1/files/multipart/init")).toEqual([])

      expect(yield* files.get({ id: record.id })).toMatchObject({ id: record.id, key: record.key })
      const page = yield* files.list({ limit: 10 })
      expect(page.items.map((f) => f.id)).toContain(record.id)
      expect(page.page).toBe(1)
      const updated = yield* files.update({ id: record.id, originalName: "renamed.bin", visibility: "protected" })
      expect(updated).toMatchObject({ originalName: "renamed.bin", visibility: "protected" })
      const link = yield* files.downloadUrl({ id: record.id })
      expect(link.url).toContain("/_storage/")
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
      expectNoCredentials(sent)

      yield* files.delete({ id: record.id })
      const gone = yield* Effect.flip(files.get({ id: record.id }))
      expect(gone).toMatchObject({ _tag: "NotFound", status: 404 })
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("download streams the bytes as they arrive: many chunks, none the whole object", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(2 * 1024 * KB)
      const record = yield* files.upload({
        data,
        filename: "big.bin",
        contentType: "application/octet-stream",
        ...small
      })
      const chunks = Chunk.toReadonlyArray(
        yield* files.download({ id: record.id }).pipe(Stream.chunks, Stream.runCollect)
      )
      const sizes = chunks.map((c) => Chunk.toReadonlyArray(c).reduce((n, b) => n + b.length, 0))
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length)
      expect(sizes.length).toBeGreaterThan(1)
      expect(Math.max(...sizes)).toBeLessThan(data.length)
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("multipart upload in 3 parts: bytes round trip, monotonic progress, no credentials to storage", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(150 * KB)
      const progress: Array<Files.UploadProgress> = []
      const record = yield* files.upload({
        data,
        filename: "big.bin",
        contentType: "application/octet-stream",
        onProgress: (p) => Effect.sync(() => progress.push(p)),
        concurrency: 2,
        ...small
      })
      expect(record.size).toBe(150 * KB)
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
      const puts = storageRequests(sent).filter((s) => s.method === "PUT")
      expect(puts.length).toBe(3)
      expect((yield* logged("/v1/files/multipart/complete")).map((e) => e.status)).toEqual([200])
      expect(yield* logged("/v1/files/multipart/abort")).toEqual([])
      expect(progress.length).toBeGreaterThan(1)
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.sent).toBeGreaterThan(progress[i - 1]!.sent)
      expect(progress.every((p) => p.total === 150 * KB)).toBe(true)
      expect(progress.at(-1)).toEqual({ sent: 150 * KB, total: 150 * KB })
      expectNoCredentials(sent)
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("multipart from a Blob and from a Stream of odd-sized chunks", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(200 * KB, 3)
      const fromBlob = yield* files.upload({
        data: new Blob([Buffer.from(data)]),
        filename: "blob.bin",
        contentType: "application/octet-stream",
        ...small
      })
      expect(Buffer.compare(yield* downloaded(fromBlob.id), Buffer.from(data))).toBe(0)
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < data.length; i += 7777) chunks.push(data.subarray(i, i + 7777))
      const fromStream = yield* files.upload({
        data: { stream: Stream.fromIterable(chunks), size: data.length },
        filename: "stream.bin",
        contentType: "application/octet-stream",
        ...small
      })
      expect(Buffer.compare(yield* downloaded(fromStream.id), Buffer.from(data))).toBe(0)
      // 200 KB in 64 KB parts: 4 parts each
      expect(storageRequests(sent).filter((s) => s.method === "PUT").length).toBe(8)
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("stream lists every visible file across pages; another user is denied a private file", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const ids: Array<string> = []
      for (const name of ["a.txt", "b.txt", "c.txt"]) {
        const record = yield* files.upload({ data: bytesOf(100), filename: name, contentType: "text/plain" })
        ids.push(record.id)
      }
      const streamed = Chunk.toReadonlyArray(yield* Stream.runCollect(files.stream({ limit: 2 })))
      expect(streamed.map((f) => f.id).sort()).toEqual([...ids].sort())
      const pageGets = sent.filter((s) => s.method === "GET" && s.url.endsWith("/v1/files"))
      expect(pageGets.length).toBe(2)
      const denied = yield* Effect.provide(
        Effect.gen(function* () {
          yield* signUp
          return yield* Effect.flip((yield* Files.Files).get({ id: ids[0]! }))
        }),
        clientLayer([])
      )
      expect(denied).toMatchObject({ _tag: "Forbidden", status: 403, code: "file/access-denied" })
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("a file on disk (fromPath) uploads in parts and downloads equal", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const fs = yield* FileSystem.FileSystem
      const path = yield* fs.makeTempFileScoped()
      const data = bytesOf(170 * KB, 9)
      yield* fs.writeFile(path, data)
      const record = yield* files.upload({
        data: yield* Files.fromPath(path),
        filename: "disk.bin",
        contentType: "application/octet-stream",
        ...small
      })
      expect(record.size).toBe(170 * KB)
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
      expect(storageRequests(sent).filter((s) => s.method === "PUT").length).toBe(3)
    }).pipe(
      Effect.scoped,
      Effect.provide(NodeFileSystem.layer),
      Effect.provide(clientLayer(sent)),
      Effect.provide(serverLayer())
    )
  })

  it.live("uploadEvents: progress events then Done, as a stream", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(150 * KB, 5)
      const events = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          files.uploadEvents({ data, filename: "ev.bin", contentType: "application/octet-stream", ...small })
        )
      )
      const last = events.at(-1)
      expect(last?._tag).toBe("Done")
      const progress = events.flatMap((e) => (e._tag === "Progress" ? [e.sent] : []))
      expect(progress.length).toBe(events.length - 1)
      for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThan(progress[i - 1]!)
      expect(progress.at(-1)).toBe(150 * KB)
      if (last?._tag !== "Done") return
      expect(Buffer.compare(yield* downloaded(last.file.id), Buffer.from(data))).toBe(0)
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("parts go up at most `concurrency` at a time", () => {
    const sent: Array<Sent> = []
    const storagePuts = { inFlight: 0, max: 0 }
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const data = bytesOf(300 * KB, 13)
      const record = yield* files.upload({
        data,
        filename: "c.bin",
        contentType: "application/octet-stream",
        concurrency: 2,
        ...small
      })
      expect(storageRequests(sent).filter((s) => s.method === "PUT").length).toBe(5)
      expect(storagePuts.max).toBe(2)
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
    }).pipe(
      Effect.provide(clientLayer(sent, { maxAttempts: 1 }, storagePuts)),
      // slow storage, so parts overlap whenever the client lets them
      Effect.provide(serverLayer({ faults: [{ route: "PUT /_storage/*", kind: "delay", delayMillis: 100 }] }))
    )
  })

  it.live("a part that keeps failing aborts the multipart upload on the server", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const error = yield* Effect.flip(
        files.upload({ data: bytesOf(150 * KB), filename: "f.bin", contentType: "application/octet-stream", ...small })
      )
      expect(error).toMatchObject({ _tag: "ServerError", status: 500 })
      const aborts = yield* logged("/v1/files/multipart/abort")
      expect(aborts.map((e) => e.status)).toEqual([200])
      expect(storageRequests(sent).length).toBeGreaterThan(0)
      expect(yield* uploadOpen(sent)).toBe(false)
      expect(yield* logged("/v1/files/multipart/complete")).toEqual([])
      expect((yield* files.list()).total).toBe(0)
    }).pipe(
      Effect.provide(clientLayer(sent)),
      Effect.provide(serverLayer({ faults: [{ route: "PUT /_storage/*", kind: "500" }] }))
    )
  })

  it.live("a part that fails once is retried with its whole body", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const { server } = yield* BkendLocal
      const data = bytesOf(150 * KB, 11)
      const progress: Array<number> = []
      const record = yield* files.upload({
        data,
        filename: "retry.bin",
        contentType: "application/octet-stream",
        onProgress: (p) => Effect.sync(() => progress.push(p.sent)),
        ...small
      })
      expect((yield* server.counters).faultsInjected).toBe(1)
      expect(storageRequests(sent).filter((s) => s.method === "PUT").length).toBe(4)
      expect(Buffer.compare(yield* downloaded(record.id), Buffer.from(data))).toBe(0)
      for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThan(progress[i - 1]!)
      expect(progress.at(-1)).toBe(150 * KB)
    }).pipe(
      Effect.provide(clientLayer(sent, { maxAttempts: 3, baseDelay: "1 millis", jitter: 0 })),
      Effect.provide(serverLayer({ faults: [{ route: "PUT /_storage/*", kind: "500", times: 1 }] }))
    )
  })

  it.live("interrupting a multipart upload aborts it on the server", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const fiber = yield* Effect.fork(
        files.upload({ data: bytesOf(150 * KB), filename: "i.bin", contentType: "application/octet-stream", ...small })
      )
      // wait until the upload exists and its part PUTs are hanging on the injected delay
      while (!(yield* uploadOpen(sent))) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      expect((yield* logged("/v1/files/multipart/abort")).map((e) => e.status)).toEqual([200])
      expect(yield* uploadOpen(sent)).toBe(false)
    }).pipe(
      Effect.provide(clientLayer(sent)),
      Effect.provide(serverLayer({ faults: [{ route: "PUT /_storage/*", kind: "delay", delayMillis: 2500 }] }))
    )
  })

  it.live("a stream shorter than its declared size fails with InvalidInput and aborts", () => {
    const sent: Array<Sent> = []
    return Effect.gen(function* () {
      yield* signUp
      const files = yield* Files.Files
      const error = yield* Effect.flip(
        files.upload({
          data: { stream: Stream.make(bytesOf(120 * KB)), size: 150 * KB },
          filename: "short.bin",
          contentType: "application/octet-stream",
          ...small
        })
      )
      expect(error).toMatchObject({ _tag: "InvalidInput", status: 0 })
      expect((yield* logged("/v1/files/multipart/abort")).map((e) => e.status)).toEqual([200])
    }).pipe(Effect.provide(clientLayer(sent)), Effect.provide(serverLayer()))
  })

  it.live("decodes file records with `key` in place of `s3Key` (I-25)", () =>
    Effect.gen(function* () {
      const decoded = yield* Schema.decodeUnknown(Files.FileRecord)({
        id: "f1",
        key: "k1",
        originalName: "a",
        mimeType: "text/plain",
        size: 1,
        visibility: "public"
      })
      expect(decoded.key).toBe("k1")
      const fromS3Key = yield* Schema.decodeUnknown(Files.FileRecord)({
        id: "f1",
        s3Key: "k2",
        originalName: "a",
        mimeType: "text/plain",
        size: 1,
        visibility: "public"
      })
      expect(fromS3Key.key).toBe("k2")
      const neither = yield* Effect.either(
        Schema.decodeUnknown(Files.FileRecord)({ id: "f", originalName: "a", mimeType: "t", size: 1, visibility: "x" })
      )
      expect(neither._tag).toBe("Left")
    })
  )
})
