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

/**
 * Exact floor division of a non-negative integer below 2^53 by a positive one. The float
 * quotient can be off by one near an integer; one correction step each way makes it exact
 * (every product here stays below 2^53). Faster than `%`, which V8 runs as a C call.
 */
const div = (a: number, d: number): number => {
  let q = Math.floor(a / d)
  if (q * d > a) q--
  else if ((q + 1) * d <= a) q++
  return q
}

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

/** Per-gate counts of the last scan (saturating u16; `prescribe` is synchronous, so one buffer serves). */
const counts = new Uint16Array(9)
/** [eligible, best index, second index] of the last scan */
const picks = new Int32Array(3)
/** [best utility, best cost, second utility] of the last fast-path scan */
const fastValues = new Float64Array(3)
/** [best utility, best cost, second utility] of the last exact scan (null after a fast one) */
let bigValues: [bigint, bigint, bigint] | null = null
/** [check capabilities, lo, hi, check providers, lo, hi, check regions, lo, hi] of the request */
const masks = new Int32Array(9)

const bump = (gate: number) => {
  const n = counts[gate] as number
  if (n !== 0xffff) counts[gate] = n + 1
}

const toRejections = (c: Uint16Array): Rejections =>
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

const loadMasks = (input: Input) => {
  const caps = input.required_capabilities
  const providers = input.allowed_provider_mask
  const regions = input.required_region_mask
  masks[0] = caps === 0n ? 0 : 1
  if (caps !== 0n) {
    masks[1] = lo32(caps)
    masks[2] = hi32(caps)
  }
  masks[3] = providers === ALL ? 0 : 1
  if (providers !== ALL) {
    masks[4] = lo32(providers)
    masks[5] = hi32(providers)
  }
  masks[6] = regions === 0n ? 0 : 1
  if (regions !== 0n) {
    masks[7] = lo32(regions)
    masks[8] = hi32(regions)
  }
}

/** Gates 1–8 (everything but budget and utility): the failing gate, or -1. Needs `loadMasks`. */
const staticGate = (c: Compiled, i: number, input: Input): number => {
  if (c.enabled[i] === 0) return G_DISABLED
  if ((c.quality[i] as number) < input.minimum_quality_bps) return G_QUALITY
  const maxLatency = input.max_p95_latency_ms
  if (maxLatency > 0 && (c.latency[i] as number) > maxLatency) return G_LATENCY
  if (masks[0] === 1) {
    const lo = masks[1] as number
    const hi = masks[2] as number
    if (((c.capLo[i] as number) & lo) !== lo || ((c.capHi[i] as number) & hi) !== hi) return G_CAPABILITY
  }
  const provider = c.providers[i] as number
  if (provider > 63) return G_PROVIDER
  if (masks[3] === 1) {
    const word = provider < 32 ? (masks[4] as number) >>> provider : (masks[5] as number) >>> (provider - 32)
    if ((word & 1) === 0) return G_PROVIDER
  }
  if (
    masks[6] === 1 &&
    (((c.regionLo[i] as number) & (masks[7] as number)) | ((c.regionHi[i] as number) & (masks[8] as number))) === 0
  ) {
    return G_REGION
  }
  if (input.risk_bps > (c.riskCeiling[i] as number)) return G_RISK_CEILING
  return -1
}

/** Tie-breaks of SPEC §2.3 step 5 after equal utility and cost: higher quality, then lower id. */
const betterTie = (c: Compiled, i: number, j: number): boolean => {
  const qi = c.quality[i] as number
  const qj = c.quality[j] as number
  return qi > qj || (qi === qj && (c.ids[i] as number) < (c.ids[j] as number))
}

/** Fast path: every term proven below 2^51, so plain numbers are exact. */
const scanNumber = (c: Compiled, input: Input, value: number, riskPenalty: number, budget: number) => {
  const conf = input.confidence_bps
  const inTokens = input.input_tokens
  const outTokens = input.output_tokens
  const valueConf = value * conf
  let eligible = 0
  let best = -1
  let second = -1
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
    const utility = div(valueConf * (c.quality[i] as number), SCALED) - riskPenalty - cost -
      (c.latencyPenalty[i] as number)
    if (utility <= 0) {
      bump(G_UTILITY)
      continue
    }
    eligible++
    if (best < 0 || utility > bu || (utility === bu && (cost < bc || (cost === bc && betterTie(c, i, best))))) {
      second = best
      su = bu
      sc = bc
      best = i
      bu = utility
      bc = cost
    } else if (
      second < 0 || utility > su || (utility === su && (cost < sc || (cost === sc && betterTie(c, i, second))))
    ) {
      second = i
      su = utility
      sc = cost
    }
  }
  picks[0] = eligible
  picks[1] = best
  picks[2] = second
  fastValues[0] = bu
  fastValues[1] = bc
  fastValues[2] = su
  bigValues = null
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

