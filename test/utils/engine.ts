/**
 * The storage engine test servers run on: the in-memory engine by default, a fresh PostgreSQL database (created
 * for the server, dropped when its scope closes) with `BKEND_TEST_ENGINE=pg`. Both the server's own tests
 * (test/local/utils.ts) and the SDK's (test/utils/bkend.ts) start their servers here, so one switch runs either
 * suite on either engine.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import * as PgStore from "../../src/local/internal/pg/PgStore.js"
import * as LocalServer from "../../src/local/LocalServer.js"
import { Store } from "../../src/local/Store.js"
import { clientLayer } from "../local/pg/db.js"

/**
 * @since 0.1.0
 */
export const testEngine: "memory" | "pg" = process.env.BKEND_TEST_ENGINE === "pg" ? "pg" : "memory"

/**
 * A server on the test engine; on PostgreSQL its database lives as long as the scope.
 */
export const makeTestServer = (
  options?: Partial<LocalServer.LocalOptions>
): Effect.Effect<LocalServer.LocalServer, unknown, Scope.Scope> =>
  testEngine === "memory"
    ? LocalServer.make(options)
    : Effect.flatMap(Layer.build(PgStore.layer.pipe(Layer.provide(clientLayer))), (ctx) =>
        Effect.provideService(LocalServer.makeOnStore(options), Store, Context.get(ctx, Store))
      )
