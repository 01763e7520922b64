import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import * as filters from "../../src/internal/filters.js"

// A reference evaluator with bkend's documented semantics (CONTRACT §9.2; the same rules bkend-local applies):
// equality on an array field matches any element, null matches a missing field, comparisons need the same type.
type Scalar = filters.Scalar
type Row = Readonly<Record<string, unknown>>

const equals = (value: unknown, operand: unknown): boolean => {
  if (operand === null) return value === undefined || value === null
  if (Array.isArray(value)) return value.some((v) => v === operand)
  return value === operand
}

const compare = (value: unknown, op: string, operand: unknown): boolean => {
  if (Array.isArray(value)) return value.some((v) => compare(v, op, operand))
  if (
    !(
      (typeof value === "number" && typeof operand === "number") ||
      (typeof value === "string" && typeof operand === "string")
    )
  ) {
    return false
  }
  switch (op) {
    case "$gt":
      return value > operand
    case "$gte":
      return value >= operand
    case "$lt":
      return value < operand
    default:
      return value <= operand
  }
}

const holds = (value: unknown, op: string, operand: unknown): boolean => {
  switch (op) {
    case "$eq":
      return equals(value, operand)
    case "$ne":
      return !equals(value, operand)
    case "$in":
      return Array.isArray(operand) && operand.some((o) => equals(value, o))
    case "$nin":
      return Array.isArray(operand) && !operand.some((o) => equals(value, o))
    case "$exists":
      return (value !== undefined) === operand
    case "$regex":
      return typeof value === "string" && typeof operand === "string" && new RegExp(operand).test(value)
    default:
      return compare(value, op, operand)
  }
}

const conditionHolds = (row: Row, field: string, condition: unknown): boolean => {
  const value = row[field]
  if (typeof condition === "object" && condition !== null && !Array.isArray(condition)) {
    return Object.entries(condition).every(([op, operand]) => holds(value, op, operand))
  }
  return equals(value, condition)
}

/** AND object: every field's condition holds. */
const matchesAnd = (row: Row, filter: Row): boolean =>
  Object.entries(filter).every(([field, condition]) => conditionHolds(row, field, condition))

/** The wire `orFilters` object, as the server reads it: at least one top-level entry holds. */
const matchesOrObject = (row: Row, filter: Row): boolean =>
  Object.entries(filter).some(([field, condition]) => conditionHolds(row, field, condition))

/** The SDK's `or` array: at least one alternative (an AND object) holds. */
const matchesAlternatives = (row: Row, alternatives: ReadonlyArray<Row>): boolean =>
  alternatives.some((alternative) => matchesAnd(row, alternative))

const fields = ["a", "b", "c"] as const
const scalar: fc.Arbitrary<Scalar> = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.constantFrom("x", "y", "z"),
  fc.boolean(),
  fc.constant(null)
)
const comparable = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom("x", "y", "z"))

const operatorObject: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      $eq: scalar,
      $ne: scalar,
      $gt: comparable,
      $gte: comparable,
      $lt: comparable,
      $lte: comparable,
      $in: fc.array(scalar, { maxLength: 3 }),
      $nin: fc.array(scalar, { maxLength: 3 }),
      $regex: fc.constantFrom("^x", "y$", "z"),
      $exists: fc.boolean()
    },
    { requiredKeys: [] }
  )
  .filter((o) => Object.keys(o).length > 0)

const condition: fc.Arbitrary<unknown> = fc.oneof(scalar, operatorObject)
const alternative: fc.Arbitrary<Row> = fc
  .tuple(fc.constantFrom(...fields), condition)
  .map(([field, c]) => ({ [field]: c }))
const andFilter: fc.Arbitrary<Row> = fc.dictionary(fc.constantFrom(...fields), condition, { maxKeys: 3 })
const row: fc.Arbitrary<Row> = fc.dictionary(
  fc.constantFrom(...fields),
  fc.oneof(
    scalar,
    fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom("x", "y", "z")), { maxLength: 3 })
  ),
  { maxKeys: 3 }
)

const isEquality = (c: unknown): boolean => {
  if (typeof c !== "object" || c === null) return true
  const keys = Object.keys(c)
  return keys.length === 1 && (keys[0] === "$eq" || keys[0] === "$in")
}

