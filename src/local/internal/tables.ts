/**
 * The pure data-table engine of the local server: table configuration, record validation, unique checks,
 * filter parsing and evaluation, search, sort, select, pagination bounds and row-level security.
 * No HTTP here: `data.ts` turns `TableError`s into the configured error envelope.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import { Data, Either, Schema } from "effect"
import { RE2JS } from "re2js"
import { parseIntParam, parseJson, UNSTORABLE_MESSAGE } from "./kernel.js"

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/**
 * Design-time column types. `number` is stored as `double`, `reference` as a string id.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ColumnType = Schema.Literal(
  "string",
  "number",
  "int",
  "double",
  "boolean",
  "date",
  "object",
  "array",
  "reference"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ColumnType = typeof ColumnType.Type

/**
 * One column: its type and constraints.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ColumnConfig = Schema.Struct({
  type: ColumnType,
  required: Schema.optional(Schema.Boolean),
  unique: Schema.optional(Schema.Boolean),
  pattern: Schema.optional(Schema.String),
  minimum: Schema.optional(Schema.Number),
  maximum: Schema.optional(Schema.Number),
  minLength: Schema.optional(Schema.Number),
  maxLength: Schema.optional(Schema.Number),
  enum: Schema.optional(Schema.Array(Schema.Union(Schema.String, Schema.Number, Schema.Boolean))),
  /** Element type of an `array` column. */
  items: Schema.optional(ColumnType),
  /** Target table of a `reference` column (informational). */
  references: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ColumnConfig extends Schema.Schema.Type<typeof ColumnConfig> {}

const OperationPermissions = Schema.Struct({
  create: Schema.optional(Schema.Boolean),
  read: Schema.optional(Schema.Boolean),
  update: Schema.optional(Schema.Boolean),
  delete: Schema.optional(Schema.Boolean),
  list: Schema.optional(Schema.Boolean)
})

const SelfPermissions = Schema.Struct({
  read: Schema.optional(Schema.Boolean),
  update: Schema.optional(Schema.Boolean),
  delete: Schema.optional(Schema.Boolean),
  list: Schema.optional(Schema.Boolean)
})

/**
 * The boolean permission model. A configured object replaces the defaults entirely: a group that
 * is absent grants nothing; a missing `list` takes the group's `read`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TablePermissions = Schema.Struct({
  admin: Schema.optional(OperationPermissions),
  user: Schema.optional(OperationPermissions),
  guest: Schema.optional(OperationPermissions),
  self: Schema.optional(SelfPermissions)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TablePermissions extends Schema.Schema.Type<typeof TablePermissions> {}

/**
 * A secondary index as shown by the spec endpoint (`{ key: { field: 1 | -1 } }`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const IndexConfig = Schema.Struct({
  key: Schema.Record({ key: Schema.String, value: Schema.Literal(1, -1) }),
  unique: Schema.optional(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface IndexConfig extends Schema.Schema.Type<typeof IndexConfig> {}

/**
 * A declared table. Without `columns` the table is schemaless (any field accepted); with `columns`, unknown fields
 * are rejected with 400 `data/validation-error` unless `additionalFields` is `true`. Without `permissions` the
 * defaults apply (admin: everything; user: create, read, list; guest: read, list); `expressionPermissions` take priority per operation when present.
 * Decodable from JSON (the CLI's `--config`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TableConfig = Schema.Struct({
  name: Schema.String,
  columns: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(ColumnType, ColumnConfig) })),
  permissions: Schema.optional(TablePermissions),
  indexes: Schema.optional(Schema.Array(IndexConfig)),
  expressionPermissions: Schema.optional(
    Schema.Struct({
      create: Schema.optional(Schema.String),
      read: Schema.optional(Schema.String),
      update: Schema.optional(Schema.String),
      delete: Schema.optional(Schema.String),
      list: Schema.optional(Schema.String)
    })
  ),
  /** per-column read/write expressions; unreadable fields are dropped, unwritable ones → 403. */
  columnPermissions: Schema.optional(
    Schema.Record({
      key: Schema.String,
      value: Schema.Struct({ read: Schema.optional(Schema.String), write: Schema.optional(Schema.String) })
    })
  ),
  /** list-only row filters; entries whose expression holds are OR-combined; `"$userId"` is substituted. */
  rowFilters: Schema.optional(
    Schema.Array(
      Schema.Struct({ expression: Schema.String, filter: Schema.Record({ key: Schema.String, value: Schema.Unknown }) })
    )
  ),
  additionalFields: Schema.optional(Schema.Boolean),
  description: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TableConfig extends Schema.Schema.Type<typeof TableConfig> {}

/**
 * A stored row: user fields plus the four system fields.
 *
 * @since 0.1.0
 * @category models
 */
export type Row = Readonly<Record<string, unknown>> & {
  readonly id: string
  readonly createdBy: string
  readonly createdAt: string
  readonly updatedAt: string
}

/**
 * One table in the server state. `rows` keeps insertion order.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableState {
  readonly config: TableConfig
  readonly rows: Map<string, Row>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeTableState = (config: TableConfig): TableState => ({ config, rows: new Map() })

/**
 * A failure of the engine, rendered by the router with the configured envelope.
 *
 * @since 0.1.0
 * @category errors
 */
export class TableError extends Data.TaggedError("TableError")<{
  readonly status: number
  readonly code: string
  readonly message: string
}> {}

const invalid = (message: string) =>
  Either.left(new TableError({ status: 400, code: "data/validation-error", message }))
const denied = (code: string, message: string) => Either.left(new TableError({ status: 403, code, message }))

/**
 * The system fields every row carries; clients cannot set them (values they send are ignored).
 *
 * @since 0.1.0
 * @category constants
 */
export const systemFields: ReadonlyArray<string> = ["id", "createdBy", "createdAt", "updatedAt"]

const isSystemField = (field: string): boolean => systemFields.includes(field)
const isDateSystemField = (field: string): boolean => field === "createdAt" || field === "updatedAt"

const TABLE_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]*$/

/**
 * Checks a table name (`^[a-zA-Z_][a-zA-Z0-9_-]*$`, at most 64 characters). Anything else — path separators,
 * dots, percent-encoded segments — is 400 `data/validation-error` and never addresses a table.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateTableName = (name: string): Either.Either<string, TableError> =>
  name.length <= 64 && TABLE_NAME.test(name) ? Either.right(name) : invalid("Invalid table name")

/**
 * Tables whose name starts with `_` are system tables.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSystemTable = (name: string): boolean => name.startsWith("_")

/**
 * Checks a declared table before the server starts: a valid name, valid column names, compilable patterns,
 * `items` only on arrays, non-inverted bounds. Returns the problems found (empty when the config is usable).
 *
 * @since 0.1.0
 * @category validation
 */
