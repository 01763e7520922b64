/**
 * Dynamic tables (`/v1/data/:table…`): typed CRUD, lists with filters, sort, search and select,
 * lazy streaming over every page, counts, and the table's spec / OpenAPI document.
 *
 * ```ts
 * const Post = Schema.Struct({ title: Schema.String, views: Schema.Number })
 * const program = Effect.gen(function* () {
 *   const posts = (yield* Tables.Tables).table("posts", Post)
 *   const created = yield* posts.create({ data: { title: "Hello", views: 0 } })
 *   const popular = yield* posts.list({ filter: { views: { $gte: 100 } }, sort: { by: "views", direction: "desc" } })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Either, Layer, ParseResult, Schema, SchemaAST, type Stream, type Types } from "effect"
import type { Errors } from "./Auth.js"
import { documented } from "./AuthSchema.js"
import * as BkendClient from "./BkendClient.js"
import * as BkendError from "./BkendError.js"
import { describeIssues, issuesOf } from "./internal/decode.js"
import { normaliseId } from "./internal/envelope.js"
import * as filters from "./internal/filters.js"
import * as Page from "./Page.js"

// ---------------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The fields the server sets on every record. Only `id` is guaranteed on every response (a create
 * response may omit the others); `_id` is accepted in place of `id`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SystemFields = Schema.Struct({
  id: Schema.String,
  createdBy: Schema.optional(Schema.String),
  createdAt: Schema.optional(Schema.String),
  updatedAt: Schema.optional(Schema.String)
})

/**
 * The system fields as every decoded row carries them (`id` always, the others when the server sent them).
 *
 * @since 0.1.0
 * @category models
 */
export interface SystemFields extends Schema.Schema.Type<typeof SystemFields> {}

/**
 * Names of the system fields.
 *
 * @since 0.1.0
 * @category models
 */
export type SystemKey = keyof SystemFields

/**
 * A decoded record: the row schema's fields plus the system fields.
 *
 * @since 0.1.0
 * @category models
 */
export type Row<A> = A & SystemFields

/**
 * What `create` takes: the row's own fields (system fields are set by the server).
 *
 * @since 0.1.0
 * @category models
 */
export type CreateInput<A> = Omit<A, SystemKey>

/**
 * What `update` takes: any subset of the row's own fields.
 *
 * @since 0.1.0
 * @category models
 */
export type UpdateInput<A> = Partial<Omit<A, SystemKey>>

/**
 * The value a condition compares a field with: array fields compare element-wise (as the server does), and
 * fields of unknown type take any JSON scalar.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldValue<V> = unknown extends V
  ? filters.Scalar
  : NonNullable<V> extends ReadonlyArray<infer E>
    ? E
    : Exclude<V, undefined>

/**
 * The documented operators; several operators on one field must all hold.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operators<V> {
  readonly $eq?: V | undefined
  readonly $ne?: V | undefined
  readonly $gt?: V | undefined
  readonly $gte?: V | undefined
  readonly $lt?: V | undefined
  readonly $lte?: V | undefined
  readonly $in?: ReadonlyArray<V> | undefined
  readonly $nin?: ReadonlyArray<V> | undefined
  /** a JavaScript-style pattern (a `RegExp` without flags is accepted and sent as its source) */
  readonly $regex?: string | RegExp | undefined
  readonly $exists?: boolean | undefined
}

/**
 * A condition on one field: a value (equality) or an operator object.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition<V> = V | Operators<V>

/**
 * A filter over a row's wire fields (the schema's encoded side plus the system fields): every condition must hold.
 *
 * @since 0.1.0
 * @category models
 */
export type Filter<Fields> = { readonly [K in keyof Fields]?: Condition<FieldValue<Fields[K]>> | undefined }

/**
 * The wire shape of a row of a table whose schema encodes to `I`.
 *
 * @since 0.1.0
 * @category models
 */
export type WireRow<I> = I & SystemFields

/**
 * Fields that `select` may name: present on both sides of the schema.
 *
 * @since 0.1.0
 * @category models
 */
export type SelectableKey<A, I> = keyof A & keyof I & string

/**
 * The decoded row type for a `select` of keys `K` (all fields when nothing is selected); system fields are always
 * returned.
 *
 * @since 0.1.0
 * @category models
 */
