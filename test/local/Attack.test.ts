/**
 * Hostile clients over a real socket: body floods, deep JSON, hidden-column probes, key claims, local endpoints,
 * unsafe callback URLs, backtracking regexes, slow clients, malformed bytes and oversized request heads. Each answer
 * is the documented 4xx envelope (never a 5xx), and the server keeps answering other requests meanwhile.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc, Option, TestServices } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import * as LocalServer from "../../src/local/LocalServer.js"
import * as K from "../../src/local/internal/kernel.js"
import type { Reply } from "./utils.js"
import { errorCode, get, Harness, harnessLayer, request, signUp, snapshotStatus, str } from "./utils.js"

const MiB = 1024 * 1024

const expectEnvelope = (res: Reply, status: number, code?: string) => {
  expect(res.status, res.text.slice(0, 200)).toBe(status)
  expect(get(res.json, "success")).toBe(false)
  expect(typeof get(res.json, "error.message")).toBe("string")
  if (code !== undefined) expect(errorCode(res)).toBe(code)
}

interface RawReply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

/**
 * Streams `total` bytes (64 KiB chunks, reused) as a chunked body; resolves with the answer. The server closes the
 * connection right after its 413, so a client still writing may see EPIPE/ECONNRESET before it can read the answer:
 * then `status` is 0 and the answer is read from the server's request log instead (see `expect413`).
 */
const streamBody = (
  url: string,
  method: string,
  path: string,
  total: number,
  headers: Record<string, string>
): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const req = http.request(new URL(path, url), { method, headers: { ...headers, "transfer-encoding": "chunked" } })
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let sent = 0
    let answered = false
    req.on("response", (res) => {
      answered = true
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => {
        text += d
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (answered) return
      answered = true
      if (e.code === "EPIPE" || e.code === "ECONNRESET") resolve({ status: 0, headers: {}, text: "" })
      else reject(e)
    })
    const pump = (): void => {
      while (sent < total && !answered) {
        sent += chunk.length
        if (!req.write(chunk)) {
          req.once("drain", pump)
          return
        }
      }
      if (!answered) req.end()
    }
    pump()
  })

/** Writes raw bytes on a fresh socket; resolves with everything read until the server closes it. */
const rawExchange = (url: string, payload: string | Buffer, stallAfterWrite = false): Promise<string> =>
  new Promise((resolve, reject) => {
    const u = new URL(url)
    const socket = net.connect(Number(u.port), u.hostname)
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (d: string) => {
      text += d
    })
    socket.on("close", () => resolve(text))
    socket.on("error", reject)
    socket.write(payload)
    if (!stallAfterWrite) socket.end()
  })

// The flood was answered 413 with the envelope (read from the reply, or from the log when the client could not).
const expect413 = (reply: RawReply, path: string) =>
  Effect.gen(function* () {
    const h = yield* Harness
    if (reply.status === 0) {
      const log = yield* h.server.requestLog
      expect(log.some((e) => e.path === path && e.status === 413)).toBe(true)
      return
    }
    expect(reply.status).toBe(413)
    expect(reply.headers.connection).toBe("close")
    if (path.startsWith("/_storage/")) expect(reply.text).toContain("EntityTooLarge")
    else expect(get(JSON.parse(reply.text), "error.code")).toBe("common/payload-too-large")
  })

const jsonOf = (raw: string): unknown => {
  const i = raw.indexOf("\r\n\r\n")
  try {
    return JSON.parse(raw.slice(i + 4))
  } catch {
    return undefined
  }
}

