/**
 * OpenAPI 3.0 document for one table, generated from its current configuration.
 *
 * @since 0.1.0
 */
import * as Tables from "./tables.js"

type JsonSchema = Record<string, unknown>

const typeSchema = (type: Tables.ColumnType): JsonSchema => {
  switch (type) {
    case "string":
      return { type: "string" }
    case "reference":
      return { type: "string", description: "id of a referenced record" }
    case "number":
    case "double":
      return { type: "number", format: "double" }
    case "int":
      return { type: "integer" }
    case "boolean":
      return { type: "boolean" }
    case "date":
      return { type: "string", format: "date-time" }
    case "object":
      return { type: "object", additionalProperties: true }
    case "array":
      return { type: "array", items: {} }
  }
}

const columnSchema = (column: Tables.ColumnConfig): JsonSchema => {
  const base = typeSchema(column.type)
  const isArray = column.type === "array"
  return {
    ...base,
    ...(isArray && column.items !== undefined ? { items: typeSchema(column.items) } : {}),
    ...(column.type === "reference" && column.references !== undefined
      ? { description: `id of a record in '${column.references}'` }
      : {}),
    ...(column.pattern !== undefined ? { pattern: column.pattern } : {}),
    ...(column.minimum !== undefined ? { minimum: column.minimum } : {}),
    ...(column.maximum !== undefined ? { maximum: column.maximum } : {}),
    ...(column.minLength !== undefined ? { [isArray ? "minItems" : "minLength"]: column.minLength } : {}),
    ...(column.maxLength !== undefined ? { [isArray ? "maxItems" : "maxLength"]: column.maxLength } : {}),
    ...(column.enum !== undefined ? { enum: column.enum } : {}),
    ...(column.required === true ? {} : { nullable: true })
  }
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })

const json = (schema: JsonSchema) => ({ "application/json": { schema } })

const errorResponse = (description: string) => ({ description, content: json(ref("Error")) })

const queryParam = (name: string, description: string, schema: JsonSchema) => ({
  name,
  in: "query",
  required: false,
  description,
  schema
})

/**
 * Builds the OpenAPI 3.0 document of a table: list/create on `/v1/data/<t>`, read/update/delete on
 * `/v1/data/<t>/{id}`, component schemas for the record, its input, the list page and the error body. Bodies are
 * documented in the reference (bare) form; the server may wrap them in `{ success, data }`.
 *
 * @since 0.1.0
 * @category spec
 */
export const openapi = (config: Tables.TableConfig) => {
  const name = config.name
  const properties: Record<string, JsonSchema> = {}
  const required: Array<string> = []
  for (const [field, column] of Tables.columnsOf(config)) {
    properties[field] = columnSchema(column)
    if (column.required === true) required.push(field)
  }
  const additional = config.columns === undefined || config.additionalFields === true
  const input: JsonSchema = {
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: additional
  }
  const update: JsonSchema = { type: "object", properties, additionalProperties: additional }
  const record: JsonSchema = {
    type: "object",
    properties: {
      id: { type: "string", pattern: "^[0-9a-f]{24}$" },
      ...properties,
      createdBy: { type: "string" },
      createdAt: { type: "string", format: "date-time" },
      updatedAt: { type: "string", format: "date-time" }
    },
    required: ["id", "createdBy", "createdAt", "updatedAt", ...required],
    additionalProperties: additional
  }
  const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } }
  const tag = [name]
  return {
    openapi: "3.0.0",
    info: {
      title: `${name} API`,
      version: "1.0.0",
      description: config.description ?? `REST API of the bkend table '${name}', generated from its schema.`
    },
    tags: [{ name }],
    security: [{ ApiKey: [] }, { ApiKey: [], Bearer: [] }],
    paths: {
      [`/v1/data/${name}`]: {
        get: {
          operationId: `list_${name}`,
          summary: `List ${name}`,
          tags: tag,
          parameters: [
            queryParam("page", "Page number (>= 1)", { type: "integer", minimum: 1, default: 1 }),
            queryParam("limit", "Page size (1-100)", {
              type: "integer",
              minimum: 1,
              maximum: Tables.maxLimit,
              default: Tables.defaultLimit
            }),
            queryParam("sortBy", "Field to sort by (default: id)", { type: "string" }),
            queryParam("sortDirection", "Sort direction", { type: "string", enum: ["asc", "desc"], default: "desc" }),
            queryParam("search", "Case-insensitive partial match", { type: "string" }),
            queryParam("searchType", "The one field to search", { type: "string" }),
            queryParam("andFilters", "URL-encoded JSON object; every condition must hold", { type: "string" }),
            queryParam("orFilters", "URL-encoded JSON object; at least one condition must hold", { type: "string" }),
            queryParam("select", "Comma-separated fields; system fields are always returned", { type: "string" })
          ],
          responses: {
            "200": { description: "A page of records", content: json(ref(`${name}List`)) },
            "400": errorResponse("Invalid query"),
            "403": errorResponse("Permission denied"),
            "404": errorResponse("Table not found")
          }
        },
        post: {
          operationId: `create_${name}`,
          summary: `Create a ${name} record`,
          tags: tag,
          requestBody: { required: true, content: json(ref(`${name}Input`)) },
          responses: {
            "201": { description: "The created record", content: json(ref(name)) },
            "400": errorResponse("Validation error"),
            "403": errorResponse("Permission denied"),
            "409": errorResponse("Duplicate value")
          }
        }
      },
      [`/v1/data/${name}/{id}`]: {
        get: {
          operationId: `get_${name}`,
          summary: `Read one ${name} record`,
          tags: tag,
          parameters: [idParam],
          responses: {
            "200": { description: "The record", content: json(ref(name)) },
            "403": errorResponse("Permission denied"),
            "404": errorResponse("Record not found")
          }
        },
        patch: {
          operationId: `update_${name}`,
          summary: `Update a ${name} record`,
          tags: tag,
          parameters: [idParam],
          requestBody: { required: true, content: json(ref(`${name}Update`)) },
          responses: {
            "200": { description: "The updated record", content: json(ref(name)) },
            "400": errorResponse("Validation error"),
            "403": errorResponse("Permission denied"),
            "404": errorResponse("Record not found"),
            "409": errorResponse("Duplicate value")
          }
        },
        delete: {
          operationId: `delete_${name}`,
          summary: `Delete a ${name} record`,
          tags: tag,
          parameters: [idParam],
          responses: {
            "200": {
              description: "Deleted",
              content: json({ type: "object", properties: { success: { type: "boolean" } } })
            },
            "403": errorResponse("Permission denied"),
            "404": errorResponse("Record not found")
          }
        }
      }
    },
    components: {
      securitySchemes: {
        ApiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        Bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" }
      },
      schemas: {
        [name]: record,
        [`${name}Input`]: input,
        [`${name}Update`]: update,
        [`${name}List`]: {
          type: "object",
          properties: { items: { type: "array", items: ref(name) }, pagination: ref("Pagination") },
          required: ["items", "pagination"]
        },
        Pagination: {
          type: "object",
          properties: {
            total: { type: "integer" },
            page: { type: "integer" },
            limit: { type: "integer" },
            totalPages: { type: "integer" },
            hasNext: { type: "boolean" },
            hasPrev: { type: "boolean" }
          },
          required: ["total", "page", "limit", "totalPages", "hasNext", "hasPrev"]
        },
        Error: {
          type: "object",
          properties: {
            success: { type: "boolean" },
            error: {
              type: "object",
              properties: { code: { type: "string" }, message: { type: "string" } },
              required: ["code", "message"]
            }
          },
          required: ["error"]
        }
      }
    }
  }
}
