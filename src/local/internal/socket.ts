/**
 * The node HTTP server behind bkend-local's socket layer, hardened against slow and oversized clients: header,
 * request, keep-alive and idle timeouts, a header-size limit, and the JSON error envelope for requests node refuses
 * before they reach the app (oversized URL or headers, malformed requests, timeouts).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { createServer, type ServerResponse, STATUS_CODES } from "node:http"
import type { IncomingMessage, Server } from "node:http"
import type { Duplex } from "node:stream"
import * as K from "./kernel.js"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

// The URL overflowed when the refused packet starts the request line and does not end it within `limit` bytes.
const urlOverflowed = (rawPacket: unknown, limit: number): boolean => {
  if (!(rawPacket instanceof Uint8Array)) return false
  const packet = Buffer.from(rawPacket.buffer, rawPacket.byteOffset, rawPacket.byteLength)
  if (!/^[A-Z]+ /.test(packet.subarray(0, 16).toString("latin1"))) return false
  const end = packet.indexOf("\r\n")
  return end === -1 || end > limit
}

/**
 * Status, code and message for a request node refused before parsing completed.
 *
 * @since 0.1.0
 * @category errors
 */
export const clientErrorOf = (
  error: unknown,
  options: K.LocalOptions
): { readonly status: number; readonly code: string; readonly message: string } => {
  const code = isRecord(error) ? error.code : undefined
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return urlOverflowed(isRecord(error) ? error.rawPacket : undefined, options.maxHeaderBytes / 2)
        ? { status: 414, code: "common/uri-too-long", message: "Request URL too long" }
        : { status: 431, code: "common/headers-too-large", message: "Request header fields too large" }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, code: "common/request-timeout", message: "Request not received in time" }
    default:
      return { status: 400, code: "common/invalid-parameters", message: "Malformed HTTP request" }
  }
}

const responseStarted = (socket: Duplex): boolean => {
  const inFlight: unknown = Reflect.get(socket, "_httpMessage")
  return isRecord(inFlight) && inFlight._headerSent === true
}

/**
 * Answers a refused request on the raw socket with the JSON error envelope, then closes the connection. Nothing is
 * written when the connection is gone or a response has already started on it.
 *
 * @since 0.1.0
 * @category errors
 */
export const answerClientError = (options: K.LocalOptions, error: unknown, socket: Duplex): void => {
  const code = isRecord(error) ? error.code : undefined
  if (code === "ECONNRESET" || !socket.writable || responseStarted(socket)) {
    socket.destroy()
    return
  }
  const e = clientErrorOf(error, options)
  const body = JSON.stringify(K.errorBody(options, e.status, e.code, e.message))
  socket.end(
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body
  )
}

/**
 * A node HTTP server with the configured limits and timeouts (checked every second).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNodeServer = (options: K.LocalOptions): Server => {
  const server = createServer({
    headersTimeout: options.headersTimeoutMillis,
    requestTimeout: options.requestTimeoutMillis,
    keepAliveTimeout: options.keepAliveTimeoutMillis,
    maxHeaderSize: options.maxHeaderBytes,
    connectionsCheckingInterval: 1000
  })
  // a socket without traffic for this long is destroyed (no 'timeout' listener keeps it open)
  server.timeout = options.idleTimeoutMillis
  server.on("clientError", (error: unknown, socket: Duplex) => answerClientError(options, error, socket))
  return server
}

/**
 * A graceful stop: the server stops accepting connections, every response from now on closes its connection, idle
 * connections are closed as they become idle, and the effect ends once every connection is gone or after
 * `timeoutMillis`, when the connections still open are cut off.
 *
 * @since 0.1.0
 * @category constructors
 */
export const drain = (server: Server, timeoutMillis: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!server.listening) return Effect.void
    const closeAfterResponse = (_request: IncomingMessage, response: ServerResponse) =>
      response.setHeader("Connection", "close")
    server.on("request", closeAfterResponse)
    const closed = Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
    const closeIdle = Effect.repeat(
      Effect.sync(() => server.closeIdleConnections()),
      Schedule.spaced(Duration.millis(50))
    )
    // interruptible: a drain runs as a finalizer, where the race's loser and the timeout could not interrupt
    return Effect.interruptible(Effect.raceFirst(closed, closeIdle)).pipe(
      Effect.timeout(Duration.millis(timeoutMillis)),
      Effect.ignore,
      Effect.ensuring(
        Effect.sync(() => {
          server.closeAllConnections()
          server.off("request", closeAfterResponse)
        })
      )
    )
  })
