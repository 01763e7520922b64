/**
 * Files and storage (`/v1/files/*`): uploads (presigned single PUT, or multipart with bounded
 * concurrency, per-part retry, progress and abort on failure), metadata, lists, download URLs and downloads.
 *
 * Bytes go to presigned storage URLs only through `BkendClient.storagePut` / `storageStream`, which never send
 * `X-API-Key` or `Authorization` (the URL's signature is the credential).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as PlatformError from "@effect/platform/Error"
import { Context, Effect, Exit, Layer, ParseResult, Schema, Stream } from "effect"
import type { Errors } from "./Auth.js"
import { documented, narrowTo } from "./AuthSchema.js"
import * as BkendClient from "./BkendClient.js"
import * as BkendError from "./BkendError.js"
import * as filters from "./internal/filters.js"
import * as multipart from "./internal/multipart.js"
import * as Page from "./Page.js"

// ---------------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------------

/**
 * File visibility: `private` (default) owner only, `public` anyone, `protected` any signed-in user,
 * `shared` designated users.
 *
 * @since 0.1.0
 * @category models
 */
export type Visibility = "public" | "private" | "protected" | "shared"

/**
 * Upload categories (presign / multipart init).
 *
 * @since 0.1.0
 * @category models
 */
export type Category = "images" | "documents" | "media" | "attachments" | "exports" | "backups" | "temp"

/**
 * Buckets (metadata registration).
 *
 * @since 0.1.0
 * @category models
 */
export type Bucket = "avatars" | "documents" | "media" | "files" | "images" | "temp"

