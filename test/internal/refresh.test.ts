import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Fiber, Option, Redacted, Stream, TestClock } from "effect"
import * as BkendError from "../../src/BkendError.js"
import * as Refresh from "../../src/internal/refresh.js"
import * as SessionState from "../../src/internal/session.js"
import * as Session from "../../src/Session.js"

const error = new BkendError.ServerError({ status: 503, message: "down", method: "POST", route: "/v1/auth/refresh" })
const timedOut = () =>
  new BkendError.NetworkError({ status: 0, reason: "Timeout", message: "call timed out", method: "GET", route: "/x" })

let n = 0
const pair = (): Session.TokenResponse => {
  n++
  return {
    accessToken: `access-${n}-${"a".repeat(16)}`,
    refreshToken: `refresh-${n}-${"r".repeat(16)}`,
    expiresIn: 3600
  }
}

type Answer = Effect.Effect<Session.TokenResponse, Refresh.Refused>

/** A coordinator over an in-memory session whose presentations answer from `answers`, in order. */
const setup = (
  answers: Array<Answer>,
  options: Partial<Omit<Refresh.Options, "session" | "present">> = {},
  shared?: Session.TokenStore["Type"]
) =>
  Effect.gen(function* () {
    const store = shared ?? (yield* Effect.provide(Session.TokenStore, Session.layerMemory))
    const session = yield* SessionState.make(store, shared !== undefined)
    const presented: Array<string> = []
    const coordinator = yield* Refresh.make({
      session,
      lock: Option.none(),
      budgetMillis: 10_000,
      marginMillis: 60_000,
      reuseWindowMillis: 0,
      allowInDoubtResend: false,
      ...options,
      present: (token) =>
        Effect.suspend(() => {
          presented.push(token)
          return answers.shift() ?? Effect.succeed(pair())
        })
    })
    const first = Session.fromTokenResponse(pair(), 0)
    yield* session.signIn(first)
    return { session, coordinator, presented, first }
  })

const access = (s: Session.Session) => Redacted.value(s.accessToken)
const inDoubt = Effect.fail(new Refresh.InDoubt({ error, sentAt: 0 }))

