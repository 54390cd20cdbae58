/**
 * The `Ledger` service on PostgreSQL: one ledger shared by many gateway instances. Every
 * per-hold command is one statement of `PgOperations` (through an `Operations` record, so that a
 * group-commit batcher with the same shape can stand in for the direct statements); the
 * ledger-wide state (snapshot version, certificate baseline) is one row (`PgSchema` migration
 * "2_layer"), updated by the statement that reads the balances of a snapshot.
 *
 * Results and errors are the memory layer's for the same history: the arguments are checked
 * first (`Arguments.validateRequest`, an `InvalidArgument` with nothing changed; an `Expire` asked
 * for is refused: the ledger releases its own due holds), the holds due
 * by the Effect Clock are released (as `Expire`) before a command applies, and every query is
 * one `SELECT` as of the Clock now (a hold due is seen released) that writes nothing.
 *
 * A cross-tenant answer (a snapshot, the balances, a certificate) is one statement, so in READ
 * COMMITTED it reads one MVCC snapshot: every statement committed before it began, none after —
 * a state the ledger was in, never a mix. Snapshot versions are unique and increase (the
 * version row is locked by the statement that advances it); two snapshots taken at once by two
 * instances may see their balances in the other order than their versions.
 */
import * as Arguments from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Journal from "@calybris/budget/Journal"
import type { Audit } from "@calybris/budget/Ledger"
import { Ledger } from "@calybris/budget/Ledger"
import { type InvalidArgument, LedgerStoreError } from "@calybris/budget/LedgerError"
import type * as LedgerQuery from "@calybris/budget/LedgerQuery"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Hash from "@calybris/core/Hash"
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as Reader from "@calybris/wal/Reader"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { poolLayer } from "./internal/pgPool.js"
import { tenantText } from "./internal/tenantText.js"
import { failedTransaction } from "./internal/transaction.js"
import * as PgBatcher from "./PgBatcher.js"
import * as PgJournal from "./PgJournal.js"
import * as PgOperations from "./PgOperations.js"
import * as PgSchema from "./PgSchema.js"
import * as PgUrl from "./PgUrl.js"

/** Options of the layer over a client (`makeWithOptions`, `layerClientWithOptions`), and of `layer`. */
export interface LedgerOptions {
  /**
   * Run the per-hold commands (top-up, reserve and admit, commit, release, the expiry of due
   * holds) through a group-commit batcher (`PgBatcher`, these options; `true`: its defaults)
   * scoped to the layer, instead of one statement each (default). Ensure, cap, snapshots,
   * restores and the queries are statements of their own either way.
   */
  readonly batch?: boolean | PgBatcher.Options | undefined
  /**
   * Key the journal (`PgJournal.JournalKey`: every entry's hash an HMAC-SHA256 with it, passed to
   * every statement and the batcher, never stored). Every instance of a fleet needs the same key;
   * an empty key is refused (`PgJournal.JournalEmptyKey`) before anything is built. Default: the
   * `JournalKey` of the environment (unkeyed unless provided, e.g. by `PgJournal.layerKey`).
   */
  readonly journalKey?: Redacted.Redacted<Uint8Array> | undefined
}

/** Options of `layer`. */
export interface Options extends LedgerOptions {
  /** the database's URL (never printed: a connection error names the host and database only) */
  readonly url: Redacted.Redacted<string>
  /** run `PgSchema.migrate` before the schema is checked (default false: an operator migrates) */
  readonly migrate?: boolean | undefined
  /** the pool's size (default: the client's, 10) */
  readonly maxConnections?: number | undefined
}

/**
 * The per-hold operations, with `PgOperations`' signatures: the direct statements
 * (`directOperations`), or a group-commit batcher of the same shape (`makeWith`).
 */
export type Operations = PgBatcher.Operations

/** Each operation one statement of its own (`PgOperations`; the same record as `PgBatcher.direct`). */
export const directOperations: Operations = PgBatcher.direct

/** The database could not be reached (names the host and database, never the password). */
export class LedgerConnectionError extends Schema.TaggedError<LedgerConnectionError>()("LedgerConnectionError", {
  host: Schema.String,
  database: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot connect to the ledger's PostgreSQL database ${this.database} at ${this.host}: ${this.reason}`
  }
}

const store = (operation: string) => (cause: unknown) => new LedgerStoreError({ operation, cause })

const utf8 = new TextEncoder()
const bytes = (s: string): Uint8Array => utf8.encode(s)
/** `f` of the rows, a throw (`tenantText`) its failure. */
const mapRows = <A, B>(f: (rows: A) => B) => (rows: A): Effect.Effect<B, unknown> =>
  Effect.try({ try: () => f(rows), catch: (e) => e })
const hex = Hash.toHex

const Bytes = Schema.Uint8ArrayFromSelf
const Text = Schema.BigInt

/** A row of a snapshot statement: the version row, LEFT JOINed with each present tenant (in byte order). */
const SnapshotRow = Schema.Struct({
  version: Text,
  previous_baseline: Text,
  holds: Text,
  tenant: Schema.NullOr(Bytes),
  initial: Schema.NullOr(Text),
  remaining: Schema.NullOr(Text),
  reserved: Schema.NullOr(Text),
  committed: Schema.NullOr(Text),
  /** the tenant's `reserved` less the sum of its open holds (0 in every state the ledger was in) */
  unheld: Schema.NullOr(Text),
  /** a tenant holding open holds without a present row (null in every state the ledger was in) */
  orphan: Schema.NullOr(Bytes)
})
const decodeSnapshotRows = Schema.decodeUnknown(Schema.NonEmptyArray(SnapshotRow))

