/**
 * Why the kernel decided what it decided, model by model: the gate each model failed (SPEC
 * §2.3 step 4, in the kernel's order), or its cost, utility and rank; the winner, the runner-up
 * and which tie-break separated them; and for a reject, the dominant reason with the counts.
 * Library functionality (what `calybris explain` prints, and what a gateway can log or show):
 * pure, total, and property-tested against the kernel (`test/Explanation.test.ts`).
 *
 * The per-gate evaluation here is our own, written from the SPEC, independent of the kernel's
 * optimised scan; cost is `Kernel.costOf` and the utility of every model that passes its gates
 * is cross-checked with `Kernel.utilityForModel`. `check` compares the whole explanation with
 * `Kernel.prescribeWithTrace` (counts, winner, runner-up, reason) so a disagreement is caught,
 * never printed as an explanation.
 */
import * as Option from "effect/Option"
import * as Decision from "./Decision.js"
import type { Input } from "./Input.js"
import * as Int from "./Int.js"
import * as Kernel from "./Kernel.js"
import type { Model } from "./Model.js"
import type { Policy } from "./Policy.js"

/** An integer with thousands separators (`1,234,567`), as the details print amounts. */
const int = Int.grouped

/** A mask in hex (`0x1f`). */
const hex = (value: bigint): string => `0x${value.toString(16)}`

/** The gates, by their trace bucket names. */
export type Gate =
  | "disabled"
  | "quality"
  | "latency"
  | "capability"
  | "provider"
  | "region"
  | "risk_ceiling"
  | "budget"
  | "utility"

/** One catalog entry, explained. */
export interface Row {
  readonly index: number
  readonly model: Model
  /** the first gate it failed, or null when it is eligible */
  readonly gate: Gate | null
  /** what the failed gate compared, in words */
  readonly detail: string
  /** its cost, when it got as far as the budget gate */
  readonly cost: bigint | null
  /** its utility, when it got as far as the utility gate */
  readonly utility: bigint | null
  /** 1 for the winner, 2 for the runner-up, …; null when not eligible */
  readonly rank: number | null
}

/** Which comparison of SPEC §2.3 step 5 put the winner ahead of the runner-up. */
export type TieBreak = "only_candidate" | "utility" | "cost" | "quality" | "model_id"

export interface Explanation {
  readonly decision: Decision.Decision
  readonly trace: Decision.Trace
  /** an early reject (risk or confidence hard limit): no model was evaluated */
  readonly hardLimit: { readonly reason: Decision.Reason; readonly detail: string } | null
  readonly rows: ReadonlyArray<Row>
  /** our per-gate counts as the trace holds them: u16 that wrap at 65,536 (they must equal the trace's) */
  readonly counts: Decision.Rejections
  /** the per-gate counts in full (they differ from `counts` only past 65,535 models failed at one gate) */
  readonly totals: Readonly<Record<Gate, number>>
  readonly eligible: number
  readonly winner: Row | null
  readonly runnerUp: Row | null
  readonly tieBreak: TieBreak | null
  /** for a reject after a scan: the dominant reason and the count behind it */
  readonly dominant: { readonly reason: Decision.Reason; readonly count: number } | null
  /** the requested model's row, when the catalog has it */
  readonly requested: Row | null
}

const SCALED = BigInt(Kernel.SCALED)

/** The first failing gate among 1–8 (everything before cost), with what it compared. */
const staticGate = (model: Model, input: Input): readonly [Gate, string] | null => {
  if (model.enabled === 0) return ["disabled", "disabled (enabled = 0)"]
  if (model.quality_bps < input.minimum_quality_bps) {
    return ["quality", `quality ${model.quality_bps} bps < minimum ${input.minimum_quality_bps} bps`]
  }
  if (input.max_p95_latency_ms > 0 && model.p95_latency_ms > input.max_p95_latency_ms) {
    return ["latency", `p95 ${int(model.p95_latency_ms)} ms > max ${int(input.max_p95_latency_ms)} ms`]
  }
  const missing = input.required_capabilities & ~model.capabilities
  if (missing !== 0n) return ["capability", `lacks capabilities ${hex(missing)}`]
  if (model.provider_id > 63) return ["provider", `provider_id ${model.provider_id} > 63`]
  if (
    input.allowed_provider_mask !== Kernel.ALL &&
    ((input.allowed_provider_mask >> BigInt(model.provider_id)) & 1n) === 0n
  ) {
    return [
      "provider",
      `provider ${model.provider_id} not in allowed_provider_mask ${hex(input.allowed_provider_mask)}`
    ]
  }
  if (input.required_region_mask !== 0n && (model.region_mask & input.required_region_mask) === 0n) {
    return [
      "region",
      `region_mask ${hex(model.region_mask)} has none of required ${hex(input.required_region_mask)}`
    ]
  }
  if (input.risk_bps > model.risk_ceiling_bps) {
    return ["risk_ceiling", `risk ${input.risk_bps} bps > ceiling ${model.risk_ceiling_bps} bps`]
  }
  return null
}

