import * as Decision from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import * as Arb from "@calybris/testing/Arbitraries"
import { ALL, input, model, snapshot } from "@calybris/testing/Fixtures"
import type { Plain } from "@calybris/testing/Plain"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import { referencePrescribe, referenceUtility } from "./support/ReferenceKernel.js"

const decide = (
  models: ReadonlyArray<Model>,
  i: Partial<Plain<Input>> = {},
  p: Partial<Plain<Policy.PolicySnapshot>> = {}
) => Kernel.prescribeWithTrace(Policy.unsafeMake(snapshot(models, p)), input(i))

/**
 * The reference bench's catalog formula (shared/bench/REFERENCE.md; `bench/fixtures.ts`), with
 * `step` between qualities: model i has provider i%6, quality 3000+step·i, risk ceiling 9500,
 * latency 100+50i, all regions, input cost 10+50i, output cost 40+200i.
 */
const benchModels = (n: number, step: number) =>
  Array.from({ length: n }, (_, i) =>
    model({
      model_id: i,
      provider_id: i % 6,
      quality_bps: 3000 + step * i,
      risk_ceiling_bps: 9500,
      p95_latency_ms: 100 + 50 * i,
      region_mask: ALL,
      input_cost_microunits_per_million_tokens: BigInt(10 + 50 * i),
      output_cost_microunits_per_million_tokens: BigInt(40 + 200 * i)
    }))

/** The reference bench's request s (`make_input(s)`), with its budget. */
const benchInput = (s: number, budget: bigint): Input =>
  input({
    request_sequence: BigInt(s),
    requested_model_id: s % 22,
    input_tokens: 500 + (s % 10000),
    output_tokens: 200 + (s % 5000),
    business_value_microunits: 50000n,
    budget_limit_microunits: budget,
    risk_bps: s % 8000,
    confidence_bps: 6000 + (s % 4000),
    minimum_quality_bps: 3000 + (s % 5000),
    max_p95_latency_ms: 0,
    required_capabilities: 0n,
    allowed_provider_mask: ALL,
    required_region_mask: 0n
  })

