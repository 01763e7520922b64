#!/usr/bin/env node
// The published CLI runs the compiled server in dist/. In a clone of the repository, run it from source with
// `npm run local -- --port 8787` instead (no build needed).
import("../dist/src/local/cli.js").catch((error) => {
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(String(error?.message))?.[1] ?? ""
  if (error?.code === "ERR_MODULE_NOT_FOUND" && /dist[\\/]src[\\/]local[\\/]cli\.js$/.test(missing)) {
    console.error(
      "bkend-local: dist/ is not built. In a clone, run `npm run local -- --port 8787` (or `npm run build`)."
    )
  } else if (error?.code === "ERR_MODULE_NOT_FOUND" && missing.startsWith("@effect/")) {
    console.error(
      `bkend-local: ${missing} is not installed. The CLI needs the optional peer dependencies:\n` +
        "  npm install @effect/platform-node@^0.108.2 @effect/cli@^0.77.2 @effect/printer@^0.51.0 @effect/printer-ansi@^0.51.0"
    )
  } else {
    console.error(error)
  }
  process.exit(1)
})
