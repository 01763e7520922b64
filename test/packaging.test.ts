/**
 * Packs the library, installs the tarball into a fresh project with only its peer dependencies, and runs a
 * script that imports the published entry points, signs up against a local server and creates a row.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  peerDependencies: Record<string, string>
  devDependencies: Record<string, string>
}

const run = (cmd: string, args: ReadonlyArray<string>, cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 })

const script = `
import { Effect, Layer, Redacted, Schema } from "effect"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Auth, Bkend, Tables } from "bkend-effect"
import * as Local from "bkend-effect/local"
import { NodeSession } from "bkend-effect/node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const program = Effect.gen(function* () {
  const server = yield* Local.make({ devMode: true })
  const ctx = yield* Layer.build(Local.layerNodeServer(server, { port: 0 }))
  const baseUrl = yield* Effect.provide(Local.serverUrl, ctx)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pack-session-"))
  const file = path.join(dir, "session.json")
  const layer = Bkend.layer({ apiKey: Redacted.make(server.keys.publishable), baseUrl }).pipe(
    Layer.provide(Layer.merge(FetchHttpClient.layer, NodeSession.layer({ path: file })))
  )
  return yield* Effect.gen(function* () {
    const auth = yield* Auth.Auth
    yield* auth.signUp({ email: "pack@example.com", password: "hunter22", name: "Pack" })
    const posts = (yield* Tables.Tables).table("posts", Schema.Struct({ title: Schema.String }))
    const row = yield* posts.create({ data: { title: "from the tarball" } })
    const page = yield* posts.list({ limit: 10 })
    const sessionFileMode = (fs.statSync(file).mode & 0o777).toString(8)
    fs.rmSync(dir, { recursive: true, force: true })
    return { id: row.id, title: row.title, total: page.total, sessionFileMode }
  }).pipe(Effect.provide(layer))
})

Effect.runPromise(Effect.scoped(program)).then(
  (r) => { console.log("RESULT " + JSON.stringify(r)); process.exit(0) },
  (e) => { console.error("FAILED", e); process.exit(1) }
)
`

describe("packaging", () => {
  it("the packed tarball installs with only its peers and works", { timeout: 300_000 }, async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "bkend-effect-pack-"))
    try {
      run("npm", ["run", "build", "--silent"], root)
      const packed = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], root)
      const filename = (JSON.parse(packed) as Array<{ filename: string }>)[0]?.filename ?? ""
      const app = path.join(work, "app")
      fs.mkdirSync(app)
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
      const peers = Object.keys(pkg.peerDependencies).map((name) => `${name}@${pkg.devDependencies[name]}`)
      run(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "--loglevel=error",
          path.join(work, filename),
          ...peers
        ],
        app
      )
      // only the declared entry points are importable
      fs.writeFileSync(path.join(app, "internal.mjs"), 'import "bkend-effect/internal/client.js"\n')
      expect(() => run("node", ["internal.mjs"], app)).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)

      fs.writeFileSync(path.join(app, "main.mjs"), script)
      const out = run("node", ["main.mjs"], app)
      const line = out.split("\n").find((l) => l.startsWith("RESULT "))
      expect(line).toBeDefined()
      const result = JSON.parse(line!.slice("RESULT ".length)) as {
        id: string
        title: string
        total: number
        sessionFileMode: string
      }
      expect(result.title).toBe("from the tarball")
      expect(result.id).toMatch(/^[0-9a-f]{24}$/)
      expect(result.total).toBe(1)
      // bkend-effect/node: sign-up wrote the session to the file, owner-only
      expect(result.sessionFileMode).toBe("600")

      // the CLI from the installed package serves requests (the seed's curl "create data" example)
      const cli = spawn(path.join(app, "node_modules", ".bin", "bkend-local"), ["--port", "0"], { cwd: app })
      try {
        const banner = await new Promise<string>((resolve, reject) => {
          let text = ""
          cli.stdout.on("data", (chunk: Buffer) => {
            text += chunk.toString()
            if (/sk_[0-9a-f]{64}/.test(text) && /http:\/\/\S+/.test(text)) resolve(text)
          })
          cli.on("exit", (code) => reject(new Error(`bkend-local exited ${code}: ${text}`)))
        })
        const baseUrl = /http:\/\/[^\s]+/.exec(banner)![0].replace(/\/$/, "")
        const publishable = /pk_[0-9a-f]{64}/.exec(banner)![0]
        const signup = await fetch(`${baseUrl}/v1/auth/email/signup`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-API-Key": publishable },
          body: JSON.stringify({ method: "password", email: "curl@example.com", password: "hunter22", name: "Curl" })
        })
        expect(signup.status).toBe(201)
        const { data } = (await signup.json()) as { data: { accessToken: string } }
        const created = await fetch(`${baseUrl}/v1/data/posts`, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "X-API-Key": publishable,
            Authorization: `Bearer ${data.accessToken}`
          },
          body: JSON.stringify({ title: "Test Post", content: "Data created via curl." })
        })
        expect(created.status).toBe(201)
        const row = (await created.json()) as { data: { id: string; title: string } }
        expect(row.data.title).toBe("Test Post")
      } finally {
        cli.kill("SIGTERM")
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  })
})
