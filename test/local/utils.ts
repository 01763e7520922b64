/**
 * Shared helpers for bkend-local tests (used by Auth, Server, Data, Users, Files tests). Keep exports stable.
 *
 * Usage:
 * ```ts
 * import { describe, expect, it, layer } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Harness, harnessLayer, request, signUp, str } from "./utils.js"
 *
 * layer(harnessLayer({ tables: [...] }))("my area", (it) => {
 *   it.effect("works", () => Effect.gen(function* () {
 *     const user = yield* signUp()                                  // a fresh user with tokens
 *     const res = yield* request("GET", "/v1/auth/me", { token: user.accessToken })
 *     expect(res.status).toBe(200)
 *     expect(str(res.data, "email")).toBe(user.email)               // res.data = unwrapped payload
 *   }))
 * })
 * ```
 * `harnessLayer` serves over a real socket (127.0.0.1, port 0); `inProcessLayer` dispatches in-process.
 * Inside `layer(...)` the server runs on the TestClock: use `TestClock.adjust` to move time.
 */
import { Context, Effect, Layer } from "effect"
import * as LocalServer from "../../src/local/LocalServer.js"
import { makeTestServer } from "../utils/engine.js"

/**
 * @since 0.1.0
 */
export interface HarnessShape {
  readonly server: LocalServer.LocalServer
  /** Base URL without trailing slash. */
  readonly url: string
  readonly fetch: (request: Request) => Promise<Response>
}

/**
 * @since 0.1.0
 */
export class Harness extends Context.Tag("test/local/Harness")<Harness, HarnessShape>() {}

/**
 * A server on a real socket (127.0.0.1, random port), on the test engine (`BKEND_TEST_ENGINE`, see
 * test/utils/engine.ts).
 */
export const harnessLayer = (options?: Partial<LocalServer.LocalOptions>): Layer.Layer<Harness, unknown> =>
  Layer.scoped(
    Harness,
    Effect.gen(function* () {
      const server = yield* makeTestServer(options)
      const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port: 0, host: "127.0.0.1" }))
      const url = yield* Effect.provide(LocalServer.serverUrl, ctx)
      return { server, url, fetch: (req: Request) => globalThis.fetch(req) }
    })
  )

/**
 * The same server, dispatched in-process (no socket).
 */
export const inProcessLayer = (options?: Partial<LocalServer.LocalOptions>): Layer.Layer<Harness> =>
  Layer.scoped(
    Harness,
    Effect.gen(function* () {
      const server = yield* Effect.orDie(makeTestServer(options))
      // handlers run with this fiber's services: inside `layer(...)` that is the TestClock, as over the socket
      const runtime = yield* Effect.runtime<never>()
      return { server, url: LocalServer.inProcessBaseUrl, fetch: LocalServer.toWebHandler(server, runtime) }
    })
  )

/**
 * An in-process server on the in-memory engine, whatever the test engine: for what only that engine has (snapshots).
 */
export const memoryInProcessLayer = (options?: Partial<LocalServer.LocalOptions>): Layer.Layer<Harness> =>
  Layer.effect(
    Harness,
    Effect.gen(function* () {
      const server = yield* LocalServer.make(options)
      const runtime = yield* Effect.runtime<never>()
      return { server, url: LocalServer.inProcessBaseUrl, fetch: LocalServer.toWebHandler(server, runtime) }
    })
  )

/**
 * What `GET /_local/snapshot` (with the secret key) answers: snapshots are a feature of the in-memory engine, and a
 * server on another store refuses them with 400.
 */
export const snapshotStatus = (server: LocalServer.LocalServer): number => (server.engine === "memory" ? 200 : 400)

/**
 * A response read fully.
 */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** Parsed JSON body (undefined when empty or not JSON). */
  readonly json: unknown
  /** The payload: `json.data` when the body is a `{ success: true, data }` envelope, else `json`. */
  readonly data: unknown
}

/**
 * Request options. `key` defaults to `"pk"`; `"none"` sends no X-API-Key; any other string is sent verbatim.
 */
