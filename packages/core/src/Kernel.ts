/**
 * The decision kernel (SPEC §2.3): exact, deterministic, synchronous.
 *
 * Per request it first proves, from the compiled catalog's bounds, that every intermediate
 * stays below 2^53; then it runs the scan on plain numbers (exact there). Otherwise the same
 * scan runs on bigints. Both paths implement the same gates; a slow, obviously-correct
 * reference kernel in the tests checks them against each other on arbitrary inputs.
 */
import * as Option from "effect/Option"
import type { Decision, Rejections, Trace } from "./Decision.js"
import { dominantReason } from "./Decision.js"
import type { Input } from "./Input.js"
import * as Int from "./Int.js"
import { type Compiled, hi32, lo32, TERM_LIMIT } from "./internal/compile.js"
import type { Model } from "./Model.js"
import type { Policy } from "./Policy.js"

export const BPS = 10_000
export const SCALED = 100_000_000
export const COST_SCALE = 1_000_000
export const COST_ROUNDING = 999_999
/** All provider / region bits. */
export const ALL = Int.U64_MAX

const SAFE = Number.MAX_SAFE_INTEGER
const SCALED_BIG = 100_000_000n
const COST_SCALE_BIG = 1_000_000n
const COST_ROUNDING_BIG = 999_999n
const NO_INDEX = 0xffff

// gate codes, in the layout of the trace's `rejections`
const G_DISABLED = 0
const G_QUALITY = 1
const G_RISK_CEILING = 2
const G_LATENCY = 3
const G_CAPABILITY = 4
const G_PROVIDER = 5
const G_REGION = 6
const G_BUDGET = 7
const G_UTILITY = 8

/** Exact floor division of non-negative integers below 2^53. */
const div = (a: number, d: number): number => (a - (a % d)) / d

/** A decision built from trusted, kernel-computed values. */
const decision = (
  input: Input,
  policy: Policy,
  action: Decision["action"],
  reason: Decision["reason"],
  selectedId: number,
  selectedIndex: number,
  cost: bigint,
  utility: bigint,
  counterfactualId: number,
  counterfactualUtility: bigint,
  evaluated: number,
  eligible: number
): Decision =>
  ({
    request_sequence: input.request_sequence,
    action,
    reason,
    selected_model_id: selectedId,
    selected_model_index: selectedIndex,
    estimated_cost_microunits: cost,
    expected_utility_microunits: utility,
    counterfactual_model_id: counterfactualId,
    counterfactual_utility_microunits: counterfactualUtility,
    evaluated_models: evaluated,
    eligible_models: eligible,
    policy_epoch: policy.snapshot.policy_epoch,
    catalog_epoch: policy.snapshot.catalog_epoch
  }) as Decision

const reject = (input: Input, policy: Policy, reason: Decision["reason"], evaluated: number): Decision =>
  decision(input, policy, "Reject", reason, 0, NO_INDEX, 0n, 0n, 0, 0n, evaluated, 0)

const emptyCounts = (): Array<number> => [0, 0, 0, 0, 0, 0, 0, 0, 0]

const toRejections = (c: ReadonlyArray<number>): Rejections =>
  ({
    disabled: c[G_DISABLED],
    quality: c[G_QUALITY],
    risk_ceiling: c[G_RISK_CEILING],
    latency: c[G_LATENCY],
    capability: c[G_CAPABILITY],
    provider: c[G_PROVIDER],
    region: c[G_REGION],
    budget: c[G_BUDGET],
    utility: c[G_UTILITY]
  }) as Rejections

/** Scan state shared by both paths (reused per call; `prescribe` is synchronous). */
let counts = emptyCounts()
let eligible = 0
let bestIndex = -1
let secondIndex = -1
let bestUtility: number | bigint = 0
let secondUtility: number | bigint = 0
let bestCost: number | bigint = 0

const bump = (gate: number) => {
  const c = counts[gate] as number
  if (c < 0xffff) counts[gate] = c + 1
}

