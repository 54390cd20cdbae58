/**
 * Audited records (SPEC §5) decoded straight from the data bytes of a line the verifying
 * reader's fast path accepted (`Reader.LineReader`'s data hook: canonical JSON, the bytes the
 * chain hash covers): the typed record — audit bundle, Input, Decision and metadata — in one
 * pass over the bytes, with no Json tree, no Schema and no codec in between.
 *
 * "Fast accept, exact reject": it accepts only the record exactly as writers write it
 *
 *     {"audit":{"policy_digest_hex":S,"input_digest_hex":S,"decision_digest_hex":S,"replay_valid":B},
 *      "input":{…the 13 fields of Input in wire order…},
 *      "decision":{…the 13 fields of Decision in wire order…},"metadata":M}
 *
 * (no whitespace), with every integer canonical (`0` or a non-zero digit first, `-` only for
 * the i64 fields, never `-0`) and within its field's range, strings of plain printable ASCII
 * (no escape at all), the action and reason one of their wire names, and M a plain string or
 * `null`. On anything else — another member order, a missing, repeated or extra member, an
 * escape, a value out of range, another metadata — it gives `undefined` and the caller decodes
 * the line through the exact path (`Audited.decodeEntry`: serde's typed decoding of the line,
 * then the Schema), which decides and words the error. What it returns is exactly the exact
 * path's value for the same bytes (property-tested in test/AuditedBytes.test.ts).
 */
import * as Decision from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import type { AuditBundle } from "@calybris/core/Verify"
import { bigintOfSafe } from "@calybris/core/Word"
import type { AuditedJson } from "../Audited.js"

const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

const AUDIT = bytesOf("{\"audit\":{\"policy_digest_hex\":\"")
const INPUT_DIGEST = bytesOf(",\"input_digest_hex\":\"")
const DECISION_DIGEST = bytesOf(",\"decision_digest_hex\":\"")
const REPLAY_VALID = bytesOf(",\"replay_valid\":")
const INPUT = bytesOf("},\"input\":{\"request_sequence\":")
const DECISION = bytesOf("},\"decision\":{\"request_sequence\":")
const METADATA = bytesOf("},\"metadata\":")
const TRUE = bytesOf("true")
const FALSE = bytesOf("false")
const NULL = bytesOf("null")

/** `,"name":` for each member after the first. */
const member = (name: string): Uint8Array => bytesOf(`,"${name}":`)

const REQUESTED_MODEL_ID = member("requested_model_id")
const INPUT_TOKENS = member("input_tokens")
const OUTPUT_TOKENS = member("output_tokens")
const BUSINESS_VALUE = member("business_value_microunits")
const BUDGET_LIMIT = member("budget_limit_microunits")
const RISK_BPS = member("risk_bps")
const CONFIDENCE_BPS = member("confidence_bps")
const MINIMUM_QUALITY_BPS = member("minimum_quality_bps")
const MAX_P95_LATENCY_MS = member("max_p95_latency_ms")
const REQUIRED_CAPABILITIES = member("required_capabilities")
const ALLOWED_PROVIDER_MASK = member("allowed_provider_mask")
const REQUIRED_REGION_MASK = member("required_region_mask")

const ACTION = bytesOf(",\"action\":\"")
const REASON = bytesOf(",\"reason\":\"")
const SELECTED_MODEL_ID = member("selected_model_id")
const SELECTED_MODEL_INDEX = member("selected_model_index")
const ESTIMATED_COST = member("estimated_cost_microunits")
const EXPECTED_UTILITY = member("expected_utility_microunits")
const COUNTERFACTUAL_MODEL_ID = member("counterfactual_model_id")
const COUNTERFACTUAL_UTILITY = member("counterfactual_utility_microunits")
const EVALUATED_MODELS = member("evaluated_models")
const ELIGIBLE_MODELS = member("eligible_models")
const POLICY_EPOCH = member("policy_epoch")
const CATALOG_EPOCH = member("catalog_epoch")

const U16_MAX = 0xffff
const U32_MAX = 0xffff_ffff
const U64_MAX = 0xffff_ffff_ffff_ffffn
const I64_MAX = 0x7fff_ffff_ffff_ffffn
const I64_MIN = -0x8000_0000_0000_0000n

/** Bytes a plain string holds: 0x20..0x7E but `"` and `\`. */
const PLAIN = Uint8Array.from({ length: 256 }, (_, b) => b >= 0x20 && b <= 0x7e && b !== 34 && b !== 92 ? 1 : 0)

/** Wire names of a literal union, as bytes (closing quote included), with the names themselves. */
const literalTable = (names: ReadonlyArray<string>) => names.map((name) => ({ name, bytes: bytesOf(`${name}"`) }))
const ACTIONS = literalTable(Decision.Action.literals)
const REASONS = literalTable(Decision.Reason.literals)

