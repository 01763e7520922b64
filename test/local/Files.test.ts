import { createHash } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck, Option, TestClock } from "effect"
import * as LocalServer from "../../src/local/LocalServer.js"
import { presignUrl } from "../../src/local/internal/storage.js"
import type { Reply, TestUser } from "./utils.js"
import {
  arr,
  errorCode,
  get,
  Harness,
  harnessLayer,
  inProcessLayer,
  memoryInProcessLayer,
  request,
  signUp,
  str
} from "./utils.js"

const bytes = (s: string) => new TextEncoder().encode(s)
const md5Etag = (s: string | Uint8Array) => `"${createHash("md5").update(s).digest("hex")}"`

const post = (path: string, user: TestUser, body: unknown) => request("POST", path, { token: user.accessToken, body })

/** PUT raw bytes to a presigned URL, with no bkend headers. */
const storagePut = (url: string, data: string, headers: Record<string, string> = {}) =>
  request("PUT", url, { absolute: true, key: "none", rawBody: bytes(data), headers })

const storageGet = (url: string, headers: Record<string, string> = {}) =>
  request("GET", url, { absolute: true, key: "none", headers })

const expectError = (res: Reply, status: number, code: string) => {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status, code })
}

const expectXmlError = (res: Reply, code: string, message?: string) => {
  expect(res.status).toBe(403)
  expect(res.headers.get("content-type")).toContain("application/xml")
  expect(res.text).toContain(`<Code>${code}</Code>`)
  if (message !== undefined) expect(res.text).toContain(`<Message>${message}</Message>`)
}

/** Presign, PUT and register a text file; returns the file id and key. */
const uploadText = (user: TestUser, name: string, content: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const pre = yield* post("/v1/files/presigned-url", user, { filename: name, contentType: "text/plain" })
    expect(pre.status).toBe(200)
    const put = yield* storagePut(str(pre.data, "url"), content, { "content-type": "text/plain" })
    expect(put.status).toBe(200)
    const key = str(pre.data, "key")
    const reg = yield* post("/v1/files", user, {
      s3Key: key,
      originalName: name,
      mimeType: "text/plain",
      size: bytes(content).length,
      ...extra
    })
    expect(reg.status).toBe(201)
    return { id: str(reg.data, "id"), key }
  })