export const tableConfigProblems = (config: TableConfig): ReadonlyArray<string> => {
  const problems: Array<string> = []
  if (Either.isLeft(validateTableName(config.name))) problems.push(`invalid table name '${config.name}'`)
  for (const [op, expression] of Object.entries(config.expressionPermissions ?? {})) {
    if (expression === undefined) continue
    for (const p of expressionProblems(expression)) problems.push(`expressionPermissions.${op}: ${p}`)
  }
  for (const [field, rule] of Object.entries(config.columnPermissions ?? {})) {
    for (const [kind, expression] of Object.entries(rule)) {
      if (expression === undefined) continue
      for (const p of expressionProblems(expression)) problems.push(`columnPermissions.${field}.${kind}: ${p}`)
    }
  }
  for (const [i, entry] of (config.rowFilters ?? []).entries()) {
    for (const p of expressionProblems(entry.expression)) problems.push(`rowFilters[${i}].expression: ${p}`)
    const parsed = parseFilter(config, `rowFilters[${i}]`, JSON.stringify(substituteUserId(entry.filter, "user")))
    if (Either.isLeft(parsed)) problems.push(`rowFilters[${i}].filter: ${parsed.left.message}`)
  }
  for (const [field, column] of Object.entries(config.columns ?? {})) {
    const c: ColumnConfig = typeof column === "string" ? { type: column } : column
    const where = `${config.name}.${field}`
    if (badFieldName(field) || isSystemField(field)) problems.push(`invalid column name '${where}'`)
    if (c.pattern !== undefined) {
      try {
        new RegExp(c.pattern)
      } catch {
        problems.push(`invalid pattern on '${where}'`)
      }
    }
    if (c.items !== undefined && c.type !== "array") problems.push(`'items' on non-array column '${where}'`)
    if (c.minimum !== undefined && c.maximum !== undefined && c.minimum > c.maximum) {
      problems.push(`minimum > maximum on '${where}'`)
    }
    if (c.minLength !== undefined && c.maxLength !== undefined && c.minLength > c.maxLength) {
      problems.push(`minLength > maxLength on '${where}'`)
    }
  }
  return problems
}

interface Normalized {
  readonly columns: ReadonlyMap<string, ColumnConfig>
  readonly patterns: ReadonlyMap<string, RegExp>
}

const normalizedCache = new WeakMap<TableConfig, Normalized>()

const normalize = (config: TableConfig): Normalized => {
  const cached = normalizedCache.get(config)
  if (cached !== undefined) return cached
  const columns = new Map<string, ColumnConfig>()
  const patterns = new Map<string, RegExp>()
  for (const [name, column] of Object.entries(config.columns ?? {})) {
    const full: ColumnConfig = typeof column === "string" ? { type: column } : column
    columns.set(name, full)
    if (full.pattern !== undefined) patterns.set(name, new RegExp(full.pattern))
  }
  const result = { columns, patterns }
  normalizedCache.set(config, result)
  return result
}

const hasSchema = (config: TableConfig): boolean => config.columns !== undefined && config.additionalFields !== true

const isDateField = (config: TableConfig, field: string): boolean =>
  isDateSystemField(field) || normalize(config).columns.get(field)?.type === "date"

const knownField = (config: TableConfig, field: string): boolean =>
  isSystemField(field) || !hasSchema(config) || normalize(config).columns.has(field)

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// ---------------------------------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type Operation = "create" | "read" | "update" | "delete" | "list"

/**
 * @since 0.1.0
 * @category models
 */
export type Group = "admin" | "user" | "guest"

/**
 * Who is calling, as far as RLS is concerned.
 *
 * @since 0.1.0
 * @category models
 */
export interface Principal {
  readonly role: Group
  readonly userId: string | undefined
}

/**
 * Fully resolved permissions: every group has every operation as a boolean.
 *
 * @since 0.1.0
 * @category models
 */
export interface EffectivePermissions {
  readonly admin: Readonly<Record<Operation, boolean>>
  readonly user: Readonly<Record<Operation, boolean>>
  readonly guest: Readonly<Record<Operation, boolean>>
  readonly self: Readonly<Record<Exclude<Operation, "create">, boolean>>
}

const allOps = { create: true, read: true, update: true, delete: true, list: true } as const

/**
 * bkend's defaults for a table without configured permissions: admin may do everything, users create, read
 * and list, guests read and list.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPermissions: TablePermissions = {
  admin: allOps,
  user: { create: true, read: true, update: false, delete: false, list: true },
  guest: { create: false, read: true, update: false, delete: false, list: true }
}

/**
 * The configuration `devMode` uses for a table nobody declared: schemaless, with bkend's default permissions (as
 * on a table created without permissions: users create, read and list; guests read and list; owners get nothing
 * extra). A `_` system table stays admin-only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const devTableConfig = (name: string): TableConfig => ({ name })

type OpFlags = Schema.Schema.Type<typeof OperationPermissions>

const resolveGroup = (flags: OpFlags | undefined): Record<Operation, boolean> => ({
  create: flags?.create === true,
  read: flags?.read === true,
  update: flags?.update === true,
  delete: flags?.delete === true,
  list: flags?.list ?? flags?.read === true
})

/**
 * Resolves a table's permissions: configured object or the defaults; absent groups grant nothing; `list` falls
 * back to `read`; `admin` is always fully allowed.
 *
 * @since 0.1.0
 * @category permissions
 */
export const effectivePermissions = (config: TableConfig): EffectivePermissions => {
  const p = config.permissions ?? defaultPermissions
  const self = p.self
  return {
    admin: { ...allOps },
    user: resolveGroup(p.user),
    guest: resolveGroup(p.guest),
    self: {
      read: self?.read === true,
      update: self?.update === true,
      delete: self?.delete === true,
      list: self?.list ?? self?.read === true
    }
  }
}

/**
 * Whether a table has permissions of its own (boolean or expression); a system table without them is admin-only.
 *
 * @since 0.1.0
 * @category permissions
 */
export const hasConfiguredPermissions = (config: TableConfig): boolean =>
  config.permissions !== undefined || config.expressionPermissions !== undefined

const expressionFor = (config: TableConfig, op: Operation): string | undefined => {
  const e = config.expressionPermissions
  if (e === undefined) return undefined
  return op === "list" ? (e.list ?? e.read) : e[op]
}

const EXPRESSION_TERM = /^(user|guest|admin|self|public|role:\*|role:[A-Za-z0-9_-]+)$/

/**
 * Problems in a permission expression: terms `user`, `guest`, `admin`, `self`, `public`, `role:<name>`,
 * `role:*`, joined by `|` and `&` (`&` binds tighter).
 *
 * @since 0.1.0
 * @category permissions
 */
export const expressionProblems = (expression: string): ReadonlyArray<string> =>
  expression
    .split("|")
    .flatMap((clause) => clause.split("&"))
    .map((term) => term.trim())
    .filter((term) => !EXPRESSION_TERM.test(term))
    .map((term) => `unknown term '${term.slice(0, 32)}'`)

