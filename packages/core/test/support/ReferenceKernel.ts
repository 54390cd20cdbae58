/**
 * A deliberately slow, obviously-correct kernel, written straight from SPEC §2.3 with
 * bigint arithmetic everywhere and no precomputation. The optimised kernel must agree with
 * it on every input and catalog.
 */
import type { Decision, Reason, Rejections } from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import type { Model } from "@calybris/core/Model"
import type { PolicySnapshot } from "@calybris/core/Policy"

const ALL = (1n << 64n) - 1n
const I64_MAX = (1n << 63n) - 1n
const I64_MIN = -(1n << 63n)
const U64_MAX = (1n << 64n) - 1n

type Gate = keyof Rejections

const gateOf = (m: Model, input: Input, value: bigint, riskPenalty: bigint, latencyPenaltyPerMs: bigint):
  | { failed: Gate }
  | { cost: bigint; utility: bigint } =>
{
  if (m.enabled === 0) return { failed: "disabled" }
  if (m.quality_bps < input.minimum_quality_bps) return { failed: "quality" }
  if (input.max_p95_latency_ms > 0 && m.p95_latency_ms > input.max_p95_latency_ms) return { failed: "latency" }
  if ((m.capabilities & input.required_capabilities) !== input.required_capabilities) return { failed: "capability" }
  if (m.provider_id > 63) return { failed: "provider" }
  if (input.allowed_provider_mask !== ALL && ((input.allowed_provider_mask >> BigInt(m.provider_id)) & 1n) === 0n) {
    return { failed: "provider" }
  }
  if (input.required_region_mask !== 0n && (m.region_mask & input.required_region_mask) === 0n) {
    return { failed: "region" }
  }
  if (input.risk_bps > m.risk_ceiling_bps) return { failed: "risk_ceiling" }
  const inPart = (BigInt(input.input_tokens) * m.input_cost_microunits_per_million_tokens + 999_999n) / 1_000_000n
  const outPart = (BigInt(input.output_tokens) * m.output_cost_microunits_per_million_tokens + 999_999n) / 1_000_000n
  const cost = inPart + outPart > U64_MAX ? U64_MAX : inPart + outPart
  if (cost > input.budget_limit_microunits) return { failed: "budget" }
  const qualityAdjusted = value * BigInt(input.confidence_bps) * BigInt(m.quality_bps) / 100_000_000n
  const latencyPenalty = BigInt(m.p95_latency_ms) * latencyPenaltyPerMs
  let utility = qualityAdjusted - riskPenalty - cost - latencyPenalty
  if (utility > I64_MAX) utility = I64_MAX
  if (utility < I64_MIN) utility = I64_MIN
  if (utility <= 0n) return { failed: "utility" }
  return { cost, utility }
}

interface Candidate {
  readonly id: number
  readonly index: number
  readonly quality: number
  readonly cost: bigint
  readonly utility: bigint
}

const better = (a: Candidate, b: Candidate): boolean =>
  a.utility > b.utility ||
  (a.utility === b.utility && a.cost < b.cost) ||
  (a.utility === b.utility && a.cost === b.cost && a.quality > b.quality) ||
  (a.utility === b.utility && a.cost === b.cost && a.quality === b.quality && a.id < b.id)

const zero = (): Rejections =>
  ({
    disabled: 0,
    quality: 0,
    risk_ceiling: 0,
    latency: 0,
    capability: 0,
    provider: 0,
    region: 0,
    budget: 0,
    utility: 0
  }) as Rejections

const dominant = (r: Rejections): Reason => {
  const order: ReadonlyArray<[Gate, Reason]> = [
    ["capability", "CapabilityConstraint"],
    ["region", "RegionConstraint"],
    ["provider", "ProviderConstraint"],
    ["quality", "QualityConstraint"],
    ["risk_ceiling", "RiskCeilingConstraint"],
    ["latency", "LatencyConstraint"],
    ["budget", "BudgetConstraint"],
    ["utility", "NonPositiveUtility"],
    ["disabled", "NoEnabledModel"]
  ]
  let best: Reason = "NoEnabledModel"
  let max = 0
  for (const [gate, reason] of order) {
    if (r[gate] > 0 && r[gate] >= max) {
      max = r[gate]
      best = reason
    }
  }
  return best
}

