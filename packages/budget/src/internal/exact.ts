/**
 * Exact conversions between safe-integer `number`s and `bigint`s for the ledger's hot path.
 * `BigInt(number)` is a C++ builtin in V8 (~50 ns a call); writing the two 32-bit halves of a
 * safe integer into an 8-byte word and reading it back as a `BigInt64Array` element gives the
 * same exact value in a few ns. `small` gives NaN outside the safe range, and callers then take
 * the bigint path.
 */

const word = new BigInt64Array(1)
const halves = new Int32Array(word.buffer)
word[0] = 1n
const LO = halves[0] === 1 ? 0 : 1
const HI = 1 - LO

const TWO_32 = 4294967296

/** The largest magnitude handled as a number: every |x| <= SAFE is exact, and so is every sum or difference that stays within it. */
export const SAFE = Number.MAX_SAFE_INTEGER

/** A safe integer as a bigint, exactly (the argument must be a safe integer). */
export const big = (n: number): bigint => {
  const hi = Math.floor(n / TWO_32)
  halves[LO] = n - hi * TWO_32
  halves[HI] = hi
  return word[0] as bigint
}

const SAFE_BIG = BigInt(SAFE)

/**
 * A bigint as a number when it is a safe integer, else NaN (every comparison with NaN is false).
 * In range, its two 32-bit halves are read back through the word (cheaper than `Number(b)`).
 */
export const small = (b: bigint): number => {
  if (b > SAFE_BIG || b < -SAFE_BIG) return NaN
  word[0] = b
  return (halves[HI] as number) * TWO_32 + ((halves[LO] as number) >>> 0)
}

/** Is this number a safe integer (|n| <= 2^53 − 1)? NaN is not. */
export const isSafe = (n: number): boolean => n <= SAFE && n >= -SAFE