/**
 * Evaluates an expression for a caller. `self` stays symbolic: the result is `all`, `self` (only the caller's rows)
 * or `none`. `guest` and `public` hold for every caller, `user` for any authenticated one; the local server has no
 * custom roles, so `role:…` never holds. For `create`, `self` holds for an authenticated caller (the new row is
 * theirs).
 *
 * @since 0.1.0
 * @category permissions
 */
export const evaluateExpression = (expression: string, principal: Principal, op: Operation): Access | "none" => {
  const term = (t: string): Access | "none" => {
    switch (t) {
      case "public":
      case "guest":
        return "all"
      case "user":
        return hasUserId(principal) || principal.role === "admin" ? "all" : "none"
      case "admin":
        return principal.role === "admin" ? "all" : "none"
      case "self":
        return hasUserId(principal) ? (op === "create" ? "all" : "self") : "none"
      default:
        return "none"
    }
  }
  let best: Access | "none" = "none"
  for (const clause of expression.split("|")) {
    let verdict: Access | "none" = "all"
    for (const t of clause.split("&")) {
      const v = term(t.trim())
      if (v === "none") {
        verdict = "none"
        break
      }
      if (v === "self") verdict = "self"
    }
    if (verdict === "all") return "all"
    if (verdict === "self") best = "self"
  }
  return best
}

/**
 * The outcome of an allowed check: `all` rows, or only the caller's own rows (`self`).
 *
 * @since 0.1.0
 * @category models
 */
export type Access = "all" | "self"

const hasUserId = (principal: Principal): principal is Principal & { readonly userId: string } =>
  principal.userId !== undefined && principal.userId !== ""

/**
 * admin always; system table without permissions → 403 `data/system-table-access`; the group's
 * flag → all rows; otherwise `self.<op>` for an authenticated caller → own rows only; otherwise 403
 * `data/permission-denied`.
 *
 * @since 0.1.0
 * @category permissions
 */
export const authorize = (
  config: TableConfig,
  op: Operation,
  principal: Principal
): Either.Either<Access, TableError> => {
  if (principal.role === "admin") return Either.right("all")
  if (isSystemTable(config.name) && !hasConfiguredPermissions(config)) {
    return denied("data/system-table-access", `Access to system table '${config.name}' is restricted to admin`)
  }
  const expression = expressionFor(config, op)
  if (expression !== undefined) {
    const verdict = evaluateExpression(expression, principal, op)
    if (verdict !== "none") return Either.right(verdict)
    return denied("data/permission-denied", `Permission denied: ${principal.role} may not ${op} on '${config.name}'`)
  }
  const perms = effectivePermissions(config)
  if (perms[principal.role][op]) return Either.right("all")
  if (op !== "create" && hasUserId(principal) && perms.self[op]) return Either.right("self")
  return denied("data/permission-denied", `Permission denied: ${principal.role} may not ${op} on '${config.name}'`)
}

/**
 * Whether `row` belongs to the caller. An empty or missing id never matches (guest rows carry `createdBy: ""`).
 *
 * @since 0.1.0
 * @category permissions
 */
export const ownsRow = (row: Row, principal: Principal): boolean =>
  hasUserId(principal) && row.createdBy === principal.userId

/**
 * The per-row half of a `self` grant for read/update/delete.
 *
 * @since 0.1.0
 * @category permissions
 */
export const checkRowAccess = (
  access: Access,
  row: Row,
  principal: Principal,
  op: Operation
): Either.Either<void, TableError> =>
  access === "all" || ownsRow(row, principal)
    ? Either.void
    : denied("data/permission-denied", `Permission denied: ${op} is limited to your own rows`)

/**
 * Spec access: admin, or an authenticated group holding `read` on the table. The caller must
 * already be authenticated (the router answers 401 otherwise).
 *
 * @since 0.1.0
 * @category permissions
 */
export const authorizeSpec = (config: TableConfig, principal: Principal): Either.Either<void, TableError> => {
  if (principal.role === "admin") return Either.void
  if (isSystemTable(config.name) && !hasConfiguredPermissions(config)) {
    return denied("data/system-table-access", `Access to system table '${config.name}' is restricted to admin`)
  }
  const expression = expressionFor(config, "read")
  const canRead =
    expression !== undefined
      ? evaluateExpression(expression, principal, "read") !== "none"
      : effectivePermissions(config)[principal.role].read
  return canRead
    ? Either.void
    : denied("data/permission-denied", `Permission denied: ${principal.role} may not read the spec of '${config.name}'`)
}

// ---------------------------------------------------------------------------------------------------------------
// Record validation
// ---------------------------------------------------------------------------------------------------------------

const badFieldName = (field: string): boolean =>
  field === "" ||
  field.length > 128 ||
  field.startsWith("$") ||
  field.includes(".") ||
  field === "__proto__" ||
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  /[\u0000-\u001f]/.test(field)

const typeNames: Record<ColumnType, string> = {
  string: "a string",
  reference: "a string id",
  number: "a number",
  double: "a number",
  int: "an integer",
  boolean: "a boolean",
  date: "an ISO 8601 date string",
  object: "an object",
  array: "an array"
}

const checkType = (label: string, type: ColumnType, value: unknown): Either.Either<unknown, TableError> => {
  const wrong = () => invalid(`Field '${label}' must be ${typeNames[type]}`)
  switch (type) {
    case "string":
      return typeof value === "string" ? Either.right(value) : wrong()
    case "reference":
      return typeof value === "string" && value !== "" ? Either.right(value) : wrong()
    case "number":
    case "double":
      return typeof value === "number" && Number.isFinite(value) ? Either.right(value) : wrong()
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value) ? Either.right(value) : wrong()
    case "boolean":
      return typeof value === "boolean" ? Either.right(value) : wrong()
    case "date": {
      if (typeof value !== "string") return wrong()
      const ms = Date.parse(value)
      return Number.isNaN(ms) ? wrong() : Either.right(new Date(ms).toISOString())
    }
    case "object":
      return isPlainObject(value) ? Either.right(value) : wrong()
    case "array":
      return Array.isArray(value) ? Either.right(value) : wrong()
  }
}

