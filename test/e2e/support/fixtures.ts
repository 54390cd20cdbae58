/** Wire documents for the e2e tests, written as text (so 64-bit values stay exact). */

/** Three models; a policy the quickstart also uses. */
export const policyText = `{
  "policy_epoch": 18446744073709551615, "catalog_epoch": 9007199254740993,
  "hard_risk_limit_bps": 9600, "minimum_confidence_bps": 5500, "risk_penalty_multiplier_bps": 3500,
  "latency_penalty_microunits_per_ms": 2,
  "models": [
    {"model_id": 10, "provider_id": 0, "quality_bps": 7500, "risk_ceiling_bps": 9500, "enabled": 1,
     "p95_latency_ms": 180, "capabilities": 0, "region_mask": 18446744073709551615,
     "input_cost_microunits_per_million_tokens": 150000, "output_cost_microunits_per_million_tokens": 600000},
    {"model_id": 20, "provider_id": 1, "quality_bps": 8600, "risk_ceiling_bps": 9500, "enabled": 1,
     "p95_latency_ms": 300, "capabilities": 0, "region_mask": 18446744073709551615,
     "input_cost_microunits_per_million_tokens": 1000000, "output_cost_microunits_per_million_tokens": 4000000},
    {"model_id": 30, "provider_id": 2, "quality_bps": 9000, "risk_ceiling_bps": 9500, "enabled": 1,
     "p95_latency_ms": 450, "capabilities": 0, "region_mask": 18446744073709551615,
     "input_cost_microunits_per_million_tokens": 2500000, "output_cost_microunits_per_million_tokens": 10000000}
  ]
}
`

export interface InputFields {
  readonly request_sequence?: string
  readonly requested_model_id?: string
  readonly input_tokens?: string
  readonly output_tokens?: string
  readonly business_value_microunits?: string
  readonly budget_limit_microunits?: string
  readonly risk_bps?: string
  readonly confidence_bps?: string
  readonly minimum_quality_bps?: string
  readonly max_p95_latency_ms?: string
  readonly required_capabilities?: string
  readonly allowed_provider_mask?: string
  readonly required_region_mask?: string
}

const defaults: Required<InputFields> = {
  request_sequence: "1",
  requested_model_id: "20",
  input_tokens: "2000",
  output_tokens: "500",
  business_value_microunits: "100000000",
  budget_limit_microunits: "20000000",
  risk_bps: "1000",
  confidence_bps: "9000",
  minimum_quality_bps: "7000",
  max_p95_latency_ms: "1000",
  required_capabilities: "0",
  allowed_provider_mask: "18446744073709551615",
  required_region_mask: "1"
}

/** One input as a compact JSON line (fields given as literal JSON text). */
export const inputLine = (over: InputFields = {}): string => {
  const fields = { ...defaults, ...over }
  return `{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(",")}}`
}
