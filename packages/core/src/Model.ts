/**
 * A catalog entry (SPEC §2.1): one model, venue or route the kernel can choose.
 */
import type * as Schema from "effect/Schema"
import * as Int from "./Int.js"
import { jsonObject, validator } from "./JsonSchema.js"

/** Wire fields of a model, in wire order. */
export const fields = {
  model_id: Int.U32,
  provider_id: Int.U16,
  quality_bps: Int.U16,
  risk_ceiling_bps: Int.U16,
  enabled: Int.U8,
  p95_latency_ms: Int.U32,
  capabilities: Int.U64,
  region_mask: Int.U64,
  input_cost_microunits_per_million_tokens: Int.U64,
  output_cost_microunits_per_million_tokens: Int.U64
}

/** A model as it travels on the wire (decodes from / encodes to a Json object). */
export const Model = jsonObject(fields, "KernelModel")
export type Model = typeof Model.Type
export type Encoded = Schema.Schema.Encoded<typeof Model>

/**
 * A model from plain numbers and bigints, every field checked against its width (a `ParseError`
 * naming the field and the value): the way to build one without a cast. A catalog's own rules
 * (SPEC §2.2) are `Policy.make`'s.
 */
export const make = validator(Model)
