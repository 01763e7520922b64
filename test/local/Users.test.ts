import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck, Option } from "effect"
import type { Reply, RequestOptions, TestUser } from "./utils.js"
import { arr, errorCode, get, Harness, harnessLayer, request, signUp, signUpAdmin, str, uniqueEmail } from "./utils.js"

const expectError = (res: Reply, status: number, code: string) => {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status, code })
}

const as = (user: TestUser, method: string, path: string, options: RequestOptions = {}) =>
  request(method, path, { ...options, token: user.accessToken })

const sk = (method: string, path: string, options: RequestOptions = {}) =>
  request(method, path, { ...options, key: "sk" })

const SUB_ROUTES: ReadonlyArray<readonly [string, string, unknown]> = [
  ["GET", "profile", undefined],
  ["PATCH", "profile", { name: "Hacker" }],
  ["POST", "avatar/upload-url", { filename: "a.png", contentType: "image/png" }],
  ["PATCH", "avatar", { s3Key: "avatars/x.png" }],
  ["DELETE", "avatar", undefined],
  ["GET", "preferences", undefined],
  ["PATCH", "preferences", { theme: "dark" }],
  ["GET", "notifications", undefined],
  ["PATCH", "notifications", { marketing: true }],
  ["GET", "onboarding", undefined],
  ["PATCH", "onboarding", { status: "completed" }],
  ["GET", "public-settings", undefined],
  ["PATCH", "public-settings", { isPublic: true }]
]

