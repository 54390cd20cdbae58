/**
 * Wire documents are decoded as the reference decodes them (`serde_json::from_str::<T>` with
 * serde-derive): typed, from the text, the first problem winning, with serde's message, category
 * and position — and the field it is about. Schema-level errors are one line naming the field and
 * the value.
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Arb from "@calybris/testing/Arbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"

const inputText =
  `{"request_sequence":1,"requested_model_id":2,"input_tokens":3,"output_tokens":4,"business_value_microunits":-5,` +
  `"budget_limit_microunits":6,"risk_bps":7,"confidence_bps":8,"minimum_quality_bps":9,"max_p95_latency_ms":10,` +
  `"required_capabilities":11,"allowed_provider_mask":12,"required_region_mask":13}`

const modelText = (id: number) =>
  `{"model_id":${id},"provider_id":1,"quality_bps":7000,"risk_ceiling_bps":9000,"enabled":1,"p95_latency_ms":100,` +
  `"capabilities":0,"region_mask":1,"input_cost_microunits_per_million_tokens":10,"output_cost_microunits_per_million_tokens":20}`

const policyText = `{\n  "policy_epoch": 1,\n  "catalog_epoch": 2,\n  "hard_risk_limit_bps": 9000,\n` +
  `  "minimum_confidence_bps": 100,\n  "risk_penalty_multiplier_bps": 10,\n` +
  `  "latency_penalty_microunits_per_ms": 1,\n  "models": [\n    ${modelText(1)},\n    ${modelText(2)}\n  ]\n}\n`

const decisionText =
  `{"request_sequence":1,"action":"Substitute","reason":"AlternativeMaximizesUtility","selected_model_id":2,` +
  `"selected_model_index":1,"estimated_cost_microunits":3,"expected_utility_microunits":-4,"counterfactual_model_id":5,` +
  `"counterfactual_utility_microunits":6,"evaluated_models":7,"eligible_models":8,"policy_epoch":9,"catalog_epoch":10}`

/** `category: message @ line:column [field]`, or `ok`. */
const verdict = <A, I>(schema: Schema.Schema<A, I>, text: string): string => {
  const r = JsonSchema.decodeText(schema)(text)
  if (Either.isRight(r)) return "ok"
  const e = r.left
  if (e._tag !== "JsonParseError") return `Schema: ${JsonSchema.formatError(e)}`
  return `${e.category}: ${e.message} @ ${e.line}:${e.column}${e.field === undefined ? "" : ` [${e.field}]`}`
}

/** serde's column just past the `n`-th occurrence of `needle` (1-based UTF-8 bytes on its line). */
const past = (text: string, needle: string, n = 1): string => {
  let at = -1
  for (let k = 0; k < n; k++) at = text.indexOf(needle, at + 1)
  const before = text.slice(0, at + needle.length)
  const line = before.split("\n").length
  return `${line}:${Buffer.byteLength(before.slice(before.lastIndexOf("\n") + 1))}`
}

describe("JsonSchema.decodeText: a repeated field is serde's duplicate field", () => {
  it("in every wire struct, with the position just past the repeated key", () => {
    const policy = policyText.replace(`"catalog_epoch"`, `"policy_epoch": 7, "catalog_epoch"`)
    assert.strictEqual(
      verdict(Policy.PolicySnapshot, policy),
      `Data: duplicate field \`policy_epoch\` @ ${past(policy, `"policy_epoch"`, 2)} [policy_epoch]`
    )
    const model = policyText.replace(`"quality_bps":7000,`, `"quality_bps":7000,"quality_bps":1,`)
    assert.strictEqual(
      verdict(Policy.PolicySnapshot, model),
      `Data: duplicate field \`quality_bps\` @ ${past(model, `"quality_bps"`, 2)} [models[0].quality_bps]`
    )
    const input = inputText.replace(`"risk_bps":7`, `"risk_bps":7 , "risk_bps"  :1`)
    assert.strictEqual(
      verdict(Input.Input, input),
      `Data: duplicate field \`risk_bps\` @ 1:${
        Buffer.byteLength(input.slice(0, input.indexOf(`"risk_bps"  :`) + 12))
      } [risk_bps]`
    )
    const decision = decisionText.replace(`"action":"Substitute"`, `"action":"Substitute","action":"Reject"`)
    assert.strictEqual(
      verdict(Decision.Decision, decision),
      `Data: duplicate field \`action\` @ ${past(decision, `"action"`, 2)} [action]`
    )
    const bundle =
      `{"policy_digest_hex":"a","input_digest_hex":"b","decision_digest_hex":"c","replay_valid":true,"replay_valid":false}`
    assert.strictEqual(
      verdict(Verify.AuditBundle, bundle),
      `Data: duplicate field \`replay_valid\` @ ${past(bundle, `"replay_valid"`, 2)} [replay_valid]`
    )
    // a repeated key the struct does not know is ignored, as serde ignores unknown members
    assert.strictEqual(verdict(Input.Input, inputText.replace(/^\{/, `{"x":1,"x":2,`)), "ok")
  })

  it("two documents that differ only by a repeated key no longer decode to the same value", () => {
    const twice = policyText.replace(`"policy_epoch": 1,`, `"policy_epoch": 99, "policy_epoch": 1,`)
    assert.isTrue(Either.isRight(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText)))
    assert.isTrue(Either.isLeft(JsonSchema.decodeText(Policy.PolicySnapshot)(twice)))
  })
})

