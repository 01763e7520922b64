// A minimal canned-response node:http server for the overhead benchmark. Runs in its own process (forked by
// overhead.ts) so the server never shares an event loop with the client under test. Prints nothing; reports its
// port over IPC.
import { createServer } from "node:http"

const item = JSON.stringify({ success: true, data: { id: "abc123", title: "hello world", n: 1, done: false } })
const created = JSON.stringify({
  success: true,
  data: { id: "abc124", title: "hello world", n: 2, done: false, createdAt: "2026-01-01T00:00:00.000Z" }
})

const server = createServer((req, res) => {
  if (req.method === "POST") {
    // read the body fully before answering, as a real server would
    req.on("data", () => {})
    req.on("end", () => {
      res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(created) })
      res.end(created)
    })
    return
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(item) })
  res.end(item)
})
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.send?.({ port: typeof address === "object" && address !== null ? address.port : 0 })
})
process.on("disconnect", () => process.exit(0))