const checkColumn = (
  config: TableConfig,
  field: string,
  column: ColumnConfig,
  value: unknown
): Either.Either<unknown, TableError> => {
  if (value === null) {
    return column.required === true ? invalid(`Field '${field}' is required`) : Either.right(null)
  }
  const typed = checkType(field, column.type, value)
  if (Either.isLeft(typed)) return typed
  let out = typed.right
  if (column.type === "array" && column.items !== undefined && Array.isArray(out)) {
    const elements: Array<unknown> = []
    for (const [i, element] of out.entries()) {
      const checked = checkType(`${field}[${i}]`, column.items, element)
      if (Either.isLeft(checked)) return checked
      elements.push(checked.right)
    }
    out = elements
  }
  if (column.enum !== undefined && !column.enum.some((allowed) => allowed === out)) {
    return invalid(`Field '${field}' must be one of: ${column.enum.map((e) => JSON.stringify(e)).join(", ")}`)
  }
  if (typeof out === "string") {
    const pattern = normalize(config).patterns.get(field)
    if (pattern !== undefined && !pattern.test(out)) return invalid(`Field '${field}' does not match the pattern`)
  }
  if (typeof out === "string" || Array.isArray(out)) {
    const unit = typeof out === "string" ? "characters" : "items"
    if (column.minLength !== undefined && out.length < column.minLength) {
      return invalid(`Field '${field}' must have at least ${column.minLength} ${unit}`)
    }
    if (column.maxLength !== undefined && out.length > column.maxLength) {
      return invalid(`Field '${field}' must have at most ${column.maxLength} ${unit}`)
    }
  }
  if (typeof out === "number") {
    if (column.minimum !== undefined && out < column.minimum) {
      return invalid(`Field '${field}' must be >= ${column.minimum}`)
    }
    if (column.maximum !== undefined && out > column.maximum) {
      return invalid(`Field '${field}' must be <= ${column.maximum}`)
    }
  }
  return Either.right(out)
}

const bodyFields = (
  config: TableConfig,
  body: unknown
): Either.Either<ReadonlyArray<readonly [string, unknown]>, TableError> => {
  if (Array.isArray(body)) return invalid("Request body must be a single JSON object; array bodies are not supported")
  if (!isPlainObject(body)) return invalid("Request body must be a JSON object")
  const { columns } = normalize(config)
  const out: Array<readonly [string, unknown]> = []
  for (const [field, value] of Object.entries(body)) {
    if (isSystemField(field)) continue
    if (badFieldName(field)) return invalid(`Invalid field name '${field.slice(0, 64)}'`)
    const column = columns.get(field)
    if (column === undefined) {
      if (hasSchema(config)) return invalid(`Unknown field '${field}'`)
      out.push([field, value])
      continue
    }
    const checked = checkColumn(config, field, column, value)
    if (Either.isLeft(checked)) return Either.left(checked.left)
    out.push([field, checked.right])
  }
  return Either.right(out)
}

/**
 * Builds a new row from a create body: validates every field, fills the system fields (client values for them are
 * ignored), enforces `required`.
 *
 * @since 0.1.0
 * @category validation
 */
export const prepareCreate = (
  config: TableConfig,
  body: unknown,
  meta: { readonly id: string; readonly createdBy: string; readonly now: string }
): Either.Either<Row, TableError> => {
  const fields = bodyFields(config, body)
  if (Either.isLeft(fields)) return Either.left(fields.left)
  const present = new Map(fields.right)
  for (const [field, column] of normalize(config).columns) {
    if (column.required === true && (present.get(field) ?? null) === null) {
      return invalid(`Field '${field}' is required`)
    }
  }
  return Either.right({
    ...Object.fromEntries([["id", meta.id], ...fields.right]),
    id: meta.id,
    createdBy: meta.createdBy,
    createdAt: meta.now,
    updatedAt: meta.now
  })
}

/**
 * Applies a partial update: only the sent fields change (each validated), `updatedAt` is refreshed, and the system
 * fields keep their stored values.
 *
 * @since 0.1.0
 * @category validation
 */
export const prepareUpdate = (
  config: TableConfig,
  existing: Row,
  body: unknown,
  now: string
): Either.Either<Row, TableError> => {
  const fields = bodyFields(config, body)
  if (Either.isLeft(fields)) return Either.left(fields.left)
  return Either.right({
    ...Object.fromEntries([...Object.entries(existing), ...fields.right]),
    id: existing.id,
    createdBy: existing.createdBy,
    createdAt: existing.createdAt,
    updatedAt: now
  })
}

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  return JSON.stringify(a) === JSON.stringify(b)
}

const uniqueKeys = (config: TableConfig): ReadonlyArray<ReadonlyArray<string>> => {
  const keys: Array<ReadonlyArray<string>> = []
  for (const [field, column] of normalize(config).columns) if (column.unique === true) keys.push([field])
  for (const index of config.indexes ?? []) if (index.unique === true) keys.push(Object.keys(index.key))
  return keys
}

/**
 * Unique columns (and unique indexes) → 409 `data/duplicate-value`. Missing and `null` values never collide.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkUnique = (
  config: TableConfig,
  rows: Iterable<Row>,
  candidate: Row
): Either.Either<void, TableError> => {
  const key = uniqueConflict(config, rows, candidate)
  return key === undefined ? Either.void : Either.left(duplicateValue(key))
}

/**
 * 409 `data/duplicate-value` for a unique key (its fields).
 *
 * @since 0.1.0
 * @category validation
 */
export const duplicateValue = (key: ReadonlyArray<string>): TableError =>
  new TableError({
    status: 409,
    code: "data/duplicate-value",
    message: `Duplicate value for unique field${key.length > 1 ? "s" : ""} '${key.join("', '")}'`
  })

/**
 * The first unique key (its fields) that `candidate` shares with another of `rows`, if any. Missing and `null`
 * values never collide.
 *
 * @since 0.1.0
 * @category validation
 */
