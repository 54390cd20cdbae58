/**
 * A throwaway PostgreSQL database for one test file, on the server named by
 * `CALYBRIS_TEST_DATABASE_URL` (`@calybris/testing/Postgres`'s `makeDatabase`: a fresh name,
 * dropped with its connections when the file's layer is released), and clients on it. Without a
 * server the files skip their tests, saying why (or fail them when one is required).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as Ledger from "@calybris/budget/Ledger"
import type { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as Postgres from "@calybris/testing/Postgres"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

/**
 * Run the PostgreSQL tests: there is a server, or one is required (`CALYBRIS_REQUIRE_POSTGRES=1`,
 * `.ci/run`), in which case a missing one fails the tests instead of skipping them.
 */
export const enabled: boolean = !Postgres.skip()

export const SKIP_REASON =
  "PostgreSQL tests skipped: no server (CALYBRIS_TEST_DATABASE_URL unset and PostgreSQL not found by the globalSetup)"

/** A client on `url` (pool of `maxConnections`). */
export const client = (
  url: string,
  maxConnections = 4
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url: Redacted.make(url), maxConnections, applicationName: "calybris-test" })

/** A fresh database for this file (`Postgres.makeDatabase`): its URL, dropped on release. */
export const freshDatabase: Effect.Effect<string, Postgres.PostgresError | Postgres.NoTestServer, Scope.Scope> = Effect
  .map(Postgres.makeDatabase, (database) => database.url)

/** A client layer on a fresh database of this file (dropped when the layer is released). */
export const freshClient = (
  maxConnections = 4
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError | Postgres.PostgresError | Postgres.NoTestServer> =>
  Layer.unwrapScoped(Effect.map(freshDatabase, (url) => client(url, maxConnections)))

/** A client on a fresh database of this file, migrated. */
export const migratedClient = (
  maxConnections = 4
): Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient,
  SqlError | LedgerStoreError | Postgres.PostgresError | Postgres.NoTestServer
> => Layer.provideMerge(Layer.effectDiscard(PgSchema.migrate), freshClient(maxConnections))

/** A fresh database of this file, migrated (dropped on release): its URL and a client on it (`maxConnections`). */
export const freshMigrated = (maxConnections: number) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const sql = yield* Layer.build(client(url, maxConnections)).pipe(Effect.map(Context.get(SqlClient.SqlClient)))
    yield* Effect.provideService(PgSchema.migrate, SqlClient.SqlClient, sql)
    return { url, sql }
  })

/** `freshMigrated`, and a `LedgerPg` ledger built on it (pool of `ledgerConnections`). */
export const freshLedger = (clientConnections: number, ledgerConnections: number) =>
  Effect.gen(function*() {
    const { sql, url } = yield* freshMigrated(clientConnections)
    const ledger = yield* Layer.build(
      LedgerPg.layer({ url: Redacted.make(url), maxConnections: ledgerConnections })
    ).pipe(Effect.map(Context.get(Ledger.Ledger)))
    return { url, sql, ledger }
  })

/**
 * A second fresh database of a test file (its `TwinDb` layer), where the same history runs as
 * single statements, to compare with the batcher's database.
 */
export class Twin extends Context.Tag("test/budget-pg/Twin")<
  Twin,
  Context.Context<PgClient.PgClient | SqlClient.SqlClient>
>() {}
export const TwinDb = Layer.scoped(Twin, Layer.build(migratedClient(2)))
/** Run `effect` on the twin database. */
export const onTwin = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Twin, (ctx) => Effect.provide(effect, ctx))

/**
 * Empty every ledger table (and any a later migration adds), restart the ids, reset the ledger row:
 * a fresh ledger in a few milliseconds (`DELETE`, the tables referenced by fewer foreign keys
 * first; a `TRUNCATE` costs ~150 ms here, a new database more).
 */
export const resetLedger: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql.unsafe(`DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'calybris\\_budget\\_%'
      AND c.relname NOT IN ('calybris_budget_migrations', 'calybris_budget_ledger')
    ORDER BY (SELECT count(*) FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = c.oid), c.relname
  LOOP EXECUTE format('DELETE FROM %I', r.relname); END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()
    AND sequencename LIKE 'calybris\\_budget\\_%'
  LOOP EXECUTE format('ALTER SEQUENCE %I RESTART', r.sequencename); END LOOP;
  UPDATE calybris_budget_ledger SET snapshot_version = 0, baseline = 0, journal_key_id = NULL;
END $$`).pipe(Effect.asVoid)
)
