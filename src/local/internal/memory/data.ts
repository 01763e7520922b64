/**
 * The table registry and the rows of the in-memory engine, over the server state's `tables` Map.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { DuplicateKey, type Service, StoreError } from "../../Store.js"
import type { LocalState } from "../kernel.js"
import * as Tables from "../tables.js"
import * as Query from "./query.js"

const conflict = (table: Tables.TableState, row: Tables.Row, replacing: boolean) => {
  if (!replacing && table.rows.has(row.id)) return ["id"]
  return Tables.uniqueConflict(table.config, table.rows.values(), row)
}

const write = (table: Tables.TableState, row: Tables.Row, replacing: boolean) => {
  const fields = conflict(table, row, replacing)
  if (fields !== undefined) return Effect.fail(new DuplicateKey({ aggregate: "rows", fields }))
  table.rows.set(row.id, row)
  return Effect.succeed(row)
}

/**
 * The `tables` and `rows` groups. A row insert into a table that does not exist fails (as the foreign key does on
 * PostgreSQL).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (state: LocalState): Pick<Service, "tables" | "rows"> => {
  const put = (config: Tables.TableConfig) => {
    state.tables.set(config.name, { config, rows: state.tables.get(config.name)?.rows ?? new Map() })
    return config
  }
  return {
    tables: {
      get: (name) => Effect.sync(() => Option.map(Option.fromNullable(state.tables.get(name)), (t) => t.config)),
      list: Effect.sync(() =>
        [...state.tables.values()].map((t) => t.config).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      ),
      put: (config) => Effect.sync(() => put(config)),
      ensure: (config) => Effect.sync(() => state.tables.get(config.name)?.config ?? put(config)),
      delete: (name) => Effect.sync(() => state.tables.delete(name))
    },
    rows: {
      insert: (table, row) =>
        Effect.suspend((): Effect.Effect<Tables.Row, DuplicateKey | StoreError> => {
          const t = state.tables.get(table)
          return t === undefined
            ? Effect.fail(new StoreError({ operation: "rows.insert (no such table)", code: undefined }))
            : write(t, row, false)
        }),
      get: (table, id) => Effect.sync(() => Option.fromNullable(state.tables.get(table)?.rows.get(id))),
      update: (table, id, f) =>
        Effect.suspend(() => {
          const t = state.tables.get(table)
          const current = t?.rows.get(id)
          if (t === undefined || current === undefined) return Effect.succeed(Option.none())
          return Effect.map(write(t, { ...f(current), id }, true), Option.some)
        }),
      delete: (table, id) =>
        Effect.sync(() => {
          const t = state.tables.get(table)
          const current = t?.rows.get(id)
          if (t !== undefined && current !== undefined) t.rows.delete(id)
          return Option.fromNullable(current)
        }),
      query: (table, query) =>
        Effect.sync(() => {
          const t = state.tables.get(table)
          return t === undefined ? { items: [], total: 0 } : Query.run(t.rows.values(), query)
        })
    }
  }
}
