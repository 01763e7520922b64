/**
 * Compiles a row query to PostgreSQL over `bkend_rows`. Every value and every field name is a bound parameter;
 * only the fixed operator and keyword vocabulary is SQL text. Row rules are part of the compiled condition.
 *
 * The expressions for numbers (`numberOf`) and strings (`stringOf`) of a field are the ones the per-table
 * indexes are built on (see ddl.ts), so a filter or sort on a declared column can use its index.
 *
 * Differences from the in-memory engine: objects and arrays sort by their JSONB text, and strings compare by
 * UTF-8 bytes (the same order as UTF-16 code units outside the astral planes).
 *
 * @since 0.1.0
 */
import type { Fragment } from "@effect/sql/Statement"
import type * as Q from "../rowQuery.js"
import * as Tables from "../tables.js"
import type { Sql } from "./sql.js"

interface Ctx {
  readonly sql: Sql
  readonly columns: ReadonlyMap<string, Tables.ColumnConfig>
}

type Compare = "$gt" | "$gte" | "$lt" | "$lte"
const comparators: Record<Compare, string> = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }

const numericTypes: ReadonlyArray<Tables.ColumnType> = ["number", "int", "double"]
const stringTypes: ReadonlyArray<Tables.ColumnType> = ["string", "date", "reference"]

/**
 * The numeric value of a JSONB expression (NULL unless it is a number).
 *
 * @since 0.1.0
 * @category expressions
 */
export const numberOf = (sql: Sql, j: Fragment): Fragment =>
  sql`(CASE WHEN jsonb_typeof(${j}) = 'number' THEN (${j} #>> '{}')::numeric END)`

/**
 * The string value of a JSONB expression in byte order (NULL unless it is a string).
 *
 * @since 0.1.0
 * @category expressions
 */
export const stringOf = (sql: Sql, j: Fragment): Fragment =>
  sql`((CASE WHEN jsonb_typeof(${j}) = 'string' THEN (${j} #>> '{}') END) COLLATE "C")`

const fieldValue = (sql: Sql, field: string): Fragment => sql`(data -> ${field}::text)`

const anyElement = (sql: Sql, j: Fragment, predicate: (e: Fragment) => Fragment): Fragment =>
  sql`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${j}) = 'array' THEN ${j} ELSE '[]'::jsonb END) AS e(v) WHERE ${predicate(sql`e.v`)})`

const join = (sql: Sql, word: "AND" | "OR", items: ReadonlyArray<Fragment>): Fragment =>
  sql.join(` ${word} `, true, word === "AND" ? "TRUE" : "FALSE")(items)

const not = (sql: Sql, item: Fragment): Fragment => sql`((${item}) IS NOT TRUE)`

// --- data fields ---------------------------------------------------------------------------------------------------

/**
 * Equality on a data field. On a declared number or string column, with an operand of that kind, it compares the
 * indexed typed expression; otherwise it is JSONB containment (served by the GIN index), which also matches an
 * array holding the value.
 */
const dataEquals = (ctx: Ctx, field: string, value: Q.Scalar): Fragment => {
  const { sql } = ctx
  const j = fieldValue(sql, field)
  if (value === null) return sql`(${j} IS NULL OR ${j} = 'null'::jsonb)`
  const type = ctx.columns.get(field)?.type
  if (typeof value === "number" && type !== undefined && numericTypes.includes(type)) {
    return sql`${numberOf(sql, j)} = ${value}`
  }
  if (typeof value === "string" && type !== undefined && stringTypes.includes(type)) {
    return sql`${stringOf(sql, j)} = ${value}`
  }
  const scalar = JSON.stringify({ [field]: value })
  const member = JSON.stringify({ [field]: [value] })
  return sql`(data @> ${scalar}::jsonb OR data @> ${member}::jsonb)`
}

const compareTo = (sql: Sql, j: Fragment, op: Compare, value: string | number): Fragment =>
  typeof value === "number"
    ? sql`${numberOf(sql, j)} ${sql.literal(comparators[op])} ${value}`
    : sql`${stringOf(sql, j)} ${sql.literal(comparators[op])} ${value}`

const regexOf = (sql: Sql, j: Fragment, source: string): Fragment => sql`${stringOf(sql, j)} ~ ${posixRegex(source)}`

/** The scalar test, and for fields that may hold arrays the same test on any element. */
const scalarOrElement = (ctx: Ctx, field: string, test: (j: Fragment) => Fragment): Fragment => {
  const { sql } = ctx
  const j = fieldValue(sql, field)
  const type = ctx.columns.get(field)?.type
  if (type !== undefined && type !== "array") return test(j)
  return join(sql, "OR", [test(j), anyElement(sql, j, test)])
}

const dataContains = (ctx: Ctx, field: string, value: Q.Scalar): Fragment => {
  const { sql } = ctx
  const member = sql`data @> ${JSON.stringify({ [field]: [value] })}::jsonb`
  if (typeof value !== "string") return member
  return join(sql, "OR", [sql`strpos(${stringOf(sql, fieldValue(sql, field))}, ${value}) > 0`, member])
}

