/**
 * A fresh PostgreSQL database per test file: created through the `postgres` database, dropped when the layer
 * closes. PostgreSQL runs on 127.0.0.1:5432 with trust auth (`BKEND_TEST_PG_HOST` / `_PORT` override).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Layer } from "effect"
import * as crypto from "node:crypto"

const host = process.env.BKEND_TEST_PG_HOST ?? "127.0.0.1"
const port = Number(process.env.BKEND_TEST_PG_PORT ?? "5432")

/** The URL of one database, as `--database-url` takes it. */
export const databaseUrl = (database: string): string => `postgres://postgres@${host}:${port}/${database}`

/** Client options for one database. */
export const clientConfig = (database: string): PgClient.PgClientConfig => ({
  host,
  port,
  username: "postgres",
  database,
  maxConnections: 4
})

const admin = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.provide(PgClient.layer(clientConfig("postgres"))))

/** The name of this file's database. */
export class TestDatabase extends Context.Tag("test/local/pg/TestDatabase")<TestDatabase, string>() {}

/** Creates `bkend_test_<random>` and drops it (with its connections) afterwards. */
export const databaseLayer: Layer.Layer<TestDatabase, unknown> = Layer.scoped(
  TestDatabase,
  Effect.acquireRelease(
    Effect.suspend(() => {
      const name = `bkend_test_${crypto.randomBytes(6).toString("hex")}`
      return Effect.as(
        admin((sql) => sql`CREATE DATABASE ${sql(name)}`),
        name
      )
    }),
    (name) => Effect.orDie(admin((sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`))
  )
)

/** An `SqlClient` (own pool) on the test database. */
export const clientLayer: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient | TestDatabase, unknown> =
  Layer.unwrapEffect(
    Effect.map(TestDatabase, (name) =>
      Layer.merge(PgClient.layer(clientConfig(name)), Layer.succeed(TestDatabase, name))
    )
  ).pipe(Layer.provide(databaseLayer))
