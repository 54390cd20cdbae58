/**
 * The ledger's operations on PostgreSQL, each ONE statement (no interactive transaction, no
 * SERIALIZABLE retry): the conditional update of the tenant's row, the reservation and the
 * operation id in CTEs of the same statement, returning the result the state machine
 * (`@calybris/budget/LedgerState`) returns for the same command on the same state.
 *
 * How a statement is linearizable per tenant: its first CTE locks the rows it decides on
 * (`SELECT … FOR UPDATE`, which in READ COMMITTED returns the newest committed version, after
 * waiting for any writer), the decision, the result's numbers and every value the `UPDATE`
 * writes come from that locked version (see `RETRY_MARK` for why the UPDATE must not read the
 * row itself). Two statements on one tenant are ordered by that row lock.
 *
 * The journal (`PgJournal`): a statement that changes a tenant's state, or answers under an
 * operation id on a tenant that has a row (refusals included), appends one entry to that
 * tenant's hash chain in the same statement — its sequence and previous hash from the locked
 * row, its record's canonical JSON (the command from `PgJournal.recordHead`, the result built in
 * SQL), its hash by `calybris_budget_journal_hash` — and moves the row's head to it.
 *
 * Operation ids: a statement first reads the id (`prior`); a retry with the same fingerprint
 * returns the remembered result, another fingerprint is an `IdempotencyConflict`, and a new
 * id is inserted with the result, refusals included (so a delayed duplicate of a refused
 * reserve is refused again, whatever happened since). Two statements with one new id at once:
 * both apply, the second's insert of the id violates its primary key and the whole second
 * statement rolls back; it is run again and finds the first's result. Likewise two statements
 * creating one tenant's row (ensure, cap) at once.
 *
 * Overflow tests are computed in `numeric` (PostgreSQL folds an expression of parameters at
 * planning time, so a `bigint` subtraction guarded by a WHERE could still overflow and fail).
 * Every 64-bit number leaves the database as text (`::text`) and is decoded by `BigInt`, so no
 * value ever passes through a JS number, whatever the `pg` type parsers are set to.
 *
 * How they are sent: the retry-safe operations' statements are the bodies of plpgsql functions
 * (migration "6_operations"; one `RETURN QUERY` each, unchanged), called with one short
 * statement, so each session plans them once (checked: the generic plan keeps every lookup an
 * index scan); `ensureTenant` and `setExposureCap`, once per tenant, are sent whole.
 */
import * as Arguments from "@calybris/budget/Arguments"
import type * as Command from "@calybris/budget/Command"
import { IdempotencyConflict, type InvalidArgument, LedgerStoreError } from "@calybris/budget/LedgerError"
import * as LedgerState from "@calybris/budget/LedgerState"
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as PgJournal from "./PgJournal.js"

const utf8 = new TextEncoder()
/** Tenant and operation ids are stored as their UTF-8 bytes (any well-formed id, U+0000 included). */
const bytes = (s: string): Uint8Array => utf8.encode(s)

/** The one row every operation returns: the result's tag and up to three i64 fields, as text. */
export const Row = Schema.Struct({
  tag: Schema.String,
  a: Schema.NullOr(Schema.BigInt),
  b: Schema.NullOr(Schema.BigInt),
  c: Schema.NullOr(Schema.BigInt)
})
export type Row = typeof Row.Type
const decodeRows = Schema.decodeUnknown(Schema.Tuple(Row))

/** Failures of one operation: a refused argument, or the database. */
export type OperationError = InvalidArgument | LedgerStoreError

const OPERATIONS_KEY = "calybris_budget_operations_pkey"
/** (two statements creating one tenant's row at once: the second is run again and finds the row) */
const TENANTS_KEY = "calybris_budget_tenants_pkey"

