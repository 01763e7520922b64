/**
 * `bkend-local` as a child process, for the tests that run the command as a user does: `node --import tsx
 * src/local/cli.ts`, so the child's pid is the server itself (a SIGKILL reaches it, not a launcher in front of it).
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { databaseLayer, databaseUrl, TestDatabase } from "./pg/db.js"

export const root = path.resolve(import.meta.dirname, "../..")
export const cli = path.join(root, "src", "local", "cli.ts")

/** The command line that runs the CLI with `args` (the server's own process, no launcher). */
export const command = (args: ReadonlyArray<string>): [string, Array<string>] => [
  process.execPath,
  ["--import", "tsx", cli, ...args]
]

/** A server started by the CLI. */
export interface CliServer {
  readonly child: ChildProcessWithoutNullStreams
  /** resolves with the exit code (null after a signal) */
  readonly exited: Promise<number | null>
  /** everything printed up to the keys */
  readonly banner: string
  readonly baseUrl: string
  readonly pk: string
  readonly sk: string
}

/** Starts the CLI with `args`; resolves once it printed its keys (rejects if it exits first or takes 150 s). */
export const start = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<CliServer> => {
  const [file, argv] = command(args)
  const child = spawn(file, argv, { cwd: root, env: { ...process.env, ...env } })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
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
    child.stderr.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    void exited.then((code) => reject(new Error(`bkend-local exited ${code}: ${text}`)))
  })
  const baseUrl = /http:\/\/[0-9.]+:\d+/.exec(banner)?.[0] ?? ""
  const pk = /pk_[0-9a-f]{64}/.exec(banner)?.[0] ?? ""
  const sk = /sk_[0-9a-f]{64}/.exec(banner)?.[0] ?? ""
  return { child, exited, banner, baseUrl, pk, sk }
}

/** One JSON call to `server` with its publishable key (and `token` as the bearer): the status, `data` and `error`. */
export const call = async (server: CliServer, method: string, route: string, body?: unknown, token?: string) => {
  const headers: Record<string, string> = { "x-api-key": server.pk }
  if (body !== undefined) headers["content-type"] = "application/json"
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${server.baseUrl}${route}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json = (await res.json()) as { data?: Record<string, unknown>; error?: { code: string } }
  return { status: res.status, data: json.data ?? {}, error: json.error }
}

/** Sends `signal` (SIGTERM by default) unless the server already exited, and waits for the exit. */
export const stop = async (server: CliServer, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal)
  return server.exited
}

/** A fresh PostgreSQL database for a whole file (`beforeAll`): its URL, and `drop` for `afterAll`. */
export const openDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(databaseLayer, scope))
  return {
    url: databaseUrl(Context.get(ctx, TestDatabase)),
    drop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Runs `f` with the URL of a fresh PostgreSQL database, dropped afterwards. */
export const withDatabase = async <A>(f: (url: string) => Promise<A>): Promise<A> => {
  const database = await openDatabase()
  try {
    return await f(database.url)
  } finally {
    await database.drop()
  }
}

/** A new empty directory under the system's temp directory. */
export const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** A file `name` with `content` in a new temp directory; answers its path. */
export const tempFile = (name: string, content: string): string => {
  const file = path.join(tempDir("bkend-local-cli-"), name)
  fs.writeFileSync(file, content)
  return file
}
