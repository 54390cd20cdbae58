import * as Codec from "@calybris/core/Codec"
import * as Decision from "@calybris/core/Decision"
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Arb from "@calybris/testing/GateArbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** What the CLI's batch decoder and printers are: the compiled codec of the wire Schemas. */
const Wire = {
  decodeInput: (json: Json.Json) => {
    const decoded = Codec.compileDecoder(Input.Input)?.(json)
    return decoded === Codec.FAIL || decoded === Codec.DEFER ? undefined : decoded
  },
  printDecision: Codec.printer(Decision.Decision),
  printTrace: Codec.printer(Decision.Trace),
  printAudit: Codec.printer(Verify.AuditBundle)
}

const encodeInput = Schema.encodeSync(Input.Input)
const decodeInput = Schema.decodeUnknownEither(Input.Input)

describe("the compiled wire paths of the batch decoder equal the Schema paths", () => {
  it.prop("decodeInput accepts what the Schema accepts, with the same values", [Arb.policyAndInput], ([[, input]]) => {
    const json = encodeInput(input)
    assert.deepStrictEqual(Wire.decodeInput(json), Either.getOrThrow(decodeInput(json)))
    // and after a round trip through the text
    const reparsed = Either.getOrThrow(Json.parse(Json.print(json)))
    assert.deepStrictEqual(Wire.decodeInput(reparsed), Either.getOrThrow(decodeInput(reparsed)))
  })

  it.prop("decodeInput refuses what the Schema refuses", [Arb.policyAndInput], ([[, input]]) => {
    const json = encodeInput(input) as Map<string, Json.Json>
    const bad: Array<Json.Json> = [
      new Map([...json].filter(([k]) => k !== "risk_bps")),
      new Map([...json, ["risk_bps", 65_536]]),
      new Map([...json, ["input_tokens", -1]]),
      new Map([...json, ["budget_limit_microunits", Arb.U64_MAX + 1n]]),
      new Map([...json, ["business_value_microunits", -(2n ** 63n) - 1n]]),
      new Map([...json, ["confidence_bps", new Json.JsonFloat(1.5)]]),
      new Map([...json, ["confidence_bps", "9000"]]),
      [json],
      null
    ]
    for (const b of bad) {
      assert.isUndefined(Wire.decodeInput(b))
      assert.isTrue(Either.isLeft(decodeInput(b)))
    }
  })

  it.prop("the printers print what Json.print prints", [Arb.policyAndInput], ([[snapshot, input]]) => {
    const policy = Policy.unsafeMake(snapshot)
    const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
    assert.strictEqual(Wire.printDecision(decision), Json.print(Schema.encodeSync(Decision.Decision)(decision)))
    assert.strictEqual(Wire.printTrace(trace), Json.print(Schema.encodeSync(Decision.Trace)(trace)))
    const audit = Verify.auditBundle(policy, input, decision)
    assert.strictEqual(Wire.printAudit(audit), Json.print(Schema.encodeSync(Verify.AuditBundle)(audit)))
  })
})