export type Selected<A, K extends PropertyKey> = [K] extends [never]
  ? Row<A>
  : Row<Types.Simplify<Pick<A, K & keyof A>>>

/**
 * Filters shared by `list`, `stream` and `count`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CountQuery<I> {
  /** `andFilters`: every condition must hold */
  readonly filter?: Filter<WireRow<I>> | undefined
  /**
   * `orFilters`: at least one alternative must hold. Each alternative constrains one field; alternatives that are
   * equalities on the same field are merged into `$in`, other repeats fail with `InvalidInput`.
   */
  readonly or?: ReadonlyArray<Filter<WireRow<I>>> | undefined
  /** partial-match search text */
  readonly search?: string | undefined
  /** the one field to search (every field when absent) */
  readonly searchType?: (keyof WireRow<I> & string) | undefined
}

/**
 * What `stream` takes: the filters, plus page size, sort and `select`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamQuery<A, I, K extends SelectableKey<A, I>> extends CountQuery<I> {
  /** page size, 1–100 (default 20 for `list`, 100 for `stream`) */
  readonly limit?: number | undefined
  readonly sort?:
    | { readonly by: keyof WireRow<I> & string; readonly direction?: "asc" | "desc" | undefined }
    | undefined
  /** fields to return (system fields always come back); narrows the decoded type */
  readonly select?: ReadonlyArray<K> | undefined
}

/**
 * What `list` takes: the stream query plus the page to read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListQuery<A, I, K extends SelectableKey<A, I>> extends StreamQuery<A, I, K> {
  /** 1-based page number (default 1) */
  readonly page?: number | undefined
}

/**
 * The table's schema, indexes and permissions (`GET /v1/data/:table/spec`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TableSpec = Schema.Struct({
  tableName: Schema.String,
  /** JSON-Schema-like object with `bsonType`s */
  schema: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  indexes: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({
        key: Schema.Record({ key: Schema.String, value: Schema.Number }),
        unique: Schema.optional(Schema.Boolean)
      })
    ),
    { default: () => [] }
  ),
  permissions: Schema.optional(
    Schema.Record({
      key: Schema.String,
      value: Schema.Record({ key: Schema.String, value: Schema.Boolean })
    })
  )
})

/**
 * What `Table.spec` returns: the table's bsonType schema, indexes and permissions.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableSpec extends Schema.Schema.Type<typeof TableSpec> {}

/**
 * The OpenAPI 3.0 document generated from the table's schema (`GET /v1/data/:table/openapi`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const OpenApiDocument = Schema.Struct({
  openapi: Schema.String,
  info: Schema.Struct({
    title: Schema.String,
    version: Schema.String,
    description: Schema.optional(Schema.String)
  }),
  paths: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  components: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * What `Table.openapi` returns, e.g. to generate another client for the table.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenApiDocument extends Schema.Schema.Type<typeof OpenApiDocument> {}

/**
 * What reading a table can fail with: a rejected query (`BadRequest`), no or an expired session (`Unauthorized`),
 * row-level security (`Forbidden`), a missing table or record (`NotFound`), input the SDK rejects before sending
 * (`InvalidInput`), and the transport errors every call can meet (rate limit, network, 5xx, decoding, an
 * undocumented status as `UnexpectedStatus`).
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadError = Errors<"BadRequest" | "Unauthorized" | "Forbidden" | "NotFound" | "InvalidInput">

/**
 * What writing a record can fail with: {@link ReadError}, plus `Conflict` when a unique field's value is taken.
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteError = ReadError | Errors<"Conflict">

/**
 * A client for one table. With a row schema `Schema<A, I>` every method is typed: rows decode to `A` plus the
 * system fields, `create` takes `A` without them, `update` any subset, and filters follow `I` (the wire side).
 * Every method fails with `InvalidInput` before sending anything when the table name, an id, a page bound, a
 * filter or the input does not validate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Table<A, I> {
  readonly name: string
  /**
   * Creates a record. `POST /v1/data/:table`.
   */
  readonly create: (options: { readonly data: CreateInput<A> }) => Effect.Effect<Row<A>, WriteError>
  /**
   * Reads one record. `GET /v1/data/:table/:id`.
   */
  readonly get: (options: { readonly id: string }) => Effect.Effect<Row<A>, WriteError>
  /**
   * Changes the given fields; returns the whole updated record. `PATCH /v1/data/:table/:id`.
   */
  readonly update: (options: {
    readonly id: string
    readonly data: UpdateInput<A>
  }) => Effect.Effect<Row<A>, WriteError>
  /**
   * Deletes a record permanently. `DELETE /v1/data/:table/:id`.
   */
  readonly delete: (options: { readonly id: string }) => Effect.Effect<void, ReadError>
  /**
   * One page of records. `GET /v1/data/:table` (always sends `limit`).
   */
  readonly list: <K extends SelectableKey<A, I> = never>(
    query?: ListQuery<A, I, K>
  ) => Effect.Effect<Page.Page<Selected<A, K>>, ReadError>
  /**
   * Every record matching the query, page after page, lazily: the next page is requested while the current one is
   * consumed; at most one request is in flight and at most two pages are held. `GET /v1/data/:table`.
   */
  readonly stream: <K extends SelectableKey<A, I> = never>(
    query?: StreamQuery<A, I, K>
  ) => Stream.Stream<Selected<A, K>, ReadError>
  /**
   * The number of records matching the filters (`pagination.total` of a `limit=1` list). `GET /v1/data/:table`.
   */
  readonly count: (query?: CountQuery<I>) => Effect.Effect<number, ReadError>
  /**
   * The table's schema, indexes and permissions. `GET /v1/data/:table/spec`.
   */
  readonly spec: Effect.Effect<TableSpec, ReadError>
  /**
   * The OpenAPI document of the table. `GET /v1/data/:table/openapi`.
   */
  readonly openapi: Effect.Effect<OpenApiDocument, ReadError>
}

