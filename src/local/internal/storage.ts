/**
 * The local object store behind presigned URLs: HMAC-signed URLs on the server's own host, objects and S3-style
 * multipart uploads (metadata in the `Store`, bytes in the blob service, streamed), and the `/_storage/*` route that
 * plays the role of the bucket.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Either, Option, type Stream } from "effect"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import type * as Store from "../Store.js"
import * as Blobs from "./blobs.js"
import { BlobError } from "./blobs.js"
import * as K from "./kernel.js"

/**
 * URL path under which the local server serves stored objects.
 *
 * @since 0.1.0
 * @category constants
 */
export const STORAGE_PATH = "/_storage"

/**
 * Lifetime of upload and download URLs (15 minutes).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_URL_TTL_MS = 15 * 60 * 1000

/**
 * The metadata of one stored object (its bytes are in the blob service).
 *
 * @since 0.1.0
 * @category models
 */
export type StoredObject = Store.ObjectMeta

/**
 * An in-progress multipart upload as the in-memory state keeps it: its parts' metadata by part number.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultipartUpload extends Omit<Store.UploadMeta, "parts"> {
  readonly parts: Map<number, Store.PartMeta>
}

/**
 * The Store groups the object store works with.
 *
 * @since 0.1.0
 * @category models
 */
export type ObjectStore = Pick<Store.Service, "objects" | "uploads" | "files">

/**
 * What a presigned URL grants: one method on one key (optionally one part of one multipart upload) until
 * `expiresAt` (epoch milliseconds).
 *
 * @since 0.1.0
 * @category signing
 */
export interface SignedTarget {
  readonly method: "PUT" | "GET"
  readonly key: string
  readonly uploadId?: string | undefined
  readonly partNumber?: number | undefined
  readonly expiresAt: number
  /** For a PUT: the only `Content-Type` the upload may carry (e.g. avatars: the image type that was asked for). */
  readonly contentType?: string | undefined
}

const canonical = (t: SignedTarget): string =>
  [
    t.method,
    t.key,
    t.uploadId ?? "",
    t.partNumber === undefined ? "" : String(t.partNumber),
    String(t.expiresAt),
    t.contentType ?? ""
  ].join("\n")

/**
 * HMAC-SHA256 (hex) over method, key, upload id, part number and expiry.
 *
 * @since 0.1.0
 * @category signing
 */
export const signTarget = (secret: Uint8Array, target: SignedTarget): string =>
  createHmac("sha256", secret).update(canonical(target)).digest("hex")

/**
 * Encodes a key as a URL path (each `/`-separated segment percent-encoded).
 *
 * @since 0.1.0
 * @category signing
 */
export const encodeKeyPath = (key: string): string => key.split("/").map(encodeURIComponent).join("/")

/**
 * Whether a key can be addressed under `/_storage/`: no `.` or `..` segment (URL parsers resolve those, even
 * percent-encoded) and no lone surrogate (not encodable).
 *
 * @since 0.1.0
 * @category signing
 */
export const isUrlSafeKey = (key: string): boolean => {
  if (key === "" || key.split("/").some((s) => s === "." || s === "..")) return false
  try {
    encodeURIComponent(key) // throws on lone surrogates
    return true
  } catch {
    return false
  }
}

/**
 * Builds a presigned URL on `baseUrl` (no trailing slash needed): `<base>/_storage/<key>?expires=…&signature=…`
 * plus `uploadId` and `partNumber` for part uploads.
 *
 * @since 0.1.0
 * @category signing
 */
export const presignUrl = (baseUrl: string, secret: Uint8Array, target: SignedTarget): string => {
  const params = new URLSearchParams()
  if (target.uploadId !== undefined) params.set("uploadId", target.uploadId)
  if (target.partNumber !== undefined) params.set("partNumber", String(target.partNumber))
  if (target.contentType !== undefined) params.set("contentType", target.contentType)
  params.set("expires", String(target.expiresAt))
  params.set("signature", signTarget(secret, target))
  return `${baseUrl.replace(/\/+$/, "")}${STORAGE_PATH}/${encodeKeyPath(target.key)}?${params.toString()}`
}

/**
 * Result of checking a request against its presigned URL.
 *
 * @since 0.1.0
 * @category signing
 */
