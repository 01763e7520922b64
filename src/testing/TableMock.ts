/**
 * Typed table mocks: give only the methods a test needs; every other method dies naming itself
 * (`Tables.table("posts").update is not mocked`), so a program calling something unexpected fails loudly
 * instead of hanging or receiving `undefined`.
 *
 * A mock is made with the row schema the program uses, and the methods are typed by it: no casts. The program
 * must ask for the table with that same schema value (`table("posts", Post)`); asking with another schema dies
 * with a message saying so, since the mock's rows would not be of the program's type.
 *
 * @since 0.1.0
 */
import { Effect, Layer, type Schema, Stream } from "effect"
import * as Tables from "../Tables.js"

/**
 * The methods of a table a mock may give, each typed by the row schema.
 *
 * @since 0.1.0
 * @category models
 */
export type Methods<A, I> = Partial<Omit<Tables.Table<A, I>, "name">>

/**
 * A table mock, ready for {@link layer}: its name, and the table it answers for the schema it was made with.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableMock {
  readonly name: string
  /** the mocked table when `schema` is the schema the mock was made with (the same value), `undefined` otherwise */
  readonly lookup: <A, I>(schema: Schema.Schema<A, I, never> | undefined) => Tables.Table<A, I> | undefined
}

/** A table and the schema it was made with, kept together so that one can prove the other's type. */
interface Bound<A, I> {
  readonly schema: Schema.Schema<A, I, never> | undefined
  readonly table: Tables.Table<A, I>
}

/** The same schema value decodes to the same type: the mock's table is then the requested table's type too. */
const madeWith = <A, I, P, PI>(
  bound: Bound<P, PI>,
  schema: Schema.Schema<A, I, never> | undefined
): bound is Bound<P, PI> & Bound<A, I> => bound.schema === schema

const dying = <A, I>(name: string, reason: string): Tables.Table<A, I> => {
  const die = (method: string) => Effect.dieMessage(`Tables.table(${JSON.stringify(name)}).${method} ${reason}`)
  return {
    name,
    create: () => die("create"),
    get: () => die("get"),
    update: () => die("update"),
    delete: () => die("delete"),
    list: () => die("list"),
    stream: () => Stream.fromEffect(die("stream")),
    count: () => die("count"),
    spec: die("spec"),
    openapi: die("openapi")
  }
}

/**
 * A table whose every method dies with `Tables.table("<name>").<method> is not mocked`: the default of each
 * method of a mock, and what {@link layer} answers for a table no mock was given for.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unmocked = <A, I>(name: string): Tables.Table<A, I> => dying(name, "is not mocked")

/**
 * A mock of the table `name` for rows of `schema` (omit the schema for a table the program asks for without
 * one): the given methods, and for every other method a death naming it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A, I>(name: string, schema: Schema.Schema<A, I, never>, methods?: Methods<A, I>): TableMock
  (name: string, methods?: Methods<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>>): TableMock
} = <A, I>(
  name: string,
  schemaOrMethods?: Schema.Schema<A, I, never> | Methods<A, I>,
  methods: Methods<A, I> = {}
): TableMock => {
  const bound: Bound<A, I> = isSchema(schemaOrMethods)
    ? { schema: schemaOrMethods, table: { ...unmocked<A, I>(name), ...methods, name } }
    : { schema: undefined, table: { ...unmocked<A, I>(name), ...schemaOrMethods, name } }
  return { name, lookup: (schema) => (madeWith(bound, schema) ? bound.table : undefined) }
}

const isSchema = <A, I>(u: Schema.Schema<A, I, never> | Methods<A, I> | undefined): u is Schema.Schema<A, I, never> =>
  u !== undefined && "ast" in u

/**
 * `Tables` answering from the given mocks: `table(name, schema)` is the mock of that name (dying if it was made
 * with another schema), and a table no mock was given for dies on every method, naming it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { TableMock, BkendErrors } from "bkend-effect/testing"
 *
 * const Post = Schema.Struct({ title: Schema.String })
 *
 * const Posts = TableMock.layer(
 *   TableMock.make("posts", Post, {
 *     create: ({ data }) => Effect.succeed({ ...data, id: "post-1" }),
 *     delete: () => Effect.fail(BkendErrors.forbidden({ method: "DELETE", route: "/v1/data/:table/:id" }))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (...mocks: ReadonlyArray<TableMock>): Layer.Layer<Tables.Tables> => {
  function table<A, I>(name: string, schema: Schema.Schema<A, I, never>): Tables.Table<A, I>
  function table(name: string): Tables.Table<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>>
  function table<A, I>(name: string, schema?: Schema.Schema<A, I, never>): Tables.Table<A, I> {
    const mock = mocks.find((m) => m.name === name)
    if (mock === undefined) return unmocked(name)
    const found = mock.lookup(schema)
    if (found !== undefined) return found
    return dying(name, "was asked for with another schema than its mock was made with (pass the same schema value)")
  }
  return Layer.succeed(Tables.Tables, { table })
}
