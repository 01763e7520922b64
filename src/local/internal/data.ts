/**
 * Data routes (create, list, read, update, delete, spec, openapi), each under `/v1/data/:tableName…` and the shorthand `/v1/:tableName…`.
 * Fixed prefixes (`auth`, `users`, `files`, `data`) never reach a table through the shorthand; the literal
 * `spec` / `openapi` segments win over `:id`.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import type { HttpServerResponse } from "@effect/platform"
import { Effect, Either } from "effect"
import * as K from "./kernel.js"
import { openapi } from "./openapi.js"
import * as Tables from "./tables.js"

/**
 * First path segments after `/v1/` that belong to other APIs and are never table names on the shorthand path.
 *
 * @since 0.1.0
 * @category constants
 */
export const reservedPrefixes: ReadonlyArray<string> = ["auth", "users", "files", "data"]

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  K.ApiError,
  K.Local | HttpServerRequest.HttpServerRequest | HttpServerRequest.ParsedSearchParams | HttpRouter.RouteContext
>

const orFail = <A>(result: Either.Either<A, Tables.TableError>): Effect.Effect<A, K.ApiError> =>
  Either.isLeft(result)
    ? K.fail(result.left.status, result.left.code, result.left.message)
    : Effect.succeed(result.right)

const principalOf = (caller: K.Caller): Tables.Principal => ({ role: caller.role, userId: caller.userId })

/**
 * How a route treats a table nobody declared or wrote to yet, in `devMode`: `create` gets an unregistered table (the
 * create handler registers it with its first row, so failed writes leave nothing behind), `list` gets an empty,
 * unregistered one (an empty page, as the table would list before its first row), `existing` gets 404. Without
 * `devMode` every route answers 404 `data/table-not-found`.
 */
type Resolve = "create" | "list" | "existing"

/**
 * The table a request addresses. Declared tables (`options.tables`) are materialised into the state on first use.
 */
const resolveTable = (name: string, mode: Resolve): Effect.Effect<Tables.TableState, K.ApiError, K.Local> =>
  Effect.flatMap(K.Local, ({ options, state }) => {
    const existing = state.tables.get(name)
    if (existing !== undefined) return Effect.succeed(existing)
    const declared = options.tables.find((t) => t.name === name)
    if (declared !== undefined) {
      const table = Tables.makeTableState(declared)
      state.tables.set(name, table)
      return Effect.succeed(table)
    }
    if (mode !== "existing" && options.devMode)
      return Effect.succeed(Tables.makeTableState(Tables.devTableConfig(name)))
    return K.fail(404, "data/table-not-found", `Table '${name}' not found`)
  })

/**
 * The `:tableName` path parameter, validated. `shorthand` requests whose first segment is a reserved prefix are a
 * plain route-not-found.
 */
const tableName = (shorthand: boolean): Effect.Effect<string, K.ApiError, HttpRouter.RouteContext> =>
  Effect.flatMap(HttpRouter.params, (params) => {
    const name = params.tableName ?? ""
    if (shorthand && reservedPrefixes.includes(name)) return K.fail(404, "common/not-found", "Route not found")
    return orFail(Tables.validateTableName(name))
  })

const rowId = Effect.map(HttpRouter.params, (params) => params.id ?? "")

const lookup = (table: Tables.TableState, id: string): Either.Either<Tables.Row, Tables.TableError> => {
  const row = Tables.isRowId(id) ? table.rows.get(id) : undefined
  return row === undefined
    ? Either.left(new Tables.TableError({ status: 404, code: "data/not-found", message: "Record not found" }))
    : Either.right(row)
}

const findRow = (table: Tables.TableState, id: string): Effect.Effect<Tables.Row, K.ApiError> =>
  orFail(lookup(table, id))

// Writes below run as one synchronous step (unique check + write), so no other request interleaves.
const commit = (table: Tables.TableState, row: Tables.Row): Either.Either<Tables.Row, Tables.TableError> =>
  Either.map(Tables.checkUnique(table.config, table.rows.values(), row), () => {
    table.rows.set(row.id, row)
    return row
  })

const requestBody = Effect.flatMap(K.jsonBody("data/validation-error"), (json) =>
  json === undefined ? K.fail(400, "data/validation-error", "A JSON body is required") : Effect.succeed(json)
)

