import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as BkendClient from "../BkendClient.js"
import * as BkendError from "../BkendError.js"

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** A route template split once: literal path pieces, and the names of the `:params` between them. */
interface Template {
  /** `literals.length === names.length + 1`: the path is literals[0] + value(names[0]) + literals[1] + … */
  readonly literals: ReadonlyArray<string>
  readonly names: ReadonlyArray<string>
}

const parse = (route: string): Template => {
  const literals: Array<string> = []
  const names: Array<string> = []
  let literal = ""
  for (const segment of route.split("/")) {
    if (literal !== "" || names.length > 0 || segment !== "") literal += "/"
    if (segment.startsWith(":")) {
      literals.push(literal)
      names.push(segment.slice(1))
      literal = ""
    } else {
      literal += segment
    }
  }
  literals.push(literal)
  return { literals, names }
}

// routes are the SDK's own templates and an app's few: parsed once each (bounded, in case of a generated one)
const MAX_TEMPLATES = 512
const templates = new Map<string, Template>()

const templateOf = (route: string): Template => {
  let template = templates.get(route)
  if (template === undefined) {
    template = parse(route)
    if (templates.size >= MAX_TEMPLATES) templates.clear()
    templates.set(route, template)
  }
  return template
}

const badParam = (method: string, route: string, field: string, message: string) =>
  new BkendError.InvalidInput({ status: 0, field, message, method, route })

/** Builds the path from a route template, percent-encoding each parameter; rejects values that change the route. */
export const buildPath = (
  method: BkendClient.Method,
  route: string,
  params: Readonly<Record<string, string>> | undefined
): string | BkendError.InvalidInput => {
  const { literals, names } = templateOf(route)
  let path = literals[0] ?? ""
  for (let i = 0; i < names.length; i++) {
    const name = names[i] ?? ""
    const value = params?.[name]
    if (typeof value !== "string" || value.length === 0 || value === "." || value === "..") {
      return badParam(method, route, name, `${name} must be a non-empty string other than "." and ".."`)
    }
    // a lone surrogate cannot be percent-encoded (URIError): reject it like any other bad value
    if (LONE_SURROGATE.test(value)) return badParam(method, route, name, `${name} must be well-formed Unicode`)
    path += encodeURIComponent(value) + (literals[i + 1] ?? "")
  }
  return path
}

const queryParams = (query: Readonly<Record<string, BkendClient.QueryValue>> | undefined) => {
  const out: Array<[string, string]> = []
  if (query === undefined) return out
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push([key, String(v)])
    else out.push([key, String(value)])
  }
  return out
}

/**
 * The request of one call, without base URL, key or token (the transport and the call loop add those), or the
 * `InvalidInput` a parameter is refused with.
 */
export const make = <A, I, R>(
  options: BkendClient.Request<A, I, R>
): HttpClientRequest.HttpClientRequest | BkendError.InvalidInput => {
  const path = buildPath(options.method, options.route, options.params)
  if (typeof path !== "string") return path
  const base = HttpClientRequest.make(options.method)(path)
  const request = options.query === undefined ? base : HttpClientRequest.setUrlParams(base, queryParams(options.query))
  return options.body === undefined ? request : HttpClientRequest.bodyUnsafeJson(request, options.body)
}
