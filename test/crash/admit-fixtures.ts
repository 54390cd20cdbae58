/** The policy and inputs of the admits in the ledger crash test (shared by the test and its child). */
import type { Input } from "@calybris/core/Input"
import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"

const ALL = (1n << 64n) - 1n

const model = (id: number, quality: number, inPrice: bigint, outPrice: bigint): Model =>
  ({
    model_id: id,
    provider_id: id % 4,
    quality_bps: quality,
    risk_ceiling_bps: 9000,
    enabled: 1,
    p95_latency_ms: 100 + id,
    capabilities: 0n,
    region_mask: ALL,
    input_cost_microunits_per_million_tokens: inPrice,
    output_cost_microunits_per_million_tokens: outPrice
  }) as Model

export const policy = Policy.unsafeMake({
  policy_epoch: 3n,
  catalog_epoch: 1n,
  hard_risk_limit_bps: 9000,
  minimum_confidence_bps: 5000,
  risk_penalty_multiplier_bps: 3500,
  latency_penalty_microunits_per_ms: 1n,
  models: [model(1, 7000, 150_000n, 600_000n), model(2, 9000, 2_500_000n, 10_000_000n)]
} as unknown as Policy.PolicySnapshot)

/** An input whose cost grows with `tokens`. */
export const input = (sequence: bigint, tokens: number): Input =>
  ({
    request_sequence: sequence,
    requested_model_id: 2,
    input_tokens: tokens,
    output_tokens: 500,
    business_value_microunits: 100_000_000n,
    budget_limit_microunits: 20_000_000n,
    risk_bps: 1000,
    confidence_bps: 9000,
    minimum_quality_bps: 0,
    max_p95_latency_ms: 0,
    required_capabilities: 0n,
    allowed_provider_mask: ALL,
    required_region_mask: 0n
  }) as Input
