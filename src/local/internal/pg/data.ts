/**
 * The table registry and the rows of the PostgreSQL engine.
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import type { Service } from "../../Store.js"
import type * as Q from "../rowQuery.js"
import * as Tables from "../tables.js"
import * as Ddl from "./ddl.js"
import { onDuplicate, op, type Sql, stored, transaction } from "./sql.js"
import { compileQuery, type RowColumns } from "./where.js"

const Columns = Schema.Struct({
  id: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  created_at: Schema.DateFromSelf,
  updated_at: Schema.DateFromSelf,
  created_by: Schema.String
})

const decodeRow = (columns: RowColumns) =>
  Effect.map(
    Schema.decodeUnknown(Columns)(columns),
    (c): Tables.Row => ({
      ...c.data,
      id: c.id,
      createdBy: c.created_by,
      createdAt: c.created_at.toISOString(),
      updatedAt: c.updated_at.toISOString()
    })
  )

const decodeFirst = (rows: ReadonlyArray<RowColumns>) =>
  rows[0] === undefined ? Effect.succeed(Option.none()) : Effect.map(decodeRow(rows[0]), Option.some)

const userFields = (row: Tables.Row): Record<string, unknown> => {
  const { id: _id, createdBy: _by, createdAt: _at, updatedAt: _up, ...data } = row
  return data
}

const registry = (sql: Sql) => {
  const config = (name: string) =>
    Effect.map(sql<{ config: unknown }>`SELECT config FROM bkend_tables WHERE name = ${name}`, (rows) =>
      Option.map(Option.fromNullable(rows[0]), (row) => stored<Tables.TableConfig>(row.config))
    )
  const indexes = (name: string) =>
    Effect.map(sql<{ indexes: unknown }>`SELECT indexes FROM bkend_tables WHERE name = ${name}`, (rows) =>
      stored<ReadonlyArray<Ddl.TableIndex>>(rows[0]?.indexes ?? [])
    )
  const lock = sql`SELECT pg_advisory_xact_lock(hashtext('bkend_tables'))`
  const syncIndexes = (next: Tables.TableConfig, before: ReadonlyArray<Ddl.TableIndex>) => {
    const wanted = Ddl.indexesFor(next)
    const stale = before.filter((old) => !wanted.some((index) => index.name === old.name))
    return Effect.gen(function* () {
      yield* Effect.forEach(stale, (index) => Ddl.dropIndex(sql, index.name), { discard: true })
      yield* Effect.forEach(wanted, (index) => Ddl.createIndex(sql, next.name, index), { discard: true })
      yield* sql`UPDATE bkend_tables SET indexes = ${JSON.stringify(wanted)}::jsonb WHERE name = ${next.name}`
    })
  }
  const put = (next: Tables.TableConfig) =>
    transaction(sql)(
      Effect.gen(function* () {
        yield* lock
        const before = yield* indexes(next.name)
        yield* sql`INSERT INTO bkend_tables (name, config) VALUES (${next.name}, ${JSON.stringify(next)}::jsonb)
          ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config`
        yield* syncIndexes(next, before)
        return next
      })
    )
  const ensure = (candidate: Tables.TableConfig) =>
    Effect.flatMap(config(candidate.name), (existing) =>
      Option.isSome(existing)
        ? Effect.succeed(existing.value)
        : transaction(sql)(
            Effect.zipRight(
              lock,
              Effect.flatMap(
                config(candidate.name),
                Option.match({ onNone: () => put(candidate), onSome: Effect.succeed })
              )
            )
          )
    )
  const remove = (name: string) =>
    transaction(sql)(
      Effect.gen(function* () {
        yield* lock
        const before = yield* indexes(name)
        const deleted = yield* sql`DELETE FROM bkend_tables WHERE name = ${name} RETURNING name`
        yield* Effect.forEach(before, (index) => Ddl.dropIndex(sql, index.name), { discard: true })
        return deleted.length > 0
      })
    )
  return { config, indexes, put, ensure, remove }
}

const emptyPage = { items: [], total: 0 }

/**
 * The `tables` and `rows` groups.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (sql: Sql): Pick<Service, "tables" | "rows"> => {
  const tables = registry(sql)
  const fieldsOf = (table: string) => (constraint: string | undefined) =>
    constraint === "bkend_rows_pkey"
      ? Effect.succeed(["id"])
      : Effect.map(tables.indexes(table), (all) => all.find((index) => index.name === constraint)?.fields ?? [])
  const select = (table: string, id: string, lock: boolean) =>
    Effect.flatMap(
      sql<RowColumns>`SELECT id, data, created_at, updated_at, created_by FROM bkend_rows
        WHERE table_name = ${table} AND id = ${id} ${sql.literal(lock ? "FOR UPDATE" : "")}`,
      decodeFirst
    )
  // The statement alone; `onDuplicate` names the violated key, outside any transaction (an aborted one refuses the
  // lookup of the key's fields).
  const write = (table: string, row: Tables.Row, verb: "insert" | "update") => {
    const columns = {
      data: JSON.stringify(userFields(row)),
      created_at: row.createdAt,
      updated_at: row.updatedAt,
      created_by: row.createdBy
    }
    const statement =
      verb === "insert"
        ? sql`INSERT INTO bkend_rows ${sql.insert({ table_name: table, id: row.id, ...columns })}`
        : sql`UPDATE bkend_rows SET ${sql.update(columns)} WHERE table_name = ${table} AND id = ${row.id}`
    return Effect.as(statement, row)
  }
  const query = (table: string, q: Q.RowQuery) =>
    Effect.flatMap(tables.config(table), (config) => {
      if (Option.isNone(config)) return Effect.succeed(emptyPage)
      const statements = compileQuery(sql, config.value, q)
      return Effect.all({
        items: Effect.flatMap(statements.page, (rows) => Effect.forEach(rows, decodeRow)),
        total: Effect.map(statements.count, (rows) => rows[0]?.total ?? 0)
      }).pipe(Effect.map(({ items, total }) => ({ items: items.map((r) => Tables.project(r, q.select)), total })))
    })
  return {
    tables: {
      get: (name) => op("tables.get")(tables.config(name)),
      list: op("tables.list")(
        Effect.map(sql<{ config: unknown }>`SELECT config FROM bkend_tables ORDER BY name`, (rows) =>
          rows.map((row) => stored<Tables.TableConfig>(row.config))
        )
      ),
      put: (config) => op("tables.put")(tables.put(config)),
      ensure: (config) => op("tables.ensure")(tables.ensure(config)),
      delete: (name) => op("tables.delete")(tables.remove(name))
    },
    rows: {
      insert: (table, row) => op("rows.insert")(write(table, row, "insert").pipe(onDuplicate("rows", fieldsOf(table)))),
      get: (table, id) => op("rows.get")(select(table, id, false)),
      update: (table, id, f) =>
        op("rows.update")(
          transaction(sql)(
            Effect.flatMap(select(table, id, true), (current) =>
              Option.isNone(current)
                ? Effect.succeed(Option.none())
                : Effect.map(write(table, { ...f(current.value), id }, "update"), Option.some)
            )
          ).pipe(onDuplicate("rows", fieldsOf(table)))
        ),
      delete: (table, id) =>
        op("rows.delete")(
          Effect.flatMap(
            sql<RowColumns>`DELETE FROM bkend_rows WHERE table_name = ${table} AND id = ${id}
              RETURNING id, data, created_at, updated_at, created_by`,
            decodeFirst
          )
        ),
      query: (table, q) => op("rows.query")(query(table, q))
    }
  }
}