/**
 * Why a statement's decision and its write cannot disagree (issue 15; the guard that reran
 * statements is gone): READ COMMITTED runs the whole statement on one snapshot, but a
 * `SELECT … FOR UPDATE` that meets a row updated since by a committed transaction locks and
 * returns the row's NEWEST version, while an `UPDATE`'s scan still reads the snapshot's version:
 * (1) its WHERE is evaluated on that older version, and a condition on a balance or on the
 * chain's sequence can drop the row before PostgreSQL ever rechecks it on the newest one
 * (EvalPlanQual rechecks only rows that passed); (2) its SET is computed from that older version
 * and the CHECK constraints are tested on the result BEFORE the update attempt finds the newer
 * version (then it recomputes): a stale `remaining - amount` can fail `remaining >= 0` although
 * the write would have been right. Both measured here on PostgreSQL 15. So every UPDATE selects
 * its row by key only (the tenant, the reservation id) and every value it writes — balances,
 * the chain's sequence and head — is computed from the locked CTE's output, which the lock keeps
 * the newest version until the statement ends: the decision, the result, the journal entry and
 * the write all come from one version of the row.
 *
 * The guard stays as an assertion, never rerun: a statement whose write did not happen where it
 * decided one (the tenant's row not updated, the hold not inserted or settled) fails itself (an
 * integer that does not parse: SQL has no RAISE), rolling every write of it back, and the caller
 * gets a `LedgerStoreError`.
 */
const RETRY_MARK = "calybris_budget_retry"
/** (`column` keeps it from being folded into a constant, which would fail every statement at planning) */
const retry = (column: string): Statement.Fragment =>
  Statement.unsafeFragment(`('${RETRY_MARK}:' || ${column})::int::text`)

/** The SQLSTATE the server answered a failed statement with (`pg`'s error's `code`), if any. */
export const sqlState = (error: SqlError): string | undefined => {
  const cause = error.cause as { readonly code?: unknown } | undefined
  return typeof cause === "object" && cause !== null && typeof cause.code === "string" ? cause.code : undefined
}

/**
 * Did this statement lose the race to insert a new operation id (so the id is now remembered),
 * or a new tenant's row (so the row now exists)?
 */
export const lostIdRace = (error: SqlError): boolean => {
  if (sqlState(error) !== "23505") return false
  const constraint = (error.cause as { readonly constraint?: unknown }).constraint
  return constraint === OPERATIONS_KEY || constraint === TENANTS_KEY
}

/**
 * Was this statement a deadlock victim (40P01) or a serialization failure (40001)? Rolled back
 * whole: safe to run again. (A deadlock can pair a batch with a single statement; 40001 comes from
 * an isolation above READ COMMITTED, which the ledger's own pool never uses but a `SqlClient` of
 * the caller's may.)
 */
export const rolledBack = (error: SqlError): boolean => {
  const state = sqlState(error)
  return state === "40P01" || state === "40001"
}

/**
 * Run a statement returning one `Row`, again when it lost the race to insert an operation id or a
 * tenant's row (the rerun finds the id, or the row), or was rolled back whole (`rolledBack`) —
 * outside a transaction only: inside a caller's (`SqlClient.withTransaction`) the failure aborted
 * the whole transaction, whose next statement fails with 25P02, so the failure is the caller's to
 * see and retry (a retry there hid a 40001 behind "transaction aborted": a review).
 */
const runRow = (
  operation: string,
  statement: Effect.Effect<ReadonlyArray<unknown>, SqlError>
): Effect.Effect<Row, LedgerStoreError> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
    Option.isSome(transaction)
      ? statement
      : Effect.retry(statement, {
        times: 8,
        while: (e) => e instanceof SqlError && (lostIdRace(e) || rolledBack(e))
      })).pipe(
      Effect.flatMap(decodeRows),
      Effect.map(([row]) => row),
      Effect.mapError((cause) => new LedgerStoreError({ operation, cause }))
    )

/** A field a result of this tag always has (a database that returns it null is not ours: a defect). */
const field = (row: Row, name: "a" | "b" | "c"): bigint => {
  const value = row[name]
  if (value === null) throw new Error(`ledger row ${row.tag} lacks ${name}`)
  return value
}

const conflict = (c: Command.Command): IdempotencyConflict =>
  new IdempotencyConflict({ operation_id: LedgerState.operationId(c) ?? "" })

/** The fields of each result in the journal (`Journal.RememberedResult`'s order) and the outcome column holding each. */
type Shapes = Readonly<Record<string, ReadonlyArray<readonly [name: string, column: "a" | "b" | "c"]>>>

