/**
 * CompactRange: the root at every prefix equals MTH, appends report the nodes they complete
 * (the memory tree's), rebuilding from a node source gives the same range, and both
 * serializations round-trip and refuse truncated, extra and non-canonical input.
 */
import * as CompactRange from "@calybris/tlog/CompactRange"
import * as Merkle from "@calybris/tlog/Merkle"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"

const utf8 = new TextEncoder()
const leaf = (i: number): Uint8Array => Merkle.hashLeaf(utf8.encode(`entry ${i}`))
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
const CR = CompactRange.CompactRange

const right = <A>(e: Either.Either<A, CompactRange.CompactRangeError>): A => {
  if (Either.isLeft(e)) assert.fail(e.left.message)
  return e.right
}
const reason = (e: Either.Either<unknown, CompactRange.CompactRangeError>): string | undefined =>
  Either.isLeft(e) ? e.left.reason : undefined

describe("CompactRange", () => {
  it("the empty range: the empty tree's root, 8 bytes, \"0\\n\"", () => {
    const range = CR.empty()
    assert.strictEqual(hex(range.root()), hex(Merkle.emptyRoot()))
    assert.strictEqual(hex(range.toBytes()), "0000000000000000")
    assert.strictEqual(range.toText(), "0\n")
    assert.strictEqual(right(CR.fromText("0\n")).size, 0n)
  })

  it("root of every prefix equals MTH; appends report exactly the memory tree's complete nodes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (size) => {
        const range = CR.empty()
        const tree = new Merkle.MemoryTree()
        const completed: Array<CompactRange.CompletedNode> = []
        let hashes = 0
        for (let i = 0; i < size; i++) {
          const h = leaf(i)
          range.append(h, completed)
          tree.append(h)
          assert.strictEqual(hex(range.root()), hex(Either.getOrThrow(Merkle.root(tree, BigInt(i + 1)))))
        }
        for (const node of completed) {
          assert.strictEqual(hex(node.hash), hex(tree.node(node.level, node.index)))
          hashes += node.level === 0 ? 0 : 1
        }
        // amortised O(1): one hash per completed interior node, fewer than one per leaf
        assert.isBelow(hashes, size)
        assert.strictEqual(completed.length - hashes, size)
        const leaves = Array.from({ length: size }, (_, i) => leaf(i))
        assert.strictEqual(hex(range.root()), hex(Merkle.referenceRoot(leaves)))
        const rebuilt = right(CR.fromSource(tree, BigInt(size)))
        assert.deepStrictEqual(rebuilt.edge.map(hex), range.edge.map(hex))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 5 }
    )
  })

  it("serialization round-trips (binary and text) and the decoded range appends on", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 20 }), (size, more) => {
        const range = CR.fromLeafHashes(Array.from({ length: size }, (_, i) => leaf(i)))
        const bytes = range.toBytes()
        assert.strictEqual(bytes.length, 8 + 32 * range.edge.length)
        const fromBytes = right(CR.fromBytes(bytes))
        const fromText = right(CR.fromText(range.toText()))
        for (const copy of [fromBytes, fromText]) {
          assert.strictEqual(copy.size, BigInt(size))
          assert.strictEqual(hex(copy.toBytes()), hex(bytes))
          assert.strictEqual(copy.toText(), range.toText())
        }
        const all = CR.fromLeafHashes(Array.from({ length: size + more }, (_, i) => leaf(i)))
        for (let i = size; i < size + more; i++) fromBytes.append(leaf(i))
        assert.strictEqual(hex(fromBytes.root()), hex(all.root()))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 50 }
    )
  })

  it("a size near 2^64: binary and text round-trip with 64 hashes", () => {
    const hashes = Array.from({ length: 64 }, (_, i) => leaf(i))
    const bytes = new Uint8Array(8 + 32 * 64)
    bytes.fill(0xff, 0, 8)
    hashes.forEach((h, i) => bytes.set(h, 8 + 32 * i))
    const range = right(CR.fromBytes(bytes))
    assert.strictEqual(range.size, 2n ** 64n - 1n)
    assert.strictEqual(right(CR.fromText(range.toText())).toText(), range.toText())
    assert.throws(() => range.append(leaf(0)), RangeError)
  })

  it("refuses truncated, extra and non-canonical serializations, naming the reason", () => {
    const range = CR.fromLeafHashes(Array.from({ length: 7 }, (_, i) => leaf(i)))
    const bytes = range.toBytes()
    const text = range.toText()
    assert.strictEqual(reason(CR.fromBytes(bytes.slice(0, 7))), "truncated")
    for (let cut = 8; cut < bytes.length; cut++) {
      assert.strictEqual(reason(CR.fromBytes(bytes.slice(0, cut))), "truncated")
    }
    assert.strictEqual(reason(CR.fromBytes(new Uint8Array([...bytes, 0]))), "trailing-bytes")
    assert.strictEqual(reason(CR.fromBytes(new Uint8Array([...bytes, ...bytes.slice(8, 40)]))), "trailing-bytes")
    // a size that promises a different number of hashes
    const wrongSize = bytes.slice()
    wrongSize[7] = 8
    assert.strictEqual(reason(CR.fromBytes(wrongSize)), "trailing-bytes")
    wrongSize[7] = 15
    assert.strictEqual(reason(CR.fromBytes(wrongSize)), "truncated")

    const lines = text.split("\n")
    assert.strictEqual(reason(CR.fromText(text.slice(0, -1))), "truncated")
    assert.strictEqual(reason(CR.fromText(lines.slice(0, 3).join("\n") + "\n")), "truncated")
    assert.strictEqual(reason(CR.fromText(text + (lines[1] as string) + "\n")), "hash-count")
    assert.strictEqual(reason(CR.fromText(text + "\n")), "not-canonical")
    assert.strictEqual(reason(CR.fromText("0" + text)), "not-canonical")
    assert.strictEqual(reason(CR.fromText("+" + text)), "not-canonical")
    assert.strictEqual(reason(CR.fromText(text.toUpperCase())), "not-canonical")
    assert.strictEqual(reason(CR.fromText(text.replace("\n", "\r\n"))), "not-canonical")
    assert.strictEqual(reason(CR.fromText(text.slice(0, -2) + "\n")), "not-canonical")
    assert.strictEqual(reason(CR.fromText("18446744073709551616\n")), "size-out-of-range")
    assert.strictEqual(reason(CR.fromText("1\n" + "0".repeat(64) + " \n")), "not-canonical")
    const error = CR.fromText("07\n")
    assert.isTrue(Either.isLeft(error) && error.left.field === "size" && error.left.value === "\"07\"")
  })

  it("keeps its own hashes: a reused leaf buffer, a root or an edge scribbled on changes nothing (a hostile review)", () => {
    const buffer = leaf(0).slice()
    const range = CR.empty()
    range.append(buffer)
    buffer.fill(0)
    assert.strictEqual(hex(range.root()), hex(leaf(0)))
    range.root().fill(0)
    ;(range.edge[0] as Uint8Array).fill(0)
    assert.strictEqual(hex(range.root()), hex(leaf(0)))
    range.append(leaf(1))
    assert.strictEqual(hex(range.root()), hex(Merkle.hashChildren(leaf(0), leaf(1))))
    // a source that reuses its buffer: the range read from it keeps copies
    const tree = Merkle.MemoryTree.fromLeafHashes([leaf(0), leaf(1), leaf(2)])
    const reused = new Uint8Array(32)
    const fromReused = right(
      CR.fromSource({ node: (level, index) => (reused.set(tree.node(level, index)), reused) }, 3n)
    )
    reused.fill(0)
    assert.strictEqual(hex(fromReused.root()), hex(right(CR.fromSource(tree, 3n)).root()))
  })

  it("fromSource refuses a node of the wrong length, append a leaf hash of the wrong length", () => {
    const source: Merkle.NodeSource = { node: () => new Uint8Array(31) }
    assert.strictEqual(reason(CR.fromSource(source, 3n)), "hash-length")
    assert.strictEqual(reason(CR.fromSource(source, -1n)), "size-out-of-range")
    assert.throws(() => CR.empty().append(new Uint8Array(33)), RangeError)
  })
})