describe("JsonSchema.decodeShape: a JSON null in a Value field is a value", () => {
  const shape = JsonSchema.structShape("T", [["a", { _tag: "Value" }], ["b", { _tag: "Value" }]])
  const decoded = (text: string): string => {
    const r = JsonSchema.decodeShape(shape, text)
    return Either.isRight(r)
      ? `ok ${Json.print(r.right)}`
      : `${r.left.category}: ${r.left.message} @ ${r.left.line}:${r.left.column}`
  }

  it("alone, spaced, and beside other values", () => {
    assert.strictEqual(decoded(`{"a":null,"b":1}`), `ok {"a":null,"b":1}`)
    assert.strictEqual(decoded(`{ "a" : null , "b" : null }`), `ok {"a":null,"b":null}`)
    assert.strictEqual(decoded(`{"a":{"k":null},"b":[null]}`), `ok {"a":{"k":null},"b":[null]}`)
  })

  it("repeated after a null: serde's duplicate field, at the repeated key", () => {
    for (const text of [`{"a":null,"a":1,"b":2}`, `{"a":null,"a":null}`, `{"b":0,"a":null,"b":null}`]) {
      const key = text.startsWith(`{"b"`) ? `"b"` : `"a"`
      assert.strictEqual(decoded(text), `Data: duplicate field \`${key.slice(1, 2)}\` @ ${past(text, key, 2)}`, text)
    }
  })
})

