import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import {
  abortMultipart,
  completeMultipart,
  etagOf,
  initMultipart,
  isUrlSafeKey,
  keyFromPath,
  makeStorageState,
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

describe("object store and multipart", () => {
  it("stores objects with quoted MD5 ETags", () => {
    const state = makeStorageState()
    const obj = putObject(state, "k", bytes("hello"), "text/plain", 1)
    expect(obj.etag).toBe(`"${createHash("md5").update("hello").digest("hex")}"`)
    expect(obj.etag).toBe('"5d41402abc4b2a76b9719d911017c592"')
    expect(text(state.objects.get("k")?.bytes ?? new Uint8Array())).toBe("hello")
  })

  it("assembles parts in partNumber order and checks ETags", () => {
    const state = makeStorageState()
    initMultipart(state, { uploadId: "u", key: "big", contentType: "text/plain", ownerId: "o", now: 0 })
    const e3 = putPart(state, "big", "u", 3, bytes("C"))
    const e1 = putPart(state, "big", "u", 1, bytes("AA"))
    const e2 = putPart(state, "big", "u", 2, bytes("BBB"))
    expect(e1).toBe(etagOf(bytes("AA")))
    expect(putPart(state, "other", "u", 1, bytes("x"))).toBeUndefined()
    expect(putPart(state, "big", "u", 0, bytes("x"))).toBeUndefined()
    expect(putPart(state, "big", "u", 10001, bytes("x"))).toBeUndefined()
    const parts = [
      { partNumber: 2, etag: e2 ?? "" },
      { partNumber: 3, etag: e3 ?? "" },
      { partNumber: 1, etag: e1 ?? "" }
    ]
    expect(completeMultipart(state, "big", "u", [], 1)._tag).toBe("InvalidParts")
    expect(completeMultipart(state, "big", "u", [{ partNumber: 1, etag: '"00"' }], 1)._tag).toBe("InvalidParts")
    expect(completeMultipart(state, "big", "u", [...parts, { partNumber: 1, etag: e1 ?? "" }], 1)._tag).toBe(
      "InvalidParts"
    )
    expect(completeMultipart(state, "big", "u", [{ partNumber: 4, etag: e1 ?? "" }], 1)._tag).toBe("InvalidParts")
    expect(completeMultipart(state, "big", "nope", parts, 1)._tag).toBe("NoSuchUpload")
    const done = completeMultipart(state, "big", "u", parts, 1)
    expect(done._tag).toBe("Completed")
    if (done._tag !== "Completed") return
    expect(text(done.object.bytes)).toBe("AABBBC")
    expect(done.object.etag).toMatch(/^"[0-9a-f]{32}-3"$/)
    expect(done.object.contentType).toBe("text/plain")
    expect(text(state.objects.get("big")?.bytes ?? new Uint8Array())).toBe("AABBBC")
    expect(state.uploads.has("u")).toBe(false)
    expect(completeMultipart(state, "big", "u", parts, 2)._tag).toBe("NoSuchUpload")
  })

  it("accepts unquoted ETags on complete and leaves out unlisted parts", () => {
    const state = makeStorageState()
    initMultipart(state, { uploadId: "u", key: "k", contentType: undefined, ownerId: undefined, now: 0 })
    const e1 = putPart(state, "k", "u", 1, bytes("one")) ?? ""
    putPart(state, "k", "u", 2, bytes("two"))
    const done = completeMultipart(state, "k", "u", [{ partNumber: 1, etag: e1.replaceAll('"', "") }], 1)
    expect(done._tag === "Completed" && text(done.object.bytes)).toBe("one")
  })

  it.prop(
    "complete assembles any upload order in partNumber order",
    [FastCheck.array(FastCheck.string(), { minLength: 1, maxLength: 8 }), FastCheck.nat()],
    ([chunks, seed]) => {
      const state = makeStorageState()
      initMultipart(state, { uploadId: "u", key: "k", contentType: undefined, ownerId: undefined, now: 0 })
      const order = chunks.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13) || a - b)
      const parts = order.map((i) => ({
        partNumber: i + 1,
        etag: putPart(state, "k", "u", i + 1, bytes(chunks[i] ?? "")) ?? ""
      }))
      const done = completeMultipart(state, "k", "u", parts, 1)
      expect(done._tag === "Completed" && text(done.object.bytes)).toBe(chunks.join(""))
    }
  )

  it("abort discards the upload", () => {
    const state = makeStorageState()
    initMultipart(state, { uploadId: "u", key: "k", contentType: undefined, ownerId: undefined, now: 0 })
    putPart(state, "k", "u", 1, bytes("x"))
    expect(abortMultipart(state, "other", "u")).toBe(false)
    expect(abortMultipart(state, "k", "u")).toBe(true)
    expect(abortMultipart(state, "k", "u")).toBe(false)
    expect(putPart(state, "k", "u", 1, bytes("x"))).toBeUndefined()
    expect(state.objects.has("k")).toBe(false)
  })
})
