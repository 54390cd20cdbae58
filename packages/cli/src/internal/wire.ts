/**
 * Fast paths for the batch hot loop of `prescribe`, each equal to the Schema path it shortcuts
 * (property-tested in `test/wire.test.ts`):
 *
 * - `decodeInput`: validates a parsed Json value as an `Input` field by field without the Schema
 *   machinery; it answers `undefined` for anything it does not accept, and the caller then runs
 *   the Schema decoder, whose error names the field and the value. So the Schema stays the
 *   authority on what is valid and on every message;
 * - `printDecision` / `printTrace` / `printAudit`: the compact canonical JSON (SPEC §7) of
 *   values whose members are integers, booleans, enum names and hex digests, byte for byte what
 *   `Json.print(Schema.encodeSync(…))` gives.
 *
 * Schema decoding and encoding cost ~50 µs each per line; these cost a few.
 */
import type { Decision, Trace } from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import type { AuditBundle } from "@calybris/core/Verify"

const u = (v: Json.Json | undefined, max: number): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined

const big = (v: Json.Json | undefined, min: bigint, max: bigint): bigint | undefined => {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) return undefined
    const b = BigInt(v)
    return b >= min && b <= max ? b : undefined
  }
  return typeof v === "bigint" && v >= min && v <= max ? v : undefined
}

/** The Input of a parsed Json value, or `undefined` (then ask the Schema why). */
export const decodeInput = (json: Json.Json): Input | undefined => {
  if (!Json.isObject(json)) return undefined
  const request_sequence = big(json.get("request_sequence"), 0n, Int.U64_MAX)
  const requested_model_id = u(json.get("requested_model_id"), Int.U32_MAX)
  const input_tokens = u(json.get("input_tokens"), Int.U32_MAX)
  const output_tokens = u(json.get("output_tokens"), Int.U32_MAX)
  const business_value_microunits = big(json.get("business_value_microunits"), Int.I64_MIN, Int.I64_MAX)
  const budget_limit_microunits = big(json.get("budget_limit_microunits"), 0n, Int.U64_MAX)
  const risk_bps = u(json.get("risk_bps"), Int.U16_MAX)
  const confidence_bps = u(json.get("confidence_bps"), Int.U16_MAX)
  const minimum_quality_bps = u(json.get("minimum_quality_bps"), Int.U16_MAX)
  const max_p95_latency_ms = u(json.get("max_p95_latency_ms"), Int.U32_MAX)
  const required_capabilities = big(json.get("required_capabilities"), 0n, Int.U64_MAX)
  const allowed_provider_mask = big(json.get("allowed_provider_mask"), 0n, Int.U64_MAX)
  const required_region_mask = big(json.get("required_region_mask"), 0n, Int.U64_MAX)
  if (
    request_sequence === undefined || requested_model_id === undefined || input_tokens === undefined ||
    output_tokens === undefined || business_value_microunits === undefined || budget_limit_microunits === undefined ||
    risk_bps === undefined || confidence_bps === undefined || minimum_quality_bps === undefined ||
    max_p95_latency_ms === undefined || required_capabilities === undefined || allowed_provider_mask === undefined ||
    required_region_mask === undefined
  ) return undefined
  return {
    request_sequence,
    requested_model_id,
    input_tokens,
    output_tokens,
    business_value_microunits,
    budget_limit_microunits,
    risk_bps,
    confidence_bps,
    minimum_quality_bps,
    max_p95_latency_ms,
    required_capabilities,
    allowed_provider_mask,
    required_region_mask
  } as Input
}

/** `Json.print` of an encoded decision. */
export const printDecision = (d: Decision): string =>
  `{"request_sequence":${d.request_sequence},"action":"${d.action}","reason":"${d.reason}","selected_model_id":${d.selected_model_id},"selected_model_index":${d.selected_model_index},"estimated_cost_microunits":${d.estimated_cost_microunits},"expected_utility_microunits":${d.expected_utility_microunits},"counterfactual_model_id":${d.counterfactual_model_id},"counterfactual_utility_microunits":${d.counterfactual_utility_microunits},"evaluated_models":${d.evaluated_models},"eligible_models":${d.eligible_models},"policy_epoch":${d.policy_epoch},"catalog_epoch":${d.catalog_epoch}}`

/** `Json.print` of an encoded trace. */
export const printTrace = (t: Trace): string => {
  const r = t.rejections
  return `{"rejections":{"disabled":${r.disabled},"quality":${r.quality},"risk_ceiling":${r.risk_ceiling},"latency":${r.latency},"capability":${r.capability},"provider":${r.provider},"region":${r.region},"budget":${r.budget},"utility":${r.utility}},"evaluated_models":${t.evaluated_models},"eligible_models":${t.eligible_models}}`
}

/** `Json.print` of an encoded audit bundle. */
export const printAudit = (a: AuditBundle): string =>
  `{"policy_digest_hex":${Json.print(a.policy_digest_hex)},"input_digest_hex":${
    Json.print(a.input_digest_hex)
  },"decision_digest_hex":${Json.print(a.decision_digest_hex)},"replay_valid":${a.replay_valid}}`
