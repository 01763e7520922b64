/**
 * In-memory fakes of `Tables` and `Files` for unit tests: no server, no HTTP, no sessions. The SDK's own `Tables`
 * and `Files` run on a client that keeps tables and files in maps, so inputs are validated, filters encoded, rows
 * decoded and errors typed exactly as against bkend; the rows themselves are checked, filtered, sorted and paged
 * by the local server's table engine (the same code bkend-local answers with).
 *
 * Not modelled: users, permissions and row-level security (every call acts as one user, `userId`, who owns
 * everything), the file routes' field validation and visibility rules. For those, test against
 * `BkendTesting.layer` (the whole SDK on an in-process bkend-local).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as BkendClient from "../BkendClient.js"
import * as Files from "../Files.js"
import type * as LocalServer from "../local/LocalServer.js"
import * as Tables from "../Tables.js"
import * as MemoryClient from "./internal/memoryClient.js"
import * as MemoryFiles from "./internal/memoryFiles.js"
import * as MemoryTables from "./internal/memoryTables.js"

/**
 * What the fakes start with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * tables declared as for bkend-local (`{ name, columns, indexes }`): their column types, `required` and `unique`
   * fields are enforced; any other table name is a schemaless table created on first write
   */
  readonly tables?: LocalServer.LocalOptions["tables"] | undefined
  /** rows each table starts with, in wire form, created in order (ids and timestamps are set as for creates) */
  readonly seed?: Readonly<Record<string, ReadonlyArray<Readonly<Record<string, unknown>>>>> | undefined
  /** the user every write is made by: rows' `createdBy`, files' `ownerId` (default `"test-user"`) */
  readonly userId?: string | undefined
}

/**
 * A view of what the fakes hold, for assertions: rows and files in wire form, as bkend would store them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Contents {
  /** the rows of a table in creation order (empty for a table nobody wrote to) */
  readonly rows: (table: string) => ReadonlyArray<Readonly<Record<string, unknown>>>
  /** every registered file's record */
  readonly files: () => ReadonlyArray<Readonly<Record<string, unknown>>>
  /** the stored bytes of a registered file, by its id */
  readonly bytes: (fileId: string) => Uint8Array | undefined
}

/**
 * The tag under which {@link layer} provides the {@link Contents} of its fakes.
 *
 * @since 0.1.0
 * @category tags
 */
export class Store extends Context.Tag("bkend-effect/testing/InMemory")<Store, Contents>() {}

const contentsOf = (state: MemoryClient.State): Contents => ({
  rows: (table) => [...(state.tables.get(table)?.rows.values() ?? [])],
  files: () => [...state.files.values()].map((f) => ({ ...f })),
  bytes: (fileId) => {
    const file = state.files.get(fileId)
    return file === undefined ? undefined : MemoryFiles.bytesOf(state, file.s3Key)
  }
})

/**
 * The in-memory client itself (the `BkendClient` the fakes run on) and its {@link Store}: for building `Tables`
 * or `Files` yourself. It answers only the data and file routes: any other call (signing in, users) dies saying
 * so, and there is never a session. Each build starts from `options` alone (a fresh state). A seed row the table
 * engine refuses (a wrong column type, a duplicate unique value) makes building the layer die with the reason.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options: Options = {}): Layer.Layer<BkendClient.BkendClient | Store> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const state = MemoryClient.makeState({ userId: options.userId ?? "test-user", tables: options.tables ?? [] })
      for (const [name, rows] of Object.entries(options.seed ?? {})) {
        yield* MemoryTables.seed(state, name, rows).pipe(
          Effect.orDieWith((r) => new Error(`InMemory.layer: seeding table '${name}': ${r.message}`))
        )
      }
      return Layer.merge(
        Layer.succeed(BkendClient.BkendClient, MemoryClient.make(state)),
        Layer.succeed(Store, contentsOf(state))
      )
    })
  )

/**
 * `Tables` and `Files` kept in memory, plus their {@link Store}: the SDK's own services on {@link layerClient}.
 * Each build of the layer starts from `options` alone, so tests sharing no layer see nothing of each other.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Tables } from "bkend-effect"
 * import { InMemory } from "bkend-effect/testing"
 *
 * const Post = Schema.Struct({ title: Schema.String, views: Schema.Number })
 *
 * // in a test: `it.effect("lists the popular posts", () => popular)`, expecting ["b"]
 * const popular = Effect.gen(function* () {
 *   const posts = (yield* Tables.Tables).table("posts", Post)
 *   const page = yield* posts.list({ filter: { views: { $gte: 100 } } })
 *   return page.items.map((p) => p.title)
 * }).pipe(Effect.provide(InMemory.layer({ seed: { posts: [{ title: "a", views: 1 }, { title: "b", views: 500 }] } })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Tables.Tables | Files.Files | Store> =>
  Layer.mergeAll(Tables.layer, Files.layer).pipe(Layer.provideMerge(layerClient(options)))