type Equality = Extract<Q.Condition, { readonly op: "$eq" | "$ne" | "$in" | "$nin" }>

const isEquality = (c: Q.Condition): c is Equality =>
  c.op === "$eq" || c.op === "$ne" || c.op === "$in" || c.op === "$nin"

/** `$eq`, `$ne`, `$in` and `$nin` of data and system fields alike, from the field's own equality test. */
const equality = (sql: Sql, c: Equality, equals: (value: Q.Scalar) => Fragment): Fragment => {
  switch (c.op) {
    case "$eq":
      return equals(c.value)
    case "$ne":
      return not(sql, equals(c.value))
    case "$in":
      return join(sql, "OR", c.values.map(equals))
    case "$nin":
      return not(sql, join(sql, "OR", c.values.map(equals)))
  }
}

const dataCondition = (ctx: Ctx, field: string, c: Q.Condition): Fragment => {
  const { sql } = ctx
  if (isEquality(c)) return equality(sql, c, (v) => dataEquals(ctx, field, v))
  switch (c.op) {
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      return scalarOrElement(ctx, field, (j) => compareTo(sql, j, c.op, c.value))
    case "$regex":
      return scalarOrElement(ctx, field, (j) => regexOf(sql, j, c.source))
    case "$exists":
      return c.value ? sql`${fieldValue(sql, field)} IS NOT NULL` : sql`${fieldValue(sql, field)} IS NULL`
    case "$contains":
      return dataContains(ctx, field, c.value)
  }
}

// --- system fields -------------------------------------------------------------------------------------------------

interface SystemField {
  /** The column, for equality, ranges and sort. */
  readonly column: Fragment
  /** The field as the API shows it (text). */
  readonly text: Fragment
  /** A string operand as a value of the column's type. */
  readonly operand: (value: string) => Fragment
}

