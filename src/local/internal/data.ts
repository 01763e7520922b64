/**
 * Data routes (create, list, read, update, delete, spec, openapi), each under `/v1/data/:tableName…` and the shorthand `/v1/:tableName…`.
 * Fixed prefixes (`auth`, `users`, `files`, `data`) never reach a table through the shorthand; the literal
 * `spec` / `openapi` segments win over `:id`.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import type { HttpServerResponse } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import type { DuplicateKey } from "../Store.js"
import * as K from "./kernel.js"
import { openapi } from "./openapi.js"
import * as RowQuery from "./rowQuery.js"
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

interface Resolved {
  readonly config: Tables.TableConfig
  /** `false`: a devMode table nobody wrote to yet, not in the store. */
  readonly registered: boolean
}

/**
 * The table a request addresses. Declared tables (`options.tables`) are stored on first use.
 */
const resolveTable = (name: string, mode: Resolve): Effect.Effect<Resolved, K.ApiError, K.Local> =>
  Effect.gen(function* () {
    const { options } = yield* K.Local
    const stored = yield* K.stored((store) => store.tables.get(name))
    if (Option.isSome(stored)) return { config: stored.value, registered: true }
    const declared = options.tables.find((t) => t.name === name)
    if (declared !== undefined) {
      return { config: yield* K.stored((store) => store.tables.ensure(declared)), registered: true }
    }
    if (mode !== "existing" && options.devMode) return { config: Tables.devTableConfig(name), registered: false }
    return yield* K.fail(404, "data/table-not-found", `Table '${name}' not found`)
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

const rowNotFound = K.fail(404, "data/not-found", "Record not found")

const findRow = (table: string, id: string): Effect.Effect<Tables.Row, K.ApiError, K.Local> =>
  Tables.isRowId(id)
    ? Effect.flatMap(
        K.stored((store) => store.rows.get(table, id)),
        Option.match({ onNone: () => rowNotFound, onSome: Effect.succeed })
      )
    : rowNotFound

// The store refused a write for repeating a unique key (checked inside the write, so also across instances).
const duplicate = (e: DuplicateKey) => orFail(Either.left(Tables.duplicateValue(e.fields)))

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
    const row = yield* orFail(
      Tables.prepareCreate(table.config, input, {
        id: Tables.newRowId(nowMillis),
        createdBy: caller.userId ?? "",
        now: K.iso(nowMillis)
      })
    )
    // A dev-mode table is registered with its first row (a concurrent first write may have registered it).
    if (!table.registered) yield* K.stored((store) => store.tables.ensure(table.config))
    const saved = yield* K.stored((store) => store.rows.insert(name, row)).pipe(
      Effect.catchTag("DuplicateKey", duplicate)
    )
    return yield* K.ok(Tables.readableRow(table.config, saved, principal), 201)
  })

const read = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "existing")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "read", principal))
    const row = yield* findRow(name, yield* rowId)
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
    // the caller's row rules are part of the query, so the page and its total count only the rows they may see
    const rowQuery = RowQuery.fromListQuery(query, access === "self" ? (principal.userId ?? "") : undefined, rowFilters)
    const result = table.registered
      ? yield* K.stored((store) => store.rows.query(name, rowQuery))
      : { items: [], total: 0 }
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
    yield* findRow(name, id)
    const input = yield* requestBody
    const now = K.iso(yield* K.now)
    // Checked and applied to the row as stored when the write happens, in one store update: another request may
    // have changed it since it was read. A refused update writes the row back unchanged.
    const outcome: { refused: Tables.TableError | undefined } = { refused: undefined }
    const next = (current: Tables.Row) => {
      const result = Either.flatMap(Tables.checkRowAccess(access, current, principal, "update"), () =>
        Either.flatMap(Tables.checkWritable(table.config, input, principal, current), () =>
          Tables.prepareUpdate(table.config, current, input, now)
        )
      )
      outcome.refused = Either.isLeft(result) ? result.left : undefined
      return Either.getOrElse(result, () => current)
    }
    const updated = yield* K.stored((store) => store.rows.update(name, id, next)).pipe(
      Effect.catchTag("DuplicateKey", duplicate)
    )
    if (outcome.refused !== undefined) return yield* orFail(Either.left(outcome.refused))
    if (Option.isNone(updated)) return yield* rowNotFound
    return yield* K.ok(Tables.readableRow(table.config, updated.value, principal))
  })

const remove = (shorthand: boolean): Handler =>
  Effect.gen(function* () {
    const name = yield* tableName(shorthand)
    const caller = yield* K.caller("data")
    const table = yield* resolveTable(name, "existing")
    const principal = principalOf(caller)
    const access = yield* orFail(Tables.authorize(table.config, "delete", principal))
    const id = yield* rowId
    // the rule reads only the row's creator, which never changes: checking before the delete is enough
    yield* orFail(Tables.checkRowAccess(access, yield* findRow(name, id), principal, "delete"))
    if (Option.isNone(yield* K.stored((store) => store.rows.delete(name, id)))) return yield* rowNotFound
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