layer(harnessLayer())("bkend-local /v1/files and storage (socket)", (it) => {
  it.effect("every files route requires a JWT (401 common/authentication-required)", () =>
    Effect.gen(function* () {
      const routes: ReadonlyArray<readonly [string, string]> = [
        ["POST", "/v1/files/presigned-url"],
        ["POST", "/v1/files/multipart/init"],
        ["POST", "/v1/files/multipart/presigned-url"],
        ["POST", "/v1/files/multipart/complete"],
        ["POST", "/v1/files/multipart/abort"],
        ["POST", "/v1/files"],
        ["GET", "/v1/files"],
        ["GET", "/v1/files/abc"],
        ["PATCH", "/v1/files/abc"],
        ["DELETE", "/v1/files/abc"],
        ["POST", "/v1/files/abc/download-url"]
      ]
      for (const [method, path] of routes) {
        const res = yield* request(method, path, method === "GET" || method === "DELETE" ? {} : { body: {} })
        expectError(res, 401, "common/authentication-required")
      }
      // sk_ alone is not a user for files (Ref: JWT required)
      expectError(yield* request("GET", "/v1/files", { key: "sk" }), 401, "common/authentication-required")
    })
  )

  it.effect("arbitrary JSON bodies never produce a 5xx or a non-envelope error", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const file = yield* uploadText(user, "fuzz.txt", "f")
      const routes: ReadonlyArray<readonly [string, string]> = [
        ["POST", "/v1/files/presigned-url"],
        ["POST", "/v1/files/multipart/init"],
        ["POST", "/v1/files/multipart/presigned-url"],
        ["POST", "/v1/files/multipart/complete"],
        ["POST", "/v1/files/multipart/abort"],
        ["POST", "/v1/files"],
        ["PATCH", `/v1/files/${file.id}`]
      ]
      const bodies = FastCheck.sample(FastCheck.jsonValue(), { numRuns: 12, seed: 42 })
      for (const [method, path] of routes) {
        for (const body of bodies) {
          const res = yield* request(method, path, { token: user.accessToken, rawBody: JSON.stringify(body) })
          expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBeLessThan(500)
          if (res.status >= 400) expect(typeof errorCode(res)).toBe("string")
        }
      }
      const after = yield* request("GET", `/v1/files/${file.id}`, { token: user.accessToken })
      expect(after.status).toBe(200)
    })
  )

  it.effect("single upload round trip: presign → PUT → register → download-url → GET", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const h = yield* Harness
      const pre = yield* post("/v1/files/presigned-url", user, {
        filename: "hello world.txt",
        contentType: "text/plain",
        fileSize: 11,
        visibility: "private",
        category: "documents"
      })
      expect(pre.status).toBe(200)
      expect(pre.data).toMatchObject({ filename: "hello world.txt", contentType: "text/plain" })
      const url = str(pre.data, "url")
      const key = str(pre.data, "key")
      expect(url.startsWith(`${h.url}/_storage/`)).toBe(true)
      expect(new URL(url).searchParams.get("signature")).toMatch(/^[0-9a-f]{64}$/)
      expect(key).toContain(user.userId)

      const put = yield* storagePut(url, "hello world", { "content-type": "text/plain", origin: "http://app.test" })
      expect(put.status).toBe(200)
      expect(put.headers.get("etag")).toBe(md5Etag("hello world"))
      expect(put.headers.get("access-control-expose-headers") ?? "").toContain("ETag")

      const reg = yield* post("/v1/files", user, {
        s3Key: key,
        originalName: "hello world.txt",
        mimeType: "text/plain",
        size: 11,
        bucket: "files",
        metadata: { tags: ["a", "b"], description: "greeting", custom: { x: 1 } }
      })
      expect(reg.status).toBe(201)
      expect(reg.data).toMatchObject({
        s3Key: key,
        originalName: "hello world.txt",
        mimeType: "text/plain",
        size: 11,
        visibility: "private",
        ownerId: user.userId,
        ownerType: "user",
        bucket: "files",
        metadata: { tags: ["a", "b"], description: "greeting", custom: { x: 1 } }
      })
      const id = str(reg.data, "id")
      expect(typeof get(reg.data, "createdAt")).toBe("string")

      const dl = yield* post(`/v1/files/${id}/download-url`, user, undefined)
      expect(dl.status).toBe(200)
      expect(dl.data).toMatchObject({ filename: "hello world.txt", contentType: "text/plain", size: 11 })
      expect(Number.isNaN(Date.parse(str(dl.data, "expiresAt")))).toBe(false)
      const got = yield* storageGet(str(dl.data, "url"))
      expect(got.status).toBe(200)
      expect(got.text).toBe("hello world")
      expect(got.headers.get("content-type")).toContain("text/plain")

      // GET alias of download-url (I-24)
      const alias = yield* request("GET", `/v1/files/${id}/download-url`, { token: user.accessToken })
      expect(alias.status).toBe(200)
      expect((yield* storageGet(str(alias.data, "url"))).text).toBe("hello world")

      // a download URL does not authorise a PUT, an upload URL does not authorise a GET
      expectXmlError(yield* storagePut(str(dl.data, "url"), "overwrite"), "SignatureDoesNotMatch")
      expectXmlError(yield* storageGet(url), "SignatureDoesNotMatch")
      // private objects are not served unsigned
      expectXmlError(yield* storageGet(url.slice(0, url.indexOf("?"))), "AccessDenied")
    })
  )

  it.effect("storage PUT rejects bkend credentials, tampered and missing signatures", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const h = yield* Harness
      const pre = yield* post("/v1/files/presigned-url", user, { filename: "a.txt", contentType: "text/plain" })
      const url = str(pre.data, "url")
      expectXmlError(yield* storagePut(url, "x", { authorization: `Bearer ${user.accessToken}` }), "AccessDenied")
      expectXmlError(yield* storagePut(url, "x", { "x-api-key": h.server.keys.publishable }), "AccessDenied")
      const u = new URL(url)
      const sig = u.searchParams.get("signature") ?? ""
      u.searchParams.set("signature", `${sig.startsWith("0") ? "1" : "0"}${sig.slice(1)}`)
      expectXmlError(yield* storagePut(u.toString(), "x"), "SignatureDoesNotMatch")
      const longer = new URL(url)
      longer.searchParams.set("expires", String(Number(longer.searchParams.get("expires")) + 1000))
      expectXmlError(yield* storagePut(longer.toString(), "x"), "SignatureDoesNotMatch")
      expectXmlError(yield* storagePut(url.slice(0, url.indexOf("?")), "x"), "AccessDenied")
      const stored = Effect.map(Effect.orDie(h.server.store.objects.get(str(pre.data, "key"))), Option.isSome)
      expect(yield* stored).toBe(false)
      // the untouched URL still works
      const ok = yield* storagePut(url, "x")
      expect(ok.status).toBe(200)
      expect(yield* stored).toBe(true)
    })
  )

  it.effect("storage answers CORS preflight for browser PUTs", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const pre = yield* post("/v1/files/presigned-url", user, { filename: "c.txt", contentType: "text/plain" })
      const res = yield* request("OPTIONS", str(pre.data, "url"), {
        absolute: true,
        key: "none",
        headers: {
          origin: "http://app.test",
          "access-control-request-method": "PUT",
          "access-control-request-headers": "content-type"
        }
      })
      expect(res.status).toBeLessThan(300)
      expect(res.headers.get("access-control-allow-methods") ?? "").toContain("PUT")
      expect(res.headers.get("access-control-allow-origin")).toMatch(/http:\/\/app\.test|\*/)
    })
  )

  it.effect("presign validation: invalid-name, invalid-format, file-too-large, file-too-small", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const p = (body: unknown) => post("/v1/files/presigned-url", user, body)
      expectError(yield* p({ filename: "", contentType: "text/plain" }), 400, "file/invalid-name")
      expectError(yield* p({ filename: "a/b.txt", contentType: "text/plain" }), 400, "file/invalid-name")
      expectError(yield* p({ filename: "x".repeat(256), contentType: "text/plain" }), 400, "file/invalid-name")
      expectError(yield* p({ filename: "a.txt", contentType: "not a mime" }), 400, "file/invalid-format")
      const dots = yield* p({ filename: "..", contentType: "text/plain" })
      expect(str(dots.data, "key").endsWith("/file")).toBe(true)
      expectError(
        yield* p({ filename: "a.txt", contentType: "text/plain", fileSize: 6 * 1024 ** 3 }),
        400,
        "file/file-too-large"
      )
      expectError(yield* p({ filename: "a.txt", contentType: "text/plain", fileSize: 0 }), 400, "file/file-too-small")
      expectError(yield* p({ contentType: "text/plain" }), 400, "common/invalid-parameters")
      expectError(
        yield* p({ filename: "a.txt", contentType: "text/plain", visibility: "world" }),
        400,
        "common/invalid-parameters"
      )
      expectError(
        yield* request("POST", "/v1/files/presigned-url", {
          token: user.accessToken,
          rawBody: "{nope",
          headers: { "content-type": "application/json" }
        }),
        400,
        "common/invalid-parameters"
      )
    })
  )

  it.effect("an expired URL is refused with 403 'Request has expired'", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const pre = yield* post("/v1/files/presigned-url", user, { filename: "late.txt", contentType: "text/plain" })
      yield* TestClock.adjust("14 minutes")
      const fresh = yield* post("/v1/files/presigned-url", user, { filename: "late2.txt", contentType: "text/plain" })
      yield* TestClock.adjust("2 minutes")
      expectXmlError(yield* storagePut(str(pre.data, "url"), "late"), "AccessDenied", "Request has expired")
      // minted 2 minutes ago: still valid
      expect((yield* storagePut(str(fresh.data, "url"), "ok")).status).toBe(200)
    })
  )

  it.effect("metadata registration: validations and duplicate s3Key (409)", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const base = { s3Key: `files/${user.userId}/k1/a.txt`, originalName: "a.txt", mimeType: "text/plain", size: 3 }
      const r = (body: unknown) => post("/v1/files", user, body)
      // I-26: registration does not require the object to have been uploaded through this server
      const first = yield* r(base)
      expect(first.status).toBe(201)
      expect(get(first.data, "visibility")).toBe("private")
      expectError(yield* r(base), 409, "file/s3-key-already-exists")
      expectError(yield* r({ ...base, s3Key: "k".repeat(1025) }), 400, "file/s3-key-too-long")
      expectError(yield* r({ ...base, s3Key: "files/../k" }), 400, "file/invalid-path")
      expectError(yield* r({ ...base, s3Key: "k2", originalName: "n".repeat(256) }), 400, "file/original-name-too-long")
      expectError(
        yield* r({ ...base, s3Key: "k2", mimeType: `text/${"p".repeat(300)}` }),
        400,
        "file/mime-type-too-long"
      )
      expectError(yield* r({ ...base, s3Key: "k2", size: -1 }), 400, "file/size-negative")
      expectError(yield* r({ ...base, s3Key: "k2", size: "3" }), 400, "common/invalid-parameters")
      expectError(yield* r({ ...base, s3Key: "k2", bucket: "nope" }), 400, "common/invalid-parameters")
      expectError(yield* r({ ...base, s3Key: "k2", metadata: { tags: "x" } }), 400, "common/invalid-parameters")
      expectError(yield* r({ s3Key: "k2", mimeType: "text/plain", size: 1 }), 400, "common/invalid-parameters")
      expect((yield* r({ ...base, s3Key: `files/${user.userId}/k4/a.txt`, originalName: "dir/a.txt" })).status).toBe(
        201
      )
      expectError(yield* r({ ...base, s3Key: "k5", originalName: "bad\u0001.txt" }), 400, "file/invalid-name")
      const withDims = yield* r({
        ...base,
        s3Key: `files/${user.userId}/k3/a.txt`,
        width: 10,
        height: 20,
        visibility: "public"
      })
      expect(withDims.data).toMatchObject({ width: 10, height: 20, visibility: "public" })
    })
  )

  it.effect("access rules between two users: private, protected, public, shared; owner-only edit and delete", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const b = yield* signUp()
      const file = yield* uploadText(a, "secret.txt", "top secret", { metadata: { description: "mine" } })

      const own = yield* request("GET", `/v1/files/${file.id}`, { token: a.accessToken })
      expect(own.status).toBe(200)
      expect(get(own.data, "metadata")).toEqual({ description: "mine" })
      expectError(yield* request("GET", `/v1/files/${file.id}`, { token: b.accessToken }), 403, "file/access-denied")
      expectError(yield* post(`/v1/files/${file.id}/download-url`, b, undefined), 403, "file/access-denied")
      expectError(
        yield* request("GET", "/v1/files/00000000-0000-0000-0000-000000000000", { token: a.accessToken }),
        404,
        "file/not-found"
      )

      // non-owners may not edit or delete
      expectError(
        yield* request("PATCH", `/v1/files/${file.id}`, { token: b.accessToken, body: { visibility: "public" } }),
        403,
        "file/access-denied"
      )
      expectError(yield* request("DELETE", `/v1/files/${file.id}`, { token: b.accessToken }), 403, "file/access-denied")

      // protected: any authenticated user sees the public fields
      const upd = yield* request("PATCH", `/v1/files/${file.id}`, {
        token: a.accessToken,
        body: { visibility: "protected", originalName: "renamed.txt", metadata: { alt: "x" } }
      })
      expect(upd.status).toBe(200)
      expect(upd.data).toMatchObject({
        visibility: "protected",
        originalName: "renamed.txt",
        metadata: { description: "mine", alt: "x" }
      })
      const seen = yield* request("GET", `/v1/files/${file.id}`, { token: b.accessToken })
      expect(seen.status).toBe(200)
      expect(get(seen.data, "originalName")).toBe("renamed.txt")
      expect(get(seen.data, "metadata")).toBeUndefined()
      const bdl = yield* post(`/v1/files/${file.id}/download-url`, b, undefined)
      expect((yield* storageGet(str(bdl.data, "url"))).text).toBe("top secret")

      // shared: only designated users (metadata.custom.sharedWith)
      const c = yield* signUp()
      yield* request("PATCH", `/v1/files/${file.id}`, {
        token: a.accessToken,
        body: { visibility: "shared", metadata: { custom: { sharedWith: [b.userId] } } }
      })
      expect((yield* request("GET", `/v1/files/${file.id}`, { token: b.accessToken })).status).toBe(200)
      expectError(yield* request("GET", `/v1/files/${file.id}`, { token: c.accessToken }), 403, "file/access-denied")

      // public: readable by others, also at the unsigned storage URL (I-26)
      yield* request("PATCH", `/v1/files/${file.id}`, { token: a.accessToken, body: { visibility: "public" } })
      expect((yield* request("GET", `/v1/files/${file.id}`, { token: c.accessToken })).status).toBe(200)
      const h = yield* Harness
      const unsigned = yield* storageGet(`${h.url}/_storage/${file.key}`)
      expect(unsigned.text).toBe("top secret")

      expectError(
        yield* request("PATCH", `/v1/files/${file.id}`, { token: a.accessToken, body: { originalName: "" } }),
        400,
        "file/invalid-name"
      )

      const del = yield* request("DELETE", `/v1/files/${file.id}`, { token: a.accessToken })
      expect(del.status).toBe(200)
      expect(del.data).toEqual({})
      expectError(yield* request("GET", `/v1/files/${file.id}`, { token: a.accessToken }), 404, "file/not-found")
      expectError(yield* request("DELETE", `/v1/files/${file.id}`, { token: a.accessToken }), 404, "file/not-found")
    })
  )

  it.effect("list: visible set, filters, sort, limit bounds and pagination", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const b = yield* signUp()
      const names = ["alpha.txt", "beta.txt", "gamma.txt"]
      for (const n of names) yield* uploadText(a, n, n)
      yield* uploadText(a, "shown.txt", "s", { visibility: "public" })
      yield* uploadText(a, "prot.txt", "p", { visibility: "protected" })
      yield* uploadText(b, "bee.txt", "b")

      const list = (user: TestUser, query: Record<string, string>) =>
        request("GET", "/v1/files", { token: user.accessToken, query })
      const mine = yield* list(a, { ownerId: a.userId, limit: "2", sortBy: "originalName", sortDirection: "asc" })
      expect(mine.status).toBe(200)
      expect(arr(mine.data, "items").map((i) => get(i, "originalName"))).toEqual(["alpha.txt", "beta.txt"])
      expect(get(mine.data, "pagination")).toEqual({
        total: 5,
        page: 1,
        limit: 2,
        totalPages: 3,
        hasNextPage: true,
        hasPrevPage: false
      })
      const page3 = yield* list(a, {
        ownerId: a.userId,
        limit: "2",
        page: "3",
        sortBy: "originalName",
        sortDirection: "asc"
      })
      expect(arr(page3.data, "items").map((i) => get(i, "originalName"))).toEqual(["shown.txt"])
      expect(get(page3.data, "pagination.hasNextPage")).toBe(false)
      expect(get(page3.data, "pagination.hasPrevPage")).toBe(true)

      // b sees a's public and protected files, and its own, never a's private ones
      const seen = yield* list(b, { limit: "100" })
      const seenNames = arr(seen.data, "items").map((i) => get(i, "originalName"))
      expect(seenNames).toContain("shown.txt")
      expect(seenNames).toContain("prot.txt")
      expect(seenNames).toContain("bee.txt")
      expect(seenNames).not.toContain("alpha.txt")
      const item = arr(seen.data, "items")[0]
      expect(Object.keys(item ?? {}).sort()).toEqual(
        ["createdAt", "id", "mimeType", "originalName", "ownerId", "s3Key", "size", "visibility"].sort()
      )

      expect(
        arr((yield* list(a, { search: "AMM", ownerId: a.userId })).data, "items").map((i) => get(i, "originalName"))
      ).toEqual(["gamma.txt"])
      expect(arr((yield* list(b, { visibility: "public", ownerId: a.userId })).data, "items")).toHaveLength(1)
      expect(arr((yield* list(b, { mimeType: "image/png" })).data, "items")).toHaveLength(0)
      expect(get((yield* list(a, {})).data, "pagination.limit")).toBe(20)
      expectError(yield* list(a, { limit: "0" }), 400, "common/invalid-parameters")
      expectError(yield* list(a, { limit: "101" }), 400, "common/invalid-parameters")
      expectError(yield* list(a, { sortBy: "nope" }), 400, "common/invalid-parameters")
      expectError(yield* list(a, { visibility: "nope" }), 400, "common/invalid-parameters")
    })
  )

  it.effect("multipart: 3 parts with ETags, complete, download equals the concatenation", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const init = yield* post("/v1/files/multipart/init", user, {
        filename: "big.bin",
        contentType: "application/octet-stream",
        fileSize: 15
      })
      expect(init.status).toBe(200)
      expect(get(init.data, "filename")).toBe("big.bin")
      const key = str(init.data, "key")
      const uploadId = str(init.data, "uploadId")
      const chunks = ["first", "SECND", "third"]
      const parts: Array<{ partNumber: number; etag: string }> = []
      for (const [i, chunk] of chunks.entries()) {
        const partNumber = i + 1
        const pu = yield* post("/v1/files/multipart/presigned-url", user, { key, uploadId, partNumber })
        expect(pu.status).toBe(200)
        expect(get(pu.data, "partNumber")).toBe(partNumber)
        const put = yield* storagePut(str(pu.data, "url"), chunk)
        expect(put.status).toBe(200)
        const etag = put.headers.get("etag") ?? ""
        expect(etag).toBe(md5Etag(chunk))
        parts.push({ partNumber, etag })
      }
      for (const partNumber of [0, 10001, 1.5]) {
        expectError(
          yield* post("/v1/files/multipart/presigned-url", user, { key, uploadId, partNumber }),
          400,
          "file/invalid-part-number-range"
        )
      }
      const complete = (body: unknown) => post("/v1/files/multipart/complete", user, body)
      expectError(yield* complete({ key, uploadId, parts: [] }), 400, "file/invalid-parts-array")
      expectError(yield* complete({ key, uploadId, parts: "x" }), 400, "file/invalid-parts-array")
      expectError(
        yield* complete({ key, uploadId, parts: [...parts.slice(0, 2), { partNumber: 3, etag: md5Etag("other") }] }),
        400,
        "file/invalid-parts-array"
      )
      expectError(
        yield* complete({ key, uploadId, parts: [...parts, { partNumber: 4, etag: parts[0]?.etag }] }),
        400,
        "file/invalid-parts-array"
      )
      const other = yield* signUp()
      expectError(
        yield* post("/v1/files/multipart/complete", other, { key, uploadId, parts }),
        403,
        "file/access-denied"
      )

      const done = yield* complete({ key, uploadId, parts: [parts[2], parts[0], parts[1]] })
      expect(done.status).toBe(200)
      expect(get(done.data, "key")).toBe(key)
      expect(str(done.data, "location")).toContain("/_storage/")
      expectError(yield* complete({ key, uploadId, parts }), 404, "file/not-found")

      const reg = yield* post("/v1/files", user, {
        s3Key: key,
        originalName: "big.bin",
        mimeType: "application/octet-stream",
        size: 15
      })
      expect(reg.status).toBe(201)
      const dl = yield* post(`/v1/files/${str(reg.data, "id")}/download-url`, user, undefined)
      const got = yield* storageGet(str(dl.data, "url"))
      expect(got.status).toBe(200)
      expect(got.text).toBe(chunks.join(""))
      expect(got.headers.get("etag")).toMatch(/^"[0-9a-f]{32}-3"$/)
    })
  )

  it.effect("multipart abort discards the upload", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const init = yield* post("/v1/files/multipart/init", user, {
        filename: "x.bin",
        contentType: "application/octet-stream",
        fileSize: 4
      })
      const key = str(init.data, "key")
      const uploadId = str(init.data, "uploadId")
      const pu = yield* post("/v1/files/multipart/presigned-url", user, { key, uploadId, partNumber: 1 })
      const etag = (yield* storagePut(str(pu.data, "url"), "data")).headers.get("etag")
      const abort = yield* post("/v1/files/multipart/abort", user, { key, uploadId })
      expect(abort.status).toBe(200)
      expect(abort.data).toEqual({ success: true, key })
      const late = yield* storagePut(str(pu.data, "url"), "data")
      expect(late.status).toBe(404)
      expect(late.text).toContain("<Code>NoSuchUpload</Code>")
      expectError(
        yield* post("/v1/files/multipart/complete", user, { key, uploadId, parts: [{ partNumber: 1, etag }] }),
        404,
        "file/not-found"
      )
      expectError(yield* post("/v1/files/multipart/abort", user, { key, uploadId }), 404, "file/not-found")
      expectError(
        yield* post("/v1/files/multipart/init", user, { filename: "x.bin", contentType: "application/octet-stream" }),
        400,
        "common/invalid-parameters"
      )
      const h = yield* Harness
      expect(Option.isNone(yield* Effect.orDie(h.server.store.objects.get(key)))).toBe(true)
    })
  )
})

