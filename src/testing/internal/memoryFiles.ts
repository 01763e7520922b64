/**
 * The file routes and the storage of the in-memory client: the local server's object store (objects, multipart
 * parts, ETags) and its file views, without HTTP, signed URLs or permissions. Every file belongs to the one
 * user the client acts as. "Presigned" URLs are `memory://storage?key=…` addresses that only this client reads.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Blobs from "../../local/internal/blobs.js"
import * as MemoryBlobs from "../../local/internal/blobs/memory.js"
import { fileView, newObjectKey, publicFileView } from "../../local/internal/files.js"
import type { FileRecord } from "../../local/internal/kernel.js"
import * as K from "../../local/internal/kernel.js"
import * as Storage from "../../local/internal/storage.js"
import type { Call, Rejection } from "./memoryTables.js"

/** The files of the in-memory client: registered records by id, and the storage behind them. */
export interface FilesState {
  readonly files: Map<string, FileRecord>
  /** the object store behind them: an in-memory server's objects and uploads, with their bytes in memory */
  readonly storage: K.Local["Type"]
  /** the owner of every upload */
  readonly userId: string
}

type Json = Readonly<Record<string, unknown>>

const reject = (status: number, code: string, message: string): Effect.Effect<never, Rejection> =>
  Effect.fail({ status, code, message })

/** An object store operation on this client's storage (its failures are defects: memory does not fail). */
const onStorage = <A, E>(state: FilesState, effect: Effect.Effect<A, E, K.Local | Blobs.Blobs>) =>
  effect.pipe(
    Effect.provideService(K.Local, state.storage),
    Effect.provideService(Blobs.Blobs, MemoryBlobs.make(state.storage.state)),
    Effect.orDie
  )

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
  Effect.flatMap(fileOf(state, id), (file) => {
    state.files.delete(file.id)
    return Effect.as(onStorage(state, Storage.deleteObject(file.s3Key)), {})
  })

const downloadUrl = (state: FilesState, id: string) =>
  Effect.map(fileOf(state, id), (file) => ({
    url: storageUrl({ key: file.s3Key }),
    filename: file.originalName,
    contentType: file.mimeType,
    size: file.size
  }))

const multipartInit = (state: FilesState, body: Json) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const upload = {
      uploadId: crypto.randomUUID(),
      key: newKey(state, body),
      contentType: text(body, "contentType"),
      ownerId: state.userId,
      createdAt: now
    }
    return Effect.as(onStorage(state, Storage.initMultipart(upload)), { uploadId: upload.uploadId, key: upload.key })
  })

const multipartComplete = (state: FilesState, body: Json) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const parts = Array.isArray(body.parts) ? body.parts.map(asJson) : []
    const listed = parts.map((p) => ({ partNumber: num(p, "partNumber") ?? 0, etag: text(p, "etag") ?? "" }))
    const complete = Storage.completeMultipart(text(body, "key") ?? "", text(body, "uploadId") ?? "", listed, now)
    return Effect.flatMap(onStorage(state, complete), (result) => {
      if (result._tag === "Completed") return Effect.succeed({})
      return result._tag === "NoSuchUpload"
        ? reject(404, "file/upload-not-found", "No such multipart upload")
        : reject(400, "file/invalid-parts", result.reason)
    })
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
      return Effect.as(
        onStorage(state, Storage.abortMultipart(text(body, "key") ?? "", text(body, "uploadId") ?? "")),
        {}
      )
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
  Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<string | undefined> => {
    const target = targetOf(url)
    if (target === undefined) return Effect.succeed(undefined)
    const bytes = Stream.make(body)
    if (target.uploadId === undefined) {
      return Effect.map(onStorage(state, Storage.putObject(target.key, contentType, bytes, now)), (o) => o.etag)
    }
    const part = Storage.putPart(target.key, target.uploadId, target.partNumber, bytes)
    return Effect.map(onStorage(state, part), (p) => Option.getOrUndefined(Option.map(p, (x) => x.etag)))
  })

/** The bytes of the object at `key`, if it exists (read from memory at once). */
export const bytesOf = (state: FilesState, key: string): Uint8Array | undefined => {
  const { objects, blobs } = state.storage.state
  const object = objects.get(key)
  if (object === undefined) return undefined
  return Either.match(Blobs.objectBlob(key), {
    onLeft: () => undefined,
    onRight: (v) => blobs.get(v(Blobs.versionOf(object)))
  })
}

/** The bytes a storage GET of `url` reads, if the object exists. */
export const get = (state: FilesState, url: string): Effect.Effect<Uint8Array | undefined> => {
  const target = targetOf(url)
  if (target === undefined) return Effect.succeed(undefined)
  return Effect.flatMap(onStorage(state, Storage.getObject(target.key)), (found) =>
    Option.match(found, {
      onNone: () => Effect.succeed(undefined),
      onSome: ({ blob }) =>
        Effect.map(Effect.orDie(Stream.runCollect(blob.bytes)), (chunks) =>
          Buffer.concat(Chunk.toReadonlyArray(chunks))
        )
    })
  )
}
