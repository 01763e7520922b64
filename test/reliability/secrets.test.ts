/**
 * Secrets: the chaos workload (smaller, with a 2 s access-token TTL so refreshes happen) runs with every log line
 * (all levels) and every span captured, and every error serialised in several ways; neither the API key nor any
 * access or refresh token the client ever held appears in any of it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, HashMap, List, Logger, LogLevel } from "effect"
import { inspect } from "node:util"
import * as BkendError from "../../src/BkendError.js"
import { runChaos } from "./workload.js"
import { recordingTracer } from "../utils/tracing.js"

const render = (u: unknown): string => {
  let json = ""
  try {
    json = JSON.stringify(u, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? ""
  } catch {
    json = ""
  }
  return `${json}\n${inspect(u, { depth: 12, showHidden: false })}\n${String(u)}`
}

describe("reliability: secrets", () => {
  it.live(
    "no API key, access token or refresh token in logs, spans or serialised errors",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const logs: Array<string> = []
          const { spans, tracer } = yield* recordingTracer
          const logger = Logger.make((entry) => {
            logs.push(
              [
                entry.logLevel.label,
                render(entry.message),
                render(HashMap.toEntries(entry.annotations)),
                render(List.toArray(entry.spans)),
                Cause.isEmpty(entry.cause) ? "" : Cause.pretty(entry.cause, { renderErrorCause: true })
              ].join("\n")
            )
          })

          const result = yield* runChaos({
            fibers: 10,
            opsPerFiber: 40,
            seed: 7,
            resetAfterProbability: 0.01,
            ttlSeconds: 2
          }).pipe(
            Effect.withTracer(tracer),
            Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
            Logger.withMinimumLogLevel(LogLevel.All)
          )
          const counters = yield* result.server.counters

          const spanText = spans.map((s) =>
            [
              s.name,
              render([...s.attributes.entries()]),
              render(s.links),
              // what a tracer exports: name, attributes, links, events and the failure (not the success value, which
              // is the call's own result — e.g. the refresh call returns the new token pair)
              s.status._tag === "Ended" && Exit.isFailure(s.status.exit)
                ? Cause.pretty(s.status.exit.cause, { renderErrorCause: true })
                : "",
              "events" in s ? render(s.events) : ""
            ].join("\n")
          )
          const errors = result.ops.flatMap((o) => (o.error === undefined ? [] : [o.error]))
          const errorText = errors.map((e) =>
            [
              render(e),
              e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : "",
              Cause.pretty(Cause.fail(e), { renderErrorCause: true })
            ].join("\n")
          )
          const finalMeText = Exit.isFailure(result.finalMe) ? Cause.pretty(result.finalMe.cause) : ""

          const secrets = [result.apiKey, ...result.tokens]
          const haystacks: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
            ["logs", logs],
            ["spans", spanText],
            ["errors", errorText],
            ["final call", [finalMeText]]
          ]
          const found: Array<string> = []
          for (const [where, texts] of haystacks) {
            for (const text of texts) {
              for (const secret of secrets) {
                if (text.includes(secret)) {
                  const at = text.indexOf(secret)
                  found.push(`${where}: ${secret.slice(0, 6)}… in …${text.slice(Math.max(0, at - 80), at)}`)
                }
              }
            }
          }
          expect(found).toEqual([])

          // the check is not vacuous: tokens rotated, retries were logged, spans and errors were produced
          expect(counters.refreshCalls).toBeGreaterThan(0)
          expect(result.tokens.length).toBeGreaterThanOrEqual(4)
          expect(logs.some((l) => l.includes("retrying"))).toBe(true)
          expect(spans.length).toBeGreaterThan(400)
          expect(errors.length).toBeGreaterThan(0)
          // network errors with their cause, host and attempt count are among what was checked
          expect(
            errors.some(
              (e) =>
                e instanceof BkendError.NetworkError &&
                e.causeCode !== undefined &&
                e.host !== undefined &&
                e.attempts !== undefined
            )
          ).toBe(true)
          console.log(
            `secrets: ${secrets.length} secrets checked against ${logs.length} log lines, ${spans.length} spans, ${errors.length} errors; refreshes ${counters.refreshCalls}`
          )
        })
      ),
    90_000
  )
})
