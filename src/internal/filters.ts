import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** The filter operators bkend documents. */
export const operators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists"] as const

export type Operator = (typeof operators)[number]

const operatorSet: ReadonlySet<string> = new Set(operators)

/** A JSON scalar as it appears in a filter. */
export type Scalar = string | number | boolean | null

/** One field's condition in wire form: a scalar (equality) or an object of operators. */
export type Condition = Scalar | Readonly<Record<string, Scalar | ReadonlyArray<Scalar>>>

/** An encoded filter object: field → condition. */
export type Encoded = Readonly<Record<string, Condition>>

/** Why a filter cannot be encoded; the caller turns it into `InvalidInput`. */
export interface FilterProblem {
  readonly field: string
  readonly message: string
}

const problem = (field: string, message: string): Either.Either<never, FilterProblem> => Either.left({ field, message })

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto: unknown = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const scalar = (where: string, value: unknown): Either.Either<Scalar, FilterProblem> => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return Either.right(value)
  if (typeof value === "number") {
    return Number.isFinite(value) ? Either.right(value) : problem(where, `${where}: numbers must be finite`)
  }
  // dates travel as ISO strings
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? problem(where, `${where}: invalid Date`) : Either.right(value.toISOString())
  }
  return problem(where, `${where}: expected a string, number, boolean, null or Date`)
}

const scalars = (where: string, value: unknown): Either.Either<Array<Scalar>, FilterProblem> => {
  if (!Array.isArray(value)) return problem(where, `${where} expects an array`)
  const out: Array<Scalar> = []
  for (const v of value) {
    const s = scalar(where, v)
    if (Either.isLeft(s)) return Either.left(s.left)
    out.push(s.right)
  }
  return Either.right(out)
}

/**
 * One field's condition in wire form: a scalar (equality) or a non-empty object of operators. Unknown operators,
 * operands of the wrong kind and empty operator objects are rejected, never dropped.
 */
export const encodeCondition = (field: string, value: unknown): Either.Either<Condition, FilterProblem> => {
  if (Array.isArray(value)) return problem(field, `field '${field}': use { $in: [...] } to match several values`)
  if (!isPlainObject(value)) return scalar(`field '${field}'`, value)
  const out: Record<string, Scalar | ReadonlyArray<Scalar>> = {}
  for (const [op, operand] of Object.entries(value)) {
    if (operand === undefined) continue
    if (!operatorSet.has(op)) return problem(field, `field '${field}': unknown operator '${op.slice(0, 32)}'`)
    const where = `field '${field}' ${op}`
    let encoded: Either.Either<Scalar | ReadonlyArray<Scalar>, FilterProblem>
    switch (op) {
      case "$in":
      case "$nin":
        encoded = scalars(where, operand)
        break
      case "$exists":
        encoded = typeof operand === "boolean" ? Either.right(operand) : problem(field, `${where} expects a boolean`)
        break
      case "$regex":
        if (operand instanceof RegExp) {
          encoded =
            operand.flags === ""
              ? Either.right(operand.source)
              : problem(field, `${where}: regular-expression flags cannot be sent`)
        } else {
          encoded = typeof operand === "string" ? Either.right(operand) : problem(field, `${where} expects a string`)
        }
        break
      default:
        encoded = scalar(where, operand)
    }
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    out[op] = encoded.right
  }
  if (Object.keys(out).length === 0) return problem(field, `field '${field}': empty operator object`)
  return Either.right(out)
}

const checkField = (field: string): Either.Either<void, FilterProblem> =>
  field.length === 0
    ? problem(field, "empty field name in filter")
    : field.startsWith("$")
      ? problem(field, `top-level operator '${field.slice(0, 32)}' is not supported; use the \`or\` option`)
      : Either.void

/**
 * Encodes an AND filter object (`andFilters`): every field's condition must hold. Fields whose value is `undefined`
 * are omitted. Returns the wire object (to be `JSON.stringify`'d), or `undefined` when nothing constrains.
 */
