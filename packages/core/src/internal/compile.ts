/**
 * The compiled catalog: flat typed arrays per field and precomputed bounds, so the hot loop
 * of `prescribe` reads numbers, and can prove per request that every intermediate stays
 * below 2^53 (then plain numbers are exact) before taking the fast path.
 */
import type { PolicySnapshot } from "../Policy.js"

/** Every fast-path term is kept at or below 2^51, so a sum of four stays below 2^53. */
export const TERM_LIMIT = 2 ** 51
const SAFE = Number.MAX_SAFE_INTEGER

export interface Compiled {
  readonly length: number
  readonly evaluated: number
  readonly ids: Uint32Array
  readonly providers: Uint16Array
  readonly quality: Uint16Array
  readonly riskCeiling: Uint16Array
  readonly enabled: Uint8Array
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
  readonly maxQuality: number
  /** p95 · latency penalty per model, exact when `latencySafe` */
  readonly latencyPenalty: Float64Array
  readonly latencySafe: boolean
  readonly hardRiskLimit: number
  readonly minimumConfidence: number
  readonly riskMultiplier: number
}

const split = new BigUint64Array(1)
const halves = new Int32Array(split.buffer)

/** Low and high 32 bits of a u64, as int32s (no allocation). */
export const lo32 = (value: bigint): number => {
  split[0] = value
  return halves[0] as number
}
export const hi32 = (value: bigint): number => {
  split[0] = value
  return halves[1] as number
}

export const compile = (snapshot: PolicySnapshot): Compiled => {
  const models = snapshot.models
  const n = models.length
  const ids = new Uint32Array(n)
  const providers = new Uint16Array(n)
  const quality = new Uint16Array(n)
  const riskCeiling = new Uint16Array(n)
  const enabled = new Uint8Array(n)
  const latency = new Uint32Array(n)
  const capLo = new Int32Array(n)
  const capHi = new Int32Array(n)
  const regionLo = new Int32Array(n)
  const regionHi = new Int32Array(n)
  const inPrice = new Float64Array(n)
  const outPrice = new Float64Array(n)
  const latencyPenalty = new Float64Array(n)
  let maxInPrice = 0
  let maxOutPrice = 0
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
    latency[i] = m.p95_latency_ms
    capLo[i] = lo32(m.capabilities)
    capHi[i] = hi32(m.capabilities)
    regionLo[i] = lo32(m.region_mask)
    regionHi[i] = hi32(m.region_mask)
    const pin = m.input_cost_microunits_per_million_tokens
    const pout = m.output_cost_microunits_per_million_tokens
    inPrice[i] = Number(pin)
    outPrice[i] = Number(pout)
    maxInPrice = pin > BigInt(SAFE) ? Infinity : Math.max(maxInPrice, Number(pin))
    maxOutPrice = pout > BigInt(SAFE) ? Infinity : Math.max(maxOutPrice, Number(pout))
    if (m.quality_bps > maxQuality) maxQuality = m.quality_bps
    const lp = BigInt(m.p95_latency_ms) * penalty
    if (lp > BigInt(TERM_LIMIT)) latencySafe = false
    latencyPenalty[i] = Number(lp)
  }
  return {
    length: n,
    evaluated: Math.min(n, 0xffff),
    ids,
    providers,
    quality,
    riskCeiling,
    enabled,
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
    latencySafe,
    hardRiskLimit: snapshot.hard_risk_limit_bps,
    minimumConfidence: snapshot.minimum_confidence_bps,
    riskMultiplier: snapshot.risk_penalty_multiplier_bps
  }
}
