import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import * as Policy from "@calybris/core/Policy"
import * as Arb from "@calybris/testing/Arbitraries"
import * as Fixtures from "@calybris/testing/Fixtures"
import * as GateArb from "@calybris/testing/GateArbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"

describe("Fixtures", () => {
  it("are wire values: the snapshots and inputs satisfy their schemas, the policies are valid", () => {
    for (const epoch of [1n, 2n, 3n]) {
      const policy = Fixtures.ledgerPolicy(epoch)
      assert.isTrue(Schema.is(Policy.PolicySnapshot)(policy.snapshot))
      assert.strictEqual(policy.snapshot.policy_epoch, epoch)
      assert.isTrue(Either.isRight(Policy.make(policy.snapshot)))
    }
    assert.isTrue(Either.isRight(Policy.make(Fixtures.snapshot([Fixtures.model()]))))
    assert.isTrue(Schema.is(Input)(Fixtures.input()))
    assert.isTrue(Schema.is(Input)(Fixtures.ledgerInput({ request_sequence: Fixtures.U64_MAX, input_tokens: 7 })))
    assert.strictEqual(Fixtures.ledgerInput().requested_model_id, 2)
  })

  it("ledger policies differ only in the epoch", () => {
    const { policy_epoch: _a, ...one } = Fixtures.ledgerPolicy(1n).snapshot
    const { policy_epoch: _b, ...three } = Fixtures.ledgerPolicy(3n).snapshot
    assert.deepStrictEqual(one, three)
  })
})

describe("Arbitraries", () => {
  it.prop(
    "decisions, inputs and policies satisfy the wire schemas",
    [Arb.decision, Arb.policyAndInput],
    ([d, [p, i]]) => {
      assert.isTrue(Schema.is(Decision.Decision)(d))
      assert.isTrue(Schema.is(Input)(i))
      assert.isTrue(Schema.is(Policy.PolicySnapshot)(p))
    }
  )

  it.prop(
    "gate arbitraries satisfy the wire schemas and have distinct model ids",
    [GateArb.policyAndInput],
    ([[p, i]]) => {
      assert.isTrue(Schema.is(Input)(i))
      assert.isTrue(Schema.is(Policy.PolicySnapshot)(p))
      assert.strictEqual(new Set(p.models.map((m) => m.model_id)).size, p.models.length)
    }
  )

  it("decisions draw every action and every reason the schemas name", () => {
    const drawn = fc.sample(Arb.decision, { numRuns: 2000, seed: 13 })
    assert.deepStrictEqual(new Set(drawn.map((d) => d.action)), new Set(Decision.Action.literals))
    assert.deepStrictEqual(new Set(drawn.map((d) => d.reason)), new Set(Decision.Reason.literals))
  })
})
