/**
 * A seeded TCP proxy for the chaos run: forwards bytes both ways and, with a given probability per HTTP response,
 * resets the client connection instead of forwarding the response — i.e. the server has handled the request, the
 * client never learns the outcome. One request at a time per connection is assumed (no pipelining; undici and the
 * Effect clients do not pipeline by default).
 */
import { Effect, type Scope } from "effect"
import * as net from "node:net"

export interface ProxyOptions {
  readonly target: string
  readonly seed: number
  readonly resetAfterProbability: number
  readonly eligible: (method: string, path: string) => boolean
}

const mulberry32 = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/

export const startProxy = (
  options: ProxyOptions
): Effect.Effect<
  { readonly url: string; readonly stats: { resetsAfterHandling: number; connections: number } },
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; url: string; stats: { resetsAfterHandling: number; connections: number } }>(
      (resume) => {
        const target = new URL(options.target)
        const random = mulberry32(options.seed * 7919 + 17)
        const stats = { resetsAfterHandling: 0, connections: 0 }
        const sockets = new Set<net.Socket>()
        const server = net.createServer((client) => {
          stats.connections++
          const upstream = net.connect(Number(target.port), target.hostname)
          sockets.add(client)
          sockets.add(upstream)
          let pending: { method: string; path: string } | undefined
          let decided = true
          client.on("data", (chunk: Buffer) => {
            const m = REQUEST_LINE.exec(chunk.toString("latin1", 0, Math.min(chunk.length, 2048)))
            if (m !== null) {
              pending = { method: m[1] ?? "", path: (m[2] ?? "").split("?")[0] ?? "" }
              decided = false
            }
            upstream.write(chunk)
          })
          upstream.on("data", (chunk: Buffer) => {
            if (!decided) {
              decided = true
              if (
                pending !== undefined &&
                options.eligible(pending.method, pending.path) &&
                random() < options.resetAfterProbability
              ) {
                stats.resetsAfterHandling++
                client.resetAndDestroy()
                upstream.destroy()
                return
              }
            }
            client.write(chunk)
          })
          const close = () => {
            sockets.delete(client)
            sockets.delete(upstream)
            client.destroy()
            upstream.destroy()
          }
          client.on("close", close)
          upstream.on("close", close)
          client.on("error", close)
          upstream.on("error", close)
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, stats }))
        })
        Object.assign(server, { trackedSockets: sockets })
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        const sockets: unknown = Reflect.get(server, "trackedSockets")
        if (sockets instanceof Set) for (const s of sockets) if (s instanceof net.Socket) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ url, stats }) => ({ url, stats })))
