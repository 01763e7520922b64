/**
 * The PostgreSQL engine of the storage boundary. `layer` needs an `SqlClient` (as PgClient provides) and applies
 * the pending migrations before it serves; `layerFromUrl` also opens the connection pool.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Layer, Redacted } from "effect"
import { type Service, Store, StoreError } from "../../Store.js"
import * as Auth from "./auth.js"
import * as Data from "./data.js"
import { migrate } from "./migrations.js"
import * as Misc from "./misc.js"
import { op } from "./sql.js"

/**
 * Migrates the database, then answers the store over it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, StoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* op("migrate")(migrate).pipe(
    Effect.catchTag("MigrationError", (e) =>
      Effect.fail(new StoreError({ operation: `migrate (${e.reason})`, code: undefined }))
    )
  )
  return { ...Auth.make(sql), ...Data.make(sql), ...Misc.make(sql) }
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Store, StoreError, SqlClient.SqlClient> = Layer.effect(Store, make)

/**
 * The store on the database at `url` (`postgres://user@host:port/db`), with its own connection pool.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromUrl = (
  url: string | Redacted.Redacted<string>,
  options?: { readonly maxConnections?: number | undefined }
): Layer.Layer<Store, StoreError> =>
  layer.pipe(
    Layer.provide(
      PgClient.layer({
        url: typeof url === "string" ? Redacted.make(url) : url,
        maxConnections: options?.maxConnections,
        applicationName: "bkend-local"
      }).pipe(Layer.mapError(() => new StoreError({ operation: "connect", code: undefined })))
    )
  )