const nested = (depth: number, kind: "array" | "object"): string =>
  kind === "array" ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`

// A request that must keep being answered during an attack (it fails the test if it never is).
const probe = Effect.flatMap(request("GET", "/v1/auth/me"), (res) =>
  Effect.sync(() => expect(res.status).toBe(401))
).pipe(
  Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => new Error("the server stopped answering") }),
  TestServices.provideLive
)

const secrets: K.LocalOptions["tables"][number] = {
  name: "accounts",
  permissions: { guest: { create: true, read: true, list: true }, user: { create: true, read: true, list: true } },
  columnPermissions: { pin: { read: "admin" }, note: { read: "self" } }
}

// Tables guests may write to, so every attack reaches the code it targets (a dev-mode table would refuse guests).
const open = (name: string): K.LocalOptions["tables"][number] => ({
  name,
  permissions: { guest: { create: true, read: true, list: true }, user: { create: true, read: true, list: true } }
})

layer(
  harnessLayer({
    devMode: true,
    tables: [secrets, ...["floods", "docs", "texts", "utf"].map(open)],
    maxUploadBytes: 8 * MiB
  })
)("attacks (socket)", (it) => {
  describe("1. body limits while streaming", () => {
    it.effect("a 50 MiB chunked body gets 413 after reading about the limit; RSS stays bounded; others answered", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const headers = { "x-api-key": h.server.keys.publishable, "content-type": "application/json" }
        const before = process.memoryUsage().rss
        const [res] = yield* Effect.all(
          [Effect.promise(() => streamBody(h.url, "POST", "/v1/data/floods", 50 * MiB, headers)), probe],
          { concurrency: "unbounded" }
        )
        const growth = process.memoryUsage().rss - before
        yield* expect413(res, "/v1/data/floods")
        expect(growth).toBeLessThan(64 * MiB)
        yield* probe
      })
    )

    it.effect("three floods in parallel: all 413, RSS bounded", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const headers = { "x-api-key": h.server.keys.publishable, "content-type": "application/json" }
        const before = process.memoryUsage().rss
        const replies = yield* Effect.all(
          [1, 2, 3].map(() => Effect.promise(() => streamBody(h.url, "POST", "/v1/data/floods", 50 * MiB, headers))),
          { concurrency: "unbounded" }
        )
        expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB)
        for (const r of replies) yield* expect413(r, "/v1/data/floods")
      })
    )

    it.effect("a declared Content-Length above the limit is refused before any body byte is sent", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const raw = yield* Effect.promise(() =>
          rawExchange(
            h.url,
            `POST /v1/data/floods HTTP/1.1\r\nHost: x\r\nX-API-Key: ${h.server.keys.publishable}\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * MiB}\r\n\r\n`,
            true
          )
        )
        expect(raw.startsWith("HTTP/1.1 413")).toBe(true)
        expect(get(jsonOf(raw), "error.code")).toBe("common/payload-too-large")
      })
    )

    it.effect("a storage PUT over maxUploadBytes streams to a 413 (S3 XML); one under it is stored whole", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const user = yield* signUp()
        const presign = (filename: string) =>
          Effect.map(
            request("POST", "/v1/files/presigned-url", {
              token: user.accessToken,
              body: { filename, contentType: "application/octet-stream" }
            }),
            (r) => str(r.data, "url")
          )
        const big = yield* presign("big.bin")
        const before = process.memoryUsage().rss
        const tooBig = yield* Effect.promise(() => streamBody(big, "PUT", big, 50 * MiB, {}))
        expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB)
        yield* expect413(tooBig, new URL(big).pathname)
        const ok = yield* presign("ok.bin")
        const stored = yield* Effect.promise(() => streamBody(ok, "PUT", ok, 6 * MiB, {}))
        expect(stored.status).toBe(200)
        const key = new URL(ok).pathname.slice("/_storage/".length).split("/").map(decodeURIComponent).join("/")
        expect(Option.map(yield* Effect.orDie(h.server.store.objects.get(key)), (o) => o.size)).toEqual(
          Option.some(6 * MiB)
        )
      })
    )
  })

  describe("2. JSON depth", () => {
    it.effect.prop(
      "deep JSON is 400 on data rows, onboarding and file metadata; lists and snapshots keep working",
      [fc.integer({ min: K.defaultOptions.maxJsonDepth, max: 6000 }), fc.constantFrom("array", "object" as const)],
      ([depth, kind]) =>
        Effect.gen(function* () {
          const h = yield* Harness
          const user = yield* signUp()
          const deep = nested(depth, kind === "array" ? "array" : "object")
          const json = { "content-type": "application/json" }
          const row = yield* request("POST", "/v1/data/docs", { rawBody: `{"doc":${deep}}`, headers: json })
          expectEnvelope(row, 400, "data/validation-error")
          const onboarding = yield* request("PATCH", `/v1/users/${user.userId}/onboarding`, {
            token: user.accessToken,
            rawBody: `{"status":"done","extra":${deep}}`,
            headers: json
          })
          expectEnvelope(onboarding, 400, "common/invalid-parameters")
          const file = yield* request("POST", "/v1/files", {
            token: user.accessToken,
            rawBody: `{"s3Key":"files/${user.userId}/k/a.txt","originalName":"a","mimeType":"text/plain","size":1,"metadata":{"custom":${deep}}}`,
            headers: json
          })
          expectEnvelope(file, 400, "common/invalid-parameters")
          // what is accepted (nesting within the limit) never breaks a list or a snapshot
          const ok = yield* request("POST", "/v1/data/docs", { body: { doc: JSON.parse(nested(20, "object")) } })
          expect(ok.status).toBe(201)
          expect((yield* request("GET", "/v1/data/docs")).status).toBe(200)
          expect((yield* request("GET", "/_local/snapshot", { key: "sk" })).status).toBe(snapshotStatus(h.server))
          if (h.server.engine === "memory") {
            const snapshot = yield* h.server.exportSnapshot
            expect(JSON.parse(snapshot).format).toBe("bkend-local-snapshot")
          }
        }),
      { fastCheck: { numRuns: 6, seed: 12 } }
    )
  })

  describe("3. queries only on readable fields", () => {
    it.effect.prop(
      "filters, ranges, $regex, sortBy and searchType on a hidden column are 403 for guests and users",
      [
        fc.constantFrom("pin", "note"),
        fc.constantFrom(
          { $eq: "1234" },
          { $ne: "x" },
          { $gt: "0" },
          { $lte: "9" },
          { $regex: "^1" },
          { $in: ["1234"] },
          { $exists: true }
        ),
        fc.constantFrom("andFilters", "orFilters", "sortBy", "searchType"),
        fc.boolean()
      ],
      ([field, condition, param, asUser]) =>
        Effect.gen(function* () {
          const token = asUser ? (yield* signUp()).accessToken : undefined
          const value = param === "sortBy" || param === "searchType" ? field : JSON.stringify({ [field]: condition })
          const res = yield* request("GET", "/v1/data/accounts", {
            query: { [param]: value, ...(param === "searchType" ? { search: "1" } : {}) },
            ...(token !== undefined ? { token } : {})
          })
          expectEnvelope(res, 403, "data/permission-denied")
        }),
      { fastCheck: { numRuns: 30, seed: 3 } }
    )

    it.effect("search never matches a hidden value; admins may still query it; users are not sortable by e-mail", () =>
      Effect.gen(function* () {
        yield* request("POST", "/v1/data/accounts", { body: { owner: "alice", pin: "987654", note: "hush-hush" } })
        for (const search of ["987654", "hush-hush"]) {
          const guest = yield* request("GET", "/v1/data/accounts", { query: { search } })
          expect([guest.status, get(guest.data, "pagination.total")]).toEqual([200, 0])
        }
        const admin = yield* request("GET", "/v1/data/accounts", {
          key: "sk",
          query: { andFilters: JSON.stringify({ pin: "987654" }), sortBy: "pin" }
        })
        expect([admin.status, get(admin.data, "pagination.total")]).toEqual([200, 1])
        const user = yield* signUp()
        expectEnvelope(
          yield* request("GET", "/v1/users", { token: user.accessToken, query: { sortBy: "email" } }),
          403,
          "user/forbidden"
        )
      })
    )
  })

  describe("4. storage keys bound to their caller", () => {
    it.effect("another user's upload key or avatar key cannot be registered; the owner's can", () =>
      Effect.gen(function* () {
        const alice = yield* signUp()
        const mallory = yield* signUp()
        const pre = yield* request("POST", "/v1/files/presigned-url", {
          token: alice.accessToken,
          body: { filename: "a.txt", contentType: "text/plain" }
        })
        const key = str(pre.data, "key")
        const avatar = yield* request("POST", `/v1/users/${alice.userId}/avatar/upload-url`, {
          token: alice.accessToken,
          body: { filename: "me.png", contentType: "image/png" }
        })
        const register = (token: string, s3Key: string) =>
          request("POST", "/v1/files", {
            token,
            body: { s3Key, originalName: "x.txt", mimeType: "text/plain", size: 1 }
          })
        expectEnvelope(yield* register(mallory.accessToken, key), 403, "file/access-denied")
        expectEnvelope(yield* register(mallory.accessToken, str(avatar.data, "key")), 403, "file/access-denied")
        expectEnvelope(yield* register(mallory.accessToken, "unissued"), 403, "file/access-denied")
        expect((yield* register(alice.accessToken, key)).status).toBe(201)
      })
    )
  })

  describe("5. local-only endpoints", () => {
    it.effect("outbox, counters and snapshot need the secret key", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        for (const path of ["/_local/outbox", "/_local/counters", "/_local/snapshot"]) {
          expectEnvelope(yield* request("GET", path, { key: "none" }), 401)
          expectEnvelope(yield* request("GET", path), 403)
          const status = path === "/_local/snapshot" ? snapshotStatus(h.server) : 200
          expect((yield* request("GET", path, { key: "sk" })).status).toBe(status)
        }
      })
    )

    it("are off on a non-loopback bind unless enabled", () => {
      const enabled = (host: string | undefined, localEndpoints: K.LocalOptions["localEndpoints"]) => {
        const options = K.resolveOptions({ localEndpoints })
        const state = K.makeState(options)
        state.listening = host === undefined ? undefined : { host, port: 1 }
        return LocalServer.localEndpointsEnabled(K.makeLocal(options, state))
      }
      expect(enabled(undefined, "loopback")).toBe(true)
      expect(enabled("127.0.0.1", "loopback")).toBe(true)
      expect(enabled("::1", "loopback")).toBe(true)
      expect(enabled("0.0.0.0", "loopback")).toBe(false)
      expect(enabled("192.168.1.10", "loopback")).toBe(false)
      expect(enabled("0.0.0.0", "always")).toBe(true)
      expect(enabled("127.0.0.1", "never")).toBe(false)
    })
  })

  describe("6. callback URLs and link origins", () => {
    it.effect.prop(
      "unsafe callback URLs are 400 on every endpoint that mails or redirects",
      [
        fc.constantFrom(
          "http://app.test/x\r\nSet-Cookie: a=b",
          "http://app.test/%0d%0a\n",
          "javascript:alert(1)",
          "JAVASCRIPT:alert(1)",
          "data:text/html,<script>alert(1)</script>",
          "/relative",
          "//evil.example/x",
          "http:/evil.example",
          "http://user:pw@evil.example/",
          "http://evil.example\\@app.test/",
          "ftp://app.test/",
          " http://app.test/"
        ),
        fc.constantFrom(
          "/v1/auth/password/reset/request",
          "/v1/auth/email/verify/send",
          "/v1/auth/signup/email/resend",
          "magiclink"
        )
      ],
      ([callbackUrl, endpoint]) =>
        Effect.gen(function* () {
          const user = yield* signUp()
          const res =
            endpoint === "magiclink"
              ? yield* request("POST", "/v1/auth/email/signin", {
                  body: { method: "magiclink", email: user.email, callbackUrl }
                })
              : yield* request("POST", endpoint, { body: { email: user.email, callbackUrl } })
          expectEnvelope(res, 400)
          const confirm = yield* request("GET", "/v1/auth/signup/email/confirm", {
            key: "none",
            query: { token: "t", email: user.email, callbackUrl }
          })
          expectEnvelope(confirm, 400)
        }),
      { fastCheck: { numRuns: 20, seed: 6 } }
    )

    it.effect("links in mails and presigned URLs use the bound address, whatever the Host header says", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const user = yield* signUp()
        const post = (path: string, body: unknown, extra = "") => {
          const text = JSON.stringify(body)
          return Effect.promise(() =>
            rawExchange(
              h.url,
              `POST ${path} HTTP/1.1\r\nHost: evil.example\r\nX-API-Key: ${h.server.keys.publishable}\r\n${extra}` +
                `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
              // not half-closed: a client that ends its side early may see the server drop an answer still on its way
              true
            )
          )
        }
        expect(yield* post("/v1/auth/signup/email/resend", { email: user.email })).toMatch(/^HTTP\/1\.1 200/)
        const mail = yield* h.server.outbox.latest(user.email, "signup-verification")
        expect(mail?.link?.startsWith(`${h.url}/`)).toBe(true)
        const pre = yield* post(
          "/v1/files/presigned-url",
          { filename: "a.txt", contentType: "text/plain" },
          `Authorization: Bearer ${user.accessToken}\r\n`
        )
        expect(String(get(jsonOf(pre), "data.url")).startsWith(`${h.url}/_storage/`)).toBe(true)
      })
    )
  })

  describe("7. regex work", () => {
    it.effect("20 parallel backtracking patterns answer 200 while other requests are served", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 10; i++)
          yield* request("POST", "/v1/data/texts", { body: { s: `${"a".repeat(5000)}!${i}` } })
        const query = (pattern: string) =>
          request("GET", "/v1/data/texts", { query: { andFilters: JSON.stringify({ s: { $regex: pattern } }) } })
        const patterns = ["a*a*a*a*a*a*b", "^(a+)+$", "^(a|aa)*$", "(\\w*)*!x"]
        const replies = yield* Effect.all(
          [...Array.from({ length: 20 }, (_, i) => query(patterns[i % 4] ?? "")), probe],
          {
            concurrency: "unbounded"
          }
        )
        for (const r of replies.slice(0, 20)) expect(r?.status).toBe(200)
        for (const bad of ["(a)\\1", "(?=a)", "(?<=a)b", "a{2,1}", "x".repeat(201)]) {
          expectEnvelope(yield* query(bad), 400, "data/validation-error")
        }
      })
    )
  })

  describe("9. smaller", () => {
    it.effect("invalid UTF-8 in a JSON body is 400 and nothing is stored", () =>
      Effect.gen(function* () {
        const bytes = new Uint8Array([...Buffer.from('{"s":"'), 0xff, 0xfe, ...Buffer.from('"}')])
        const res = yield* request("POST", "/v1/data/utf", {
          rawBody: bytes,
          headers: { "content-type": "application/json" }
        })
        expectEnvelope(res, 400, "data/validation-error")
        const list = yield* request("GET", "/v1/data/utf")
        expect(list.status).toBe(200)
        expect(list.data).toMatchObject({ items: [] })
      })
    )

    it.effect.prop(
      "paging values other than plain decimal integers are 400 on every list",
      [
        fc.constantFrom("1e2", "0x10", "1.5", "-1", "+5", "1 0", "Infinity", "0b11", "١٢"),
        fc.constantFrom("limit", "page"),
        fc.constantFrom(
          "/v1/files",
          "/v1/users",
          "/v1/auth/sessions",
          "/v1/auth/accounts",
          "/v1/auth/invitations",
          "/v1/data/docs"
        )
      ],
      ([value, param, path]) =>
        Effect.gen(function* () {
          const user = yield* signUp()
          expectEnvelope(yield* request("GET", path, { token: user.accessToken, query: { [param]: value } }), 400)
          expect((yield* request("GET", path, { token: user.accessToken, query: { [param]: "2" } })).status).toBe(200)
        }),
      { fastCheck: { numRuns: 25, seed: 9 } }
    )

    it.effect("an avatar PUT must carry the signed image type; downloads of documents are attachments", () =>
      Effect.gen(function* () {
        const user = yield* signUp()
        const avatar = yield* request("POST", `/v1/users/${user.userId}/avatar/upload-url`, {
          token: user.accessToken,
          body: { filename: "me.png", contentType: "image/png" }
        })
        const url = str(avatar.data, "url")
        const html = yield* request("PUT", url, {
          absolute: true,
          key: "none",
          rawBody: "<script>alert(1)</script>",
          headers: { "content-type": "text/html" }
        })
        expect(html.status).toBe(403)
        const png = yield* request("PUT", url, {
          absolute: true,
          key: "none",
          rawBody: new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
          headers: { "content-type": "image/png" }
        })
        expect(png.status).toBe(200)
        const served = yield* request("GET", url.slice(0, url.indexOf("?")), { absolute: true, key: "none" })
        expect(served.headers.get("x-content-type-options")).toBe("nosniff")
        expect(served.headers.get("content-disposition")).toBeNull()
        // a document uploaded as text/html is never rendered from the API origin
        const pre = yield* request("POST", "/v1/files/presigned-url", {
          token: user.accessToken,
          body: { filename: "x.html", contentType: "text/html" }
        })
        const put = str(pre.data, "url")
        yield* request("PUT", put, {
          absolute: true,
          key: "none",
          rawBody: "<h1>x</h1>",
          headers: { "content-type": "text/html" }
        })
        const key = str(pre.data, "key")
        const reg = yield* request("POST", "/v1/files", {
          token: user.accessToken,
          body: { s3Key: key, originalName: "x.html", mimeType: "text/html", size: 10 }
        })
        const dl = yield* request("GET", `/v1/files/${str(reg.data, "id")}/download-url`, { token: user.accessToken })
        const file = yield* request("GET", str(dl.data, "url"), { absolute: true, key: "none" })
        expect(file.status).toBe(200)
        expect(file.headers.get("content-disposition")).toBe("attachment")
        expect(file.headers.get("x-content-type-options")).toBe("nosniff")
      })
    )

    it.effect("a 100 KB URL is 414 and 40 KB of headers 431, both with the JSON envelope", () =>
      Effect.gen(function* () {
        const h = yield* Harness
        const longUrl = yield* Effect.promise(() =>
          rawExchange(h.url, `GET /v1/data/docs?x=${"a".repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`)
        )
        expect(longUrl.startsWith("HTTP/1.1 414")).toBe(true)
        expect(get(jsonOf(longUrl), "error.code")).toBe("common/uri-too-long")
        const bigHeaders = yield* Effect.promise(() =>
          rawExchange(h.url, `GET /v1/data/docs HTTP/1.1\r\nHost: x\r\nX-Junk: ${"b".repeat(40 * 1024)}\r\n\r\n`)
        )
        expect(bigHeaders.startsWith("HTTP/1.1 431")).toBe(true)
        expect(get(jsonOf(bigHeaders), "error.code")).toBe("common/headers-too-large")
        const garbage = yield* Effect.promise(() => rawExchange(h.url, "NOT HTTP AT ALL\r\n\r\n"))
        expect(garbage.startsWith("HTTP/1.1 400")).toBe(true)
        expect(get(jsonOf(garbage), "success")).toBe(false)
        yield* probe
      })
    )
  })
})

