/**
 * The tree log's node store (`TileSet`): the tiles a flush writes and every node it serves equal
 * a reference tree's, while tiles are persisted, cached, dropped from a tiny cache and their
 * buffers reused for the next tiles (a buffer reused while still held, or reused with another
 * tile's bytes in it, would serve a wrong node or write a wrong tile).
 */
import * as Merkle from "@calybris/tlog/Merkle"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { TileSet } from "../src/internal/treeLogTiles.js"

const numRuns = (n: number) => ({ numRuns: fc.readConfigureGlobal().numRuns ?? n })
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** The tile's hashes in the reference tree: tree level 8·`level`, nodes [256·index, 256·index + width). */
const referenceTile = (tree: Merkle.MemoryTree, level: number, index: bigint, width: number): string => {
  let out = ""
  for (let i = 0; i < width; i++) out += hex(tree.node(8 * level, index * 256n + BigInt(i)))
  return out
}

describe("TileSet", () => {
  it("writes and serves the reference tree's tiles and nodes while its cache drops tiles and their buffers are reused", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 256 * 20 }),
        fc.array(fc.integer({ min: 1, max: 256 * 4 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (count, steps, cacheTiles, seed) => {
          const tiles = new TileSet(0n, 0n, cacheTiles)
          const tree = new Merkle.MemoryTree()
          let size = 0
          let step = 0
          let random = seed >>> 0
          const next = (n: number) => {
            random = (Math.imul(random, 1103515245) + 12345) >>> 0
            return random % n
          }
          while (size < count) {
            // a run of leaves, put as the hashing puts them: leaf hashes in bulk, each level-8 node once complete
            const run = Math.min(steps[step++ % steps.length] as number, count - size)
            const first = size
            const hashes = new Uint8Array(32 * run)
            for (let i = 0; i < run; i++) {
              const leaf = Merkle.hashLeaf(new TextEncoder().encode(`leaf ${size}`))
              tree.append(leaf)
              hashes.set(leaf, 32 * i)
              size++
            }
            tiles.putLeaves(BigInt(first), hashes)
            for (let end = first + 1; end <= size; end++) {
              if (end % 256 === 0) tiles.put(1, BigInt(end / 256 - 1), tree.node(8, BigInt(end / 256 - 1)))
            }
            tiles.size = BigInt(size)
            // a flush to this size: each changed tile is the reference's, then memory keeps only the right edge
            for (const write of tiles.writes(BigInt(size))) {
              expect(hex(write.bytes)).toBe(referenceTile(tree, write.level, write.index, write.width))
            }
            tiles.persist(BigInt(size))
            // every node served is the reference's (a node whose tile is neither in memory nor cached is not served)
            for (let probe = 0; probe < 24; probe++) {
              const height = next(Math.min(12, 32 - Math.clz32(size)))
              const complete = size >> height
              if (complete === 0) continue
              const index = BigInt(next(complete))
              let got: Uint8Array | undefined
              try {
                got = tiles.source.node(height, index)
              } catch {
                got = undefined
              }
              if (got !== undefined) expect(hex(got)).toBe(hex(tree.node(height, index)))
            }
            // and the root, from memory alone
            expect(hex(Either.getOrThrow(Merkle.root(tiles.source, BigInt(size))))).toBe(
              hex(Either.getOrThrow(Merkle.root(tree, BigInt(size))))
            )
          }
        }
      ),
      numRuns(40)
    )
  })
})
