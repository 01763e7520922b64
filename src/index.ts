/**
 * bkend-effect: an Effect-native SDK for bkend.
 *
 * @since 0.1.0
 */

/**
 * Sign-up, sign-in, sessions, MFA, account linking and invitations (`/v1/auth/*`).
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.js"

/**
 * One layer for the whole SDK.
 *
 * @since 0.1.0
 */
export * as Bkend from "./Bkend.js"

/**
 * The HTTP pipeline every call goes through: keys, session, refresh, retries, decoding, spans.
 *
 * @since 0.1.0
 */
export * as BkendClient from "./BkendClient.js"

/**
 * The tagged errors a call can fail with.
 *
 * @since 0.1.0
 */
export * as BkendError from "./BkendError.js"

/**
 * Session storage and the cross-tab refresh lock for browsers.
 *
 * @since 0.1.0
 */
export * as Browser from "./Browser.js"

/**
 * File uploads (single and multipart), metadata and downloads (`/v1/files/*`).
 *
 * @since 0.1.0
 */
export * as Files from "./Files.js"

/**
 * The normalised page every list returns.
 *
 * @since 0.1.0
 */
export * as Page from "./Page.js"

/**
 * The session model, its store and its change stream.
 *
 * @since 0.1.0
 */
export * as Session from "./Session.js"

/**
 * Typed CRUD and queries on data tables (`/v1/data/:table`).
 *
 * @since 0.1.0
 */
export * as Tables from "./Tables.js"

/**
 * User management, profiles, avatars and settings (`/v1/users/*`).
 *
 * @since 0.1.0
 */
export * as Users from "./Users.js"