const systemField = (sql: Sql, field: string): SystemField | undefined => {
  const column = (name: string): Fragment => sql`${sql(name)}`
  const text = (name: string): SystemField => ({ column: column(name), text: column(name), operand: (v) => sql`${v}` })
  const time = (name: string): SystemField => ({
    column: column(name),
    text: sql`to_char(${sql(name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    operand: (v) => sql`${v}::timestamptz`
  })
  switch (field) {
    case "id":
      return text("id")
    case "createdBy":
      return text("created_by")
    case "createdAt":
      return time("created_at")
    case "updatedAt":
      return time("updated_at")
    default:
      return undefined
  }
}

const systemEquals = (sql: Sql, f: SystemField, value: Q.Scalar): Fragment =>
  typeof value === "string" ? sql`${f.column} = ${f.operand(value)}` : sql`FALSE`

const systemCondition = (sql: Sql, f: SystemField, c: Q.Condition): Fragment => {
  if (isEquality(c)) return equality(sql, c, (v) => systemEquals(sql, f, v))
  switch (c.op) {
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      return typeof c.value === "string"
        ? sql`${f.column} ${sql.literal(comparators[c.op])} ${f.operand(c.value)}`
        : sql`FALSE`
    case "$regex":
      return sql`${f.text} ~ ${posixRegex(c.source)}`
    case "$exists":
      return c.value ? sql`TRUE` : sql`FALSE`
    case "$contains":
      return typeof c.value === "string" ? sql`strpos(${f.text}, ${c.value}) > 0` : sql`FALSE`
  }
}

// --- search --------------------------------------------------------------------------------------------------------

const textHit = (sql: Sql, text: Fragment, needle: string): Fragment => sql`strpos(lower(${text}), ${needle}) > 0`

const jsonHit = (sql: Sql, j: Fragment, needle: string): Fragment => {
  const stringHit = (e: Fragment) =>
    sql`(jsonb_typeof(${e}) = 'string' AND ${textHit(sql, sql`(${e} #>> '{}')`, needle)})`
  return join(sql, "OR", [stringHit(j), anyElement(sql, j, stringHit)])
}

const search = (ctx: Ctx, needle: string, field: string | undefined, skip: ReadonlyArray<string>): Fragment => {
  const { sql } = ctx
  if (field === undefined) {
    // fields the caller may not read are never searched: a hit would reveal their values
    const readable = join(sql, "AND", [jsonHit(sql, sql`kv.v`, needle), ...skip.map((f) => sql`kv.k <> ${f}`)])
    return sql`EXISTS (SELECT 1 FROM jsonb_each(data) AS kv(k, v) WHERE ${readable})`
  }
  const system = systemField(sql, field)
  return system !== undefined ? textHit(sql, system.text, needle) : jsonHit(sql, fieldValue(sql, field), needle)
}

// --- where ---------------------------------------------------------------------------------------------------------

const compileWhere = (ctx: Ctx, where: Q.Where): Fragment => {
  const { sql } = ctx
  switch (where._tag) {
    case "All":
      return sql`TRUE`
    case "None":
      return sql`FALSE`
    case "And":
      return join(
        sql,
        "AND",
        where.items.map((w) => compileWhere(ctx, w))
      )
    case "Or":
      return join(
        sql,
        "OR",
        where.items.map((w) => compileWhere(ctx, w))
      )
    case "Not":
      return not(sql, compileWhere(ctx, where.item))
    case "Owner":
      return sql`created_by = ${where.userId}`
    case "Search":
      return search(ctx, where.needle, where.field, where.skip)
    case "Field": {
      const system = systemField(sql, where.field)
      return system !== undefined
        ? systemCondition(sql, system, where.condition)
        : dataCondition(ctx, where.field, where.condition)
    }
  }
}

// --- order ---------------------------------------------------------------------------------------------------------

const typeRank = (sql: Sql, j: Fragment): Fragment =>
  sql`(CASE jsonb_typeof(${j}) WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'boolean' THEN 5 ELSE 0 END)`

const sortKeys = (ctx: Ctx, field: string): ReadonlyArray<Fragment> => {
  const { sql } = ctx
  if (field === "id") return []
  const system = systemField(sql, field)
  if (system !== undefined) return [system.column]
  const j = fieldValue(sql, field)
  const type = ctx.columns.get(field)?.type
  if (type !== undefined && numericTypes.includes(type)) return [numberOf(sql, j)]
  if (type !== undefined && stringTypes.includes(type)) return [stringOf(sql, j)]
  const composite = sql`(CASE WHEN jsonb_typeof(${j}) IN ('object', 'array', 'boolean') THEN (${j})::text END)`
  return [typeRank(sql, j), numberOf(sql, j), stringOf(sql, j), composite]
}

// Field keys may be NULL (missing, null, other type): they sort first ascending and last descending, as in memory.
// `id` and the system columns are never NULL and sort without a NULLS clause, so their btree indexes serve them.
const orderBy = (ctx: Ctx, query: Q.RowQuery): Fragment => {
  const { sql } = ctx
  const asc = query.sortDirection === "asc"
  const nullable = sql.literal(asc ? "ASC NULLS FIRST" : "DESC NULLS LAST")
  const plain = sql.literal(asc ? "ASC" : "DESC")
  const system = systemField(sql, query.sortBy) !== undefined
  const keys = sortKeys(ctx, query.sortBy).map((key) => sql`${key} ${system ? plain : nullable}`)
  return sql.csv([...keys, sql`id ${plain}`])
}

/**
 * The page and count statements of a row query on one table.
 *
 * @since 0.1.0
 * @category compiler
 */
export const compileQuery = (sql: Sql, config: Tables.TableConfig, query: Q.RowQuery) => {
  const ctx: Ctx = { sql, columns: Tables.columnsOf(config) }
  const where = sql`table_name = ${config.name} AND ${compileWhere(ctx, query.where)}`
  return {
    page: sql<RowColumns>`SELECT id, data, created_at, updated_at, created_by FROM bkend_rows WHERE ${where} ORDER BY ${orderBy(ctx, query)} LIMIT ${query.limit} OFFSET ${query.offset}`,
    count: sql<{ readonly total: number }>`SELECT count(*)::int AS total FROM bkend_rows WHERE ${where}`
  }
}

/**
 * The columns of a stored row.
 *
 * @since 0.1.0
 * @category models
 */
export interface RowColumns {
  readonly id: string
  readonly data: unknown
  readonly created_at: unknown
  readonly updated_at: unknown
  readonly created_by: string
}

/**
 * The pattern in PostgreSQL's regular-expression dialect: word boundaries `\b`/`\B` are `\y`/`\Y` there, and `.`
 * (which matches a line break there, not in RE2) is `[^\n]`; the rest of the accepted syntax (classes, anchors,
 * quantifiers, groups, `\d \w \s`) means the same.
 *
 * @since 0.1.0
 * @category compiler
 */
export const posixRegex = (source: string): string => {
  let out = ""
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === "\\" && i + 1 < source.length) {
      const next = source[++i]!
      out += !inClass && (next === "b" || next === "B") ? `\\${next === "b" ? "y" : "Y"}` : `\\${next}`
      continue
    }
    if (!inClass && c === "[") {
      inClass = true
      // a `]` right after the opening bracket (and its `^`) is a literal, not the end of the class
      const literal = /^\[\^?\]/.exec(source.slice(i))?.[0] ?? "["
      out += literal
      i += literal.length - 1
      continue
    }
    if (inClass && c === "[" && source[i + 1] === ":") {
      const end = source.indexOf(":]", i + 2)
      if (end >= 0) {
        out += source.slice(i, end + 2)
        i = end + 1
        continue
      }
    }
    if (inClass && c === "]") inClass = false
    // RE2's `.` stops at a line break; PostgreSQL's matches one
    out += c === "." && !inClass ? "[^\\n]" : c
  }
  return out
}
