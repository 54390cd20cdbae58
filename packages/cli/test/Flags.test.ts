import * as Flags from "@calybris/cli/Flags"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const amount = Schema.decodeUnknownEither(Flags.microcents("amount", "positive"))
const anyAmount = Schema.decodeUnknownEither(Flags.microcents("max", "any"))
const message = (r: Either.Either<unknown, { readonly message: string }>): string =>
  Either.isLeft(r) ? r.left.message : "decoded"

describe("Flags", () => {
  it("parses integer microcents exactly, across the whole i64 range", () => {
    assert.deepStrictEqual<unknown>(amount("1"), Either.right(1n))
    assert.deepStrictEqual<unknown>(amount("9223372036854775807"), Either.right(9_223_372_036_854_775_807n))
    assert.deepStrictEqual<unknown>(anyAmount("-9223372036854775808"), Either.right(-9_223_372_036_854_775_808n))
    assert.deepStrictEqual<unknown>(amount("9007199254740993"), Either.right(9_007_199_254_740_993n))
  })

  it("refuses decimals, exponents, signs where not allowed and values beyond i64, in one line naming the flag", () => {
    assert.strictEqual(
      message(amount("1.5")),
      "--amount: expected an integer number of microcents (1 cent = 1000000 microcents), got \"1.5\": no decimal point allowed"
    )
    assert.match(message(amount("1e6")), /^--amount: .*got "1e6": no exponent allowed$/)
    assert.strictEqual(message(amount("-5")), "--amount: must be positive, got -5")
    assert.strictEqual(message(amount("0")), "--amount: must be positive, got 0")
    assert.strictEqual(
      message(amount("9223372036854775808")),
      "--amount: 9223372036854775808 is out of range: amounts are i64 microcents, at most 9223372036854775807"
    )
    assert.strictEqual(
      message(anyAmount("-9223372036854775809")),
      "--max: -9223372036854775809 is out of range: amounts are i64 microcents, at least -9223372036854775808"
    )
    assert.match(message(amount("1_000")), /no digit separators allowed/)
    assert.match(message(amount("")), /it is empty/)
    assert.match(message(amount("ten")), /not a decimal integer/)
    assert.notInclude(message(amount("1.5")), "\n")
  })

  it("parses u64 ids and durations", () => {
    const u64 = Schema.decodeUnknownEither(Flags.u64("reservation", "a reservation id"))
    assert.deepStrictEqual(u64("18446744073709551615"), Either.right(18_446_744_073_709_551_615n))
    assert.match(message(u64("18446744073709551616")), /out of range: it is a u64, at most 18446744073709551615/)
    const duration = Schema.decodeUnknownEither(Flags.duration("expires"))
    assert.deepStrictEqual(Either.map(duration("30 seconds"), Duration.toMillis), Either.right(30_000))
    assert.deepStrictEqual(Either.map(duration("5 minutes"), Duration.toMillis), Either.right(300_000))
    assert.deepStrictEqual(Either.map(duration("1 hour"), Duration.toMillis), Either.right(3_600_000))
    assert.match(message(duration("soon")), /^--expires: expected a duration such as "30 seconds"/)
    // exact: a huge count is neither rounded nor a defect (the ledger decides whether it fits)
    assert.deepStrictEqual(Either.map(duration("1000000 weeks"), Duration.toMillis), Either.right(604_800_000_000_000))
    for (
      const [text, nanos] of [
        ["99999999999999999 weeks", 99999999999999999n * 604_800_000_000_000n],
        ["999999999999999999999999 weeks", 999999999999999999999999n * 604_800_000_000_000n],
        ["9007199254740993 millis", 9007199254740993n * 1_000_000n]
      ] as const
    ) {
      assert.deepStrictEqual(Either.map(duration(text), Duration.toNanos), Either.right(Option.some(nanos)), text)
    }
  })
})