const create = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "create")
    const principal = principalOf(caller)
    yield* orFail(Tables.authorize(table.config, "create", principal))
    const input = yield* requestBody
    yield* orFail(Tables.checkWritable(table.config, input, principal, undefined))
    const nowMillis = yield* K.now
    const { state } = yield* K.Local
    const row = yield* orFail(
      Either.flatMap(
        Tables.prepareCreate(table.config, input, {
          id: Tables.newRowId(nowMillis),
          createdBy: caller.userId ?? "",
          now: K.iso(nowMillis)
        }),
        (r) => {
          // A dev-mode table is registered with its first row; a concurrent first write may have registered it.
          const target = state.tables.get(name) ?? table
          return Either.map(commit(target, r), (saved) => {
            state.tables.set(name, target)
            return saved
          })
        }
      )
    )
    return yield* K.ok(Tables.readableRow(table.config, row, principal), 201)
  })

const read = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "existing")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "read", principal))
    const row = yield* findRow(table, yield* rowId)
    yield* orFail(Tables.checkRowAccess(access, row, principal, "read"))
    return yield* K.ok(Tables.readableRow(table.config, row, principal))
  })

const list = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "list")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "list", principal))
    const params = yield* HttpServerRequest.ParsedSearchParams
    const unreadable = Tables.unreadableFields(table.config, principal, access)
    const query = yield* orFail(Tables.parseListQuery(table.config, params, unreadable))
    const rowFilters = yield* orFail(Tables.rowFiltersFor(table.config, principal))
    const result = yield* orFail(
      Tables.runQuery(table.rows.values(), query, access === "self" ? (principal.userId ?? "") : undefined, rowFilters)
    )
    const pagination = yield* K.pagination("data", query.page, query.limit, result.total)
    const items = result.items.map((row) => Tables.readableRow(table.config, row, principal))
    return yield* K.ok({ items, pagination })
  })

const update = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "existing")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "update", principal))
    const id = yield* rowId
    yield* findRow(table, id)
    const input = yield* requestBody
    const now = K.iso(yield* K.now)
    // Re-read after the body was awaited: another request may have changed or deleted the row meanwhile.
    const next = yield* orFail(
      Either.flatMap(lookup(table, id), (current) =>
        Either.flatMap(Tables.checkRowAccess(access, current, principal, "update"), () =>
          Either.flatMap(Tables.checkWritable(table.config, input, principal, current), () =>
            Either.flatMap(Tables.prepareUpdate(table.config, current, input, now), (r) => commit(table, r))
          )
        )
      )
    )
    return yield* K.ok(Tables.readableRow(table.config, next, principal))
  })

const remove = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "existing")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "delete", principal))
    const id = yield* rowId
    yield* orFail(
      Either.flatMap(lookup(table, id), (row) =>
        Either.map(Tables.checkRowAccess(access, row, principal, "delete"), () => {
          table.rows.delete(row.id)
        })
      )
    )
    return yield* K.deleted()
  })

const tableSpec = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.requireUser("data")
    const table = yield* resolveTable(name, "existing")
    yield* orFail(Tables.authorizeSpec(table.config, principalOf(caller)))
    return yield* K.ok(Tables.spec(table.config))
  })

const tableOpenapi = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.requireUser("data")
    const table = yield* resolveTable(name, "existing")
    if (caller.role !== "admin" && Tables.isSystemTable(name) && !Tables.hasConfiguredPermissions(table.config)) {
      return yield* K.fail(403, "data/system-table-access", `Access to system table '${name}' is restricted to admin`)
    }
    return yield* K.ok(openapi(table.config))
  })

const routes = (prefix: "/v1/data" | "/v1", shorthand: boolean): HttpRouter.HttpRouter<K.ApiError, K.Local> =>
  HttpRouter.empty.pipe(
    HttpRouter.get(`${prefix}/:tableName/spec`, tableSpec(shorthand)),
    HttpRouter.get(`${prefix}/:tableName/openapi`, tableOpenapi(shorthand)),
    HttpRouter.post(`${prefix}/:tableName`, create(shorthand)),
    HttpRouter.get(`${prefix}/:tableName`, list(shorthand)),
    HttpRouter.get(`${prefix}/:tableName/:id`, read(shorthand)),
    HttpRouter.patch(`${prefix}/:tableName/:id`, update(shorthand)),
    HttpRouter.del(`${prefix}/:tableName/:id`, remove(shorthand))
  )

/**
 * The data router: every data route under `/v1/data/:tableName…` and the shorthand `/v1/:tableName…`.
 *
 * @since 0.1.0
 * @category routers
 */
export const dataRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.concat(
  routes("/v1/data", false),
  routes("/v1", true)
)