layer(harnessLayer())("bkend-local /v1/users (socket)", (it) => {
  it.effect("no token → 401 user/unauthorized on every route", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const paths: ReadonlyArray<readonly [string, string]> = [
        ["GET", "/v1/users"],
        ["POST", "/v1/users"],
        ["GET", `/v1/users/${a.userId}`],
        ["PATCH", `/v1/users/${a.userId}`],
        ["DELETE", `/v1/users/${a.userId}`],
        ["PATCH", `/v1/users/${a.userId}/role`],
        ...SUB_ROUTES.map(([m, p]) => [m, `/v1/users/${a.userId}/${p}`] as const)
      ]
      expect(paths).toHaveLength(19)
      for (const [method, path] of paths) {
        expectError(yield* request(method, path, method === "GET" ? {} : { body: {} }), 401, "user/unauthorized")
      }
      expectError(yield* request("GET", "/v1/users", { token: "not-a-jwt" }), 401, "user/unauthorized")
    })
  )

  it.effect("arbitrary JSON bodies never produce a 5xx or a non-envelope error", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const bodies = FastCheck.sample(FastCheck.jsonValue(), { numRuns: 12, seed: 7 })
      const routes = [
        ["PATCH", `/v1/users/${a.userId}`],
        ...SUB_ROUTES.filter(([m]) => m !== "GET" && m !== "DELETE").map(([m, p]) => [m, `/v1/users/${a.userId}/${p}`])
      ]
      for (const [method = "", path = ""] of routes) {
        for (const body of bodies) {
          const res = yield* as(a, method, path, { rawBody: JSON.stringify(body) })
          expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBeLessThan(500)
          if (res.status >= 400) expect(typeof errorCode(res)).toBe("string")
        }
      }
      for (const body of bodies) {
        const res = yield* sk("POST", "/v1/users", { rawBody: JSON.stringify(body) })
        expect(res.status).toBeLessThan(500)
      }
      expect((yield* as(a, "GET", `/v1/users/${a.userId}/profile`)).status).toBe(200)
    })
  )

  it.effect("user A cannot read or change user B's sub-resources (403 user/forbidden); admin via sk_ can", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const b = yield* signUp({ name: "Bee" })
      for (const [method, sub, body] of SUB_ROUTES) {
        const res = yield* as(a, method, `/v1/users/${b.userId}/${sub}`, body === undefined ? {} : { body })
        expectError(res, 403, "user/forbidden")
      }
      expectError(yield* as(a, "PATCH", `/v1/users/${b.userId}`, { body: { name: "X" } }), 403, "user/forbidden")
      expectError(yield* as(a, "DELETE", `/v1/users/${b.userId}`), 403, "user/forbidden")
      expectError(
        yield* as(a, "PATCH", `/v1/users/${b.userId}/role`, { body: { role: "admin" } }),
        403,
        "user/forbidden"
      )
      expectError(
        yield* as(a, "PATCH", `/v1/users/${a.userId}/role`, { body: { role: "admin" } }),
        403,
        "user/forbidden"
      )
      expectError(
        yield* as(a, "POST", "/v1/users", { body: { name: "N", email: uniqueEmail() } }),
        403,
        "user/forbidden"
      )
      const h = yield* Harness
      expect(Option.getOrThrow(yield* h.server.store.users.get(b.userId)).name).toBe("Bee")

      const profile = yield* sk("GET", `/v1/users/${b.userId}/profile`)
      expect(profile.status).toBe(200)
      expect(get(profile.data, "name")).toBe("Bee")
      const patched = yield* sk("PATCH", `/v1/users/${b.userId}/profile`, { body: { nickname: "bee" } })
      expect(get(patched.data, "nickname")).toBe("bee")
      // an admin JWT works as well
      const admin = yield* signUpAdmin()
      const prefs = yield* as(admin, "PATCH", `/v1/users/${b.userId}/preferences`, { body: { theme: "dark" } })
      expect(get(prefs.data, "theme")).toBe("dark")
      expectError(yield* sk("GET", "/v1/users/00000000-0000-0000-0000-000000000000/profile"), 404, "user/not-found")
    })
  )

  it.effect("U01 list: search, sort, pagination, trimmed fields for non-admins", () =>
    Effect.gen(function* () {
      const tag = `zq${Date.now().toString(36)}`
      const a = yield* signUp({ name: `${tag} Alice` })
      yield* signUp({ name: `${tag} Bob` })
      yield* signUp({ name: `${tag} Carol` })
      const asUser = yield* as(a, "GET", "/v1/users", {
        query: { search: tag, sortBy: "name", sortDirection: "asc", limit: "2" }
      })
      expect(asUser.status).toBe(200)
      const items = arr(asUser.data, "items")
      expect(items.map((i) => get(i, "name"))).toEqual([`${tag} Alice`, `${tag} Bob`])
      expect(get(asUser.data, "pagination")).toEqual({ page: 1, limit: 2, total: 3, totalPages: 2 })
      expect(get(items[0], "email")).toBe(a.email) // own item is not trimmed
      expect(get(items[1], "email")).toBeUndefined() // others are
      expectError(
        yield* as(a, "GET", "/v1/users", { query: { search: a.email, searchType: "email" } }),
        403,
        "user/forbidden"
      )

      const page2 = yield* sk("GET", "/v1/users", {
        query: { search: tag, sortBy: "name", sortDirection: "asc", limit: "2", page: "2" }
      })
      const p2 = arr(page2.data, "items")
      expect(p2.map((i) => get(i, "name"))).toEqual([`${tag} Carol`])
      expect(typeof get(p2[0], "email")).toBe("string")
      const byEmail = yield* sk("GET", "/v1/users", {
        query: { search: a.email, searchType: "email", includeAccounts: "true" }
      })
      expect(arr(byEmail.data, "items").map((i) => get(i, "id"))).toEqual([a.userId])
      expect(get(byEmail.data, "items.0.accounts.0.provider")).toBe("email")
      const desc = yield* sk("GET", "/v1/users", { query: { search: tag, sortBy: "name" } })
      expect(get(desc.data, "items.0.name")).toBe(`${tag} Carol`)

      expectError(yield* sk("GET", "/v1/users", { query: { limit: "0" } }), 400, "common/invalid-parameters")
      expectError(yield* sk("GET", "/v1/users", { query: { limit: "101" } }), 400, "common/invalid-parameters")
      expectError(yield* sk("GET", "/v1/users", { query: { sortBy: "password" } }), 400, "common/invalid-parameters")
      expectError(yield* sk("GET", "/v1/users", { query: { searchType: "bio" } }), 400, "common/invalid-parameters")
      expect(get((yield* sk("GET", "/v1/users")).data, "pagination.limit")).toBe(20)
    })
  )

  it.effect("U02 create (admin), U03 get, U04 patch, U06 role (400 user/invalid-role), U05 delete", () =>
    Effect.gen(function* () {
      const email = uniqueEmail("created")
      const created = yield* sk("POST", "/v1/users", { body: { name: "Made", email, role: "guest" } })
      expect(created.status).toBe(201)
      expect(created.data).toMatchObject({ name: "Made", email, role: "guest" })
      const id = str(created.data, "id")
      expectError(yield* sk("POST", "/v1/users", { body: { name: "Again", email } }), 409, "auth/email-already-exists")
      expectError(
        yield* sk("POST", "/v1/users", { body: { name: "R", email: uniqueEmail(), role: "root" } }),
        400,
        "user/invalid-role"
      )
      expectError(
        yield* sk("POST", "/v1/users", { body: { name: "", email: uniqueEmail() } }),
        400,
        "user/invalid-name"
      )

      const a = yield* signUp()
      const other = yield* as(a, "GET", `/v1/users/${id}`)
      expect(other.status).toBe(200)
      expect(get(other.data, "name")).toBe("Made")
      expect(get(other.data, "email")).toBeUndefined()
      const self = yield* as(a, "GET", `/v1/users/${a.userId}`)
      expect(self.data).toMatchObject({ id: a.userId, email: a.email, role: "user" })
      expectError(yield* as(a, "GET", "/v1/users/00000000-0000-0000-0000-000000000000"), 404, "user/not-found")

      const renamed = yield* as(a, "PATCH", `/v1/users/${a.userId}`, { body: { name: "New Name", role: "admin" } })
      expect(renamed.status).toBe(200)
      expect(renamed.data).toMatchObject({ name: "New Name", role: "user" })
      expectError(
        yield* as(a, "PATCH", `/v1/users/${a.userId}`, { body: { name: "x".repeat(101) } }),
        400,
        "user/invalid-name"
      )

      const promoted = yield* sk("PATCH", `/v1/users/${id}/role`, { body: { role: "admin" } })
      expect(promoted.status).toBe(200)
      expect(get(promoted.data, "role")).toBe("admin")
      expectError(yield* sk("PATCH", `/v1/users/${id}/role`, { body: { role: "superuser" } }), 400, "user/invalid-role")
      expectError(yield* sk("PATCH", `/v1/users/${id}/role`, { body: {} }), 400, "user/invalid-role")
      expectError(
        yield* sk("PATCH", "/v1/users/00000000-0000-0000-0000-000000000000/role", { body: { role: "user" } }),
        404,
        "user/not-found"
      )

      const del = yield* sk("DELETE", `/v1/users/${id}`)
      expect(del.status).toBe(200)
      expect(typeof get(del.data, "message")).toBe("string")
      expectError(yield* sk("GET", `/v1/users/${id}`), 404, "user/not-found")
      expectError(yield* sk("DELETE", `/v1/users/${id}`), 404, "user/not-found")
    })
  )

  it.effect("U05 self delete (I-21): soft delete and the user's sessions end", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const res = yield* as(a, "DELETE", `/v1/users/${a.userId}`)
      expect(res.status).toBe(200)
      expect(typeof get(res.data, "message")).toBe("string")
      expect((yield* as(a, "GET", `/v1/users/${a.userId}`)).status).toBe(401)
      const refresh = yield* request("POST", "/v1/auth/refresh", { body: { refreshToken: a.refreshToken } })
      expect(refresh.status).toBe(401)
      const h = yield* Harness
      expect(Option.getOrThrow(yield* h.server.store.users.get(a.userId)).deletedAt).toBeDefined()
    })
  )

  it.effect("U07/U08 profile: get, partial patch, null clears, validation, unknown fields ignored", () =>
    Effect.gen(function* () {
      const a = yield* signUp({ name: "Pro File" })
      const p = `/v1/users/${a.userId}/profile`
      const initial = yield* as(a, "GET", p)
      expect(initial.data).toMatchObject({
        name: "Pro File",
        nickname: null,
        email: a.email,
        mobile: null,
        gender: null,
        bio: null,
        socialLinks: { github: null, twitter: null, linkedin: null }
      })
      const patched = yield* as(a, "PATCH", p, {
        body: {
          nickname: "pro",
          mobile: "+821012345678",
          gender: "etc",
          bio: "hello",
          socialLinks: { github: "https://github.com/pro" },
          image: "https://img.example/x.png",
          favouriteColour: "blue"
        }
      })
      expect(patched.status).toBe(200)
      expect(patched.data).toMatchObject({
        name: "Pro File",
        nickname: "pro",
        mobile: "+821012345678",
        gender: "etc",
        bio: "hello",
        socialLinks: { github: "https://github.com/pro", twitter: null, linkedin: null },
        image: "https://img.example/x.png"
      })
      expect(get(patched.data, "favouriteColour")).toBeUndefined()
      // the answer is also the user: apps read its identity fields
      expect(patched.data).toMatchObject({ id: a.userId, email: a.email, role: "user" })
      expect(typeof get(patched.data, "updatedAt")).toBe("string")
      const links = yield* as(a, "PATCH", p, { body: { socialLinks: { twitter: "https://x.com/pro" }, bio: null } })
      expect(links.data).toMatchObject({
        bio: null,
        socialLinks: { github: "https://github.com/pro", twitter: "https://x.com/pro", linkedin: null }
      })

      expectError(yield* as(a, "PATCH", p, { body: { name: "" } }), 400, "user/invalid-name")
      expectError(yield* as(a, "PATCH", p, { body: { name: "n".repeat(101) } }), 400, "user/invalid-name")
      expectError(yield* as(a, "PATCH", p, { body: { nickname: "n".repeat(51) } }), 400, "user/invalid-nickname")
      expectError(yield* as(a, "PATCH", p, { body: { nickname: "" } }), 400, "user/invalid-nickname")
      expectError(yield* as(a, "PATCH", p, { body: { mobile: "12345" } }), 400, "common/invalid-parameters")
      expectError(yield* as(a, "PATCH", p, { body: { gender: "robot" } }), 400, "common/invalid-parameters")
      expectError(yield* as(a, "PATCH", p, { body: { bio: "b".repeat(501) } }), 400, "common/invalid-parameters")
      // a rejected patch changes nothing
      expectError(
        yield* as(a, "PATCH", p, { body: { nickname: "changed", gender: "robot" } }),
        400,
        "common/invalid-parameters"
      )
      expect(get((yield* as(a, "GET", p)).data, "nickname")).toBe("pro")
    })
  )

  it.effect("U09–U11 avatar: upload-url → PUT → save → readable image URL → delete", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const up = yield* as(a, "POST", `/v1/users/${a.userId}/avatar/upload-url`, {
        body: { filename: "me.png", contentType: "image/png" }
      })
      expect(up.status).toBe(200)
      const url = str(up.data, "url")
      const key = str(up.data, "key")
      expect(key.startsWith(`avatars/${a.userId}/`)).toBe(true)
      expect(Number.isNaN(Date.parse(str(up.data, "expiresAt")))).toBe(false)
      const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])
      const put = yield* request("PUT", url, {
        absolute: true,
        key: "none",
        rawBody: png,
        headers: { "content-type": "image/png" }
      })
      expect(put.status).toBe(200)
      expect(put.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/)

      const saved = yield* as(a, "PATCH", `/v1/users/${a.userId}/avatar`, { body: { s3Key: key } })
      expect(saved.status).toBe(200)
      const image = str(saved.data, "image")
      const fetched = yield* request("GET", image, { absolute: true, key: "none" })
      expect(fetched.status).toBe(200)
      expect(fetched.headers.get("content-type")).toBe("image/png")
      expect(get((yield* as(a, "GET", `/v1/users/${a.userId}`)).data, "image")).toBe(image)

      expectError(
        yield* as(a, "PATCH", `/v1/users/${a.userId}/avatar`, { body: { s3Key: "avatars/never-uploaded.png" } }),
        400,
        "common/invalid-parameters"
      )
      // another user's avatar key is refused
      const b = yield* signUp()
      expectError(
        yield* as(b, "PATCH", `/v1/users/${b.userId}/avatar`, { body: { s3Key: key } }),
        400,
        "common/invalid-parameters"
      )
      expectError(
        yield* as(a, "POST", `/v1/users/${a.userId}/avatar/upload-url`, {
          body: { filename: "me.svg", contentType: "image/svg+xml" }
        }),
        400,
        "file/invalid-format"
      )
      // without contentType, the type comes from the file name's extension; an unknown one is refused
      const inferred = yield* as(a, "POST", `/v1/users/${a.userId}/avatar/upload-url`, {
        body: { filename: "ME.JPEG" }
      })
      expect(inferred.status).toBe(200)
      expect(str(inferred.data, "key").endsWith(".jpg")).toBe(true)
      for (const filename of ["notes.txt", "noextension"]) {
        expectError(
          yield* as(a, "POST", `/v1/users/${a.userId}/avatar/upload-url`, { body: { filename } }),
          400,
          "file/invalid-format"
        )
      }

      const del = yield* as(a, "DELETE", `/v1/users/${a.userId}/avatar`)
      expect(del.status).toBe(200)
      expect(typeof get(del.data, "message")).toBe("string")
      expect(get((yield* as(a, "GET", `/v1/users/${a.userId}/profile`)).data, "image")).toBeNull()
    })
  )

  it.effect("U12–U19 preferences, notifications (defaults), onboarding, public settings", () =>
    Effect.gen(function* () {
      const a = yield* signUp()
      const u = `/v1/users/${a.userId}`
      expect((yield* as(a, "GET", `${u}/preferences`)).data).toEqual({ locale: null, timezone: null, theme: null })
      const prefs = yield* as(a, "PATCH", `${u}/preferences`, {
        body: { locale: "ko", timezone: "Asia/Seoul", theme: "dark" }
      })
      expect(prefs.data).toEqual({ locale: "ko", timezone: "Asia/Seoul", theme: "dark" })
      expect((yield* as(a, "PATCH", `${u}/preferences`, { body: { theme: null } })).data).toEqual({
        locale: "ko",
        timezone: "Asia/Seoul",
        theme: null
      })
      expectError(
        yield* as(a, "PATCH", `${u}/preferences`, { body: { theme: "neon" } }),
        400,
        "common/invalid-parameters"
      )
      expectError(
        yield* as(a, "PATCH", `${u}/preferences`, { body: { timezone: "Mars/Base" } }),
        400,
        "common/invalid-parameters"
      )

      expect((yield* as(a, "GET", `${u}/notifications`)).data).toEqual({
        service: true,
        marketing: false,
        push: true,
        email: true,
        sms: false,
        nightTime: false,
        securityAlerts: true
      })
      const notif = yield* as(a, "PATCH", `${u}/notifications`, { body: { marketing: true, push: false } })
      expect(notif.data).toMatchObject({ marketing: true, push: false, service: true })
      expectError(
        yield* as(a, "PATCH", `${u}/notifications`, { body: { sms: "yes" } }),
        400,
        "common/invalid-parameters"
      )

      const onboarding = yield* as(a, "PATCH", `${u}/onboarding`, { body: { status: "completed", step: 3 } })
      expect(onboarding.data).toEqual({ status: "completed", step: 3 })
      expect((yield* as(a, "GET", `${u}/onboarding`)).data).toEqual({ status: "completed", step: 3 })
      expect(get((yield* as(a, "GET", "/v1/auth/me")).data, "onboardingStatus")).toBe("completed")

      expect((yield* as(a, "GET", `${u}/public-settings`)).data).toEqual({ slug: null, isPublic: false })
      const pub = yield* as(a, "PATCH", `${u}/public-settings`, { body: { slug: "my-page", isPublic: true } })
      expect(pub.data).toEqual({ slug: "my-page", isPublic: true })
      expect((yield* as(a, "GET", `${u}/public-settings`)).data).toEqual({ slug: "my-page", isPublic: true })
      expectError(
        yield* as(a, "PATCH", `${u}/public-settings`, { body: { isPublic: "yes" } }),
        400,
        "common/invalid-parameters"
      )
      expectError(
        yield* as(a, "PATCH", `${u}/public-settings`, { body: { slug: "has space" } }),
        400,
        "common/invalid-parameters"
      )
    })
  )
})
