/**
 * The catalog and requests the WAL tests append: the reference's bench catalog formula over n
 * models, and requests on it, both decoded through the wire schemas (as a real caller's would be).
 */
import { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Policy from "@calybris/core/Policy"
import * as Schema from "effect/Schema"

export const U64_MAX = (1n << 64n) - 1n
export const I64_MIN = -(1n << 63n)
/** Every provider / region bit. */
export const ALL = U64_MAX

/** A Json object with these members, in this order. */
export const json = (fields: Record<string, Json.Json>): Json.JsonObject => new Map(Object.entries(fields))

/** Model i of the bench catalog. */
const model = (i: number): Json.Json =>
  json({
    model_id: i,
    provider_id: i % 6,
    quality_bps: 3000 + 300 * i,
    risk_ceiling_bps: 9500,
    enabled: 1,
    p95_latency_ms: 100 + 50 * i,
    capabilities: 0,
    region_mask: ALL,
    input_cost_microunits_per_million_tokens: 10 + 50 * i,
    output_cost_microunits_per_million_tokens: 40 + 200 * i
  })

/** The bench catalog of n models under the bench policy's limits. */
export const benchPolicy = (n: number): Policy.Policy =>
  Policy.unsafeMake(
    Schema.decodeUnknownSync(Policy.PolicySnapshot)(json({
      policy_epoch: 1,
      catalog_epoch: 1,
      hard_risk_limit_bps: 9600,
      minimum_confidence_bps: 5500,
      risk_penalty_multiplier_bps: 3500,
      latency_penalty_microunits_per_ms: 0,
      models: Array.from({ length: n }, (_, i) => model(i))
    }))
  )

/** Request s on an n-model catalog; `over` replaces members. */
export const requestInput = (s: number, n: number, over: Record<string, Json.Json> = {}): Input =>
  Schema.decodeUnknownSync(Input)(json({
    request_sequence: s,
    requested_model_id: s % n,
    input_tokens: 500 + s,
    output_tokens: 200 + s,
    business_value_microunits: 50000,
    budget_limit_microunits: 10_000_000,
    risk_bps: 100,
    confidence_bps: 6000 + s,
    minimum_quality_bps: 3000,
    max_p95_latency_ms: 0,
    required_capabilities: 0,
    allowed_provider_mask: ALL,
    required_region_mask: 0,
    ...over
  }))
