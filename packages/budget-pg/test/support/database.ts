/**
 * A throwaway PostgreSQL database for one test file, on the server named by
 * `CALYBRIS_TEST_DATABASE_URL` (a cluster the test run started): created with a fresh name,
 * UTF-8, and dropped (with its connections) when the file's layer is released. Without the
 * variable, `databaseUrl` is undefined and the files skip their tests, saying why.
 */
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import type { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as Postgres from "@calybris/testing/Postgres"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

export const databaseUrl: string | undefined = Postgres.databaseUrl()

/**
 * Run the PostgreSQL tests: there is a server, or one is required (`CALYBRIS_REQUIRE_POSTGRES=1`,
 * `.ci/run`), in which case a missing one fails the tests instead of skipping them.
 */
export const enabled: boolean = !Postgres.skip()

export const SKIP_REASON =
  "PostgreSQL tests skipped: no server (CALYBRIS_TEST_DATABASE_URL unset and PostgreSQL not found by the globalSetup)"

let counter = 0

/** The URL of the server with another database name. */
export const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** A client on `url` (pool of `maxConnections`). */
export const client = (
  url: string,
  maxConnections = 4
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url: Redacted.make(url), maxConnections, applicationName: "calybris-test" })

/**
 * A fresh database for this file: its URL, created on acquire and dropped on release.
 */
export const freshDatabase = (name: string): Effect.Effect<string, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = databaseUrl
    if (url === undefined) {
      return yield* Effect.dieMessage("no PostgreSQL test server (CALYBRIS_TEST_DATABASE_URL unset)")
    }
    const database = `calybris_${name}_${process.pid}_${Date.now()}_${counter++}`.replace(/[^a-z0-9_]/g, "_")
    const admin = (statement: string) =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        yield* sql.unsafe(statement)
      }).pipe(Effect.provide(client(url, 1)))
    yield* Effect.acquireRelease(
      admin(`CREATE DATABASE ${database} ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`),
      () => Effect.orDie(admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
    )
    return withDatabase(url, database)
  })

/** A client layer on a fresh database of this file (dropped when the layer is released). */
export const freshClient = (
  name: string,
  maxConnections = 4
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  Layer.unwrapScoped(Effect.map(freshDatabase(name), (url) => client(url, maxConnections)))

/** A client on a fresh database of this file, migrated. */
export const migratedClient = (
  name: string,
  maxConnections = 4
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError | LedgerStoreError> =>
  Layer.provideMerge(Layer.effectDiscard(PgSchema.migrate), freshClient(name, maxConnections))
