import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Hash from "@calybris/core/Hash"
import * as Hex from "@calybris/core/Hex"
import { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Policy from "@calybris/core/Policy"
import * as Arb from "@calybris/testing/Arbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"

const U64_MAX = (1n << 64n) - 1n

/** Change one field of a record to a different value of the same width. */
const mutate = <T extends Record<string, unknown>>(record: T, key: keyof T, pick: number): T => {
  const value = record[key]
  let next: unknown
  if (typeof value === "bigint") {
    const signed = key === "business_value_microunits" || String(key).includes("utility")
    next = signed
      ? BigInt.asIntN(64, value ^ (1n << BigInt(pick % 64)))
      : BigInt.asUintN(64, value ^ (1n << BigInt(pick % 64)))
  } else if (typeof value === "number") {
    const width = key === "enabled" ? 8 : value > 0xffff || String(key).endsWith("_id") && key !== "provider_id" ||
        String(key).includes("tokens") || String(key).includes("latency")
      ? 32
      : 16
    next = (value ^ (1 << (pick % width))) >>> 0
  } else if (key === "action") {
    const all = Decision.Action.literals
    next = all[(all.indexOf(value as Decision.Action) + 1 + (pick % 2)) % 3]
  } else if (key === "reason") {
    const all = Decision.Reason.literals
    next = all[(all.indexOf(value as Decision.Reason) + 1 + (pick % 12)) % 13]
  }
  return { ...record, [key]: next }
}

describe("Digest", () => {
  it("any single-field change of an input changes its digest", () => {
    fc.assert(
      fc.property(Arb.input(), fc.nat(), fc.nat(), (input, k, bit) => {
        const keys = Object.keys(input) as Array<keyof typeof input>
        const key = keys[k % keys.length] as keyof typeof input
        const changed = mutate(input, key, bit)
        assert.notStrictEqual(Digest.inputDigest(changed), Digest.inputDigest(input), String(key))
      })
    )
  })
  it("any single-field change of a decision changes its digest", () => {
    fc.assert(
      fc.property(Arb.decision, fc.nat(), fc.nat(), (decision, k, bit) => {
        const keys = Object.keys(decision) as Array<keyof typeof decision>
        const key = keys[k % keys.length] as keyof typeof decision
        const changed = mutate(decision, key, bit)
        assert.notStrictEqual(Digest.decisionDigest(changed), Digest.decisionDigest(decision), String(key))
      })
    )
  })
  it("a decision whose action or reason is none of the reference's is a defect, never the code 0 they all shared (a hostile review)", () => {
    fc.assert(
      fc.property(Arb.decision, (decision) => {
        const action = { ...decision, action: "nope" } as unknown as Decision.Decision
        const reason = { ...decision, reason: "Nope" } as unknown as Decision.Decision
        assert.throws(() => Digest.decisionDigest(action), RangeError, "a decision's action \"nope\"")
        assert.throws(() => Digest.decisionDigest(reason), RangeError, "a decision's reason \"Nope\"")
      })
    )
  })
  it("any single-field change of a policy or a model changes its digest", () => {
    fc.assert(
      fc.property(Arb.policy, fc.nat(), fc.nat(), fc.nat(), (p, k, bit, which) => {
        const before = Digest.policyDigest(p)
        const keys = Object.keys(p).filter((key) => key !== "models") as Array<keyof typeof p>
        const key = keys[k % keys.length] as keyof typeof p
        assert.notStrictEqual(Digest.policyDigest(mutate(p, key, bit)), before, String(key))
        if (p.models.length > 0) {
          const index = which % p.models.length
          const m = p.models[index] as (typeof p.models)[number]
          const mkeys = Object.keys(m) as Array<keyof typeof m>
          const mk = mkeys[bit % mkeys.length] as keyof typeof m
          const models = p.models.map((x, i) => (i === index ? mutate(x, mk, k) : x))
          // a changed model_id may only move the model in the sorted order when ids collide
          if (mk !== "model_id" || new Set(p.models.map((x) => x.model_id)).size === p.models.length) {
            assert.notStrictEqual(Digest.policyDigest({ ...p, models }), before, `model.${String(mk)}`)
          }
        }
      })
    )
  })
  it("hashes models in ascending id order, stable for equal ids", () => {
    fc.assert(
      fc.property(Arb.policy, (p) => {
        const shuffled = { ...p, models: [...p.models].reverse() }
        const sameIds = new Set(p.models.map((m) => m.model_id)).size === p.models.length
        if (sameIds) assert.strictEqual(Digest.policyDigest(shuffled), Digest.policyDigest(p))
      })
    )
  })
  it("preimages have the reference's lengths", () => {
    fc.assert(
      fc.property(Arb.input(), Arb.decision, Arb.policy, (i, d, p) => {
        assert.strictEqual(Digest.inputPreimage(i).length, 79)
        assert.strictEqual(Digest.decisionPreimage(d).length, 74)
        assert.strictEqual(Digest.policyPreimage(p).length, 39 + 47 * p.models.length)
      })
    )
  })
  it("node:crypto and @noble/hashes agree", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 80 }), (data, key) => {
        const node = Hash.node
        if (node === undefined) return
        assert.strictEqual(Hash.toHex(node.sha256(data)), Hash.toHex(Hash.noble.sha256(data)))
        assert.strictEqual(Hash.toHex(node.hmacSha256(key, data)), Hash.toHex(Hash.noble.hmacSha256(key, data)))
        assert.strictEqual(Hash.toHex(node.hmacFor(key)(data)), Hash.toHex(Hash.noble.hmacFor(key)(data)))
      })
    )
  })
})