/**
 * What makes a snapshot row a state no operation leaves, or undefined: a balance below 0, or a
 * `reserved` that is not the sum of the tenant's open holds (`unheld`: a hold's amount changed or
 * a hold deleted in SQL). Such a row is refused, never shown or certified (a helper's hostile
 * review: a hold raised in SQL made `reserved` negative, and `certify` said balanced).
 */
const rowProblem = (b: Snapshot.TenantBalance, unheld: bigint): string | undefined => {
  for (
    const [field, value] of [
      ["initial", b.initial_microcents],
      ["remaining", b.remaining_microcents],
      ["reserved", b.reserved_microcents],
      ["committed", b.committed_microcents]
    ] as const
  ) {
    if (value < 0n) return `${field} is ${value} (below 0)`
  }
  return unheld === 0n
    ? undefined
    : `reserved is ${unheld > 0n ? `${unheld} more` : `${-unheld} less`} than its open holds`
}

const editedOutside = (tenant: string, problem: string): Error =>
  new Error(
    `tenant ${
      JSON.stringify(tenant)
    }: ${problem}: its row and its open holds in calybris_budget_reservations disagree — edited outside the ledger; audit its journal (calybris budget journal audit)`
  )

const BalanceRow = Schema.Struct({
  initial: Schema.NullOr(Text),
  remaining: Schema.NullOr(Text),
  reserved: Schema.NullOr(Text),
  committed: Schema.NullOr(Text),
  unheld: Schema.NullOr(Text),
  orphan: Schema.Boolean
})
const decodeBalanceRows = Schema.decodeUnknown(Schema.Array(BalanceRow))

const HoldRow = Schema.Struct({
  id: Text,
  tenant: Bytes,
  amount: Text,
  expires_at_ms: Schema.NullOr(Text)
})
const decodeHoldRows = Schema.decodeUnknown(Schema.Array(HoldRow))

const CapRow = Schema.Struct({ tenant: Bytes, cap: Text })
const decodeCapRows = Schema.decodeUnknown(Schema.Array(CapRow))

const CountsRow = Schema.Struct({ tenants: Text, holds: Text, version: Text })
const decodeCountsRow = Schema.decodeUnknown(Schema.Tuple(CountsRow))

const TotalsRow = Schema.Struct({ committed: Text, baseline: Text })
const decodeTotalsRow = Schema.decodeUnknown(Schema.Tuple(TotalsRow))

const IdRow = Schema.Struct({ id: Text })
const decodeIdRows = Schema.decodeUnknown(Schema.Array(IdRow))

/** How long a restore waits for each table lock (below the server's deadlock check, 1 s by default). */
const RESTORE_LOCK_TIMEOUT = "200ms"
/** How many times a restore tries to take its locks before it fails (`LedgerStoreError`). */
const RESTORE_ATTEMPTS = 50

/** Did a transaction give up a lock (its lock timeout, or a deadlock it was chosen to break)? */
const lockLost = (error: SqlError): boolean => {
  const state = PgOperations.sqlState(error)
  return state === "55P03" || state === "40P01"
}

/** What a snapshot statement does with the version row. */
type SnapshotMode = "read" | "advance" | "certify"

/**
 * The service over the `SqlClient` of the environment and these per-hold operations: the schema
 * is checked first (`PgSchema.SchemaOutdated` unless migrated: never created implicitly). Every
 * statement journals with the `PgJournal.JournalKey` of the environment at construction, which
 * must be the ledger's (`PgJournal.pinKey`: `JournalKeyMismatch` otherwise, nothing written).
 * A session with `synchronous_commit` off is refused first (`durableSession`).
 */
export const makeWith = (
  ops: Operations
): Effect.Effect<
  Ledger["Type"],
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> => Effect.zipRight(durableSession, build(ops, PgJournal.pinKey))

/**
 * A writer acknowledges an operation once its commit returned, which loses nothing in a server
 * crash only with `synchronous_commit` on (docs/LEDGER.md, "Crash"): the ledger's own pool sets
 * it on each connection (`internal/pgPool.ts`), and a `SqlClient` of the caller's whose session
 * has it off (the database's, the role's or the connection's setting) is refused here with
 * `LedgerStoreError` (operation "open"), before anything is written.
 */
const durableSession: Effect.Effect<void, LedgerStoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* Effect.mapError(
    sql<{ readonly setting: unknown }>`SELECT current_setting('synchronous_commit') AS setting`,
    (cause) => new LedgerStoreError({ operation: "open", cause })
  )
  const setting = rows[0]?.setting
  if (setting === "off") {
    return yield* new LedgerStoreError({
      operation: "open",
      cause: "synchronous_commit is \"off\" in this session (the database's, the role's or the connection's " +
        "setting): an acknowledged operation could be lost in a server crash; a ledger's writer needs it on"
    })
  }
})

