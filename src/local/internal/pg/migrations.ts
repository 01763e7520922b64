/**
 * The PostgreSQL schema of bkend-local as versioned migrations. Each aggregate has its own table; a record lives in
 * a JSONB column next to the columns its constraints and lookups need. Loaded from a record (not a directory), so
 * it works from the package build.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const statements = (ddl: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(ddl, (text) => sql.unsafe(text), { discard: true }))

const core = statements([
  `CREATE TABLE bkend_keys (id smallint PRIMARY KEY CHECK (id = 1), data jsonb NOT NULL)`,
  `CREATE TABLE bkend_users (id text PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX bkend_users_email ON bkend_users ((data ->> 'email')) WHERE (data ->> 'deletedAt') IS NULL`,
  `CREATE TABLE bkend_sessions (id text PRIMARY KEY, user_id text NOT NULL, data jsonb NOT NULL)`,
  `CREATE INDEX bkend_sessions_user ON bkend_sessions (user_id)`,
  `CREATE TABLE bkend_refresh_tokens (
     jti text PRIMARY KEY,
     session_id text NOT NULL REFERENCES bkend_sessions (id) ON DELETE CASCADE,
     user_id text NOT NULL,
     data jsonb NOT NULL)`,
  `CREATE INDEX bkend_refresh_tokens_session ON bkend_refresh_tokens (session_id)`,
  `CREATE INDEX bkend_refresh_tokens_user ON bkend_refresh_tokens (user_id)`,
  `CREATE TABLE bkend_one_time_tokens (token text PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE TABLE bkend_mail (seq bigserial PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE TABLE bkend_counters (name text PRIMARY KEY, value double precision NOT NULL)`,
  `CREATE TABLE bkend_windows (key text PRIMARY KEY, window_start double precision NOT NULL, count integer NOT NULL)`
])

const data = statements([
  `CREATE TABLE bkend_tables (name text PRIMARY KEY, config jsonb NOT NULL, indexes jsonb NOT NULL DEFAULT '{}')`,
  `CREATE TABLE bkend_rows (
     table_name text NOT NULL REFERENCES bkend_tables (name) ON DELETE CASCADE,
     id text COLLATE "C" NOT NULL,
     data jsonb NOT NULL,
     created_at timestamptz NOT NULL,
     updated_at timestamptz NOT NULL,
     created_by text COLLATE "C" NOT NULL,
     PRIMARY KEY (table_name, id))`,
  `CREATE INDEX bkend_rows_data ON bkend_rows USING gin (data jsonb_path_ops)`,
  `CREATE INDEX bkend_rows_created_at ON bkend_rows (table_name, created_at, id)`,
  `CREATE INDEX bkend_rows_updated_at ON bkend_rows (table_name, updated_at, id)`,
  `CREATE INDEX bkend_rows_created_by ON bkend_rows (table_name, created_by, id)`
])

const files = statements([
  `CREATE TABLE bkend_files (id text PRIMARY KEY, owner_id text NOT NULL, seq bigserial, data jsonb NOT NULL)`,
  `CREATE INDEX bkend_files_owner ON bkend_files (owner_id, seq)`,
  `CREATE UNIQUE INDEX bkend_files_s3_key ON bkend_files ((data ->> 's3Key'))`,
  `CREATE TABLE bkend_objects (key text PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE TABLE bkend_uploads (upload_id text PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE TABLE bkend_upload_parts (
     upload_id text NOT NULL REFERENCES bkend_uploads (upload_id) ON DELETE CASCADE,
     part_number integer NOT NULL,
     data jsonb NOT NULL,
     PRIMARY KEY (upload_id, part_number))`
])

/**
 * The migrations by id: `1_core` (keys, users, sessions, refresh lineage, one-time tokens, mail, counters, rate
 * windows), `2_data` (table registry, rows and their shared indexes), `3_files` (files, objects, uploads).
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations = { "1_core": core, "2_data": data, "3_files": files }

/**
 * The table that records applied migrations.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrationsTable = "bkend_migrations"

const run = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable })

// The Migrator's own table, created up front: its existence probe would otherwise fail inside the transaction.
const migrationsTableDdl = `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  migration_id integer primary key,
  created_at timestamp with time zone not null default now(),
  name text not null
)`

/**
 * Applies the pending migrations; answers the ones applied now. Instances starting together take turns on an
 * advisory lock, so each migration runs once.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.withTransaction(
    Effect.zipRight(
      Effect.zipRight(sql`SELECT pg_advisory_xact_lock(hashtext('bkend_migrations'))`, sql.unsafe(migrationsTableDdl)),
      run
    )
  )
)
