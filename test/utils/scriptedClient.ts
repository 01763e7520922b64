/**
 * The SDK's side of the scripted server (test/utils/scriptedServer.ts): sign in with its one password, read `/me`.
 */
import { Effect, Schema } from "effect"
import type * as BkendClient from "../../src/BkendClient.js"
import * as Session from "../../src/Session.js"
import * as Scripted from "./scriptedServer.js"

export const Me = Schema.Struct({ id: Schema.String, email: Schema.String })

export const signIn = (client: BkendClient.Service) =>
  client
    .request({
      method: "POST",
      route: "/v1/auth/email/signin",
      auth: "none",
      refreshOn401: false,
      body: { method: "password", email: "a@example.com", password: Scripted.PASSWORD },
      response: Session.TokenResponse
    })
    .pipe(Effect.flatMap(client.setTokens))

export const me = (client: BkendClient.Service) =>
  client.request({ method: "GET", route: "/v1/auth/me", auth: "required", response: Me })
