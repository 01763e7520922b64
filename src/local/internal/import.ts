/**
 * `bkend-local import`: loads a folder written by bkend's export guide into a Store (either engine). Rows keep their
 * id, createdAt, updatedAt and createdBy; tables nobody declared are created with columns inferred from their rows
 * and bkend's default permissions; files are registered with their bytes. Importing the same folder again adds
 * nothing: rows are known by id, files by id.
 *
 * Users are not in an export. An owner map (`{ "<old user id>": "<e-mail>" }`) gives each old owner an account: an
 * account with that e-mail already there takes over the old id's rows (createdBy is rewritten on import); otherwise
 * an account is created with the old id and no password, which its owner claims by a password reset (or a magic
 * link, or a social sign-in with that e-mail), and the rows are theirs as they were.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Option, Stream } from "effect"
import * as crypto from "node:crypto"
import { type Service, Store, type StoreError } from "../Store.js"
import * as Blobs from "./blobs.js"
import * as Folder from "./exportFolder.js"
import { fileNameProblem, objectKey } from "./files.js"
import * as K from "./kernel.js"
import { putObjectInto } from "./storage.js"
import * as Tables from "./tables.js"

const problem = (message: string) => new Folder.ImportError({ message })

/**
 * @since 0.1.0
 * @category models
 */
export interface ImportOptions {
  /** Old user id → e-mail address of its owner. */
  readonly owners?: ReadonlyMap<string, string> | undefined
  /** The old user id that owns the imported files (default: nobody; the files are then private to the import). */
  readonly filesOwner?: string | undefined
  /** Declared tables: one of them that does not exist yet is created as declared, not inferred. */
  readonly tables?: ReadonlyArray<Tables.TableConfig> | undefined
  /** Where the files' bytes go; required when the folder has files. */
  readonly blobs?: Blobs.Service | undefined
  readonly now?: number | undefined
}

/**
 * What one import did, per table and for files and owners; `present` counts what an earlier import had already
 * brought in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImportSummary {
  readonly tables: ReadonlyArray<{
    readonly name: string
    readonly pages: number
    readonly imported: number
    readonly present: number
    readonly reassigned: number
  }>
  readonly files: { readonly imported: number; readonly present: number }
  readonly owners: { readonly created: number; readonly matched: number; readonly present: number }
  readonly ignored: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<string>
}

/** The owner of files whose export did not name one. */
const IMPORT_OWNER = "bkend-import"

const OWNER_ID = /^[A-Za-z0-9_.:-]{1,128}$/

/**
 * Decodes an owner map document: an object of old user ids to e-mail addresses.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeOwnerMap = (json: unknown): Either.Either<ReadonlyMap<string, string>, string> => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left('is not an object of old user ids to e-mail addresses ({ "<old user id>": "<e-mail>" })')
  }
  const owners = new Map<string, string>()
  for (const [id, email] of Object.entries(json)) {
    if (!OWNER_ID.test(id)) return Either.left(`${JSON.stringify(id.slice(0, 80))} is not a user id`)
    if (typeof email !== "string" || !K.isEmail(email.trim())) {
      return Either.left(`the e-mail address of ${id} is not an e-mail address`)
    }
    owners.set(id, K.normalizeEmail(email))
  }
  return Either.right(owners)
}

type Outcome = "created" | "matched" | "present"

/** The account that takes over `oldId`'s rows: the live one with the e-mail, else one created with the old id. */
const claimOwner = (store: Service, oldId: string, address: string, now: number) =>
  Effect.gen(function* () {
    const email = K.normalizeEmail(address)
    const byEmail = yield* store.users.getByEmail(email)
    if (Option.isSome(byEmail)) {
      const outcome: Outcome = byEmail.value.id === oldId ? "present" : "matched"
      return { id: byEmail.value.id, outcome }
    }
    // an account made by an earlier import whose owner has changed its e-mail since
    if (Option.isSome(yield* store.users.get(oldId))) return { id: oldId, outcome: "present" as Outcome }
    const user = { ...K.newUserRecord({ email, name: email.slice(0, email.indexOf("@")) }, now), id: oldId }
    return yield* store.users.insert(user).pipe(
      Effect.as({ id: oldId, outcome: "created" as Outcome }),
      // signed up meanwhile
      Effect.catchTag("DuplicateKey", () =>
        Effect.flatMap(store.users.getByEmail(email), (taken) =>
          Option.isSome(taken)
            ? Effect.succeed({ id: taken.value.id, outcome: "matched" as Outcome })
            : Effect.fail(problem(`the account of ${oldId} could not be created; import again`))
        )
      )
    )
  })

const claimOwners = (store: Service, owners: ReadonlyMap<string, string>, now: number) =>
  Effect.gen(function* () {
    const newIds = new Map<string, string>()
    const counts = { created: 0, matched: 0, present: 0 }
    for (const [oldId, email] of owners) {
      const { id, outcome } = yield* claimOwner(store, oldId, email, now)
      counts[outcome] += 1
      if (id !== oldId) newIds.set(oldId, id)
    }
    return { newIds, counts }
  })

