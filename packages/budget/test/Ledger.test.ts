import * as Arguments from "@calybris/budget/Arguments"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"

describe("Ledger (memory)", () => {
  it.effect("1,000 fibers racing reserves and commits on one tenant never overspend", () =>
    Effect.gen(function*() {
      yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(500_000n))
      const results = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow()
            const r = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(1_000n))
            if (r._tag !== "Reserved") return 0n
            yield* Effect.yieldNow()
            const c = yield* Ledger.commit(r.reservation_id, Microcents.make(i % 2 === 0 ? 1_000n : 900n))
            return c._tag === "Committed" ? c.actual_microcents : 0n
          }),
        { concurrency: "unbounded" }
      )
      const spent = results.reduce((a, b) => a + b, 0n)
      const committed = Option.getOrThrow(yield* Ledger.committed("t"))
      const remaining = Option.getOrThrow(yield* Ledger.remaining("t"))
      assert.strictEqual(committed, spent)
      assert.isTrue(remaining >= 0n)
      assert.strictEqual(remaining + committed + Option.getOrThrow(yield* Ledger.reserved("t")), 500_000n)
      yield* Ledger.proveConservation
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("snapshots taken concurrently with operations are always balanced", () =>
    Effect.gen(function*() {
      yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1_000_000n))
      yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(1_000_000n))
      const workers = Effect.forEach(
        Array.from({ length: 400 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            const r = yield* Ledger.reserve(TenantId.make(i % 2 === 0 ? "a" : "b"), Microcents.make(1_000n + BigInt(i)))
            yield* Effect.yieldNow()
            if (r._tag === "Reserved") {
              if (i % 3 === 0) yield* Ledger.release(r.reservation_id)
              else yield* Ledger.commit(r.reservation_id, Microcents.make(2_000n))
            }
          }),
        { concurrency: "unbounded", discard: true }
      )
      const snapshots = Effect.forEach(
        Array.from({ length: 200 }, () => 0),
        () => Effect.zipLeft(Ledger.takeSnapshot, Effect.yieldNow()),
        { concurrency: "unbounded" }
      )
      const [, taken] = yield* Effect.all([workers, snapshots], { concurrency: "unbounded" })
      for (const s of taken) assert.strictEqual(Snapshot.conservationStatus(s)._tag, "Balanced")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("restore failures are typed errors with the reference's messages", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Ledger.restore({ version: 1n, tenants: [], active_reservations: 3n } as unknown as Snapshot.Snapshot)
      )
      assert.strictEqual(error._tag, "ActiveReservations")
      assert.strictEqual(error.message, "cannot restore snapshot with 3 active reservations")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("proveConservation fails with a typed violation on unrepresentable totals", () =>
    Effect.gen(function*() {
      const max = (1n << 63n) - 1n
      yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(max))
      yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(max))
      const error = yield* Effect.flip(Ledger.proveConservation)
      assert.strictEqual(error._tag, "AggregateOverflow")
      const cert = yield* Ledger.certify
      assert.isFalse(cert.conservation_balanced)
      assert.isFalse(cert.aggregate_totals_representable)
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("a Clock at a fractional millisecond (a helper's review of the API: BigInt(1.5) threw)", () => {
  const run = (layer: Layer.Layer<Ledger.Ledger, unknown>) =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1500 micros")
      const t = TenantId.make("t")
      yield* Ledger.ensureTenant(t, Microcents.make(100n))
      const held = yield* Ledger.reserve(t, Microcents.make(10n), { expiresIn: "1 second" })
      assert.strictEqual(held._tag, "Reserved")
      // the millisecond the clock is in: 1, so the hold expires at 1,001
      const holds = yield* Ledger.holds("t")
      assert.deepStrictEqual(holds[0]?.expires_at_ms, Option.some(1001n))
      assert.strictEqual(Option.getOrThrow(yield* Ledger.reserved("t")), 10n)
      yield* TestClock.adjust("999500 micros")
      // due at 1,001: seen released by queries, released by the next command
      assert.strictEqual(Option.getOrThrow(yield* Ledger.reserved("t")), 0n)
      assert.strictEqual((yield* Ledger.topUp(t, Microcents.make(1n)))._tag, "ToppedUp")
      assert.strictEqual(Option.getOrThrow(yield* Ledger.remaining("t")), 101n)
    }).pipe(Effect.provide(layer))

  it.effect("the memory layer counts the millisecond it is in", () => run(Ledger.layerMemory))
  it.effect("the journaled layer too, and its writer answers every command", () =>
    run(Ledger.layerJournal().pipe(Layer.provide(Wal.layerMemory({ key: new Uint8Array(32).fill(7) })))))
  /** A Clock whose time the test sets (NaN, Infinity: a broken one), for the writer's fiber too. */
  const settable = () => {
    let now = 1_000_000
    const base = Clock.make()
    const clock: Clock.Clock = {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => now,
      currentTimeMillis: Effect.sync(() => now),
      unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
      currentTimeNanos: base.currentTimeNanos,
      sleep: (duration) => base.sleep(duration)
    }
    return { clock, set: (ms: number) => (now = ms) }
  }
  const nanClock = (layer: Layer.Layer<Ledger.Ledger, unknown>) => {
    const { clock, set } = settable()
    return Effect.gen(function*() {
      const t = TenantId.make("t")
      yield* Ledger.ensureTenant(t, Microcents.make(100n))
      assert.strictEqual((yield* Ledger.reserve(t, Microcents.make(10n), { expiresIn: "1 hour" }))._tag, "Reserved")
      for (const ms of [Number.NaN, Number.POSITIVE_INFINITY]) {
        set(ms)
        const refused = yield* Effect.either(Ledger.topUp(t, Microcents.make(1n)))
        assert.isTrue(Either.isLeft(refused), String(ms))
        if (Either.isLeft(refused)) {
          assert.strictEqual(refused.left._tag, "LedgerStoreError")
          if (refused.left._tag === "LedgerStoreError") assert.strictEqual(refused.left.operation, "clock")
        }
        assert.isTrue(Either.isLeft(yield* Effect.either(Ledger.remaining("t"))))
      }
      // nothing applied, and the ledger goes on under a clock that gives a time
      set(2_000_000)
      assert.strictEqual((yield* Ledger.topUp(t, Microcents.make(1n)))._tag, "ToppedUp")
      assert.strictEqual(Option.getOrThrow(yield* Ledger.remaining("t")), 91n)
    }).pipe(Effect.provide(layer), Effect.withClock(clock))
  }
  it.effect("a Clock that gives no time (NaN, Infinity): the memory layer refuses with LedgerStoreError (clock), nothing applied", () =>
    nanClock(Ledger.layerMemory))
  it.effect("the journaled layer too, and its writer goes on (it died, and every later command hung: the review of the fix)", () =>
    nanClock(Ledger.layerJournal().pipe(Layer.provide(Wal.layerMemory({ key: new Uint8Array(32).fill(7) })))))

  it.effect("a defect while the journaled writer processes a batch fails the ledger closed: that command and every later one get a LedgerStoreError (journal writer), none hangs", () =>
    Effect.gen(function*() {
      const t = TenantId.make("t")
      yield* Ledger.ensureTenant(t, Microcents.make(100n))
      for (let i = 0; i < 3; i++) {
        const refused = yield* Effect.either(Ledger.topUp(t, Microcents.make(1n)))
        assert.isTrue(Either.isLeft(refused))
        if (Either.isLeft(refused)) {
          assert.strictEqual(refused.left._tag, "LedgerStoreError")
          if (refused.left._tag === "LedgerStoreError") assert.strictEqual(refused.left.operation, "journal writer")
        }
      }
    }).pipe(
      Effect.provide(
        Ledger.layerJournal().pipe(Layer.provide(Layer.effect(
          Wal.Wal,
          Effect.map(Wal.makeMemory({ key: new Uint8Array(32).fill(7) }), (wal) => {
            // the first append (ensure) is written; the next dies
            let appends = 0
            return { ...wal, append: (data) => ++appends > 1 ? Effect.die(new Error("boom")) : wal.append(data) }
          })
        )))
      )
    ))

  it("Arguments.expiry: a fractional now counts its millisecond; a now that is no number is an InvalidArgument", () => {
    const at = Either.getOrThrow(Arguments.expiry("1 second", 1.5))
    assert.strictEqual(at.expires_at_ms, 1001n)
    for (const now of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const refused = Arguments.expiry("1 second", now)
      assert.isTrue(Either.isLeft(refused))
      if (Either.isLeft(refused)) assert.strictEqual(refused.left.field, "nowMs")
    }
  })
})
