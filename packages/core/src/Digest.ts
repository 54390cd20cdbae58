/**
 * Canonical, version-tagged SHA-256 digests (SPEC §3): fixed little-endian byte layouts,
 * each starting with a 9-byte tag. A single changed bit of any field changes the digest.
 */
import * as Decision from "./Decision.js"
import { defaultHash, type HashFunctions, toHex } from "./Hash.js"
import type { Input } from "./Input.js"
import type { Model } from "./Model.js"
import type { Policy, PolicySnapshot } from "./Policy.js"

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** The 9-byte domain tags: ASCII text then one zero byte. */
export const TAG_POLICY = ascii("calypol1\0")
export const TAG_INPUT = ascii("calyinp1\0")
export const TAG_DECISION = ascii("calydcn1\0")
export const TAG_LEDGER = ascii("calyldg1\0")

/** A little-endian byte writer over a growable buffer. */
export class ByteWriter {
  private buffer: Uint8Array
  private view: DataView
  offset = 0
  constructor(capacity = 256) {
    this.buffer = new Uint8Array(capacity)
    this.view = new DataView(this.buffer.buffer)
  }
  private ensure(n: number) {
    if (this.offset + n <= this.buffer.length) return
    const next = new Uint8Array(Math.max(this.buffer.length * 2, this.offset + n))
    next.set(this.buffer)
    this.buffer = next
    this.view = new DataView(next.buffer)
  }
  reset(): this {
    this.offset = 0
    return this
  }
  bytes(data: Uint8Array): this {
    this.ensure(data.length)
    this.buffer.set(data, this.offset)
    this.offset += data.length
    return this
  }
  u8(value: number): this {
    this.ensure(1)
    this.view.setUint8(this.offset, value)
    this.offset += 1
    return this
  }
  u16(value: number): this {
    this.ensure(2)
    this.view.setUint16(this.offset, value, true)
    this.offset += 2
    return this
  }
  u32(value: number): this {
    this.ensure(4)
    this.view.setUint32(this.offset, value, true)
    this.offset += 4
    return this
  }
  u64(value: bigint): this {
    this.ensure(8)
    this.view.setBigUint64(this.offset, value, true)
    this.offset += 8
    return this
  }
  i64(value: bigint): this {
    this.ensure(8)
    this.view.setBigInt64(this.offset, value, true)
    this.offset += 8
    return this
  }
  /** The bytes written so far (a view: copy it if you keep it past the next write). */
  view8(): Uint8Array {
    return this.buffer.subarray(0, this.offset)
  }
}

const writer = new ByteWriter(512)

const writeModel = (w: ByteWriter, m: Model) =>
  w.u32(m.model_id)
    .u16(m.provider_id)
    .u16(m.quality_bps)
    .u16(m.risk_ceiling_bps)
    .u8(m.enabled)
    .u32(m.p95_latency_ms)
    .u64(m.capabilities)
    .u64(m.region_mask)
    .u64(m.input_cost_microunits_per_million_tokens)
    .u64(m.output_cost_microunits_per_million_tokens)

/** The canonical preimage of a policy snapshot (models in ascending id order, stable). */
export const policyPreimage = (snapshot: PolicySnapshot): Uint8Array => {
  const w = new ByteWriter(39 + 47 * snapshot.models.length)
  w.bytes(TAG_POLICY)
    .u64(snapshot.policy_epoch)
    .u64(snapshot.catalog_epoch)
    .u16(snapshot.hard_risk_limit_bps)
    .u16(snapshot.minimum_confidence_bps)
    .u16(snapshot.risk_penalty_multiplier_bps)
    .u64(snapshot.latency_penalty_microunits_per_ms)
  const sorted = snapshot.models
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.model_id - b.m.model_id || a.i - b.i)
  for (const { m } of sorted) writeModel(w, m)
  return w.view8()
}

/** The canonical preimage of an input (79 bytes; a view into a shared buffer). */
export const inputPreimage = (input: Input): Uint8Array =>
  writer.reset()
    .bytes(TAG_INPUT)
    .u64(input.request_sequence)
    .u32(input.requested_model_id)
    .u32(input.input_tokens)
    .u32(input.output_tokens)
    .i64(input.business_value_microunits)
    .u64(input.budget_limit_microunits)
    .u16(input.risk_bps)
    .u16(input.confidence_bps)
    .u16(input.minimum_quality_bps)
    .u32(input.max_p95_latency_ms)
    .u64(input.required_capabilities)
    .u64(input.allowed_provider_mask)
    .u64(input.required_region_mask)
    .view8()

/** The canonical preimage of a decision (74 bytes; a view into a shared buffer). */
export const decisionPreimage = (d: Decision.Decision): Uint8Array =>
  writer.reset()
    .bytes(TAG_DECISION)
    .u64(d.request_sequence)
    .u8(Decision.actionCode[d.action])
    .u16(Decision.reasonCode[d.reason])
    .u32(d.selected_model_id)
    .u16(d.selected_model_index)
    .u64(d.estimated_cost_microunits)
    .i64(d.expected_utility_microunits)
    .u32(d.counterfactual_model_id)
    .i64(d.counterfactual_utility_microunits)
    .u16(d.evaluated_models)
    .u16(d.eligible_models)
    .u64(d.policy_epoch)
    .u64(d.catalog_epoch)
    .view8()

const policyCache = new WeakMap<PolicySnapshot, string>()

/** Hex SHA-256 of a policy's canonical bytes (cached per snapshot object: snapshots are immutable). */
export const policyDigest = (policy: Policy | PolicySnapshot, hash: HashFunctions = defaultHash): string => {
  const snapshot = "snapshot" in policy ? policy.snapshot : policy
  const cached = hash === defaultHash ? policyCache.get(snapshot) : undefined
  if (cached !== undefined) return cached
  const hex = toHex(hash.sha256(policyPreimage(snapshot)))
  if (hash === defaultHash) policyCache.set(snapshot, hex)
  return hex
}

/** Hex SHA-256 of an input's canonical bytes. */
export const inputDigest = (input: Input, hash: HashFunctions = defaultHash): string =>
  toHex(hash.sha256(inputPreimage(input)))

/** Hex SHA-256 of a decision's canonical bytes. */
export const decisionDigest = (decision: Decision.Decision, hash: HashFunctions = defaultHash): string =>
  toHex(hash.sha256(decisionPreimage(decision)))
