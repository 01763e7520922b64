import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as BkendError from "../BkendError.js"
import { unwrapSuccess } from "./envelope.js"
import { fromResponse, parseIntHeader, parseRetryAfter } from "./errors.js"
import type { RawResponse } from "./transport.js"

const MAX_ISSUES = 5
const MAX_EXPECTED = 80

/** What a value is (`string`, `number`, `null`, `array`, `object`, `undefined` …), never the value itself. */
export const kindOf = (u: unknown): string => (u === null ? "null" : Array.isArray(u) ? "array" : typeof u)

const capped = (text: string) => (text.length > MAX_EXPECTED ? `${text.slice(0, MAX_EXPECTED - 1)}…` : text)

/** The expected type of a schema node, from the schema only (its name, or its shape in one word). */
const expectedOf = (ast: SchemaAST.AST): string => {
  const named = SchemaAST.getIdentifierAnnotation(ast).pipe(
    Option.orElse(() =>
      ast._tag === "Refinement" ? SchemaAST.getDescriptionAnnotation(ast) : SchemaAST.getTitleAnnotation(ast)
    )
  )
  if (Option.isSome(named)) return capped(named.value)
  switch (ast._tag) {
    case "TypeLiteral":
      return "object"
    case "TupleType":
      return "array"
    case "Union":
      return capped(ast.types.map(expectedOf).join(" | "))
    case "Transformation":
      return expectedOf(ast.to)
    case "Suspend":
      return expectedOf(ast.f())
    default:
      return capped(String(ast))
  }
}

/** One failing path of a body: where, what the schema expected and what kind of value came. */
export interface Issue {
  readonly path: string
  readonly expected: string
  readonly actual: string
}

/** `Array.ensure` (effect's Array module would add ~2 KiB gzipped to a browser bundle for it) */
const ensure = <A>(a: A | ReadonlyArray<A>): ReadonlyArray<A> => (Array.isArray(a) ? a : [a as A])

const walk = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): ReadonlyArray<Issue> => {
  const at = (expected: string, actual: unknown): ReadonlyArray<Issue> => [
    { path: path.length === 0 ? "(root)" : path.map(String).join("."), expected, actual: kindOf(actual) }
  ]
  switch (issue._tag) {
    case "Pointer":
      return walk(issue.issue, [...path, ...ensure(issue.path)])
    case "Composite": {
      const issues = ensure(issue.issues)
      // a union none of whose members got past the value's own type: one line naming every alternative
      return issue.ast._tag === "Union" && issues.every((i) => i._tag !== "Pointer")
        ? at(expectedOf(issue.ast), issue.actual)
        : issues.flatMap((i) => walk(i, path))
    }
    case "Refinement":
      return issue.kind === "From" ? walk(issue.issue, path) : at(expectedOf(issue.ast), issue.actual)
    case "Transformation":
      return issue.kind === "Transformation" ? at(expectedOf(issue.ast), issue.actual) : walk(issue.issue, path)
    case "Type":
    case "Forbidden":
      return at(expectedOf(issue.ast), issue.actual)
    case "Missing":
      return at(expectedOf(issue.ast.type), undefined)
    case "Unexpected":
      return at("no such key", issue.actual)
  }
}

/**
 * The failing paths of a parse error with the expected type and the actual kind at each (at most five), e.g.
 * `expiresIn: expected number, got string`. Values are never copied (they may hold tokens); the stock formatters'
 * messages do copy them.
 */
export const issuesOf = (issue: ParseResult.ParseIssue): ReadonlyArray<Issue> => {
  const seen = new Set<string>()
  const out: Array<Issue> = []
  for (const i of walk(issue, [])) {
    const key = `${i.path}\u0000${i.expected}\u0000${i.actual}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(i)
    if (out.length === MAX_ISSUES) break
  }
  return out
}

/** {@link issuesOf} as one line: `a.b: expected number, got string; c: expected string, got undefined`. */
export const describeIssues = (issue: ParseResult.ParseIssue): string =>
  issuesOf(issue)
    .map((i) => `${i.path}: expected ${i.expected}, got ${i.actual}`)
    .join("; ")

/** A 2xx body: unwrapped from `{ success, data }` and decoded with `schema`. */
export const success = <A, I, R>(
  raw: RawResponse,
  schema: Schema.Schema<A, I, R>,
  method: string,
  route: string
): Effect.Effect<A, BkendError.DecodeError, R> => {
  const decodeError = (message: string, issues?: ReadonlyArray<Issue>) =>
    new BkendError.DecodeError({ status: raw.status, message, method, route, ...(issues ? { issues } : {}) })
  let json: unknown
  try {
    json = raw.text.length === 0 ? undefined : JSON.parse(raw.text)
  } catch {
    return Effect.fail(decodeError("response body is not JSON"))
  }
  return Schema.decodeUnknown(schema, { errors: "all" })(unwrapSuccess(json)).pipe(
    Effect.mapError((e) =>
      decodeError(`response body does not match the expected schema: ${describeIssues(e.issue)}`, issuesOf(e.issue))
    )
  )
}

/** A non-2xx response as its typed error, with every secret in `secrets` removed from what the server said. */
export const failure = (
  raw: RawResponse,
  method: string,
  route: string,
  secrets: ReadonlyArray<string>
): Effect.Effect<BkendError.BkendError> =>
  Effect.map(Clock.currentTimeMillis, (now) =>
    fromResponse({
      status: raw.status,
      method,
      route,
      text: raw.text,
      retryAfterMillis: parseRetryAfter(raw.headers["retry-after"], now),
      limit: parseIntHeader(raw.headers["x-ratelimit-limit"]),
      remaining: parseIntHeader(raw.headers["x-ratelimit-remaining"]),
      secrets
    })
  )
