/**
 * Exact conversions between 64-bit integers (`bigint`) and `number`s for hot paths, through one
 * 8-byte scratch word viewed as a `BigInt64Array` and as two 32-bit halves. In V8,
 * `BigInt(number)` is a C++ builtin (~50–80 ns a call) and `Number(bigint)` a runtime call
 * (~25 ns); a store into or a load from the scratch word is inlined and costs a few ns. Every
 * function is exact within its stated range and synchronous: the word is reused by the next call.
 */

const word = new BigInt64Array(1)
const halves = new Int32Array(word.buffer)
word[0] = 1n
/** Indices of the low and high halves, on either endianness. */
const LO = halves[0] === 1 ? 0 : 1
const HI = 1 - LO

const TWO_32 = 4_294_967_296
const SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * The bigint of an integer number in (−2^53, 2^53), exactly: `hi = ⌊x / 2^32⌋` is exact
 * (division by a power of two) and `x − hi·2^32` is exact and in [0, 2^32).
 */
export const bigintOfSafe = (x: number): bigint => {
  const hi = Math.floor(x / TWO_32)
  halves[LO] = x - hi * TWO_32
  halves[HI] = hi
  return word[0] as bigint
}

/** A bigint as a number when it is a safe integer (|b| ≤ 2^53 − 1), else NaN. */
export const safeNumberOf = (b: bigint): number => {
  if (b > SAFE_BIG || b < -SAFE_BIG) return NaN
  word[0] = b
  return (halves[HI] as number) * TWO_32 + ((halves[LO] as number) >>> 0)
}

/** Low 32 bits of a u64 (or i64), as an int32 (no allocation). */
export const lo32 = (value: bigint): number => {
  word[0] = value
  return halves[LO] as number
}

/** High 32 bits of a u64 (or i64), as an int32 (no allocation). */
export const hi32 = (value: bigint): number => {
  word[0] = value
  return halves[HI] as number
}

/**
 * Loads a 64-bit integer (u64 or i64) into the scratch word, for `loadedLo` / `loadedHi`:
 * one store for both halves. Synchronous use only: the next call overwrites it.
 */
export const load = (value: bigint): void => {
  word[0] = value
}
export const loadedLo = (): number => halves[LO] as number
export const loadedHi = (): number => halves[HI] as number
