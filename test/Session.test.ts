import * as FileSystem from "@effect/platform/FileSystem"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import * as Session from "../src/Session.js"

const session = Session.fromTokenResponse(
  { accessToken: "access-secret-123", refreshToken: "refresh-secret-456" },
  1000
)

describe("Session", () => {
  it("expiry is computed at receipt (expiresIn, else the JWT's lifetime exp − iat, else 1 h)", () => {
    expect(Session.fromTokenResponse({ accessToken: "a", refreshToken: "r", expiresIn: 60 }, 5_000).expiresAt).toBe(
      65_000
    )
    const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`
    // a 15-minute token issued by a server whose clock is two hours behind this device: still 15 minutes from now
    const now = 1_800_000_000_000
    const iat = now / 1000 - 7200
    const skewed = Session.fromTokenResponse(
      { accessToken: jwt({ sub: "u", iat, exp: iat + 900 }), refreshToken: "r" },
      now
    )
    expect(skewed.expiresAt).toBe(now + 900_000)
    // exp without iat says nothing about the lifetime: the default hour
    expect(
      Session.fromTokenResponse({ accessToken: jwt({ sub: "u", exp: 2_000 }), refreshToken: "r" }, 0).expiresAt
    ).toBe(3_600_000)
    expect(session.expiresAt).toBe(1000 + 3_600_000)
    expect(session.tokenType).toBe("Bearer")
  })

  it("never prints its tokens", () => {
    for (const text of [JSON.stringify(session), String(session), `${session.accessToken}`]) {
      expect(text).not.toContain("access-secret-123")
      expect(text).not.toContain("refresh-secret-456")
    }
  })

  it.effect("TokenStore on KeyValueStore.layerStorage (browser localStorage shape)", () =>
    Effect.gen(function* () {
      const data = new Map<string, string>()
      const storage = {
        get length() {
          return data.size
        },
        clear: () => data.clear(),
        getItem: (k: string) => data.get(k) ?? null,
        key: (i: number) => [...data.keys()][i] ?? null,
        removeItem: (k: string) => void data.delete(k),
        setItem: (k: string, v: string) => void data.set(k, v)
      }
      const layer = Session.layerKeyValueStore({ key: "app/session" }).pipe(
        Layer.provide(KeyValueStore.layerStorage(() => storage))
      )
      const store = yield* Effect.provide(Session.TokenStore, layer)
      expect(Option.isNone(yield* store.get)).toBe(true)
      yield* store.set(session)
      expect(data.get("app/session")).toContain("access-secret-123")
      // a second instance (another tab) reads the same session
      const other = yield* Effect.provide(Session.TokenStore, layer)
      const read = Option.getOrThrow(yield* other.get)
      expect(Redacted.value(read.refreshToken)).toBe("refresh-secret-456")
      expect(read.expiresAt).toBe(session.expiresAt)
      yield* other.clear
      expect(Option.isNone(yield* store.get)).toBe(true)
      // garbage in storage counts as no session
      data.set("app/session", "{not json")
      expect(Option.isNone(yield* store.get)).toBe(true)
    })
  )

  it.scoped("TokenStore on KeyValueStore.layerFileSystem (Node CLIs)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const layer = Session.layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerFileSystem(dir)))
      const store = yield* Effect.provide(Session.TokenStore, layer)
      yield* store.set(session)
      const again = yield* Effect.provide(Session.TokenStore, layer)
      expect(Redacted.value(Option.getOrThrow(yield* again.get).accessToken)).toBe("access-secret-123")
      expect((yield* fs.readDirectory(dir)).length).toBe(1)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})
