/**
 * bkend-effect: an Effect-native SDK for bkend.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as BkendClient from "./BkendClient.js"

/**
 * @since 0.1.0
 */
export * as BkendError from "./BkendError.js"

/**
 * @since 0.1.0
 */
export * as Page from "./Page.js"

/**
 * @since 0.1.0
 */
export * as Session from "./Session.js"
