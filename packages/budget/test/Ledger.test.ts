import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

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
