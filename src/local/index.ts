/**
 * bkend-local: a wire-compatible bkend server, in memory or on PostgreSQL (`bkend-effect/local`).
 *
 * @since 0.1.0
 */
export * from "./LocalServer.js"

export {
  /**
   * The 6-digit TOTP code (RFC 6238, SHA-1, 30 s) of a base32 secret at a time in milliseconds — for tests of MFA.
   *
   * @since 0.1.0
   * @category totp
   */
  totp
} from "./internal/totp.js"

export {
  /**
   * Decodes a JWT payload without verifying it (e.g. to read `sub` / `sid` of an access token in tests).
   *
   * @since 0.1.0
   * @category tokens
   */
  decodeUnverified as decodeJwt
} from "./internal/jwt.js"

export {
  /**
   * The options `bkend-local` (the command) starts with on top of {@link defaultOptions}: devMode, the hybrid
   * envelope, a short refresh-token reuse interval, guest listing of public files and the development OAuth page.
   *
   * @since 0.1.0
   * @category options
   */
  cliDefaults,
  /**
   * The server's defaults for every option (what `make` uses for the options you leave out).
   *
   * @since 0.1.0
   * @category options
   */
  defaultOptions
} from "./internal/kernel.js"
