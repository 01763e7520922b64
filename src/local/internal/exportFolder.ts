/**
 * Reading a folder written by bkend's export guide: one `<table>_page<N>.json` per list page (the list response as
 * bkend sent it, wrapped `{ success, data: { items, pagination } }` or bare `{ items, pagination }`) and the
 * downloaded files under `bkend_files/`, named `<originalName>` or `<fileId>_<originalName>`. Every name taken from
 * the folder is checked here; pages are read one at a time, never all at once.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect, Either } from "effect"
import * as path from "node:path"
import { fileNameProblem } from "./files.js"
import * as Tables from "./tables.js"

/**
 * The folder cannot be imported as it is: what is wrong, and where.
 *
 * @since 0.1.0
 * @category errors
 */
export class ImportError extends Data.TaggedError("ImportError")<{ readonly message: string }> {}

const problem = (message: string) => new ImportError({ message })

/** A page larger than this is refused: an export page holds at most 100 rows. */
const MAX_PAGE_BYTES = 64 * 1024 * 1024

const PAGE_FILE = /^(.+)_page([1-9][0-9]{0,5})\.json$/

/**
 * The folder of downloaded files, as the export guide's script names it.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILES_FOLDER = "bkend_files"

/**
 * One table of the folder: its pages, in order (page 1 first).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportTable {
  readonly name: string
  readonly pages: ReadonlyArray<string>
}

/**
 * One downloaded file: where it is, its id when the name carried one, and the name it was uploaded with.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportFile {
  readonly path: string
  readonly fileName: string
  readonly fileId: string | undefined
  readonly originalName: string
  readonly size: number
}

/**
 * What a folder holds: its tables, its files, and the entries that are neither (e.g. the export scripts).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportFolder {
  readonly dir: string
  readonly tables: ReadonlyArray<ExportTable>
  readonly files: ReadonlyArray<ExportFile>
  readonly ignored: ReadonlyArray<string>
}

const quoted = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)

const entries = (fs: FileSystem.FileSystem, dir: string) =>
  Effect.map(
    Effect.mapError(fs.readDirectory(dir), (e) => problem(`cannot read ${dir}: ${e.message}`)),
    (names) => [...names].sort()
  )

const statOf = (fs: FileSystem.FileSystem, file: string) =>
  Effect.mapError(fs.stat(file), (e) => problem(`cannot read ${file}: ${e.message}`))

/**
 * Fails when `file` is a symbolic link: a folder from elsewhere could otherwise point the import at any file the
 * importing user can read (keys, the server's environment) and store it as an imported file or page.
 */
const refuseLink = (fs: FileSystem.FileSystem, file: string, where: string) =>
  Effect.flatMap(Effect.isSuccess(fs.readLink(file)), (linked) =>
    linked ? Effect.fail(problem(`${where} is a symbolic link: copy what it points to into the folder`)) : Effect.void
  )

/** Groups the page files by table and checks that every table's pages run 1, 2, … without a gap. */
const tablesOf = (pageFiles: ReadonlyArray<{ readonly table: string; readonly page: number; readonly file: string }>) =>
  Effect.gen(function* () {
    const byTable = new Map<string, Map<number, string>>()
    for (const { table, page, file } of pageFiles) {
      const pages = byTable.get(table) ?? new Map<number, string>()
      pages.set(page, file)
      byTable.set(table, pages)
    }
    const tables: Array<ExportTable> = []
    for (const [name, pages] of [...byTable].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const ordered: Array<string> = []
      for (let n = 1; n <= pages.size; n++) {
        const file = pages.get(n)
        if (file === undefined) {
          const found = [...pages.keys()].sort((a, b) => a - b).join(", ")
          return yield* problem(`table ${name}: page ${n} is missing (found pages ${found}); export it again`)
        }
        ordered.push(file)
      }
      tables.push({ name, pages: ordered })
    }
    return tables
  })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const HEX24 = /^[0-9a-f]{24}$/i

