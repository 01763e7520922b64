/**
 * The refresh-token lineage record every engine stores when a session gets a new token.
 *
 * @since 0.1.0
 */
import type { LineageToken, NextToken } from "../Store.js"
import type { SessionRecord } from "./kernel.js"

/**
 * A session's new, active refresh token (not rotated yet).
 *
 * @since 0.1.0
 * @category constructors
 */
export const issuedToken = (session: SessionRecord, next: NextToken): LineageToken => ({
  jti: next.jti,
  sessionId: session.id,
  userId: session.userId,
  status: "active",
  expiresAt: next.expiresAt,
  issuedAt: next.issuedAt,
  rotatedAt: undefined,
  childJti: undefined
})
