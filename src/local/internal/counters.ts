/**
 * The server's counters under the storage boundary's flat names: a top-level counter by its field name
 * (`signIns`), a per-route or per-status count as `byRoute:<METHOD path>` / `byStatus:<status>`. One mapping both
 * ways, so every engine stores plain name → number pairs and `/_local/counters` answers the same structure.
 *
 * @since 0.1.0
 */
import { type Counters, emptyCounters } from "./kernel.js"

/**
 * A top-level counter.
 *
 * @since 0.1.0
 * @category models
 */
export type CounterName = Exclude<keyof Counters, "byRoute" | "byStatus">

type Group = "byRoute" | "byStatus"

const groups: ReadonlyArray<Group> = ["byRoute", "byStatus"]

const GROUP_CAP = 2000

/**
 * @since 0.1.0
 * @category names
 */
export const byRoute = (route: string): string => `byRoute:${route}`

/**
 * @since 0.1.0
 * @category names
 */
export const byStatus = (status: number): string => `byStatus:${status}`

const split = (name: string): { readonly group: Group; readonly key: string } | undefined => {
  const i = name.indexOf(":")
  const group = groups.find((g) => g === name.slice(0, i))
  return group === undefined ? undefined : { group, key: name.slice(i + 1) }
}

const isCounterName = (name: string): name is CounterName =>
  Object.hasOwn(emptyCounters(), name) && !groups.some((g) => g === name)

/**
 * Adds `by` to the named counter of a counters structure in place and answers the new value; `undefined` (and no
 * change) for a name the structure has no place for.
 *
 * @since 0.1.0
 * @category combinators
 */
export const bump = (counters: Counters, name: string, by: number): number | undefined => {
  const grouped = split(name)
  if (grouped !== undefined) {
    const record = counters[grouped.group]
    const current = record[grouped.key]
    // a structure in memory keeps at most GROUP_CAP keys per group (paths are client-chosen)
    if (current === undefined && Object.keys(record).length >= GROUP_CAP) return 0
    record[grouped.key] = (current ?? 0) + by
    return (current ?? 0) + by
  }
  if (!isCounterName(name)) return undefined
  counters[name] += by
  return counters[name]
}

/**
 * The flat name → value pairs of a counters structure.
 *
 * @since 0.1.0
 * @category conversions
 */
export const flatten = (counters: Counters): ReadonlyMap<string, number> => {
  const out = new Map<string, number>()
  for (const [name, value] of Object.entries(counters)) if (typeof value === "number") out.set(name, value)
  for (const group of groups) {
    for (const [key, value] of Object.entries(counters[group])) out.set(`${group}:${key}`, value)
  }
  return out
}

/**
 * The counters structure of flat name → value pairs (unknown names are left out).
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromFlat = (pairs: ReadonlyMap<string, number>): Counters => {
  const counters = emptyCounters()
  for (const [name, value] of pairs) bump(counters, name, value)
  return counters
}