/** `makeWith`, its key pinned (a writer's) or only compared (`makeReadOnly`) by `keyCheck`. */
const build = (
  ops: Operations,
  keyCheck: typeof PgJournal.pinKey,
  /** release (and journal) the holds due before each command: a writer's; not `unpinned`'s, which journal nothing */
  expireOnApply = true
): Effect.Effect<
  Ledger["Type"],
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const journalKey = yield* PgJournal.JournalKey
    yield* PgSchema.check
    // one journal key per ledger: the first instance pins it, another key is refused here
    yield* keyCheck
    const withSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>): Effect.Effect<A, E> =>
      effect.pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.provideService(PgJournal.JournalKey, journalKey)
      )
    const key = journalKey.key === undefined ? null : hex(journalKey.key)

    /** The holds due at `now` that are still open, in id order (a plain read: no lock). */
    const dueHolds = (now: bigint) =>
      // (ORDER BY r.id, the number: `ORDER BY id` names the text column, "10" before "2")
      sql`SELECT r.id::text AS id FROM calybris_budget_reservations r
        WHERE r.state = 'open' AND r.expires_at_ms <= ${now}::bigint ORDER BY r.id`.pipe(
        Effect.flatMap(decodeIdRows),
        Effect.mapError(store("expire"))
      )

    /**
     * Release every hold due at `now`, each by the one-statement `Expire` (`PgOperations.release`):
     * a hold two instances expire at once is released by one of them (the other finds it settled:
     * `MissingReservation`), so each is recorded once, as `expired`.
     */
    const expireDue = (now: bigint): Effect.Effect<void, LedgerStoreError> =>
      Effect.flatMap(dueHolds(now), (rows) =>
        Effect.forEach(
          rows,
          (row) =>
            ops.release(Command.expire(Arguments.issuedReservationId(row.id))).pipe(
              // an `Expire` of an id the database issued has valid arguments
              Effect.catchTag("InvalidArgument", (e) => Effect.die(e)),
              withSql
            ),
          // through a batcher, at once (it puts them in one batch); else one statement after another
          { discard: true, concurrency: ops === directOperations ? 1 : "unbounded" }
        ))

    /**
     * One statement: the balances as of `now` (holds due seen released) and the version row —
     * read, advanced (a snapshot), or advanced with the certificate baseline rotated. Every
     * answer comes from one MVCC snapshot; the version row's new value from its locked version.
     */
    const snapshotStatement = (now: bigint, mode: SnapshotMode): Statement.Statement<unknown> => {
      const version = mode === "read"
        ? sql`v AS (SELECT snapshot_version AS version, baseline AS previous_baseline FROM calybris_budget_ledger)`
        : sql`cur AS (SELECT snapshot_version, baseline FROM calybris_budget_ledger FOR UPDATE),
        tot AS (
          SELECT coalesce(sum(initial::numeric), 0) AS initial, coalesce(sum(committed::numeric), 0) AS committed
          FROM calybris_budget_tenants WHERE present
        ),
        v AS (
          UPDATE calybris_budget_ledger l SET
            snapshot_version = CASE WHEN cur.snapshot_version = ${Int.U64_MAX}::numeric THEN 0
              ELSE cur.snapshot_version + 1 END,
            baseline = CASE WHEN ${mode === "certify"}::boolean AND tot.initial <= ${Int.I64_MAX}::numeric
              AND tot.committed <= ${Int.I64_MAX}::numeric AND tot.committed > cur.baseline THEN tot.committed::bigint
              ELSE cur.baseline END
          FROM cur, tot
          RETURNING l.snapshot_version AS version, cur.baseline AS previous_baseline
        )`
      return sql`WITH ${version},
        o AS (
          -- the open holds, one pass: each tenant's sum, the sum of those due, how many are not due
          SELECT tenant, sum(amount) AS held,
            sum(amount) FILTER (WHERE expires_at_ms <= ${now}::bigint) AS due,
            count(*) FILTER (WHERE expires_at_ms IS NULL OR expires_at_ms > ${now}::bigint) AS live
          FROM calybris_budget_reservations WHERE state = 'open' GROUP BY tenant
        )
        SELECT v.version::text AS version, v.previous_baseline::text AS previous_baseline,
          (SELECT coalesce(sum(live), 0) FROM o)::text AS holds,
          (SELECT o.tenant FROM o WHERE NOT EXISTS (
            SELECT 1 FROM calybris_budget_tenants x WHERE x.tenant = o.tenant AND x.present
          ) ORDER BY o.tenant LIMIT 1) AS orphan,
          t.tenant, t.initial::text AS initial, (t.remaining + coalesce(o.due, 0))::text AS remaining,
          (t.reserved - coalesce(o.due, 0))::text AS reserved, t.committed::text AS committed,
          (t.reserved - coalesce(o.held, 0))::text AS unheld
        FROM v LEFT JOIN (calybris_budget_tenants t LEFT JOIN o ON o.tenant = t.tenant) ON t.present
        ORDER BY t.tenant`
    }

    /** The snapshot (and the baseline before the statement) of a snapshot statement. */
    const snapshotOf = (
      now: bigint,
      mode: SnapshotMode,
      operation: string
    ): Effect.Effect<{ readonly snapshot: Snapshot.Snapshot; readonly previousBaseline: bigint }, LedgerStoreError> => {
      const read = snapshotStatement(now, mode).pipe(
        Effect.flatMap(decodeSnapshotRows),
        Effect.flatMap(mapRows((rows) => {
          const [first] = rows
          // open holds of a tenant the ledger does not hold (a cap-only row, one made absent, none):
          // no operation leaves them, and no tenant's `reserved` covers them (a helper's hostile
          // review: they were counted in `active_reservations`, and certify said balanced)
          if (first.orphan !== null) {
            throw editedOutside(tenantText(first.orphan), "open holds of a tenant the ledger does not hold")
          }
          const tenants: Array<Snapshot.TenantBalance> = []
          for (const row of rows) {
            if (row.tenant === null) continue
            const tenant = tenantText(row.tenant)
            const balance = Snapshot.tenantBalance(
              tenant,
              row.initial ?? 0n,
              row.remaining ?? 0n,
              row.reserved ?? 0n,
              row.committed ?? 0n
            )
            const problem = rowProblem(balance, row.unheld ?? 0n)
            if (problem !== undefined) throw editedOutside(tenant, problem)
            tenants.push(balance)
          }
          return {
            snapshot: Snapshot.makeSnapshot(first.version, tenants, first.holds),
            previousBaseline: first.previous_baseline
          }
        }))
      )
      // a statement that advances the version (and rotates the baseline) is undone when its rows
      // are refused: a certify that failed advanced them, and the committed sum since the last
      // certificate was never certified (a helper's hostile review)
      return (mode === "read" ? read : failedTransaction(sql.withTransaction(read))).pipe(
        Effect.mapError(store(operation))
      )
    }

    const takeSnapshot = (now: bigint) => Effect.map(snapshotOf(now, "advance", "takeSnapshot"), (r) => r.snapshot)

    const certify = (now: bigint) =>
      Effect.map(snapshotOf(now, "certify", "certifyLedger"), ({ previousBaseline, snapshot }) => {
        // as `LedgerState.certifyLedger` (the statement rotated the baseline by the same rule)
        const balanced = Snapshot.conservationStatus(snapshot)._tag === "Balanced"
        const t = Snapshot.totals(snapshot)
        const since = t.representable && t.committed > previousBaseline ? t.committed - previousBaseline : 0n
        return Snapshot.certifySnapshot(snapshot, balanced, since)
      })

    /**
     * Replace every tenant by the snapshot's (refusals as the state machine's, checked first):
     * open holds dropped, tenants not in it absent (their rows stay, empty, with their caps),
     * the version set; caps, operation ids, reservation ids and the baseline stay. Under an
     * exclusive lock of the ledger's tables (readers go on), so no statement of another instance
     * interleaves: a restore is an exclusive recovery, not a hot-path operation.
     *
     * Journaled in the same transaction, on the chain of every tenant it rewrites (each tenant of
     * the snapshot, and each tenant present before that it makes absent): a restore of that tenant
     * alone, `{"v":1,"command":{"kind":"restore","snapshot":{"version":V,"tenants":[B],
     * "active_reservations":0}}}` with the tenant's balance `B` (no tenant: made absent), which
     * `PgJournal.audit` replays as the state machine restores (its open holds dropped, its cap kept).
     */
    const restore = (snapshot: Snapshot.Snapshot): Effect.Effect<L.RestoreResult, LedgerStoreError> => {
      const error = L.restoreCheck(snapshot)
      if (error !== undefined) return Effect.succeed({ _tag: "RestoreRefused", error })
      // one line per tenant: UTF-8 id in hex, initial, remaining, committed (reserved is 0)
      const lines = snapshot.tenants.map((t) =>
        `${hex(bytes(t.tenant_id))},${t.initial_microcents},${t.remaining_microcents},${t.committed_microcents}`
      ).join("\n")
      const inSnapshot = new Set(snapshot.tenants.map((t) => hex(bytes(t.tenant_id))))
      /** A tenant's restore record: its balance in the snapshot, or none (absent after the restore). */
      const record = (tenants: ReadonlyArray<Snapshot.TenantBalance>): string =>
        hex(PgJournal.recordHead(Command.restore(Snapshot.makeSnapshot(snapshot.version, tenants, 0n)), false))
      return sql.withTransaction(Effect.gen(function*() {
        // the tables one by one, while statements of other instances lock them in their own order:
        // waiting for them could deadlock (measured: a commit holds the holds' table and waits for
        // the tenants'), so the restore gives up first — its wait is shorter than the deadlock
        // check's — and starts again, the others never aborted
        yield* sql`SELECT set_config('lock_timeout', ${RESTORE_LOCK_TIMEOUT}, true)`
        yield* sql`LOCK TABLE calybris_budget_ledger, calybris_budget_tenants, calybris_budget_reservations
          IN EXCLUSIVE MODE`
        // the tenants present before (under the lock): those not in the snapshot become absent
        const present = yield* sql<{ readonly tenant: string }>`
          SELECT encode(tenant, 'hex') AS tenant FROM calybris_budget_tenants WHERE present`
        const journal: Array<readonly [tenant: string, data: string]> = snapshot.tenants.map((t) => [
          hex(bytes(t.tenant_id)),
          record([t])
        ])
        for (const { tenant } of present) if (!inSnapshot.has(tenant)) journal.push([tenant, record([])])
        yield* sql`WITH snap AS (
            SELECT decode(split_part(line, ',', 1), 'hex') AS tenant, split_part(line, ',', 2)::bigint AS initial,
              split_part(line, ',', 3)::bigint AS remaining, split_part(line, ',', 4)::bigint AS committed
            FROM regexp_split_to_table(${lines}::text, '\n') AS line WHERE line <> ''
          ),
          dropped AS (DELETE FROM calybris_budget_reservations WHERE state = 'open'),
          absent AS (
            UPDATE calybris_budget_tenants t SET present = false, initial = 0, remaining = 0, reserved = 0, committed = 0
            WHERE t.present AND NOT EXISTS (SELECT 1 FROM snap WHERE snap.tenant = t.tenant)
          ),
          put AS (
            INSERT INTO calybris_budget_tenants AS t (tenant, present, initial, remaining, reserved, committed)
            SELECT tenant, true, initial, remaining, 0, committed FROM snap
            ON CONFLICT (tenant) DO UPDATE SET present = true, initial = EXCLUDED.initial,
              remaining = EXCLUDED.remaining, reserved = 0, committed = EXCLUDED.committed
          )
          UPDATE calybris_budget_ledger SET snapshot_version = ${snapshot.version}::numeric`
        // (after the rows are written: a tenant new to the ledger has its row, and so its chain)
        if (journal.length > 0) {
          yield* sql.unsafe(
            `SELECT count(calybris_budget_journal_append(decode(u.tenant, 'hex'), decode(u.data, 'hex'),
              decode($3::text, 'hex'))) FROM unnest($1::text[], $2::text[]) AS u(tenant, data)`,
            [journal.map(([tenant]) => tenant), journal.map(([, data]) => data), key]
          )
        }
      })).pipe(
        failedTransaction,
        Effect.retry({ times: RESTORE_ATTEMPTS - 1, while: lockLost }),
        Effect.as<L.RestoreResult>({ _tag: "Restored" }),
        Effect.mapError(store("restore"))
      )
    }

    const applyOne = (
      c: L.Command,
      now: bigint,
      audited: Json.Json | undefined
    ): Effect.Effect<L.Result, LedgerStoreError | InvalidArgument> => {
      switch (c._tag) {
        case "EnsureTenant":
          return withSql(PgOperations.ensureTenant(c))
        case "SetExposureCap":
          return withSql(PgOperations.setExposureCap(c))
        case "TopUp":
          return withSql(ops.topUp(c))
        case "Reserve":
          return withSql(ops.reserve(c))
        case "Admit":
          return withSql(ops.reserve(c, audited))
        case "Commit":
          return withSql(ops.commit(c))
        case "Release":
        case "Expire":
          return withSql(ops.release(c))
        case "TakeSnapshot":
          return takeSnapshot(now)
        case "VerifyConservation":
          return Effect.map(takeSnapshot(now), Snapshot.conservationStatus)
        case "ProveConservation":
          return Effect.map(takeSnapshot(now), L.proofOf)
        case "CertifyLedger":
          return certify(now)
        case "Restore":
          return restore(c.snapshot)
      }
    }

    const nowMs = Arguments.nowMillis

    const apply = <C extends L.Command>(
      command: C,
      audit?: Audit
    ): Effect.Effect<L.ResultOf[C["_tag"]], LedgerStoreError | InvalidArgument> =>
      Effect.suspend(() => {
        // a copy checked, then applied and journaled after the expiries' round trip: the caller's
        // object changed meanwhile changes nothing (`Arguments.ownCommand`)
        const own = Arguments.ownCommand(command) as C
        const invalid = Arguments.validateRequest(own)
        if (invalid !== undefined) return Effect.fail(invalid)
        // an admit's audited decision, journaled with its hold: built (when given as a function)
        // before anything is written — if it cannot be, nothing is
        let audited: Json.Json | undefined = undefined
        if (own._tag === "Admit" && audit !== undefined) {
          // checked as the journaled layer checks it (`Arguments.auditedRecord`)
          const built = Arguments.auditedRecord(audit, own.amount)
          if (Either.isLeft(built)) return Effect.fail(built.left)
          audited = built.right
        }
        // a record no audit could read back (past the reader's line limit) is refused before
        // anything is written: journaled, the tenant's chain was unauditable for good (a
        // helper's hostile review). A restore's records are per tenant: each bounded.
        if (own._tag !== "Restore") {
          const tooLong = Journal.lineProblem(
            own,
            audited,
            audited,
            Reader.DEFAULT_MAX_LINE_BYTES,
            Journal.RESULT_BYTES
          )
          if (tooLong !== undefined) return Effect.fail(tooLong)
        }
        return Effect.flatMap(
          nowMs,
          (now) =>
            expireOnApply
              ? Effect.zipRight(expireDue(now), applyOne(own, now, audited))
              : applyOne(own, now, audited)
        )
      }) as Effect.Effect<L.ResultOf[C["_tag"]], LedgerStoreError | InvalidArgument>

    const query = <A>(operation: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, LedgerStoreError> =>
      Effect.mapError(effect, store(operation))

    const balance = (tenant: string) =>
      Effect.flatMap(nowMs, (now) =>
        query(
          "balance",
          // one statement, one snapshot: the tenant's balance, or — no tenant — whether open holds
          // name it (two statements could see an ensure and a reserve of another instance land
          // between them: a false alarm, a review of the first version)
          sql`WITH b AS (
            SELECT t.initial::text AS initial, (t.remaining + coalesce(d.s, 0))::text AS remaining,
              (t.reserved - coalesce(d.s, 0))::text AS reserved, t.committed::text AS committed,
              (t.reserved - coalesce(d.held, 0))::text AS unheld
            FROM calybris_budget_tenants t LEFT JOIN LATERAL (
              SELECT sum(amount) FILTER (WHERE r.expires_at_ms <= ${now}::bigint) AS s, sum(amount) AS held
              FROM calybris_budget_reservations r
              WHERE r.tenant = t.tenant AND r.state = 'open'
            ) d ON true
            WHERE t.tenant = ${bytes(tenant)}::bytea AND t.present
          )
          SELECT b.initial, b.remaining, b.reserved, b.committed, b.unheld,
            (b.initial IS NULL AND EXISTS (
              SELECT 1 FROM calybris_budget_reservations o WHERE o.tenant = ${bytes(tenant)}::bytea AND o.state = 'open'
            )) AS orphan
          FROM (SELECT 1) one LEFT JOIN b ON true`.pipe(
            Effect.flatMap(decodeBalanceRows),
            // a state no operation leaves is refused here too, as in a snapshot (`rowProblem`: a
            // helper's hostile review: `status TENANT` showed a hold raised in SQL, then a
            // negative reserved); no tenant but open holds naming it, too
            Effect.flatMap(mapRows(([row]) => {
              if (row === undefined || row.initial === null) {
                if (row?.orphan === true) {
                  throw editedOutside(tenant, "open holds of a tenant the ledger does not hold")
                }
                return Option.none<Snapshot.TenantBalance>()
              }
              if (row.remaining === null || row.reserved === null || row.committed === null || row.unheld === null) {
                // NOT NULL columns: only a schema edited in SQL holds a null
                throw editedOutside(tenant, "a balance column is null")
              }
              const balance = Snapshot.tenantBalance(tenant, row.initial, row.remaining, row.reserved, row.committed)
              const problem = rowProblem(balance, row.unheld)
              if (problem !== undefined) throw editedOutside(tenant, problem)
              return Option.some(balance)
            }))
          )
        ))

    const holds = (tenant?: string | undefined) =>
      Effect.flatMap(nowMs, (now) =>
        query(
          "holds",
          // (in id order, the number: `ORDER BY id` would name the text column, hold 10 before 2)
          sql`SELECT r.id::text AS id, r.tenant, r.amount::text AS amount, r.expires_at_ms::text AS expires_at_ms
          FROM calybris_budget_reservations r
          WHERE r.state = 'open' AND (r.expires_at_ms IS NULL OR r.expires_at_ms > ${now}::bigint)
            AND (${tenant === undefined}::boolean OR r.tenant = ${tenant === undefined ? null : bytes(tenant)}::bytea)
          ORDER BY r.id`.pipe(
            Effect.flatMap(decodeHoldRows),
            Effect.flatMap(mapRows((rows) =>
              rows.map((row) =>
                ({
                  reservation_id: Arguments.issuedReservationId(row.id),
                  tenant_id: tenantText(row.tenant),
                  amount_microcents: row.amount,
                  expires_at_ms: Option.fromNullable(row.expires_at_ms)
                }) as LedgerQuery.OpenHold
              )
            ))
          )
        ))

    const exposureCaps = query(
      "exposureCaps",
      sql`SELECT tenant, cap::text AS cap FROM calybris_budget_tenants WHERE cap IS NOT NULL ORDER BY tenant`.pipe(
        Effect.flatMap(decodeCapRows),
        Effect.flatMap(mapRows((rows) =>
          rows.map((row) =>
            ({
              tenant_id: tenantText(row.tenant),
              max_reserved_microcents: row.cap
            }) as LedgerQuery.ExposureCap
          )
        ))
      )
    )

    const exposureCap = (tenant: string) =>
      query(
        "exposureCap",
        sql`SELECT tenant, cap::text AS cap FROM calybris_budget_tenants
          WHERE tenant = ${bytes(tenant)}::bytea AND cap IS NOT NULL`.pipe(
          Effect.flatMap(decodeCapRows),
          Effect.map(([row]) => Option.map(Option.fromNullable(row), (r): bigint => r.cap))
        )
      )

    const counts = Effect.flatMap(nowMs, (now) =>
      query(
        "counts",
        sql`SELECT (SELECT count(*) FROM calybris_budget_tenants WHERE present)::text AS tenants,
          (SELECT count(*) FROM calybris_budget_reservations
            WHERE state = 'open' AND (expires_at_ms IS NULL OR expires_at_ms > ${now}::bigint))::text AS holds,
          (SELECT snapshot_version FROM calybris_budget_ledger)::text AS version`.pipe(
          Effect.flatMap(decodeCountsRow),
          Effect.map(([row]) =>
            ({
              tenant_count: Number(row.tenants),
              active_reservations: Number(row.holds),
              snapshot_version: row.version
            }) as LedgerQuery.Counts
          )
        )
      ))

    const totals = query(
      "totals",
      sql`SELECT (SELECT coalesce(sum(committed::numeric), 0) FROM calybris_budget_tenants WHERE present)::text
          AS committed, (SELECT baseline FROM calybris_budget_ledger)::text AS baseline`.pipe(
        Effect.flatMap(decodeTotalsRow),
        Effect.map(([row]) => {
          const total = row.committed > Int.I64_MAX ? Int.I64_MAX : row.committed
          return {
            total_committed_microcents: total,
            committed_since_last_certificate_microcents: Int.clampI64(total - row.baseline)
          } as LedgerQuery.Totals
        })
      )
    )

    const remembers = (operationId: string) =>
      query(
        "remembers",
        sql<{ readonly found: boolean }>`SELECT EXISTS (
          SELECT 1 FROM calybris_budget_operations WHERE operation_id = ${bytes(operationId)}::bytea
        ) AS found`.pipe(Effect.map(([row]) => row?.found === true))
      )

    return Ledger.of({
      apply,
      sweep: Effect.flatMap(nowMs, expireDue),
      balance,
      balances: Effect.flatMap(nowMs, (now) => Effect.map(snapshotOf(now, "read", "balances"), (r) => r.snapshot)),
      holds,
      exposureCap,
      exposureCaps,
      counts,
      totals,
      remembers
    })
  })