const RESERVE_RESULTS: Shapes = {
  Reserved: [["reservation_id", "b"], ["remaining_microcents", "a"]],
  Insufficient: [["remaining_microcents", "a"], ["required_microcents", "b"]],
  MissingTenant: [],
  ExposureLimitExceeded: [["current_reserved_microcents", "a"], ["max_reserved_microcents", "b"]],
  Overflow: [["current_reserved_microcents", "a"]]
}
const SETTLEMENT_RESULTS: Shapes = {
  Committed: [["remaining_microcents", "a"], ["actual_microcents", "b"]],
  Released: [["remaining_microcents", "a"], ["returned_microcents", "b"]],
  Overrun: [["remaining_microcents", "a"]],
  InvalidAmount: [],
  MissingReservation: [],
  MissingTenant: [],
  Overflow: [["remaining_microcents", "a"]]
}
const TOP_UP_RESULTS: Shapes = {
  ToppedUp: [["added_microcents", "a"], ["new_initial_microcents", "b"], ["remaining_microcents", "c"]],
  MissingTenant: [],
  InvalidAmount: [],
  Overflow: []
}

/**
 * A statement's row as the result it stands for: each field of the tag's shape read from its
 * column (the same shapes print the result into the journal, so the two cannot drift), or the
 * conflict a remembered id with another fingerprint answers. A tag outside the shapes, or a field
 * the database returned null, is not ours: a defect.
 */
const resultOf = <A>(shapes: Shapes, kind: string) => (row: Row, c: Command.Command): A | IdempotencyConflict => {
  if (row.tag === "IdempotencyConflict") return conflict(c)
  const fields = shapes[row.tag]
  if (fields === undefined) throw new Error(`unknown ${kind} outcome ${row.tag}`)
  const result: Record<string, unknown> = { _tag: row.tag }
  for (const [name, column] of fields) result[name] = field(row, column)
  return result as A
}

/** A reserve's (or an admit's hold's) result; `reservation_id` is an id the database issued. */
export const reserveResult = resultOf<Command.ReserveResult>(RESERVE_RESULTS, "reserve")
/** A commit's or a release's (an expiry's) result. */
export const settlementResult = resultOf<Command.SettlementResult>(SETTLEMENT_RESULTS, "settlement")
/** A top-up's result. */
export const topUpResult = resultOf<Command.TopUpResult>(TOP_UP_RESULTS, "top-up")

/** Refuse a command whose arguments are out of range, before the database sees it. */
export const validate = (c: Command.Command): Effect.Effect<void, InvalidArgument> => {
  const error = Arguments.validateCommand(c)
  return error === undefined ? Effect.void : Effect.fail(error)
}

/**
 * A retry-safe operation: its arguments checked, then one call of its function (migration
 * "6_operations", whose body is the operation's statement: `prior`, the remembered operation
 * under this id, if any; the operation's own CTEs ending in `outcome`; the id remembered with
 * that outcome; the one row returned), built once the arguments are known valid (its journal
 * record needs them), and its row read as a result. The function, not a statement sent whole:
 * PostgreSQL keeps a function's plan per session, and plans an unnamed statement every time.
 */
const retrySafe = <A>(
  operation: string,
  c: Command.Command,
  call: (sql: SqlClient.SqlClient, op: Uint8Array | null, fp: string) => Statement.Fragment,
  result: (row: Row, c: Command.Command) => A
): Effect.Effect<A, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    const row = yield* runRow(
      operation,
      sql`SELECT r_tag AS tag, r_a AS a, r_b AS b, r_c AS c FROM ${call(sql, idOf(c), LedgerState.fingerprint(c))}`
    )
    return result(row, c)
  })

/**
 * A reservation id as the `bigint` column holds it: the sequence issues 1 to i64 max, so a u64
 * beyond that names no hold (-1, which no row has, keeps the primary key's index usable).
 */
export const held = (reservation: bigint): bigint => reservation <= Int.I64_MAX ? reservation : -1n

const idOf = (c: Command.Command): Uint8Array | null => {
  const id = LedgerState.operationId(c)
  return id === undefined ? null : bytes(id)
}

/** The tenant's journal key, as a statement's parameter (null: unkeyed). */
const journalKey = Effect.map(PgJournal.JournalKey, ({ key }) => key ?? null)

/**
 * A statement that creates or changes a tenant's row and journals it with a record without a
 * result (ensure, cap): `cur` (the row, locked) and `entry` come first (from the caller), then
 * the insert of a new row or the update of the locked one, the appended entry, and the guard.
 */