/** Masks of the current request, split into 32-bit halves. */
let capCheck = false
let capLo = 0
let capHi = 0
let providerCheck = false
let provLo = 0
let provHi = 0
let regionCheck = false
let regLo = 0
let regHi = 0

const loadMasks = (input: Input) => {
  capCheck = input.required_capabilities !== 0n
  if (capCheck) {
    capLo = lo32(input.required_capabilities)
    capHi = hi32(input.required_capabilities)
  }
  providerCheck = input.allowed_provider_mask !== ALL
  if (providerCheck) {
    provLo = lo32(input.allowed_provider_mask)
    provHi = hi32(input.allowed_provider_mask)
  }
  regionCheck = input.required_region_mask !== 0n
  if (regionCheck) {
    regLo = lo32(input.required_region_mask)
    regHi = hi32(input.required_region_mask)
  }
}

/** Gates 1–8 (everything but budget and utility): the failing gate, or -1. */
const staticGate = (c: Compiled, i: number, input: Input): number => {
  if (c.enabled[i] === 0) return G_DISABLED
  if ((c.quality[i] as number) < input.minimum_quality_bps) return G_QUALITY
  if (input.max_p95_latency_ms > 0 && (c.latency[i] as number) > input.max_p95_latency_ms) return G_LATENCY
  if (capCheck && (((c.capLo[i] as number) & capLo) !== capLo || ((c.capHi[i] as number) & capHi) !== capHi)) {
    return G_CAPABILITY
  }
  const provider = c.providers[i] as number
  if (provider > 63) return G_PROVIDER
  if (providerCheck && ((provider < 32 ? provLo >>> provider : provHi >>> (provider - 32)) & 1) === 0) {
    return G_PROVIDER
  }
  if (regionCheck && (((c.regionLo[i] as number) & regLo) | ((c.regionHi[i] as number) & regHi)) === 0) {
    return G_REGION
  }
  if (input.risk_bps > (c.riskCeiling[i] as number)) return G_RISK_CEILING
  return -1
}

/** `better(a, b)` of SPEC §2.3 step 5, on the candidate at index `i` against index `j`. */
const betterNumber = (c: Compiled, u: number, cost: number, i: number, bu: number, bc: number, j: number) =>
  u > bu ||
  (u === bu &&
    (cost < bc ||
      (cost === bc &&
        ((c.quality[i] as number) > (c.quality[j] as number) ||
          ((c.quality[i] as number) === (c.quality[j] as number) && (c.ids[i] as number) < (c.ids[j] as number))))))

const betterBig = (c: Compiled, u: bigint, cost: bigint, i: number, bu: bigint, bc: bigint, j: number) =>
  u > bu ||
  (u === bu &&
    (cost < bc ||
      (cost === bc &&
        ((c.quality[i] as number) > (c.quality[j] as number) ||
          ((c.quality[i] as number) === (c.quality[j] as number) && (c.ids[i] as number) < (c.ids[j] as number))))))

/** Fast path: every term proven below 2^51. */
const scanNumber = (c: Compiled, input: Input, value: number, riskPenalty: number, budget: number) => {
  const conf = input.confidence_bps
  const inTokens = input.input_tokens
  const outTokens = input.output_tokens
  let bu = 0
  let bc = 0
  let su = 0
  let sc = 0
  for (let i = 0; i < c.length; i++) {
    const gate = staticGate(c, i, input)
    if (gate >= 0) {
      bump(gate)
      continue
    }
    const cost = div(inTokens * (c.inPrice[i] as number) + COST_ROUNDING, COST_SCALE) +
      div(outTokens * (c.outPrice[i] as number) + COST_ROUNDING, COST_SCALE)
    if (cost > budget) {
      bump(G_BUDGET)
      continue
    }
    const qualityAdjusted = div(value * conf * (c.quality[i] as number), SCALED)
    const utility = qualityAdjusted - riskPenalty - cost - (c.latencyPenalty[i] as number)
    if (utility <= 0) {
      bump(G_UTILITY)
      continue
    }
    eligible++
    if (bestIndex < 0 || betterNumber(c, utility, cost, i, bu, bc, bestIndex)) {
      secondIndex = bestIndex
      su = bu
      sc = bc
      bestIndex = i
      bu = utility
      bc = cost
    } else if (secondIndex < 0 || betterNumber(c, utility, cost, i, su, sc, secondIndex)) {
      secondIndex = i
      su = utility
      sc = cost
    }
  }
  bestUtility = bu
  bestCost = bc
  secondUtility = su
}