describe("JsonSchema.decodeText: serde's other messages", () => {
  it("an enum written {\"Variant\": null} whose key is no string: serde_json 1.0.150's key must be a string, at the key (a review against its source)", () => {
    const at = `{"request_sequence":1,"action":`.length + 1
    for (
      const [action, message] of [
        [`{1:null}`, "key must be a string"],
        [`{[]:null}`, "key must be a string"],
        [`{null:null}`, "key must be a string"],
        [`{}`, "expected value"]
      ] as const
    ) {
      assert.strictEqual(
        verdict(Decision.Decision, decisionText.replace(`"Substitute"`, action)),
        `Syntax: ${message} @ 1:${at + 1} [action]`,
        action
      )
    }
    assert.strictEqual(verdict(Decision.Decision, decisionText.replace(`"Substitute"`, `{"Substitute":null}`)), "ok")
  })

  it("missing field just past the struct's `}`, in declaration order", () => {
    const text = inputText.replace(`"input_tokens":3,`, "").replace(`"risk_bps":7,`, "")
    assert.strictEqual(
      verdict(Input.Input, text),
      `Data: missing field \`input_tokens\` @ 1:${text.length} [input_tokens]`
    )
    const nested = policyText.replace(`"enabled":1,`, "")
    assert.strictEqual(
      verdict(Policy.PolicySnapshot, nested),
      `Data: missing field \`enabled\` @ ${past(nested, modelText(1).replace(`"enabled":1,`, ""))} [models[0].enabled]`
    )
  })

  it("integer widths, types, enums and structs given as sequences", () => {
    const v = (from: string, to: string) => verdict(Decision.Decision, decisionText.replace(from, to))
    assert.strictEqual(
      v(`"action":"Substitute"`, `"action":"Foo"`),
      `Data: unknown variant \`Foo\`, expected one of \`ExecuteRequested\`, \`Substitute\`, \`Reject\` @ 1:${
        decisionText.indexOf(`"action"`) + 14
      } [action]`
    )
    assert.strictEqual(v(`"action":"Substitute"`, `"action":{"Substitute":null}`), "ok")
    assert.match(
      v(`"action":"Substitute"`, `"action":{"Substitute":1}`),
      /^Data: invalid type: integer `1`, expected unit @/
    )
    assert.match(v(`"action":"Substitute"`, `"action":5`), /^Syntax: expected value @ 1:\d+ \[action\]$/)
    assert.match(
      v(`"selected_model_index":1`, `"selected_model_index":70000`),
      /invalid value: integer `70000`, expected u16/
    )
    assert.match(v(`"selected_model_id":2`, `"selected_model_id":-1`), /invalid value: integer `-1`, expected u32/)
    assert.match(
      v(`"selected_model_id":2`, `"selected_model_id":2.0`),
      /invalid type: floating point `2\.0`, expected u32/
    )
    assert.match(
      v(`"expected_utility_microunits":-4`, `"expected_utility_microunits":9223372036854775808`),
      /invalid value: integer `9223372036854775808`, expected i64/
    )
    // `-0` is a float to serde_json (`-0.0`), in a signed field and an unsigned one alike (the core review)
    assert.match(
      v(`"expected_utility_microunits":-4`, `"expected_utility_microunits":-0`),
      /invalid type: floating point `-0\.0`, expected i64 @/
    )
    assert.match(v(`"policy_epoch":9`, `"policy_epoch":-0`), /invalid type: floating point `-0\.0`, expected u64 @/)
    assert.match(v(`"policy_epoch":9`, `"policy_epoch":"x"`), /invalid type: string "x", expected u64 @/)
    assert.match(v(`"policy_epoch":9`, `"policy_epoch":null`), /invalid type: null, expected u64 @/)
    assert.strictEqual(verdict(Input.Input, "[1,2,3,4,-5,6,7,8,9,10,11,12,13]"), "ok")
    assert.strictEqual(
      verdict(Input.Input, "[1,2]"),
      "Data: invalid length 2, expected struct KernelInput with 13 elements @ 1:5"
    )
    assert.strictEqual(verdict(Input.Input, "5"), "Data: invalid type: integer `5`, expected struct KernelInput @ 1:1")
    assert.strictEqual(
      verdict(Input.Input, `${inputText} x`),
      `Syntax: trailing characters @ 1:${inputText.length + 2}`
    )
    assert.strictEqual(
      verdict(Policy.PolicySnapshot, policyText.replace(/"models": \[[\s\S]*\]/, `"models": 5`)),
      `Data: invalid type: integer \`5\`, expected a sequence @ 8:13 [models]`
    )
  })

  it("quotes at most a short excerpt of a long string (a 1 MB value is not echoed)", () => {
    const long = "a".repeat(1_000_000)
    const message = verdict(Input.Input, `"${long}"`)
    assert.isBelow(message.length, 200)
    assert.include(message, `invalid type: string "${"a".repeat(80)}…", expected struct KernelInput`)
    const variant = verdict(Decision.Decision, decisionText.replace(`"Substitute"`, `"${long}"`))
    assert.isBelow(variant.length, 300)
  })

  it("a catalog past 65,535 models decodes, as the reference's: its index and counts saturate at 65,535 (SPEC §2.3), the per-gate counts wrap at 2^16 (the reference's u16 counters in a release build)", () => {
    // 65,537 models, all disabled but the last
    const models = Array.from({ length: 65_537 }, (_, i) => {
      const text = modelText(i + 1)
      return i < 65_536 ? text.replace(`"enabled":1`, `"enabled":0`) : text
    })
    const text = `{"policy_epoch":1,"catalog_epoch":1,"hard_risk_limit_bps":9000,"minimum_confidence_bps":1,` +
      `"risk_penalty_multiplier_bps":1,"latency_penalty_microunits_per_ms":0,"models":[${models.join(",")}]}`
    const snapshot = Either.getOrThrow(JsonSchema.decodeText(Policy.PolicySnapshot)(text))
    assert.strictEqual(snapshot.models.length, 65_537)
    const policy = Either.getOrThrow(Policy.make(snapshot))
    assert.match(Digest.policyDigest(policy), /^[0-9a-f]{64}$/)
    const input = Either.getOrThrow(
      JsonSchema.decodeText(Input.Input)(
        inputText.replace(`"requested_model_id":2`, `"requested_model_id":65537`)
          .replace(`"business_value_microunits":-5`, `"business_value_microunits":1000000000`)
          .replace(`"budget_limit_microunits":6`, `"budget_limit_microunits":1000000`)
          .replace(`"minimum_quality_bps":9`, `"minimum_quality_bps":0`)
          .replace(`"max_p95_latency_ms":10`, `"max_p95_latency_ms":0`)
          .replace(`"required_capabilities":11`, `"required_capabilities":0`)
          .replace(`"allowed_provider_mask":12`, `"allowed_provider_mask":2`)
          .replace(`"required_region_mask":13`, `"required_region_mask":0`)
      )
    )
    const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
    assert.strictEqual(decision.action, "ExecuteRequested")
    assert.strictEqual(decision.selected_model_id, 65_537)
    assert.strictEqual(decision.selected_model_index, 65_535)
    assert.strictEqual(decision.evaluated_models, 65_535)
    assert.strictEqual(decision.eligible_models, 1)
    // 65,536 disabled: the reference's `rejected.disabled += 1` on a u16 wraps to 0 (it was taken
    // to saturate at 65,535 here; the crate's source and release profile say otherwise: a review)
    assert.strictEqual(trace.rejections.disabled, 0)
    // a rejection's dominant reason comes from the wrapped counts: the one model below the quality
    // floor (1) outweighs the 65,536 disabled ones (0), as in the reference
    const last = models.length - 1
    const rejecting = `{"policy_epoch":1,"catalog_epoch":1,"hard_risk_limit_bps":9000,"minimum_confidence_bps":1,` +
      `"risk_penalty_multiplier_bps":1,"latency_penalty_microunits_per_ms":0,"models":[${
        models.map((m, i) => i === last ? m.replace(/"quality_bps":\d+/, `"quality_bps":0`) : m).join(",")
      }]}`
    const strict = Either.getOrThrow(JsonSchema.decodeText(Policy.PolicySnapshot)(rejecting))
    const picky = Either.getOrThrow(
      JsonSchema.decodeText(Input.Input)(inputText.replace(`"minimum_quality_bps":9`, `"minimum_quality_bps":1`))
    )
    const rejected = Kernel.prescribeWithTrace(Either.getOrThrow(Policy.make(strict)), picky)
    assert.strictEqual(rejected.decision.action, "Reject")
    assert.strictEqual(rejected.decision.reason, "QualityConstraint")
    assert.strictEqual(rejected.trace.rejections.disabled, 0)
    assert.strictEqual(rejected.trace.rejections.quality, 1)
  })
})

