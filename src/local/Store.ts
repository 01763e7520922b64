/**
 * The storage boundary of bkend-local: everything the server keeps, grouped per aggregate. Each method is one
 * atomic unit on every engine (one statement or one transaction on PostgreSQL), so several server processes on one
 * database never interleave inside a method: a refresh token rotates once, an e-mail is taken once.
 *
 * @since 0.1.0
 */
import type { Option } from "effect"
import { Context, Data, type Effect } from "effect"
import type {
  FileRecord,
  Mail,
  MailKind,
  OneTimeToken,
  RefreshTokenRecord,
  SessionRecord,
  UserRecord
} from "./internal/kernel.js"
import type { RowQuery } from "./internal/rowQuery.js"
import type { Row, TableConfig } from "./internal/tables.js"

/**
 * The engine failed (connection lost, constraint the server did not expect, …). Carries the operation and the
 * database error code only: never values, which may be secrets.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly code: string | undefined
}> {
  override get message(): string {
    return `Storage operation ${this.operation} failed${this.code === undefined ? "" : ` (${this.code})`}`
  }
}

/**
 * A write would give two records the same unique key: an e-mail of a live user, the unique fields of a table,
 * or the object key of a registered file.
 *
 * @since 0.1.0
 * @category errors
 */
export class DuplicateKey extends Data.TaggedError("DuplicateKey")<{
  readonly aggregate: "users" | "rows" | "files"
  readonly fields: ReadonlyArray<string>
}> {}

/**
 * A refresh token with its place in the lineage: when it was issued, and once rotated, when and into which child.
 *
 * @since 0.1.0
 * @category models
 */
export interface LineageToken extends RefreshTokenRecord {
  readonly issuedAt: number
  readonly rotatedAt: number | undefined
  readonly childJti: string | undefined
}

/**
 * What the server signs as the next refresh token; `expiresAt` in epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface NextToken {
  readonly jti: string
  readonly issuedAt: number
  readonly expiresAt: number
}

/**
 * The outcome of presenting a refresh token.
 *
 * - `Rotated`: it was the session's current token; `token` is its new child.
 * - `Reused`: it was rotated less than the reuse interval ago and its child is still current and unexpired (as is
 *   the session); `token` is that child.
 * - `Replayed`: it was rotated before; every session of the user has been revoked.
 * - `Revoked`: it, or its session, was ended.
 * - `Expired`: the session or the token is past its end.
 * - `Unknown`: no such token.
 *
 * @since 0.1.0
 * @category models
 */
export type Rotation =
  | {
      readonly _tag: "Rotated"
      readonly session: SessionRecord
      readonly user: UserRecord
      readonly token: LineageToken
    }
  | {
      readonly _tag: "Reused"
      readonly session: SessionRecord
      readonly user: UserRecord
      readonly token: LineageToken
    }
  | { readonly _tag: "Replayed"; readonly userId: string; readonly revokedSessions: number }
  | { readonly _tag: "Revoked" }
  | { readonly _tag: "Expired"; readonly which: "session" | "token" }
  | { readonly _tag: "Unknown" }

/**
 * The outcome of consuming a one-time token (reset, verification, magic link).
 *
 * @since 0.1.0
 * @category models
 */
export type Consumption =
  | { readonly _tag: "Consumed"; readonly token: OneTimeToken }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Expired" }

/**
 * Metadata of a stored object (its bytes live in a blob store).
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectMeta {
  readonly key: string
  readonly size: number
  readonly contentType: string | undefined
  readonly etag: string
  readonly createdAt: number
  /**
   * Which stored bytes are this object's: a name unique to the write that stored them, so replacing an object with
   * the same bytes never shares (and later deletes) another write's bytes. Absent on objects stored before: their
   * ETag names their bytes.
   */
  readonly version?: string | undefined
}

/**
 * An uploaded part of a multipart upload: its number, size and ETag.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartMeta {
  readonly partNumber: number
  readonly size: number
  readonly etag: string
}

/**
 * An in-progress multipart upload and the parts received so far, by ascending part number.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadMeta {
  readonly uploadId: string
  readonly key: string
  readonly contentType: string | undefined
  readonly ownerId: string | undefined
  readonly createdAt: number
  readonly parts: ReadonlyArray<PartMeta>
}

/**
 * The project's API keys and signing secrets (hex).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerKeys {
  readonly publishable: string
  readonly secret: string
  readonly signingSecret: string
  readonly storageSecret: string
}

/**
 * A fixed window: when it started and how many hits it has counted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Window {
  readonly windowStart: number
  readonly count: number
}

/**
 * A page of rows and the number of rows matching the query.
 *
 * @since 0.1.0
 * @category models
 */
export interface RowPage {
  readonly items: ReadonlyArray<Row>
  readonly total: number
}

type Op<A, E = never> = Effect.Effect<A, E | StoreError>

