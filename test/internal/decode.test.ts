import { describe, expect, it } from "@effect/vitest"
import * as Headers from "@effect/platform/Headers"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as Decode from "../../src/internal/decode.js"

const SECRET = `at_${"s3cr3t".repeat(6)}`

const issueOf = <A, I>(schema: Schema.Schema<A, I>, input: unknown) => {
  const result = Schema.decodeUnknownEither(schema, { errors: "all" })(input)
  if (Either.isRight(result)) throw new Error("expected a decode failure")
  return result.left.issue
}

const Tokens = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.String,
  expiresIn: Schema.Number
})

describe("decode issues", () => {
  it("names the path, the expected type and the actual kind, never the value", () => {
    const issue = issueOf(Schema.Struct({ data: Tokens }), {
      data: { accessToken: 1, refreshToken: null, expiresIn: SECRET }
    })
    expect(Decode.issuesOf(issue)).toEqual([
      { path: "data.accessToken", expected: "string", actual: "number" },
      { path: "data.refreshToken", expected: "string", actual: "null" },
      { path: "data.expiresIn", expected: "number", actual: "string" }
    ])
    const text = Decode.describeIssues(issue)
    expect(text).toBe(
      "data.accessToken: expected string, got number; data.refreshToken: expected string, got null; " +
        "data.expiresIn: expected number, got string"
    )
    expect(text).not.toContain(SECRET)
  })

  it("negative control: the stock formatters copy the value", () => {
    const issue = issueOf(Tokens, { accessToken: "a", refreshToken: "b", expiresIn: SECRET })
    expect(ParseResult.TreeFormatter.formatIssueSync(issue)).toContain(SECRET)
    expect(JSON.stringify(ParseResult.ArrayFormatter.formatIssueSync(issue))).toContain(SECRET)
    expect(Decode.describeIssues(issue)).not.toContain(SECRET)
  })

  it("missing keys, unions, literals, refinements, transformations, arrays, the root", () => {
    const schema = Schema.Struct({
      id: Schema.String,
      n: Schema.Int,
      name: Schema.String.pipe(Schema.minLength(1)),
      role: Schema.Literal("admin", "user"),
      count: Schema.NumberFromString,
      either: Schema.Union(Schema.String, Schema.Number),
      rows: Schema.Array(Schema.Struct({ id: Schema.String }))
    })
    const issues = Decode.issuesOf(
      issueOf(schema, { n: 1.5, name: "", role: SECRET, count: 3, either: true, rows: [{ id: 1 }] })
    )
    // at most five: the first five failing paths
    expect(issues).toEqual([
      { path: "id", expected: "string", actual: "undefined" },
      { path: "n", expected: "Int", actual: "number" },
      { path: "name", expected: "a string at least 1 character(s) long", actual: "string" },
      { path: "role", expected: '"admin" | "user"', actual: "string" },
      { path: "count", expected: "string", actual: "number" }
    ])
    const rest = Decode.issuesOf(
      issueOf(schema, { id: "x", n: 1, name: "a", role: "user", count: "1", either: true, rows: [{ id: 1 }] })
    )
    expect(rest).toEqual([
      { path: "either", expected: "string | number", actual: "boolean" },
      { path: "rows.0.id", expected: "string", actual: "number" }
    ])
    expect(Decode.issuesOf(issueOf(Tokens, [SECRET]))).toEqual([
      { path: "(root)", expected: "object", actual: "array" }
    ])
    expect(Decode.issuesOf(issueOf(Schema.Array(Schema.String), undefined))).toEqual([
      { path: "(root)", expected: "array", actual: "undefined" }
    ])
    const excess = Schema.decodeUnknownEither(Schema.Struct({ a: Schema.String }), { onExcessProperty: "error" })({
      a: "x",
      b: SECRET
    })
    if (Either.isRight(excess)) throw new Error("expected a failure")
    expect(Decode.describeIssues(excess.left.issue)).toBe("b: expected no such key, got string")
  })

  it.effect("a 2xx body that does not decode: DecodeError with the issues, no value in message or JSON", () =>
    Effect.gen(function* () {
      const error = yield* Decode.success(
        {
          status: 200,
          headers: Headers.empty,
          text: JSON.stringify({ success: true, data: { accessToken: SECRET, expiresIn: SECRET } })
        },
        Tokens,
        "POST",
        "/v1/auth/refresh"
      ).pipe(Effect.flip)
      expect(error._tag).toBe("DecodeError")
      expect(error.message).toBe(
        "response body does not match the expected schema: refreshToken: expected string, got undefined; " +
          "expiresIn: expected number, got string"
      )
      expect(error.issues).toEqual([
        { path: "refreshToken", expected: "string", actual: "undefined" },
        { path: "expiresIn", expected: "number", actual: "string" }
      ])
      for (const text of [error.message, String(error), JSON.stringify(error)]) expect(text).not.toContain(SECRET)
    })
  )
})
