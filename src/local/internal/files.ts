/**
 * The eleven `/v1/files` routes: presigned single and multipart uploads, metadata registration,
 * get / list / update / delete and download URLs, with bkend's file access rules (owner, visibility, admin).
 *
 * @since 0.1.0
 */
import type { HttpServerRequest } from "@effect/platform"
import { HttpRouter } from "@effect/platform"
import { Effect, Option } from "effect"
import type { StoreError } from "../Store.js"
import type { BlobError, Blobs } from "./blobs.js"
import * as K from "./kernel.js"
import * as Storage from "./storage.js"

const INVALID = "common/invalid-parameters"

/**
 * Visibility values; `private` is the default.
 *
 * @since 0.1.0
 * @category constants
 */
export const VISIBILITIES = ["public", "private", "protected", "shared"] as const

/**
 * @since 0.1.0
 * @category constants
 */
export const CATEGORIES = ["images", "documents", "media", "attachments", "exports", "backups", "temp"] as const

/**
 * @since 0.1.0
 * @category constants
 */
export const BUCKETS = ["avatars", "documents", "media", "files", "images", "temp"] as const

/**
 * @since 0.1.0
 * @category constants
 */
export const OWNER_TYPES = ["user", "session", "service", "public"] as const

/**
 * Size limits: a single PUT may declare up to 5 GiB, a multipart upload up to 5 TiB (S3's limits).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 ** 3

/**
 * @since 0.1.0
 * @category constants
 */
export const MAX_MULTIPART_BYTES = 5 * 1024 ** 4

const MAX_NAME = 255
const MAX_KEY = 1024
const MAX_MIME = 255
const MIME = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$/

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const oneOf = <T extends string>(values: ReadonlyArray<T>, u: unknown): u is T =>
  typeof u === "string" && values.some((v) => v === u)

const jsonObject: Effect.Effect<Json, K.ApiError, K.Local | HttpServerRequest.HttpServerRequest> = Effect.flatMap(
  K.jsonBody(INVALID),
  (json) =>
    json === undefined
      ? Effect.succeed({})
      : isRecord(json)
        ? Effect.succeed(json)
        : K.fail(400, INVALID, "A JSON object body is required")
)

const requiredString = (body: Json, field: string): Effect.Effect<string, K.ApiError> => {
  const v = body[field]
  return typeof v === "string" ? Effect.succeed(v) : K.fail(400, INVALID, `${field} is required and must be a string`)
}

const optionalEnum = <T extends string>(
  body: Json,
  field: string,
  values: ReadonlyArray<T>
): Effect.Effect<T | undefined, K.ApiError> => {
  const v = body[field]
  if (v === undefined || v === null) return Effect.succeed(undefined)
  return oneOf(values, v) ? Effect.succeed(v) : K.fail(400, INVALID, `${field} must be one of ${values.join(", ")}`)
}

/**
 * Why a client-supplied file name is unacceptable, if it is. Upload file names may not contain slashes;
 * `originalName` on metadata may, since it is only a label.
 *
 * @since 0.1.0
 * @category validation
 */
export const fileNameProblem = (name: string, allowSlashes = false): string | undefined => {
  if (name.trim() === "") return "file name must not be empty"
  if (name.length > MAX_NAME) return `file name must be at most ${MAX_NAME} characters`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return "file name must not contain control characters"
  if (!allowSlashes && /[/\\]/.test(name)) return "file name must not contain slashes"
  return undefined
}

const checkFileName = (name: string, allowSlashes = false) => {
  const problem = fileNameProblem(name, allowSlashes)
  return problem === undefined ? Effect.void : K.fail(400, "file/invalid-name", problem)
}

const checkContentType = (contentType: string) =>
  contentType.length <= MAX_MIME && MIME.test(contentType)
    ? Effect.void
    : K.fail(400, "file/invalid-format", "contentType must be a MIME type such as image/png")

