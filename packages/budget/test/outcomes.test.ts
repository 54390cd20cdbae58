/**
 * One representation per outcome: the state machine's refusals, conservation statuses and
 * idempotency conflicts are the very classes the `Ledger` fails with (no plain twin under the
 * same `_tag`, no mapping between them), their `message` is the reference's text, and results
 * print through their wire schemas (`{"kind": …, fields}`), which round-trip.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import * as LedgerError from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

const t = TenantId.make("t")

describe("one representation per outcome", () => {
  it.effect("an idempotency conflict: the state machine's result is the error the Ledger fails with", () =>
    Effect.gen(function*() {
      const s = new L.LedgerState()
      L.ensureTenant(s, "t", 100n)
      L.step(s, Command.topUp(t, Microcents.make(1n), { operation_id: "op" }))
      const conflict = L.step(s, Command.topUp(t, Microcents.make(2n), { operation_id: "op" }))
      assert.instanceOf(conflict, LedgerError.IdempotencyConflict)
      yield* Ledger.ensureTenant(t, Microcents.make(100n))
      yield* Ledger.topUp(t, Microcents.make(1n), { operationId: "op" })
      const failed = yield* Effect.flip(Ledger.topUp(t, Microcents.make(2n), { operationId: "op" }))
      assert.instanceOf(failed, LedgerError.IdempotencyConflict)
      assert.deepStrictEqual(failed, conflict)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a restore refusal: the state machine's error is the Ledger's, with the reference's text", () =>
    Effect.gen(function*() {
      const snapshot = Snapshot.makeSnapshot(1n, [Snapshot.tenantBalance("a", 10n, 5n, 0n, 4n)], 0n)
      const r = L.restore(new L.LedgerState(), snapshot)
      assert.strictEqual(r._tag, "RestoreRefused")
      if (r._tag !== "RestoreRefused") return
      assert.instanceOf(r.error, LedgerError.ConservationViolation)
      assert.strictEqual(
        r.error.message,
        "snapshot failed conservation: conservation violated for tenant a: delta=-1 microcents"
      )
      if (r.error._tag === "ConservationViolation") assert.instanceOf(r.error.status, LedgerError.Violation)
      const failed = yield* Effect.flip(Ledger.restore(snapshot))
      assert.deepStrictEqual(failed, r.error)
      const busy = L.restore(new L.LedgerState(), Snapshot.makeSnapshot(1n, [], 2n))
      assert.isTrue(busy._tag === "RestoreRefused" && busy.error instanceof LedgerError.ActiveReservations)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it("a conservation status is one of three classes; a violation is the error a proof fails with", () => {
    assert.instanceOf(Snapshot.conservationStatus(Snapshot.makeSnapshot(0n, [], 0n)), Snapshot.Balanced)
    const broken = Snapshot.makeSnapshot(0n, [Snapshot.tenantBalance("a", 10n, 11n, 0n, 0n)], 0n)
    const status = Snapshot.conservationStatus(broken)
    assert.instanceOf(status, LedgerError.Violation)
    assert.strictEqual(Snapshot.statusText(status), "conservation violated for tenant a: delta=1 microcents")
    const proof = Ledger.conservationOf(broken)
    assert.isTrue(Either.isLeft(proof))
    if (Either.isLeft(proof)) assert.deepStrictEqual(proof.left, status)
    const max = (1n << 63n) - 1n
    const overflow = Snapshot.makeSnapshot(0n, [Snapshot.tenantBalance("a", max, max, 1n, 0n)], 0n)
    assert.instanceOf(Snapshot.conservationStatus(overflow), LedgerError.AggregateOverflow)
    assert.isTrue(Schema.is(Snapshot.ConservationStatus)(status))
  })

  it("results are tagged enums ($is, $match) and print through their wire schemas, which round-trip", () => {
    const s = new L.LedgerState()
    L.ensureTenant(s, "t", 1_000n)
    const reserved = L.reserve(s, "t", 300n)
    assert.isTrue(Command.ReserveResult.$is("Reserved")(reserved))
    const text = Command.ReserveResult.$match(reserved, {
      Reserved: (r) => `held ${r.reservation_id}`,
      Insufficient: () => "short",
      MissingTenant: () => "missing",
      ExposureLimitExceeded: () => "capped",
      Overflow: () => "overflow"
    })
    assert.strictEqual(text, "held 1")
    const encodeReserve = Schema.encodeSync(Command.ReserveResultWire)
    const decodeReserve = Schema.decodeSync(Command.ReserveResultWire)
    assert.strictEqual(
      Json.print(encodeReserve(reserved)),
      "{\"kind\":\"Reserved\",\"remaining_microcents\":700,\"reservation_id\":1}"
    )
    const short = L.reserve(s, "t", 10_000n)
    assert.strictEqual(
      Json.print(encodeReserve(short)),
      "{\"kind\":\"Insufficient\",\"remaining_microcents\":700,\"required_microcents\":10000,\"reservation_id\":null}"
    )
    for (const r of [reserved, short, L.reserve(s, "nobody", 1n)]) {
      assert.deepStrictEqual(decodeReserve(encodeReserve(r)), r)
    }
    const settled = L.commit(s, 1n, 250n)
    assert.isTrue(Command.SettlementResult.$is("Committed")(settled))
    const encodeSettlement = Schema.encodeSync(Command.SettlementResultWire)
    assert.strictEqual(
      Json.print(encodeSettlement(settled)),
      "{\"kind\":\"Committed\",\"remaining_microcents\":750,\"actual_microcents\":250}"
    )
    assert.strictEqual(Json.print(encodeSettlement(L.release(s, 99n))), "{\"kind\":\"MissingReservation\"}")
    const topped = L.topUp(s, "t", 5n)
    assert.strictEqual(
      Json.print(Schema.encodeSync(Command.TopUpResultWire)(topped)),
      "{\"kind\":\"ToppedUp\",\"added_microcents\":5,\"new_initial_microcents\":1005,\"remaining_microcents\":755}"
    )
  })
})