describe("Kernel gates", () => {
  it("hard risk limit rejects before scanning", () => {
    const { decision, trace } = decide([model()], { risk_bps: 9600 })
    assert.strictEqual(decision.reason, "RiskHardLimit")
    assert.strictEqual(decision.evaluated_models, 0)
    assert.strictEqual(trace.evaluated_models, 0)
  })
  it("minimum confidence rejects before scanning", () => {
    const { decision } = decide([model()], { confidence_bps: 5499 })
    assert.strictEqual(decision.reason, "ConfidenceHardLimit")
    assert.strictEqual(decision.selected_model_index, 65535)
  })
  it("disabled", () => assert.strictEqual(decide([model({ enabled: 0 })]).decision.reason, "NoEnabledModel"))
  it("any non-zero enabled value enables", () =>
    assert.strictEqual(decide([model({ enabled: 7 })]).decision.action, "ExecuteRequested"))
  it("quality", () =>
    assert.strictEqual(decide([model()], { minimum_quality_bps: 8001 }).decision.reason, "QualityConstraint"))
  it("latency only when capped", () => {
    assert.strictEqual(decide([model()], { max_p95_latency_ms: 99 }).decision.reason, "LatencyConstraint")
    assert.strictEqual(decide([model()], { max_p95_latency_ms: 100 }).decision.action, "ExecuteRequested")
  })
  it("capability", () => {
    assert.strictEqual(
      decide([model({ capabilities: 1n })], { required_capabilities: 3n }).decision.reason,
      "CapabilityConstraint"
    )
    assert.strictEqual(
      decide([model({ capabilities: 7n << 40n })], { required_capabilities: 3n << 40n }).decision.action,
      "ExecuteRequested"
    )
  })
  it("provider above 63 is filtered even with the all-ones mask", () => {
    const { decision, trace } = decide([model({ provider_id: 64 })])
    assert.strictEqual(decision.reason, "ProviderConstraint")
    assert.strictEqual(trace.rejections.provider, 1)
  })
  it("provider mask bits, low and high", () => {
    assert.strictEqual(
      decide([model({ provider_id: 40 })], { allowed_provider_mask: 1n << 40n }).decision.action,
      "ExecuteRequested"
    )
    assert.strictEqual(
      decide([model({ provider_id: 40 })], { allowed_provider_mask: 1n << 8n }).decision.reason,
      "ProviderConstraint"
    )
    assert.strictEqual(
      decide([model({ provider_id: 31 })], { allowed_provider_mask: 1n << 31n }).decision.action,
      "ExecuteRequested"
    )
  })
  it("region", () => {
    assert.strictEqual(
      decide([model({ region_mask: 2n })], { required_region_mask: 1n }).decision.reason,
      "RegionConstraint"
    )
    assert.strictEqual(
      decide([model({ region_mask: 3n })], { required_region_mask: 1n }).decision.action,
      "ExecuteRequested"
    )
  })
  it("risk ceiling", () =>
    assert.strictEqual(decide([model({ risk_ceiling_bps: 999 })]).decision.reason, "RiskCeilingConstraint"))
  it("budget: each part rounds up separately", () => {
    // 1 token at 1 microunit per million rounds up to 1, twice
    const d =
      decide([model({ input_cost_microunits_per_million_tokens: 1n, output_cost_microunits_per_million_tokens: 1n })], {
        input_tokens: 1,
        output_tokens: 1
      }).decision
    assert.strictEqual(d.estimated_cost_microunits, 2n)
    assert.strictEqual(decide([model()], { budget_limit_microunits: 2999n }).decision.reason, "BudgetConstraint")
    assert.strictEqual(decide([model()], { budget_limit_microunits: 3000n }).decision.action, "ExecuteRequested")
  })
  it("cost saturates at u64 max", () => {
    const m = model({ input_cost_microunits_per_million_tokens: ALL, output_cost_microunits_per_million_tokens: ALL })
    const d = decide([m], {
      input_tokens: 0xffff_ffff,
      output_tokens: 0xffff_ffff,
      budget_limit_microunits: ALL,
      business_value_microunits: (1n << 63n) - 1n
    }).decision
    assert.strictEqual(d.reason, "NonPositiveUtility")
  })
  it("non-positive utility, and a negative value counts as zero", () => {
    assert.strictEqual(
      decide([model()], { business_value_microunits: -(1n << 63n) }).decision.reason,
      "NonPositiveUtility"
    )
  })
  it("utility clamps at i64 max", () => {
    const m = model({
      quality_bps: 65535,
      p95_latency_ms: 0,
      input_cost_microunits_per_million_tokens: 0n,
      output_cost_microunits_per_million_tokens: 0n
    })
    const d = decide([m], { business_value_microunits: (1n << 63n) - 1n, confidence_bps: 65535, risk_bps: 0 }, {
      hard_risk_limit_bps: 10_000,
      minimum_confidence_bps: 0
    }).decision
    assert.strictEqual(d.expected_utility_microunits, (1n << 63n) - 1n)
  })
  it("huge latency penalty goes negative without wrapping", () => {
    const d = decide([model({ p95_latency_ms: 0xffff_ffff })], {}, { latency_penalty_microunits_per_ms: ALL }).decision
    assert.strictEqual(d.reason, "NonPositiveUtility")
  })
})

describe("Kernel ranking", () => {
  it("higher utility wins, and the runner-up is the counterfactual", () => {
    const d = decide([model({ model_id: 1, quality_bps: 7000 }), model({ model_id: 2, quality_bps: 9000 })]).decision
    assert.strictEqual(d.action, "Substitute")
    assert.strictEqual(d.reason, "AlternativeMaximizesUtility")
    assert.strictEqual(d.selected_model_id, 2)
    assert.strictEqual(d.selected_model_index, 1)
    assert.strictEqual(d.counterfactual_model_id, 1)
    assert.strictEqual(d.eligible_models, 2)
  })
  it("equal utility: lower cost wins", () => {
    // same utility needs cost + latency penalty equal: trade latency for cost
    const a = model({ model_id: 1, p95_latency_ms: 100, input_cost_microunits_per_million_tokens: 1_000_000n })
    const b = model({ model_id: 2, p95_latency_ms: 0, input_cost_microunits_per_million_tokens: 1_100_000n })
    const d = decide([a, b], { requested_model_id: 9 }).decision
    assert.strictEqual(d.expected_utility_microunits, d.counterfactual_utility_microunits)
    assert.strictEqual(d.selected_model_id, 1)
  })
  it("equal utility and cost: lower id wins when quality ties", () => {
    const d = decide([model({ model_id: 5 }), model({ model_id: 3 })], { requested_model_id: 5 }).decision
    assert.strictEqual(d.selected_model_id, 3)
    assert.strictEqual(d.counterfactual_model_id, 5)
  })
  it("the index saturates and duplicate ids are each considered", () => {
    const d = decide([model({ model_id: 4 }), model({ model_id: 4 })], { requested_model_id: 4 }).decision
    assert.strictEqual(d.action, "ExecuteRequested")
    assert.strictEqual(d.selected_model_index, 0)
    assert.strictEqual(d.eligible_models, 2)
  })
})