/** `<fileId>_<originalName>` when the name starts with a file id (a UUID or 24 hex digits) and `_`. */
const splitFileName = (fileName: string): { readonly fileId: string | undefined; readonly originalName: string } => {
  const cut = fileName.indexOf("_")
  const head = cut < 0 ? "" : fileName.slice(0, cut)
  return (UUID.test(head) || HEX24.test(head)) && cut < fileName.length - 1
    ? { fileId: head.toLowerCase(), originalName: fileName.slice(cut + 1) }
    : { fileId: undefined, originalName: fileName }
}

const filesOf = (fs: FileSystem.FileSystem, dir: string) =>
  Effect.gen(function* () {
    const folder = path.join(dir, FILES_FOLDER)
    if (!(yield* Effect.orElseSucceed(fs.exists(folder), () => false))) return []
    yield* refuseLink(fs, folder, FILES_FOLDER)
    const files: Array<ExportFile> = []
    for (const fileName of yield* entries(fs, folder)) {
      const where = `${FILES_FOLDER}/${quoted(fileName)}`
      const bad = fileNameProblem(fileName)
      if (bad !== undefined) return yield* problem(`${where}: ${bad}`)
      const file = path.join(folder, fileName)
      yield* refuseLink(fs, file, where)
      const info = yield* statOf(fs, file)
      if (info.type !== "File") return yield* problem(`${where} is not a regular file`)
      files.push({ path: file, fileName, ...splitFileName(fileName), size: Number(info.size) })
    }
    return files
  })

/**
 * Lists a folder: its pages grouped by table (names checked: a table name is what a data route accepts), its files
 * (names checked: no control characters, no slashes, at most 255 characters) and what it ignored.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scan = (dir: string): Effect.Effect<ExportFolder, ImportError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* statOf(fs, dir)
    if (info.type !== "Directory") return yield* problem(`${dir} is not a directory`)
    const pageFiles: Array<{ table: string; page: number; file: string }> = []
    const ignored: Array<string> = []
    for (const name of yield* entries(fs, dir)) {
      if (name === FILES_FOLDER) continue
      const m = PAGE_FILE.exec(name)
      if (m === null) {
        ignored.push(name)
        continue
      }
      const table = m[1] ?? ""
      if (Either.isLeft(Tables.validateTableName(table))) {
        return yield* problem(
          `${quoted(name)}: ${quoted(table)} is not a table name (letters, digits, _ and -, starting with a letter or _, at most 64)`
        )
      }
      yield* refuseLink(fs, path.join(dir, name), quoted(name))
      pageFiles.push({ table, page: Number(m[2]), file: path.join(dir, name) })
    }
    return { dir, tables: yield* tablesOf(pageFiles), files: yield* filesOf(fs, dir), ignored }
  })

// ---------------------------------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------------------------------

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * One page: its raw items and whether its pagination says more pages follow.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly file: string
  readonly items: ReadonlyArray<unknown>
  readonly hasNext: boolean
}

/** The list payload of a page: under `data` when wrapped (hybrid bodies also carry it at the top), else the body. */
const payloadOf = (json: unknown): Either.Either<Record<string, unknown>, string> => {
  if (!isRecord(json)) return Either.left("is not a JSON object")
  if (json.success === false) {
    const error = isRecord(json.error) ? json.error : {}
    const code = typeof error.code === "string" ? ` (${error.code.slice(0, 64)})` : ""
    return Either.left(`is an error response${code}, not a list page: export this page again`)
  }
  const body = json.success === true && isRecord(json.data) ? json.data : json
  return Array.isArray(body.items) ? Either.right(body) : Either.left("has no items list")
}

