/**
 * The disk blob engine (`filesDir`): one file per blob under a directory, written and read as streams, so an
 * object is never held whole in memory.
 *
 * A write goes to `tmp/<uuid>`, is flushed to the disk, then renamed to its name, and the directory is flushed: an
 * acknowledged write survives a crash, and a half-written one never appears under a name. Several server processes
 * may share the directory. Only names made by `blobs.ts` are accepted (`isBlobName`), and each resolved path is
 * checked to lie inside the directory.
 *
 * @since 0.1.0
 */
import { Effect, Option, Stream } from "effect"
import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { BlobError, concatWith, isBlobName, isBlobPrefix, type Service } from "../blobs.js"

const codeOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

const attempt = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, BlobError> =>
  Effect.tryPromise({ try: f, catch: (e) => new BlobError({ operation, code: codeOf(e) }) })

/** Temporary files older than this are left over from a crash (no request lasts that long) and are removed. */
const STALE_TEMP_MILLIS = 60 * 60 * 1000

const sweepStaleTemps = (tmpDir: string, now: number): void => {
  try {
    for (const entry of fs.readdirSync(tmpDir)) {
      const file = path.join(tmpDir, entry)
      if (now - fs.statSync(file).mtimeMs > STALE_TEMP_MILLIS) fs.rmSync(file, { force: true })
    }
  } catch {
    // best effort: another process may be sweeping too
  }
}

// Flushes a directory, so a rename or a new entry in it is on the disk.
const syncDir = (dir: string): Promise<void> =>
  fsp.open(dir, "r").then((handle) => handle.sync().finally(() => handle.close()))

const writeAll = async (handle: fsp.FileHandle, chunk: Uint8Array): Promise<void> => {
  let offset = 0
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset)
    offset += bytesWritten
  }
}

/**
 * A blob service storing files under `dir` (created when missing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dir: string): Service => {
  const root = path.resolve(dir)
  const tmpDir = path.join(root, "tmp")
  fs.mkdirSync(tmpDir, { recursive: true })
  sweepStaleTemps(tmpDir, Date.now())

  const inside = (operation: string, relative: string, valid: (s: string) => boolean) => {
    const full = path.resolve(root, relative)
    return valid(relative) && full.startsWith(root + path.sep)
      ? Effect.succeed(full)
      : Effect.fail(new BlobError({ operation, code: "EINVAL" }))
  }

  // Streams `bytes` into a new temporary file, flushed; removed again when anything fails.
  const writeTemp = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>) => {
    const tmp = path.join(tmpDir, randomUUID())
    const hash = createHash("md5")
    let size = 0
    const write = Effect.acquireUseRelease(
      attempt("put", () => fsp.open(tmp, "wx")),
      (handle) =>
        Stream.runForEach(bytes, (chunk) => {
          hash.update(chunk)
          size += chunk.length
          return attempt("put", () => writeAll(handle, chunk))
        }).pipe(Effect.zipRight(attempt("put", () => handle.sync()))),
      (handle) => Effect.promise(() => handle.close())
    )
    return write.pipe(
      Effect.map(() => ({ tmp, written: { size, md5: hash.digest("hex") } })),
      Effect.onError(() => Effect.promise(() => fsp.rm(tmp, { force: true })))
    )
  }

  const put: Service["put"] = (bytes, name) =>
    Effect.gen(function* () {
      const { tmp, written } = yield* writeTemp(bytes)
      const target = yield* Effect.onError(inside("put", name(written), isBlobName), () =>
        Effect.promise(() => fsp.rm(tmp, { force: true }))
      )
      const parent = path.dirname(target)
      yield* attempt("put", async () => {
        const created = await fsp.mkdir(parent, { recursive: true })
        await fsp.rename(tmp, target)
        await syncDir(parent)
        if (created !== undefined) await syncDir(path.dirname(parent))
      })
      return written
    })

  const get: Service["get"] = (name) =>
    Effect.flatMap(inside("get", name, isBlobName), (file) =>
      attempt("get", () =>
        fsp.stat(file).then(
          (stat): Option.Option<number> => Option.some(stat.size),
          (e: unknown) => (codeOf(e) === "ENOENT" ? Option.none<number>() : Promise.reject(e))
        )
      ).pipe(
        Effect.map(
          Option.map((size) => ({
            size,
            bytes: Stream.suspend(() =>
              Stream.fromAsyncIterable<Uint8Array, BlobError>(
                fs.createReadStream(file),
                (e) => new BlobError({ operation: "get", code: codeOf(e) })
              )
            )
          }))
        )
      )
    )

  return {
    put,
    get,
    concat: concatWith(put, get),
    delete: (name) =>
      Effect.flatMap(inside("delete", name, isBlobName), (file) =>
        attempt("delete", () => fsp.rm(file, { force: true }))
      ),
    deleteAll: (prefix) =>
      Effect.flatMap(inside("deleteAll", prefix, isBlobPrefix), (folder) =>
        attempt("deleteAll", () => fsp.rm(folder, { recursive: true, force: true }))
      )
  }
}
