/**
 * One process of the two-process test (./twoProcesses.test.ts): a client on the shared session file, with the
 * file lock (`NodeSession.layer`) or, for the negative control, without it (`NodeSession.layerTokenStore`).
 * Prints `READY` once the client is built, waits for `GO` on stdin, calls `GET /v1/auth/me` (the stored session
 * has expired, so the client refreshes first) and prints `RESULT <json>`.
 *
 * Environment: BASE_URL, API_KEY, SESSION_PATH, LOCK ("1" or "0").
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Effect, Either, Layer, ManagedRuntime, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as readline from "node:readline"
import * as Auth from "../../src/Auth.js"
import * as BkendClient from "../../src/BkendClient.js"
import { NodeSession } from "../../src/node/index.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const path = env("SESSION_PATH")
const session = env("LOCK") === "1" ? NodeSession.layer({ path }) : NodeSession.layerTokenStore({ path })
const runtime = ManagedRuntime.make(
  Auth.layer.pipe(
    Layer.provideMerge(BkendClient.layer({ apiKey: Redacted.make(env("API_KEY")), baseUrl: env("BASE_URL") })),
    Layer.provide(Layer.merge(FetchHttpClient.layer, session))
  )
)

const fingerprint = (token: string) => crypto.createHash("sha256").update(token).digest("hex").slice(0, 12)

const main = Effect.gen(function* () {
  const result = yield* Effect.either(Effect.flatMap(Auth.Auth, (auth) => auth.me))
  const current = yield* Effect.flatMap(BkendClient.BkendClient, (c) => c.session)
  return {
    ok: Either.isRight(result),
    tag: Either.isLeft(result) ? result.left._tag : undefined,
    fingerprint: Option.isSome(current) ? fingerprint(Redacted.value(current.value.accessToken)) : undefined
  }
})

const run = async () => {
  await runtime.runPromise(BkendClient.BkendClient)
  console.log("READY")
  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (line.trim() !== "GO") continue
    console.log(`RESULT ${JSON.stringify(await runtime.runPromise(main))}`)
    break
  }
  lines.close()
  await runtime.dispose()
}

run().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
