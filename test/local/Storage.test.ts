import { createHash } from "node:crypto"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Chunk, Deferred, Effect, FastCheck, Fiber, Option, Stream } from "effect"
import * as Blobs from "../../src/local/internal/blobs.js"
import * as DiskBlobs from "../../src/local/internal/blobs/disk.js"
import * as MemoryBlobs from "../../src/local/internal/blobs/memory.js"
import * as K from "../../src/local/internal/kernel.js"
import {
  abortMultipart,
  completeMultipart,
  deleteObject,
  findUpload,
  getObject,
  initMultipart,
  isUrlSafeKey,
  keyFromPath,
  presignUrl,
  putObject,
  putPart,
  STORAGE_PATH,
  verifyRequest
} from "../../src/local/internal/storage.js"

const secret = new Uint8Array(32).fill(7)
const otherSecret = new Uint8Array(32).fill(8)
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

const parse = (url: string) => {
  const u = new URL(url)
  const key = keyFromPath(u.pathname)
  if (key === undefined) throw new Error(`not a storage url: ${url}`)
  return { key, params: u.searchParams, url: u }
}

describe("storage signing", () => {
  it("mints URLs on the base URL under the storage path and verifies them", () => {
    const url = presignUrl("http://127.0.0.1:8787/", secret, {
      method: "PUT",
      key: "files/u1/a b.txt",
      expiresAt: 5000
    })
    expect(url.startsWith(`http://127.0.0.1:8787${STORAGE_PATH}/files/u1/a%20b.txt?`)).toBe(true)
    const { key, params } = parse(url)
    expect(key).toBe("files/u1/a b.txt")
    expect(params.get("expires")).toBe("5000")
    const result = verifyRequest(secret, "PUT", key, params, 4999)
    expect(result._tag).toBe("Valid")
    expect(verifyRequest(secret, "PUT", key, params, 5000)._tag).toBe("Valid")
  })

  it("rejects expiry, wrong method, wrong key, wrong secret, tampering and missing parameters", () => {
    const url = presignUrl("http://h", secret, { method: "PUT", key: "k/1", expiresAt: 1000 })
    const { key, params } = parse(url)
    expect(verifyRequest(secret, "PUT", key, params, 1001)._tag).toBe("Expired")
    expect(verifyRequest(secret, "GET", key, params, 0)._tag).toBe("BadSignature")
    expect(verifyRequest(secret, "PUT", "k/2", params, 0)._tag).toBe("BadSignature")
    expect(verifyRequest(otherSecret, "PUT", key, params, 0)._tag).toBe("BadSignature")
    const longer = new URLSearchParams(params)
    longer.set("expires", "99999999")
    expect(verifyRequest(secret, "PUT", key, longer, 2000)._tag).toBe("BadSignature")
    const flipped = new URLSearchParams(params)
    const sig = params.get("signature") ?? ""
    flipped.set("signature", `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`)
    expect(verifyRequest(secret, "PUT", key, flipped, 0)._tag).toBe("BadSignature")
    const short = new URLSearchParams(params)
    short.set("signature", "abc")
    expect(verifyRequest(secret, "PUT", key, short, 0)._tag).toBe("BadSignature")
    const none = new URLSearchParams(params)
    none.delete("signature")
    expect(verifyRequest(secret, "PUT", key, none, 0)._tag).toBe("Missing")
    const bad = new URLSearchParams(params)
    bad.set("expires", "soon")
    expect(verifyRequest(secret, "PUT", key, bad, 0)._tag).toBe("Malformed")
  })

  it("binds part URLs to their upload id and part number", () => {
    const url = presignUrl("http://h", secret, {
      method: "PUT",
      key: "k",
      uploadId: "up1",
      partNumber: 2,
      expiresAt: 10
    })
    const { key, params } = parse(url)
    expect(params.get("uploadId")).toBe("up1")
    expect(params.get("partNumber")).toBe("2")
    expect(verifyRequest(secret, "PUT", key, params, 0)).toEqual({
      _tag: "Valid",
      target: { method: "PUT", key: "k", uploadId: "up1", partNumber: 2, expiresAt: 10 }
    })
    const otherPart = new URLSearchParams(params)
    otherPart.set("partNumber", "3")
    expect(verifyRequest(secret, "PUT", key, otherPart, 0)._tag).toBe("BadSignature")
    const noUpload = new URLSearchParams(params)
    noUpload.delete("uploadId")
    expect(verifyRequest(secret, "PUT", key, noUpload, 0)._tag).toBe("BadSignature")
  })

  it("keyFromPath rejects non-storage and badly encoded paths", () => {
    expect(keyFromPath("/v1/files")).toBeUndefined()
    expect(keyFromPath(`${STORAGE_PATH}/`)).toBeUndefined()
    expect(keyFromPath(`${STORAGE_PATH}/%E0%A4%A`)).toBeUndefined()
    expect(keyFromPath(`${STORAGE_PATH}/a/%2F/b`)).toBe("a///b")
  })

  it("isUrlSafeKey refuses dot segments, which URL parsers would resolve", () => {
    expect(isUrlSafeKey("a/b.txt")).toBe(true)
    expect(isUrlSafeKey("a/../b")).toBe(false)
    expect(isUrlSafeKey(".")).toBe(false)
    expect(isUrlSafeKey("")).toBe(false)
    expect(isUrlSafeKey("a\ud800")).toBe(false)
    expect(new URL(presignUrl("http://h", secret, { method: "GET", key: "a/../b", expiresAt: 1 })).pathname).toBe(
      `${STORAGE_PATH}/b`
    )
  })

  it.prop(
    "any URL-safe key round-trips through a presigned URL",
    [FastCheck.string({ minLength: 1 }).filter(isUrlSafeKey)],
    ([key]) => {
      const { key: back, params } = parse(presignUrl("http://h", secret, { method: "GET", key, expiresAt: 1 }))
      expect(back).toBe(key)
      expect(verifyRequest(secret, "GET", back, params, 0)._tag).toBe("Valid")
    }
  )
})

