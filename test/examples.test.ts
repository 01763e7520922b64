/**
 * Every example runs as a user would run it (`tsx examples/<name>.ts`) against its embedded bkend-local, and
 * prints what it promises. (`examples/testing-with-layers.ts` is a vitest file: vitest.config.ts includes it, so
 * `npm test` runs it as its readers would, with `npx vitest run examples/testing-with-layers.ts`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const tsx = path.join(root, "node_modules", ".bin", "tsx")

const runExample = (name: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.BKEND_API_URL
    delete env.BKEND_API_KEY
    execFile(tsx, [path.join("examples", `${name}.ts`)], { cwd: root, env, timeout: 90_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  })

describe.concurrent("examples", () => {
  it("quickstart: sign up, create, list with pagination, filter, 403 and 404 by tag", {
    timeout: 120_000
  }, async () => {
    const { code, stdout, stderr } = await runExample("quickstart")
    expect(stderr).toBe("")
    expect(code).toBe(0)
    expect(stdout).toMatch(/signed up ada\+\S+@example\.com/)
    expect(stdout).toMatch(/post\.id = [0-9a-f]{24}/)
    expect(stdout).toContain('"page":1,"limit":10,"total":12,"totalPages":2,"hasNext":true,"hasPrev":false')
    expect(stdout).toContain("7 matches: ")
    expect(stdout).toContain("Forbidden — 403 data/permission-denied")
    expect(stdout).toContain("NotFound — 404 data/not-found")
  })

  it("backend-service: secret key via layers behind an HttpRouter service", { timeout: 120_000 }, async () => {
    const { code, stdout } = await runExample("backend-service")
    expect(code).toBe(0)
    expect(stdout).toContain('POST /orders {"item":"keyboard","quantity":1} → 201')
    expect(stdout).toContain('POST /orders {"item":42} → 400')
    expect(stdout).toMatch(/GET \/orders → 200 .*"total":2/)
  })

  it("upload: multipart with progress, downloaded bytes verified", { timeout: 120_000 }, async () => {
    const { code, stdout } = await runExample("upload")
    expect(code).toBe(0)
    expect(stdout).toContain("in 3 parts")
    expect(stdout).toContain("100% 12.0/12.0 MiB")
    expect(stdout).toContain("sha256 matches")
  })

  it("concurrency: 100 calls across an expiry → one refresh, no replay", { timeout: 120_000 }, async () => {
    const { code, stdout } = await runExample("concurrency")
    expect(code).toBe(0)
    expect(stdout).toContain("100/100 concurrent calls across the expiry")
    expect(stdout).toContain("refresh requests 1, refreshes succeeded 1, replays detected 0")
  })
})
