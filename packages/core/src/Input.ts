/**
 * One request to decide (SPEC §2.1).
 */
import * as Int from "./Int.js"
import { jsonObject, validator } from "./JsonSchema.js"

/** Wire fields of an input, in wire order. */
export const fields = {
  request_sequence: Int.U64,
  requested_model_id: Int.U32,
  input_tokens: Int.U32,
  output_tokens: Int.U32,
  business_value_microunits: Int.I64,
  budget_limit_microunits: Int.U64,
  risk_bps: Int.U16,
  confidence_bps: Int.U16,
  minimum_quality_bps: Int.U16,
  max_p95_latency_ms: Int.U32,
  required_capabilities: Int.U64,
  allowed_provider_mask: Int.U64,
  required_region_mask: Int.U64
}

/** An input as it travels on the wire (decodes from / encodes to a Json object). */
export const Input = jsonObject(fields, "KernelInput")
export type Input = typeof Input.Type

/**
 * An input from plain numbers and bigints, every field checked against its width (a `ParseError`
 * naming the field and the value; a request sequence past 2^64 − 1 would otherwise digest as
 * another one): the way to build one without a cast.
 */
export const make = validator(Input)
