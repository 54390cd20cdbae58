/**
 * Exact conversions between safe-integer `number`s and `bigint`s for the ledger's hot path:
 * core's `Word` (one 8-byte scratch word instead of the `BigInt(number)` / `Number(bigint)`
 * builtins). `small` gives NaN outside the safe range, and callers then take the bigint path.
 */
import { bigintOfSafe, safeNumberOf } from "@calybris/core/Word"

/** The largest magnitude handled as a number: every |x| <= SAFE is exact, and so is every sum or difference that stays within it. */
export const SAFE = Number.MAX_SAFE_INTEGER

/** A safe integer as a bigint, exactly (the argument must be a safe integer). */
export const big: (n: number) => bigint = bigintOfSafe

/** A bigint as a number when it is a safe integer, else NaN (every comparison with NaN is false). */
export const small: (b: bigint) => number = safeNumberOf