/** The service over the `SqlClient` of the environment, each operation its own statement. */
export const make: Effect.Effect<
  Ledger["Type"],
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> = makeWith(directOperations)

/** The `Ledger` over the `SqlClient` of the environment (checked, never migrated). */
export const layerClient: Layer.Layer<
  Ledger,
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> = Layer
  .effect(Ledger, make)

/**
 * `make`'s service with its journal key compared with the ledger's pinned one
 * (`PgJournal.checkKey`: `JournalKeyMismatch`), never pinned, applying only the commands
 * `allowed`: any other, and `sweep`, fail with `LedgerStoreError` (`refusal`) before any statement.
 * It journals nothing: a command does not release the holds due first (a snapshot sees them
 * released, as every query does; the next writer releases and journals them). A key compared
 * when it is built, with none pinned yet, says nothing of the key a writer pins later: an expiry
 * it journaled then was keyed with its key, not the ledger's, and broke that tenant's chain for
 * every key (the diff review).
 */
const unpinned = (
  allowed: ReadonlySet<L.Command["_tag"]>,
  refusal: string
): Effect.Effect<
  Ledger["Type"],
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> =>
  Effect.map(build(directOperations, PgJournal.checkKey, false), (ledger) => {
    const refused = (operation: string) => new LedgerStoreError({ operation, cause: new Error(refusal) })
    return Ledger.of({
      ...ledger,
      apply: (command, audit) =>
        command !== null && typeof command === "object" && allowed.has(command._tag)
          ? ledger.apply(command, audit)
          : Effect.fail(refused("apply")),
      sweep: Effect.fail(refused("sweep"))
    })
  })

