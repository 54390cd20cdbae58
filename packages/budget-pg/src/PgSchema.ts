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
 *   previous hash, hash, the entry's canonical JSON), appended by the statement that commits
 *   the command (migration "3_journal"; `PgJournal` exports and audits it).
 *
 * Every operation is one statement (see `PgOperations`); the row of the tenant is its lock.
 */
import { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { failedTransaction } from "./internal/transaction.js"

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

/**
 * The per-tenant journal (issue 15): an entry's hash is SPEC §5's, computed in the database by
 * the statement that appends it — `sha256(P ‖ D)`, or `HMAC-SHA256(key, P ‖ D)` when the ledger
 * is given a key (passed as a parameter of each statement, never stored), where `P` is the
 * previous hash as lowercase hex text (`genesis` for the first entry) and `D` the entry's
 * canonical JSON bytes. The first entry has no previous hash (NULL), every other one does, and
 * a tenant's head is empty exactly when its chain is.
 *
 * - `calybris_budget_hmac_sha256(key, message)`: RFC 2104 over PostgreSQL's `sha256`.
 * - `calybris_budget_journal_hash(previous, data, key)`: an entry's hash (key NULL: unkeyed).
 * - `calybris_budget_journal_append(tenant, data, key)`: append one entry to a tenant's chain in
 *   statements of its own (for a plpgsql caller such as a batch function; it locks the tenant's
 *   row), returning its sequence. A single statement that also updates the tenant's row (every
 *   operation of `PgOperations`) cannot call it — a row updated twice by one statement keeps one
 *   update — and computes the same head with `calybris_budget_journal_hash` in its own UPDATE.
 */
const m3 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
ALTER TABLE calybris_budget_journal
  ALTER COLUMN previous DROP NOT NULL,
  ADD CONSTRAINT calybris_budget_journal_genesis CHECK ((seq = 1) = (previous IS NULL))`)
  yield* sql.unsafe(`
ALTER TABLE calybris_budget_tenants
  ADD CONSTRAINT calybris_budget_journal_head CHECK ((journal_seq = 0) = (journal_head IS NULL))`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_hmac_sha256(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  k bytea := CASE WHEN octet_length(key) > 64 THEN sha256(key) ELSE key END;
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  k := k || decode(repeat('00', 64 - octet_length(k)), 'hex');
  inner_pad := k;
  outer_pad := k;
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN sha256(outer_pad || sha256(inner_pad || message));
END
$$`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_journal_hash(previous bytea, data bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN key IS NULL THEN sha256(m) ELSE calybris_budget_hmac_sha256(key, m) END
  FROM (SELECT convert_to(coalesce(encode(previous, 'hex'), 'genesis'), 'UTF8') || data AS m) AS message
$$`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_journal_append(p_tenant bytea, p_data bytea, p_key bytea) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash bytea;
  next_hash bytea;
BEGIN
  SELECT journal_seq, journal_head INTO last_seq, last_hash
    FROM calybris_budget_tenants WHERE tenant = p_tenant FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'calybris_budget_journal_append: no tenant row %', encode(p_tenant, 'hex');
  END IF;
  next_hash := calybris_budget_journal_hash(last_hash, p_data, p_key);
  UPDATE calybris_budget_tenants SET journal_seq = last_seq + 1, journal_head = next_hash WHERE tenant = p_tenant;
  INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    VALUES (p_tenant, last_seq + 1, last_hash, next_hash, p_data);
  RETURN last_seq + 1;
END
$$`)
})

/**
 * The group-commit batch (`PgBatcher`): ONE function call applies a batch of retry-safe
 * operations in order, in one transaction, each with the semantics of its one-statement twin in
 * `PgOperations` (operation ids remembered with their results, refusals included; the state
 * machine's order of refusals). It returns one row per element: its index (1-based), the
 * result's tag and up to three i64 fields.
 *
 * Arguments are parallel arrays, one element per operation: `kinds` ('topUp' | 'reserve' |
 * 'commit' | 'release' | 'expire'), `tenants` (hex of the UTF-8 bytes; topUp, reserve),
 * `amounts` (topUp and reserve: the amount; commit: the actual), `holds` (commit, release,
 * expire: the reservation id, -1 for one beyond i64), `expiries` (reserve), `ops` (hex of the
 * operation id, or null), `fingerprints`, `records` (the command's journal record up to its
 * result, `{"v":1,"command":C,"result":`, from `PgJournal.recordHead`) and `keys` (the journal's
 * HMAC key the caller's statement would use, or null: unkeyed).
 *
 * Locks, taken before the first element in one fixed order (the batch's holds by id, settled ones
 * included as a statement locks them, then every tenant it touches by key), so two batches never
 * deadlock, and a single statement (which locks a hold, then its tenant) never waits on a batch
 * that waits on it. The locks are held until the batch commits: a batch is linearizable per
 * tenant like one statement.
 *
 * The tenants' balances and journal heads are read once (after the locks), kept in arrays while
 * the elements apply, and written once per tenant at the end: a hot tenant's row gets one new
 * version per batch, not one per operation (measured: updating one row 1,000 times in a
 * transaction cost more than all the rest of a reserve). The CHECK constraints hold the written
 * balances, and the head's `(journal_seq = 0) = (journal_head IS NULL)`, as before.
 *
 * The journal (`PgJournal`): each element journals exactly what its one-statement twin journals
 * — an applied result, or a refusal under a new operation id on a tenant that has a row (a
 * hold's tenant for a settlement, whatever the hold's state) — with the same record (`records`,
 * then the result printed here as the statements print it, `BATCH_RESULTS`), the same hash
 * (`calybris_budget_journal_hash` with the element's key) and the next sequence of the tenant's
 * head kept in the arrays; the entries are inserted at the end in element order, with the heads.
 */
/**
 * The fields of each result in a journal record (`Journal.RememberedResult`'s order) and the
 * function's output column holding each, per kind: what `PgOperations` prints for its statements
 * (a literal copy: a migration's text never changes once released; the batcher's tests check the
 * two write identical bytes).
 */
const BATCH_RESULTS: Readonly<
  Record<"reserve" | "settlement" | "topUp", Readonly<Record<string, ReadonlyArray<readonly [string, string]>>>>
> = {
  reserve: {
    Reserved: [["reservation_id", "o_b"], ["remaining_microcents", "o_a"]],
    Insufficient: [["remaining_microcents", "o_a"], ["required_microcents", "o_b"]],
    MissingTenant: [],
    ExposureLimitExceeded: [["current_reserved_microcents", "o_a"], ["max_reserved_microcents", "o_b"]],
    Overflow: [["current_reserved_microcents", "o_a"]]
  },
  settlement: {
    Committed: [["remaining_microcents", "o_a"], ["actual_microcents", "o_b"]],
    Released: [["remaining_microcents", "o_a"], ["returned_microcents", "o_b"]],
    Overrun: [["remaining_microcents", "o_a"]],
    InvalidAmount: [],
    MissingReservation: [],
    MissingTenant: [],
    Overflow: [["remaining_microcents", "o_a"]]
  },
  topUp: {
    ToppedUp: [["added_microcents", "o_a"], ["new_initial_microcents", "o_b"], ["remaining_microcents", "o_c"]],
    MissingTenant: [],
    InvalidAmount: [],
    Overflow: []
  }
}

