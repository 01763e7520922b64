/**
 * The nineteen `/v1/users` routes: user management, profile, avatar, preferences, notification
 * settings, onboarding and public settings.
 *
 * Access: `GET /v1/users` and `GET /v1/users/:userId` → any authenticated caller
 * (non-admins see public fields of other users); `PATCH /v1/users/:userId` and every `/v1/users/:userId/*` route →
 * the user themself or an admin; `POST /v1/users` and `PATCH …/role` → admin; `DELETE /v1/users/:userId` → admin or
 * the user themself (soft delete, sessions ended). Admin = the `sk_` key or a JWT whose user has role `admin`.
 *
 * @since 0.1.0
 */
import type { HttpServerRequest } from "@effect/platform"
import { HttpRouter } from "@effect/platform"
import { Effect, Option } from "effect"
import * as K from "./kernel.js"
import * as Storage from "./storage.js"

const INVALID = "common/invalid-parameters"

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const oneOf = <T extends string>(values: ReadonlyArray<T>, u: unknown): u is T =>
  typeof u === "string" && values.some((v) => v === u)

/**
 * @since 0.1.0
 * @category constants
 */
export const ROLES: ReadonlyArray<K.Role> = ["admin", "user", "guest"]

/**
 * Image types accepted for avatars.
 *
 * @since 0.1.0
 * @category constants
 */
export const AVATAR_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"] as const

const GENDERS = ["none", "male", "female", "etc"] as const
const THEMES = ["light", "dark", "system"] as const
const NOTIFICATION_FIELDS = ["service", "marketing", "push", "email", "sms", "nightTime", "securityAlerts"] as const
const SOCIAL_FIELDS = ["github", "twitter", "linkedin"] as const
const SEARCH_TYPES = ["name", "nickname", "email"] as const
const SORT_FIELDS = ["createdAt", "updatedAt", "name", "email", "role"] as const

// ---------------------------------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The full user object (self and admin view): the `/v1/auth/me` fields plus `nickname`.
 *
 * @since 0.1.0
 * @category views
 */
export const fullUserView = (u: K.UserRecord): Json => ({ ...K.userView(u), nickname: u.nickname })

/**
 * The public fields other non-admin users see (list items and `GET /v1/users/:userId`): no e-mail.
 *
 * @since 0.1.0
 * @category views
 */
export const publicUserView = (u: K.UserRecord): Json => ({
  id: u.id,
  role: u.role,
  name: u.name,
  nickname: u.nickname,
  image: u.image,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt
})

const summaryView = (u: K.UserRecord, includeAccounts: boolean): Json => ({
  id: u.id,
  role: u.role,
  name: u.name,
  nickname: u.nickname,
  email: u.email,
  image: u.image,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
  ...(includeAccounts
    ? { accounts: u.accounts.map((a) => ({ provider: a.provider, email: a.email, connectedAt: a.connectedAt })) }
    : {})
})

const socialLinksView = (u: K.UserRecord) => u.socialLinks ?? { github: null, twitter: null, linkedin: null }

/**
 * `Profile`, plus the stored `image`.
 *
 * @since 0.1.0
 * @category views
 */
export const profileView = (u: K.UserRecord): Json => ({
  name: u.name,
  nickname: u.nickname,
  email: u.email,
  mobile: u.mobile,
  gender: u.gender,
  bio: u.bio,
  socialLinks: socialLinksView(u),
  image: u.image
})

// ---------------------------------------------------------------------------------------------------------------------
// Access
// ---------------------------------------------------------------------------------------------------------------------

type Request = HttpServerRequest.HttpServerRequest

const authenticated = K.requireUser("users")

const isAdmin = (c: K.Caller): boolean => c.role === "admin"

const pathUserId = Effect.map(HttpRouter.params, (p) => p.userId)

const findTarget = Effect.gen(function* () {
  const id = yield* pathUserId
  const user = id === undefined ? undefined : Option.getOrUndefined(yield* K.stored((s) => s.users.get(id)))
  if (user === undefined || user.deletedAt !== undefined) return yield* K.fail(404, "user/not-found", "User not found")
  return user
})

/**
 * The target user, when the caller is that user or an admin (403 `user/forbidden` otherwise; non-admins get 403 for
 * any other id, existing or not).
 */
