/**
 * Per-table indexes on `bkend_rows`, derived from a table's declared columns: a btree per sortable column (numbers
 * on their numeric value, strings, dates and references on their byte-ordered text), and a unique index per unique
 * column or unique index of the configuration. DDL cannot take parameters, so names and fields are quoted by the
 * database (`quote_literal`) before they become statement text.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Tables from "../tables.js"
import type { Sql } from "./sql.js"

/**
 * One index the engine keeps for a table: its name, the fields it covers, and how to build it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableIndex {
  readonly name: string
  readonly fields: ReadonlyArray<string>
  readonly kind: "number" | "string" | "unique"
}

const indexName = (table: string, kind: TableIndex["kind"], fields: ReadonlyArray<string>): string =>
  `bkend_rows_${kind}_${createHash("sha256")
    .update([table, ...fields].join("\u0000"))
    .digest("hex")
    .slice(0, 24)}`

const kindOf = (type: Tables.ColumnType): TableIndex["kind"] | undefined => {
  if (type === "number" || type === "int" || type === "double") return "number"
  if (type === "string" || type === "date" || type === "reference") return "string"
  return undefined
}

const uniqueKeys = (config: Tables.TableConfig): ReadonlyArray<ReadonlyArray<string>> => [
  ...[...Tables.columnsOf(config)].filter(([, column]) => column.unique === true).map(([field]) => [field]),
  ...(config.indexes ?? []).filter((index) => index.unique === true).map((index) => Object.keys(index.key))
]

/**
 * The indexes a table configuration calls for.
 *
 * @since 0.1.0
 * @category ddl
 */
export const indexesFor = (config: Tables.TableConfig): ReadonlyArray<TableIndex> => {
  const sortable: Array<TableIndex> = []
  for (const [field, column] of Tables.columnsOf(config)) {
    const kind = kindOf(column.type)
    if (kind !== undefined) sortable.push({ name: indexName(config.name, kind, [field]), fields: [field], kind })
  }
  const unique = uniqueKeys(config).map(
    (fields): TableIndex => ({ name: indexName(config.name, "unique", fields), fields, kind: "unique" })
  )
  return [...sortable, ...unique]
}

const quote = (sql: Sql, value: string) =>
  Effect.map(sql<{ readonly q: string }>`SELECT quote_literal(${value}::text) AS q`, (rows) => rows[0]?.q ?? "''")

// Must stay identical to `numberOf` / `stringOf` in where.ts, or the planner will not match the index.
const numberExpr = (j: string) => `(CASE WHEN jsonb_typeof(${j}) = 'number' THEN (${j} #>> '{}')::numeric END)`
const stringExpr = (j: string) => `((CASE WHEN jsonb_typeof(${j}) = 'string' THEN (${j} #>> '{}') END) COLLATE "C")`

const statementFor = (index: TableIndex, table: string, fields: ReadonlyArray<string>): string => {
  const values = fields.map((f) => `(data -> ${f}::text)`)
  const where = `table_name = ${table}::text`
  if (index.kind === "unique") {
    const present = values.map((v) => `${v} IS NOT NULL AND ${v} <> 'null'::jsonb`).join(" AND ")
    return `CREATE UNIQUE INDEX IF NOT EXISTS ${index.name} ON bkend_rows (${values.join(", ")}) WHERE ${where} AND ${present}`
  }
  const key = index.kind === "number" ? numberExpr(values[0]!) : stringExpr(values[0]!)
  return `CREATE INDEX IF NOT EXISTS ${index.name} ON bkend_rows (${key} NULLS FIRST, id) WHERE ${where}`
}

/**
 * Creates an index (when missing).
 *
 * @since 0.1.0
 * @category ddl
 */
export const createIndex = (sql: Sql, table: string, index: TableIndex) =>
  Effect.gen(function* () {
    const quotedTable = yield* quote(sql, table)
    const quotedFields = yield* Effect.forEach(index.fields, (f) => quote(sql, f))
    yield* sql.unsafe(statementFor(index, quotedTable, quotedFields))
  })

/**
 * Drops an index by the name the engine gave it.
 *
 * @since 0.1.0
 * @category ddl
 */
export const dropIndex = (sql: Sql, name: string) =>
  /^bkend_rows_[a-z]+_[0-9a-f]{24}$/.test(name) ? sql.unsafe(`DROP INDEX IF EXISTS ${name}`) : Effect.void