/** The canonical JSON of the element's result (NULL for a tag the kind does not know: the journal's NOT NULL refuses it). */
const resultJson = (kind: keyof typeof BATCH_RESULTS): string =>
  `CASE o_tag ${
    Object.entries(BATCH_RESULTS[kind]).map(([tag, fields]) =>
      `WHEN '${tag}' THEN '{"_tag":"${tag}"'${
        fields.map(([name, column]) => ` || ',"${name}":' || ${column}::text`).join("")
      } || '}'`
    ).join(" ")
  } END`

const m4 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_batch(
  kinds text[], tenants text[], amounts bigint[], holds bigint[], expiries bigint[], ops text[], fingerprints text[],
  records bytea[], keys bytea[]
) RETURNS TABLE (o_index integer, o_tag text, o_a bigint, o_b bigint, o_c bigint)
LANGUAGE plpgsql AS $batch$
DECLARE
  i64_max CONSTANT numeric := ${I64_MAX};
  n CONSTANT integer := coalesce(array_length(kinds, 1), 0);
  -- the balances of the tenants the batch touches, locked, kept here and written once at the end
  tk bytea[];
  tp boolean[];
  ti bigint[];
  tr bigint[];
  ts bigint[];
  tc bigint[];
  tcap bigint[];
  tj bigint[];
  th bytea[];
  -- the entries the batch appends, in element order (inserted at the end)
  jt bytea[] := '{}';
  js bigint[] := '{}';
  jp bytea[] := '{}';
  jh bytea[] := '{}';
  jd bytea[] := '{}';
  entry_data bytea;
  entry_hash bytea;
  k text;
  t bytea;
  pos integer;
  amt bigint;
  rid bigint;
  op bytea;
  fp text;
  prior record;
  h record;
BEGIN
  PERFORM 1 FROM calybris_budget_reservations r
    WHERE r.id = ANY (holds) ORDER BY r.id FOR UPDATE;
  PERFORM 1 FROM calybris_budget_tenants x
    WHERE x.tenant IN (
      SELECT decode(u, 'hex') FROM unnest(tenants) AS u WHERE u IS NOT NULL
      UNION SELECT r.tenant FROM calybris_budget_reservations r WHERE r.id = ANY (holds)
    )
    ORDER BY x.tenant FOR UPDATE;
  SELECT array_agg(x.tenant), array_agg(x.present), array_agg(x.initial), array_agg(x.remaining),
      array_agg(x.reserved), array_agg(x.committed), array_agg(x.cap), array_agg(x.journal_seq),
      array_agg(x.journal_head)
    INTO tk, tp, ti, tr, ts, tc, tcap, tj, th
    FROM calybris_budget_tenants x
    WHERE x.tenant IN (
      SELECT decode(u, 'hex') FROM unnest(tenants) AS u WHERE u IS NOT NULL
      UNION SELECT r.tenant FROM calybris_budget_reservations r WHERE r.id = ANY (holds)
    );
  tk := coalesce(tk, '{}');
  FOR j IN 1 .. n LOOP
    k := kinds[j];
    amt := amounts[j];
    rid := holds[j];
    op := decode(ops[j], 'hex');
    fp := fingerprints[j];
    o_index := j;
    o_tag := NULL;
    o_a := NULL;
    o_b := NULL;
    o_c := NULL;
    IF op IS NOT NULL THEN
      SELECT p.fingerprint, p.tag, p.a, p.b, p.c INTO prior FROM calybris_budget_operations p WHERE p.operation_id = op;
      IF FOUND THEN
        IF prior.fingerprint = fp THEN
          o_tag := prior.tag;
          o_a := prior.a;
          o_b := prior.b;
          o_c := prior.c;
        ELSE
          o_tag := 'IdempotencyConflict';
        END IF;
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    -- the tenant (a hold's, in any state, for a settlement: a refusal under an id is journaled on
    -- its chain): its place in the arrays, locked and loaded when it was not (a hold opened by
    -- another transaction after the locks above)
    t := NULL;
    h := NULL;
    IF k = 'topUp' OR k = 'reserve' THEN
      t := decode(tenants[j], 'hex');
    ELSE
      SELECT r.tenant, r.amount, r.state INTO h FROM calybris_budget_reservations r
        WHERE r.id = rid FOR UPDATE;
      t := h.tenant;
    END IF;
    pos := array_position(tk, t);
    IF pos IS NULL AND t IS NOT NULL THEN
      SELECT x.present, x.initial, x.remaining, x.reserved, x.committed, x.cap, x.journal_seq, x.journal_head INTO prior
        FROM calybris_budget_tenants x WHERE x.tenant = t FOR UPDATE;
      IF FOUND THEN
        tk := tk || t;
        pos := array_length(tk, 1);
        tp[pos] := prior.present;
        ti[pos] := prior.initial;
        tr[pos] := prior.remaining;
        ts[pos] := prior.reserved;
        tc[pos] := prior.committed;
        tcap[pos] := prior.cap;
        tj[pos] := prior.journal_seq;
        th[pos] := prior.journal_head;
      END IF;
    END IF;
    IF k = 'topUp' THEN
      IF amt <= 0 THEN
        o_tag := 'InvalidAmount';
      ELSIF pos IS NULL OR NOT tp[pos] THEN
        o_tag := 'MissingTenant';
      ELSIF ti[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
      ELSE
        ti[pos] := ti[pos] + amt;
        tr[pos] := tr[pos] + amt;
        o_tag := 'ToppedUp';
        o_a := amt;
        o_b := ti[pos];
        o_c := tr[pos];
      END IF;
    ELSIF k = 'reserve' THEN
      IF amt <= 0 THEN
        o_tag := 'Insufficient';
        o_a := 0;
        o_b := amt;
      ELSIF pos IS NULL OR NOT tp[pos] THEN
        o_tag := 'MissingTenant';
      ELSIF ts[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
        o_a := ts[pos];
      ELSIF tcap[pos] IS NOT NULL AND ts[pos]::numeric + amt > tcap[pos] THEN
        o_tag := 'ExposureLimitExceeded';
        o_a := ts[pos];
        o_b := tcap[pos];
      ELSIF tr[pos] < amt THEN
        o_tag := 'Insufficient';
        o_a := tr[pos];
        o_b := amt;
      ELSE
        tr[pos] := tr[pos] - amt;
        ts[pos] := ts[pos] + amt;
        INSERT INTO calybris_budget_reservations (id, tenant, amount, expires_at_ms)
          VALUES (nextval('calybris_budget_reservation_ids'), t, amt, expiries[j]) RETURNING id INTO o_b;
        o_tag := 'Reserved';
        o_a := tr[pos];
      END IF;
    ELSIF k = 'commit' THEN
      IF amt < 0 THEN
        o_tag := 'InvalidAmount';
      ELSIF h.state IS DISTINCT FROM 'open' THEN
        o_tag := 'MissingReservation';
      ELSIF pos IS NULL THEN
        o_tag := 'MissingTenant';
      ELSIF tc[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
        o_a := tr[pos];
      ELSIF amt > h.amount AND tr[pos] < amt - h.amount THEN
        o_tag := 'Overrun';
        o_a := tr[pos];
      ELSE
        tr[pos] := tr[pos] - (amt - h.amount);
        ts[pos] := ts[pos] - h.amount;
        tc[pos] := tc[pos] + amt;
        UPDATE calybris_budget_reservations r SET state = 'committed', actual = amt WHERE r.id = rid;
        o_tag := 'Committed';
        o_a := tr[pos];
        o_b := amt;
      END IF;
    ELSIF k = 'release' OR k = 'expire' THEN
      IF h.state IS DISTINCT FROM 'open' THEN
        o_tag := 'MissingReservation';
      ELSIF pos IS NULL THEN
        o_tag := 'MissingTenant';
      ELSE
        tr[pos] := tr[pos] + h.amount;
        ts[pos] := ts[pos] - h.amount;
        UPDATE calybris_budget_reservations r
          SET state = CASE WHEN k = 'expire' THEN 'expired' ELSE 'released' END WHERE r.id = rid;
        o_tag := 'Released';
        o_a := tr[pos];
        o_b := h.amount;
      END IF;
    ELSE
      RAISE EXCEPTION 'calybris_budget_batch: unknown kind %', k;
    END IF;
    IF op IS NOT NULL THEN
      INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
        VALUES (op, fp, o_tag, o_a, o_b, o_c);
    END IF;
    -- the journal: what the statement twin journals (an applied result, or a refusal under an id
    -- on a tenant with a row), chained on the head kept in the arrays
    IF pos IS NOT NULL AND (o_tag IN ('ToppedUp', 'Reserved', 'Committed', 'Released') OR op IS NOT NULL) THEN
      entry_data := records[j] || convert_to(
        CASE k
          WHEN 'reserve' THEN ${resultJson("reserve")}
          WHEN 'topUp' THEN ${resultJson("topUp")}
          ELSE ${resultJson("settlement")}
        END || '}', 'UTF8');
      entry_hash := calybris_budget_journal_hash(th[pos], entry_data, keys[j]);
      tj[pos] := tj[pos] + 1;
      jt := array_append(jt, t);
      js := array_append(js, tj[pos]);
      jp := array_append(jp, th[pos]);
      jh := array_append(jh, entry_hash);
      jd := array_append(jd, entry_data);
      th[pos] := entry_hash;
    END IF;
    RETURN NEXT;
  END LOOP;
  -- the balances and the journal heads, once per tenant (the CHECK constraints hold them here)
  UPDATE calybris_budget_tenants x
    SET initial = u.initial, remaining = u.remaining, reserved = u.reserved, committed = u.committed,
      journal_seq = u.journal_seq, journal_head = u.journal_head
    FROM unnest(tk, ti, tr, ts, tc, tj, th)
      AS u(tenant, initial, remaining, reserved, committed, journal_seq, journal_head)
    WHERE x.tenant = u.tenant
      AND (x.initial, x.remaining, x.reserved, x.committed, x.journal_seq)
        IS DISTINCT FROM (u.initial, u.remaining, u.reserved, u.committed, u.journal_seq);
  -- the entries, in element order
  INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT u.tenant, u.seq, u.previous, u.hash, u.entry
    FROM unnest(jt, js, jp, jh, jd) WITH ORDINALITY AS u(tenant, seq, previous, hash, entry, n)
    ORDER BY u.n;
END
$batch$`)
})

/**
 * The journal key a ledger's chains use, pinned (`PgJournal.pinKey`): the first layer built on the
 * database records an id of its key — `calybris_budget_journal_hash(NULL, label, key)`, an HMAC
 * of a fixed label under the key (SHA-256 of it when unkeyed), which reveals nothing of the key —
 * and every later layer must bring the same key, so one instance started without the key (or
 * with another) is refused instead of writing entries that break the chains.
 */
const m5 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
ALTER TABLE calybris_budget_ledger
  ADD COLUMN journal_key_id bytea CHECK (octet_length(journal_key_id) = 32)`)
})

