import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect } from "effect"
import type * as BkendClient from "../BkendClient.js"
import * as BkendError from "../BkendError.js"

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const badParam = (method: string, route: string, field: string, message: string) =>
  Effect.fail(new BkendError.InvalidInput({ status: 0, field, message, method, route }))

/** Builds the path from a route template, percent-encoding each parameter; rejects values that change the route. */
export const buildPath = (
  method: BkendClient.Method,
  route: string,
  params: Readonly<Record<string, string>> | undefined
): Effect.Effect<string, BkendError.InvalidInput> =>
  Effect.suspend(() => {
    let path = ""
    for (const segment of route.split("/")) {
      if (path !== "" || segment !== "") path += "/"
      if (!segment.startsWith(":")) {
        path += segment
        continue
      }
      const name = segment.slice(1)
      const value = params?.[name]
      if (typeof value !== "string" || value.length === 0 || value === "." || value === "..") {
        return badParam(method, route, name, `${name} must be a non-empty string other than "." and ".."`)
      }
      // a lone surrogate cannot be percent-encoded (URIError): reject it like any other bad value
      if (LONE_SURROGATE.test(value)) return badParam(method, route, name, `${name} must be well-formed Unicode`)
      path += encodeURIComponent(value)
    }
    return Effect.succeed(path)
  })

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

/** The request of one call, without base URL, key or token (the transport and the call loop add those). */
export const make = <A, I, R>(
  options: BkendClient.Request<A, I, R>
): Effect.Effect<HttpClientRequest.HttpClientRequest, BkendError.InvalidInput> =>
  Effect.map(buildPath(options.method, options.route, options.params), (path) => {
    const request = HttpClientRequest.make(options.method)(path).pipe(
      HttpClientRequest.setUrlParams(queryParams(options.query))
    )
    return options.body === undefined ? request : HttpClientRequest.bodyUnsafeJson(request, options.body)
  })
