/**
 * What `LedgerPg` wires around its statements (issue 15):
 * - an admit's audited decision reaches the tenant's journal (and the chain audits);
 * - a restore is journaled on every tenant it rewrites, so every chain still audits after it;
 * - `journalKey`: every entry the layer writes is keyed (the WAL verifier needs the key), an
 *   empty key is refused (`JournalEmptyKey`) before anything is built;
 * - `batch`: top-ups, reserves, commits, releases and expiries go through the group-commit
 *   batcher (without its function they fail; ensure and cap, which it does not serve, still apply).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import type * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { input, policy } from "../../budget/test/support/fixtures.js"
import { client, enabled, freshDatabase, SKIP_REASON } from "./support/database.js"

const utf8 = new TextDecoder()
const micro = (n: bigint) => Microcents.make(n)
const tenant = (t: string) => TenantId.make(t)

/** A fresh, migrated database: its URL and a client on it. */
const database = Effect.gen(function*() {
  const url = yield* freshDatabase
  const sql = yield* Layer.build(client(url, 1)).pipe(Effect.map(Context.get(SqlClient.SqlClient)))
  yield* Effect.provideService(PgSchema.migrate, SqlClient.SqlClient, sql)
  return { url, sql }
})

/** Verify a tenant's exported chain with the WAL's verifier (keyed or not). */
const verifyExport = (sql: SqlClient.SqlClient, t: string, key?: Uint8Array) =>
  Effect.gen(function*() {
    const bytes = yield* Effect.provideService(PgJournal.exportTenant(t), SqlClient.SqlClient, sql)
    const chain = yield* Chain.make(key === undefined ? {} : { key })
    const verified = yield* Effect.either(Reader.verifyEach(Stream.make(bytes), { chain }, () => Either.void))
    return { text: utf8.decode(bytes), verified }
  })

const auditAll = (sql: SqlClient.SqlClient, tenants: ReadonlyArray<string>, key?: Uint8Array) =>
  Effect.forEach(tenants, (t) => {
    const audit = Effect.provideService(PgJournal.audit(t), SqlClient.SqlClient, sql)
    return key === undefined ? audit : Effect.provide(audit, PgJournal.layerKey(key))
  })

