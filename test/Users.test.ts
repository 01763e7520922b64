import { createHash } from "node:crypto"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Auth from "../src/Auth.js"
import * as Users from "../src/Users.js"
import {
  BkendLocal,
  counters,
  failure,
  localLayer,
  provideServices,
  type ScriptedRequest,
  scriptedClientLayer,
  uniqueEmail
} from "./utils/bkend.js"

const services = Layer.merge(Auth.layer, Users.layer)
/** a fresh pk_ client (one user session) */
const asUser = provideServices(services, "pk")
/** an sk_ client: admin without a session */
const asAdmin = provideServices(Users.layer, "sk")

/** Signs up on the current client; returns the new user's id and e-mail. */
const signUp = (prefix = "users") =>
  Effect.gen(function* () {
    const auth = yield* Auth.Auth
    const email = uniqueEmail(prefix)
    yield* auth.signUp({ email, password: "Passw0rd!", name: `Name ${prefix}` })
    const me = yield* auth.me
    return { id: me.id, email }
  })

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5])

layer(localLayer())("Users against bkend-local", (it) => {
  describe("own account", () => {
    it.effect("get, update, profile, preferences, notifications, onboarding, public settings", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        const auth = yield* Auth.Auth
        const { id, email } = yield* signUp("self")

        const me = yield* users.get({ userId: id })
        expect(me.email).toBe(email)
        const renamed = yield* users.update({ userId: id, name: "Renamed" })
        expect(renamed.name).toBe("Renamed")

        const profile = yield* users.getProfile({ userId: id })
        expect(profile.email).toBe(email)
        const updated = yield* users.updateProfile({
          userId: id,
          nickname: "nick",
          bio: "hello",
          gender: "etc",
          mobile: "+821012345678",
          socialLinks: { github: "https://github.com/nick", twitter: null, linkedin: null }
        })
        expect(updated).toMatchObject({ nickname: "nick", bio: "hello", gender: "etc", mobile: "+821012345678" })
        expect(updated.socialLinks?.github).toBe("https://github.com/nick")
        const cleared = yield* users.updateProfile({ userId: id, bio: null })
        expect(cleared.bio).toBe(null)
        expect(cleared.nickname).toBe("nick")
        const badName = yield* failure(users.updateProfile({ userId: id, name: "" }))
        expect(badName.tag).toBe("BadRequest")
        expect(badName.code).toBe("user/invalid-name")

        const prefs = yield* users.updatePreferences({
          userId: id,
          locale: "ko",
          timezone: "Asia/Seoul",
          theme: "dark"
        })
        expect(prefs).toMatchObject({ locale: "ko", timezone: "Asia/Seoul", theme: "dark" })
        expect(yield* users.getPreferences({ userId: id })).toMatchObject({ theme: "dark" })

        const defaults = yield* users.getNotifications({ userId: id })
        expect(defaults).toEqual({
          service: true,
          marketing: false,
          push: true,
          email: true,
          sms: false,
          nightTime: false,
          securityAlerts: true
        })
        const notifications = yield* users.updateNotifications({ userId: id, marketing: true, push: false })
        expect(notifications).toMatchObject({ marketing: true, push: false, service: true })

        const onboarding = yield* users.updateOnboarding({ userId: id, onboarding: { status: "completed", step: 3 } })
        expect(onboarding).toMatchObject({ status: "completed", step: 3 })
        expect(yield* users.getOnboarding({ userId: id })).toMatchObject({ status: "completed" })
        expect((yield* auth.me).onboardingStatus).toBe("completed")

        const slug = `nick-${id.slice(0, 8)}`
        const pub = yield* users.updatePublicSettings({ userId: id, slug, isPublic: true })
        expect(pub).toEqual({ slug, isPublic: true })
        expect(yield* users.getPublicSettings({ userId: id })).toEqual({ slug, isPublic: true })
      }).pipe(asUser)
    )

    it.effect("avatar: upload URL, uploadAvatar (URL → storage PUT → save), delete", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        const { server } = yield* BkendLocal
        const { id } = yield* signUp("avatar")

        const target = yield* users.createAvatarUploadUrl({ userId: id, filename: "me.png", contentType: "image/png" })
        expect(target.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//)
        expect(target.key).toContain(id)

        const saved = yield* users.uploadAvatar({ userId: id, data: png, filename: "me.png", contentType: "image/png" })
        expect(saved.image).toBeTypeOf("string")
        expect((yield* users.get({ userId: id })).image).toBe(saved.image)
        // the bytes reached the object store
        const imageKey = decodeURIComponent(new URL(String(saved.image)).pathname.slice("/_storage/".length))
        expect(imageKey).toContain(id)
        const stored = Option.getOrThrow(yield* Effect.orDie(server.store.objects.get(imageKey)))
        const md5 = createHash("md5").update(png).digest("hex")
        expect({ etag: stored.etag, size: stored.size }).toEqual({ etag: `"${md5}"`, size: png.length })

        // a key that was never uploaded cannot be saved
        const unsaved = yield* failure(users.saveAvatar({ userId: id, s3Key: target.key }))
        expect(unsaved.tag).toBe("BadRequest")

        yield* users.deleteAvatar({ userId: id })
        expect((yield* users.get({ userId: id })).image ?? null).toBe(null)
      }).pipe(asUser)
    )

    it.effect("a user may delete their own account; its session then stops working", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        const auth = yield* Auth.Auth
        const { id } = yield* signUp("selfdelete")
        yield* users.delete({ userId: id })
        const gone = yield* failure(auth.me)
        expect(gone.tag).toBe("Unauthorized")
        expect(Option.isNone(yield* auth.session)).toBe(true)
      }).pipe(asUser)
    )
  })

  describe("permissions", () => {
    it.effect("user A cannot read or change B's profile (403); A sees B's public fields only; admin can", () =>
      Effect.gen(function* () {
        const b = yield* signUp("b").pipe(asUser)
        const a = yield* Effect.gen(function* () {
          const users = yield* Users.Users
          const me = yield* signUp("a")
          const read = yield* failure(users.getProfile({ userId: b.id }))
          expect(read.tag).toBe("Forbidden")
          expect(read.code).toBe("user/forbidden")
          const write = yield* failure(users.updateProfile({ userId: b.id, nickname: "hacked" }))
          expect(write.tag).toBe("Forbidden")
          const prefs = yield* failure(users.updatePreferences({ userId: b.id, theme: "light" }))
          expect(prefs.tag).toBe("Forbidden")
          const rename = yield* failure(users.update({ userId: b.id, name: "hacked" }))
          expect(rename.tag).toBe("Forbidden")
          const del = yield* failure(users.delete({ userId: b.id }))
          expect(del.tag).toBe("Forbidden")
          // the public view of another user has no e-mail
          const other = yield* users.get({ userId: b.id })
          expect(other.id).toBe(b.id)
          expect(other.email).toBeUndefined()
          return me
        }).pipe(asUser)
        expect(a.id).not.toBe(b.id)

        yield* Effect.gen(function* () {
          const users = yield* Users.Users
          const profile = yield* users.getProfile({ userId: b.id })
          expect(profile.email).toBe(b.email)
          expect(profile.nickname ?? null).toBe(null)
          const changed = yield* users.updateProfile({ userId: b.id, nickname: "set-by-admin" })
          expect(changed.nickname).toBe("set-by-admin")
          expect((yield* users.get({ userId: b.id })).email).toBe(b.email)
        }).pipe(asAdmin)
      })
    )

    it.effect("admin-only endpoints: a user gets 403; the sk_ key creates, lists, sets roles and deletes", () =>
      Effect.gen(function* () {
        const victim = yield* signUp("victim").pipe(asUser)
        yield* Effect.gen(function* () {
          const users = yield* Users.Users
          yield* signUp("plain")
          const create = yield* failure(users.create({ name: "X", email: uniqueEmail("x") }))
          expect(create.tag).toBe("Forbidden")
          expect(create.code).toBe("user/forbidden")
          const role = yield* failure(users.setRole({ userId: victim.id, role: "admin" }))
          expect(role.tag).toBe("Forbidden")
        }).pipe(asUser)

        yield* Effect.gen(function* () {
          const users = yield* Users.Users
          const email = uniqueEmail("created")
          const created = yield* users.create({ name: "Created", email, role: "guest" })
          expect(created).toMatchObject({ email, name: "Created", role: "guest" })
          const dup = yield* failure(users.create({ name: "Again", email }))
          expect(dup.tag).toBe("Conflict")
          const badRole = yield* failure(users.setRole({ userId: created.id, role: JSON.parse('"root"') }))
          expect(badRole.code).toBe("user/invalid-role")
          const promoted = yield* users.setRole({ userId: created.id, role: "user" })
          expect(promoted.role).toBe("user")

          const found = yield* users.list({ search: email, searchType: "email", includeAccounts: true, limit: 5 })
          expect(found.items.map((u) => u.id)).toEqual([created.id])
          expect(found.total).toBe(1)

          yield* users.delete({ userId: created.id })
          const missing = yield* failure(users.get({ userId: created.id }))
          expect(missing.tag).toBe("NotFound")
          expect(missing.code).toBe("user/not-found")
        }).pipe(asAdmin)
      })
    )

    it.effect("a signed-in user with the admin role (pk_ + JWT) may use admin endpoints", () =>
      Effect.gen(function* () {
        const boss = yield* Effect.gen(function* () {
          const users = yield* Users.Users
          const me = yield* signUp("boss")
          const denied = yield* failure(users.create({ name: "Nope", email: uniqueEmail("nope") }))
          expect(denied.tag).toBe("Forbidden")
          return me
        }).pipe(asUser)
        yield* Effect.flatMap(Users.Users, (users) => users.setRole({ userId: boss.id, role: "admin" })).pipe(asAdmin)
        yield* Effect.gen(function* () {
          const auth = yield* Auth.Auth
          const users = yield* Users.Users
          yield* auth.signIn({ email: boss.email, password: "Passw0rd!" })
          const created = yield* users.create({ name: "By Boss", email: uniqueEmail("byboss") })
          expect(created.name).toBe("By Boss")
        }).pipe(asUser)
      })
    )

    it.effect("list paginates and derives hasNext/hasPrev; signed-out and bad ids fail", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        yield* signUp("lister")
        const total = (yield* users.list({ limit: 100 })).total
        expect(total).toBeGreaterThanOrEqual(2)
        const first = yield* users.list({ page: 1, limit: 1, sortBy: "createdAt", sortDirection: "asc" })
        expect(first.items.length).toBe(1)
        expect(first).toMatchObject({ page: 1, limit: 1, total, totalPages: total, hasNext: true, hasPrev: false })
        const second = yield* users.list({ page: 2, limit: 1, sortBy: "createdAt", sortDirection: "asc" })
        expect(second.hasPrev).toBe(true)
        expect(second.items[0]?.id).not.toBe(first.items[0]?.id)

        const before = (yield* counters).requests
        const bad = yield* failure(users.get({ userId: ".." }))
        expect(bad.tag).toBe("InvalidInput")
        expect((yield* counters).requests).toBe(before)
      }).pipe(asUser)
    )

    it.effect("without a session a pk_ client gets Unauthorized user/unauthorized (no refresh)", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        const before = yield* counters
        const e = yield* failure(users.list())
        expect(e.tag).toBe("Unauthorized")
        expect(e.code).toBe("user/unauthorized")
        expect((yield* counters).refreshCalls).toBe(before.refreshCalls)
      }).pipe(asUser)
    )
  })
})