const rowStatement = (
  operation: string,
  sql: SqlClient.SqlClient,
  tenant: Uint8Array,
  ctes: Statement.Fragment,
  insert: Statement.Fragment,
  update: Statement.Fragment
): Effect.Effect<void, LedgerStoreError> =>
  Effect.asVoid(runRow(
    operation,
    sql`WITH ${ctes},
      ins AS (${insert} RETURNING tenant),
      upd AS (${update} RETURNING t.tenant, t.journal_seq AS seq),
      appended AS (
        INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
        SELECT ${tenant}::bytea, e.seq, e.previous, e.hash, e.data FROM entry e
        WHERE EXISTS (SELECT 1 FROM ins) OR EXISTS (SELECT 1 FROM upd)
      )
      SELECT
        CASE WHEN e.seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ins)
            AND NOT EXISTS (SELECT 1 FROM upd WHERE upd.seq = e.seq)
          THEN ${retry("e.seq::text")} ELSE 'Done' END AS tag,
        NULL AS a, NULL AS b, NULL AS c
      FROM (SELECT 1) AS one LEFT JOIN entry e ON true`
  ))

/**
 * Create a tenant with these funds, unless it exists (a cap set before it was created stays).
 * Journaled when it creates the tenant (`{"v":1,"command":{"kind":"ensure_tenant",…}}`).
 */
export const ensureTenant = (
  c: Command.CommandOf<"EnsureTenant">
): Effect.Effect<void, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    const key = yield* journalKey
    const tenant = bytes(c.tenant)
    const data = PgJournal.recordHead(c, false)
    yield* rowStatement(
      "ensureTenant",
      sql,
      tenant,
      sql`cur AS (
        SELECT present, journal_seq, journal_head FROM calybris_budget_tenants WHERE tenant = ${tenant}::bytea FOR UPDATE
      ),
      entry AS (
        SELECT coalesce(cur.journal_seq, 0) + 1 AS seq, cur.journal_head AS previous, ${data}::bytea AS data,
          calybris_budget_journal_hash(cur.journal_head, ${data}::bytea, ${key}::bytea) AS hash
        FROM (SELECT 1) AS one LEFT JOIN cur ON true WHERE cur.present IS NOT TRUE
      )`,
      sql`INSERT INTO calybris_budget_tenants
          (tenant, present, initial, remaining, reserved, committed, journal_seq, journal_head)
        SELECT ${tenant}::bytea, true, ${c.amount}::bigint, ${c.amount}::bigint, 0, 0, e.seq, e.hash
        FROM entry e WHERE NOT EXISTS (SELECT 1 FROM cur)`,
      sql`UPDATE calybris_budget_tenants t
        SET present = true, initial = ${c.amount}::bigint, remaining = ${c.amount}::bigint, reserved = 0, committed = 0,
          journal_seq = e.seq, journal_head = e.hash
        FROM entry e WHERE t.tenant = ${tenant}::bytea`
    )
  })

/**
 * Set (max > 0) or remove (max ≤ 0) a tenant's exposure cap, also before the tenant exists.
 * Journaled when it sets a cap or removes one (`{"v":1,"command":{"kind":"set_cap",…}}`).
 */
export const setExposureCap = (
  c: Command.CommandOf<"SetExposureCap">
): Effect.Effect<void, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    const key = yield* journalKey
    const tenant = bytes(c.tenant)
    const data = PgJournal.recordHead(c, false)
    yield* rowStatement(
      "setExposureCap",
      sql,
      tenant,
      sql`cur AS (
        SELECT cap, journal_seq, journal_head FROM calybris_budget_tenants WHERE tenant = ${tenant}::bytea FOR UPDATE
      ),
      entry AS (
        SELECT coalesce(cur.journal_seq, 0) + 1 AS seq, cur.journal_head AS previous, ${data}::bytea AS data,
          calybris_budget_journal_hash(cur.journal_head, ${data}::bytea, ${key}::bytea) AS hash
        FROM (SELECT 1) AS one LEFT JOIN cur ON true WHERE ${c.max}::bigint > 0 OR cur.cap IS NOT NULL
      )`,
      sql`INSERT INTO calybris_budget_tenants
          (tenant, present, initial, remaining, reserved, committed, cap, journal_seq, journal_head)
        SELECT ${tenant}::bytea, false, 0, 0, 0, 0, ${c.max}::bigint, e.seq, e.hash
        FROM entry e WHERE NOT EXISTS (SELECT 1 FROM cur)`,
      sql`UPDATE calybris_budget_tenants t
        SET cap = CASE WHEN ${c.max}::bigint > 0 THEN ${c.max}::bigint END, journal_seq = e.seq, journal_head = e.hash
        FROM entry e WHERE t.tenant = ${tenant}::bytea`
    )
  })