export type VerifyResult =
  | { readonly _tag: "Valid"; readonly target: SignedTarget }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Malformed" }
  | { readonly _tag: "Expired" }
  | { readonly _tag: "BadSignature" }

const DIGITS = /^[0-9]+$/
const HEX64 = /^[0-9a-f]{64}$/

/**
 * Decodes the key from a request path (`/_storage/<encoded key>`), or `undefined` when the path is not a
 * storage path or is badly encoded.
 *
 * @since 0.1.0
 * @category signing
 */
export const keyFromPath = (pathname: string): string | undefined => {
  const prefix = `${STORAGE_PATH}/`
  if (!pathname.startsWith(prefix)) return undefined
  const rest = pathname.slice(prefix.length)
  if (rest === "") return undefined
  try {
    return rest.split("/").map(decodeURIComponent).join("/")
  } catch {
    return undefined
  }
}

/**
 * Verifies the signature and expiry carried in the query string for `method` on `key` at time `now`.
 * The signature is checked before the expiry, so a tampered expiry is reported as a bad signature.
 *
 * @since 0.1.0
 * @category signing
 */
export const verifyRequest = (
  secret: Uint8Array,
  method: "PUT" | "GET",
  key: string,
  params: URLSearchParams,
  now: number
): VerifyResult => {
  const signature = params.get("signature")
  const expires = params.get("expires")
  if (signature === null || expires === null) return { _tag: "Missing" }
  const uploadId = params.get("uploadId") ?? undefined
  const partRaw = params.get("partNumber")
  if (!DIGITS.test(expires) || (partRaw !== null && !DIGITS.test(partRaw))) return { _tag: "Malformed" }
  if (!HEX64.test(signature)) return { _tag: "BadSignature" }
  const target: SignedTarget = {
    method,
    key,
    uploadId,
    partNumber: partRaw === null ? undefined : Number(partRaw),
    expiresAt: Number(expires),
    contentType: params.get("contentType") ?? undefined
  }
  const expected = Buffer.from(signTarget(secret, target), "hex")
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) return { _tag: "BadSignature" }
  if (now > target.expiresAt) return { _tag: "Expired" }
  return { _tag: "Valid", target }
}

/**
 * Smallest and largest S3 part numbers.
 *
 * @since 0.1.0
 * @category multipart
 */
export const PART_NUMBER_MIN = 1

/**
 * @since 0.1.0
 * @category multipart
 */
export const PART_NUMBER_MAX = 10000

/**
 * @since 0.1.0
 * @category multipart
 */
export const isValidPartNumber = (n: number): boolean =>
  Number.isInteger(n) && n >= PART_NUMBER_MIN && n <= PART_NUMBER_MAX

/**
 * A part as listed by the client on complete.
 *
 * @since 0.1.0
 * @category multipart
 */
export interface CompletedPart {
  readonly partNumber: number
  readonly etag: string
}

const unquote = (etag: string): string => etag.replace(/^"(.*)"$/, "$1")

/**
 * The parts a completion assembles, in `partNumber` order, or why the list is refused: it must be non-empty,
 * unique, name uploaded parts, and carry the ETag each part PUT returned (with or without the quotes).
 *
 * @since 0.1.0
 * @category multipart
 */
export const chooseParts = (
  uploaded: ReadonlyArray<Store.PartMeta>,
  listed: ReadonlyArray<CompletedPart>
): Either.Either<ReadonlyArray<Store.PartMeta>, string> => {
  if (listed.length === 0) return Either.left("parts must not be empty")
  const byNumber = new Map(uploaded.map((p) => [p.partNumber, p]))
  const sorted = [...listed].sort((a, b) => a.partNumber - b.partNumber)
  const chosen: Array<Store.PartMeta> = []
  for (const [i, part] of sorted.entries()) {
    if (!isValidPartNumber(part.partNumber)) return Either.left(`invalid partNumber ${part.partNumber}`)
    if (i > 0 && sorted[i - 1]?.partNumber === part.partNumber) {
      return Either.left(`duplicate partNumber ${part.partNumber}`)
    }
    const stored = byNumber.get(part.partNumber)
    if (stored === undefined) return Either.left(`part ${part.partNumber} was not uploaded`)
    if (unquote(part.etag) !== unquote(stored.etag)) return Either.left(`ETag mismatch for part ${part.partNumber}`)
    chosen.push(stored)
  }
  return Either.right(chosen)
}

