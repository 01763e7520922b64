/**
 * `GET /healthz`: 200 while the store answers, 503 when it fails; no API key needed, not counted as a request.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as K from "../../src/local/internal/kernel.js"
import * as MemoryStore from "../../src/local/internal/memory/MemoryStore.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import { Store, StoreError } from "../../src/local/Store.js"

const get = (server: LocalServer.LocalServer, path: string, method = "GET") =>
  Effect.promise(async () => {
    const res = await LocalServer.toWebHandler(server)(
      new Request(`${LocalServer.inProcessBaseUrl}${path}`, { method })
    )
    return { status: res.status, text: await res.text(), cacheControl: res.headers.get("cache-control") }
  })

describe("GET /healthz", () => {
  it.effect("200 { ok: true } without a key while the store answers; not counted", () =>
    Effect.gen(function* () {
      const server = yield* LocalServer.make()
      const ok = yield* get(server, "/healthz")
      expect(ok).toEqual({ status: 200, text: JSON.stringify({ ok: true }), cacheControl: "no-store" })
      expect((yield* get(server, "/healthz?probe=1", "HEAD")).status).toBe(200)
      expect((yield* server.counters).requests).toBe(0)
      expect((yield* get(server, "/healthz/x")).status).toBe(404)
    })
  )

  it.effect("503 { ok: false } when the store fails", () =>
    Effect.gen(function* () {
      const store = MemoryStore.make(K.makeState(K.defaultOptions))
      const failing = {
        ...store,
        tables: { ...store.tables, get: () => Effect.fail(new StoreError({ operation: "tables.get", code: "57P01" })) }
      }
      const server = yield* Effect.provideService(LocalServer.makeOnStore(), Store, failing)
      const down = yield* get(server, "/healthz")
      expect(down).toEqual({ status: 503, text: JSON.stringify({ ok: false }), cacheControl: "no-store" })
    })
  )
})