export const uniqueConflict = (
  config: TableConfig,
  rows: Iterable<Row>,
  candidate: Row
): ReadonlyArray<string> | undefined => {
  const keys = uniqueKeys(config).filter((key) => key.every((f) => (candidate[f] ?? null) !== null))
  if (keys.length === 0) return undefined
  for (const row of rows) {
    if (row.id === candidate.id) continue
    for (const key of keys) if (key.every((f) => sameValue(row[f], candidate[f]))) return key
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------------------------

let lastSecond = -1
let inSecond = 0

/**
 * A 24-hex row id: 8 hex of Unix seconds, a 6-hex counter within that second, then 10 hex (40 bits) of randomness.
 * Ids sort by creation order within a process (the default list order is by `id`), and nobody can guess another
 * row's id from their own: reading a row that exists but is hidden answers 403 where a missing one answers 404, so
 * guessable ids would let a caller enumerate rows.
 *
 * @since 0.1.0
 * @category constructors
 */
export const newRowId = (nowMillis: number): string => {
  const seconds = Math.max(0, Math.floor(nowMillis / 1000)) % 2 ** 32
  if (seconds !== lastSecond) {
    lastSecond = seconds
    inSecond = 0
  }
  inSecond += 1
  return (
    seconds.toString(16).padStart(8, "0") +
    (inSecond % 2 ** 24).toString(16).padStart(6, "0") +
    crypto.randomBytes(5).toString("hex")
  )
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isRowId = (id: string): boolean => /^[0-9a-f]{24}$/.test(id)

// ---------------------------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------------------------

type Scalar = string | number | boolean | null

/**
 * One parsed operator condition on one field.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition =
  | { readonly op: "$eq" | "$ne"; readonly value: Scalar }
  | { readonly op: "$gt" | "$gte" | "$lt" | "$lte"; readonly value: string | number }
  | { readonly op: "$in" | "$nin"; readonly values: ReadonlyArray<Scalar> }
  | { readonly op: "$regex"; readonly regex: RE2JS }
  | { readonly op: "$exists"; readonly value: boolean }
  | { readonly op: "$contains"; readonly value: string | number | boolean }

/**
 * A parsed filter object: one entry per top-level key, each with its conditions (all must hold).
 *
 * @since 0.1.0
 * @category models
 */
export type Filter = ReadonlyArray<{ readonly field: string; readonly conditions: ReadonlyArray<Condition> }>

/**
 * The operators accepted in `andFilters` / `orFilters`.
 *
 * @since 0.1.0
 * @category constants
 */
export const operators: ReadonlyArray<string> = [
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$in",
  "$nin",
  "$regex",
  "$exists",
  "$contains"
]

/**
 * The longest `$regex` pattern accepted.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxRegexLength = 200

const isScalar = (u: unknown): u is Scalar =>
  u === null || typeof u === "string" || typeof u === "boolean" || (typeof u === "number" && Number.isFinite(u))

/**
 * The largest compiled `$regex` program accepted (RE2's approximate cost measure).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxRegexProgramSize = 2000

/**
 * Compiles a `$regex` pattern with RE2 (linear-time matching, no backtracking): at most `maxRegexLength`
 * characters and `maxRegexProgramSize` instructions; RE2 syntax only, so backreferences and lookaround are
 * refused. Returns the reason when the pattern is not accepted.
 *
 * @since 0.1.0
 * @category validation
 */
export const compileRegex = (source: string): Either.Either<RE2JS, string> => {
  if (source.length > maxRegexLength) return Either.left(`longer than ${maxRegexLength} characters`)
  let regex: RE2JS
  try {
    regex = RE2JS.compile(source)
  } catch {
    return Either.left("not a supported regular expression (RE2 syntax: no backreferences or lookaround)")
  }
  if (regex.programSize() > maxRegexProgramSize) return Either.left("too complex")
  const unportable = unportableRegex(source)
  return unportable === undefined ? Either.right(regex) : Either.left(unportable)
}

// Escapes with a letter that mean the same to RE2 and to PostgreSQL's regular expressions, outside and inside `[…]`.
const SHARED_ESCAPES = new Set("dDwWsSbBAntfrv")
const SHARED_CLASS_ESCAPES = new Set("dDwWsSntfrv")

/**
 * Why a pattern RE2 accepts would not mean the same on every storage engine, if it would not: the PostgreSQL engine
 * runs patterns as PostgreSQL regular expressions, which lack RE2's `\p{…}`, `\z`, `\Q…\E`, `\x{…}`, named groups,
 * flag groups (other than a leading `(?i)`) and negated POSIX classes.
 *
 * @since 0.1.0
 * @category validation
 */
export const unportableRegex = (source: string): string | undefined => {
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === "\\") {
      const next = source[++i] ?? ""
      const shared = inClass ? SHARED_CLASS_ESCAPES : SHARED_ESCAPES
      if (/[A-Za-z0-9]/.test(next) && !shared.has(next)) return `the escape \\${next} is not supported`
    } else if (inClass) {
      if (c === "]") inClass = false
      else if (c === "[" && source[i + 1] === ":") {
        if (source[i + 2] === "^") return "negated POSIX classes are not supported"
        const end = source.indexOf(":]", i + 2)
        if (end >= 0) i = end + 1
      }
    } else if (c === "[") {
      inClass = true
      // a `]` (after an optional `^`) right after the opening bracket is a literal
      if (source[i + 1] === "^") i++
      if (source[i + 1] === "]") i++
    } else if (c === "(" && source[i + 1] === "?" && source[i + 2] !== ":" && !(i === 0 && source.startsWith("(?i)"))) {
      return "only (?:…) groups and a leading (?i) are supported"
    }
  }
  return undefined
}

const parseRegex = (field: string, operand: unknown): Either.Either<Condition, TableError> => {
  if (typeof operand !== "string") return invalid(`Operator $regex on field '${field}' expects a string`)
  const compiled = compileRegex(operand)
  return Either.isLeft(compiled)
    ? invalid(`Rejected $regex on field '${field}': ${compiled.left}`)
    : Either.right({ op: "$regex", regex: compiled.right })
}

const dateOperand = (config: TableConfig, field: string, operand: string): Either.Either<string, TableError> => {
  if (!isDateField(config, field)) return Either.right(operand)
  const ms = Date.parse(operand)
  // four-digit years only: the ISO form of other years (-000001, +010000) is not a date every engine reads
  const year = Number.isNaN(ms) ? Number.NaN : new Date(ms).getUTCFullYear()
  return year >= 1 && year <= 9999
    ? Either.right(new Date(ms).toISOString())
    : invalid(`Field '${field}' compares with an ISO 8601 date string (years 1 to 9999)`)
}

const scalarOperand = (config: TableConfig, field: string, operand: Scalar): Either.Either<Scalar, TableError> =>
  typeof operand === "string" ? dateOperand(config, field, operand) : Either.right(operand)

const parseCondition = (
  config: TableConfig,
  field: string,
  op: string,
  operand: unknown
): Either.Either<Condition, TableError> => {
  switch (op) {
    case "$eq":
    case "$ne": {
      if (!isScalar(operand)) return invalid(`Operator ${op} on field '${field}' expects a scalar`)
      return Either.map(scalarOperand(config, field, operand), (value) => ({ op, value }))
    }
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      if (!(typeof operand === "string" || (typeof operand === "number" && Number.isFinite(operand)))) {
        return invalid(`Operator ${op} on field '${field}' expects a number or an ISO 8601 string`)
      }
      const type = normalize(config).columns.get(field)?.type
      if (type === "boolean" || type === "object" || type === "array") {
        return invalid(`Operator ${op} is not supported on ${type} field '${field}'`)
      }
      if (typeof operand === "number") return Either.right({ op, value: operand })
      if (type === "number" || type === "int" || type === "double") {
        return invalid(`Field '${field}' compares with a number`)
      }
      return Either.map(dateOperand(config, field, operand), (value) => ({ op, value }))
    }
    case "$in":
    case "$nin": {
      if (!Array.isArray(operand) || !operand.every(isScalar)) {
        return invalid(`Operator ${op} on field '${field}' expects an array of scalars`)
      }
      if (operand.length > 1000) return invalid(`Operator ${op} on field '${field}' accepts at most 1000 values`)
      const values: Array<Scalar> = []
      for (const v of operand) {
        const c = scalarOperand(config, field, v)
        if (Either.isLeft(c)) return Either.left(c.left)
        values.push(c.right)
      }
      return Either.right({ op, values })
    }
    case "$regex":
      return parseRegex(field, operand)
    case "$exists":
      return typeof operand === "boolean"
        ? Either.right({ op, value: operand })
        : invalid(`Operator $exists on field '${field}' expects a boolean`)
    case "$contains":
      return isScalar(operand) && operand !== null
        ? Either.right({ op, value: operand })
        : invalid(`Operator $contains on field '${field}' expects a string, number or boolean`)
    default:
      return invalid(`Unknown operator '${op.slice(0, 32)}' on field '${field}'`)
  }
}