/**
 * S3's ETag of an object assembled from parts: `"<md5 of the parts' binary MD5s>-<number of parts>"`.
 *
 * @since 0.1.0
 * @category multipart
 */
export const multipartEtag = (parts: ReadonlyArray<Store.PartMeta>): string => {
  const md5s = Buffer.concat(parts.map((p) => Buffer.from(unquote(p.etag), "hex")))
  return `"${createHash("md5").update(md5s).digest("hex")}-${parts.length}"`
}

// ---------------------------------------------------------------------------------------------------------------------
// Objects: metadata in the Store, bytes in the blob service
// ---------------------------------------------------------------------------------------------------------------------

const objectStore = Effect.map(K.Local, (local): ObjectStore => local.store)

/** What the object operations need: the object metadata and the bytes. */
type Needs = K.Local | Blobs.Blobs

/**
 * The blob names of an object's versions, or a `BlobError` when the key cannot name stored bytes.
 */
const versionsOf = (key: string): Effect.Effect<(etag: string) => string, BlobError> =>
  Either.match(Blobs.objectBlob(key), {
    onLeft: () => Effect.fail(new BlobError({ operation: "name", code: "EINVAL" })),
    onRight: Effect.succeed
  })

// After `current` replaced `previous`, the bytes of `previous` are garbage (unless both are the same bytes).
const retire = (blobs: Blobs.Service, previous: Option.Option<StoredObject>, current: StoredObject) =>
  Option.match(previous, {
    onNone: () => Effect.void,
    onSome: (old) =>
      Blobs.versionOf(old) === Blobs.versionOf(current)
        ? Effect.void
        : Effect.flatMap(versionsOf(old.key), (v) => blobs.delete(v(Blobs.versionOf(old))))
  })

/**
 * Stores (or replaces) a whole object from a byte stream and returns its metadata. The bytes are stored first
 * under their own version's name, then the metadata names them: a reader sees the old object or the new, whole.
 *
 * @since 0.1.0
 * @category store
 */
export const putObject = <E, R>(
  key: string,
  contentType: string | undefined,
  bytes: Stream.Stream<Uint8Array, E, R>,
  now: number
): Effect.Effect<StoredObject, E | BlobError | Store.StoreError, Needs | R> =>
  Effect.flatMap(objectStore, (store) => putObjectInto(store, key, contentType, bytes, now))

/**
 * `putObject` into the objects of `store` (the import writes to a store outside a running server).
 *
 * @since 0.1.0
 * @category store
 */
export const putObjectInto = <E, R>(
  store: Pick<Store.Service, "objects">,
  key: string,
  contentType: string | undefined,
  bytes: Stream.Stream<Uint8Array, E, R>,
  now: number
): Effect.Effect<StoredObject, E | BlobError | Store.StoreError, Blobs.Blobs | R> =>
  Effect.gen(function* () {
    const blobs = yield* Blobs.Blobs
    const name = yield* versionsOf(key)
    const nonce = Blobs.newNonce()
    const written = yield* blobs.put(bytes, (w) => name(Blobs.versionFor(w.md5, nonce)))
    const previous = yield* store.objects.get(key)
    const etag = `"${written.md5}"`
    const version = Blobs.versionFor(etag, nonce)
    const object: StoredObject = { key, size: written.size, contentType, etag, createdAt: now, version }
    yield* store.objects.put(object)
    yield* retire(blobs, previous, object)
    return object
  })

/**
 * An object's metadata and bytes, if it exists.
 *
 * @since 0.1.0
 * @category store
 */
export const getObject = (
  key: string
): Effect.Effect<
  Option.Option<{ readonly object: StoredObject; readonly blob: Blobs.Blob }>,
  BlobError | Store.StoreError,
  Needs
> =>
  Effect.gen(function* () {
    const store = yield* objectStore
    const found = yield* store.objects.get(key)
    if (Option.isNone(found)) return Option.none()
    const object = found.value
    const version = yield* versionsOf(key)
    const blob = yield* (yield* Blobs.Blobs).get(version(Blobs.versionOf(object)))
    return Option.map(blob, (b) => ({ object, blob: b }))
  })

/**
 * Deletes an object (metadata and bytes); `false` when there was none.
 *
 * @since 0.1.0
 * @category store
 */
