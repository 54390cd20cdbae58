import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"

// `Ledger.makeMemory(initial)`: the state handed in is checked as recovery checks a journal's
// checkpoint, and copied (a review listed it unchecked: a state no operation could leave was served
// as a ledger, its proofs and certificates over it)

const tenant = fc.constantFrom("a", "b", "é", "\u{1F600}")
const op = fc.oneof(
  fc.record({ op: fc.constant("ensure" as const), t: tenant, a: fc.bigInt(0n, 1_000_000n) }),
  fc.record({ op: fc.constant("topUp" as const), t: tenant, a: fc.bigInt(1n, 1_000n) }),
  fc.record({ op: fc.constant("reserve" as const), t: tenant, a: fc.bigInt(1n, 5_000n) }),
  fc.record({ op: fc.constant("cap" as const), t: tenant, a: fc.bigInt(1n, 10_000n) }),
  fc.record({ op: fc.constant("commit" as const), r: fc.bigInt(1n, 20n), a: fc.bigInt(0n, 6_000n) }),
  fc.record({ op: fc.constant("release" as const), r: fc.bigInt(1n, 20n) })
)
type Op = typeof op extends fc.Arbitrary<infer A> ? A : never

const build = (ops: ReadonlyArray<Op>): L.LedgerState => {
  const s = new L.LedgerState()
  for (const o of ops) {
    switch (o.op) {
      case "ensure":
        L.ensureTenant(s, o.t, o.a)
        break
      case "topUp":
        L.topUp(s, o.t, o.a)
        break
      case "reserve":
        L.reserve(s, o.t, o.a)
        break
      case "cap":
        L.setExposureCap(s, o.t, o.a)
        break
      case "commit":
        L.commit(s, o.r, o.a)
        break
      case "release":
        L.release(s, o.r)
    }
  }
  return s
}

const refusal = (initial: L.LedgerState) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Ledger.makeMemory(initial))
    assert.isTrue(Exit.isFailure(exit), "an impossible state was accepted")
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      assert.strictEqual(exit.cause.error._tag, "InvalidArgument")
      assert.strictEqual(exit.cause.error.field, "initial")
      return exit.cause.error.reason
    }
    return assert.fail(`not a typed failure: ${String(exit)}`)
  })

describe("Ledger.makeMemory(initial)", () => {
  it.effect("any state the operations leave is taken, as it is, and copied", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
          const state = build(ops)
          const expected = Snapshot.ledgerDigest(L.balances(state, 0n))
          const ledger = Effect.runSync(Ledger.makeMemory(state))
          const digest = Effect.runSync(Effect.provideService(Ledger.ledgerDigest, Ledger.Ledger, ledger))
          assert.strictEqual(digest, expected)
          // changing the caller's object afterwards does not change the ledger
          L.ensureTenant(state, "later", 5n)
          L.reserve(state, "a", 1n)
          const after = Effect.runSync(Effect.provideService(Ledger.ledgerDigest, Ledger.Ledger, ledger))
          assert.strictEqual(after, expected)
        }),
        { numRuns: fc.readConfigureGlobal().numRuns ?? 200 }
      )
    ))

  it.effect("a state no operation could leave is an InvalidArgument naming what is wrong", () =>
    Effect.gen(function*() {
      const fresh = () => {
        const s = new L.LedgerState()
        L.ensureTenant(s, "t", 100n)
        L.reserve(s, "t", 30n)
        return s
      }
      const put = (b: Partial<L.TenantState>) => {
        const s = fresh()
        L.putTenant(s, "t", { initial: 100n, remaining: 70n, reserved: 30n, committed: 0n, ...b })
        return s
      }
      // as the operations left it: taken
      yield* Ledger.makeMemory(put({}))
      // reserved that is not the sum of the open holds
      assert.include(yield* refusal(put({ reserved: 31n, remaining: 69n })), "reserved")
      // a negative balance
      yield* refusal(put({ remaining: -1n, committed: 71n }))
      // money from nowhere (remaining + reserved + committed is not the initial figure)
      yield* refusal(put({ remaining: 1_000n }))
      // a figure past i64
      yield* refusal(put({ initial: 2n ** 70n, remaining: 2n ** 70n - 30n }))
      // the next reservation id would reuse an open hold's
      const reused = fresh()
      reused.nextReservation = 1n
      yield* refusal(reused)
      // not a ledger state at all
      yield* refusal({ tenants: 5 } as unknown as L.LedgerState)
      // the original is served as given
      const ledger = yield* Ledger.makeMemory(fresh())
      assert.deepStrictEqual(
        yield* Effect.provideService(Ledger.reserved("t"), Ledger.Ledger, ledger),
        Option.some(30n)
      )
    }))
})
