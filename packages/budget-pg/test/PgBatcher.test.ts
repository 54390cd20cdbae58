/**
 * The group-commit batcher on a real PostgreSQL: the same results as the state machine (and as
 * the one-statement operations), one at a time and many in one batch; many submitters on one
 * hot tenant through two batchers (two "processes") and single statements at once, whose results
 * replay exactly, in the order the database applied them, through the state machine; and a batch that fails mid-way fails
 * every caller in it and writes nothing. The journal: after any of these, every tenant's chain
 * verifies with the WAL verifier and audits, and a batch writes exactly the entries (bytes and
 * hashes, keyed and not) the single statements write for the same history.
 */
import * as PgBatcher from "@calybris/budget-pg/PgBatcher"
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import { issuedReservationId, Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import type { IdempotencyConflict, LedgerStoreError } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import type * as Json from "@calybris/core/Json"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestServices from "effect/TestServices"
import { client, enabled, migratedClient, onTwin, SKIP_REASON, type Twin, TwinDb } from "./support/database.js"
import { checkAll, journalTable } from "./support/journal.js"
import { command, Model, pgStep, plain, reset, stateOfDatabase, stateOfModel } from "./support/model.js"

const Db = migratedClient(4)

/** A command through the batcher (ensure and cap, which are not batched, as single statements). */
const step = (ops: PgBatcher.Operations, c: Command.Command) => pgStep(c, ops)

const batchable = (c: Command.Command): boolean => c._tag !== "EnsureTenant" && c._tag !== "SetExposureCap"

/**
 * Apply `commands` through `ops` in order, each run of batchable commands queued all at once
 * (before the first batch returns, so they share batches), the others one at a time; `check`
 * sees each command's result, in command order.
 */
const queuedInRuns = <E, R>(
  ops: PgBatcher.Operations,
  commands: ReadonlyArray<Command.Command>,
  check: (i: number, c: Command.Command, result: unknown) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    for (let i = 0; i < commands.length;) {
      const c = commands[i] as Command.Command
      if (!batchable(c)) {
        yield* check(i, c, yield* step(ops, c))
        i++
        continue
      }
      let j = i
      while (j < commands.length && batchable(commands[j] as Command.Command)) j++
      const run = commands.slice(i, j)
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const c of run) fibers.push(yield* Effect.fork(step(ops, c)))
      const results = yield* Fiber.joinAll(fibers).pipe(Effect.zipRight(Effect.forEach(fibers, Fiber.join)))
      for (const [k, c] of run.entries()) yield* check(i + k, c, results[k])
      i = j
    }
  })

/** The database's state equals the model's, and every tenant's reserved is the sum of its open holds. */
const sameState = (model: Model) =>
  Effect.gen(function*() {
    const db = yield* stateOfDatabase
    const { caps, holds, tenants } = stateOfModel(model)
    assert.deepStrictEqual(db.tenants, tenants)
    assert.deepStrictEqual(db.caps, caps)
    assert.deepStrictEqual(db.holds, holds)
    for (const t of db.tenants) {
      const sum = db.reservedByHolds.find(([id]) => id === t.tenant)?.[1] ?? 0n
      assert.strictEqual(t.reserved, sum, `reserved of ${JSON.stringify(t.tenant)}`)
    }
  })

describe.runIf(enabled)("PgBatcher", () => {
  layer(Db, { timeout: 120_000 })((it) => {
    it.effect.prop(
      "commands submitted one at a time give the state machine's results, and its state",
      { commands: fc.array(command, { minLength: 1, maxLength: 40 }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          const ops = yield* PgBatcher.make()
          const model = new Model()
          for (const [i, c] of commands.entries()) {
            const expected = plain(model.step(c))
            assert.deepStrictEqual(plain(yield* step(ops, c)), expected, `command ${i}: ${L.fingerprint(c)}`)
          }
          yield* sameState(model)
          yield* checkAll()
        }).pipe(Effect.scoped)
    )

    it.effect.prop(
      "commands queued together are applied in queue order, many to a batch, with the state machine's results",
      { commands: fc.array(command, { minLength: 1, maxLength: 60 }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          // one batch at a time: the queue's order is the order of application
          const ops = yield* PgBatcher.make({ inFlight: 1, maxBatch: 16 })
          const model = new Model()
          yield* queuedInRuns(ops, commands, (i, c, actual) =>
            Effect.sync(() =>
              assert.deepStrictEqual(plain(actual), plain(model.step(c)), `command ${i}: ${L.fingerprint(c)}`)
            ))
          yield* sameState(model)
          yield* checkAll()
        }).pipe(Effect.scoped)
    )
  })
})

