/**
 * Exact integer widths of the reference (SPEC §1): u8/u16/u32 as branded `number`s,
 * u64/i64 as branded `bigint`s. On the wire (our Json value type) an integer is a safe
 * `number` or a `bigint`; the 64-bit schemas accept both and always decode to `bigint`.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

export const U8_MAX = 0xff
export const U16_MAX = 0xffff
export const U32_MAX = 0xffff_ffff
export const U64_MAX = 0xffff_ffff_ffff_ffffn
export const I64_MAX = 0x7fff_ffff_ffff_ffffn
export const I64_MIN = -0x8000_0000_0000_0000n

const uint = <B extends string>(max: number, brand: B) =>
  Schema.Number.pipe(
    Schema.int({ message: () => `expected an integer` }),
    Schema.between(0, max, { message: (issue) => `must be an integer in [0, ${max}], got ${String(issue.actual)}` }),
    Schema.brand(brand)
  ).annotations({ identifier: brand.toLowerCase() })

/** u8 */
export const U8 = uint(U8_MAX, "U8")
export type U8 = typeof U8.Type
/** u16 */
export const U16 = uint(U16_MAX, "U16")
export type U16 = typeof U16.Type
/** u32 */
export const U32 = uint(U32_MAX, "U32")
export type U32 = typeof U32.Type

/** A wire integer: a safe `number` or a `bigint` (never a float). */
const WireInteger = Schema.Union(Schema.Number, Schema.BigIntFromSelf)

const bigRange = <B extends string>(min: bigint, max: bigint, brand: B) => {
  const To = Schema.BigIntFromSelf.pipe(
    Schema.betweenBigInt(min, max, {
      message: (issue) => `must be an integer in [${min}, ${max}], got ${String(issue.actual)}`
    }),
    Schema.brand(brand)
  )
  return Schema.transformOrFail(WireInteger, To, {
    strict: true,
    decode: (value, _, ast) =>
      typeof value === "bigint"
        ? ParseResult.succeed(value)
        : Number.isSafeInteger(value)
        ? ParseResult.succeed(BigInt(value))
        : ParseResult.fail(new ParseResult.Type(ast, value, `expected an integer, got ${String(value)}`)),
    encode: (value) => ParseResult.succeed(value)
  }).annotations({ identifier: brand.toLowerCase() })
}

/** u64 as `bigint` */
export const U64 = bigRange(0n, U64_MAX, "U64")
export type U64 = typeof U64.Type
/** i64 as `bigint` */
export const I64 = bigRange(I64_MIN, I64_MAX, "I64")
export type I64 = typeof I64.Type

/** Clamp an exact integer into i64. */
export const clampI64 = (value: bigint): bigint => value > I64_MAX ? I64_MAX : value < I64_MIN ? I64_MIN : value

/** Is this exact integer representable as an i64? */
export const fitsI64 = (value: bigint): boolean => value >= I64_MIN && value <= I64_MAX

/** Is this exact integer representable as a u64? */
export const fitsU64 = (value: bigint): boolean => value >= 0n && value <= U64_MAX

/** Wrap an integer to u64 (two's complement arithmetic modulo 2^64), as `wrapping_add` does. */
export const wrapU64 = (value: bigint): bigint => BigInt.asUintN(64, value)
