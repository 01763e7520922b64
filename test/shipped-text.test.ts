/**
 * Shipped text — the sources (their comments ship in the source maps and declarations), the READMEs, the CLI —
 * cites no document users do not have: no CONTRACT.md sections or item ids, no route ids, no "seed page", no
 * internal design documents. It states the rule instead.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")

const patterns: ReadonlyArray<RegExp> = [
  /CONTRACT/,
  /§/,
  /\bI-\d{2}\b/,
  /\bA-?\d{2}[a-z]?\b/,
  /(?<![-\w])[DFU]\d{1,2}(?![-\w])/,
  /\bE-[A-F]\b/,
  /seed page/i,
  /DESIGN\.md|STACK\.md|STYLE\.md|ARCHITECTURE-REVIEW/
]

const citations = (text: string): ReadonlyArray<string> =>
  text.split("\n").flatMap((line, i) => (patterns.some((p) => p.test(line)) ? [`${i + 1}: ${line.trim()}`] : []))

const shipped = (): ReadonlyArray<string> => {
  const out: Array<string> = ["README.md", "src/local/README.md", "bin/bkend-local.js"]
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(rel)
      else if (/\.(ts|md)$/.test(entry.name)) out.push(rel)
    }
  }
  walk("src")
  return [...new Set(out)]
}

describe("shipped text", () => {
  it("the check finds the citations the issue found", () => {
    expect(citations('invalidInput("table name must match ^[A-Za-z_][A-Za-z0-9_-]*$ (CONTRACT §8.1)")')).toHaveLength(1)
    expect(citations("  /** I-02: success bodies */")).toHaveLength(1)
    expect(citations("All routes (A01–A33)")).toHaveLength(1)
    expect(citations("the seed page's flow")).toHaveLength(1)
    expect(citations("Layout, and where it differs from DESIGN.md")).toHaveLength(1)
    expect(citations("a seeded PRNG; RFC 6238; sk_ followed by 64 hex digits; UPPER_SNAKE")).toEqual([])
  })

  it("src, the READMEs and the CLI cite no internal document", () => {
    const found: Array<string> = []
    for (const file of shipped()) {
      const text = fs.readFileSync(path.join(root, file), "utf8")
      for (const hit of citations(text)) found.push(`${file}:${hit}`)
    }
    expect(found).toEqual([])
  })
})