/** The exact cost of a model (SPEC §2.3 gate 9), saturated at u64 max. */
export const costOf = (model: Model, input: Input): bigint => {
  const a = (BigInt(input.input_tokens) * model.input_cost_microunits_per_million_tokens + COST_ROUNDING_BIG) /
    COST_SCALE_BIG
  const b = (BigInt(input.output_tokens) * model.output_cost_microunits_per_million_tokens + COST_ROUNDING_BIG) /
    COST_SCALE_BIG
  const sum = a + b
  return sum > Int.U64_MAX ? Int.U64_MAX : sum
}

/** Exact path, on bigints. Returns the utility (or the failing gate as a negative code - 1). */
const evaluateBig = (
  policy: Policy,
  i: number,
  input: Input,
  value: bigint,
  riskPenalty: bigint
): { gate: number; cost: bigint; utility: bigint } => {
  const c = policy.compiled
  const gate = staticGate(c, i, input)
  if (gate >= 0) return { gate, cost: 0n, utility: 0n }
  const model = policy.snapshot.models[i] as Model
  const cost = costOf(model, input)
  if (cost > input.budget_limit_microunits) return { gate: G_BUDGET, cost, utility: 0n }
  const qualityAdjusted = value * BigInt(input.confidence_bps) * BigInt(model.quality_bps) / SCALED_BIG
  const latencyPenalty = BigInt(model.p95_latency_ms) * policy.snapshot.latency_penalty_microunits_per_ms
  const utility = Int.clampI64(qualityAdjusted - riskPenalty - cost - latencyPenalty)
  if (utility <= 0n) return { gate: G_UTILITY, cost, utility }
  return { gate: -1, cost, utility }
}

const scanBig = (policy: Policy, input: Input, value: bigint, riskPenalty: bigint) => {
  const c = policy.compiled
  let bu = 0n
  let bc = 0n
  let su = 0n
  let sc = 0n
  for (let i = 0; i < c.length; i++) {
    const r = evaluateBig(policy, i, input, value, riskPenalty)
    if (r.gate >= 0) {
      bump(r.gate)
      continue
    }
    eligible++
    if (bestIndex < 0 || betterBig(c, r.utility, r.cost, i, bu, bc, bestIndex)) {
      secondIndex = bestIndex
      su = bu
      sc = bc
      bestIndex = i
      bu = r.utility
      bc = r.cost
    } else if (secondIndex < 0 || betterBig(c, r.utility, r.cost, i, su, sc, secondIndex)) {
      secondIndex = i
      su = r.utility
      sc = r.cost
    }
  }
  bestUtility = bu
  bestCost = bc
  secondUtility = su
}

const positive = (value: bigint): bigint => (value > 0n ? value : 0n)

/** Runs the scan for a request that passed the hard limits; leaves the results in the scan state. */
const scan = (policy: Policy, input: Input) => {
  const c = policy.compiled
  counts = emptyCounts()
  eligible = 0
  bestIndex = -1
  secondIndex = -1
  loadMasks(input)
  const valueBig = positive(input.business_value_microunits)
  if (valueBig <= BigInt(TERM_LIMIT) && c.latencySafe) {
    const value = Number(valueBig)
    const riskProduct = value * input.risk_bps * c.riskMultiplier
    const qualityProduct = value * input.confidence_bps * c.maxQuality
    const inCost = input.input_tokens * c.maxInPrice + COST_ROUNDING
    const outCost = input.output_tokens * c.maxOutPrice + COST_ROUNDING
    if (riskProduct <= SAFE && qualityProduct <= SAFE && inCost <= SAFE && outCost <= SAFE) {
      const budget = Number(input.budget_limit_microunits)
      scanNumber(c, input, value, div(riskProduct, SCALED), budget)
      return
    }
  }
  const riskPenalty = valueBig * BigInt(input.risk_bps) * BigInt(c.riskMultiplier) / SCALED_BIG
  scanBig(policy, input, valueBig, riskPenalty)
}

