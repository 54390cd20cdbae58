/**
 * Merkle: RFC 6962's example tree (§2.1.3), the u64 and policy edges of RFC 9162 verification,
 * and properties over random trees of up to 10,000 leaves: every generated proof equals the
 * RFC 6962 recursive definition and verifies, and any one-bit change fails.
 */
import * as Merkle from "@calybris/tlog/Merkle"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

const utf8 = new TextEncoder()
const leaf = (i: number): Uint8Array => Merkle.hashLeaf(utf8.encode(`entry ${i}`))
const leaves = (n: number): Array<Uint8Array> => Array.from({ length: n }, (_, i) => leaf(i))
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
const hexes = (bs: ReadonlyArray<Uint8Array>) => bs.map(hex)
const H = Merkle.hashChildren

const right = <A>(e: Either.Either<A, Merkle.MerkleError>): A => {
  if (Either.isLeft(e)) assert.fail(e.left.message)
  return e.right
}
const reason = (e: Either.Either<unknown, Merkle.MerkleError>): string | undefined =>
  Either.isLeft(e) ? e.left.reason : undefined

// ----- RFC 6962 recursive definitions over an array (independent of the bit-walking code)

const k = (n: number) => {
  let p = 1
  while (p * 2 < n) p *= 2
  return p
}
type Side = "L" | "R"
/** PATH(m, D[n]) with the side of each sibling. */
const refPath = (m: number, d: ReadonlyArray<Uint8Array>): Array<[Uint8Array, Side]> => {
  if (d.length <= 1) return []
  const s = k(d.length)
  return m < s
    ? [...refPath(m, d.slice(0, s)), [Merkle.referenceRoot(d.slice(s)), "R"]]
    : [...refPath(m - s, d.slice(s)), [Merkle.referenceRoot(d.slice(0, s)), "L"]]
}
/** SUBPROOF(m, D[n], b), each element tagged with its side and whether the old tree covers it. */
const refSubproof = (m: number, d: ReadonlyArray<Uint8Array>, b: boolean): Array<[Uint8Array, string]> => {
  if (m === d.length) return b ? [] : [[Merkle.referenceRoot(d), "old"]]
  const s = k(d.length)
  return m <= s
    ? [...refSubproof(m, d.slice(0, s), b), [Merkle.referenceRoot(d.slice(s)), "R"]]
    : [...refSubproof(m - s, d.slice(s), false), [Merkle.referenceRoot(d.slice(0, s)), "L"]]
}
/** The shapes only (sizes, no hashes): what a verifier can know of a proof from the sizes. */
const pathShape = (m: bigint, n: bigint): string => {
  const out: Array<string> = []
  let [lo, hi] = [0n, n]
  while (hi - lo > 1n) {
    const s = 1n << BigInt((hi - lo - 1n).toString(2).length - 1)
    if (m < lo + s) [out[out.length], hi] = ["R", lo + s]
    else [out[out.length], lo] = ["L", lo + s]
  }
  return out.reverse().join("")
}
const subproofShape = (m: bigint, n: bigint): string => {
  const out: Array<string> = []
  let [lo, hi, b] = [0n, n, true]
  while (m !== hi) {
    const s = 1n << BigInt((hi - lo - 1n).toString(2).length - 1)
    if (m <= lo + s) [out[out.length], hi] = ["R", lo + s]
    else [out[out.length], lo, b] = ["L", lo + s, false]
  }
  if (!b) out.push("old")
  return out.reverse().join(",")
}

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice()
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7))
  return out
}

