/**
 * The demo's two reference use cases, as data.
 *
 * Money is in microcents throughout (1 cent = 1,000,000 microcents; $1 = 100,000,000), which
 * is also the kernel's "microunit": an admit holds a decision's estimated cost as is.
 *
 * 1. LLM routing: six models from three providers. Prices are per million tokens, at list-price
 *    magnitudes (illustrative, not quotes). Capabilities: bit 0 tools, bit 1 vision, bit 2 JSON
 *    mode. Regions: bit 0 US, bit 1 EU.
 * 2. Pre-trade guard: five US equity venues as the catalog. "Quality" is fill quality, latency
 *    is the venue's p95 order-entry latency, and the per-million price is the venue's fee per
 *    million shares; a request's "input tokens" are the order's shares. The hold is the order's
 *    fee commitment, and the desk's exposure cap bounds its open commitments. Capabilities:
 *    bit 0 lit book, bit 1 midpoint peg, bit 2 hidden liquidity.
 */

export const ALL = 0xffff_ffff_ffff_ffffn

/** A catalog entry with the name the report shows (and its vendor, for models). */
export interface NamedModel {
  readonly name: string
  readonly vendor?: string | undefined
  readonly model_id: number
  readonly provider_id: number
  readonly quality_bps: number
  readonly risk_ceiling_bps: number
  readonly enabled: number
  readonly p95_latency_ms: number
  readonly capabilities: bigint
  readonly region_mask: bigint
  readonly input_cost_microunits_per_million_tokens: bigint
  readonly output_cost_microunits_per_million_tokens: bigint
}

export interface PolicyData {
  readonly policy_epoch: bigint
  readonly catalog_epoch: bigint
  readonly hard_risk_limit_bps: number
  readonly minimum_confidence_bps: number
  readonly risk_penalty_multiplier_bps: number
  readonly latency_penalty_microunits_per_ms: bigint
  readonly models: ReadonlyArray<NamedModel>
}

export interface InputData {
  readonly request_sequence: bigint
  readonly requested_model_id: number
  readonly input_tokens: number
  readonly output_tokens: number
  readonly business_value_microunits: bigint
  readonly budget_limit_microunits: bigint
  readonly risk_bps: number
  readonly confidence_bps: number
  readonly minimum_quality_bps: number
  readonly max_p95_latency_ms: number
  readonly required_capabilities: bigint
  readonly allowed_provider_mask: bigint
  readonly required_region_mask: bigint
}

/** One request of a scenario: who asks, what for, and (when admitted) what it really cost. */
export interface Request {
  readonly label: string
  readonly tenant: string
  readonly input: InputData
  /** settle the hold with this actual amount (`"release"` returns it all) */
  readonly settle?: bigint | "release" | undefined
}

export interface Tenant {
  readonly id: string
  readonly funds: bigint
  /** most the tenant may hold open at once */
  readonly cap?: bigint | undefined
}

export interface Scenario {
  readonly title: string
  readonly policyFile: string
  readonly requestsFile: string
  readonly policy: PolicyData
  readonly tenants: ReadonlyArray<Tenant>
  readonly requests: ReadonlyArray<Request>
}

const USD = 100_000_000n
const CENT = 1_000_000n

// per million tokens: $1 = 100,000,000 microcents
const perMillion = (dollars: number): bigint => BigInt(Math.round(dollars * 100)) * CENT

const TOOLS = 1n
const VISION = 2n
const JSON_MODE = 4n
const US = 1n
const EU = 2n

