/**
 * Hand-built kernel values for example-based tests: a model, a policy snapshot and an input with
 * ordinary defaults that each test overrides, and the two-model catalogue the ledger tests (unit
 * and crash) admit against.
 */
import type { Input } from "@calybris/core/Input"
import type { Model } from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import type { Plain } from "./Plain.js"
import { typed } from "./Typed.js"

export const U64_MAX = (1n << 64n) - 1n
/** Every provider / region bit. */
export const ALL = U64_MAX

/** A model: id 1, quality 8000, 1 / 2 units per million tokens, every region; `over` replaces members. */
export const model = (over: Partial<Plain<Model>> = {}): Model =>
  ({
    model_id: 1,
    provider_id: 0,
    quality_bps: 8000,
    risk_ceiling_bps: 9000,
    enabled: 1,
    p95_latency_ms: 100,
    capabilities: 0n,
    region_mask: ALL,
    input_cost_microunits_per_million_tokens: 1_000_000n,
    output_cost_microunits_per_million_tokens: 2_000_000n,
    ...over
  }) as Model

/** A policy snapshot over `models` (epochs 7 / 11); `over` replaces members. */
export const snapshot = (
  models: ReadonlyArray<Model>,
  over: Partial<Plain<Policy.PolicySnapshot>> = {}
): Policy.PolicySnapshot =>
  ({
    policy_epoch: 7n,
    catalog_epoch: 11n,
    hard_risk_limit_bps: 9600,
    minimum_confidence_bps: 5500,
    risk_penalty_multiplier_bps: 3500,
    latency_penalty_microunits_per_ms: 2n,
    models,
    ...over
  }) as Policy.PolicySnapshot

/** An input: request 1 for model 1, 2000 / 500 tokens, a 20-unit budget; `over` replaces members. */
export const input = (over: Partial<Plain<Input>> = {}): Input =>
  ({
    request_sequence: 1n,
    requested_model_id: 1,
    input_tokens: 2000,
    output_tokens: 500,
    business_value_microunits: 100_000_000n,
    budget_limit_microunits: 20_000_000n,
    risk_bps: 1000,
    confidence_bps: 9000,
    minimum_quality_bps: 0,
    max_p95_latency_ms: 0,
    required_capabilities: 0n,
    allowed_provider_mask: ALL,
    required_region_mask: 0n,
    ...over
  }) as Input

/** Model `id` of the ledger catalogue: provider id % 4, latency 100 + id, the given quality and prices. */
const ledgerModel = (id: number, quality: number, inPrice: bigint, outPrice: bigint): Model =>
  model({
    model_id: id,
    provider_id: id % 4,
    quality_bps: quality,
    p95_latency_ms: 100 + id,
    input_cost_microunits_per_million_tokens: inPrice,
    output_cost_microunits_per_million_tokens: outPrice
  })

/**
 * The ledger tests' policy under `policy_epoch`: a cheap model 1 and a dear model 2 (which the
 * ledger inputs request). Epochs differ only in the policy digest, not in decisions or costs.
 */
export const ledgerPolicy = (policy_epoch: bigint): Policy.Policy =>
  Policy.unsafeMake(
    typed(Policy.PolicySnapshot)({
      policy_epoch,
      catalog_epoch: 1n,
      hard_risk_limit_bps: 9000,
      minimum_confidence_bps: 5000,
      risk_penalty_multiplier_bps: 3500,
      latency_penalty_microunits_per_ms: 1n,
      models: [ledgerModel(1, 7000, 150_000n, 600_000n), ledgerModel(2, 9000, 2_500_000n, 10_000_000n)]
    })
  )

/** An input of the ledger tests: `input` requesting model 2 of `ledgerPolicy`; `over` replaces members. */
export const ledgerInput = (over: Partial<Plain<Input>> = {}): Input => input({ requested_model_id: 2, ...over })
