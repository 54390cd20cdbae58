/**
 * The decision kernel (SPEC §2.3): exact, deterministic, synchronous.
 *
 * Per request it first proves, from the compiled catalog's bounds, that every intermediate
 * stays below 2^53 — splitting the business value and the prices into limbs where a direct
 * product would not fit, so the proof holds for realistic magnitudes (values up to ~2^51
 * microunits, token·price products up to ~2^49·10^6), not only for tiny ones; then it runs the
 * scan on plain numbers (exact there). Otherwise the same scan runs on bigints. Both paths
 * implement the same gates; a slow, obviously-correct reference kernel in the tests checks
 * them against each other on arbitrary inputs.
 */
import * as Option from "effect/Option"
import { type Decision, dominantOf, type Rejections, type Trace } from "./Decision.js"
import type { Input } from "./Input.js"
import * as Int from "./Int.js"
import { type Compiled, F_BAD_PROVIDER, F_DISABLED, type HotModel, TERM_LIMIT } from "./internal/compile.js"
import type { Model } from "./Model.js"
import type { Policy } from "./Policy.js"
import { bigintOfSafe as bigintOf, load, loadedHi, loadedLo } from "./Word.js"

export const BPS = 10_000
export const SCALED = 100_000_000
export const COST_SCALE = 1_000_000
export const COST_ROUNDING = 999_999
/** All provider / region bits. */
export const ALL = Int.U64_MAX

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
 * Exact floor division on the fast path: for integers a ≥ 0, d ≥ 1 with a + d ≤ 2^52,
 * `Math.floor(a / d)` is exactly ⌊a / d⌋, with no correction step. Let k = ⌊a / d⌋. IEEE
 * division rounds the real quotient a/d to the nearest double; k is a double (k < 2^52) and
 * a/d ≥ k, so the rounded quotient is ≥ k. If d ∤ a, then a/d ≤ k + 1 − 1/d, while rounding
 * to nearest reaches k + 1 only from within half the gap below it, at most (k + 1)·2^-53; and
 * (k + 1)·d < a + d ≤ 2^52 gives (k + 1)·2^-53 < 1/(2d) < 1/d. So the rounded quotient lies in
 * [k, k + 1) and its floor is k. (The kernel's old `div` added a correction step each way.)
 */

/** A decision built from trusted, kernel-computed values. */
const decision = (
  input: Input,
  c: Compiled,
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
    policy_epoch: c.policyEpoch,
    catalog_epoch: c.catalogEpoch
  }) as Decision

const reject = (input: Input, c: Compiled, reason: Decision["reason"], evaluated: number): Decision =>
  decision(input, c, "Reject", reason, 0, NO_INDEX, 0n, 0n, 0, 0n, evaluated, 0)

/**
 * Per-gate counts of the last scan, for the trace: u16 counters that wrap at 2^16, as the
 * reference's do (its `RejectionHistogram` fields are u16 counted with `+= 1` in a release build,
 * whose overflow checks are off: 65,536 disabled models count 0 — and a rejection's dominant
 * reason is taken from those wrapped counts; a review against the crate's source). `eligible_models`
 * and `evaluated_models` saturate, as the reference's do. `prescribe` is synchronous, so one buffer
 * serves.
 */
const counts = new Uint16Array(9)
/** [check capabilities, lo, hi, check providers, lo, hi, check regions, lo, hi] of the request (exact path) */
const masks = new Int32Array(9)

