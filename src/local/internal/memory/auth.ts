/**
 * Users, sessions, the refresh-token lineage and one-time tokens of the in-memory engine, over the server state's
 * Maps. Each method runs in one synchronous step, so nothing interleaves inside it.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { DuplicateKey, type LineageToken, type NextToken, type Rotation, type Service } from "../../Store.js"
import type { LocalState, SessionRecord, UserRecord } from "../kernel.js"
import { issuedToken } from "../lineage.js"

const takenEmail = (state: LocalState, user: UserRecord): boolean => {
  if (user.deletedAt !== undefined) return false
  for (const other of state.users.values()) {
    if (other.id !== user.id && other.deletedAt === undefined && other.email === user.email) return true
  }
  return false
}

const duplicate = (fields: ReadonlyArray<string>) => new DuplicateKey({ aggregate: "users", fields })

/** Revokes the matching active tokens, then ends the matching active sessions; answers the sessions ended. */
const endSessions = (state: LocalState, match: (s: { sessionId: string; userId: string }) => boolean, now: number) => {
  for (const [jti, t] of state.refreshTokens) {
    if (t.status === "active" && match(t)) state.refreshTokens.set(jti, { ...t, status: "revoked" })
  }
  let ended = 0
  for (const [id, s] of state.sessions) {
    if (s.revokedAt === undefined && match({ sessionId: s.id, userId: s.userId })) {
      state.sessions.set(id, { ...s, revokedAt: now })
      ended++
    }
  }
  return ended
}

const issue = (state: LocalState, session: SessionRecord, next: NextToken) => {
  const token = issuedToken(session, next)
  state.refreshTokens.set(token.jti, token)
  const updated = { ...session, refreshJti: token.jti }
  state.sessions.set(updated.id, updated)
  return { session: updated, token }
}

const liveSession = (state: LocalState, sessionId: string) => {
  const session = state.sessions.get(sessionId)
  if (session === undefined || session.revokedAt !== undefined) return undefined
  const user = state.users.get(session.userId)
  if (user === undefined || user.deletedAt !== undefined) return undefined
  return { session, user }
}

const reuse = (state: LocalState, parent: LineageToken, now: number, reuseMillis: number): Rotation | undefined => {
  // no interval: never (a presentation timed before the rotation, on a slower instance, is a replay too)
  if (
    reuseMillis <= 0 ||
    parent.rotatedAt === undefined ||
    parent.childJti === undefined ||
    now - parent.rotatedAt >= reuseMillis
  ) {
    return undefined
  }
  const child = state.refreshTokens.get(parent.childJti)
  if (child === undefined || child.status !== "active" || child.expiresAt <= now) return undefined
  const live = liveSession(state, parent.sessionId)
  return live === undefined || live.session.expiresAt <= now ? undefined : { _tag: "Reused", ...live, token: child }
}

const rotate = (
  state: LocalState,
  jti: string,
  next: (session: SessionRecord) => NextToken,
  now: number,
  reuseMillis: number
): Rotation => {
  const parent = state.refreshTokens.get(jti)
  if (parent === undefined) return { _tag: "Unknown" }
  if (parent.status === "rotated") {
    const reused = reuse(state, parent, now, reuseMillis)
    if (reused !== undefined) return reused
    const revokedSessions = endSessions(state, (t) => t.userId === parent.userId, now)
    return { _tag: "Replayed", userId: parent.userId, revokedSessions }
  }
  if (parent.status === "revoked") return { _tag: "Revoked" }
  const live = liveSession(state, parent.sessionId)
  if (live === undefined) return { _tag: "Revoked" }
  if (live.session.expiresAt <= now) return { _tag: "Expired", which: "session" }
  if (parent.expiresAt <= now) return { _tag: "Expired", which: "token" }
  const child = next(live.session)
  state.refreshTokens.set(jti, { ...parent, status: "rotated", rotatedAt: now, childJti: child.jti })
  const issued = issue(state, { ...live.session, lastActivityAt: now }, child)
  return { _tag: "Rotated", session: issued.session, user: live.user, token: issued.token }
}

