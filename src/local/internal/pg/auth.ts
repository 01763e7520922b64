/**
 * Users, sessions, the refresh-token lineage and one-time tokens of the PostgreSQL engine. Locks are always taken
 * in the order token → session → user, so concurrent rotations and revocations cannot deadlock each other.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import type { LineageToken, NextToken, Rotation, Service } from "../../Store.js"
import type { OneTimeToken, SessionRecord, UserRecord } from "../kernel.js"
import { issuedToken } from "../lineage.js"
import { documents, onDuplicate, op, type Sql, transaction } from "./sql.js"

const stores = (sql: Sql) => ({
  users: documents<UserRecord>(sql, { table: "bkend_users", key: "id", keyOf: (u) => u.id }),
  sessions: documents<SessionRecord>(sql, {
    table: "bkend_sessions",
    key: "id",
    keyOf: (s) => s.id,
    columns: (s) => ({ user_id: s.userId })
  }),
  tokens: documents<LineageToken>(sql, {
    table: "bkend_refresh_tokens",
    key: "jti",
    keyOf: (t) => t.jti,
    columns: (t) => ({ session_id: t.sessionId, user_id: t.userId })
  }),
  oneTime: documents<OneTimeToken>(sql, { table: "bkend_one_time_tokens", key: "token", keyOf: (t) => t.token })
})

type Stores = ReturnType<typeof stores>

const revoked = JSON.stringify({ status: "revoked" })
const unknownToken: Rotation = { _tag: "Unknown" }
const revokedToken: Rotation = { _tag: "Revoked" }
const expired = (which: "session" | "token"): Rotation => ({ _tag: "Expired", which })

/** Revokes active tokens (by session or by user), then the sessions; answers the sessions ended. */
const endSessions = (sql: Sql, by: "session_id" | "user_id", id: string, now: number) =>
  Effect.gen(function* () {
    yield* sql`UPDATE bkend_refresh_tokens SET data = data || ${revoked}::jsonb
      WHERE ${sql(by)} = ${id} AND data ->> 'status' = 'active'`
    const column = by === "session_id" ? sql("id") : sql("user_id")
    const ended = yield* sql`UPDATE bkend_sessions SET data = data || ${JSON.stringify({ revokedAt: now })}::jsonb
      WHERE ${column} = ${id} AND data -> 'revokedAt' IS NULL RETURNING id`
    return ended.length
  })

const issue = (s: Stores, session: SessionRecord, next: NextToken) =>
  Effect.gen(function* () {
    const token = yield* s.tokens.insert(issuedToken(session, next))
    const updated = yield* s.sessions.put({ ...session, refreshJti: token.jti })
    return { session: updated, token }
  })

const liveSession = (s: Stores, sessionId: string) =>
  Effect.gen(function* () {
    const session = yield* s.sessions.lock(sessionId)
    if (Option.isNone(session) || session.value.revokedAt !== undefined) return Option.none()
    const user = yield* s.users.get(session.value.userId)
    if (Option.isNone(user) || user.value.deletedAt !== undefined) return Option.none()
    return Option.some({ session: session.value, user: user.value })
  })

const reuse = (s: Stores, parent: LineageToken, now: number, reuseMillis: number) =>
  Effect.gen(function* () {
    // no interval: never (a presentation timed before the rotation, on a slower instance, is a replay too)
    if (
      reuseMillis <= 0 ||
      parent.rotatedAt === undefined ||
      parent.childJti === undefined ||
      now - parent.rotatedAt >= reuseMillis
    ) {
      return Option.none()
    }
    const child = yield* s.tokens.lock(parent.childJti)
    if (Option.isNone(child) || child.value.status !== "active" || child.value.expiresAt <= now) return Option.none()
    const live = yield* liveSession(s, parent.sessionId)
    return Option.filterMap(live, ({ session, user }) =>
      session.expiresAt > now
        ? Option.some<Rotation>({ _tag: "Reused", session, user, token: child.value })
        : Option.none()
    )
  })

const rotate = (
  sql: Sql,
  s: Stores,
  jti: string,
  next: (session: SessionRecord) => NextToken,
  now: number,
  reuseMillis: number
) =>
  Effect.gen(function* () {
    const found = yield* s.tokens.lock(jti)
    if (Option.isNone(found)) return unknownToken
    const parent = found.value
    if (parent.status === "rotated") {
      const reused = yield* reuse(s, parent, now, reuseMillis)
      if (Option.isSome(reused)) return reused.value
      const revokedSessions = yield* endSessions(sql, "user_id", parent.userId, now)
      const replayed: Rotation = { _tag: "Replayed", userId: parent.userId, revokedSessions }
      return replayed
    }
    if (parent.status === "revoked") return revokedToken
    const live = yield* liveSession(s, parent.sessionId)
    if (Option.isNone(live)) return revokedToken
    const { session, user } = live.value
    if (session.expiresAt <= now) return expired("session")
    if (parent.expiresAt <= now) return expired("token")
    const child = next(session)
    yield* s.tokens.put({ ...parent, status: "rotated", rotatedAt: now, childJti: child.jti })
    const issued = yield* issue(s, { ...session, lastActivityAt: now }, child)
    const rotated: Rotation = { _tag: "Rotated", session: issued.session, user, token: issued.token }
    return rotated
  })

