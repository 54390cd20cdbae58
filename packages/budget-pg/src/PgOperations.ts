/**
 * The ledger's operations on PostgreSQL, each ONE statement (no interactive transaction, no
 * SERIALIZABLE retry): the conditional update of the tenant's row, the reservation and the
 * operation id in CTEs of the same statement, returning the result the state machine
 * (`@calybris/budget/LedgerState`) returns for the same command on the same state.
 *
 * How a statement is linearizable per tenant: its first CTE locks the rows it decides on
 * (`SELECT … FOR UPDATE`, which in READ COMMITTED returns the newest committed version, after
 * waiting for any writer), the decision and the refusal's numbers come from that locked
 * version, and the `UPDATE` that follows writes the same version. Two statements on one tenant
 * are ordered by that row lock.
 *
 * Operation ids: a statement first reads the id (`prior`); a retry with the same fingerprint
 * returns the remembered result, another fingerprint is an `IdempotencyConflict`, and a new
 * id is inserted with the result, refusals included (so a delayed duplicate of a refused
 * reserve is refused again, whatever happened since). Two statements with one new id at once:
 * both apply, the second's insert of the id violates its primary key and the whole second
 * statement rolls back; it is run again and finds the first's result (at most twice more).
 *
 * Overflow tests are computed in `numeric` (PostgreSQL folds an expression of parameters at
 * planning time, so a `bigint` subtraction guarded by a WHERE could still overflow and fail).
 * Every 64-bit number leaves the database as text (`::text`) and is decoded by `BigInt`, so no
 * value ever passes through a JS number, whatever the `pg` type parsers are set to.
 */
import * as Arguments from "@calybris/budget/Arguments"
import type * as Command from "@calybris/budget/Command"
import { IdempotencyConflict, type InvalidArgument, LedgerStoreError } from "@calybris/budget/LedgerError"
import * as LedgerState from "@calybris/budget/LedgerState"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const I64_MAX = 9223372036854775807n

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

/**
 * The guard of every statement: its decision (made on the rows its first CTEs locked) and its
 * conditional writes (whose WHERE PostgreSQL re-evaluates on the newest version of the row) must
 * agree. Should they not, this expression fails the statement (an integer that does not parse:
 * SQL has no RAISE), which rolls every write of it back; the statement is then run again.
 * Measured: concurrent statements on one tenant did disagree (a decision on an older version
 * of the tenant's row than the one the UPDATE wrote), and the CHECK constraints caught it.
 */
const RETRY_MARK = "calybris_budget_retry"
/** (`column` keeps it from being folded into a constant, which would fail every statement at planning) */
const retry = (column: string): Statement.Fragment =>
  Statement.unsafeFragment(`('${RETRY_MARK}:' || ${column})::int::text`)
const RETRY = retry("d.tag")

/** Did the statement fail its own guard (so nothing of it was written)? */
const disagreed = (error: SqlError): boolean => {
  const cause = error.cause as { readonly code?: unknown; readonly message?: unknown } | undefined
  return typeof cause === "object" && cause !== null && cause.code === "22P02" &&
    typeof cause.message === "string" && cause.message.includes(RETRY_MARK)
}

/** Did this statement lose the race to insert a new operation id (so the id is now remembered)? */
export const lostIdRace = (error: SqlError): boolean => {
  const cause = error.cause as { readonly code?: unknown; readonly constraint?: unknown } | undefined
  return typeof cause === "object" && cause !== null && cause.code === "23505" && cause.constraint === OPERATIONS_KEY
}

