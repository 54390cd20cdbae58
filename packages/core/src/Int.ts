/**
 * Exact integer widths of the reference (SPEC §1): u8/u16/u32 as branded `number`s,
 * u64/i64 as branded `bigint`s. On the wire (our Json value type) an integer is a safe
 * `number` or a `bigint`; the 64-bit schemas accept both and always decode to `bigint`.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type CodecAnnotation, CodecId } from "./internal/codec.js"
import { JsonFloat } from "./Json.js"

export const U8_MAX = 0xff
export const U16_MAX = 0xffff
export const U32_MAX = 0xffff_ffff
export const U64_MAX = 0xffff_ffff_ffff_ffffn
export const I64_MAX = 0x7fff_ffff_ffff_ffffn
export const I64_MIN = -0x8000_0000_0000_0000n

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = -MAX_SAFE

/**
 * What a wrong value is, for a message: numbers exactly (no `n`), floats as serde prints them, no
 * user text. A bigint within ±(2^53 − 1) is named as one (`the bigint 1n`): no wire value is
 * (the parser makes it a number), so it is a bigint given in code where a number belongs — printed
 * bare, an in-range value read as the reason (`got 1` for a u32: a hostile review). A bigint
 * beyond is a wire integer too large for a number, printed as the JSON has it.
 */
const describeActual = (u: unknown): string =>
  typeof u === "bigint" && u >= MIN_SAFE && u <= MAX_SAFE
    ? `the bigint ${u}n`
    : typeof u === "bigint" || typeof u === "number" || typeof u === "boolean" || u === null
    ? String(u)
    : u instanceof JsonFloat
    ? `the float ${u.toString()}`
    : typeof u === "string"
    ? "a string"
    : Array.isArray(u)
    ? "an array"
    : u instanceof Map
    ? "an object"
    : typeof u

/** What the compiled codec reads for a wire integer in [min, max] (`Codec.ts`). */
const integerCodec = (min: bigint, max: bigint, bigint: boolean): CodecAnnotation => ({
  _tag: "Integer",
  min,
  max,
  bigint
})

const integerIn = (min: bigint | number, max: bigint | number) => (issue: ParseResult.ParseIssue) =>
  `expected an integer in [${min}, ${max}], got ${describeActual(issue.actual)}`

const uint = <B extends string>(max: number, brand: B) =>
  Schema.Number.annotations({ message: integerIn(0, max) }).pipe(
    Schema.int({ message: (issue) => `expected an integer, got ${describeActual(issue.actual)}` }),
    Schema.between(0, max, { message: (issue) => `must be an integer in [0, ${max}], got ${String(issue.actual)}` }),
    Schema.brand(brand)
  ).annotations({ identifier: brand.toLowerCase(), [CodecId]: integerCodec(0n, BigInt(max), false) })

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
const wireInteger = (min: bigint, max: bigint) =>
  Schema.declare((u: unknown): u is number | bigint => typeof u === "number" || typeof u === "bigint", {
    identifier: "WireInteger",
    description: "a safe number or a bigint",
    message: integerIn(min, max)
  })

/** The type side of a 64-bit field given what is no bigint: `expected a bigint, got the number 5`. */
const notBigint = (issue: ParseResult.ParseIssue) =>
  `expected a bigint, got ${
    typeof issue.actual === "number" ? `the number ${issue.actual}` : describeActual(issue.actual)
  }`

const bigRange = <B extends string>(min: bigint, max: bigint, brand: B) => {
  // a number given in code where a bigint belongs is named as one (Schema's own "Expected bigint,
  // actual 5" read as an in-range 5: a hostile review)
  const To = Schema.BigIntFromSelf.annotations({ message: notBigint }).pipe(
    Schema.betweenBigInt(min, max, {
      message: (issue) => `must be an integer in [${min}, ${max}], got ${String(issue.actual)}`
    }),
    Schema.brand(brand)
  )
  return Schema.transformOrFail(wireInteger(min, max), To, {
    strict: true,
    decode: (value, _, ast) =>
      typeof value === "bigint"
        ? ParseResult.succeed(value)
        : Number.isSafeInteger(value)
        ? ParseResult.succeed(BigInt(value))
        : ParseResult.fail(new ParseResult.Type(ast, value, `expected an integer, got ${String(value)}`)),
    encode: (value) => ParseResult.succeed(value)
  }).annotations({ identifier: brand.toLowerCase(), [CodecId]: integerCodec(min, max, true) })
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

/** An integer with thousands separators, exact on bigints: `1,234,567`, `-42`. */
export const grouped = (value: bigint | number): string => {
  const text = (typeof value === "bigint" ? value : BigInt(value)).toString()
  const negative = text.startsWith("-")
  const digits = negative ? text.slice(1) : text
  let out = ""
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ","
    out += digits[i]
  }
  return negative ? `-${out}` : out
}
