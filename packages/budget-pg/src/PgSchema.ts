/**
 * The ledger's schema on PostgreSQL and its migrations (`@effect/sql` Migrator), run under a
 * transaction-scoped advisory lock so that many instances booting at once migrate once: the
 * first takes the lock and migrates, the others wait for it and then find nothing to do.
 *
 * The tables (see docs/LEDGER.md, "PostgreSQL"):
 * - `calybris_budget_tenants`: one row per tenant id (UTF-8 bytes, so any well-formed id,
 *   U+0000 included, and byte order is the snapshots' order), its balances, its exposure cap
 *   and its journal head. CHECK constraints hold `remaining + reserved + committed = initial`
 *   and every balance ≥ 0 in the database itself. A cap set before the tenant exists is kept on
 *   a row that is not `present` (all balances 0), as the state machine keeps it.
 * - `calybris_budget_reservations`: every hold ever opened (id from a sequence), its state.
 * - `calybris_budget_operations`: client operation ids (unique) → the fingerprint of the
 *   command's arguments and the result it returned, refusals included.
 * - `calybris_budget_journal`: the per-tenant chain of committed commands (sequence per tenant,
 *   previous hash, hash); written by the layer in the next step of issue 15.
 *
 * Every operation is one statement (see `PgOperations`); the row of the tenant is its lock.
 */
import { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** The Migrator's table of applied migrations. */
export const MIGRATIONS_TABLE = "calybris_budget_migrations"

/**
 * The advisory lock every migration runs under (two int4 keys: "caly", "budg"). A
 * transaction-scoped lock: it is released when the migration's transaction ends, whatever
 * happens to the process.
 */
export const ADVISORY_LOCK = [0x6361_6c79, 0x6275_6467] as const

const I64_MAX = "9223372036854775807"
const U64_MAX = "18446744073709551615"

const m1 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
CREATE TABLE calybris_budget_tenants (
  tenant bytea PRIMARY KEY CHECK (octet_length(tenant) <= 1024),
  present boolean NOT NULL,
  initial bigint NOT NULL CHECK (initial >= 0),
  remaining bigint NOT NULL CHECK (remaining >= 0),
  reserved bigint NOT NULL CHECK (reserved >= 0),
  committed bigint NOT NULL CHECK (committed >= 0),
  cap bigint CHECK (cap > 0),
  journal_seq bigint NOT NULL DEFAULT 0 CHECK (journal_seq >= 0),
  journal_head bytea CHECK (octet_length(journal_head) = 32),
  CONSTRAINT calybris_budget_conserved CHECK (remaining::numeric + reserved + committed = initial),
  CONSTRAINT calybris_budget_absent_is_empty CHECK (present OR initial = 0)
)`)
  yield* sql.unsafe(`CREATE SEQUENCE calybris_budget_reservation_ids AS bigint MINVALUE 1 MAXVALUE ${I64_MAX} NO CYCLE`)
  yield* sql.unsafe(`
CREATE TABLE calybris_budget_reservations (
  id bigint PRIMARY KEY CHECK (id >= 1),
  tenant bytea NOT NULL REFERENCES calybris_budget_tenants (tenant),
  amount bigint NOT NULL CHECK (amount > 0),
  expires_at_ms bigint CHECK (expires_at_ms >= 0),
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'committed', 'released', 'expired')),
  actual bigint CHECK (actual >= 0),
  CONSTRAINT calybris_budget_settled CHECK ((state = 'committed') = (actual IS NOT NULL))
)`)
  yield* sql.unsafe(`
CREATE INDEX calybris_budget_reservations_open ON calybris_budget_reservations (tenant) WHERE state = 'open'`)
  yield* sql.unsafe(`
CREATE INDEX calybris_budget_reservations_expiring ON calybris_budget_reservations (expires_at_ms, id)
  WHERE state = 'open' AND expires_at_ms IS NOT NULL`)
  yield* sql.unsafe(`
CREATE TABLE calybris_budget_operations (
  operation_id bytea PRIMARY KEY CHECK (octet_length(operation_id) BETWEEN 1 AND 256),
  fingerprint text NOT NULL,
  tag text NOT NULL,
  a bigint,
  b bigint,
  c bigint
)`)
  yield* sql.unsafe(`
