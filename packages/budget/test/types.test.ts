/**
 * The ledger's API carries its invariants in its types: amounts, tenant ids and reservation ids
 * are brands built by constructors that validate, so swapped or unchecked arguments do not
 * type-check. The `@ts-expect-error` lines are checked by `tsc -b` (this file is in the test
 * project): each one fails the build the day the line it marks starts to type-check.
 */
import * as Arguments from "@calybris/budget/Arguments"
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Ledger from "@calybris/budget/Ledger"
import type * as LedgerQuery from "@calybris/budget/LedgerQuery"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

describe("the ledger API's types", () => {
  it.effect("commit(reservation, actual) type-checks with the reserved id; swapped arguments do not", () =>
    Effect.gen(function*() {
      const tenant = TenantId.make("t")
      yield* Ledger.ensureTenant(tenant, Microcents.make(1_000n))
      const reserved = yield* Ledger.reserve(tenant, Microcents.make(300n))
      if (reserved._tag !== "Reserved") return assert.fail("expected a hold")
      expectTypeOf(reserved.reservation_id).toEqualTypeOf<ReservationId>()
      // so is an open hold's, as the queries list it
      expectTypeOf<LedgerQuery.OpenHold["reservation_id"]>().toEqualTypeOf<ReservationId>()
      // and its amount is `Microcents`: a hold listed by the queries is committed in full without a
      // cast (it was an `Int.I64`, which commit does not take: a hostile review)
      expectTypeOf<LedgerQuery.OpenHold["amount_microcents"]>().toEqualTypeOf<Microcents>()
      expectTypeOf<LedgerQuery.ExposureCap["max_reserved_microcents"]>().toEqualTypeOf<Microcents>()
      const second = yield* Ledger.reserve(tenant, Microcents.make(100n))
      const [hold] = (yield* Ledger.holds()).filter((h) =>
        second._tag === "Reserved" && h.reservation_id === second.reservation_id
      )
      if (hold === undefined) return assert.fail("expected the second hold listed")
      assert.strictEqual((yield* Ledger.commit(hold.reservation_id, hold.amount_microcents))._tag, "Committed")
      const actual = Microcents.make(250n)
      const committed = yield* Ledger.commit(reserved.reservation_id, actual)
      assert.strictEqual(committed._tag, "Committed")
      if (false as boolean) {
        // @ts-expect-error an amount is not a reservation id (nor the other way round)
        yield* Ledger.commit(actual, reserved.reservation_id)
        // @ts-expect-error a plain bigint is neither: it must go through a constructor that validates
        yield* Ledger.commit(1n, actual)
        // @ts-expect-error a plain string is not a tenant id
        yield* Ledger.reserve("t", actual)
        // @ts-expect-error a plain bigint is not an amount
        yield* Ledger.topUp(tenant, 5n)
        // @ts-expect-error a tenant id and an amount swapped
        yield* Ledger.ensureTenant(actual, tenant)
        // @ts-expect-error the command constructors take the same brands
        Command.release(actual)
        // @ts-expect-error a reservation id is not an amount
        Command.reserve(tenant, reserved.reservation_id)
      }
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it("the constructors validate: make throws, the Either variants fail with InvalidArgument naming the field", () => {
    assert.throws(() => Microcents.make(1n << 63n))
    assert.throws(() => ReservationId.make(-1n))
    assert.throws(() => TenantId.make("\uD800"))
    assert.deepStrictEqual(Either.getOrThrow(Arguments.microcents(-5n)), Microcents.make(-5n))
    const over = Arguments.microcents(1n << 63n, "actual")
    assert.isTrue(Either.isLeft(over))
    if (Either.isLeft(over)) {
      assert.strictEqual(over.left._tag, "InvalidArgument")
      assert.strictEqual(over.left.field, "actual")
      assert.strictEqual(over.left.value, "9223372036854775808")
    }
    const tenant = Arguments.tenantId("x".repeat(1_025))
    assert.isTrue(Either.isLeft(tenant) && tenant.left.field === "tenant")
    const id = Arguments.reservationId(1n << 64n)
    assert.isTrue(Either.isLeft(id) && id.left.field === "reservation")
    assert.isTrue(Either.isLeft(Arguments.reservationId("1")), "a string is not a reservation id")
  })

  it("a decision's estimated cost becomes a hold amount through one conversion: none beyond i64", () => {
    const max = (1n << 63n) - 1n
    assert.deepStrictEqual(Arguments.microcentsFromEstimatedCost(max), Option.some(Microcents.make(max)))
    assert.deepStrictEqual(Arguments.microcentsFromEstimatedCost(0n), Option.some(Microcents.make(0n)))
    assert.isTrue(Option.isNone(Arguments.microcentsFromEstimatedCost(max + 1n)))
    expectTypeOf(Arguments.microcentsFromEstimatedCost).returns.toEqualTypeOf<Option.Option<Microcents>>()
  })
})