export const llm: Scenario = {
  title: "LLM routing",
  policyFile: "llm-policy.json",
  requestsFile: "llm-requests.jsonl",
  policy: {
    policy_epoch: 3n,
    catalog_epoch: 12n,
    hard_risk_limit_bps: 9_000,
    minimum_confidence_bps: 5_000,
    risk_penalty_multiplier_bps: 10_000,
    latency_penalty_microunits_per_ms: 100n,
    models: [
      {
        name: "gpt-4o-mini",
        vendor: "openai",
        model_id: 101,
        provider_id: 0,
        quality_bps: 7_200,
        risk_ceiling_bps: 8_000,
        enabled: 1,
        p95_latency_ms: 700,
        capabilities: TOOLS | JSON_MODE,
        region_mask: US | EU,
        input_cost_microunits_per_million_tokens: perMillion(0.15),
        output_cost_microunits_per_million_tokens: perMillion(0.6)
      },
      {
        name: "gpt-4o",
        vendor: "openai",
        model_id: 102,
        provider_id: 0,
        quality_bps: 8_800,
        risk_ceiling_bps: 9_000,
        enabled: 1,
        p95_latency_ms: 1_400,
        capabilities: TOOLS | VISION | JSON_MODE,
        region_mask: US | EU,
        input_cost_microunits_per_million_tokens: perMillion(2.5),
        output_cost_microunits_per_million_tokens: perMillion(10)
      },
      {
        name: "claude-3-5-haiku",
        vendor: "anthropic",
        model_id: 201,
        provider_id: 1,
        quality_bps: 7_800,
        risk_ceiling_bps: 8_500,
        enabled: 1,
        p95_latency_ms: 800,
        capabilities: TOOLS | JSON_MODE,
        region_mask: US,
        input_cost_microunits_per_million_tokens: perMillion(0.8),
        output_cost_microunits_per_million_tokens: perMillion(4)
      },
      {
        name: "claude-3-7-sonnet",
        vendor: "anthropic",
        model_id: 202,
        provider_id: 1,
        quality_bps: 9_300,
        risk_ceiling_bps: 9_500,
        enabled: 1,
        p95_latency_ms: 1_800,
        capabilities: TOOLS | VISION | JSON_MODE,
        region_mask: US,
        input_cost_microunits_per_million_tokens: perMillion(3),
        output_cost_microunits_per_million_tokens: perMillion(15)
      },
      {
        name: "mistral-small",
        vendor: "mistral",
        model_id: 301,
        provider_id: 2,
        quality_bps: 6_800,
        risk_ceiling_bps: 7_000,
        enabled: 1,
        p95_latency_ms: 500,
        capabilities: TOOLS | JSON_MODE,
        region_mask: US | EU,
        input_cost_microunits_per_million_tokens: perMillion(0.1),
        output_cost_microunits_per_million_tokens: perMillion(0.3)
      },
      {
        name: "mistral-large",
        vendor: "mistral",
        model_id: 302,
        provider_id: 2,
        quality_bps: 8_500,
        risk_ceiling_bps: 9_000,
        enabled: 1,
        p95_latency_ms: 1_200,
        capabilities: TOOLS | JSON_MODE,
        region_mask: US | EU,
        input_cost_microunits_per_million_tokens: perMillion(2),
        output_cost_microunits_per_million_tokens: perMillion(6)
      }
    ]
  },
  tenants: [
    { id: "acme-support", funds: 5n * USD },
    { id: "hobby-free-tier", funds: 50_000n }
  ],
  requests: [
    {
      label: "invoice OCR (vision)",
      tenant: "acme-support",
      input: {
        request_sequence: 1n,
        requested_model_id: 102,
        input_tokens: 3_000,
        output_tokens: 800,
        business_value_microunits: 5n * CENT,
        budget_limit_microunits: 2n * CENT,
        risk_bps: 1_000,
        confidence_bps: 9_000,
        minimum_quality_bps: 8_500,
        max_p95_latency_ms: 3_000,
        required_capabilities: VISION,
        allowed_provider_mask: ALL,
        required_region_mask: 0n
      },
      settle: 1_420_000n
    },
    {
      label: "FAQ answer",
      tenant: "acme-support",
      input: {
        request_sequence: 2n,
        requested_model_id: 202,
        input_tokens: 1_200,
        output_tokens: 300,
        business_value_microunits: 1n * CENT,
        budget_limit_microunits: 1n * CENT,
        risk_bps: 500,
        confidence_bps: 8_500,
        minimum_quality_bps: 6_500,
        max_p95_latency_ms: 2_000,
        required_capabilities: 0n,
        allowed_provider_mask: ALL,
        required_region_mask: 0n
      },
      settle: 19_000n
    },
    {
      label: "contract clause, EU data only",
      tenant: "acme-support",
      input: {
        request_sequence: 3n,
        requested_model_id: 202,
        input_tokens: 4_000,
        output_tokens: 1_000,
        business_value_microunits: 8n * CENT,
        budget_limit_microunits: 3n * CENT,
        risk_bps: 1_500,
        confidence_bps: 8_000,
        minimum_quality_bps: 8_000,
        max_p95_latency_ms: 0,
        required_capabilities: JSON_MODE,
        allowed_provider_mask: ALL,
        required_region_mask: EU
      },
      settle: "release"
    },
    {
      label: "120k-token summary, 0.5¢ budget",
      tenant: "acme-support",
      input: {
        request_sequence: 4n,
        requested_model_id: 202,
        input_tokens: 120_000,
        output_tokens: 2_000,
        business_value_microunits: 20n * CENT,
        budget_limit_microunits: 500_000n,
        risk_bps: 1_000,
        confidence_bps: 9_000,
        minimum_quality_bps: 7_000,
        max_p95_latency_ms: 0,
        required_capabilities: 0n,
        allowed_provider_mask: ALL,
        required_region_mask: 0n
      }
    },
    {
      label: "invoice OCR on the free tier",
      tenant: "hobby-free-tier",
      input: {
        request_sequence: 5n,
        requested_model_id: 102,
        input_tokens: 3_000,
        output_tokens: 800,
        business_value_microunits: 5n * CENT,
        budget_limit_microunits: 2n * CENT,
        risk_bps: 1_000,
        confidence_bps: 9_000,
        minimum_quality_bps: 8_500,
        max_p95_latency_ms: 3_000,
        required_capabilities: VISION,
        allowed_provider_mask: ALL,
        required_region_mask: 0n
      }
    }
  ]
}