/** Every operation id inserted, in the order the database applied them (a test-only trigger). */
const logApplied = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE SEQUENCE IF NOT EXISTS test_apply_order`
  yield* sql`CREATE TABLE IF NOT EXISTS test_applied (seq bigint PRIMARY KEY, operation_id bytea NOT NULL)`
  yield* sql.unsafe(`CREATE OR REPLACE FUNCTION test_log_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_applied VALUES (nextval('test_apply_order'), NEW.operation_id);
  RETURN NEW;
END $$`)
  yield* sql`CREATE OR REPLACE TRIGGER test_log_applied AFTER INSERT ON calybris_budget_operations
    FOR EACH ROW EXECUTE FUNCTION test_log_applied()`
})

const appliedOrder = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<
    { id: string }
  >`SELECT convert_from(operation_id, 'UTF8') AS id FROM test_applied ORDER BY seq`
  return rows.map((r) => r.id)
})

/** A deterministic stream of small numbers (no Math.random in tests either). */
const lcg = (seed: number) => {
  let x = seed
  return (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  }
}

/** A second pool on the same database: another process's batcher. */
const otherPool = Layer.unwrapEffect(
  Effect.map(PgClient.PgClient, (sql) => client(Redacted.value(sql.config.url as Redacted.Redacted), 4))
)

describe.runIf(enabled)("PgBatcher, many submitters on one hot tenant", () => {
  layer(Db, { timeout: 120_000 })((it) => {
    it.effect(
      "two batchers and single statements at once: every result is the state machine's in the order the database applied them, retries included",
      () =>
        Effect.gen(function*() {
          yield* reset
          yield* logApplied
          const tenant = TenantId.make("hot")
          const initial = 3_000n
          const ensure = Command.ensureTenant(tenant, Microcents.make(initial))
          yield* PgOperations.ensureTenant(ensure)
          const mine = yield* PgBatcher.make({ maxBatch: 32 })
          // built in this scope: the pool lives as long as the batcher on it
          const theirs = yield* PgBatcher.make({ maxBatch: 32 }).pipe(Effect.provide(yield* Layer.build(otherPool)))
          // three ways in: this process's batcher, another process's, and one statement per operation
          const paths = [mine, theirs, PgBatcher.direct] as const
          const path = (n: number) => paths[n % 3] as PgBatcher.Operations
          const next = lcg(7)
          const submitted = new Map<string, { readonly command: Command.Command; readonly results: Array<unknown> }>()
          const record = (c: Command.Command, result: unknown) => {
            const id = L.operationId(c) as string
            const seen = submitted.get(id) ?? { command: c, results: [] }
            seen.results.push(result)
            submitted.set(id, seen)
          }
          /** Submit one way, and sometimes the same command two ways at once (a retry). */
          const send = (w: number, c: Command.Command) =>
            Effect.gen(function*() {
              const retried = next(4) === 0
              const results = retried
                ? yield* Effect.all([step(path(w), c), step(path(w + 1 + next(2)), c)], { concurrency: 2 })
                : [yield* step(path(w), c)]
              for (const r of results) record(c, r)
              return results[0]
            })
          const worker = (w: number) =>
            Effect.gen(function*() {
              for (let i = 0; i < 25; i++) {
                const amount = BigInt(1 + next(120))
                const r = yield* send(
                  w,
                  Command.reserve(tenant, Microcents.make(amount), { operation_id: `r${w}.${i}` })
                )
                if ((r as Command.ReserveResult)._tag !== "Reserved") continue
                const id = (r as Command.ReserveResult & { _tag: "Reserved" }).reservation_id
                if (next(3) === 0) yield* send(w, Command.release(id, { operation_id: `s${w}.${i}` }))
                else {
                  const actual = BigInt(next(Number(amount) + 40))
                  yield* send(w, Command.commit(id, Microcents.make(actual), { operation_id: `s${w}.${i}` }))
                }
              }
            })
          yield* Effect.all(Array.from({ length: 18 }, (_, w) => worker(w)), { concurrency: "unbounded" })

          // replay in the database's order: each first result is the state machine's, retries equal it.
          // Reservation ids: a single statement that lost an operation id's race rolled back after
          // drawing an id from the sequence, so the database's ids may skip; they map in order onto
          // the state machine's.
          const order = yield* appliedOrder
          assert.strictEqual(order.length, submitted.size, "each operation id applied once")
          const model = new Model()
          model.step(ensure)
          const toModel = new Map<bigint, bigint>()
          let lastDbId = 0n
          const mapped = (id: bigint) => toModel.get(id) ?? -1n
          for (const id of order) {
            const seen = submitted.get(id)
            assert.isDefined(seen, `operation ${id} was submitted`)
            const { command: c, results } = seen
            const translated = c._tag === "Commit" || c._tag === "Release"
              ? { ...c, reservation: mapped(c.reservation) } as Command.Command
              : c
            const expected = plain(model.step(translated)) as { _tag: string; reservation_id?: bigint }
            for (const r of results) {
              const actual = plain(r) as { _tag: string; reservation_id?: bigint }
              if (actual._tag === "Reserved" && expected._tag === "Reserved" && actual.reservation_id !== undefined) {
                if (!toModel.has(actual.reservation_id)) {
                  assert.isTrue(actual.reservation_id > lastDbId, "the database's ids grow in the order applied")
                  lastDbId = actual.reservation_id
                  toModel.set(actual.reservation_id, expected.reservation_id as bigint)
                }
                assert.deepStrictEqual({ ...actual, reservation_id: mapped(actual.reservation_id) }, expected, id)
              } else assert.deepStrictEqual(actual, expected, `operation ${id}`)
            }
          }
          const db = yield* stateOfDatabase
          const { holds, tenants } = stateOfModel(model)
          assert.deepStrictEqual(db.tenants, tenants)
          assert.deepStrictEqual(db.holds.map((h) => ({ ...h, id: mapped(h.id) })), holds)
          const b = L.tenantBalances(model.state, tenant)
          assert.isDefined(b)
          assert.strictEqual(b.remaining + b.reserved + b.committed, initial)
          assert.isTrue(b.remaining >= 0n)
          yield* checkAll()
        }).pipe(Effect.scoped)
    )
  })
})

describe.runIf(enabled)("PgBatcher, many tenants", () => {
  layer(Db, { timeout: 120_000 })((it) => {
    it.effect("batches spanning tenants mixed with single statements: every call is answered and the books balance", () =>
      Effect.gen(function*() {
        yield* reset
        const tenants = ["t0", "t1", "t2", "t3"].map((t) => TenantId.make(t))
        for (const t of tenants) yield* PgOperations.ensureTenant(Command.ensureTenant(t, Microcents.make(2_000n)))
        const mine = yield* PgBatcher.make({ maxBatch: 16 })
        const theirs = yield* PgBatcher.make({ maxBatch: 16 }).pipe(Effect.provide(yield* Layer.build(otherPool)))
        const paths = [mine, theirs, PgBatcher.direct] as const
        const next = lcg(11)
        const path = () => paths[next(3)] as PgBatcher.Operations
        const committed = new Map<string, bigint>()
        const worker = Effect.gen(function*() {
          for (let i = 0; i < 20; i++) {
            const tenant = tenants[next(tenants.length)] as TenantId
            const amount = BigInt(1 + next(100))
            const r = yield* path().reserve(Command.reserve(tenant, Microcents.make(amount)))
            if (r._tag !== "Reserved") {
              assert.strictEqual(r._tag, "Insufficient")
              continue
            }
            if (next(3) === 0) {
              assert.strictEqual((yield* path().release(Command.release(r.reservation_id)))._tag, "Released")
            } else {
              const actual = BigInt(next(Number(amount) + 20))
              const c = yield* path().commit(Command.commit(r.reservation_id, Microcents.make(actual)))
              if (c._tag === "Committed") committed.set(tenant, (committed.get(tenant) ?? 0n) + actual)
              else assert.strictEqual(c._tag, "Overrun")
            }
          }
        })
        yield* Effect.all(Array.from({ length: 18 }, () => worker), { concurrency: "unbounded" })
        const db = yield* stateOfDatabase
        for (const t of db.tenants) {
          assert.strictEqual(t.remaining + t.reserved + t.committed, t.initial)
          assert.strictEqual(t.committed, committed.get(t.tenant) ?? 0n, `committed of ${t.tenant}`)
          const open = db.reservedByHolds.find(([id]) => id === t.tenant)?.[1] ?? 0n
          assert.strictEqual(t.reserved, open, `reserved of ${t.tenant}`)
        }
        yield* checkAll()
      }).pipe(Effect.scoped))
  })
})

const KEY = new TextEncoder().encode("the fleet's journal key")

/**
 * The batch's journal against the statements': the same commands through the batcher on one
 * database and one statement each on its twin give the same results and byte-identical
 * journals (every entry's sequence, previous hash, hash and data; every row's head), and every
 * chain verifies and audits.
 */
const twins = (
  name: string,
  key: Uint8Array | undefined,
  layerOf: Layer.Layer<SqlClient.SqlClient | Twin, unknown>,
  /** the longest histories (the keyed ones shorter: the HMAC in plpgsql is slower than sha256) */
  longest: number
) =>
  layer(layerOf, { timeout: 120_000 })((it) => {
    const sameJournals = Effect.gen(function*() {
      const batched = yield* journalTable
      const direct = yield* onTwin(journalTable)
      assert.deepStrictEqual(batched, direct)
      yield* checkAll(key)
      yield* onTwin(checkAll(key))
    })

    it.effect.prop(
      `${name}: commands one at a time through the batcher journal exactly what the single statements journal`,
      { commands: fc.array(command, { minLength: 1, maxLength: longest }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          yield* onTwin(reset)
          const ops = yield* PgBatcher.make()
          for (const [i, c] of commands.entries()) {
            const batched = yield* step(ops, c)
            const direct = yield* onTwin(step(PgBatcher.direct, c))
            assert.deepStrictEqual(plain(batched), plain(direct), `command ${i}: ${L.fingerprint(c)}`)
          }
          yield* sameJournals
        }).pipe(Effect.scoped)
    )

    it.effect.prop(
      `${name}: commands queued many to a batch journal exactly what the statements journal one at a time`,
      { commands: fc.array(command, { minLength: 1, maxLength: longest }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          yield* onTwin(reset)
          const ops = yield* PgBatcher.make({ inFlight: 1, maxBatch: 16 })
          yield* queuedInRuns(ops, commands, (i, c, batched) =>
            Effect.map(
              onTwin(step(PgBatcher.direct, c)),
              (direct) => assert.deepStrictEqual(plain(batched), plain(direct), `command ${i}: ${L.fingerprint(c)}`)
            ))
          yield* sameJournals
        }).pipe(Effect.scoped)
    )

    it.effect(`${name}: refusals under ids queued together (a settled hold, a cap-only row, no row), retries and settlements journals what the statements journal`, () =>
      Effect.gen(function*() {
        yield* reset
        yield* onTwin(reset)
        const a = TenantId.make("a")
        const capped = TenantId.make("capped")
        const micro = Microcents.make
        const id = issuedReservationId
        const setup: ReadonlyArray<Command.Command> = [
          Command.ensureTenant(a, micro(100n)),
          Command.setExposureCap(capped, micro(5n))
        ]
        for (const c of setup) {
          yield* step(PgBatcher.direct, c)
          yield* onTwin(step(PgBatcher.direct, c))
        }
        const commands: ReadonlyArray<Command.Command> = [
          Command.reserve(a, micro(10n), { operation_id: "r1" }),
          Command.commit(id(1n), micro(4n), { operation_id: "c1" }),
          Command.commit(id(1n), micro(4n), { operation_id: "c2" }), // the hold is settled: on a's chain
          Command.release(id(1n), { operation_id: "x1" }), // likewise
          Command.expire(id(1n)), // no id: not journaled
          Command.reserve(capped, micro(1n), { operation_id: "r2" }), // a cap-only row: on its chain
          Command.reserve(TenantId.make("nobody"), micro(1n), { operation_id: "r3" }), // no row, no chain
          Command.topUp(capped, micro(5n), { operation_id: "t1" }),
          Command.reserve(a, micro(1_000n), { operation_id: "r4" }),
          Command.reserve(a, micro(1_000n)), // no id: not journaled
          Command.commit(id(99n), micro(1n), { operation_id: "c3" }), // never issued: no chain
          Command.reserve(a, micro(10n), { operation_id: "r1" }), // a retry: not journaled
          Command.reserve(a, micro(11n), { operation_id: "r1" }), // a conflict: not journaled
          Command.topUp(a, micro(5n), { operation_id: "t2" }),
          Command.reserve(a, micro(50n), { operation_id: "r5" }),
          Command.release(id(2n), { operation_id: "x2" }),
          Command.expire(id(2n))
        ]
        const ops = yield* PgBatcher.make({ inFlight: 1 })
        const batched = yield* Effect.all(commands.map((c) => step(ops, c)), { concurrency: "unbounded" })
        const direct: Array<unknown> = []
        for (const c of commands) direct.push(yield* onTwin(step(PgBatcher.direct, c)))
        assert.deepStrictEqual(batched.map(plain), direct.map(plain))
        assert.deepStrictEqual(batched.map((r) => (r as { _tag: string })._tag), [
          "Reserved",
          "Committed",
          "MissingReservation",
          "MissingReservation",
          "MissingReservation",
          "MissingTenant",
          "MissingTenant",
          "MissingTenant",
          "Insufficient",
          "Insufficient",
          "MissingReservation",
          "Reserved",
          "IdempotencyConflict",
          "ToppedUp",
          "Reserved",
          "Released",
          "MissingReservation"
        ])
        const { heads } = yield* journalTable
        const hex = (t: string) => Buffer.from(t).toString("hex")
        // a: ensure, r1, c1, c2, x1, r4, t2, r5, x2; capped: set_cap, r2, t1
        assert.deepStrictEqual(heads.map((h) => h.split(" ").slice(0, 2).join(" ")), [
          `${hex("a")} 9`,
          `${hex("capped")} 3`
        ])
        yield* sameJournals
      }).pipe(Effect.scoped))

    it.effect(`${name}: an admit's hold through the batcher is journaled with its audited decision, as a statement journals it`, () =>
      Effect.gen(function*() {
        yield* reset
        yield* onTwin(reset)
        const t = TenantId.make("adm")
        const ensure = Command.ensureTenant(t, Microcents.make(100n))
        yield* PgOperations.ensureTenant(ensure)
        yield* onTwin(PgOperations.ensureTenant(ensure))
        const ops = yield* PgBatcher.make({ inFlight: 1 })
        const audited: Json.Json = new Map<string, Json.Json>([["metadata", new Map<string, Json.Json>([["k", 1]])]])
        const admits: ReadonlyArray<readonly [Command.CommandOf<"Admit">, Json.Json | undefined]> = [
          [Command.admit(t, Microcents.make(10n), { operation_id: "adm-1" }), audited],
          [Command.admit(t, Microcents.make(200n), { operation_id: "adm-2" }), audited],
          [Command.admit(t, Microcents.make(20n)), undefined],
          [Command.admit(t, Microcents.make(10n), { operation_id: "adm-1" }), audited]
        ]
        // all queued together: one batch
        const batched = yield* Effect.all(admits.map(([c, a]) => ops.reserve(c, a)), { concurrency: "unbounded" })
        const direct: Array<unknown> = []
        for (const [c, a] of admits) direct.push(yield* onTwin(PgOperations.reserve(c, a)))
        assert.deepStrictEqual(batched.map(plain), direct.map(plain))
        assert.deepStrictEqual(batched.map((r) => r._tag), ["Reserved", "Insufficient", "Reserved", "Reserved"])
        const lines = new TextDecoder().decode(yield* PgJournal.exportTenant(t)).split("\n")
        assert.include(
          lines[1],
          `"command":{"kind":"admit","tenant_id":"adm","amount":10,"operation_id":"adm-1","audited":{"metadata":{"k":1}}},"result":{"_tag":"Reserved",`
        )
        assert.strictEqual(lines.length, 5) // ensure, three journaled admits (not the retry), the final newline
        yield* sameJournals
      }).pipe(Effect.scoped))
  })