const selfOrAdmin: Effect.Effect<
  { caller: K.Caller; user: K.UserRecord },
  K.ApiError,
  K.Local | Request | HttpRouter.RouteContext
> = Effect.gen(function* () {
  const caller = yield* authenticated
  const id = yield* pathUserId
  if (!isAdmin(caller) && caller.userId !== id) {
    return yield* K.fail(403, "user/forbidden", "You may only access your own account")
  }
  return { caller, user: yield* findTarget }
})

const adminOnly = Effect.flatMap(authenticated, (caller) =>
  isAdmin(caller) ? Effect.succeed(caller) : K.fail(403, "user/forbidden", "Administrator access required")
)

// ---------------------------------------------------------------------------------------------------------------------
// Body validation
// ---------------------------------------------------------------------------------------------------------------------

const jsonObject: Effect.Effect<Json, K.ApiError, K.Local | Request> = Effect.flatMap(K.jsonBody(INVALID), (json) =>
  json === undefined
    ? Effect.succeed({})
    : isRecord(json)
      ? Effect.succeed(json)
      : K.fail(400, INVALID, "A JSON object body is required")
)

const validName = (v: unknown): v is string => typeof v === "string" && v.trim().length >= 1 && v.length <= 100

const checkName = (v: unknown) =>
  validName(v) ? Effect.succeed(v) : K.fail(400, "user/invalid-name", "name must be 1 to 100 characters")

/** `undefined` = absent; `null` clears. */
const nullableString = (
  body: Json,
  field: string,
  ok: (s: string) => boolean,
  code: string,
  message: string
): Effect.Effect<string | null | undefined, K.ApiError> => {
  const v = body[field]
  if (v === undefined || v === null) return Effect.succeed(v)
  return typeof v === "string" && ok(v) ? Effect.succeed(v) : K.fail(400, code, message)
}

const E164 = /^\+[1-9][0-9]{1,14}$/

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/

const SLUG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

/** `target` with the patch's defined fields (an `undefined` field keeps the current value). */
const patched = <T extends object>(target: T, patch: { readonly [P in keyof T]?: T[P] | undefined }): T => {
  const out = { ...target }
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) Reflect.set(out, k, v)
  return out
}

/** Applies `f` to the stored user in one atomic step (the current record, not the one read for the checks). */
const save = (user: K.UserRecord, f: (u: K.UserRecord) => K.UserRecord) =>
  Effect.flatMap(K.now, (t) => K.updateUser(user.id, f, t))

// ---------------------------------------------------------------------------------------------------------------------
// management
// ---------------------------------------------------------------------------------------------------------------------

const listUsers = Effect.gen(function* () {
  const caller = yield* authenticated
  const admin = isAdmin(caller)
  const q = yield* K.query
  const { page, limit } = yield* K.pageParams(q, { limit: 20, max: 100 }, INVALID)
  const searchType = q.searchType === "" ? undefined : q.searchType
  if (searchType !== undefined && !oneOf(SEARCH_TYPES, searchType)) {
    return yield* K.fail(400, INVALID, `searchType must be one of ${SEARCH_TYPES.join(", ")}`)
  }
  const sortBy = q.sortBy === undefined || q.sortBy === "" ? "createdAt" : q.sortBy
  if (!oneOf(SORT_FIELDS, sortBy)) return yield* K.fail(400, INVALID, `sortBy must be one of ${SORT_FIELDS.join(", ")}`)
  // The order of a list would reveal e-mail addresses, which only admins may see.
  if (!admin && sortBy === "email") return yield* K.fail(403, "user/forbidden", "Sorting by e-mail requires admin")
  const direction = q.sortDirection === undefined || q.sortDirection === "" ? "desc" : q.sortDirection
  if (direction !== "asc" && direction !== "desc")
    return yield* K.fail(400, INVALID, "sortDirection must be asc or desc")
  const search = q.search?.trim().toLowerCase() ?? ""
  // Non-admins cannot search by e-mail: it is not among the fields they may see.
  const fields: ReadonlyArray<"name" | "nickname" | "email"> =
    searchType !== undefined ? [searchType] : admin ? ["name", "nickname", "email"] : ["name", "nickname"]
  if (!admin && searchType === "email")
    return yield* K.fail(403, "user/forbidden", "Searching by e-mail requires admin")
  const matches = (yield* K.stored((s) => s.users.list)).filter(
    (u) =>
      u.deletedAt === undefined && (search === "" || fields.some((f) => (u[f] ?? "").toLowerCase().includes(search)))
  )
  matches.sort((a, b) => {
    const c = String(a[sortBy]).localeCompare(String(b[sortBy]))
    return (direction === "asc" ? c : -c) || a.id.localeCompare(b.id)
  })
  const includeAccounts = admin && (q.includeAccounts === "true" || q.includeAccounts === "1")
  const items = matches
    .slice((page - 1) * limit, page * limit)
    .map((u) =>
      admin ? summaryView(u, includeAccounts) : u.id === caller.userId ? summaryView(u, false) : publicUserView(u)
    )
  const pagination = yield* K.pagination("users", page, limit, matches.length)
  return yield* K.ok({ items, pagination })
})

