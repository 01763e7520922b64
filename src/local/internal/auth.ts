/**
 * Auth routes (CONTRACT §6).
 *
 * @since 0.1.0
 */
import { HttpRouter } from "@effect/platform"
import type * as K from "./kernel.js"

/**
 * @since 0.1.0
 * @category routers
 */
export const authRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty
