/**
 * The data routes of the in-memory client: the local server's own table engine (row validation, ids, unique
 * checks, the list-query parser and evaluator, the spec and OpenAPI builders) applied to plain maps, without
 * HTTP, sessions or permissions.
 */
import { Clock, Effect, Either } from "effect"
import type * as BkendClient from "../../BkendClient.js"
import { openapi } from "../../local/internal/openapi.js"
import * as Engine from "../../local/internal/tables.js"
import * as MemoryQuery from "../../local/internal/memory/query.js"
import * as RowQuery from "../../local/internal/rowQuery.js"

/** What a route answers instead of a body: the status, code and message a bkend error response carries. */
export interface Rejection {
  readonly status: number
  readonly code: string
  readonly message: string
}

/** The tables of the in-memory client: name → the table's config and rows (wire form, insertion order). */
export interface TablesState {
  readonly tables: Map<string, Engine.TableState>
  /** tables declared up front (their columns, unique fields and required fields apply); others are schemaless */
  readonly declared: ReadonlyArray<Engine.TableConfig>
  /** `createdBy` of every row written */
  readonly userId: string
}

/** One request as `BkendClient.request` receives it, without its response schema. */
export interface Call {
  readonly method: BkendClient.Method
  readonly route: string
  readonly params: Readonly<Record<string, string>>
  readonly query: Readonly<Record<string, BkendClient.QueryValue>>
  readonly body: unknown
}

const fromEither = <A>(result: Either.Either<A, Rejection>): Effect.Effect<A, Rejection> =>
  Either.isLeft(result) ? Effect.fail(result.left) : Effect.succeed(result.right)

const reject = (status: number, code: string, message: string): Effect.Effect<never, Rejection> =>
  Effect.fail({ status, code, message })

/**
 * The table a call addresses: stored, or declared (materialised on first use), or, for creates and lists, a new
 * schemaless one (as a development server treats a table nobody wrote to yet); otherwise 404.
 */
const tableOf = (state: TablesState, name: string, mode: "create" | "list" | "existing") =>
  Effect.flatMap(fromEither(Engine.validateTableName(name)), () => {
    const stored = state.tables.get(name)
    if (stored !== undefined) return Effect.succeed(stored)
    const declared = state.declared.find((t) => t.name === name)
    if (declared === undefined && mode === "existing") {
      return reject(404, "data/table-not-found", `Table '${name}' not found`)
    }
    const table = Engine.makeTableState(declared ?? Engine.devTableConfig(name))
    if (mode !== "list") state.tables.set(name, table)
    return Effect.succeed(table)
  })

const rowOf = (table: Engine.TableState, id: string) => {
  const row = table.rows.get(id)
  return row === undefined ? reject(404, "data/not-found", "Record not found") : Effect.succeed(row)
}

const save = (table: Engine.TableState, row: Engine.Row) =>
  Effect.as(
    Effect.tap(fromEither(Engine.checkUnique(table.config, table.rows.values(), row)), () =>
      table.rows.set(row.id, row)
    ),
    row
  )

/** Query values as a server's query-string parser hands them over: strings, repeated ones as arrays. */
const searchParams = (query: Call["query"]): Engine.QueryParams => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) out[key] = typeof value === "object" ? value : String(value)
  }
  return out
}

/** The data list body: the page's items and the documented data pagination. */
const listBody = (items: ReadonlyArray<Engine.Row>, total: number, page: number, limit: number) => ({
  items,
  pagination: {
    page,
    limit,
    total,
    totalPages: Math.ceil(total / limit),
    hasNext: page * limit < total,
    hasPrev: page > 1
  }
})

/** Seeds a table with rows as if they had been created one by one. */
export const seed = (state: TablesState, name: string, rows: ReadonlyArray<unknown>): Effect.Effect<void, Rejection> =>
  Effect.forEach(rows, (row) => create(state, name, row), { discard: true })

const create = (state: TablesState, name: string, body: unknown) =>
  Effect.gen(function* () {
    const table = yield* tableOf(state, name, "create")
    const now = yield* Clock.currentTimeMillis
    const meta = { id: Engine.newRowId(now), createdBy: state.userId, now: new Date(now).toISOString() }
    return yield* save(table, yield* fromEither(Engine.prepareCreate(table.config, body, meta)))
  })

const list = (state: TablesState, name: string, call: Call) =>
  Effect.gen(function* () {
    const table = yield* tableOf(state, name, "list")
    const query = yield* fromEither(Engine.parseListQuery(table.config, searchParams(call.query)))
    const result = MemoryQuery.run(table.rows.values(), RowQuery.fromListQuery(query, undefined))
    return listBody(result.items, result.total, query.page, query.limit)
  })

const update = (state: TablesState, name: string, id: string, body: unknown) =>
  Effect.gen(function* () {
    const table = yield* tableOf(state, name, "existing")
    const current = yield* rowOf(table, id)
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    return yield* save(table, yield* fromEither(Engine.prepareUpdate(table.config, current, body, now)))
  })

const remove = (state: TablesState, name: string, id: string) =>
  Effect.gen(function* () {
    const table = yield* tableOf(state, name, "existing")
    yield* rowOf(table, id)
    table.rows.delete(id)
    return {}
  })

/** Answers a data route (`/v1/data/:table…`), or `undefined` when the call is not one. */
export const handle = (state: TablesState, call: Call): Effect.Effect<unknown, Rejection> | undefined => {
  const name = call.params.table ?? ""
  const id = call.params.id ?? ""
  switch (`${call.method} ${call.route}`) {
    case "POST /v1/data/:table":
      return create(state, name, call.body)
    case "GET /v1/data/:table":
      return list(state, name, call)
    case "GET /v1/data/:table/:id":
      return Effect.flatMap(tableOf(state, name, "existing"), (table) => rowOf(table, id))
    case "PATCH /v1/data/:table/:id":
      return update(state, name, id, call.body)
    case "DELETE /v1/data/:table/:id":
      return remove(state, name, id)
    case "GET /v1/data/:table/spec":
      return Effect.map(tableOf(state, name, "existing"), (table) => Engine.spec(table.config))
    case "GET /v1/data/:table/openapi":
      return Effect.map(tableOf(state, name, "existing"), (table) => openapi(table.config))
    default:
      return undefined
  }
}
