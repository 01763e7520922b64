/**
 * A small scripted bkend stand-in on a real loopback socket (node:http), for the core pipeline tests.
 * It implements token rotation with replay detection like bkend: a reused refresh token revokes every session.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

export interface Scripted {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

export interface ScriptedServer {
  readonly url: string
  readonly requests: Array<Recorded>
  readonly counters: { refresh: number; replays: number; disconnects: number }
  /** responses served, in order, for a path under /v1/script/ */
  readonly script: (path: string, ...responses: ReadonlyArray<Scripted>) => void
  readonly hits: (path: string) => number
  /** make every access token issued so far answer 401 (as if they had expired) */
  readonly expireAccessTokens: () => void
  /** delay the next refresh answers by this many ms (real time) */
  refreshDelayMs: number
  /** answer the next refresh with this response instead of rotating */
  refreshFailure: Scripted | undefined
  /**
   * the next refresh rotates, then the answer is lost: `hang` (never answered), `reset` (connection destroyed)
   * or `undecodable` (200 with `expiresIn` as a string)
   */
  refreshAfterRotate: "hang" | "reset" | "undecodable" | undefined
  /** refresh answers written so far */
  refreshAnswered: number
  /** tokens currently valid */
  readonly validAccess: Set<string>
  readonly validRefresh: Set<string>
  readonly issue: () => { accessToken: string; refreshToken: string; expiresIn: number }
}

const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const err = (code: string, message: string) => ({ success: false, error: { code, message } })

export const PASSWORD = "correct horse"

export const start = Effect.acquireRelease(
  Effect.async<{ server: Http.Server; state: ScriptedServer }>((resume) => {
    let n = 0
    const rotated = new Set<string>()
    const scripts = new Map<string, Array<Scripted>>()
    const hitCount = new Map<string, number>()
    const state: ScriptedServer = {
      url: "",
      requests: [],
      counters: { refresh: 0, replays: 0, disconnects: 0 },
      script: (path, ...responses) => scripts.set(path, [...responses]),
      hits: (path) => hitCount.get(path) ?? 0,
      expireAccessTokens: () => state.validAccess.clear(),
      refreshDelayMs: 0,
      refreshFailure: undefined,
      refreshAfterRotate: undefined,
      refreshAnswered: 0,
      validAccess: new Set(),
      validRefresh: new Set(),
      issue: () => {
        n++
        const tokens = {
          accessToken: `at_${n}_${"a".repeat(24)}`,
          refreshToken: `rt_${n}_${"r".repeat(24)}`,
          expiresIn: 3600
        }
        state.validAccess.add(tokens.accessToken)
        state.validRefresh.add(tokens.refreshToken)
        return tokens
      }
    }
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const path = (req.url ?? "/").split("?")[0] ?? "/"
        state.requests.push({ method: req.method ?? "", path, headers: req.headers, body })
        hitCount.set(path, (hitCount.get(path) ?? 0) + 1)
        const bearer = req.headers.authorization?.replace(/^Bearer /, "")
        if (path === "/v1/echo") {
          return json(res, 200, { success: true, data: { method: req.method, headers: req.headers, body } })
        }
        if (path === "/v1/auth/email/signin") {
          const parsed = JSON.parse(body) as { password?: string }
          if (parsed.password !== PASSWORD)
            return json(res, 401, err("auth/invalid-credentials", "Invalid e-mail or password"))
          return json(res, 200, { success: true, data: { ...state.issue(), tokenType: "Bearer" } })
        }
        if (path === "/v1/auth/refresh") {
          state.counters.refresh++
          const { refreshToken } = JSON.parse(body) as { refreshToken: string }
          const answer = () => {
            if (state.refreshFailure !== undefined) {
              const f = state.refreshFailure
              state.refreshFailure = undefined
              res.writeHead(f.status, { "content-type": "application/json", ...f.headers })
              return res.end(f.body ?? "")
            }
            if (rotated.has(refreshToken)) {
              state.counters.replays++
              state.validAccess.clear()
              state.validRefresh.clear()
              return json(res, 401, err("auth/invalid-refresh-token", "Refresh token reuse detected"))
            }
            if (!state.validRefresh.has(refreshToken)) {
              return json(res, 401, err("auth/invalid-refresh-token", "Invalid refresh token"))
            }
            state.validRefresh.delete(refreshToken)
            rotated.add(refreshToken)
            const pair = { ...state.issue(), tokenType: "Bearer" }
            const lost = state.refreshAfterRotate
            state.refreshAfterRotate = undefined
            if (lost === "hang") return
            if (lost === "reset") return req.socket.destroy()
            state.refreshAnswered++
            if (lost === "undecodable") return json(res, 200, { success: true, data: { ...pair, expiresIn: "3600" } })
            return json(res, 200, { success: true, data: pair })
          }
          if (state.refreshDelayMs > 0) setTimeout(answer, state.refreshDelayMs)
          else answer()
          return
        }
        if (path === "/v1/auth/me") {
          if (bearer === undefined || !state.validAccess.has(bearer)) {
            return json(res, 401, err("auth/token-expired", "Access token expired"))
          }
          return json(res, 200, { id: "u1", email: "a@example.com" })
        }
        if (path === "/v1/auth/signout") {
          if (bearer === undefined || !state.validAccess.has(bearer)) {
            return json(res, 401, err("auth/token-expired", "Access token expired"))
          }
          res.writeHead(204)
          return res.end()
        }
        if (path === "/v1/hang") {
          res.on("close", () => {
            if (!res.writableEnded) state.counters.disconnects++
          })
          return
        }
        const queue = scripts.get(path)
        const next = queue?.shift()
        if (next !== undefined) {
          res.writeHead(next.status, next.headers ?? {})
          return res.end(next.body ?? "")
        }
        return json(res, 404, err("data/not-found", `no route ${path}`))
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      Object.assign(state, { url: `http://127.0.0.1:${port}` })
      resume(Effect.succeed({ server, state }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ state }) => state))
