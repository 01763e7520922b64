/**
 * The in-memory blob engine: bytes in a Map (the server state's `blobs`, so snapshots carry them).
 *
 * @since 0.1.0
 */
import { Chunk, Effect, Option, Stream } from "effect"
import { createHash } from "node:crypto"
import { concatWith, type Service } from "../blobs.js"

const concatAll = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/**
 * A blob service over `holder.blobs` (name → bytes), read on every call: a snapshot import replaces the Map.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (holder: { readonly blobs: Map<string, Uint8Array> }): Service => {
  const put: Service["put"] = (bytes, name) =>
    Effect.map(Stream.runCollect(bytes), (chunks) => {
      const all = concatAll(Chunk.toReadonlyArray(chunks))
      const written = { size: all.length, md5: createHash("md5").update(all).digest("hex") }
      holder.blobs.set(name(written), all)
      return written
    })
  const get: Service["get"] = (name) =>
    Effect.sync(() =>
      Option.map(Option.fromNullable(holder.blobs.get(name)), (bytes) => ({
        size: bytes.length,
        bytes: Stream.make(bytes)
      }))
    )
  return {
    put,
    get,
    concat: concatWith(put, get),
    delete: (name) =>
      Effect.sync(() => {
        holder.blobs.delete(name)
      }),
    deleteAll: (prefix) =>
      Effect.sync(() => {
        for (const name of [...holder.blobs.keys()]) if (name.startsWith(prefix)) holder.blobs.delete(name)
      })
  }
}