describe("Merkle: RFC 6962 §2.1.3's example tree of 7 leaves", () => {
  const d = leaves(7)
  const [a, b, c, dd, e, f, j] = d as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array
  ]
  const g = H(a, b), h = H(c, dd), i = H(e, f), kk = H(g, h), l = H(i, j)
  const tree = Merkle.MemoryTree.fromLeafHashes(d)
  const root = H(kk, l)

  it("root: MTH from nodes and by the recursive definition", () => {
    assert.strictEqual(hex(right(Merkle.root(tree, 7n))), hex(root))
    assert.strictEqual(hex(Merkle.referenceRoot(d)), hex(root))
    assert.strictEqual(hex(right(Merkle.root(tree, 3n))), hex(H(g, c)))
    assert.strictEqual(hex(right(Merkle.root(tree, 0n))), hex(Merkle.emptyRoot()))
  })

  it("inclusion: d0 [b, h, l], d3 [c, g, l], d4 [f, j, k], d6 [i, k]", () => {
    const cases: Array<[bigint, Array<Uint8Array>]> = [[0n, [b, h, l]], [3n, [c, g, l]], [4n, [f, j, kk]], [6n, [
      i,
      kk
    ]]]
    for (const [index, proof] of cases) {
      assert.deepStrictEqual(hexes(right(Merkle.inclusionProof(tree, index, 7n))), hexes(proof))
      right(Merkle.verifyInclusion(d[Number(index)] as Uint8Array, index, 7n, proof, root))
    }
  })

  it("consistency: 3→7 [c, d, g, l], 4→7 [l], 6→7 [i, j, k]", () => {
    const cases: Array<[bigint, Array<Uint8Array>, Uint8Array]> = [
      [3n, [c, dd, g, l], H(g, c)],
      [4n, [l], kk],
      [6n, [i, j, kk], H(kk, i)]
    ]
    for (const [size1, proof, root1] of cases) {
      assert.deepStrictEqual(hexes(right(Merkle.consistencyProof(tree, size1, 7n))), hexes(proof))
      right(Merkle.verifyConsistency(size1, 7n, proof, root1, root))
    }
  })
})

describe("Merkle.hashChildren: SHA-256(0x01 ‖ left ‖ right) for inputs of any length", () => {
  it("hashes what it is given (no byte of an earlier call left in, nothing cut off, no throw)", () => {
    const sha = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest())
    const cat = (...parts: ReadonlyArray<Uint8Array>) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) out.set(p, (at += p.length) - p.length)
      return out
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.uint8Array({ maxLength: 70 }), (left, right) => {
        // an earlier call through the shared buffer, with other bytes
        H(new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb))
        assert.deepStrictEqual(H(left, right), sha(cat(Uint8Array.of(1), left, right)))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
  })
})