layer(harnessLayer({ envelope: "bare", deletes: "204", pagination: "union", baseUrl: "http://files.example/" }))(
  "bkend-local /v1/files with compat options (socket)",
  (it) => {
    it.effect("bare bodies, 204 deletes, union pagination, presigned URLs on options.baseUrl", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const h = yield* Harness
        const pre = yield* post("/v1/files/presigned-url", user, { filename: "b.txt", contentType: "text/plain" })
        expect(get(pre.json, "success")).toBeUndefined()
        const url = str(pre.json, "url")
        expect(url.startsWith("http://files.example/_storage/")).toBe(true)
        const local = url.replace("http://files.example", h.url)
        expect((yield* storagePut(local, "bare")).status).toBe(200)
        const reg = yield* post("/v1/files", user, {
          s3Key: str(pre.json, "key"),
          originalName: "b.txt",
          mimeType: "text/plain",
          size: 4
        })
        expect(reg.status).toBe(201)
        const id = str(reg.json, "id")
        const list = yield* request("GET", "/v1/files", { token: user.accessToken })
        expect(get(list.json, "pagination")).toEqual({
          total: 1,
          page: 1,
          limit: 20,
          totalPages: 1,
          hasNext: false,
          hasPrev: false,
          hasNextPage: false,
          hasPrevPage: false
        })
        const del = yield* request("DELETE", `/v1/files/${id}`, { token: user.accessToken })
        expect(del.status).toBe(204)
        expect(del.text).toBe("")
      })
    )
  }
)

