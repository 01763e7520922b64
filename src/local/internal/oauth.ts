/**
 * The redirect-style OAuth flow of bkend-local and its development sign-in page.
 *
 * bkend-local never contacts Google or GitHub. `GET /v1/auth/:provider/authorize` answers with an
 * `authorizationUrl` that points at a sign-in page served by bkend-local itself (`/_oauth/:provider/authorize`),
 * shaped like the provider's own URL. On that page you type an e-mail address; the page then redirects to
 * `GET /v1/auth/:provider/callback?code=…&state=…`, exactly as the provider would, and the callback signs that
 * address in and redirects to the app's return URL with `accessToken`, `refreshToken`, `expiresIn` and
 * `isNewUser` in the query (or `error` and `errorMessage`).
 *
 * @since 0.1.0
 */
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as K from "./kernel.js"

const FLOW_TTL = 10 * 60 * 1000
const PAGE_PATH = "/_oauth"

/**
 * One authorize request waiting for its callback, keyed by the `state` bkend-local generated.
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthFlow {
  readonly state: string
  readonly provider: string
  /** The app's URL the callback redirects to. */
  readonly returnUrl: string
  /** The app's own `state`, handed back on the final redirect. */
  readonly appState: string | undefined
  readonly expiresAt: number
  /** Set by the sign-in page: the one-time code and the e-mail it stands for. */
  code: string | undefined
  email: string | undefined
}

/**
 * The result of signing an e-mail in with a provider (supplied by the auth routes).
 *
 * @since 0.1.0
 * @category models
 */
export type SignIn = (
  provider: string,
  email: string
) => Effect.Effect<
  {
    readonly accessToken: string
    readonly refreshToken: string
    readonly expiresIn: number
    readonly isNewUser: boolean
  },
  K.ApiError,
  K.Local | HttpServerRequest.HttpServerRequest
>

const withQuery = (url: string, params: Record<string, string>): string => {
  const u = new URL(url)
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return u.toString()
}

const isHttpUrl = (s: string): boolean => {
  try {
    const u = new URL(s)
    return u.protocol === "http:" || u.protocol === "https:"
  } catch {
    return false
  }
}

/**
 * The app's return URL of an authorize request: `redirect`, `redirect_uri`, `redirectUri` or `callbackUrl`.
 *
 * @since 0.1.0
 * @category flow
 */
export const returnUrlOf = (q: Readonly<Record<string, string>>): string | undefined =>
  q.redirect ?? q.redirect_uri ?? q.redirectUri ?? q.callbackUrl

/**
 * Starts a flow and returns the `authorizationUrl` of the development sign-in page.
 *
 * @since 0.1.0
 * @category flow
 */
export const startFlow = (
  provider: string,
  returnUrl: string | undefined,
  appState: string | undefined
): Effect.Effect<{ authorizationUrl: string }, K.ApiError, K.Local | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    if (returnUrl === undefined || returnUrl === "") {
      return yield* K.fail(400, "auth/invalid-request", "redirect (the app's callback URL) is required")
    }
    if (!isHttpUrl(returnUrl)) return yield* K.fail(400, "auth/invalid-request", "redirect must be an http(s) URL")
    const { state } = yield* K.Local
    const base = yield* K.publicBaseUrl
    const t = yield* K.now
    for (const [id, f] of state.oauthFlows) if (f.expiresAt <= t) state.oauthFlows.delete(id)
    const flow: OAuthFlow = {
      state: K.randomToken(),
      provider,
      returnUrl,
      appState,
      expiresAt: t + FLOW_TTL,
      code: undefined,
      email: undefined
    }
    state.oauthFlows.set(flow.state, flow)
    const authorizationUrl = withQuery(`${base}${PAGE_PATH}/${provider}/authorize`, {
      client_id: "bkend-local",
      redirect_uri: `${base}/v1/auth/${provider}/callback`,
      response_type: "code",
      scope: provider === "github" ? "user:email" : "openid email profile",
      state: flow.state
    })
    return { authorizationUrl }
  })

/**
 * The pending flow a callback's `state` names, if any (then the callback is this flow's redirect).
 *
 * @since 0.1.0
 * @category flow
 */
export const pendingFlow = (
  state: K.LocalState,
  provider: string,
  flowState: string | undefined,
  t: number
): OAuthFlow | undefined => {
  const flow = flowState === undefined ? undefined : state.oauthFlows.get(flowState)
  return flow !== undefined && flow.provider === provider && flow.expiresAt > t ? flow : undefined
}