const md5 = (s: string) => createHash("md5").update(s).digest("hex")

// A fresh in-memory state, with the bytes in memory or in a new temporary directory.
const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const engines = {
  memory: (local: K.Local["Type"]) => MemoryBlobs.make(local.state),
  disk: () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-blobs-"))
    dirs.push(dir)
    return DiskBlobs.make(dir)
  }
} as const

const withEngine =
  (engine: keyof typeof engines) =>
  <A, E>(effect: Effect.Effect<A, E, K.Local | Blobs.Blobs>): Effect.Effect<A, E> => {
    const local = K.makeLocal(K.resolveOptions())
    return effect.pipe(
      Effect.provideService(K.Local, local),
      Effect.provideService(Blobs.Blobs, engines[engine](local))
    )
  }

const from = (s: string) => Stream.make(bytes(s))

const contents = (key: string) =>
  Effect.flatMap(getObject(key), (found) =>
    Option.match(found, {
      onNone: () => Effect.succeed(undefined),
      onSome: ({ blob }) =>
        Effect.map(Stream.runCollect(blob.bytes), (chunks) => text(Buffer.concat(Chunk.toReadonlyArray(chunks))))
    })
  )

const uploaded = (uploadId: string, key: string) =>
  initMultipart({ uploadId, key, contentType: "text/plain", ownerId: "o", createdAt: 0 })

const etagOfPart = (key: string, uploadId: string, n: number, s: string) =>
  Effect.map(putPart(key, uploadId, n, from(s)), (part) => Option.getOrThrow(part).etag)

