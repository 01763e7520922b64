/**
 * Every ```ts block of README.md compiles as written, against the package (`bkend-effect`, `bkend-effect/testing`,
 * `bkend-effect/local`, `bkend-effect/node` resolve to the sources, as tsconfig.json's `paths` say). All blocks go
 * into one TypeScript program, each as its own module.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")

/** The ```ts blocks of a markdown text, with the line each starts on. */
const tsBlocks = (markdown: string): ReadonlyArray<{ readonly line: number; readonly code: string }> => {
  const blocks: Array<{ line: number; code: string }> = []
  const lines = markdown.split("\n")
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "```ts") continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end]?.trim() !== "```") end++
    blocks.push({ line: start + 1, code: lines.slice(start, end).join("\n") })
    i = end
  }
  return blocks
}

/** Typechecks the blocks in one program; returns one message per diagnostic, naming the README line. */
const typecheck = (blocks: ReadonlyArray<{ readonly line: number; readonly code: string }>) => {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {}
    }
  )
  if (config === undefined) throw new Error("cannot read tsconfig.json")
  const files = new Map(blocks.map((b) => [path.join(root, "test", `.readme-block-${b.line}.ts`), b]))
  const host = ts.createCompilerHost(config.options)
  const readFile = host.readFile
  host.readFile = (file) => files.get(path.resolve(file))?.code ?? readFile(file)
  const fileExists = host.fileExists
  host.fileExists = (file) => files.has(path.resolve(file)) || fileExists(file)
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host)
  const messages: Array<string> = []
  for (const [file, block] of files) {
    const source = program.getSourceFile(file)
    if (source === undefined) throw new Error(`not in the program: ${file}`)
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const at = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line
      messages.push(`README.md:${block.line + at}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`)
    }
  }
  return messages
}

describe("README", () => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")

  it("every ts block typechecks against the package", { timeout: 180_000 }, () => {
    const blocks = tsBlocks(readme)
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    // negative control in the same program: a block as the issue found it (missing imports, undefined baseUrl)
    const broken = {
      line: 100_000,
      code: 'import { Bkend, Browser } from "bkend-effect"\nexport const r = ManagedRuntime.make(Browser.provide(Bkend.layer({ apiKey: Redacted.make("pk"), baseUrl })))\n'
    }
    const messages = typecheck([...blocks, broken])
    const [control, real] = [
      messages.filter((m) => m.startsWith("README.md:100")),
      messages.filter((m) => !m.startsWith("README.md:100"))
    ]
    expect(real).toEqual([])
    expect(control.join("\n")).toMatch(/Cannot find name 'ManagedRuntime'/)
    expect(control.join("\n")).toMatch(/Cannot find name 'Redacted'/)
    expect(control.join("\n")).toMatch(/'baseUrl'/)
  })

  it("the tour block is examples/tour.ts, so the file the README tells you to run is the one you read", () => {
    const tour = fs.readFileSync(path.join(root, "examples", "tour.ts"), "utf8")
    expect(tsBlocks(readme).map((b) => `${b.code}\n`)).toContain(tour)
  })
})