describe.runIf(enabled)("PgBatcher, the journal", () => {
  twins("unkeyed", undefined, Layer.merge(Db, TwinDb), 30)
  twins("keyed", KEY, Layer.mergeAll(Db, TwinDb, PgJournal.layerKey(KEY)), 15)
})

/** A real pause (the test clock does not move by itself). */
const pause = TestServices.provideLive(Effect.sleep("100 millis"))

describe.runIf(enabled)("PgBatcher, a failing batch", () => {
  layer(Db, { timeout: 60_000 })((it) => {
    it.effect("fails every caller in it with a LedgerStoreError and writes nothing; the next batch is served", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* reset
        const blocker = TenantId.make("blocker")
        const tenant = TenantId.make("victim")
        yield* PgOperations.ensureTenant(Command.ensureTenant(blocker, Microcents.make(100n)))
        yield* PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(10_000n)))
        const open = yield* PgOperations.reserve(Command.reserve(tenant, Microcents.make(50n)))
        assert.strictEqual(open._tag, "Reserved")
        if (open._tag !== "Reserved") return
        // the fault: a hold of 666 violates a constraint, mid-batch
        yield* sql`ALTER TABLE calybris_budget_reservations ADD CONSTRAINT test_poison CHECK (amount <> 666)`
        const before = yield* stateOfDatabase
        const ops = yield* PgBatcher.make({ inFlight: 1 })

        // hold the blocker's row from another transaction: the first batch waits on it, the
        // next commands pile up in the queue and become one batch
        const locked = yield* Deferred.make<void>()
        const unlock = yield* Deferred.make<void>()
        const holder = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT 1 FROM calybris_budget_tenants WHERE tenant = ${
            new TextEncoder().encode(blocker)
          }::bytea FOR UPDATE`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(unlock)
        })).pipe(Effect.fork)
        yield* Deferred.await(locked)
        const first = yield* Effect.fork(ops.reserve(Command.reserve(blocker, Microcents.make(1n))))
        yield* pause
        const batch: ReadonlyArray<Command.Command> = [
          Command.reserve(tenant, Microcents.make(10n), { operation_id: "f1" }),
          Command.topUp(tenant, Microcents.make(5n), { operation_id: "f2" }),
          Command.commit(open.reservation_id, Microcents.make(40n), { operation_id: "f3" }),
          Command.reserve(tenant, Microcents.make(666n), { operation_id: "f4" }),
          Command.reserve(tenant, Microcents.make(20n), { operation_id: "f5" })
        ]
        const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
        for (const c of batch) fibers.push(yield* Effect.fork(step(ops, c)))
        yield* pause
        yield* Deferred.succeed(unlock, undefined)
        yield* Fiber.join(holder)
        assert.strictEqual((yield* Fiber.join(first))._tag, "Reserved")
        for (const [k, fiber] of fibers.entries()) {
          const exit = yield* Fiber.await(fiber)
          assert.isTrue(Exit.isFailure(exit), `command ${k} failed`)
          if (Exit.isFailure(exit)) {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            assert.strictEqual((error as { _tag?: string } | undefined)?._tag, "LedgerStoreError", `command ${k}`)
          }
        }
        // nothing of the batch was written: the victim's balances, its holds, no operation id
        const after = yield* stateOfDatabase
        assert.deepStrictEqual(
          after.tenants.find((t) => t.tenant === tenant),
          before.tenants.find((t) => t.tenant === tenant)
        )
        assert.deepStrictEqual(
          after.holds.filter((h) => h.tenant === tenant),
          before.holds.filter((h) => h.tenant === tenant)
        )
        const [ids] = yield* sql<{ n: string }>`SELECT count(*)::text AS n FROM calybris_budget_operations`
        assert.strictEqual(ids?.n, "0")
        // the batcher goes on: the same commands without the poison are served
        yield* sql`ALTER TABLE calybris_budget_reservations DROP CONSTRAINT test_poison`
        const again = yield* Effect.all(batch.filter((c) => L.operationId(c) !== "f4").map((c) => step(ops, c)))
        assert.deepStrictEqual(again.map((r) => (r as { _tag: string })._tag), [
          "Reserved",
          "ToppedUp",
          "Committed",
          "Reserved"
        ])
      }).pipe(Effect.scoped))

    /**
     * A batcher (1 in flight, batches of 1, room for 2 in the queue) whose first batch waits on a
     * lock of the blocker's row, with `queued` more calls behind it; `body` gets the forked calls
     * (the first one first), the batcher and `unlock`.
     */
    const blocked = <A, E, R>(
      queued: number,
      body: (
        calls: ReadonlyArray<
          Fiber.RuntimeFiber<Command.ReserveResult | IdempotencyConflict, PgOperations.OperationError>
        >,
        scope: Scope.CloseableScope,
        ops: PgBatcher.Operations,
        unlock: Effect.Effect<void, SqlError>
      ) => Effect.Effect<A, E, R>
    ) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* reset
        const blocker = TenantId.make("blocker")
        yield* PgOperations.ensureTenant(Command.ensureTenant(blocker, Microcents.make(1_000n)))
        const scope = yield* Scope.make()
        const ops = yield* PgBatcher.make({ inFlight: 1, maxBatch: 1, capacity: 2 }).pipe(Scope.extend(scope))
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT 1 FROM calybris_budget_tenants WHERE tenant = ${
            new TextEncoder().encode(blocker)
          }::bytea FOR UPDATE`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.fork)
        yield* Deferred.await(locked)
        const calls = [yield* Effect.fork(ops.reserve(Command.reserve(blocker, Microcents.make(1n))))]
        yield* pause
        for (let k = 1; k <= queued; k++) {
          calls.push(yield* Effect.fork(ops.reserve(Command.reserve(blocker, Microcents.make(BigInt(k + 1))))))
        }
        yield* pause
        const unlock = Deferred.succeed(release, undefined).pipe(Effect.zipRight(Fiber.join(holder)), Effect.asVoid)
        return yield* body(calls, scope, ops, unlock)
      })

    it.effect("callers beyond its capacity wait for room, in order, and are all answered", () =>
      blocked(6, (calls, scope, _ops, unlock) =>
        Effect.gen(function*() {
          // 1 running, 2 queued, 4 waiting for room: none answered while the first batch waits
          for (const call of calls) assert.isTrue(Option.isNone(yield* Fiber.poll(call)))
          yield* unlock
          const results = yield* Effect.forEach(calls, Fiber.join)
          // answered in the order they called (batches of one: the ids are issued in that order)
          const ids = results.map((r) => r._tag === "Reserved" ? r.reservation_id : -1n)
          assert.deepStrictEqual(ids, [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
          assert.isTrue(ids.every((id) => id > 0n))
          const [row] = yield* (yield* SqlClient.SqlClient)<{ reserved: string }>`SELECT reserved::text
            FROM calybris_budget_tenants WHERE tenant = ${new TextEncoder().encode("blocker")}::bytea`
          assert.strictEqual(row?.reserved, String(1 + 2 + 3 + 4 + 5 + 6 + 7))
          yield* Scope.close(scope, Exit.void)
        })))

    it.effect("closing its scope fails every caller not yet answered (running, queued, waiting for room) with a LedgerStoreError, and later calls", () =>
      blocked(6, (calls, scope, ops, unlock) =>
        Effect.gen(function*() {
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* pause
          yield* unlock
          yield* Fiber.join(closing)
          for (const [k, call] of calls.entries()) {
            const exit = yield* Fiber.await(call)
            // the running batch's caller may have been answered before the interruption took effect
            if (k === 0 && Exit.isSuccess(exit)) continue
            assert.isTrue(Exit.isFailure(exit), `call ${k} failed`)
            if (Exit.isFailure(exit)) {
              const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
              assert.strictEqual(error?._tag, "LedgerStoreError", `call ${k}: ${exit.cause._tag}`)
              assert.strictEqual((error as LedgerStoreError).operation, "reserve", `call ${k}`)
            }
          }
          const later = yield* Effect.exit(ops.reserve(Command.reserve(TenantId.make("blocker"), Microcents.make(1n))))
          assert.isTrue(
            Exit.isFailure(later) && later.cause._tag === "Fail" && later.cause.error._tag === "LedgerStoreError"
          )
          // nothing queued was applied: at most the running one's hold
          const [row] = yield* (yield* SqlClient.SqlClient)<{ reserved: string }>`SELECT reserved::text
            FROM calybris_budget_tenants WHERE tenant = ${new TextEncoder().encode("blocker")}::bytea`
          assert.include(["0", "1"], row?.reserved)
        })))

    it.effect("after its scope closed, calls fail with a LedgerStoreError", () =>
      Effect.gen(function*() {
        const ops = yield* Effect.scoped(PgBatcher.make())
        const exit = yield* Effect.exit(ops.reserve(Command.reserve(TenantId.make("x"), Microcents.make(1n))))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          assert.strictEqual(exit.cause.error._tag, "LedgerStoreError")
        } else assert.fail("not a LedgerStoreError")
      }))
  })
})

describe.skipIf(enabled)("PgBatcher", () => {
  it.skip(SKIP_REASON, () => {})
})