/** What survives the trip through the URL: JSON.stringify, URL-encoding, decoding, JSON.parse. */
const overTheWire = (encoded: unknown): unknown => {
  const url = new URL("http://x/v1/data/t")
  url.searchParams.set("orFilters", JSON.stringify(encoded))
  return JSON.parse(new URL(url.toString()).searchParams.get("orFilters") ?? "null")
}

describe("filters", () => {
  it.prop(
    "orFilters: equivalent to the alternatives, or InvalidInput exactly when a field repeats with non-equalities",
    { alternatives: fc.array(alternative, { minLength: 1, maxLength: 4 }), rows: fc.array(row, { maxLength: 12 }) },
    ({ alternatives, rows }) => {
      const encoded = filters.encodeOr(alternatives)
      const byField = new Map<string, Array<unknown>>()
      for (const a of alternatives)
        for (const [f, c] of Object.entries(a)) byField.set(f, [...(byField.get(f) ?? []), c])
      const unrepresentable = [...byField.values()].some((cs) => cs.length > 1 && !cs.every(isEquality))
      expect(Either.isLeft(encoded)).toBe(unrepresentable)
      if (Either.isLeft(encoded)) return
      const wire = overTheWire(encoded.right)
      expect(wire).toEqual(encoded.right)
      if (typeof wire !== "object" || wire === null) throw new Error("orFilters must be an object")
      const object: Row = { ...wire }
      expect(Object.keys(object).sort()).toEqual([...byField.keys()].sort())
      for (const r of rows) expect(matchesOrObject(r, object)).toBe(matchesAlternatives(r, alternatives))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "andFilters: the wire object is the filter itself and matches the same rows",
    { filter: andFilter, rows: fc.array(row, { maxLength: 12 }) },
    ({ filter, rows }) => {
      const encoded = filters.encodeAnd(filter)
      expect(Either.isRight(encoded)).toBe(true)
      if (Either.isLeft(encoded)) return
      if (Object.keys(filter).length === 0) {
        expect(encoded.right).toBeUndefined()
        return
      }
      expect(overTheWire(encoded.right)).toEqual(filter)
      for (const r of rows) expect(matchesAnd(r, encoded.right ?? {})).toBe(matchesAnd(r, filter))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "unknown operators are rejected, never dropped",
    { op: fc.string({ minLength: 1, maxLength: 8 }).map((s) => `$${s}`), field: fc.constantFrom(...fields) },
    ({ op, field }) => {
      fc.pre(!(filters.operators as ReadonlyArray<string>).includes(op))
      const and = filters.encodeAnd({ [field]: { [op]: 1 } })
      expect(Either.isLeft(and) && and.left.message.includes("unknown operator")).toBe(true)
      expect(Either.isLeft(filters.encodeOr([{ [field]: { $eq: 1, [op]: 1 } }]))).toBe(true)
    }
  )

  it("two equalities on one field merge into $in (CONTRACT I-32)", () => {
    expect(filters.encodeOr([{ category: "notice" }, { category: "event" }])).toEqual(
      Either.right({ category: { $in: ["notice", "event"] } })
    )
    expect(filters.encodeOr([{ n: { $in: [1, 2] } }, { n: 2 }, { n: { $eq: 3 } }])).toEqual(
      Either.right({ n: { $in: [1, 2, 3] } })
    )
  })

  it("rejects what one orFilters object cannot hold", () => {
    expect(Either.isLeft(filters.encodeOr([{ n: { $gt: 1 } }, { n: { $lt: 0 } }]))).toBe(true)
    expect(Either.isLeft(filters.encodeOr([{ a: 1, b: 2 }]))).toBe(true)
    expect(Either.isLeft(filters.encodeOr([{}]))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ $or: [{ a: 1 }] }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: [1, 2] }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: {} }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: Number.NaN }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: { $in: "x" } }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: { $exists: "yes" } }))).toBe(true)
    expect(Either.isLeft(filters.encodeAnd({ a: { $regex: /x/i } }))).toBe(true)
  })

  it("sends Dates as ISO strings and RegExps as their source", () => {
    expect(filters.encodeAnd({ createdAt: { $gte: new Date(0) }, title: { $regex: /^a\.b/ } })).toEqual(
      Either.right({ createdAt: { $gte: "1970-01-01T00:00:00.000Z" }, title: { $regex: "^a\\.b" } })
    )
  })
})
