/**
 * Two real Node processes (./refreshChild.ts) share one session file and hit its expired session at the same
 * moment, against bkend-local on a loopback socket. With the lock file they rotate the refresh token once and the
 * second process adopts the first one's session; without it (the negative control) the server sees a replay.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import * as esbuild from "esbuild"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Auth from "../../src/Auth.js"
import * as BkendClient from "../../src/BkendClient.js"
import { NodeSession } from "../../src/node/index.js"
import * as Session from "../../src/Session.js"
import { Harness, harnessLayer } from "../local/utils.js"

/**
 * The child script, bundled once into one CommonJS file: a process then starts in about a quarter of a CPU second,
 * where loading it through tsx costs two (the machine's cores are shared).
 */
class ChildScript extends Context.Tag("test/node/ChildScript")<ChildScript, string>() {}

const ChildScriptLive = Layer.scoped(
  ChildScript,
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bkend-child-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const outfile = path.join(dir, "refreshChild.cjs")
    yield* Effect.promise(() =>
      esbuild.build({
        entryPoints: [fileURLToPath(new URL("./refreshChild.ts", import.meta.url))],
        bundle: true,
        platform: "node",
        format: "cjs",
        outfile,
        logLevel: "silent"
      })
    )
    return outfile
  })
)
/** each refresh takes this long at the server, so the second process asks while the first one's is in flight */
const REFRESH_DELAY_MILLIS = 400

interface Child {
  readonly process: ChildProcessWithoutNullStreams
  /** resolves with the first stdout line starting with `prefix` (rejects if the process exits first) */
  readonly line: (prefix: string) => Effect.Effect<string>
}

const child = (script: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const proc = spawn(process.execPath, [script], {
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      proc.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      proc.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const line = (prefix: string) =>
        Effect.async<string>((resume) => {
          const check = () => {
            const found = stdout.split("\n").find((l) => l.startsWith(prefix))
            if (found !== undefined) resume(Effect.succeed(found))
            return found !== undefined
          }
          if (check()) return
          const onData = () => {
            if (check()) proc.stdout.off("data", onData)
          }
          const onExit = (code: number | null) =>
            resume(Effect.dieMessage(`child exited (${code}) before ${prefix}\n${stdout}\n${stderr}`))
          proc.stdout.on("data", onData)
          proc.once("exit", onExit)
          return Effect.sync(() => {
            proc.stdout.off("data", onData)
            proc.off("exit", onExit)
          })
        })
      return { process: proc, line }
    }),
    ({ process: proc }) =>
      Effect.async<void>((resume) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resume(Effect.void)
        proc.once("exit", () => resume(Effect.void))
        proc.kill("SIGKILL")
      })
  )

/** Signs a fresh user up, with the session written to `file`, then marks the stored session expired. */
const signedUpSession = (file: string) =>
  Effect.gen(function* () {
    const { server, url } = yield* Harness
    yield* Effect.gen(function* () {
      yield* (yield* Auth.Auth).signUp({
        email: `proc-${crypto.randomUUID()}@example.com`,
        password: "secret-pass-1",
        name: "Proc"
      })
    }).pipe(
      Effect.provide(
        Auth.layer.pipe(
          Layer.provideMerge(BkendClient.layer({ apiKey: Redacted.make(server.keys.publishable), baseUrl: url })),
          Layer.provide(Layer.merge(FetchHttpClient.layer, NodeSession.layerTokenStore({ path: file })))
        )
      ),
      Effect.orDie
    )
    const store = NodeSession.makeTokenStore(file)
    const stored = yield* store.get
    if (Option.isNone(stored)) return yield* Effect.dieMessage("sign-up stored no session")
    yield* store.set(new Session.Session({ ...stored.value, expiresAt: Date.now() - 1_000 }))
    return stored.value
  })

interface ChildResult {
  readonly ok: boolean
  readonly tag?: string
  readonly fingerprint?: string
}

/** Two processes on one session file, released together: their results and the server's counter deltas. */
const race = (withLock: boolean) =>
  Effect.gen(function* () {
    const { server, url } = yield* Harness
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bkend-two-processes-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const file = path.join(dir, "session.json")
    const before = yield* signedUpSession(file)
    const env = { BASE_URL: url, API_KEY: server.keys.publishable, SESSION_PATH: file, LOCK: withLock ? "1" : "0" }
    const script = yield* ChildScript
    const children = [yield* child(script, env), yield* child(script, env)]
    yield* Effect.forEach(children, (c) => c.line("READY"), { concurrency: "unbounded" })
    const counters = yield* server.counters
    for (const c of children) c.process.stdin.write("GO\n")
    const lines = yield* Effect.forEach(children, (c) => c.line("RESULT "), { concurrency: "unbounded" })
    const after = yield* server.counters
    const results = lines.map((l): ChildResult => JSON.parse(l.slice("RESULT ".length)))
    const stored = yield* NodeSession.makeTokenStore(file).get
    return {
      results,
      refreshCalls: after.refreshCalls - counters.refreshCalls,
      rotations: after.refreshSucceeded - counters.refreshSucceeded,
      replays: after.replaysDetected - counters.replaysDetected,
      rotatedInFile:
        Option.isSome(stored) && Redacted.value(stored.value.refreshToken) !== Redacted.value(before.refreshToken),
      lockLeft: fs.existsSync(`${file}.lock`)
    }
  })

const HarnessLive = Layer.merge(
  harnessLayer({ faults: [{ route: "POST /v1/auth/refresh", kind: "delay", delayMillis: REFRESH_DELAY_MILLIS }] }),
  ChildScriptLive
)

layer(HarnessLive, { excludeTestServices: true, timeout: "120 seconds" })(
  "two Node processes sharing one session file",
  (it) => {
    it.scoped(
      "with NodeSession.layer: one rotation, no replay, both processes continue on the one new session",
      () =>
        Effect.gen(function* () {
          const outcome = yield* race(true)
          expect(outcome).toMatchObject({
            results: [{ ok: true }, { ok: true }],
            refreshCalls: 1,
            rotations: 1,
            replays: 0,
            rotatedInFile: true,
            lockLeft: false
          })
          const [a, b] = outcome.results
          expect(a?.fingerprint).toBeDefined()
          expect(a?.fingerprint).toBe(b?.fingerprint)
        }),
      { timeout: 120_000 }
    )

    it.scoped(
      "negative control: the same file without the lock spends the refresh token twice (a replay)",
      () =>
        Effect.gen(function* () {
          const outcome = yield* race(false)
          expect(outcome.refreshCalls).toBeGreaterThanOrEqual(2)
          expect(outcome.replays).toBe(1)
        }),
      { timeout: 120_000 }
    )
  }
)