const checkDeclaredSize = (raw: unknown, required: boolean, max: number) => {
  if (raw === undefined || raw === null) {
    return required ? K.fail(400, INVALID, "fileSize is required") : Effect.void
  }
  if (typeof raw !== "number" || !Number.isFinite(raw)) return K.fail(400, INVALID, "fileSize must be a number")
  if (raw < 1) return K.fail(400, "file/file-too-small", "fileSize must be at least 1 byte")
  if (raw > max) return K.fail(400, "file/file-too-large", `fileSize must be at most ${max} bytes`)
  return Effect.void
}

const safeSegment = (name: string): string => {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)
  return /^\.*$/.test(safe) ? "file" : safe
}

/**
 * The object key of upload `uploadId` by `ownerId`: `<category|files>/<ownerId>/<uploadId>/<sanitised filename>`.
 *
 * @since 0.1.0
 * @category keys
 */
export const objectKey = (ownerId: string, uploadId: string, filename: string, category: string | undefined): string =>
  `${category ?? "files"}/${ownerId}/${uploadId}/${safeSegment(filename)}`

/**
 * A fresh object key for an upload by `ownerId` (a new uuid as its upload id).
 *
 * @since 0.1.0
 * @category keys
 */
export const newObjectKey = (ownerId: string, filename: string, category: string | undefined): string =>
  objectKey(ownerId, K.uuid(), filename, category)

/**
 * The user an object key was issued to: upload keys (`<category>/<userId>/…`) and avatar keys
 * (`avatars/<userId>/…`) carry it as their second segment. Only that user may register the key.
 *
 * @since 0.1.0
 * @category keys
 */
export const keyOwner = (key: string): string | undefined => {
  const segments = key.split("/")
  return segments.length >= 3 && segments[1] !== "" ? segments[1] : undefined
}

// ---------------------------------------------------------------------------------------------------------------------
// Views and access
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Full `FileMetadata` (owner view).
 *
 * @since 0.1.0
 * @category views
 */
export const fileView = (f: K.FileRecord): Json => ({
  id: f.id,
  s3Key: f.s3Key,
  originalName: f.originalName,
  mimeType: f.mimeType,
  size: f.size,
  visibility: f.visibility,
  ownerId: f.ownerId,
  ownerType: f.ownerType,
  metadata: f.metadata,
  ...(f.bucket !== undefined ? { bucket: f.bucket } : {}),
  ...(f.width !== undefined ? { width: f.width } : {}),
  ...(f.height !== undefined ? { height: f.height } : {}),
  createdAt: f.createdAt,
  updatedAt: f.updatedAt
})

/**
 * The "public fields" of a file: what list items carry and what a non-owner sees.
 *
 * @since 0.1.0
 * @category views
 */
export const publicFileView = (f: K.FileRecord): Json => ({
  id: f.id,
  s3Key: f.s3Key,
  originalName: f.originalName,
  mimeType: f.mimeType,
  size: f.size,
  visibility: f.visibility,
  ownerId: f.ownerId,
  createdAt: f.createdAt
})

/**
 * Users a `shared` file is shared with. How designation works is undocumented; the local server reads the user ids
 * in `metadata.custom.sharedWith`.
 *
 * @since 0.1.0
 * @category access
 */
export const sharedWith = (f: K.FileRecord): ReadonlyArray<string> => {
  const custom = f.metadata.custom
  if (!isRecord(custom) || !Array.isArray(custom.sharedWith)) return []
  return custom.sharedWith.filter((u): u is string => typeof u === "string")
}

/**
 * What `userId` (undefined = unauthenticated) may see of a file: everything, the public fields, or nothing.
 *
 * @since 0.1.0
 * @category access
 */
export const accessOf = (f: K.FileRecord, userId: string | undefined): "owner" | "public" | "none" => {
  if (userId !== undefined && f.ownerId === userId) return "owner"
  switch (f.visibility) {
    case "public":
      return "public"
    case "protected":
      return userId !== undefined ? "public" : "none"
    case "shared":
      return userId !== undefined && sharedWith(f).includes(userId) ? "public" : "none"
    default:
      return "none"
  }
}

const notFound = K.fail(404, "file/not-found", "File not found")

const findFile = (fileId: string | undefined) =>
  fileId === undefined
    ? notFound
    : Effect.flatMap(
        K.stored((store) => store.files.get(fileId)),
        Option.match({ onNone: () => notFound, onSome: Effect.succeed })
      )

