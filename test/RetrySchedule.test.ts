/**
 * `retryPolicy.schedule`: the backoff as an Effect `Schedule`, with Retry-After, the idempotency rule, maxAttempts
 * and the call's deadline still applied. Waits are driven by the TestClock (the server answers in real time).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Context, Effect, Fiber, Layer, Option, Redacted, Schedule, Schema, TestClock } from "effect"
import * as BkendClient from "../src/BkendClient.js"
import type * as BkendError from "../src/BkendError.js"
import * as Scripted from "./utils/scriptedServer.js"

const PK = `pk_${"d4".repeat(32)}`

const build = (server: Scripted.ScriptedServer, retryPolicy: Partial<BkendClient.RetryPolicy>) =>
  Effect.map(
    Layer.build(
      BkendClient.layer({ apiKey: Redacted.make(PK), baseUrl: server.url, retryPolicy }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
    ),
    (ctx) => Context.get(ctx, BkendClient.BkendClient)
  )

/** Waits (in real time) for a pending TestClock sleep due within 200 s; returns its delay from now. */
const pendingWait = Effect.gen(function* () {
  for (let i = 0; i < 500; i++) {
    const now = yield* Clock.currentTimeMillis
    const due = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((t) => t > now && t - now < 200_000)
    if (due.length > 0) return Math.min(...due) - now
    yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
  }
  throw new Error("no pending sleep")
})

const get = (client: BkendClient.Service, path: string) =>
  client.request({ method: "GET", route: `/v1/script/${path}`, auth: "none", response: Schema.Unknown })

const unavailable = { status: 503, body: "busy" }
const ok = { status: 200, body: '{"ok":true}' }

describe("retryPolicy.schedule", () => {
  it.scoped("the schedule's delays are the waits (exactly, on the TestClock)", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const schedule = Schedule.exponential("3 seconds", 3)
      const client = yield* build(server, { schedule })
      server.script("/v1/script/s", unavailable, unavailable, ok)
      const fiber = yield* Effect.fork(get(client, "s"))
      expect(yield* pendingWait).toBe(3000)
      yield* TestClock.adjust("2999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      expect(server.hits("/v1/script/s")).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* pendingWait).toBe(9000)
      yield* TestClock.adjust("9 seconds")
      expect(yield* Fiber.join(fiber)).toEqual({ ok: true })
      expect(server.hits("/v1/script/s")).toBe(3)
    })
  )

  it.scoped("the README example: exponential from 100 ms, jittered", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { schedule: Schedule.exponential("100 millis").pipe(Schedule.jittered) })
      server.script("/v1/script/j", unavailable, unavailable, ok)
      const fiber = yield* Effect.fork(get(client, "j"))
      const first = yield* pendingWait
      expect(first).toBeGreaterThanOrEqual(80)
      expect(first).toBeLessThanOrEqual(120)
      yield* TestClock.adjust(first)
      const second = yield* pendingWait
      expect(second).toBeGreaterThanOrEqual(160)
      expect(second).toBeLessThanOrEqual(240)
      yield* TestClock.adjust(second)
      yield* Fiber.join(fiber)
      expect(server.hits("/v1/script/j")).toBe(3)
    })
  )

  it.scoped("Retry-After replaces the schedule's delay", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { schedule: Schedule.spaced("30 seconds") })
      server.script("/v1/script/r", { status: 429, headers: { "retry-after": "2" } }, ok)
      const fiber = yield* Effect.fork(get(client, "r"))
      expect(yield* pendingWait).toBe(2000)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      expect(server.hits("/v1/script/r")).toBe(2)
    })
  )

  it.scoped("the schedule's input is the error; when it is done the call fails with that error", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      // retry rate limits only, and at most once
      const schedule = Schedule.recurs(1).pipe(
        Schedule.intersect(Schedule.recurWhile((e: BkendError.BkendError) => e._tag === "RateLimited"))
      )
      const client = yield* build(server, { schedule, maxAttempts: 10 })
      server.script("/v1/script/d", unavailable, ok)
      const error = yield* get(client, "d").pipe(Effect.flip)
      expect(error._tag).toBe("ServerError")
      expect(server.hits("/v1/script/d")).toBe(1)
      const limited = { status: 429, headers: { "retry-after": "0" } }
      server.script("/v1/script/l", limited, limited, limited, ok)
      expect((yield* get(client, "l").pipe(Effect.flip))._tag).toBe("RateLimited")
      expect(server.hits("/v1/script/l")).toBe(2)
    })
  )

  it.scoped("maxAttempts caps an endless schedule; a POST is still not retried after a 503", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { schedule: Schedule.spaced("1 second"), maxAttempts: 3 })
      server.script("/v1/script/m", unavailable, unavailable, unavailable, unavailable, ok)
      const fiber = yield* Effect.fork(get(client, "m"))
      yield* TestClock.adjust(yield* pendingWait)
      yield* TestClock.adjust(yield* pendingWait)
      expect((yield* Fiber.join(fiber).pipe(Effect.flip))._tag).toBe("ServerError")
      expect(server.hits("/v1/script/m")).toBe(3)
      server.script("/v1/script/p", unavailable, ok)
      const post = yield* client
        .request({ method: "POST", route: "/v1/script/p", auth: "none", body: {}, response: Schema.Unknown })
        .pipe(Effect.flip)
      expect(post._tag).toBe("ServerError")
      expect(server.hits("/v1/script/p")).toBe(1)
    })
  )

  it.scoped("a wait past the call's deadline is not taken: the error that ended the call is reported", () =>
    Effect.gen(function* () {
      const server = yield* Scripted.start
      const client = yield* build(server, { schedule: Schedule.spaced("200 seconds"), totalTimeout: "120 seconds" })
      server.script("/v1/script/t", unavailable, ok)
      const error = yield* get(client, "t").pipe(Effect.flip)
      expect(error._tag).toBe("ServerError")
      expect(server.hits("/v1/script/t")).toBe(1)
    })
  )

  it.effect("invalid combinations fail at layer construction with InvalidConfig naming the field", () =>
    Effect.gen(function* () {
      const fail = (retryPolicy: Partial<BkendClient.RetryPolicy>) =>
        Layer.build(BkendClient.layer({ apiKey: Redacted.make(PK), retryPolicy })).pipe(
          Effect.provide(FetchHttpClient.layer),
          Effect.scoped,
          Effect.flip
        )
      const schedule = Schedule.spaced("1 second")
      for (const [policy, field] of [
        [{ schedule, baseDelay: 100 }, "retryPolicy.baseDelay"],
        [{ schedule, maxDelay: "1 second" }, "retryPolicy.maxDelay"],
        [{ schedule, jitter: 0 }, "retryPolicy.jitter"]
      ] as const) {
        const error = yield* fail(policy)
        expect(error._tag).toBe("InvalidConfig")
        if (error._tag === "InvalidConfig") {
          expect(error.field).toBe(field)
          expect(error.message).toContain("retryPolicy.schedule")
        }
      }
      // a value that is not a Schedule (from untyped configuration)
      const notASchedule: unknown = { delay: 100 }
      const error = yield* fail({ schedule: notASchedule as Schedule.Schedule<unknown> })
      expect(error._tag === "InvalidConfig" && error.field).toBe("retryPolicy.schedule")
    })
  )
})
