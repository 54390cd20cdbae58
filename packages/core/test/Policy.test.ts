import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import * as Fixtures from "@calybris/testing/Fixtures"
import type { Plain } from "@calybris/testing/Plain"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"

const model = (over: Partial<Plain<Model>> = {}): Model =>
  Fixtures.model({
    region_mask: 0n,
    input_cost_microunits_per_million_tokens: 1n,
    output_cost_microunits_per_million_tokens: 1n,
    ...over
  })

const snapshot = (over: Partial<Plain<Policy.PolicySnapshot>> = {}) =>
  ({
    policy_epoch: 1n,
    catalog_epoch: 1n,
    hard_risk_limit_bps: 9600,
    minimum_confidence_bps: 5500,
    risk_penalty_multiplier_bps: 3500,
    latency_penalty_microunits_per_ms: 0n,
    models: [model()],
    ...over
  }) as Policy.PolicySnapshot

const failure = (s: Policy.PolicySnapshot) => {
  const r = Policy.make(s)
  assert.isTrue(Either.isLeft(r))
  return Either.isLeft(r) ? r.left : undefined
}

describe("Policy.make", () => {
  it("accepts a valid policy", () => assert.isTrue(Either.isRight(Policy.make(snapshot()))))
  it("checks in the reference's order, with its messages", () => {
    const e1 = failure(snapshot({ hard_risk_limit_bps: 10_001, minimum_confidence_bps: 10_001, models: [] }))
    assert.strictEqual(e1?._tag, "OutOfRangeBps")
    assert.strictEqual(e1?.message, "hard_risk_limit_bps must be <= 10000, got 10001")
    assert.strictEqual(
      failure(snapshot({ minimum_confidence_bps: 10_001, models: [] }))?.message,
      "minimum_confidence_bps must be <= 10000, got 10001"
    )
    assert.strictEqual(
      failure(snapshot({ risk_penalty_multiplier_bps: 50_001 }))?.message,
      "risk_penalty_multiplier_bps must be <= 50000, got 50001"
    )
    assert.strictEqual(failure(snapshot({ models: [] }))?.message, "model catalog is empty")
    const dup = failure(snapshot({ models: [model({ model_id: 6 }), model({ model_id: 6, provider_id: 99 })] }))
    assert.strictEqual(dup?._tag, "DuplicateModelId")
    assert.strictEqual(dup?.message, "duplicate model_id 6")
    assert.strictEqual(
      failure(snapshot({ models: [model({ model_id: 9, provider_id: 64 })] }))?.message,
      "model_id 9 has provider_id 64 > MAX_PROVIDER_ID"
    )
    assert.strictEqual(
      failure(snapshot({ models: [model({ quality_bps: 65535, risk_ceiling_bps: 10_001 })] }))?.message,
      "model.quality_bps must be <= 10000, got 65535"
    )
    assert.strictEqual(
      failure(snapshot({ models: [model({ risk_ceiling_bps: 10_001 })] }))?.message,
      "model.risk_ceiling_bps must be <= 10000, got 10001"
    )
    const none = failure(snapshot({ models: [model({ enabled: 0 })] }))
    assert.strictEqual(none?._tag, "NoEnabledModels")
    assert.strictEqual(none?.message, "no enabled models in catalog")
  })
  it("unsafeMake accepts anything", () => {
    const p = Policy.unsafeMake(snapshot({ models: [] }))
    assert.isTrue(Policy.isPolicy(p))
  })
})
