import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import * as Arb from "@calybris/testing/Arbitraries"
import * as Fixtures from "@calybris/testing/Fixtures"
import * as GateArb from "@calybris/testing/GateArbitraries"
import { typed } from "@calybris/testing/Typed"
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

describe("Typed", () => {
  it("types a value its schema validates, and throws the schema's error for one out of range", () => {
    const m = typed(Model)({ ...Fixtures.model(), quality_bps: 9000 })
    assert.strictEqual(m.quality_bps, 9000)
    assert.throws(() => typed(Model)({ ...Fixtures.model(), quality_bps: 70_000 }), /quality_bps/)
    assert.throws(
      () => typed(Input)({ ...Fixtures.input(), request_sequence: Fixtures.U64_MAX + 1n }),
      /request_sequence/
    )
    assert.throws(() => typed(Input)({ ...Fixtures.input(), business_value_microunits: -(1n << 63n) - 1n }))
  })

  it("the typed arbitraries still draw the extremes of each width (u64 max, i64 min and max, 2^53, u32 max)", () => {
    const I64_MIN = -(1n << 63n)
    const I64_MAX = (1n << 63n) - 1n
    const inputs = fc.sample(Arb.input([1, 2]), { numRuns: 3000, seed: 13 })
    const sequences = new Set<bigint>(inputs.map((i) => i.request_sequence))
    for (const edge of [0n, 2n ** 53n, Fixtures.U64_MAX]) assert.isTrue(sequences.has(edge), `u64 ${edge}`)
    const values = new Set<bigint>(inputs.map((i) => i.business_value_microunits))
    for (const edge of [I64_MIN, I64_MAX, -1n]) assert.isTrue(values.has(edge), `i64 ${edge}`)
    assert.isTrue(inputs.some((i) => i.input_tokens === 0xffff_ffff))
    const decisions = fc.sample(Arb.decision, { numRuns: 3000, seed: 13 })
    assert.isTrue(decisions.some((d) => d.expected_utility_microunits === I64_MIN))
    assert.isTrue(decisions.some((d) => d.estimated_cost_microunits === Fixtures.U64_MAX))
    const gates = fc.sample(GateArb.policyAndInput, { numRuns: 3000, seed: 13 })
    assert.isTrue(gates.some(([, i]) => i.business_value_microunits === I64_MIN))
    assert.isTrue(
      gates.some(([p]) => p.models.some((m) => m.input_cost_microunits_per_million_tokens === Fixtures.U64_MAX))
    )
  })
})
