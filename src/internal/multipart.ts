import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** bkend's part-number range for multipart uploads (1 to 10,000). */
export const MAX_PARTS = 10_000

/** Documented defaults: multipart above 10 MB, 10 MB parts; four parts in flight. */
export const DEFAULT_PART_SIZE = 10 * 1024 * 1024
export const DEFAULT_THRESHOLD = 10 * 1024 * 1024
export const DEFAULT_CONCURRENCY = 4

/** Bytes to upload, with a size known up front (bkend wants `fileSize` before the first byte). */
export type Source<E> =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Blob"; readonly blob: Blob }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, E>; readonly size: number }

export const sizeOf = <E>(source: Source<E>): number => {
  switch (source._tag) {
    case "Bytes":
      return source.bytes.length
    case "Blob":
      return source.blob.size
    case "Stream":
      return source.size
  }
}

/** The source's bytes do not add up to the declared size. */
export class SizeMismatch extends Data.TaggedError("SizeMismatch")<{
  readonly expected: number
  readonly actual: number
}> {}

/** A Blob could not be read. */
export class BlobReadError extends Data.TaggedError("BlobReadError")<{}> {}

const concat = (chunks: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  if (chunks.length === 1 && chunks[0]!.length === length) return chunks[0]!
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const readBlob = (blob: Blob): Effect.Effect<Uint8Array, BlobReadError> =>
  Effect.tryPromise({
    try: async () => new Uint8Array(await blob.arrayBuffer()),
    catch: () => new BlobReadError()
  })

/**
 * Re-chunks a byte stream into buffered parts of exactly `partSize` bytes (the last one shorter). Each part is its
 * own `Uint8Array`, so a retried part PUT re-sends all of it (a stream over a one-shot source would be sent empty on a retry). Fails with `SizeMismatch` as soon as
 * more than `size` bytes arrive, or at the end when fewer did.
 */
const rechunk = <E>(
  stream: Stream.Stream<Uint8Array, E>,
  size: number,
  partSize: number
): Stream.Stream<Uint8Array, E | SizeMismatch> =>
  Stream.suspend(() => {
    let pending: Array<Uint8Array> = []
    let pendingLength = 0
    let total = 0
    const take = (length: number): Uint8Array => {
      const out = new Uint8Array(length)
      let offset = 0
      while (offset < length) {
        const head = pending[0]!
        const n = Math.min(head.length, length - offset)
        out.set(head.subarray(0, n), offset)
        offset += n
        if (n === head.length) pending.shift()
        else pending[0] = head.subarray(n)
      }
      pendingLength -= length
      return out
    }
    return stream.pipe(
      Stream.mapConcatEffect((chunk) => {
        total += chunk.length
        if (total > size) return Effect.fail(new SizeMismatch({ expected: size, actual: total }))
        if (chunk.length > 0) {
          pending.push(chunk)
          pendingLength += chunk.length
        }
        const parts: Array<Uint8Array> = []
        while (pendingLength >= partSize) parts.push(take(partSize))
        return Effect.succeed(parts)
      }),
      Stream.concat(
        Stream.suspend(() => {
          if (total !== size) return Stream.fail(new SizeMismatch({ expected: size, actual: total }))
          const last = pendingLength > 0 ? [take(pendingLength)] : []
          pending = []
          return Stream.fromIterable(last)
        })
      )
    )
  })

/** The number of parts for `size` bytes (at least one, so an empty file is one empty part). */
export const partCount = (size: number, partSize: number): number => Math.max(1, Math.ceil(size / partSize))

/**
 * The source cut into parts, produced on demand: at most as many parts are held as the consumer has in flight.
 * Byte arrays are sliced without copying; Blobs are read one slice at a time.
 */
export const parts = <E>(
  source: Source<E>,
  partSize: number
): Stream.Stream<Uint8Array, E | SizeMismatch | BlobReadError> => {
  switch (source._tag) {
    case "Bytes": {
      const { bytes } = source
      return Stream.range(0, partCount(bytes.length, partSize) - 1).pipe(
        Stream.map((i) => bytes.subarray(i * partSize, Math.min(bytes.length, (i + 1) * partSize)))
      )
    }
    case "Blob": {
      const { blob } = source
      return Stream.range(0, partCount(blob.size, partSize) - 1).pipe(
        Stream.mapEffect((i) => readBlob(blob.slice(i * partSize, Math.min(blob.size, (i + 1) * partSize))))
      )
    }
    case "Stream":
      return rechunk(source.stream, source.size, partSize).pipe(
        // an empty stream still uploads one (empty) part
        Stream.orElseIfEmpty(() => new Uint8Array(0))
      )
  }
}

/** The whole source as one buffer (single uploads). */
export const collect = <E>(source: Source<E>): Effect.Effect<Uint8Array, E | SizeMismatch | BlobReadError> => {
  switch (source._tag) {
    case "Bytes":
      return Effect.succeed(source.bytes)
    case "Blob":
      return readBlob(source.blob)
    case "Stream":
      return Effect.gen(function* () {
        const chunks: Array<Uint8Array> = []
        let total = 0
        yield* Stream.runForEach(source.stream, (chunk) => {
          total += chunk.length
          if (total > source.size) return Effect.fail(new SizeMismatch({ expected: source.size, actual: total }))
          chunks.push(chunk)
          return Effect.void
        })
        if (total !== source.size) return yield* Effect.fail(new SizeMismatch({ expected: source.size, actual: total }))
        return concat(chunks, total)
      })
  }
}

/** One progress report: bytes handed to the storage so far, of `total`. */
export interface Progress {
  readonly sent: number
  readonly total: number
}

/**
 * Aggregates per-part progress into strictly increasing totals. A retried part restarts from 0; its high-water
 * mark is kept, so the reported total never goes back (it pauses until the retry passes the earlier mark).
 * Reports are serialised so concurrent parts cannot deliver them out of order.
 */
export const makeProgress = (total: number, onProgress: (progress: Progress) => Effect.Effect<void>) =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    const perPart = new Map<number, number>()
    let sum = 0
    let reported = -1
    const emit = Effect.suspend(() => {
      if (sum <= reported) return Effect.void
      reported = sum
      return onProgress({ sent: sum, total })
    })
    return {
      /** part `part` has sent `sent` bytes in its current attempt */
      report: (part: number, sent: number) =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            const previous = perPart.get(part) ?? 0
            if (sent > previous) {
              perPart.set(part, sent)
              sum += sent - previous
            }
            return emit
          })
        ),
      /** everything is uploaded: make sure the last report says `total` */
      done: lock.withPermits(1)(
        Effect.suspend(() => {
          sum = total
          return emit
        })
      )
    }
  })

const PROGRESS_CHUNK = 64 * 1024

/**
 * A storage PUT body that reports its progress: `body` in chunks of 64 KiB, `onSent` told the bytes of this attempt
 * taken so far (from 0 again when a retried attempt makes the stream afresh).
 */
export const progressBody =
  (body: Uint8Array, onSent: (sent: number) => Effect.Effect<void>) => (): Stream.Stream<Uint8Array> => {
    let sent = 0
    const chunks: Array<Uint8Array> = []
    for (let i = 0; i < body.length; i += PROGRESS_CHUNK) chunks.push(body.subarray(i, i + PROGRESS_CHUNK))
    return Stream.tap(Stream.fromIterable(chunks), (chunk) => {
      sent += chunk.length
      return onSent(sent)
    })
  }
