/**
 * The file routes and the storage of the in-memory client: the local server's object store (objects, multipart
 * parts, ETags) and its file views, without HTTP, signed URLs or permissions. Every file belongs to the one
 * user the client acts as. "Presigned" URLs are `memory://storage?key=…` addresses that only this client reads.
 */
import { Clock, Effect } from "effect"
import type { FileRecord } from "../../local/internal/kernel.js"
import { fileView, newObjectKey, publicFileView } from "../../local/internal/files.js"
import * as Storage from "../../local/internal/storage.js"
import type { Call, Rejection } from "./memoryTables.js"

/** The files of the in-memory client: registered records by id, and the storage behind them. */
export interface FilesState {
  readonly files: Map<string, FileRecord>
  readonly storage: Storage.StorageState
  /** the owner of every upload */
  readonly userId: string
}

type Json = Readonly<Record<string, unknown>>

const reject = (status: number, code: string, message: string): Effect.Effect<never, Rejection> =>
  Effect.fail({ status, code, message })

const isJson = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const asJson = (body: unknown): Json => (isJson(body) ? body : {})
const text = (body: Json, field: string): string | undefined =>
  typeof body[field] === "string" ? body[field] : undefined
const num = (body: Json, field: string): number | undefined =>
  typeof body[field] === "number" ? body[field] : undefined

/** The address of an object (or of one part of a multipart upload) in this client's storage. */
const storageUrl = (target: Readonly<Record<string, string>>): string =>
  `memory://storage?${new URLSearchParams(target).toString()}`

/** The storage target a `memory://storage` URL names, or `undefined` for any other URL. */
export const targetOf = (
  url: string
): { readonly key: string; readonly uploadId: string | undefined; readonly partNumber: number } | undefined => {
  if (!url.startsWith("memory://storage?")) return undefined
  const params = new URL(url).searchParams
  const key = params.get("key")
  if (key === null) return undefined
  return { key, uploadId: params.get("uploadId") ?? undefined, partNumber: Number(params.get("partNumber") ?? 0) }
}

const fileOf = (state: FilesState, id: string) => {
  const file = state.files.get(id)
  return file === undefined ? reject(404, "file/not-found", "File not found") : Effect.succeed(file)
}

const newKey = (state: FilesState, body: Json) =>
  newObjectKey(state.userId, text(body, "filename") ?? "file", text(body, "category"))

const register = (state: FilesState, body: Json) =>
  Effect.gen(function* () {
    const s3Key = text(body, "s3Key") ?? ""
    for (const f of state.files.values()) {
      if (f.s3Key === s3Key) return yield* reject(409, "file/s3-key-already-exists", "This s3Key is already registered")
    }
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    const file: FileRecord = {
      id: crypto.randomUUID(),
      s3Key,
      originalName: text(body, "originalName") ?? "",
      mimeType: text(body, "mimeType") ?? "application/octet-stream",
      size: num(body, "size") ?? 0,
      visibility: text(body, "visibility") ?? "private",
      ownerId: state.userId,
      ownerType: "user",
      metadata: asJson(body.metadata),
      bucket: text(body, "bucket"),
      width: num(body, "width"),
      height: num(body, "height"),
      createdAt: at,
      updatedAt: at
    }
    state.files.set(file.id, file)
    return fileView(file)
  })

const sortable = ["createdAt", "updatedAt", "originalName", "size", "mimeType"] as const

const compare = (field: string, a: FileRecord, b: FileRecord): number => {
  const key = sortable.find((s) => s === field) ?? "createdAt"
  const x = a[key]
  const y = b[key]
  return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))
}

/** A file list: the exact-match filters (visibility, owner, bucket, MIME type), a name search, sort and page. */
const list = (state: FilesState, query: Call["query"]) => {
  const q = (name: string) => (typeof query[name] === "string" ? query[name] : undefined)
  const page = Number(query.page ?? 1)
  const limit = Number(query.limit ?? 20)
  const search = q("search")?.toLowerCase()
  const exact = ["visibility", "ownerType", "ownerId", "bucket", "mimeType"] as const
  const matches = [...state.files.values()].filter(
    (f) =>
      exact.every((field) => q(field) === undefined || f[field] === q(field)) &&
      (search === undefined || f.originalName.toLowerCase().includes(search))
  )
  const sign = q("sortDirection") === "asc" ? 1 : -1
  matches.sort((a, b) => sign * compare(q("sortBy") ?? "createdAt", a, b) || a.id.localeCompare(b.id))
  const total = matches.length
  return {
    items: matches.slice((page - 1) * limit, page * limit).map(publicFileView),
    pagination: { page, limit, total, totalPages: Math.ceil(total / limit), hasNext: page * limit < total }
  }
}

