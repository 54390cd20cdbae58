/**
 * Canonical, version-tagged SHA-256 digests (SPEC §3): fixed little-endian byte layouts,
 * each starting with a 9-byte tag. A single changed bit of any field changes the digest.
 */
import type * as Decision from "./Decision.js"
import { defaultHash, type HashFunctions, sha256Hex, toHex } from "./Hash.js"
import type { Input } from "./Input.js"
import type { Model } from "./Model.js"
import type { Policy, PolicySnapshot } from "./Policy.js"
import { load, loadedHi, loadedLo } from "./Word.js"

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** The 9-byte domain tags: ASCII text then one zero byte. */
export const TAG_POLICY: Uint8Array = ascii("calypol1\0")
export const TAG_INPUT: Uint8Array = ascii("calyinp1\0")
export const TAG_DECISION: Uint8Array = ascii("calydcn1\0")
export const TAG_LEDGER: Uint8Array = ascii("calyldg1\0")

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

/**
 * The fixed-size preimages are written straight into two preallocated buffers whose tags are
 * set once: u8/u16/u32 fields through a little-endian DataView (inlined by V8), 64-bit fields
 * through the scratch word of ./Word.ts split into 32-bit halves — `DataView.setBigUint64` is
 * a slow builtin call in V8, a BigInt64Array store much cheaper.
 */
/** A u64 or i64 (two's complement) at `offset`, little-endian. */
const put64 = (view: DataView, offset: number, value: bigint) => {
  load(value)
  view.setInt32(offset, loadedLo(), true)
  view.setInt32(offset + 4, loadedHi(), true)
}

const INPUT_BYTES = new Uint8Array(79)
INPUT_BYTES.set(TAG_INPUT)
const inputView = new DataView(INPUT_BYTES.buffer)

const DECISION_BYTES = new Uint8Array(74)
DECISION_BYTES.set(TAG_DECISION)
const decisionView = new DataView(DECISION_BYTES.buffer)

/** `Decision.actionCode` as a switch (a compare of interned strings, no keyed lookup). */
const actionCode = (action: Decision.Action): number => {
  switch (action) {
    case "ExecuteRequested":
      return 1
    case "Substitute":
      return 2
    case "Reject":
      return 3
    default:
      return notOne("action", action)
  }
}

/**
 * A decision's action or reason that is none of the reference's (only a value built with a cast
 * can hold one): a defect, never the code 0 that every such value would share in the digest.
 */
const notOne = (field: string, value: never): never => {
  throw new RangeError(`Digest: a decision's ${field} ${JSON.stringify(value)} is none of the reference's`)
}

/** `Decision.reasonCode` as a switch. */
const reasonCode = (reason: Decision.Reason): number => {
  switch (reason) {
    case "RequestedModelMaximizesUtility":
      return 1
    case "AlternativeMaximizesUtility":
      return 2
    case "RiskHardLimit":
      return 100
    case "ConfidenceHardLimit":
      return 101
    case "NoEnabledModel":
      return 102
    case "QualityConstraint":
      return 103
    case "LatencyConstraint":
      return 104
    case "CapabilityConstraint":
      return 105
    case "ProviderConstraint":
      return 106
    case "RegionConstraint":
      return 107
    case "BudgetConstraint":
      return 108
    case "NonPositiveUtility":
      return 109
    case "RiskCeilingConstraint":
      return 110
    default:
      return notOne("reason", reason)
  }
}

/** The canonical preimage of an input (79 bytes; a view into a shared buffer: copy it to keep it). */
export const inputPreimage = (input: Input): Uint8Array => {
  const v = inputView
  put64(v, 9, input.request_sequence)
  v.setUint32(17, input.requested_model_id, true)
  v.setUint32(21, input.input_tokens, true)
  v.setUint32(25, input.output_tokens, true)
  put64(v, 29, input.business_value_microunits)
  put64(v, 37, input.budget_limit_microunits)
  v.setUint16(45, input.risk_bps, true)
  v.setUint16(47, input.confidence_bps, true)
  v.setUint16(49, input.minimum_quality_bps, true)
  v.setUint32(51, input.max_p95_latency_ms, true)
  put64(v, 55, input.required_capabilities)
  put64(v, 63, input.allowed_provider_mask)
  put64(v, 71, input.required_region_mask)
  return INPUT_BYTES
}

/** The canonical preimage of a decision (74 bytes; a view into a shared buffer: copy it to keep it). */
export const decisionPreimage = (d: Decision.Decision): Uint8Array => {
  const v = decisionView
  put64(v, 9, d.request_sequence)
  v.setUint8(17, actionCode(d.action))
  v.setUint16(18, reasonCode(d.reason), true)
  v.setUint32(20, d.selected_model_id, true)
  v.setUint16(24, d.selected_model_index, true)
  put64(v, 26, d.estimated_cost_microunits)
  put64(v, 34, d.expected_utility_microunits)
  v.setUint32(42, d.counterfactual_model_id, true)
  put64(v, 46, d.counterfactual_utility_microunits)
  v.setUint16(54, d.evaluated_models, true)
  v.setUint16(56, d.eligible_models, true)
  put64(v, 58, d.policy_epoch)
  put64(v, 66, d.catalog_epoch)
  return DECISION_BYTES
}

/**
 * The catalog in ascending `model_id` order, stable (equal ids keep catalog order). A catalog
 * already in order — the usual case — is returned as is after one pass; otherwise its indices
 * are sorted (no per-model wrapper objects).
 */
const sortedModels = (models: ReadonlyArray<Model>): ReadonlyArray<Model> => {
  let ordered = true
  for (let i = 1; i < models.length && ordered; i++) {
    ordered = (models[i - 1] as Model).model_id <= (models[i] as Model).model_id
  }
  if (ordered) return models
  const order = Array.from(models.keys()).sort((a, b) =>
    (models[a] as Model).model_id - (models[b] as Model).model_id || a - b
  )
  return order.map((i) => models[i] as Model)
}