describe("JsonSchema.formatError: one line naming the field and the value", () => {
  const decode = Schema.decodeUnknownEither(Input.Input)
  const fields = Either.getOrThrow(Json.parse(inputText)) as Json.JsonObject
  const withField = (name: string, value: Json.Json): Json.Json => new Map([...fields, [name, value]])
  const format = (json: Json.Json): string => {
    const r = decode(json)
    return Either.isLeft(r) ? JsonSchema.formatError(r.left) : "ok"
  }

  it("integers beyond 2^53 print exactly, without an `n`; floats as serde prints them; one line", () => {
    assert.strictEqual(
      format(withField("risk_bps", 2n ** 60n)),
      "risk_bps: expected an integer in [0, 65535], got 1152921504606846976"
    )
    assert.strictEqual(
      format(withField("request_sequence", new Json.JsonFloat(2 ** 64))),
      "request_sequence: expected an integer in [0, 18446744073709551615], got the float 1.8446744073709552e+19"
    )
    assert.strictEqual(
      format(withField("business_value_microunits", 2n ** 64n)),
      "business_value_microunits: must be an integer in [-9223372036854775808, 9223372036854775807], got 18446744073709551616"
    )
    // no user text is echoed for an integer field, and at most an excerpt elsewhere
    assert.strictEqual(
      format(withField("risk_bps", "x".repeat(10_000))),
      "risk_bps: expected an integer in [0, 65535], got a string"
    )
    const bundle = Schema.decodeUnknownEither(Verify.AuditBundle)(
      new Map<string, Json.Json>([["policy_digest_hex", Array.from({ length: 100_000 }, (_, i) => i)]])
    )
    assert.isTrue(Either.isLeft(bundle))
    if (Either.isLeft(bundle)) {
      assert.strictEqual(
        JsonSchema.formatError(bundle.left),
        `policy_digest_hex: expected string, got ${
          "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,".slice(0, 80)
        }…`
      )
    }
    const missing = new Map(fields)
    missing.delete("risk_bps")
    assert.strictEqual(format(missing), "risk_bps: is missing")
    for (const json of [withField("risk_bps", 2n ** 60n), [1, 2, 3], missing]) assert.notInclude(format(json), "\n")
  })

  it("a union names the field of the member its discriminator picks, not the first member's discriminator (a hostile review)", () => {
    // (members decoded into other types, as the journal's commands: no search by the literal)
    const member = <F extends Schema.Struct.Fields>(fields: F) => {
      const wire = Schema.Struct(fields)
      return Schema.transform(wire, Schema.typeSchema(wire), { strict: true, decode: (a) => a, encode: (a) => a })
    }
    const Member = Schema.Union(
      member({ kind: Schema.Literal("a"), x: Schema.String }),
      member({ kind: Schema.Literal("b"), y: Schema.Number }),
      member({ kind: Schema.Literal("c"), z: Schema.Boolean })
    )
    const Record = Schema.Struct({ items: Schema.Array(Member) })
    const formatted = (json: unknown) => {
      const r = Schema.decodeUnknownEither(Record)(json)
      return Either.isLeft(r) ? JsonSchema.formatError(r.left) : "ok"
    }
    assert.strictEqual(
      formatted({ items: [{ kind: "a", x: "" }, { kind: "b", y: "7" }] }),
      "items[1].y: expected number, got \"7\""
    )
    assert.strictEqual(formatted({ items: [{ kind: "c", z: 1 }] }), "items[0].z: expected boolean, got 1")
    // no member's discriminator matches: what Schema says of the discriminator
    assert.strictEqual(
      formatted({ items: [{ kind: "d" }] }),
      "items[0].kind: expected \"a\" | \"b\" | \"c\", got \"d\""
    )
  })
})

