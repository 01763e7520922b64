/**
 * `filesDir`: object bytes as files on disk. They survive a restart on the same directory, stream through the
 * server without being held whole in memory, and no key (hostile or not) puts a file outside the directory.
 */
import { afterAll, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Blobs from "../../src/local/internal/blobs.js"
import * as DiskBlobs from "../../src/local/internal/blobs/disk.js"
import * as K from "../../src/local/internal/kernel.js"
import { presignUrl, putObject } from "../../src/local/internal/storage.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import { Store } from "../../src/local/Store.js"
import { Harness, harnessLayer, request, signUp, str, type TestUser } from "./utils.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-files-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((entry) => {
    if (!entry.isFile()) return []
    return [path.relative(dir, path.join(entry.parentPath, entry.name))]
  })

const MiB = 1024 * 1024
const text = (s: string) => new TextEncoder().encode(s)

const post = (p: string, user: TestUser, body: unknown) => request("POST", p, { token: user.accessToken, body })

/** Uploads `content` through a presigned PUT and registers it; returns the file id and a download URL. */
const upload = (user: TestUser, filename: string, content: string) =>
  Effect.gen(function* () {
    const pre = yield* post("/v1/files/presigned-url", user, { filename, contentType: "text/plain" })
    const put = yield* request("PUT", str(pre.data, "url"), {
      absolute: true,
      key: "none",
      rawBody: text(content),
      headers: { "content-type": "text/plain" }
    })
    expect(put.status).toBe(200)
    const key = str(pre.data, "key")
    const reg = yield* post("/v1/files", user, { s3Key: key, originalName: filename, mimeType: "text/plain", size: 1 })
    expect(reg.status).toBe(201)
    return { key, id: str(reg.data, "id") }
  })

describe("bytes on disk survive a restart on the same store and directory", () => {
  const dir = tempDir()
  layer(harnessLayer({ filesDir: dir }))("first server", (it) => {
    it.effect("a second server on the same store and directory serves the bytes, at URLs the first one signed", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const { id, key } = yield* upload(user, "kept.txt", "on disk")
        const init = yield* post("/v1/files/multipart/init", user, {
          filename: "parts.bin",
          contentType: "text/plain",
          fileSize: 6
        })
        const mkey = str(init.data, "key")
        const uploadId = str(init.data, "uploadId")
        const parts = yield* Effect.forEach(["abc", "def"], (chunk, i) =>
          Effect.gen(function* () {
            const pu = yield* post("/v1/files/multipart/presigned-url", user, {
              key: mkey,
              uploadId,
              partNumber: i + 1
            })
            const put = yield* request("PUT", str(pu.data, "url"), {
              absolute: true,
              key: "none",
              rawBody: text(chunk)
            })
            return { partNumber: i + 1, etag: put.headers.get("etag") ?? "" }
          })
        )
        expect((yield* post("/v1/files/multipart/complete", user, { key: mkey, uploadId, parts })).status).toBe(200)
        // the parts are gone once assembled; two objects remain, and the temporary directory is empty
        expect(filesUnder(dir).filter((f) => f.startsWith("objects/"))).toHaveLength(2)
        expect(filesUnder(dir).filter((f) => !f.startsWith("objects/"))).toEqual([])

        // another server on the same store and directory: a restart, or a second instance
        const h = yield* Harness
        const restarted = yield* Effect.provideService(
          LocalServer.makeOnStore({ filesDir: dir }),
          Store,
          h.server.store
        )
        const fetchRestarted = LocalServer.toWebHandler(restarted, yield* Effect.runtime<never>())
        const dl = yield* post(`/v1/files/${id}/download-url`, user, undefined)
        const got = yield* Effect.promise(() => fetchRestarted(new Request(str(dl.data, "url"))))
        expect(got.status).toBe(200)
        expect(got.headers.get("content-length")).toBe("7")
        expect(yield* Effect.promise(() => got.text())).toBe("on disk")
        const signed = presignUrl(LocalServer.inProcessBaseUrl, restarted.local.state.storageSecret, {
          method: "GET",
          key: mkey,
          expiresAt: Date.now() + 60_000
        })
        const assembled = yield* Effect.promise(() => fetchRestarted(new Request(signed)))
        expect(yield* Effect.promise(() => assembled.text())).toBe("abcdef")
        expect(key).not.toBe(mkey)
      })
    )
  })
})

