import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"

/** The claims the SDK reads from a JWT payload (never verified here: the server verifies). */
export interface Claims {
  readonly sub?: string | undefined
  readonly sid?: string | undefined
  readonly iat?: number | undefined
  readonly exp?: number | undefined
}

const str = (u: unknown) => (typeof u === "string" && u.length > 0 ? u : undefined)
const num = (u: unknown) => (typeof u === "number" && Number.isFinite(u) ? u : undefined)

/** The payload's claims, or `undefined` when the token is not a decodable JWT. */
export const claims = (token: string): Claims | undefined => {
  const part = token.split(".")[1]
  if (part === undefined) return undefined
  const text = Encoding.decodeBase64UrlString(part)
  if (Either.isLeft(text)) return undefined
  let payload: unknown
  try {
    payload = JSON.parse(text.right)
  } catch {
    return undefined
  }
  if (typeof payload !== "object" || payload === null) return undefined
  const field = (name: string): unknown => (name in payload ? Reflect.get(payload, name) : undefined)
  return { sub: str(field("sub")), sid: str(field("sid")), iat: num(field("iat")), exp: num(field("exp")) }
}

/** The access token's lifetime in milliseconds (`exp − iat`), when both claims are present. */
export const lifetimeMillis = (token: string): number | undefined => {
  const c = claims(token)
  if (c?.exp === undefined || c.iat === undefined || c.exp < c.iat) return undefined
  return (c.exp - c.iat) * 1000
}

/**
 * Whether two access tokens belong to one session lineage (a rotation): the same `sid` claim, or, when neither
 * has one, the same `sub`. Tokens that cannot be read are never taken for a rotation.
 */
export const sameLineage = (a: string, b: string): boolean => {
  const x = claims(a)
  const y = claims(b)
  if (x === undefined || y === undefined) return false
  if (x.sid !== undefined || y.sid !== undefined) return x.sid === y.sid
  return x.sub !== undefined && x.sub === y.sub
}
