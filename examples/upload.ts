/**
 * Multipart upload of a generated 12 MiB file with a terminal progress bar, then download and verify.
 *
 * Parts of 4 MiB go up 2 at a time to presigned storage URLs (never with bkend headers), the upload is
 * completed and registered, and the downloaded bytes are compared with the original by SHA-256.
 *
 *   npx tsx examples/upload.ts
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Chunk, Effect, Layer, Stream } from "effect"
import { Auth, Bkend, Files } from "bkend-effect"
import { createHash, randomBytes } from "node:crypto"
import { target, uniqueEmail } from "./shared.js"

const SIZE = 12 * 1024 * 1024
const PART = 4 * 1024 * 1024
const WIDTH = 40

const bar = (sent: number, total: number) => {
  const done = Math.round((sent / total) * WIDTH)
  const line = `  [${"#".repeat(done)}${".".repeat(WIDTH - done)}] ${((sent / total) * 100).toFixed(0).padStart(3)}% ${(sent / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`
  return process.stdout.isTTY ? `\r${line}` : `${line}\n`
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const program = Effect.gen(function* () {
  const auth = yield* Auth.Auth
  const files = yield* Files.Files
  yield* auth.signUp({ email: uniqueEmail("uploader"), password: "s3cret!pw", name: "Uploader" })

  const data = new Uint8Array(randomBytes(SIZE))
  console.log(
    `uploading report.bin (${SIZE / 1048576} MiB, sha256 ${sha256(data).slice(0, 16)}…) in ${SIZE / PART} parts`
  )
  let lastPercent = -1
  const started = performance.now()
  const file = yield* files.upload({
    data,
    filename: "report.bin",
    contentType: "application/octet-stream",
    category: "documents",
    multipartThreshold: PART,
    partSize: PART,
    concurrency: 2,
    onProgress: ({ sent, total }) =>
      Effect.sync(() => {
        const percent = Math.floor((sent / total) * (process.stdout.isTTY ? 40 : 4))
        if (percent !== lastPercent || sent === total) {
          lastPercent = percent
          process.stdout.write(bar(sent, total))
        }
      })
  })
  const seconds = (performance.now() - started) / 1000
  if (process.stdout.isTTY) process.stdout.write("\n")
  console.log(
    `uploaded and registered file ${file.id} (${file.size} bytes) in ${seconds.toFixed(2)} s — ${(SIZE / 1048576 / seconds).toFixed(1)} MiB/s`
  )

  const chunks = yield* Stream.runCollect(files.download({ id: file.id }))
  const downloaded = Buffer.concat(Chunk.toReadonlyArray(chunks))
  const same = sha256(downloaded) === sha256(data)
  console.log(`downloaded ${downloaded.length} bytes; sha256 ${same ? "matches" : "DIFFERS"}`)
  if (!same) return yield* Effect.die(new Error("downloaded bytes differ from the upload"))
})

const main = Effect.gen(function* () {
  const env = yield* target({ local: {} })
  console.log(`bkend-effect upload — ${env.description}`)
  // the SDK: one layer for every service, on Node's undici HTTP client
  const BkendLive = Bkend.layer({ apiKey: env.apiKey, baseUrl: env.baseUrl }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  yield* Effect.provide(program, BkendLive)
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("upload example failed:", error)
    process.exit(1)
  }
)
