/** The contract suite every Ledger layer passes. */
import * as Ledger from "@calybris/budget/Ledger"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { input, policy } from "./fixtures.js"

export const ledgerContract = (name: string, make: () => Layer.Layer<Ledger.Ledger, unknown>) =>
  describe(`Ledger contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) => Effect.provide(effect, make())

    it.effect("reserve, commit and release keep the books balanced", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 1_000n)
        const r = yield* Ledger.reserve("t", 300n)
        assert.strictEqual(r._tag, "Reserved")
        if (r._tag !== "Reserved") return
        assert.strictEqual(r.remaining_microcents, 700n)
        const c = yield* Ledger.commit(r.reservation_id, 250n)
        assert.deepStrictEqual(c, { _tag: "Committed", remaining_microcents: 750n, actual_microcents: 250n })
        const r2 = yield* Ledger.reserve("t", 100n)
        if (r2._tag !== "Reserved") return assert.fail("expected a hold")
        const rel = yield* Ledger.release(r2.reservation_id)
        assert.deepStrictEqual(rel, { _tag: "Released", remaining_microcents: 750n, returned_microcents: 100n })
        assert.deepStrictEqual(yield* Ledger.reserve("t", 10_000n), {
          _tag: "Insufficient",
          remaining_microcents: 750n,
          required_microcents: 10_000n
        })
        const proof = yield* Ledger.proveConservation
        assert.strictEqual(proof.total_committed_microcents, 250n)
      })))

    it.effect("a retry with the same operation id applies once and returns the original result", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 1_000n)
        const a = yield* Ledger.reserve("t", 100n, { operationId: "req-1" })
        const b = yield* Ledger.reserve("t", 100n, { operationId: "req-1" })
        assert.deepStrictEqual(a, b)
        assert.strictEqual(yield* Ledger.activeReservations, 1)
        if (a._tag !== "Reserved") return assert.fail("expected a hold")
        const c1 = yield* Ledger.commit(a.reservation_id, 80n, { operationId: "settle-1" })
        const c2 = yield* Ledger.commit(a.reservation_id, 80n, { operationId: "settle-1" })
        assert.deepStrictEqual(c1, c2)
        const t1 = yield* Ledger.topUp("t", 5n, { operationId: "top-1" })
        const t2 = yield* Ledger.topUp("t", 5n, { operationId: "top-1" })
        assert.deepStrictEqual(t1, t2)
        assert.strictEqual(Option.getOrThrow(yield* Ledger.initial("t")), 1_005n)
        const conflict = yield* Effect.flip(Ledger.reserve("t", 101n, { operationId: "req-1" }))
        assert.strictEqual(conflict._tag, "IdempotencyConflict")
      })))

    it.effect("an expired hold is released by the Clock, deterministically", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 1_000n)
        const r = yield* Ledger.reserve("t", 400n, { expiresIn: "1 minute" })
        assert.strictEqual(r._tag, "Reserved")
        yield* TestClock.adjust("59 seconds")
        yield* Ledger.sweepExpired
        assert.strictEqual(yield* Ledger.activeReservations, 1)
        yield* TestClock.adjust("1 second")
        yield* Ledger.sweepExpired
        assert.strictEqual(yield* Ledger.activeReservations, 0)
        assert.strictEqual(Option.getOrThrow(yield* Ledger.remaining("t")), 1_000n)
        if (r._tag === "Reserved") {
          assert.strictEqual((yield* Ledger.commit(r.reservation_id, 1n))._tag, "MissingReservation")
        }
      })))

    it.effect("admit: execute/substitute hold the cost, a reject holds nothing, a short budget fails the hold", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("gw", 50_000n)
        const ok = yield* Ledger.admit(policy, "gw", input(1))
        assert.strictEqual(ok._tag, "Admitted")
        if (ok._tag === "Admitted") {
          assert.strictEqual(ok.remaining_microcents, 50_000n - ok.decision.estimated_cost_microunits)
        }
        const rejected = yield* Ledger.admit(policy, "gw", input(2, { risk_bps: 9500 }))
        assert.strictEqual(rejected._tag, "Rejected")
        const short = yield* Ledger.admit(policy, "gw", input(3, { input_tokens: 20_000, output_tokens: 5_000 }))
        assert.strictEqual(short._tag, "HoldFailed")
        assert.strictEqual(yield* Ledger.activeReservations, 1)
      })))
  })
