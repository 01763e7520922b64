import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { unwrapSuccess } from "../../src/internal/envelope.js"
import { fromResponse, parseErrorBody, parseRetryAfter } from "../../src/internal/errors.js"

const info = (status: number, body: unknown) => ({
  status,
  method: "GET",
  route: "/v1/data/:table",
  text: typeof body === "string" ? body : JSON.stringify(body),
  retryAfterMillis: undefined,
  limit: undefined,
  remaining: undefined,
  secrets: []
})

describe("error envelopes (CONTRACT §13.1, I-01)", () => {
  const shapes = {
    "E-A": { error: { code: "data/permission-denied", message: "no" } },
    "E-B": { success: false, error: { code: "data/permission-denied", message: "no" } },
    "E-C": { statusCode: 403, error: "PERMISSION_DENIED", message: "no" },
    "E-D": { error: { code: 403, message: "no" } },
    "E-E": { statusCode: 403, message: "no" },
    "E-F": { message: "no" }
  }

  it("reads code and message from each of the six shapes", () => {
    expect(parseErrorBody(shapes["E-A"])).toEqual({ code: "data/permission-denied", rawCode: undefined, message: "no" })
    expect(parseErrorBody(shapes["E-B"])).toEqual({ code: "data/permission-denied", rawCode: undefined, message: "no" })
    // UPPER_SNAKE is mapped to its domain twin, the original kept
    expect(parseErrorBody(shapes["E-C"])).toEqual({
      code: "data/permission-denied",
      rawCode: "PERMISSION_DENIED",
      message: "no"
    })
    // a numeric code is a status echo, not a code
    expect(parseErrorBody(shapes["E-D"])).toEqual({ code: undefined, rawCode: undefined, message: "no" })
    expect(parseErrorBody(shapes["E-E"])).toEqual({ code: undefined, rawCode: undefined, message: "no" })
    expect(parseErrorBody(shapes["E-F"])).toEqual({ code: undefined, rawCode: undefined, message: "no" })
  })

  const classes: ReadonlyArray<readonly [number, string]> = [
    [400, "BadRequest"],
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "NotFound"],
    [409, "Conflict"],
    [410, "Gone"],
    [429, "RateLimited"],
    [500, "ServerError"],
    [503, "ServerError"],
    [408, "UnexpectedStatus"],
    [413, "UnexpectedStatus"],
    [302, "UnexpectedStatus"]
  ]
  for (const [status, tag] of classes) {
    it(`status ${status} → ${tag} from every shape`, () => {
      for (const [shape, body] of Object.entries(shapes)) {
        const error = fromResponse(info(status, body))
        expect(error._tag, shape).toBe(tag)
        expect(error.status).toBe(status)
        expect(error.message).toBe("no")
        expect(error.route).toBe("/v1/data/:table")
      }
    })
  }

  it("variant codes are normalised to the reference-page code", () => {
    expect(fromResponse(info(401, { error: { code: "auth/access-token-expired" } })).code).toBe("auth/token-expired")
    expect(fromResponse(info(429, { error: { code: "auth/account-locked" } })).code).toBe(
      "auth/too-many-login-attempts"
    )
  })

  it("an empty or non-JSON body still gives a typed error with a message", () => {
    const empty = fromResponse(info(500, ""))
    expect(empty._tag).toBe("ServerError")
    expect(empty.message).toBe("500 Internal Server Error")
    const text = fromResponse(info(404, "Not here"))
    expect(text._tag).toBe("NotFound")
    expect(text.message).toContain("Not here")
  })
})

describe("Retry-After", () => {
  it("delta-seconds and HTTP-date", () => {
    expect(parseRetryAfter("2", 0)).toBe(2000)
    expect(parseRetryAfter(" 0 ", 0)).toBe(0)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000)
    expect(parseRetryAfter(new Date(1_000).toUTCString(), 4_000)).toBe(0)
    expect(parseRetryAfter(undefined, 0)).toBeUndefined()
    expect(parseRetryAfter("soon", 0)).toBeUndefined()
    expect(parseRetryAfter("-1", 0)).toBeUndefined()
  })

  it.prop("any non-negative integer of seconds", [FastCheck.integer({ min: 0, max: 1_000_000 })], ([n]) => {
    expect(parseRetryAfter(String(n), 123)).toBe(n * 1000)
  })

  it.prop(
    "any HTTP-date (second precision)",
    [FastCheck.integer({ min: 0, max: 4_000_000_000 }), FastCheck.integer({ min: 0, max: 4_000_000_000 })],
    ([at, now]) => {
      const date = at * 1000
      expect(parseRetryAfter(new Date(date).toUTCString(), now * 1000)).toBe(Math.max(0, date - now * 1000))
    }
  )
})

describe("success envelope (I-02)", () => {
  it("unwraps only the exact wrapper", () => {
    expect(unwrapSuccess({ success: true, data: { id: "1" } })).toEqual({ id: "1" })
    expect(unwrapSuccess({ success: true, data: [1], message: "ok" })).toEqual([1])
    expect(unwrapSuccess({ success: true })).toBeUndefined()
    expect(unwrapSuccess({ success: true, data: 1, id: "x" })).toEqual({ success: true, data: 1, id: "x" })
    expect(unwrapSuccess([{ success: true, data: 1 }])).toEqual([{ success: true, data: 1 }])
    // the hybrid body: the payload under data and its fields copied to the top level (a column named data too)
    const row = { id: "r1", title: "t", data: { nested: [1] } }
    expect(unwrapSuccess({ ...row, success: true, data: row })).toEqual(row)
    expect(unwrapSuccess({ id: "r1", success: true, data: { id: "r2" } })).toEqual({
      id: "r1",
      success: true,
      data: { id: "r2" }
    })
    expect(unwrapSuccess({ success: false, data: 1 })).toEqual({ success: false, data: 1 })
  })

  it.prop(
    "never unwraps an object with other keys",
    [FastCheck.dictionary(FastCheck.string(), FastCheck.jsonValue())],
    ([row]) => {
      const body = { ...row, success: true, data: 1, extra: true }
      expect(unwrapSuccess(body)).toBe(body)
    }
  )
})
