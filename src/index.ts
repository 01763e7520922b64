/**
 * bkend-effect: an Effect-native SDK for bkend.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Auth from "./Auth.js"

/**
 * @since 0.1.0
 */
export * as Bkend from "./Bkend.js"

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
export * as Browser from "./Browser.js"

/**
 * @since 0.1.0
 */
export * as Files from "./Files.js"

/**
 * @since 0.1.0
 */
export * as Page from "./Page.js"

/**
 * @since 0.1.0
 */
export * as Session from "./Session.js"

/**
 * @since 0.1.0
 */
export * as Tables from "./Tables.js"

/**
 * @since 0.1.0
 */
export * as Users from "./Users.js"
