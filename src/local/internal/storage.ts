/**
 * The local object store behind presigned URLs: HMAC-signed URLs on the server's own host, an in-memory
 * byte store, S3-style multipart state, and the `/_storage/*` route that plays the role of the bucket.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
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
 * One stored object.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredObject {
  readonly key: string
  readonly bytes: Uint8Array
  /** The size recorded through the storage boundary (default: the length of `bytes`). */
  readonly size?: number | undefined
  readonly contentType: string | undefined
  readonly etag: string
  readonly createdAt: number
}

/**
 * One uploaded part of a multipart upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadedPart {
  readonly partNumber: number
  readonly bytes: Uint8Array
  /** The size recorded through the storage boundary (default: the length of `bytes`). */
  readonly size?: number | undefined
  readonly etag: string
}

/**
 * An in-progress multipart upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultipartUpload {
  readonly uploadId: string
  readonly key: string
  readonly contentType: string | undefined
  readonly ownerId: string | undefined
  readonly createdAt: number
  readonly parts: Map<number, UploadedPart>
}

/**
 * The mutable storage state: objects by key and multipart uploads by upload id.
 *
 * @since 0.1.0
 * @category models
 */
export interface StorageState {
  readonly objects: Map<string, StoredObject>
  readonly uploads: Map<string, MultipartUpload>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeStorageState = (): StorageState => ({ objects: new Map(), uploads: new Map() })

/**
 * S3-style ETag of a byte string: the quoted MD5 hex digest.
 *
 * @since 0.1.0
 * @category signing
 */
export const etagOf = (bytes: Uint8Array): string => `"${createHash("md5").update(bytes).digest("hex")}"`

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
 * Stores (or replaces) a whole object and returns it.
 *
 * @since 0.1.0
 * @category store
 */
export const putObject = (
  state: StorageState,
  key: string,
  bytes: Uint8Array,
  contentType: string | undefined,
  now: number
): StoredObject => {
  const object: StoredObject = { key, bytes, contentType, etag: etagOf(bytes), createdAt: now }
  state.objects.set(key, object)
  return object
}

/**
 * Starts a multipart upload for `key`.
 *
 * @since 0.1.0
 * @category multipart
 */
export const initMultipart = (
  state: StorageState,
  options: {
    readonly uploadId: string
    readonly key: string
    readonly contentType: string | undefined
    readonly ownerId: string | undefined
    readonly now: number
  }
): MultipartUpload => {
  const upload: MultipartUpload = {
    uploadId: options.uploadId,
    key: options.key,
    contentType: options.contentType,
    ownerId: options.ownerId,
    createdAt: options.now,
    parts: new Map()
  }
  state.uploads.set(options.uploadId, upload)
  return upload
}

/**
 * Finds an in-progress upload by id, checking that it belongs to `key`.
 *
 * @since 0.1.0
 * @category multipart
 */
export const findUpload = (state: StorageState, key: string, uploadId: string): MultipartUpload | undefined => {
  const upload = state.uploads.get(uploadId)
  return upload !== undefined && upload.key === key ? upload : undefined
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
 * Stores one part (replacing an earlier upload of the same part number) and returns its ETag, or
 * `undefined` when the upload does not exist (aborted or completed).
 *
 * @since 0.1.0
 * @category multipart
 */
export const putPart = (
  state: StorageState,
  key: string,
  uploadId: string,
  partNumber: number,
  bytes: Uint8Array
): string | undefined => {
  const upload = findUpload(state, key, uploadId)
  if (upload === undefined || !isValidPartNumber(partNumber)) return undefined
  const etag = etagOf(bytes)
  upload.parts.set(partNumber, { partNumber, bytes, etag })
  return etag
}

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

const unquote = (etag: string): string => etag.replace(/^"(.*)"$/, "$1")

/**
 * Completes a multipart upload: the listed parts must be non-empty, unique, uploaded, and carry the ETag the
 * part PUT returned (compared with or without the surrounding quotes). The object is assembled in
 * `partNumber` order; its ETag is S3's `"md5(part md5s)-N"`. Unlisted uploaded parts are discarded.
 *
 * @since 0.1.0
 * @category multipart
 */
export const completeMultipart = (
  state: StorageState,
  key: string,
  uploadId: string,
  parts: ReadonlyArray<CompletedPart>,
  now: number
): CompleteResult => {
  const upload = findUpload(state, key, uploadId)
  if (upload === undefined) return { _tag: "NoSuchUpload" }
  if (parts.length === 0) return { _tag: "InvalidParts", reason: "parts must not be empty" }
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber)
  const chosen: Array<UploadedPart> = []
  for (const [i, part] of sorted.entries()) {
    if (!isValidPartNumber(part.partNumber)) {
      return { _tag: "InvalidParts", reason: `invalid partNumber ${part.partNumber}` }
    }
    if (i > 0 && sorted[i - 1]?.partNumber === part.partNumber) {
      return { _tag: "InvalidParts", reason: `duplicate partNumber ${part.partNumber}` }
    }
    const uploaded = upload.parts.get(part.partNumber)
    if (uploaded === undefined) return { _tag: "InvalidParts", reason: `part ${part.partNumber} was not uploaded` }
    if (unquote(part.etag) !== unquote(uploaded.etag)) {
      return { _tag: "InvalidParts", reason: `ETag mismatch for part ${part.partNumber}` }
    }
    chosen.push(uploaded)
  }
  const total = chosen.reduce((n, p) => n + p.bytes.length, 0)
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const p of chosen) {
    bytes.set(p.bytes, offset)
    offset += p.bytes.length
  }
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(unquote(p.etag), "hex")))
  const etag = `"${createHash("md5").update(md5s).digest("hex")}-${chosen.length}"`
  const object: StoredObject = { key, bytes, contentType: upload.contentType, etag, createdAt: now }
  state.objects.set(key, object)
  state.uploads.delete(uploadId)
  return { _tag: "Completed", object }
}

