/** The contract suite every Ledger layer passes. */
import * as Arguments from "@calybris/budget/Arguments"
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import type { InvalidArgument } from "@calybris/budget/LedgerError"
import type * as Snapshot from "@calybris/budget/Snapshot"
import * as SnapshotModule from "@calybris/budget/Snapshot"
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import { assert, describe, it } from "@effect/vitest"
import * as Brand from "effect/Brand"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as vm from "node:vm"
import { input, otherPolicy, policy } from "./fixtures.js"

/** A JavaScript caller's values, which no type checks: what `validateCommand` must refuse in every layer. */
const unchecked = {
  microcents: Brand.nominal<Microcents>(),
  tenant: Brand.nominal<TenantId>(),
  reservation: Brand.nominal<ReservationId>()
}

/** A Json value `depth` arrays deep. */
const nested = (depth: number): Json.Json => {
  let value: Json.Json = 0n
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** The service's `apply`, with a command built by hand (no accessor's checks or conversions). */
const rawApply = <C extends Command.Command>(command: C, audited?: Ledger.Audit) =>
  Effect.flatMap(Ledger.Ledger, (ledger) => ledger.apply(command, audited))

/** An audited decision of `input(1)` under `policy`, as `Ledger.admit` journals it. */
const auditedOfInput1 = () => {
  const decision = Kernel.prescribe(policy, input(1))
  return {
    cost: decision.estimated_cost_microunits as bigint,
    record: Either.getOrThrow(Audited.recordOfPrescribed(policy, input(1), decision, null))
  }
}

const numRuns = fc.readConfigureGlobal().numRuns ?? 25

/** Tenants of the query property (one whose UTF-8 order differs from its UTF-16 order). */
const pool = ["a", "b", "\uFFFD", "\u{1F600}"] as const
const tenantArb = fc.constantFrom(...pool)
const idArb = fc.option(fc.constantFrom("op-1", "op-2", "op-3"), { nil: undefined })

type QueryOp =
  | { readonly op: "ensure"; readonly tenant: string; readonly amount: number }
  | { readonly op: "topUp"; readonly tenant: string; readonly amount: number; readonly id: string | undefined }
  | { readonly op: "cap"; readonly tenant: string; readonly max: number }
  | {
    readonly op: "reserve"
    readonly tenant: string
    readonly amount: number
    readonly expiresMs: number | undefined
    readonly id: string | undefined
  }
  | { readonly op: "commit"; readonly pick: number; readonly actual: number; readonly id: string | undefined }
  | { readonly op: "release"; readonly pick: number; readonly id: string | undefined }
  | { readonly op: "wait"; readonly ms: number }
  | { readonly op: "snapshot" }
  | { readonly op: "certify" }

const queryOpArb: fc.Arbitrary<QueryOp> = fc.oneof(
  fc.record({ op: fc.constant("ensure" as const), tenant: tenantArb, amount: fc.integer({ min: 0, max: 5_000 }) }),
  // holds that expire, and time passing: the holds due that only the answers release
  fc.record({
    op: fc.constant("reserve" as const),
    tenant: tenantArb,
    amount: fc.integer({ min: 1, max: 500 }),
    expiresMs: fc.integer({ min: 1, max: 3_000 }),
    id: idArb
  }),
  fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
  fc.record({
    op: fc.constant("topUp" as const),
    tenant: tenantArb,
    amount: fc.integer({ min: 1, max: 1_000 }),
    id: idArb
  }),
  fc.record({ op: fc.constant("cap" as const), tenant: tenantArb, max: fc.integer({ min: -5, max: 3_000 }) }),
  fc.record({
    op: fc.constant("reserve" as const),
    tenant: tenantArb,
    amount: fc.integer({ min: 1, max: 2_000 }),
    expiresMs: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: undefined }),
    id: idArb
  }),
  fc.record({
    op: fc.constant("commit" as const),
    pick: fc.nat(),
    actual: fc.integer({ min: 0, max: 2_500 }),
    id: idArb
  }),
  fc.record({ op: fc.constant("release" as const), pick: fc.nat(), id: idArb }),
  fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
  fc.constant({ op: "snapshot" as const }),
  fc.constant({ op: "certify" as const })
)

interface QueryModel {
  /** reservation ids handed out (some since settled or expired: those are refused) */
  readonly open: Array<bigint>
  /** the exposure caps set */
  readonly caps: Map<string, bigint>
  /** the operation ids of the operations the ledger answered (applied or refused) */
  readonly remembered: Set<string>
}

/** Apply one operation (a refusal or a conflict is an outcome, not a failure); keep the model. */
const runQueryOp = (o: QueryOp, model: QueryModel): Effect.Effect<void, unknown, Ledger.Ledger> => {
  const opts = (id: string | undefined) => (id === undefined ? {} : { operationId: id })
  // every answer is remembered under its id, a refusal too (a conflict fails: not an answer)
  const remember = (id: string | undefined) => (_: { readonly _tag: string }) => {
    if (id !== undefined) model.remembered.add(id)
  }
  const pick = (n: number) => model.open[n % Math.max(1, model.open.length)] ?? 1n
  switch (o.op) {
    case "ensure":
      return Ledger.ensureTenant(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)))
    case "topUp":
      return Effect.ignore(
        Effect.map(Ledger.topUp(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)), opts(o.id)), remember(o.id))
      )
    case "cap":
      return Effect.map(Ledger.setExposureCap(TenantId.make(o.tenant), Microcents.make(BigInt(o.max))), () => {
        if (o.max <= 0) model.caps.delete(o.tenant)
        else model.caps.set(o.tenant, BigInt(o.max))
      })
    case "reserve":
      return Effect.ignore(Effect.map(
        Ledger.reserve(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)), {
          ...opts(o.id),
          ...(o.expiresMs === undefined ? {} : { expiresIn: Duration.millis(o.expiresMs) })
        }),
        (r) => {
          remember(o.id)(r)
          if (r._tag === "Reserved" && !model.open.includes(r.reservation_id)) model.open.push(r.reservation_id)
        }
      ))
    case "commit":
      return Effect.ignore(
        Effect.map(
          Ledger.commit(ReservationId.make(pick(o.pick)), Microcents.make(BigInt(o.actual)), opts(o.id)),
          remember(o.id)
        )
      )
    case "release":
      return Effect.ignore(Effect.map(Ledger.release(ReservationId.make(pick(o.pick)), opts(o.id)), remember(o.id)))
    case "wait":
      // no command follows: a hold due now is released only in the queries' answers
      return TestClock.adjust(Duration.millis(o.ms))
    case "snapshot":
      return Effect.asVoid(Ledger.takeSnapshot)
    case "certify":
      return Effect.asVoid(Ledger.certify)
  }
}