layer(localLayer({ envelope: "bare", errors: "ref-auth", deletes: "204", pagination: "union" }))(
  "Users against bkend-local with bare bodies, E-A errors, 204 deletes, union pagination",
  (it) => {
    it.effect("list, avatar upload and delete (204), 403 code, self delete (204)", () =>
      Effect.gen(function* () {
        const users = yield* Users.Users
        const { id } = yield* signUp("compat")
        const page = yield* users.list({ limit: 10 })
        expect(page.items.some((u) => u.id === id)).toBe(true)
        const saved = yield* users.uploadAvatar({ userId: id, data: png, filename: "a.png", contentType: "image/png" })
        expect(saved.image).toBeTypeOf("string")
        yield* users.deleteAvatar({ userId: id })
        const denied = yield* failure(users.create({ name: "X", email: uniqueEmail("x") }))
        expect(denied.code).toBe("user/forbidden")
        yield* users.delete({ userId: id })
      }).pipe(asUser)
    )
  }
)

describe("Users over a scripted transport (variants bkend-local does not emit)", () => {
  it.effect("upload URL as uploadUrl (I-19), save answering a full profile, empty 204 delete", () =>
    Effect.gen(function* () {
      const seen: Array<ScriptedRequest> = []
      const result = yield* Effect.gen(function* () {
        const users = yield* Users.Users
        const target = yield* users.createAvatarUploadUrl({
          userId: "u/1",
          filename: "a.png",
          contentType: "image/png"
        })
        const saved = yield* users.saveAvatar({ userId: "u/1", s3Key: target.key })
        yield* users.deleteAvatar({ userId: "u/1" })
        return { target, saved }
      }).pipe(
        Effect.provide(
          Users.layer.pipe(
            Layer.provideMerge(
              scriptedClientLayer((request) => {
                seen.push(request)
                if (request.method === "POST") {
                  return { body: { uploadUrl: "https://storage.example/put?sig=1", key: "avatars/u1.png" } }
                }
                if (request.method === "PATCH") return { body: { id: "u/1", name: "N", image: "https://img/u1.png" } }
                return { status: 204 }
              })
            )
          )
        )
      )
      expect(result.target).toMatchObject({ url: "https://storage.example/put?sig=1", key: "avatars/u1.png" })
      expect(result.saved).toEqual({ image: "https://img/u1.png" })
      // the id is one percent-encoded path segment
      expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /v1/users/u%2F1/avatar/upload-url",
        "PATCH /v1/users/u%2F1/avatar",
        "DELETE /v1/users/u%2F1/avatar"
      ])
      expect(seen[0]?.body).toEqual({ filename: "a.png", contentType: "image/png" })
      expect(seen[1]?.body).toEqual({ s3Key: "avatars/u1.png" })
    })
  )

  it.effect("list query options are sent as documented; a missing upload URL is a DecodeError", () =>
    Effect.gen(function* () {
      const seen: Array<ScriptedRequest> = []
      const outcome = yield* Effect.gen(function* () {
        const users = yield* Users.Users
        const page = yield* users.list({
          page: 2,
          limit: 5,
          search: "kim",
          searchType: "name",
          sortBy: "name",
          sortDirection: "asc",
          includeAccounts: true
        })
        const bad = yield* failure(
          users.createAvatarUploadUrl({ userId: "u", filename: "a", contentType: "image/png" })
        )
        return { page, bad }
      }).pipe(
        Effect.provide(
          Users.layer.pipe(
            Layer.provideMerge(
              scriptedClientLayer((request) => {
                seen.push(request)
                return request.method === "GET"
                  ? { body: { items: [{ id: "x" }], pagination: { page: 2, limit: 5, total: 11, totalPages: 3 } } }
                  : { body: { key: "k" } }
              })
            )
          )
        )
      )
      expect(Object.fromEntries(seen[0]?.query ?? [])).toEqual({
        page: "2",
        limit: "5",
        search: "kim",
        searchType: "name",
        sortBy: "name",
        sortDirection: "asc",
        includeAccounts: "true"
      })
      expect(outcome.page).toMatchObject({ page: 2, total: 11, totalPages: 3, hasNext: true, hasPrev: true })
      expect(outcome.bad.tag).toBe("DecodeError")
    })
  )
})
