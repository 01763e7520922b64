/**
 * "bkend from your backend": a small HTTP service (@effect/platform HttpRouter) that talks to bkend with a
 * SECRET key through layer injection. The route handlers only ask for `Tables.Tables`; which bkend, which key and
 * which HTTP client they get is decided once, where the layers are composed — so tests can swap any of them.
 *
 *   npx tsx examples/backend-service.ts            # serves on an ephemeral port, calls itself, exits
 *   PORT=3000 npx tsx examples/backend-service.ts  # keeps serving on :3000
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer, Schema } from "effect"
import { Bkend, Tables } from "bkend-effect"
import { createServer } from "node:http"
import { target } from "./shared.js"

const Order = Schema.Struct({ item: Schema.String, quantity: Schema.Number })

/** The service's own API: POST /orders, GET /orders. Errors from bkend become HTTP answers by tag. */
const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/orders",
    Effect.gen(function* () {
      const body = yield* HttpServerRequest.schemaBodyJson(Order)
      const orders = (yield* Tables.Tables).table("orders", Order)
      const created = yield* orders.create({ data: body })
      return yield* HttpServerResponse.json(created, { status: 201 })
    })
  ),
  HttpRouter.get(
    "/orders",
    Effect.gen(function* () {
      const orders = (yield* Tables.Tables).table("orders", Order)
      const page = yield* orders.list({ limit: 50, sort: { by: "createdAt", direction: "asc" } })
      return yield* HttpServerResponse.json({ orders: page.items, total: page.total })
    })
  ),
  HttpRouter.catchTags({
    ParseError: () => HttpServerResponse.json({ error: "invalid order" }, { status: 400 }),
    RequestError: () => HttpServerResponse.json({ error: "unreadable body" }, { status: 400 }),
    Forbidden: () => HttpServerResponse.json({ error: "not allowed" }, { status: 403 }),
    RateLimited: () => HttpServerResponse.json({ error: "busy, retry later" }, { status: 503 })
  }),
  HttpRouter.catchAll((e) => HttpServerResponse.json({ error: `upstream failure (${e._tag})` }, { status: 502 }))
)

const main = Effect.gen(function* () {
  // the backend uses the secret key: admin rights, RLS bypassed — never ship it to a browser
  const env = yield* target({ key: "secret", local: { tables: [{ name: "orders" }] } })
  console.log(`bkend-effect backend-service — ${env.description}, using the secret key`)
  // the SDK: one layer for every service, on Node's undici HTTP client
  const BkendLive = Bkend.layer({ apiKey: env.apiKey, baseUrl: env.baseUrl }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const port = Number(process.env.PORT ?? 0)
  const ServiceLive = HttpServer.serve(router).pipe(
    Layer.provide(BkendLive),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" }))
  )
  const ctx = yield* Layer.build(ServiceLive)
  const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address)).pipe(Effect.provide(ctx))
  console.log(`service listening on ${url}`)
  if (process.env.PORT !== undefined) return yield* Effect.never

  const call = (method: string, path: string, body?: unknown) =>
    Effect.promise(async () => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body)
      })
      return { status: res.status, body: (await res.json()) as unknown }
    })
  for (const order of [
    { item: "keyboard", quantity: 1 },
    { item: "cable", quantity: 3 }
  ]) {
    const r = yield* call("POST", "/orders", order)
    console.log(`POST /orders ${JSON.stringify(order)} → ${r.status}`)
  }
  const invalid = yield* call("POST", "/orders", { item: 42 })
  console.log(`POST /orders {"item":42} → ${invalid.status} ${JSON.stringify(invalid.body)}`)
  const list = yield* call("GET", "/orders")
  console.log(`GET /orders → ${list.status} ${JSON.stringify(list.body)}`)
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("backend-service failed:", error)
    process.exit(1)
  }
)