/**
 * Gives a typed client per table (`table(name, schema)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * A client for the table `name`. Without a schema rows are `Record<string, unknown>` (still checked to be
   * objects with an `id`).
   */
  readonly table: {
    <A, I>(name: string, schema: Schema.Schema<A, I, never>): Table<A, I>
    (name: string): Table<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>>
  }
}

/**
 * The tag of the tables service; `Bkend.layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Tables extends Context.Tag("bkend-effect/Tables")<Tables, Service>() {}

// ---------------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------------

const readErrors = documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput")
const writeErrors = documented("BadRequest", "Unauthorized", "Forbidden", "NotFound", "InvalidInput", "Conflict")

/**
 * Table names accepted by the SDK: a letter or `_` (system tables), then letters, digits, `_` and `-`.
 *
 * @since 0.1.0
 * @category constants
 */
export const tableNamePattern: RegExp = /^[A-Za-z_][A-Za-z0-9_-]*$/

const MAX_LIMIT = 100

const UnknownRecord = Schema.Record({ key: Schema.String, value: Schema.Unknown })

type Method = BkendClient.Method
type Route = "/v1/data/:table" | "/v1/data/:table/:id" | "/v1/data/:table/spec" | "/v1/data/:table/openapi"

const invalidInput = (method: Method, route: Route, field: string, message: string) =>
  new BkendError.InvalidInput({ status: 0, field, message, method, route })

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const checkInt = (
  method: Method,
  route: Route,
  field: string,
  value: number | undefined,
  min: number,
  max: number
): Effect.Effect<void, BkendError.InvalidInput> =>
  value === undefined || (Number.isInteger(value) && value >= min && value <= max)
    ? Effect.void
    : Effect.fail(invalidInput(method, route, field, `${field} must be an integer between ${min} and ${max}`))

