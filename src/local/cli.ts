/**
 * `bkend-local` command line: serves a bkend on a port, in memory or on PostgreSQL (`bkend-local --help` lists the
 * options), and imports a bkend export into a database (`bkend-local import --help`).
 *
 * ```text
 * bkend-local [--port 8787] [--host 127.0.0.1] [--import snapshot.json] [--export snapshot.json] [--config config.json]
 *             [--files-dir DIR] [--database-url postgres://…]
 * bkend-local import DIR [--database-url postgres://…] [--files-dir DIR] [--config config.json] [--owner-map owners.json]
 *                   [--files-owner ID]
 * ```
 *
 * `--config` takes either a JSON array of table declarations or an object of server options
 * (`{ "tables": [...], "envelope": "bare", "rateLimit": { "limit": 100, "windowSeconds": 60 }, ... }`); every
 * problem in it is reported on its own line, with its path; unknown keys are problems too. Unlike the library
 * default, the CLI starts with `cliDefaults`: `devMode` (undeclared tables list as empty and are created on first write,
 * with the default permissions), the hybrid envelope, a 10 s refresh-token reuse interval, guest listing of public
 * files and the development OAuth sign-in page; the config overrides each of them (e.g. `"devMode": false`).
 *
 * Exit codes: 0 after a clean shutdown (SIGINT / SIGTERM: requests in flight finish first), 2 for bad flags or a bad
 * config, 1 when the server cannot start, a snapshot cannot be read, the database cannot be reached or an import
 * folder is refused.
 *
 * @since 0.1.0
 */
/* biome-ignore-all lint/suspicious/noConsole: the CLI talks to the terminal */
import { Args, Command, HelpDoc, Options, Usage, ValidationError } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Config, Context, Data, Effect, Either, Layer, Option, Predicate, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as DiskBlobs from "./internal/blobs/disk.js"
import * as Import from "./internal/import.js"
import { cliDefaults } from "./internal/kernel.js"
import { decodeConfig } from "./internal/options.js"
import * as LocalServer from "./LocalServer.js"

/** A problem the user can fix by changing the command line or the config: printed, then exit 2. */
class UsageProblem extends Data.TaggedError("UsageProblem")<{ readonly lines: ReadonlyArray<string> }> {}

/** A problem starting or running the server: printed, then exit 1. */
class StartProblem extends Data.TaggedError("StartProblem")<{ readonly message: string }> {}

const port = Options.integer("port").pipe(
  Options.withSchema(
    Schema.Int.pipe(Schema.between(0, 65535, { message: () => "--port is a port number, 0 to 65535" }))
  ),
  Options.withDefault(8787),
  Options.withDescription("port to listen on; 0 picks any free port (default 8787)")
)
const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("interface to bind (default 127.0.0.1)")
)
const importFile = Options.file("import", { exists: "yes" }).pipe(
  Options.withDescription("load a snapshot (JSON) before serving"),
  Options.optional
)
const exportFile = Options.file("export").pipe(
  Options.withDescription("write a snapshot (JSON) to this file on exit (SIGINT / SIGTERM)"),
  Options.optional
)
const configFile = Options.file("config", { exists: "yes" }).pipe(
  Options.withDescription("JSON file: an array of table declarations, or an object of server options"),
  Options.optional
)

const databaseUrl = Options.redacted("database-url").pipe(
  Options.withFallbackConfig(Config.redacted("BKEND_DATABASE_URL")),
  Options.withDescription(
    "PostgreSQL database to keep everything in (postgres://user@host:port/db; default: env BKEND_DATABASE_URL)"
  ),
  Options.optional
)

const filesDir = Options.directory("files-dir").pipe(
  Options.withFallbackConfig(Config.string("BKEND_FILES_DIR")),
  Options.withDescription(
    "keep uploaded objects' bytes as files in this directory (created when missing; also BKEND_FILES_DIR); default: in memory"
  ),
  Options.optional
)

/** The files directory exists (created when missing) and is writable, or a start problem says why not. */
const checkFilesDir = (dir: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dir, { recursive: true })
      fs.accessSync(dir, fs.constants.W_OK)
    },
    catch: (e) =>
      new StartProblem({
        message: `cannot use --files-dir ${dir}: ${Predicate.hasProperty(e, "code") ? String(e.code) : String(e)}`
      })
  })

/** A JSON file's document; `flag` names the option in problems. */
const readJson = (flag: string, file: string) =>
  Effect.gen(function* () {
    const text = yield* FileSystem.FileSystem.pipe(
      Effect.flatMap((fsys) => fsys.readFileString(file)),
      Effect.mapError((e) => new UsageProblem({ lines: [`cannot read ${flag} ${file}: ${e.message}`] }))
    )
    return yield* Schema.decodeUnknown(Schema.parseJson())(text).pipe(
      Effect.mapError(() => new UsageProblem({ lines: [`invalid ${flag} ${file}: not valid JSON`] }))
    )
  })

const readConfig = (file: string) =>
  Effect.gen(function* () {
    const json = yield* readJson("--config", file)
    return yield* Either.mapLeft(
      decodeConfig(json),
      (problems) =>
        new UsageProblem({
          lines: [`invalid --config ${file}:`, ...problems.map((p) => `  ${p.path}: ${p.message}`)]
        })
    )
  })

