/**
 * Audited replay's fail-closed order (a broken chain anywhere, then the first record that does
 * not decode, then the first failed audit), on logs built line by line.
 */
import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const ALL = (1n << 64n) - 1n
const json = (fields: Record<string, Json.Json>): Json.Json => new Map(Object.entries(fields))

const policy = Policy.unsafeMake(
  Schema.decodeUnknownSync(Policy.PolicySnapshot)(json({
    policy_epoch: 1,
    catalog_epoch: 1,
    hard_risk_limit_bps: 9600,
    minimum_confidence_bps: 5500,
    risk_penalty_multiplier_bps: 3500,
    latency_penalty_microunits_per_ms: 0,
    models: Array.from({ length: 4 }, (_, i) =>
      json({
        model_id: i,
        provider_id: i % 6,
        quality_bps: 3000 + 300 * i,
        risk_ceiling_bps: 9500,
        enabled: 1,
        p95_latency_ms: 100 + 50 * i,
        capabilities: 0,
        region_mask: ALL,
        input_cost_microunits_per_million_tokens: 10 + 50 * i,
        output_cost_microunits_per_million_tokens: 40 + 200 * i
      }))
  }))
)

const input = (s: number): Input =>
  Schema.decodeUnknownSync(Input)(json({
    request_sequence: s,
    requested_model_id: s % 4,
    input_tokens: 500 + s,
    output_tokens: 200 + s,
    business_value_microunits: 50000,
    budget_limit_microunits: 10_000_000,
    risk_bps: 100,
    confidence_bps: 6000 + s,
    minimum_quality_bps: 3000,
    max_p95_latency_ms: 0,
    required_capabilities: 0,
    allowed_provider_mask: ALL,
    required_region_mask: 0
  }))

const honest = (s: number): Json.Json =>
  Either.getOrThrow(Audited.auditedRecord(policy, input(s), Kernel.prescribe(policy, input(s)), s))

/** An audited record whose decision was altered after its audit bundle was made. */
const forged = (s: number): Json.Json => {
  const decision = Kernel.prescribe(policy, input(s))
  const wire = new Map(Schema.encodeSync(Decision.Decision)(decision) as Json.JsonObject)
  wire.set("expected_utility_microunits", decision.expected_utility_microunits + 1n)
  const record = new Map(honest(s) as Json.JsonObject)
  record.set("decision", wire)
  return record
}

const key = new Uint8Array(32).fill(7)
const chain = Either.getOrThrow(Chain.make({ key }))

/** A log of these records; `breakAt` (1-based) gets a wrong entry hash. */
const log = (records: ReadonlyArray<Json.Json>, breakAt = 0): Uint8Array => {
  let text = ""
  let previous = Chain.GENESIS
  records.forEach((data, i) => {
    const next = Entry.seal(chain, BigInt(i + 1), previous, Either.getOrThrow(Entry.canonicalData(data)))
    const hash = i + 1 === breakAt ? "0".repeat(64) : next.sealed.entry_hash
    text += Entry.formatLine(BigInt(i + 1), previous, hash, Either.getOrThrow(Entry.canonicalData(data)))
    previous = hash
  })
  return new TextEncoder().encode(text)
}

const replay = (bytes: Uint8Array) => Audited.replayBytes(Stream.make(bytes), { chain }, policy)

describe("replayBytes", () => {
  it.effect("passes an honest log with one verdict per entry", () =>
    Effect.gen(function*() {
      const verdicts = yield* replay(log([honest(1), honest(2), honest(3)]))
      assert.deepStrictEqual(verdicts.map((v) => v.sequence), [1n, 2n, 3n])
    }))

  it.effect("a failed audit is reported only when every record decodes", () =>
    Effect.gen(function*() {
      const audit = yield* Effect.flip(replay(log([honest(1), forged(2), honest(3)])))
      assert.strictEqual(audit._tag, "WalAuditFailed")
      const parse = yield* Effect.flip(replay(log([honest(1), forged(2), 42, honest(4)])))
      assert.strictEqual(parse._tag, "WalParseError")
      if (parse._tag === "WalParseError") assert.strictEqual(parse.line, 3)
    }))

  it.effect("a broken chain after a failed audit and an undecodable record wins over both", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(replay(log([honest(1), forged(2), 42, honest(4), honest(5)], 5)))
      assert.strictEqual(error._tag, "WalChainBroken")
    }))
})
