/**
 * Merkle at u64 scale: the bit helpers against string arithmetic over the whole u64 range, and
 * proofs in trees of up to 2^64 − 1 leaves. A tree whose leaves are all equal is consistent at
 * any size (every complete subtree of level L hashes to z_L, z_{L+1} = H(z_L ‖ z_L)), so its
 * proofs can be generated and verified for any index and size: generation (a walk over ranges)
 * and RFC 9162 verification (a walk over bits) agree far beyond 2^53.
 */
import * as Merkle from "@calybris/tlog/Merkle"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { bitLength, popCount, rangeNodes, trailingZeros } from "../src/internal/bits.js"

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
/** u64 values of every magnitude: uniform in bit length, then uniform below it. */
const anyU64 = fc.integer({ min: 1, max: 64 }).chain((bits) => fc.bigInt({ min: 0n, max: 2n ** BigInt(bits) - 1n }))

describe("Merkle: u64 bit helpers", () => {
  const agrees = (n: bigint) => {
    const bits = n.toString(2)
    assert.strictEqual(bitLength(n), n === 0n ? 0 : bits.length, `bitLength(${n})`)
    assert.strictEqual(popCount(n), [...bits].filter((c) => c === "1").length, `popCount(${n})`)
    if (n > 0n) assert.strictEqual(trailingZeros(n), bits.length - 1 - bits.lastIndexOf("1"), `trailingZeros(${n})`)
  }

  it("bitLength, popCount, trailingZeros agree with base-2 strings", () => {
    fc.assert(fc.property(fc.oneof(u64, anyU64), agrees), { numRuns: fc.readConfigureGlobal().numRuns ?? 500 })
    // every word boundary: 2^b − 1, 2^b, 2^b + 1
    for (let b = 0n; b <= 64n; b++) {
      for (const n of [(1n << b) - 1n, 1n << b, (1n << b) + 1n]) if (n < 2n ** 64n) agrees(n)
    }
    assert.strictEqual(bitLength(2n ** 64n - 1n), 64)
    assert.strictEqual(trailingZeros(2n ** 63n), 63)
  })

  it("rangeNodes covers [begin, end) exactly with aligned complete subtrees, levels rising then falling", () => {
    fc.assert(
      fc.property(anyU64, anyU64, (a, b) => {
        const [begin, end] = a <= b ? [a, b] : [b, a]
        const nodes = rangeNodes(begin, end, [])
        let at = begin
        let falling = false
        nodes.forEach((node, i) => {
          assert.strictEqual(node.index << BigInt(node.level), at)
          at += 1n << BigInt(node.level)
          const previous = nodes[i - 1]
          if (previous !== undefined && node.level < previous.level) falling = true
          if (falling && previous !== undefined) assert.isBelow(node.level, previous.level)
        })
        assert.strictEqual(at, end)
        assert.isAtMost(nodes.length, 128)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })
})

/** The tree of 2^64 − 1 equal leaves: node (L, x) = z_L. */
const z: Array<Uint8Array> = [Merkle.hashLeaf(new Uint8Array(0))]
for (let level = 1; level <= 64; level++) {
  const below = z[level - 1] as Uint8Array
  z.push(Merkle.hashChildren(below, below))
}
const uniform: Merkle.NodeSource = { node: (level) => z[level] as Uint8Array }

describe("Merkle: proofs in trees of up to 2^64 − 1 leaves", () => {
  it("every inclusion and consistency proof verifies, at any index and size", () => {
    fc.assert(
      fc.property(anyU64.filter((n) => n > 0n), anyU64, anyU64, (size, a, b) => {
        const index = a % size
        const root = Either.getOrThrow(Merkle.root(uniform, size))
        let reads = 0
        const counting: Merkle.NodeSource = { node: (level, x) => (reads++, uniform.node(level, x)) }
        const proof = Either.getOrThrow(Merkle.inclusionProof(counting, index, size))
        // O(log n) node reads: at most one per level for the path, plus the ephemeral node's cover
        assert.isAtMost(reads, 2 * size.toString(2).length)
        assert.strictEqual(reads, Either.getOrThrow(Merkle.inclusionNodes(index, size)).ids.length)
        assert.isTrue(Either.isRight(Merkle.verifyInclusion(z[0] as Uint8Array, index, size, proof, root)))
        if (proof.length > 0) {
          const short = Merkle.verifyInclusion(z[0] as Uint8Array, index, size, proof.slice(1), root)
          assert.isTrue(Either.isLeft(short) && short.left.reason === "wrong-proof-size")
        }
        const size1 = 1n + (b % size)
        const root1 = Either.getOrThrow(Merkle.root(uniform, size1))
        reads = 0
        const consistency = Either.getOrThrow(Merkle.consistencyProof(counting, size1, size))
        assert.isAtMost(reads, 2 * size.toString(2).length + 1)
        assert.isTrue(Either.isRight(Merkle.verifyConsistency(size1, size, consistency, root1, root)))
        assert.isTrue(
          Either.isLeft(Merkle.verifyConsistency(size1, size, [...consistency, root], root1, root))
        )
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 200 }
    )
  })

  it("the last leaf of the largest tree, and the u64 underflow as an index", () => {
    const size = 2n ** 64n - 1n
    const root = Either.getOrThrow(Merkle.root(uniform, size))
    const proof = Either.getOrThrow(Merkle.inclusionProof(uniform, size - 1n, size))
    assert.strictEqual(proof.length, 63)
    assert.isTrue(Either.isRight(Merkle.verifyInclusion(z[0] as Uint8Array, size - 1n, size, proof, root)))
    const underflow = Merkle.verifyInclusion(z[0] as Uint8Array, size, size, proof, root)
    assert.isTrue(Either.isLeft(underflow) && underflow.left.reason === "index-out-of-range")
  })
})
