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

  it("the tiles `missingTiles` finds cached stay cached while the missing ones are read back, for any order of earlier reads", () => {
    // 12 full tiles and a partial one; memory keeps the partial one, the cache `cacheTiles` of the full ones
    const tree = new Merkle.MemoryTree()
    const count = 12 * 256 + 40
    for (let i = 0; i < count; i++) tree.append(Merkle.hashLeaf(new TextEncoder().encode(`leaf ${i}`)))
    const bytesOf = (level: number, index: bigint) => Buffer.from(referenceTile(tree, level, index, 256), "hex")
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 6 }), {
          minLength: 1,
          maxLength: 12
        }),
        (cacheTiles, requests) => {
          const tiles = new TileSet(0n, 0n, cacheTiles)
          const hashes = new Uint8Array(32 * count)
          for (let i = 0; i < count; i++) hashes.set(tree.node(0, BigInt(i)), 32 * i)
          tiles.putLeaves(0n, hashes)
          for (let t = 0; t < 12; t++) tiles.put(1, BigInt(t), tree.node(8, BigInt(t)))
          tiles.size = BigInt(count)
          tiles.persist(BigInt(count))
          for (const request of requests) {
            // a node of height 0 to 7 in each tile asked (as many tiles as the cache keeps, at most)
            const ids = request.slice(0, cacheTiles).map((tile, i) => ({
              level: i % 8,
              index: (BigInt(tile) * 256n) >> BigInt(i % 8)
            }))
            for (const [level, index] of tiles.missingTiles(ids)) tiles.remember(level, index, bytesOf(level, index))
            const source = tiles.source
            for (const id of ids) expect(hex(source.node(id.level, id.index))).toBe(hex(tree.node(id.level, id.index)))
          }
        }
      ),
      numRuns(200)
    )
  })
})