// ---------------------------------------------------------------------------------------------------------------------
// Streaming: the server's heap (and Buffer memory) stays far below the object's size
// ---------------------------------------------------------------------------------------------------------------------

v8.setFlagsFromString("--expose-gc")
const gc: unknown = vm.runInNewContext("gc")

/**
 * Live JS heap plus Buffer memory. V8 frees the memory of dead Buffers on a background thread after a collection
 * and waits for that at the start of the next one: so collect, let the event loop turn, and collect twice more.
 */
const liveBytes = async (): Promise<number> => {
  if (typeof gc !== "function") return Number.NaN
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const OBJECT = 64 * MiB
const MEASURE_AT = 48 * MiB
const CHUNK = Buffer.alloc(MiB, 0x62)
const objectMd5 = (() => {
  const hash = createHash("md5")
  for (let sent = 0; sent < OBJECT; sent += MiB) hash.update(CHUNK)
  return hash.digest("hex")
})()

/**
 * PUTs 64 MiB in 1 MiB writes of one reused buffer (the client holds 1 MiB); once 48 MiB are written, it pauses and
 * measures live memory growth against `baseline`.
 */
const streamUp = (url: string, baseline: number) =>
  new Promise<{ status: number; etag: string; growth: number }>((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { "content-length": String(OBJECT) } })
    let growth = Number.NaN
    req.on("response", (res) => {
      res.resume()
      res.on("end", () => resolve({ status: res.statusCode ?? 0, etag: String(res.headers.etag), growth }))
    })
    req.on("error", reject)
    let sent = 0
    const pump = (): void => {
      while (sent < OBJECT) {
        if (sent === MEASURE_AT && Number.isNaN(growth)) {
          void liveBytes().then((live) => {
            growth = live - baseline
            pump()
          })
          return
        }
        sent += MiB
        if (!req.write(CHUNK)) return void req.once("drain", pump)
      }
      req.end()
    }
    pump()
  })

/** GETs the object, hashing it; once 48 MiB are read, it pauses and measures live memory growth. */
const streamDown = (url: string, baseline: number) =>
  new Promise<{ status: number; size: number; md5: string; growth: number }>((resolve, reject) => {
    http
      .get(url, (res) => {
        const hash = createHash("md5")
        let size = 0
        let growth = Number.NaN
        res.on("data", (chunk: Buffer) => {
          size += chunk.length
          hash.update(chunk)
          if (size >= MEASURE_AT && Number.isNaN(growth)) {
            res.pause()
            void liveBytes().then((live) => {
              growth = live - baseline
              res.resume()
            })
          }
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, size, md5: hash.digest("hex"), growth }))
      })
      .on("error", reject)
  })

layer(harnessLayer({ filesDir: tempDir() }))("streaming through the server (socket)", (it) => {
  it.effect("a 64 MiB upload and its download never hold the object in memory", () =>
    Effect.gen(function* () {
      expect(typeof gc).toBe("function")
      const user = yield* signUp()
      const pre = yield* post("/v1/files/presigned-url", user, { filename: "big.bin", contentType: "x/y" })
      const up = yield* Effect.promise(() => liveBytes().then((baseline) => streamUp(str(pre.data, "url"), baseline)))
      expect(up.status).toBe(200)
      expect(up.etag).toBe(`"${objectMd5}"`)
      expect(up.growth).toBeLessThan(16 * MiB)
      const key = str(pre.data, "key")
      const reg = yield* post("/v1/files", user, { s3Key: key, originalName: "big.bin", mimeType: "x/y", size: OBJECT })
      const dl = yield* post(`/v1/files/${str(reg.data, "id")}/download-url`, user, undefined)
      const down = yield* Effect.promise(() =>
        liveBytes().then((baseline) => streamDown(str(dl.data, "url"), baseline))
      )
      expect({ status: down.status, size: down.size, md5: down.md5 }).toEqual({
        status: 200,
        size: OBJECT,
        md5: objectMd5
      })
      expect(down.growth).toBeLessThan(16 * MiB)
    })
  )
})