/** An object or upload operation: an engine failure answers 503 (as every store operation), a failed disk 500. */
const objectOp = <A, R>(effect: Effect.Effect<A, BlobError | StoreError, R>) =>
  effect.pipe(
    Effect.catchTag("StoreError", (e) => K.stored(() => Effect.fail(e))),
    Effect.orDie
  )

const fileId = Effect.map(HttpRouter.params, (p) => p.fileId)

const visibleFile = Effect.gen(function* () {
  const caller = yield* K.requireUser("files")
  const file = yield* findFile(yield* fileId)
  const access = accessOf(file, caller.userId)
  if (access === "none") return yield* K.fail(403, "file/access-denied", "You do not have access to this file")
  return { caller, file, access }
})

const ownedFile = Effect.gen(function* () {
  const caller = yield* K.requireUser("files")
  const file = yield* findFile(yield* fileId)
  if (file.ownerId !== caller.userId) {
    return yield* K.fail(403, "file/access-denied", "Only the owner may change or delete this file")
  }
  return { caller, file }
})

/**
 * The caller's user id on a files route (a JWT is required there, so it is always present).
 */
const callerId = Effect.flatMap(K.requireUser("files"), (c) =>
  c.userId === undefined
    ? K.fail(401, "common/authentication-required", "Authentication required")
    : Effect.succeed(c.userId)
)

// ---------------------------------------------------------------------------------------------------------------------
// Uploads
// ---------------------------------------------------------------------------------------------------------------------

/** The body shared by the single and multipart upload-URL routes: who uploads what, checked; returns the new object's key. */
const uploadRequest = (sizeRequired: boolean, maxBytes: number) =>
  Effect.gen(function* () {
    const ownerId = yield* callerId
    const body = yield* jsonObject
    const filename = yield* requiredString(body, "filename")
    yield* checkFileName(filename)
    const contentType = yield* requiredString(body, "contentType")
    yield* checkContentType(contentType)
    yield* checkDeclaredSize(body.fileSize, sizeRequired, maxBytes)
    yield* optionalEnum(body, "visibility", VISIBILITIES)
    const category = yield* optionalEnum(body, "category", CATEGORIES)
    return { ownerId, filename, contentType, key: newObjectKey(ownerId, filename, category) }
  })

const presign = Effect.gen(function* () {
  const { key, filename, contentType } = yield* uploadRequest(false, MAX_SINGLE_UPLOAD_BYTES)
  const expiresAt = (yield* K.now) + Storage.DEFAULT_URL_TTL_MS
  const url = yield* Storage.mintUrl({ method: "PUT", key, expiresAt })
  return yield* K.ok({ url, key, filename, contentType })
})

const multipartInit = Effect.gen(function* () {
  const { ownerId, key, filename, contentType } = yield* uploadRequest(true, MAX_MULTIPART_BYTES)
  const uploadId = K.randomToken(24)
  yield* objectOp(Storage.initMultipart({ uploadId, key, contentType, ownerId, createdAt: yield* K.now }))
  return yield* K.ok({ uploadId, key, filename })
})

const ownedUpload = (ownerId: string, body: Json) =>
  Effect.gen(function* () {
    const key = yield* requiredString(body, "key")
    const uploadId = yield* requiredString(body, "uploadId")
    const found = yield* objectOp(Storage.findUpload(key, uploadId))
    if (Option.isNone(found)) return yield* K.fail(404, "file/not-found", "Multipart upload not found")
    const upload = found.value
    if (upload.ownerId !== ownerId) {
      return yield* K.fail(403, "file/access-denied", "This multipart upload belongs to another user")
    }
    return upload
  })

const multipartPartUrl = Effect.gen(function* () {
  const ownerId = yield* callerId
  const body = yield* jsonObject
  const partNumber = body.partNumber
  if (typeof partNumber !== "number") return yield* K.fail(400, INVALID, "partNumber is required and must be a number")
  if (!Storage.isValidPartNumber(partNumber)) {
    return yield* K.fail(400, "file/invalid-part-number-range", "partNumber must be an integer from 1 to 10000")
  }
  const upload = yield* ownedUpload(ownerId, body)
  const expiresAt = (yield* K.now) + Storage.DEFAULT_URL_TTL_MS
  const url = yield* Storage.mintUrl({
    method: "PUT",
    key: upload.key,
    uploadId: upload.uploadId,
    partNumber,
    expiresAt
  })
  return yield* K.ok({ url, partNumber })
})