describe("refresh coordinator", () => {
  it.scoped("concurrent callers share one presentation", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const { coordinator, presented, first } = yield* setup([Effect.as(Deferred.await(gate), pair())])
      const calls = yield* Effect.all(
        Array.from({ length: 50 }, () =>
          coordinator.afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
        ),
        { concurrency: "unbounded" }
      ).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(calls)).every((retry) => retry)).toBe(true)
      expect(presented).toHaveLength(1)
    })
  )

  it.scoped("an in-doubt token is retired: never presented again; the next 401 ends the session", () =>
    Effect.gen(function* () {
      const { coordinator, presented, first, session } = yield* setup([inDoubt])
      const changes = yield* Session.changes({ onSessionChange: session.subscribe }).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.yieldNow()
      yield* TestClock.adjust(Duration.hours(1))
      // proactive: fails, the call goes on with its access token
      expect(yield* coordinator.accessToken(Infinity, { refreshed: false, proactive: true }, timedOut)).toBe(
        access(first)
      )
      expect(yield* coordinator.accessToken(Infinity, { refreshed: false, proactive: true }, timedOut)).toBe(
        access(first)
      )
      expect(presented).toHaveLength(1)
      expect(Option.getOrThrow(yield* session.current).refreshRetired).toBe(true)
      expect(
        yield* coordinator.afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
      ).toBe(false)
      expect(presented).toHaveLength(1)
      expect(Option.isNone(yield* session.current)).toBe(true)
      const [change] = Chunk.toReadonlyArray(yield* Fiber.join(changes))
      expect(change?._tag === "SignedOut" && change.reason).toBe("refresh-in-doubt")
    })
  )

  it.scoped("negative control: with AllowInDoubtResend the in-doubt token is presented again", () =>
    Effect.gen(function* () {
      const { coordinator, presented, first } = yield* setup([inDoubt], { allowInDoubtResend: true })
      yield* coordinator
        .afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
        .pipe(Effect.exit)
      yield* coordinator.afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
      expect(presented).toEqual([presented[0], presented[0]])
    })
  )

  it.scoped("reuse window: an in-doubt token is presented once more inside half the window, then never", () =>
    Effect.gen(function* () {
      const inside = yield* setup([inDoubt], { reuseWindowMillis: 10_000 })
      expect(
        yield* inside.coordinator.afterUnauthorized(
          access(inside.first),
          Infinity,
          { refreshed: false, proactive: true },
          timedOut
        )
      ).toBe(true)
      expect(inside.presented).toHaveLength(2)
      const twice = yield* setup([inDoubt, inDoubt], { reuseWindowMillis: 10_000 })
      yield* twice.coordinator.afterUnauthorized(
        access(twice.first),
        Infinity,
        { refreshed: false, proactive: true },
        timedOut
      )
      expect(twice.presented).toHaveLength(2)
      expect(Option.isNone(yield* twice.session.current)).toBe(true)
      yield* TestClock.adjust("6 seconds")
      const late = yield* setup([inDoubt], { reuseWindowMillis: 10_000 })
      yield* late.coordinator.afterUnauthorized(
        access(late.first),
        Infinity,
        { refreshed: false, proactive: true },
        timedOut
      )
      expect(late.presented).toHaveLength(1)
    })
  )

  it.scoped("a presentation known not processed keeps the token for the next trigger", () =>
    Effect.gen(function* () {
      const { coordinator, presented, first, session } = yield* setup([
        Effect.fail(new Refresh.NotProcessed({ error }))
      ])
      const failed = yield* coordinator
        .afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
        .pipe(Effect.flip)
      expect(failed._tag).toBe("ServerError")
      expect(Option.getOrThrow(yield* session.current).refreshRetired).toBe(false)
      expect(
        yield* coordinator.afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
      ).toBe(true)
      expect(presented).toEqual([presented[0], presented[0]])
    })
  )

  it.live("a waiter that times out ends only its own wait; the refresh commits", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const { coordinator, presented, first, session } = yield* setup([Effect.as(Deferred.await(gate), pair())])
      const now = Date.now()
      const error = yield* coordinator
        .afterUnauthorized(access(first), now + 30, { refreshed: false, proactive: true }, timedOut)
        .pipe(Effect.flip)
      expect(error.message).toBe("call timed out")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.sleep("20 millis")
      expect(access(Option.getOrThrow(yield* session.current))).not.toBe(access(first))
      expect(presented).toHaveLength(1)
    }).pipe(Effect.scoped)
  )

  it.scoped("a sign-out during the presentation discards its result", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const { coordinator, first, session } = yield* setup([Effect.as(Deferred.await(gate), pair())])
      const call = yield* coordinator
        .afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
        .pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* session.signOut("sign-out")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(call)).toBe(false)
      expect(Option.isNone(yield* session.current)).toBe(true)
    })
  )

  it.scoped("a lock wait that gives up spends nothing; the presentation's budget stays below the wait", () =>
    Effect.gen(function* () {
      const deadlines: Array<number> = []
      const busy = yield* setup([], {
        lock: Option.some({
          waitTimeout: Duration.seconds(10),
          withLock: () => Effect.fail(new Session.RefreshLockTimeout({ waitedMillis: 10_000 }))
        })
      })
      const error = yield* busy.coordinator
        .afterUnauthorized(access(busy.first), Infinity, { refreshed: false, proactive: true }, timedOut)
        .pipe(Effect.flip)
      expect(error._tag).toBe("NetworkError")
      expect(busy.presented).toHaveLength(0)
      expect(Option.isSome(yield* busy.session.current)).toBe(true)
      const store = yield* Effect.provide(Session.TokenStore, Session.layerMemory)
      const session = yield* SessionState.make(store, false)
      const coordinator = yield* Refresh.make({
        session,
        lock: Option.some({ waitTimeout: Duration.seconds(10), withLock: (self) => self }),
        budgetMillis: 120_000,
        marginMillis: 0,
        reuseWindowMillis: 0,
        allowInDoubtResend: false,
        present: (_, deadline) => Effect.sync(() => deadlines.push(deadline)).pipe(Effect.as(pair()))
      })
      const first = Session.fromTokenResponse(pair(), 0)
      yield* session.signIn(first)
      yield* coordinator.afterUnauthorized(access(first), Infinity, { refreshed: false, proactive: true }, timedOut)
      expect(deadlines).toEqual([8_000])
    })
  )

  it.scoped(
    "a shared store: the re-read in the lock waits for this client's own write (a new sign-in is not 'cleared')",
    () =>
      Effect.gen(function* () {
        const granted = yield* Deferred.make<void>()
        const landing = yield* Deferred.make<void>()
        let slowWrites = false
        const memory = yield* Effect.provide(Session.TokenStore, Session.layerMemory)
        const store: Session.TokenStore["Type"] = {
          ...memory,
          set: (s) => (slowWrites ? Effect.zipRight(Deferred.await(landing), memory.set(s)) : memory.set(s))
        }
        // another process holds the refresh lock until `granted`
        const lock = {
          waitTimeout: Duration.seconds(10),
          withLock: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.zipRight(Deferred.await(granted), self)
        }
        const { coordinator, presented, session } = yield* setup([], { lock: Option.some(lock) }, store)
        const refresh = yield* Effect.fork(Effect.either(coordinator.refreshNow(Infinity, timedOut)))
        yield* Effect.yieldNow()
        // while it waits, this client signs out, then in again; the new session is still being written
        yield* session.signOut("sign-out")
        slowWrites = true
        const second = Session.fromTokenResponse(pair(), 1)
        const signIn = yield* Effect.fork(session.signIn(second))
        yield* Effect.yieldNow()
        const ends = yield* Session.changes({ onSessionChange: session.subscribe }).pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.yieldNow()
        yield* Deferred.succeed(granted, undefined)
        yield* Effect.repeatN(Effect.yieldNow(), 50)
        yield* Deferred.succeed(landing, undefined)
        yield* Fiber.join(signIn)
        yield* Fiber.join(refresh)
        expect(access(Option.getOrThrow(yield* session.current))).toBe(access(second))
        expect(presented).toHaveLength(0)
        expect(Option.isNone(yield* Fiber.poll(ends))).toBe(true)
      })
  )

  // a server that issues the same access token twice within a second (its claims alone, no unique id): another
  // process's rotation leaves the access token as it was and changes only the refresh token
  it.scoped("a shared store rotated elsewhere to the same access token: its new refresh token is not spent", () =>
    Effect.gen(function* () {
      const store = yield* Effect.provide(Session.TokenStore, Session.layerMemory)
      const lock = { waitTimeout: Duration.seconds(10), withLock: <A, E, R>(self: Effect.Effect<A, E, R>) => self }
      const { coordinator, presented, first, session } = yield* setup([], { lock: Option.some(lock) }, store)
      const elsewhere = Session.fromTokenResponse({ ...pair(), accessToken: access(first) }, 1)
      yield* store.set(elsewhere)
      const retry = yield* coordinator.afterUnauthorized(
        access(first),
        Infinity,
        { refreshed: false, proactive: true },
        timedOut
      )
      expect(presented).toEqual([])
      expect(Redacted.value(Option.getOrThrow(yield* session.current).refreshToken)).toBe(
        Redacted.value(elsewhere.refreshToken)
      )
      expect(retry).toBe(false)
    })
  )

  // two processes signed in one after the other; the first one's file write landed last, so the shared store holds
  // a session older than this client's
  for (const outcome of ["rotated", "in doubt"] as const) {
    it.scoped(`a shared store holding an older session: the spent token is replaced all the same (${outcome})`, () =>
      Effect.gen(function* () {
        const store = yield* Effect.provide(Session.TokenStore, Session.layerMemory)
        const lock = { waitTimeout: Duration.seconds(10), withLock: <A, E, R>(self: Effect.Effect<A, E, R>) => self }
        const answers = outcome === "rotated" ? [] : [inDoubt]
        const { coordinator, presented, first, session } = yield* setup(answers, { lock: Option.some(lock) }, store)
        yield* store.set(Session.fromTokenResponse(pair(), -1))
        yield* Effect.either(coordinator.refreshNow(Infinity, timedOut))
        yield* Effect.either(coordinator.refreshNow(Infinity, timedOut))
        expect(new Set(presented).size).toBe(presented.length)
        const current = Option.getOrThrow(yield* session.current)
        if (outcome === "rotated") expect(access(current)).not.toBe(access(first))
        else expect(current.refreshRetired).toBe(true)
      })
    )
  }
})