export interface RequestOptions {
  readonly body?: unknown
  readonly rawBody?: string | Uint8Array | undefined
  readonly headers?: Record<string, string> | undefined
  readonly key?: "pk" | "sk" | "none" | (string & {}) | undefined
  readonly token?: string | undefined
  readonly query?: Record<string, string> | undefined
  /** Absolute URL instead of `url + path` (e.g. presigned storage URLs). */
  readonly absolute?: boolean | undefined
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const unwrap = (json: unknown): unknown =>
  isRecord(json) && json.success === true && "data" in json ? json.data : json

/**
 * Sends one request to the harness server. Fails only on network errors (e.g. an injected connection reset).
 */
export const request = (
  method: string,
  path: string,
  options: RequestOptions = {}
): Effect.Effect<Reply, Error, Harness> =>
  Effect.gen(function* () {
    const h = yield* Harness
    const headers = new Headers(options.headers)
    const key = options.key ?? "pk"
    if (key === "pk") headers.set("x-api-key", h.server.keys.publishable)
    else if (key === "sk") headers.set("x-api-key", h.server.keys.secret)
    else if (key !== "none") headers.set("x-api-key", key)
    if (options.token !== undefined) headers.set("authorization", `Bearer ${options.token}`)
    let body: string | Uint8Array | undefined = options.rawBody
    if (body === undefined && options.body !== undefined) {
      body = JSON.stringify(options.body)
      if (!headers.has("content-type")) headers.set("content-type", "application/json")
    }
    let url = options.absolute === true ? path : `${h.url}${path}`
    if (options.query !== undefined) {
      const qs = new URLSearchParams(options.query).toString()
      url += (url.includes("?") ? "&" : "?") + qs
    }
    const init: RequestInit = { method, headers, redirect: "manual" }
    if (body !== undefined) init.body = typeof body === "string" ? body : new Uint8Array(body)
    const req = new Request(url, init)
    const res = yield* Effect.tryPromise({
      try: () => h.fetch(req),
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    })
    const text = yield* Effect.tryPromise({
      try: () => res.text(),
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    })
    let json: unknown
    try {
      json = text === "" ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, text, json, data: unwrap(json) }
  })

/**
 * Reads a dotted path (`"items.0.id"`) from a JSON value.
 */
export const get = (value: unknown, path: string): unknown => {
  let cur: unknown = value
  for (const part of path === "" ? [] : path.split(".")) {
    if (Array.isArray(cur)) cur = cur[Number(part)]
    else if (isRecord(cur)) cur = cur[part]
    else return undefined
  }
  return cur
}

/**
 * Like `get`, but throws unless the value is a string.
 */
export const str = (value: unknown, path: string): string => {
  const v = get(value, path)
  if (typeof v !== "string") throw new Error(`expected a string at ${path}, got ${JSON.stringify(v)}`)
  return v
}

/**
 * Like `get`, but throws unless the value is an array.
 */
export const arr = (value: unknown, path: string): ReadonlyArray<unknown> => {
  const v = get(value, path)
  if (!Array.isArray(v)) throw new Error(`expected an array at ${path}, got ${JSON.stringify(v)}`)
  return v
}

/**
 * The error code of an error body (E-A/E-B `error.code`, or E-C `error` string).
 */
export const errorCode = (reply: Reply): string | undefined => {
  const e = get(reply.json, "error")
  if (typeof e === "string") return e
  const c = get(e, "code")
  return typeof c === "string" ? c : undefined
}

let counter = 0

/**
 * A unique e-mail address for this test process.
 */
export const uniqueEmail = (prefix = "user"): string => `${prefix}-${Date.now().toString(36)}-${++counter}@example.com`

/**
 * A signed-up user with its tokens.
 */
export interface TestUser {
  readonly email: string
  readonly password: string
  readonly name: string
  readonly accessToken: string
  readonly refreshToken: string
  readonly userId: string
}

/**
 * Signs up a fresh password user (201 expected) and returns its tokens and id (from GET /v1/auth/me).
 */
export const signUp = (
  input: { readonly email?: string; readonly password?: string; readonly name?: string } = {}
): Effect.Effect<TestUser, Error, Harness> =>
  Effect.gen(function* () {
    const email = input.email ?? uniqueEmail()
    const password = input.password ?? "Passw0rd!"
    const name = input.name ?? "Test User"
    const res = yield* request("POST", "/v1/auth/email/signup", { body: { method: "password", email, password, name } })
    if (res.status !== 201) return yield* Effect.fail(new Error(`sign-up failed: ${res.status} ${res.text}`))
    const accessToken = str(res.data, "accessToken")
    const refreshToken = str(res.data, "refreshToken")
    const me = yield* request("GET", "/v1/auth/me", { token: accessToken })
    return { email, password, name, accessToken, refreshToken, userId: str(me.data, "id") }
  })

/**
 * Signs up a user and promotes it to `admin` (directly in the server's store: there is no route for the first admin).
 */
export const signUpAdmin = (
  input: { readonly email?: string; readonly password?: string; readonly name?: string } = {}
): Effect.Effect<TestUser, Error, Harness> =>
  Effect.gen(function* () {
    const user = yield* signUp(input)
    const h = yield* Harness
    yield* Effect.orDie(h.server.store.users.update(user.userId, (u) => ({ ...u, role: "admin" })))
    return user
  })