/** SPEC §2.3 step 5: is candidate a better than b? */
const better = (a: Row, b: Row): boolean => {
  const ua = a.utility as bigint
  const ub = b.utility as bigint
  if (ua !== ub) return ua > ub
  const ca = a.cost as bigint
  const cb = b.cost as bigint
  if (ca !== cb) return ca < cb
  if (a.model.quality_bps !== b.model.quality_bps) return a.model.quality_bps > b.model.quality_bps
  return a.model.model_id < b.model.model_id
}

const tieBreakOf = (winner: Row, runnerUp: Row | null): TieBreak => {
  if (runnerUp === null) return "only_candidate"
  if (winner.utility !== runnerUp.utility) return "utility"
  if (winner.cost !== runnerUp.cost) return "cost"
  if (winner.model.quality_bps !== runnerUp.model.quality_bps) return "quality"
  return "model_id"
}

/** The eligible count as the decision holds it: a u16, saturating (as the kernel's does). */
const saturate = (n: number): Int.U16 => Math.min(n, Int.U16_MAX) as Int.U16

/** A per-gate count as the trace holds it: a u16 that wraps at 2^16 (as the kernel's counters do). */
const wrap = (n: number): Int.U16 => (n & Int.U16_MAX) as Int.U16

/** The per-gate counts as the trace's record (the gate names are the trace's bucket names). */
const rejectionsOf = (c: Readonly<Record<Gate, number>>): Decision.Rejections => ({
  disabled: wrap(c.disabled),
  quality: wrap(c.quality),
  risk_ceiling: wrap(c.risk_ceiling),
  latency: wrap(c.latency),
  capability: wrap(c.capability),
  provider: wrap(c.provider),
  region: wrap(c.region),
  budget: wrap(c.budget),
  utility: wrap(c.utility)
})

/** Explain one decision. Pure; `check` compares the result with the kernel. */
export const explain = (policy: Policy, input: Input): Explanation => {
  const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
  const snapshot = policy.snapshot
  const models = snapshot.models
  const requestedIndex = models.findIndex((m) => m.model_id === input.requested_model_id)
  const zero: Record<Gate, number> = {
    disabled: 0,
    quality: 0,
    risk_ceiling: 0,
    latency: 0,
    capability: 0,
    provider: 0,
    region: 0,
    budget: 0,
    utility: 0
  }
  const base = { decision, trace, winner: null, runnerUp: null, tieBreak: null, dominant: null }
  if (input.risk_bps >= snapshot.hard_risk_limit_bps || input.confidence_bps < snapshot.minimum_confidence_bps) {
    const risk = input.risk_bps >= snapshot.hard_risk_limit_bps
    const rows = models.map((model, index): Row => ({
      index,
      model,
      gate: null,
      detail: "not evaluated",
      cost: null,
      utility: null,
      rank: null
    }))
    return {
      ...base,
      hardLimit: risk
        ? {
          reason: "RiskHardLimit",
          detail: `risk ${input.risk_bps} bps >= hard limit ${snapshot.hard_risk_limit_bps} bps`
        }
        : {
          reason: "ConfidenceHardLimit",
          detail: `confidence ${input.confidence_bps} bps < minimum ${snapshot.minimum_confidence_bps} bps`
        },
      rows,
      counts: rejectionsOf(zero),
      totals: zero,
      eligible: 0,
      requested: requestedIndex < 0 ? null : rows[requestedIndex] ?? null
    }
  }
  const value = input.business_value_microunits > 0n ? input.business_value_microunits : 0n
  const riskPenalty = value * BigInt(input.risk_bps) * BigInt(snapshot.risk_penalty_multiplier_bps) / SCALED
  const counts: Record<Gate, number> = { ...zero }
  const evaluated: Array<Row> = models.map((model, index): Row => {
    const failed = staticGate(model, input)
    if (failed !== null) {
      counts[failed[0]]++
      return { index, model, gate: failed[0], detail: failed[1], cost: null, utility: null, rank: null }
    }
    const cost = Kernel.costOf(model, input)
    if (cost > input.budget_limit_microunits) {
      counts.budget++
      return {
        index,
        model,
        gate: "budget",
        detail: `cost ${int(cost)} > budget ${int(input.budget_limit_microunits)}`,
        cost,
        utility: null,
        rank: null
      }
    }
    const qualityAdjusted = value * BigInt(input.confidence_bps) * BigInt(model.quality_bps) / SCALED
    const latencyPenalty = BigInt(model.p95_latency_ms) * snapshot.latency_penalty_microunits_per_ms
    const utility = Int.clampI64(qualityAdjusted - riskPenalty - cost - latencyPenalty)
    if (utility <= 0n) {
      counts.utility++
      return { index, model, gate: "utility", detail: `utility ${int(utility)} <= 0`, cost, utility, rank: null }
    }
    return { index, model, gate: null, detail: "eligible", cost, utility, rank: null }
  })
  const ranked = evaluated.filter((r) => r.gate === null).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
  const rankOf = new Map(ranked.map((r, i) => [r.index, i + 1] as const))
  const rows = evaluated.map((r) => (r.gate === null ? { ...r, rank: rankOf.get(r.index) ?? null } : r))
  const winner = ranked[0] === undefined ? null : rows[ranked[0].index] ?? null
  const runnerUp = ranked[1] === undefined ? null : rows[ranked[1].index] ?? null
  const rejections = rejectionsOf(counts)
  const reason = Decision.dominantReason(rejections)
  return {
    ...base,
    hardLimit: null,
    rows,
    counts: rejections,
    totals: { ...counts },
    eligible: saturate(ranked.length),
    winner,
    runnerUp,
    tieBreak: winner === null ? null : tieBreakOf(winner, runnerUp),
    dominant: winner === null ? { reason, count: dominantCount(rejections, reason) } : null,
    requested: requestedIndex < 0 ? null : rows[requestedIndex] ?? null
  }
}

