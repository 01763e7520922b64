/**
 * The signed-in session: its model, where it is stored (`TokenStore`, on @effect/platform `KeyValueStore`),
 * how changes are announced (`SessionChange`), and the lock that serialises refreshes across processes or
 * browser tabs (`RefreshLock`).
 *
 * @since 0.1.0
 */
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { Context, Data, type Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { lifetimeMillis } from "./internal/jwt.js"

/**
 * A session: both tokens (always `Redacted`) and the access token's expiry, computed when the tokens were
 * received (`receivedAt + expiresIn`, or `receivedAt` plus the token's own lifetime).
 *
 * @since 0.1.0
 * @category models
 */
export class Session extends Schema.Class<Session>("bkend-effect/Session")({
  accessToken: Schema.Redacted(Schema.String),
  refreshToken: Schema.Redacted(Schema.String),
  tokenType: Schema.String,
  /** epoch milliseconds at which the tokens were received (0 for sessions stored before it was recorded) */
  issuedAt: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** epoch milliseconds at which the access token expires */
  expiresAt: Schema.Number,
  /**
   * The refresh token was presented and the outcome is unknown (a timeout, a reset connection, a 5xx, an
   * unreadable answer). It is never presented again: the server may have rotated it, and bkend answers the reuse
   * of a rotated-out token by revoking every session of the user. The session lasts while its access token is
   * accepted, then ends with `SignedOut({ reason: "refresh-in-doubt" })`.
   */
  refreshRetired: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {
  /**
   * The margin before expiry at which to refresh proactively: `margin`, but at most half the token's lifetime,
   * so a short-lived token is not refreshed on every call.
   *
   * @since 0.1.0
   */
  refreshMarginMillis(margin: number): number {
    return Math.min(margin, Math.max(0, this.expiresAt - this.issuedAt) / 2)
  }
}

/**
 * The token pair as bkend returns it (sign-up, sign-in, refresh, OAuth and magic-link callbacks).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.String,
  tokenType: Schema.optional(Schema.String),
  expiresIn: Schema.optional(Schema.Number),
  is_new_user: Schema.optional(Schema.Boolean),
  isNewUser: Schema.optional(Schema.Boolean)
})

/**
 * A token pair as bkend answers a sign-in, sign-up or refresh, before it becomes a {@link Session}.
 *
 * @since 0.1.0
 * @category schemas
 */
export type TokenResponse = typeof TokenResponse.Type

const DEFAULT_EXPIRES_IN_SECONDS = 3600

/**
 * Builds a {@link Session} from a token response received at `receivedAt` (epoch ms). Without `expiresIn`, the
 * access token's lifetime (`exp − iat` of the JWT) is counted from `receivedAt`, so a device clock that is off
 * does not matter; a token without both claims is taken to live one hour.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTokenResponse = (tokens: TokenResponse, receivedAt: number): Session =>
  new Session({
    accessToken: Redacted.make(tokens.accessToken),
    refreshToken: Redacted.make(tokens.refreshToken),
    tokenType: tokens.tokenType ?? "Bearer",
    issuedAt: receivedAt,
    expiresAt:
      receivedAt +
      (tokens.expiresIn !== undefined
        ? tokens.expiresIn * 1000
        : (lifetimeMillis(tokens.accessToken) ?? DEFAULT_EXPIRES_IN_SECONDS * 1000))
  })

/**
 * What happened to the session.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionChange = Data.TaggedEnum<{
  SignedIn: { readonly session: Session }
  Refreshed: { readonly session: Session }
  /**
   * `reason`: `"sign-out"` and `"withdrawn"` (this client), `"cleared"` (locally, or another tab or process),
   * `"refresh-rejected"` (the server refused the refresh token), `"refresh-in-doubt"` (the server rejected the
   * access token after a refresh whose outcome was unknown had retired the refresh token)
   */
  SignedOut: {
    readonly reason: "sign-out" | "refresh-rejected" | "refresh-in-doubt" | "withdrawn" | "cleared"
  }
}>

/**
 * Why a session ended.
 *
 * @since 0.1.0
 * @category models
 */
export type SignOutReason = Extract<SessionChange, { readonly _tag: "SignedOut" }>["reason"]

/**
 * Constructors and matchers of {@link SessionChange} values (`SessionChange.SignedIn({ session })`, `$match`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const SessionChange = Data.taggedEnum<SessionChange>()

/**
 * Where the session is kept. The client's session in memory is authoritative; it re-reads the store inside the
 * refresh lock and adopts a stored session only when it is newer (received later), so a token pair rotated by
 * another tab or process is adopted instead of being spent twice, and an older pair never comes back. A store
 * that fails or takes longer than 5 s is logged and skipped.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("bkend-effect/TokenStore")<
  TokenStore,
  {
    readonly get: Effect.Effect<Option.Option<Session>>
    readonly set: (session: Session) => Effect.Effect<void>
    readonly clear: Effect.Effect<void>
  }
>() {}

const StoredSession = Schema.parseJson(Session)

/**
 * A {@link TokenStore} on any `KeyValueStore` (`layerMemory`, `layerStorage(() => localStorage)` in browsers,
 * `layerFileSystem(dir)` for Node CLIs). The session is stored as JSON under `key`. A store that cannot be read
 * or decoded counts as "no session"; a failed write is logged and the in-memory session stays authoritative.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKeyValueStore = (options?: { readonly key?: string | undefined }) =>
  Effect.gen(function* () {
    const kv = yield* KeyValueStore.KeyValueStore
    const key = options?.key ?? "bkend-effect/session"
    const decode = Schema.decodeUnknown(StoredSession)
    const encode = Schema.encode(StoredSession)
    return TokenStore.of({
      get: kv.get(key).pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.succeedNone, onSome: (s) => Effect.asSome(decode(s)) })),
        Effect.catchAll(() => Effect.succeedNone)
      ),
      set: (session) =>
        encode(session).pipe(
          Effect.flatMap((json) => kv.set(key, json)),
          Effect.catchAll((e) => Effect.logWarning("bkend-effect: could not persist the session", e._tag))
        ),
      clear: kv
        .remove(key)
        .pipe(Effect.catchAll((e) => Effect.logWarning("bkend-effect: could not clear the stored session", e._tag)))
    })
  })

/**
 * A {@link TokenStore} on the `KeyValueStore` in the context (a file, `localStorage`, memory), under `key`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore = (options?: {
  readonly key?: string | undefined
}): Layer.Layer<TokenStore, never, KeyValueStore.KeyValueStore> => Layer.effect(TokenStore, makeKeyValueStore(options))

/**
 * An in-memory {@link TokenStore} (the default when none is provided).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenStore> = layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerMemory))

/**
 * The cross-tab or cross-process lock gave up waiting for another holder. The waiter has not spent its refresh
 * token: the session is kept as it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshLockTimeout extends Data.TaggedError("RefreshLockTimeout")<{ readonly waitedMillis: number }> {}

/**
 * Serialises refreshes beyond one client instance: across browser tabs (Web Locks) or processes (a lock file).
 * The client always single-flights refreshes inside one instance; this lock is taken around that, and inside it
 * the client re-reads the {@link TokenStore} before spending a refresh token.
 *
 * A waiter that gives up after `waitTimeout` fails with {@link RefreshLockTimeout} and never runs `self`: it must
 * not spend the refresh token without the lock. The client keeps its presentation of the refresh token (429 waits
 * included) within 80 % of `waitTimeout`, so a holder is done (or has given up) before any waiter stops waiting.
 *
 * @since 0.1.0
 * @category tags
 */
export class RefreshLock extends Context.Tag("bkend-effect/RefreshLock")<
  RefreshLock,
  {
    /** how long a waiter waits for the current holder before failing with {@link RefreshLockTimeout} */
    readonly waitTimeout: Duration.Duration
    readonly withLock: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RefreshLockTimeout, R>
  }
>() {}