// ---------------------------------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------------------------------

const ROW_CONCURRENCY = 8

/** Every row of a table, page after page (one page in memory at a time). */
const eachRow = <E, R>(
  table: Folder.ExportTable,
  f: (row: Folder.ExportedRow) => Effect.Effect<void, E, R>
): Effect.Effect<{ readonly lastHasNext: boolean }, E | Folder.ImportError, R | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    let lastHasNext = false
    for (const [i, file] of table.pages.entries()) {
      const page = yield* Folder.readPage(file, i + 1)
      const rows: Array<Folder.ExportedRow> = []
      for (const [j, item] of page.items.entries()) {
        const row = Folder.exportedRow(item)
        if (Either.isLeft(row)) return yield* problem(`${page.file}: item ${j + 1} ${row.left}`)
        rows.push(row.right)
      }
      // a page's rows are independent: a few at a time, so a database round trip does not serialise them all
      yield* Effect.forEach(rows, f, { concurrency: ROW_CONCURRENCY, discard: true })
      lastHasNext = page.hasNext
    }
    return { lastHasNext }
  })

/**
 * The table's configuration: the stored one, else the declared one, else one inferred from its rows with the default
 * permissions.
 */
const tableConfig = (store: Service, table: Folder.ExportTable, declared: Tables.TableConfig | undefined) =>
  Effect.gen(function* () {
    const stored = yield* store.tables.get(table.name)
    const existing =
      Option.isSome(stored) || declared === undefined ? stored : Option.some(yield* store.tables.ensure(declared))
    const inference = Folder.inferColumns()
    const { lastHasNext } = yield* eachRow(table, (row) => Effect.sync(() => inference.add(row.fields)))
    const warnings = lastHasNext
      ? [`${table.name}: its last page says more pages follow; the export may be incomplete`]
      : []
    if (Option.isSome(existing)) return { config: existing.value, warnings }
    const inferred: Tables.TableConfig = {
      ...Tables.devTableConfig(table.name),
      columns: inference.columns(),
      // fields the rows could not type (only nulls, several types) stay writable
      additionalFields: true
    }
    const problems = Tables.tableConfigProblems(inferred)
    if (problems.length > 0) return yield* problem(`table ${table.name}: ${problems.join("; ")}`)
    return { config: yield* store.tables.ensure(inferred), warnings }
  })

const importRow = (
  store: Service,
  config: Tables.TableConfig,
  exported: Folder.ExportedRow,
  newIds: ReadonlyMap<string, string>
) =>
  Effect.gen(function* () {
    const owner = newIds.get(exported.createdBy) ?? exported.createdBy
    const meta = { id: exported.id, createdBy: owner, now: exported.createdAt }
    const prepared = Tables.prepareCreate(config, exported.fields, meta)
    if (Either.isLeft(prepared)) {
      return yield* problem(`table ${config.name}: row ${exported.id}: ${prepared.left.message}`)
    }
    const row: Tables.Row = { ...prepared.right, updatedAt: exported.updatedAt }
    return yield* store.rows.insert(config.name, row).pipe(
      Effect.as("imported" as const),
      Effect.catchTag("DuplicateKey", (e) =>
        e.fields.length === 1 && e.fields[0] === "id"
          ? reassign(store, config.name, exported, owner)
          : Effect.fail(
              problem(`table ${config.name}: row ${exported.id} repeats the unique field(s) ${e.fields.join(", ")}`)
            )
      )
    )
  })

/** A row an earlier import brought in: still the old owner's while an owner map now names its new account. */
const reassign = (store: Service, table: string, exported: Folder.ExportedRow, owner: string) =>
  Effect.gen(function* () {
    const stored = yield* store.rows.get(table, exported.id)
    if (owner === exported.createdBy || !Option.exists(stored, (row) => row.createdBy === exported.createdBy)) {
      return "present" as const
    }
    yield* store.rows
      .update(table, exported.id, (row) => (row.createdBy === exported.createdBy ? { ...row, createdBy: owner } : row))
      .pipe(
        Effect.catchTag("DuplicateKey", () => Effect.fail(problem(`table ${table}: row ${exported.id} cannot move`)))
      )
    return "reassigned" as const
  })

const importTable = (
  store: Service,
  table: Folder.ExportTable,
  declared: Tables.TableConfig | undefined,
  newIds: ReadonlyMap<string, string>
) =>
  Effect.gen(function* () {
    const { config, warnings } = yield* tableConfig(store, table, declared)
    const counts = { imported: 0, present: 0, reassigned: 0 }
    yield* eachRow(table, (row) =>
      Effect.map(importRow(store, config, row, newIds), (outcome) => {
        counts[outcome] += 1
        if (outcome === "reassigned") counts.present += 1
      })
    )
    return { summary: { name: table.name, pages: table.pages.length, ...counts }, warnings }
  })

// ---------------------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------------------