describe("Hex", () => {
  it("decodes either case to 32 bytes, re-encoded lowercase", () => {
    const upper = "AB".repeat(32)
    assert.strictEqual(Hash.toHex(Either.getOrThrow(Hex.decodeDigest(upper))), "ab".repeat(32))
  })
  it("checks the byte length first, then digits pairwise, then the length", () => {
    assert.deepStrictEqual(
      Either.getLeft(Hex.decodeDigest("abc")).pipe((o) => o._tag === "Some" && o.value._tag),
      "OddLength"
    )
    const e = Either.flip(Hex.decodeDigest("0".repeat(62) + "é"))
    assert.isTrue(Either.isRight(e))
    const err = Either.getOrThrow(e)
    assert.strictEqual(err._tag, "InvalidHexCharacter")
    assert.strictEqual(err.message, "invalid hex digit 0xc3 at index 62")
    const short = Either.getOrThrow(Either.flip(Hex.decodeDigest("00")))
    assert.strictEqual(short.message, "expected 64 hex characters")
  })
  it("never throws on arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
      const r = Hex.decodeDigest(s)
      assert.isTrue(Either.isLeft(r) || r.right.length === 32)
    }))
  })
})

describe("wire codecs", () => {
  const roundTrip = <A, I extends Json.Json>(schema: Schema.Schema<A, I>, value: A) => {
    const text = Json.print(Schema.encodeSync(schema)(value))
    const back = Schema.decodeUnknownSync(schema)(Either.getOrThrow(Json.parse(text)))
    assert.deepStrictEqual(back, value)
    assert.strictEqual(Json.print(Schema.encodeSync(schema)(back)), text)
  }
  it("decode(encode(x)) = x for inputs, decisions, policies, traces", () => {
    fc.assert(fc.property(Arb.input(), Arb.decision, Arb.policy, (i, d, p) => {
      roundTrip(Input, i)
      roundTrip(Decision.Decision, d)
      roundTrip(Policy.PolicySnapshot, p)
    }))
  })
  it("u64 max and i64 min survive a round trip exactly", () => {
    const text = `{"request_sequence":18446744073709551615,"requested_model_id":4294967295,"input_tokens":0,`
      + `"output_tokens":0,"business_value_microunits":-9223372036854775808,"budget_limit_microunits":0,`
      + `"risk_bps":65535,"confidence_bps":0,"minimum_quality_bps":0,"max_p95_latency_ms":0,"required_capabilities":0,`
      + `"allowed_provider_mask":18446744073709551615,"required_region_mask":0}`
    const input = Schema.decodeUnknownSync(Input)(Either.getOrThrow(Json.parse(text)))
    assert.strictEqual(input.request_sequence, U64_MAX)
    assert.strictEqual(input.business_value_microunits, -(1n << 63n))
    assert.strictEqual(Json.print(Schema.encodeSync(Input)(input)), text)
  })
  it("rejects out-of-range values, floats and missing fields, naming the field", () => {
    const base = `"request_sequence":1,"requested_model_id":1,"input_tokens":0,"output_tokens":0,`
      + `"business_value_microunits":0,"budget_limit_microunits":0,"confidence_bps":0,"minimum_quality_bps":0,`
      + `"max_p95_latency_ms":0,"required_capabilities":0,"allowed_provider_mask":0,"required_region_mask":0`
    const decode = (text: string) => Schema.decodeUnknownEither(Input)(Either.getOrThrow(Json.parse(text)))
    const bad = (text: string, needle: string) => {
      const r = decode(text)
      assert.isTrue(Either.isLeft(r), text)
      if (Either.isLeft(r)) assert.include(r.left.message, needle)
    }
    bad(`{${base},"risk_bps":65536}`, "risk_bps")
    bad(`{${base},"risk_bps":1.0}`, "risk_bps")
    bad(`{${base},"risk_bps":-1}`, "risk_bps")
    bad(`{${base}}`, "risk_bps")
    bad(
      `{${base.replace(`"request_sequence":1`, `"request_sequence":18446744073709551616`)},"risk_bps":1}`,
      "request_sequence"
    )
  })
})
