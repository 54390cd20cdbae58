/**
 * The one-statement operations on a real PostgreSQL give the state machine's results: for any
 * sequence of commands (valid and not, with operation ids retried, reused with other arguments,
 * amounts at the i64 edges, unknown and settled holds), each result equals the pure state
 * machine's, and afterwards the balances, caps and open holds are the same (the CHECK
 * constraints would have failed a statement that broke conservation).
 *
 * The model remembers every result under its operation id, refusals included (the database
 * does; `LedgerState.step` on main remembers applied results only, until issue 15's decision
 * lands there).
 */
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import { enabled, migratedClient, SKIP_REASON } from "./support/database.js"
import { command, Model, pgStep, plain, reset, stateOfDatabase, stateOfModel } from "./support/model.js"

const I64_MAX = 9223372036854775807n

/** A result as plain data (errors by their tag and fields). */
const Db = migratedClient(2)

/**
 * A client on the same database whose `pg` parses int8 as a JS number (what `pg.defaults.parseInt8`
 * does to a whole process): every operation must still be exact.
 */
const lossyClient = Layer.unwrapEffect(Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  return PgClient.layer({
    url: sql.config.url,
    maxConnections: 1,
    types: { getTypeParser: ((oid: number) => oid === 20 ? Number : (value: string) => value) as never }
  })
}))

describe.runIf(enabled)("PgOperations", () => {
  layer(Db, { timeout: 60_000 })((it) => {
    it.effect.prop(
      "every command's result, and the state after, equal the state machine's",
      { commands: fc.array(command, { minLength: 1, maxLength: 40 }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          const model = new Model()
          for (const [i, c] of commands.entries()) {
            const expected = plain(model.step(c))
            const actual = plain(yield* pgStep(c))
            assert.deepStrictEqual(actual, expected, `command ${i}: ${L.fingerprint(c)}`)
          }
          const db = yield* stateOfDatabase
          const { caps, holds, tenants } = stateOfModel(model)
          assert.deepStrictEqual(db.tenants, tenants.map(({ tenant, ...b }) => ({ tenant, ...b })))
          assert.deepStrictEqual(db.caps, caps)
          assert.deepStrictEqual(db.holds, holds)
          // every tenant's reserved is the sum of its open holds
          for (const t of db.tenants) {
            const sum = db.reservedByHolds.find(([id]) => id === t.tenant)?.[1] ?? 0n
            assert.strictEqual(t.reserved, sum, `reserved of ${JSON.stringify(t.tenant)}`)
          }
        })
    )
  })
})

