/**
 * Arbitraries for kernel types that mix ordinary values with the extremes of each width,
 * so both the number fast path and the bigint path are exercised. Every value is built through
 * its schema (`Typed`: the schema validates the drawn fields and types the result; no cast).
 */
import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import { Model } from "@calybris/core/Model"
import { PolicySnapshot } from "@calybris/core/Policy"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "effect/FastCheck"
import { typed } from "./Typed.js"

const U64_MAX = (1n << 64n) - 1n
const I64_MAX = (1n << 63n) - 1n
const I64_MIN = -(1n << 63n)

const pick = <A>(...values: ReadonlyArray<A>) => fc.constantFrom(...values)

export const u8 = fc.oneof(pick(0, 1, 255), fc.integer({ min: 0, max: 255 }))
export const u16 = fc.oneof(pick(0, 1, 5000, 9999, 10_000, 10_001, 50_000, 65_535), fc.integer({ min: 0, max: 65_535 }))
export const bps = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 10_000 }) }, {
  weight: 1,
  arbitrary: u16
})
export const u32 = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
  { weight: 1, arbitrary: pick(0, 1, 0xffff_ffff, 0x7fff_ffff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) }
)
export const u64 = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 100_000_000n }) },
  { weight: 1, arbitrary: pick(0n, 1n, 2n ** 51n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, U64_MAX - 1n, U64_MAX) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) }
)
export const i64 = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: -1_000_000n, max: 10_000_000_000n }) },
  { weight: 1, arbitrary: pick(I64_MIN, -1n, 0n, 1n, 2n ** 53n, I64_MAX) },
  { weight: 1, arbitrary: fc.bigInt({ min: I64_MIN, max: I64_MAX }) }
)
/** masks: mostly "any" / "none" / a few bits, sometimes arbitrary */
export const mask = fc.oneof(
  pick(0n, U64_MAX, 1n, 3n, 1n << 63n, 1n << 32n, 1n << 31n),
  fc.bigInt({ min: 0n, max: 255n }),
  fc.bigInt({ min: 0n, max: U64_MAX })
)
const provider = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 63 }) }, { weight: 1, arbitrary: u16 })
const price = fc.oneof(
  { weight: 5, arbitrary: fc.bigInt({ min: 0n, max: 100_000_000n }) },
  { weight: 1, arbitrary: u64 }
)

export const model = (id: fc.Arbitrary<number>): fc.Arbitrary<Model> =>
  fc.record({
    model_id: id,
    provider_id: provider,
    quality_bps: bps,
    risk_ceiling_bps: bps,
    enabled: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: u8 }),
    p95_latency_ms: fc.oneof(fc.integer({ min: 0, max: 5000 }), u32),
    capabilities: mask,
    region_mask: mask,
    input_cost_microunits_per_million_tokens: price,
    output_cost_microunits_per_million_tokens: price
  }).map(typed(Model))

export const policy: fc.Arbitrary<PolicySnapshot> = fc.record({
  policy_epoch: u64,
  catalog_epoch: u64,
  hard_risk_limit_bps: bps,
  minimum_confidence_bps: bps,
  risk_penalty_multiplier_bps: fc.oneof(fc.integer({ min: 0, max: 50_000 }), u16),
  latency_penalty_microunits_per_ms: fc.oneof(
    { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 1000n }) },
    { weight: 1, arbitrary: u64 }
  ),
  models: fc.array(model(fc.oneof(fc.integer({ min: 1, max: 12 }), u32)), { maxLength: 24 })
}).map(typed(PolicySnapshot))

/** The leaf arbitraries an input is drawn from (each module of arbitraries has its own distributions). */
export interface InputLeaves {
  readonly u16: fc.Arbitrary<number>
  readonly u32: fc.Arbitrary<number>
  readonly u64: fc.Arbitrary<bigint>
  readonly i64: fc.Arbitrary<bigint>
  readonly mask: fc.Arbitrary<bigint>
}