/** Operations of the retry property (commit and release name a reservation id: ids are issued from 1). */
type RetryOp =
  | { readonly op: "ensure"; readonly tenant: string; readonly amount: number }
  | { readonly op: "cap"; readonly tenant: string; readonly max: number }
  | { readonly op: "topUp"; readonly tenant: string; readonly amount: number }
  | { readonly op: "reserve"; readonly tenant: string; readonly amount: number }
  | { readonly op: "commit"; readonly reservation: number; readonly actual: number }
  | { readonly op: "release"; readonly reservation: number }
  | { readonly op: "admit"; readonly tenant: string; readonly sequence: number }

const retryTenantArb = fc.constantFrom("a", "b", "c")
const retryOpArb: fc.Arbitrary<RetryOp> = fc.oneof(
  fc.record({ op: fc.constant("ensure" as const), tenant: retryTenantArb, amount: fc.integer({ min: 0, max: 500 }) }),
  fc.record({ op: fc.constant("cap" as const), tenant: retryTenantArb, max: fc.integer({ min: -5, max: 800 }) }),
  fc.record({ op: fc.constant("topUp" as const), tenant: retryTenantArb, amount: fc.integer({ min: -2, max: 800 }) }),
  fc.record({ op: fc.constant("reserve" as const), tenant: retryTenantArb, amount: fc.integer({ min: -2, max: 900 }) }),
  fc.record({
    op: fc.constant("commit" as const),
    reservation: fc.integer({ min: 1, max: 8 }),
    actual: fc.integer({ min: -1, max: 1_000 })
  }),
  fc.record({ op: fc.constant("release" as const), reservation: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("admit" as const), tenant: retryTenantArb, sequence: fc.integer({ min: 1, max: 3 }) })
)

/** Small budgets, so that refusals are frequent. */
const seedRetryTenants = Effect.all([
  Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1_000n)),
  Ledger.ensureTenant(TenantId.make("b"), Microcents.make(300n))
])

/** Run operation `i` of the sequence under the id `op-i` (ensure and cap carry none): its result. */
const runRetryOp = (o: RetryOp, i: number): Effect.Effect<unknown, unknown, Ledger.Ledger> => {
  const options = { operationId: `op-${i}` }
  switch (o.op) {
    case "ensure":
      return Ledger.ensureTenant(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)))
    case "cap":
      return Ledger.setExposureCap(TenantId.make(o.tenant), Microcents.make(BigInt(o.max)))
    case "topUp":
      return Ledger.topUp(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)), options)
    case "reserve":
      return Ledger.reserve(TenantId.make(o.tenant), Microcents.make(BigInt(o.amount)), options)
    case "commit":
      return Ledger.commit(ReservationId.make(BigInt(o.reservation)), Microcents.make(BigInt(o.actual)), options)
    case "release":
      return Ledger.release(ReservationId.make(BigInt(o.reservation)), options)
    case "admit":
      return Ledger.admit(policy, TenantId.make(o.tenant), input(o.sequence), options)
  }
}

/** Every query, checked against the balances of the same state, the model, and the next snapshot. */
const checkQueries = (model: QueryModel) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const current = yield* Ledger.balances
    const all = yield* Ledger.holds()
    const counts = yield* ledger.counts
    assert.deepStrictEqual(counts, {
      tenant_count: current.tenants.length,
      active_reservations: all.length,
      snapshot_version: current.version
    })
    assert.strictEqual(current.active_reservations, BigInt(all.length))
    for (let i = 1; i < all.length; i++) {
      assert.isTrue((all[i - 1]?.reservation_id ?? 0n) < (all[i]?.reservation_id ?? 0n), "holds in id order")
    }
    for (const tenant of [...pool, "nobody"]) {
      const row = Option.fromNullable(current.tenants.find((t) => t.tenant_id === tenant))
      assert.deepStrictEqual(yield* Ledger.balance(tenant), row, tenant)
      assert.deepStrictEqual(
        yield* Effect.all([
          Ledger.initial(tenant),
          Ledger.remaining(tenant),
          Ledger.reserved(tenant),
          Ledger.committed(tenant)
        ]),
        [
          Option.map(row, (t): bigint => t.initial_microcents),
          Option.map(row, (t): bigint => t.remaining_microcents),
          Option.map(row, (t): bigint => t.reserved_microcents),
          Option.map(row, (t): bigint => t.committed_microcents)
        ],
        tenant
      )
      const own = yield* Ledger.holds(tenant)
      assert.deepStrictEqual(own, all.filter((h) => h.tenant_id === tenant), tenant)
      // a tenant's reserved funds are its open holds (a hold that is due counts in neither)
      if (Option.isSome(row)) {
        assert.strictEqual(own.reduce((sum, h) => sum + h.amount_microcents, 0n), row.value.reserved_microcents, tenant)
      }
      assert.deepStrictEqual(yield* Ledger.exposureCap(tenant), Option.fromNullable(model.caps.get(tenant)), tenant)
    }
    const now = BigInt(yield* Clock.currentTimeMillis)
    for (const h of all) {
      if (Option.isSome(h.expires_at_ms)) assert.isTrue(h.expires_at_ms.value > now, "no hold due is open")
    }
    same(
      yield* Ledger.exposureCaps,
      [...model.caps].sort(([a], [b]) => SnapshotModule.compareUtf8(a, b)).map(([tenant_id, max]) => ({
        tenant_id,
        max_reserved_microcents: max
      }))
    )
    const committed = current.tenants.reduce((sum, t) => sum + t.committed_microcents, 0n)
    const totals = yield* ledger.totals
    assert.strictEqual(totals.total_committed_microcents, committed > Int.I64_MAX ? Int.I64_MAX : committed)
    assert.strictEqual(yield* Ledger.ledgerDigest, SnapshotModule.ledgerDigest(current))
    assert.deepStrictEqual(yield* Ledger.conservationStatus, SnapshotModule.conservationStatus(current))
    const proof = yield* Ledger.conservationProof
    assert.strictEqual(proof.ledger_digest_hex, SnapshotModule.ledgerDigest(current))
    assert.strictEqual(proof.snapshot_version, current.version)
    for (const id of ["op-1", "op-2", "op-3"]) {
      assert.strictEqual(yield* Ledger.remembers(id), model.remembered.has(id), id)
    }
    // no query advanced anything: the next snapshot (whose command releases the due holds) is
    // the balances the queries saw, one version on
    assert.deepStrictEqual(yield* ledger.counts, counts, "no query advanced the version")
    const certificate = yield* Ledger.certify
    assert.strictEqual(certificate.snapshot_version, Int.wrapU64(current.version + 1n))
    assert.strictEqual(certificate.committed_since_last_certificate, totals.committed_since_last_certificate_microcents)
    assert.deepStrictEqual(yield* Ledger.takeSnapshot, { ...current, version: Int.wrapU64(current.version + 2n) })
    same(yield* Ledger.holds(), all)
  })