export const deleteObject = (key: string): Effect.Effect<boolean, BlobError | Store.StoreError, Needs> =>
  Effect.gen(function* () {
    const store = yield* objectStore
    const found = yield* store.objects.get(key)
    if (Option.isNone(found)) return false
    yield* store.objects.delete(key)
    const version = yield* versionsOf(key)
    yield* (yield* Blobs.Blobs).delete(version(Blobs.versionOf(found.value)))
    return true
  })

// ---------------------------------------------------------------------------------------------------------------------
// Multipart uploads
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Starts a multipart upload for `key`.
 *
 * @since 0.1.0
 * @category multipart
 */
export const initMultipart = (upload: Omit<Store.UploadMeta, "parts">): Effect.Effect<void, Store.StoreError, Needs> =>
  Effect.flatMap(objectStore, (store) => store.uploads.start(upload))

/**
 * Finds an in-progress upload by id, checking that it belongs to `key`.
 *
 * @since 0.1.0
 * @category multipart
 */
export const findUpload = (
  key: string,
  uploadId: string
): Effect.Effect<Option.Option<Store.UploadMeta>, Store.StoreError, Needs> =>
  Effect.flatMap(objectStore, (store) =>
    Effect.map(
      store.uploads.get(uploadId),
      Option.filter((upload) => upload.key === key)
    )
  )

/**
 * Stores one part from a byte stream (replacing an earlier upload of the same part number) and returns its
 * metadata, or `None` when the upload does not exist (aborted or completed); the body is not read then.
 *
 * @since 0.1.0
 * @category multipart
 */
export const putPart = <E, R>(
  key: string,
  uploadId: string,
  partNumber: number,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<Option.Option<Store.PartMeta>, E | BlobError | Store.StoreError, Needs | R> =>
  Effect.gen(function* () {
    if (!isValidPartNumber(partNumber) || Option.isNone(yield* findUpload(key, uploadId))) return Option.none()
    const blobs = yield* Blobs.Blobs
    const written = yield* blobs.put(bytes, (w) => Blobs.partBlob(uploadId, partNumber, w.md5))
    const part: Store.PartMeta = { partNumber, size: written.size, etag: `"${written.md5}"` }
    if (yield* (yield* objectStore).uploads.putPart(uploadId, part)) return Option.some(part)
    // the upload ended while the part streamed in
    yield* blobs.delete(Blobs.partBlob(uploadId, partNumber, written.md5))
    return Option.none()
  })

/**
 * Result of completing a multipart upload.
 *
 * @since 0.1.0
 * @category multipart
 */
export type CompleteResult =
  | { readonly _tag: "Completed"; readonly object: StoredObject }
  | { readonly _tag: "NoSuchUpload" }
  | { readonly _tag: "InvalidParts"; readonly reason: string }

/**
 * Completes a multipart upload (see `chooseParts`): the chosen parts are streamed, in `partNumber` order, into the
 * object, whose ETag is `multipartEtag`; then the upload ends and the object is stored, together. Unlisted parts
 * are discarded.
 *
 * @since 0.1.0
 * @category multipart
 */
export const completeMultipart = (
  key: string,
  uploadId: string,
  listed: ReadonlyArray<CompletedPart>,
  now: number
): Effect.Effect<CompleteResult, BlobError | Store.StoreError, Needs> =>
  Effect.gen(function* () {
    const found = yield* findUpload(key, uploadId)
    if (Option.isNone(found)) return { _tag: "NoSuchUpload" } as const
    const upload = found.value
    const chosen = chooseParts(upload.parts, listed)
    if (Either.isLeft(chosen)) return { _tag: "InvalidParts", reason: chosen.left } as const
    const parts = chosen.right
    const etag = multipartEtag(parts)
    const blobs = yield* Blobs.Blobs
    const store = yield* objectStore
    const name = yield* versionsOf(key)
    const version = Blobs.versionFor(etag, Blobs.newNonce())
    const written = yield* blobs.concat(
      name(version),
      parts.map((p) => Blobs.partBlob(uploadId, p.partNumber, p.etag))
    )
    const object: StoredObject = {
      key,
      size: written.size,
      contentType: upload.contentType,
      etag,
      createdAt: now,
      version
    }
    const previous = yield* store.objects.get(key)
    // Another request ended the upload meanwhile: nothing names the assembled bytes (their version is this write's)
    if (!(yield* store.uploads.complete(uploadId, object))) {
      yield* blobs.delete(name(version))
      return { _tag: "NoSuchUpload" } as const
    }
    yield* retire(blobs, previous, object)
    yield* blobs.deleteAll(Blobs.partsOf(uploadId))
    return { _tag: "Completed", object } as const
  })

/**
 * Aborts a multipart upload, discarding its parts. Returns `false` when there was no such upload.
 *
 * @since 0.1.0
 * @category multipart
 */
export const abortMultipart = (
  key: string,
  uploadId: string
): Effect.Effect<boolean, BlobError | Store.StoreError, Needs> =>
  Effect.gen(function* () {
    if (Option.isNone(yield* findUpload(key, uploadId))) return false
    const aborted = yield* (yield* objectStore).uploads.abort(uploadId)
    yield* (yield* Blobs.Blobs).deleteAll(Blobs.partsOf(uploadId))
    return aborted
  })

// ---------------------------------------------------------------------------------------------------------------------
// Effectful helpers and the storage route
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Mints a presigned URL on the server's public base URL (`options.baseUrl`, else the request's Host).
 *
 * @since 0.1.0
 * @category signing
 */