// the cursor: the record's bytes, the next byte's index, and whether everything so far matched
let src: Uint8Array = new Uint8Array(0)
let at = 0
/** Where the bytes the decoder may read end. */
let limit = 0
let ok = true
/** Where the record starts in `src`, and the end of the bytes `text` holds (from there). */
let base = 0
let textEnd = 0
/** The data's text, once a string is read (a code unit per byte: the strings read are ASCII). */
let text: string | undefined = undefined

/** The bytes of `word` next (else not ok). */
const expect = (word: Uint8Array): void => {
  if (!ok) return
  // (the module's bindings read once: a loop over them would reload them at every step)
  const bytes = src
  const start = at
  const n = word.length
  if (start + n > limit) {
    ok = false
    return
  }
  for (let k = 0; k < n; k++) {
    if (bytes[start + k] !== word[k]) {
      ok = false
      return
    }
  }
  at = start + n
}

/** Whether `word` is next (advancing past it when it is). */
const accept = (word: Uint8Array): boolean => {
  const bytes = src
  const start = at
  const n = word.length
  if (start + n > limit) return false
  for (let k = 0; k < n; k++) if (bytes[start + k] !== word[k]) return false
  at = start + n
  return true
}

/** A plain string's contents and its closing quote (the opening quote was read). */
const plainString = (): string => {
  if (!ok) return ""
  const bytes = src
  const start = at
  const end = limit
  let i = start
  while (i < end && PLAIN[bytes[i] as number] === 1) i++
  if (i >= end || bytes[i] !== 34) {
    ok = false
    return ""
  }
  at = i + 1
  // printable ASCII: a code unit per byte, so the data's text has the same indices (one decode
  // of the record and slices of it cost less than a decode, or a string built, per string)
  return textUpTo(i).slice(start - base, i - base)
}

const asciiDecoder = new TextDecoder()

/**
 * The text of the bytes from the record's start to at least `end`: decoded once, up to the next
 * LF (a record the decoder accepts holds none: in a log line, that is the line's end) or the limit.
 */
const textUpTo = (end: number): string => {
  if (text === undefined || end > textEnd) {
    const lf = src.indexOf(10, end)
    textEnd = lf < 0 || lf > limit ? limit : lf
    text = asciiDecoder.decode(src.subarray(base, textEnd))
  }
  return text
}

/**
 * The canonical decimal digits at the cursor (after an optional sign, read by the caller): the
 * index after them, or -1 (none, a leading zero, or more than 20 digits: beyond u64).
 */
const digitsEnd = (): number => {
  const start = at
  const end = limit
  if (start >= end) return -1
  const first = src[start] as number
  if (first === 48) {
    const next = start + 1 < end ? src[start + 1] as number : 0
    return next >= 48 && next <= 57 ? -1 : start + 1
  }
  if (first < 49 || first > 57) return -1
  let i = start + 1
  while (i < end) {
    const d = src[i] as number
    if (d < 48 || d > 57) break
    i++
  }
  return i - start > 20 ? -1 : i
}

/** A u16 / u32 field: its value, a safe number (else not ok). */
const smallUint = (max: number): number => {
  if (!ok) return 0
  const end = digitsEnd()
  if (end < 0 || end - at > 10) {
    ok = false
    return 0
  }
  let value = 0
  for (let i = at; i < end; i++) value = value * 10 + ((src[i] as number) - 48)
  if (value > max) {
    ok = false
    return 0
  }
  at = end
  return value
}

/** The magnitude of the digits in [at, end) (at most 20 of them), exactly. */
const magnitude = (end: number): bigint => {
  if (end - at <= 15) {
    let value = 0
    for (let i = at; i < end; i++) value = value * 10 + ((src[i] as number) - 48)
    return bigintOfSafe(value)
  }
  return BigInt(textUpTo(end).slice(at - base, end - base))
}

/** A u64 field (else not ok). */
const u64 = (): bigint => {
  if (!ok) return 0n
  const end = digitsEnd()
  if (end < 0) {
    ok = false
    return 0n
  }
  const value = magnitude(end)
  if (value > U64_MAX) {
    ok = false
    return 0n
  }
  at = end
  return value
}

/** An i64 field (else not ok): `-` then a non-zero magnitude, or a magnitude. */
const i64 = (): bigint => {
  if (!ok) return 0n
  const negative = src[at] === 45
  if (negative) at++
  const end = digitsEnd()
  if (end < 0 || (negative && src[at] === 48)) {
    ok = false
    return 0n
  }
  const m = magnitude(end)
  const value = negative ? -m : m
  if (value > I64_MAX || value < I64_MIN) {
    ok = false
    return 0n
  }
  at = end
  return value
}

/** `true` or `false` (else not ok). */
const boolean = (): boolean => {
  if (!ok) return false
  if (accept(TRUE)) return true
  if (accept(FALSE)) return false
  ok = false
  return false
}