/** Writes the canonical policy bytes (39 + 47 per model) into `out` from offset 0. */
const writePolicy = (snapshot: PolicySnapshot, out: Uint8Array): Uint8Array => {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength)
  out.set(TAG_POLICY)
  put64(v, 9, snapshot.policy_epoch)
  put64(v, 17, snapshot.catalog_epoch)
  v.setUint16(25, snapshot.hard_risk_limit_bps, true)
  v.setUint16(27, snapshot.minimum_confidence_bps, true)
  v.setUint16(29, snapshot.risk_penalty_multiplier_bps, true)
  put64(v, 31, snapshot.latency_penalty_microunits_per_ms)
  let at = 39
  for (const m of sortedModels(snapshot.models)) {
    v.setUint32(at, m.model_id, true)
    v.setUint16(at + 4, m.provider_id, true)
    v.setUint16(at + 6, m.quality_bps, true)
    v.setUint16(at + 8, m.risk_ceiling_bps, true)
    v.setUint8(at + 10, m.enabled)
    v.setUint32(at + 11, m.p95_latency_ms, true)
    put64(v, at + 15, m.capabilities)
    put64(v, at + 23, m.region_mask)
    put64(v, at + 31, m.input_cost_microunits_per_million_tokens)
    put64(v, at + 39, m.output_cost_microunits_per_million_tokens)
    at += 47
  }
  return out
}

/** The byte length of a policy's canonical preimage: 39 bytes, then 47 a model. */
const policyLength = (snapshot: PolicySnapshot): number => 39 + 47 * snapshot.models.length

/** The canonical preimage of a policy snapshot (models in ascending id order, stable; a fresh array). */
export const policyPreimage = (snapshot: PolicySnapshot): Uint8Array =>
  writePolicy(snapshot, new Uint8Array(policyLength(snapshot)))

/** Scratch for `policyDigestUncached`: grown as needed, hashed as a view. */
let policyScratch = new Uint8Array(39 + 47 * 64)

/** Hex SHA-256 of canonical bytes: the runtime's fastest hex route for the default hash. */
const digestHex = (bytes: Uint8Array, hash: HashFunctions): string =>
  hash === defaultHash ? sha256Hex(bytes) : toHex(hash.sha256(bytes))

/**
 * Hex SHA-256 of a policy's canonical bytes, computed afresh (sort, serialise, hash, hex): what
 * `policyDigest` does for a bare snapshot, and what the reference does on every call.
 */
export const policyDigestUncached = (snapshot: PolicySnapshot, hash: HashFunctions = defaultHash): string => {
  const length = policyLength(snapshot)
  if (length > policyScratch.length) policyScratch = new Uint8Array(Math.max(length, 2 * policyScratch.length))
  return digestHex(writePolicy(snapshot, policyScratch).subarray(0, length), hash)
}

/** `Policy`'s brand (`Symbol.for`: the same symbol `Policy.ts` brands with, without importing it). */
const PolicyTypeId = Symbol.for("@calybris/core/Policy")

/**
 * Hex SHA-256 of a policy's canonical bytes: a `Policy`'s, of the snapshot as it was when the
 * Policy was made (pinned then, with any `hash`); a bare snapshot's, computed from it as it is
 * now (no cache: a snapshot edited in place, by code that casts away `readonly`, would keep a
 * stale digest — a helper's hostile review). A Policy is told by its brand, not by a `snapshot`
 * member a snapshot could carry.
 */
export const policyDigest = (policy: Policy | PolicySnapshot, hash: HashFunctions = defaultHash): string => {
  if (PolicyTypeId in policy) {
    const pin = pinned.get(policy as Policy)
    // (a copy to another hash function: one that changes its input changed the pin)
    if (pin !== undefined) return hash === defaultHash ? pin.hex : digestHex(pin.bytes.slice(), hash)
    return policyDigestUncached((policy as Policy).snapshot, hash)
  }
  return policyDigestUncached(policy as PolicySnapshot, hash)
}

/**
 * @internal `Policy`'s construction: the canonical bytes of the snapshot as it is now, and their
 * digest, pinned on the Policy — never a digest computed earlier for the same snapshot, since
 * edited in place (code that casts away `readonly`): the digest a bundle records must be of the
 * catalog the kernel compiled (a helper's hostile review: `Policy.unsafeMake` of a snapshot
 * digested, then edited, recorded the old digest in every bundle). Pinned per Policy, not per
 * snapshot (a review of this fix: an earlier Policy took the digest of one made after an edit),
 * and as bytes, so that another hash function digests the same catalog (the review after:
 * `Hash.noble` gave the edited snapshot's). Pinned once: a Policy already pinned keeps its digest
 * (a call after an edit would otherwise pin the edited catalog's beside the compiled original).
 */
export const pinPolicyDigest = (policy: Policy): string => {
  const held = pinned.get(policy)
  if (held !== undefined) return held.hex
  const bytes = policyPreimage(policy.snapshot)
  const hex = digestHex(bytes, defaultHash)
  pinned.set(policy, { bytes, hex })
  return hex
}

const pinned = new WeakMap<Policy, { readonly bytes: Uint8Array; readonly hex: string }>()

/** Hex SHA-256 of an input's canonical bytes. */
export const inputDigest = (input: Input, hash: HashFunctions = defaultHash): string =>
  digestHex(inputPreimage(input), hash)

/** Hex SHA-256 of a decision's canonical bytes. */
export const decisionDigest = (decision: Decision.Decision, hash: HashFunctions = defaultHash): string =>
  digestHex(decisionPreimage(decision), hash)