/**
 * Each retry-safe operation of `PgOperations` (top-up, reserve and admit, commit, release and
 * expire) as a plpgsql function whose body is that operation's one statement, unchanged (the
 * same CTEs, locks, journal entry and result; the statement's `$n` parameters named): plpgsql
 * prepares a statement once per session and keeps its plan, so a call no longer makes the
 * server parse, analyse and plan the whole statement (@effect/sql-pg sends every statement
 * unnamed: measured 0.7–1.1 ms of planning per operation, about half the server's CPU). The body
 * is one statement run by `RETURN QUERY`: in a VOLATILE function it takes a snapshot of its own
 * when it starts, as a statement sent alone does, so the consistency model is unchanged (see
 * `PgOperations`). The caller sends `SELECT … FROM calybris_budget_<operation>(…)`.
 */
const m6 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_top_up(p_op bytea, p_fingerprint text, p_tenant bytea, p_amount bigint, p_head bytea, p_key bytea)
RETURNS TABLE (r_tag text, r_a text, r_b text, r_c text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY WITH prior AS (
    SELECT fingerprint, tag, a, b, c FROM calybris_budget_operations WHERE operation_id = p_op::bytea
  ), cur AS (
        SELECT present, initial, remaining, reserved, committed, journal_seq, journal_head FROM calybris_budget_tenants
        WHERE tenant = p_tenant::bytea AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      decision AS (
        SELECT
          CASE
            WHEN p_amount::bigint <= 0 THEN 'InvalidAmount'
            WHEN cur.present IS NOT TRUE THEN 'MissingTenant'
            WHEN cur.initial::numeric + p_amount::bigint > 9223372036854775807::numeric THEN 'Overflow'
            ELSE 'ToppedUp'
          END AS tag,
          cur.present, cur.initial, cur.remaining, cur.reserved, cur.committed, cur.journal_seq, cur.journal_head
        FROM (SELECT 1) AS one LEFT JOIN cur ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      ),
      decided AS (
        SELECT d.tag,
          CASE WHEN d.tag = 'ToppedUp' THEN p_amount::bigint END AS a,
          CASE WHEN d.tag = 'ToppedUp' THEN d.initial + p_amount::bigint END AS b,
          CASE WHEN d.tag = 'ToppedUp' THEN d.remaining + p_amount::bigint END AS c,
          d.present, d.initial, d.remaining, d.reserved, d.committed, d.journal_seq, d.journal_head,
          d.journal_seq IS NOT NULL AND (d.tag = 'ToppedUp' OR p_op::bytea IS NOT NULL) AS journaled
        FROM decision d
      ),
      entry AS (
    SELECT x.journal_seq + 1 AS seq, x.journal_head AS previous, x.data,
      calybris_budget_journal_hash(x.journal_head, x.data, p_key::bytea) AS hash
    FROM (
      SELECT dd.journal_seq, dd.journal_head,
        p_head::bytea || convert_to(CASE dd.tag WHEN 'ToppedUp' THEN '{"_tag":"ToppedUp"' || ',"added_microcents":' || dd.a::text || ',"new_initial_microcents":' || dd.b::text || ',"remaining_microcents":' || dd.c::text || '}' WHEN 'MissingTenant' THEN '{"_tag":"MissingTenant"' || '}' WHEN 'InvalidAmount' THEN '{"_tag":"InvalidAmount"' || '}' WHEN 'Overflow' THEN '{"_tag":"Overflow"' || '}' END || '}', 'UTF8') AS data
      FROM decided dd WHERE dd.journaled
    ) AS x
  ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET initial = dd.initial + CASE WHEN dd.tag = 'ToppedUp' THEN p_amount::bigint ELSE 0 END,
          remaining = dd.remaining + CASE WHEN dd.tag = 'ToppedUp' THEN p_amount::bigint ELSE 0 END,
          present = dd.present, reserved = dd.reserved, committed = dd.committed,
          journal_seq = e.seq, journal_head = e.hash
        FROM decided dd, entry e
        WHERE t.tenant = p_tenant::bytea
        RETURNING t.tenant, t.journal_seq AS seq
      ),
      appended AS (
    INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT upd.tenant, e.seq, e.previous, e.hash, e.data FROM entry e, upd
  ),
      outcome AS (
    SELECT
      CASE
        WHEN dd.journaled AND NOT EXISTS (SELECT 1 FROM upd, entry e WHERE upd.seq = e.seq) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        WHEN NOT (true) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        ELSE dd.tag
      END AS tag,
      dd.a, dd.b, dd.c
    FROM decided dd
  ), remember AS (
    INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT p_op::bytea, p_fingerprint::text, tag, a, b, c FROM outcome WHERE p_op::bytea IS NOT NULL
  )
  SELECT tag, a::text AS a, b::text AS b, c::text AS c FROM outcome
  UNION ALL
  SELECT 'IdempotencyConflict', NULL, NULL, NULL FROM prior WHERE fingerprint <> p_fingerprint::text
  UNION ALL
  SELECT tag, a::text, b::text, c::text FROM prior WHERE fingerprint = p_fingerprint::text;
END
$fn$`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_reserve(p_op bytea, p_fingerprint text, p_tenant bytea, p_amount bigint, p_expires_at bigint, p_head bytea, p_key bytea)
RETURNS TABLE (r_tag text, r_a text, r_b text, r_c text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY WITH prior AS (
    SELECT fingerprint, tag, a, b, c FROM calybris_budget_operations WHERE operation_id = p_op::bytea
  ), cur AS (
        SELECT present, initial, remaining, reserved, committed, cap, journal_seq, journal_head
        FROM calybris_budget_tenants
        WHERE tenant = p_tenant::bytea AND NOT EXISTS (SELECT 1 FROM prior)
        FOR UPDATE
      ),
      decision AS (
        SELECT
          CASE
            WHEN p_amount::bigint <= 0 THEN 'Insufficient'
            WHEN cur.present IS NOT TRUE THEN 'MissingTenant'
            WHEN cur.reserved::numeric + p_amount::bigint > 9223372036854775807::numeric THEN 'Overflow'
            WHEN cur.cap IS NOT NULL AND cur.reserved + p_amount::bigint > cur.cap THEN 'ExposureLimitExceeded'
            WHEN cur.remaining < p_amount::bigint THEN 'Insufficient'
            ELSE 'Reserved'
          END AS tag,
          cur.present, cur.initial, cur.remaining, cur.reserved, cur.committed, cur.cap, cur.journal_seq,
          cur.journal_head
        FROM (SELECT 1) AS one LEFT JOIN cur ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      ),
      issued AS (
        SELECT nextval('calybris_budget_reservation_ids') AS id FROM decision WHERE tag = 'Reserved'
      ),
      decided AS (
        SELECT d.tag,
          CASE
            WHEN p_amount::bigint <= 0 THEN 0
            WHEN d.tag = 'Reserved' THEN d.remaining - p_amount::bigint
            WHEN d.tag = 'Insufficient' THEN d.remaining
            WHEN d.tag IN ('Overflow', 'ExposureLimitExceeded') THEN d.reserved
          END AS a,
          CASE
            WHEN p_amount::bigint <= 0 OR d.tag = 'Insufficient' THEN p_amount::bigint
            WHEN d.tag = 'Reserved' THEN (SELECT id FROM issued)
            WHEN d.tag = 'ExposureLimitExceeded' THEN d.cap
          END AS b,
          NULL::bigint AS c,
          d.present, d.initial, d.remaining, d.reserved, d.committed, d.journal_seq, d.journal_head,
          d.journal_seq IS NOT NULL AND (d.tag = 'Reserved' OR p_op::bytea IS NOT NULL) AS journaled
        FROM decision d
      ),
      entry AS (
    SELECT x.journal_seq + 1 AS seq, x.journal_head AS previous, x.data,
      calybris_budget_journal_hash(x.journal_head, x.data, p_key::bytea) AS hash
    FROM (
      SELECT dd.journal_seq, dd.journal_head,
        p_head::bytea || convert_to(CASE dd.tag WHEN 'Reserved' THEN '{"_tag":"Reserved"' || ',"reservation_id":' || dd.b::text || ',"remaining_microcents":' || dd.a::text || '}' WHEN 'Insufficient' THEN '{"_tag":"Insufficient"' || ',"remaining_microcents":' || dd.a::text || ',"required_microcents":' || dd.b::text || '}' WHEN 'MissingTenant' THEN '{"_tag":"MissingTenant"' || '}' WHEN 'ExposureLimitExceeded' THEN '{"_tag":"ExposureLimitExceeded"' || ',"current_reserved_microcents":' || dd.a::text || ',"max_reserved_microcents":' || dd.b::text || '}' WHEN 'Overflow' THEN '{"_tag":"Overflow"' || ',"current_reserved_microcents":' || dd.a::text || '}' END || '}', 'UTF8') AS data
      FROM decided dd WHERE dd.journaled
    ) AS x
  ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = dd.remaining - CASE WHEN dd.tag = 'Reserved' THEN p_amount::bigint ELSE 0 END,
          reserved = dd.reserved + CASE WHEN dd.tag = 'Reserved' THEN p_amount::bigint ELSE 0 END,
          present = dd.present, initial = dd.initial, committed = dd.committed,
          journal_seq = e.seq, journal_head = e.hash
        FROM decided dd, entry e
        WHERE t.tenant = p_tenant::bytea
        RETURNING t.tenant, t.journal_seq AS seq
      ),
      hold AS (
        INSERT INTO calybris_budget_reservations (id, tenant, amount, expires_at_ms)
        SELECT i.id, upd.tenant, p_amount::bigint, p_expires_at::bigint FROM issued i, upd
        RETURNING id
      ),
      appended AS (
    INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT upd.tenant, e.seq, e.previous, e.hash, e.data FROM entry e, upd
  ),
      outcome AS (
    SELECT
      CASE
        WHEN dd.journaled AND NOT EXISTS (SELECT 1 FROM upd, entry e WHERE upd.seq = e.seq) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        WHEN NOT (dd.tag <> 'Reserved' OR EXISTS (SELECT 1 FROM hold)) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        ELSE dd.tag
      END AS tag,
      dd.a, dd.b, dd.c
    FROM decided dd
  ), remember AS (
    INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT p_op::bytea, p_fingerprint::text, tag, a, b, c FROM outcome WHERE p_op::bytea IS NOT NULL
  )
  SELECT tag, a::text AS a, b::text AS b, c::text AS c FROM outcome
  UNION ALL
  SELECT 'IdempotencyConflict', NULL, NULL, NULL FROM prior WHERE fingerprint <> p_fingerprint::text
  UNION ALL
  SELECT tag, a::text, b::text, c::text FROM prior WHERE fingerprint = p_fingerprint::text;
END
$fn$`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_commit(p_op bytea, p_fingerprint text, p_reservation bigint, p_actual bigint, p_head bytea, p_key bytea)
RETURNS TABLE (r_tag text, r_a text, r_b text, r_c text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY WITH prior AS (
    SELECT fingerprint, tag, a, b, c FROM calybris_budget_operations WHERE operation_id = p_op::bytea
  ), h AS (
    SELECT id, tenant, amount, state FROM calybris_budget_reservations
    WHERE id = p_reservation::bigint AND NOT EXISTS (SELECT 1 FROM prior)
    FOR UPDATE
  ),
  cur AS (
    SELECT t.tenant, t.present, t.initial, t.remaining, t.reserved, t.committed, t.journal_seq, t.journal_head
    FROM calybris_budget_tenants t JOIN h ON t.tenant = h.tenant
    FOR UPDATE OF t
  ),
      decision AS (
        SELECT
          CASE
            WHEN p_actual::bigint < 0 THEN 'InvalidAmount'
            WHEN h.id IS NULL OR h.state <> 'open' THEN 'MissingReservation'
            WHEN cur.present IS NOT TRUE THEN 'MissingTenant'
            WHEN cur.committed::numeric + p_actual::bigint > 9223372036854775807::numeric THEN 'Overflow'
            WHEN p_actual::bigint > h.amount AND cur.remaining < p_actual::bigint - h.amount THEN 'Overrun'
            ELSE 'Committed'
          END AS tag,
          cur.tenant, cur.present, cur.initial, cur.remaining, cur.reserved, cur.committed, h.amount, cur.journal_seq,
          cur.journal_head
        FROM (SELECT 1) AS one LEFT JOIN h ON true LEFT JOIN cur ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      ),
      decided AS (
        SELECT d.tag,
          CASE
            WHEN d.tag = 'Committed' THEN d.remaining - (p_actual::bigint - d.amount)
            WHEN d.tag IN ('Overrun', 'Overflow') THEN d.remaining
          END AS a,
          CASE WHEN d.tag = 'Committed' THEN p_actual::bigint END AS b,
          NULL::bigint AS c,
          d.tenant, d.amount, d.present, d.initial, d.remaining, d.reserved, d.committed, d.journal_seq, d.journal_head,
          d.journal_seq IS NOT NULL AND (d.tag = 'Committed' OR p_op::bytea IS NOT NULL) AS journaled
        FROM decision d
      ),
      entry AS (
    SELECT x.journal_seq + 1 AS seq, x.journal_head AS previous, x.data,
      calybris_budget_journal_hash(x.journal_head, x.data, p_key::bytea) AS hash
    FROM (
      SELECT dd.journal_seq, dd.journal_head,
        p_head::bytea || convert_to(CASE dd.tag WHEN 'Committed' THEN '{"_tag":"Committed"' || ',"remaining_microcents":' || dd.a::text || ',"actual_microcents":' || dd.b::text || '}' WHEN 'Released' THEN '{"_tag":"Released"' || ',"remaining_microcents":' || dd.a::text || ',"returned_microcents":' || dd.b::text || '}' WHEN 'Overrun' THEN '{"_tag":"Overrun"' || ',"remaining_microcents":' || dd.a::text || '}' WHEN 'InvalidAmount' THEN '{"_tag":"InvalidAmount"' || '}' WHEN 'MissingReservation' THEN '{"_tag":"MissingReservation"' || '}' WHEN 'MissingTenant' THEN '{"_tag":"MissingTenant"' || '}' WHEN 'Overflow' THEN '{"_tag":"Overflow"' || ',"remaining_microcents":' || dd.a::text || '}' END || '}', 'UTF8') AS data
      FROM decided dd WHERE dd.journaled
    ) AS x
  ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = dd.remaining - CASE WHEN dd.tag = 'Committed' THEN p_actual::bigint - dd.amount ELSE 0 END,
          reserved = dd.reserved - CASE WHEN dd.tag = 'Committed' THEN dd.amount ELSE 0 END,
          committed = dd.committed + CASE WHEN dd.tag = 'Committed' THEN p_actual::bigint ELSE 0 END,
          present = dd.present, initial = dd.initial,
          journal_seq = e.seq, journal_head = e.hash
        FROM decided dd, entry e
        WHERE t.tenant = dd.tenant
        RETURNING t.tenant, t.journal_seq AS seq
      ),
      settle AS (
        UPDATE calybris_budget_reservations r SET state = 'committed', actual = p_actual::bigint
        FROM upd, decided dd WHERE r.id = p_reservation::bigint AND dd.tag = 'Committed'
        RETURNING r.id
      ),
      appended AS (
    INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT upd.tenant, e.seq, e.previous, e.hash, e.data FROM entry e, upd
  ),
      outcome AS (
    SELECT
      CASE
        WHEN dd.journaled AND NOT EXISTS (SELECT 1 FROM upd, entry e WHERE upd.seq = e.seq) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        WHEN NOT (dd.tag <> 'Committed' OR EXISTS (SELECT 1 FROM settle)) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        ELSE dd.tag
      END AS tag,
      dd.a, dd.b, dd.c
    FROM decided dd
  ), remember AS (
    INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT p_op::bytea, p_fingerprint::text, tag, a, b, c FROM outcome WHERE p_op::bytea IS NOT NULL
  )
  SELECT tag, a::text AS a, b::text AS b, c::text AS c FROM outcome
  UNION ALL
  SELECT 'IdempotencyConflict', NULL, NULL, NULL FROM prior WHERE fingerprint <> p_fingerprint::text
  UNION ALL
  SELECT tag, a::text, b::text, c::text FROM prior WHERE fingerprint = p_fingerprint::text;
END
$fn$`)
  yield* sql.unsafe(`
CREATE FUNCTION calybris_budget_release(p_op bytea, p_fingerprint text, p_reservation bigint, p_state text, p_head bytea, p_key bytea)
RETURNS TABLE (r_tag text, r_a text, r_b text, r_c text) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY WITH prior AS (
    SELECT fingerprint, tag, a, b, c FROM calybris_budget_operations WHERE operation_id = p_op::bytea
  ), h AS (
    SELECT id, tenant, amount, state FROM calybris_budget_reservations
    WHERE id = p_reservation::bigint AND NOT EXISTS (SELECT 1 FROM prior)
    FOR UPDATE
  ),
  cur AS (
    SELECT t.tenant, t.present, t.initial, t.remaining, t.reserved, t.committed, t.journal_seq, t.journal_head
    FROM calybris_budget_tenants t JOIN h ON t.tenant = h.tenant
    FOR UPDATE OF t
  ),
      decision AS (
        SELECT
          CASE
            WHEN h.id IS NULL OR h.state <> 'open' THEN 'MissingReservation'
            WHEN cur.present IS NOT TRUE THEN 'MissingTenant'
            ELSE 'Released'
          END AS tag,
          cur.tenant, cur.present, cur.initial, cur.remaining, cur.reserved, cur.committed, h.amount, cur.journal_seq,
          cur.journal_head
        FROM (SELECT 1) AS one LEFT JOIN h ON true LEFT JOIN cur ON true
        WHERE NOT EXISTS (SELECT 1 FROM prior)
      ),
      decided AS (
        SELECT d.tag,
          CASE WHEN d.tag = 'Released' THEN d.remaining + d.amount END AS a,
          CASE WHEN d.tag = 'Released' THEN d.amount END AS b,
          NULL::bigint AS c,
          d.tenant, d.amount, d.present, d.initial, d.remaining, d.reserved, d.committed, d.journal_seq, d.journal_head,
          d.journal_seq IS NOT NULL AND (d.tag = 'Released' OR p_op::bytea IS NOT NULL) AS journaled
        FROM decision d
      ),
      entry AS (
    SELECT x.journal_seq + 1 AS seq, x.journal_head AS previous, x.data,
      calybris_budget_journal_hash(x.journal_head, x.data, p_key::bytea) AS hash
    FROM (
      SELECT dd.journal_seq, dd.journal_head,
        p_head::bytea || convert_to(CASE dd.tag WHEN 'Committed' THEN '{"_tag":"Committed"' || ',"remaining_microcents":' || dd.a::text || ',"actual_microcents":' || dd.b::text || '}' WHEN 'Released' THEN '{"_tag":"Released"' || ',"remaining_microcents":' || dd.a::text || ',"returned_microcents":' || dd.b::text || '}' WHEN 'Overrun' THEN '{"_tag":"Overrun"' || ',"remaining_microcents":' || dd.a::text || '}' WHEN 'InvalidAmount' THEN '{"_tag":"InvalidAmount"' || '}' WHEN 'MissingReservation' THEN '{"_tag":"MissingReservation"' || '}' WHEN 'MissingTenant' THEN '{"_tag":"MissingTenant"' || '}' WHEN 'Overflow' THEN '{"_tag":"Overflow"' || ',"remaining_microcents":' || dd.a::text || '}' END || '}', 'UTF8') AS data
      FROM decided dd WHERE dd.journaled
    ) AS x
  ),
      upd AS (
        UPDATE calybris_budget_tenants t
        SET remaining = dd.remaining + CASE WHEN dd.tag = 'Released' THEN dd.amount ELSE 0 END,
          reserved = dd.reserved - CASE WHEN dd.tag = 'Released' THEN dd.amount ELSE 0 END,
          present = dd.present, initial = dd.initial, committed = dd.committed,
          journal_seq = e.seq, journal_head = e.hash
        FROM decided dd, entry e
        WHERE t.tenant = dd.tenant
        RETURNING t.tenant, t.journal_seq AS seq
      ),
      settle AS (
        UPDATE calybris_budget_reservations r SET state = p_state::text
        FROM upd, decided dd WHERE r.id = p_reservation::bigint AND dd.tag = 'Released'
        RETURNING r.id
      ),
      appended AS (
    INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT upd.tenant, e.seq, e.previous, e.hash, e.data FROM entry e, upd
  ),
      outcome AS (
    SELECT
      CASE
        WHEN dd.journaled AND NOT EXISTS (SELECT 1 FROM upd, entry e WHERE upd.seq = e.seq) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        WHEN NOT (dd.tag <> 'Released' OR EXISTS (SELECT 1 FROM settle)) THEN ('calybris_budget_retry:' || dd.tag)::int::text
        ELSE dd.tag
      END AS tag,
      dd.a, dd.b, dd.c
    FROM decided dd
  ), remember AS (
    INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT p_op::bytea, p_fingerprint::text, tag, a, b, c FROM outcome WHERE p_op::bytea IS NOT NULL
  )
  SELECT tag, a::text AS a, b::text AS b, c::text AS c FROM outcome
  UNION ALL
  SELECT 'IdempotencyConflict', NULL, NULL, NULL FROM prior WHERE fingerprint <> p_fingerprint::text
  UNION ALL
  SELECT tag, a::text, b::text, c::text FROM prior WHERE fingerprint = p_fingerprint::text;
END
$fn$`)
})

/**
 * The group-commit batch, set-based (migration "7_batch", `CREATE OR REPLACE` of "4_batch"'s
 * function: the same arguments, output columns, results, locks in the same order and journal
 * entries byte for byte). Measured on a hot tenant (32 reserves, then their 32 commits, per
 * batch), PostgreSQL 15: "4_batch" spent most of its server time in the statements it ran PER
 * ELEMENT through SPI — each hold's INSERT (≈ 47 µs: executor start-up, the CHECK constraints'
 * expressions rebuilt for every statement, its foreign key), each settlement's UPDATE (≈ 36 µs),
 * each element's SELECT … FOR UPDATE of its hold and of its operation id, and each journal hash
 * through the SQL function `calybris_budget_journal_hash` (≈ 13 µs a call). Here:
 *
 * - The batch's holds are locked (by id, as before) and read in ONE statement, its tenants
 *   locked (by key, as before) and read in one, its known operation ids read in one; the
 *   elements then apply to these arrays alone. A hold or a tenant not found there (never issued,
 *   or opened by another transaction since the locks) is looked up and locked by its element,
 *   as "4_batch" did for each.
 * - A reserve draws its id with `nextval` in element order (the ids grow in the order applied,
 *   as before) and keeps its hold in the arrays: a later element of the batch settles it there,
 *   and it is inserted once, already in its final state (a hold reserved and committed in one
 *   batch leaves no dead version). The holds are inserted in one INSERT, the settled ones
 *   updated in one UPDATE, the new operation ids inserted in one INSERT (element order; a
 *   repeated id finds its first element's result in the arrays; an id another transaction
 *   inserts meanwhile fails the batch on the unique key, which the batcher runs again, as
 *   before), at the end with the tenants' balances and heads and the journal entries.
 * - The journal hash is computed inline (`sha256`, or the HMAC with the key's pads computed once
 *   per batch per key instead of once per entry), the same bytes as
 *   `calybris_budget_journal_hash`.
 */
const m7 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
CREATE OR REPLACE FUNCTION calybris_budget_batch(
  kinds text[], tenants text[], amounts bigint[], holds bigint[], expiries bigint[], ops text[], fingerprints text[],
  records bytea[], keys bytea[]
) RETURNS TABLE (o_index integer, o_tag text, o_a bigint, o_b bigint, o_c bigint)
LANGUAGE plpgsql AS $batch$
DECLARE
  i64_max CONSTANT numeric := ${I64_MAX};
  n CONSTANT integer := coalesce(array_length(kinds, 1), 0);
  -- the balances of the tenants the batch touches, locked, kept here and written once at the end
  tk bytea[];
  tp boolean[];
  ti bigint[];
  tr bigint[];
  ts bigint[];
  tc bigint[];
  tcap bigint[];
  tj bigint[];
  th bytea[];
  -- the holds the batch touches: locked at the start (hn false) or opened by it (hn true), in
  -- the state its elements leave them (inserted, or updated, at the end)
  hid bigint[];
  ht bytea[];
  ha bigint[];
  hx bigint[];
  hs text[];
  hact bigint[];
  hn boolean[];
  -- the operation ids of the batch already remembered (onew false) or remembered by it (onew true)
  oid bytea[];
  ofp text[];
  otag text[];
  oa bigint[];
  ob bigint[];
  oc bigint[];
  onew boolean[];
  -- the entries the batch appends, in element order (inserted at the end)
  jt bytea[] := '{}';
  js bigint[] := '{}';
  jp bytea[] := '{}';
  jh bytea[] := '{}';
  jd bytea[] := '{}';
  -- the HMAC pads of the last key seen (RFC 2104, as calybris_budget_hmac_sha256)
  pad_key bytea;
  pad bytea;
  ipad bytea;
  opad bytea;
  entry_data bytea;
  entry_message bytea;
  entry_hash bytea;
  k text;
  t bytea;
  pos integer;
  hp integer;
  q integer;
  hstate text;
  hamount bigint;
  amt bigint;
  rid bigint;
  op bytea;
  fp text;
  prior record;
BEGIN
  -- the holds, locked by id (settled ones included, as a statement locks them), and read
  SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.tenant), '{}'), coalesce(array_agg(r.amount), '{}'),
      coalesce(array_agg(r.expires_at_ms), '{}'), coalesce(array_agg(r.state), '{}'),
      coalesce(array_agg(r.actual), '{}'), coalesce(array_agg(false), '{}')
    INTO hid, ht, ha, hx, hs, hact, hn
    FROM (SELECT r.id, r.tenant, r.amount, r.expires_at_ms, r.state, r.actual FROM calybris_budget_reservations r
      WHERE r.id = ANY (holds) ORDER BY r.id FOR UPDATE) AS r;
  -- then every tenant the batch touches, locked by key, and read
  SELECT coalesce(array_agg(x.tenant), '{}'), array_agg(x.present), array_agg(x.initial), array_agg(x.remaining),
      array_agg(x.reserved), array_agg(x.committed), array_agg(x.cap), array_agg(x.journal_seq),
      array_agg(x.journal_head)
    INTO tk, tp, ti, tr, ts, tc, tcap, tj, th
    FROM (SELECT x.tenant, x.present, x.initial, x.remaining, x.reserved, x.committed, x.cap, x.journal_seq,
        x.journal_head
      FROM calybris_budget_tenants x
      WHERE x.tenant IN (SELECT decode(u, 'hex') FROM unnest(tenants) AS u WHERE u IS NOT NULL UNION SELECT unnest(ht))
      ORDER BY x.tenant FOR UPDATE) AS x;
  -- the batch's operation ids already remembered
  SELECT coalesce(array_agg(p.operation_id), '{}'), coalesce(array_agg(p.fingerprint), '{}'),
      coalesce(array_agg(p.tag), '{}'), coalesce(array_agg(p.a), '{}'), coalesce(array_agg(p.b), '{}'),
      coalesce(array_agg(p.c), '{}'), coalesce(array_agg(false), '{}')
    INTO oid, ofp, otag, oa, ob, oc, onew
    FROM calybris_budget_operations p
    WHERE p.operation_id IN (SELECT decode(u, 'hex') FROM unnest(ops) AS u WHERE u IS NOT NULL);
  FOR j IN 1 .. n LOOP
    k := kinds[j];
    amt := amounts[j];
    rid := holds[j];
    op := decode(ops[j], 'hex');
    fp := fingerprints[j];
    o_index := j;
    o_tag := NULL;
    o_a := NULL;
    o_b := NULL;
    o_c := NULL;
    IF op IS NOT NULL THEN
      q := array_position(oid, op);
      IF q IS NOT NULL THEN
        IF ofp[q] = fp THEN
          o_tag := otag[q];
          o_a := oa[q];
          o_b := ob[q];
          o_c := oc[q];
        ELSE
          o_tag := 'IdempotencyConflict';
        END IF;
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    -- the tenant (a hold's, in any state, for a settlement: a refusal under an id is journaled on
    -- its chain): its place in the arrays; a hold or a tenant not there (never issued, or opened
    -- by another transaction after the locks above) is looked up, locked and loaded here
    t := NULL;
    hp := NULL;
    IF k = 'topUp' OR k = 'reserve' THEN
      t := decode(tenants[j], 'hex');
    ELSE
      hp := array_position(hid, rid);
      IF hp IS NULL THEN
        SELECT r.tenant, r.amount, r.expires_at_ms, r.state, r.actual INTO prior
          FROM calybris_budget_reservations r WHERE r.id = rid FOR UPDATE;
        IF FOUND THEN
          hid := array_append(hid, rid);
          ht := array_append(ht, prior.tenant);
          ha := array_append(ha, prior.amount);
          hx := array_append(hx, prior.expires_at_ms);
          hs := array_append(hs, prior.state);
          hact := array_append(hact, prior.actual);
          hn := array_append(hn, false);
          hp := array_length(hid, 1);
        END IF;
      END IF;
      t := ht[hp];
    END IF;
    hstate := hs[hp];
    hamount := ha[hp];
    pos := array_position(tk, t);
    IF pos IS NULL AND t IS NOT NULL THEN
      SELECT x.present, x.initial, x.remaining, x.reserved, x.committed, x.cap, x.journal_seq, x.journal_head INTO prior
        FROM calybris_budget_tenants x WHERE x.tenant = t FOR UPDATE;
      IF FOUND THEN
        tk := tk || t;
        pos := array_length(tk, 1);
        tp[pos] := prior.present;
        ti[pos] := prior.initial;
        tr[pos] := prior.remaining;
        ts[pos] := prior.reserved;
        tc[pos] := prior.committed;
        tcap[pos] := prior.cap;
        tj[pos] := prior.journal_seq;
        th[pos] := prior.journal_head;
      END IF;
    END IF;
    IF k = 'topUp' THEN
      IF amt <= 0 THEN
        o_tag := 'InvalidAmount';
      ELSIF pos IS NULL OR NOT tp[pos] THEN
        o_tag := 'MissingTenant';
      ELSIF ti[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
      ELSE
        ti[pos] := ti[pos] + amt;
        tr[pos] := tr[pos] + amt;
        o_tag := 'ToppedUp';
        o_a := amt;
        o_b := ti[pos];
        o_c := tr[pos];
      END IF;
    ELSIF k = 'reserve' THEN
      IF amt <= 0 THEN
        o_tag := 'Insufficient';
        o_a := 0;
        o_b := amt;
      ELSIF pos IS NULL OR NOT tp[pos] THEN
        o_tag := 'MissingTenant';
      ELSIF ts[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
        o_a := ts[pos];
      ELSIF tcap[pos] IS NOT NULL AND ts[pos]::numeric + amt > tcap[pos] THEN
        o_tag := 'ExposureLimitExceeded';
        o_a := ts[pos];
        o_b := tcap[pos];
      ELSIF tr[pos] < amt THEN
        o_tag := 'Insufficient';
        o_a := tr[pos];
        o_b := amt;
      ELSE
        tr[pos] := tr[pos] - amt;
        ts[pos] := ts[pos] + amt;
        o_b := nextval('calybris_budget_reservation_ids');
        hid := array_append(hid, o_b);
        ht := array_append(ht, t);
        ha := array_append(ha, amt);
        hx := array_append(hx, expiries[j]);
        hs := array_append(hs, 'open'::text);
        hact := array_append(hact, NULL::bigint);
        hn := array_append(hn, true);
        o_tag := 'Reserved';
        o_a := tr[pos];
      END IF;
    ELSIF k = 'commit' THEN
      IF amt < 0 THEN
        o_tag := 'InvalidAmount';
      ELSIF hstate IS DISTINCT FROM 'open' THEN
        o_tag := 'MissingReservation';
      ELSIF pos IS NULL THEN
        o_tag := 'MissingTenant';
      ELSIF tc[pos]::numeric + amt > i64_max THEN
        o_tag := 'Overflow';
        o_a := tr[pos];
      ELSIF amt > hamount AND tr[pos] < amt - hamount THEN
        o_tag := 'Overrun';
        o_a := tr[pos];
      ELSE
        tr[pos] := tr[pos] - (amt - hamount);
        ts[pos] := ts[pos] - hamount;
        tc[pos] := tc[pos] + amt;
        hs[hp] := 'committed';
        hact[hp] := amt;
        o_tag := 'Committed';
        o_a := tr[pos];
        o_b := amt;
      END IF;
    ELSIF k = 'release' OR k = 'expire' THEN
      IF hstate IS DISTINCT FROM 'open' THEN
        o_tag := 'MissingReservation';
      ELSIF pos IS NULL THEN
        o_tag := 'MissingTenant';
      ELSE
        tr[pos] := tr[pos] + hamount;
        ts[pos] := ts[pos] - hamount;
        hs[hp] := CASE WHEN k = 'expire' THEN 'expired' ELSE 'released' END;
        o_tag := 'Released';
        o_a := tr[pos];
        o_b := hamount;
      END IF;
    ELSE
      RAISE EXCEPTION 'calybris_budget_batch: unknown kind %', k;
    END IF;
    IF op IS NOT NULL THEN
      oid := array_append(oid, op);
      ofp := array_append(ofp, fp);
      otag := array_append(otag, o_tag);
      oa := array_append(oa, o_a);
      ob := array_append(ob, o_b);
      oc := array_append(oc, o_c);
      onew := array_append(onew, true);
    END IF;
    -- the journal: what the statement twin journals (an applied result, or a refusal under an id
    -- on a tenant with a row), chained on the head kept in the arrays
    IF pos IS NOT NULL AND (o_tag IN ('ToppedUp', 'Reserved', 'Committed', 'Released') OR op IS NOT NULL) THEN
      entry_data := records[j] || convert_to(
        CASE k
          WHEN 'reserve' THEN ${resultJson("reserve")}
          WHEN 'topUp' THEN ${resultJson("topUp")}
          ELSE ${resultJson("settlement")}
        END || '}', 'UTF8');
      entry_message := convert_to(coalesce(encode(th[pos], 'hex'), 'genesis'), 'UTF8') || entry_data;
      IF keys[j] IS NULL THEN
        entry_hash := sha256(entry_message);
      ELSE
        IF pad_key IS DISTINCT FROM keys[j] THEN
          pad_key := keys[j];
          pad := CASE WHEN octet_length(pad_key) > 64 THEN sha256(pad_key) ELSE pad_key END;
          pad := pad || decode(repeat('00', 64 - octet_length(pad)), 'hex');
          ipad := pad;
          opad := pad;
          FOR i IN 0..63 LOOP
            ipad := set_byte(ipad, i, get_byte(pad, i) # 54);
            opad := set_byte(opad, i, get_byte(pad, i) # 92);
          END LOOP;
        END IF;
        entry_hash := sha256(opad || sha256(ipad || entry_message));
      END IF;
      tj[pos] := tj[pos] + 1;
      jt := array_append(jt, t);
      js := array_append(js, tj[pos]);
      jp := array_append(jp, th[pos]);
      jh := array_append(jh, entry_hash);
      jd := array_append(jd, entry_data);
      th[pos] := entry_hash;
    END IF;
    RETURN NEXT;
  END LOOP;
  -- the holds this batch opened, each in its final state, in element order (ids in that order)
  INSERT INTO calybris_budget_reservations (id, tenant, amount, expires_at_ms, state, actual)
    SELECT u.id, u.tenant, u.amount, u.expires_at_ms, u.state, u.actual
    FROM unnest(hid, ht, ha, hx, hs, hact, hn) WITH ORDINALITY
      AS u(id, tenant, amount, expires_at_ms, state, actual, new, n)
    WHERE u.new
    ORDER BY u.n;
  -- the holds it settled
  UPDATE calybris_budget_reservations r
    SET state = u.state, actual = u.actual
    FROM unnest(hid, hs, hact, hn) AS u(id, state, actual, new)
    WHERE r.id = u.id AND NOT u.new AND r.state IS DISTINCT FROM u.state;
  -- the operation ids it remembered, in element order
  INSERT INTO calybris_budget_operations (operation_id, fingerprint, tag, a, b, c)
    SELECT u.operation_id, u.fingerprint, u.tag, u.a, u.b, u.c
    FROM unnest(oid, ofp, otag, oa, ob, oc, onew) WITH ORDINALITY AS u(operation_id, fingerprint, tag, a, b, c, new, n)
    WHERE u.new
    ORDER BY u.n;
  -- the balances and the journal heads, once per tenant (the CHECK constraints hold them here)
  UPDATE calybris_budget_tenants x
    SET initial = u.initial, remaining = u.remaining, reserved = u.reserved, committed = u.committed,
      journal_seq = u.journal_seq, journal_head = u.journal_head
    FROM unnest(tk, ti, tr, ts, tc, tj, th)
      AS u(tenant, initial, remaining, reserved, committed, journal_seq, journal_head)
    WHERE x.tenant = u.tenant
      AND (x.initial, x.remaining, x.reserved, x.committed, x.journal_seq)
        IS DISTINCT FROM (u.initial, u.remaining, u.reserved, u.committed, u.journal_seq);
  -- the entries, in element order
  INSERT INTO calybris_budget_journal (tenant, seq, previous, hash, entry)
    SELECT u.tenant, u.seq, u.previous, u.hash, u.entry
    FROM unnest(jt, js, jp, jh, jd) WITH ORDINALITY AS u(tenant, seq, previous, hash, entry, n)
    ORDER BY u.n;
END
$batch$`)
})

/** The migrations, in order (ids are never reused; a released migration is never edited). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_ledger": m1,
  "2_layer": m2,
  "3_journal": m3,
  "4_batch": m4,
  "5_journal_key": m5,
  "6_operations": m6,
  "7_batch": m7
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
  // the Migrator turns a failing migration into a defect: it is a storage failure here; and so is
  // a COMMIT or ROLLBACK that failed (`withTransaction` makes it a defect: see `failedTransaction`)
  Effect.catchSomeDefect((defect) =>
    defect instanceof Migrator.MigrationError ? Option.some(Effect.fail(defect)) : Option.none()
  ),
  failedTransaction,
  Effect.mapError((cause) => new LedgerStoreError({ operation: "migrate", cause })),
  Effect.withSpan("PgSchema.migrate")
)