describe("Merkle: refusals, each with its reason", () => {
  const d = leaves(8)
  const tree = Merkle.MemoryTree.fromLeafHashes(d)
  const root = right(Merkle.root(tree, 8n))
  const proof = right(Merkle.inclusionProof(tree, 2n, 8n))

  it("a root or a proof of a tree larger than the MemoryTree (or a tile source) holds: size-out-of-range, never a throw (a helper's review of the API)", () => {
    assert.strictEqual(reason(Merkle.root(tree, 9n)), "size-out-of-range")
    assert.strictEqual(reason(Merkle.root(tree, 16n)), "size-out-of-range")
    assert.strictEqual(reason(Merkle.inclusionProof(tree, 2n, 9n)), "size-out-of-range")
    assert.strictEqual(reason(Merkle.consistencyProof(tree, 4n, 12n)), "size-out-of-range")
    // within it, as before
    assert.deepStrictEqual(right(Merkle.root(tree, 8n)), root)
    assert.strictEqual(right(Merkle.consistencyProof(tree, 4n, 8n)).length, 1)
  })

  it("inclusion: index ≥ size, u64 underflow, negative, size beyond u64", () => {
    const u64Max = 18446744073709551615n
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf(0), u64Max, 8n, proof, root)), "index-out-of-range")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf(0), 8n, 8n, proof, root)), "index-out-of-range")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf(0), -1n, 8n, proof, root)), "index-out-of-range")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf(0), 0n, 0n, [], Merkle.emptyRoot())), "index-out-of-range")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf(0), 0n, u64Max + 1n, proof, root)), "size-out-of-range")
    assert.strictEqual(reason(Merkle.inclusionProof(tree, 8n, 8n)), "index-out-of-range")
    // an index of another type (a JavaScript caller's number or string) says so, not that the
    // tree is too small (a helper's hostile review: "index = 2 (the tree has 7 leaves)")
    for (const index of [2, "2"] as unknown as ReadonlyArray<bigint>) {
      const refused = Merkle.verifyInclusion(leaf(0), index, 8n, proof, root)
      assert.isTrue(Either.isLeft(refused) && refused.left.reason === "index-out-of-range")
      assert.include(Either.isLeft(refused) ? refused.left.message : "", "not a u64")
    }
  })

  it("inclusion: proof one too long or short, a 31-byte hash, a wrong root", () => {
    const leaf2 = d[2] as Uint8Array
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf2, 2n, 8n, [...proof, root], root)), "wrong-proof-size")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf2, 2n, 8n, proof.slice(1), root)), "wrong-proof-size")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf2, 2n, 8n, proof, root.slice(1))), "hash-length")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf2.slice(1), 2n, 8n, proof, root)), "hash-length")
    const shortHash = Merkle.verifyInclusion(leaf2, 2n, 8n, [proof[0] as Uint8Array, root.slice(0, 31), root], root)
    assert.isTrue(Either.isLeft(shortHash) && shortHash.left.field === "proof[1]", "names the proof's element")
    assert.strictEqual(reason(Merkle.verifyInclusion(leaf2, 2n, 8n, proof, leaf2)), "root-mismatch")
    const error = Merkle.verifyInclusion(leaf2, 2n, 8n, proof, leaf2)
    assert.isTrue(Either.isLeft(error) && error.left.field === "root" && error.left.value === hex(leaf2))
    right(Merkle.verifyInclusion(leaf2, 2n, 8n, proof, root))
  })

  it("consistency: size1 = 0 refused (policy), 0 → 0 too; size1 > size2; equal sizes", () => {
    const empty = Merkle.emptyRoot()
    assert.strictEqual(reason(Merkle.verifyConsistency(0n, 8n, [], empty, root)), "empty-first-tree")
    assert.strictEqual(reason(Merkle.verifyConsistency(0n, 0n, [], empty, empty)), "empty-first-tree")
    assert.strictEqual(reason(Merkle.consistencyProof(tree, 0n, 8n)), "empty-first-tree")
    assert.strictEqual(reason(Merkle.verifyConsistency(8n, 7n, [], root, root)), "size-order")
    assert.strictEqual(reason(Merkle.consistencyProof(tree, 8n, 7n)), "size-order")
    right(Merkle.verifyConsistency(8n, 8n, [], root, root))
    assert.strictEqual(reason(Merkle.verifyConsistency(8n, 8n, [root], root, root)), "wrong-proof-size")
    assert.strictEqual(reason(Merkle.verifyConsistency(8n, 8n, [], root, empty)), "root-mismatch")
    assert.strictEqual(reason(Merkle.verifyConsistency(1n, 1n, [], root.slice(20), root.slice(20))), "hash-length")
    assert.strictEqual(reason(Merkle.verifyConsistency(1n, 2n ** 64n, [], root, root)), "size-out-of-range")
  })

  it("a JavaScript caller's numbers, strings and non-arrays are refused with a reason, never thrown on (a hostile review)", () => {
    const leaf2 = d[2] as Uint8Array
    const loose = Merkle as unknown as {
      verifyInclusion: (...args: ReadonlyArray<unknown>) => Either.Either<unknown, Merkle.MerkleError>
      verifyConsistency: (...args: ReadonlyArray<unknown>) => Either.Either<unknown, Merkle.MerkleError>
    }
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2, 8n, proof, root)), "index-out-of-range")
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2n, 8, proof, root)), "size-out-of-range")
    assert.strictEqual(reason(loose.verifyConsistency(1, 2n, [], root, root)), "size-out-of-range")
    assert.strictEqual(reason(loose.verifyConsistency(1n, 2, [], root, root)), "size-out-of-range")
    const stringInProof = [...proof]
    stringInProof[1] = "x".repeat(32) as unknown as Uint8Array
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2n, 8n, stringInProof, root)), "hash-length")
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2n, 8n, proof, hex(root).slice(0, 32))), "hash-length")
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2n, 8n, "proof", root)), "hash-length")
    assert.strictEqual(reason(loose.verifyInclusion(leaf2, 2n, 8n, null, root)), "hash-length")
    // a Buffer is a Uint8Array
    right(Merkle.verifyInclusion(Buffer.from(leaf2), 2n, 8n, proof.map((h) => Buffer.from(h)), Buffer.from(root)))
  })

  it("a tree's root and nodes are copies: scribbling on a root, a proof or a reused leaf buffer changes nothing the tree keeps (a hostile review)", () => {
    const buffer = leaf(0).slice()
    const memory = new Merkle.MemoryTree()
    memory.append(buffer)
    buffer[0] = (buffer[0] as number) ^ 0xff
    assert.strictEqual(hex(right(Merkle.root(memory, 1n))), hex(leaf(0)))
    const two = Merkle.MemoryTree.fromLeafHashes([leaf(0), leaf(1)])
    const before = hex(right(Merkle.root(two, 2n)))
    const r = right(Merkle.root(two, 2n))
    r[0] = (r[0] as number) ^ 1
    const p = right(Merkle.inclusionProof(two, 0n, 2n))
    ;(p[0] as Uint8Array).fill(0)
    assert.strictEqual(hex(right(Merkle.root(two, 2n))), before)
    right(
      Merkle.verifyInclusion(leaf(0), 0n, 2n, right(Merkle.inclusionProof(two, 0n, 2n)), right(Merkle.root(two, 2n)))
    )
  })
})