/**
 * Parses one `andFilters` / `orFilters` value (already URL-decoded by the query-string parser; a value that is
 * still percent-encoded is decoded once more). Each key is a field; each value a scalar (equality) or an object of
 * operators. Non-JSON, non-objects, unknown fields (on tables with a schema), unknown operators and operands of the
 * wrong type are 400 `data/validation-error`.
 *
 * @since 0.1.0
 * @category filters
 */
export const parseFilter = (config: TableConfig, param: string, raw: string): Either.Either<Filter, TableError> => {
  let parsed: ReturnType<typeof parseJson>
  try {
    parsed = parseJson(raw)
  } catch {
    try {
      parsed = parseJson(decodeURIComponent(raw))
    } catch {
      return invalid(`${param} must be a URL-encoded JSON object`)
    }
  }
  if (parsed.unstorable) return invalid(`${param}: ${UNSTORABLE_MESSAGE}`)
  const json = parsed.value
  if (!isPlainObject(json)) return invalid(`${param} must be a JSON object`)
  const out: Array<{ field: string; conditions: ReadonlyArray<Condition> }> = []
  for (const [field, value] of Object.entries(json)) {
    if (field.startsWith("$")) return invalid(`Unsupported top-level operator '${field.slice(0, 32)}' in ${param}`)
    if (badFieldName(field)) return invalid(`Invalid field name in ${param}`)
    if (!knownField(config, field)) return invalid(`Unknown field '${field}' in ${param}`)
    if (Array.isArray(value)) return invalid(`Field '${field}' in ${param}: use $in to match several values`)
    if (!isPlainObject(value)) {
      if (!isScalar(value)) return invalid(`Field '${field}' in ${param} has an unsupported value`)
      const c = parseCondition(config, field, "$eq", value)
      if (Either.isLeft(c)) return Either.left(c.left)
      out.push({ field, conditions: [c.right] })
      continue
    }
    const entries = Object.entries(value)
    if (entries.length === 0) return invalid(`Field '${field}' in ${param} has an empty operator object`)
    const conditions: Array<Condition> = []
    for (const [op, operand] of entries) {
      const c = parseCondition(config, field, op, operand)
      if (Either.isLeft(c)) return Either.left(c.left)
      conditions.push(c.right)
    }
    out.push({ field, conditions })
  }
  return Either.right(out)
}

/**
 * A field of a row (`undefined` when the row has no such own field).
 *
 * @since 0.1.0
 * @category queries
 */
export const fieldValue = (row: Row, field: string): unknown => (Object.hasOwn(row, field) ? row[field] : undefined)

const equalsScalar = (value: unknown, operand: Scalar): boolean => {
  if (operand === null) return value === undefined || value === null
  if (Array.isArray(value)) return value.some((element) => element === operand)
  return value === operand
}

const compareOp = (value: unknown, op: "$gt" | "$gte" | "$lt" | "$lte", operand: string | number): boolean => {
  if (Array.isArray(value)) return value.some((element) => compareOp(element, op, operand))
  let order: number
  if (typeof value === "number" && typeof operand === "number") order = value - operand
  else if (typeof value === "string" && typeof operand === "string")
    order = value < operand ? -1 : value > operand ? 1 : 0
  else return false
  switch (op) {
    case "$gt":
      return order > 0
    case "$gte":
      return order >= 0
    case "$lt":
      return order < 0
    case "$lte":
      return order <= 0
  }
}

/**
 * Whether a field's value satisfies one condition (arrays match when an element does).
 *
 * @since 0.1.0
 * @category queries
 */
