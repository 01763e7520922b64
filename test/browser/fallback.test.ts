/**
 * Browser module outside a browser (Node has no `navigator.locks` and no `localStorage`): the refresh lock falls
 * back to the in-process gate, and the token store works on any `Storage`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Redacted, Scope } from "effect"
import * as Browser from "../../src/Browser.js"
import * as Session from "../../src/Session.js"

/** A `Storage` on a Map (what `localStorage` offers, minus the events). */
const memoryStorage = (): Storage => {
  const data = new Map<string, string>()
  return {
    get length() {
      return data.size
    },
    clear: () => data.clear(),
    getItem: (key) => data.get(key) ?? null,
    key: (index) => Array.from(data.keys())[index] ?? null,
    removeItem: (key) => {
      data.delete(key)
    },
    setItem: (key, value) => {
      data.set(key, value)
    }
  }
}

const session = new Session.Session({
  accessToken: Redacted.make("access"),
  refreshToken: Redacted.make("refresh"),
  tokenType: "Bearer",
  issuedAt: 0,
  expiresAt: 1_000
})

describe("Browser outside a browser", () => {
  it.effect("without navigator.locks the refresh lock runs the effect directly (in-process gate only)", () =>
    Effect.gen(function* () {
      expect(typeof navigator === "undefined" || !("locks" in navigator)).toBe(true)
      const scope = yield* Scope.make()
      const lock = yield* Scope.extend(Browser.makeRefreshLock(), scope)
      expect(yield* lock.withLock(Effect.succeed(42))).toBe(42)
      // no serialisation beyond the client's own gate: two holders can run at once
      const latch = yield* Effect.makeLatch(false)
      const first = yield* Effect.fork(lock.withLock(latch.await))
      expect(yield* lock.withLock(Effect.succeed("second"))).toBe("second")
      yield* latch.open
      yield* Fiber.join(first)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("the token store keeps the session as JSON under its key in the given Storage", () =>
    Effect.gen(function* () {
      const storage = memoryStorage()
      const layer = Browser.layerTokenStore({ key: "k", storage: () => storage })
      const store = yield* Effect.provide(Session.TokenStore, layer)
      yield* store.set(session)
      const raw = storage.getItem("k")
      expect(raw).not.toBe(null)
      expect(raw).toContain('"expiresAt":1000')
      const read = yield* store.get
      expect(Option.map(read, (s) => Redacted.value(s.refreshToken))).toEqual(Option.some("refresh"))
      // another tab's write is what the next get returns (no caching in the store)
      storage.setItem("k", (raw ?? "").replace('"expiresAt":1000', '"expiresAt":2000'))
      expect(Option.map(yield* store.get, (s) => s.expiresAt)).toEqual(Option.some(2000))
      yield* store.clear
      expect(storage.getItem("k")).toBe(null)
      expect(Option.isNone(yield* store.get)).toBe(true)
      expect(Layer.isLayer(layer)).toBe(true)
    })
  )
})
