/**
 * The pure data-table engine of the local server: table configuration, record validation, unique checks,
 * filter parsing and evaluation, search, sort, select, pagination bounds and row-level security
 * (CONTRACT §8–§10). No HTTP here: `data.ts` turns `TableError`s into the configured error envelope.
 *
 * @since 0.1.0
 */
import { Data, Schema } from "effect"

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/**
 * Design-time column types. `number` is stored as `double`, `reference` as a string id (CONTRACT §8.2).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ColumnType = Schema.Literal(
  "string",
  "number",
  "int",
  "double",
  "boolean",
  "date",
  "object",
  "array",
  "reference"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ColumnType = typeof ColumnType.Type

/**
 * One column: its type and constraints.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ColumnConfig = Schema.Struct({
  type: ColumnType,
  required: Schema.optional(Schema.Boolean),
  unique: Schema.optional(Schema.Boolean),
  pattern: Schema.optional(Schema.String),
  minimum: Schema.optional(Schema.Number),
  maximum: Schema.optional(Schema.Number),
  minLength: Schema.optional(Schema.Number),
  maxLength: Schema.optional(Schema.Number),
  enum: Schema.optional(Schema.Array(Schema.Union(Schema.String, Schema.Number, Schema.Boolean))),
  /** Element type of an `array` column. */
  items: Schema.optional(ColumnType),
  /** Target table of a `reference` column (informational). */
  references: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ColumnConfig extends Schema.Schema.Type<typeof ColumnConfig> {}

const OperationPermissions = Schema.Struct({
  create: Schema.optional(Schema.Boolean),
  read: Schema.optional(Schema.Boolean),
  update: Schema.optional(Schema.Boolean),
  delete: Schema.optional(Schema.Boolean),
  list: Schema.optional(Schema.Boolean)
})

const SelfPermissions = Schema.Struct({
  read: Schema.optional(Schema.Boolean),
  update: Schema.optional(Schema.Boolean),
  delete: Schema.optional(Schema.Boolean),
  list: Schema.optional(Schema.Boolean)
})

/**
 * The boolean permission model (CONTRACT §10.2). A configured object replaces the defaults entirely: a group that
 * is absent grants nothing; a missing `list` takes the group's `read`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TablePermissions = Schema.Struct({
  admin: Schema.optional(OperationPermissions),
  user: Schema.optional(OperationPermissions),
  guest: Schema.optional(OperationPermissions),
  self: Schema.optional(SelfPermissions)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TablePermissions extends Schema.Schema.Type<typeof TablePermissions> {}

/**
 * A secondary index as shown by the spec endpoint (`{ key: { field: 1 | -1 } }`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const IndexConfig = Schema.Struct({
  key: Schema.Record({ key: Schema.String, value: Schema.Literal(1, -1) }),
  unique: Schema.optional(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface IndexConfig extends Schema.Schema.Type<typeof IndexConfig> {}

/**
 * A declared table. Without `columns` the table is schemaless (any field accepted); with `columns`, unknown fields
 * are rejected with 400 `data/validation-error` unless `additionalFields` is `true`. Without `permissions` the
 * CONTRACT §10.2 defaults apply. Decodable from JSON (the CLI's `--config`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TableConfig = Schema.Struct({
  name: Schema.String,
  columns: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(ColumnType, ColumnConfig) })),
  permissions: Schema.optional(TablePermissions),
  indexes: Schema.optional(Schema.Array(IndexConfig)),
  additionalFields: Schema.optional(Schema.Boolean),
  description: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TableConfig extends Schema.Schema.Type<typeof TableConfig> {}

/**
 * A stored row: user fields plus the four system fields.
 *
 * @since 0.1.0
 * @category models
 */
export type Row = Readonly<Record<string, unknown>> & {
  readonly id: string
  readonly createdBy: string
  readonly createdAt: string
  readonly updatedAt: string
}

/**
 * One table in the server state. `rows` keeps insertion order.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableState {
  readonly config: TableConfig
  readonly rows: Map<string, Row>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeTableState = (config: TableConfig): TableState => ({ config, rows: new Map() })

/**
 * A failure of the engine, rendered by the router with the configured envelope.
 *
 * @since 0.1.0
 * @category errors
 */
export class TableError extends Data.TaggedError("TableError")<{
  readonly status: number
  readonly code: string
  readonly message: string
}> {}