layer(inProcessLayer())("bkend-local /v1/files in-process", (it) => {
  it.effect("presigned upload and download work without a socket", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const file = yield* uploadText(user, "mem.txt", "in memory")
      const dl = yield* post(`/v1/files/${file.id}/download-url`, user, undefined)
      const got = yield* storageGet(str(dl.data, "url"))
      expect(got.status).toBe(200)
      expect(got.text).toBe("in memory")
    })
  )

  // snapshots are a feature of the in-memory engine: this test runs on it whatever the test engine
  it.effect("a snapshot carries objects, files, uploads and the URL secret", () =>
    Effect.gen(function* () {
      const user = yield* signUp()
      const file = yield* uploadText(user, "kept.txt", "survives")
      const init = yield* post("/v1/files/multipart/init", user, {
        filename: "p.bin",
        contentType: "text/plain",
        fileSize: 2
      })
      const key = str(init.data, "key")
      const uploadId = str(init.data, "uploadId")
      const pu = yield* post("/v1/files/multipart/presigned-url", user, { key, uploadId, partNumber: 1 })
      const etag = (yield* storagePut(str(pu.data, "url"), "p1")).headers.get("etag")
      const dl = yield* post(`/v1/files/${file.id}/download-url`, user, undefined)

      const h = yield* Harness
      const snapshot = yield* h.server.exportSnapshot
      const copy = yield* LocalServer.make()
      yield* copy.importSnapshot(snapshot)
      const fetchCopy = LocalServer.toWebHandler(copy, yield* Effect.runtime<never>())
      const got = yield* Effect.promise(() => fetchCopy(new Request(str(dl.data, "url"))))
      expect(got.status).toBe(200)
      expect(yield* Effect.promise(() => got.text())).toBe("survives")
      const done = yield* Effect.provideService(
        post("/v1/files/multipart/complete", user, { key, uploadId, parts: [{ partNumber: 1, etag }] }),
        Harness,
        { ...h, server: copy, fetch: fetchCopy }
      )
      expect(done.status).toBe(200)
      const signed = presignUrl(LocalServer.inProcessBaseUrl, copy.local.state.storageSecret, {
        method: "GET",
        key,
        expiresAt: Date.now() + 60_000
      })
      const assembled = yield* Effect.promise(() => fetchCopy(new Request(signed)))
      expect(yield* Effect.promise(() => assembled.text())).toBe("p1")
      expect(copy.local.state.files.get(file.id)?.originalName).toBe("kept.txt")
    }).pipe(Effect.provide(memoryInProcessLayer()))
  )
})