describe("Kernel dominant reason", () => {
  it("ties go to the later gate in the list", () => {
    // one capability failure, one region failure: region is later in the list
    const d = decide([
      model({ model_id: 1, capabilities: 0n }),
      model({ model_id: 2, capabilities: 1n, region_mask: 2n })
    ], {
      required_capabilities: 1n,
      required_region_mask: 1n
    })
    assert.strictEqual(d.decision.reason, "RegionConstraint")
    assert.strictEqual(d.trace.rejections.capability, 1)
    assert.strictEqual(d.trace.rejections.region, 1)
  })
  it("the trace of a rejection carries the real counts (SPEC §8)", () => {
    const d = decide([
      model({ enabled: 0 }),
      model({ model_id: 2, quality_bps: 1 }),
      model({ model_id: 3, quality_bps: 2 })
    ], {
      minimum_quality_bps: 5000
    })
    assert.strictEqual(d.decision.reason, "QualityConstraint")
    assert.strictEqual(d.trace.rejections.quality, 2)
    assert.strictEqual(d.trace.rejections.disabled, 1)
    assert.strictEqual(Decision.dominantReason(d.trace.rejections), d.decision.reason)
  })
  it("an empty catalog rejects with NoEnabledModel", () => {
    const d = decide([])
    assert.strictEqual(d.decision.reason, "NoEnabledModel")
    assert.strictEqual(d.decision.evaluated_models, 0)
  })
})

/**
 * Asserts that the optimised kernel decides as the reference kernel (decision, and the trace's
 * counts wherever the scan ran); returns the compiled policy.
 */
const matchesReference = (p: Policy.PolicySnapshot, i: Input): Policy.Policy => {
  const policy = Policy.unsafeMake(p)
  const expected = referencePrescribe(p, i)
  const actual = Kernel.prescribeWithTrace(policy, i)
  assert.deepStrictEqual(actual.decision, expected.decision)
  assert.deepStrictEqual(Kernel.prescribe(policy, i), expected.decision)
  if (expected.decision.evaluated_models > 0 || expected.decision.action !== "Reject") {
    assert.deepStrictEqual(actual.trace.rejections, expected.rejections)
  }
  return policy
}

