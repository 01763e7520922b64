/**
 * The contract every storage engine keeps, written once: `storeContract(name, layer)` runs it against an engine.
 * Tests share one store per engine, so each test works on its own ids and e-mails.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, type Layer, Option } from "effect"
import * as crypto from "node:crypto"
import {
  type FileRecord,
  newUserRecord,
  type OneTimeToken,
  type SessionRecord,
  type UserRecord
} from "../../src/local/internal/kernel.js"
import * as Q from "../../src/local/internal/rowQuery.js"
import { newRowId, type Row, type TableConfig } from "../../src/local/internal/tables.js"
import { type NextToken, Store } from "../../src/local/Store.js"

const uid = () => crypto.randomUUID()
const hex = (n: number) => crypto.randomBytes(n).toString("hex")
const iso = (ms: number) => new Date(ms).toISOString()
const T0 = Date.UTC(2026, 11, 1)

/** A complete user record. */
export const userRecord = (overrides: Partial<UserRecord> = {}): UserRecord => ({
  ...newUserRecord({ email: `${hex(6)}@example.com`, name: "Test" }, T0),
  passwordHash: "salt:hash",
  onboarding: {},
  ...overrides
})

const sessionRecord = (userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord => ({
  id: uid(),
  userId,
  userAgent: "test",
  ipAddress: "127.0.0.1",
  deviceInfo: "test",
  organizationId: undefined,
  createdAt: T0,
  lastActivityAt: T0,
  expiresAt: T0 + 7 * 86_400_000,
  refreshJti: "",
  revokedAt: undefined,
  ...overrides
})

const nextToken =
  (ttl = 3_600_000, at = T0) =>
  (session: SessionRecord): NextToken => ({
    jti: uid(),
    issuedAt: at,
    expiresAt: Math.min(at + ttl, session.expiresAt)
  })

/** A user with a started session; answers the user, the session and its first token. */
export const signedIn = (overrides: Partial<SessionRecord> = {}, ttl?: number) =>
  Effect.gen(function* () {
    const store = yield* Store
    const user = yield* store.users.insert(userRecord())
    const session = sessionRecord(user.id, overrides)
    const token = yield* store.sessions.start(session, nextToken(ttl)(session))
    return { store, user, session, token }
  })

const row = (fields: Record<string, unknown>, createdBy = "u1", at = T0): Row => ({
  ...fields,
  id: newRowId(at),
  createdBy,
  createdAt: iso(at),
  updatedAt: iso(at)
})

const fileRecord = (ownerId: string): FileRecord => ({
  id: uid(),
  s3Key: `files/${hex(4)}`,
  originalName: "a.txt",
  mimeType: "text/plain",
  size: 3,
  visibility: "private",
  ownerId,
  ownerType: "user",
  metadata: {},
  bucket: undefined,
  width: undefined,
  height: undefined,
  createdAt: iso(T0),
  updatedAt: iso(T0)
})

const query = (where: Q.Where, overrides: Partial<Q.RowQuery> = {}): Q.RowQuery => ({
  where,
  sortBy: "id",
  sortDirection: "asc",
  offset: 0,
  limit: 20,
  select: undefined,
  ...overrides
})

/** Runs the store contract against one engine. */
export const storeContract = (name: string, storeLayer: Layer.Layer<Store, unknown>) =>
  layer(storeLayer, { timeout: 60_000, excludeTestServices: true })(`Store contract (${name})`, (it) => {
    describe("keys", () => {
      it.effect("ensure stores the first candidate and keeps it", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const first = {
            publishable: `pk_${hex(8)}`,
            secret: `sk_${hex(8)}`,
            signingSecret: hex(8),
            storageSecret: hex(8)
          }
          const kept = yield* store.keys.ensure(first)
          const again = yield* store.keys.ensure({ ...first, publishable: "pk_other", secret: "sk_other" })
          expect(again).toEqual(kept)
        })
      )
    })

    describe("users", () => {
      it.effect("insert, get by id and e-mail, list", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const user = yield* store.users.insert(userRecord())
          expect(Option.getOrThrow(yield* store.users.get(user.id))).toEqual(user)
          expect(Option.getOrThrow(yield* store.users.getByEmail(user.email)).id).toBe(user.id)
          expect(Option.isNone(yield* store.users.getByEmail("nobody@example.com"))).toBe(true)
          expect((yield* store.users.list).map((u) => u.id)).toContain(user.id)
        })
      )
      it.effect("a second live user with the same e-mail is a DuplicateKey", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const user = yield* store.users.insert(userRecord())
          const error = yield* Effect.flip(store.users.insert(userRecord({ email: user.email })))
          expect(error).toMatchObject({ _tag: "DuplicateKey", aggregate: "users", fields: ["email"] })
          const other = yield* store.users.insert(userRecord())
          const moved = yield* Effect.flip(store.users.update(other.id, (u) => ({ ...u, email: user.email })))
          expect(moved._tag).toBe("DuplicateKey")
        })
      )
      it.effect("update applies the function; a missing user is None", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const user = yield* store.users.insert(userRecord())
          const updated = yield* store.users.update(user.id, (u) => ({
            ...u,
            preferences: { ...u.preferences, theme: "dark" }
          }))
          expect(Option.getOrThrow(updated).preferences.theme).toBe("dark")
          expect(Option.getOrThrow(yield* store.users.get(user.id)).preferences.theme).toBe("dark")
          expect(Option.isNone(yield* store.users.update(uid(), (u) => u))).toBe(true)
        })
      )
      it.effect("softDelete marks the user, ends its sessions and frees the e-mail", () =>
        Effect.gen(function* () {
          const { store, user, session, token } = yield* signedIn()
          const deleted = yield* store.users.softDelete(user.id, (u) => ({ ...u, deletedAt: iso(T0 + 1) }), T0 + 1)
          expect(Option.getOrThrow(deleted).deletedAt).toBe(iso(T0 + 1))
          expect(Option.getOrThrow(yield* store.sessions.get(session.id)).revokedAt).toBe(T0 + 1)
          expect(Option.getOrThrow(yield* store.lineage.get(token.jti)).status).toBe("revoked")
          expect(Option.isNone(yield* store.users.getByEmail(user.email))).toBe(true)
          yield* store.users.insert(userRecord({ email: user.email }))
        })
      )
    })

    describe("sessions and lineage", () => {
      it.effect("rotate: Rotated, then the parent again is Replayed and revokes every session", () =>
        Effect.gen(function* () {
          const { store, user, session, token } = yield* signedIn()
          const other = sessionRecord(user.id)
          yield* store.sessions.start(other, nextToken()(other))
          const rotated = yield* store.lineage.rotate(token.jti, nextToken(), T0 + 10)
          if (rotated._tag !== "Rotated") throw new Error(rotated._tag)
          expect(rotated.session.refreshJti).toBe(rotated.token.jti)
          expect(rotated.session.lastActivityAt).toBe(T0 + 10)
          expect(rotated.user.id).toBe(user.id)
          expect(Option.getOrThrow(yield* store.lineage.get(token.jti))).toMatchObject({
            status: "rotated",
            childJti: rotated.token.jti
          })
          const replay = yield* store.lineage.rotate(token.jti, nextToken(), T0 + 20)
          expect(replay).toEqual({ _tag: "Replayed", userId: user.id, revokedSessions: 2 })
          expect((yield* store.lineage.rotate(rotated.token.jti, nextToken(), T0 + 30))._tag).toBe("Revoked")
          const sessions = yield* store.sessions.listByUser(user.id)
          expect(sessions.map((s) => s.revokedAt)).toEqual([T0 + 20, T0 + 20])
          expect(sessions.map((s) => s.id).sort()).toEqual([session.id, other.id].sort())
        })
      )
      it.effect("rotate: Unknown, Expired (token, session)", () =>
        Effect.gen(function* () {
          const store = yield* Store
          expect((yield* store.lineage.rotate(uid(), nextToken(), T0))._tag).toBe("Unknown")
          const short = yield* signedIn({}, 1000)
          expect(yield* store.lineage.rotate(short.token.jti, nextToken(), T0 + 1000)).toEqual({
            _tag: "Expired",
            which: "token"
          })
          const ending = yield* signedIn({ expiresAt: T0 + 500 })
          expect(yield* store.lineage.rotate(ending.token.jti, nextToken(), T0 + 500)).toEqual({
            _tag: "Expired",
            which: "session"
          })
        })
      )
      it.effect("rotate within the reuse interval answers Reused with the current child", () =>
        Effect.gen(function* () {
          const { store, token } = yield* signedIn()
          const rotated = yield* store.lineage.rotate(token.jti, nextToken(), T0, 5000)
          if (rotated._tag !== "Rotated") throw new Error(rotated._tag)
          const reused = yield* store.lineage.rotate(token.jti, nextToken(), T0 + 4999, 5000)
          expect(reused._tag).toBe("Reused")
          if (reused._tag === "Reused") expect(reused.token.jti).toBe(rotated.token.jti)
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 5000, 5000))._tag).toBe("Replayed")
        })
      )
      it.effect("touch moves lastActivityAt forward only, on active sessions", () =>
        Effect.gen(function* () {
          const { store, session } = yield* signedIn()
          yield* store.sessions.touch(session.id, T0 + 100)
          yield* store.sessions.touch(session.id, T0 + 50)
          expect(Option.getOrThrow(yield* store.sessions.get(session.id)).lastActivityAt).toBe(T0 + 100)
          yield* store.sessions.end(session.id, T0 + 200)
          yield* store.sessions.touch(session.id, T0 + 300)
          expect(Option.getOrThrow(yield* store.sessions.get(session.id)).lastActivityAt).toBe(T0 + 100)
        })
      )
      it.effect("without a reuse interval a presentation timed before the rotation is a replay", () =>
        Effect.gen(function* () {
          const { store, token } = yield* signedIn()
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 10))._tag).toBe("Rotated")
          // another instance read its clock before the rotation, then waited for the token's lock
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 5))._tag).toBe("Replayed")
        })
      )
      it.effect("reuse needs the child and the session unexpired", () =>
        Effect.gen(function* () {
          const { store, token } = yield* signedIn({}, 1000)
          const rotated = yield* store.lineage.rotate(token.jti, nextToken(1000, T0 + 500), T0 + 500, 5000)
          if (rotated._tag !== "Rotated") throw new Error(rotated._tag)
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 1499, 5000))._tag).toBe("Reused")
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 1500, 5000))._tag).toBe("Replayed")
        })
      )
      it.effect("end revokes the session and its token; endAllForUser counts", () =>
        Effect.gen(function* () {
          const { store, user, session, token } = yield* signedIn()
          expect(yield* store.sessions.end(session.id, T0 + 1)).toBe(true)
          expect(yield* store.sessions.end(session.id, T0 + 2)).toBe(false)
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 3))._tag).toBe("Revoked")
          const more = sessionRecord(user.id)
          yield* store.sessions.start(more, nextToken()(more))
          expect(yield* store.sessions.endAllForUser(user.id, T0 + 4)).toBe(1)
        })
      )
      it.effect("reissue retires the current token without a replay alarm", () =>
        Effect.gen(function* () {
          const { store, session, token } = yield* signedIn()
          const result = yield* store.lineage.reissue(session.id, (s) => ({ ...s, organizationId: "org" }), nextToken())
          const { session: changed, token: fresh } = Option.getOrThrow(result)
          expect(changed.organizationId).toBe("org")
          expect(changed.refreshJti).toBe(fresh.jti)
          expect((yield* store.lineage.rotate(token.jti, nextToken(), T0 + 1))._tag).toBe("Revoked")
          expect((yield* store.lineage.rotate(fresh.jti, nextToken(), T0 + 2))._tag).toBe("Rotated")
          expect(Option.isNone(yield* store.lineage.reissue(uid(), (s) => s, nextToken()))).toBe(true)
        })
      )
    })

    describe("one-time tokens", () => {
      it.effect("consume once, by kind and e-mail, before expiry", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const token = (overrides: Partial<OneTimeToken> = {}): OneTimeToken => ({
            token: hex(16),
            kind: "password-reset",
            email: "a@example.com",
            userId: undefined,
            expiresAt: T0 + 1000,
            usedAt: undefined,
            callbackUrl: undefined,
            ...overrides
          })
          const t = token()
          yield* store.oneTime.issue(t)
          expect((yield* store.oneTime.consume(t.token, "magic-link", T0))._tag).toBe("Unknown")
          expect((yield* store.oneTime.consume(t.token, "password-reset", T0, "b@example.com"))._tag).toBe("Unknown")
          const used = yield* store.oneTime.consume(t.token, "password-reset", T0, "a@example.com")
          expect(used).toEqual({ _tag: "Consumed", token: { ...t, usedAt: T0 } })
          expect((yield* store.oneTime.consume(t.token, "password-reset", T0))._tag).toBe("Unknown")
          const old = token()
          yield* store.oneTime.issue(old)
          expect((yield* store.oneTime.consume(old.token, "password-reset", T0 + 1000))._tag).toBe("Expired")
          expect((yield* store.oneTime.consume(hex(16), "password-reset", T0))._tag).toBe("Unknown")
        })
      )
    })

    describe("tables and rows", () => {
      const config = (overrides: Partial<TableConfig> = {}): TableConfig => ({
        name: `t_${hex(4)}`,
        columns: { title: "string", price: "number", sku: { type: "string", unique: true } },
        ...overrides
      })
      it.effect("ensure stores once; put replaces; list; delete drops the rows", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const c = config()
          expect(yield* store.tables.ensure(c)).toEqual(c)
          expect(yield* store.tables.ensure({ ...c, description: "other" })).toEqual(c)
          const replaced = { ...c, description: "replaced" }
          yield* store.tables.put(replaced)
          expect(Option.getOrThrow(yield* store.tables.get(c.name))).toEqual(replaced)
          expect((yield* store.tables.list).map((t) => t.name)).toContain(c.name)
          const r = yield* store.rows.insert(c.name, row({ title: "x" }))
          expect(yield* store.tables.delete(c.name)).toBe(true)
          expect(yield* store.tables.delete(c.name)).toBe(false)
          expect(Option.isNone(yield* store.rows.get(c.name, r.id))).toBe(true)
        })
      )
      it.effect("insert, get, update, delete; unique columns and ids are DuplicateKey", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const c = yield* store.tables.put(config())
          const r = yield* store.rows.insert(c.name, row({ title: "a", sku: "S1", tags: ["x"] }))
          expect(Option.getOrThrow(yield* store.rows.get(c.name, r.id))).toEqual(r)
          const dup = yield* Effect.flip(store.rows.insert(c.name, row({ sku: "S1" })))
          expect(dup).toMatchObject({ _tag: "DuplicateKey", aggregate: "rows", fields: ["sku"] })
          const sameId = yield* Effect.flip(store.rows.insert(c.name, { ...row({}), id: r.id }))
          expect(sameId).toMatchObject({ _tag: "DuplicateKey", fields: ["id"] })
          yield* store.rows.insert(c.name, row({ sku: null }))
          yield* store.rows.insert(c.name, row({ sku: null }))
          const updated = yield* store.rows.update(c.name, r.id, (x) => ({ ...x, title: "b", updatedAt: iso(T0 + 5) }))
          expect(Option.getOrThrow(updated)).toMatchObject({ title: "b", updatedAt: iso(T0 + 5), createdAt: iso(T0) })
          expect(Option.isNone(yield* store.rows.update(c.name, hex(12), (x) => x))).toBe(true)
          const other = yield* store.rows.insert(c.name, row({ sku: "S2" }))
          const clash = yield* Effect.flip(store.rows.update(c.name, other.id, (x) => ({ ...x, sku: "S1" })))
          expect(clash).toMatchObject({ _tag: "DuplicateKey", aggregate: "rows", fields: ["sku"] })
          expect(Option.getOrThrow(yield* store.rows.get(c.name, other.id)).sku).toBe("S2")
          expect(Option.getOrThrow(yield* store.rows.delete(c.name, r.id)).id).toBe(r.id)
          expect(Option.isNone(yield* store.rows.delete(c.name, r.id))).toBe(true)
        })
      )
      it.effect("query: filter, owner rule, sort, page, total, select", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const c = yield* store.tables.put(config())
          for (let i = 0; i < 6; i++) {
            yield* store.rows.insert(
              c.name,
              row({ title: `t${i}`, price: i * 10, tags: [`g${i % 2}`] }, i < 4 ? "me" : "you")
            )
          }
          const where = Q.and([
            { _tag: "Owner", userId: "me" },
            { _tag: "Field", field: "price", condition: { op: "$gte", value: 10 } }
          ])
          const page = yield* store.rows.query(
            c.name,
            query(where, { sortBy: "price", sortDirection: "desc", limit: 2, select: ["title"] })
          )
          expect(page.total).toBe(3)
          expect(page.items.map((r) => r.title)).toEqual(["t3", "t2"])
          expect(Object.keys(page.items[0]!).sort()).toEqual(["createdAt", "createdBy", "id", "title", "updatedAt"])
          const contains = yield* store.rows.query(
            c.name,
            query({ _tag: "Field", field: "tags", condition: { op: "$contains", value: "g1" } })
          )
          expect(contains.items.map((r) => r.title)).toEqual(["t1", "t3", "t5"])
          const substring = yield* store.rows.query(
            c.name,
            query({ _tag: "Field", field: "title", condition: { op: "$contains", value: "4" } })
          )
          expect(substring.items.map((r) => r.title)).toEqual(["t4"])
          expect((yield* store.rows.query(c.name, query(Q.none))).total).toBe(0)
          expect((yield* store.rows.query(`missing_${hex(4)}`, query(Q.all))).total).toBe(0)
        })
      )
    })

    describe("files, objects, uploads", () => {
      it.effect("files: insert, get, update, list by owner, delete", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const owner = uid()
          const a = yield* store.files.insert(fileRecord(owner))
          const b = yield* store.files.insert(fileRecord(owner))
          yield* store.files.insert(fileRecord(uid()))
          const taken = yield* Effect.flip(store.files.insert({ ...fileRecord(owner), s3Key: a.s3Key }))
          expect(taken).toMatchObject({ _tag: "DuplicateKey", aggregate: "files", fields: ["s3Key"] })
          expect((yield* store.files.list(owner)).map((f) => f.id)).toEqual([a.id, b.id])
          const renamed = yield* store.files.update(a.id, (f) => ({ ...f, originalName: "b.txt" }))
          expect(Option.getOrThrow(renamed).originalName).toBe("b.txt")
          expect(Option.getOrThrow(yield* store.files.get(a.id)).originalName).toBe("b.txt")
          expect(Option.getOrThrow(yield* store.files.getByKey(b.s3Key)).id).toBe(b.id)
          expect(Option.isNone(yield* store.files.getByKey(`${b.s3Key}-other`))).toBe(true)
          expect(Option.isSome(yield* store.files.delete(a.id))).toBe(true)
          expect((yield* store.files.list(owner)).map((f) => f.id)).toEqual([b.id])
        })
      )
      it.effect("objects and multipart uploads", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const key = `k/${hex(4)}`
          const object = { key, size: 3, contentType: "text/plain", etag: '"e"', createdAt: T0 }
          yield* store.objects.put(object)
          expect(Option.getOrThrow(yield* store.objects.get(key))).toEqual(object)
          expect(yield* store.objects.delete(key)).toBe(true)
          expect(yield* store.objects.delete(key)).toBe(false)
          const uploadId = uid()
          yield* store.uploads.start({ uploadId, key, contentType: undefined, ownerId: "u", createdAt: T0 })
          expect(yield* store.uploads.putPart(uploadId, { partNumber: 2, size: 1, etag: '"2"' })).toBe(true)
          expect(yield* store.uploads.putPart(uploadId, { partNumber: 1, size: 1, etag: '"1"' })).toBe(true)
          expect(yield* store.uploads.putPart(uploadId, { partNumber: 1, size: 2, etag: '"1b"' })).toBe(true)
          expect(yield* store.uploads.putPart(uid(), { partNumber: 1, size: 1, etag: '"x"' })).toBe(false)
          const upload = Option.getOrThrow(yield* store.uploads.get(uploadId))
          expect(upload.parts.map((p) => p.etag)).toEqual(['"1b"', '"2"'])
          expect(yield* store.uploads.complete(uploadId, object)).toBe(true)
          expect(yield* store.uploads.complete(uploadId, object)).toBe(false)
          expect(Option.isNone(yield* store.uploads.get(uploadId))).toBe(true)
          expect(Option.isSome(yield* store.objects.get(key))).toBe(true)
          const aborted = uid()
          yield* store.uploads.start({
            uploadId: aborted,
            key,
            contentType: undefined,
            ownerId: undefined,
            createdAt: T0
          })
          expect(yield* store.uploads.abort(aborted)).toBe(true)
          expect(yield* store.uploads.abort(aborted)).toBe(false)
        })
      )
    })

    describe("mail, counters, windows", () => {
      it.effect("mail keeps order; counters add up; windows count and roll over", () =>
        Effect.gen(function* () {
          const store = yield* Store
          const to = `${hex(4)}@example.com`
          for (const token of ["1", "2", "3"]) {
            yield* store.mail.send({ to, kind: "magic-link", token, link: undefined, createdAt: iso(T0) })
          }
          expect((yield* store.mail.list).filter((m) => m.to === to).map((m) => m.token)).toEqual(["1", "2", "3"])
          const counter = `c_${hex(4)}`
          expect(yield* store.counters.bump(counter)).toBe(1)
          expect(yield* store.counters.bump(counter, 4)).toBe(5)
          expect((yield* store.counters.all).get(counter)).toBe(5)
          const other = `c_${hex(4)}`
          yield* store.counters.bumpAll([counter, other, other])
          yield* store.counters.bumpAll([])
          const all = yield* store.counters.all
          expect([all.get(counter), all.get(other)]).toEqual([6, 2])
          const key = `w_${hex(4)}`
          expect(yield* store.windows.hit(key, 1000, T0)).toEqual({ windowStart: T0, count: 1 })
          expect(yield* store.windows.hit(key, 1000, T0 + 999)).toEqual({ windowStart: T0, count: 2 })
          expect(yield* store.windows.hit(key, 1000, T0 + 1000)).toEqual({ windowStart: T0 + 1000, count: 1 })
          expect(Option.getOrThrow(yield* store.windows.get(key)).count).toBe(1)
          yield* store.windows.reset(key)
          expect(Option.isNone(yield* store.windows.get(key))).toBe(true)
          expect(Exit.isSuccess(yield* Effect.exit(store.windows.reset(key)))).toBe(true)
        })
      )
    })
  })