/** Names the port and the cause of a failed listen, and what to do about it. */
const startProblem = (error: unknown, listen: { readonly port: number; readonly host: string }): StartProblem => {
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : error
  const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined
  const where = `${listen.host}:${listen.port}`
  if (code === "EADDRINUSE") {
    return new StartProblem({
      message: `port ${listen.port} is already in use on ${listen.host} (EADDRINUSE). Stop the other server, pick another port with --port, or use --port 0 for any free port.`
    })
  }
  if (code === "EACCES") {
    return new StartProblem({
      message: `not allowed to listen on ${where} (EACCES). Ports below 1024 need privileges: use a higher --port, or --port 0.`
    })
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
    return new StartProblem({
      message: `cannot listen on ${where} (${code}): --host is not an address of this machine.`
    })
  }
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new StartProblem({ message: `cannot listen on ${where}: ${detail}` })
}

const serve = (flags: {
  readonly port: number
  readonly host: string
  readonly import: Option.Option<string>
  readonly export: Option.Option<string>
  readonly config: Option.Option<string>
  readonly filesDir: Option.Option<string>
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
}) =>
  Effect.gen(function* () {
    const database = givenUrl(flags.databaseUrl)
    if (Option.isSome(database) && (Option.isSome(flags.import) || Option.isSome(flags.export))) {
      return yield* new UsageProblem({
        lines: ["--import and --export read and write snapshots of the in-memory engine: drop them with --database-url"]
      })
    }
    const configured = Option.isSome(flags.config) ? yield* readConfig(flags.config.value) : {}
    // The command starts with cliDefaults (devMode, the hybrid envelope, …); the config overrides any of them, and
    // --files-dir (or BKEND_FILES_DIR) the config's filesDir.
    const options = {
      ...cliDefaults,
      ...configured,
      ...Option.match(flags.filesDir, { onNone: () => ({}), onSome: (dir) => ({ filesDir: dir }) })
    }
    if (options.filesDir !== undefined) yield* checkFilesDir(options.filesDir)
    // built before the socket server, so released after it: the pool closes once the requests have drained
    const server = Option.isSome(database)
      ? Context.get(yield* Layer.build(LocalServer.layerPg(database.value, options)), LocalServer.LocalServerTag)
      : yield* LocalServer.make(options)
    if (Option.isSome(flags.import)) {
      const file = flags.import.value
      const text = yield* Effect.try({
        try: () => fs.readFileSync(file, "utf8"),
        catch: (e) => new LocalServer.SnapshotError({ message: `cannot read ${file}: ${String(e)}` })
      })
      yield* server.importSnapshot(text)
    }
    if (Option.isSome(flags.export)) {
      const file = flags.export.value
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(server.exportSnapshot, (json) =>
          Effect.sync(() => {
            fs.writeFileSync(file, json)
            console.log(`bkend-local: snapshot written to ${file}`)
          })
        ).pipe(Effect.catchTag("SnapshotError", (e) => Effect.sync(() => console.error(`bkend-local: ${e.message}`))))
      )
    }
    const listen = { port: flags.port, host: flags.host }
    const ctx = yield* Layer.build(LocalServer.layerNodeServer(server, listen)).pipe(
      Effect.mapError((e) => startProblem(e, listen))
    )
    const url = yield* Effect.provide(LocalServer.serverUrl, ctx)
    console.log(`bkend-local listening on ${url}`)
    console.log(`  storage: ${Option.isSome(database) ? "PostgreSQL (--database-url)" : "in memory"}`)
    console.log(`  files: ${options.filesDir === undefined ? "in memory" : options.filesDir}`)
    console.log(`  publishable key (X-API-Key): ${server.keys.publishable}`)
    console.log(`  secret key      (X-API-Key): ${server.keys.secret}`)
    console.log("  local endpoints: /_local/outbox, /_local/counters, /_local/snapshot (sk_ key)")
    if (server.options.devMode) {
      console.log(
        "  dev mode: undeclared tables list as empty and are created on first write, with the default permissions"
      )
      console.log('  (users create, read, list; guests read, list); set "devMode": false in --config to turn off')
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => console.log("bkend-local: shutting down")))
    return yield* Effect.never
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------------------------------
// bkend-local import
// ---------------------------------------------------------------------------------------------------------------------

const exportDir = Args.directory({ name: "DIR", exists: "yes" }).pipe(
  Args.withDescription("the folder bkend's export guide wrote: <table>_page<N>.json pages and bkend_files/")
)
const ownerMap = Options.file("owner-map", { exists: "yes" }).pipe(
  Options.withDescription(
    'JSON { "<old user id>": "<e-mail>" }: each old owner gets an account (or its existing one) and its rows'
  ),
  Options.optional
)
const filesOwner = Options.text("files-owner").pipe(
  Options.withDescription("old user id that owns the imported files (default: none; the files stay private)"),
  Options.optional
)