/**
 * Aborts a multipart upload, discarding its parts. Returns `false` when there was no such upload.
 *
 * @since 0.1.0
 * @category multipart
 */
export const abortMultipart = (state: StorageState, key: string, uploadId: string): boolean => {
  if (findUpload(state, key, uploadId) === undefined) return false
  state.uploads.delete(uploadId)
  return true
}

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

const handlePut = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  const { options, state } = yield* K.Local
  if (carriesApiCredentials(req)) return credentialsRejected
  const { key, params } = requestTarget(req)
  if (key === undefined) return storageError(400, "InvalidURI", "Could not parse the object key")
  const verified = verifyRequest(state.storageSecret, "PUT", key, params, yield* K.now)
  if (verified._tag !== "Valid") return verifyFailure(verified)
  const signedType = verified.target.contentType
  if (signedType !== undefined && mediaType(K.header(req, "content-type")) !== signedType) {
    return storageError(403, "SignatureDoesNotMatch", "The Content-Type differs from the one the URL was signed for")
  }
  const bytes = yield* Effect.either(K.rawBody(options.maxUploadBytes))
  if (bytes._tag === "Left") {
    return bytes.left.status === 413
      ? HttpServerResponse.setHeader(
          storageError(413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"),
          "connection",
          "close"
        )
      : storageError(400, "IncompleteBody", "Could not read the request body")
  }
  const { target } = verified
  const now = yield* K.now
  if (target.uploadId !== undefined) {
    const etag =
      target.partNumber === undefined ? undefined : putPart(state, key, target.uploadId, target.partNumber, bytes.right)
    if (etag === undefined) return storageError(404, "NoSuchUpload", "The specified multipart upload does not exist")
    return HttpServerResponse.empty({ status: 200, headers: { etag } })
  }
  const object = putObject(state, key, bytes.right, K.header(req, "content-type"), now)
  return HttpServerResponse.empty({ status: 200, headers: { etag: object.etag } })
})

/**
 * Object keys under this prefix are avatars: readable without a signature, like a public CDN URL.
 *
 * @since 0.1.0
 * @category constants
 */
export const AVATAR_PREFIX = "avatars/"

const isPublicObject = (state: K.LocalState, key: string): boolean => {
  if (key.startsWith(AVATAR_PREFIX)) return true
  for (const f of state.files.values()) if (f.s3Key === key && f.visibility === "public") return true
  return false
}

const handleGet = Effect.gen(function* () {
  const req = yield* HttpServerRequest.HttpServerRequest
  const { state } = yield* K.Local
  if (carriesApiCredentials(req)) return credentialsRejected
  const { key, params } = requestTarget(req)
  if (key === undefined) return storageError(400, "InvalidURI", "Could not parse the object key")
  const unsigned = !params.has("signature") && !params.has("expires")
  // objects registered as `public` (and avatars) are also served at the unsigned URL.
  if (!(unsigned && isPublicObject(state, key))) {
    const verified = verifyRequest(state.storageSecret, "GET", key, params, yield* K.now)
    if (verified._tag !== "Valid") return verifyFailure(verified)
  }
  const object = state.objects.get(key)
  if (object === undefined) return storageError(404, "NoSuchKey", "The specified key does not exist")
  return HttpServerResponse.uint8Array(object.bytes, {
    status: 200,
    contentType: object.contentType ?? "application/octet-stream",
    headers: downloadHeaders(object)
  })
})

/**
 * The object-store route: `PUT` (whole object, or one part when the URL carries `uploadId` + `partNumber`) and
 * `GET` under `/_storage/<key>`. Requests carrying `Authorization` or `X-API-Key` are refused (403), as are missing,
 * tampered or expired signatures (403, expired → "Request has expired"). Errors are S3-style XML.
 *
 * @since 0.1.0
 * @category route
 */
export const storageRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty.pipe(
  HttpRouter.put(`${STORAGE_PATH}/*`, handlePut),
  HttpRouter.get(`${STORAGE_PATH}/*`, handleGet)
)