export interface ReferenceResult {
  readonly decision: Decision
  readonly rejections: Rejections
}

export const referencePrescribe = (policy: PolicySnapshot, input: Input): ReferenceResult => {
  const base = {
    request_sequence: input.request_sequence,
    policy_epoch: policy.policy_epoch,
    catalog_epoch: policy.catalog_epoch
  }
  const reject = (reason: Reason, evaluated: number, rejections: Rejections): ReferenceResult => ({
    decision: {
      ...base,
      action: "Reject",
      reason,
      selected_model_id: 0,
      selected_model_index: 65535,
      estimated_cost_microunits: 0n,
      expected_utility_microunits: 0n,
      counterfactual_model_id: 0,
      counterfactual_utility_microunits: 0n,
      evaluated_models: evaluated,
      eligible_models: 0
    } as Decision,
    rejections
  })
  if (input.risk_bps >= policy.hard_risk_limit_bps) return reject("RiskHardLimit", 0, zero())
  if (input.confidence_bps < policy.minimum_confidence_bps) return reject("ConfidenceHardLimit", 0, zero())
  const value = input.business_value_microunits > 0n ? input.business_value_microunits : 0n
  const riskPenalty = value * BigInt(input.risk_bps) * BigInt(policy.risk_penalty_multiplier_bps) / 100_000_000n
  const counts: Record<Gate, number> = { ...zero() }
  let best: Candidate | undefined
  let second: Candidate | undefined
  let eligible = 0
  policy.models.forEach((m, i) => {
    const r = gateOf(m, input, value, riskPenalty, policy.latency_penalty_microunits_per_ms)
    if ("failed" in r) {
      counts[r.failed] = (counts[r.failed] + 1) & 0xffff // the reference's u16 counter wraps (release build)
      return
    }
    eligible++
    const candidate: Candidate = {
      id: m.model_id,
      index: Math.min(i, 65535),
      quality: m.quality_bps,
      cost: r.cost,
      utility: r.utility
    }
    if (best === undefined || better(candidate, best)) {
      second = best
      best = candidate
    } else if (second === undefined || better(candidate, second)) {
      second = candidate
    }
  })
  const evaluated = Math.min(policy.models.length, 65535)
  const rejections = counts as Rejections
  if (best === undefined) return reject(dominant(rejections), evaluated, rejections)
  const requested = best.id === input.requested_model_id
  return {
    decision: {
      ...base,
      action: requested ? "ExecuteRequested" : "Substitute",
      reason: requested ? "RequestedModelMaximizesUtility" : "AlternativeMaximizesUtility",
      selected_model_id: best.id,
      selected_model_index: best.index,
      estimated_cost_microunits: best.cost,
      expected_utility_microunits: best.utility,
      counterfactual_model_id: second?.id ?? 0,
      counterfactual_utility_microunits: second?.utility ?? 0n,
      evaluated_models: evaluated,
      eligible_models: Math.min(eligible, 65535)
    } as Decision,
    rejections
  }
}

export const referenceUtility = (policy: PolicySnapshot, input: Input, id: number): bigint | undefined => {
  if (input.risk_bps >= policy.hard_risk_limit_bps) return undefined
  if (input.confidence_bps < policy.minimum_confidence_bps) return undefined
  const m = policy.models.find((model) => model.model_id === id)
  if (m === undefined) return undefined
  const value = input.business_value_microunits > 0n ? input.business_value_microunits : 0n
  const riskPenalty = value * BigInt(input.risk_bps) * BigInt(policy.risk_penalty_multiplier_bps) / 100_000_000n
  const r = gateOf(m, input, value, riskPenalty, policy.latency_penalty_microunits_per_ms)
  return "failed" in r ? undefined : r.utility
}
