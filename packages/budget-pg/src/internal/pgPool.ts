/**
 * The ledger's connection pool: `@effect/sql-pg`'s client over a `pg` pool of ours, so that
 * setting up a connection is bounded and waiting for a free one is not.
 *
 * `PgClient.layer`'s `connectTimeout` is the pool's `connectionTimeoutMillis`, which bounds both a
 * new connection's setup and a statement's wait for a free connection of the pool: under load, a
 * statement queued behind slow ones failed after it (a review). Without it, a server that accepts
 * the connection and never answers (or stalls after its first byte: a TLS handshake or a login
 * that never ends) hung the layer's build forever — `@effect/sql-pg` checks the pool with a first
 * query in an acquire it cannot interrupt (a hostile review). Here each connection is a client
 * whose own `connectionTimeoutMillis` bounds its setup (TCP, TLS, startup and login) alone, the
 * pool's queue has no timeout, and the first query, which opens the first connection, is bounded
 * too (`query_timeout`): a layer's build fails within about `timeout`, never hangs.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import pg from "pg"

export interface PoolOptions {
  readonly url: Redacted.Redacted<string>
  readonly applicationName: string
  readonly maxConnections?: number | undefined
  /** how long a connection's setup, and the build's first query, may take */
  readonly connectTimeout: Duration.DurationInput
}

/**
 * Run on each new connection before its first statement (a failure fails the connection): the
 * session's transactions READ COMMITTED, and `synchronous_commit` on unless it is `remote_apply`,
 * the one setting stronger (`off` loses acknowledged commits in a crash; `local` and
 * `remote_write` do not wait for a synchronous standby's flush, so a failover to it loses them: a
 * review).
 */
const PIN_SESSION = "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED; " +
  "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') <> 'remote_apply'"

/** A `PgClient` (and `SqlClient`) layer over a pool whose connections' setup is bounded (see the module's comment). */
export const poolLayer = (
  options: PoolOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> => {
  const ms = Math.max(1, Math.round(Duration.toMillis(options.connectTimeout)))
  /** a client whose setup is bounded, whatever the pool asks */
  class BoundedClient extends pg.Client {
    constructor(config?: Record<string, unknown>) {
      super({ ...config, connectionTimeoutMillis: ms })
    }
  }
  return PgClient.layerFromPool({
    acquire: Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const pool = new pg.Pool({
            connectionString: Redacted.value(options.url),
            application_name: options.applicationName,
            max: options.maxConnections,
            Client: BoundedClient,
            // each connection in the ledger's consistency model (docs/LEDGER.md), whatever the URL's
            // `options`, the database's or the role's defaults say: READ COMMITTED (the row locks'
            // order; under REPEATABLE READ a contended statement failed with 40001), and
            // synchronous_commit not off (an acknowledged operation lost in a server crash)
            onConnect: (client) => client.query({ text: PIN_SESSION, query_timeout: ms })
          })
          // an idle client's error (the server went away) is the next statement's, not the process's
          pool.on("error", () => {})
          try {
            await pool.query({ text: "SELECT 1", query_timeout: ms })
          } catch (error) {
            await pool.end().catch(() => undefined)
            throw error
          }
          return pool
        },
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      }),
      (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
    )
  })
}
