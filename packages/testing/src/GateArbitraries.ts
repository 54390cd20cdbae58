/**
 * Arbitraries for catalogs and inputs that reach every gate: small numbers most of the time
 * (so models pass some gates and fail others), the extremes of each width some of the time.
 */
import type { Input } from "@calybris/core/Input"
import { Model } from "@calybris/core/Model"
import { PolicySnapshot } from "@calybris/core/Policy"
import * as fc from "effect/FastCheck"
import { inputOf } from "./Arbitraries.js"
import { typed } from "./Typed.js"

export const U64_MAX = (1n << 64n) - 1n
const I64_MAX = (1n << 63n) - 1n
const I64_MIN = -(1n << 63n)

const u16 = fc.integer({ min: 0, max: 65_535 })
const bps = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 10_000 }) }, { weight: 1, arbitrary: u16 })
const u32 = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 5_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) }
)
const u64 = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 50_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 2n ** 53n, 2n ** 53n + 1n, U64_MAX) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) }
)
const i64 = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: -1_000_000n, max: 500_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(I64_MIN, -1n, 0n, 2n ** 53n + 1n, I64_MAX) }
)
const mask = fc.oneof(
  fc.constantFrom(0n, U64_MAX, 1n, 2n, 3n, 1n << 63n),
  fc.bigInt({ min: 0n, max: 15n }),
  fc.bigInt({ min: 0n, max: U64_MAX })
)

const model = (id: number): fc.Arbitrary<Model> =>
  fc.record({
    model_id: fc.constant(id),
    provider_id: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: u16 }),
    quality_bps: bps,
    risk_ceiling_bps: bps,
    enabled: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(0) }),
    p95_latency_ms: u32,
    capabilities: mask,
    region_mask: mask,
    input_cost_microunits_per_million_tokens: u64,
    output_cost_microunits_per_million_tokens: u64
  }).map(typed(Model))

/** A catalog of 0–12 models with distinct ids (as `Policy.make` requires). */
export const snapshot: fc.Arbitrary<PolicySnapshot> = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), {
  maxLength: 12
}).chain((ids) =>
  fc.record({
    policy_epoch: u64,
    catalog_epoch: u64,
    hard_risk_limit_bps: bps,
    minimum_confidence_bps: fc.oneof(fc.integer({ min: 0, max: 6000 }), bps),
    risk_penalty_multiplier_bps: fc.integer({ min: 0, max: 50_000 }),
    latency_penalty_microunits_per_ms: fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), u64),
    models: ids.length === 0 ? fc.constant([]) : fc.tuple(...ids.map(model))
  }).map(typed(PolicySnapshot))
)

export const input = (ids: ReadonlyArray<number>): fc.Arbitrary<Input> =>
  inputOf({ u16, u32, u64, i64, mask }, ids, 8000)

/** A catalog with an input whose requested id is often in it. */
export const policyAndInput: fc.Arbitrary<readonly [PolicySnapshot, Input]> = snapshot.chain((p) =>
  input(p.models.map((m) => m.model_id)).map((i) => [p, i] as const)
)