/** An input over these leaves, its requested id often one of `ids`, its minimum quality mostly up to `maxQualityBps`. */
export const inputOf = (
  leaves: InputLeaves,
  ids: ReadonlyArray<number>,
  maxQualityBps: number
): fc.Arbitrary<Input> => {
  const { i64, mask, u16, u32, u64 } = leaves
  return fc.record({
    request_sequence: u64,
    requested_model_id: ids.length > 0 ? fc.oneof(fc.constantFrom(...ids), u32) : u32,
    input_tokens: u32,
    output_tokens: u32,
    business_value_microunits: i64,
    budget_limit_microunits: u64,
    risk_bps: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3000 }) }, { weight: 1, arbitrary: u16 }),
    confidence_bps: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 5000, max: 10_000 }) }, {
      weight: 1,
      arbitrary: u16
    }),
    minimum_quality_bps: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: maxQualityBps }) }, {
      weight: 1,
      arbitrary: u16
    }),
    max_p95_latency_ms: fc.oneof(fc.constant(0), u32),
    required_capabilities: fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: mask }),
    allowed_provider_mask: fc.oneof({ weight: 3, arbitrary: fc.constant(U64_MAX) }, { weight: 1, arbitrary: mask }),
    required_region_mask: fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: mask })
  }).map(typed(Input))
}

export const input = (ids: ReadonlyArray<number> = []): fc.Arbitrary<Input> =>
  inputOf({ u16, u32, u64, i64, mask }, ids, 6000)

/** A policy together with an input whose requested id is often in its catalog. */
export const policyAndInput: fc.Arbitrary<readonly [PolicySnapshot, Input]> = policy.chain((p) =>
  input(p.models.map((m) => m.model_id)).map((i) => [p, i] as const)
)

/** A decision; its action and reason are derived from the schemas, so every wire name is drawn (uniformly). */
export const decision: fc.Arbitrary<Decision.Decision> = fc.record({
  request_sequence: u64,
  action: Arbitrary.make(Decision.Action),
  reason: Arbitrary.make(Decision.Reason),
  selected_model_id: u32,
  selected_model_index: u16,
  estimated_cost_microunits: u64,
  expected_utility_microunits: i64,
  counterfactual_model_id: u32,
  counterfactual_utility_microunits: i64,
  evaluated_models: u16,
  eligible_models: u16,
  policy_epoch: u64,
  catalog_epoch: u64
}).map(typed(Decision.Decision))

/**
 * Close calls for the kernel's scan order and pruning bound: small catalogs drawn from a few
 * qualities, prices and latencies (so utilities tie or differ by a few microunits, models
 * repeat exactly, qualities repeat), with small values and token counts, and budgets that
 * sometimes bind.
 */
