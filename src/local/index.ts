/**
 * bkend-local: an in-memory, wire-compatible bkend server (`bkend-effect/local`).
 *
 * @since 0.1.0
 */
export * from "./LocalServer.js"

/**
 * The 6-digit TOTP code (RFC 6238, SHA-1, 30 s) of a base32 secret at a time in milliseconds — for tests of MFA.
 *
 * @since 0.1.0
 * @category totp
 */
export { totp } from "./internal/totp.js"

/**
 * Decodes a JWT payload without verifying it (e.g. to read `sub` / `sid` of an access token in tests).
 *
 * @since 0.1.0
 * @category tokens
 */
export { decodeUnverified as decodeJwt } from "./internal/jwt.js"

/**
 * @since 0.1.0
 * @category options
 */
export { cliDefaults, defaultOptions } from "./internal/kernel.js"