const bucketOf: Partial<Record<Decision.Reason, Gate>> = {
  CapabilityConstraint: "capability",
  RegionConstraint: "region",
  ProviderConstraint: "provider",
  QualityConstraint: "quality",
  RiskCeilingConstraint: "risk_ceiling",
  LatencyConstraint: "latency",
  BudgetConstraint: "budget",
  NonPositiveUtility: "utility",
  NoEnabledModel: "disabled"
}

const dominantCount = (counts: Decision.Rejections, reason: Decision.Reason): number => {
  const gate = bucketOf[reason]
  return gate === undefined ? 0 : counts[gate]
}

/** Every disagreement between the explanation and the kernel (empty when they agree). */
export const check = (policy: Policy, input: Input, e: Explanation): Array<string> => {
  const problems: Array<string> = []
  const d = e.decision
  const gates: ReadonlyArray<Gate> = [
    "disabled",
    "quality",
    "risk_ceiling",
    "latency",
    "capability",
    "provider",
    "region",
    "budget",
    "utility"
  ]
  const ours = e.counts
  const theirs = e.trace.rejections
  for (const gate of gates) {
    if (ours[gate] !== theirs[gate]) problems.push(`${gate}: explained ${ours[gate]}, traced ${theirs[gate]}`)
  }
  if (e.eligible !== e.trace.eligible_models) {
    problems.push(`eligible: explained ${e.eligible}, traced ${e.trace.eligible_models}`)
  }
  const models = policy.snapshot.models
  for (const row of e.rows) {
    if (row.gate !== null && row.gate !== "utility") continue
    if (row.utility === null) continue
    // `utilityForModel` finds a model by id, the first with it: a later model repeating the id
    // (a catalog `Policy.make` refuses, replayable through `unsafeMake`) is not the one it values
    if (models.findIndex((m) => m.model_id === row.model.model_id) !== row.index) continue
    const kernel = Kernel.utilityForModel(policy, input, row.model.model_id)
    const expected = row.gate === null ? Option.some(row.utility) : Option.none()
    if (!Option.getEquivalence<bigint>((a, b) => a === b)(kernel, expected)) {
      problems.push(`utility of model ${row.model.model_id}: explained ${row.utility}, kernel ${String(kernel)}`)
    }
  }
  if (e.hardLimit !== null) {
    if (d.reason !== e.hardLimit.reason) problems.push(`reason: explained ${e.hardLimit.reason}, decided ${d.reason}`)
    return problems
  }
  if (e.winner === null) {
    if (d.action !== "Reject") problems.push(`no eligible model explained, but the kernel chose ${d.selected_model_id}`)
    if (e.dominant !== null && e.dominant.reason !== d.reason) {
      problems.push(`dominant reason: explained ${e.dominant.reason}, decided ${d.reason}`)
    }
    return problems
  }
  if (d.selected_model_id !== e.winner.model.model_id) {
    problems.push(`winner: explained ${e.winner.model.model_id}, decided ${d.selected_model_id}`)
  }
  if (d.estimated_cost_microunits !== e.winner.cost) problems.push("winner's cost differs")
  if (d.expected_utility_microunits !== e.winner.utility) problems.push("winner's utility differs")
  const runnerUpId = e.runnerUp === null ? 0 : e.runnerUp.model.model_id
  if (d.counterfactual_model_id !== runnerUpId) {
    problems.push(`runner-up: explained ${runnerUpId}, decided ${d.counterfactual_model_id}`)
  }
  return problems
}
