/**
 * The engine-neutral representation of a row list: one boolean expression that already contains the caller's row
 * rules (owner-only access, configured row filters), plus sort and page. Every storage engine evaluates or compiles
 * this one shape, so the rules cannot be applied differently per engine.
 *
 * @since 0.1.0
 */
import type * as Tables from "./tables.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Scalar = string | number | boolean | null

/**
 * One operator on one field. `$regex` carries the pattern source; `$contains` is a substring test on strings and a
 * membership test on arrays.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition =
  | { readonly op: "$eq" | "$ne"; readonly value: Scalar }
  | { readonly op: "$gt" | "$gte" | "$lt" | "$lte"; readonly value: string | number }
  | { readonly op: "$in" | "$nin"; readonly values: ReadonlyArray<Scalar> }
  | { readonly op: "$regex"; readonly source: string }
  | { readonly op: "$exists"; readonly value: boolean }
  | { readonly op: "$contains"; readonly value: Scalar }

/**
 * A boolean expression over the rows of one table. `Search` holds a lower-cased needle and an optional field (none:
 * any user field). `Owner` keeps the rows created by one user.
 *
 * @since 0.1.0
 * @category models
 */
export type Where =
  | { readonly _tag: "All" }
  | { readonly _tag: "None" }
  | { readonly _tag: "And"; readonly items: ReadonlyArray<Where> }
  | { readonly _tag: "Or"; readonly items: ReadonlyArray<Where> }
  | { readonly _tag: "Not"; readonly item: Where }
  | { readonly _tag: "Field"; readonly field: string; readonly condition: Condition }
  | {
      readonly _tag: "Search"
      readonly needle: string
      readonly field: string | undefined
      /** fields a search over every field skips (those the caller may not read) */
      readonly skip: ReadonlyArray<string>
    }
  | { readonly _tag: "Owner"; readonly userId: string }

/**
 * A list request: rows matching `where`, ordered by `sortBy` (ties broken by `id` in the same direction), skipping
 * `offset` rows and returning at most `limit`; `select` keeps the system fields plus the named ones.
 *
 * @since 0.1.0
 * @category models
 */
export interface RowQuery {
  readonly where: Where
  readonly sortBy: string
  readonly sortDirection: "asc" | "desc"
  readonly offset: number
  readonly limit: number
  readonly select: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const all: Where = { _tag: "All" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const none: Where = { _tag: "None" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const and = (items: ReadonlyArray<Where>): Where => (items.length === 1 ? items[0]! : { _tag: "And", items })

/**
 * @since 0.1.0
 * @category constructors
 */
export const or = (items: ReadonlyArray<Where>): Where => (items.length === 1 ? items[0]! : { _tag: "Or", items })

const fromCondition = (c: Tables.Condition): Condition =>
  c.op === "$regex" ? { op: c.op, source: c.regex.pattern() } : c

const fromEntry = (entry: Tables.Filter[number]): Where =>
  and(entry.conditions.map((c) => ({ _tag: "Field", field: entry.field, condition: fromCondition(c) })))

const fromFilter = (filter: Tables.Filter): Where => and(filter.map(fromEntry))

const ownerRule = (ownerId: string | undefined): ReadonlyArray<Where> => {
  if (ownerId === undefined) return []
  return ownerId === "" ? [none] : [{ _tag: "Owner", userId: ownerId }]
}

const rowFilterRule = (rowFilters: ReadonlyArray<Tables.Filter> | undefined): ReadonlyArray<Where> =>
  rowFilters === undefined ? [] : [rowFilters.length === 0 ? none : or(rowFilters.map(fromFilter))]

/**
 * The server's parsed list request plus the caller's row rules as one query: the owner restriction (`ownerId`
 * defined: only that user's rows; empty: none), any of the row filters (`undefined`: none configured; empty: no
 * row visible), every AND filter, any of the OR filters, and the search.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromListQuery = (
  query: Tables.ListQuery,
  ownerId: string | undefined,
  rowFilters?: ReadonlyArray<Tables.Filter> | undefined
): RowQuery => {
  const search: ReadonlyArray<Where> =
    query.search === undefined
      ? []
      : [
          {
            _tag: "Search",
            needle: query.search.toLowerCase(),
            field: query.searchType,
            skip: [...query.unreadable]
          }
        ]
  const orPart = query.orFilters.length === 0 ? [] : [or(query.orFilters.map(fromEntry))]
  const items = [
    ...ownerRule(ownerId),
    ...rowFilterRule(rowFilters),
    ...query.andFilters.map(fromEntry),
    ...orPart,
    ...search
  ]
  return {
    where: items.length === 0 ? all : and(items),
    sortBy: query.sortBy,
    sortDirection: query.sortDirection,
    offset: (query.page - 1) * query.limit,
    limit: query.limit,
    select: query.select
  }
}