describe.runIf(enabled)("PgOperations, hostile cases", () => {
  layer(Db, { timeout: 60_000 })((it) => {
    it.effect("a retried reserve that was refused is refused again, with the same numbers, after funds arrived", () =>
      Effect.gen(function*() {
        const tenant = TenantId.make("edge-refused")
        yield* PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(10n)))
        const late = Command.reserve(tenant, Microcents.make(50n), { operation_id: "edge-refused-1" })
        const refused = yield* PgOperations.reserve(late)
        assert.deepStrictEqual(refused, { _tag: "Insufficient", remaining_microcents: 10n, required_microcents: 50n })
        yield* PgOperations.topUp(Command.topUp(tenant, Microcents.make(100n)))
        // the delayed duplicate: refused as before, no hold appears
        assert.deepStrictEqual(yield* PgOperations.reserve(late), refused)
        assert.deepStrictEqual(yield* PgOperations.tenantBalances(tenant), {
          initial: 110n,
          remaining: 110n,
          reserved: 0n,
          committed: 0n
        })
        // the same id with other arguments is a conflict
        const other = yield* PgOperations.reserve(
          Command.reserve(tenant, Microcents.make(5n), { operation_id: "edge-refused-1" })
        )
        assert.deepStrictEqual(plain(other), { _tag: "IdempotencyConflict", operation_id: "edge-refused-1" })
      }))

    it.effect("i64 values stay exact even when the client parses int8 as a JS number", () =>
      Effect.gen(function*() {
        const tenant = TenantId.make("edge-wide")
        const max = Microcents.make(I64_MAX)
        yield* PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(I64_MAX - 3n)))
        const r = yield* PgOperations.reserve(Command.reserve(tenant, Microcents.make(I64_MAX - 5n)))
        assert.strictEqual(r._tag, "Reserved")
        if (r._tag !== "Reserved") return
        assert.strictEqual(r.remaining_microcents, 2n)
        assert.deepStrictEqual(yield* PgOperations.topUp(Command.topUp(tenant, Microcents.make(3n))), {
          _tag: "ToppedUp",
          added_microcents: 3n,
          new_initial_microcents: I64_MAX,
          remaining_microcents: 5n
        })
        assert.deepStrictEqual(yield* PgOperations.topUp(Command.topUp(tenant, Microcents.make(1n))), {
          _tag: "Overflow"
        })
        assert.deepStrictEqual(yield* PgOperations.commit(Command.commit(r.reservation_id, max)), {
          _tag: "Committed",
          remaining_microcents: 0n,
          actual_microcents: I64_MAX
        })
        assert.deepStrictEqual(yield* PgOperations.tenantBalances(tenant), {
          initial: I64_MAX,
          remaining: 0n,
          reserved: 0n,
          committed: I64_MAX
        })
        assert.deepStrictEqual(yield* PgOperations.reserve(Command.reserve(tenant, max)), {
          _tag: "Insufficient",
          remaining_microcents: 0n,
          required_microcents: I64_MAX
        })
      }).pipe(Effect.provide(lossyClient)))

    it.effect("each retry-safe operation is one call of its function (migration 6_operations), nothing else", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenant = TenantId.make("edge-function")
        yield* PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(1_000n)))
        const open = yield* PgOperations.reserve(Command.reserve(tenant, Microcents.make(10n)))
        assert.strictEqual(open._tag, "Reserved")
        const hold = open._tag === "Reserved" ? open.reservation_id : ReservationId.make(1n)
        const calls: ReadonlyArray<
          readonly [string, Effect.Effect<unknown, PgOperations.OperationError, SqlClient.SqlClient>]
        > = [
          ["top_up", PgOperations.topUp(Command.topUp(tenant, Microcents.make(1n), { operation_id: "fn-1" }))],
          ["reserve", PgOperations.reserve(Command.reserve(tenant, Microcents.make(1n), { operation_id: "fn-2" }))],
          ["commit", PgOperations.commit(Command.commit(hold, Microcents.make(1n), { operation_id: "fn-3" }))],
          ["release", PgOperations.release(Command.release(hold, { operation_id: "fn-4" }))],
          ["release", PgOperations.release(Command.expire(hold))]
        ]
        for (const [name, call] of calls) {
          // the function renamed in a transaction that is rolled back: the operation fails, naming it
          const failed = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql.unsafe(`ALTER FUNCTION calybris_budget_${name} RENAME TO calybris_budget_${name}_away`)
            return yield* Effect.fail(yield* Effect.exit(call))
          })).pipe(Effect.flip)
          if (!Exit.isExit(failed) || !Exit.isFailure(failed)) return assert.fail(`${name}: ${String(failed)}`)
          const error = Cause.squash(failed.cause)
          assert.instanceOf(error, LedgerStoreError, name)
          if (!(error instanceof LedgerStoreError) || !(error.cause instanceof SqlError)) return assert.fail(name)
          assert.strictEqual(PgOperations.sqlState(error.cause), "42883", name) // undefined_function
          assert.include(String(error.cause.cause), `calybris_budget_${name}(`, name)
        }
        // nothing was written by them, and with the functions back each one applies
        assert.deepStrictEqual(yield* PgOperations.tenantBalances(tenant), {
          initial: 1_000n,
          remaining: 990n,
          reserved: 10n,
          committed: 0n
        })
        for (const [name, call] of calls.slice(0, 3)) assert.notInstanceOf(yield* call, Error, name)
        assert.deepStrictEqual(yield* PgOperations.tenantBalances(tenant), {
          initial: 1_001n,
          remaining: 999n,
          reserved: 1n,
          committed: 1n
        })
      }))
  })
})

describe.skipIf(enabled)("PgOperations", () => {
  it.skip(SKIP_REASON, () => {})
})