interface Evaluated {
  readonly gate: number
  readonly cost: bigint
  readonly utility: bigint
}

/** Exact evaluation of one model on bigints: the failing gate, or -1 with cost and utility. */
const evaluateBig = (policy: Policy, i: number, input: Input, value: bigint, riskPenalty: bigint): Evaluated => {
  const gate = staticGate(policy.compiled, i, input)
  if (gate >= 0) return { gate, cost: 0n, utility: 0n }
  const model = policy.snapshot.models[i] as Model
  const cost = costOf(model, input)
  if (cost > input.budget_limit_microunits) return { gate: G_BUDGET, cost, utility: 0n }
  const qualityAdjusted = value * BigInt(input.confidence_bps) * BigInt(model.quality_bps) / SCALED_BIG
  const latencyPenalty = BigInt(model.p95_latency_ms) * policy.snapshot.latency_penalty_microunits_per_ms
  const utility = Int.clampI64(qualityAdjusted - riskPenalty - cost - latencyPenalty)
  return { gate: utility <= 0n ? G_UTILITY : -1, cost, utility }
}

/** Exact path, on bigints (any magnitude). */
const scanBig = (policy: Policy, input: Input, value: bigint, riskPenalty: bigint) => {
  const c = policy.compiled
  let eligible = 0
  let best = -1
  let second = -1
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
    const u = r.utility
    const cost = r.cost
    if (best < 0 || u > bu || (u === bu && (cost < bc || (cost === bc && betterTie(c, i, best))))) {
      second = best
      su = bu
      sc = bc
      best = i
      bu = u
      bc = cost
    } else if (second < 0 || u > su || (u === su && (cost < sc || (cost === sc && betterTie(c, i, second))))) {
      second = i
      su = u
      sc = cost
    }
  }
  picks[0] = eligible
  picks[1] = best
  picks[2] = second
  bigValues = [bu, bc, su]
}

const positive = (value: bigint): bigint => (value > 0n ? value : 0n)

const TERM_LIMIT_BIG = BigInt(TERM_LIMIT)

/** Runs the scan for a request that passed the hard limits; leaves the results in the scan state. */
const scan = (policy: Policy, input: Input) => {
  const c = policy.compiled
  counts.fill(0)
  loadMasks(input)
  const valueBig = positive(input.business_value_microunits)
  if (valueBig <= TERM_LIMIT_BIG && c.latencySafe) {
    const value = Number(valueBig)
    const riskProduct = value * input.risk_bps * c.riskMultiplier
    const qualityProduct = value * input.confidence_bps * c.maxQuality
    const inCost = input.input_tokens * c.maxInPrice + COST_ROUNDING
    const outCost = input.output_tokens * c.maxOutPrice + COST_ROUNDING
    if (riskProduct <= SAFE && qualityProduct <= SAFE && inCost <= SAFE && outCost <= SAFE) {
      scanNumber(c, input, value, div(riskProduct, SCALED), Number(input.budget_limit_microunits))
      return
    }
  }
  const riskPenalty = valueBig * BigInt(input.risk_bps) * BigInt(c.riskMultiplier) / SCALED_BIG
  scanBig(policy, input, valueBig, riskPenalty)
}

/** The decision from the scan state. */
const conclude = (policy: Policy, input: Input): Decision => {
  const c = policy.compiled
  const best = picks[1] as number
  if (best < 0) return reject(input, policy, dominantReason(toRejections(counts)), c.evaluated)
  const second = picks[2] as number
  const id = c.ids[best] as number
  const requested = id === input.requested_model_id
  const values = bigValues
  return decision(
    input,
    policy,
    requested ? "ExecuteRequested" : "Substitute",
    requested ? "RequestedModelMaximizesUtility" : "AlternativeMaximizesUtility",
    id,
    Math.min(best, NO_INDEX),
    values === null ? BigInt(fastValues[1] as number) : values[1],
    values === null ? BigInt(fastValues[0] as number) : values[0],
    second < 0 ? 0 : (c.ids[second] as number),
    second < 0 ? 0n : values === null ? BigInt(fastValues[2] as number) : values[2],
    c.evaluated,
    Math.min(picks[0] as number, 0xffff)
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
      trace: { rejections: toRejections(new Uint16Array(9)), evaluated_models: 0, eligible_models: 0 } as Trace
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
