/**
 * The batch's rows decoder (`internal/batchRows`) accepts exactly what the `Schema` decoder it
 * replaced accepts, with the same values: on rows as the function returns them, on rows with a
 * field changed to anything, and on anything at all.
 */
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { decode } from "../src/internal/batchRows.js"

const exact = Schema.decodeUnknownEither(
  Schema.Array(Schema.Struct({ o_index: Schema.Number, ...PgOperations.Row.fields }))
)

const agree = (input: unknown) => {
  const expected = exact(input)
  const actual = decode(input)
  assert.strictEqual(
    Either.isRight(actual),
    Either.isRight(expected),
    Either.isLeft(expected) ? `Schema refused: ${expected.left.message}` : "Schema accepted"
  )
  if (Either.isRight(actual) && Either.isRight(expected)) assert.deepStrictEqual(actual.right, expected.right)
  if (Either.isLeft(actual)) assert.strictEqual(actual.left._tag, "BatchRowInvalid")
}

/** An i64 field as the function prints it, or text that is almost one. */
const i64Text = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.constantFrom("", " ", " 12", "12 ", "+5", "-0", "0x10", "1e3", "1.5", "abc", "٣", "9".repeat(40), "-"),
  fc.string({ maxLength: 6 })
)
const goodRow = fc.record({
  o_index: fc.integer({ min: 1, max: 300 }),
  tag: fc.string({ maxLength: 12 }),
  a: fc.option(i64Text, { nil: null }),
  b: fc.option(i64Text, { nil: null }),
  c: fc.option(i64Text, { nil: null })
})
const anyValue = fc.oneof(fc.anything(), fc.constant(undefined), fc.constant(Number.NaN), fc.bigInt())
/** A row with one field replaced by anything, removed, or a field added. */
const alteredRow = fc.tuple(goodRow, fc.constantFrom("o_index", "tag", "a", "b", "c", "extra"), anyValue, fc.boolean())
  .map(([row, field, value, remove]) => {
    const copy: Record<string, unknown> = { ...row }
    if (remove) delete copy[field]
    else copy[field] = value
    return copy
  })

describe("batchRows.decode", () => {
  it.prop("rows as the function returns them", [fc.array(goodRow, { maxLength: 20 })], ([rows]) => agree(rows))
  it.prop(
    "rows with a field altered",
    [fc.array(fc.oneof(goodRow, alteredRow, anyValue), { maxLength: 8 })],
    ([rows]) => agree(rows)
  )
  it.prop("anything", [anyValue], ([value]) => agree(value))
  it("a field inherited, an array, a date: as Schema has them", () => {
    agree([Object.assign(Object.create({ c: null }), { o_index: 1, tag: "Reserved", a: "1", b: "2" })])
    agree([[]])
    agree([new Date()])
  })
})
