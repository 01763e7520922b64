import { FetchHttpClient } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Schema } from "effect"
import { Auth, Bkend, Tables } from "bkend-effect"

const Post = Schema.Struct({ title: Schema.String, content: Schema.String, published: Schema.Boolean })

const program = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  // a new e-mail on every run, so the tour can run again against the same server
  yield* auth.signUp({ email: `ada+${Date.now()}@example.com`, password: "s3cret!pw", name: "Ada" })

  const posts = (yield* Tables.Tables).table("posts", Post)
  const post = yield* posts.create({ data: { title: "My First Post", content: "Hello, world!", published: true } })
  const page = yield* posts.list({ page: 1, limit: 10, filter: { published: true }, sort: { by: "createdAt" } })
  yield* Effect.log(`created ${post.id}; ${page.items.length} of ${page.total} published posts on page 1`)
}).pipe(
  Effect.catchTags({
    Forbidden: (e) => Effect.logWarning(`no permission (${e.code})`),
    NotFound: (e) => Effect.logWarning(`not found: ${e.route}`)
  })
)

const BkendLive = Bkend.layerConfig({
  apiKey: Config.redacted("BKEND_API_KEY"),
  baseUrl: Config.string("BKEND_API_URL").pipe(Config.withDefault("http://127.0.0.1:8787"))
}).pipe(Layer.provide(FetchHttpClient.layer))

NodeRuntime.runMain(program.pipe(Effect.provide(BkendLive)))
