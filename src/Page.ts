/**
 * One normalised page of a list, whatever pagination variant the server sent:
 * data lists (`hasNext`/`hasPrev`), file lists (`hasNextPage`/`hasPrevPage`), user lists (`totalPages`),
 * sessions/accounts (`page, limit, total`), bare arrays, or no `pagination` at all.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * One page of a list, whichever pagination variant the server sent: the items, where the page is and
 * whether there are more.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly page: number
  readonly limit: number
  readonly total: number
  readonly totalPages: number
  readonly hasNext: boolean
  readonly hasPrev: boolean
}

const WirePagination = Schema.Struct({
  page: Schema.optional(Schema.Number),
  limit: Schema.optional(Schema.Number),
  total: Schema.optional(Schema.Number),
  totalPages: Schema.optional(Schema.Number),
  hasNext: Schema.optional(Schema.Boolean),
  hasPrev: Schema.optional(Schema.Boolean),
  hasNextPage: Schema.optional(Schema.Boolean),
  hasPrevPage: Schema.optional(Schema.Boolean)
})

/**
 * What was asked for; used when the server omits a pagination field.
 *
 * @since 0.1.0
 * @category models
 */
export interface Requested {
  readonly page?: number | undefined
  readonly limit?: number | undefined
}

const wire = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Union(
    Schema.Array(item),
    Schema.Struct({ items: Schema.Array(item), pagination: Schema.optional(WirePagination) })
  )

const pageType = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    items: Schema.Array(Schema.typeSchema(item)),
    page: Schema.Number,
    limit: Schema.Number,
    total: Schema.Number,
    totalPages: Schema.Number,
    hasNext: Schema.Boolean,
    hasPrev: Schema.Boolean
  })

/**
 * Decodes any documented list body into a {@link Page}:
 * `hasNext = hasNext ?? hasNextPage ?? page < totalPages` (or `page * limit < total`),
 * `hasPrev = hasPrev ?? hasPrevPage ?? page > 1`, `totalPages = totalPages ?? ceil(total / limit)`;
 * missing fields fall back to the requested values.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema = <A, I, R>(item: Schema.Schema<A, I, R>, requested: Requested = {}) =>
  Schema.transform(wire(item), pageType(item), {
    strict: true,
    decode: (body) => {
      const items = Array.isArray(body) ? body : (body as { readonly items: ReadonlyArray<A> }).items
      const p = Array.isArray(body)
        ? undefined
        : (body as { readonly pagination?: typeof WirePagination.Type }).pagination
      const page = p?.page ?? requested.page ?? 1
      const total =
        p?.total ?? (Array.isArray(body) ? items.length : (page - 1) * (requested.limit ?? 0) + items.length)
      const limit = p?.limit ?? requested.limit ?? Math.max(items.length, 1)
      const totalPages = p?.totalPages ?? Math.ceil(total / Math.max(limit, 1))
      return {
        items,
        page,
        limit,
        total,
        totalPages,
        hasNext:
          p?.hasNext ?? p?.hasNextPage ?? (p?.totalPages !== undefined ? page < totalPages : page * limit < total),
        hasPrev: p?.hasPrev ?? p?.hasPrevPage ?? page > 1
      }
    },
    encode: (page) => ({
      items: page.items,
      pagination: {
        page: page.page,
        limit: page.limit,
        total: page.total,
        totalPages: page.totalPages,
        hasNext: page.hasNext,
        hasPrev: page.hasPrev
      }
    })
  })