layer(
  harnessLayer({
    headersTimeoutMillis: 1000,
    requestTimeoutMillis: 2000,
    keepAliveTimeoutMillis: 500,
    idleTimeoutMillis: 6000
  })
)("8. slow clients (socket)", (it) => {
  it.effect("partial headers, a stalled body and an idle keep-alive connection are all closed by the server", () =>
    Effect.gen(function* () {
      const h = yield* Harness
      const key = h.server.keys.publishable
      // each exchange resolves only once the server closes the socket (the client never does)
      const [partial, trickle, idle] = yield* Effect.all(
        [
          Effect.promise(() => rawExchange(h.url, "GET /v1/auth/me HTTP/1.1\r\nHost: x\r\nX-Slow: ", true)),
          Effect.promise(() =>
            rawExchange(
              h.url,
              `POST /v1/data/docs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`,
              true
            )
          ),
          Effect.promise(() =>
            rawExchange(h.url, `GET /v1/auth/me HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\n\r\n`, true)
          ),
          probe
        ],
        { concurrency: "unbounded" }
      )
      // the header timeout answers 408 with the envelope; the stalled body and the idle connection are dropped
      expect(partial.startsWith("HTTP/1.1 408")).toBe(true)
      expect(get(jsonOf(partial), "error.code")).toBe("common/request-timeout")
      expect(trickle.includes("HTTP/1.1 2")).toBe(false)
      expect(idle.startsWith("HTTP/1.1 401")).toBe(true)
    }).pipe(Effect.timeout("60 seconds"), TestServices.provideLive)
  )
})