export const mintUrl = (
  target: SignedTarget
): Effect.Effect<string, never, HttpServerRequest.HttpServerRequest | K.Local> =>
  Effect.gen(function* () {
    const { state } = yield* K.Local
    const base = yield* K.publicBaseUrl
    return presignUrl(base, state.storageSecret, target)
  })

/**
 * Error body of the storage route: S3-style XML (`<Error><Code/><Message/></Error>`, `application/xml`), never
 * the bkend JSON envelope, because these URLs stand for the object store rather than the bkend API.
 *
 * @since 0.1.0
 * @category route
 */
export const storageError = (status: number, code: string, message: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, contentType: "application/xml" }
  )

const verifyFailure = (result: Exclude<VerifyResult, { _tag: "Valid" }>): HttpServerResponse.HttpServerResponse => {
  switch (result._tag) {
    case "Missing":
      return storageError(
        403,
        "AccessDenied",
        "Query-string authentication requires the expires and signature parameters"
      )
    case "Malformed":
      return storageError(403, "AccessDenied", "Malformed expires or partNumber parameter")
    case "BadSignature":
      return storageError(403, "SignatureDoesNotMatch", "The request signature does not match")
    case "Expired":
      return storageError(403, "AccessDenied", "Request has expired")
  }
}

const requestTarget = (req: HttpServerRequest.HttpServerRequest) => {
  const url = new URL(req.url, "http://storage.invalid")
  return { key: keyFromPath(url.pathname), params: url.searchParams }
}

const carriesApiCredentials = (req: HttpServerRequest.HttpServerRequest): boolean =>
  K.header(req, "authorization") !== undefined || K.header(req, "x-api-key") !== undefined

const credentialsRejected = storageError(
  403,
  "AccessDenied",
  "Presigned storage URLs must be used without Authorization or X-API-Key headers"
)

// `image/png; charset=x` → `image/png`
const mediaType = (contentType: string | undefined): string | undefined =>
  contentType?.split(";")[0]?.trim().toLowerCase()

/**
 * Content types served inline; everything else is served as an attachment, so no stored document (HTML, SVG, …)
 * is ever rendered on the server's origin.
 *
 * @since 0.1.0
 * @category route
 */
export const INLINE_TYPES: ReadonlyArray<string> = ["image/png", "image/jpeg", "image/gif", "image/webp"]

const downloadHeaders = (object: StoredObject): Record<string, string> => ({
  etag: object.etag,
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
  ...(INLINE_TYPES.includes(mediaType(object.contentType) ?? "") ? {} : { "content-disposition": "attachment" })
})