// ---------------------------------------------------------------------------------------------------------------------
// Hostile keys
// ---------------------------------------------------------------------------------------------------------------------

const HOSTILE = [
  "../../escape.txt",
  "/etc/passwd",
  "..",
  "a/../../b",
  "..\\..\\windows",
  "objects/../../x",
  "%2e%2e/%2e%2e/x",
  "a".repeat(1024)
]

describe("hostile keys on disk", () => {
  it.effect("every key lands inside the directory, under a hashed name", () =>
    Effect.gen(function* () {
      const parent = tempDir()
      const dir = path.join(parent, "files")
      const local = K.makeLocal(K.resolveOptions())
      const store = (key: string) =>
        putObject(key, undefined, Stream.make(text(key)), 1).pipe(
          Effect.provideService(K.Local, local),
          Effect.provideService(Blobs.Blobs, DiskBlobs.make(dir))
        )
      yield* Effect.forEach(HOSTILE, store)
      expect(fs.readdirSync(parent)).toEqual(["files"])
      const stored = filesUnder(dir)
      expect(stored).toHaveLength(HOSTILE.length)
      for (const file of stored) expect(file).toMatch(/^objects\/[0-9a-f]{64}\/[0-9a-f]{32}\.[0-9a-f]{16}$/)
    })
  )

  it.effect("keys with a NUL, an unpaired surrogate, or too long are refused", () =>
    Effect.gen(function* () {
      for (const key of ["a\u0000b", "a\ud800", "", "a".repeat(1025)]) {
        expect(Either.isLeft(Blobs.objectBlob(key))).toBe(true)
      }
      const local = K.makeLocal(K.resolveOptions())
      const dir = tempDir()
      const refused = yield* Effect.flip(
        putObject("a\u0000b", undefined, Stream.make(text("x")), 1).pipe(
          Effect.provideService(K.Local, local),
          Effect.provideService(Blobs.Blobs, DiskBlobs.make(dir))
        )
      )
      expect(refused._tag).toBe("BlobError")
      expect(filesUnder(dir)).toEqual([])
    })
  )

  it.effect("the disk engine refuses any name it did not make, and leaves no temporary file", () =>
    Effect.gen(function* () {
      const parent = tempDir()
      const blobs = DiskBlobs.make(path.join(parent, "files"))
      for (const name of ["../escape", "/tmp/escape", "objects/../../escape", "tmp/x", "objects/x"]) {
        const error = yield* Effect.flip(blobs.put(Stream.make(text("x")), () => name))
        expect(error).toMatchObject({ _tag: "BlobError", code: "EINVAL" })
        expect((yield* Effect.flip(blobs.get(name)))._tag).toBe("BlobError")
        expect((yield* Effect.flip(blobs.delete(name)))._tag).toBe("BlobError")
      }
      expect((yield* Effect.flip(blobs.deleteAll("../")))._tag).toBe("BlobError")
      expect(fs.readdirSync(parent)).toEqual(["files"])
      expect(filesUnder(path.join(parent, "files"))).toEqual([])
    })
  )

  it.effect("a body that fails half-way leaves nothing behind: no object, no temporary file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const blobs = DiskBlobs.make(dir)
      const failing = Stream.concat(Stream.make(text("half")), Stream.fail("connection lost"))
      const name = (w: Blobs.Written) => `objects/${"0".repeat(64)}/${w.md5}`
      expect(yield* Effect.flip(blobs.put(failing, name))).toBe("connection lost")
      expect(filesUnder(dir)).toEqual([])
    })
  )
})

layer(harnessLayer({ filesDir: tempDir() }))("hostile keys over HTTP (socket)", (it) => {
  it.effect("a signed URL for a key with a NUL is refused with 400 InvalidURI", () =>
    Effect.gen(function* () {
      const h = yield* Harness
      const url = presignUrl(h.url, h.server.local.state.storageSecret, {
        method: "PUT",
        key: "files/x/a\u0000b",
        expiresAt: Date.now() + 60_000
      })
      const put = yield* request("PUT", url, { absolute: true, key: "none", rawBody: text("x") })
      expect(put.status).toBe(400)
      expect(put.text).toContain("InvalidURI")
    })
  )
})
