/**
 * bkend-effect for Node (`bkend-effect/node`): what only Node can do — a lean transport over undici, and one
 * session shared between processes.
 *
 * @since 0.1.0
 */

/**
 * The session in a file, shared by Node processes through a lock file.
 *
 * @since 0.1.0
 */
export * as NodeSession from "./NodeSession.js"

/**
 * A lean `HttpClient` for Node over undici, the transport to provide under `Bkend.layer` in servers and scripts.
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"