/**
 * A reader's service over the `SqlClient` of the environment: its queries as `make`'s, its
 * journal key compared with the ledger's pinned one (`PgJournal.checkKey`: `JournalKeyMismatch`),
 * never pinned; `apply` and `sweep` fail with `LedgerStoreError` before any statement. Nothing it
 * does writes to the database: a read-only command (`calybris budget status`) on a ledger no
 * writer has opened yet does not choose the key every writer must then use.
 */
export const makeReadOnly = unpinned(
  new Set(),
  "this ledger is read-only (LedgerPg.makeReadOnly): it never writes"
)

/**
 * A maintenance service over the `SqlClient` of the environment (`calybris budget prove` and
 * `certify`): its queries as `make`'s, and of the commands only snapshots and certificates, which
 * advance the snapshot version (and rotate the certificate's baseline), the holds due seen
 * released, none released or journaled; any other command, and `sweep`, fail with
 * `LedgerStoreError` before any statement. It writes no journal entry, and its journal key is
 * compared with the ledger's pinned one (`PgJournal.checkKey`: `JournalKeyMismatch`), never
 * pinned: run before any writer, it does not choose the key every writer must then use (`prove`
 * first pinned "unkeyed", and the operator's keyed writers were refused; a hostile review).
 */
export const makeMaintenance = unpinned(
  new Set(["TakeSnapshot", "VerifyConservation", "ProveConservation", "CertifyLedger"]),
  "this ledger only takes snapshots and certificates (LedgerPg.makeMaintenance): it never chooses the journal key"
)