/**
 * The free-form part of a file record.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Metadata = Schema.Struct({
  category: Schema.optional(Schema.String),
  tags: Schema.optional(Schema.Array(Schema.String)),
  description: Schema.optional(Schema.String),
  alt: Schema.optional(Schema.String),
  relatedEntityId: Schema.optional(Schema.String),
  custom: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * A file's metadata as `upload` and `update` take it and file records carry it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata extends Schema.Schema.Type<typeof Metadata> {}

const recordFields = {
  id: Schema.String,
  originalName: Schema.String,
  mimeType: Schema.String,
  size: Schema.Number,
  visibility: Schema.String,
  ownerId: Schema.optional(Schema.String),
  ownerType: Schema.optional(Schema.String),
  metadata: Schema.optional(Metadata),
  bucket: Schema.optional(Schema.String),
  width: Schema.optional(Schema.Number),
  height: Schema.optional(Schema.Number),
  createdAt: Schema.optional(Schema.String),
  updatedAt: Schema.optional(Schema.String)
}

const WireFile = Schema.Struct({
  ...recordFields,
  s3Key: Schema.optional(Schema.String),
  key: Schema.optional(Schema.String)
})

/**
 * A file record (`FileMetadata`; list items carry the "public fields" only, so owner details are optional).
 * `key` is the storage key, read from `s3Key` or `key`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileRecord = Schema.transformOrFail(WireFile, Schema.Struct({ ...recordFields, key: Schema.String }), {
  strict: true,
  decode: ({ key, s3Key, ...rest }, _, ast) => {
    const storageKey = s3Key ?? key
    return storageKey === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, rest, "a file record needs s3Key or key"))
      : ParseResult.succeed({ ...rest, key: storageKey })
  },
  encode: ({ key, ...rest }) => ParseResult.succeed({ ...rest, s3Key: key })
})

/**
 * A file as `upload`, `get`, `list` and `update` return it; its storage key is `key`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileRecord extends Schema.Schema.Type<typeof FileRecord> {}

/**
 * A presigned download URL (`POST /v1/files/:fileId/download-url`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DownloadUrl = Schema.Struct({
  url: Schema.String,
  filename: Schema.optional(Schema.String),
  contentType: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  expiresAt: Schema.optional(Schema.String)
})

/**
 * What `downloadUrl` returns: a presigned URL to hand to a browser or another client, with its expiry.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadUrl extends Schema.Schema.Type<typeof DownloadUrl> {}

const PresignedUrl = Schema.Struct({ url: Schema.String, key: Schema.String })
const MultipartInit = Schema.Struct({ uploadId: Schema.String, key: Schema.String })
const PartUrl = Schema.Struct({ url: Schema.String })

// ---------------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Upload progress: bytes handed to the storage so far, of `total`. Reports only increase and the last one has
 * `sent === total`.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadProgress = multipart.Progress

/**
 * What `uploadEvents` emits: progress reports, then the registered file.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadEvent =
  | { readonly _tag: "Progress"; readonly sent: number; readonly total: number }
  | { readonly _tag: "Done"; readonly file: FileRecord }

/**
 * Bytes of unknown origin with their size declared up front (bkend needs the size before the first byte).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamData<E> {
  readonly stream: Stream.Stream<Uint8Array, E>
  readonly size: number
}

/**
 * A file on disk as upload data, read lazily in chunks (needs a `FileSystem`, e.g. `NodeContext.layer` from
 * `@effect/platform-node`): `files.upload({ data: yield* Files.fromPath("video.mp4"), … })`. The size is taken
 * from `stat`; a file that shrinks meanwhile fails the upload with `InvalidInput`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPath = (
  path: string
): Effect.Effect<StreamData<PlatformError.PlatformError>, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path)
    return { stream: fs.stream(path, { bytesToRead: info.size }), size: Number(info.size) }
  })

/**
 * What `upload` takes: the bytes (array, `Blob` or sized stream), name, type and the file's settings, plus
 * progress reporting and the multipart tuning.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadOptions<E = never> {
  /** the file's bytes: a buffer, a `Blob`, or a stream with its size */
  readonly data: Uint8Array | Blob | StreamData<E>
  /** the original file name */
  readonly filename: string
  /** MIME type, e.g. `image/png` */
  readonly contentType: string
  readonly visibility?: Visibility | undefined
  readonly category?: Category | undefined
  readonly bucket?: Bucket | undefined
  readonly width?: number | undefined
  readonly height?: number | undefined
  readonly metadata?: Metadata | undefined
  /** called with increasing byte counts while the bytes are sent */
  readonly onProgress?: ((progress: UploadProgress) => Effect.Effect<void>) | undefined
  /** multipart above this many bytes (default 10 MB) */
  readonly multipartThreshold?: number | undefined
  /** multipart part size (default 10 MB; the last part may be shorter) */
  readonly partSize?: number | undefined
  /** parts uploaded at once (default 4) */
  readonly concurrency?: number | undefined
}

/**
 * Paging, sort and filters of a file list: visibility, owner, bucket, MIME type and a name search.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListQuery {
  /** 1-based page (default 1) */
  readonly page?: number | undefined
  /** 1–100 (default 20 for `list`, 100 for `stream`) */
  readonly limit?: number | undefined
  readonly sort?: { readonly by: string; readonly direction?: "asc" | "desc" | undefined } | undefined
  readonly visibility?: Visibility | undefined
  readonly ownerType?: "user" | "session" | "service" | "public" | undefined
  readonly ownerId?: string | undefined
  readonly bucket?: Bucket | undefined
  /** exact MIME type */
  readonly mimeType?: string | undefined
  /** file-name search */
  readonly search?: string | undefined
}

/**
 * What `update` changes on a file: its name, visibility or metadata.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpdateOptions {
  readonly id: string
  readonly originalName?: string | undefined
  readonly visibility?: Visibility | undefined
  /** partial update of the metadata object */
  readonly metadata?: Metadata | undefined
}

/**
 * What reading or changing a file can fail with: a rejected request (`BadRequest`), no or an expired session
 * (`Unauthorized`), not the owner or not visible (`Forbidden`), no such file (`NotFound`), input the SDK rejects
 * before sending (`InvalidInput`), and the transport errors every call can meet.
 *
 * @since 0.1.0
 * @category errors
 */
