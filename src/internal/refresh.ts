/**
 * The refresh coordinator. One refresh per session at a time, forked into the client's scope and shared by every
 * caller through a Deferred: a caller's interruption or timeout ends only its own wait. A refresh token is
 * presented at most once unless that presentation is known not to have been processed; when the outcome is
 * unknown the token is retired, and the session lives on its access token until the server rejects it.
 * It never sees the call loop: client.ts hands it `present`, one presentation (retried only while unprocessed).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Tracer from "effect/Tracer"
import * as BkendError from "../BkendError.js"
import * as Session from "../Session.js"
import type { SessionState } from "./session.js"
import { withTimeout } from "./timeout.js"

/**
 * Negative control for the test suites: when `true` (read when the client is built), an in-doubt refresh token
 * stays in the session and is presented again — the unsafe behaviour this module exists to prevent.
 */
export class AllowInDoubtResend extends Context.Reference<AllowInDoubtResend>()(
  "bkend-effect/internal/AllowInDoubtResend",
  { defaultValue: () => false }
) {}

/** A presentation that did not rotate the pair: the server refused the token (401), so the session is over. */
export class Rejected extends Data.TaggedError("Rejected")<{ readonly error: BkendError.BkendError }> {}

/** Known not processed (never sent, 429 past the budget, another 4xx): the token is unspent. */
export class NotProcessed extends Data.TaggedError("NotProcessed")<{ readonly error: BkendError.BkendError }> {}

/** May have been processed (timeout, reset after sending, 5xx, a 2xx that does not decode). */
export class InDoubt extends Data.TaggedError("InDoubt")<{
  readonly error: BkendError.BkendError
  readonly sentAt: number
}> {}

export type Refused = Rejected | NotProcessed | InDoubt

/** The same refusal, its error replaced. */
export const mapError = (r: Refused, f: (error: BkendError.BkendError) => BkendError.BkendError): Refused => {
  switch (r._tag) {
    case "Rejected":
      return new Rejected({ error: f(r.error) })
    case "NotProcessed":
      return new NotProcessed({ error: f(r.error) })
    case "InDoubt":
      return new InDoubt({ error: f(r.error), sentAt: r.sentAt })
  }
}

/** Why a caller got no new session: there is no session any more (rejected, signed out meanwhile). */
export class Ended extends Data.TaggedError("Ended")<{ readonly error: BkendError.BkendError }> {}

/** The session stays, on its access token (its refresh token retired when the outcome was unknown). */
export class Kept extends Data.TaggedError("Kept")<{ readonly error: BkendError.BkendError }> {}

/** Nothing was spent, but the caller ran out of time (its own deadline, or another holder of the lock). */
export class Busy extends Data.TaggedError("Busy")<{ readonly error: BkendError.BkendError }> {}

export type Failed = Ended | Kept | Busy

export interface Options {
  readonly session: SessionState
  readonly lock: Option.Option<Session.RefreshLock["Type"]>
  /** presents the refresh token; retries only what was certainly not processed, until `deadline` (Clock ms) */
  readonly present: (refreshToken: string, deadline: number) => Effect.Effect<Session.TokenResponse, Refused>
  /** the refresh's own time budget (capped below the lock's wait timeout) */
  readonly budgetMillis: number
  readonly marginMillis: number
  /** re-present an in-doubt token once within this window (0: never, bkend's strict rotation) */
  readonly reuseWindowMillis: number
  readonly allowInDoubtResend: boolean
}

/** Per call: whether it has had its one refresh, and whether it may still refresh proactively. */
export interface CallState {
  /** a 401 may not start a refresh any more (one was started for it, or its proactive refresh failed) */
  refreshed: boolean
  /** the access token may be refreshed before an attempt (not after a failed proactive refresh) */
  proactive: boolean
  /** the call's span, when it is not the current span: the parent of a refresh the call starts */
  readonly span?: Tracer.AnySpan | undefined
}

const ROUTE = "/v1/auth/refresh"
const unauthorized = (message: string) =>
  new BkendError.Unauthorized({ status: 401, code: "auth/unauthorized", message, method: "POST", route: ROUTE })
const timeout = (message: string) =>
  new BkendError.NetworkError({ status: 0, reason: "Timeout", message, method: "POST", route: ROUTE })
const access = (s: Session.Session) => Redacted.value(s.accessToken)

