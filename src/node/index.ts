/**
 * Node-only parts of the SDK.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"