const parseParts = (raw: unknown): ReadonlyArray<Storage.CompletedPart> | undefined => {
  if (!Array.isArray(raw) || raw.length === 0) return undefined
  const parts: Array<Storage.CompletedPart> = []
  for (const p of raw) {
    if (!isRecord(p) || typeof p.partNumber !== "number" || typeof p.etag !== "string") return undefined
    if (!Storage.isValidPartNumber(p.partNumber) || p.etag === "") return undefined
    parts.push({ partNumber: p.partNumber, etag: p.etag })
  }
  return parts
}

const multipartComplete = Effect.gen(function* () {
  const ownerId = yield* callerId
  const body = yield* jsonObject
  const upload = yield* ownedUpload(ownerId, body)
  const parts = parseParts(body.parts)
  if (parts === undefined) {
    return yield* K.fail(400, "file/invalid-parts-array", "parts must be a non-empty array of { partNumber, etag }")
  }
  const result = yield* objectOp(Storage.completeMultipart(upload.key, upload.uploadId, parts, yield* K.now))
  switch (result._tag) {
    case "NoSuchUpload":
      return yield* K.fail(404, "file/not-found", "Multipart upload not found")
    case "InvalidParts":
      return yield* K.fail(400, "file/invalid-parts-array", result.reason)
    case "Completed": {
      const base = yield* K.publicBaseUrl
      const location = `${base}${Storage.STORAGE_PATH}/${Storage.encodeKeyPath(upload.key)}`
      return yield* K.ok({ key: upload.key, location })
    }
  }
})

const multipartAbort = Effect.gen(function* () {
  const ownerId = yield* callerId
  const body = yield* jsonObject
  const upload = yield* ownedUpload(ownerId, body)
  const aborted = yield* objectOp(Storage.abortMultipart(upload.key, upload.uploadId))
  return yield* K.ok({ success: aborted, key: upload.key })
})

// ---------------------------------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------------------------------

const optionalDimension = (body: Json, field: string): Effect.Effect<number | undefined, K.ApiError> => {
  const v = body[field]
  if (v === undefined || v === null) return Effect.succeed(undefined)
  return typeof v === "number" && Number.isInteger(v) && v >= 0
    ? Effect.succeed(v)
    : K.fail(400, INVALID, `${field} must be a non-negative integer`)
}

const STRING_METADATA = ["category", "description", "alt", "relatedEntityId"] as const

/**
 * Validates a `metadata` object; `partial` allows `null` to remove a field.
 */
const checkMetadata = (raw: unknown, partial: boolean): Effect.Effect<Json, K.ApiError> => {
  if (!isRecord(raw)) return K.fail(400, INVALID, "metadata must be an object")
  for (const field of STRING_METADATA) {
    const v = raw[field]
    if (v !== undefined && typeof v !== "string" && !(partial && v === null)) {
      return K.fail(400, INVALID, `metadata.${field} must be a string`)
    }
  }
  const tags = raw.tags
  if (tags !== undefined && !(partial && tags === null)) {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
      return K.fail(400, INVALID, "metadata.tags must be an array of strings")
    }
  }
  const custom = raw.custom
  if (custom !== undefined && !(partial && custom === null) && !isRecord(custom)) {
    return K.fail(400, INVALID, "metadata.custom must be an object")
  }
  return Effect.succeed(raw)
}

