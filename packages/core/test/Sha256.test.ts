/**
 * The hashing fast paths against node:crypto's own `createHash` / `createHmac`: every input
 * length from 0 to 300 (so every padding case: one block, the 55/56-byte boundary, two
 * blocks, several), keys shorter than, equal to and longer than the 64-byte block, and the
 * fixed-layout preimage writers against a plain byte-by-byte reference.
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Hash from "@calybris/core/Hash"
import * as Arb from "@calybris/testing/Arbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as crypto from "node:crypto"

const bytes = (length: number, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    // xorshift32: deterministic, covers every byte value
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const expectedSha = (data: Uint8Array): string => crypto.createHash("sha256").update(data).digest("hex")
const expectedHmac = (key: Uint8Array, data: Uint8Array): string =>
  crypto.createHmac("sha256", key).update(data).digest("hex")

const implementations: ReadonlyArray<Hash.HashFunctions> = Hash.node === undefined ? [Hash.noble] : [
  Hash.node,
  Hash.noble
]

describe("SHA-256 fast paths", () => {
  it("sha256Hex and every implementation's sha256 equal node:crypto, lengths 0..300", () => {
    for (let length = 0; length <= 300; length++) {
      for (let seed = 1; seed <= 3; seed++) {
        const data = bytes(length, length * 7 + seed)
        const expected = expectedSha(data)
        assert.strictEqual(Hash.sha256Hex(data), expected, `sha256Hex, length ${length}`)
        for (const h of implementations) {
          assert.strictEqual(Hash.toHex(h.sha256(data)), expected, `${h.name}, length ${length}`)
        }
      }
    }
  })
  it("HMAC equals node:crypto for keys of 0..130 bytes and messages of 0..300 bytes", () => {
    for (const keyLength of [0, 1, 16, 31, 32, 33, 63, 64, 65, 100, 128, 130]) {
      const key = bytes(keyLength, keyLength + 1000)
      const macs = implementations.map((h) => [h, h.hmacFor(key)] as const)
      for (let length = 0; length <= 300; length++) {
        const data = bytes(length, length + keyLength * 301)
        const expected = expectedHmac(key, data)
        for (const [h, mac] of macs) {
          assert.strictEqual(Hash.toHex(mac(data)), expected, `${h.name} hmacFor, key ${keyLength}, length ${length}`)
          if (length % 17 === 0) {
            assert.strictEqual(Hash.toHex(h.hmacSha256(key, data)), expected, `${h.name} hmacSha256`)
          }
        }
      }
    }
  })
  it("a reusable HMAC grows its buffer and is not disturbed by the caller changing the key afterwards", () => {
    for (const h of implementations) {
      const key = bytes(40, 5)
      const copy = Uint8Array.from(key)
      const mac = h.hmacFor(key)
      key.fill(0)
      for (const length of [10, 5000, 20, 70_000, 0]) {
        const data = bytes(length, length)
        assert.strictEqual(Hash.toHex(mac(data)), expectedHmac(copy, data), `${h.name}, length ${length}`)
      }
    }
  })
  it("random inputs agree (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 150 }), (data, key) => {
        assert.strictEqual(Hash.sha256Hex(data), expectedSha(data))
        for (const h of implementations) {
          assert.strictEqual(Hash.toHex(h.sha256(data)), expectedSha(data))
          assert.strictEqual(Hash.toHex(h.hmacFor(key)(data)), expectedHmac(key, data))
        }
      })
    )
  })
})

/** The preimage layouts of SPEC §3, written field by field with the generic ByteWriter. */
const referenceInput = (i: Parameters<typeof Digest.inputPreimage>[0]): Uint8Array =>
  new Digest.ByteWriter(79)
    .bytes(Digest.TAG_INPUT)
    .u64(i.request_sequence)
    .u32(i.requested_model_id)
    .u32(i.input_tokens)
    .u32(i.output_tokens)
    .i64(i.business_value_microunits)
    .u64(i.budget_limit_microunits)
    .u16(i.risk_bps)
    .u16(i.confidence_bps)
    .u16(i.minimum_quality_bps)
    .u32(i.max_p95_latency_ms)
    .u64(i.required_capabilities)
    .u64(i.allowed_provider_mask)
    .u64(i.required_region_mask)
    .view8()
    .slice()

const referenceDecision = (d: Decision.Decision): Uint8Array =>
  new Digest.ByteWriter(74)
    .bytes(Digest.TAG_DECISION)
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
    .slice()

const referencePolicy = (p: Parameters<typeof Digest.policyPreimage>[0]): Uint8Array => {
  const w = new Digest.ByteWriter(39 + 47 * p.models.length)
    .bytes(Digest.TAG_POLICY)
    .u64(p.policy_epoch)
    .u64(p.catalog_epoch)
    .u16(p.hard_risk_limit_bps)
    .u16(p.minimum_confidence_bps)
    .u16(p.risk_penalty_multiplier_bps)
    .u64(p.latency_penalty_microunits_per_ms)
  const sorted = p.models.map((m, i) => ({ m, i })).sort((a, b) => a.m.model_id - b.m.model_id || a.i - b.i)
  for (const { m } of sorted) {
    w.u32(m.model_id).u16(m.provider_id).u16(m.quality_bps).u16(m.risk_ceiling_bps).u8(m.enabled)
      .u32(m.p95_latency_ms).u64(m.capabilities).u64(m.region_mask)
      .u64(m.input_cost_microunits_per_million_tokens).u64(m.output_cost_microunits_per_million_tokens)
  }
  return w.view8().slice()
}

describe("fixed-layout preimages", () => {
  it("input and decision preimages equal the field-by-field layout, and their digests its hash", () => {
    fc.assert(
      fc.property(Arb.input(), Arb.decision, (i, d) => {
        const input = referenceInput(i)
        const decision = referenceDecision(d)
        assert.deepStrictEqual(Digest.inputPreimage(i).slice(), input)
        assert.deepStrictEqual(Digest.decisionPreimage(d).slice(), decision)
        assert.strictEqual(Digest.inputDigest(i), expectedSha(input))
        assert.strictEqual(Digest.decisionDigest(d), expectedSha(decision))
        assert.strictEqual(Digest.inputDigest(i, Hash.noble), expectedSha(input))
        assert.strictEqual(Digest.decisionDigest(d, Hash.noble), expectedSha(decision))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })
  it("every action and reason code", () => {
    fc.assert(
      fc.property(
        Arb.decision,
        fc.constantFrom(...Decision.Action.literals),
        fc.constantFrom(...Decision.Reason.literals),
        (
          d,
          action,
          reason
        ) => {
          const changed = { ...d, action, reason }
          assert.deepStrictEqual(Digest.decisionPreimage(changed).slice(), referenceDecision(changed))
        }
      )
    )
  })
  it("the policy preimage equals the field-by-field layout (sorted by id, stable), uncached = cached digest", () => {
    fc.assert(
      fc.property(Arb.policy, fc.boolean(), (p, reverse) => {
        const snapshot = reverse ? { ...p, models: [...p.models].reverse() } : p
        const reference = referencePolicy(snapshot)
        assert.deepStrictEqual(Digest.policyPreimage(snapshot), reference)
        const expected = expectedSha(reference)
        assert.strictEqual(Digest.policyDigestUncached(snapshot, Hash.noble), expected)
        assert.strictEqual(Digest.policyDigestUncached(snapshot), expected)
        assert.strictEqual(Digest.policyDigest(snapshot), expected)
      })
    )
  })
})
