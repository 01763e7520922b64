/**
 * Two `bkend-local` processes on one PostgreSQL database and one files directory act as one bkend: an SDK refresh
 * storm spread over both rotates once without a replay, one refresh token sent to both at once rotates once and the
 * other presentation is a replay, one e-mail signed up on both at once gets one 201, and a file uploaded through one
 * downloads through the other (its presigned URL is valid on both). The servers run without a reuse interval, so
 * any second presentation of a token would show as a replay.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeSession from "../../../src/node/NodeSession.js"
import * as Session from "../../../src/Session.js"
import { type CliServer, call, openDatabase, start, stop, tempDir } from "../cliProcess.js"
import { download, sdk, signUp } from "../cliSdk.js"

let database: Awaited<ReturnType<typeof openDatabase>>
let a: CliServer
let b: CliServer

beforeAll(async () => {
  database = await openDatabase()
  const dir = tempDir("bkend-local-two-")
  const config = path.join(dir, "config.json")
  fs.writeFileSync(config, JSON.stringify({ refreshReuseIntervalSeconds: 0 }))
  const args = ["--port", "0", "--database-url", database.url, "--files-dir", path.join(dir, "files")]
  // the first creates the schema and the keys; the second finds both
  a = await start([...args, "--config", config])
  b = await start([...args, "--config", config])
}, 120_000)

afterAll(async () => {
  await Promise.all([a, b].filter((s) => s !== undefined).map((s) => stop(s)))
  await database?.drop()
}, 60_000)

const counters = async (server: CliServer) => {
  const res = await fetch(`${server.baseUrl}/_local/counters`, { headers: { "x-api-key": server.sk } })
  return (await res.json()) as { refreshSucceeded: number; replaysDetected: number }
}

const Me = Schema.Struct({ id: Schema.String, email: Schema.String })
const signUpBody = (email: string) => ({ method: "password", email, password: "Passw0rd!", name: "Twin" })
const uniqueEmail = (prefix: string) => `${prefix}-${crypto.randomUUID()}@example.com`

describe("two bkend-local processes on one database", () => {
  it("print the same keys", () => {
    expect([b.pk, b.sk]).toEqual([a.pk, a.sk])
  })

  it(
    "an SDK refresh storm over both (one shared session, callers alternating instances): 1 rotation, 0 replays",
    {
      timeout: 60_000
    },
    () =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const shared = NodeSession.layer({ path: path.join(tempDir("bkend-local-session-"), "session.json") })
            const first = yield* sdk(a, shared)
            const email = uniqueEmail("storm")
            const signedUp = yield* Effect.promise(() => call(a, "POST", "/v1/auth/email/signup", signUpBody(email)))
            // the stored session has expired: every call below refreshes first
            yield* first.client.setTokens(
              Schema.decodeUnknownSync(Session.TokenResponse)({ ...signedUp.data, expiresIn: 0 })
            )
            const second = yield* sdk(b, shared)
            expect(Option.isSome(yield* second.client.session)).toBe(true)
            const before = yield* Effect.promise(() => counters(a))
            const me = yield* Effect.all(
              Array.from({ length: 16 }, (_, i) =>
                (i % 2 === 0 ? first : second).client.request({
                  method: "GET",
                  route: "/v1/auth/me",
                  auth: "required",
                  response: Me
                })
              ),
              { concurrency: "unbounded" }
            )
            expect(me.map((m) => m.email)).toEqual(Array(16).fill(email))
            const after = yield* Effect.promise(() => counters(b))
            expect({
              rotations: after.refreshSucceeded - before.refreshSucceeded,
              replays: after.replaysDetected - before.replaysDetected
            }).toEqual({ rotations: 1, replays: 0 })
          })
        )
      )
  )

  it("one refresh token sent to both at once: one rotation, the other a replay", { timeout: 60_000 }, async () => {
    const before = await counters(a)
    for (let trial = 0; trial < 6; trial++) {
      const signedUp = await call(a, "POST", "/v1/auth/email/signup", signUpBody(uniqueEmail("pair")))
      const refreshToken = signedUp.data.refreshToken
      const replies = await Promise.all([a, b].map((s) => call(s, "POST", "/v1/auth/refresh", { refreshToken })))
      expect(replies.map((r) => r.status).sort()).toEqual([200, 401])
    }
    const after = await counters(b)
    expect([after.refreshSucceeded - before.refreshSucceeded, after.replaysDetected - before.replaysDetected]).toEqual([
      6, 6
    ])
  })

  it("one e-mail signed up on both at once: exactly one 201", { timeout: 60_000 }, async () => {
    for (let trial = 0; trial < 6; trial++) {
      const email = uniqueEmail("twin")
      const replies = await Promise.all([a, b].map((s) => call(s, "POST", "/v1/auth/email/signup", signUpBody(email))))
      expect(replies.map((r) => r.status).sort()).toEqual([201, 409])
    }
  })

  it(
    "a file uploaded through one downloads through the other; a presigned URL of one is valid on the other",
    {
      timeout: 60_000
    },
    () =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const email = uniqueEmail("files")
            const onA = yield* sdk(a)
            yield* signUp(onA.client, email)
            const bytes = crypto.randomBytes(200 * 1024)
            const uploaded = yield* onA.files.upload({
              data: bytes,
              filename: "shared.bin",
              contentType: "application/octet-stream",
              multipartThreshold: 100 * 1024,
              partSize: 64 * 1024
            })
            const onB = yield* sdk(b)
            yield* signUp(onB.client, email, "signin")
            expect((yield* download(onB.files, uploaded.id)).equals(bytes)).toBe(true)
            // a download URL issued by the first, presented to the second
            const link = new URL((yield* onA.files.downloadUrl({ id: uploaded.id })).url)
            const elsewhere = `${b.baseUrl}${link.pathname}${link.search}`
            const res = yield* Effect.promise(() => fetch(elsewhere))
            expect(res.status).toBe(200)
            expect(Buffer.from(yield* Effect.promise(() => res.arrayBuffer())).equals(bytes)).toBe(true)
          })
        )
      )
  )
})