const contentTypes: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  pdf: "application/pdf",
  json: "application/json",
  txt: "text/plain",
  csv: "text/csv",
  html: "text/html",
  md: "text/markdown",
  mp4: "video/mp4",
  mp3: "audio/mpeg",
  zip: "application/zip"
}

const contentTypeOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return (dot < 0 ? undefined : contentTypes[name.slice(dot + 1).toLowerCase()]) ?? "application/octet-stream"
}

/** A stable id for a file exported without one, so importing it again finds it. */
const derivedFileId = (fileName: string): string => {
  const h = crypto.createHash("sha256").update(`bkend-import/${fileName}`).digest("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const importFile = (store: Service, blobs: Blobs.Service, file: Folder.ExportFile, ownerId: string, now: number) =>
  Effect.gen(function* () {
    const id = file.fileId ?? derivedFileId(file.fileName)
    if (Option.isSome(yield* store.files.get(id))) return "present" as const
    const bad = fileNameProblem(file.originalName)
    if (bad !== undefined) return yield* problem(`${Folder.FILES_FOLDER}/${file.fileName}: ${bad}`)
    const key = objectKey(ownerId, id, file.originalName, undefined)
    const mimeType = contentTypeOf(file.originalName)
    const fs = yield* FileSystem.FileSystem
    const bytes = Stream.mapError(fs.stream(file.path), (e) => problem(`cannot read ${file.fileName}: ${e.message}`))
    const object = yield* putObjectInto(store, key, mimeType, bytes, now).pipe(
      Effect.provideService(Blobs.Blobs, blobs),
      Effect.catchTag("BlobError", (e) => Effect.fail(problem(`cannot store ${file.fileName}: ${e.message}`)))
    )
    const at = K.iso(now)
    const record: K.FileRecord = {
      id,
      s3Key: key,
      originalName: file.originalName,
      mimeType,
      size: object.size,
      visibility: "private",
      ownerId,
      ownerType: ownerId === IMPORT_OWNER ? "service" : "user",
      metadata: {},
      bucket: undefined,
      width: undefined,
      height: undefined,
      createdAt: at,
      updatedAt: at
    }
    return yield* store.files.insert(record).pipe(
      Effect.as("imported" as const),
      Effect.catchTag("DuplicateKey", () => Effect.succeed("present" as const))
    )
  })

const importFiles = (
  store: Service,
  files: ReadonlyArray<Folder.ExportFile>,
  options: ImportOptions,
  newIds: ReadonlyMap<string, string>,
  now: number
) =>
  Effect.gen(function* () {
    const counts = { imported: 0, present: 0 }
    if (files.length === 0) return counts
    const blobs = options.blobs
    if (blobs === undefined) {
      return yield* problem(
        `the folder has ${files.length} file(s) under ${Folder.FILES_FOLDER}/: give a files directory (--files-dir) to keep their bytes`
      )
    }
    const oldOwner = options.filesOwner ?? IMPORT_OWNER
    const ownerId = newIds.get(oldOwner) ?? oldOwner
    for (const file of files) counts[yield* importFile(store, blobs, file, ownerId, now)] += 1
    return counts
  })

// ---------------------------------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Imports the export folder `dir` into the Store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const importFolder = (
  dir: string,
  options: ImportOptions = {}
): Effect.Effect<ImportSummary, Folder.ImportError | StoreError, Store | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const store = yield* Store
    const now = options.now ?? Date.now()
    if (options.filesOwner !== undefined && !OWNER_ID.test(options.filesOwner)) {
      return yield* problem("the files owner is not a user id")
    }
    const folder = yield* Folder.scan(dir)
    const { newIds, counts: owners } = yield* claimOwners(store, options.owners ?? new Map(), now)
    const tables = []
    const warnings: Array<string> = []
    for (const table of folder.tables) {
      const declared = options.tables?.find((t) => t.name === table.name)
      const done = yield* importTable(store, table, declared, newIds)
      tables.push(done.summary)
      warnings.push(...done.warnings)
    }
    const files = yield* importFiles(store, folder.files, options, newIds, now)
    return { tables, files, owners, ignored: folder.ignored, warnings }
  })

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/**
 * The summary as the CLI prints it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const summaryLines = (dir: string, s: ImportSummary): ReadonlyArray<string> => [
  `imported ${dir}:`,
  ...s.tables.map(
    (t) =>
      `  table ${t.name}: ${plural(t.imported, "row")} imported, ${t.present} already present` +
      `${t.reassigned > 0 ? ` (${t.reassigned} given to their new owner)` : ""} (${plural(t.pages, "page")})`
  ),
  `  files: ${s.files.imported} imported, ${s.files.present} already present`,
  `  owners: ${plural(s.owners.created, "account")} created (claimed by a password reset), ` +
    `${s.owners.matched} matched an existing account, ${s.owners.present} already present`,
  ...(s.ignored.length > 0 ? [`  ignored (not an export page): ${s.ignored.join(", ")}`] : []),
  ...s.warnings.map((w) => `  warning: ${w}`)
]