export type FileError = Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">

/**
 * What an upload can fail with: {@link FileError}, plus `Conflict` when the storage key is already registered.
 *
 * @since 0.1.0
 * @category errors
 */
export type UploadError = FileError | Errors<"Conflict">

const fileErrors = documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput")
const narrowFile = narrowTo("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput")
const narrowUpload = narrowTo("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput", "Conflict")

/**
 * Every file call: uploads (single or multipart, with progress), reads, lists, changes, deletes and downloads.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Uploads bytes and registers the file. Up to `multipartThreshold` bytes: `POST /v1/files/presigned-url`, one
   * storage PUT; above: `POST /v1/files/multipart/init`, parts via `POST /v1/files/multipart/presigned-url` and
   * storage PUTs (`concurrency` at a time, each retried with its whole body), `POST /v1/files/multipart/complete`.
   * If anything fails or the upload is interrupted before completion, `POST /v1/files/multipart/abort` is sent.
   * Then `POST /v1/files` registers the metadata (`s3Key` = the storage key).
   */
  readonly upload: <E = never>(options: UploadOptions<E>) => Effect.Effect<FileRecord, UploadError | E>
  /**
   * `upload` as a stream of events: `Progress` reports (increasing, the last one at `total`), then `Done` with the
   * registered file. Stopping the stream early interrupts the upload (a multipart upload is then aborted).
   */
  readonly uploadEvents: <E = never>(
    options: Omit<UploadOptions<E>, "onProgress">
  ) => Stream.Stream<UploadEvent, UploadError | E>
  /** `GET /v1/files/:fileId` */
  readonly get: (options: { readonly id: string }) => Effect.Effect<FileRecord, FileError>
  /** One page of the files the caller may see. `GET /v1/files` */
  readonly list: (query?: ListQuery) => Effect.Effect<Page.Page<FileRecord>, FileError>
  /** Every page of `list`, lazily, one page request in flight at a time. `GET /v1/files` */
  readonly stream: (query?: Omit<ListQuery, "page">) => Stream.Stream<FileRecord, FileError>
  /** Owner only. `PATCH /v1/files/:fileId` */
  readonly update: (options: UpdateOptions) => Effect.Effect<FileRecord, FileError>
  /** Owner only; not recoverable. `DELETE /v1/files/:fileId` */
  readonly delete: (options: { readonly id: string }) => Effect.Effect<void, FileError>
  /** A presigned GET URL for the file. `POST /v1/files/:fileId/download-url` */
  readonly downloadUrl: (options: { readonly id: string }) => Effect.Effect<DownloadUrl, FileError>
  /** The file's bytes as they arrive (never buffered whole): `downloadUrl`, then a GET of that URL without bkend headers. */
  readonly download: (options: { readonly id: string }) => Stream.Stream<Uint8Array, FileError>
}

/**
 * The tag of the files service; `Bkend.layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Files extends Context.Tag("bkend-effect/Files")<Files, Service>() {}

// ---------------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------------

const MAX_LIMIT = 100

const invalidInput = (method: BkendClient.Method, route: string, field: string, message: string) =>
  new BkendError.InvalidInput({ status: 0, field, message, method, route })

const positiveInt = (route: string, field: string, value: number, max = Number.MAX_SAFE_INTEGER) =>
  Number.isInteger(value) && value >= 1 && value <= max
    ? Effect.void
    : Effect.fail(invalidInput("POST", route, field, `${field} must be an integer between 1 and ${max}`))

const isBlob = (u: unknown): u is Blob => typeof Blob !== "undefined" && u instanceof Blob

const sourceOf = <E>(data: UploadOptions<E>["data"]): multipart.Source<E> =>
  data instanceof Uint8Array
    ? { _tag: "Bytes", bytes: data }
    : isBlob(data)
      ? { _tag: "Blob", blob: data }
      : { _tag: "Stream", stream: data.stream, size: data.size }

/** Input problems found while reading the source become `InvalidInput`; the source's own errors pass through. */
const sourceError =
  (route: string) =>
  <E>(e: E | multipart.SizeMismatch | multipart.BlobReadError): E | BkendError.InvalidInput =>
    e instanceof multipart.SizeMismatch
      ? invalidInput(
          "PUT",
          route,
          "data",
          `data has ${e.actual > e.expected ? `more than ${e.expected}` : e.actual} bytes but its declared size is ${e.expected}`
        )
      : e instanceof multipart.BlobReadError
        ? invalidInput("PUT", route, "data", "the Blob could not be read")
        : e