const make_ = <A, I>(client: BkendClient.Service, name: string, schema: Schema.Schema<A, I, never> | undefined) => {
  const checkName = (method: Method, route: Route) =>
    tableNamePattern.test(name)
      ? Effect.void
      : Effect.fail(invalidInput(method, route, "table", "table name must match ^[A-Za-z_][A-Za-z0-9_-]*$"))

  /**
   * Decodes one record: `_id` → `id`, system fields, then the row schema (picked down to `select`). The AST really
   * decodes to `Selected<A, K>`; TypeScript cannot follow `select === undefined` to `K = never`, so the type is
   * stated here, once.
   */
  const rowDecoder = <K extends SelectableKey<A, I> = never>(
    select: ReadonlyArray<K> | undefined,
    status: number,
    method: Method,
    route: Route
  ) => {
    const ast =
      schema === undefined ? UnknownRecord.ast : select === undefined ? schema.ast : SchemaAST.pick(schema.ast, select)
    const fields = Schema.make<Selected<A, K>, unknown, never>(ast)
    return (raw: unknown): Effect.Effect<Selected<A, K>, BkendError.DecodeError> =>
      Effect.gen(function* () {
        const record = normaliseId(raw)
        if (!isPlainObject(record)) return yield* Effect.fail(new ParseResult.Type(UnknownRecord.ast, record))
        const system = yield* ParseResult.decodeUnknown(SystemFields)(record)
        const own = yield* ParseResult.decodeUnknown(fields)(record)
        return { ...own, ...system }
      }).pipe(
        Effect.mapError(
          (issue) =>
            new BkendError.DecodeError({
              status,
              message: `record does not match the table schema: ${describeIssues(issue)}`,
              method,
              route,
              issues: issuesOf(issue)
            })
        )
      )
  }

  const encodeInput = (method: Method, route: Route, input: unknown) => {
    if (!isPlainObject(input)) {
      return Effect.fail(invalidInput(method, route, "data", "data must be an object of the table's fields"))
    }
    for (const key of Object.keys(input)) {
      if (key === "id" || key === "createdBy" || key === "createdAt" || key === "updatedAt" || key === "_id") {
        return Effect.fail(invalidInput(method, route, key, `${key} is a system field and cannot be written`))
      }
    }
    if (schema === undefined) return Effect.succeed<unknown>(input)
    // picked to the given keys: `update` sends a subset, and a `Schema.Class` row schema encodes plain objects
    // (its surrogate struct) instead of demanding class instances; unknown fields fail instead of being dropped
    const encoder = Schema.make<unknown, unknown, never>(SchemaAST.pick(schema.ast, Object.keys(input)))
    return Schema.encodeUnknown(encoder, { onExcessProperty: "error" })(input).pipe(
      Effect.mapError((e) =>
        invalidInput(method, route, "data", `data does not match the table schema: ${describeIssues(e.issue)}`)
      )
    )
  }

  const queryOf = (
    method: Method,
    route: Route,
    query: {
      readonly filter?: unknown
      readonly or?: ReadonlyArray<unknown> | undefined
      readonly search?: string | undefined
      readonly searchType?: string | undefined
      readonly sort?: { readonly by: string; readonly direction?: "asc" | "desc" | undefined } | undefined
      readonly select?: ReadonlyArray<string> | undefined
    }
  ): Effect.Effect<Record<string, string | undefined>, BkendError.InvalidInput> => {
    const fail = (p: filters.FilterProblem) => Effect.fail(invalidInput(method, route, p.field, p.message))
    const and = query.filter === undefined ? Either.right(undefined) : filters.encodeAnd(query.filter)
    if (Either.isLeft(and)) return fail(and.left)
    const or = query.or === undefined ? Either.right(undefined) : filters.encodeOr(query.or)
    if (Either.isLeft(or)) return fail(or.left)
    if (query.sort !== undefined && query.sort.direction !== undefined) {
      if (query.sort.direction !== "asc" && query.sort.direction !== "desc") {
        return fail({ field: "sort.direction", message: "sort.direction must be asc or desc" })
      }
    }
    if (query.select !== undefined) {
      for (const field of query.select) {
        if (typeof field !== "string" || field.length === 0 || field.includes(",")) {
          return fail({ field: "select", message: "select names must be non-empty and contain no comma" })
        }
      }
    }
    return Effect.succeed({
      andFilters: and.right === undefined ? undefined : JSON.stringify(and.right),
      orFilters: or.right === undefined ? undefined : JSON.stringify(or.right),
      search: query.search,
      searchType: query.searchType,
      sortBy: query.sort?.by,
      sortDirection: query.sort?.direction,
      // one comma-separated parameter
      select: query.select === undefined || query.select.length === 0 ? undefined : query.select.join(",")
    })
  }

  const fetchPage = <K extends SelectableKey<A, I>>(
    query: ListQuery<A, I, K>,
    defaultLimit: number
  ): Effect.Effect<Page.Page<Selected<A, K>>, ReadError> =>
    Effect.gen(function* () {
      const route = "/v1/data/:table" as const
      yield* checkName("GET", route)
      const page = query.page ?? 1
      const limit = query.limit ?? defaultLimit
      yield* checkInt("GET", route, "page", page, 1, Number.MAX_SAFE_INTEGER)
      yield* checkInt("GET", route, "limit", limit, 1, MAX_LIMIT)
      const params = yield* queryOf("GET", route, query)
      const body = yield* client.request({
        method: "GET",
        route,
        params: { table: name },
        query: { page, limit, ...params },
        auth: "optional",
        response: Page.schema(Schema.Unknown, { page, limit })
      })
      const items = yield* Effect.forEach(body.items, rowDecoder(query.select, 200, "GET", route))
      return { ...body, items }
    }).pipe(readErrors)

  const table: Table<A, I> = {
    name,
    create: Effect.fn("Tables.create")(function* (options) {
      const route = "/v1/data/:table" as const
      yield* checkName("POST", route)
      const body = yield* encodeInput("POST", route, options.data)
      const raw = yield* client.request({
        method: "POST",
        route,
        params: { table: name },
        body,
        auth: "optional",
        response: Schema.Unknown
      })
      return yield* rowDecoder(undefined, 201, "POST", route)(raw)
    }, writeErrors),
    get: Effect.fn("Tables.get")(function* (options) {
      const route = "/v1/data/:table/:id" as const
      yield* checkName("GET", route)
      const raw = yield* client.request({
        method: "GET",
        route,
        params: { table: name, id: options.id },
        auth: "optional",
        response: Schema.Unknown
      })
      return yield* rowDecoder(undefined, 200, "GET", route)(raw)
    }, readErrors),
    update: Effect.fn("Tables.update")(function* (options) {
      const route = "/v1/data/:table/:id" as const
      yield* checkName("PATCH", route)
      const body = yield* encodeInput("PATCH", route, options.data)
      const raw = yield* client.request({
        method: "PATCH",
        route,
        params: { table: name, id: options.id },
        body,
        auth: "optional",
        response: Schema.Unknown
      })
      return yield* rowDecoder(undefined, 200, "PATCH", route)(raw)
    }, writeErrors),
    delete: Effect.fn("Tables.delete")(function* (options) {
      const route = "/v1/data/:table/:id" as const
      yield* checkName("DELETE", route)
      yield* client.request({
        method: "DELETE",
        route,
        params: { table: name, id: options.id },
        auth: "optional",
        response: Schema.Unknown
      })
    }, readErrors),
    list: (query = {}) => fetchPage(query, 20).pipe(Effect.withSpan("Tables.list", { attributes: { table: name } })),
    stream: (query = {}) =>
      filters.paginate(
        (page) =>
          fetchPage({ ...query, page }, MAX_LIMIT).pipe(
            Effect.withSpan("Tables.stream.page", { attributes: { table: name, page } })
          ),
        1
      ),
    count: Effect.fn("Tables.count")(function* (query = {}) {
      const page = yield* fetchPage<never>({ ...query, limit: 1 }, 1)
      return page.total
    }),
    spec: Effect.gen(function* () {
      const route = "/v1/data/:table/spec" as const
      yield* checkName("GET", route)
      return yield* client.request({
        method: "GET",
        route,
        params: { table: name },
        auth: "optional",
        response: TableSpec
      })
    }).pipe(readErrors, Effect.withSpan("Tables.spec", { attributes: { table: name } })),
    openapi: Effect.gen(function* () {
      const route = "/v1/data/:table/openapi" as const
      yield* checkName("GET", route)
      return yield* client.request({
        method: "GET",
        route,
        params: { table: name },
        auth: "optional",
        response: OpenApiDocument
      })
    }).pipe(readErrors, Effect.withSpan("Tables.openapi", { attributes: { table: name } }))
  }
  return table
}

/**
 * Builds the service on a `BkendClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, BkendClient.BkendClient> = Effect.map(
  BkendClient.BkendClient,
  (client) => {
    function table<A, I>(name: string, schema: Schema.Schema<A, I, never>): Table<A, I>
    function table(name: string): Table<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>>
    function table<A, I>(name: string, schema?: Schema.Schema<A, I, never>) {
      return make_(client, name, schema)
    }
    return { table }
  }
)

/**
 * The tables service, for a `BkendClient` provided from outside (`Bkend.layer` wires both).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Tables, never, BkendClient.BkendClient> = Layer.effect(Tables, make)
