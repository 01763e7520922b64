/**
 * TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits) and RFC 4648 base32, with node:crypto.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/**
 * @since 0.1.0
 * @category base32
 */
export const base32Encode = (bytes: Uint8Array): string => {
  let bits = 0
  let value = 0
  let out = ""
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/**
 * Decodes base32 (case-insensitive, padding and spaces ignored); undefined on an invalid character.
 *
 * @since 0.1.0
 * @category base32
 */
export const base32Decode = (text: string): Uint8Array | undefined => {
  const clean = text.replace(/[\s=]/g, "").toUpperCase()
  const out: Array<number> = []
  let bits = 0
  let value = 0
  for (const ch of clean) {
    const idx = ALPHABET.indexOf(ch)
    if (idx < 0) return undefined
    value = (value << 5) | idx
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Uint8Array.from(out)
}

/**
 * A new random 160-bit secret, base32-encoded.
 *
 * @since 0.1.0
 * @category totp
 */
export const generateSecret = (): string => base32Encode(crypto.randomBytes(20))

/**
 * HOTP (RFC 4226) value for a counter.
 *
 * @since 0.1.0
 * @category totp
 */
export const hotp = (key: Uint8Array, counter: number, digits = 6): string => {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = crypto.createHmac("sha1", key).update(msg).digest()
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f
  const code =
    (((mac[offset] ?? 0) & 0x7f) << 24) |
    ((mac[offset + 1] ?? 0) << 16) |
    ((mac[offset + 2] ?? 0) << 8) |
    (mac[offset + 3] ?? 0)
  return String(code % 10 ** digits).padStart(digits, "0")
}

/**
 * The 6-digit TOTP code of a base32 secret at a time (milliseconds since the epoch).
 *
 * @since 0.1.0
 * @category totp
 */
export const totp = (secret: string, timeMillis: number): string => {
  const key = base32Decode(secret)
  if (key === undefined) throw new Error("Invalid base32 secret")
  return hotp(key, Math.floor(timeMillis / 1000 / 30))
}

/**
 * Checks a code against the current step and one step either side (clock drift).
 *
 * @since 0.1.0
 * @category totp
 */
export const verifyTotp = (secret: string, code: string, timeMillis: number): boolean => {
  const key = base32Decode(secret)
  if (key === undefined || !/^\d{6}$/.test(code)) return false
  const step = Math.floor(timeMillis / 1000 / 30)
  for (const delta of [0, -1, 1]) {
    if (step + delta >= 0 && hotp(key, step + delta) === code) return true
  }
  return false
}

/**
 * `otpauth://totp/...` provisioning URI.
 *
 * @since 0.1.0
 * @category totp
 */
export const otpauthUri = (secret: string, account: string, issuer = "bkend-local"): string =>
  `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=6&period=30`
