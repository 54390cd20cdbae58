/**
 * What the kernel decided (SPEC §2.1): the action, why, and the numbers behind it.
 */
import * as Schema from "effect/Schema"
import * as Int from "./Int.js"
import { jsonObject } from "./JsonSchema.js"

/** The action, as its wire name. */
export const Action = Schema.Literal("ExecuteRequested", "Substitute", "Reject")
export type Action = typeof Action.Type

/** Canonical digest code of each action. */
export const actionCode: Readonly<Record<Action, number>> = { ExecuteRequested: 1, Substitute: 2, Reject: 3 }

/** Display text of each action (the reference's `Display`). */
export const actionDisplay: Readonly<Record<Action, string>> = {
  ExecuteRequested: "execute_requested",
  Substitute: "substitute",
  Reject: "reject"
}

/** The reason, as its wire name. */
export const Reason = Schema.Literal(
  "RequestedModelMaximizesUtility",
  "AlternativeMaximizesUtility",
  "RiskHardLimit",
  "ConfidenceHardLimit",
  "NoEnabledModel",
  "QualityConstraint",
  "LatencyConstraint",
  "CapabilityConstraint",
  "ProviderConstraint",
  "RegionConstraint",
  "BudgetConstraint",
  "NonPositiveUtility",
  "RiskCeilingConstraint"
)
export type Reason = typeof Reason.Type

/** Canonical digest code of each reason. */
export const reasonCode: Readonly<Record<Reason, number>> = {
  RequestedModelMaximizesUtility: 1,
  AlternativeMaximizesUtility: 2,
  RiskHardLimit: 100,
  ConfidenceHardLimit: 101,
  NoEnabledModel: 102,
  QualityConstraint: 103,
  LatencyConstraint: 104,
  CapabilityConstraint: 105,
  ProviderConstraint: 106,
  RegionConstraint: 107,
  BudgetConstraint: 108,
  NonPositiveUtility: 109,
  RiskCeilingConstraint: 110
}

/** Display text of a reason: the snake_case of its name. */
export const reasonDisplay = (reason: Reason): string =>
  reason.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase())

/** Wire fields of a decision, in wire order. */
export const fields = {
  request_sequence: Int.U64,
  action: Action,
  reason: Reason,
  selected_model_id: Int.U32,
  selected_model_index: Int.U16,
  estimated_cost_microunits: Int.U64,
  expected_utility_microunits: Int.I64,
  counterfactual_model_id: Int.U32,
  counterfactual_utility_microunits: Int.I64,
  evaluated_models: Int.U16,
  eligible_models: Int.U16,
  policy_epoch: Int.U64,
  catalog_epoch: Int.U64
}

/** A decision as it travels on the wire. */
export const Decision = jsonObject(fields, "KernelDecision")
export type Decision = typeof Decision.Type

/** Field-by-field equality of two decisions. */
export const equals = (a: Decision, b: Decision): boolean =>
  a.request_sequence === b.request_sequence &&
  a.action === b.action &&
  a.reason === b.reason &&
  a.selected_model_id === b.selected_model_id &&
  a.selected_model_index === b.selected_model_index &&
  a.estimated_cost_microunits === b.estimated_cost_microunits &&
  a.expected_utility_microunits === b.expected_utility_microunits &&
  a.counterfactual_model_id === b.counterfactual_model_id &&
  a.counterfactual_utility_microunits === b.counterfactual_utility_microunits &&
  a.evaluated_models === b.evaluated_models &&
  a.eligible_models === b.eligible_models &&
  a.policy_epoch === b.policy_epoch &&
  a.catalog_epoch === b.catalog_epoch

/** Per-gate counts of one catalog scan: the first gate each model failed. */
export const Rejections = jsonObject({
  disabled: Int.U16,
  quality: Int.U16,
  risk_ceiling: Int.U16,
  latency: Int.U16,
  capability: Int.U16,
  provider: Int.U16,
  region: Int.U16,
  budget: Int.U16,
  utility: Int.U16
}, "RejectionHistogram")
export type Rejections = typeof Rejections.Type

/** The trace of a decision: why each model was filtered, and the counts. */
export const Trace = jsonObject({
  rejections: Rejections,
  evaluated_models: Int.U16,
  eligible_models: Int.U16
}, "DecisionTrace")
export type Trace = typeof Trace.Type

/**
 * The dominant reason of a rejection after a catalog scan (SPEC §2.3 step 7): the largest
 * count, scanning capability, region, provider, quality, risk_ceiling, latency, budget,
 * utility, disabled; a tie goes to the later one; all zero gives `NoEnabledModel`.
 */
export const dominantReason = (r: Rejections): Reason =>
  dominantOf(r.disabled, r.quality, r.risk_ceiling, r.latency, r.capability, r.provider, r.region, r.budget, r.utility)

/**
 * `dominantReason` of the nine counts given one by one (the kernel passes its scan's counts
 * without building a record): no allocation, no closure.
 */
export const dominantOf = (
  disabled: number,
  quality: number,
  riskCeiling: number,
  latency: number,
  capability: number,
  provider: number,
  region: number,
  budget: number,
  utility: number
): Reason => {
  let best: Reason = "NoEnabledModel"
  let count = 0
  if (capability > 0) {
    count = capability
    best = "CapabilityConstraint"
  }
  if (region >= count && region > 0) {
    count = region
    best = "RegionConstraint"
  }
  if (provider >= count && provider > 0) {
    count = provider
    best = "ProviderConstraint"
  }
  if (quality >= count && quality > 0) {
    count = quality
    best = "QualityConstraint"
  }
  if (riskCeiling >= count && riskCeiling > 0) {
    count = riskCeiling
    best = "RiskCeilingConstraint"
  }
  if (latency >= count && latency > 0) {
    count = latency
    best = "LatencyConstraint"
  }
  if (budget >= count && budget > 0) {
    count = budget
    best = "BudgetConstraint"
  }
  if (utility >= count && utility > 0) {
    count = utility
    best = "NonPositiveUtility"
  }
  if (disabled >= count && disabled > 0) best = "NoEnabledModel"
  return best
}
