/**
 * `bkend-local` command line: serves an in-memory bkend on a port (`bkend-local --help` lists the options).
 *
 * ```text
 * bkend-local [--port 8787] [--host 127.0.0.1] [--import snapshot.json] [--export snapshot.json] [--config config.json]
 *             [--files-dir DIR]
 * ```
 *
 * `--config` takes either a JSON array of table declarations or an object of server options
 * (`{ "tables": [...], "envelope": "bare", "rateLimit": { "limit": 100, "windowSeconds": 60 }, ... }`); every
 * problem in it is reported on its own line, with its path; unknown keys are problems too. Unlike the library
 * default, the CLI starts with `cliDefaults`: `devMode` (undeclared tables list as empty and are created on first write,
 * with the default permissions), the hybrid envelope, a 10 s refresh-token reuse interval, guest listing of public
 * files and the development OAuth sign-in page; the config overrides each of them (e.g. `"devMode": false`).
 *
 * Exit codes: 0 after a clean shutdown (SIGINT / SIGTERM), 2 for bad flags or a bad config, 1 when the server
 * cannot start or a snapshot cannot be read.
 *
 * @since 0.1.0
 */
/* biome-ignore-all lint/suspicious/noConsole: the CLI talks to the terminal */
import { Command, HelpDoc, Options, Usage, ValidationError } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Config, Data, Effect, Either, Layer, Option, Predicate, Schema } from "effect"
import * as fs from "node:fs"
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

const readConfig = (file: string) =>
  Effect.gen(function* () {
    const text = yield* FileSystem.FileSystem.pipe(
      Effect.flatMap((fsys) => fsys.readFileString(file)),
      Effect.mapError((e) => new UsageProblem({ lines: [`cannot read --config ${file}: ${e.message}`] }))
    )
    const json = yield* Schema.decodeUnknown(Schema.parseJson())(text).pipe(
      Effect.mapError(() => new UsageProblem({ lines: [`invalid --config ${file}: not valid JSON`] }))
    )
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
}) =>
  Effect.gen(function* () {
    const configured = Option.isSome(flags.config) ? yield* readConfig(flags.config.value) : {}
    // The command starts with cliDefaults (devMode, the hybrid envelope, …); the config overrides any of them, and
    // --files-dir (or BKEND_FILES_DIR) the config's filesDir.
    const options = {
      ...cliDefaults,
      ...configured,
      ...Option.match(flags.filesDir, { onNone: () => ({}), onSome: (dir) => ({ filesDir: dir }) })
    }
    if (options.filesDir !== undefined) yield* checkFilesDir(options.filesDir)
    const server = yield* LocalServer.make(options)
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
    console.log(`  publishable key (X-API-Key): ${server.keys.publishable}`)
    console.log(`  secret key      (X-API-Key): ${server.keys.secret}`)
    console.log("  local endpoints: /_local/outbox, /_local/counters, /_local/snapshot (sk_ key)")
    console.log(`  files: ${options.filesDir === undefined ? "in memory" : options.filesDir}`)
    if (server.options.devMode) {
      console.log(
        "  dev mode: undeclared tables list as empty and are created on first write, with the default permissions"
      )
      console.log('  (users create, read, list; guests read, list); set "devMode": false in --config to turn off')
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => console.log("bkend-local: shutting down")))
    return yield* Effect.never
  }).pipe(Effect.scoped)

const command = Command.make(
  "bkend-local",
  { port, host, import: importFile, export: exportFile, config: configFile, filesDir },
  serve
).pipe(Command.withDescription("An in-memory bkend server for local development and tests."))

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

const usageText = HelpDoc.toAnsiText(Usage.getHelp(Command.getUsage(command))).trim()

const exitWith = (code: number, lines: ReadonlyArray<string>) =>
  Effect.sync(() => {
    for (const line of lines) console.error(line)
    process.exitCode = code
  })

const main = Command.run(command, { name: "bkend-local", version: version() })(process.argv).pipe(
  Effect.catchIf(ValidationError.isValidationError, () =>
    // @effect/cli has printed what is wrong with the flags; add the usage
    exitWith(2, [`usage: ${usageText}`, "run bkend-local --help for the options"])
  ),
  Effect.catchTags({
    UsageProblem: (e) =>
      exitWith(
        2,
        e.lines.map((line, i) => (i === 0 ? `bkend-local: ${line}` : line))
      ),
    StartProblem: (e) => exitWith(1, [`bkend-local: ${e.message}`]),
    SnapshotError: (e) => exitWith(1, [`bkend-local: ${e.message}`])
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main)
