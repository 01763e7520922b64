/**
 * `LocalOptions` as a Schema: what the CLI's `--config` file is decoded with. One field per option; the type checks
 * below fail to compile when `LocalOptions` gains a field that is missing here (or the two disagree on a type),
 * so a new server option reaches `--config` by adding one line.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"
import type * as K from "./kernel.js"
import { TableConfig } from "./tables.js"

const Positive = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/**
 * One fault-injection rule (see `FaultRule`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FaultRuleSchema = Schema.Struct({
  route: Schema.String,
  kind: Schema.Literal("500", "503", "429", "reset", "delay"),
  probability: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  delayMillis: Schema.optional(NonNegativeInt),
  times: Schema.optional(NonNegativeInt)
})

const fields = {
  envelope: Schema.Literal("wrapped", "bare", "hybrid"),
  errors: Schema.Literal("domain", "ref-auth", "nest", "superset"),
  pagination: Schema.Literal("documented", "union"),
  deletes: Schema.Literal("200", "204"),
  accessTokenTtlSeconds: Positive,
  refreshTokenTtlSeconds: Positive,
  passwordPolicy: Schema.Literal("default", "strict"),
  tables: Schema.Array(TableConfig),
  devMode: Schema.Boolean,
  rateLimit: Schema.Struct({ limit: PositiveInt, windowSeconds: Positive }),
  maxBodyBytes: PositiveInt,
  maxUploadBytes: PositiveInt,
  filesDir: Schema.String.pipe(Schema.minLength(1, { message: () => "filesDir is a directory path" })),
  maxJsonDepth: PositiveInt,
  faults: Schema.Array(FaultRuleSchema),
  faultSeed: Schema.Int,
  baseUrl: Schema.String,
  localEndpoints: Schema.Literal("loopback", "always", "never"),
  headersTimeoutMillis: PositiveInt,
  requestTimeoutMillis: PositiveInt,
  keepAliveTimeoutMillis: PositiveInt,
  idleTimeoutMillis: PositiveInt,
  maxHeaderBytes: PositiveInt,
  shutdownTimeoutMillis: NonNegativeInt,
  publishableKey: Schema.String.pipe(
    Schema.pattern(/^pk_[a-fA-F0-9]{64}$/, { message: () => "a publishable key is pk_ followed by 64 hex digits" })
  ),
  secretKey: Schema.String.pipe(
    Schema.pattern(/^sk_[a-fA-F0-9]{64}$/, { message: () => "a secret key is sk_ followed by 64 hex digits" })
  ),
  magicLinkEnabled: Schema.Boolean,
  magicLinkTtlMinutes: Positive,
  requireEmailVerification: Schema.Boolean,
  lists: Schema.Literal("topic", "ref-array"),
  oauthProviders: Schema.Array(Schema.Literal("google", "github")),
  maxFailedSignIns: PositiveInt,
  refreshReuseIntervalSeconds: Schema.Number.pipe(Schema.nonNegative()),
  guestFileList: Schema.Boolean,
  oauthDevSignIn: Schema.Boolean
} as const

type Fields = typeof fields
// Compile-time guards: the same keys as LocalOptions, and every decoded value assignable to its option.
const sameKeys: [keyof K.LocalOptions] extends [keyof Fields]
  ? [keyof Fields] extends [keyof K.LocalOptions]
    ? true
    : "a field here is not a LocalOptions option"
  : "a LocalOptions option is missing here" = true
const assignable = (o: { readonly [F in keyof Fields]: Schema.Schema.Type<Fields[F]> }): K.LocalOptions => o
void sameKeys
void assignable

/**
 * Every server option, each optional. Unknown keys are errors when decoding with `decodeConfig`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LocalOptionsSchema = Schema.partialWith(Schema.Struct(fields), { exact: true })

/**
 * One problem in a configuration: where (a dotted path such as `tables.0.columns.title.type`) and what.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigProblem {
  readonly path: string
  readonly message: string
}

const strict = { errors: "all", onExcessProperty: "error" } as const
const decodeTables = Schema.decodeUnknownEither(Schema.Array(TableConfig), strict)
const decodeObject = Schema.decodeUnknownEither(LocalOptionsSchema, strict)

/**
 * Decodes a `--config` document: either an array of table declarations or an object of options. Collects every
 * problem (unknown keys included), one per path.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeConfig = (json: unknown): Either.Either<Partial<K.LocalOptions>, ReadonlyArray<ConfigProblem>> => {
  const decoded: Either.Either<Partial<K.LocalOptions>, ParseResult.ParseError> = Array.isArray(json)
    ? Either.map(decodeTables(json), (tables) => ({ tables }))
    : decodeObject(json)
  return Either.mapLeft(decoded, (error) =>
    problemsOf(
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
        path: issue.path.length === 0 ? "(root)" : issue.path.map(String).join("."),
        message: issue.message.startsWith("is unexpected") ? "unknown key" : issue.message
      }))
    )
  )
}

const expectedActual = /^Expected (.*), actual (.*)$/s

/**
 * One problem per path. A union reports each member that failed: the alternatives at one path are merged
 * (`Expected "wrapped" | "bare", actual "bar"`), and a path's problems are dropped when a deeper path explains them
 * (the member that matched further).
 */
const problemsOf = (issues: ReadonlyArray<ConfigProblem>): ReadonlyArray<ConfigProblem> => {
  const byPath = new Map<string, Array<string>>()
  for (const { path, message } of issues) byPath.set(path, [...(byPath.get(path) ?? []), message])
  const paths = [...byPath.keys()]
  const deeper = (path: string) => paths.some((other) => other.startsWith(path === "(root)" ? "" : `${path}.`))
  return paths
    .filter((path) => (path === "(root)" ? paths.length === 1 : !deeper(path)))
    .map((path) => ({ path, message: merge(byPath.get(path) ?? []) }))
}

/** `Expected { readonly name: string; … }` names the whole type of a table; say what kind of value it wants. */
const brief = (message: string): string => {
  const m = expectedActual.exec(message)
  if (m === null) return message
  const expected = m[1] ?? ""
  const kind = expected.startsWith("{") ? "an object" : expected.startsWith("ReadonlyArray<") ? "an array" : expected
  return `Expected ${kind}, actual ${m[2]}`
}

const merge = (raw: ReadonlyArray<string>): string => {
  const messages = [...new Set(raw.map(brief))]
  const parsed = messages.map((m) => expectedActual.exec(m))
  const actuals = new Set(parsed.map((m) => m?.[2]))
  if (messages.length > 1 && parsed.every((m) => m !== null) && actuals.size === 1) {
    return `Expected ${parsed.map((m) => m?.[1]).join(" | ")}, actual ${parsed[0]?.[2]}`
  }
  return messages.join("; ")
}
