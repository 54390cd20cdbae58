/**
 * The compiled wire codec against the Schemas it is compiled from: every shape it compiles
 * (wire integers, Json values, `jsonObject` with renamed and optional members, brands and
 * filters, arrays, transformations, literal / tagged / ordered unions), and core's wire types.
 */
import * as Codec from "@calybris/core/Codec"
import * as Decision from "@calybris/core/Decision"
import * as Input from "@calybris/core/Input"
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import { jsonObject, JsonValue } from "@calybris/core/JsonSchema"
import * as Verify from "@calybris/core/Verify"
import { checkCodecLaws } from "@calybris/testing/CodecLaws"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

const Amount = Int.I64.pipe(Schema.filter((n) => n >= 0n), Schema.brand("Amount"))
const TenantId = Schema.String.pipe(Schema.minLength(1), Schema.brand("TenantId"))
const renamed = <S extends Schema.Schema.Any, K extends string>(s: S, key: K) =>
  Schema.propertySignature(s).pipe(Schema.fromKey(key))
const kind = <T extends string, K extends string>(tag: T, k: K) => ({
  _tag: Schema.propertySignature(Schema.transformLiteral(k, tag)).pipe(Schema.fromKey("kind"))
})

/** A journal-like tagged union: renamed members, optional ones, brands, a derived member. */
const Hold = jsonObject({
  ...kind("Hold", "hold"),
  tenant: renamed(TenantId, "tenant_id"),
  amount: Amount,
  operation_id: Schema.optional(Schema.String),
  ttl_ms: Schema.optional(Int.I64)
})
const Settle = Schema.transform(
  jsonObject({ ...kind("Settle", "settle"), reservation: renamed(Int.U64, "reservation_id"), note: JsonValue }),
  Schema.typeSchema(Schema.Struct({
    _tag: Schema.Literal("Settle"),
    reservation: Int.U64,
    note: JsonValue,
    noted: Schema.Boolean
  })),
  {
    strict: true,
    decode: (w) => ({ ...w, noted: w.note !== null }),
    encode: ({ noted: _, ...w }) => w
  }
)
const Tagged = Schema.Union(Hold, Settle, jsonObject(kind("Ping", "ping")))
/** A versioned envelope: two members under one literal, told apart by their members (tried in order). */
const Versioned = Schema.Union(
  jsonObject({ v: Schema.Literal(1), items: Schema.Array(Tagged) }),
  jsonObject({ v: Schema.Literal(1), counts: Schema.Array(Int.U32), flags: Schema.Array(Int.U8) })
)
/** Plain structs (records on both sides) and a tagged union of them. */
const Plain = Schema.Union(
  Schema.TaggedStruct("A", { n: Int.U16, s: Schema.optional(Schema.String) }),
  Schema.TaggedStruct("B", { big: Int.I64, list: Schema.Array(Schema.Boolean) })
)
/** Members keyed on one tag, some sharing it (one `Overflow` per result family): tried in order within a tag. */
const SharedTags = Schema.Union(
  jsonObject({ _tag: Schema.Literal("Reserved"), id: Int.U64, left: Int.I64 }),
  jsonObject({ _tag: Schema.Literal("Overflow"), current: Int.I64 }),
  jsonObject({ _tag: Schema.Literal("Overflow"), remaining: Int.I64 }),
  jsonObject({ _tag: Schema.Literal("Overflow") }),
  jsonObject({ _tag: Schema.Literal("Missing") })
)
const Composed = Schema.compose(Schema.NumberFromString, Schema.Int)

describe("Codec compiles", () => {
  for (
    const [name, schema] of [
      ["Input", Input.Input],
      ["Decision", Decision.Decision],
      ["Trace", Decision.Trace],
      ["AuditBundle", Verify.AuditBundle],
      ["a tagged union with renamed, optional, branded and derived members", Tagged],
      ["a union tried in order", Versioned],
      ["a union of plain tagged structs", Plain],
      ["a union whose members share tags", SharedTags]
    ] as const
  ) {
    it(`${name}, and agrees with the Schema`, () => {
      checkCodecLaws(schema as Schema.Schema<unknown, unknown>)
    })
  }

  it("Schema.compose, by the schemas' own functions", () => {
    const decode = Codec.compileDecoder(Composed)
    assert.isDefined(decode)
    assert.strictEqual(decode?.("12"), 12)
    assert.strictEqual(decode?.("1.5"), Codec.FAIL)
  })
})

describe("Codec", () => {
  it("decodes a tagged union by its tag, renamed members under their wire names", () => {
    const decode = Codec.decodeUnknownEither(Tagged)
    const wire = Either.getOrThrow(Json.parse("{\"kind\":\"hold\",\"tenant_id\":\"a\",\"amount\":5,\"x\":1}"))
    assert.deepStrictEqual(Either.getOrThrow(decode(wire)), { _tag: "Hold", tenant: "a", amount: 5n } as never)
    const encode = Codec.encodeEither(Tagged)
    const settle = { _tag: "Settle", reservation: 3n, note: null, noted: false } as Schema.Schema.Type<typeof Settle>
    assert.strictEqual(
      Json.print(Either.getOrThrow(encode(settle)) as Json.Json),
      "{\"kind\":\"settle\",\"reservation_id\":3,\"note\":null}"
    )
  })

  it("refuses what the Schema refuses, with the Schema's error", () => {
    const decode = Codec.decodeUnknownEither(Tagged)
    const bad = Either.getOrThrow(Json.parse("{\"kind\":\"hold\",\"tenant_id\":\"a\",\"amount\":-5}"))
    const fast = Codec.compileDecoder(Tagged)
    assert.strictEqual(fast?.(bad), Codec.FAIL)
    const error = decode(bad)
    assert.isTrue(Either.isLeft(error))
    assert.deepStrictEqual(error, Schema.decodeUnknownEither(Tagged)(bad))
  })

  it("leaves out an optional member given as undefined (a Json object holds no undefined)", () => {
    const encode = Codec.encodeEither(Hold)
    const value = { _tag: "Hold", tenant: "a", amount: 1n, operation_id: undefined } as unknown as Schema.Schema.Type<
      typeof Hold
    >
    const text = "{\"kind\":\"hold\",\"tenant_id\":\"a\",\"amount\":1}"
    assert.strictEqual(Json.print(Either.getOrThrow(encode(value)) as Json.Json), text)
    assert.strictEqual(Json.print(Either.getOrThrow(Schema.encodeEither(Hold)(value)) as Json.Json), text)
  })

  it("does not compile what it does not know (the Schema then decides alone)", () => {
    assert.isUndefined(Codec.compileDecoder(Schema.Date))
    const decode = Codec.decodeUnknownEither(Schema.Date)
    assert.isTrue(Either.isRight(decode("2020-01-01")))
  })

  it("reads wire integers with one range check", () => {
    assert.strictEqual(Codec.readBigInt(5, 0n, 10n), 5n)
    assert.strictEqual(Codec.readBigInt(11n, 0n, 10n), undefined)
    assert.strictEqual(Codec.readBigInt(1.5, 0n, 10n), undefined)
    assert.strictEqual(Codec.readBigInt(2 ** 53, 0n, 2n ** 60n), undefined)
    assert.strictEqual(Codec.readBigInt(new Json.JsonFloat(3), 0n, 10n), undefined)
  })
})