const bodyFailure = (error: K.ApiError): HttpServerResponse.HttpServerResponse =>
  error.status === 413
    ? HttpServerResponse.setHeader(
        storageError(413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"),
        "connection",
        "close"
      )
    : storageError(400, "IncompleteBody", "Could not read the request body")

// The bytes could not be stored or read (disk, database): S3's InternalError, with no detail.
const internalError = storageError(500, "InternalError", "We encountered an internal error. Please try again.")

const noSuchUpload = storageError(404, "NoSuchUpload", "The specified multipart upload does not exist")

// A whole object, or one part when the URL was signed for an upload id and part number.
const storeBody = (key: string, target: SignedTarget, contentType: string | undefined) =>
  Effect.gen(function* () {
    const { options } = yield* K.Local
    const body = K.bodyStream(options.maxUploadBytes)
    if (target.uploadId === undefined) {
      const object = yield* putObject(key, contentType, body, yield* K.now)
      return HttpServerResponse.empty({ status: 200, headers: { etag: object.etag } })
    }
    const part =
      target.partNumber === undefined ? Option.none() : yield* putPart(key, target.uploadId, target.partNumber, body)
    return Option.match(part, {
      onNone: () => noSuchUpload,
      onSome: (p) => HttpServerResponse.empty({ status: 200, headers: { etag: p.etag } })
    })
  }).pipe(Effect.catchTags({ ApiError: (e) => Effect.succeed(bodyFailure(e)), BlobError: logged, StoreError: logged }))

const logged = (error: BlobError | Store.StoreError) =>
  Effect.as(Effect.logError("storage: bytes or metadata unavailable", error.message), internalError)

const handlePut = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  const { state } = yield* K.Local
  if (carriesApiCredentials(req)) return credentialsRejected
  const { key, params } = requestTarget(req)
  if (key === undefined) return storageError(400, "InvalidURI", "Could not parse the object key")
  const verified = verifyRequest(state.storageSecret, "PUT", key, params, yield* K.now)
  if (verified._tag !== "Valid") return verifyFailure(verified)
  const signedType = verified.target.contentType
  if (signedType !== undefined && mediaType(K.header(req, "content-type")) !== signedType) {
    return storageError(403, "SignatureDoesNotMatch", "The Content-Type differs from the one the URL was signed for")
  }
  const problem = Blobs.keyProblem(key)
  if (problem !== undefined) return storageError(400, "InvalidURI", `Invalid object key: ${problem}`)
  return yield* storeBody(key, verified.target, K.header(req, "content-type"))
})

/**
 * Object keys under this prefix are avatars: readable without a signature, like a public CDN URL.
 *
 * @since 0.1.0
 * @category constants
 */
export const AVATAR_PREFIX = "avatars/"

const isPublicObject = (key: string) =>
  key.startsWith(AVATAR_PREFIX)
    ? Effect.succeed(true)
    : Effect.flatMap(objectStore, (store) =>
        Effect.map(
          store.files.getByKey(key),
          Option.exists((f) => f.visibility === "public")
        )
      )

const serveObject = (key: string) =>
  Effect.map(
    getObject(key),
    Option.match({
      onNone: () => storageError(404, "NoSuchKey", "The specified key does not exist"),
      onSome: ({ object, blob }) =>
        HttpServerResponse.stream(blob.bytes, {
          status: 200,
          contentType: object.contentType ?? "application/octet-stream",
          contentLength: blob.size,
          headers: downloadHeaders(object)
        })
    })
  )

const handleGet = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  const { state } = yield* K.Local
  if (carriesApiCredentials(req)) return credentialsRejected
  const { key, params } = requestTarget(req)
  if (key === undefined) return storageError(400, "InvalidURI", "Could not parse the object key")
  const unsigned = !params.has("signature") && !params.has("expires")
  // objects registered as `public` (and avatars) are also served at the unsigned URL.
  if (!(unsigned && (yield* isPublicObject(key)))) {
    const verified = verifyRequest(state.storageSecret, "GET", key, params, yield* K.now)
    if (verified._tag !== "Valid") return verifyFailure(verified)
  }
  return yield* serveObject(key)
}).pipe(Effect.catchTags({ BlobError: logged, StoreError: logged }))

/**
 * The object-store route: `PUT` (whole object, or one part when the URL carries `uploadId` + `partNumber`) and
 * `GET` under `/_storage/<key>`. Requests carrying `Authorization` or `X-API-Key` are refused (403), as are missing,
 * tampered or expired signatures (403, expired → "Request has expired"). Errors are S3-style XML.
 *
 * @since 0.1.0
 * @category route
 */
export const storageRouter: HttpRouter.HttpRouter<K.ApiError, K.Local | Blobs.Blobs> = HttpRouter.empty.pipe(
  HttpRouter.put(`${STORAGE_PATH}/*`, handlePut),
  HttpRouter.get(`${STORAGE_PATH}/*`, handleGet)
)