export const closeCall: fc.Arbitrary<readonly [PolicySnapshot, Input]> = fc.record({
  models: fc.array(
    fc.record({
      model_id: fc.integer({ min: 1, max: 4 }),
      provider_id: fc.integer({ min: 0, max: 3 }),
      quality_bps: pick(5000, 5001, 7000, 9000),
      risk_ceiling_bps: pick(10_000, 3000),
      enabled: pick(1, 1, 1, 0),
      p95_latency_ms: pick(0, 1, 2),
      capabilities: pick(0n, 1n),
      region_mask: pick(U64_MAX, 1n),
      input_cost_microunits_per_million_tokens: pick(0n, 1n, 999_999n, 1_000_000n, 1_000_001n, 3_000_000n),
      output_cost_microunits_per_million_tokens: pick(0n, 1n, 1_000_000n, 2_000_000n)
    }),
    { maxLength: 12 }
  ),
  multiplier: pick(0, 1, 3500, 10_000),
  latencyPenalty: pick(0n, 1n, 3n),
  value: fc.oneof(fc.bigInt({ min: -5n, max: 400n }), fc.bigInt({ min: -5n, max: 40_000n })),
  confidence: pick(5000, 7777, 10_000),
  minQuality: pick(0, 5000, 5001, 7000, 9001),
  tokens: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3000 })),
  outTokens: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3000 })),
  budget: pick(0n, 1n, 3n, 6n, 10_000n),
  risk: pick(0, 1, 2999, 3001),
  requested: fc.integer({ min: 1, max: 4 }),
  capabilities: pick(0n, 0n, 1n),
  regions: pick(0n, 0n, 1n)
}).map((r) =>
  [
    typed(PolicySnapshot)({
      policy_epoch: 1n,
      catalog_epoch: 2n,
      hard_risk_limit_bps: 9600,
      minimum_confidence_bps: 5000,
      risk_penalty_multiplier_bps: r.multiplier,
      latency_penalty_microunits_per_ms: r.latencyPenalty,
      models: r.models
    }),
    typed(Input)({
      request_sequence: 7n,
      requested_model_id: r.requested,
      input_tokens: r.tokens,
      output_tokens: r.outTokens,
      business_value_microunits: r.value,
      budget_limit_microunits: r.budget,
      risk_bps: r.risk,
      confidence_bps: r.confidence,
      minimum_quality_bps: r.minQuality,
      max_p95_latency_ms: 0,
      required_capabilities: r.capabilities,
      allowed_provider_mask: U64_MAX,
      required_region_mask: r.regions
    })
  ] as const
)

/**
 * Characters a JSON printer or reader must get right: escapes, line and paragraph separators,
 * controls, DEL, the slash, non-ASCII and astral.
 */
export const jsonSpecialChar = fc.constantFrom(
  "\u2028",
  "\u2029",
  "\u0000",
  "\u001f",
  "\"",
  "\\",
  "/",
  "\u007f",
  "😀",
  "é"
)

/** Lone surrogates (high, low, the high half of an astral character): printable, but not valid UTF-8. */
export const loneSurrogate = fc.constantFrom("\ud800", "\udc00", "\ud83d")

/**
 * Strings for JSON values and keys: any code point and the special characters, and with
 * `loneSurrogates` the lone surrogates too (a printer hashes them, a reader refuses them).
 */
export const jsonStringOf = (options: { readonly loneSurrogates: boolean }): fc.Arbitrary<string> => {
  const special = options.loneSurrogates ? fc.oneof(jsonSpecialChar, loneSurrogate) : jsonSpecialChar
  return fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.string({ unit: fc.oneof(special, fc.char()), maxLength: 20 })
  )
}

/** Finite doubles only (see `jsonOf`). */
const finite = { noNaN: true, noDefaultInfinity: true } as const

/**
 * `Json` values (core's lossless JSON): null, booleans, safe integers, finite doubles (integral or
 * not: printed as integers or floats; NaN and ±Infinity are no JSON numbers — printed `null`, the
 * bounded printers refuse them: `JsonBytes.test.ts` has them), integers over the whole u64 / i64 range and its edges,
 * `JsonFloat`s, strings (`jsonStringOf(options)`, as keys too), and arrays and objects of them (up
 * to 5 members, small depth).
 */
export const jsonOf = (options: { readonly loneSurrogates: boolean }): fc.Arbitrary<Json.Json> => {
  const string = jsonStringOf(options)
  return fc.letrec<{ json: Json.Json }>((tie) => ({
    json: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.double(finite),
      fc.double({ ...finite, noInteger: true }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.constantFrom(18446744073709551615n, -9223372036854775808n, 9007199254740992n, -9007199254740992n),
      fc.double(finite).map((d) => new Json.JsonFloat(d)),
      string,
      fc.array(tie("json"), { maxLength: 5 }),
      fc.array(fc.tuple(string, tie("json")), { maxLength: 5 }).map((entries) => new Map(entries))
    )
  })).json
}

/** Any `Json` value whose strings are well-formed (it prints to text that parses back). */
export const json: fc.Arbitrary<Json.Json> = jsonOf({ loneSurrogates: false })
