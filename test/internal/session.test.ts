import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Redacted, Stream } from "effect"
import * as SessionState from "../../src/internal/session.js"
import * as Session from "../../src/Session.js"

const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`
const session = (sid: string, n: number, issuedAt: number) =>
  Session.fromTokenResponse(
    { accessToken: jwt({ sub: "u", sid, n }), refreshToken: `refresh-${sid}-${n}-${"r".repeat(12)}`, expiresIn: 60 },
    issuedAt
  )

const recordingStore = () => {
  const writes: Array<string> = []
  let stored = Option.none<Session.Session>()
  const store: Session.TokenStore["Type"] = {
    get: Effect.sync(() => stored),
    set: (s) =>
      Effect.sync(() => {
        stored = Option.some(s)
        writes.push(`set ${Redacted.value(s.refreshToken)}`)
      }),
    clear: Effect.sync(() => {
      stored = Option.none()
      writes.push("clear")
    })
  }
  return { store, writes }
}

const tags = (state: SessionState.SessionState, n: number) =>
  Session.changes({ onSessionChange: state.subscribe }).pipe(
    Stream.take(n),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.fork
  )

describe("session state", () => {
  it.scoped("a rotation keeps the epoch; another session starts a new one; an older pair never comes back", () =>
    Effect.gen(function* () {
      const { store, writes } = recordingStore()
      const state = yield* SessionState.make(store, false)
      const events = yield* tags(state, 3)
      // let the subscriber start (the stream subscribes when it runs)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      const a1 = session("a", 1, 100)
      yield* state.signIn(a1)
      const e1 = (yield* state.snapshot).epoch
      yield* state.adopt(Option.some(session("a", 0, 50))) // older: ignored
      expect(Option.getOrThrow(yield* state.current)).toBe(a1)
      yield* state.adopt(Option.some(session("a", 2, 200))) // a rotation
      expect((yield* state.snapshot).epoch).toBe(e1)
      yield* state.adopt(Option.some(session("b", 1, 300))) // another session
      expect((yield* state.snapshot).epoch).toBe(e1 + 1)
      expect((yield* Fiber.join(events)).map((c) => c._tag)).toEqual(["SignedIn", "Refreshed", "SignedIn"])
      expect(writes).toHaveLength(1) // adopting never writes
    })
  )

  it.scoped("the refresh re-read never resurrects a signed-out session; commits are epoch-bound", () =>
    Effect.gen(function* () {
      const { store } = recordingStore()
      const state = yield* SessionState.make(store, false)
      const a1 = session("a", 1, 100)
      yield* state.signIn(a1)
      const epoch = (yield* state.snapshot).epoch
      yield* state.signOut("sign-out")
      yield* store.set(a1) // a stale copy the refresh's re-read finds
      yield* state.rereadInEpoch(epoch)
      yield* state.rereadInEpoch((yield* state.snapshot).epoch)
      expect(Option.isNone(yield* state.current)).toBe(true)
      yield* store.clear
      expect(yield* state.commitInEpoch(epoch, session("a", 2, 200), "refresh-a-1-rrrrrrrrrrrr")).toBe(false)
      expect(Option.isNone(yield* state.current)).toBe(true)
      expect(Option.isNone(yield* store.get)).toBe(true)
    })
  )

  it.scoped("a store that fails is logged; the session in memory stays usable", () =>
    Effect.gen(function* () {
      const failing: Session.TokenStore["Type"] = {
        get: Effect.die("unreadable"),
        set: () => Effect.die("quota exceeded"),
        clear: Effect.die("quota exceeded")
      }
      const state = yield* SessionState.make(failing, false)
      const a1 = session("a", 1, 100)
      yield* state.signIn(a1)
      expect(Option.getOrThrow(yield* state.current)).toBe(a1)
      const epoch = (yield* state.snapshot).epoch
      expect(yield* state.commitInEpoch(epoch, session("a", 2, 200), "refresh-a-1-rrrrrrrrrrrr")).toBe(true)
      yield* state.retireInEpoch(epoch, "refresh-a-2-rrrrrrrrrrrr")
      expect(Option.getOrThrow(yield* state.current).refreshRetired).toBe(true)
    })
  )

  it.scoped("a retired pair in the store is taken over; the recent-token set stays bounded", () =>
    Effect.gen(function* () {
      const { store } = recordingStore()
      const state = yield* SessionState.make(store, false)
      for (let i = 0; i < 20; i++) yield* state.signIn(session("a", i, i))
      expect(state.recentTokens().length).toBeLessThanOrEqual(16)
      const last = session("a", 19, 19)
      expect(state.recentTokens()).toContain(Redacted.value(last.refreshToken))
      yield* store.set(new Session.Session({ ...last, refreshRetired: true }))
      yield* state.rereadInEpoch((yield* state.snapshot).epoch)
      expect(Option.getOrThrow(yield* state.current).refreshRetired).toBe(true)
    })
  )

  it.scoped("a shared store: a refresh never writes over another client's sign-out, and follows it", () =>
    Effect.gen(function* () {
      const { store, writes } = recordingStore()
      const state = yield* SessionState.make(store, true)
      const a1 = session("a", 1, 100)
      yield* state.signIn(a1)
      const epoch = (yield* state.snapshot).epoch
      yield* store.clear // another tab signs out while this one refreshes
      expect(yield* state.commitInEpoch(epoch, session("a", 2, 200), Redacted.value(a1.refreshToken))).toBe(false)
      yield* state.retireInEpoch(epoch, Redacted.value(a1.refreshToken))
      expect(Option.isNone(yield* state.current)).toBe(true)
      expect(writes).toEqual([`set ${Redacted.value(a1.refreshToken)}`, "clear"])
      // and an empty shared store read inside the refresh lock means "signed out elsewhere"
      yield* state.signIn(a1)
      yield* store.clear
      yield* state.rereadInEpoch((yield* state.snapshot).epoch)
      expect(Option.isNone(yield* state.current)).toBe(true)
    })
  )

  it.scoped("a rotation of a session this client signed out, written late by another client, is not adopted", () =>
    Effect.gen(function* () {
      const { store } = recordingStore()
      const state = yield* SessionState.make(store, true)
      yield* state.signIn(session("a", 1, 100))
      yield* state.signOut("sign-out")
      // the other tab's refresh had checked the store before this sign-out, and writes its rotation after it
      const rotated = session("a", 2, 200)
      yield* store.set(rotated)
      yield* state.adopt(Option.some(rotated))
      expect(Option.isNone(yield* state.current)).toBe(true)
      // a new sign-in elsewhere (another server session) is still followed
      const b1 = session("b", 1, 300)
      yield* store.set(b1)
      yield* state.adopt(Option.some(b1))
      expect(Option.getOrThrow(yield* state.current)).toBe(b1)
    })
  )

  it.scoped("a shared store: a value read before this client's own sign-out is not adopted after it", () =>
    Effect.gen(function* () {
      const { store } = recordingStore()
      const state = yield* SessionState.make(store, true)
      yield* state.signIn(session("a", 1, 100))
      const b1 = session("b", 1, 200)
      yield* store.set(b1) // another tab signs in as B; this tab's storage event reads it ...
      const read = yield* store.get
      yield* state.signOut("sign-out") // ... this tab signs out (clearing the store) ...
      yield* state.adopt(read) // ... and the stale read lands
      expect(Option.isNone(yield* state.current)).toBe(true)
    })
  )
})
