/**
 * The SDK imports effect's modules by their own paths (`import * as Option from "effect/Option"`), never through the
 * `effect` barrel (`import { Option } from "effect"`): a bundler cannot tree-shake a namespace reached through the
 * barrel, so each one pulls its whole module into a browser bundle (about 5 KiB gzipped for the SDK core, 40 KiB
 * for all services). bench/bundle-size.ts measures the result; this check keeps it. The local server runs on Node
 * only and is not checked.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")

const sources = (): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        if (rel !== "src/local") walk(rel)
      } else if (entry.name.endsWith(".ts")) out.push(rel)
    }
  }
  walk("src")
  return out
}

const BARREL = /^\s*(import|export)\b[^;]*?\bfrom\s+"effect"/m

describe("imports", () => {
  it("the check finds a barrel import", () => {
    expect(BARREL.test('import { Effect, Option } from "effect"\n')).toBe(true)
    expect(BARREL.test('import {\n  Cause,\n  Option\n} from "effect"\n')).toBe(true)
    expect(BARREL.test('import * as Option from "effect/Option"\n')).toBe(false)
  })

  it("no SDK module imports from the effect barrel", () => {
    const files = sources()
    expect(files.length).toBeGreaterThan(30)
    expect(files.filter((file) => BARREL.test(fs.readFileSync(path.join(root, file), "utf8")))).toEqual([])
  })
})