const toBig = (value: number | bigint): bigint => (typeof value === "bigint" ? value : BigInt(value))

/** The decision from the scan state. */
const conclude = (policy: Policy, input: Input): Decision => {
  const c = policy.compiled
  if (bestIndex < 0) return reject(input, policy, dominantReason(toRejections(counts)), c.evaluated)
  const id = c.ids[bestIndex] as number
  const requested = id === input.requested_model_id
  return decision(
    input,
    policy,
    requested ? "ExecuteRequested" : "Substitute",
    requested ? "RequestedModelMaximizesUtility" : "AlternativeMaximizesUtility",
    id,
    Math.min(bestIndex, NO_INDEX),
    toBig(bestCost),
    toBig(bestUtility),
    secondIndex < 0 ? 0 : (c.ids[secondIndex] as number),
    secondIndex < 0 ? 0n : toBig(secondUtility),
    c.evaluated,
    Math.min(eligible, 0xffff)
  )
}

/** Decide one request (SPEC §2.3). Pure: the same policy and input always give the same decision. */
export const prescribe = (policy: Policy, input: Input): Decision => {
  const c = policy.compiled
  if (input.risk_bps >= c.hardRiskLimit) return reject(input, policy, "RiskHardLimit", 0)
  if (input.confidence_bps < c.minimumConfidence) return reject(input, policy, "ConfidenceHardLimit", 0)
  scan(policy, input)
  return conclude(policy, input)
}

/** A decision together with its trace. */
export interface Traced {
  readonly decision: Decision
  readonly trace: Trace
}

/**
 * Decide one request and say why: the per-gate counts of the scan. Unlike the reference, a
 * rejection after a scan carries the real counts (SPEC §8); the two early rejections scan
 * nothing and carry zeros.
 */
export const prescribeWithTrace = (policy: Policy, input: Input): Traced => {
  const c = policy.compiled
  if (input.risk_bps >= c.hardRiskLimit || input.confidence_bps < c.minimumConfidence) {
    const early = prescribe(policy, input)
    return {
      decision: early,
      trace: { rejections: toRejections(emptyCounts()), evaluated_models: 0, eligible_models: 0 } as Trace
    }
  }
  scan(policy, input)
  const d = conclude(policy, input)
  return {
    decision: d,
    trace: {
      rejections: toRejections(counts),
      evaluated_models: d.evaluated_models,
      eligible_models: d.eligible_models
    } as Trace
  }
}

/** Decide many requests with one policy. */
export const prescribeBatch = (policy: Policy, inputs: Iterable<Input>): Array<Decision> => {
  const out: Array<Decision> = []
  for (const input of inputs) out.push(prescribe(policy, input))
  return out
}

/**
 * The utility one model would have for this input (SPEC §2.3, last paragraph): none when a
 * hard limit fails, when no model has the id (the first one with the id is used), or when
 * the model fails a gate.
 */
export const utilityForModel = (policy: Policy, input: Input, modelId: number): Option.Option<bigint> => {
  const c = policy.compiled
  if (input.risk_bps >= c.hardRiskLimit || input.confidence_bps < c.minimumConfidence) return Option.none()
  const i = c.ids.indexOf(modelId)
  if (i < 0) return Option.none()
  loadMasks(input)
  const value = positive(input.business_value_microunits)
  const riskPenalty = value * BigInt(input.risk_bps) * BigInt(c.riskMultiplier) / SCALED_BIG
  const r = evaluateBig(policy, i, input, value, riskPenalty)
  return r.gate >= 0 ? Option.none() : Option.some(r.utility)
}
