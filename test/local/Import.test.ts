/**
 * `bkend-local import` against a Store: a folder in the export guide's format (pages of a list response, wrapped and
 * bare, files named `<originalName>` and `<fileId>_<originalName>`) imported twice, owners given their rows back,
 * and folders with hostile names refused.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Option, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Blobs from "../../src/local/internal/blobs.js"
import * as DiskBlobs from "../../src/local/internal/blobs/disk.js"
import * as MemoryBlobs from "../../src/local/internal/blobs/memory.js"
import { importFolder, summaryLines } from "../../src/local/internal/import.js"
import { newUserRecord } from "../../src/local/internal/kernel.js"
import * as MemoryStore from "../../src/local/internal/memory/MemoryStore.js"
import * as PgStore from "../../src/local/internal/pg/PgStore.js"
import * as Q from "../../src/local/internal/rowQuery.js"
import { Store } from "../../src/local/Store.js"
import { clientLayer } from "./pg/db.js"

const hex24 = () => crypto.randomBytes(12).toString("hex")
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5)
const iso = (ms: number) => new Date(ms).toISOString()

const row = (i: number, createdBy: string, fields: Record<string, unknown>) => ({
  id: hex24(),
  ...fields,
  createdBy,
  createdAt: iso(T0 + i * 1000),
  updatedAt: iso(T0 + i * 1000 + 500)
})

const pagination = (page: number, totalPages: number, total: number) => ({
  total,
  page,
  limit: 100,
  totalPages,
  hasNext: page < totalPages,
  hasPrev: page > 1
})

const wrapped = (items: ReadonlyArray<unknown>, page: number, totalPages: number, total: number) => ({
  success: true,
  data: { items, pagination: pagination(page, totalPages, total) }
})

const folder = (files: Record<string, string | Uint8Array>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-export-"))
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
  }
  return dir
}

/** The bytes of object `key` in `blobs`, as text. */
const objectText = (blobs: Blobs.Service, key: string) =>
  Effect.gen(function* () {
    const object = Option.getOrThrow(yield* Effect.flatMap(Store, (store) => store.objects.get(key)))
    const name = Either.getOrThrow(Blobs.objectBlob(key))(Blobs.versionOf(object))
    const blob = Option.getOrThrow(yield* blobs.get(name))
    return Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(blob.bytes))).toString()
  })

const allRows = (table: string) =>
  Effect.flatMap(Store, (store) =>
    store.rows.query(table, {
      where: Q.all,
      sortBy: "id",
      sortDirection: "asc",
      offset: 0,
      limit: 1000,
      select: undefined
    })
  )

const provided = <A, E>(self: Effect.Effect<A, E, Store | import("@effect/platform").FileSystem.FileSystem>) =>
  Effect.provide(self, NodeFileSystem.layer)