/**
 * Builds the service on a `BkendClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, BkendClient.BkendClient> = Effect.map(
  BkendClient.BkendClient,
  (client) => {
    const register = (options: UploadOptions<unknown>, key: string, size: number) =>
      client.request({
        method: "POST",
        route: "/v1/files",
        body: {
          s3Key: key,
          originalName: options.filename,
          mimeType: options.contentType,
          size,
          visibility: options.visibility,
          bucket: options.bucket,
          width: options.width,
          height: options.height,
          metadata: options.metadata
        },
        auth: "required",
        response: FileRecord
      })

    const uploadSingle = <E>(
      options: UploadOptions<E>,
      source: multipart.Source<E>,
      size: number
    ): Effect.Effect<string, BkendError.BkendError | E> =>
      Effect.gen(function* () {
        const bytes = yield* multipart.collect(source).pipe(Effect.mapError(sourceError("<storage>")))
        const presigned = yield* client.request({
          method: "POST",
          route: "/v1/files/presigned-url",
          body: {
            filename: options.filename,
            contentType: options.contentType,
            fileSize: size,
            visibility: options.visibility,
            category: options.category
          },
          auth: "required",
          idempotent: true,
          response: PresignedUrl
        })
        const progress =
          options.onProgress === undefined ? undefined : yield* multipart.makeProgress(size, options.onProgress)
        yield* client.storagePut({
          url: presigned.url,
          body: bytes,
          contentType: options.contentType,
          onProgress: progress === undefined ? undefined : (sent) => progress.report(1, sent)
        })
        if (progress !== undefined) yield* progress.done
        return presigned.key
      })

    type Upload = typeof MultipartInit.Type

    const abortUpload = (init: Upload) =>
      client
        .request({
          method: "POST",
          route: "/v1/files/multipart/abort",
          body: { key: init.key, uploadId: init.uploadId },
          auth: "required",
          idempotent: true,
          response: Schema.Unknown
        })
        .pipe(
          Effect.tapError((e) =>
            Effect.logWarning("bkend-effect: aborting a multipart upload failed").pipe(
              Effect.annotateLogs({ error: e._tag, status: e.status })
            )
          ),
          Effect.ignore,
          Effect.withSpan("Files.abortMultipart")
        )

    const uploadMultipart = <E>(
      options: UploadOptions<E>,
      source: multipart.Source<E>,
      size: number,
      partSize: number,
      concurrency: number
    ): Effect.Effect<string, BkendError.BkendError | E> =>
      Effect.gen(function* () {
        const progress =
          options.onProgress === undefined ? undefined : yield* multipart.makeProgress(size, options.onProgress)

        const uploadPart = (init: Upload, body: Uint8Array, partNumber: number) =>
          Effect.gen(function* () {
            const { url } = yield* client.request({
              method: "POST",
              route: "/v1/files/multipart/presigned-url",
              body: { key: init.key, uploadId: init.uploadId, partNumber },
              auth: "required",
              idempotent: true,
              response: PartUrl
            })
            const { etag } = yield* client.storagePut({
              url,
              body,
              onProgress: progress === undefined ? undefined : (sent) => progress.report(partNumber, sent)
            })
            if (etag === undefined) {
              return yield* new BkendError.DecodeError({
                status: 200,
                message: `the storage returned no ETag for part ${partNumber}`,
                method: "PUT",
                route: "<storage>"
              })
            }
            return { partNumber, etag }
          }).pipe(Effect.withSpan("Files.uploadPart", { attributes: { partNumber } }))

        const key = yield* Effect.acquireUseRelease(
          // The release is registered the moment `init` returns, so no interruption can slip in between. `init`
          // itself stays interruptible, so interrupting an upload does not wait for a slow `init` (an interruption
          // while the response is in transit can still leave an upload that bkend expires on its own).
          Effect.interruptible(
            client.request({
              method: "POST",
              route: "/v1/files/multipart/init",
              body: {
                filename: options.filename,
                contentType: options.contentType,
                fileSize: size,
                visibility: options.visibility,
                category: options.category
              },
              auth: "required",
              response: MultipartInit
            })
          ),
          (init) =>
            Effect.gen(function* () {
              const parts = yield* multipart.parts(source, partSize).pipe(
                Stream.mapError(sourceError("<storage>")),
                Stream.zipWithIndex,
                // ordered: the results come back in part order whatever order the PUTs finish in
                Stream.mapEffect(([body, index]) => uploadPart(init, body, index + 1), { concurrency }),
                Stream.runCollect
              )
              yield* client.request({
                method: "POST",
                route: "/v1/files/multipart/complete",
                body: { key: init.key, uploadId: init.uploadId, parts: Array.from(parts) },
                auth: "required",
                response: Schema.Unknown
              })
              return init.key
            }),
          // failure or interruption before `complete` succeeded: no orphaned upload on the server. The client's
          // timeouts bound the abort even here, in an uninterruptible finalizer.
          (init, exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.exit(abortUpload(init)))
        )
        if (progress !== undefined) yield* progress.done
        return key
      })

    const upload = <E = never>(options: UploadOptions<E>): Effect.Effect<FileRecord, UploadError | E> =>
      Effect.gen(function* () {
        const source = sourceOf(options.data)
        const size = multipart.sizeOf(source)
        const route = "/v1/files/presigned-url"
        if (!Number.isInteger(size) || size < 0) {
          return yield* invalidInput("POST", route, "size", "size must be a non-negative integer")
        }
        if (options.filename.length === 0) {
          return yield* invalidInput("POST", route, "filename", "filename must not be empty")
        }
        const threshold = options.multipartThreshold ?? multipart.DEFAULT_THRESHOLD
        const partSize = options.partSize ?? multipart.DEFAULT_PART_SIZE
        const concurrency = options.concurrency ?? multipart.DEFAULT_CONCURRENCY
        yield* positiveInt(route, "partSize", partSize)
        yield* positiveInt(route, "concurrency", concurrency, 64)
        if (!(threshold >= 0)) return yield* invalidInput("POST", route, "multipartThreshold", "must be >= 0")
        let key: string
        if (size <= threshold) {
          key = yield* uploadSingle(options, source, size)
        } else {
          if (multipart.partCount(size, partSize) > multipart.MAX_PARTS) {
            return yield* invalidInput(
              "POST",
              "/v1/files/multipart/init",
              "partSize",
              `${size} bytes in parts of ${partSize} exceeds ${multipart.MAX_PARTS} parts`
            )
          }
          key = yield* uploadMultipart(options, source, size, partSize, concurrency)
        }
        return yield* register(options, key, size)
      }).pipe(
        // the caller's own stream errors (E) pass through; bkend's are narrowed to the documented ones
        Effect.mapError((e) => (BkendError.isBkendError(e) ? narrowUpload(e) : e)),
        Effect.withSpan("Files.upload", { attributes: { contentType: options.contentType } })
      )

    const listPage = (query: ListQuery, defaultLimit: number) =>
      Effect.gen(function* () {
        const page = query.page ?? 1
        const limit = query.limit ?? defaultLimit
        if (!Number.isInteger(page) || page < 1) {
          return yield* invalidInput("GET", "/v1/files", "page", "page must be an integer >= 1")
        }
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          return yield* invalidInput("GET", "/v1/files", "limit", `limit must be an integer between 1 and ${MAX_LIMIT}`)
        }
        return yield* client.request({
          method: "GET",
          route: "/v1/files",
          query: {
            page,
            limit,
            sortBy: query.sort?.by,
            sortDirection: query.sort?.direction,
            visibility: query.visibility,
            ownerType: query.ownerType,
            ownerId: query.ownerId,
            bucket: query.bucket,
            mimeType: query.mimeType,
            search: query.search
          },
          auth: "optional",
          response: Page.schema(FileRecord, { page, limit })
        })
      }).pipe(fileErrors)

    const downloadUrl = Effect.fn("Files.downloadUrl")(function* (options: { readonly id: string }) {
      return yield* client.request({
        method: "POST",
        route: "/v1/files/:fileId/download-url",
        params: { fileId: options.id },
        auth: "optional",
        idempotent: true,
        response: DownloadUrl
      })
    }, fileErrors)

    const uploadEvents = <E = never>(
      options: Omit<UploadOptions<E>, "onProgress">
    ): Stream.Stream<UploadEvent, UploadError | E> =>
      Stream.asyncScoped<UploadEvent, UploadError | E>((emit) =>
        upload({
          ...options,
          // awaiting each offer gives backpressure: a slow consumer slows the upload's progress reports down
          onProgress: (p) => Effect.promise(() => emit.single({ _tag: "Progress", sent: p.sent, total: p.total }))
        }).pipe(
          Effect.matchCauseEffect({
            onFailure: (cause) => Effect.promise(() => emit.halt(cause)),
            onSuccess: (file) =>
              Effect.promise(async () => {
                await emit.single({ _tag: "Done", file })
                await emit.end()
              })
          }),
          Effect.forkScoped
        )
      )

    return {
      upload,
      uploadEvents,
      get: Effect.fn("Files.get")(function* (options) {
        return yield* client.request({
          method: "GET",
          route: "/v1/files/:fileId",
          params: { fileId: options.id },
          auth: "optional",
          response: FileRecord
        })
      }, fileErrors),
      list: (query = {}) => listPage(query, 20).pipe(Effect.withSpan("Files.list")),
      stream: (query = {}) =>
        filters.paginate(
          (page) => listPage({ ...query, page }, MAX_LIMIT).pipe(Effect.withSpan("Files.stream.page")),
          1
        ),
      update: Effect.fn("Files.update")(function* (options) {
        return yield* client.request({
          method: "PATCH",
          route: "/v1/files/:fileId",
          params: { fileId: options.id },
          body: { originalName: options.originalName, visibility: options.visibility, metadata: options.metadata },
          auth: "required",
          response: FileRecord
        })
      }, fileErrors),
      delete: Effect.fn("Files.delete")(function* (options) {
        yield* client.request({
          method: "DELETE",
          route: "/v1/files/:fileId",
          params: { fileId: options.id },
          auth: "required",
          response: Schema.Unknown
        })
      }, fileErrors),
      downloadUrl,
      // the bytes stream as they arrive: only the request up to the first byte is retried and timed
      download: (options) =>
        Stream.unwrap(
          Effect.map(downloadUrl(options), (link) => client.storageStream(link.url).pipe(Stream.mapError(narrowFile)))
        ).pipe(Stream.withSpan("Files.download"))
    } satisfies Service
  }
)

/**
 * The files service, for a `BkendClient` provided from outside (`Bkend.layer` wires both).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Files, never, BkendClient.BkendClient> = Layer.effect(Files, make)