/** Run a statement returning one `Row`, again when it lost an operation-id race (at most twice more). */
const runRow = (
  operation: string,
  statement: Effect.Effect<ReadonlyArray<unknown>, SqlError>
): Effect.Effect<Row, LedgerStoreError> =>
  statement.pipe(
    Effect.retry({ times: 8, while: (e) => e instanceof SqlError && (lostIdRace(e) || disagreed(e)) }),
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

export const reserveResult = (row: Row, c: Command.Command): Command.ReserveResult | IdempotencyConflict => {
  switch (row.tag) {
    case "Reserved":
      return {
        _tag: "Reserved",
        reservation_id: Arguments.issuedReservationId(field(row, "b")),
        remaining_microcents: field(row, "a")
      }
    case "Insufficient":
      return { _tag: "Insufficient", remaining_microcents: field(row, "a"), required_microcents: field(row, "b") }
    case "MissingTenant":
      return { _tag: "MissingTenant" }
    case "ExposureLimitExceeded":
      return {
        _tag: "ExposureLimitExceeded",
        current_reserved_microcents: field(row, "a"),
        max_reserved_microcents: field(row, "b")
      }
    case "Overflow":
      return { _tag: "Overflow", current_reserved_microcents: field(row, "a") }
    case "IdempotencyConflict":
      return conflict(c)
  }
  throw new Error(`unknown reserve outcome ${row.tag}`)
}

export const settlementResult = (row: Row, c: Command.Command): Command.SettlementResult | IdempotencyConflict => {
  switch (row.tag) {
    case "Committed":
      return { _tag: "Committed", remaining_microcents: field(row, "a"), actual_microcents: field(row, "b") }
    case "Released":
      return { _tag: "Released", remaining_microcents: field(row, "a"), returned_microcents: field(row, "b") }
    case "Overrun":
      return { _tag: "Overrun", remaining_microcents: field(row, "a") }
    case "InvalidAmount":
    case "MissingReservation":
    case "MissingTenant":
      return { _tag: row.tag }
    case "Overflow":
      return { _tag: "Overflow", remaining_microcents: field(row, "a") }
    case "IdempotencyConflict":
      return conflict(c)
  }
  throw new Error(`unknown settlement outcome ${row.tag}`)
}

export const topUpResult = (row: Row, c: Command.Command): Command.TopUpResult | IdempotencyConflict => {
  switch (row.tag) {
    case "ToppedUp":
      return {
        _tag: "ToppedUp",
        added_microcents: field(row, "a"),
        new_initial_microcents: field(row, "b"),
        remaining_microcents: field(row, "c")
      }
    case "MissingTenant":
    case "InvalidAmount":
    case "Overflow":
      return { _tag: row.tag }
    case "IdempotencyConflict":
      return conflict(c)
  }
  throw new Error(`unknown top-up outcome ${row.tag}`)
}

/** Refuse a command whose arguments are out of range, before the database sees it. */
export const validate = (c: Command.Command): Effect.Effect<void, InvalidArgument> => {
  const error = Arguments.validateCommand(c)
  return error === undefined ? Effect.void : Effect.fail(error)
}

/**
 * The statement's head and tail shared by every retry-safe operation: `prior` (the remembered
 * operation under this id, if any) and, after the operation's `outcome`, the insert of the id
 * with that outcome and the one row returned.
 */
const prior = (sql: SqlClient.SqlClient, op: Uint8Array | null): Statement.Fragment =>
  sql`prior AS (
    SELECT fingerprint, tag, a, b, c FROM calybris_budget_operations WHERE operation_id = ${op}::bytea
  )`
const rememberAndReturn = (sql: SqlClient.SqlClient, op: Uint8Array | null, fp: string): Statement.Fragment =>
  sql`remember AS (
    INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT ${op}::bytea, ${fp}::text, tag, a, b, c FROM outcome WHERE ${op}::bytea IS NOT NULL
  )
  SELECT tag, a::text AS a, b::text AS b, c::text AS c FROM outcome
  UNION ALL
  SELECT 'IdempotencyConflict', NULL, NULL, NULL FROM prior WHERE fingerprint <> ${fp}::text
  UNION ALL
  SELECT tag, a::text, b::text, c::text FROM prior WHERE fingerprint = ${fp}::text`

/**
 * A retry-safe operation: its arguments checked, then one statement — `prior`, the operation's own
 * CTEs (ending in `outcome`), the id remembered with that outcome — and its row read as a result.
 */
const retrySafe = <A>(
  operation: string,
  c: Command.Command,
  ctes: Statement.Fragment,
  result: (row: Row, c: Command.Command) => A
): Effect.Effect<A, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    const op = idOf(c)
    const fp = LedgerState.fingerprint(c)
    const row = yield* runRow(operation, sql`WITH ${prior(sql, op)}, ${ctes}, ${rememberAndReturn(sql, op, fp)}`)
    return result(row, c)
  })