const register = Effect.gen(function* () {
  const ownerId = yield* callerId
  const body = yield* jsonObject
  const s3Key = yield* requiredString(body, "s3Key")
  if (s3Key === "") return yield* K.fail(400, INVALID, "s3Key must not be empty")
  if (s3Key.length > MAX_KEY) return yield* K.fail(400, "file/s3-key-too-long", `s3Key is longer than ${MAX_KEY}`)
  if (!Storage.isUrlSafeKey(s3Key))
    return yield* K.fail(400, "file/invalid-path", "s3Key must not contain . or .. segments")
  const originalName = yield* requiredString(body, "originalName")
  if (originalName.length > MAX_NAME) {
    return yield* K.fail(400, "file/original-name-too-long", `originalName is longer than ${MAX_NAME}`)
  }
  yield* checkFileName(originalName, true)
  const mimeType = yield* requiredString(body, "mimeType")
  if (mimeType.length > MAX_MIME)
    return yield* K.fail(400, "file/mime-type-too-long", `mimeType is longer than ${MAX_MIME}`)
  yield* checkContentType(mimeType)
  const size = body.size
  if (typeof size !== "number" || !Number.isFinite(size)) return yield* K.fail(400, INVALID, "size must be a number")
  if (size < 0) return yield* K.fail(400, "file/size-negative", "size must not be negative")
  if (!Number.isInteger(size)) return yield* K.fail(400, INVALID, "size must be an integer")
  const width = yield* optionalDimension(body, "width")
  const height = yield* optionalDimension(body, "height")
  const visibility = (yield* optionalEnum(body, "visibility", VISIBILITIES)) ?? "private"
  const bucket = yield* optionalEnum(body, "bucket", BUCKETS)
  const metadata =
    body.metadata === undefined || body.metadata === null ? {} : yield* checkMetadata(body.metadata, false)
  if (keyOwner(s3Key) !== ownerId) {
    return yield* K.fail(403, "file/access-denied", "This s3Key was not issued to you")
  }
  const at = K.iso(yield* K.now)
  const file: K.FileRecord = {
    id: K.uuid(),
    s3Key,
    originalName,
    mimeType,
    size,
    visibility,
    ownerId,
    ownerType: "user",
    metadata,
    bucket,
    width,
    height,
    createdAt: at,
    updatedAt: at
  }
  // one registration per key, also across instances (the store's unique key)
  yield* K.stored((store) => store.files.insert(file)).pipe(
    Effect.catchTag("DuplicateKey", () => K.fail(409, "file/s3-key-already-exists", "This s3Key is already registered"))
  )
  return yield* K.ok(fileView(file), 201)
})

const getFile = Effect.gen(function* () {
  const { file, access } = yield* visibleFile
  return yield* K.ok(access === "owner" ? fileView(file) : publicFileView(file))
})

const SORTABLE = ["createdAt", "updatedAt", "originalName", "size", "mimeType"] as const

const compareBy =
  (field: (typeof SORTABLE)[number]) =>
  (a: K.FileRecord, b: K.FileRecord): number => {
    const x = a[field]
    const y = b[field]
    return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))
  }

const listFiles = Effect.gen(function* () {
  const { options } = yield* K.Local
  // with guestFileList, a caller without a token is a guest and sees public files only (accessOf)
  const caller = yield* options.guestFileList ? K.caller("files") : K.requireUser("files")
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 20, max: 100 }, INVALID)
  const sortBy = q.sortBy === undefined || q.sortBy === "" ? "createdAt" : q.sortBy
  if (!oneOf(SORTABLE, sortBy)) return yield* K.fail(400, INVALID, `sortBy must be one of ${SORTABLE.join(", ")}`)
  const direction = q.sortDirection === undefined || q.sortDirection === "" ? "desc" : q.sortDirection
  if (direction !== "asc" && direction !== "desc")
    return yield* K.fail(400, INVALID, "sortDirection must be asc or desc")
  if (q.visibility !== undefined && !oneOf(VISIBILITIES, q.visibility)) {
    return yield* K.fail(400, INVALID, `visibility must be one of ${VISIBILITIES.join(", ")}`)
  }
  if (q.ownerType !== undefined && !oneOf(OWNER_TYPES, q.ownerType)) {
    return yield* K.fail(400, INVALID, `ownerType must be one of ${OWNER_TYPES.join(", ")}`)
  }
  const search = q.search?.toLowerCase()
  // filtered (access rules included) before the page is cut, so totals count only what the caller may see
  const candidates = yield* K.stored((store) => store.files.list(q.ownerId))
  const matches = candidates.filter(
    (f) =>
      accessOf(f, caller.userId) !== "none" &&
      (q.visibility === undefined || f.visibility === q.visibility) &&
      (q.ownerType === undefined || f.ownerType === q.ownerType) &&
      (q.ownerId === undefined || f.ownerId === q.ownerId) &&
      (q.bucket === undefined || f.bucket === q.bucket) &&
      (q.mimeType === undefined || f.mimeType === q.mimeType) &&
      (search === undefined || search === "" || f.originalName.toLowerCase().includes(search))
  )
  const compare = compareBy(sortBy)
  matches.sort((a, b) => (direction === "asc" ? compare(a, b) : compare(b, a)) || a.id.localeCompare(b.id))
  const items = matches.slice((page - 1) * limit, page * limit).map(publicFileView)
  const pagination = yield* K.pagination("files", page, limit, matches.length)
  return yield* K.ok({ items, pagination })
})

