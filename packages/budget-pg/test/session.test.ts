/**
 * The ledger's consistency model (docs/LEDGER.md, "Consistency model") whatever the server's
 * defaults: READ COMMITTED and `synchronous_commit` on for each connection of its own pool,
 * though the database, the role or the URL's `options` say otherwise; a caller's `SqlClient`
 * with `synchronous_commit` off refused; a statement rolled back whole (40001, 40P01) run again.
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import * as Postgres from "@calybris/testing/Postgres"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { client, enabled } from "./support/database.js"

/** A fresh, migrated database whose defaults are `settings` (`ALTER DATABASE … SET`, for connections opened after). */
const databaseWith = (settings: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { name, url } = yield* Postgres.makeDatabase
    yield* Effect.scoped(Effect.flatMap(
      Layer.build(client(url, 1)),
      (context) =>
        Effect.provideService(PgSchema.migrate, SqlClient.SqlClient, Context.get(context, SqlClient.SqlClient))
    ))
    for (const setting of settings) yield* Postgres.psql(`ALTER DATABASE ${name} SET ${setting}`)
    return url
  })

/** The session settings a pool's connections run with (each of `n` connections held at once). */
const sessionsOf = (n: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* Effect.all(
      Array.from({ length: n }, () =>
        sql<{ isolation: string; sync: string }>`SELECT current_setting('transaction_isolation') AS isolation,
          current_setting('synchronous_commit') AS sync, pg_sleep(0.05)`.pipe(Effect.map(([row]) =>
          row
        ))),
      { concurrency: "unbounded" }
    )
  })

const reserveAll = (n: number) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.apply(Command.ensureTenant(TenantId.make("hot"), Microcents.make(1_000_000n)))
    return yield* Effect.all(
      Array.from({ length: n }, (_, i) =>
        Effect.either(
          ledger.apply(Command.reserve(TenantId.make("hot"), Microcents.make(1n), { operation_id: `r${i}` }))
        )),
      { concurrency: "unbounded" }
    )
  })

describe.runIf(enabled)("the ledger's sessions", () => {
  it.scoped("its own pool runs READ COMMITTED with synchronous_commit on, whatever the database's defaults", () =>
    Effect.gen(function*() {
      const url = yield* databaseWith([
        "default_transaction_isolation = 'repeatable read'",
        "synchronous_commit = off"
      ])
      // the database's defaults are what a plain client gets
      const plain = yield* sessionsOf(1).pipe(Effect.provide(client(url, 1)))
      assert.deepStrictEqual(plain.map((s) => [s?.isolation, s?.sync]), [["repeatable read", "off"]])
      const own = yield* sessionsOf(4).pipe(
        Effect.provide(LedgerPg.pool({ url: Redacted.make(url), maxConnections: 4 }))
      )
      assert.deepStrictEqual(own.map((s) => [s?.isolation, s?.sync]), Array(4).fill(["read committed", "on"]))
      // contended reserves on one tenant: each applies (under REPEATABLE READ, about half failed with 40001)
      const results = yield* reserveAll(8).pipe(
        Effect.provide(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 8 }))
      )
      assert.deepStrictEqual(
        results.map((r) => r._tag === "Right" ? r.right._tag : r.left._tag),
        Array(8).fill("Reserved")
      )
    }))

  it.scoped("the URL's options cannot lower them either (local and remote_write are set on too), and remote_apply is kept", () =>
    Effect.gen(function*() {
      const url = yield* databaseWith(["synchronous_commit = remote_apply"])
      const options = "options=-c%20default_transaction_isolation%3Dserializable"
      const own = yield* sessionsOf(2).pipe(
        Effect.provide(LedgerPg.pool({ url: Redacted.make(`${url}?${options}`), maxConnections: 2 }))
      )
      assert.deepStrictEqual(own.map((s) => [s?.isolation, s?.sync]), Array(2).fill(["read committed", "remote_apply"]))
      for (const weaker of ["off", "local", "remote_write"]) {
        const set = yield* sessionsOf(1).pipe(
          Effect.provide(
            LedgerPg.pool({
              url: Redacted.make(`${url}?options=-c%20synchronous_commit%3D${weaker}`),
              maxConnections: 1
            })
          )
        )
        // local and remote_write do not wait for a synchronous standby: on (a review)
        assert.deepStrictEqual(set.map((s) => [s?.isolation, s?.sync]), [["read committed", "on"]], weaker)
      }
    }))

  it.scoped("a caller's SqlClient with synchronous_commit off is refused before anything is written", () =>
    Effect.gen(function*() {
      const url = yield* databaseWith(["synchronous_commit = off"])
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(LedgerPg.layerClientWithOptions({}).pipe(Layer.provide(client(url, 1)))))
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "LedgerStoreError")
        assert.match(String(error?.message), /synchronous_commit is "off"/)
      }
      // nothing was written: no journal key pinned, no tenant
      assert.strictEqual(
        yield* Postgres.psql(
          "SELECT (SELECT count(*) FROM calybris_budget_tenants) + (SELECT count(*) FROM calybris_budget_journal)",
          url
        ),
        "0"
      )
    }))

  it.scoped("a statement of a caller's SqlClient rolled back whole by a serialization failure runs again", () =>
    Effect.gen(function*() {
      const url = yield* databaseWith(["default_transaction_isolation = 'repeatable read'"])
      const results = yield* Effect.gen(function*() {
        yield* PgOperations.ensureTenant(Command.ensureTenant(TenantId.make("hot"), Microcents.make(1_000_000n)))
        return yield* Effect.all(
          Array.from({ length: 8 }, (_, i) =>
            Effect.either(
              PgOperations.reserve(
                Command.reserve(TenantId.make("hot"), Microcents.make(1n), { operation_id: `r${i}` })
              )
            )),
          { concurrency: "unbounded" }
        )
      }).pipe(Effect.provide(client(url, 8)))
      assert.deepStrictEqual(
        results.map((r) => r._tag === "Right" ? r.right._tag : r.left._tag),
        Array(8).fill("Reserved")
      )
    }))

  it.scoped("inside a caller's transaction a serialization failure is the caller's: 40001 comes through, not retried into 25P02", () =>
    Effect.gen(function*() {
      const url = yield* databaseWith(["default_transaction_isolation = 'repeatable read'"])
      const hot = TenantId.make("hot")
      const other = yield* Layer.build(client(url, 1))
      const inOther = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
        Effect.provideService(effect, SqlClient.SqlClient, Context.get(other, SqlClient.SqlClient))
      yield* inOther(PgOperations.ensureTenant(Command.ensureTenant(hot, Microcents.make(1_000n))))
      const failure = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql.withTransaction(Effect.gen(function*() {
          // the transaction's snapshot, then a change to the tenant's row committed after it
          yield* sql`SELECT count(*) FROM calybris_budget_tenants`
          // (run apart: inside this fiber the transaction's connection would serve the other client too)
          yield* Effect.promise(() =>
            Effect.runPromise(
              inOther(PgOperations.reserve(Command.reserve(hot, Microcents.make(1n), { operation_id: "other" })))
            )
          )
          return yield* Effect.flip(
            PgOperations.reserve(Command.reserve(hot, Microcents.make(1n), { operation_id: "mine" }))
          )
        })).pipe(Effect.catchAll((e) => Effect.succeed(e)))
      }).pipe(Effect.provide(client(url, 1)))
      assert.strictEqual(failure._tag, "LedgerStoreError")
      const cause = (failure as { readonly cause?: unknown }).cause
      assert.strictEqual(cause instanceof SqlError ? PgOperations.sqlState(cause) : undefined, "40001")
    }))
})
