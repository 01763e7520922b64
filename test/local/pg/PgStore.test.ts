import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as PgStore from "../../../src/local/internal/pg/PgStore.js"
import { storeContract } from "../storeContract.js"
import { clientLayer } from "./db.js"

storeContract("PostgreSQL", PgStore.layer.pipe(Layer.provide(clientLayer)))

describe("PgStore", () => {
  it("placeholder", () => expect(Effect).toBeDefined())
})