CREATE TABLE calybris_budget_journal (
  tenant bytea NOT NULL REFERENCES calybris_budget_tenants (tenant),
  seq bigint NOT NULL CHECK (seq >= 1),
  previous bytea NOT NULL CHECK (octet_length(previous) = 32),
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  entry bytea NOT NULL,
  PRIMARY KEY (tenant, seq)
)`)
})

/**
 * The ledger-wide state of the `Ledger` layer (`LedgerPg`): one row holding the snapshot version
 * (a u64 that wraps, as the state machine's) and the certificate baseline (the total committed
 * at the last certificate). Snapshots and certificates update it in the statement that reads the
 * balances.
 */
const m2 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
CREATE TABLE calybris_budget_ledger (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  snapshot_version numeric(20, 0) NOT NULL DEFAULT 0
    CHECK (snapshot_version BETWEEN 0 AND ${U64_MAX}),
  baseline bigint NOT NULL DEFAULT 0 CHECK (baseline >= 0)
)`)
  yield* sql.unsafe(`INSERT INTO calybris_budget_ledger DEFAULT VALUES`)
})

/** The migrations, in order (ids are never reused; a released migration is never edited). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_ledger": m1,
  "2_layer": m2
}

/** The highest migration id this version of the package needs (the last of `migrations`). */
export const REQUIRED: number = Math.max(...Object.keys(migrations).map((name) => Number.parseInt(name, 10)))

/**
 * The database is not migrated to the schema this version needs (`applied`: the highest migration
 * id applied, 0 for none). The ledger never creates its tables implicitly: an operator migrates.
 */
export class SchemaOutdated extends Schema.TaggedError<SchemaOutdated>()("SchemaOutdated", {
  applied: Schema.Number,
  required: Schema.Number
}) {
  override get message(): string {
    return `the ledger's PostgreSQL schema is at migration ${this.applied}, this version needs ${this.required}: ` +
      "run `calybris budget migrate`"
  }
}

/**
 * The highest migration id applied to the database (0 when it was never migrated), read without
 * creating anything.
 */
export const applied: Effect.Effect<number, LedgerStoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [exists] = yield* sql<
    { readonly present: boolean }
  >`SELECT to_regclass(${MIGRATIONS_TABLE}) IS NOT NULL AS present`
  if (exists === undefined || !exists.present) return 0
  const [row] = yield* sql<{ readonly id: number | null }>`SELECT max(migration_id) AS id FROM ${sql(MIGRATIONS_TABLE)}`
  return row?.id ?? 0
}).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "checkSchema", cause })))

/**
 * Fail with `SchemaOutdated` unless the database is migrated to `REQUIRED` (or beyond: a newer
 * version's migrations only add). Fail closed: a ledger on a database without its tables would
 * otherwise fail each statement, or worse, create them implicitly.
 */
export const check: Effect.Effect<void, SchemaOutdated | LedgerStoreError, SqlClient.SqlClient> = Effect.flatMap(
  applied,
  (id) => id >= REQUIRED ? Effect.void : Effect.fail(new SchemaOutdated({ applied: id, required: REQUIRED }))
)

const run = Migrator.make({})

/**
 * Run the pending migrations: the ids and names applied by this call (empty when another
 * instance applied them, or nothing was pending). One transaction under `ADVISORY_LOCK`: all
 * the pending migrations apply, or none.
 */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  LedgerStoreError,
  SqlClient.SqlClient
> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK[0]}::int, ${ADVISORY_LOCK[1]}::int)`
    // created here, under the lock: the Migrator's own check-then-create races between instances
    // (and a failed check inside a transaction would abort it)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  migration_id integer PRIMARY KEY,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  name text NOT NULL
)`)
    return yield* run({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE })
  }))
}).pipe(
  // the Migrator turns a failing migration into a defect: it is a storage failure here
  Effect.catchSomeDefect((defect) =>
    defect instanceof Migrator.MigrationError ? Option.some(Effect.fail(defect)) : Option.none()
  ),
  Effect.mapError((cause) => new LedgerStoreError({ operation: "migrate", cause })),
  Effect.withSpan("PgSchema.migrate")
)
