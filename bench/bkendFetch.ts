/**
 * A faithful re-implementation of the seed page's `bkendFetch` helper (en/getting-started/03-app-integration.md,
 * as summarised in CONTRACT §5.4, §15.4, E-F and I-02), used as the baseline of the benchmarks:
 *
 * - every request carries `Content-Type: application/json` and `X-API-Key`; `Authorization: Bearer` when an access
 *   token is stored;
 * - the body is `JSON.stringify`-ed;
 * - on 401, when a refresh token is stored, `refreshAccessToken()` posts it to `/v1/auth/refresh`, stores the new
 *   pair, and the original request is retried once; if the refresh fails, both tokens are cleared and it throws;
 * - NO single-flight: concurrent 401s each start their own refresh (the helper has no shared promise);
 * - the response is parsed as JSON; non-2xx throws `Error(message)`; `{ success: true, data }` is unwrapped.
 *
 * `localStorage` is replaced by a plain object so it runs in Node.
 */

export interface TokenStorage {
  accessToken: string | undefined
  refreshToken: string | undefined
}

export interface BkendFetchOptions {
  readonly method?: string
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

export class BkendFetchError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

export const makeBkendFetch = (config: {
  readonly baseUrl: string
  readonly publishableKey: string
  readonly storage: TokenStorage
  readonly fetch?: typeof globalThis.fetch
}) => {
  const doFetch = config.fetch ?? globalThis.fetch
  const storage = config.storage

  const readBody = async (response: Response): Promise<unknown> => {
    const text = await response.text()
    return text.length === 0 ? undefined : JSON.parse(text)
  }

  const messageOf = (data: unknown, status: number): string => {
    if (typeof data === "object" && data !== null) {
      if ("message" in data && typeof data.message === "string") return data.message
      if ("error" in data && typeof data.error === "object" && data.error !== null && "message" in data.error) {
        if (typeof data.error.message === "string") return data.error.message
      }
    }
    return `API Error: ${status}`
  }

  const refreshAccessToken = async (): Promise<boolean> => {
    const refreshToken = storage.refreshToken
    if (refreshToken === undefined) return false
    const response = await doFetch(`${config.baseUrl}/v1/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": config.publishableKey },
      body: JSON.stringify({ refreshToken })
    })
    if (!response.ok) {
      await response.text()
      storage.accessToken = undefined
      storage.refreshToken = undefined
      return false
    }
    const json = await readBody(response)
    const data =
      typeof json === "object" && json !== null && "success" in json && json.success && "data" in json
        ? json.data
        : json
    if (typeof data === "object" && data !== null && "accessToken" in data && "refreshToken" in data) {
      if (typeof data.accessToken === "string") storage.accessToken = data.accessToken
      if (typeof data.refreshToken === "string") storage.refreshToken = data.refreshToken
      return true
    }
    return false
  }

  const bkendFetch = async (path: string, options: BkendFetchOptions = {}, retried = false): Promise<unknown> => {
    const accessToken = storage.accessToken
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "X-API-Key": config.publishableKey,
      ...(accessToken !== undefined ? { Authorization: `Bearer ${accessToken}` } : {}),
      ...options.headers
    }
    const init: RequestInit = { method: options.method ?? "GET", headers }
    if (options.body !== undefined) init.body = JSON.stringify(options.body)
    const response = await doFetch(`${config.baseUrl}${path}`, init)
    if (response.status === 401 && accessToken !== undefined && !retried) {
      await response.text()
      const refreshed = await refreshAccessToken()
      if (refreshed) return bkendFetch(path, options, true)
      throw new BkendFetchError(401, "Session expired. Please sign in again.")
    }
    const data = await readBody(response)
    if (!response.ok) throw new BkendFetchError(response.status, messageOf(data, response.status))
    if (typeof data === "object" && data !== null && "success" in data && data.success && "data" in data) {
      return data.data
    }
    return data
  }

  return { bkendFetch, refreshAccessToken }
}
