/**
 * The `bkend-local` command line, spawned as a user runs it from a clone (`src/local/cli.ts` under tsx): help, version,
 * flag and config validation with exit code 2, a port in use explained, and the devMode table defaults.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { command, root, start, tempFile, withDatabase } from "./cliProcess.js"
import { clientConfig } from "./pg/db.js"

const version = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const options = { cwd: root, timeout: 150_000, env: { ...process.env, ...env } }
    const [file, argv] = command(args)
    execFile(file, argv, options, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
  })

/** Drops the database of `url` with its connections, as a failing database server would end them. */
const dropDatabase = (url: string): Promise<void> =>
  Effect.runPromise(
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`DROP DATABASE ${sql(new URL(url).pathname.slice(1))} WITH (FORCE)`
    ).pipe(Effect.asVoid, Effect.provide(PgClient.layer(clientConfig("postgres"))))
  )

/** Resolves once a new connection to `port` is refused: the server stopped accepting. */
const refused = async (port: number): Promise<void> => {
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
    if (!connected) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The owner of imported rows and files claims the account made for them (password reset) and reads both. */
const claimAndRead = async (url: string, filesDir: string) => {
  const server = await start(["--port", "0", "--database-url", url, "--files-dir", filesDir])
  try {
    const call = async (method: string, route: string, body?: unknown, key = server.pk, token?: string) => {
      const headers: Record<string, string> = { "x-api-key": key, "content-type": "application/json" }
      if (token !== undefined) headers.authorization = `Bearer ${token}`
      const res = await fetch(`${server.baseUrl}${route}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      return {
        status: res.status,
        json: (await res.json()) as { data: Record<string, unknown> & { items: Array<Record<string, unknown>> } }
      }
    }
    const email = "owner@example.com"
    expect((await call("POST", "/v1/auth/password/reset/request", { email })).status).toBe(200)
    const outbox = await fetch(`${server.baseUrl}/_local/outbox?to=${email}`, { headers: { "x-api-key": server.sk } })
    const mail = ((await outbox.json()) as { items: Array<{ token: string }> }).items.at(-1)
    const reset = await call("POST", "/v1/auth/password/reset/confirm", {
      email,
      token: mail?.token,
      newPassword: "n3w!pass"
    })
    expect(reset.status).toBe(200)
    const signin = await call("POST", "/v1/auth/email/signin", { method: "password", email, password: "n3w!pass" })
    expect(signin.status).toBe(200)
    const token = String(signin.json.data.accessToken)
    const me = await call("GET", "/v1/auth/me", undefined, server.pk, token)
    expect(me.json.data.id).toBe("old-user")
    const notes = await call("GET", "/v1/data/notes", undefined, server.pk, token)
    expect(notes.json.data.items.map((n) => [n.text, n.createdBy])).toEqual([["hello", "old-user"]])
    const files = await call("GET", "/v1/files", undefined, server.pk, token)
    const file = files.json.data.items.find((f) => f.originalName === "report.txt")
    const link = await call("POST", `/v1/files/${String(file?.id)}/download-url`, undefined, server.pk, token)
    expect(link.status).toBe(200)
    const bytes = await fetch(String(link.json.data.url))
    expect(await bytes.text()).toBe("quarterly")
  } finally {
    server.child.kill("SIGTERM")
    await server.exited
  }
}

const usageLine = /usage: bkend-local \[--port integer\] \[--host text\]/

describe.concurrent("bkend-local CLI", () => {
  it("--help prints the options and exits 0", { timeout: 200_000 }, async () => {
    const { code, stdout } = await run(["--help"])
    expect(code).toBe(0)
    for (const flag of ["--port", "--host", "--import", "--export", "--config", "--files-dir", "--version"]) {
      expect(stdout).toContain(flag)
    }
    expect(stdout).toContain("default 8787")
  })

  it("--version prints the package version and exits 0", { timeout: 200_000 }, async () => {
    const { code, stdout } = await run(["--version"])
    expect(code).toBe(0)
    expect(stdout.trim()).toBe(version)
  })

  it("an unknown flag prints what is wrong and the usage, and exits 2", { timeout: 200_000 }, async () => {
    const { code, stderr } = await run(["--prot", "8787"])
    expect(code).toBe(2)
    expect(stderr).toContain("--prot")
    expect(stderr).toMatch(usageLine)
    expect(stderr).not.toMatch(/ERR_PARSE_ARGS|\n\s+at /)
  })

  it("a bad --port value prints the rule and the usage, and exits 2", { timeout: 200_000 }, async () => {
    const notANumber = await run(["--port", "abc"])
    expect(notANumber.code).toBe(2)
    expect(notANumber.stderr).toMatch(usageLine)
    const outOfRange = await run(["--port", "70000"])
    expect(outOfRange.code).toBe(2)
    expect(outOfRange.stderr).toContain("--port is a port number, 0 to 65535")
    expect(outOfRange.stderr).toMatch(usageLine)
  })

  it("a port in use names the port and the cause and suggests --port 0; exit 1", { timeout: 200_000 }, async () => {
    const holder = net.createServer()
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
    try {
      const address = holder.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const { code, stderr } = await run(["--port", String(port)])
      expect(code).toBe(1)
      expect(stderr.trim()).toBe(
        `bkend-local: port ${port} is already in use on 127.0.0.1 (EADDRINUSE). Stop the other server, pick another port with --port, or use --port 0 for any free port.`
      )
    } finally {
      holder.close()
    }
  })

  it("--config problems: one line per problem with its path, unknown keys included; exit 2", {
    timeout: 200_000
  }, async () => {
    const file = tempFile(
      "config.json",
      JSON.stringify({
        envelope: "bar",
        ratelimit: { limit: 1 },
        rateLimit: { limit: "x", windowSeconds: 60 },
        tables: [{ name: "posts", columns: { title: { type: "strin" } } }]
      })
    )
    const { code, stdout, stderr } = await run(["--config", file])
    expect(code).toBe(2)
    expect(stdout).toBe("")
    const [first, ...problems] = stderr.trim().split("\n")
    expect(first).toBe(`bkend-local: invalid --config ${file}:`)
    expect(problems.sort()).toEqual(
      [
        "  ratelimit: unknown key",
        '  envelope: Expected "wrapped" | "bare" | "hybrid", actual "bar"',
        '  rateLimit.limit: Expected number, actual "x"',
        '  tables.0.columns.title.type: Expected "string" | "number" | "int" | "double" | "boolean" | "date" | "object" | "array" | "reference", actual "strin"'
      ].sort()
    )
    const notJson = await run(["--config", tempFile("config.json", "{ tables: [")])
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toMatch(/invalid --config .*: not valid JSON/)
    const array = await run(["--config", tempFile("tables.json", JSON.stringify([{ name: "posts", colums: {} }]))])
    expect(array.code).toBe(2)
    expect(array.stderr).toContain("  0.colums: unknown key")
  })

  it("--files-dir (or BKEND_FILES_DIR) is created and named at start; a file in its place is refused", {
    timeout: 200_000
  }, async () => {
    const notADir = tempFile("plain.txt", "x")
    const refused = await run(["--port", "0"], { BKEND_FILES_DIR: notADir })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(notADir)
    const dir = path.join(path.dirname(tempFile("unused", "")), "files")
    const [file, argv] = command(["--port", "0", "--files-dir", dir])
    const child = spawn(file, argv, { cwd: root })
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let text = ""
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString()
          if (text.includes("files: ")) resolve(text)
        })
        child.on("exit", (code) => reject(new Error(`bkend-local exited ${code}: ${text}`)))
      })
      expect(banner).toContain(`  files: ${dir}\n`)
      expect(fs.statSync(dir).isDirectory()).toBe(true)
    } finally {
      child.kill("SIGTERM")
    }
  })

  it("devMode: an undeclared table lists empty, then gets bkend's default permissions", {
    timeout: 200_000
  }, async () => {
    const { child, exited, baseUrl, pk } = await start(["--port", "0"])
    try {
      const call = async (method: string, route: string, body?: unknown, token?: string) => {
        const headers: Record<string, string> = { "x-api-key": pk }
        if (body !== undefined) headers["content-type"] = "application/json"
        if (token !== undefined) headers.authorization = `Bearer ${token}`
        const init: RequestInit = { method, headers }
        if (body !== undefined) init.body = JSON.stringify(body)
        const res = await fetch(`${baseUrl}${route}`, init)
        return {
          status: res.status,
          json: (await res.json()) as { data?: Record<string, unknown>; error?: { code: string } }
        }
      }
      const empty = await call("GET", "/v1/data/bookmarks")
      expect(empty.status).toBe(200)
      expect(empty.json.data?.items).toEqual([])
      const guestCreate = await call("POST", "/v1/data/bookmarks", { url: "https://example.com" })
      expect(guestCreate.status).toBe(403)
      expect(guestCreate.json.error?.code).toBe("data/permission-denied")
      const signup = await call("POST", "/v1/auth/email/signup", {
        method: "password",
        email: "cli-dev@example.com",
        password: "s3cret!pw",
        name: "Dev"
      })
      const token = String(signup.json.data?.accessToken)
      const created = await call("POST", "/v1/data/bookmarks", { url: "https://example.com" }, token)
      expect(created.status).toBe(201)
      expect((await call("GET", "/v1/data/bookmarks")).json.data?.items).toHaveLength(1)
      const update = await call("PATCH", `/v1/data/bookmarks/${String(created.json.data?.id)}`, { url: "x" }, token)
      expect(update.status).toBe(403)
    } finally {
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
    }
  })

  it("SIGTERM: stops accepting, lets the request in flight finish, exits 0", { timeout: 200_000 }, async () => {
    const config = tempFile(
      "config.json",
      JSON.stringify({ faults: [{ route: "GET /v1/data/slow*", kind: "delay", delayMillis: 4000 }] })
    )
    const { child, exited, baseUrl, pk } = await start(["--port", "0", "--config", config])
    const port = Number(new URL(baseUrl).port)
    // a first answer on the connection proves the server took it; the slow request follows on the same one
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const get = (route: string) =>
      new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
        const req = http.get(`${baseUrl}${route}`, { agent, headers: { "x-api-key": pk } }, (res) => {
          let body = ""
          res.on("data", (chunk: Buffer) => {
            body += chunk.toString()
          })
          res.on("end", () => resolve({ status: res.statusCode, body }))
        })
        req.on("error", reject)
      })
    expect((await get("/v1/data/fast")).status).toBe(200)
    const slow = get("/v1/data/slow")
    await new Promise((resolve) => setTimeout(resolve, 500))
    child.kill("SIGTERM")
    await refused(port)
    const answer = await slow
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({ success: true, data: { items: [] } })
    expect(await exited).toBe(0)
    agent.destroy()
  })

  it("SIGTERM: a request still running after shutdownTimeoutMillis is cut off; exit 0", {
    timeout: 200_000
  }, async () => {
    const config = tempFile(
      "config.json",
      JSON.stringify({
        shutdownTimeoutMillis: 1000,
        idleTimeoutMillis: 600_000,
        faults: [{ route: "GET /v1/data/stuck*", kind: "delay", delayMillis: 600_000 }]
      })
    )
    const { child, exited, baseUrl, pk } = await start(["--port", "0", "--config", config])
    const stuck = fetch(`${baseUrl}/v1/data/stuck`, { headers: { "x-api-key": pk } }).then(
      (res) => res.status,
      () => "cut off"
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
    expect(await stuck).toBe("cut off")
  })

  it(
    "--database-url: a restart on the same database prints the same keys and keeps the data; /healthz answers",
    {
      timeout: 300_000
    },
    () =>
      withDatabase(async (url) => {
        const first = await start(["--port", "0"], { BKEND_DATABASE_URL: url })
        expect(first.banner).toContain("storage: PostgreSQL (--database-url)")
        expect(first.banner).not.toContain(url)
        const health = await fetch(`${first.baseUrl}/healthz`)
        expect([health.status, await health.json()]).toEqual([200, { ok: true }])
        const signup = await fetch(`${first.baseUrl}/v1/auth/email/signup`, {
          method: "POST",
          headers: { "x-api-key": first.pk, "content-type": "application/json" },
          body: JSON.stringify({ method: "password", email: "restart@example.com", password: "s3cret!pw", name: "R" })
        })
        expect(signup.status).toBe(201)
        first.child.kill("SIGTERM")
        expect(await first.exited).toBe(0)

        const second = await start(["--port", "0", "--database-url", url])
        try {
          expect([second.pk, second.sk]).toEqual([first.pk, first.sk])
          const signin = await fetch(`${second.baseUrl}/v1/auth/email/signin`, {
            method: "POST",
            headers: { "x-api-key": second.pk, "content-type": "application/json" },
            body: JSON.stringify({ method: "password", email: "restart@example.com", password: "s3cret!pw" })
          })
          expect(signin.status).toBe(200)
          // the database goes away under the running server: the health check says so
          await dropDatabase(url)
          const down = await fetch(`${second.baseUrl}/healthz`)
          expect([down.status, await down.json()]).toEqual([503, { ok: false }])
        } finally {
          second.child.kill("SIGTERM")
          await second.exited
        }
      })
  )

  it("--database-url with --import or --export (snapshots of the in-memory engine) is refused; exit 2", {
    timeout: 200_000
  }, async () => {
    const { code, stderr } = await run(["--database-url", "postgres://postgres@127.0.0.1:5432/x", "--export", "s.json"])
    expect(code).toBe(2)
    expect(stderr).toContain("--import and --export read and write snapshots of the in-memory engine")
  })

  it("import: a folder imported twice into a database; the second run adds nothing", { timeout: 200_000 }, () =>
    withDatabase(async (url) => {
      const dir = path.dirname(
        tempFile(
          "notes_page1.json",
          JSON.stringify({
            success: true,
            data: {
              items: [
                {
                  id: "65a1b2c3d4e5f60718293a4b",
                  text: "hello",
                  createdBy: "old-user",
                  createdAt: "2025-01-01T00:00:00.000Z",
                  updatedAt: "2025-01-02T00:00:00.000Z"
                }
              ],
              pagination: { total: 1, page: 1, limit: 100, totalPages: 1, hasNext: false, hasPrev: false }
            }
          })
        )
      )
      const owners = tempFile("owners.json", JSON.stringify({ "old-user": "owner@example.com" }))
      const first = await run(["import", dir, "--owner-map", owners], { BKEND_DATABASE_URL: url })
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      expect(first.stdout.trim().split("\n")).toEqual([
        `imported ${dir}:`,
        "  table notes: 1 row imported, 0 already present (1 page)",
        "  files: 0 imported, 0 already present",
        "  owners: 1 account created (claimed by a password reset), 0 matched an existing account, 0 already present"
      ])
      const second = await run(["import", dir, "--database-url", url, "--owner-map", owners])
      expect(second.code).toBe(0)
      expect(second.stdout).toContain("  table notes: 0 rows imported, 1 already present (1 page)")
      expect(second.stdout).toContain("1 already present\n")

      // the downloaded files need a files directory
      fs.mkdirSync(path.join(dir, "bkend_files"))
      fs.writeFileSync(path.join(dir, "bkend_files", "report.txt"), "quarterly")
      const noFilesDir = await run(["import", dir, "--database-url", url])
      expect(noFilesDir.code).toBe(1)
      expect(noFilesDir.stderr).toContain(
        "the folder has 1 file(s) under bkend_files/: give a files directory (--files-dir)"
      )
      const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-local-files-"))
      const withFiles = ["import", dir, "--database-url", url, "--owner-map", owners, "--files-owner", "old-user"]
      const third = await run([...withFiles, "--files-dir", filesDir])
      expect(third.code).toBe(0)
      expect(third.stdout).toContain("  files: 1 imported, 0 already present")
      await claimAndRead(url, filesDir)
    })
  )

  it("import: without a database, or with a bad owner map, says what is wrong and exits 2", {
    timeout: 200_000
  }, async () => {
    const dir = path.dirname(tempFile("x_page1.json", "{}"))
    const noDatabase = await run(["import", dir], { BKEND_DATABASE_URL: "" })
    expect(noDatabase.code).toBe(2)
    expect(noDatabase.stderr).toContain(
      "import needs a database: give --database-url postgres://… or set BKEND_DATABASE_URL"
    )
    const owners = tempFile("owners.json", JSON.stringify({ "old-user": "not-an-address" }))
    const badMap = await run([
      "import",
      dir,
      "--database-url",
      "postgres://postgres@127.0.0.1:5432/postgres",
      "--owner-map",
      owners
    ])
    expect(badMap.code).toBe(2)
    expect(badMap.stderr).toContain(
      `invalid --owner-map ${owners}: the e-mail address of old-user is not an e-mail address`
    )
  })
})