/** The `Ledger` of `makeMaintenance` over the `SqlClient` of the environment (checked, never migrated). */
export const layerClientMaintenance: Layer.Layer<
  Ledger,
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> = Layer.effect(Ledger, makeMaintenance)

/** The `Ledger` of `makeReadOnly` over the `SqlClient` of the environment (checked, never migrated). */
export const layerClientReadOnly: Layer.Layer<
  Ledger,
  LedgerStoreError | PgSchema.SchemaOutdated | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> = Layer.effect(Ledger, makeReadOnly)

/** The journal key of the options (the environment's when none is given), an empty one refused. */
const journalKeyOf = (
  options: LedgerOptions
): Effect.Effect<PgJournal.JournalKey["Type"], PgJournal.JournalEmptyKey | PgJournal.JournalKeyInvalid> => {
  // the option's key, or the environment's (`JournalKey` provided directly was used unchecked:
  // an empty one pinned a forgeable journal; the review of the key check), checked alike
  if (options.journalKey === undefined) {
    return Effect.flatMap(
      PgJournal.JournalKey,
      (given) => given.key === undefined ? Effect.succeed(given) : PgJournal.checkedKey(given.key)
    )
  }
  const key: unknown = Redacted.isRedacted(options.journalKey) ? Redacted.value(options.journalKey) : options.journalKey
  return PgJournal.checkedKey(key)
}