describe("JsonSchema.decodeText: the typed decoding agrees with the Schema on what writers write", () => {
  const roundTrip = <A, I extends Json.Json>(schema: Schema.Schema<A, I>, value: A, spaced: boolean) => {
    const text = JsonSchema.encodeText(schema)(value)
    // whitespace between tokens (not inside strings: wire strings here hold no ", " or ": ")
    const input = spaced ? text.replace(/,/g, " ,\n ").replace(/:/g, " : ") : text
    const typed = JsonSchema.decodeText(schema)(input)
    const untyped = Either.flatMap(Json.parse(input), Schema.decodeUnknownEither(schema))
    assert.isTrue(Either.isRight(typed), input)
    assert.deepStrictEqual(typed, untyped)
  }

  it("policies, inputs and decisions round-trip, compact or spaced", () => {
    fc.assert(
      fc.property(Arb.policyAndInput, Arb.decision, fc.boolean(), ([policy, input], decision, spaced) => {
        roundTrip(Policy.PolicySnapshot, policy, spaced)
        roundTrip(Input.Input, input, spaced)
        roundTrip(Decision.Decision, decision, spaced)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 200 }
    )
  })
})

describe("JsonSchema.decodeText never throws and always positions its error", () => {
  it("on mutated documents", () => {
    const texts = [inputText, policyText, decisionText]
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2),
        fc.nat(),
        fc.nat(8),
        fc.string({ unit: fc.constantFrom(..."{}[]:,\"\\ 0123456789-.eEtfnul", "\"risk_bps\"", "\"models\"") }),
        (which, at, cut, insert) => {
          const text = texts[which] ?? ""
          const i = at % (text.length + 1)
          const mutated = text.slice(0, i) + insert + text.slice(i + cut)
          const schema = which === 0 ? Input.Input : which === 1 ? Policy.PolicySnapshot : Decision.Decision
          const r = JsonSchema.decodeText(schema as Schema.Schema<unknown, Json.Json>)(mutated)
          if (Either.isLeft(r) && r.left._tag === "JsonParseError") {
            assert.isAtLeast(r.left.line, 1, r.left.message)
            assert.isAtLeast(r.left.column, 0)
          }
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })
})