const update = (state: FilesState, id: string, body: Json) =>
  Effect.gen(function* () {
    const file = yield* fileOf(state, id)
    const name = text(body, "originalName")
    const visibility = text(body, "visibility")
    if (name !== undefined) file.originalName = name
    if (visibility !== undefined) file.visibility = visibility
    const merged: Record<string, unknown> = { ...file.metadata }
    for (const [k, v] of Object.entries(asJson(body.metadata))) {
      if (v === null) delete merged[k]
      else merged[k] = v
    }
    file.metadata = merged
    file.updatedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    return fileView(file)
  })

const remove = (state: FilesState, id: string) =>
  Effect.map(fileOf(state, id), (file) => {
    state.files.delete(file.id)
    state.storage.objects.delete(file.s3Key)
    return {}
  })

const downloadUrl = (state: FilesState, id: string) =>
  Effect.map(fileOf(state, id), (file) => ({
    url: storageUrl({ key: file.s3Key }),
    filename: file.originalName,
    contentType: file.mimeType,
    size: file.size
  }))

const multipartInit = (state: FilesState, body: Json) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const upload = Storage.initMultipart(state.storage, {
      uploadId: crypto.randomUUID(),
      key: newKey(state, body),
      contentType: text(body, "contentType"),
      ownerId: state.userId,
      now
    })
    return { uploadId: upload.uploadId, key: upload.key }
  })

const multipartComplete = (state: FilesState, body: Json) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const parts = Array.isArray(body.parts) ? body.parts.map(asJson) : []
    const listed = parts.map((p) => ({ partNumber: num(p, "partNumber") ?? 0, etag: text(p, "etag") ?? "" }))
    const result = Storage.completeMultipart(
      state.storage,
      text(body, "key") ?? "",
      text(body, "uploadId") ?? "",
      listed,
      now
    )
    if (result._tag === "Completed") return Effect.succeed({})
    return result._tag === "NoSuchUpload"
      ? reject(404, "file/upload-not-found", "No such multipart upload")
      : reject(400, "file/invalid-parts", result.reason)
  })

/** Answers a file route (`/v1/files…`), or `undefined` when the call is not one. */
export const handle = (state: FilesState, call: Call): Effect.Effect<unknown, Rejection> | undefined => {
  const body = asJson(call.body)
  const id = call.params.fileId ?? ""
  switch (`${call.method} ${call.route}`) {
    case "POST /v1/files/presigned-url": {
      const key = newKey(state, body)
      return Effect.succeed({ url: storageUrl({ key }), key })
    }
    case "POST /v1/files/multipart/init":
      return multipartInit(state, body)
    case "POST /v1/files/multipart/presigned-url": {
      const target = { key: text(body, "key") ?? "", uploadId: text(body, "uploadId") ?? "" }
      return Effect.succeed({ url: storageUrl({ ...target, partNumber: String(num(body, "partNumber") ?? 0) }) })
    }
    case "POST /v1/files/multipart/complete":
      return multipartComplete(state, body)
    case "POST /v1/files/multipart/abort":
      Storage.abortMultipart(state.storage, text(body, "key") ?? "", text(body, "uploadId") ?? "")
      return Effect.succeed({})
    case "POST /v1/files":
      return register(state, body)
    case "GET /v1/files":
      return Effect.succeed(list(state, call.query))
    case "GET /v1/files/:fileId":
      return Effect.map(fileOf(state, id), fileView)
    case "PATCH /v1/files/:fileId":
      return update(state, id, body)
    case "DELETE /v1/files/:fileId":
      return remove(state, id)
    case "POST /v1/files/:fileId/download-url":
      return downloadUrl(state, id)
    default:
      return undefined
  }
}

/** Stores the body of a storage PUT; returns its ETag, or `undefined` when the URL names no object or live upload. */
export const put = (state: FilesState, url: string, body: Uint8Array, contentType: string | undefined) =>
  Effect.map(Clock.currentTimeMillis, (now): string | undefined => {
    const target = targetOf(url)
    if (target === undefined) return undefined
    if (target.uploadId === undefined) return Storage.putObject(state.storage, target.key, body, contentType, now).etag
    return Storage.putPart(state.storage, target.key, target.uploadId, target.partNumber, body)
  })

/** The bytes a storage GET of `url` reads, if the object exists. */
export const get = (state: FilesState, url: string): Uint8Array | undefined => {
  const target = targetOf(url)
  return target === undefined ? undefined : state.storage.objects.get(target.key)?.bytes
}