for (const engine of ["memory", "disk"] as const) {
  const run = withEngine(engine)
  describe(`object store and multipart (${engine} bytes)`, () => {
    it.effect("stores objects with quoted MD5 ETags; a new upload replaces the old bytes", () =>
      run(
        Effect.gen(function* () {
          const obj = yield* putObject("k", "text/plain", from("hello"), 1)
          expect(obj.etag).toBe('"5d41402abc4b2a76b9719d911017c592"')
          expect(obj.size).toBe(5)
          expect(yield* contents("k")).toBe("hello")
          yield* putObject("k", "text/plain", from("world!"), 2)
          expect(yield* contents("k")).toBe("world!")
          expect(yield* deleteObject("k")).toBe(true)
          expect(yield* contents("k")).toBeUndefined()
          expect(yield* deleteObject("k")).toBe(false)
        })
      )
    )

    // X, then Y, then X again: the Y write retires X's first version late, after the second X is current. Were the
    // versions named by ETag alone, that retirement would delete the current object's bytes.
    it.effect("a late retirement of an object's old version never deletes the same bytes written again since", () =>
      run(
        Effect.gen(function* () {
          const blobs = yield* Blobs.Blobs
          const entered = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          let deletes = 0
          const gated: Blobs.Service = {
            ...blobs,
            delete: (name) =>
              ++deletes === 1
                ? Deferred.succeed(entered, undefined).pipe(
                    Effect.zipRight(Deferred.await(gate)),
                    Effect.zipRight(blobs.delete(name))
                  )
                : blobs.delete(name)
          }
          const put = (s: string, at: number) =>
            putObject("k", "text/plain", from(s), at).pipe(Effect.provideService(Blobs.Blobs, gated))
          yield* put("X", 1)
          const late = yield* Effect.fork(put("Y", 2))
          yield* Deferred.await(entered)
          yield* put("X", 3)
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(late)
          expect(yield* contents("k")).toBe("X")
        })
      )
    )

    it.effect("a failing body stores nothing and keeps the previous object", () =>
      run(
        Effect.gen(function* () {
          yield* putObject("k", undefined, from("old"), 1)
          const failing = Stream.concat(from("new bytes"), Stream.fail("connection lost"))
          expect(yield* Effect.flip(putObject("k", undefined, failing, 2))).toBe("connection lost")
          expect(yield* contents("k")).toBe("old")
        })
      )
    )

    it.effect("assembles parts in partNumber order and checks ETags", () =>
      run(
        Effect.gen(function* () {
          yield* uploaded("u", "big")
          const e3 = yield* etagOfPart("big", "u", 3, "C")
          const e1 = yield* etagOfPart("big", "u", 1, "AA")
          const e2 = yield* etagOfPart("big", "u", 2, "BBB")
          expect(e1).toBe(`"${md5("AA")}"`)
          expect(Option.isNone(yield* putPart("other", "u", 1, from("x")))).toBe(true)
          expect(Option.isNone(yield* putPart("big", "u", 0, from("x")))).toBe(true)
          expect(Option.isNone(yield* putPart("big", "u", 10001, from("x")))).toBe(true)
          const parts = [
            { partNumber: 2, etag: e2 },
            { partNumber: 3, etag: e3 },
            { partNumber: 1, etag: e1 }
          ]
          const complete = (listed: ReadonlyArray<{ partNumber: number; etag: string }>, uploadId = "u") =>
            Effect.map(completeMultipart("big", uploadId, listed, 1), (r) => r._tag)
          expect(yield* complete([])).toBe("InvalidParts")
          expect(yield* complete([{ partNumber: 1, etag: '"00"' }])).toBe("InvalidParts")
          expect(yield* complete([...parts, { partNumber: 1, etag: e1 }])).toBe("InvalidParts")
          expect(yield* complete([{ partNumber: 4, etag: e1 }])).toBe("InvalidParts")
          expect(yield* complete(parts, "nope")).toBe("NoSuchUpload")
          const done = yield* completeMultipart("big", "u", parts, 1)
          if (done._tag !== "Completed") throw new Error(done._tag)
          expect(done.object.etag).toMatch(/^"[0-9a-f]{32}-3"$/)
          expect(done.object.size).toBe(6)
          expect(done.object.contentType).toBe("text/plain")
          expect(yield* contents("big")).toBe("AABBBC")
          expect(Option.isNone(yield* findUpload("big", "u"))).toBe(true)
          expect(yield* complete(parts)).toBe("NoSuchUpload")
        })
      )
    )

    it.effect("accepts unquoted ETags on complete and leaves out unlisted parts", () =>
      run(
        Effect.gen(function* () {
          yield* uploaded("u", "k")
          const e1 = yield* etagOfPart("k", "u", 1, "one")
          yield* etagOfPart("k", "u", 2, "two")
          const done = yield* completeMultipart("k", "u", [{ partNumber: 1, etag: e1.replaceAll('"', "") }], 1)
          expect(done._tag).toBe("Completed")
          expect(yield* contents("k")).toBe("one")
        })
      )
    )

    it.effect.prop(
      "complete assembles any upload order in partNumber order",
      [FastCheck.array(FastCheck.string(), { minLength: 1, maxLength: 8 }), FastCheck.nat()],
      ([chunks, seed]) =>
        run(
          Effect.gen(function* () {
            yield* uploaded("u", "k")
            const order = chunks
              .map((_, i) => i)
              .sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13) || a - b)
            const parts = yield* Effect.forEach(order, (i) =>
              Effect.map(etagOfPart("k", "u", i + 1, chunks[i] ?? ""), (etag) => ({ partNumber: i + 1, etag }))
            )
            expect((yield* completeMultipart("k", "u", parts, 1))._tag).toBe("Completed")
            expect(yield* contents("k")).toBe(chunks.join(""))
          })
        ),
      { fastCheck: { numRuns: engine === "disk" ? 20 : 100 } }
    )

    it.effect("abort discards the upload", () =>
      run(
        Effect.gen(function* () {
          yield* uploaded("u", "k")
          yield* etagOfPart("k", "u", 1, "x")
          expect(yield* abortMultipart("other", "u")).toBe(false)
          expect(yield* abortMultipart("k", "u")).toBe(true)
          expect(yield* abortMultipart("k", "u")).toBe(false)
          expect(Option.isNone(yield* putPart("k", "u", 1, from("x")))).toBe(true)
          expect(yield* contents("k")).toBeUndefined()
        })
      )
    )
  })
}
