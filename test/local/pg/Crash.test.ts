/**
 * Crash durability: `bkend-local` on PostgreSQL and a files directory, killed with SIGKILL right after its
 * acknowledged writes (sign-ups, rows, a refresh rotation, a presigned and a multipart upload through the SDK's
 * Files). A fresh process on the same database and directory has every one of them and prints the same keys.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type CliServer, call, start, stop, tempDir, withDatabase } from "../cliProcess.js"
import { download, sdk, signUp } from "../cliSdk.js"

const password = "Passw0rd!"
const signIn = (server: CliServer, email: string) =>
  call(server, "POST", "/v1/auth/email/signin", { method: "password", email, password })

/** What the first process acknowledged. */
interface Acknowledged {
  readonly emails: ReadonlyArray<string>
  readonly rows: ReadonlyArray<{ readonly id: string; readonly n: number }>
  readonly rotated: { readonly old: string; readonly successor: string }
  readonly files: ReadonlyArray<{ readonly id: string; readonly bytes: Uint8Array }>
}

const writeEverything = async (server: CliServer): Promise<Acknowledged> => {
  const run = crypto.randomUUID().slice(0, 8)
  const emails = [0, 1, 2].map((i) => `crash-${run}-${i}@example.com`)
  const tokens: Array<{ accessToken: string; refreshToken: string }> = []
  for (const email of emails) {
    const signedUp = await call(server, "POST", "/v1/auth/email/signup", {
      method: "password",
      email,
      password,
      name: "C"
    })
    expect(signedUp.status).toBe(201)
    tokens.push(signedUp.data as { accessToken: string; refreshToken: string })
  }
  const rows: Array<{ id: string; n: number }> = []
  for (let n = 0; n < 5; n++) {
    const created = await call(server, "POST", "/v1/data/notes", { n }, tokens[0]?.accessToken)
    expect(created.status).toBe(201)
    rows.push({ id: String(created.data.id), n })
  }
  const old = String(tokens[1]?.refreshToken)
  const rotation = await call(server, "POST", "/v1/auth/refresh", { refreshToken: old })
  expect(rotation.status).toBe(200)
  const successor = String(rotation.data.refreshToken)
  expect(successor).not.toBe(old)
  const files = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const { client, files } = yield* sdk(server)
        yield* signUp(client, `crash-${run}-files@example.com`)
        const small = crypto.randomBytes(3000)
        const large = crypto.randomBytes(200 * 1024)
        const presigned = yield* files.upload({
          data: small,
          filename: "small.bin",
          contentType: "application/octet-stream"
        })
        const multipart = yield* files.upload({
          data: large,
          filename: "large.bin",
          contentType: "application/octet-stream",
          multipartThreshold: 100 * 1024,
          partSize: 64 * 1024
        })
        return [
          { id: presigned.id, bytes: small },
          { id: multipart.id, bytes: large }
        ]
      })
    )
  )
  return { emails: [...emails, `crash-${run}-files@example.com`], rows, rotated: { old, successor }, files }
}

const expectEverything = async (server: CliServer, acked: Acknowledged) => {
  for (const email of acked.emails) expect((await signIn(server, email)).status).toBe(200)
  const owner = await signIn(server, String(acked.emails[0]))
  for (const row of acked.rows) {
    const read = await call(server, "GET", `/v1/data/notes/${row.id}`, undefined, String(owner.data.accessToken))
    expect([read.status, read.data.id, read.data.n]).toEqual([200, row.id, row.n])
  }
  // the successor of the rotation works; the rotated-out token is then a replay
  expect((await call(server, "POST", "/v1/auth/refresh", { refreshToken: acked.rotated.successor })).status).toBe(200)
  const replay = await call(server, "POST", "/v1/auth/refresh", { refreshToken: acked.rotated.old })
  expect(replay.status).toBe(401)
  const counters = await fetch(`${server.baseUrl}/_local/counters`, { headers: { "x-api-key": server.sk } })
  expect(((await counters.json()) as { replaysDetected: number }).replaysDetected).toBe(1)
  const downloads = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const { client, files } = yield* sdk(server)
        yield* signUp(client, String(acked.emails[3]), "signin")
        return yield* Effect.forEach(acked.files, (f) => download(files, f.id))
      })
    )
  )
  expect(downloads.map((d) => d.toString("hex"))).toEqual(acked.files.map((f) => Buffer.from(f.bytes).toString("hex")))
}

describe("a SIGKILL after acknowledged writes", () => {
  it(
    "loses none of them: a fresh process on the same database and files directory has all, with the same keys",
    {
      timeout: 120_000
    },
    () =>
      withDatabase(async (url) => {
        const filesDir = tempDir("bkend-local-crash-")
        const config = path.join(filesDir, "..", `${path.basename(filesDir)}.json`)
        // strict rotation (no reuse interval): the rotated-out token is a replay at once
        fs.writeFileSync(config, JSON.stringify({ refreshReuseIntervalSeconds: 0 }))
        const args = ["--port", "0", "--database-url", url, "--files-dir", filesDir, "--config", config]
        const first = await start(args)
        let acked: Acknowledged
        try {
          acked = await writeEverything(first)
        } finally {
          first.child.kill("SIGKILL")
          await first.exited
        }
        expect(first.child.signalCode).toBe("SIGKILL")
        const second = await start(args)
        try {
          expect([second.pk, second.sk]).toEqual([first.pk, first.sk])
          await expectEverything(second, acked)
        } finally {
          await stop(second)
        }
      })
  )
})