/** `deepStrictEqual` of an answer with a plain literal (the answers' integers are branded). */
const same = (actual: unknown, expected: unknown, message?: string) => assert.deepStrictEqual(actual, expected, message)

type Bad = Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, Ledger.Ledger>
type Retry = Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger>

export const ledgerContract = (name: string, make: () => Layer.Layer<Ledger.Ledger, unknown>) =>
  describe(`Ledger contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) => Effect.provide(effect, make())

    it.effect("reserve, commit and release keep the books balanced", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        const r = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(300n))
        assert.strictEqual(r._tag, "Reserved")
        if (r._tag !== "Reserved") return
        assert.strictEqual(r.remaining_microcents, 700n)
        const c = yield* Ledger.commit(r.reservation_id, Microcents.make(250n))
        assert.deepStrictEqual(c, { _tag: "Committed", remaining_microcents: 750n, actual_microcents: 250n })
        const r2 = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
        if (r2._tag !== "Reserved") return assert.fail("expected a hold")
        const rel = yield* Ledger.release(r2.reservation_id)
        assert.deepStrictEqual(rel, { _tag: "Released", remaining_microcents: 750n, returned_microcents: 100n })
        assert.deepStrictEqual(yield* Ledger.reserve(TenantId.make("t"), Microcents.make(10_000n)), {
          _tag: "Insufficient",
          remaining_microcents: 750n,
          required_microcents: 10_000n
        })
        const proof = yield* Ledger.proveConservation
        assert.strictEqual(proof.total_committed_microcents, 250n)
      })))

    it.effect("a retry with the same operation id applies once and returns the original result", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        const a = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "req-1" })
        const b = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "req-1" })
        assert.deepStrictEqual(a, b)
        assert.strictEqual(yield* Ledger.activeReservations, 1)
        if (a._tag !== "Reserved") return assert.fail("expected a hold")
        const c1 = yield* Ledger.commit(a.reservation_id, Microcents.make(80n), { operationId: "settle-1" })
        const c2 = yield* Ledger.commit(a.reservation_id, Microcents.make(80n), { operationId: "settle-1" })
        assert.deepStrictEqual(c1, c2)
        const t1 = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(5n), { operationId: "top-1" })
        const t2 = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(5n), { operationId: "top-1" })
        assert.deepStrictEqual(t1, t2)
        assert.strictEqual(Option.getOrThrow(yield* Ledger.initial("t")), 1_005n)
        const conflict = yield* Effect.flip(
          Ledger.reserve(TenantId.make("t"), Microcents.make(101n), { operationId: "req-1" })
        )
        assert.strictEqual(conflict._tag, "IdempotencyConflict")
      })))

    it.effect("a restore keeps the remembered operation ids: a retry after it answers as before and applies nothing (docs/LEDGER.md, Retry safety)", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(100n))
        const before = yield* Ledger.takeSnapshot
        const topped = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(50n), { operationId: "pay-1" })
        same(topped, {
          _tag: "ToppedUp",
          added_microcents: 50n,
          new_initial_microcents: 150n,
          remaining_microcents: 150n
        })
        const after = yield* Ledger.takeSnapshot
        yield* Ledger.restore(before)
        // undone by the restore, remembered all the same: not applied again
        same(yield* Ledger.topUp(TenantId.make("t"), Microcents.make(50n), { operationId: "pay-1" }), topped)
        same(Option.getOrThrow(yield* Ledger.initial("t")), 100n)
        // restored to a snapshot taken after it: never counted twice
        yield* Ledger.restore(after)
        same(yield* Ledger.topUp(TenantId.make("t"), Microcents.make(50n), { operationId: "pay-1" }), topped)
        same(Option.getOrThrow(yield* Ledger.initial("t")), 150n)
        assert.isTrue(yield* Ledger.remembers("pay-1"))
      })))

    it.effect("an expired hold is released by the Clock, deterministically", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        const r = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(400n), { expiresIn: "1 minute" })
        assert.strictEqual(r._tag, "Reserved")
        yield* TestClock.adjust("59 seconds")
        yield* Ledger.sweepExpired
        assert.strictEqual(yield* Ledger.activeReservations, 1)
        yield* TestClock.adjust("1 second")
        yield* Ledger.sweepExpired
        assert.strictEqual(yield* Ledger.activeReservations, 0)
        assert.strictEqual(Option.getOrThrow(yield* Ledger.remaining("t")), 1_000n)
        if (r._tag === "Reserved") {
          assert.strictEqual((yield* Ledger.commit(r.reservation_id, Microcents.make(1n)))._tag, "MissingReservation")
        }
      })))

    it.effect("admit: execute/substitute hold the cost, a reject holds nothing, a short budget fails the hold", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("gw"), Microcents.make(50_000n))
        const ok = yield* Ledger.admit(policy, TenantId.make("gw"), input(1))
        assert.strictEqual(ok._tag, "Admitted")
        if (ok._tag === "Admitted") {
          assert.strictEqual(ok.remaining_microcents, 50_000n - ok.decision.estimated_cost_microunits)
        }
        const rejected = yield* Ledger.admit(policy, TenantId.make("gw"), input(2, { risk_bps: 9500 }))
        assert.strictEqual(rejected._tag, "Rejected")
        const short = yield* Ledger.admit(
          policy,
          TenantId.make("gw"),
          input(3, { input_tokens: 20_000, output_tokens: 5_000 })
        )
        assert.strictEqual(short._tag, "HoldFailed")
        assert.strictEqual(yield* Ledger.activeReservations, 1)
      })))

    it.effect("admit: a retry returns the original decision; a retry with any other argument is an IdempotencyConflict", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("gw"), Microcents.make(500_000n))
        yield* Ledger.ensureTenant(TenantId.make("gw2"), Microcents.make(500_000n))
        const options = { operationId: "adm-1", metadata: new Map([["request", "r-1"]]) }
        const first = yield* Ledger.admit(policy, TenantId.make("gw"), input(1), options)
        if (first._tag !== "Admitted") return assert.fail(`expected Admitted, got ${first._tag}`)
        const again = yield* Ledger.admit(policy, TenantId.make("gw"), input(1), options)
        assert.deepStrictEqual(again, first, "an identical retry returns the original outcome")
        const digest = yield* Ledger.ledgerDigest
        const cost = first.decision.estimated_cost_microunits
        // each differs from the original in one argument; the cost (the hold) is the same
        const altered: ReadonlyArray<readonly [string, Retry]> = [
          ["another request_sequence", Ledger.admit(policy, TenantId.make("gw"), input(2), options)],
          ["another policy with the same cost", Ledger.admit(otherPolicy, TenantId.make("gw"), input(1), options)],
          ["another tenant", Ledger.admit(policy, TenantId.make("gw2"), input(1), options)],
          ["other metadata", Ledger.admit(policy, TenantId.make("gw"), input(1), { ...options, metadata: "other" })],
          ["no metadata", Ledger.admit(policy, TenantId.make("gw"), input(1), { operationId: "adm-1" })],
          ["an expiry", Ledger.admit(policy, TenantId.make("gw"), input(1), { ...options, expiresIn: "1 minute" })],
          [
            "an input the kernel rejects",
            Ledger.admit(policy, TenantId.make("gw"), input(1, { risk_bps: 9500 }), options)
          ],
          [
            "a reserve of the same cost",
            Ledger.reserve(TenantId.make("gw"), Microcents.make(cost), { operationId: "adm-1" })
          ],
          ["a top-up", Ledger.topUp(TenantId.make("gw"), Microcents.make(cost), { operationId: "adm-1" })]
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
        assert.deepStrictEqual(yield* Ledger.admit(policy, TenantId.make("gw"), input(1), options), first)
      })))

    it.effect("every id-carrying operation is bound to all of its arguments", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(10_000n))
        yield* Ledger.ensureTenant(TenantId.make("u"), Microcents.make(10_000n))
        const r = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), {
          operationId: "r",
          expiresIn: "1 minute"
        })
        const r2 = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(200n), { operationId: "r2" })
        if (r._tag !== "Reserved" || r2._tag !== "Reserved") return assert.fail("expected holds")
        yield* Ledger.topUp(TenantId.make("t"), Microcents.make(5n), { operationId: "top" })
        yield* Ledger.commit(r.reservation_id, Microcents.make(50n), { operationId: "c" })
        yield* Ledger.release(r2.reservation_id, { operationId: "rel" })
        const digest = yield* Ledger.ledgerDigest
        const altered: ReadonlyArray<readonly [string, Retry]> = [
          [
            "reserve without its expiry",
            Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "r" })
          ],
          [
            "reserve with another expiry",
            Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "r", expiresIn: "2 minutes" })
          ],
          [
            "reserve for another tenant",
            Ledger.reserve(TenantId.make("u"), Microcents.make(100n), { operationId: "r", expiresIn: "1 minute" })
          ],
          [
            "reserve of another amount",
            Ledger.reserve(TenantId.make("t"), Microcents.make(101n), { operationId: "r", expiresIn: "1 minute" })
          ],
          ["top-up of another amount", Ledger.topUp(TenantId.make("t"), Microcents.make(6n), { operationId: "top" })],
          ["top-up of another tenant", Ledger.topUp(TenantId.make("u"), Microcents.make(5n), { operationId: "top" })],
          ["commit of another amount", Ledger.commit(r.reservation_id, Microcents.make(51n), { operationId: "c" })],
          ["commit of another hold", Ledger.commit(r2.reservation_id, Microcents.make(50n), { operationId: "c" })],
          ["release under a commit's id", Ledger.release(r.reservation_id, { operationId: "c" })],
          ["release of another hold", Ledger.release(r.reservation_id, { operationId: "rel" })],
          ["commit under a release's id", Ledger.commit(r2.reservation_id, Microcents.make(0n), { operationId: "rel" })]
        ]
        for (const [what, retry] of altered) {
          const outcome = yield* Effect.either(retry)
          assert.isTrue(
            outcome._tag === "Left" && outcome.left._tag === "IdempotencyConflict",
            `${what}: expected IdempotencyConflict, got ${outcome._tag}`
          )
        }
        assert.strictEqual(yield* Ledger.ledgerDigest, digest, "nothing applied")
        assert.deepStrictEqual(
          yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "r", expiresIn: "1 minute" }),
          r
        )
      })))

    it.effect("out-of-range arguments are refused with InvalidArgument before anything changes; the ledger keeps serving", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        const held = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "r" })
        if (held._tag !== "Reserved") return assert.fail("expected a hold")
        const before = {
          digest: yield* Ledger.ledgerDigest,
          version: yield* Ledger.snapshotVersion,
          tenants: yield* Ledger.tenantCount,
          holds: yield* Ledger.activeReservations
        }
        const over = 2n ** 70n
        const bad: ReadonlyArray<readonly [string, Bad]> = [
          ["amount", Ledger.ensureTenant(TenantId.make("t2"), unchecked.microcents(over))],
          ["amount", Ledger.ensureTenant(TenantId.make("t2"), unchecked.microcents(2n ** 63n))],
          ["amount", Ledger.ensureTenant(TenantId.make("t2"), Microcents.make(-1n))],
          ["tenant", Ledger.ensureTenant(unchecked.tenant("\uD800"), Microcents.make(1n))],
          ["tenant", Ledger.ensureTenant(unchecked.tenant("x".repeat(1_025)), Microcents.make(1n))],
          ["amount", Ledger.topUp(TenantId.make("t"), unchecked.microcents(2n ** 63n))],
          ["operationId", Ledger.topUp(TenantId.make("t"), Microcents.make(1n), { operationId: "" })],
          ["operationId", Ledger.topUp(TenantId.make("t"), Microcents.make(1n), { operationId: "x".repeat(257) })],
          ["max", Ledger.setExposureCap(TenantId.make("t"), unchecked.microcents(-(2n ** 63n) - 1n))],
          ["amount", Ledger.reserve(TenantId.make("t"), unchecked.microcents(over))],
          ["expiresIn", Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: Infinity })],
          ["expiresIn", Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: Duration.infinity })],
          ["expiresIn", Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: -5 })],
          ["expiresIn", Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: Duration.weeks(1e15) })],
          [
            "expiresIn",
            Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: "soon" as Duration.DurationInput })
          ],
          ["operationId", Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { operationId: "\uDC00" })],
          // commands built by hand, through the service's own apply (what a journal replays must be what it took)
          [
            "expiresIn",
            rawApply(
              Command.reserve(TenantId.make("t"), Microcents.make(1n), { ttl_ms: Schema.decodeSync(Int.I64)(1_000n) })
            )
          ],
          [
            "expiresIn",
            rawApply(
              Command.admit(TenantId.make("t"), Microcents.make(1n), {
                expires_at_ms: Schema.decodeSync(Int.I64)(5_000n)
              })
            )
          ],
          // an admit's audited decision given as a value: checked in every layer, though the memory
          // layer journals nothing (a helper's hostile review: it took what the journaled ones refuse)
          [
            "audited",
            rawApply(
              Command.admit(TenantId.make("t"), Microcents.make(auditedOfInput1().cost + 1n)),
              auditedOfInput1().record
            )
          ],
          [
            "audited",
            rawApply(Command.admit(TenantId.make("t"), Microcents.make(1n)), nested(Arguments.MAX_METADATA_DEPTH + 20))
          ],
          ["command", rawApply(Command.expire(held.reservation_id))],
          ["command", rawApply(Command.expire(ReservationId.make(999n)))],
          ["reservation", Ledger.commit(unchecked.reservation(2n ** 64n), Microcents.make(1n))],
          ["actual", Ledger.commit(held.reservation_id, unchecked.microcents(over))],
          ["reservation", Ledger.release(unchecked.reservation(-1n))],
          ["expiresIn", Ledger.admit(policy, TenantId.make("t"), input(1), { expiresIn: Duration.weeks(1e15) })],
          ["metadata", Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: {} as Json.Json })],
          // Json values the journal's writer could not write (a helper's hostile review)
          ["metadata", Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: "\uD800" })],
          ["metadata", Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: new Map([["k\uDC00", 1n]]) })],
          ["metadata", Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: new Map([["x", 1n << 70n]]) })],
          ["metadata", Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: -(2n ** 63n) - 1n })],
          [
            "metadata",
            Ledger.admit(policy, TenantId.make("t"), input(1), { metadata: nested(Arguments.MAX_METADATA_DEPTH + 1) })
          ],
          ["tenant", Ledger.admit(policy, unchecked.tenant("\uD800"), input(1))],
          // an input out of its type (built with a cast), checked before the kernel in every layer:
          // the memory layer held funds, the journal's failed to encode, the kernel threw (a hostile review)
          [
            "input.request_sequence",
            Ledger.admit(policy, TenantId.make("t"), { ...input(1), request_sequence: -1n } as ReturnType<typeof input>)
          ],
          [
            "input.budget_limit_microunits",
            Ledger.admit(
              policy,
              TenantId.make("t"),
              { ...input(1), budget_limit_microunits: 5 as unknown as bigint } as ReturnType<typeof input>
            )
          ],
          // what is no command, through the service's own apply: null died, an unknown tag succeeded
          ["command", rawApply(null as unknown as Command.Command)],
          ["command", rawApply({ _tag: "Nope" } as unknown as Command.Command)],
          ["operationId", Ledger.admit(policy, TenantId.make("t"), input(1, { risk_bps: 9500 }), { operationId: "" })],
          [
            "snapshot.tenants[0].initial_microcents",
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
        yield* Ledger.ensureTenant(TenantId.make("u"), Microcents.make(500n))
        assert.strictEqual((yield* Ledger.reserve(TenantId.make("u"), Microcents.make(200n)))._tag, "Reserved")
        assert.strictEqual((yield* Ledger.commit(held.reservation_id, Microcents.make(50n)))._tag, "Committed")
        yield* Ledger.proveConservation
      })))

    it.effect("a refused restore names the snapshot's first wrong field, its value and its range, the same in every layer, before anything changes (a hostile review: every one was \"invalid snapshot an object\")", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
        const before = {
          digest: yield* Ledger.ledgerDigest,
          version: yield* Ledger.snapshotVersion,
          holds: yield* Ledger.activeReservations
        }
        const balance = (over: Record<string, unknown>) => ({
          tenant_id: "a",
          initial_microcents: 10n,
          remaining_microcents: 10n,
          reserved_microcents: 0n,
          committed_microcents: 0n,
          ...over
        })
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [
            { version: 2n ** 64n, tenants: [], active_reservations: 0n },
            "invalid snapshot.version 18446744073709551616: must be an integer in [0, 18446744073709551615], got 18446744073709551616"
          ],
          [
            {
              version: 1n,
              tenants: [balance({}), balance({ initial_microcents: 2n ** 63n, remaining_microcents: 2n ** 63n })],
              active_reservations: 0n
            },
            "invalid snapshot.tenants[1].initial_microcents 9223372036854775808: must be an integer in [-9223372036854775808, 9223372036854775807], got 9223372036854775808"
          ],
          [
            { version: 1n, tenants: [balance({ committed_microcents: 5 })], active_reservations: 0n },
            "invalid snapshot.tenants[0].committed_microcents 5: expected a bigint, got the number 5"
          ],
          [
            { version: 1n, tenants: [], active_reservations: -1n },
            "invalid snapshot.active_reservations -1: must be an integer in [0, 18446744073709551615], got -1"
          ],
          [
            { version: 1n, tenants: [] },
            "invalid snapshot.active_reservations undefined: is missing"
          ],
          [
            { version: 1n, tenants: [balance({}), null], active_reservations: 0n },
            "invalid snapshot.tenants[1] null: must be a tenant balance: an object of tenant_id and its four i64 microcents"
          ],
          [
            { version: 1n, tenants: "x", active_reservations: 0n },
            "invalid snapshot.tenants \"x\": must be an array of tenant balances"
          ],
          [
            null,
            "invalid snapshot null: must be a snapshot: an object of version, tenants and active_reservations"
          ],
          // an array or a Map is named as what it is, in every layer (the review of this check: the
          // layers' copy made them {}, "snapshot.version undefined: is missing")
          [
            [],
            "invalid snapshot an array: must be a snapshot: an object of version, tenants and active_reservations"
          ],
          [
            new Map<string, unknown>([["version", 1n], ["tenants", []], ["active_reservations", 0n]]),
            "invalid snapshot a Map: must be a snapshot: an object of version, tenants and active_reservations"
          ],
          // other built-ins, and a Map of another realm (the review of the copy: each was "version is missing")
          ...[
            new Set([1]),
            new Date(0),
            vm.runInNewContext("new Map([['version', 1n]])") as unknown,
            new WeakMap(),
            /version/,
            new ArrayBuffer(8),
            Object(1n) as unknown
          ].map((
            built
          ) =>
            [
              built,
              `invalid snapshot ${/^[AEIOU]/.test(Object.prototype.toString.call(built).slice(8, -1)) ? "an" : "a"} ${
                Object.prototype.toString.call(built).slice(8, -1)
              }: must be a snapshot: an object of version, tenants and active_reservations`
            ] as const
          ),
          [
            { version: 1n, tenants: [balance({ tenant_id: "\uD800" })], active_reservations: 0n },
            "invalid snapshot.tenants[0].tenant_id \"\\ud800\": must be well-formed Unicode of at most 1024 UTF-8 bytes"
          ]
        ]
        for (const [snapshot, message] of cases) {
          const error = yield* Effect.flip(Ledger.restore(snapshot as Snapshot.Snapshot))
          assert.strictEqual(error._tag, "InvalidArgument", message)
          assert.strictEqual(error.message, message)
        }
        assert.deepStrictEqual(
          {
            digest: yield* Ledger.ledgerDigest,
            version: yield* Ledger.snapshotVersion,
            holds: yield* Ledger.activeReservations
          },
          before,
          "nothing changed"
        )
      })))

    it.effect("queries see the state as of the Clock now: an expired hold is released before the next write", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(400n), { expiresIn: "1 minute" })
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
        const view = Effect.all({
          holds: Ledger.activeReservations,
          open: Ledger.holds(),
          balance: Ledger.balance("t"),
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
        assert.deepStrictEqual(seen.open.map((h) => h.amount_microcents), [100n])
        assert.deepStrictEqual(Option.map(seen.balance, (b): bigint => b.reserved_microcents), Option.some(100n))
        assert.deepStrictEqual(seen.reserved, Option.some(100n))
        assert.strictEqual(Option.getOrThrow(seen.remaining), 900n)
        assert.strictEqual(seen.balances.active_reservations, 1n)
        assert.strictEqual(seen.balances.tenants[0]?.reserved_microcents, 100n)
        yield* Ledger.sweepExpired
        assert.deepStrictEqual(yield* view, seen, "the next write changes nothing the reads did not show")
      })))

    // ---------------------------------------------------------------------------------------------
    // Queries (issue 13): typed, answered natively by every layer, as of the Clock now, writing nothing

    it.effect("balance: a tenant's four balances; an unknown tenant is none in every per-tenant query", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        const r = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(300n))
        if (r._tag !== "Reserved") return assert.fail("expected a hold")
        yield* Ledger.commit(r.reservation_id, Microcents.make(100n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(50n))
        assert.deepStrictEqual(
          yield* Ledger.balance("t"),
          Option.some({
            tenant_id: "t",
            initial_microcents: 1_000n,
            remaining_microcents: 850n,
            reserved_microcents: 50n,
            committed_microcents: 100n
          })
        )
        assert.deepStrictEqual(
          yield* Effect.all([Ledger.initial("t"), Ledger.remaining("t"), Ledger.reserved("t"), Ledger.committed("t")]),
          [Option.some(1_000n), Option.some(850n), Option.some(50n), Option.some(100n)]
        )
        // consistently none (`reserved` was 0n for an unknown tenant before issue 13)
        assert.deepStrictEqual(
          yield* Effect.all([
            Ledger.balance("nobody"),
            Ledger.initial("nobody"),
            Ledger.remaining("nobody"),
            Ledger.reserved("nobody"),
            Ledger.committed("nobody"),
            Ledger.exposureCap("nobody")
          ]),
          [Option.none(), Option.none(), Option.none(), Option.none(), Option.none(), Option.none()]
        )
        assert.deepStrictEqual(yield* Ledger.holds("nobody"), [])
      })))

    it.effect("holds: the open holds of a tenant and of all, in reservation id order, with amount and expiry", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1_000n))
        yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(1_000n))
        const start = BigInt(yield* Clock.currentTimeMillis)
        const ids: Array<bigint> = []
        for (
          const [tenant, amount, expiresIn] of [
            ["b", 10n, undefined],
            ["a", 20n, "1 minute"],
            ["b", 30n, "2 minutes"],
            ["a", 40n, undefined]
          ] as const
        ) {
          const r = yield* Ledger.reserve(
            TenantId.make(tenant),
            Microcents.make(amount),
            expiresIn === undefined ? {} : { expiresIn }
          )
          if (r._tag !== "Reserved") return assert.fail("expected a hold")
          ids.push(r.reservation_id)
        }
        const [b1, a1, b2, a2] = ids as [bigint, bigint, bigint, bigint]
        yield* Ledger.release(ReservationId.make(a2))
        const hold = (id: bigint, tenant: string, amount: bigint, expires?: bigint) => ({
          reservation_id: id,
          tenant_id: tenant,
          amount_microcents: amount,
          expires_at_ms: Option.fromNullable(expires)
        })
        const all = [hold(b1, "b", 10n), hold(a1, "a", 20n, start + 60_000n), hold(b2, "b", 30n, start + 120_000n)]
        same(yield* Ledger.holds(), all)
        same(yield* Ledger.holds("a"), [all[1]])
        same(yield* Ledger.holds("b"), [all[0], all[2]])
        // an answer is a copy: changing it changes nothing in the ledger
        const answer = (yield* Ledger.holds()) as Array<unknown>
        answer.length = 0
        same(yield* Ledger.holds(), all)
      })))

    it.effect("exposure caps: of a tenant and all, in UTF-8 order; a cap may name an unknown tenant; max <= 0 removes it", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(1_000n))
        // UTF-16 order would put "\u{1F600}" (a surrogate pair) before "\uFFFD"; UTF-8 puts it after
        for (const [tenant, max] of [["b", 500n], ["\u{1F600}", 7n], ["\uFFFD", 9n], ["a", 3n], ["c", 4n]] as const) {
          yield* Ledger.setExposureCap(TenantId.make(tenant), Microcents.make(max))
        }
        yield* Ledger.setExposureCap(TenantId.make("c"), Microcents.make(0n))
        same(yield* Ledger.exposureCaps, [
          { tenant_id: "a", max_reserved_microcents: 3n },
          { tenant_id: "b", max_reserved_microcents: 500n },
          { tenant_id: "\uFFFD", max_reserved_microcents: 9n },
          { tenant_id: "\u{1F600}", max_reserved_microcents: 7n }
        ])
        assert.deepStrictEqual(yield* Ledger.exposureCap("b"), Option.some(500n))
        assert.deepStrictEqual(yield* Ledger.exposureCap("a"), Option.some(3n), "a cap of a tenant that does not exist")
        assert.deepStrictEqual(yield* Ledger.exposureCap("c"), Option.none(), "removed")
        assert.strictEqual(yield* Ledger.tenantCount, 1, "a cap creates no tenant")
      })))

    it.effect("balances, counts, totals, digest, conservation status and proof: answered without advancing the version", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(1_000n))
        yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(500n))
        const r = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(200n))
        if (r._tag !== "Reserved") return assert.fail("expected a hold")
        yield* Ledger.commit(r.reservation_id, Microcents.make(150n))
        yield* Ledger.reserve(TenantId.make("b"), Microcents.make(70n))
        yield* Ledger.takeSnapshot
        const current = yield* Ledger.balances
        assert.deepStrictEqual(current, {
          version: 1n,
          tenants: [
            {
              tenant_id: "a",
              initial_microcents: 500n,
              remaining_microcents: 350n,
              reserved_microcents: 0n,
              committed_microcents: 150n
            },
            {
              tenant_id: "b",
              initial_microcents: 1_000n,
              remaining_microcents: 930n,
              reserved_microcents: 70n,
              committed_microcents: 0n
            }
          ],
          active_reservations: 1n
        } as unknown as Snapshot.Snapshot)
        const ask = Effect.all({
          balances: Ledger.balances,
          counts: Effect.all([Ledger.tenantCount, Ledger.activeReservations, Ledger.snapshotVersion]),
          totals: Effect.all([Ledger.totalCommitted, Ledger.committedSinceLastCertificate]),
          digest: Ledger.ledgerDigest,
          status: Ledger.conservationStatus,
          proof: Ledger.conservationProof
        })
        const first = yield* ask
        assert.deepStrictEqual(first.counts, [2, 1, 1n])
        assert.deepStrictEqual(first.totals, [150n, 150n])
        assert.strictEqual(first.digest, SnapshotModule.ledgerDigest(current))
        assert.deepStrictEqual(first.status, SnapshotModule.balanced)
        assert.deepStrictEqual(first.proof, {
          ledger_digest_hex: first.digest,
          snapshot_version: 1n,
          tenant_count: 2n,
          active_reservations: 1n,
          total_initial_microcents: 1_500n,
          total_committed_microcents: 150n,
          aggregate_totals_representable: true
        } as unknown as Snapshot.ConservationProof)
        assert.deepStrictEqual(yield* ask, first, "asking again: the same answers (nothing advanced)")
        // the commands that take a snapshot advance the version; their snapshot is the balances
        const taken = yield* Ledger.takeSnapshot
        assert.deepStrictEqual(taken, { ...current, version: 2n })
        const proved = yield* Ledger.proveConservation
        assert.deepStrictEqual(proved, {
          ...first.proof,
          snapshot_version: 3n,
          // the digest covers the version
          ledger_digest_hex: SnapshotModule.ledgerDigest({ ...current, version: 3n } as Snapshot.Snapshot)
        })
        yield* Ledger.certify
        assert.deepStrictEqual(yield* Ledger.committedSinceLastCertificate, 0n)
        assert.deepStrictEqual(yield* Ledger.totalCommitted, 150n)
      })))

    it.effect("remembers: the id of every operation the ledger answered, a refused one too; not of a kernel reject", () =>
      run(Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(100n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(10n), { operationId: "ok" })
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(1_000n), { operationId: "refused" })
        yield* Ledger.admit(policy, TenantId.make("t"), input(1, { risk_bps: 9500 }), { operationId: "rejected" })
        assert.deepStrictEqual(
          yield* Effect.all([
            Ledger.remembers("ok"),
            Ledger.remembers("refused"),
            Ledger.remembers("rejected"),
            Ledger.remembers("never")
          ]),
          [true, true, false, false]
        )
        // and `admit` refuses a rejected outcome under a remembered id (it uses the query)
        const conflict = yield* Effect.flip(
          Ledger.admit(policy, TenantId.make("t"), input(1, { risk_bps: 9500 }), { operationId: "ok" })
        )
        assert.strictEqual(conflict._tag, "IdempotencyConflict")
      })))

    // ---------------------------------------------------------------------------------------------
    // Refusals are outcomes (issue 15): an operation id names one outcome forever within the
    // window, a refusal included, so a delayed duplicate of a refused operation cannot succeed later

    it.effect("a refused reserve retried under its id returns the original refusal after funds arrive, and holds nothing", () =>
      run(Effect.gen(function*() {
        const t = TenantId.make("t")
        yield* Ledger.ensureTenant(t, Microcents.make(100n))
        const insufficient = yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "r-short" })
        assert.deepStrictEqual(insufficient, {
          _tag: "Insufficient",
          remaining_microcents: 100n,
          required_microcents: 500n
        })
        yield* Ledger.setExposureCap(t, Microcents.make(50n))
        const capped = yield* Ledger.reserve(t, Microcents.make(60n), { operationId: "r-cap" })
        assert.strictEqual(capped._tag, "ExposureLimitExceeded")
        const missing = yield* Ledger.reserve(TenantId.make("later"), Microcents.make(10n), { operationId: "r-ghost" })
        assert.deepStrictEqual(missing, { _tag: "MissingTenant" })
        // what refused them is gone: the funds arrived, the cap was lifted, the tenant exists
        yield* Ledger.topUp(t, Microcents.make(10_000n))
        yield* Ledger.setExposureCap(t, Microcents.make(0n))
        yield* Ledger.ensureTenant(TenantId.make("later"), Microcents.make(1_000n))
        const before = yield* Ledger.balances
        assert.deepStrictEqual(
          yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "r-short" }),
          insufficient
        )
        assert.deepStrictEqual(yield* Ledger.reserve(t, Microcents.make(60n), { operationId: "r-cap" }), capped)
        assert.deepStrictEqual(
          yield* Ledger.reserve(TenantId.make("later"), Microcents.make(10n), { operationId: "r-ghost" }),
          missing
        )
        assert.deepStrictEqual(yield* Ledger.balances, before, "a retried refusal changes nothing")
        assert.strictEqual(yield* Ledger.activeReservations, 0)
        // the id is taken: other arguments under it conflict
        for (
          const [name, other] of [
            ["another amount", Ledger.reserve(t, Microcents.make(501n), { operationId: "r-short" })],
            ["another kind", Ledger.topUp(t, Microcents.make(500n), { operationId: "r-cap" })],
            [
              "an expiry",
              Ledger.reserve(TenantId.make("later"), Microcents.make(10n), {
                operationId: "r-ghost",
                expiresIn: "1 minute"
              })
            ]
          ] as const
        ) {
          const conflict = yield* Effect.flip(other as Retry)
          assert.strictEqual(conflict._tag, "IdempotencyConflict", name)
        }
        assert.deepStrictEqual(yield* Ledger.balances, before, "a conflict changes nothing")
      })))

    it.effect("refused top-ups, commits and releases retried under their ids return the original refusal", () =>
      run(Effect.gen(function*() {
        const t = TenantId.make("t")
        const nobody = yield* Ledger.topUp(TenantId.make("n"), Microcents.make(5n), { operationId: "top" })
        assert.deepStrictEqual(nobody, { _tag: "MissingTenant" })
        yield* Ledger.ensureTenant(TenantId.make("n"), Microcents.make(1n))
        yield* Ledger.ensureTenant(t, Microcents.make(100n))
        const held = yield* Ledger.reserve(t, Microcents.make(100n))
        if (held._tag !== "Reserved") return assert.fail("expected a hold")
        // reservation ids are issued in order: the next one is held.reservation_id + 1
        const next = ReservationId.make(held.reservation_id + 1n)
        const overrun = yield* Ledger.commit(held.reservation_id, Microcents.make(150n), { operationId: "commit" })
        assert.deepStrictEqual(overrun, { _tag: "Overrun", remaining_microcents: 0n })
        const early = yield* Ledger.commit(next, Microcents.make(1n), { operationId: "commit-next" })
        assert.deepStrictEqual(early, { _tag: "MissingReservation" })
        const earlyRelease = yield* Ledger.release(next, { operationId: "release-next" })
        assert.deepStrictEqual(earlyRelease, { _tag: "MissingReservation" })
        // now each would apply: funds for the overrun, the reservation `next` is open
        yield* Ledger.topUp(t, Microcents.make(1_000n))
        const later = yield* Ledger.reserve(t, Microcents.make(10n))
        if (later._tag !== "Reserved") return assert.fail("expected a hold")
        assert.strictEqual(later.reservation_id, next)
        const before = yield* Ledger.balances
        assert.deepStrictEqual(
          yield* Ledger.topUp(TenantId.make("n"), Microcents.make(5n), { operationId: "top" }),
          nobody
        )
        assert.deepStrictEqual(
          yield* Ledger.commit(held.reservation_id, Microcents.make(150n), { operationId: "commit" }),
          overrun
        )
        assert.deepStrictEqual(yield* Ledger.commit(next, Microcents.make(1n), { operationId: "commit-next" }), early)
        assert.deepStrictEqual(yield* Ledger.release(next, { operationId: "release-next" }), earlyRelease)
        assert.deepStrictEqual(yield* Ledger.balances, before, "a retried refusal changes nothing")
        assert.strictEqual(yield* Ledger.activeReservations, 2, "both holds are still open")
        const conflict = yield* Effect.flip(Ledger.commit(next, Microcents.make(2n), { operationId: "commit-next" }))
        assert.strictEqual(conflict._tag, "IdempotencyConflict")
        assert.isTrue(yield* Ledger.remembers("release-next"))
      })))

    it.effect("admit: a HoldFailed retried under its id is the original HoldFailed after funds arrive, holding nothing", () =>
      run(Effect.gen(function*() {
        const gw = TenantId.make("gw")
        yield* Ledger.ensureTenant(gw, Microcents.make(10n))
        const options = { operationId: "adm", metadata: "m" }
        const failed = yield* Ledger.admit(policy, gw, input(1), options)
        if (failed._tag !== "HoldFailed") return assert.fail(`expected HoldFailed, got ${failed._tag}`)
        assert.strictEqual(failed.hold._tag, "Insufficient")
        yield* Ledger.topUp(gw, Microcents.make(10_000_000n))
        const before = yield* Ledger.balances
        assert.deepStrictEqual(yield* Ledger.admit(policy, gw, input(1), options), failed)
        assert.deepStrictEqual(yield* Ledger.balances, before)
        assert.strictEqual(yield* Ledger.activeReservations, 0)
        const conflict = yield* Effect.flip(Ledger.admit(policy, gw, input(2), options))
        assert.strictEqual(conflict._tag, "IdempotencyConflict")
        // a reserve under the admit's id is another operation
        const reserve = yield* Effect.flip(Ledger.reserve(gw, Microcents.make(1n), { operationId: "adm" }))
        assert.strictEqual(reserve._tag, "IdempotencyConflict")
      })))

    it.effect.prop(
      "any sequence with retries of earlier operations under their ids: every retry returns the first result, and the state is the state without the retries",
      {
        ops: fc.array(retryOpArb, { minLength: 1, maxLength: 25 }),
        retries: fc.array(fc.record({ at: fc.nat(), of: fc.nat() }), { maxLength: 20 })
      },
      ({ ops, retries }) =>
        Effect.gen(function*() {
          const state = Effect.all({
            balances: Ledger.balances,
            holds: Ledger.holds(),
            caps: Ledger.exposureCaps,
            remembers: Effect.forEach(ops, (_, i) => Ledger.remembers(`op-${i}`))
          })
          // without retries: each operation's result, and the state
          const plain = yield* run(Effect.gen(function*() {
            yield* seedRetryTenants
            const results: Array<unknown> = []
            for (const [i, o] of ops.entries()) results.push(yield* runRetryOp(o, i))
            return { results, state: yield* state }
          }))
          // with retries of earlier operations (same id, same arguments) after some of them
          const retried = yield* run(Effect.gen(function*() {
            yield* seedRetryTenants
            const results: Array<unknown> = []
            for (const [i, o] of ops.entries()) {
              results.push(yield* runRetryOp(o, i))
              for (const r of retries) {
                if (r.at % ops.length !== i) continue
                const j = r.of % (i + 1)
                const target = ops[j] as RetryOp
                if (target.op === "ensure" || target.op === "cap") continue // no operation id
                assert.deepStrictEqual(yield* runRetryOp(target, j), results[j], `retry of op-${j} after op-${i}`)
              }
            }
            return { results, state: yield* state }
          }))
          assert.deepStrictEqual(retried.results, plain.results, "the first results are those without retries")
          assert.deepStrictEqual(retried.state, plain.state, "the state is the state without the retries")
        }),
      { fastCheck: { numRuns } }
    )

    it.effect.prop(
      "after any sequence of commands (holds due included), every query agrees with the balances and with the next snapshot",
      { ops: fc.array(queryOpArb, { maxLength: 30, size: "+1" }), wait: fc.integer({ min: 0, max: 4_000 }) },
      ({ ops, wait }) =>
        run(Effect.gen(function*() {
          const model = { open: [] as Array<bigint>, caps: new Map<string, bigint>(), remembered: new Set<string>() }
          // two tenants with funds from the start (the others appear when an operation ensures them)
          yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(10_000n))
          yield* Ledger.ensureTenant(TenantId.make("\u{1F600}"), Microcents.make(10_000n))
          for (const o of ops) {
            yield* runQueryOp(o, model)
            // right after the Clock moved (no command since): the holds due are released only in answers
            if (o.op === "wait") yield* checkQueries(model)
          }
          yield* runQueryOp({ op: "wait", ms: wait }, model)
          yield* checkQueries(model)
        })),
      { fastCheck: { numRuns } }
    )
  })
