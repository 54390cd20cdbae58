/**
 * The compiled catalog: one small object of hot fields and per-model constants per model (the
 * fast scan), flat typed arrays per field (masks, ids, the exact path) and precomputed bounds,
 * so the hot loop of `prescribe` reads numbers, and can prove per request that every
 * intermediate stays below 2^53 (then plain numbers are exact) before taking the fast path.
 *
 * The exact bigint ⇄ number conversions of the hot path live in ../Word.ts.
 */
import type { PolicySnapshot } from "../Policy.js"
import { hi32, lo32 } from "../Word.js"

/** Every fast-path term is kept at or below 2^51, so a sum of four stays below 2^53. */
export const TERM_LIMIT = 2 ** 51
const SAFE = Number.MAX_SAFE_INTEGER

/** Per-model flags: gates that depend on the model alone. */
export const F_DISABLED = 1
export const F_BAD_PROVIDER = 2

/**
 * The hot fields of one model, as one small object per model, all of one hidden class: the
 * scan loads each model once with one map check, then reads fields without bounds checks.
 * Built by an object literal (not a class: class fields start as `undefined`, which would make
 * V8 keep every field tagged and check it on each read). Prices and penalties are exact only
 * where the catalog bounds say so.
 */
export interface HotModel {
  readonly quality: number
  readonly riskCeiling: number
  readonly inPrice: number
  readonly outPrice: number
  /** ⌊inPrice / 10^6⌋ and inPrice mod 10^6 (the split cost formula of large token·price products) */
  readonly inHigh: number
  readonly inLow: number
  readonly outHigh: number
  readonly outLow: number
  readonly latencyPenalty: number
  /** F_DISABLED | F_BAD_PROVIDER */
  readonly flags: number
  readonly latency: number
  readonly provider: number
  /** the model's position in the catalog (the decision's `selected_model_index`, tie-breaks) */
  readonly index: number
  readonly capLo: number
  readonly capHi: number
  readonly regionLo: number
  readonly regionHi: number
  /**
   * Aggregates over this model and every later one in scan order (the suffix `models[k..]`), for
   * the scan's suffix shortcuts: the OR of the flags, the largest p95 latency, the AND of the
   * capability halves, the OR of the provider bits (providers ≤ 63 only; a larger one sets
   * F_BAD_PROVIDER in `sFlags`), the AND of the region halves, the smallest risk ceiling, and
   * the least and largest prices and latency penalties.
   */
  readonly sFlags: number
  readonly sMaxLatency: number
  readonly sCapLo: number
  readonly sCapHi: number
  readonly sProviderLo: number
  readonly sProviderHi: number
  readonly sRegionLo: number
  readonly sRegionHi: number
  readonly sMinRiskCeiling: number
  readonly sMinInPrice: number
  readonly sMaxInPrice: number
  readonly sMinOutPrice: number
  readonly sMaxOutPrice: number
  readonly sMinLatencyPenalty: number
  readonly sMaxLatencyPenalty: number
}

export interface Compiled {
  readonly length: number
  readonly evaluated: number
  readonly ids: Uint32Array
  readonly providers: Uint16Array
  readonly quality: Uint16Array
  readonly riskCeiling: Uint16Array
  readonly enabled: Uint8Array
  /** F_DISABLED when `enabled == 0`, F_BAD_PROVIDER when `provider_id > 63` */
  readonly flags: Uint8Array
  readonly latency: Uint32Array
  readonly capLo: Int32Array
  readonly capHi: Int32Array
  readonly regionLo: Int32Array
  readonly regionHi: Int32Array
  /** prices as numbers; exact only where the matching max is finite */
  readonly inPrice: Float64Array
  readonly outPrice: Float64Array
  /** the largest price, or Infinity when some price is above 2^53 − 1 */
  readonly maxInPrice: number
  readonly maxOutPrice: number
  /** the largest ⌊price / 10^6⌋, or Infinity when some price is above 2^53 − 1 */
  readonly maxInHigh: number
  readonly maxOutHigh: number
  readonly maxQuality: number
  /** p95 · latency penalty per model, exact when `latencySafe` */
  readonly latencyPenalty: Float64Array
  /**
   * The exact path's figures, as bigints: each model's prices and p95 · latency penalty. The
   * kernel reads nothing of the snapshot after `compile`, so a snapshot edited in place (a cast
   * away `readonly`) changes neither path: both decide with the catalog the pinned digest names
   */
  readonly inPriceExact: ReadonlyArray<bigint>
  readonly outPriceExact: ReadonlyArray<bigint>
  readonly latencyPenaltyExact: ReadonlyArray<bigint>
  /** every latency penalty is at most TERM_LIMIT */
  readonly latencySafe: boolean
  /**
   * The hot models in descending quality order, stable (equal qualities keep catalog order):
   * the scan meets the strongest candidates first, and the models below a request's minimum
   * quality form a suffix it counts without visiting.
   */
  readonly models: ReadonlyArray<HotModel>
  /** `disabledFrom[k]`: how many of `models[k..]` are disabled (length n + 1) */
  readonly disabledFrom: Int32Array
  readonly hardRiskLimit: number
  readonly minimumConfidence: number
  readonly riskMultiplier: number
  readonly policyEpoch: bigint
  readonly catalogEpoch: bigint
}