if (enabled) {
  describe("LedgerPg wiring", () => {
    it.scoped.each([false, true])(
      "an admit's audited decision is in the tenant's journal, and the chain audits (batch: %s)",
      (batch) =>
        Effect.gen(function*() {
          const { sql, url } = yield* database
          const metadata = new Map<string, Json.Json>([["route", "r-1"]])
          const outcome = yield* Effect.gen(function*() {
            yield* Ledger.ensureTenant(tenant("gw"), micro(50_000n))
            const first = yield* Ledger.admit(policy, tenant("gw"), input(1), { operationId: "adm-1", metadata })
            // the retry returns the original (no second entry)
            const again = yield* Ledger.admit(policy, tenant("gw"), input(1), { operationId: "adm-1", metadata })
            assert.deepStrictEqual(again, first)
            yield* Ledger.admit(policy, tenant("gw"), input(2))
            return first
          }).pipe(Effect.provide(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 2, batch })))
          assert.strictEqual(outcome._tag, "Admitted")
          const { text, verified } = yield* verifyExport(sql, "gw")
          assert.isTrue(Either.isRight(verified))
          const lines = text.trimEnd().split("\n")
          assert.strictEqual(lines.length, 3, "ensure and two admits")
          for (const line of lines.slice(1)) {
            assert.include(line, `"command":{"kind":"admit","tenant_id":"gw",`)
            assert.notInclude(line, `"audited":null`)
            assert.include(line, `"audited":{`)
          }
          assert.include(lines[1], `"route":"r-1"`)
          const [audited] = yield* auditAll(sql, ["gw"])
          assert.strictEqual(audited?.count, 3n)
        })
    )

    it.scoped("a restore is journaled on every tenant it rewrites: every chain audits before and after", () =>
      Effect.gen(function*() {
        const { sql, url } = yield* database
        const all = ["a", "b", "c", "d", "capped"]
        yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* Ledger.ensureTenant(tenant("a"), micro(1_000n))
          yield* Ledger.ensureTenant(tenant("b"), micro(500n))
          yield* Ledger.ensureTenant(tenant("c"), micro(300n))
          yield* ledger.apply(Command.setExposureCap(tenant("capped"), micro(50n)))
          const held = yield* Ledger.reserve(tenant("a"), micro(400n), { operationId: "r-a" })
          assert.strictEqual(held._tag, "Reserved")
          const spent = yield* Ledger.reserve(tenant("b"), micro(100n))
          if (spent._tag === "Reserved") yield* Ledger.commit(spent.reservation_id, micro(80n))
          yield* Ledger.reserve(tenant("c"), micro(10n), { expiresIn: "1 second" })
          yield* TestClock.adjust("2 seconds")
          yield* auditAll(sql, all)
          // a: rewritten (its open hold dropped), b: absent, c: kept as it is, d: new
          const restored = yield* ledger.apply(Command.restore(Snapshot.makeSnapshot(9n, [
            Snapshot.tenantBalance("a", 2_000n, 1_900n, 0n, 100n),
            Snapshot.tenantBalance("c", 300n, 300n, 0n, 0n),
            Snapshot.tenantBalance("d", 70n, 70n, 0n, 0n)
          ], 0n)))
          assert.deepStrictEqual(restored, { _tag: "Restored" })
          yield* auditAll(sql, all)
          // the dropped hold is gone; the ledger goes on on every tenant
          if (held._tag === "Reserved") {
            assert.strictEqual((yield* Ledger.commit(held.reservation_id, micro(1n)))._tag, "MissingReservation")
          }
          assert.strictEqual((yield* Ledger.reserve(tenant("b"), micro(1n)))._tag, "MissingTenant")
          const more = yield* Ledger.reserve(tenant("d"), micro(60n))
          if (more._tag === "Reserved") yield* Ledger.release(more.reservation_id)
          yield* Ledger.ensureTenant(tenant("b"), micro(5n))
          yield* Ledger.reserve(tenant("a"), micro(1_900n))
          // a refused restore writes nothing
          const refused = yield* ledger.apply(Command.restore(Snapshot.makeSnapshot(1n, [], 1n)))
          assert.strictEqual(refused._tag, "RestoreRefused")
          // and once more, with an open hold on a
          yield* ledger.apply(Command.restore(Snapshot.makeSnapshot(10n, [
            Snapshot.tenantBalance("b", 5n, 5n, 0n, 0n)
          ], 0n)))
        }).pipe(Effect.provide(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 1 })))
        const audited = yield* auditAll(sql, all)
        assert.deepStrictEqual(audited.map((a) => a.count), [5n, 6n, 5n, 4n, 1n])
        const a = yield* verifyExport(sql, "a")
        assert.include(
          a.text,
          `"data":{"v":1,"command":{"kind":"restore","snapshot":{"version":9,"tenants":[{"tenant_id":"a",`
        )
        assert.include(
          a.text,
          `"data":{"v":1,"command":{"kind":"restore","snapshot":{"version":10,"tenants":[],"active_reservations":0}}}}`
        )
      }))

    it.scoped("a restore record the ledger did not write is found: another tenant, two balances, a hold, a row it does not match", () =>
      Effect.gen(function*() {
        const { sql, url } = yield* database
        const forged = ["x1", "x2", "x3", "x4"]
        yield* Effect.forEach(forged, (t) => Ledger.ensureTenant(tenant(t), micro(100n))).pipe(
          Effect.provide(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 1 }))
        )
        const balance = (t: string, remaining = 100n) =>
          Snapshot.tenantBalance(t, 100n, remaining, 0n, 100n - remaining)
        const records: ReadonlyArray<readonly [string, Snapshot.Snapshot, string]> = [
          ["x1", Snapshot.makeSnapshot(1n, [balance("x2")], 0n), `the restore names tenant "x2"`],
          ["x2", Snapshot.makeSnapshot(1n, [balance("x2"), balance("x2")], 0n), "one balance at most and no hold"],
          ["x3", Snapshot.makeSnapshot(1n, [balance("x3")], 1n), "one balance at most and no hold"],
          // a well-formed restore of the tenant, appended without the row it claims
          ["x4", Snapshot.makeSnapshot(1n, [balance("x4", 40n)], 0n), "the row holds"]
        ]
        for (const [t, snapshot, reason] of records) {
          // (the unkeyed chain's hash needs no secret: anyone who can write the database can append)
          yield* sql`SELECT calybris_budget_journal_append(${new TextEncoder().encode(t)}::bytea,
            ${PgJournal.recordHead(Command.restore(snapshot), false)}::bytea, NULL)`
          const failure = yield* Effect.flip(auditAll(sql, [t]))
          assert.strictEqual(failure._tag, "JournalAuditFailed", t)
          assert.include(failure.message, reason, t)
          if (failure._tag === "JournalAuditFailed") assert.strictEqual(failure.seq, t === "x4" ? 3n : 2n, t)
        }
      }))

    it.scoped("journalKey: every entry is keyed (the verifier needs the key); an empty key is refused first", () =>
      Effect.gen(function*() {
        const { sql, url } = yield* database
        const key = new TextEncoder().encode("journal key of the fleet")
        yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* Ledger.ensureTenant(tenant("k"), micro(100_000n))
          const r = yield* Ledger.reserve(tenant("k"), micro(10n), { operationId: "k-1" })
          if (r._tag === "Reserved") yield* Ledger.commit(r.reservation_id, micro(5n))
          assert.strictEqual((yield* Ledger.admit(policy, tenant("k"), input(1)))._tag, "Admitted")
          yield* ledger.apply(Command.restore(Snapshot.makeSnapshot(1n, [
            Snapshot.tenantBalance("k", 100_000n, 99_995n, 0n, 5n)
          ], 0n)))
        }).pipe(
          Effect.provide(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 1, journalKey: Redacted.make(key) }))
        )
        assert.isTrue(Either.isRight((yield* verifyExport(sql, "k", key)).verified))
        assert.isTrue(Either.isLeft((yield* verifyExport(sql, "k")).verified), "unkeyed: refused")
        assert.strictEqual((yield* auditAll(sql, ["k"], key))[0]?.count, 5n)
        assert.isTrue(Either.isLeft(yield* Effect.either(auditAll(sql, ["k"]))))
        // an empty key: the typed error, before anything (no pool is even used)
        const rows = sql<{ readonly n: string }>`SELECT count(*)::text AS n FROM calybris_budget_journal`
        const before = yield* rows
        const empty = yield* Effect.flip(
          Layer.build(
            LedgerPg.layer({ url: Redacted.make(url), migrate: true, journalKey: Redacted.make(new Uint8Array()) })
          )
        )
        assert.strictEqual(empty._tag, "JournalEmptyKey")
        const emptyClient = yield* Effect.flip(
          Layer.build(LedgerPg.layerClientWithOptions({ journalKey: Redacted.make(new Uint8Array()) })).pipe(
            Effect.provideService(SqlClient.SqlClient, sql)
          )
        )
        assert.strictEqual(emptyClient._tag, "JournalEmptyKey")
        assert.deepStrictEqual(yield* rows, before)
      }))

    it.scoped("batch: top-ups, reserves, commits, releases and expiries go through the batcher", () =>
      Effect.gen(function*() {
        const { sql, url } = yield* database
        const ledger = yield* Layer.build(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 2, batch: true }))
          .pipe(Effect.map(Context.get(Ledger.Ledger)))
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) =>
          Effect.provideService(effect, Ledger.Ledger, ledger)
        yield* run(Ledger.ensureTenant(tenant("t"), micro(1_000n)))
        const held = yield* run(Ledger.reserve(tenant("t"), micro(100n)))
        const due = yield* run(Ledger.reserve(tenant("t"), micro(100n), { expiresIn: "1 second" }))
        const other = yield* run(Ledger.reserve(tenant("t"), micro(100n)))
        assert.strictEqual(held._tag, "Reserved")
        assert.strictEqual(due._tag, "Reserved")
        assert.strictEqual(other._tag, "Reserved")
        // many at once: one batcher serves them all (the invariant holds, results as the memory layer's)
        const many = yield* run(Effect.all(
          Array.from({ length: 40 }, () => Ledger.reserve(tenant("t"), micro(20n))),
          { concurrency: "unbounded" }
        ))
        assert.strictEqual(many.filter((r) => r._tag === "Reserved").length, 35)
        // without the batch function, whatever the batcher serves fails; what it does not serve applies
        // (renamed by its name alone, whatever its arguments)
        const rename = (from: string, to: string) =>
          sql.unsafe(`DO $$ BEGIN
            EXECUTE format('ALTER FUNCTION %s RENAME TO ${to}', '${from}'::regproc::regprocedure);
          END $$`)
        yield* rename("calybris_budget_batch", "calybris_budget_batch_gone")
        const failed = (effect: Effect.Effect<unknown, unknown, Ledger.Ledger>) =>
          Effect.map(Effect.flip(run(effect)), (e) => (e as { readonly _tag: string })._tag)
        // (ensure is not served by the batcher; before the Clock moves: a due hold would be expired first)
        yield* run(Ledger.ensureTenant(tenant("u"), micro(5n)))
        assert.isTrue(Option.isSome(yield* run(Ledger.balance("u"))))
        assert.strictEqual(yield* failed(Ledger.topUp(tenant("t"), micro(1n))), "LedgerStoreError")
        assert.strictEqual(yield* failed(Ledger.reserve(tenant("t"), micro(1n))), "LedgerStoreError")
        if (held._tag === "Reserved" && other._tag === "Reserved") {
          assert.strictEqual(yield* failed(Ledger.commit(held.reservation_id, micro(1n))), "LedgerStoreError")
          assert.strictEqual(yield* failed(Ledger.release(other.reservation_id)), "LedgerStoreError")
        }
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(yield* failed(Ledger.sweepExpired), "LedgerStoreError")
        yield* rename("calybris_budget_batch_gone", "calybris_budget_batch")
        yield* run(Ledger.sweepExpired)
        const states = yield* sql<{ readonly state: string; readonly n: string }>`
          SELECT state, count(*)::text AS n FROM calybris_budget_reservations GROUP BY state ORDER BY state`
        assert.deepStrictEqual(states, [{ state: "expired", n: "1" }, { state: "open", n: "37" }])
      }))
  })
} else {
  describe("LedgerPg wiring", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
