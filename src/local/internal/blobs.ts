/**
 * The bytes of stored objects and of multipart parts, kept apart from their metadata (which the `Store` holds):
 * in memory, or in files under a directory (`filesDir`). Bytes go in and out as streams.
 *
 * Every blob has a name made here from what it stores, never from raw client input: an object's bytes live under
 * `objects/<sha-256 of the key>/<ETag>.<64 random bits>`, a part under `parts/<sha-256 of the upload id>/<part
 * number>-<MD5>`. A name names one write: every write of a key gets a new name, even of the same bytes, and the
 * object's metadata says which one is current, so a reader never sees the bytes of one upload with the ETag of
 * another, and retiring an old version never deletes a newer one.
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Either, Option, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"

/**
 * Reading or writing bytes failed (disk full, permission denied, …). Carries the operation and the system error
 * code only.
 *
 * @since 0.1.0
 * @category errors
 */
export class BlobError extends Data.TaggedError("BlobError")<{
  readonly operation: string
  readonly code: string | undefined
}> {
  override get message(): string {
    return `Blob operation ${this.operation} failed${this.code === undefined ? "" : ` (${this.code})`}`
  }
}

/**
 * What a write stored: its size and the hex MD5 of its bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Written {
  readonly size: number
  readonly md5: string
}

/**
 * A stored blob: its size and its bytes, read when the stream runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Blob {
  readonly size: number
  readonly bytes: Stream.Stream<Uint8Array, BlobError>
}

/**
 * The blob service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Writes `bytes` under `name(written)`, replacing what was there. Nothing is visible under the name until every
   * byte is stored (on disk: written to a temporary file, flushed, then renamed).
   */
  readonly put: <E, R>(
    bytes: Stream.Stream<Uint8Array, E, R>,
    name: (written: Written) => string
  ) => Effect.Effect<Written, E | BlobError, R>
  readonly get: (name: string) => Effect.Effect<Option.Option<Blob>, BlobError>
  /** Writes the concatenation of `sources` (which must exist) under `name`, as `put` does. */
  readonly concat: (name: string, sources: ReadonlyArray<string>) => Effect.Effect<Written, BlobError>
  readonly delete: (name: string) => Effect.Effect<void, BlobError>
  /** Deletes every blob whose name starts with `prefix` (a name made by `partsOf`). */
  readonly deleteAll: (prefix: string) => Effect.Effect<void, BlobError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Blobs extends Context.Tag("bkend-local/Blobs")<Blobs, Service>() {}

const MAX_KEY_LENGTH = 1024

/**
 * Why a key cannot name stored bytes, if it cannot: it is empty, longer than 1024 characters, holds a NUL or
 * an unpaired surrogate (two different such keys would hash to the same UTF-8).
 *
 * @since 0.1.0
 * @category names
 */
export const keyProblem = (key: string): string | undefined => {
  if (key === "") return "the key is empty"
  if (key.length > MAX_KEY_LENGTH) return `the key is longer than ${MAX_KEY_LENGTH} characters`
  if (key.includes("\u0000")) return "the key contains a NUL character"
  try {
    encodeURIComponent(key) // throws on unpaired surrogates
    return undefined
  } catch {
    return "the key contains an unpaired surrogate"
  }
}

const digest = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/** An ETag without its quotes: `"abc"` → `abc`. */
const unquote = (etag: string): string => etag.replace(/^"(.*)"$/, "$1")

/**
 * 64 random bits (hex) that make one write's version unique: drawn before the write, as the ETag is known only after.
 *
 * @since 0.1.0
 * @category names
 */
export const newNonce = (): string => randomBytes(8).toString("hex")

/**
 * The version of an object with ETag `etag` (quoted or not) stored by the write that drew `nonce`.
 *
 * @since 0.1.0
 * @category names
 */
export const versionFor = (etag: string, nonce: string): string => `${unquote(etag)}.${nonce}`

/**
 * What names an object's bytes: its version, or its ETag when it was stored before versions existed.
 *
 * @since 0.1.0
 * @category names
 */
export const versionOf = (object: { readonly etag: string; readonly version?: string | undefined }): string =>
  object.version ?? object.etag

/**
 * The names of the versions of object `key`, by version (see `versionOf`), or why the key cannot name stored bytes.
 *
 * @since 0.1.0
 * @category names
 */
export const objectBlob = (key: string): Either.Either<(etag: string) => string, string> => {
  const problem = keyProblem(key)
  if (problem !== undefined) return Either.left(problem)
  const folder = `objects/${digest(key)}/`
  return Either.right((etag) => `${folder}${unquote(etag)}`)
}

/**
 * The prefix of every part of a multipart upload.
 *
 * @since 0.1.0
 * @category names
 */
export const partsOf = (uploadId: string): string => `parts/${digest(uploadId)}/`

/**
 * The name of part `partNumber` of an upload with hex MD5 `md5` (quoted or not).
 *
 * @since 0.1.0
 * @category names
 */
export const partBlob = (uploadId: string, partNumber: number, md5: string): string =>
  `${partsOf(uploadId)}${partNumber}-${unquote(md5)}`

/**
 * The shape of every name made here: an engine refuses anything else, so no name can leave its directory.
 *
 * @since 0.1.0
 * @category names
 */
export const isBlobName = (name: string): boolean =>
  /^(objects\/[0-9a-f]{64}\/[0-9a-f]{32}(-[0-9]{1,5})?(\.[0-9a-f]{16})?|parts\/[0-9a-f]{64}\/[0-9]{1,5}-[0-9a-f]{32})$/.test(
    name
  )

/**
 * @since 0.1.0
 * @category names
 */
export const isBlobPrefix = (prefix: string): boolean => /^parts\/[0-9a-f]{64}\/$/.test(prefix)

/**
 * `concat` from `put` and `get`: the sources' bytes streamed one after the other into a new blob.
 *
 * @since 0.1.0
 * @category constructors
 */
export const concatWith =
  (put: Service["put"], get: Service["get"]): Service["concat"] =>
  (name, sources) =>
    put(
      Stream.flatMap(Stream.fromIterable(sources), (source) =>
        Stream.unwrap(
          Effect.flatMap(get(source), (blob) =>
            Option.match(blob, {
              onNone: () => Effect.fail(new BlobError({ operation: "concat", code: "ENOENT" })),
              onSome: (b) => Effect.succeed(b.bytes)
            })
          )
        )
      ),
      () => name
    )
