/**
 * Files, objects, multipart uploads, the mail outbox, keys, counters and rate windows of the PostgreSQL engine.
 *
 * @since 0.1.0
 */
import { Array as Arr, Effect, Option } from "effect"
import type { ObjectMeta, PartMeta, ServerKeys, Service, UploadMeta, Window } from "../../Store.js"
import type { FileRecord, Mail } from "../kernel.js"
import { documents, onDuplicate, op, type Sql, stored, transaction } from "./sql.js"

type Upload = Omit<UploadMeta, "parts">

const uploadsOf = (sql: Sql) => {
  const uploads = documents<Upload>(sql, { table: "bkend_uploads", key: "upload_id", keyOf: (u) => u.uploadId })
  const parts = (uploadId: string) =>
    Effect.map(
      sql<{ data: unknown }>`SELECT data FROM bkend_upload_parts WHERE upload_id = ${uploadId} ORDER BY part_number`,
      (rows) => rows.map((row) => stored<PartMeta>(row.data))
    )
  const get = (uploadId: string) =>
    Effect.flatMap(uploads.get(uploadId), (upload) =>
      Option.isNone(upload)
        ? Effect.succeed(Option.none<UploadMeta>())
        : Effect.map(parts(uploadId), (list) => Option.some({ ...upload.value, parts: list }))
    )
  const putPart = (uploadId: string, part: PartMeta) =>
    Effect.map(
      sql`INSERT INTO bkend_upload_parts (upload_id, part_number, data)
        SELECT upload_id, ${part.partNumber}, ${JSON.stringify(part)}::jsonb FROM bkend_uploads WHERE upload_id = ${uploadId}
        ON CONFLICT (upload_id, part_number) DO UPDATE SET data = EXCLUDED.data RETURNING upload_id`,
      (rows) => rows.length > 0
    )
  return { uploads, get, putPart }
}

const windowOf = (row: { readonly window_start: number; readonly count: number }): Window => ({
  windowStart: row.window_start,
  count: row.count
})

