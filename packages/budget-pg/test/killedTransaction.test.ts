/**
 * A connection killed inside a transaction (`pg_terminate_backend` while it waits for a lock) fails
 * a restore and a journal audit with `LedgerStoreError`, never a defect: `withTransaction` made
 * the failed ROLLBACK a `Die` that went past every typed handler (a hostile review).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { enabled, freshLedger, SKIP_REASON } from "./support/database.js"

const setup = Effect.gen(function*() {
  const { ledger, sql, url } = yield* freshLedger(3, 2)
  yield* Effect.provideService(Ledger.ensureTenant(TenantId.make("t"), Microcents.make(100n)), Ledger.Ledger, ledger)
  return { url, sql, ledger }
})

/**
 * Hold an ACCESS EXCLUSIVE lock on `table` in a transaction of the test's own client while
 * `effect` runs; once the ledger's backend running `like` waits for that lock (polled, not
 * timed: a loaded machine reaches it late), terminate it; then let the lock go.
 */
const underLockKill = <A, E>(sql: SqlClient.SqlClient, table: string, like: string, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const locked = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      yield* Deferred.succeed(locked, undefined)
      yield* Deferred.await(release)
    })))
    yield* Deferred.await(locked)
    const victim = yield* Effect.fork(Effect.exit(effect))
    let killed = 0
    for (let i = 0; i < 600 && killed === 0; i++) {
      yield* Effect.sleep(Duration.millis(50))
      const rows = yield* sql<{ n: number }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE application_name = 'calybris-ledger' AND wait_event_type = 'Lock' AND query LIKE ${like}`
      killed = rows[0]?.n ?? 0
    }
    const exit = yield* Fiber.join(victim)
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(holder)
    return { killed, exit }
  })

/** The exit is a typed `LedgerStoreError` of `operation`, not a defect. */
const expectStoreError = (exit: Exit.Exit<unknown, unknown>, operation: string) => {
  assert.isTrue(Exit.isFailure(exit), "it failed")
  if (Exit.isSuccess(exit)) return
  assert.isFalse(Cause.isDie(exit.cause), Cause.pretty(exit.cause).slice(0, 400))
  const failure = Cause.failureOption(exit.cause)
  assert.isTrue(Option.isSome(failure), Cause.pretty(exit.cause).slice(0, 400))
  if (Option.isSome(failure)) {
    assert.strictEqual((failure.value as { readonly _tag?: unknown })._tag, "LedgerStoreError")
    assert.strictEqual((failure.value as { readonly operation?: unknown }).operation, operation)
  }
}

if (enabled) {
  describe("a connection killed inside a transaction", () => {
    it.live("restore: LedgerStoreError (restore), not a defect", () =>
      Effect.scoped(Effect.gen(function*() {
        const { ledger, sql } = yield* setup
        const snap = Snapshot.makeSnapshot(5n, [Snapshot.tenantBalance("t", 200n, 200n, 0n, 0n)], 0n)
        const { exit, killed } = yield* underLockKill(
          sql,
          "calybris_budget_tenants",
          "%LOCK TABLE%",
          ledger.apply(Command.restore(snap))
        )
        assert.strictEqual(killed, 1)
        expectStoreError(exit, "restore")
      })))

    it.live("PgJournal.audit: LedgerStoreError (audit), not a defect", () =>
      Effect.scoped(Effect.gen(function*() {
        const { sql, url } = yield* setup
        const auditSql = yield* Layer.build(LedgerPg.pool({ url: Redacted.make(url) })).pipe(
          Effect.map(Context.get(SqlClient.SqlClient))
        )
        const { exit, killed } = yield* underLockKill(
          sql,
          "calybris_budget_journal",
          "%calybris_budget_journal%",
          Effect.provideService(PgJournal.audit("t"), SqlClient.SqlClient, auditSql)
        )
        assert.strictEqual(killed, 1)
        expectStoreError(exit, "audit")
      })))
  })
} else {
  describe("a connection killed inside a transaction", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
