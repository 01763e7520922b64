/**
 * The in-memory engine of the storage boundary, over the Maps of a server state: snapshots of that state keep
 * working, and code that still reads the Maps sees every write made through the store.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import { type Service, Store } from "../../Store.js"
import * as K from "../kernel.js"
import * as Auth from "./auth.js"
import * as Data from "./data.js"
import * as Misc from "./misc.js"

/**
 * The store over `state`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (state: K.LocalState): Service => ({
  ...Auth.make(state),
  ...Data.make(state),
  ...Misc.make(state)
})

/**
 * A store over a fresh state (default options).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Store> = Layer.sync(Store, () => make(K.makeState(K.defaultOptions)))