/**
 * Add funds to a tenant: `initial` and `remaining` grow by the amount. The order of refusals: a
 * non-positive amount, a missing tenant, an initial total beyond i64 (`calybris_budget_top_up`).
 */
export const topUp = (
  c: Command.CommandOf<"TopUp">
): Effect.Effect<Command.TopUpResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key = yield* journalKey
    return yield* retrySafe(
      "topUp",
      c,
      (sql, op, fp) =>
        sql`calybris_budget_top_up(${op}::bytea, ${fp}::text, ${bytes(c.tenant)}::bytea, ${c.amount}::bigint,
          ${PgJournal.recordHead(c, true)}::bytea, ${key}::bytea)`,
      topUpResult
    )
  })

/**
 * Hold an amount for a tenant (a reserve, or an admit's hold: `c` carries its fingerprint's
 * fields, `audited` the admit's audited decision for its journal record). The state machine's
 * order of refusals: a non-positive amount, a missing tenant, a reserved total beyond i64, the
 * exposure cap, the remaining funds. The reservation id is issued (from the global sequence)
 * before the write, so the journal's record can carry it (`calybris_budget_reserve`).
 */
export const reserve = (
  c: Command.CommandOf<"Reserve" | "Admit">,
  audited?: Json.Json
): Effect.Effect<Command.ReserveResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key = yield* journalKey
    return yield* retrySafe(
      "reserve",
      c,
      (sql, op, fp) =>
        sql`calybris_budget_reserve(${op}::bytea, ${fp}::text, ${bytes(c.tenant)}::bytea, ${c.amount}::bigint,
          ${c.expires_at_ms ?? null}::bigint, ${PgJournal.recordHead(c, true, audited)}::bytea, ${key}::bytea)`,
      reserveResult
    )
  })

/**
 * Settle a hold with the actual amount: the hold's amount leaves `reserved`, the actual joins
 * `committed`, the difference goes back to (or comes out of) `remaining`. The state machine's
 * order of refusals: a negative actual, a missing (or settled) hold, a committed total beyond
 * i64, an overrun beyond the remaining funds (`calybris_budget_commit`; the hold, any state,
 * and its tenant's row locked: a refusal on a settled hold is journaled on its tenant's chain).
 */
export const commit = (
  c: Command.CommandOf<"Commit">
): Effect.Effect<Command.SettlementResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key = yield* journalKey
    return yield* retrySafe(
      "commit",
      c,
      (sql, op, fp) =>
        sql`calybris_budget_commit(${op}::bytea, ${fp}::text, ${held(c.reservation)}::bigint, ${c.actual}::bigint,
          ${PgJournal.recordHead(c, true)}::bytea, ${key}::bytea)`,
      settlementResult
    )
  })

/**
 * Release a hold (`Release`), or release it because it expired (`Expire`, no operation id)
 * (`calybris_budget_release`, the hold's new state given).
 */
export const release = (
  c: Command.CommandOf<"Release" | "Expire">
): Effect.Effect<Command.SettlementResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key = yield* journalKey
    const state = c._tag === "Expire" ? "expired" : "released"
    return yield* retrySafe(
      c._tag === "Expire" ? "expire" : "release",
      c,
      (sql, op, fp) =>
        sql`calybris_budget_release(${op}::bytea, ${fp}::text, ${held(c.reservation)}::bigint, ${state}::text,
          ${PgJournal.recordHead(c, true)}::bytea, ${key}::bytea)`,
      settlementResult
    )
  })

/** A tenant's balances, exact (none for a tenant that was never ensured). */
export const tenantBalances = (
  tenant: string
): Effect.Effect<LedgerState.TenantState | undefined, LedgerStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT initial::text, remaining::text, reserved::text, committed::text
      FROM calybris_budget_tenants WHERE tenant = ${bytes(tenant)}::bytea AND present`
    const [row] = yield* decodeBalances(rows)
    return row
  }).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "tenantBalances", cause })))

const decodeBalances = Schema.decodeUnknown(Schema.Array(Schema.Struct({
  initial: Schema.BigInt,
  remaining: Schema.BigInt,
  reserved: Schema.BigInt,
  committed: Schema.BigInt
})))