/** How often a reissue looks again when a rotation moved the session to a new token while it waited. */
const REISSUE_ATTEMPTS = 5

const reissue = (
  sql: Sql,
  s: Stores,
  sessionId: string,
  f: (session: SessionRecord) => SessionRecord,
  next: (session: SessionRecord) => NextToken
) =>
  Effect.gen(function* () {
    for (let attempt = 1; ; attempt++) {
      const current = yield* s.sessions.get(sessionId)
      if (Option.isNone(current)) return Option.none()
      // the session's token, then the session (the lock order): a rotation of that token cannot run in between
      const jti = current.value.refreshJti
      yield* s.tokens.lock(jti)
      const session = yield* s.sessions.lock(sessionId)
      if (Option.isNone(session)) return Option.none()
      // a rotation committed while this waited: its new token is the one to retire
      if (session.value.refreshJti !== jti && attempt < REISSUE_ATTEMPTS) continue
      yield* sql`UPDATE bkend_refresh_tokens SET data = data || ${revoked}::jsonb
        WHERE jti = ${session.value.refreshJti} AND data ->> 'status' = 'active'`
      const changed = f(session.value)
      return Option.some(yield* issue(s, changed, next(changed)))
    }
  })

const consume = (s: Stores, token: string, kind: string, now: number, email: string | undefined) =>
  Effect.gen(function* () {
    const found = yield* s.oneTime.lock(token)
    if (Option.isNone(found)) return { _tag: "Unknown" } as const
    const t = found.value
    if (t.kind !== kind || t.usedAt !== undefined || (email !== undefined && t.email !== email)) {
      return { _tag: "Unknown" } as const
    }
    if (t.expiresAt <= now) return { _tag: "Expired" } as const
    return { _tag: "Consumed", token: yield* s.oneTime.put({ ...t, usedAt: now }) } as const
  })

const userDuplicate = (constraint: string | undefined) =>
  Effect.succeed(constraint === "bkend_users_email" ? ["email"] : ["id"])

/**
 * The `users`, `sessions`, `lineage` and `oneTime` groups.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (sql: Sql): Pick<Service, "users" | "sessions" | "lineage" | "oneTime"> => {
  const s = stores(sql)
  const tx = transaction(sql)
  return {
    users: {
      insert: (user) => op("users.insert")(s.users.insert(user).pipe(onDuplicate("users", userDuplicate))),
      get: (id) => op("users.get")(s.users.get(id)),
      getByEmail: (email) =>
        op("users.getByEmail")(
          Effect.map(s.users.where(sql`data ->> 'email' = ${email} AND data ->> 'deletedAt' IS NULL`), (users) =>
            Option.fromNullable(users[0])
          )
        ),
      list: op("users.list")(s.users.where(sql`TRUE`, "data ->> 'createdAt', id")),
      update: (id, f) => op("users.update")(tx(s.users.update(id, f)).pipe(onDuplicate("users", userDuplicate))),
      softDelete: (id, f, now) =>
        op("users.softDelete")(
          tx(
            Effect.tap(s.users.update(id, f), (user) =>
              Option.isSome(user) ? endSessions(sql, "user_id", id, now) : Effect.void
            )
          )
        )
    },
    sessions: {
      start: (session, first) =>
        op("sessions.start")(
          tx(
            Effect.zipRight(
              s.sessions.insert(session),
              Effect.map(issue(s, session, first), (r) => r.token)
            )
          )
        ),
      get: (id) => op("sessions.get")(s.sessions.get(id)),
      listByUser: (userId) =>
        op("sessions.listByUser")(s.sessions.where(sql`user_id = ${userId}`, "data -> 'createdAt', id")),
      touch: (id, at) =>
        op("sessions.touch")(
          Effect.asVoid(sql`UPDATE bkend_sessions SET data = data || ${JSON.stringify({ lastActivityAt: at })}::jsonb
            WHERE id = ${id} AND data -> 'revokedAt' IS NULL AND (data ->> 'lastActivityAt')::bigint < ${at}`)
        ),
      end: (id, now) => op("sessions.end")(tx(Effect.map(endSessions(sql, "session_id", id, now), (n) => n > 0))),
      endAllForUser: (userId, now) => op("sessions.endAllForUser")(tx(endSessions(sql, "user_id", userId, now)))
    },
    lineage: {
      get: (jti) => op("lineage.get")(s.tokens.get(jti)),
      rotate: (jti, next, now, reuseMillis = 0) =>
        op("lineage.rotate")(tx(rotate(sql, s, jti, next, now, reuseMillis))),
      reissue: (sessionId, f, next) => op("lineage.reissue")(tx(reissue(sql, s, sessionId, f, next)))
    },
    oneTime: {
      issue: (token) => op("oneTime.issue")(Effect.asVoid(s.oneTime.insert(token))),
      consume: (token, kind, now, email) => op("oneTime.consume")(tx(consume(s, token, kind, now, email)))
    }
  }
}
