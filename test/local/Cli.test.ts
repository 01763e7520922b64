/**
 * The `bkend-local` command line, spawned as a user runs it from a clone (`tsx src/local/cli.ts`): help, version,
 * flag and config validation with exit code 2, a port in use explained, and the devMode table defaults.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const tsx = path.join(root, "node_modules", ".bin", "tsx")
const cli = path.join(root, "src", "local", "cli.ts")
const version = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      tsx,
      [cli, ...args],
      { cwd: root, timeout: 150_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
  })

const tmpFile = (name: string, content: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-local-cli-"))
  const file = path.join(dir, name)
  fs.writeFileSync(file, content)
  return file
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
    const file = tmpFile(
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
    const notJson = await run(["--config", tmpFile("config.json", "{ tables: [")])
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toMatch(/invalid --config .*: not valid JSON/)
    const array = await run(["--config", tmpFile("tables.json", JSON.stringify([{ name: "posts", colums: {} }]))])
    expect(array.code).toBe(2)
    expect(array.stderr).toContain("  0.colums: unknown key")
  })

  it("--files-dir (or BKEND_FILES_DIR) is created and named at start; a file in its place is refused", {
    timeout: 200_000
  }, async () => {
    const notADir = tmpFile("plain.txt", "x")
    const refused = await run(["--port", "0"], { BKEND_FILES_DIR: notADir })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(notADir)
    const dir = path.join(path.dirname(tmpFile("unused", "")), "files")
    const child = spawn(tsx, [cli, "--port", "0", "--files-dir", dir], { cwd: root })
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
    const child = spawn(tsx, [cli, "--port", "0"], { cwd: root })
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let text = ""
        const timer = setTimeout(() => reject(new Error(`bkend-local did not start: ${text}`)), 150_000)
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString()
          if (/sk_[0-9a-f]{64}/.test(text)) {
            clearTimeout(timer)
            resolve(text)
          }
        })
        child.on("exit", (code) => reject(new Error(`bkend-local exited ${code}: ${text}`)))
      })
      const baseUrl = /http:\/\/[0-9.]+:\d+/.exec(banner)?.[0] ?? ""
      const pk = /pk_[0-9a-f]{64}/.exec(banner)?.[0] ?? ""
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
    }
  })
})
