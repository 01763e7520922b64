/**
 * Browser bundle size: what the SDK adds on top of Effect + @effect/platform's HttpClient.
 *
 * Bundles three small browser programs with esbuild (bundle, minify, tree-shaking, ESM, platform browser) and
 * gzips each bundle with zlib (level 9):
 *
 * - bare:       Effect + HttpClient (FetchHttpClient) + Schema doing the quickstart's calls by hand
 *               (sign up, keep the token in localStorage, create a post, list a page, a filtered list, a 404);
 * - sdk core:   the same flow through `BkendClient.request` on `Browser.layer`;
 * - quickstart: the same flow through `Auth` + `Tables` on `Browser.layer` (what an app would write);
 * - quickstart, all services: the same program on `Browser.provide(Bkend.layer(...))` (Auth, Users, Tables, Files).
 *
 * Run: `npx tsx bench/bundle-size.ts` (add `--json` for machine-readable output).
 */
import * as esbuild from "esbuild"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const root = fileURLToPath(new URL("..", import.meta.url))

const bare = `
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Effect, Schema } from "effect"

const baseUrl = "https://api-client.bkend.ai"
const Tokens = Schema.Struct({ accessToken: Schema.String, refreshToken: Schema.String })
const Post = Schema.Struct({ id: Schema.String, title: Schema.String, published: Schema.Boolean })
const Envelope = <A, I>(data: Schema.Schema<A, I>) => Schema.Struct({ success: Schema.Boolean, data })
const PostPage = Schema.Struct({ items: Schema.Array(Post), pagination: Schema.Struct({ total: Schema.Number }) })

const program = Effect.gen(function* () {
  const http = (yield* HttpClient.HttpClient).pipe(
    HttpClient.mapRequest((r) =>
      r.pipe(HttpClientRequest.prependUrl(baseUrl), HttpClientRequest.setHeader("x-api-key", "pk_example"))
    ),
    HttpClient.filterStatusOk
  )
  const tokens = yield* http
    .execute(
      HttpClientRequest.post("/v1/auth/email/signup").pipe(
        HttpClientRequest.bodyUnsafeJson({ method: "password", email: "ada@example.com", password: "pw-123456", name: "Ada" })
      )
    )
    .pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Envelope(Tokens))))
  localStorage.setItem("session", JSON.stringify(tokens.data))
  const authed = http.pipe(HttpClient.mapRequest(HttpClientRequest.bearerToken(tokens.data.accessToken)))
  const created = yield* authed
    .execute(HttpClientRequest.post("/v1/data/posts").pipe(HttpClientRequest.bodyUnsafeJson({ title: "Hello", published: true })))
    .pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Envelope(Post))))
  const page = yield* authed
    .get("/v1/data/posts", { urlParams: { page: 1, limit: 10, sortBy: "createdAt", sortDirection: "desc" } })
    .pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Envelope(PostPage))))
  const published = yield* authed
    .get("/v1/data/posts", { urlParams: { andFilters: JSON.stringify({ published: true }) } })
    .pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Envelope(PostPage))))
  const missing = yield* authed.get("/v1/data/posts/missing").pipe(
    Effect.as("found"),
    Effect.catchTag("ResponseError", (e) => Effect.succeed(e.response.status === 404 ? "not found" : "error"))
  )
  return { created, page, published, missing }
})

Effect.runPromise(program.pipe(Effect.provide(FetchHttpClient.layer))).then((r) => {
  document.body.textContent = JSON.stringify(r)
})
`

const core = `
import { Effect, Redacted, Schema } from "effect"
import * as BkendClient from "./src/BkendClient.js"
import * as Browser from "./src/Browser.js"
import * as Page from "./src/Page.js"
import * as Session from "./src/Session.js"

const Post = Schema.Struct({ id: Schema.String, title: Schema.String, published: Schema.Boolean })

const program = Effect.gen(function* () {
  const client = yield* BkendClient.BkendClient
  const tokens = yield* client.request({
    method: "POST", route: "/v1/auth/email/signup", auth: "none", refreshOn401: false,
    body: { method: "password", email: "ada@example.com", password: "pw-123456", name: "Ada" },
    response: Session.TokenResponse
  })
  yield* client.setTokens(tokens)
  const created = yield* client.request({
    method: "POST", route: "/v1/data/:table", params: { table: "posts" }, auth: "required",
    body: { title: "Hello", published: true }, response: Post
  })
  const page = yield* client.request({
    method: "GET", route: "/v1/data/:table", params: { table: "posts" }, auth: "required",
    query: { page: 1, limit: 10, sortBy: "createdAt", sortDirection: "desc" },
    response: Page.schema(Post, { page: 1, limit: 10 })
  })
  const published = yield* client.request({
    method: "GET", route: "/v1/data/:table", params: { table: "posts" }, auth: "required",
    query: { andFilters: JSON.stringify({ published: true }) },
    response: Page.schema(Post, { page: 1, limit: 20 })
  })
  const missing = yield* client
    .request({ method: "GET", route: "/v1/data/:table/:id", params: { table: "posts", id: "missing" }, auth: "required", response: Post })
    .pipe(Effect.as("found"), Effect.catchTags({ NotFound: () => Effect.succeed("not found"), Forbidden: () => Effect.succeed("forbidden") }))
  return { created, page, published, missing }
})

Effect.runPromise(
  program.pipe(Effect.provide(Browser.layer({ apiKey: Redacted.make("pk_example"), baseUrl: "https://api-client.bkend.ai" })))
).then((r) => {
  document.body.textContent = JSON.stringify(r)
})
`

