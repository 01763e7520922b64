/**
 * Existing bkend apps against bkend-local on the command's default options (`cliDefaults`).
 *
 * Each test sends a request exactly as an example app or a docs page of `popup-studio-ai/bkend-docs` sends it
 * (method, path, headers, body shape) and reads the answer the way that client reads it. The clients below are
 * line-by-line ports of their fetch helpers (only the browser globals are replaced), so a shape those helpers
 * cannot read fails here.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { cliDefaults } from "../../src/local/index.js"
import type * as LocalServer from "../../src/local/LocalServer.js"
import { Harness, harnessLayer, uniqueEmail } from "./utils.js"

// ---------------------------------------------------------------------------------------------------------------------
// Ported clients
// ---------------------------------------------------------------------------------------------------------------------

/** The apps are JavaScript: they read parsed bodies untyped, so the ports do too (this alias is the only `any`). */
// biome-ignore lint/suspicious/noExplicitAny: the ported helpers read untyped JSON exactly as the apps do
type Json = any

class AuthError extends Error {}

/**
 * The fetch helper shared by the three web examples: `examples/blog-web/src/infrastructure/api/client.ts`
 * (recipe-web and shopping-mall-web carry the same file). `refreshAccessToken` reads the tokens at the top level of
 * the body; `bkendFetch` unwraps `{ success, data }` when it sees it and refreshes once per 401.
 * `beforeRefresh` lets a test hold every refresh until all callers have read the stored token.
 */
const webAppClient = (apiUrl: string, publishableKey: string, beforeRefresh?: () => Promise<void>) => {
  const tokenStorage = {
    access: null as string | null,
    refresh: null as string | null,
    setTokens(a: string, r: string) {
      this.access = a
      this.refresh = r
    },
    clearTokens() {
      this.access = null
      this.refresh = null
    }
  }

  async function refreshAccessToken(): Promise<string | null> {
    const refreshToken = tokenStorage.refresh
    if (!refreshToken) return null
    try {
      await beforeRefresh?.()
      const res = await fetch(`${apiUrl}/v1/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": publishableKey },
        body: JSON.stringify({ refreshToken })
      })
      if (!res.ok) return null
      const data = await res.json()
      tokenStorage.setTokens(data.accessToken, data.refreshToken)
      return data.accessToken
    } catch {
      return null
    }
  }

  async function bkendFetch<T>(
    path: string,
    options: { body?: unknown; skipAuth?: boolean; method?: string } = {}
  ): Promise<T> {
    const { body, skipAuth = false, ...restOptions } = options
    const headers: Record<string, string> = { "X-API-Key": publishableKey }
    if (body !== undefined && body !== null) headers["Content-Type"] = "application/json"
    if (!skipAuth) {
      const token = tokenStorage.access
      if (token) headers.Authorization = `Bearer ${token}`
    }
    const send = () =>
      fetch(`${apiUrl}${path}`, {
        ...restOptions,
        headers,
        body: body !== undefined && body !== null ? JSON.stringify(body) : null
      })
    let res = await send()
    if (res.status === 401 && !skipAuth) {
      const newToken = await refreshAccessToken()
      if (newToken) {
        headers.Authorization = `Bearer ${newToken}`
        res = await send()
      } else {
        tokenStorage.clearTokens()
        throw new AuthError("Your session has expired. Please sign in again.")
      }
    }
    if (!res.ok) {
      const errorBody: Json = await res.json().catch(() => ({}))
      const message = errorBody.error?.message || errorBody.message || `Request failed (${res.status})`
      throw new Error(message)
    }
    if (res.status === 204) return undefined as T
    const json: Json = await res.json()
    if (json.success && json.data !== undefined) return json.data as T
    return json as T
  }

  return { tokenStorage, refreshAccessToken, bkendFetch }
}

/**
 * The helper printed in the docs' getting-started page (`en/getting-started/03-app-integration.md`): every success
 * body and the error `message` are read at the top level.
 */
const docsClient = (apiBase: string, publishableKey: string) => {
  const localStorage = new Map<string, string>()

  async function refreshAccessToken(): Promise<boolean> {
    const refreshToken = localStorage.get("refreshToken")
    if (!refreshToken) return false
    try {
      const response = await fetch(`${apiBase}/v1/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": publishableKey },
        body: JSON.stringify({ refreshToken })
      })
      if (!response.ok) return false
      const data = await response.json()
      localStorage.set("accessToken", data.accessToken)
      localStorage.set("refreshToken", data.refreshToken)
      return true
    } catch {
      return false
    }
  }

  async function bkendFetch(path: string, options: { method?: string; body?: unknown } = {}): Promise<Json> {
    const accessToken = localStorage.get("accessToken")
    const response = await fetch(`${apiBase}${path}`, {
      ...(options.method !== undefined ? { method: options.method } : {}),
      headers: {
        "Content-Type": "application/json",
        "X-API-Key": publishableKey,
        ...(accessToken && { Authorization: `Bearer ${accessToken}` })
      },
      ...(options.body && typeof options.body === "object" ? { body: JSON.stringify(options.body) } : {})
    })
    if (response.status === 401) {
      const refreshed = await refreshAccessToken()
      if (refreshed) return bkendFetch(path, options)
      throw new Error("Session expired. Please log in again.")
    }
    if (!response.ok) {
      const error: Json = await response.json().catch(() => ({}))
      throw new Error(error.message || `Request failed (${response.status})`)
    }
    if (response.status === 204) return null
    return response.json()
  }

  return { localStorage, refreshAccessToken, bkendFetch }
}