/** The database URL given by flag or environment; an empty value counts as none. */
const givenUrl = (url: Option.Option<Redacted.Redacted<string>>) => Option.filter(url, (u) => Redacted.value(u) !== "")

const requireDatabase = (url: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(givenUrl(url), {
    onNone: () =>
      Effect.fail(
        new UsageProblem({
          lines: ["import needs a database: give --database-url postgres://… or set BKEND_DATABASE_URL"]
        })
      ),
    onSome: Effect.succeed
  })

const runImport = (flags: {
  readonly dir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly ownerMap: Option.Option<string>
  readonly filesOwner: Option.Option<string>
  readonly filesDir: Option.Option<string>
  readonly config: Option.Option<string>
}) =>
  Effect.gen(function* () {
    const url = yield* requireDatabase(flags.databaseUrl)
    const configured = Option.isSome(flags.config) ? yield* readConfig(flags.config.value) : {}
    if (Option.isSome(flags.filesDir)) yield* checkFilesDir(flags.filesDir.value)
    const file = Option.getOrUndefined(flags.ownerMap)
    const owners =
      file !== undefined
        ? yield* Effect.flatMap(readJson("--owner-map", file), (json) =>
            Either.mapLeft(
              Import.decodeOwnerMap(json),
              (why) => new UsageProblem({ lines: [`invalid --owner-map ${file}: ${why}`] })
            )
          )
        : undefined
    const PgStore = yield* Effect.promise(() => import("./internal/pg/PgStore.js"))
    const summary = yield* Import.importFolder(flags.dir, {
      owners,
      filesOwner: Option.getOrUndefined(flags.filesOwner),
      tables: configured.tables,
      blobs: Option.getOrUndefined(Option.map(flags.filesDir, DiskBlobs.make))
    }).pipe(Effect.provide(PgStore.layerFromUrl(url)))
    for (const line of Import.summaryLines(flags.dir, summary)) console.log(line)
  })

const importCommand = Command.make(
  "import",
  { dir: exportDir, databaseUrl, filesDir, config: configFile, ownerMap, filesOwner },
  runImport
).pipe(
  Command.withDescription("Import a folder exported from bkend (rows, files) into the database; run it again safely.")
)

const command = Command.make(
  "bkend-local",
  { port, host, import: importFile, export: exportFile, config: configFile, filesDir, databaseUrl },
  serve
).pipe(
  Command.withDescription(
    "A bkend server: in memory, or on PostgreSQL with --database-url. `bkend-local import --help` tells how to import a bkend export."
  )
)

/** The version in this package's package.json (found upwards from this file, in `src/` and in `dist/src/`). */
const version = (): string => {
  for (const up of ["../../package.json", "../../../package.json"]) {
    try {
      const json: unknown = JSON.parse(fs.readFileSync(new URL(up, import.meta.url), "utf8"))
      if (Predicate.hasProperty(json, "name") && json.name === "bkend-effect" && Predicate.hasProperty(json, "version"))
        return String(json.version)
    } catch {
      // not this one
    }
  }
  return "unknown"
}

// `import` is dispatched by hand: as an @effect/cli subcommand, a mistyped flag of the server would be reported
// as an unknown subcommand instead of an unknown flag
const isImport = process.argv[2] === "import"
const cliName = isImport ? "bkend-local import" : "bkend-local"
const usageText = HelpDoc.toAnsiText(
  Usage.getHelp(isImport ? Command.getUsage(importCommand) : Command.getUsage(command))
).trim()
const importCli = Command.run(importCommand, { name: cliName, version: version() })([
  ...process.argv.slice(0, 2),
  ...process.argv.slice(3)
])
const serverCli = Command.run(command, { name: cliName, version: version() })(process.argv)
const runCli: Effect.Effect<
  void,
  Effect.Effect.Error<typeof importCli> | Effect.Effect.Error<typeof serverCli>,
  Effect.Effect.Context<typeof importCli> | Effect.Effect.Context<typeof serverCli>
> = isImport ? importCli : serverCli

const exitWith = (code: number, lines: ReadonlyArray<string>) =>
  Effect.sync(() => {
    for (const line of lines) console.error(line)
    process.exitCode = code
  })

const main = runCli.pipe(
  Effect.catchIf(ValidationError.isValidationError, () =>
    // @effect/cli has printed what is wrong with the flags; add the usage
    exitWith(2, [`usage: ${usageText}`, `run ${cliName} --help for the options`])
  ),
  Effect.catchTags({
    UsageProblem: (e) =>
      exitWith(
        2,
        e.lines.map((line, i) => (i === 0 ? `bkend-local: ${line}` : line))
      ),
    StartProblem: (e) => exitWith(1, [`bkend-local: ${e.message}`]),
    SnapshotError: (e) => exitWith(1, [`bkend-local: ${e.message}`]),
    ImportError: (e) => exitWith(1, [`bkend-local import: ${e.message}`]),
    StoreError: (e) =>
      exitWith(1, [
        e.operation === "connect"
          ? "bkend-local: cannot connect to the database of --database-url / BKEND_DATABASE_URL: is PostgreSQL running there, and does the database exist?"
          : `bkend-local: ${e.message}`
      ])
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main)
