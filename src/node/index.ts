/**
 * bkend-effect for Node (`bkend-effect/node`): what only Node can do — a lean transport over undici, and one
 * session shared between processes.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as NodeSession from "./NodeSession.js"

/**
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"
