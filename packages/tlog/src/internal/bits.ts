/**
 * u64 bit arithmetic of the Merkle tree's sizes and indices (bigint), shared by Merkle and
 * CompactRange: the bounds, bit length, population count, trailing zeros, and the complete
 * subtrees that cover a range of leaves.
 */

/** 2^64 − 1: the largest tree size or index. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn

/** Whether `n` is a u64 (0 ≤ n ≤ 2^64 − 1). */
export const isU64 = (n: bigint): boolean => typeof n === "bigint" && n >= 0n && n <= U64_MAX

/** The number of bits needed to write `n` (0 for 0). */
export const bitLength = (n: bigint): number => {
  let length = 0
  while (n >= 0x1_0000_0000n) {
    n >>= 32n
    length += 32
  }
  return length + (32 - Math.clz32(Number(n)))
}

/** The number of one bits of `n` (n ≥ 0). */
export const popCount = (n: bigint): number => {
  let count = 0
  while (n > 0n) {
    let word = Number(n & 0xffff_ffffn)
    while (word !== 0) {
      word &= word - 1
      count++
    }
    n >>= 32n
  }
  return count
}

/** The number of trailing zero bits of `n` (n > 0). */
export const trailingZeros = (n: bigint): number => {
  let zeros = 0
  while ((n & 0xffff_ffffn) === 0n) {
    n >>= 32n
    zeros += 32
  }
  const low = Number(n & 0xffff_ffffn)
  return zeros + (31 - Math.clz32(low & -low))
}

/** A complete subtree: leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  readonly level: number
  readonly index: bigint
}

/**
 * The complete subtrees covering leaves [begin, end) (0 ≤ begin ≤ end), appended to `out` left to
 * right: the fewest such nodes (levels rise, then fall). Allocates only the node ids it returns.
 */
export const rangeNodes = (begin: bigint, end: bigint, out: Array<NodeId>): Array<NodeId> => {
  // left part: nodes aligned at begin, of rising level while they fit
  let position = begin
  while (position < end) {
    const room = end - position
    const level = Math.min(position === 0n ? 64 : trailingZeros(position), bitLength(room) - 1)
    out.push({ level, index: position >> BigInt(level) })
    position += 1n << BigInt(level)
  }
  return out
}