export const matchCondition = (value: unknown, c: Condition): boolean => {
  switch (c.op) {
    case "$eq":
      return equalsScalar(value, c.value)
    case "$ne":
      return !equalsScalar(value, c.value)
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      return compareOp(value, c.op, c.value)
    case "$in":
      return c.values.some((v) => equalsScalar(value, v))
    case "$nin":
      return !c.values.some((v) => equalsScalar(value, v))
    case "$exists":
      return (value !== undefined) === c.value
    case "$contains":
      // a substring of a string value (case-sensitive), or an element of an array value
      if (typeof value === "string") return typeof c.value === "string" && value.includes(c.value)
      return Array.isArray(value) && value.some((element) => element === c.value)
    case "$regex":
      // RE2 matches in time linear in the value: no budget is needed
      if (typeof value === "string") return c.regex.test(value)
      return Array.isArray(value) && value.some((e) => typeof e === "string" && c.regex.test(e))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// List queries
// ---------------------------------------------------------------------------------------------------------------

/**
 * A parsed list request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListQuery {
  readonly page: number
  readonly limit: number
  readonly sortBy: string
  readonly sortDirection: "asc" | "desc"
  readonly search: string | undefined
  readonly searchType: string | undefined
  readonly andFilters: Filter
  readonly orFilters: Filter
  readonly select: ReadonlyArray<string> | undefined
  /** Fields the caller may not read: a `search` without `searchType` skips them. */
  readonly unreadable: ReadonlySet<string>
}

/**
 * Query parameters as the platform parses them (`HttpServerRequest.ParsedSearchParams`).
 *
 * @since 0.1.0
 * @category models
 */
export type QueryParams = Readonly<Record<string, string | ReadonlyArray<string>>>

/**
 * Default and maximum page size.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimit = 20

/**
 * @since 0.1.0
 * @category constants
 */
export const maxLimit = 100

const single = (params: QueryParams, name: string): Either.Either<string | undefined, TableError> => {
  const v = params[name]
  if (v === undefined || typeof v === "string") return Either.right(v)
  if (v.length === 1) return Either.right(v[0])
  return invalid(`Query parameter '${name}' must be given once`)
}

const all = (params: QueryParams, name: string): ReadonlyArray<string> => {
  const v = params[name]
  return v === undefined ? [] : typeof v === "string" ? [v] : v
}

const positiveInt = (name: string, raw: string, min: number, max: number): Either.Either<number, TableError> => {
  const n = parseIntParam(raw, min, max)
  return n !== undefined ? Either.right(n) : invalid(`${name} must be an integer between ${min} and ${max}`)
}

const checkField = (config: TableConfig, param: string, field: string): Either.Either<string, TableError> =>
  badFieldName(field) || !knownField(config, field)
    ? invalid(`Unknown field '${field.slice(0, 64)}' in ${param}`)
    : Either.right(field)

const hiddenField = (param: string, field: string): Either.Either<never, TableError> =>
  denied(
    "data/permission-denied",
    `Field '${field.slice(0, 64)}' is not readable by you and cannot be used in ${param}`
  )

const readableFilter = (param: string, filter: Filter, unreadable: ReadonlySet<string>) => {
  const entry = filter.find((e) => unreadable.has(e.field))
  return entry === undefined ? Either.right(filter) : hiddenField(param, entry.field)
}

/**
 * Parses and bounds-checks the list parameters: `page` ≥ 1 (default 1), 1 ≤ `limit` ≤ 100 (default 20), `sortBy`
 * (default `id`), `sortDirection` `asc`|`desc` (default `desc`), `search` + `searchType`, `andFilters`,
 * `orFilters`, `select` (comma-separated and/or repeated). Lenient aliases: `offset` when `page` is absent,
 * `fields` for `select`. Every violation is 400 `data/validation-error`. A filter, `sortBy` or `searchType` on one
 * of the `unreadable` fields is 403 `data/permission-denied` (see `unreadableFields`): a query may only look at what
 * the caller may read.
 *
 * @since 0.1.0
 * @category queries
 */
export const parseListQuery = (
  config: TableConfig,
  params: QueryParams,
  unreadable: ReadonlySet<string> = new Set()
): Either.Either<ListQuery, TableError> =>
  Either.gen(function* () {
    const rawLimit = yield* single(params, "limit")
    const limit = rawLimit === undefined ? defaultLimit : yield* positiveInt("limit", rawLimit, 1, maxLimit)
    const rawPage = yield* single(params, "page")
    const rawOffset = yield* single(params, "offset")
    let page = 1
    if (rawPage !== undefined) page = yield* positiveInt("page", rawPage, 1, 1_000_000_000)
    else if (rawOffset !== undefined) {
      page = Math.floor((yield* positiveInt("offset", rawOffset, 0, 1_000_000_000)) / limit) + 1
    }
    const rawSortBy = yield* single(params, "sortBy")
    const sortBy = rawSortBy === undefined || rawSortBy === "" ? "id" : yield* checkField(config, "sortBy", rawSortBy)
    if (unreadable.has(sortBy)) return yield* hiddenField("sortBy", sortBy)
    const rawDirection = yield* single(params, "sortDirection")
    const direction = rawDirection?.toLowerCase()
    if (direction !== undefined && direction !== "asc" && direction !== "desc") {
      return yield* invalid("sortDirection must be 'asc' or 'desc'")
    }
    const search = yield* single(params, "search")
    if (search !== undefined && search.length > 200) return yield* invalid("search must be at most 200 characters")
    const rawSearchType = yield* single(params, "searchType")
    const searchType =
      rawSearchType === undefined || rawSearchType === ""
        ? undefined
        : yield* checkField(config, "searchType", rawSearchType)
    if (searchType !== undefined && unreadable.has(searchType)) return yield* hiddenField("searchType", searchType)
    const rawAnd = yield* single(params, "andFilters")
    const andFilters =
      rawAnd === undefined || rawAnd === ""
        ? []
        : yield* readableFilter("andFilters", yield* parseFilter(config, "andFilters", rawAnd), unreadable)
    const rawOr = yield* single(params, "orFilters")
    const orFilters =
      rawOr === undefined || rawOr === ""
        ? []
        : yield* readableFilter("orFilters", yield* parseFilter(config, "orFilters", rawOr), unreadable)
    const selectParts = [...all(params, "select"), ...all(params, "fields")]
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s !== "")
    const select: Array<string> = []
    for (const field of selectParts) select.push(yield* checkField(config, "select", field))
    return {
      page,
      limit,
      sortBy,
      sortDirection: direction ?? "desc",
      search: search === "" ? undefined : search,
      searchType,
      andFilters,
      orFilters,
      select: selectParts.length === 0 ? undefined : select,
      unreadable
    }
  })

/**
 * Whether a row matches a search: the lower-cased `needle` in `field` (string, or a string element), or with no
 * field in any user field but the `skip` ones.
 *
 * @since 0.1.0
 * @category queries
 */
export const matchesSearch = (
  row: Row,
  needle: string,
  field: string | undefined,
  skip: ReadonlySet<string>
): boolean => {
  const hit = (v: unknown): boolean =>
    (typeof v === "string" && v.toLowerCase().includes(needle)) ||
    (Array.isArray(v) && v.some((e) => typeof e === "string" && e.toLowerCase().includes(needle)))
  if (field !== undefined) return hit(fieldValue(row, field))
  for (const [name, v] of Object.entries(row)) {
    if (!isSystemField(name) && !skip.has(name) && hit(v)) return true
  }
  return false
}

// BSON-like ordering across types: missing/null < numbers < strings < objects < arrays < booleans.
const typeRank = (v: unknown): number => {
  if (v === undefined || v === null) return 0
  if (typeof v === "number") return 1
  if (typeof v === "string") return 2
  if (Array.isArray(v)) return 4
  if (typeof v === "object") return 3
  if (typeof v === "boolean") return 5
  return 6
}

/**
 * The list order of two field values: missing/null < numbers < strings < objects < arrays < booleans.
 *
 * @since 0.1.0
 * @category queries
 */
export const compareValues = (a: unknown, b: unknown): number => {
  const ra = typeRank(a)
  const rb = typeRank(b)
  if (ra !== rb) return ra - rb
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b)
  if (ra === 0) return 0
  const ja = JSON.stringify(a)
  const jb = JSON.stringify(b)
  return ja < jb ? -1 : ja > jb ? 1 : 0
}

/**
 * The list order of rows by one field, ties broken by `id` in the same direction.
 *
 * @since 0.1.0
 * @category queries
 */
export const rowOrder =
  (field: string, direction: "asc" | "desc") =>
  (a: Row, b: Row): number => {
    const sign = direction === "asc" ? 1 : -1
    const primary = field === "id" ? 0 : compareValues(fieldValue(a, field), fieldValue(b, field))
    return sign * (primary !== 0 ? primary : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  }

/**
 * Keeps the system fields and the selected fields of a row.
 *
 * @since 0.1.0
 * @category queries
 */
export const project = (row: Row, select: ReadonlyArray<string> | undefined): Row => {
  if (select === undefined) return row
  const keep = new Set([...systemFields, ...select])
  return {
    ...Object.fromEntries(Object.entries(row).filter(([field]) => keep.has(field))),
    id: row.id,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Column permissions and row filters
// ---------------------------------------------------------------------------------------------------------------

// Guests have no id: their `$userId` must match nothing, not the `""` of guest-created rows.
const NO_USER = "\u0000no-user"

const substituteUserId = (value: unknown, userId: string): unknown => {
  if (value === "$userId") return userId
  if (Array.isArray(value)) return value.map((v) => substituteUserId(v, userId))
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteUserId(v, userId)]))
  }
  return value
}