const quickstart = `
import { Effect, Layer, Redacted, Schema } from "effect"
import * as Auth from "./src/Auth.js"
import * as Browser from "./src/Browser.js"
import * as Tables from "./src/Tables.js"

const Post = Schema.Struct({ title: Schema.String, published: Schema.Boolean })

const program = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  const posts = (yield* Tables.Tables).table("posts", Post)
  yield* auth.signUp({ email: "ada@example.com", password: "pw-123456", name: "Ada" })
  const created = yield* posts.create({ data: { title: "Hello", published: true } })
  const page = yield* posts.list({ page: 1, limit: 10, sort: { by: "createdAt", direction: "desc" } })
  const published = yield* posts.list({ filter: { published: true } })
  const missing = yield* posts.get({ id: "missing" }).pipe(
    Effect.as("found"),
    Effect.catchTags({ NotFound: () => Effect.succeed("not found"), Forbidden: () => Effect.succeed("forbidden") })
  )
  return { created, page, published, missing }
})

const layer = Layer.mergeAll(Auth.layer, Tables.layer).pipe(
  Layer.provideMerge(Browser.layer({ apiKey: Redacted.make("pk_example"), baseUrl: "https://api-client.bkend.ai" }))
)

Effect.runPromise(program.pipe(Effect.provide(layer))).then((r) => {
  document.body.textContent = JSON.stringify(r)
})
`

const quickstartAll = quickstart
  .replace(
    'import * as Auth from "./src/Auth.js"',
    'import * as Auth from "./src/Auth.js"\nimport * as Bkend from "./src/Bkend.js"'
  )
  .replace(
    /const layer = [\s\S]*?\n\)\n/,
    'const layer = Browser.provide(Bkend.layer({ apiKey: Redacted.make("pk_example"), baseUrl: "https://api-client.bkend.ai" }))\n'
  )

interface Size {
  readonly name: string
  readonly minified: number
  readonly gzipped: number
}

const measure = async (name: string, contents: string): Promise<Size> => {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: "ts", sourcefile: `${name}.ts` },
    bundle: true,
    minify: true,
    treeShaking: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "error"
  })
  const file = result.outputFiles[0]
  if (file === undefined) throw new Error(`esbuild produced no output for ${name}`)
  return { name, minified: file.contents.length, gzipped: gzipSync(file.contents, { level: 9 }).length }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

const main = async () => {
  const sizes = [
    await measure("bare Effect + HttpClient", bare),
    await measure("SDK core (BkendClient + Browser)", core),
    await measure("quickstart (Auth + Tables + Browser)", quickstart),
    await measure("quickstart on Bkend.layer (all services)", quickstartAll)
  ]
  if (quickstartAll === quickstart) throw new Error("the all-services variant was not derived")
  const base = sizes[0]
  if (base === undefined) return
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ esbuild: esbuild.version, sizes }, null, 2))
    return
  }
  console.log(`Browser bundle sizes (esbuild ${esbuild.version}, minified, ESM, gzip -9)\n`)
  const width = Math.max(...sizes.map((s) => s.name.length))
  console.log(
    `${"bundle".padEnd(width)}  ${"minified".padStart(10)}  ${"gzipped".padStart(10)}  ${"+gzip vs bare".padStart(13)}`
  )
  for (const s of sizes) {
    const delta = s === base ? "" : `+${kb(s.gzipped - base.gzipped)}`
    console.log(
      `${s.name.padEnd(width)}  ${kb(s.minified).padStart(10)}  ${kb(s.gzipped).padStart(10)}  ${delta.padStart(13)}`
    )
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
