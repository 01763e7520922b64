import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// `bkend-effect/…` resolves to the sources, as tsconfig.json's `paths` do for tsc and tsx (no build needed).
const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^bkend-effect$/, replacement: src("index.ts") },
      { find: /^bkend-effect\/(local|node|testing)$/, replacement: src("$1/index.ts") }
    ]
  },
  test: {
    // the testing example is itself a vitest file, run as its readers run it
    include: ["test/**/*.test.ts", "examples/testing-with-layers.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
