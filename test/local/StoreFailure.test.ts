/**
 * A store that fails (database gone): the routes answer 503 with the error envelope, and the log names the
 * operation, never a value.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as K from "../../src/local/internal/kernel.js"
import * as MemoryStore from "../../src/local/internal/memory/MemoryStore.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import { Store, StoreError } from "../../src/local/Store.js"

const down = new StoreError({ operation: "users.getByEmail", code: "57P01" })

it.effect("a failing store answers 503 common/service-unavailable; the log has the operation only", () =>
  Effect.gen(function* () {
    const healthy = MemoryStore.make(K.makeState(K.defaultOptions))
    const store = { ...healthy, users: { ...healthy.users, getByEmail: () => Effect.fail(down) } }
    const server = yield* Effect.provideService(LocalServer.makeOnStore(), Store, store)
    const logs: Array<string> = []
    const logger = Logger.make(({ message, annotations }) => {
      logs.push(JSON.stringify({ message, annotations: [...annotations] }))
    })
    const runtime = yield* Effect.runtime<never>().pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    const handler = LocalServer.toWebHandler(server, runtime)
    const res = yield* Effect.promise(() =>
      handler(
        new Request(`${LocalServer.inProcessBaseUrl}/v1/auth/email/signin`, {
          method: "POST",
          headers: { "x-api-key": server.keys.publishable, "content-type": "application/json" },
          body: JSON.stringify({ method: "password", email: "secret-person@example.com", password: "Hunter2!x" })
        })
      )
    )
    expect(res.status).toBe(503)
    expect(yield* Effect.promise(() => res.json())).toEqual({
      success: false,
      error: { code: "common/service-unavailable", message: "Storage is unavailable, try again" }
    })
    const text = logs.join("\n")
    expect(text).toContain("users.getByEmail")
    expect(text).not.toContain("secret-person")
    expect(text).not.toContain("Hunter2")
  })
)