/**
 * The row filters that apply to a caller's list: `undefined` when none are configured (or for admin), otherwise the
 * filters of the entries whose expression holds (possibly none: then no row is visible).
 *
 * @since 0.1.0
 * @category permissions
 */
export const rowFiltersFor = (
  config: TableConfig,
  principal: Principal
): Either.Either<ReadonlyArray<Filter> | undefined, TableError> => {
  const entries = config.rowFilters
  if (entries === undefined || entries.length === 0 || principal.role === "admin") return Either.right(undefined)
  const userId = hasUserId(principal) ? principal.userId : NO_USER
  const out: Array<Filter> = []
  for (const entry of entries) {
    if (evaluateExpression(entry.expression, principal, "list") === "none") continue
    const parsed = parseFilter(config, "rowFilters", JSON.stringify(substituteUserId(entry.filter, userId)))
    if (Either.isLeft(parsed)) {
      return Either.left(
        new TableError({ status: 500, code: "common/internal-error", message: "Invalid row filter in table config" })
      )
    }
    out.push(parsed.right)
  }
  return Either.right(out)
}

/**
 * The columns a caller may not use in a query (filters, search, sort): those whose read rule does not hold for every
 * row the query can see. A `self` rule holds when the list is limited to the caller's rows (`access` `self`);
 * otherwise it would reveal other rows' values. Empty for admin and for tables without column rules.
 *
 * @since 0.1.0
 * @category permissions
 */
export const unreadableFields = (config: TableConfig, principal: Principal, access: Access): ReadonlySet<string> => {
  const rules = config.columnPermissions
  const hidden = new Set<string>()
  if (rules === undefined || principal.role === "admin") return hidden
  for (const [field, rule] of Object.entries(rules)) {
    if (rule.read === undefined || isSystemField(field)) continue
    const verdict = evaluateExpression(rule.read, principal, "read")
    if (verdict === "none" || (verdict === "self" && access !== "self")) hidden.add(field)
  }
  return hidden
}

/**
 * Drops the columns the caller may not read (system fields always stay; admin sees everything).
 *
 * @since 0.1.0
 * @category permissions
 */
export const readableRow = (config: TableConfig, row: Row, principal: Principal): Row => {
  const rules = config.columnPermissions
  if (rules === undefined || principal.role === "admin") return row
  const hidden = new Set<string>()
  for (const [field, rule] of Object.entries(rules)) {
    if (rule.read === undefined || isSystemField(field)) continue
    const verdict = evaluateExpression(rule.read, principal, "read")
    if (verdict === "none" || (verdict === "self" && !ownsRow(row, principal))) hidden.add(field)
  }
  if (hidden.size === 0) return row
  return {
    ...Object.fromEntries(Object.entries(row).filter(([field]) => !hidden.has(field))),
    id: row.id,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  }
}

/**
 * Rejects a create/update body that writes a column the caller may not write: 403 `data/permission-denied`.
 * `existing` is the row being updated (for `self` rules).
 *
 * @since 0.1.0
 * @category permissions
 */
export const checkWritable = (
  config: TableConfig,
  body: unknown,
  principal: Principal,
  existing: Row | undefined
): Either.Either<void, TableError> => {
  const rules = config.columnPermissions
  if (rules === undefined || principal.role === "admin" || !isPlainObject(body)) return Either.void
  for (const field of Object.keys(body)) {
    const rule = Object.hasOwn(rules, field) ? rules[field] : undefined
    if (rule?.write === undefined || isSystemField(field)) continue
    const verdict = evaluateExpression(rule.write, principal, existing === undefined ? "create" : "update")
    if (verdict === "none" || (verdict === "self" && (existing === undefined || !ownsRow(existing, principal)))) {
      return denied("data/permission-denied", `Permission denied: field '${field}' is not writable`)
    }
  }
  return Either.void
}

// ---------------------------------------------------------------------------------------------------------------
// Spec
// ---------------------------------------------------------------------------------------------------------------

const bsonTypes: Record<ColumnType, string> = {
  string: "string",
  reference: "string",
  number: "double",
  double: "double",
  int: "int",
  boolean: "bool",
  date: "date",
  object: "object",
  array: "array"
}

/**
 * The `bsonType` a column is stored as.
 *
 * @since 0.1.0
 * @category spec
 */
export const bsonType = (type: ColumnType): string => bsonTypes[type]

/**
 * Resolved columns of a table (string shorthands expanded).
 *
 * @since 0.1.0
 * @category spec
 */
export const columnsOf = (config: TableConfig): ReadonlyMap<string, ColumnConfig> => normalize(config).columns

/**
 * The table spec: `{ tableName, schema, indexes, permissions }` with a JSON-Schema-like `bsonType` schema,
 * default system indexes plus unique and declared ones, and the effective permissions.
 *
 * @since 0.1.0
 * @category spec
 */
export const spec = (config: TableConfig) => {
  const properties: Record<string, Record<string, unknown>> = {}
  const required: Array<string> = []
  const indexes: Array<IndexConfig> = [
    { key: { createdAt: -1 } },
    { key: { updatedAt: -1 } },
    { key: { createdBy: 1 } }
  ]
  for (const [field, c] of normalize(config).columns) {
    if (c.required === true) required.push(field)
    if (c.unique === true) indexes.push({ key: { [field]: 1 }, unique: true })
    properties[field] = {
      bsonType: bsonTypes[c.type],
      ...(c.pattern !== undefined ? { pattern: c.pattern } : {}),
      ...(c.minimum !== undefined ? { minimum: c.minimum } : {}),
      ...(c.maximum !== undefined ? { maximum: c.maximum } : {}),
      ...(c.minLength !== undefined ? { minLength: c.minLength } : {}),
      ...(c.maxLength !== undefined ? { maxLength: c.maxLength } : {}),
      ...(c.enum !== undefined ? { enum: c.enum } : {}),
      ...(c.items !== undefined ? { items: { bsonType: bsonTypes[c.items] } } : {}),
      ...(c.type === "reference" && c.references !== undefined ? { description: `reference to ${c.references}` } : {})
    }
  }
  indexes.push(...(config.indexes ?? []))
  return {
    tableName: config.name,
    schema: { bsonType: "object", required, properties },
    indexes,
    permissions: effectivePermissions(config),
    ...(config.expressionPermissions !== undefined ? { expressionPermissions: config.expressionPermissions } : {})
  }
}