/** Resolves every caller once `n` have arrived. */
const barrier = (n: number) => {
  let arrived = 0
  let release: () => void = () => {}
  const all = new Promise<void>((resolve) => {
    release = resolve
  })
  return async () => {
    arrived++
    if (arrived >= n) release()
    await all
  }
}

const server = Effect.map(Harness, (h) => ({ url: h.url, pk: h.server.keys.publishable, local: h.server }))

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const password = "Test1234!"

/** Signs a fresh user up through a web-app client (`examples/blog-web/src/lib/api/auth.ts` signUp). */
const webAppSignUp = (app: ReturnType<typeof webAppClient>) =>
  promise(async () => {
    const email = uniqueEmail("compat")
    const auth = await app.bkendFetch<Json>("/v1/auth/email/signup", {
      method: "POST",
      body: { method: "password", email, password, name: "Compat User" },
      skipAuth: true
    })
    app.tokenStorage.setTokens(auth.accessToken, auth.refreshToken)
    const me = await app.bkendFetch<Json>("/v1/auth/me")
    return { email, id: String(me.id) }
  })

// ---------------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------------

layer(harnessLayer(cliDefaults))("existing apps on the command's defaults (socket)", (it) => {
  it.effect("web apps: refreshAccessToken stores real tokens (top level) and bkendFetch still unwraps data", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      const user = yield* webAppSignUp(app)
      const before = app.tokenStorage.refresh
      const token = yield* promise(() => app.refreshAccessToken())
      expect(typeof token).toBe("string")
      expect(typeof app.tokenStorage.refresh).toBe("string")
      expect(app.tokenStorage.refresh).not.toBe(before)
      const me = yield* promise(() => app.bkendFetch<Json>("/v1/auth/me"))
      expect(me.id).toBe(user.id)
      // an error's message is read from error.message
      const failed = yield* promise(() =>
        app
          .bkendFetch("/v1/auth/email/signin", {
            method: "POST",
            body: { method: "password", email: user.email, password: "wrong" },
            skipAuth: true
          })
          .then(
            () => "resolved",
            (e: Error) => e.message
          )
      )
      expect(failed).toBe("Invalid e-mail or password")
    })
  )

  it.effect("docs helper: sign-up, create and list read at the top level; errors read `message`", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const docs = docsClient(url, pk)
      // en/getting-started/03-app-integration.md, "Unauthenticated Request (Signup)"
      const result = yield* promise(() =>
        docs.bkendFetch("/v1/auth/email/signup", {
          method: "POST",
          body: { method: "password", email: uniqueEmail("docs"), password: "MyP@ssw0rd!", name: "John Doe" }
        })
      )
      expect(typeof result.accessToken).toBe("string")
      docs.localStorage.set("accessToken", result.accessToken)
      docs.localStorage.set("refreshToken", result.refreshToken)
      // "Authenticated Request (Create Data)" and "List Data"
      const post = yield* promise(() =>
        docs.bkendFetch("/v1/data/posts", {
          method: "POST",
          body: { title: "My First Post", content: "Hello, world!", published: true }
        })
      )
      expect(typeof post.id).toBe("string")
      const list = yield* promise(() => docs.bkendFetch("/v1/data/posts?page=1&limit=10"))
      expect(list.items.map((p: Json) => p.id)).toContain(post.id)
      expect(list.pagination).toMatchObject({ page: 1, limit: 10 })
      // its refresh reads the tokens at the top level, then the retried call works
      yield* TestClock.adjust("3601 seconds")
      const again = yield* promise(() => docs.bkendFetch(`/v1/data/posts/${post.id}`))
      expect(again.title).toBe("My First Post")
      const missing = yield* promise(() =>
        docs.bkendFetch("/v1/data/posts/000000000000000000000000").then(
          () => "resolved",
          (e: Error) => e.message
        )
      )
      expect(missing).not.toMatch(/^Request failed/)
    })
  )

  it.effect("avatar: upload-url with { filename } only, then PUT to the url (blog-web profile form)", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      const user = yield* webAppSignUp(app)
      // examples/blog-web/src/lib/api/users.ts getAvatarUploadUrl; components/settings/profile-form.tsx reads { url, key }
      const upload = yield* promise(() =>
        app.bkendFetch<Json>(`/v1/users/${user.id}/avatar/upload-url`, {
          method: "POST",
          body: { filename: "me.png" }
        })
      )
      expect(typeof upload.url).toBe("string")
      expect(String(upload.key).endsWith(".png")).toBe(true)
      const put = yield* promise(() =>
        fetch(upload.url, {
          method: "PUT",
          body: new Uint8Array([137, 80, 78, 71]),
          headers: { "Content-Type": "image/png" }
        })
      )
      expect(put.status).toBe(200)
    })
  )

  it.effect("profile update: the answer is the user the app stores (blog-web useUpdateProfile → setUser)", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      const user = yield* webAppSignUp(app)
      // examples/blog-web/src/lib/api/users.ts updateProfile, body from components/settings/profile-form.tsx
      const updatedUser = yield* promise(() =>
        app.bkendFetch<Json>(`/v1/users/${user.id}/profile`, {
          method: "PATCH",
          body: { name: "Renamed", image: "https://img.example/me.png" }
        })
      )
      expect(updatedUser).toMatchObject({ id: user.id, name: "Renamed", email: user.email })
    })
  )

  it.effect("$contains in andFilters (social-network cookbook, profiles: search by nickname)", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      yield* webAppSignUp(app)
      for (const nickname of ["SocialButterfly", "quiet", "MoreSocial"]) {
        yield* promise(() => app.bkendFetch("/v1/data/profiles", { method: "POST", body: { nickname, bio: "" } }))
      }
      // en/cookbooks/social-network/full-guide/02-profiles.md: the curl's exact query string, X-API-Key + Bearer
      const res = yield* promise(() =>
        fetch(`${url}/v1/data/profiles?andFilters=%7B%22nickname%22%3A%7B%22%24contains%22%3A%22Social%22%7D%7D`, {
          headers: { "X-API-Key": pk, Authorization: `Bearer ${app.tokenStorage.access}` }
        })
      )
      expect(res.status).toBe(200)
      // its searchProfiles reads result.items at the top level
      const result: Json = yield* promise(() => res.json())
      expect(result.items.map((p: Json) => p.nickname).sort()).toEqual(["MoreSocial", "SocialButterfly"])
    })
  )

  it.effect("public files without a token (storage docs, file list: GET /v1/files?visibility=public)", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      yield* webAppSignUp(app)
      const pre = yield* promise(() =>
        app.bkendFetch<Json>("/v1/files/presigned-url", {
          method: "POST",
          body: { filename: "logo.png", contentType: "image/png" }
        })
      )
      yield* promise(() => fetch(pre.url, { method: "PUT", body: "png", headers: { "Content-Type": "image/png" } }))
      const file = yield* promise(() =>
        app.bkendFetch<Json>("/v1/files", {
          method: "POST",
          body: { s3Key: pre.key, originalName: "logo.png", mimeType: "image/png", size: 3, visibility: "public" }
        })
      )
      // en/storage/05-file-list.md "Retrieve Only Public Files": only X-API-Key; the JS tab reads { items, pagination }
      const response = yield* promise(() =>
        fetch(`${url}/v1/files?visibility=public`, { headers: { "X-API-Key": pk } })
      )
      expect(response.status).toBe(200)
      const { items, pagination }: Json = yield* promise(() => response.json())
      expect(items.map((f: Json) => f.id)).toContain(file.id)
      expect(pagination.total).toBeGreaterThanOrEqual(1)
    })
  )

  it.effect("Google sign-in through authorize (social-network cookbook, auth), with the development sign-in page", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const callbackUrl = "http://app.test/auth/callback"
      // en/cookbooks/social-network/full-guide/01-auth.md handleGoogleLogin
      const response = yield* promise(() =>
        fetch(`${url}/v1/auth/google/authorize?redirect=${encodeURIComponent(callbackUrl)}`, {
          headers: { "X-API-Key": pk }
        })
      )
      const result: Json = yield* promise(() => response.json())
      expect(typeof result.authorizationUrl).toBe("string")
      // the browser: the page, the form, then every redirect followed by hand until it leaves the server
      const pageUrl = new URL(result.authorizationUrl)
      const email = uniqueEmail("google")
      let res = yield* promise(() =>
        fetch(pageUrl, {
          method: "POST",
          body: new URLSearchParams({ state: pageUrl.searchParams.get("state") ?? "", email }),
          redirect: "manual"
        })
      )
      let location = res.headers.get("location") ?? ""
      while (location.startsWith(url)) {
        res = yield* promise(() => fetch(location, { redirect: "manual" }))
        location = res.headers.get("location") ?? ""
      }
      expect(location.startsWith(callbackUrl)).toBe(true)
      // the cookbook's /auth/callback page
      const urlParams = new URL(location).searchParams
      expect(urlParams.get("error")).toBeNull()
      expect(urlParams.get("isNewUser")).toBe("true")
      expect(urlParams.get("expiresIn")).toBe("3600")
      const docs = docsClient(url, pk)
      docs.localStorage.set("accessToken", urlParams.get("accessToken") ?? "")
      docs.localStorage.set("refreshToken", urlParams.get("refreshToken") ?? "")
      const me = yield* promise(() => docs.bkendFetch("/v1/auth/me"))
      expect(me.email).toBe(email)
    })
  )
})

