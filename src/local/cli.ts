/**
 * `bkend-local` command line: serves an in-memory bkend on a port.
 *
 * ```text
 * bkend-local [--port 8787] [--host 127.0.0.1] [--import snapshot.json] [--export snapshot.json] [--config config.json]
 * ```
 *
 * `--config` takes either a JSON array of table declarations or an object of server options
 * (`{ "tables": [...], "envelope": "bare", "rateLimit": { "limit": 100, "windowSeconds": 60 }, ... }`).
 * Unlike the library default, the CLI starts in `devMode` (tables created on first write) unless the config sets
 * `"devMode": false`.
 *
 * @since 0.1.0
 */
/* biome-ignore-all lint/suspicious/noConsole: the CLI talks to the terminal */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Either, Layer, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import { TableConfig } from "./internal/tables.js"
import * as LocalServer from "./LocalServer.js"

const usage = `Usage: bkend-local [--port 8787] [--host 127.0.0.1] [--import file] [--export file] [--config file]

  --port     port to listen on (0 = any free port; default 8787)
  --host     interface to bind (default 127.0.0.1)
  --import   load a snapshot (JSON) before serving
  --export   write a snapshot (JSON) to this file on exit (SIGINT / SIGTERM)
  --config   JSON file: an array of tables, or an object of server options
  --help     show this text`

const FaultRule = Schema.Struct({
  route: Schema.String,
  kind: Schema.Literal("500", "503", "429", "reset", "delay"),
  probability: Schema.optional(Schema.Number),
  delayMillis: Schema.optional(Schema.Number),
  times: Schema.optional(Schema.Number)
})

const ConfigObject = Schema.Struct({
  envelope: Schema.optional(Schema.Literal("wrapped", "bare")),
  errors: Schema.optional(Schema.Literal("domain", "ref-auth", "nest", "superset")),
  pagination: Schema.optional(Schema.Literal("documented", "union")),
  deletes: Schema.optional(Schema.Literal("200", "204")),
  accessTokenTtlSeconds: Schema.optional(Schema.Number),
  refreshTokenTtlSeconds: Schema.optional(Schema.Number),
  passwordPolicy: Schema.optional(Schema.Literal("default", "strict")),
  tables: Schema.optional(Schema.Array(TableConfig)),
  devMode: Schema.optional(Schema.Boolean),
  rateLimit: Schema.optional(Schema.Struct({ limit: Schema.Number, windowSeconds: Schema.Number })),
  maxBodyBytes: Schema.optional(Schema.Number),
  maxUploadBytes: Schema.optional(Schema.Number),
  faults: Schema.optional(Schema.Array(FaultRule)),
  faultSeed: Schema.optional(Schema.Number),
  baseUrl: Schema.optional(Schema.String),
  publishableKey: Schema.optional(Schema.String.pipe(Schema.pattern(/^pk_[a-fA-F0-9]{64}$/))),
  secretKey: Schema.optional(Schema.String.pipe(Schema.pattern(/^sk_[a-fA-F0-9]{64}$/))),
  magicLinkEnabled: Schema.optional(Schema.Boolean),
  magicLinkTtlMinutes: Schema.optional(Schema.Number),
  requireEmailVerification: Schema.optional(Schema.Boolean),
  lists: Schema.optional(Schema.Literal("topic", "ref-array")),
  oauthProviders: Schema.optional(Schema.Array(Schema.Literal("google", "github"))),
  maxFailedSignIns: Schema.optional(Schema.Number)
})

const Config = Schema.Union(
  Schema.Array(TableConfig).pipe(
    Schema.transform(ConfigObject, {
      strict: false,
      decode: (tables) => ({ tables }),
      encode: (o) => o.tables ?? []
    })
  ),
  ConfigObject
)

const fail = (message: string): never => {
  console.error(`bkend-local: ${message}`)
  process.exit(2)
}

const readConfig = (file: string): Partial<LocalServer.LocalOptions> => {
  let json: unknown
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    return fail(`cannot read --config ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const decoded = Schema.decodeUnknownEither(Config)(json)
  if (Either.isLeft(decoded)) {
    return fail(`invalid --config ${file}:\n${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(decoded.right)) if (v !== undefined) out[k] = v
  return out
}

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    host: { type: "string", default: "127.0.0.1" },
    import: { type: "string" },
    export: { type: "string" },
    config: { type: "string" },
    help: { type: "boolean", default: false }
  },
  strict: true
})

if (values.help === true) {
  console.log(usage)
  process.exit(0)
}

const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`)
const configured = values.config !== undefined ? readConfig(values.config) : {}
// The CLI is for local development: unless the config says otherwise, tables are created on first write.
const options: Partial<LocalServer.LocalOptions> = { devMode: true, ...configured }

const program = Effect.gen(function* () {
  const server = yield* LocalServer.make(options)
  if (values.import !== undefined) {
    const file = values.import
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new LocalServer.SnapshotError({ message: `cannot read ${file}: ${String(e)}` })
    })
    yield* server.importSnapshot(text)
  }
  if (values.export !== undefined) {
    const file = values.export
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(server.exportSnapshot, (json) =>
        Effect.sync(() => {
          fs.writeFileSync(file, json)
          console.log(`bkend-local: snapshot written to ${file}`)
        })
      )
    )
  }
  const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, { port, host: values.host }))
  const url = yield* Effect.provide(LocalServer.serverUrl, ctx)
  console.log(`bkend-local listening on ${url}`)
  console.log(`  publishable key (X-API-Key): ${server.keys.publishable}`)
  console.log(`  secret key      (X-API-Key): ${server.keys.secret}`)
  console.log("  local endpoints: /_local/outbox, /_local/counters, /_local/snapshot (sk_ key)")
  if (server.options.devMode)
    console.log('  dev mode: tables are created on first write (set "devMode": false in --config to turn off)')
  yield* Effect.addFinalizer(() => Effect.sync(() => console.log("bkend-local: shutting down")))
  return yield* Effect.never
})

NodeRuntime.runMain(
  Effect.scoped(program).pipe(
    Effect.catchAll((e) =>
      Effect.sync(() => {
        console.error(`bkend-local: ${e instanceof LocalServer.SnapshotError ? e.message : String(e)}`)
        process.exitCode = 1
      })
    )
  )
)
