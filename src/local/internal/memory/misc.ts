/**
 * Files, objects, multipart uploads, the mail outbox, keys, counters and rate windows of the in-memory engine, over
 * the server state. Objects and parts are metadata here; their bytes are in the blob service.
 *
 * @since 0.1.0
 */
import { Array as Arr, Effect, Option } from "effect"
import { DuplicateKey, type ObjectMeta, type Service, type UploadMeta } from "../../Store.js"
import * as Counters from "../counters.js"
import type { LocalState } from "../kernel.js"
import type { MultipartUpload } from "../storage.js"

const uploadMeta = (u: MultipartUpload): UploadMeta => ({
  uploadId: u.uploadId,
  key: u.key,
  contentType: u.contentType,
  ownerId: u.ownerId,
  createdAt: u.createdAt,
  parts: [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber)
})

const putObject = (state: LocalState, object: ObjectMeta) => {
  state.objects.set(object.key, object)
}

const files = (state: LocalState): Service["files"] => ({
  insert: (file) =>
    Effect.suspend(() => {
      for (const other of state.files.values()) {
        if (other.s3Key === file.s3Key) return Effect.fail(new DuplicateKey({ aggregate: "files", fields: ["s3Key"] }))
      }
      state.files.set(file.id, file)
      return Effect.succeed(file)
    }),
  get: (id) => Effect.sync(() => Option.fromNullable(state.files.get(id))),
  getByKey: (s3Key) => Effect.sync(() => Arr.findFirst(state.files.values(), (f) => f.s3Key === s3Key)),
  update: (id, f) =>
    Effect.sync(() => {
      const current = state.files.get(id)
      if (current === undefined) return Option.none()
      const changed = { ...f(current), id }
      state.files.set(id, changed)
      return Option.some(changed)
    }),
  delete: (id) =>
    Effect.sync(() => {
      const current = state.files.get(id)
      state.files.delete(id)
      return Option.fromNullable(current)
    }),
  list: (ownerId) =>
    Effect.sync(() => [...state.files.values()].filter((f) => ownerId === undefined || f.ownerId === ownerId))
})

const uploads = (state: LocalState): Service["uploads"] => ({
  start: (upload) =>
    Effect.sync(() => {
      state.uploads.set(upload.uploadId, { ...upload, parts: new Map() })
    }),
  get: (uploadId) => Effect.sync(() => Option.map(Option.fromNullable(state.uploads.get(uploadId)), uploadMeta)),
  putPart: (uploadId, part) =>
    Effect.sync(() => {
      const upload = state.uploads.get(uploadId)
      if (upload === undefined) return false
      upload.parts.set(part.partNumber, part)
      return true
    }),
  complete: (uploadId, object) =>
    Effect.sync(() => {
      if (!state.uploads.delete(uploadId)) return false
      putObject(state, object)
      return true
    }),
  abort: (uploadId) => Effect.sync(() => state.uploads.delete(uploadId))
})

const bumpCounter = (state: LocalState, name: string, by: number) => {
  const known = Counters.bump(state.counters, name, by)
  if (known !== undefined) return known
  const value = (state.namedCounters.get(name) ?? 0) + by
  state.namedCounters.set(name, value)
  return value
}

const hit = (state: LocalState, key: string, windowMillis: number, now: number) => {
  const current = state.windows.get(key)
  const next =
    current === undefined || now >= current.windowStart + windowMillis
      ? { windowStart: now, count: 1 }
      : { windowStart: current.windowStart, count: current.count + 1 }
  state.windows.set(key, next)
  return next
}

/**
 * The `files`, `objects`, `uploads`, `mail`, `keys`, `counters` and `windows` groups. The state always holds keys
 * (made with it), so `keys.ensure` answers those.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  state: LocalState
): Pick<Service, "files" | "objects" | "uploads" | "mail" | "keys" | "counters" | "windows"> => ({
  files: files(state),
  objects: {
    put: (object) => Effect.sync(() => putObject(state, object)),
    get: (key) => Effect.sync(() => Option.fromNullable(state.objects.get(key))),
    delete: (key) => Effect.sync(() => state.objects.delete(key))
  },
  uploads: uploads(state),
  mail: {
    send: (mail) =>
      Effect.sync(() => {
        state.outbox.push(mail)
      }),
    list: Effect.sync(() => state.outbox.slice()),
    clear: Effect.sync(() => {
      state.outbox.length = 0
    })
  },
  keys: {
    ensure: () =>
      Effect.sync(() => ({
        publishable: state.keys.publishable,
        secret: state.keys.secret,
        signingSecret: state.signingSecret,
        storageSecret: Buffer.from(state.storageSecret).toString("hex")
      }))
  },
  counters: {
    bump: (name, by = 1) => Effect.sync(() => bumpCounter(state, name, by)),
    bumpAll: (names) =>
      Effect.sync(() => {
        for (const name of names) bumpCounter(state, name, 1)
      }),
    all: Effect.sync(() => new Map([...Counters.flatten(state.counters), ...state.namedCounters]))
  },
  windows: {
    hit: (key, windowMillis, now) => Effect.sync(() => hit(state, key, windowMillis, now)),
    get: (key) => Effect.sync(() => Option.fromNullable(state.windows.get(key))),
    reset: (key) =>
      Effect.sync(() => {
        state.windows.delete(key)
      })
  }
})