const updateUser = (state: LocalState, id: string, f: (user: UserRecord) => UserRecord) => {
  const current = state.users.get(id)
  if (current === undefined) return Effect.succeed(Option.none<UserRecord>())
  const changed = { ...f(current), id }
  if (takenEmail(state, changed)) return Effect.fail(duplicate(["email"]))
  state.users.set(id, changed)
  return Effect.succeed(Option.some(changed))
}

const users = (state: LocalState): Service["users"] => ({
  insert: (user) =>
    Effect.suspend(() => {
      if (state.users.has(user.id)) return Effect.fail(duplicate(["id"]))
      if (takenEmail(state, user)) return Effect.fail(duplicate(["email"]))
      state.users.set(user.id, user)
      return Effect.succeed(user)
    }),
  get: (id) => Effect.sync(() => Option.fromNullable(state.users.get(id))),
  getByEmail: (email) =>
    Effect.sync(() => {
      for (const u of state.users.values()) if (u.deletedAt === undefined && u.email === email) return Option.some(u)
      return Option.none()
    }),
  list: Effect.sync(() => [...state.users.values()]),
  update: (id, f) => Effect.suspend(() => updateUser(state, id, f)),
  softDelete: (id, f, now) =>
    Effect.suspend(() =>
      Effect.tap(updateUser(state, id, f), (user) => {
        if (Option.isSome(user)) endSessions(state, (t) => t.userId === id, now)
      }).pipe(Effect.orDie)
    )
})

const sessions = (state: LocalState): Service["sessions"] => ({
  start: (session, first) => Effect.sync(() => issue(state, session, first).token),
  get: (id) => Effect.sync(() => Option.fromNullable(state.sessions.get(id))),
  listByUser: (userId) =>
    Effect.sync(() =>
      [...state.sessions.values()].filter((s) => s.userId === userId).sort((a, b) => a.createdAt - b.createdAt)
    ),
  touch: (id, at) =>
    Effect.sync(() => {
      const s = state.sessions.get(id)
      if (s !== undefined && s.revokedAt === undefined && s.lastActivityAt < at) {
        state.sessions.set(id, { ...s, lastActivityAt: at })
      }
    }),
  end: (id, now) => Effect.sync(() => endSessions(state, (t) => t.sessionId === id, now) > 0),
  endAllForUser: (userId, now) => Effect.sync(() => endSessions(state, (t) => t.userId === userId, now))
})

const lineage = (state: LocalState): Service["lineage"] => ({
  get: (jti) => Effect.sync(() => Option.fromNullable(state.refreshTokens.get(jti))),
  rotate: (jti, next, now, reuseMillis = 0) => Effect.sync(() => rotate(state, jti, next, now, reuseMillis)),
  reissue: (sessionId, f, next) =>
    Effect.sync(() => {
      const current = state.sessions.get(sessionId)
      if (current === undefined) return Option.none()
      const token = state.refreshTokens.get(current.refreshJti)
      if (token !== undefined && token.status === "active") {
        state.refreshTokens.set(token.jti, { ...token, status: "revoked" })
      }
      const changed = f(current)
      return Option.some(issue(state, changed, next(changed)))
    })
})

const oneTime = (state: LocalState): Service["oneTime"] => ({
  issue: (token) =>
    Effect.sync(() => {
      state.oneTimeTokens.set(token.token, token)
    }),
  consume: (token, kind, now, email) =>
    Effect.sync(() => {
      const t = state.oneTimeTokens.get(token)
      if (t === undefined || t.kind !== kind || t.usedAt !== undefined || (email !== undefined && t.email !== email)) {
        return { _tag: "Unknown" } as const
      }
      if (t.expiresAt <= now) return { _tag: "Expired" } as const
      const used = { ...t, usedAt: now }
      state.oneTimeTokens.set(token, used)
      return { _tag: "Consumed", token: used } as const
    })
})

/**
 * The `users`, `sessions`, `lineage` and `oneTime` groups.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (state: LocalState): Pick<Service, "users" | "sessions" | "lineage" | "oneTime"> => ({
  users: users(state),
  sessions: sessions(state),
  lineage: lineage(state),
  oneTime: oneTime(state)
})