// ---------------------------------------------------------------------------------------------------------------------
// Refresh storms
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The dashboard pattern of the web examples: after the access token expired, four parallel queries each get a 401
 * and each refreshes on its own (one refresh per failing request, as the docs' first helper does). Every caller has
 * read the stored refresh token before the first refresh is answered, as happens when the four 401s arrive together.
 */
const storm = Effect.gen(function* () {
  const { url, pk, local } = yield* server
  const callers = 4
  const app = webAppClient(url, pk, barrier(callers))
  const user = yield* webAppSignUp(app)
  yield* promise(() => app.bkendFetch("/v1/data/posts", { method: "POST", body: { title: "dashboard" } }))
  yield* TestClock.adjust("3601 seconds")
  const before = yield* local.counters
  const queries = ["/v1/auth/me", "/v1/data/posts?page=1&limit=10", `/v1/users/${user.id}/profile`, "/v1/auth/sessions"]
  const outcomes = yield* promise(() =>
    Promise.all(
      queries.map((path) =>
        app.bkendFetch(path).then(
          () => "ok",
          (e: Error) => (e instanceof AuthError ? "signed-out" : e.message)
        )
      )
    )
  )
  const after = yield* local.counters
  const liveSessions = (yield* Effect.orDie(local.store.sessions.listByUser(user.id))).filter(
    (s) => s.revokedAt === undefined
  ).length
  return {
    outcomes,
    replays: after.replaysDetected - before.replaysDetected,
    reuses: after.refreshReuses - before.refreshReuses,
    rotations: after.refreshSucceeded - before.refreshSucceeded,
    liveSessions
  }
})

layer(harnessLayer(cliDefaults))("refresh storm under the command's reuse interval (socket)", (it) => {
  it.effect("four parallel 401s, four refreshes: one rotation, three reuses, every query answered", () =>
    Effect.gen(function* () {
      const result = yield* storm
      expect(result).toEqual({
        outcomes: ["ok", "ok", "ok", "ok"],
        replays: 0,
        reuses: 3,
        rotations: 1,
        liveSessions: 1
      })
    })
  )
})

const strict: Partial<LocalServer.LocalOptions> = { ...cliDefaults, refreshReuseIntervalSeconds: 0 }

layer(harnessLayer(strict))("refresh storm under bkend's strict rule (socket)", (it) => {
  it.effect("the same four calls: three replays, every session of the user revoked, the app signed out", () =>
    Effect.gen(function* () {
      const result = yield* storm
      expect(result.replays).toBe(3)
      expect(result.reuses).toBe(0)
      expect(result.liveSessions).toBe(0)
      expect(result.outcomes.filter((o) => o === "signed-out").length).toBeGreaterThanOrEqual(3)
    })
  )
})

// ---------------------------------------------------------------------------------------------------------------------
// Why the command does not use the library's envelope
// ---------------------------------------------------------------------------------------------------------------------

layer(harnessLayer({ devMode: true }))("the library's wrapped envelope with a web example (socket)", (it) => {
  it.effect("refreshAccessToken stores undefined: the reason the command answers with the hybrid envelope", () =>
    Effect.gen(function* () {
      const { url, pk } = yield* server
      const app = webAppClient(url, pk)
      yield* webAppSignUp(app)
      yield* promise(() => app.refreshAccessToken())
      expect(app.tokenStorage.access).toBeUndefined()
      expect(app.tokenStorage.refresh).toBeUndefined()
    })
  )
})
