/**
 * bkend-effect for Node (`bkend-effect/node`): what only Node can do, such as sharing one session between
 * processes.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as NodeSession from "./NodeSession.js"
