const SUCCESS_KEYS = new Set(["success", "data", "message"])

/** `body[key]` is a copy of the payload's field of the same name (both come from one JSON text, so key order agrees). */
const copiesPayload = (body: Record<string, unknown>, key: string): boolean => {
  const data = body.data
  if (typeof data !== "object" || data === null || Array.isArray(data) || !Object.hasOwn(data, key)) return false
  return JSON.stringify((data as Record<string, unknown>)[key]) === JSON.stringify(body[key])
}

/**
 * Unwraps `{ success: true, data }` (bkend documents both wrapped and bare bodies): only a plain object whose `success`
 * is `true`, with an own `data` key and no keys outside `{ success, data, message }` — a table row may legitimately
 * have fields named `success` or `data` — except copies of the payload's own fields (the "hybrid" body some servers
 * send so that clients reading `body.x` and clients reading `body.data.x` both work). `{ success: true }` without
 * `data` means "no payload". Arrays are never unwrapped.
 */
export const unwrapSuccess = (body: unknown): unknown => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body
  const record = body as Record<string, unknown>
  if (record.success !== true) return body
  const keys = Object.keys(record)
  if (!keys.every((key) => SUCCESS_KEYS.has(key) || copiesPayload(record, key))) return body
  if (Object.hasOwn(record, "data")) return record.data
  return undefined
}

/** Copies `_id` into `id` for records that lack `id` (some documented bodies name it `_id`). */
export const normaliseId = (record: unknown): unknown => {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return record
  const r = record as Record<string, unknown>
  if (r.id === undefined && typeof r._id === "string") return { ...r, id: r._id }
  return record
}
