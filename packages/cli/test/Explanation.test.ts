import * as Explain from "@calybris/cli/Explain"
import * as E from "@calybris/core/Explanation"
import type { Input } from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import * as Fixtures from "@calybris/testing/Fixtures"
import * as Arb from "@calybris/testing/GateArbitraries"
import type { Plain } from "@calybris/testing/Plain"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"

const model = (over: Partial<Plain<Model>>): Model =>
  Fixtures.model({ p95_latency_ms: 0, output_cost_microunits_per_million_tokens: 0n, ...over })

const policyOf = (models: ReadonlyArray<Model>, latencyPenalty = 0n): Policy.Policy =>
  Policy.unsafeMake({
    policy_epoch: 1n,
    catalog_epoch: 1n,
    hard_risk_limit_bps: 9000,
    minimum_confidence_bps: 5000,
    risk_penalty_multiplier_bps: 0,
    latency_penalty_microunits_per_ms: latencyPenalty,
    models
  } as unknown as Policy.PolicySnapshot)

const input = (over: Partial<Plain<Input>> = {}): Input =>
  Fixtures.input({
    input_tokens: 1_000_000,
    output_tokens: 0,
    budget_limit_microunits: 50_000_000n,
    risk_bps: 0,
    confidence_bps: 10_000,
    ...over
  })

describe("Explanation", () => {
  it.prop(
    "agrees with Kernel.prescribeWithTrace (counts, eligibility, utilities, winner, runner-up, reason)",
    [Arb.policyAndInput],
    ([[snapshot, i]]) => {
      const policy = Policy.unsafeMake(snapshot)
      const e = E.explain(policy, i)
      assert.deepStrictEqual(E.check(policy, i, e), [])
      const { decision, trace } = Kernel.prescribeWithTrace(policy, i)
      assert.deepStrictEqual(e.counts, trace.rejections)
      if (decision.action !== "Reject") {
        assert.strictEqual(e.winner?.rank, 1)
        assert.strictEqual(e.winner?.model.model_id, decision.selected_model_id)
      }
      if (e.hardLimit === null && snapshot.models.length > 0) {
        const failed = e.rows.filter((r) => r.gate !== null).length
        assert.strictEqual(failed + e.eligible, decision.evaluated_models)
      }
    },
    { fastCheck: { numRuns: fc.readConfigureGlobal().numRuns ?? 500 } }
  )

  it("names the tie-break: utility, then cost, then quality, then the lower id", () => {
    // equal utility (80,000,000 - 1,000,000 = 80,010,000 - 1,010,000): the cheaper one wins
    const byCost = E.explain(
      policyOf([
        model({ model_id: 1, quality_bps: 8000 }),
        model({ model_id: 2, quality_bps: 8001, input_cost_microunits_per_million_tokens: 1_010_000n })
      ]),
      input()
    )
    assert.strictEqual(byCost.tieBreak, "cost")
    assert.strictEqual(byCost.winner?.model.model_id, 1)
    // equal utility and cost (a higher quality paid for with latency): the better quality wins
    const byQuality = E.explain(
      policyOf([
        model({ model_id: 1, quality_bps: 8000 }),
        model({ model_id: 2, quality_bps: 8001, p95_latency_ms: 1 })
      ], 10_000n),
      input()
    )
    assert.strictEqual(byQuality.tieBreak, "quality")
    assert.strictEqual(byQuality.winner?.model.model_id, 2)
    const byId = E.explain(policyOf([model({ model_id: 7 }), model({ model_id: 5 })]), input({ requested_model_id: 7 }))
    assert.strictEqual(byId.tieBreak, "model_id")
    assert.strictEqual(byId.winner?.model.model_id, 5)
    assert.strictEqual(byId.decision.action, "Substitute")
    assert.match(Explain.toText(byId).join("\n"), /lower model id/)
    const byUtility = E.explain(
      policyOf([model({ model_id: 1 }), model({ model_id: 2, quality_bps: 9000 })]),
      input()
    )
    assert.strictEqual(byUtility.tieBreak, "utility")
    const alone = E.explain(policyOf([model({ model_id: 1 }), model({ model_id: 2, enabled: 0 })]), input())
    assert.strictEqual(alone.tieBreak, "only_candidate")
  })

  it("explains a reject by its dominant reason, ties going to the later gate", () => {
    const policy = policyOf([
      model({ model_id: 1, quality_bps: 100 }),
      model({ model_id: 2, input_cost_microunits_per_million_tokens: 900_000_000n })
    ])
    const e = E.explain(policy, input({ minimum_quality_bps: 5000 }))
    assert.strictEqual(e.decision.reason, "BudgetConstraint")
    assert.deepStrictEqual(e.dominant, { reason: "BudgetConstraint", count: 1 })
    assert.strictEqual(e.rows[0]?.gate, "quality")
    assert.strictEqual(e.rows[1]?.gate, "budget")
    const text = Explain.toText(e).join("\n")
    assert.match(text, /dominant reason: 1 of 2 models failed \(quality 1, budget 1\)/)
    assert.match(text, /a tie goes to the later gate/)
  })

  it("past 65,535 models failed at one gate: the decision from the trace's wrapping u16 counts, the text says so with the real totals (a review)", () => {
    const disabled = Array.from({ length: 65_536 }, (_, i) => model({ model_id: i + 1, enabled: 0 }))
    const policy = policyOf([...disabled, model({ model_id: 70_000, quality_bps: 100 })])
    const e = E.explain(policy, input({ minimum_quality_bps: 5000 }))
    assert.strictEqual(e.decision.reason, "QualityConstraint")
    assert.strictEqual(e.counts.disabled, 0)
    assert.strictEqual(e.totals.disabled, 65_536)
    assert.deepStrictEqual(E.check(policy, input({ minimum_quality_bps: 5000 }), e), [])
    const text = Explain.toText(e).join("\n")
    assert.include(text, "dominant reason: 1 of 65537 models failed (disabled 65536, quality 1)")
    assert.include(
      text,
      "the counts are the trace's u16, which wrap at 65,536 as the reference's do: disabled 65,536 counts 0"
    )
  })

  it("explains the hard limits without evaluating any model", () => {
    const e = E.explain(policyOf([model({})]), input({ risk_bps: 9500 }))
    assert.strictEqual(e.hardLimit?.reason, "RiskHardLimit")
    assert.deepStrictEqual(E.check(policyOf([model({})]), input({ risk_bps: 9500 }), e), [])
    assert.match(Explain.toText(e).join("\n"), /risk 9500 bps >= hard limit 9000 bps/)
  })
})