const createUser = Effect.gen(function* () {
  yield* adminOnly
  const body = yield* jsonObject
  const name = yield* checkName(body.name)
  const email = body.email
  if (typeof email !== "string" || !K.isEmail(K.normalizeEmail(email))) {
    return yield* K.fail(400, INVALID, "email must be a valid e-mail address")
  }
  const role = body.role
  if (role !== undefined && !oneOf(ROLES, role)) {
    return yield* K.fail(400, "user/invalid-role", "role must be admin, user or guest")
  }
  const user = yield* K.createUser({ email, name, role }, yield* K.now)
  return yield* K.ok(fullUserView(user), 201)
})

const getUser = Effect.gen(function* () {
  const caller = yield* authenticated
  const user = yield* findTarget
  return yield* K.ok(isAdmin(caller) || caller.userId === user.id ? fullUserView(user) : publicUserView(user))
})

const updateUser = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  const name = body.name === undefined ? undefined : yield* checkName(body.name)
  const changed = yield* save(user, (u) => patched(u, { name }))
  return yield* K.ok(fullUserView(changed))
})

const deleteUser = Effect.gen(function* () {
  const caller = yield* authenticated
  const id = yield* pathUserId
  if (!isAdmin(caller) && caller.userId !== id) {
    return yield* K.fail(403, "user/forbidden", "Only administrators may delete other users")
  }
  const user = yield* findTarget
  yield* K.softDeleteUser(user.id, yield* K.now)
  return yield* K.deleted({ message: "User deleted" })
})

const changeRole = Effect.gen(function* () {
  yield* adminOnly
  const user = yield* findTarget
  const body = yield* jsonObject
  const role = body.role
  if (!oneOf(ROLES, role)) return yield* K.fail(400, "user/invalid-role", "role must be admin, user or guest")
  const changed = yield* save(user, (u) => ({ ...u, role }))
  return yield* K.ok(fullUserView(changed))
})

// ---------------------------------------------------------------------------------------------------------------------
// profile
// ---------------------------------------------------------------------------------------------------------------------

const getProfile = Effect.flatMap(selfOrAdmin, ({ user }) => K.ok(profileView(user)))

type SocialLinks = { github: string | null; twitter: string | null; linkedin: string | null }

/** The links sent (absent keys keep their current value), `null` to clear, `undefined` when not sent. */
const socialLinksPatch = (raw: unknown): Effect.Effect<Partial<SocialLinks> | null | undefined, K.ApiError> =>
  Effect.gen(function* () {
    if (raw === undefined || raw === null) return raw
    if (!isRecord(raw)) return yield* K.fail(400, INVALID, "socialLinks must be an object or null")
    const next: Partial<SocialLinks> = {}
    for (const f of SOCIAL_FIELDS) {
      const v = yield* nullableString(
        raw,
        f,
        (s) => s.length <= 500,
        INVALID,
        `socialLinks.${f} must be a string or null`
      )
      if (v !== undefined) next[f] = v
    }
    return next
  })