/** One of a literal union's wire names and its closing quote (the opening quote was read). */
const literal = <A extends string>(table: ReadonlyArray<{ readonly name: string; readonly bytes: Uint8Array }>): A => {
  if (!ok) return "" as A
  for (const entry of table) if (accept(entry.bytes)) return entry.name as A
  ok = false
  return "" as A
}

/**
 * The audited record in `data` (a verified line's canonical data bytes), or `undefined` when it
 * is not exactly in the writers' form (the exact path then decides).
 */
export const decode = (data: Uint8Array): AuditedJson | undefined => {
  const end = decodeAt(data, 0, data.length)
  return end === data.length ? takeDecoded() : (dropDecoded(), undefined)
}

/** The record `decodeAt` read last (then forgotten). */
export const takeDecoded = (): AuditedJson | undefined => {
  const value = decoded
  decoded = undefined
  return value
}

const dropDecoded = (): void => {
  decoded = undefined
}

let decoded: AuditedJson | undefined = undefined

/**
 * A record in the writers' form at `bytes[start]`, read no further than `end`: the index after
 * its closing brace (the record is then `takeDecoded()`), or -1.
 */
export const decodeAt = (bytes: Uint8Array, start: number, end: number): number => {
  decoded = undefined
  src = bytes
  at = start
  base = start
  limit = end
  ok = true
  text = undefined
  const after = read()
  src = EMPTY
  text = undefined
  return after
}

const read = (): number => {
  expect(AUDIT)
  const policy_digest_hex = plainString()
  expect(INPUT_DIGEST)
  const input_digest_hex = plainString()
  expect(DECISION_DIGEST)
  const decision_digest_hex = plainString()
  expect(REPLAY_VALID)
  const replay_valid = boolean()
  expect(INPUT)
  const input_request_sequence = u64()
  expect(REQUESTED_MODEL_ID)
  const requested_model_id = smallUint(U32_MAX)
  expect(INPUT_TOKENS)
  const input_tokens = smallUint(U32_MAX)
  expect(OUTPUT_TOKENS)
  const output_tokens = smallUint(U32_MAX)
  expect(BUSINESS_VALUE)
  const business_value_microunits = i64()
  expect(BUDGET_LIMIT)
  const budget_limit_microunits = u64()
  expect(RISK_BPS)
  const risk_bps = smallUint(U16_MAX)
  expect(CONFIDENCE_BPS)
  const confidence_bps = smallUint(U16_MAX)
  expect(MINIMUM_QUALITY_BPS)
  const minimum_quality_bps = smallUint(U16_MAX)
  expect(MAX_P95_LATENCY_MS)
  const max_p95_latency_ms = smallUint(U32_MAX)
  expect(REQUIRED_CAPABILITIES)
  const required_capabilities = u64()
  expect(ALLOWED_PROVIDER_MASK)
  const allowed_provider_mask = u64()
  expect(REQUIRED_REGION_MASK)
  const required_region_mask = u64()
  expect(DECISION)
  const decision_request_sequence = u64()
  expect(ACTION)
  const action = literal<Decision.Action>(ACTIONS)
  expect(REASON)
  const reason = literal<Decision.Reason>(REASONS)
  expect(SELECTED_MODEL_ID)
  const selected_model_id = smallUint(U32_MAX)
  expect(SELECTED_MODEL_INDEX)
  const selected_model_index = smallUint(U16_MAX)
  expect(ESTIMATED_COST)
  const estimated_cost_microunits = u64()
  expect(EXPECTED_UTILITY)
  const expected_utility_microunits = i64()
  expect(COUNTERFACTUAL_MODEL_ID)
  const counterfactual_model_id = smallUint(U32_MAX)
  expect(COUNTERFACTUAL_UTILITY)
  const counterfactual_utility_microunits = i64()
  expect(EVALUATED_MODELS)
  const evaluated_models = smallUint(U16_MAX)
  expect(ELIGIBLE_MODELS)
  const eligible_models = smallUint(U16_MAX)
  expect(POLICY_EPOCH)
  const policy_epoch = u64()
  expect(CATALOG_EPOCH)
  const catalog_epoch = u64()
  expect(METADATA)
  let metadata: string | null = null
  if (ok) {
    if (src[at] === 34) {
      at++
      metadata = plainString()
    } else if (!accept(NULL)) {
      ok = false
    }
  }
  // the record's closing brace
  if (!ok || at >= limit || src[at] !== 125) return -1
  const audit: AuditBundle = { policy_digest_hex, input_digest_hex, decision_digest_hex, replay_valid }
  const input = {
    request_sequence: input_request_sequence,
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
  const decision = {
    request_sequence: decision_request_sequence,
    action,
    reason,
    selected_model_id,
    selected_model_index,
    estimated_cost_microunits,
    expected_utility_microunits,
    counterfactual_model_id,
    counterfactual_utility_microunits,
    evaluated_models,
    eligible_models,
    policy_epoch,
    catalog_epoch
  } as Decision.Decision
  decoded = { audit, input, decision, metadata }
  return at + 1
}

const EMPTY = new Uint8Array(0)