const sample = fc.record({
  size: fc.integer({ min: 1, max: 10_000 }),
  picks: fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 4 }),
  bit: fc.nat()
})

describe("Merkle: properties over random trees (≤ 10,000 leaves)", () => {
  it("every inclusion proof is PATH, verifies, and fails on any one-bit change", () => {
    fc.assert(
      fc.property(sample, ({ bit, picks, size }) => {
        const d = leaves(size)
        const tree = Merkle.MemoryTree.fromLeafHashes(d)
        const n = BigInt(size)
        const root = right(Merkle.root(tree, n))
        assert.strictEqual(hex(root), hex(Merkle.referenceRoot(d)))
        for (const pick of picks) {
          const m = Math.floor(pick * size)
          const index = BigInt(m)
          const leafHash = d[m] as Uint8Array
          const proof = right(Merkle.inclusionProof(tree, index, n))
          if (picks.length === 1) assert.deepStrictEqual(hexes(proof), refPath(m, d).map(([h]) => hex(h)))
          assert.strictEqual(pathShape(index, n).length, proof.length)
          right(Merkle.verifyInclusion(leafHash, index, n, proof, root))
          const refuses = (e: Either.Either<void, Merkle.MerkleError>, what: string) =>
            assert.isTrue(Either.isLeft(e), `${what} accepted (index ${index}, size ${n})`)
          refuses(Merkle.verifyInclusion(flipBit(leafHash, bit % 256), index, n, proof, root), "leaf bit")
          refuses(Merkle.verifyInclusion(leafHash, index, n, proof, flipBit(root, bit % 256)), "root bit")
          if (proof.length > 0) {
            const at = bit % proof.length
            const mutated = proof.slice()
            mutated[at] = flipBit(proof[at] as Uint8Array, (bit >> 8) % 256)
            refuses(Merkle.verifyInclusion(leafHash, index, n, mutated, root), "proof bit")
          }
          for (let b = 0n; b < 64n; b++) {
            refuses(Merkle.verifyInclusion(leafHash, index ^ (1n << b), n, proof, root), `index bit ${b}`)
            // the size is bound by the signed checkpoint, not by the proof: a size whose path has
            // the same shape gives the very same computation, which no verifier can tell apart
            const size2 = n ^ (1n << b)
            const e = Merkle.verifyInclusion(leafHash, index, size2, proof, root)
            if (Either.isRight(e)) assert.strictEqual(pathShape(index, size2), pathShape(index, n), `size bit ${b}`)
          }
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 25 }
    )
  })

  it("every consistency proof is PROOF, verifies, and fails on any one-bit change", () => {
    fc.assert(
      fc.property(sample, ({ bit, picks, size }) => {
        const d = leaves(size)
        const tree = Merkle.MemoryTree.fromLeafHashes(d)
        const n = BigInt(size)
        const root2 = right(Merkle.root(tree, n))
        for (const pick of picks) {
          const m1 = 1 + Math.floor(pick * size)
          const m = BigInt(m1)
          const root1 = right(Merkle.root(tree, m))
          const proof = right(Merkle.consistencyProof(tree, m, n))
          if (picks.length === 1 && m1 < size) {
            assert.deepStrictEqual(hexes(proof), refSubproof(m1, d, true).map(([h]) => hex(h)))
          }
          right(Merkle.verifyConsistency(m, n, proof, root1, root2))
          const refuses = (e: Either.Either<void, Merkle.MerkleError>, what: string) =>
            assert.isTrue(Either.isLeft(e), `${what} accepted (${m} → ${n})`)
          refuses(Merkle.verifyConsistency(m, n, proof, flipBit(root1, bit % 256), root2), "root1 bit")
          refuses(Merkle.verifyConsistency(m, n, proof, root1, flipBit(root2, bit % 256)), "root2 bit")
          if (proof.length > 0) {
            const at = bit % proof.length
            const mutated = proof.slice()
            mutated[at] = flipBit(proof[at] as Uint8Array, (bit >> 8) % 256)
            refuses(Merkle.verifyConsistency(m, n, mutated, root1, root2), "proof bit")
          }
          for (let b = 0n; b < 64n; b++) {
            const m2 = m ^ (1n << b)
            const e1 = Merkle.verifyConsistency(m2, n, proof, root1, root2)
            if (Either.isRight(e1)) {
              assert.strictEqual(subproofShape(m2, n), subproofShape(m, n), `size1 bit ${b} (${m} → ${m2})`)
            }
            const n2 = n ^ (1n << b)
            const e2 = Merkle.verifyConsistency(m, n2, proof, root1, root2)
            if (Either.isRight(e2)) {
              assert.strictEqual(subproofShape(m, n2), subproofShape(m, n), `size2 bit ${b} (${n} → ${n2})`)
            }
          }
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 25 }
    )
  })
})

describe("Merkle: the verify path uses no Node API (it runs in a browser)", () => {
  it("Merkle, CompactRange and their internals import no node: module and use no process or Buffer", () => {
    const src = path.resolve(import.meta.dirname, "../src")
    for (const file of ["Merkle.ts", "CompactRange.ts", "internal/bits.ts", "internal/hash.ts"]) {
      const text = fs.readFileSync(path.join(src, file), "utf8")
      assert.notMatch(text, /from\s+"node:|import\("node:|require\(|\bprocess\.|\bBuffer\b/, file)
      for (const [, spec] of text.matchAll(/from\s+"([^"]+)"/g)) {
        assert.match(spec as string, /^(?:\.\/|\.\.\/|effect\/|@calybris\/core\/)/, `${file} imports ${spec}`)
      }
    }
  })
})