const updateProfile = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  // Validate everything first, then apply: a 400 leaves the profile untouched. Unknown fields are ignored.
  const name = body.name === undefined ? undefined : yield* checkName(body.name)
  const nickname = yield* nullableString(
    body,
    "nickname",
    (s) => s.trim().length >= 1 && s.length <= 50,
    "user/invalid-nickname",
    "nickname must be 1 to 50 characters"
  )
  const mobile = yield* nullableString(
    body,
    "mobile",
    (s) => s.length <= 20 && E164.test(s),
    INVALID,
    "mobile must be an E.164 number such as +821012345678"
  )
  const gender = yield* nullableString(
    body,
    "gender",
    (s) => oneOf(GENDERS, s),
    INVALID,
    "gender must be none, male, female or etc"
  )
  const bio = yield* nullableString(body, "bio", (s) => s.length <= 500, INVALID, "bio must be at most 500 characters")
  const image = yield* nullableString(body, "image", (s) => s.length <= 2048, INVALID, "image must be a URL string")
  const links = yield* socialLinksPatch(body.socialLinks)
  const changed = yield* save(user, (u) => {
    const socialLinks = links === undefined || links === null ? links : patched(socialLinksView(u), links)
    return patched(u, { name, nickname, mobile, gender, bio, image, socialLinks })
  })
  // apps treat the answer as their user: the profile fields plus the user's identity (`id`, `role`, …)
  return yield* K.ok({ ...fullUserView(changed), ...profileView(changed) })
})

// ---------------------------------------------------------------------------------------------------------------------
// avatar
// ---------------------------------------------------------------------------------------------------------------------

const extensionOf: Record<(typeof AVATAR_TYPES)[number], string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp"
}

const avatarTypeByExtension: Record<string, (typeof AVATAR_TYPES)[number]> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp"
}

/** The avatar type named by a file name's extension (case-insensitive), undefined for any other. */
const avatarTypeOf = (filename: string): string | undefined => {
  const dot = filename.lastIndexOf(".")
  return dot < 0 ? undefined : avatarTypeByExtension[filename.slice(dot + 1).toLowerCase()]
}

const avatarUploadUrl = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  if (typeof body.filename !== "string" || body.filename.trim() === "") {
    return yield* K.fail(400, INVALID, "filename is required")
  }
  // apps often send only the file name: the type then comes from its extension
  const contentType = body.contentType ?? avatarTypeOf(body.filename)
  if (!oneOf(AVATAR_TYPES, contentType)) {
    const hint =
      body.contentType === undefined || body.contentType === null ? " (or a .jpg, .png, .gif or .webp file name)" : ""
    return yield* K.fail(400, "file/invalid-format", `contentType must be one of ${AVATAR_TYPES.join(", ")}${hint}`)
  }
  const key = `${Storage.AVATAR_PREFIX}${user.id}/${K.uuid()}.${extensionOf[contentType]}`
  const expiresAt = (yield* K.now) + Storage.DEFAULT_URL_TTL_MS
  // the PUT must carry the image type asked for: the avatar is served unsigned from this origin
  const url = yield* Storage.mintUrl({ method: "PUT", key, expiresAt, contentType })
  return yield* K.ok({ url, key, expiresAt: K.iso(expiresAt) })
})

const saveAvatar = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  const s3Key = body.s3Key
  if (typeof s3Key !== "string" || s3Key === "") return yield* K.fail(400, INVALID, "s3Key is required")
  const uploaded = yield* K.stored((store) => store.objects.get(s3Key))
  if (Option.isNone(uploaded)) return yield* K.fail(400, INVALID, "s3Key does not name an uploaded object")
  // The image URL is served unsigned, so only avatar uploads of this user or public files qualify.
  const isOwnAvatar = s3Key.startsWith(`${Storage.AVATAR_PREFIX}${user.id}/`)
  const file = isOwnAvatar ? Option.none() : yield* K.stored((store) => store.files.getByKey(s3Key))
  const isPublicFile = Option.exists(file, (f) => f.visibility === "public")
  if (!isOwnAvatar && !isPublicFile) {
    return yield* K.fail(400, INVALID, "s3Key must come from this user's avatar upload URL or name a public file")
  }
  const base = yield* K.publicBaseUrl
  const image = `${base}${Storage.STORAGE_PATH}/${Storage.encodeKeyPath(s3Key)}`
  yield* save(user, (u) => ({ ...u, image }))
  return yield* K.ok({ image })
})

const deleteAvatar = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  yield* save(user, (u) => ({ ...u, image: null }))
  return yield* K.deleted({ message: "Avatar deleted" })
})

// ---------------------------------------------------------------------------------------------------------------------
// settings
// ---------------------------------------------------------------------------------------------------------------------

const getPreferences = Effect.flatMap(selfOrAdmin, ({ user }) => K.ok(user.preferences))