/** One more at `gate` (a Uint16Array element: 0xffff + 1 stores 0, the reference's wrap). */
const bump = (gate: number) => {
  counts[gate] = (counts[gate] as number) + 1
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

/** The dominant reason of the last scan's counts (SPEC §2.3 step 7): only on a rejection. */
const dominant = (): Decision["reason"] =>
  dominantOf(
    counts[G_DISABLED] as number,
    counts[G_QUALITY] as number,
    counts[G_RISK_CEILING] as number,
    counts[G_LATENCY] as number,
    counts[G_CAPABILITY] as number,
    counts[G_PROVIDER] as number,
    counts[G_REGION] as number,
    counts[G_BUDGET] as number,
    counts[G_UTILITY] as number
  )

const loadMasks = (input: Input) => {
  load(input.required_capabilities)
  masks[1] = loadedLo()
  masks[2] = loadedHi()
  masks[0] = (masks[1] as number) | (masks[2] as number) ? 1 : 0
  load(input.allowed_provider_mask)
  masks[4] = loadedLo()
  masks[5] = loadedHi()
  masks[3] = ((masks[4] as number) & (masks[5] as number)) === -1 ? 0 : 1
  load(input.required_region_mask)
  masks[7] = loadedLo()
  masks[8] = loadedHi()
  masks[6] = (masks[7] as number) | (masks[8] as number) ? 1 : 0
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

const saturate = (n: number): number => (n > 0xffff ? 0xffff : n)

/** The decision once the scan found a best candidate (and maybe a second). */
const choose = (
  input: Input,
  c: Compiled,
  best: number,
  cost: bigint,
  utility: bigint,
  second: number,
  secondUtility: bigint,
  eligible: number
): Decision => {
  const id = c.ids[best] as number
  const requested = id === input.requested_model_id
  return decision(
    input,
    c,
    requested ? "ExecuteRequested" : "Substitute",
    requested ? "RequestedModelMaximizesUtility" : "AlternativeMaximizesUtility",
    id,
    best < NO_INDEX ? best : NO_INDEX,
    cost,
    utility,
    second < 0 ? 0 : (c.ids[second] as number),
    secondUtility,
    c.evaluated,
    saturate(eligible)
  )
}

// the scan inlines these as literals (see `scanNumber`)
if (F_DISABLED !== 1 || F_BAD_PROVIDER !== 2 || TERM_LIMIT !== 2251799813685248) {
  throw new Error("Kernel: flag or limit constants changed")
}

/**
 * Fast path, on plain numbers, when the request's bounds prove it exact (else undefined, and
 * the bigint path runs). Every number below is an integer; a product of exact factors is
 * either exact or ≥ 2^53 when computed (rounding is monotone), so each bound check is exact.
 * The proof, per request:
 * - value = max(business value, 0) ≤ 2^51, read exactly from the i64's halves;
 * - risk penalty ⌊value·risk·mult / 10^8⌋: directly when value·risk·mult ≤ 2^51, else as
 *   vHigh·rm + ⌊(vMid·rm + ⌊vLow·rm / 10^4⌋) / 10^4⌋ with value = vHigh·10^8 + vMid·10^4 + vLow,
 *   rm = risk·mult < 2^32 (so vMid·rm, vLow·rm < 2^46) and vHigh·rm ≤ 2^50;
 * - quality-adjusted value ⌊value·conf·q / 10^8⌋, per model: directly when value·conf·(max q)
 *   ≤ 2^51, else split the same way with conf·q in place of rm and vHigh·conf·(max q) ≤ 2^50;
 * - cost per part ⌈tokens·price / 10^6⌉ = ⌊(tokens·price + 999_999) / 10^6⌋: directly when
 *   tokens·(max price) + 999_999 ≤ 2^51, else as tokens·⌊price/10^6⌋ +
 *   ⌊(tokens·(price mod 10^6) + 999_999) / 10^6⌋ (that numerator < 2^32·10^6 < 2^52) with
 *   tokens·⌊max price/10^6⌋ ≤ 2^49 — so no u64 saturation;
 * - every latency penalty ≤ 2^51 (checked at compile time).
 * Each ⌊a / d⌋ above has a + d ≤ 2^52, so `Math.floor(a / d)` is exact (see above), and so is
 * `a / d >>> 0` wherever the quotient is also below 2^32 (ToUint32 truncates a non-negative
 * number in [k, k + 1) to k). Each utility term is then below 2^51 in magnitude (the latency
 * penalty at most 2^51), so qa − penalty − cost − latency penalty is exact (|·| < 2^53) and needs
 * no i64 clamp.
 *
 * Order and pruning. The scan visits the models in descending quality, stable (compile.ts). The
 * outcome does not depend on the order: every gate is per model, the counts are sums, and best
 * and runner-up are the first two models of a stable sort by (utility ↓, cost ↑, quality ↓,
 * id ↑) — two models equal in all four have equal quality, so they keep their catalog order,
 * and the first of them in the catalog wins as in a catalog-order scan. In this order:
 * - the models below the minimum quality are a suffix, counted without visiting it (each fails
 *   the disabled gate or the quality gate, the first two gates);
 * - once a runner-up exists, a model is settled without the three exact divisions when a cheap
 *   bound proves its fate. With X = value·conf·q, A = in·price_in, B = out·price_out (exact
 *   integers ≤ 2^51 when direct) the utility is ⌊X/10^8⌋ − riskPenalty − ⌈A/10^6⌉ − ⌈B/10^6⌉ −
 *   latencyPenalty ∈ (E − 3, E], E the real-valued expression without floor and ceilings. The
 *   bound computes E with per-request coefficients (value·conf / 10^8, in / 10^6, out / 10^6,
 *   each from a rounded reciprocal): each term is within 3·2^-53 relative of its real value
 *   (< 10^-6 absolute for terms ≤ 2^51 / 10^6) and each of the four
 *   subtractions of terms below 2^52 rounds by at most 1/2, so |bound − E| < 2.01 and the
 *   utility lies in (bound − 5.01, bound + 2.01) ⊂ (bound − 8, bound + 8). If bound + 8 ≤ 0
 *   the model fails the utility gate; if bound − 8 > 0 and bound + 8 ≤ runner-up's utility it
 *   is eligible and strictly below the runner-up, so it changes neither. The budget gate is
 *   settled per request: when the exact cost at the catalog's largest prices fits the budget,
 *   no model fails it. Otherwise (or with split formulas) every model takes the exact path.
 * - suffix shortcut: once a model is settled so, the rest of the models above the minimum quality
 *   often share its fate, and are settled together. Each model carries aggregates of itself and
 *   every later one (compile.ts). When they prove that every later model passes the gates before
 *   budget (no flags; the largest latency, the AND of the capabilities, the OR of the providers,
 *   the AND of the regions, the least risk ceiling), a later model j (q_j ≤ q, prices and
 *   latency penalty between the suffix's least and largest) has its bound between
 *   `minQuality·perQuality − maxIn·perIn − maxOut·perOut − riskPenalty − maxLatencyPenalty` and
 *   `q·perQuality − minIn·perIn − minOut·perOut − riskPenalty − minLatencyPenalty`: the same
 *   operations in the same order on smaller or larger operands, and each rounded operation is
 *   monotone in its operands. So if the upper one + 8 ≤ 0, every model up to the minimum quality
 *   fails the utility gate; if the lower one − 8 > 0 and the upper one + 8 ≤ the runner-up's
 *   utility, every one is eligible and strictly below the runner-up. The first model below the
 *   minimum quality is found by bisection, and the counts take the whole range at once.
 *
 * Written for V8's optimising compiler, which does not hoist loop-invariant checks out of a
 * loop: the loop reads only locals (numbers typed as such before the loop), literals, and one
 * small object per model (`HotModel`: one map check, then plain field loads); per-gate counts
 * live in locals; it calls nothing except on an exact tie. Module-level bindings would be read
 * through the module context, with a TDZ check, on every iteration, so the loop writes its
 * constants (2^51, 10^6, the flag bits) as literals.
 */
const scanNumber = (c: Compiled, input: Input, traced: boolean): Decision | undefined => {
  load(input.business_value_microunits)
  const signed = loadedHi() * 4294967296 + (loadedLo() >>> 0)
  const value = signed > 0 ? signed : 0
  if (!(value <= 2251799813685248) || !c.latencySafe) return undefined
  const confidence = input.confidence_bps
  const inTokens = input.input_tokens
  const outTokens = input.output_tokens
  const rm = input.risk_bps * c.riskMultiplier // < 2^32
  const valueConf = value * confidence
  const riskDirect = value * rm <= 2251799813685248
  const qaDirect = valueConf * c.maxQuality <= 2251799813685248
  // value = vHigh·10^8 + vMid·10^4 + vLow, for the split formulas (only computed when needed)
  let vHigh = 0
  let vMid = 0
  let vLow = 0
  if (!riskDirect || !qaDirect) {
    vHigh = Math.floor(value / 100000000)
    const vRest = value - vHigh * 100000000
    vMid = Math.floor(vRest / 10000)
    vLow = vRest - vMid * 10000
  }
  // risk penalty ⌊value · risk · multiplier / 10^8⌋
  let riskPenalty = 0
  if (riskDirect) riskPenalty = Math.floor(value * rm / 100000000)
  else if (vHigh * rm <= 1125899906842624) {
    riskPenalty = vHigh * rm + Math.floor((vMid * rm + Math.floor(vLow * rm / 10000)) / 10000)
  } else return undefined
  // quality-adjusted value per model: direct when value · confidence · max quality ≤ 2^51, else split
  let qaSplit = 0
  if (!qaDirect) {
    if (vHigh * confidence * c.maxQuality <= 1125899906842624) qaSplit = 1
    else return undefined
  }
  // cost per model: direct when tokens · max price + 999_999 ≤ 2^51 (both parts), else split
  let costSplit = 0
  if (
    !(inTokens * c.maxInPrice + 999999 <= 2251799813685248 && outTokens * c.maxOutPrice + 999999 <= 2251799813685248)
  ) {
    if (inTokens * c.maxInHigh <= 562949953421312 && outTokens * c.maxOutHigh <= 562949953421312) costSplit = 1
    else return undefined
  }
  load(input.budget_limit_microunits)
  const budget = (loadedHi() >>> 0) * 4294967296 + (loadedLo() >>> 0)
  const risk = input.risk_bps
  const minQuality = input.minimum_quality_bps
  const maxLatency = input.max_p95_latency_ms
  const caps = input.required_capabilities
  let capLo = 0
  let capHi = 0
  if (caps !== 0n) {
    load(caps)
    capLo = loadedLo()
    capHi = loadedHi()
  }
  const checkCaps = capLo | capHi
  // a store into the scratch word is inlined by V8; `providers !== ALL` would call a builtin
  load(input.allowed_provider_mask)
  const providerLo = loadedLo()
  const providerHi = loadedHi()
  const checkProviders = ~(providerLo & providerHi)
  const regions = input.required_region_mask
  let regionLo = 0
  let regionHi = 0
  if (regions !== 0n) {
    load(regions)
    regionLo = loadedLo()
    regionHi = loadedHi()
  }
  const checkRegions = regionLo | regionHi
  const models = c.models
  const disabledFrom = c.disabledFrom
  const n = models.length
  // Pruning (see the comment above): only when no model can fail the budget gate — the cost is
  // monotone in the prices, so the exact cost at the largest prices bounds every model's — and
  // when the quality-adjusted value and the cost are direct (so the float bound's terms are
  // exact products). Reciprocals, not fractional literals: this arithmetic never decides.
  const inv6 = 1 / 1000000
  const inv8 = 1 / 100000000
  // per request, the bound's coefficients: bound = q·perQuality − inPrice·perIn − outPrice·perOut − penalties
  // (each coefficient is within 2^-52 relative of its real value, so the products stay within the
  // error budget above)
  const perQuality = valueConf * inv8
  const perIn = inTokens * inv6
  const perOut = outTokens * inv6
  // the largest cost is at most in·maxIn/10^6 + out·maxOut/10^6 + 2: when that (plus a margin for
  // the float products) fits the budget, no division is needed to know it
  const prune = costSplit === 0 && qaSplit === 0 &&
    (perIn * c.maxInPrice + perOut * c.maxOutPrice + 3 <= budget ||
      ((inTokens * c.maxInPrice + 999999) / 1000000 >>> 0) + ((outTokens * c.maxOutPrice + 999999) / 1000000 >>> 0) <=
        budget)
  const fixedPenalty = riskPenalty
  let nDisabled = 0
  let nQuality = 0
  let nLatency = 0
  let nCapability = 0
  let nProvider = 0
  let nRegion = 0
  let nRiskCeiling = 0
  let nBudget = 0
  let nUtility = 0
  let eligible = 0
  let best = -1
  let second = -1
  let bu = 0
  let bc = 0
  let su = 0
  let sc = 0
  for (let k = 0; k < n; k++) {
    const m = models[k] as HotModel
    const flags = m.flags
    if (flags === 1 || flags === 3) {
      nDisabled++
      continue
    }
    const q = m.quality
    if (q < minQuality) {
      // models are in descending quality: each later one fails the disabled gate or this one
      const disabledRest = disabledFrom[k] as number
      nDisabled += disabledRest
      nQuality += n - k - disabledRest
      break
    }
    if (maxLatency > 0 && m.latency > maxLatency) {
      nLatency++
      continue
    }
    if (checkCaps !== 0 && ((m.capLo & capLo) !== capLo || (m.capHi & capHi) !== capHi)) {
      nCapability++
      continue
    }
    if (flags !== 0) {
      nProvider++
      continue
    }
    if (checkProviders !== 0) {
      const p = m.provider
      if (((p < 32 ? providerLo >>> p : providerHi >>> (p - 32)) & 1) === 0) {
        nProvider++
        continue
      }
    }
    if (checkRegions !== 0 && ((m.regionLo & regionLo) | (m.regionHi & regionHi)) === 0) {
      nRegion++
      continue
    }
    if (risk > m.riskCeiling) {
      nRiskCeiling++
      continue
    }
    if (prune) {
      // the utility lies within 8 of this bound (see above): settle the model without the exact
      // divisions when it certainly fails the utility gate, or is certainly eligible and
      // strictly below the runner-up (so it can be neither the best nor the runner-up)
      const bound = q * perQuality - m.inPrice * perIn - m.outPrice * perOut - fixedPenalty - m.latencyPenalty
      // 1: fails the utility gate, 2: eligible and below the runner-up
      const settled = bound + 8 <= 0 ? 1 : second >= 0 && bound - 8 > 0 && bound + 8 <= su ? 2 : 0
      if (settled !== 0) {
        // Suffix shortcut (see above): when every model from here on passes the gates before
        // budget (by the suffix's aggregates), the same fate for all of them up to the minimum
        // quality, proved from the suffix's extreme bounds, settles them all at once.
        if (
          m.sFlags === 0 && risk <= m.sMinRiskCeiling && (maxLatency === 0 || m.sMaxLatency <= maxLatency) &&
          (checkCaps === 0 || ((m.sCapLo & capLo) === capLo && (m.sCapHi & capHi) === capHi)) &&
          (checkProviders === 0 || ((m.sProviderLo & ~providerLo) | (m.sProviderHi & ~providerHi)) === 0) &&
          (checkRegions === 0 || ((m.sRegionLo & regionLo) | (m.sRegionHi & regionHi)) !== 0)
        ) {
          const top = q * perQuality - m.sMinInPrice * perIn - m.sMinOutPrice * perOut - fixedPenalty -
            m.sMinLatencyPenalty
          if (
            settled === 1
              ? top + 8 <= 0
              : top + 8 <= su &&
                minQuality * perQuality - m.sMaxInPrice * perIn - m.sMaxOutPrice * perOut - fixedPenalty -
                      m.sMaxLatencyPenalty - 8 > 0
          ) {
            // end: the first model below the minimum quality (they are in descending quality)
            let end = n
            if (minQuality > 0) {
              let lo = k + 1
              while (lo < end) {
                const mid = (lo + end) >>> 1
                if ((models[mid] as HotModel).quality < minQuality) end = mid
                else lo = mid + 1
              }
            }
            if (settled === 1) nUtility += end - k
            else eligible += end - k
            const disabledRest = disabledFrom[end] as number
            nDisabled += disabledRest
            nQuality += n - end - disabledRest
            break
          }
        }
        if (settled === 1) nUtility++
        else eligible++
        continue
      }
    }
    const cost = costSplit === 0
      ? ((inTokens * m.inPrice + 999999) / 1000000 >>> 0) + ((outTokens * m.outPrice + 999999) / 1000000 >>> 0)
      : inTokens * m.inHigh + ((inTokens * m.inLow + 999999) / 1000000 >>> 0) + outTokens * m.outHigh +
        ((outTokens * m.outLow + 999999) / 1000000 >>> 0)
    if (cost > budget) {
      nBudget++
      continue
    }
    let qa = 0
    if (qaSplit === 0) qa = valueConf * q / 100000000 >>> 0
    else {
      const cq = confidence * q
      qa = vHigh * cq + ((vMid * cq + (vLow * cq / 10000 >>> 0)) / 10000 >>> 0)
    }
    const utility = qa - riskPenalty - cost - m.latencyPenalty
    if (utility <= 0) {
      nUtility++
      continue
    }
    eligible++
    const i = m.index
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
  // the counts are needed for a rejection's dominant reason and for a trace only
  if (best < 0 || traced) {
    // (stored modulo 2^16: the reference's wrapping u16 counters)
    counts[0] = nDisabled
    counts[1] = nQuality
    counts[2] = nRiskCeiling
    counts[3] = nLatency
    counts[4] = nCapability
    counts[5] = nProvider
    counts[6] = nRegion
    counts[7] = nBudget
    counts[8] = nUtility
  }
  if (best < 0) return reject(input, c, dominant(), c.evaluated)
  return choose(input, c, best, bigintOf(bc), bigintOf(bu), second, second < 0 ? 0n : bigintOf(su), eligible)
}

/** The exact cost of a model (SPEC §2.3 gate 9), saturated at u64 max. */
export const costOf = (model: Model, input: Input): bigint =>
  costAt(model.input_cost_microunits_per_million_tokens, model.output_cost_microunits_per_million_tokens, input)

/** The exact cost at these prices (per million tokens), saturated at u64 max. */
const costAt = (inPrice: bigint, outPrice: bigint, input: Input): bigint => {
  const a = (BigInt(input.input_tokens) * inPrice + COST_ROUNDING_BIG) / COST_SCALE_BIG
  const b = (BigInt(input.output_tokens) * outPrice + COST_ROUNDING_BIG) / COST_SCALE_BIG
  const sum = a + b
  return sum > Int.U64_MAX ? Int.U64_MAX : sum
}

interface Evaluated {
  readonly gate: number
  readonly cost: bigint
  readonly utility: bigint
}

/**
 * Exact evaluation of one model on bigints: the failing gate, or -1 with cost and utility. From
 * the compiled catalog only, as the fast path: never the snapshot, which code casting away
 * `readonly` may have edited since (a review: the exact path decided with the edited catalog, the
 * fast path and the pinned digest with the original).
 */
const evaluateBig = (policy: Policy, i: number, input: Input, value: bigint, riskPenalty: bigint): Evaluated => {
  const c = policy.compiled
  const gate = staticGate(c, i, input)
  if (gate >= 0) return { gate, cost: 0n, utility: 0n }
  const cost = costAt(c.inPriceExact[i] as bigint, c.outPriceExact[i] as bigint, input)
  if (cost > input.budget_limit_microunits) return { gate: G_BUDGET, cost, utility: 0n }
  const qualityAdjusted = value * BigInt(input.confidence_bps) * BigInt(c.quality[i] as number) / SCALED_BIG
  const latencyPenalty = c.latencyPenaltyExact[i] as bigint
  const utility = Int.clampI64(qualityAdjusted - riskPenalty - cost - latencyPenalty)
  return { gate: utility <= 0n ? G_UTILITY : -1, cost, utility }
}

/** Exact path, on bigints (any magnitude). */
const scanBig = (policy: Policy, input: Input, value: bigint, riskPenalty: bigint): Decision => {
  const c = policy.compiled
  counts.fill(0)
  loadMasks(input)
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
  if (best < 0) return reject(input, c, dominant(), c.evaluated)
  return choose(input, c, best, bc, bu, second, second < 0 ? 0n : su, eligible)
}

const positive = (value: bigint): bigint => (value > 0n ? value : 0n)

/**
 * Scans the catalog for a request that passed the hard limits. With `traced`, or on a
 * rejection, the per-gate counts are left in `counts` (the exact path always leaves them).
 */
const scan = (policy: Policy, input: Input, traced: boolean): Decision => {
  const fast = scanNumber(policy.compiled, input, traced)
  if (fast !== undefined) return fast
  const c = policy.compiled
  const valueBig = positive(input.business_value_microunits)
  const riskPenalty = valueBig * BigInt(input.risk_bps) * BigInt(c.riskMultiplier) / SCALED_BIG
  return scanBig(policy, input, valueBig, riskPenalty)
}

/** Decide one request (SPEC §2.3). Pure: the same policy and input always give the same decision. */
export const prescribe = (policy: Policy, input: Input): Decision => {
  const c = policy.compiled
  if (input.risk_bps >= c.hardRiskLimit) return reject(input, c, "RiskHardLimit", 0)
  if (input.confidence_bps < c.minimumConfidence) return reject(input, c, "ConfidenceHardLimit", 0)
  return scan(policy, input, false)
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
  const d = scan(policy, input, true)
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