describe("Kernel properties", () => {
  it("optimised kernel ≡ reference kernel (decision, trace, utilities)", () => {
    fc.assert(
      fc.property(Arb.policyAndInput, ([p, i]) => {
        const policy = matchesReference(p, i)
        for (const m of p.models) {
          assert.strictEqual(
            Option.getOrUndefined(Kernel.utilityForModel(policy, i, m.model_id)),
            referenceUtility(p, i, m.model_id)
          )
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 1000 }
    )
  })
  it("optimised kernel ≡ reference kernel on close calls (ties, repeated models, pruning near the bound)", () => {
    fc.assert(
      fc.property(Arb.closeCall, ([p, i]) => {
        matchesReference(p, i)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })
  it("behind two stronger models, a utility of 1 or 2 still counts as eligible (the pruning bound's edge)", () => {
    // value·conf = 10^8, so the quality-adjusted value equals the quality; with 1 input token
    // the cost is price / 10^6 exactly: utilities 9000 − 1, 7000 − 1, then 5000 − 4998 = 2, 5000 − 4999 = 1
    const p = snapshot(
      [
        [1, 5000, 4_998_000_000n],
        [2, 9000, 1_000_000n],
        [3, 5000, 4_999_000_000n],
        [4, 7000, 1_000_000n],
        [5, 5000, 5_000_000_000n]
      ].map(([id, quality, price]) =>
        model({
          model_id: Number(id),
          quality_bps: Number(quality),
          input_cost_microunits_per_million_tokens: BigInt(price as bigint),
          p95_latency_ms: 0,
          output_cost_microunits_per_million_tokens: 0n
        })
      ),
      { risk_penalty_multiplier_bps: 0 }
    )
    const i = {
      ...input(),
      input_tokens: 1,
      output_tokens: 0,
      business_value_microunits: 10_000n,
      confidence_bps: 10_000,
      minimum_quality_bps: 0,
      budget_limit_microunits: 10_000_000_000n
    } as Input
    const { decision, trace } = Kernel.prescribeWithTrace(Policy.unsafeMake(p), i)
    assert.strictEqual(decision.selected_model_id, 2)
    assert.strictEqual(decision.counterfactual_model_id, 4)
    assert.strictEqual(decision.eligible_models, 4)
    assert.strictEqual(trace.rejections.utility, 1)
    assert.deepStrictEqual(decision, referencePrescribe(p, i).decision)
  })
  it("the bench catalog, scanned in quality order with pruning, decides as the reference kernel", () => {
    const models = benchModels(40, 150)
    // shuffled, so catalog order differs from quality order
    const p = snapshot([...models.slice(17), ...models.slice(0, 17).reverse()])
    const policy = Policy.unsafeMake(p)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (s) => {
        const i = benchInput(s, s % 7 === 0 ? BigInt(s % 40) : 10_000_000n)
        assert.deepStrictEqual(Kernel.prescribeWithTrace(policy, i).decision, referencePrescribe(p, i).decision)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })
  it("deterministic: the same request twice gives the same decision", () => {
    fc.assert(
      fc.property(Arb.policyAndInput, fc.array(Arb.input(), { maxLength: 3 }), ([p, i], noise) => {
        const policy = Policy.unsafeMake(p)
        const first = Kernel.prescribe(policy, i)
        for (const other of noise) Kernel.prescribe(policy, other)
        assert.deepStrictEqual(Kernel.prescribe(policy, i), first)
      })
    )
  })
  it("a rejection's dominant reason equals its reason", () => {
    fc.assert(
      fc.property(Arb.policyAndInput, ([p, i]) => {
        const { decision, trace } = Kernel.prescribeWithTrace(Policy.unsafeMake(p), i)
        if (decision.action === "Reject" && decision.evaluated_models > 0) {
          assert.strictEqual(Decision.dominantReason(trace.rejections), decision.reason)
        }
        if (decision.action !== "Reject") {
          const r = trace.rejections
          const sum = r.disabled + r.quality + r.risk_ceiling + r.latency + r.capability + r.provider + r.region +
            r.budget +
            r.utility
          assert.strictEqual(sum + trace.eligible_models, trace.evaluated_models)
        }
      })
    )
  })
  it("prescribeBatch maps prescribe", () => {
    fc.assert(
      fc.property(Arb.policy, fc.array(Arb.input(), { maxLength: 5 }), (p, inputs) => {
        const policy = Policy.unsafeMake(p)
        assert.deepStrictEqual(Kernel.prescribeBatch(policy, inputs), inputs.map((i) => Kernel.prescribe(policy, i)))
      })
    )
  })
})

/**
 * Catalogs whose utilities mostly fall with quality (so whole runs of models share a fate: the scan's
 * suffix shortcut settles them at once) with each static gate near its edge: a few capability,
 * provider and region bits, latencies and risk ceilings close to the request's, a disabled model
 * or a provider above 63 now and then, budgets that bind or not.
 */
const suffixCase = fc.integer({ min: 1, max: 24 }).chain((n) =>
  fc.tuple(
    fc.array(
      fc.record({
        step: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 600 })),
        // mostly small (utility falls with quality), sometimes large (a later model can overtake)
        price: fc.oneof(
          { weight: 3, arbitrary: fc.integer({ min: 0, max: 3000 }) },
          fc.integer({ min: 0, max: 400_000 })
        ),
        latency: fc.integer({ min: 0, max: 40 }),
        provider: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 3 }) }, fc.constantFrom(31, 32, 63, 64)),
        enabled: fc.oneof({ weight: 30, arbitrary: fc.constant(1) }, fc.constant(0)),
        caps: fc.oneof({ weight: 3, arbitrary: fc.constant(3n) }, fc.constantFrom(0n, 1n, 2n, 1n << 40n)),
        regions: fc.oneof({ weight: 3, arbitrary: fc.constant(ALL) }, fc.constantFrom(1n, 2n, 1n << 33n)),
        riskCeiling: fc.integer({ min: 9000, max: 10000 })
      }),
      { minLength: n, maxLength: n }
    ),
    fc.record({
      multiplier: fc.integer({ min: 0, max: 10000 }),
      latencyPenalty: fc.constantFrom(0n, 1n, 7n),
      value: fc.bigInt({ min: 0n, max: 2_000_000n }),
      confidence: fc.integer({ min: 0, max: 10000 }),
      risk: fc.integer({ min: 0, max: 9999 }),
      minQuality: fc.integer({ min: 0, max: 10000 }),
      inTokens: fc.integer({ min: 0, max: 20000 }),
      outTokens: fc.integer({ min: 0, max: 20000 }),
      budget: fc.oneof({ weight: 4, arbitrary: fc.constant(10n ** 12n) }, fc.bigInt({ min: 0n, max: 200n })),
      maxLatency: fc.constantFrom(0, 0, 10, 30, 40),
      caps: fc.constantFrom(0n, 0n, 1n, 3n, 1n << 40n),
      providers: fc.constantFrom(ALL, ALL, 0xfn, 0x7n, (1n << 31n) | (1n << 32n) | 0xfn),
      regions: fc.constantFrom(0n, 0n, 1n, 2n, 1n << 33n),
      shuffle: fc.integer({ min: 0, max: 23 })
    })
  )
).map(([rows, r]) => {
  let quality = 10000
  const models = rows.map((row, i) => {
    quality = Math.max(0, quality - row.step)
    return model({
      model_id: i,
      provider_id: row.provider,
      quality_bps: quality,
      risk_ceiling_bps: row.riskCeiling,
      enabled: row.enabled,
      p95_latency_ms: row.latency,
      capabilities: row.caps,
      region_mask: row.regions,
      // cheaper as quality falls, as in the bench catalog
      input_cost_microunits_per_million_tokens: BigInt(row.price + 10 * (rows.length - i)),
      output_cost_microunits_per_million_tokens: BigInt(2 * row.price + 40 * (rows.length - i))
    })
  })
  const k = r.shuffle % models.length
  const p = snapshot([...models.slice(k), ...models.slice(0, k)], {
    hard_risk_limit_bps: 10000,
    minimum_confidence_bps: 0,
    risk_penalty_multiplier_bps: r.multiplier,
    latency_penalty_microunits_per_ms: r.latencyPenalty
  })
  const i = input({
    business_value_microunits: r.value,
    confidence_bps: r.confidence,
    risk_bps: r.risk,
    minimum_quality_bps: r.minQuality,
    input_tokens: r.inTokens,
    output_tokens: r.outTokens,
    budget_limit_microunits: r.budget,
    max_p95_latency_ms: r.maxLatency,
    required_capabilities: r.caps,
    allowed_provider_mask: r.providers,
    required_region_mask: r.regions
  })
  return [p, i] as const
})

describe("Kernel suffix shortcut", () => {
  it("optimised kernel ≡ reference kernel where runs of models share a fate (decision and trace)", () => {
    fc.assert(
      fc.property(suffixCase, ([p, i]) => {
        matchesReference(p, i)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 1500 }
    )
  })
  it("the bench catalog's requests decide and trace as the reference kernel", () => {
    const models = benchModels(22, 300)
    const p = snapshot(models, {
      hard_risk_limit_bps: 9600,
      minimum_confidence_bps: 5500,
      risk_penalty_multiplier_bps: 3500,
      latency_penalty_microunits_per_ms: 0n
    })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (s) => {
        matchesReference(p, benchInput(s, 10_000_000n))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })
})