// fee per million shares, from the fee per 100 shares in dollars
const feePerMillion = (dollarsPer100: number): bigint => BigInt(Math.round(dollarsPer100 * 100)) * 10_000n * CENT

const LIT = 1n
const MIDPOINT = 2n
const HIDDEN = 4n

const order = (
  sequence: bigint,
  venue: number,
  shares: number,
  edge: bigint,
  extra: Partial<InputData> = {}
): InputData => ({
  request_sequence: sequence,
  requested_model_id: venue,
  input_tokens: shares,
  output_tokens: 0,
  business_value_microunits: edge,
  budget_limit_microunits: 500n * USD,
  risk_bps: 1_000,
  confidence_bps: 9_000,
  minimum_quality_bps: 8_000,
  max_p95_latency_ms: 10,
  required_capabilities: 0n,
  allowed_provider_mask: ALL,
  required_region_mask: US,
  ...extra
})

export const trade: Scenario = {
  title: "Pre-trade guard",
  policyFile: "trade-policy.json",
  requestsFile: "orders.jsonl",
  policy: {
    policy_epoch: 9n,
    catalog_epoch: 4n,
    hard_risk_limit_bps: 8_000,
    minimum_confidence_bps: 6_000,
    risk_penalty_multiplier_bps: 20_000,
    latency_penalty_microunits_per_ms: 50n * CENT,
    models: [
      venue("NYSE", 1, 0, 9_200, 4, LIT, 0.3),
      venue("Nasdaq", 2, 1, 9_100, 3, LIT | MIDPOINT, 0.3),
      venue("Cboe BZX", 3, 2, 8_900, 2, LIT | MIDPOINT, 0.28),
      venue("IEX", 4, 3, 8_700, 5, LIT | MIDPOINT | HIDDEN, 0.09),
      venue("MEMX", 5, 4, 8_400, 2, LIT | MIDPOINT, 0.25)
    ]
  },
  tenants: [{ id: "equities-desk-1", funds: 1_000n * USD, cap: 60n * USD }],
  requests: [
    {
      label: "buy 10,000 ACME",
      tenant: "equities-desk-1",
      input: order(1001n, 4, 10_000, 100n * USD),
      settle: 850_000_000n
    },
    {
      label: "sell 25,000 XYZ at midpoint",
      tenant: "equities-desk-1",
      input: order(1002n, 1, 25_000, 200n * USD, { required_capabilities: MIDPOINT })
    },
    {
      label: "buy 150,000 ACME (block)",
      tenant: "equities-desk-1",
      input: order(1003n, 4, 150_000, 1_500n * USD)
    },
    {
      label: "short 5,000 HALTD (restricted)",
      tenant: "equities-desk-1",
      input: order(1004n, 2, 5_000, 50n * USD, { risk_bps: 8_500 })
    }
  ]
}

function venue(
  name: string,
  id: number,
  operator: number,
  fillQuality: number,
  latencyMs: number,
  capabilities: bigint,
  feePer100: number
): NamedModel {
  return {
    name,
    model_id: id,
    provider_id: operator,
    quality_bps: fillQuality,
    risk_ceiling_bps: 9_000,
    enabled: 1,
    p95_latency_ms: latencyMs,
    capabilities,
    region_mask: US,
    input_cost_microunits_per_million_tokens: feePerMillion(feePer100),
    output_cost_microunits_per_million_tokens: 0n
  }
}
