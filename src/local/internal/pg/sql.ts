/**
 * Shared pieces of the PostgreSQL engine: error mapping, transactions with a retry on deadlocks, and JSONB
 * document tables (a key column, optional lookup columns, the record in `data`).
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, ParseResult, Schedule } from "effect"
import { DuplicateKey, StoreError } from "../../Store.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Sql = SqlClient.SqlClient

/**
 * The SQLSTATE of a driver error, when there is one.
 *
 * @since 0.1.0
 * @category errors
 */
export const sqlState = (error: unknown): string | undefined => {
  const cause = typeof error === "object" && error !== null && "cause" in error ? error.cause : error
  return typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
}

/**
 * The constraint (unique index) named by a driver error, when there is one.
 *
 * @since 0.1.0
 * @category errors
 */
export const violatedConstraint = (error: SqlError): string | undefined => {
  const cause = error.cause
  return typeof cause === "object" && cause !== null && "constraint" in cause && typeof cause.constraint === "string"
    ? cause.constraint
    : undefined
}

/**
 * Whether a driver error is a unique violation.
 *
 * @since 0.1.0
 * @category errors
 */
export const isUniqueViolation = (error: SqlError): boolean => sqlState(error) === "23505"

/**
 * Turns driver and decoding failures into a `StoreError` naming the operation (never the values).
 *
 * @since 0.1.0
 * @category errors
 */
export const op =
  (operation: string) =>
  <A, E, R>(self: Effect.Effect<A, E | SqlError | ParseResult.ParseError, R>) =>
    Effect.catchIf(self, isInfrastructure, (e) => Effect.fail(new StoreError({ operation, code: sqlState(e) })))

const isInfrastructure = (e: unknown): e is SqlError | ParseResult.ParseError =>
  e instanceof SqlError || ParseResult.isParseError(e)

const retryable = (e: unknown): boolean => {
  const code = sqlState(e)
  return code === "40P01" || code === "40001"
}

/**
 * Runs `self` in one transaction, retried a few times when the database aborts it to break a deadlock.
 *
 * @since 0.1.0
 * @category transactions
 */
export const transaction =
  (sql: Sql) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    sql.withTransaction(self).pipe(Effect.retry({ while: retryable, schedule: Schedule.recurs(4) }))

/**
 * Maps a unique violation to `DuplicateKey` with the fields the violated constraint covers.
 *
 * @since 0.1.0
 * @category errors
 */
export const onDuplicate =
  (
    aggregate: DuplicateKey["aggregate"],
    fieldsOf: (constraint: string | undefined) => Effect.Effect<ReadonlyArray<string>, SqlError>
  ) =>
  <A, E, R>(self: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, E | SqlError | DuplicateKey, R> =>
    Effect.catchIf(self, isSqlUniqueViolation, (e) =>
      Effect.flatMap(fieldsOf(violatedConstraint(e)), (fields) => Effect.fail(new DuplicateKey({ aggregate, fields })))
    )

const isSqlUniqueViolation = (e: unknown): e is SqlError => e instanceof SqlError && isUniqueViolation(e)

/**
 * A record this engine wrote to a JSONB column, read back. Only the engine writes these columns, so the shape is
 * the one it stored.
 *
 * @since 0.1.0
 * @category decoding
 */
export const stored = <A>(data: unknown): A => data as A

/**
 * A JSONB document table: `key` column, lookup columns derived from the record, the record in `data`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DocumentSpec<A> {
  readonly table: string
  readonly key: string
  readonly keyOf: (a: A) => string
  readonly columns?: ((a: A) => Record<string, string>) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Documents<A> {
  readonly insert: (a: A) => Effect.Effect<A, SqlError>
  readonly upsert: (a: A) => Effect.Effect<A, SqlError>
  readonly get: (key: string) => Effect.Effect<Option.Option<A>, SqlError>
  /** Reads the document with a row lock (inside a transaction). */
  readonly lock: (key: string) => Effect.Effect<Option.Option<A>, SqlError>
  readonly put: (a: A) => Effect.Effect<A, SqlError>
  readonly delete: (key: string) => Effect.Effect<Option.Option<A>, SqlError>
  /** `f` applied under a row lock, in one transaction. */
  readonly update: (key: string, f: (a: A) => A) => Effect.Effect<Option.Option<A>, SqlError>
  readonly where: (condition: ReturnType<Sql["and"]>, order?: string) => Effect.Effect<ReadonlyArray<A>, SqlError>
}

const firstData = <A>(rows: ReadonlyArray<{ readonly data: unknown }>): Option.Option<A> =>
  Option.map(Option.fromNullable(rows[0]), (row) => stored<A>(row.data))

/**
 * The operations of one document table.
 *
 * @since 0.1.0
 * @category constructors
 */
export const documents = <A>(sql: Sql, spec: DocumentSpec<A>): Documents<A> => {
  const table = sql(spec.table)
  const key = sql(spec.key)
  const record = (a: A): Record<string, string> => ({
    [spec.key]: spec.keyOf(a),
    ...spec.columns?.(a),
    data: JSON.stringify(a)
  })
  const select = (k: string, suffix: ReturnType<Sql["literal"]>) =>
    Effect.map(sql<{ data: unknown }>`SELECT data FROM ${table} WHERE ${key} = ${k} ${suffix}`, firstData<A>)
  const put = (a: A) =>
    Effect.as(sql`UPDATE ${table} SET ${sql.update(record(a), [spec.key])} WHERE ${key} = ${spec.keyOf(a)}`, a)
  return {
    insert: (a) => Effect.as(sql`INSERT INTO ${table} ${sql.insert(record(a))}`, a),
    upsert: (a) =>
      Effect.as(
        sql`INSERT INTO ${table} ${sql.insert(record(a))} ON CONFLICT (${key}) DO UPDATE SET data = EXCLUDED.data`,
        a
      ),
    get: (k) => select(k, sql.literal("")),
    lock: (k) => select(k, sql.literal("FOR UPDATE")),
    put,
    delete: (k) =>
      Effect.map(sql<{ data: unknown }>`DELETE FROM ${table} WHERE ${key} = ${k} RETURNING data`, firstData<A>),
    update: (k, f) =>
      sql.withTransaction(
        Effect.flatMap(select(k, sql.literal("FOR UPDATE")), (current) =>
          Option.match(current, {
            onNone: () => Effect.succeed(Option.none<A>()),
            onSome: (a) => Effect.map(put(f(a)), Option.some)
          })
        )
      ),
    where: (condition, order = spec.key) =>
      Effect.map(
        sql<{ data: unknown }>`SELECT data FROM ${table} WHERE ${condition} ORDER BY ${sql.literal(order)}`,
        (rows) => rows.map((row) => stored<A>(row.data))
      )
  }
}