const updatePreferences = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  const locale = yield* nullableString(
    body,
    "locale",
    (s) => LOCALE.test(s),
    INVALID,
    "locale must be a language tag such as en or ko"
  )
  const timezone = yield* nullableString(
    body,
    "timezone",
    isTimeZone,
    INVALID,
    "timezone must be an IANA zone such as Asia/Seoul"
  )
  const theme = yield* nullableString(
    body,
    "theme",
    (s) => oneOf(THEMES, s),
    INVALID,
    "theme must be light, dark or system"
  )
  const changed = yield* save(user, (u) => ({ ...u, preferences: patched(u.preferences, { locale, timezone, theme }) }))
  return yield* K.ok(changed.preferences)
})

const getNotifications = Effect.flatMap(selfOrAdmin, ({ user }) => K.ok(user.notifications))

const updateNotifications = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  const patch: Partial<K.UserRecord["notifications"]> = {}
  for (const field of NOTIFICATION_FIELDS) {
    const v = body[field]
    if (v === undefined) continue
    if (typeof v !== "boolean") return yield* K.fail(400, INVALID, `${field} must be a boolean`)
    patch[field] = v
  }
  const changed = yield* save(user, (u) => ({ ...u, notifications: patched(u.notifications, patch) }))
  return yield* K.ok(changed.notifications)
})

const getOnboarding = Effect.flatMap(selfOrAdmin, ({ user }) => K.ok(user.onboarding))

const updateOnboarding = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  if (body.status !== undefined && typeof body.status !== "string") {
    return yield* K.fail(400, INVALID, "status must be a string")
  }
  // Undocumented shape: the body is merged into the stored object verbatim.
  const changed = yield* save(user, (u) => ({ ...u, onboarding: { ...u.onboarding, ...body } }))
  return yield* K.ok(changed.onboarding)
})

const getPublicSettings = Effect.flatMap(selfOrAdmin, ({ user }) => K.ok(user.publicSettings))

const updatePublicSettings = Effect.gen(function* () {
  const { user } = yield* selfOrAdmin
  const body = yield* jsonObject
  const slug = yield* nullableString(
    body,
    "slug",
    (s) => SLUG.test(s),
    INVALID,
    "slug must be 1 to 64 letters, digits, '-' or '_'"
  )
  const isPublic = body.isPublic
  if (isPublic !== undefined && typeof isPublic !== "boolean")
    return yield* K.fail(400, INVALID, "isPublic must be a boolean")
  const changed = yield* save(user, (u) => ({ ...u, publicSettings: patched(u.publicSettings, { slug, isPublic }) }))
  return yield* K.ok(changed.publicSettings)
})

/**
 * The nineteen `/v1/users` routes. Without a valid bearer token (and without the `sk_` key) every route answers 401
 * `user/unauthorized`.
 *
 * @since 0.1.0
 * @category routers
 */
export const usersRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty.pipe(
  HttpRouter.get("/v1/users", listUsers),
  HttpRouter.post("/v1/users", createUser),
  HttpRouter.get("/v1/users/:userId", getUser),
  HttpRouter.patch("/v1/users/:userId", updateUser),
  HttpRouter.del("/v1/users/:userId", deleteUser),
  HttpRouter.patch("/v1/users/:userId/role", changeRole),
  HttpRouter.get("/v1/users/:userId/profile", getProfile),
  HttpRouter.patch("/v1/users/:userId/profile", updateProfile),
  HttpRouter.post("/v1/users/:userId/avatar/upload-url", avatarUploadUrl),
  HttpRouter.patch("/v1/users/:userId/avatar", saveAvatar),
  HttpRouter.del("/v1/users/:userId/avatar", deleteAvatar),
  HttpRouter.get("/v1/users/:userId/preferences", getPreferences),
  HttpRouter.patch("/v1/users/:userId/preferences", updatePreferences),
  HttpRouter.get("/v1/users/:userId/notifications", getNotifications),
  HttpRouter.patch("/v1/users/:userId/notifications", updateNotifications),
  HttpRouter.get("/v1/users/:userId/onboarding", getOnboarding),
  HttpRouter.patch("/v1/users/:userId/onboarding", updateOnboarding),
  HttpRouter.get("/v1/users/:userId/public-settings", getPublicSettings),
  HttpRouter.patch("/v1/users/:userId/public-settings", updatePublicSettings)
)