layer(harnessLayer({ guestFileList: true }))("guestFileList (socket)", (it) => {
  it.effect("GET /v1/files without a token lists public files only; other file routes still need a JWT", () =>
    Effect.gen(function* () {
      const owner = yield* signUp()
      const pub = yield* uploadText(owner, "pub.txt", "p", { visibility: "public" })
      const prot = yield* uploadText(owner, "prot.txt", "q", { visibility: "protected" })
      const priv = yield* uploadText(owner, "priv.txt", "r")
      const guest = yield* request("GET", "/v1/files", { query: { visibility: "public" } })
      expect(guest.status).toBe(200)
      const ids = arr(guest.data, "items").map((f) => get(f, "id"))
      expect(ids).toContain(pub.id)
      const all = yield* request("GET", "/v1/files")
      const allIds = arr(all.data, "items").map((f) => get(f, "id"))
      expect(allIds).toContain(pub.id)
      expect(allIds).not.toContain(prot.id)
      expect(allIds).not.toContain(priv.id)
      expectError(yield* request("GET", `/v1/files/${pub.id}`), 401, "common/authentication-required")
      // a bad token is still a 401, never downgraded to guest
      expectError(yield* request("GET", "/v1/files", { token: "abc.def.ghi" }), 401, "common/authentication-required")
    })
  )
})