// `null` removes a field
const mergeMetadata = (current: Json, patch: Json): Json => {
  const merged: Json = { ...current }
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k]
    else merged[k] = v
  }
  return merged
}

const updateFile = Effect.gen(function* () {
  const { file } = yield* ownedFile
  const body = yield* jsonObject
  const name = body.originalName
  if (name !== undefined) {
    if (typeof name !== "string") return yield* K.fail(400, "file/invalid-name", "originalName must be a string")
    yield* checkFileName(name, true)
  }
  const visibility = yield* optionalEnum(body, "visibility", VISIBILITIES)
  const patch = body.metadata === undefined ? undefined : yield* checkMetadata(body.metadata, true)
  const at = K.iso(yield* K.now)
  // applied to the stored record as it is now: a concurrent update of other fields is kept
  const updated = yield* K.stored((store) =>
    store.files.update(file.id, (current) => ({
      ...current,
      ...(typeof name === "string" ? { originalName: name } : {}),
      ...(visibility !== undefined ? { visibility } : {}),
      ...(patch !== undefined ? { metadata: mergeMetadata(current.metadata, patch) } : {}),
      updatedAt: at
    }))
  )
  if (Option.isNone(updated)) return yield* notFound
  return yield* K.ok(fileView(updated.value))
})

const deleteFile = Effect.gen(function* () {
  const { file } = yield* ownedFile
  if (Option.isNone(yield* K.stored((store) => store.files.delete(file.id)))) return yield* notFound
  yield* objectOp(Storage.deleteObject(file.s3Key))
  return yield* K.deleted({})
})

const downloadUrl = Effect.gen(function* () {
  const { file } = yield* visibleFile
  const expiresAt = (yield* K.now) + Storage.DEFAULT_URL_TTL_MS
  const url = yield* Storage.mintUrl({ method: "GET", key: file.s3Key, expiresAt })
  return yield* K.ok({
    url,
    filename: file.originalName,
    contentType: file.mimeType,
    size: file.size,
    expiresAt: K.iso(expiresAt)
  })
})

/**
 * The eleven `/v1/files` routes (plus `GET …/download-url` as an alias). Every route requires a JWT (401
 * `common/authentication-required`).
 *
 * @since 0.1.0
 * @category routers
 */
export const filesRouter: HttpRouter.HttpRouter<K.ApiError, K.Local | Blobs> = HttpRouter.empty.pipe(
  HttpRouter.post("/v1/files/presigned-url", presign),
  HttpRouter.post("/v1/files/multipart/init", multipartInit),
  HttpRouter.post("/v1/files/multipart/presigned-url", multipartPartUrl),
  HttpRouter.post("/v1/files/multipart/complete", multipartComplete),
  HttpRouter.post("/v1/files/multipart/abort", multipartAbort),
  HttpRouter.post("/v1/files", register),
  HttpRouter.get("/v1/files", listFiles),
  HttpRouter.get("/v1/files/:fileId", getFile),
  HttpRouter.patch("/v1/files/:fileId", updateFile),
  HttpRouter.del("/v1/files/:fileId", deleteFile),
  HttpRouter.post("/v1/files/:fileId/download-url", downloadUrl),
  HttpRouter.get("/v1/files/:fileId/download-url", downloadUrl)
)
