/**
 * The SDK reads every success envelope bkend-local can send: wrapped, bare and hybrid (the payload under `data` with
 * its fields also at the top level, which the `bkend-local` command sends by default), even for a table with a
 * column named `data`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Auth, Tables } from "../src/index.js"
import * as Testing from "../src/testing/index.js"

const Note = Schema.Struct({
  title: Schema.String,
  data: Schema.Struct({ n: Schema.Number })
})

describe("success envelopes", () => {
  for (const envelope of ["wrapped", "bare", "hybrid"] as const) {
    it.effect(`${envelope}: sign-up, create, get and list decode to the payload`, () =>
      Effect.gen(function* () {
        const auth = yield* Auth.Auth
        yield* auth.signUp({ email: `hybrid-${envelope}-${Date.now()}@example.com`, password: "s3cret!pw", name: "H" })
        const notes = (yield* Tables.Tables).table("notes", Note)
        const created = yield* notes.create({ data: { title: "t", data: { n: 1 } } })
        expect(created.data).toEqual({ n: 1 })
        expect((yield* notes.get({ id: created.id })).title).toBe("t")
        const page = yield* notes.list({ page: 1, limit: 10 })
        expect(page.items.map((n) => n.data.n)).toEqual([1])
      }).pipe(Effect.provide(Testing.layer({ local: { envelope, devMode: true } })))
    )
  }
})