/**
 * Ends a flow at its callback: signs the page's e-mail in and redirects to the app with the tokens, or with
 * `error` / `errorMessage`. The flow is used once.
 *
 * @since 0.1.0
 * @category flow
 */
export const finishFlow = (flow: OAuthFlow, q: Readonly<Record<string, string>>, signIn: SignIn) =>
  Effect.gen(function* () {
    const { state } = yield* K.Local
    state.oauthFlows.delete(flow.state)
    const back = (params: Record<string, string>) =>
      HttpServerResponse.redirect(
        withQuery(flow.returnUrl, { ...params, ...(flow.appState !== undefined ? { state: flow.appState } : {}) }),
        { status: 302 }
      )
    if (q.error !== undefined) return back({ error: q.error, errorMessage: "Sign-in was cancelled" })
    if (flow.code === undefined || flow.email === undefined || q.code !== flow.code) {
      return back({ error: "invalid_code", errorMessage: "Invalid authorization code" })
    }
    const tokens = yield* Effect.either(signIn(flow.provider, flow.email))
    if (tokens._tag === "Left") return back({ error: tokens.left.code, errorMessage: tokens.left.message })
    return back({
      accessToken: tokens.right.accessToken,
      refreshToken: tokens.right.refreshToken,
      expiresIn: String(tokens.right.expiresIn),
      isNewUser: String(tokens.right.isNewUser)
    })
  })

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const page = (provider: string, flowState: string, error: string | undefined, status: number) => {
  const name = provider === "github" ? "GitHub" : provider === "google" ? "Google" : provider
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in with ${escapeHtml(name)} (bkend-local)</title>
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
input,button{font:inherit;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}.error{color:#b00020}</style>
</head><body>
<h1>Sign in with ${escapeHtml(name)}</h1>
<p>Development sign-in served by bkend-local: no ${escapeHtml(name)} account is contacted. Type any e-mail address.</p>
${error !== undefined ? `<p class="error">${escapeHtml(error)}</p>` : ""}
<form method="post">
<input type="hidden" name="state" value="${escapeHtml(flowState)}">
<label>E-mail <input type="email" name="email" required autofocus></label>
<button type="submit">Sign in</button>
<button type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
</form></body></html>`
  return HttpServerResponse.html(html).pipe(
    HttpServerResponse.setStatus(status),
    HttpServerResponse.setHeader(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    )
  )
}

const flowOfPage = (flowState: string | undefined) =>
  Effect.gen(function* () {
    const { provider } = yield* HttpRouter.params
    const { state } = yield* K.Local
    const flow = pendingFlow(state, provider ?? "", flowState, yield* K.now)
    if (flow === undefined) return yield* K.fail(400, "auth/invalid-request", "Unknown or expired sign-in request")
    return flow
  })

const showPage = Effect.gen(function* () {
  const q = yield* K.query
  const flow = yield* flowOfPage(q.state)
  return page(flow.provider, flow.state, undefined, 200)
})

const submitPage = Effect.gen(function* () {
  const { options } = yield* K.Local
  const form = new URLSearchParams(new TextDecoder().decode(yield* K.rawBody(options.maxBodyBytes)))
  const flow = yield* flowOfPage(form.get("state") ?? undefined)
  const callback = `${yield* K.publicBaseUrl}/v1/auth/${flow.provider}/callback`
  if (form.get("cancel") !== null) {
    return HttpServerResponse.redirect(withQuery(callback, { error: "access_denied", state: flow.state }), {
      status: 302
    })
  }
  const email = (form.get("email") ?? "").trim()
  if (!K.isEmail(email)) return page(flow.provider, flow.state, "Type a valid e-mail address.", 400)
  flow.code = K.randomToken()
  flow.email = K.normalizeEmail(email)
  return HttpServerResponse.redirect(withQuery(callback, { code: flow.code, state: flow.state }), { status: 302 })
})

/**
 * The development sign-in page: `GET` shows it, `POST` (a form) issues the code and redirects to the callback.
 *
 * @since 0.1.0
 * @category routers
 */
export const pageRouter: HttpRouter.HttpRouter<K.ApiError, K.Local> = HttpRouter.empty.pipe(
  HttpRouter.get(`${PAGE_PATH}/:provider/authorize`, showPage),
  HttpRouter.post(`${PAGE_PATH}/:provider/authorize`, submitPage)
)
