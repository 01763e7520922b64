/**
 * HS256 JWTs with node:crypto (access and refresh tokens of bkend-local).
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import * as crypto from "node:crypto"

/**
 * @since 0.1.0
 * @category models
 */
export const Claims = Schema.Struct({
  sub: Schema.String,
  sid: Schema.String,
  typ: Schema.Literal("access", "refresh"),
  iat: Schema.Number,
  exp: Schema.Number,
  jti: Schema.optional(Schema.String),
  role: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Claims = typeof Claims.Type

const b64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url")

const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))

const signature = (input: string, secret: string): string =>
  crypto.createHmac("sha256", secret).update(input).digest("base64url")

/**
 * @since 0.1.0
 * @category signing
 */
export const sign = (claims: Claims, secret: string): string => {
  const payload = b64url(JSON.stringify(claims))
  const input = `${header}.${payload}`
  return `${input}.${signature(input, secret)}`
}

const decodeClaims = Schema.decodeUnknownEither(Schema.parseJson(Claims))

/**
 * Verifies the signature and decodes the claims (expiry is the caller's business: it needs the Clock).
 *
 * @since 0.1.0
 * @category signing
 */
export const verify = (token: string, secret: string): Claims | undefined => {
  const parts = token.split(".")
  if (parts.length !== 3) return undefined
  const [h, p, s] = parts
  if (h === undefined || p === undefined || s === undefined) return undefined
  const expected = Buffer.from(signature(`${h}.${p}`, secret))
  const actual = Buffer.from(s)
  if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) return undefined
  const decoded = decodeClaims(Buffer.from(p, "base64url").toString("utf8"))
  return Either.isRight(decoded) ? decoded.right : undefined
}

/**
 * Decodes the payload without verifying (for tests and tooling).
 *
 * @since 0.1.0
 * @category signing
 */
export const decodeUnverified = (token: string): Claims | undefined => {
  const p = token.split(".")[1]
  if (p === undefined) return undefined
  const decoded = decodeClaims(Buffer.from(p, "base64url").toString("utf8"))
  return Either.isRight(decoded) ? decoded.right : undefined
}
