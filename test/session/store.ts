/**
 * Session storage for model runs: one shared map (a browser origin's localStorage, or a session file two
 * processes share) and a `KeyValueStore` view of it per client. Every read and write passes a scheduler gate
 * (an asynchronous, reorderable store), can be slowed down, and writes can fail. A successful write or remove
 * is announced to the other clients' listeners, like the browser's `storage` event.
 */
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as PlatformError from "@effect/platform/Error"
import { Effect, Option } from "effect"
import type * as Session from "../../src/Session.js"

/** How the store behaves: `ok`; `flaky` (the writes listed in `failWrites` fail); `never` (no write ever lands). */
export type StoreMode = "ok" | "flaky" | "never"

export interface StoreOptions {
  readonly mode: StoreMode
  /** for `flaky`: which writes (counted across clients, from the first write after setup) fail */
  readonly failWrites: ReadonlyArray<boolean>
  /** real milliseconds each store operation takes (after its gate) */
  readonly delayMillis: number
  readonly gate: (label: string) => Effect.Effect<void>
}

export interface SharedStore {
  readonly data: Map<string, string>
  /** writes that failed so far */
  readonly failedWrites: () => number
  /** count writes from now on (call after setup) */
  readonly startCounting: () => void
  /** a `KeyValueStore` for `client`; `onChange` of the other clients runs after each of its changes */
  readonly view: (client: string) => KeyValueStore.KeyValueStore
  readonly onChange: (client: string, listener: () => Effect.Effect<void>) => void
}

const stepper = (options: Pick<StoreOptions, "gate" | "delayMillis">) => (label: string) =>
  options.delayMillis > 0
    ? Effect.zipRight(options.gate(label), Effect.sleep(options.delayMillis))
    : options.gate(label)

/** A `TokenStore` whose reads and writes pass the scheduler's gates first (e.g. a session file of two processes). */
export const gatedTokenStore = (
  inner: Session.TokenStore["Type"],
  client: string,
  options: Pick<StoreOptions, "gate" | "delayMillis">
): Session.TokenStore["Type"] => {
  const step = stepper(options)
  return {
    get: Effect.zipRight(step(`${client} file.read`), inner.get),
    set: (session) => Effect.zipRight(step(`${client} file.write`), inner.set(session)),
    clear: Effect.zipRight(step(`${client} file.remove`), inner.clear)
  }
}

/**
 * Negative control: a view of `inner` that, after its first read, only ever reads back what this client itself
 * wrote there (its writes still reach `inner`, and the other clients).
 */
export const privateView = (inner: Session.TokenStore["Type"]): Session.TokenStore["Type"] => {
  let mine: Option.Option<Option.Option<Session.Session>> = Option.none()
  const keep = (value: Option.Option<Session.Session>) =>
    Effect.sync(() => {
      mine = Option.some(value)
    })
  return {
    get: Effect.suspend(() => (Option.isSome(mine) ? Effect.succeed(mine.value) : Effect.tap(inner.get, keep))),
    set: (session) => Effect.zipRight(inner.set(session), keep(Option.some(session))),
    clear: Effect.zipRight(inner.clear, keep(Option.none()))
  }
}

export const makeSharedStore = (options: StoreOptions): SharedStore => {
  const data = new Map<string, string>()
  const listeners = new Map<string, () => Effect.Effect<void>>()
  let writes = 0
  let failed = 0
  let counting = false
  const notify = (writer: string) =>
    Effect.forEach(
      [...listeners].filter(([client]) => client !== writer),
      ([, listener]) => listener(),
      {
        discard: true
      }
    )
  const step = (label: string) =>
    options.delayMillis > 0
      ? Effect.zipRight(options.gate(label), Effect.sleep(options.delayMillis))
      : options.gate(label)
  const writeFails = () => {
    if (options.mode === "never") return true
    if (!counting) return false
    const index = writes++
    return options.mode === "flaky" && options.failWrites[index % Math.max(1, options.failWrites.length)] === true
  }
  const failure = (method: string) =>
    new PlatformError.SystemError({
      reason: "Unknown",
      module: "KeyValueStore",
      method,
      description: "the store is full (injected)"
    })
  return {
    data,
    failedWrites: () => failed,
    startCounting: () => {
      counting = true
    },
    onChange: (client, listener) => void listeners.set(client, listener),
    view: (client) =>
      KeyValueStore.makeStringOnly({
        get: (key) =>
          Effect.zipRight(
            step(`${client} store.get`),
            Effect.sync(() => Option.fromNullable(data.get(key)))
          ),
        set: (key, value) =>
          Effect.zipRight(
            step(`${client} store.set`),
            Effect.suspend(() => {
              if (writeFails()) {
                failed++
                return Effect.fail(failure("set"))
              }
              data.set(key, value)
              return notify(client)
            })
          ),
        remove: (key) =>
          Effect.zipRight(
            step(`${client} store.remove`),
            Effect.suspend(() => (data.delete(key) ? notify(client) : Effect.void))
          ),
        clear: Effect.sync(() => data.clear()),
        size: Effect.sync(() => data.size)
      })
  }
}
