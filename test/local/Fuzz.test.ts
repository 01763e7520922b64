import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { get, Harness, inProcessLayer, request, signUp } from "./utils.js"

// Statuses the contract documents for client-visible answers (no 5xx: nothing here injects faults).
const DOCUMENTED = new Set([200, 201, 204, 302, 400, 401, 403, 404, 409, 410, 413, 429])

const templates = [
  "/v1/auth/email/signup",
  "/v1/auth/email/signin",
  "/v1/auth/:x/callback",
  "/v1/auth/me",
  "/v1/auth/refresh",
  "/v1/auth/signout",
  "/v1/auth/withdraw",
  "/v1/auth/switch-organization",
  "/v1/auth/password/reset/request",
  "/v1/auth/password/reset/confirm",
  "/v1/auth/password/change",
  "/v1/auth/sessions",
  "/v1/auth/sessions/:x",
  "/v1/auth/mfa/enable",
  "/v1/auth/mfa/confirm",
  "/v1/auth/mfa/disable",
  "/v1/auth/accounts",
  "/v1/auth/accounts/:x",
  "/v1/auth/accounts/check",
  "/v1/auth/invitations",
  "/v1/auth/invitations/:x",
  "/v1/auth/invitations/accept",
  "/v1/auth/invitations/reject",
  "/v1/auth/email/verify/send",
  "/v1/auth/email/verify/confirm",
  "/v1/auth/signup/email/resend",
  "/v1/auth/signup/email/confirm",
  "/v1/users",
  "/v1/users/:x",
  "/v1/users/:x/profile",
  "/v1/users/:x/role",
  "/v1/users/:x/avatar",
  "/v1/users/:x/preferences",
  "/v1/files",
  "/v1/files/:x",
  "/v1/files/presigned-url",
  "/v1/files/multipart/init",
  "/v1/files/:x/download-url",
  "/v1/data/:x",
  "/v1/data/:x/:x",
  "/v1/data/:x/spec",
  "/v1/:x",
  "/v1/:x/:x",
  "/_local/outbox",
  "/_local/counters",
  "/:x",
  "/:x/:x/:x"
]

const segment = fc.oneof(
  fc.constantFrom("posts", "users", "auth", "data", "files", "spec", "openapi", "google", "email", "_system", "me"),
  fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
  fc.hexaString({ minLength: 24, maxLength: 24 }),
  fc.uuid()
)

const path = fc
  .tuple(fc.constantFrom(...templates), fc.array(segment, { minLength: 3, maxLength: 3 }))
  .map(([t, segs]) => {
    let i = 0
    return t.replace(/:x/g, () => segs[i++] ?? "x")
  })

const query = fc.dictionary(
  fc.constantFrom(
    "page",
    "limit",
    "andFilters",
    "orFilters",
    "sortBy",
    "sortDirection",
    "select",
    "search",
    "token",
    "email",
    "status",
    "callbackUrl"
  ),
  fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -5, max: 500 }).map(String), fc.json({ maxDepth: 2 })),
  { maxKeys: 4 }
)

const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }).map((text) => ({ raw: text })),
  fc.string({ maxLength: 40 }).map((text) => ({ raw: text })),
  fc
    .record(
      {
        method: fc.constantFrom("password", "magiclink", "other"),
        email: fc.oneof(fc.emailAddress(), fc.string({ maxLength: 10 })),
        password: fc.string({ maxLength: 12 }),
        name: fc.string({ maxLength: 8 }),
        refreshToken: fc.string({ maxLength: 20 }),
        token: fc.string({ maxLength: 20 }),
        code: fc.string({ maxLength: 8 }),
        title: fc.string({ maxLength: 8 }),
        filename: fc.string({ maxLength: 8 })
      },
      { requiredKeys: [] }
    )
    .map((o) => ({ raw: JSON.stringify(o) }))
)

const credentials = fc.constantFrom("none", "pk", "sk", "garbage-key", "pk+token", "pk+garbage-token")

let userToken: string | undefined

layer(inProcessLayer({ tables: [{ name: "posts" }] }))("fuzz (in-process)", (it) => {
  it.effect.prop(
    "random paths, queries and bodies only get documented statuses with a JSON error envelope",
    [fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE"), path, query, body, credentials],
    ([method, p, q, b, cred]) =>
      Effect.gen(function* () {
        if (userToken === undefined) userToken = (yield* signUp()).accessToken
        const key = cred === "none" ? "none" : cred === "sk" ? "sk" : cred === "garbage-key" ? "pk_zz" : "pk"
        const token = cred === "pk+token" ? userToken : cred === "pk+garbage-token" ? "x.y.z" : undefined
        const res = yield* request(method, p, {
          key,
          ...(token !== undefined ? { token } : {}),
          query: q,
          ...(b !== undefined && method !== "GET"
            ? { rawBody: b.raw, headers: { "content-type": "application/json" } }
            : {})
        })
        expect(DOCUMENTED.has(res.status), `${method} ${p} → ${res.status} ${res.text.slice(0, 200)}`).toBe(true)
        if (res.status >= 400) {
          expect(get(res.json, "success")).toBe(false)
          expect(typeof get(res.json, "error.code")).toBe("string")
          expect(typeof get(res.json, "error.message")).toBe("string")
        }
      }),
    { fastCheck: { numRuns: 300, seed: 20261126 } }
  )

  it.effect("the app still answers after the fuzzing", () =>
    Effect.gen(function* () {
      const h = yield* Harness
      const user = yield* signUp()
      const me = yield* request("GET", "/v1/auth/me", { token: user.accessToken })
      expect(me.status).toBe(200)
      expect((yield* h.server.counters).requests).toBeGreaterThan(300)
    })
  )
})
