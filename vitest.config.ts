import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// `bkend-effect/…` resolves to the sources, as tsconfig.json's `paths` do for tsc and tsx (no build needed).
const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

// The server's own suite and the SDK's integration tests, run a second time with every test server on PostgreSQL
// (test/utils/engine.ts). The engine-specific suites (test/local/pg, test/local/memory) and the CLI's, which starts
// its own processes, pick their engine themselves and run once.
const onPostgres = [
  "test/local/*.test.ts",
  "test/Auth.test.ts",
  "test/Refresh.test.ts",
  "test/Users.test.ts",
  "test/Tables.test.ts",
  "test/Files.test.ts"
]

export default defineConfig({
  resolve: {
    alias: [
      { find: /^bkend-effect$/, replacement: src("index.ts") },
      { find: /^bkend-effect\/(local|node|testing)$/, replacement: src("$1/index.ts") }
    ]
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        // the testing example is itself a vitest file, run as its readers run it
        test: { name: "memory", include: ["test/**/*.test.ts", "examples/testing-with-layers.ts"] }
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: onPostgres,
          exclude: ["test/local/Cli.test.ts"],
          env: { BKEND_TEST_ENGINE: "pg" }
        }
      }
    ]
  }
})
