/**
 * Evaluates a row query over rows held in memory: the same semantics as the server's list engine (tables.ts),
 * row rules included, on the engine-neutral representation every engine receives.
 *
 * @since 0.1.0
 */
import { RE2JS } from "re2js"
import type * as Q from "../rowQuery.js"
import * as Tables from "../tables.js"

type Regexes = Map<string, RE2JS | undefined>

const regexOf = (regexes: Regexes, source: string): RE2JS | undefined => {
  if (!regexes.has(source)) {
    let compiled: RE2JS | undefined
    try {
      compiled = RE2JS.compile(source)
    } catch {
      compiled = undefined
    }
    regexes.set(source, compiled)
  }
  return regexes.get(source)
}

// `undefined`: a condition no value satisfies (a pattern that does not compile; `$contains` of null, which the
// server's filters never produce)
const condition = (regexes: Regexes, c: Q.Condition): Tables.Condition | undefined => {
  if (c.op === "$contains") return c.value === null ? undefined : { op: c.op, value: c.value }
  if (c.op !== "$regex") return c
  const regex = regexOf(regexes, c.source)
  return regex === undefined ? undefined : { op: "$regex", regex }
}

const matches = (regexes: Regexes, row: Tables.Row, where: Q.Where): boolean => {
  switch (where._tag) {
    case "All":
      return true
    case "None":
      return false
    case "And":
      return where.items.every((item) => matches(regexes, row, item))
    case "Or":
      return where.items.some((item) => matches(regexes, row, item))
    case "Not":
      return !matches(regexes, row, where.item)
    case "Owner":
      return row.createdBy === where.userId
    case "Search":
      return Tables.matchesSearch(row, where.needle, where.field, new Set(where.skip))
    case "Field": {
      const c = condition(regexes, where.condition)
      return c !== undefined && Tables.matchCondition(Tables.fieldValue(row, where.field), c)
    }
  }
}

/**
 * The page of `rows` a query selects, and how many rows match it.
 *
 * @since 0.1.0
 * @category queries
 */
export const run = (
  rows: Iterable<Tables.Row>,
  query: Q.RowQuery
): { readonly items: ReadonlyArray<Tables.Row>; readonly total: number } => {
  const regexes: Regexes = new Map()
  const matched: Array<Tables.Row> = []
  for (const row of rows) if (matches(regexes, row, query.where)) matched.push(row)
  matched.sort(Tables.rowOrder(query.sortBy, query.sortDirection))
  const items = matched.slice(query.offset, query.offset + query.limit).map((row) => Tables.project(row, query.select))
  return { items, total: matched.length }
}