/** Runs the import suite against one engine. */
const importSuite = (engine: string, storeLayer: Layer.Layer<Store, unknown>, makeBlobs: () => Blobs.Service) =>
  layer(storeLayer, { timeout: 120_000, excludeTestServices: true })(`import (${engine})`, (it) => {
    it.effect("two tables, wrapped and bare pages, both file names: imported once, the second run adds nothing", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const posts = Array.from({ length: 150 }, (_, i) =>
          row(i, i % 2 === 0 ? "old-alice" : "old-bob", {
            title: `post ${i}`,
            views: i,
            draft: i % 3 === 0,
            tags: ["a"],
            meta: { n: i },
            publishedAt: iso(T0 + i),
            note: i === 0 ? 1 : "mixed"
          })
        )
        const comments = [row(1, "", { body: "guest comment", postId: posts[0]?.id })]
        const fileId = crypto.randomUUID()
        const dir = folder({
          "posts_page1.json": JSON.stringify(wrapped(posts.slice(0, 100), 1, 2, 150)),
          "posts_page2.json": JSON.stringify(wrapped(posts.slice(100), 2, 2, 150)),
          "comments_page1.json": JSON.stringify({ items: comments, pagination: pagination(1, 1, 1) }),
          "export-table.sh": "#!/bin/bash\n",
          "bkend_files/photo.jpg": new Uint8Array([1, 2, 3]),
          [`bkend_files/${fileId}_report_2025.pdf`]: "pdf bytes"
        })
        const blobs = makeBlobs()
        const first = yield* provided(importFolder(dir, { blobs, now: T0 }))
        expect(first.tables).toEqual([
          { name: "comments", pages: 1, imported: 1, present: 0, reassigned: 0 },
          { name: "posts", pages: 2, imported: 150, present: 0, reassigned: 0 }
        ])
        expect(first.files).toEqual({ imported: 2, present: 0 })
        expect(summaryLines(dir, first)).toEqual([
          `imported ${dir}:`,
          "  table comments: 1 row imported, 0 already present (1 page)",
          "  table posts: 150 rows imported, 0 already present (2 pages)",
          "  files: 2 imported, 0 already present",
          "  owners: 0 accounts created (claimed by a password reset), 0 matched an existing account, 0 already present",
          "  ignored (not an export page): export-table.sh"
        ])

        const stored = yield* allRows("posts")
        expect(stored.total).toBe(150)
        const byId = new Map(stored.items.map((r) => [r.id, r]))
        for (const p of posts) expect(byId.get(p.id)).toEqual(p)
        expect((yield* allRows("comments")).items).toEqual(comments)

        const config = Option.getOrThrow(yield* store.tables.get("posts"))
        expect(config.permissions).toBeUndefined()
        expect(config.columns).toEqual({
          title: "string",
          views: "number",
          draft: "boolean",
          tags: "array",
          meta: "object",
          publishedAt: "date"
        })

        const withId = Option.getOrThrow(yield* store.files.get(fileId))
        expect(withId).toMatchObject({ originalName: "report_2025.pdf", mimeType: "application/pdf", size: 9 })
        expect(yield* objectText(blobs, withId.s3Key)).toBe("pdf bytes")
        const all = yield* store.files.list(undefined)
        const photo = all.find((f) => f.originalName === "photo.jpg")
        expect(photo).toMatchObject({ mimeType: "image/jpeg", size: 3, visibility: "private" })
        expect(yield* objectText(blobs, photo?.s3Key ?? "")).toBe("\u0001\u0002\u0003")

        const again = yield* provided(importFolder(dir, { blobs, now: T0 + 60_000 }))
        expect(again.tables.map((t) => [t.name, t.imported, t.present])).toEqual([
          ["comments", 0, 1],
          ["posts", 0, 150]
        ])
        expect(again.files).toEqual({ imported: 0, present: 2 })
        expect((yield* allRows("posts")).total).toBe(150)
        expect((yield* store.files.list(undefined)).filter((f) => f.originalName === "photo.jpg")).toHaveLength(1)
      })
    )

    it.effect("the owner map: an existing account takes over its rows, a missing one is created with the old id", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const suffix = crypto.randomBytes(4).toString("hex")
        const table = `notes_${suffix}`
        const existing = yield* store.users.insert(
          newUserRecord({ email: `carol-${suffix}@example.com`, name: "C" }, T0)
        )
        const rows = [
          row(1, "old-carol", { text: "c" }),
          row(2, "old-dave", { text: "d" }),
          row(3, "old-eve", { text: "e" })
        ]
        const dir = folder({ [`${table}_page1.json`]: JSON.stringify(wrapped(rows, 1, 1, 3)) })
        const owners = new Map([
          ["old-carol", `Carol-${suffix}@Example.com`],
          ["old-dave", `dave-${suffix}@example.com`]
        ])
        const first = yield* provided(importFolder(dir, { owners }))
        expect(first.owners).toEqual({ created: 1, matched: 1, present: 0 })
        const owner = new Map((yield* allRows(table)).items.map((r) => [r.text, r.createdBy]))
        expect(owner).toEqual(
          new Map([
            ["c", existing.id],
            ["d", "old-dave"],
            ["e", "old-eve"]
          ])
        )
        const dave = Option.getOrThrow(yield* store.users.getByEmail(`dave-${suffix}@example.com`))
        expect(dave.id).toBe("old-dave")
        expect(dave.passwordHash).toBeUndefined()

        // eve's e-mail arrives later: her account is created with the old id, her rows are hers already
        const withEve = new Map([...owners, ["old-eve", `eve-${suffix}@example.com`]])
        const second = yield* provided(importFolder(dir, { owners: withEve }))
        expect(second.owners).toEqual({ created: 1, matched: 1, present: 1 })
        expect(second.tables[0]).toMatchObject({ imported: 0, present: 3, reassigned: 0 })
        expect(Option.getOrThrow(yield* store.users.getByEmail(`eve-${suffix}@example.com`)).id).toBe("old-eve")
      })
    )

    it.effect("an owner whose account exists only after the first import gets the rows on the next", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const suffix = crypto.randomBytes(4).toString("hex")
        const table = `tasks_${suffix}`
        const dir = folder({
          [`${table}_page1.json`]: JSON.stringify(wrapped([row(1, "old-finn", { t: 1 })], 1, 1, 1))
        })
        yield* provided(importFolder(dir))
        const finn = yield* store.users.insert(newUserRecord({ email: `finn-${suffix}@example.com`, name: "F" }, T0))
        const again = yield* provided(importFolder(dir, { owners: new Map([["old-finn", finn.email]]) }))
        expect(again.tables[0]).toMatchObject({ imported: 0, present: 1, reassigned: 1 })
        expect((yield* allRows(table)).items[0]?.createdBy).toBe(finn.id)
      })
    )

    it.effect("a declared table is created as declared, not inferred; its rules apply to the rows", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const suffix = crypto.randomBytes(4).toString("hex")
        const name = `orders_${suffix}`
        const declared = {
          name,
          columns: { total: "number" as const },
          permissions: { user: { create: true, read: true, list: true } }
        }
        const good = folder({ [`${name}_page1.json`]: JSON.stringify(wrapped([row(1, "u", { total: 3 })], 1, 1, 1)) })
        const done = yield* provided(importFolder(good, { tables: [declared] }))
        expect(done.tables[0]).toMatchObject({ imported: 1 })
        expect(Option.getOrThrow(yield* store.tables.get(name))).toEqual(declared)
        const bad = folder({
          [`${name}_page1.json`]: JSON.stringify(wrapped([row(2, "u", { total: 1, note: "x" })], 1, 1, 1))
        })
        const error = yield* Effect.flip(provided(importFolder(bad, { tables: [declared] })))
        expect(error.message).toMatch(new RegExp(`table ${name}: row [0-9a-f]{24}: Unknown field 'note'`))
      })
    )

    describe("folders that are refused, with what is wrong", () => {
      const refused = (files: Record<string, string | Uint8Array>, message: RegExp) =>
        Effect.gen(function* () {
          const dir = folder(files)
          const error = yield* Effect.flip(provided(importFolder(dir, { blobs: makeBlobs() })))
          expect(error._tag).toBe("ImportError")
          expect(error.message).toMatch(message)
        })
      const page = (items: ReadonlyArray<unknown>) => JSON.stringify(wrapped(items, 1, 1, items.length))
      it.effect("hostile or odd names", () =>
        Effect.gen(function* () {
          yield* refused({ "po$ts_page1.json": page([]) }, /"po\$ts" is not a table name/)
          yield* refused({ "..._page1.json": page([]) }, /"\.\.\." is not a table name/)
          yield* refused({ "bkend_files/a\u0001.txt": "x" }, /bkend_files\/.*must not contain control characters/)
          yield* refused({ "bkend_files/sub/a.txt": "x" }, /bkend_files\/"sub" is not a regular file/)
          yield* refused({ "t_page1.json": page([row(1, "u", { "a.b": 1 })]) }, /invalid column name 't\.a\.b'/)
          yield* refused({ "t_page1.json": page([row(1, "u", { $where: 1 })]) }, /invalid column name 't\.\$where'/)
          yield* refused({ "t_page1.json": page([{ ...row(1, "u", {}), id: "../../x" }]) }, /item 1 has no 24-hex id/)
          yield* refused({ "t_page1.json": page([row(1, "u\u0000", {})]) }, /createdBy that is not a user id/)
        })
      )
      it.effect("symbolic links: a file, the files folder or a page that points outside the folder", () =>
        Effect.gen(function* () {
          const outside = folder({ "secret.txt": "not for the import", "t_page1.json": page([]) })
          const linked = (link: string, target: string, files: Record<string, string> = {}) => {
            const dir = folder(files)
            fs.mkdirSync(path.dirname(path.join(dir, link)), { recursive: true })
            fs.symlinkSync(target, path.join(dir, link))
            return dir
          }
          for (const dir of [
            linked("bkend_files/notes.txt", path.join(outside, "secret.txt")),
            linked("bkend_files", outside),
            linked("t_page1.json", path.join(outside, "t_page1.json"))
          ]) {
            const error = yield* Effect.flip(provided(importFolder(dir, { blobs: makeBlobs() })))
            expect(error._tag).toBe("ImportError")
            expect(error.message).toMatch(/is a symbolic link/)
          }
        })
      )
      it.effect("pages that are not list pages, or missing", () =>
        Effect.gen(function* () {
          yield* refused({ "t_page1.json": "{ not json" }, /t_page1\.json is not JSON/)
          yield* refused(
            { "t_page1.json": JSON.stringify({ success: false, error: { code: "auth/token-expired" } }) },
            /t_page1\.json is an error response \(auth\/token-expired\)/
          )
          yield* refused({ "t_page1.json": page([]), "t_page3.json": page([]) }, /table t: page 2 is missing/)
          yield* refused({ "t_page2.json": page([]) }, /table t: page 1 is missing/)
          yield* refused({ "t_page1.json": JSON.stringify(wrapped([], 2, 2, 0)) }, /holds page 2 of the list/)
          yield* refused({ "t_page1.json": page([{ ...row(1, "u", {}), createdAt: "soon" }]) }, /has no createdAt date/)
        })
      )
    })
  })

importSuite("memory", MemoryStore.layer, () => MemoryBlobs.make({ blobs: new Map() }))
importSuite("PostgreSQL", PgStore.layer.pipe(Layer.provide(clientLayer)), () =>
  DiskBlobs.make(fs.mkdtempSync(path.join(os.tmpdir(), "bkend-import-files-")))
)