/**
 * The `files`, `objects`, `uploads`, `mail`, `keys`, `counters` and `windows` groups.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  sql: Sql
): Pick<Service, "files" | "objects" | "uploads" | "mail" | "keys" | "counters" | "windows"> => {
  const files = documents<FileRecord>(sql, {
    table: "bkend_files",
    key: "id",
    keyOf: (f) => f.id,
    columns: (f) => ({ owner_id: f.ownerId })
  })
  const objects = documents<ObjectMeta>(sql, { table: "bkend_objects", key: "key", keyOf: (o) => o.key })
  const up = uploadsOf(sql)
  const tx = transaction(sql)
  return {
    files: {
      insert: (file) =>
        op("files.insert")(files.insert(file).pipe(onDuplicate("files", () => Effect.succeed(["s3Key"])))),
      get: (id) => op("files.get")(files.get(id)),
      // served by the unique index on the key
      getByKey: (s3Key) =>
        op("files.getByKey")(Effect.map(files.where(sql`data ->> 's3Key' = ${s3Key}`, "seq"), Arr.head)),
      update: (id, f) => op("files.update")(files.update(id, f)),
      delete: (id) => op("files.delete")(files.delete(id)),
      list: (ownerId) =>
        op("files.list")(files.where(ownerId === undefined ? sql`TRUE` : sql`owner_id = ${ownerId}`, "seq"))
    },
    objects: {
      put: (object) => op("objects.put")(Effect.asVoid(objects.upsert(object))),
      get: (key) => op("objects.get")(objects.get(key)),
      delete: (key) => op("objects.delete")(Effect.map(objects.delete(key), Option.isSome))
    },
    uploads: {
      start: (upload) => op("uploads.start")(Effect.asVoid(up.uploads.insert(upload))),
      get: (uploadId) => op("uploads.get")(up.get(uploadId)),
      putPart: (uploadId, part) => op("uploads.putPart")(up.putPart(uploadId, part)),
      complete: (uploadId, object) =>
        op("uploads.complete")(
          tx(
            Effect.flatMap(up.uploads.delete(uploadId), (gone) =>
              Option.isNone(gone) ? Effect.succeed(false) : Effect.as(objects.upsert(object), true)
            )
          )
        ),
      abort: (uploadId) => op("uploads.abort")(Effect.map(up.uploads.delete(uploadId), Option.isSome))
    },
    mail: {
      send: (mail) =>
        op("mail.send")(Effect.asVoid(sql`INSERT INTO bkend_mail (data) VALUES (${JSON.stringify(mail)}::jsonb)`)),
      list: op("mail.list")(
        Effect.map(sql<{ data: unknown }>`SELECT data FROM bkend_mail ORDER BY seq`, (rows) =>
          rows.map((row) => stored<Mail>(row.data))
        )
      ),
      clear: op("mail.clear")(Effect.asVoid(sql`DELETE FROM bkend_mail`))
    },
    keys: {
      ensure: (candidate) =>
        op("keys.ensure")(
          Effect.zipRight(
            sql`INSERT INTO bkend_keys (id, data) VALUES (1, ${JSON.stringify(candidate)}::jsonb) ON CONFLICT (id) DO NOTHING`,
            Effect.map(sql<{ data: unknown }>`SELECT data FROM bkend_keys WHERE id = 1`, (rows) =>
              rows[0] === undefined ? candidate : stored<ServerKeys>(rows[0].data)
            )
          )
        )
    },
    counters: {
      bump: (name, by = 1) =>
        op("counters.bump")(
          Effect.map(
            sql<{ value: number }>`INSERT INTO bkend_counters (name, value) VALUES (${name}, ${by})
              ON CONFLICT (name) DO UPDATE SET value = bkend_counters.value + EXCLUDED.value RETURNING value`,
            (rows) => rows[0]?.value ?? by
          )
        ),
      bumpAll: (names) =>
        op("counters.bumpAll")(
          Effect.asVoid(
            sql`INSERT INTO bkend_counters (name, value)
              SELECT name, count(*) FROM jsonb_array_elements_text(${JSON.stringify(names)}::jsonb) AS n(name) GROUP BY name
              ON CONFLICT (name) DO UPDATE SET value = bkend_counters.value + EXCLUDED.value`
          )
        ),
      all: op("counters.all")(
        Effect.map(
          sql<{ name: string; value: number }>`SELECT name, value FROM bkend_counters ORDER BY name`,
          (rows) => new Map(rows.map((row) => [row.name, row.value]))
        )
      )
    },
    windows: {
      hit: (key, windowMillis, now) =>
        op("windows.hit")(
          Effect.map(
            sql<{ window_start: number; count: number }>`INSERT INTO bkend_windows (key, window_start, count)
              VALUES (${key}, ${now}, 1)
              ON CONFLICT (key) DO UPDATE SET
                window_start = CASE WHEN ${now} >= bkend_windows.window_start + ${windowMillis} THEN ${now} ELSE bkend_windows.window_start END,
                count = CASE WHEN ${now} >= bkend_windows.window_start + ${windowMillis} THEN 1 ELSE bkend_windows.count + 1 END
              RETURNING window_start, count`,
            (rows) => windowOf(rows[0] ?? { window_start: now, count: 1 })
          )
        ),
      get: (key) =>
        op("windows.get")(
          Effect.map(
            sql<{
              window_start: number
              count: number
            }>`SELECT window_start, count FROM bkend_windows WHERE key = ${key}`,
            (rows) => Option.map(Option.fromNullable(rows[0]), windowOf)
          )
        ),
      reset: (key) => op("windows.reset")(Effect.asVoid(sql`DELETE FROM bkend_windows WHERE key = ${key}`))
    }
  }
}