export const make = (options: Options) =>
  Effect.gen(function* () {
    const { session, present, allowInDoubtResend: resend } = options
    const scope = yield* Effect.scope
    const lock = options.lock
    // a waiter on the lock gives up after waitTimeout: the holder's presentation ends well before that
    const budgetMillis = Option.isSome(lock)
      ? Math.min(options.budgetMillis, 0.8 * Duration.toMillis(lock.value.waitTimeout))
      : options.budgetMillis
    let flight: { readonly epoch: number; readonly done: Deferred.Deferred<Session.Session, Failed> } | undefined

    const retire = (epoch: number, token: string, error: BkendError.BkendError) =>
      resend
        ? Effect.void
        : Effect.zipRight(
            Effect.logWarning("bkend-effect: refresh outcome unknown; the refresh token is retired").pipe(
              Effect.annotateLogs({ error: error._tag, message: error.message })
            ),
            session.retireInEpoch(epoch, token)
          )

    /** The outcome of one spending of the token, settled even when the presentation is interrupted. */
    const settle = (epoch: number, token: string, exit: Exit.Exit<Session.TokenResponse, Refused>) =>
      Effect.gen(function* () {
        if (Exit.isSuccess(exit)) {
          const next = Session.fromTokenResponse(exit.value, yield* Clock.currentTimeMillis)
          if (yield* session.commitInEpoch(epoch, next, token)) return next
          return yield* new Ended({ error: unauthorized("signed out while the session was being refreshed") })
        }
        const refused = Cause.failureOption(exit.cause)
        if (Option.isNone(refused)) {
          // interrupted (the client is closing) or a defect: it may have been sent
          yield* retire(epoch, token, timeout("refresh interrupted"))
          return yield* Effect.failCause(Cause.stripFailures(exit.cause))
        }
        const r = refused.value
        if (r._tag === "Rejected") {
          yield* session.endInEpoch(epoch, "refresh-rejected")
          return yield* new Ended({ error: r.error })
        }
        if (r._tag === "InDoubt") yield* retire(epoch, token, r.error)
        return yield* new Kept({ error: r.error })
      })

    const spend = (epoch: number, token: string, deadline: number) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          let exit = yield* Effect.exit(restore(present(token, deadline)))
          const doubt = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
          if (!resend && Option.isSome(doubt) && doubt.value._tag === "InDoubt") {
            // the server's reuse window counts from its rotation, which came after `sentAt`: stay well inside it
            const elapsed = (yield* Clock.currentTimeMillis) - doubt.value.sentAt
            if (elapsed < options.reuseWindowMillis / 2) exit = yield* Effect.exit(restore(present(token, deadline)))
          }
          return yield* settle(epoch, token, exit)
        })
      )

    /** `stale`: the access token the callers hold; `spent`: the refresh token this client would present for it. */
    const run = (stale: string, spent: string, epoch: number) =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + budgetMillis
        // the epoch was read before the store: a sign-out or sign-in since then is not undone by what it holds
        yield* session.rereadInEpoch(epoch)
        const now = yield* session.snapshot
        if (Option.isNone(now.current)) {
          return yield* new Ended({ error: unauthorized("signed out while the session was being refreshed") })
        }
        const current = now.current.value
        // rotated or replaced meanwhile (here, or by another tab or process): nothing to spend. The refresh token is
        // compared too: a server may issue the same access token twice within a second
        if (access(current) !== stale || Redacted.value(current.refreshToken) !== spent) return current
        if (now.epoch !== epoch) {
          return yield* new Ended({ error: unauthorized("signed out while the session was being refreshed") })
        }
        if (current.refreshRetired && !resend) {
          return yield* new Kept({
            error: unauthorized("the refresh token was retired after a refresh whose outcome is unknown")
          })
        }
        return yield* spend(epoch, Redacted.value(current.refreshToken), deadline)
      })

    const underLock = <A>(self: Effect.Effect<A, Failed>): Effect.Effect<A, Failed> =>
      Option.isNone(lock)
        ? self
        : // this client's store write (a sign-out's clear during the refresh) lands before the lock is released:
          // the next holder never reads a token this client just spent or had refused
          lock.value.withLock(Effect.ensuring(self, session.flush)).pipe(
            Effect.catchTag(
              "RefreshLockTimeout",
              (e) =>
                new Busy({
                  error: timeout(
                    `gave up after ${e.waitedMillis} ms waiting for another tab or process to refresh the session`
                  )
                })
            )
          )

    const start = (stale: string, spent: string, epoch: number, parent: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<Session.Session, Failed>()
        flight = { epoch, done }
        yield* underLock(run(stale, spent, epoch)).pipe(
          Effect.withSpan("BkendClient.refresh", {
            captureStackTrace: false,
            ...(parent === undefined ? {} : { parent })
          }),
          Effect.onExit((exit) => {
            if (flight?.done === done) flight = undefined
            const failed = Exit.isFailure(exit) && Option.isNone(Cause.failureOption(exit.cause))
            return failed
              ? Deferred.fail(done, new Kept({ error: timeout("refresh interrupted") }))
              : Deferred.done(done, exit)
          }),
          Effect.interruptible,
          Effect.forkIn(scope)
        )
        return done
      })

    /** A new session for a caller holding `stale`: shared with every concurrent caller; waits until `deadline`. */
    const join = (
      stale: string,
      deadline: number,
      timedOut: () => BkendError.BkendError,
      parent?: Tracer.AnySpan | undefined
    ) =>
      Effect.gen(function* () {
        const { current, epoch } = yield* session.snapshot
        if (Option.isNone(current)) return yield* new Ended({ error: unauthorized("not signed in") })
        if (access(current.value) !== stale) return current.value
        const done =
          flight !== undefined && flight.epoch === epoch
            ? flight.done
            : yield* start(stale, Redacted.value(current.value.refreshToken), epoch, parent)
        const left = deadline - (yield* Clock.currentTimeMillis)
        return yield* withTimeout(Deferred.await(done), left).pipe(
          Effect.catchIf(Cause.isTimeoutException, () => new Busy({ error: timedOut() }))
        )
      })

    const currentAccess = Effect.map(session.current, (s) => (Option.isSome(s) ? access(s.value) : undefined))

    /**
     * The access token for an attempt, refreshed first (shared) when within the margin of expiry; `now`, the Clock
     * time if the caller just read it.
     */
    const accessToken = (deadline: number, call: CallState, timedOut: () => BkendError.BkendError, now?: number) =>
      Effect.flatMap(session.current, (s): Effect.Effect<string | undefined, BkendError.BkendError> => {
        if (Option.isNone(s)) return Effect.succeed(undefined)
        const token = access(s.value)
        if (!call.proactive || s.value.refreshRetired) return Effect.succeed(token)
        const check = (now: number) =>
          s.value.expiresAt - now > s.value.refreshMarginMillis(options.marginMillis)
            ? Effect.succeed(token)
            : join(token, deadline, timedOut, call.span).pipe(
                Effect.map(access),
                Effect.catchAll((f) => {
                  if (f._tag === "Busy") return Effect.fail(f.error)
                  if (f._tag === "Ended") return Effect.succeed(undefined)
                  // a failed proactive refresh is the call's one refresh; the server decides on the access token
                  call.refreshed = true
                  call.proactive = false
                  return currentAccess
                })
              )
        return now === undefined ? Effect.flatMap(Clock.currentTimeMillis, check) : check(now)
      })

    const endIfRetired = (stale: string) =>
      Effect.flatMap(session.snapshot, ({ current, epoch }) =>
        Option.isSome(current) && current.value.refreshRetired && !resend && access(current.value) === stale
          ? session.endInEpoch(epoch, "refresh-in-doubt")
          : Effect.succeed(false)
      )

    /**
     * After a 401 for `stale`: `true` to retry (the session was rotated, here or elsewhere), `false` to report the
     * 401, or an error to report instead. A retired session ends here: its access token was just rejected.
     */
    const afterUnauthorized = (
      stale: string,
      deadline: number,
      call: CallState,
      timedOut: () => BkendError.BkendError
    ): Effect.Effect<boolean, BkendError.BkendError> =>
      Effect.gen(function* () {
        const { current } = yield* session.snapshot
        if (Option.isNone(current)) return false
        if (access(current.value) !== stale) return true
        if (yield* endIfRetired(stale)) return false
        if (call.refreshed) return false
        call.refreshed = true
        const result = yield* Effect.either(join(stale, deadline, timedOut, call.span))
        if (Either.isRight(result)) return access(result.right) !== stale
        const f = result.left
        if (f._tag === "Busy") return yield* Effect.fail(f.error)
        if (f._tag === "Kept" && !(yield* endIfRetired(stale))) return yield* Effect.fail(f.error)
        return false
      })

    /** An explicit refresh, through the same gate. */
    const refreshNow = (deadline: number, timedOut: () => BkendError.BkendError) =>
      Effect.flatMap(currentAccess, (token) =>
        token === undefined
          ? Effect.fail(unauthorized("not signed in"))
          : join(token, deadline, timedOut).pipe(Effect.mapError((f) => f.error))
      )

    return { accessToken, afterUnauthorized, refreshNow }
  })

export type Coordinator = Effect.Effect.Success<ReturnType<typeof make>>