export const encodeAnd = (filter: unknown): Either.Either<Encoded | undefined, FilterProblem> => {
  if (!isPlainObject(filter)) return problem("filter", "filter must be a plain object")
  const out: Record<string, Condition> = {}
  for (const [field, value] of Object.entries(filter)) {
    if (value === undefined) continue
    const checked = checkField(field)
    if (Either.isLeft(checked)) return Either.left(checked.left)
    const c = encodeCondition(field, value)
    if (Either.isLeft(c)) return Either.left(c.left)
    out[field] = c.right
  }
  return Either.right(Object.keys(out).length === 0 ? undefined : out)
}

const isArray = (u: Scalar | ReadonlyArray<Scalar>): u is ReadonlyArray<Scalar> => Array.isArray(u)

/** The values an encoded condition accepts by equality, or `undefined` when it is not a pure equality. */
const equalityValues = (condition: Condition): ReadonlyArray<Scalar> | undefined => {
  if (condition === null || typeof condition !== "object") return [condition]
  const keys = Object.keys(condition)
  if (keys.length !== 1) return undefined
  const operand = condition[keys[0]!]
  if (operand === undefined) return undefined
  if (keys[0] === "$eq" && !isArray(operand)) return [operand]
  if (keys[0] === "$in" && isArray(operand)) return operand
  return undefined
}

/**
 * Encodes OR alternatives (`orFilters`). bkend's `orFilters` is one JSON object whose top-level keys are the
 * alternatives, so each alternative must constrain exactly one field, and one field can appear only once
 * (the documented form). Alternatives on the same field that are all equalities (`v`, `{ $eq: v }`, `{ $in: [...] }`) are
 * merged into one `$in`; anything else on a repeated field cannot be represented and fails instead of being dropped.
 */
export const encodeOr = (alternatives: ReadonlyArray<unknown>): Either.Either<Encoded | undefined, FilterProblem> => {
  if (!Array.isArray(alternatives)) return problem("or", "`or` must be an array of condition objects")
  const byField = new Map<string, Array<Condition>>()
  for (const [index, alternative] of alternatives.entries()) {
    const encoded = encodeAnd(alternative)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    const fields = encoded.right === undefined ? [] : Object.keys(encoded.right)
    if (fields.length !== 1) {
      return problem(
        "or",
        `or[${index}] constrains ${fields.length} fields; each alternative must constrain exactly one field`
      )
    }
    const field = fields[0]!
    const condition = encoded.right?.[field]
    if (condition === undefined) continue
    const list = byField.get(field) ?? []
    list.push(condition)
    byField.set(field, list)
  }
  if (byField.size === 0) return Either.right(undefined)
  const out: Record<string, Condition> = {}
  for (const [field, conditions] of byField) {
    if (conditions.length === 1) {
      out[field] = conditions[0]!
      continue
    }
    const values: Array<Scalar> = []
    for (const condition of conditions) {
      const eq = equalityValues(condition)
      if (eq === undefined) {
        return problem(
          field,
          `field '${field}' appears in several \`or\` alternatives with operators other than equality; ` +
            "one orFilters object cannot represent that"
        )
      }
      for (const v of eq) if (!values.some((x) => x === v)) values.push(v)
    }
    out[field] = { $in: values }
  }
  return Either.right(out)
}

/**
 * A stream of every page's items, fetched lazily: when page `n` is emitted the request for page `n + 1` starts in
 * the background, and the stream waits for it only once page `n` is consumed. So at most one page request is in
 * flight and at most two pages are held (the one being consumed and the next one).
 */
export const paginate = <A, E, R>(
  fetch: (page: number) => Effect.Effect<{ readonly items: ReadonlyArray<A>; readonly hasNext: boolean }, E, R>,
  firstPage: number
): Stream.Stream<A, E, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      // the prefetch fiber belongs to the stream's scope: ending the stream early interrupts it
      const scope = yield* Effect.scope
      const start = (page: number) => Effect.forkIn(fetch(page), scope)
      const first = yield* start(firstPage)
      return Stream.paginateChunkEffect({ fiber: first, page: firstPage }, (state) =>
        Effect.gen(function* () {
          const current = yield* Fiber.join(state.fiber)
          const items = Chunk.fromIterable(current.items)
          if (!current.hasNext || current.items.length === 0) return [items, Option.none()] as const
          const next = yield* start(state.page + 1)
          return [items, Option.some({ fiber: next, page: state.page + 1 })] as const
        })
      )
    })
  )