/**
 * The storage service, one group per aggregate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly users: {
    /** Fails with `DuplicateKey` when a live user has the e-mail. */
    readonly insert: (user: UserRecord) => Op<UserRecord, DuplicateKey>
    readonly get: (id: string) => Op<Option.Option<UserRecord>>
    /** The live (not deleted) user with this normalized e-mail. */
    readonly getByEmail: (email: string) => Op<Option.Option<UserRecord>>
    readonly list: Op<ReadonlyArray<UserRecord>>
    /** Applies `f` to the current record under a lock; `None` when there is no such user. */
    readonly update: (id: string, f: (user: UserRecord) => UserRecord) => Op<Option.Option<UserRecord>, DuplicateKey>
    /** Applies `f` (which marks the record deleted) and revokes every session of the user, together. */
    readonly softDelete: (id: string, f: (user: UserRecord) => UserRecord, now: number) => Op<Option.Option<UserRecord>>
  }
  readonly sessions: {
    /** Stores a new session whose current refresh token is `first`. */
    readonly start: (session: SessionRecord, first: NextToken) => Op<LineageToken>
    readonly get: (id: string) => Op<Option.Option<SessionRecord>>
    readonly listByUser: (userId: string) => Op<ReadonlyArray<SessionRecord>>
    /** Records activity on an active session: `lastActivityAt` becomes `at` when that is later. */
    readonly touch: (id: string, at: number) => Op<void>
    /** Ends one session and its tokens; `false` when it was not active. */
    readonly end: (id: string, now: number) => Op<boolean>
    /** Ends every active session of a user; the number ended. */
    readonly endAllForUser: (userId: string, now: number) => Op<number>
  }
  readonly lineage: {
    readonly get: (jti: string) => Op<Option.Option<LineageToken>>
    /**
     * Presents `jti`. Within `reuseIntervalMillis` of its rotation a parent whose child is still current answers
     * `Reused` instead of a replay.
     */
    readonly rotate: (
      jti: string,
      next: (session: SessionRecord) => NextToken,
      now: number,
      reuseIntervalMillis?: number
    ) => Op<Rotation>
    /** Retires the session's current token without a replay alarm, applies `f` to the session, issues `next`. */
    readonly reissue: (
      sessionId: string,
      f: (session: SessionRecord) => SessionRecord,
      next: (session: SessionRecord) => NextToken
    ) => Op<Option.Option<{ readonly session: SessionRecord; readonly token: LineageToken }>>
  }
  readonly oneTime: {
    readonly issue: (token: OneTimeToken) => Op<void>
    /** Marks the token used when it exists, has this kind (and e-mail), is unused and unexpired. */
    readonly consume: (token: string, kind: MailKind, now: number, email?: string) => Op<Consumption>
  }
  readonly tables: {
    readonly get: (name: string) => Op<Option.Option<TableConfig>>
    readonly list: Op<ReadonlyArray<TableConfig>>
    /** Creates or replaces a table's configuration (and the engine's indexes for it). */
    readonly put: (config: TableConfig) => Op<TableConfig>
    /** The stored configuration, or `config` stored now when the table does not exist. */
    readonly ensure: (config: TableConfig) => Op<TableConfig>
    /** Deletes the table and its rows; `false` when there was none. */
    readonly delete: (name: string) => Op<boolean>
  }
  readonly rows: {
    /** Fails with `DuplicateKey` when the row repeats a unique key of the table. */
    readonly insert: (table: string, row: Row) => Op<Row, DuplicateKey>
    readonly get: (table: string, id: string) => Op<Option.Option<Row>>
    readonly update: (table: string, id: string, f: (row: Row) => Row) => Op<Option.Option<Row>, DuplicateKey>
    readonly delete: (table: string, id: string) => Op<Option.Option<Row>>
    readonly query: (table: string, query: RowQuery) => Op<RowPage>
  }
  readonly files: {
    /** Fails with `DuplicateKey` when a file with the same `s3Key` is registered. */
    readonly insert: (file: FileRecord) => Op<FileRecord, DuplicateKey>
    readonly get: (id: string) => Op<Option.Option<FileRecord>>
    /** The file registered for an object key. */
    readonly getByKey: (s3Key: string) => Op<Option.Option<FileRecord>>
    readonly update: (id: string, f: (file: FileRecord) => FileRecord) => Op<Option.Option<FileRecord>>
    readonly delete: (id: string) => Op<Option.Option<FileRecord>>
    /** Every file, or those of one owner, oldest first. */
    readonly list: (ownerId: string | undefined) => Op<ReadonlyArray<FileRecord>>
  }
  readonly objects: {
    readonly put: (object: ObjectMeta) => Op<void>
    readonly get: (key: string) => Op<Option.Option<ObjectMeta>>
    readonly delete: (key: string) => Op<boolean>
  }
  readonly uploads: {
    readonly start: (upload: Omit<UploadMeta, "parts">) => Op<void>
    readonly get: (uploadId: string) => Op<Option.Option<UploadMeta>>
    /** Records (or replaces) one part; `false` when there is no such upload. */
    readonly putPart: (uploadId: string, part: PartMeta) => Op<boolean>
    /** Ends the upload and stores the assembled object, together; `false` when there is no such upload. */
    readonly complete: (uploadId: string, object: ObjectMeta) => Op<boolean>
    readonly abort: (uploadId: string) => Op<boolean>
  }
  readonly mail: {
    readonly send: (mail: Mail) => Op<void>
    /** The outbox, oldest first. */
    readonly list: Op<ReadonlyArray<Mail>>
    /** Empties the outbox. */
    readonly clear: Op<void>
  }
  readonly keys: {
    /** The stored keys, or `candidate` stored now when there are none: a restart keeps the same keys. */
    readonly ensure: (candidate: ServerKeys) => Op<ServerKeys>
  }
  readonly counters: {
    /** Adds `by` (default 1) and answers the new value. */
    readonly bump: (name: string, by?: number) => Op<number>
    /** Adds one to each named counter (a name given twice counts twice), together. */
    readonly bumpAll: (names: ReadonlyArray<string>) => Op<void>
    readonly all: Op<ReadonlyMap<string, number>>
  }
  readonly windows: {
    /** Counts a hit in the fixed window of `key`, starting a new window when the current one is over. */
    readonly hit: (key: string, windowMillis: number, now: number) => Op<Window>
    readonly get: (key: string) => Op<Option.Option<Window>>
    readonly reset: (key: string) => Op<void>
  }
}

/**
 * The tag of the storage boundary: the service each storage engine of bkend-local (in memory, PostgreSQL) provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class Store extends Context.Tag("bkend-local/Store")<Store, Service>() {}
