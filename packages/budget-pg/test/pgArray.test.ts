/**
 * The batch's array parameters in the binary wire format (`internal/pgArray`) reach the server as
 * exactly the arrays `pg`'s text form gives (the form the batcher sent before): for any elements,
 * NULLs included, the two parameters are equal as arrays and print the same; a text element the
 * server refuses in one form it refuses in the other; an int8 outside i64 is refused before
 * anything is sent.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import { byteaArray, int8Array, textArray } from "../src/internal/pgArray.js"
import { enabled, freshClient, SKIP_REASON } from "./support/database.js"

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n

/** The binary parameter and the text one, cast to `type`: equal, and printed the same? (or the error of each) */
const compare = (type: string, binary: Uint8Array, text: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const run = (params: ReadonlyArray<unknown>) =>
      sql.unsafe<{ same: boolean; printed: string }>(
        `SELECT $1::${type}[] IS NOT DISTINCT FROM $2::${type}[] AS same, $1::${type}[]::text AS printed`,
        params as Array<unknown>
      ).pipe(Effect.either)
    // each form against itself (its error if refused), then one against the other
    const viaBinary = yield* run([binary, binary])
    const viaText = yield* run([text, text])
    return {
      viaBinary,
      viaText,
      cross: viaBinary._tag === "Right" && viaText._tag === "Right" ? yield* run([binary, text]) : undefined
    }
  })

const same = (type: string, binary: Uint8Array, text: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const { cross, viaBinary, viaText } = yield* compare(type, binary, text)
    assert.strictEqual(viaBinary._tag, viaText._tag, "both accepted or both refused")
    if (viaBinary._tag === "Right" && viaText._tag === "Right") {
      assert.strictEqual(viaBinary.right[0]?.printed, viaText.right[0]?.printed)
      assert.isTrue(cross?._tag === "Right" && cross.right[0]?.same === true, "the binary array equals the text one")
    }
  })

const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array(b))
const bigints = fc.oneof(
  fc.bigInt({ min: I64_MIN, max: I64_MAX }),
  fc.constantFrom(I64_MIN, I64_MAX, 0n, -1n, 1n)
)

describe.runIf(enabled)("pgArray: binary arrays equal pg's text arrays", () => {
  layer(freshClient(1), { timeout: 60_000 })((it) => {
    it.effect.prop(
      "bytea[]",
      { xs: fc.array(fc.option(bytes, { nil: null, freq: 4 }), { minLength: 1, maxLength: 40 }) },
      ({ xs }) => same("bytea", byteaArray(xs), xs)
    )
    it.effect.prop(
      "text[] (any well-formed string; the server refuses U+0000 in both forms)",
      {
        xs: fc.array(fc.option(fc.string({ unit: "grapheme", maxLength: 40 }), { nil: null, freq: 4 }), {
          minLength: 1,
          maxLength: 40
        })
      },
      ({ xs }) => same("text", textArray(xs), xs)
    )
    it.effect("text[]: U+0000 refused in both forms", () => same("text", textArray(["a\u0000b"]), ["a\u0000b"]))
    it.effect.prop(
      "int8[]",
      { xs: fc.array(fc.option(bigints, { nil: null, freq: 4 }), { minLength: 1, maxLength: 40 }) },
      ({ xs }) => same("bigint", int8Array(xs), xs.map((x) => x === null ? null : String(x)))
    )
  })

  it("an int8 outside i64, or a text that is not well-formed, is refused before anything is sent", () => {
    assert.throws(() => int8Array([I64_MAX + 1n]), RangeError)
    assert.throws(() => int8Array([I64_MIN - 1n]), RangeError)
    assert.throws(() => textArray(["\ud800"]), RangeError)
  })
})

describe.skipIf(enabled)("pgArray", () => {
  it.skip(SKIP_REASON, () => {})
})