/**
 * A reservation id as the `bigint` column holds it: the sequence issues 1 to i64 max, so a u64
 * beyond that names no hold (-1, which no row has, keeps the primary key's index usable).
 */
export const held = (reservation: bigint): bigint => reservation <= I64_MAX ? reservation : -1n

const idOf = (c: Command.Command): Uint8Array | null => {
  const id = LedgerState.operationId(c)
  return id === undefined ? null : bytes(id)
}

/** Create a tenant with these funds, unless it exists (a cap set before it was created stays). */
export const ensureTenant = (
  c: Command.CommandOf<"EnsureTenant">
): Effect.Effect<void, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO calybris_budget_tenants AS t (tenant, present, initial, remaining, reserved, committed)
      VALUES (${bytes(c.tenant)}::bytea, true, ${c.amount}::bigint, ${c.amount}::bigint, 0, 0)
      ON CONFLICT (tenant) DO UPDATE SET present = true, initial = EXCLUDED.initial, remaining = EXCLUDED.remaining
      WHERE NOT t.present`.pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "ensureTenant", cause })))
  })

/** Set (max > 0) or remove (max ≤ 0) a tenant's exposure cap, also before the tenant exists. */
export const setExposureCap = (
  c: Command.CommandOf<"SetExposureCap">
): Effect.Effect<void, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    yield* validate(c)
    const sql = yield* SqlClient.SqlClient
    const tenant = bytes(c.tenant)
    yield* (c.max > 0n
      ? sql`INSERT INTO calybris_budget_tenants AS t (tenant, present, initial, remaining, reserved, committed, cap)
          VALUES (${tenant}::bytea, false, 0, 0, 0, 0, ${c.max}::bigint)
          ON CONFLICT (tenant) DO UPDATE SET cap = EXCLUDED.cap`
      : sql`UPDATE calybris_budget_tenants SET cap = NULL WHERE tenant = ${tenant}::bytea AND cap IS NOT NULL`)
      .pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "setExposureCap", cause })))
  })

/** Add funds to a tenant: `initial` and `remaining` grow by the amount. */
export const topUp = (
  c: Command.CommandOf<"TopUp">
): Effect.Effect<Command.TopUpResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tenant = bytes(c.tenant)
    const amount = c.amount
    return yield* retrySafe(
      "topUp",
      c,
      sql`cur AS (
        SELECT initial FROM calybris_budget_tenants
        WHERE tenant = ${tenant}::bytea AND present AND ${amount}::bigint > 0 AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      decision AS (
        SELECT CASE WHEN initial::numeric + ${amount}::bigint > ${I64_MAX}::numeric THEN 'Overflow' ELSE 'ToppedUp' END AS tag
        FROM cur
      ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET initial = t.initial + ${amount}::bigint, remaining = t.remaining + ${amount}::bigint
        FROM decision d WHERE t.tenant = ${tenant}::bytea AND d.tag = 'ToppedUp'
          AND t.initial::numeric + ${amount}::bigint <= ${I64_MAX}::numeric
        RETURNING t.initial, t.remaining
      ),
      outcome AS (
        SELECT
          CASE
            WHEN ${amount}::bigint <= 0 THEN 'InvalidAmount'
            WHEN d.tag IS NULL THEN 'MissingTenant'
            WHEN d.tag = 'ToppedUp' AND NOT EXISTS (SELECT 1 FROM upd) THEN ${RETRY}
            ELSE d.tag
          END AS tag,
          CASE WHEN d.tag = 'ToppedUp' THEN ${amount}::bigint END AS a,
          CASE WHEN d.tag = 'ToppedUp' THEN (SELECT initial FROM upd) END AS b,
          CASE WHEN d.tag = 'ToppedUp' THEN (SELECT remaining FROM upd) END AS c
        FROM (SELECT 1) AS one LEFT JOIN decision d ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      )`,
      topUpResult
    )
  })

/**
 * Hold an amount for a tenant (a reserve, or an admit's hold: `c` carries its fingerprint's
 * fields). The state machine's order of refusals: a non-positive amount, a missing tenant, a
 * reserved total beyond i64, the exposure cap, the remaining funds.
 */
export const reserve = (
  c: Command.CommandOf<"Reserve" | "Admit">
): Effect.Effect<Command.ReserveResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tenant = bytes(c.tenant)
    const amount = c.amount
    const expiresAt = c.expires_at_ms ?? null
    return yield* retrySafe(
      "reserve",
      c,
      sql`cur AS (
        SELECT remaining, reserved, cap FROM calybris_budget_tenants
        WHERE tenant = ${tenant}::bytea AND present AND ${amount}::bigint > 0 AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      decision AS (
        SELECT
          CASE
            WHEN reserved::numeric + ${amount}::bigint > ${I64_MAX}::numeric THEN 'Overflow'
            WHEN cap IS NOT NULL AND reserved + ${amount}::bigint > cap THEN 'ExposureLimitExceeded'
            WHEN remaining < ${amount}::bigint THEN 'Insufficient'
            ELSE 'Reserved'
          END AS tag,
          remaining, reserved, cap
        FROM cur
      ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = t.remaining - ${amount}::bigint, reserved = t.reserved + ${amount}::bigint
        FROM decision d WHERE t.tenant = ${tenant}::bytea AND d.tag = 'Reserved'
          AND t.remaining >= ${amount}::bigint AND t.reserved::numeric + ${amount}::bigint <= ${I64_MAX}::numeric
          AND (t.cap IS NULL OR t.reserved + ${amount}::bigint <= t.cap)
        RETURNING t.remaining
      ),
      hold AS (
        INSERT INTO calybris_budget_reservations (id, tenant, amount, expires_at_ms)
        SELECT nextval('calybris_budget_reservation_ids'), ${tenant}::bytea, ${amount}::bigint, ${expiresAt}::bigint
        FROM upd
        RETURNING id
      ),
      outcome AS (
        SELECT
          CASE
            WHEN ${amount}::bigint <= 0 THEN 'Insufficient'
            WHEN d.tag IS NULL THEN 'MissingTenant'
            WHEN d.tag = 'Reserved' AND NOT EXISTS (SELECT 1 FROM upd) THEN ${RETRY}
            ELSE d.tag
          END AS tag,
          CASE
            WHEN ${amount}::bigint <= 0 THEN 0
            WHEN d.tag = 'Reserved' THEN (SELECT remaining FROM upd)
            WHEN d.tag = 'Insufficient' THEN d.remaining
            ELSE d.reserved
          END AS a,
          CASE
            WHEN ${amount}::bigint <= 0 OR d.tag = 'Insufficient' THEN ${amount}::bigint
            WHEN d.tag = 'Reserved' THEN (SELECT id FROM hold)
            WHEN d.tag = 'ExposureLimitExceeded' THEN d.cap
          END AS b,
          NULL::bigint AS c
        FROM (SELECT 1) AS one LEFT JOIN decision d ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      )`,
      reserveResult
    )
  })

/**
 * Settle a hold with the actual amount: the hold's amount leaves `reserved`, the actual joins
 * `committed`, the difference goes back to (or comes out of) `remaining`. The state machine's
 * order of refusals: a negative actual, a missing (or settled) hold, a committed total beyond
 * i64, an overrun beyond the remaining funds.
 */
export const commit = (
  c: Command.CommandOf<"Commit">
): Effect.Effect<Command.SettlementResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const actual = c.actual
    return yield* retrySafe(
      "commit",
      c,
      sql`h AS (
        SELECT id, tenant, amount FROM calybris_budget_reservations
        WHERE id = ${held(c.reservation)}::bigint AND state = 'open' AND ${actual}::bigint >= 0
          AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      cur AS (
        SELECT t.tenant, t.remaining, t.committed, h.amount
        FROM calybris_budget_tenants t JOIN h ON t.tenant = h.tenant
        FOR UPDATE OF t
      ),
      decision AS (
        SELECT
          CASE
            WHEN committed::numeric + ${actual}::bigint > ${I64_MAX}::numeric THEN 'Overflow'
            WHEN ${actual}::bigint > amount AND remaining < ${actual}::bigint - amount THEN 'Overrun'
            ELSE 'Committed'
          END AS tag,
          tenant, remaining, amount
        FROM cur
      ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = t.remaining - (${actual}::bigint - d.amount),
          reserved = t.reserved - d.amount,
          committed = t.committed + ${actual}::bigint
        FROM decision d WHERE t.tenant = d.tenant AND d.tag = 'Committed'
          AND t.committed::numeric + ${actual}::bigint <= ${I64_MAX}::numeric
          AND t.remaining::numeric - (${actual}::bigint - d.amount) >= 0
        RETURNING t.remaining
      ),
      settle AS (
        UPDATE calybris_budget_reservations r SET state = 'committed', actual = ${actual}::bigint
        FROM upd WHERE r.id = ${held(c.reservation)}::bigint AND r.state = 'open'
        RETURNING r.id
      ),
      outcome AS (
        SELECT
          CASE
            WHEN ${actual}::bigint < 0 THEN 'InvalidAmount'
            WHEN h.id IS NULL THEN 'MissingReservation'
            WHEN d.tag IS NULL THEN 'MissingTenant'
            WHEN d.tag = 'Committed' AND NOT EXISTS (SELECT 1 FROM settle) THEN ${RETRY}
            ELSE d.tag
          END AS tag,
          CASE WHEN d.tag = 'Committed' THEN (SELECT remaining FROM upd) ELSE d.remaining END AS a,
          CASE WHEN d.tag = 'Committed' THEN ${actual}::bigint END AS b,
          NULL::bigint AS c
        FROM (SELECT 1) AS one LEFT JOIN h ON true LEFT JOIN decision d ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      )`,
      settlementResult
    )
  })

/** Release a hold (`Release`), or release it because it expired (`Expire`, no operation id). */
export const release = (
  c: Command.CommandOf<"Release" | "Expire">
): Effect.Effect<Command.SettlementResult | IdempotencyConflict, OperationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const state = c._tag === "Expire" ? "expired" : "released"
    return yield* retrySafe(
      c._tag === "Expire" ? "expire" : "release",
      c,
      sql`h AS (
        SELECT id, tenant, amount FROM calybris_budget_reservations
        WHERE id = ${held(c.reservation)}::bigint AND state = 'open' AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      cur AS (
        SELECT t.tenant, h.amount FROM calybris_budget_tenants t JOIN h ON t.tenant = h.tenant FOR UPDATE OF t
      ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = t.remaining + cur.amount, reserved = t.reserved - cur.amount
        FROM cur WHERE t.tenant = cur.tenant
        RETURNING t.remaining, cur.amount
      ),
      settle AS (
        UPDATE calybris_budget_reservations r SET state = ${state}::text
        FROM upd WHERE r.id = ${held(c.reservation)}::bigint AND r.state = 'open'
        RETURNING r.id
      ),
      outcome AS (
        SELECT
          CASE
            WHEN h.id IS NULL THEN 'MissingReservation'
            WHEN u.remaining IS NULL THEN 'MissingTenant'
            WHEN NOT EXISTS (SELECT 1 FROM settle) THEN ${retry("h.id::text")}
            ELSE 'Released'
          END AS tag,
          u.remaining AS a,
          u.amount AS b,
          NULL::bigint AS c
        FROM (SELECT 1) AS one LEFT JOIN h ON true LEFT JOIN upd u ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      )`,
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
