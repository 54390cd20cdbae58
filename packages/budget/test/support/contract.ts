/** The contract suite every Ledger layer passes. */
import * as Ledger from "@calybris/budget/Ledger"
import type { InvalidArgument } from "@calybris/budget/LedgerError"
import type * as Snapshot from "@calybris/budget/Snapshot"
import type * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { input, otherPolicy, policy } from "./fixtures.js"

type Bad = Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, Ledger.Ledger>
type Retry = Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger>

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

    it.effect("admit: a retry returns the original decision; a retry with any other argument is an IdempotencyConflict", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("gw", 500_000n)
        yield* Ledger.ensureTenant("gw2", 500_000n)
        const options = { operationId: "adm-1", metadata: new Map([["request", "r-1"]]) }
        const first = yield* Ledger.admit(policy, "gw", input(1), options)
        if (first._tag !== "Admitted") return assert.fail(`expected Admitted, got ${first._tag}`)
        const again = yield* Ledger.admit(policy, "gw", input(1), options)
        assert.deepStrictEqual(again, first, "an identical retry returns the original outcome")
        const digest = yield* Ledger.ledgerDigest
        const cost = first.decision.estimated_cost_microunits
        // each differs from the original in one argument; the cost (the hold) is the same
        const altered: ReadonlyArray<readonly [string, Retry]> = [
          ["another request_sequence", Ledger.admit(policy, "gw", input(2), options)],
          ["another policy with the same cost", Ledger.admit(otherPolicy, "gw", input(1), options)],
          ["another tenant", Ledger.admit(policy, "gw2", input(1), options)],
          ["other metadata", Ledger.admit(policy, "gw", input(1), { ...options, metadata: "other" })],
          ["no metadata", Ledger.admit(policy, "gw", input(1), { operationId: "adm-1" })],
          ["an expiry", Ledger.admit(policy, "gw", input(1), { ...options, expiresIn: "1 minute" })],
          ["an input the kernel rejects", Ledger.admit(policy, "gw", input(1, { risk_bps: 9500 }), options)],
          ["a reserve of the same cost", Ledger.reserve("gw", cost, { operationId: "adm-1" })],
          ["a top-up", Ledger.topUp("gw", cost, { operationId: "adm-1" })]
        ]
        for (const [what, retry] of altered) {
          const outcome = yield* Effect.either(retry)
          assert.isTrue(
            outcome._tag === "Left" && outcome.left._tag === "IdempotencyConflict",
            `${what}: expected IdempotencyConflict, got ${
              JSON.stringify(outcome, (_, v) => typeof v === "bigint" ? `${v}` : v)
            }`
          )
        }
        assert.strictEqual(yield* Ledger.ledgerDigest, digest, "nothing applied")
        assert.strictEqual(yield* Ledger.activeReservations, 1)
        assert.deepStrictEqual(yield* Ledger.admit(policy, "gw", input(1), options), first)
      })))

    it.effect("every id-carrying operation is bound to all of its arguments", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 10_000n)
        yield* Ledger.ensureTenant("u", 10_000n)
        const r = yield* Ledger.reserve("t", 100n, { operationId: "r", expiresIn: "1 minute" })
        const r2 = yield* Ledger.reserve("t", 200n, { operationId: "r2" })
        if (r._tag !== "Reserved" || r2._tag !== "Reserved") return assert.fail("expected holds")
        yield* Ledger.topUp("t", 5n, { operationId: "top" })
        yield* Ledger.commit(r.reservation_id, 50n, { operationId: "c" })
        yield* Ledger.release(r2.reservation_id, { operationId: "rel" })
        const digest = yield* Ledger.ledgerDigest
        const altered: ReadonlyArray<readonly [string, Retry]> = [
          ["reserve without its expiry", Ledger.reserve("t", 100n, { operationId: "r" })],
          ["reserve with another expiry", Ledger.reserve("t", 100n, { operationId: "r", expiresIn: "2 minutes" })],
          ["reserve for another tenant", Ledger.reserve("u", 100n, { operationId: "r", expiresIn: "1 minute" })],
          ["reserve of another amount", Ledger.reserve("t", 101n, { operationId: "r", expiresIn: "1 minute" })],
          ["top-up of another amount", Ledger.topUp("t", 6n, { operationId: "top" })],
          ["top-up of another tenant", Ledger.topUp("u", 5n, { operationId: "top" })],
          ["commit of another amount", Ledger.commit(r.reservation_id, 51n, { operationId: "c" })],
          ["commit of another hold", Ledger.commit(r2.reservation_id, 50n, { operationId: "c" })],
          ["release under a commit's id", Ledger.release(r.reservation_id, { operationId: "c" })],
          ["release of another hold", Ledger.release(r.reservation_id, { operationId: "rel" })],
          ["commit under a release's id", Ledger.commit(r2.reservation_id, 0n, { operationId: "rel" })]
        ]
        for (const [what, retry] of altered) {
          const outcome = yield* Effect.either(retry)
          assert.isTrue(
            outcome._tag === "Left" && outcome.left._tag === "IdempotencyConflict",
            `${what}: expected IdempotencyConflict, got ${outcome._tag}`
          )
        }
        assert.strictEqual(yield* Ledger.ledgerDigest, digest, "nothing applied")
        assert.deepStrictEqual(yield* Ledger.reserve("t", 100n, { operationId: "r", expiresIn: "1 minute" }), r)
      })))

    it.effect("out-of-range arguments are refused with InvalidArgument before anything changes; the ledger keeps serving", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 1_000n)
        const held = yield* Ledger.reserve("t", 100n, { operationId: "r" })
        if (held._tag !== "Reserved") return assert.fail("expected a hold")
        const before = {
          digest: yield* Ledger.ledgerDigest,
          version: yield* Ledger.snapshotVersion,
          tenants: yield* Ledger.tenantCount,
          holds: yield* Ledger.activeReservations
        }
        const over = 2n ** 70n
        const bad: ReadonlyArray<readonly [string, Bad]> = [
          ["amount", Ledger.ensureTenant("t2", over)],
          ["amount", Ledger.ensureTenant("t2", 2n ** 63n)],
          ["amount", Ledger.ensureTenant("t2", -1n)],
          ["tenant", Ledger.ensureTenant("\uD800", 1n)],
          ["tenant", Ledger.ensureTenant("x".repeat(1_025), 1n)],
          ["amount", Ledger.topUp("t", 2n ** 63n)],
          ["operationId", Ledger.topUp("t", 1n, { operationId: "" })],
          ["operationId", Ledger.topUp("t", 1n, { operationId: "x".repeat(257) })],
          ["max", Ledger.setExposureCap("t", -(2n ** 63n) - 1n)],
          ["amount", Ledger.reserve("t", over)],
          ["expiresIn", Ledger.reserve("t", 1n, { expiresIn: Infinity })],
          ["expiresIn", Ledger.reserve("t", 1n, { expiresIn: Duration.infinity })],
          ["expiresIn", Ledger.reserve("t", 1n, { expiresIn: -5 })],
          ["expiresIn", Ledger.reserve("t", 1n, { expiresIn: Duration.weeks(1e15) })],
          ["expiresIn", Ledger.reserve("t", 1n, { expiresIn: "soon" as Duration.DurationInput })],
          ["operationId", Ledger.reserve("t", 1n, { operationId: "\uDC00" })],
          ["reservation", Ledger.commit(2n ** 64n, 1n)],
          ["actual", Ledger.commit(held.reservation_id, over)],
          ["reservation", Ledger.release(-1n)],
          ["expiresIn", Ledger.admit(policy, "t", input(1), { expiresIn: Duration.weeks(1e15) })],
          ["metadata", Ledger.admit(policy, "t", input(1), { metadata: {} as Json.Json })],
          ["tenant", Ledger.admit(policy, "\uD800", input(1))],
          ["operationId", Ledger.admit(policy, "t", input(1, { risk_bps: 9500 }), { operationId: "" })],
          [
            "snapshot",
            Ledger.restore({
              version: 1n,
              tenants: [{
                tenant_id: "t",
                initial_microcents: 2n ** 64n,
                remaining_microcents: 2n ** 64n,
                reserved_microcents: 0n,
                committed_microcents: 0n
              }],
              active_reservations: 0n
            } as unknown as Snapshot.Snapshot)
          ]
        ]
        for (const [field, attempt] of bad) {
          const outcome = yield* Effect.either(attempt)
          if (outcome._tag === "Right") return assert.fail(`${field}: accepted`)
          assert.strictEqual(outcome.left._tag, "InvalidArgument", `${field}: ${outcome.left._tag}`)
          assert.strictEqual((outcome.left as InvalidArgument).field, field)
          assert.isBelow(outcome.left.message.length, 300)
        }
        assert.deepStrictEqual(
          {
            digest: yield* Ledger.ledgerDigest,
            version: yield* Ledger.snapshotVersion,
            tenants: yield* Ledger.tenantCount,
            holds: yield* Ledger.activeReservations
          },
          before,
          "nothing changed"
        )
        // and the ledger keeps serving, every tenant
        yield* Ledger.ensureTenant("u", 500n)
        assert.strictEqual((yield* Ledger.reserve("u", 200n))._tag, "Reserved")
        assert.strictEqual((yield* Ledger.commit(held.reservation_id, 50n))._tag, "Committed")
        yield* Ledger.proveConservation
      })))

    it.effect("queries see the state as of the Clock now: an expired hold is released before the next write", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant("t", 1_000n)
        yield* Ledger.reserve("t", 400n, { expiresIn: "1 minute" })
        yield* Ledger.reserve("t", 100n)
        const view = Effect.all({
          holds: Ledger.activeReservations,
          reserved: Ledger.reserved("t"),
          remaining: Ledger.remaining("t"),
          balances: Ledger.balances,
          digest: Ledger.ledgerDigest,
          committed: Ledger.totalCommitted
        })
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* view).holds, 2)
        yield* TestClock.adjust("1 second")
        const seen = yield* view
        assert.strictEqual(seen.holds, 1)
        assert.deepStrictEqual(seen.reserved, Option.some(100n))
        assert.strictEqual(Option.getOrThrow(seen.remaining), 900n)
        assert.strictEqual(seen.balances.active_reservations, 1n)
        assert.strictEqual(seen.balances.tenants[0]?.reserved_microcents, 100n)
        yield* Ledger.sweepExpired
        assert.deepStrictEqual(yield* view, seen, "the next write changes nothing the reads did not show")
      })))
  })