/**
 * The service over the `SqlClient` of the environment with these options: its journal key
 * (checked first: an empty one fails with `JournalEmptyKey` before anything is read or built),
 * and its per-hold commands through a batcher scoped to the scope (`batch`) or one statement each.
 */
export const makeWithOptions = (
  options: LedgerOptions
): Effect.Effect<
  Ledger["Type"],
  | LedgerStoreError
  | PgSchema.SchemaOutdated
  | PgJournal.JournalEmptyKey
  | PgJournal.JournalKeyInvalid
  | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.flatMap(journalKeyOf(options), (key) =>
    Effect.gen(function*() {
      const batch = options.batch
      const ops = batch === undefined || batch === false
        ? directOperations
        : yield* PgBatcher.make(batch === true ? {} : batch)
      return yield* makeWith(ops)
    }).pipe(Effect.provideService(PgJournal.JournalKey, key)))

/** The `Ledger` over the `SqlClient` of the environment with these options (checked, never migrated). */
export const layerClientWithOptions = (
  options: LedgerOptions
): Layer.Layer<
  Ledger,
  | LedgerStoreError
  | PgSchema.SchemaOutdated
  | PgJournal.JournalEmptyKey
  | PgJournal.JournalKeyInvalid
  | PgJournal.JournalKeyMismatch,
  SqlClient.SqlClient
