/**
 * Hostile-input fuzzing of every decoder of core: arbitrary text and arbitrary JSON fed to the
 * JSON parser, the policy and input decoders and the hex decoder never throw (no defects);
 * they always end in a value or a typed error. `FC_NUM_RUNS=10000 pnpm test` runs each at
 * 10,000 cases.
 */
import * as Decision from "@calybris/core/Decision"
import * as Hex from "@calybris/core/Hex"
import { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"

const typed = (e: unknown) => e instanceof Json.JsonParseError || ParseResult.isParseError(e)

/** JSON-looking text: real JSON, then cut, spliced or salted with hostile characters. */
const jsonish = fc.oneof(
  fc.json(),
  fc.json().chain((text) =>
    fc.tuple(
      fc.nat({ max: Math.max(0, text.length) }),
      fc.constantFrom("", "\u0000", "\\", "\"", "]", "}", "\ud800", "1e400", "-0")
    )
      .map(([cut, salt]) => text.slice(0, cut) + salt + text.slice(cut))
  ),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom(
    "[".repeat(200) + "]".repeat(200),
    "{\"a\":".repeat(130) + "1" + "}".repeat(130),
    "18446744073709551616",
    "-9223372036854775809"
  )
)

describe("fuzz: core decoders never throw", () => {
  it("Json.parse ends in a value or a JsonParseError, and a value re-parses to itself", () => {
    fc.assert(
      fc.property(jsonish, (text) => {
        const r = Json.parse(text)
        if (Either.isLeft(r)) {
          assert.isTrue(r.left instanceof Json.JsonParseError)
          assert.include(["Syntax", "Data", "Eof"], r.left.category)
        } else {
          const printed = Json.print(r.right)
          const again = Json.parse(printed)
          assert.isTrue(Either.isRight(again))
          if (Either.isRight(again)) assert.strictEqual(Json.print(again.right), printed)
        }
      })
    )
  })

  it("the policy, input and decision decoders end in a value or a typed error", () => {
    const decoders: ReadonlyArray<(text: string) => Either.Either<unknown, unknown>> = [
      JsonSchema.decodeText(Policy.PolicySnapshot),
      JsonSchema.decodeText(Input),
      JsonSchema.decodeText(Decision.Decision)
    ]
    fc.assert(
      fc.property(jsonish, (text) => {
        for (const decode of decoders) {
          const r = decode(text)
          if (Either.isLeft(r)) assert.isTrue(typed(r.left))
        }
      })
    )
  })

  it("decoded policies of any shape can be validated, compiled and run", () => {
    const policyish = fc.record({
      policy_epoch: fc.oneof(fc.bigInt(), fc.integer(), fc.string()),
      catalog_epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      hard_risk_limit_bps: fc.integer({ min: -1, max: 70_000 }),
      minimum_confidence_bps: fc.integer({ min: 0, max: 65_535 }),
      risk_penalty_multiplier_bps: fc.integer({ min: 0, max: 65_535 }),
      latency_penalty_microunits_per_ms: fc.bigInt({ min: -1n, max: (1n << 64n) }),
      models: fc.array(
        fc.dictionary(fc.constantFrom("model_id", "provider_id", "enabled", "quality_bps"), fc.integer()),
        {
          maxLength: 3
        }
      )
    })
    fc.assert(
      fc.property(policyish, (p) => {
        const json = new Map<string, Json.Json>(
          Object.entries(p).map(([k, v]) => [
            k,
            Array.isArray(v) ? v.map((m) => new Map<string, Json.Json>(Object.entries(m))) : v as Json.Json
          ])
        )
        const r = JsonSchema.decodeText(Policy.PolicySnapshot)(Json.print(json))
        if (Either.isRight(r)) {
          const made = Policy.make(r.right)
          assert.isTrue(Either.isRight(made) || typeof made.left.message === "string")
        } else {
          assert.isTrue(typed(r.left))
        }
      })
    )
  })

  it("Hex.decodeDigest ends in 32 bytes or a typed error on arbitrary text", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), fc.hexaString({ minLength: 62, maxLength: 66 })),
        (s) => {
          const r = Hex.decodeDigest(s)
          if (Either.isLeft(r)) assert.include(["OddLength", "InvalidHexCharacter", "InvalidStringLength"], r.left._tag)
          else assert.strictEqual(r.right.length, 32)
        }
      )
    )
  })
})
