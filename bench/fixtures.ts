/**
 * The reference's bench fixtures (shared/bench/REFERENCE.md): the catalog formula and the
 * input stream, built exactly as described there.
 */
import type { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import { bigintOfSafe } from "@calybris/core/Word"
import * as Audited from "@calybris/wal/Audited"
import * as Either from "effect/Either"

const ALL = (1n << 64n) - 1n

/**
 * `BigInt(s)` exactly, through Word's scratch word: V8 runs `BigInt(number)` as a C++ builtin
 * (~50–80 ns a call, most of the cost of building an input), where Rust's `s as u64` is free.
 * The input built is the same either way.
 */
const u64 = bigintOfSafe

/** model i: provider i%6, quality 3000+300i, risk ceiling 9500, latency 100+50i, caps 0, all regions, input cost 10+50i, output cost 40+200i */
export const benchModel = (i: number): Model =>
  ({
    model_id: i,
    provider_id: i % 6,
    quality_bps: 3000 + 300 * i,
    risk_ceiling_bps: 9500,
    enabled: 1,
    p95_latency_ms: 100 + 50 * i,
    capabilities: 0n,
    region_mask: ALL,
    input_cost_microunits_per_million_tokens: BigInt(10 + 50 * i),
    output_cost_microunits_per_million_tokens: BigInt(40 + 200 * i)
  }) as Model

/** new_unchecked(1, 1, 9600, 5500, 3500, 0) over n bench models */
export const benchPolicy = (n: number): Policy.Policy =>
  Policy.unsafeMake({
    policy_epoch: 1n,
    catalog_epoch: 1n,
    hard_risk_limit_bps: 9600,
    minimum_confidence_bps: 5500,
    risk_penalty_multiplier_bps: 3500,
    latency_penalty_microunits_per_ms: 0n,
    models: Array.from({ length: n }, (_, i) => benchModel(i))
  } as unknown as Policy.PolicySnapshot)

/** make_input(s) */
export const makeInput = (s: number): Input =>
  ({
    request_sequence: u64(s),
    requested_model_id: s % 22,
    input_tokens: 500 + (s % 10000),
    output_tokens: 200 + (s % 5000),
    business_value_microunits: 50000n,
    budget_limit_microunits: 10_000_000n,
    risk_bps: s % 8000,
    confidence_bps: 6000 + (s % 4000),
    minimum_quality_bps: 3000 + (s % 5000),
    max_p95_latency_ms: 0,
    required_capabilities: 0n,
    allowed_provider_mask: ALL,
    required_region_mask: 0n
  }) as Input

/** The reference's pre-built audited records under `benchPolicy(22)` (~1 KB lines; construction is not timed). */
export const auditedRecords = (count: number): Array<Json.Json> => {
  const policy = benchPolicy(22)
  return Array.from({ length: count }, (_, i) => {
    const s = i + 1
    const input = makeInput(s)
    return Either.getOrThrow(
      Audited.record(policy, input, Kernel.prescribe(policy, input), `tenant-${s % 16}/request-${s}`)
    )
  })
}

/** `items` in runs of `size` (the last one shorter): appends started together, a group at a time. */
export const groupsOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const groups: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size))
  return groups
}