> => Layer.scoped(Ledger, makeWithOptions(options))

/**
 * A connection failure as a `LedgerConnectionError` naming the URL's host and database, its reason
 * scrubbed of the URL and every password in it (`PgUrl`).
 */
const connectionError =
  (url: Redacted.Redacted<string>, target: PgUrl.Target) => (error: SqlError): LedgerConnectionError => {
    const cause = error.cause
    const reason = cause instanceof Error && cause.message !== "" ? cause.message : error.message
    return new LedgerConnectionError({
      host: `${target.host}:${target.port}`,
      database: target.database,
      reason: PgUrl.scrub(url, reason)
    })
  }

/**
 * The `Ledger` on the PostgreSQL database at `url`: a pool of its own (closed with the layer),
 * the journal key checked (`JournalEmptyKey` before the pool is even opened), the schema
 * migrated first when asked (`migrate`), then checked (`PgSchema.SchemaOutdated`); with `batch`,
 * a group-commit batcher closed with the layer.
 */
export const layer = (
  options: Options
): Layer.Layer<
  Ledger,
  | LedgerStoreError
  | PgSchema.SchemaOutdated
  | LedgerConnectionError
  | PgUrl.InvalidDatabaseUrl
  | PgJournal.JournalEmptyKey
  | PgJournal.JournalKeyInvalid
  | PgJournal.JournalKeyMismatch
> => {
  const ledger = options.migrate === true
    ? Layer.scoped(Ledger, Effect.zipRight(PgSchema.migrate, makeWithOptions(options)))
    : layerClientWithOptions(options)
  return Layer.unwrapEffect(
    Effect.as(journalKeyOf(options), Layer.provide(ledger, clientOf(options)))
  )
}

/**
 * How long setting up a connection (TCP, TLS, startup and login) may take, and the layer's first
 * query: a server that accepts the connection and never answers, or stalls after its first byte,
 * fails the layer's build (`LedgerConnectionError`) instead of hanging it forever (a hostile
 * review). A statement's wait for a free connection of the pool is not bounded by it (see
 * `pool`).
 */
export const CONNECT_TIMEOUT: Duration.Duration = Duration.seconds(10)

/**
 * A `PgClient` pool on `url` as the ledger opens its own: each connection's setup bounded by
 * `CONNECT_TIMEOUT` (a client's own timeout), the pool's queue unbounded, the build's first query
 * bounded too (`PgClient.layer`'s `connectTimeout` bounds the queue as well: a statement queued
 * more than that behind slow ones failed; a review). What `calybris budget` opens.
 */
export const pool = (options: {
  readonly url: Redacted.Redacted<string>
  readonly applicationName?: string | undefined
  readonly maxConnections?: number | undefined
}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  poolLayer({
    url: options.url,
    applicationName: options.applicationName ?? "calybris-ledger",
    maxConnections: options.maxConnections,
    connectTimeout: CONNECT_TIMEOUT
  })

/**
 * A pool on `options.url` whose connection failure is a `LedgerConnectionError`; a URL that does
 * not say what it means (`PgUrl.parse`) is refused before any connection.
 */
const clientOf = (
  options: Options
): Layer.Layer<SqlClient.SqlClient, LedgerConnectionError | PgUrl.InvalidDatabaseUrl> =>
  Either.match(PgUrl.parse(options.url), {
    onLeft: (invalid) => Layer.fail(invalid),
    onRight: (target) =>
      pool({ url: options.url, maxConnections: options.maxConnections }).pipe(
        Layer.mapError(connectionError(options.url, target))
      )
  })

/**
 * Migrate the database at `options.url` (`PgSchema.migrate` on a pool of its own, closed after):
 * the ids and names of the migrations this call applied (`calybris budget migrate`).
 */
export const migrate = (
  options: Pick<Options, "url">
): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  LedgerStoreError | LedgerConnectionError | PgUrl.InvalidDatabaseUrl
> => Effect.provide(PgSchema.migrate, clientOf({ url: options.url, maxConnections: 1 }))