export const compile = (snapshot: PolicySnapshot): Compiled => {
  const models = snapshot.models
  const n = models.length
  const ids = new Uint32Array(n)
  const providers = new Uint16Array(n)
  const quality = new Uint16Array(n)
  const riskCeiling = new Uint16Array(n)
  const enabled = new Uint8Array(n)
  const flags = new Uint8Array(n)
  const latency = new Uint32Array(n)
  const capLo = new Int32Array(n)
  const capHi = new Int32Array(n)
  const regionLo = new Int32Array(n)
  const regionHi = new Int32Array(n)
  const inPrice = new Float64Array(n)
  const outPrice = new Float64Array(n)
  const latencyPenalty = new Float64Array(n)
  const inPriceExact = new Array<bigint>(n).fill(0n)
  const outPriceExact = new Array<bigint>(n).fill(0n)
  const latencyPenaltyExact = new Array<bigint>(n).fill(0n)
  const hot: Array<Omit<HotModel, `s${string}`>> = []
  let maxInPrice = 0
  let maxOutPrice = 0
  let maxInHigh = 0
  let maxOutHigh = 0
  let maxQuality = 0
  let latencySafe = true
  const penalty = snapshot.latency_penalty_microunits_per_ms
  for (let i = 0; i < n; i++) {
    const m = models[i]
    if (m === undefined) continue
    ids[i] = m.model_id
    providers[i] = m.provider_id
    quality[i] = m.quality_bps
    riskCeiling[i] = m.risk_ceiling_bps
    enabled[i] = m.enabled
    flags[i] = (m.enabled === 0 ? F_DISABLED : 0) | (m.provider_id > 63 ? F_BAD_PROVIDER : 0)
    latency[i] = m.p95_latency_ms
    capLo[i] = lo32(m.capabilities)
    capHi[i] = hi32(m.capabilities)
    regionLo[i] = lo32(m.region_mask)
    regionHi[i] = hi32(m.region_mask)
    const pin = m.input_cost_microunits_per_million_tokens
    const pout = m.output_cost_microunits_per_million_tokens
    inPrice[i] = Number(pin)
    outPrice[i] = Number(pout)
    inPriceExact[i] = pin
    outPriceExact[i] = pout
    maxInPrice = pin > BigInt(SAFE) ? Infinity : Math.max(maxInPrice, Number(pin))
    maxOutPrice = pout > BigInt(SAFE) ? Infinity : Math.max(maxOutPrice, Number(pout))
    maxInHigh = pin > BigInt(SAFE) ? Infinity : Math.max(maxInHigh, Number(pin / 1_000_000n))
    maxOutHigh = pout > BigInt(SAFE) ? Infinity : Math.max(maxOutHigh, Number(pout / 1_000_000n))
    if (m.quality_bps > maxQuality) maxQuality = m.quality_bps
    const lp = BigInt(m.p95_latency_ms) * penalty
    if (lp > BigInt(TERM_LIMIT)) latencySafe = false
    latencyPenalty[i] = Number(lp)
    latencyPenaltyExact[i] = lp
    hot.push({
      quality: m.quality_bps,
      riskCeiling: m.risk_ceiling_bps,
      inPrice: inPrice[i] as number,
      outPrice: outPrice[i] as number,
      inHigh: Number(pin / 1_000_000n),
      inLow: Number(pin % 1_000_000n),
      outHigh: Number(pout / 1_000_000n),
      outLow: Number(pout % 1_000_000n),
      latencyPenalty: latencyPenalty[i] as number,
      flags: flags[i] as number,
      latency: m.p95_latency_ms,
      provider: m.provider_id,
      index: i,
      capLo: capLo[i] as number,
      capHi: capHi[i] as number,
      regionLo: regionLo[i] as number,
      regionHi: regionHi[i] as number
    })
  }
  // Array.prototype.sort is stable: equal qualities keep catalog order
  hot.sort((a, b) => b.quality - a.quality)
  // the suffix aggregates, from the last model back; then the final objects (all built by one
  // literal: one hidden class), pushed last to first and reversed (a packed array, in scan order)
  const hotModels: Array<HotModel> = []
  let sFlags = 0
  let sMaxLatency = 0
  let sCapLo = -1
  let sCapHi = -1
  let sProviderLo = 0
  let sProviderHi = 0
  let sRegionLo = -1
  let sRegionHi = -1
  let sMinRiskCeiling = Infinity
  let sMinInPrice = Infinity
  let sMaxInPrice = 0
  let sMinOutPrice = Infinity
  let sMaxOutPrice = 0
  let sMinLatencyPenalty = Infinity
  let sMaxLatencyPenalty = 0
  for (let k = hot.length - 1; k >= 0; k--) {
    const m = hot[k] as Omit<HotModel, `s${string}`>
    sFlags |= m.flags
    sMaxLatency = Math.max(sMaxLatency, m.latency)
    sCapLo &= m.capLo
    sCapHi &= m.capHi
    if (m.provider < 32) sProviderLo |= 1 << m.provider
    else if (m.provider < 64) sProviderHi |= 1 << (m.provider - 32)
    sRegionLo &= m.regionLo
    sRegionHi &= m.regionHi
    sMinRiskCeiling = Math.min(sMinRiskCeiling, m.riskCeiling)
    sMinInPrice = Math.min(sMinInPrice, m.inPrice)
    sMaxInPrice = Math.max(sMaxInPrice, m.inPrice)
    sMinOutPrice = Math.min(sMinOutPrice, m.outPrice)
    sMaxOutPrice = Math.max(sMaxOutPrice, m.outPrice)
    sMinLatencyPenalty = Math.min(sMinLatencyPenalty, m.latencyPenalty)
    sMaxLatencyPenalty = Math.max(sMaxLatencyPenalty, m.latencyPenalty)
    hotModels.push({
      quality: m.quality,
      riskCeiling: m.riskCeiling,
      inPrice: m.inPrice,
      outPrice: m.outPrice,
      inHigh: m.inHigh,
      inLow: m.inLow,
      outHigh: m.outHigh,
      outLow: m.outLow,
      latencyPenalty: m.latencyPenalty,
      flags: m.flags,
      latency: m.latency,
      provider: m.provider,
      index: m.index,
      capLo: m.capLo,
      capHi: m.capHi,
      regionLo: m.regionLo,
      regionHi: m.regionHi,
      sFlags,
      sMaxLatency,
      sCapLo,
      sCapHi,
      sProviderLo,
      sProviderHi,
      sRegionLo,
      sRegionHi,
      sMinRiskCeiling,
      sMinInPrice,
      sMaxInPrice,
      sMinOutPrice,
      sMaxOutPrice,
      sMinLatencyPenalty,
      sMaxLatencyPenalty
    })
  }
  hotModels.reverse()
  const disabledFrom = new Int32Array(hotModels.length + 1)
  for (let k = hotModels.length - 1; k >= 0; k--) {
    disabledFrom[k] = (disabledFrom[k + 1] as number) + ((hotModels[k] as HotModel).flags & F_DISABLED)
  }
  return {
    length: n,
    evaluated: Math.min(n, 0xffff),
    ids,
    providers,
    quality,
    riskCeiling,
    enabled,
    flags,
    latency,
    capLo,
    capHi,
    regionLo,
    regionHi,
    inPrice,
    outPrice,
    maxInPrice,
    maxOutPrice,
    maxQuality,
    latencyPenalty,
    inPriceExact,
    outPriceExact,
    latencyPenaltyExact,
    latencySafe,
    maxInHigh,
    maxOutHigh,
    models: hotModels,
    disabledFrom,
    hardRiskLimit: snapshot.hard_risk_limit_bps,
    minimumConfidence: snapshot.minimum_confidence_bps,
    riskMultiplier: snapshot.risk_penalty_multiplier_bps,
    policyEpoch: snapshot.policy_epoch,
    catalogEpoch: snapshot.catalog_epoch
  }
}