/**
 * Reads and decodes one page file (`n` is its page number, checked against its pagination when it has one).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readPage = (file: string, n: number): Effect.Effect<Page, ImportError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const name = path.basename(file)
    if (Number((yield* statOf(fs, file)).size) > MAX_PAGE_BYTES) {
      return yield* problem(`${name} is larger than ${MAX_PAGE_BYTES / 1024 / 1024} MiB: not an export page`)
    }
    const text = yield* Effect.mapError(fs.readFileString(file), (e) => problem(`cannot read ${name}: ${e.message}`))
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => problem(`${name} is not JSON`)
    })
    const payload = payloadOf(json)
    if (Either.isLeft(payload)) return yield* problem(`${name} ${payload.left}`)
    const pagination = isRecord(payload.right.pagination) ? payload.right.pagination : {}
    if (typeof pagination.page === "number" && pagination.page !== n) {
      return yield* problem(`${name} holds page ${pagination.page} of the list, not page ${n}`)
    }
    const items = payload.right.items
    return { file: name, items: Array.isArray(items) ? items : [], hasNext: pagination.hasNext === true }
  })

// ---------------------------------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A row as exported: its system fields checked, its own fields not yet validated against a table.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportedRow {
  readonly id: string
  readonly createdBy: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly fields: Readonly<Record<string, unknown>>
}

const MAX_OWNER_ID = 128
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

const timestamp = (value: unknown): string | undefined => {
  if (typeof value !== "string") return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString()
}

/**
 * Checks one exported item: a 24-hex `id` (or `_id`), a `createdAt` date, an optional `updatedAt` (else
 * `createdAt`) and `createdBy` (else a guest's empty owner).
 *
 * @since 0.1.0
 * @category decoding
 */
export const exportedRow = (item: unknown): Either.Either<ExportedRow, string> => {
  if (!isRecord(item)) return Either.left("is not an object")
  const { id: rawId, _id, createdBy: rawBy, createdAt: rawAt, updatedAt: rawUp, ...fields } = item
  const id = rawId ?? _id
  if (typeof id !== "string" || !Tables.isRowId(id)) return Either.left("has no 24-hex id")
  const createdAt = timestamp(rawAt)
  if (createdAt === undefined) return Either.left(`(id ${id}) has no createdAt date`)
  const updatedAt = rawUp === undefined || rawUp === null ? createdAt : timestamp(rawUp)
  if (updatedAt === undefined) return Either.left(`(id ${id}) has an updatedAt that is not a date`)
  const createdBy = rawBy ?? ""
  if (typeof createdBy !== "string" || createdBy.length > MAX_OWNER_ID || CONTROL.test(createdBy)) {
    return Either.left(`(id ${id}) has a createdBy that is not a user id`)
  }
  return Either.right({ id, createdBy, createdAt, updatedAt, fields })
}

// ---------------------------------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------------------------------

type Seen = Tables.ColumnType | "mixed"

const typeOf = (value: unknown): Tables.ColumnType | undefined => {
  if (value === null || value === undefined) return undefined
  if (typeof value === "string") return timestamp(value) === value ? "date" : "string"
  if (typeof value === "number") return "number"
  if (typeof value === "boolean") return "boolean"
  return Array.isArray(value) ? "array" : "object"
}

const merge = (a: Seen | undefined, b: Tables.ColumnType): Seen => {
  if (a === undefined || a === b) return b
  if ((a === "date" && b === "string") || (a === "string" && b === "date")) return "string"
  return "mixed"
}

/**
 * Column types inferred from rows, one row at a time: a field whose values all have one type gets that type
 * (`date` for strings already in ISO 8601 form, `number` for every number); a field with values of several types,
 * or only nulls, gets no column (the table accepts it as an additional field).
 *
 * @since 0.1.0
 * @category models
 */
export interface ColumnInference {
  readonly add: (fields: Readonly<Record<string, unknown>>) => void
  readonly columns: () => Record<string, Tables.ColumnType>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const inferColumns = (): ColumnInference => {
  const seen = new Map<string, Seen | undefined>()
  return {
    add: (fields) => {
      for (const [field, value] of Object.entries(fields)) {
        const type = typeOf(value)
        seen.set(field, type === undefined ? seen.get(field) : merge(seen.get(field), type))
      }
    },
    columns: () => {
      const typed: Array<[string, Tables.ColumnType]> = []
      for (const [field, type] of seen) if (type !== undefined && type !== "mixed") typed.push([field, type])
      return Object.fromEntries(typed)
    }
  }
}
