/**
 * Tiles (c2sp.org/tlog-tiles): paths round-trip and every malformed one is refused with the path
 * and the reason; the tiles of a size match C2SP's worked examples; hash tiles and entry bundles
 * round-trip and refuse bad bytes; the root and any complete subtree read from tiles equal the
 * plain RFC 6962 MTH (computed here with node:crypto, independently of the library), for tiles
 * written by `appendTiles` in random batches and for tiles built from the definition.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Merkle from "../src/Merkle.js"
import * as Tiles from "../src/Tiles.js"

const U64_MAX = (1n << 64n) - 1n

const sha256 = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const h = crypto.createHash("sha256")
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
const leafHash = (data: Uint8Array) => sha256(Uint8Array.of(0), data)
const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(1), l, r)
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** RFC 6962 MTH of leaf hashes [from, to): split at the largest power of two below the size. */
const mth = (hashes: ReadonlyArray<Uint8Array>, from = 0, to = hashes.length): Uint8Array => {
  const n = to - from
  if (n === 0) return sha256()
  if (n === 1) return hashes[from] as Uint8Array
  let k = 1
  while (k * 2 < n) k *= 2
  return nodeHash(mth(hashes, from, from + k), mth(hashes, from + k, to))
}

const leavesOf = (n: number, seed: number): Array<Uint8Array> =>
  Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${seed} ${i}`)))

/** The tiles of a tree by the definition: level-L tile N's hash i is the MTH of its 256^L leaves. */
const definitionalTiles = (hashes: ReadonlyArray<Uint8Array>): Map<string, Uint8Array> => {
  const out = new Map<string, Uint8Array>()
  const size = BigInt(hashes.length)
  for (const { level } of Tiles.tilesForSize(size)) {
    const span = 256 ** level
    const nodes = Math.floor(hashes.length / span)
    for (let tile = 0; tile * 256 < nodes; tile++) {
      const width = Math.min(256, nodes - tile * 256)
      const bytes = new Uint8Array(width * 32)
      for (let i = 0; i < width; i++) {
        const first = (tile * 256 + i) * span
        bytes.set(mth(hashes, first, first + span), i * 32)
      }
      out.set(Either.getOrThrow(Tiles.tilePath(level, BigInt(tile), width)), bytes)
    }
  }
  return out
}

const readerOf = (files: Map<string, Uint8Array>): Tiles.TileReader => (level, index, width) =>
  files.get(Either.getOrThrow(Tiles.tilePath(level, index, width)))

describe("Tiles paths", () => {
  it("formats the C2SP examples", () => {
    assert.strictEqual(Either.getOrThrow(Tiles.tilePath(0, 1234067n)), "tile/0/x001/x234/067")
    assert.strictEqual(Either.getOrThrow(Tiles.tilePath(2, 0n, 7)), "tile/2/000.p/7")
    assert.strictEqual(Either.getOrThrow(Tiles.entriesPath(1234067n, 8)), "tile/entries/x001/x234/067.p/8")
    assert.strictEqual(Either.getOrThrow(Tiles.tilePath(0, U64_MAX)), "tile/0/x018/x446/x744/x073/x709/x551/615")
  })

  it("parse ∘ format is the identity over u64 indices, levels 0–63 and widths 1–256", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: 5000n })),
        fc.integer({ min: 1, max: 256 }),
        (level, index, width) => {
          const path = Either.getOrThrow(Tiles.tilePath(level, index, width))
          const tile = Either.getOrThrow(Tiles.parsePath(path))
          assert.deepStrictEqual(tile, new Tiles.HashTile({ level, index, width }))
          assert.strictEqual(Tiles.formatPath(tile), path)
          const entries = Either.getOrThrow(Tiles.entriesPath(index, width))
          const bundle = Either.getOrThrow(Tiles.parsePath(entries))
          assert.deepStrictEqual(bundle, new Tiles.EntriesTile({ index, width }))
          assert.strictEqual(Tiles.formatPath(bundle), entries)
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })

  it("format ∘ parse is the identity: any string it accepts is the canonical path of what it parsed", () => {
    // strings near the grammar: the pieces of paths, glued at random
    const piece = fc.constantFrom(
      "tile/",
      "entries/",
      "0/",
      "1/",
      "63/",
      "64/",
      "00/",
      "x000/",
      "x001/",
      "x999/",
      "001",
      "000",
      "999",
      "0001",
      "01",
      ".p/",
      ".p/1",
      ".p/255",
      ".p/256",
      ".p/0",
      ".p/01",
      "/",
      "x",
      "-1",
      "+1",
      " ",
      "1e3"
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const path = pieces.join("")
        const parsed = Tiles.parsePath(path)
        if (Either.isRight(parsed)) assert.strictEqual(Tiles.formatPath(parsed.right), path)
        else assert.strictEqual(parsed.left.path, path)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 3000 }
    )
  })

  const rejects: ReadonlyArray<readonly [string, string]> = [
    ["tile/0/x001/x234/067.p/", "partial width \"\""],
    ["tile/0/x001/x234/067.p", "last group \"067.p\""],
    ["tile/0/x001/x234/", "last group \"\""],
    ["tile/0/x001/x234", "last group \"x234\""],
    ["tile/0/x001/", "last group \"\""],
    ["tile/0/x001", "last group \"x001\""],
    ["tile/1/x001/.p/abc", "partial width \"abc\""],
    ["tile/64/x001/002", "level \"64\""],
    ["tile/-1/x001/002", "level \"-1\""],
    ["tile/abc/x001/002", "level \"abc\""],
    ["tile/01/002", "level \"01\""],
    ["tile/8/001/002", "group \"001\""],
    ["tile/8/x001/0002", "last group \"0002\""],
    ["tile/8/x001/-002", "last group \"-002\""],
    ["tile/8/x001/002.p/256", "partial width \"256\""],
    ["tile/8/002.p/0", "partial width \"0\""],
    ["tile/8/002.p/07", "partial width \"07\""],
    ["tile/63/x999/x999/x999/x999/x999/x999/999.p/255", "exceeds 2^64-1"],
    ["tile/0/x018/x446/x744/x073/x709/x551/616", "exceeds 2^64-1"],
    ["tile/0/x000/001", "leading x000"],
    ["tile/entries/x000/001", "leading x000"],
    ["tile/entries/1", "last group \"1\""],
    ["tile/entries", "no index"],
    ["tile/0", "no index"],
    ["tiles/0/000", "does not start"],
    ["/tile/0/000", "does not start"],
    ["tile/4/0/001", "group \"0\" is not x"], // Go sumdb: tile/<H>/<L>/<N>
    ["tile/1/data/x003/x057/500", "group \"data\""],
    ["tile/0/000/", "group \"000\" is not x"],
    ["tile//000", "level \"\""]
  ]
  for (const [path, reason] of rejects) {
    it(`refuses ${path}`, () => {
      const parsed = Tiles.parsePath(path)
      assert.isTrue(Either.isLeft(parsed))
      if (Either.isLeft(parsed)) {
        assert.strictEqual(parsed.left._tag, "TilePathError")
        assert.strictEqual(parsed.left.path, path)
        assert.include(parsed.left.reason, reason)
      }
    })
  }

  it("refuses a path of a hundred thousand groups as too large", () => {
    const parsed = Tiles.parsePath(`tile/0/${"x001/".repeat(100_000)}001`)
    assert.isTrue(Either.isLeft(parsed) && parsed.left.reason.includes("exceeds 2^64-1"))
  })

  it("refuses out-of-range coordinates, naming the field and value", () => {
    const field = (e: Either.Either<string, Tiles.TileRangeError>) =>
      Either.isLeft(e) ? `${e.left.field}=${e.left.value}` : e.right
    assert.strictEqual(field(Tiles.tilePath(64, 0n)), "level=64")
    assert.strictEqual(field(Tiles.tilePath(1.5, 0n)), "level=1.5")
    assert.strictEqual(field(Tiles.tilePath(0, -1n)), "index=-1")
    assert.strictEqual(field(Tiles.tilePath(0, 1n << 64n)), "index=18446744073709551616")
    assert.strictEqual(field(Tiles.tilePath(0, 0n, 0)), "width=0")
    assert.strictEqual(field(Tiles.entriesPath(0n, 257)), "width=257")
    assert.strictEqual(field(Tiles.entriesPathForLeaf(5n, 5n)), "leafIndex=5")
  })

  it("names the bundle of a leaf", () => {
    assert.strictEqual(Either.getOrThrow(Tiles.entriesPathForLeaf(256n, 257n)), "tile/entries/001.p/1")
    assert.strictEqual(Either.getOrThrow(Tiles.entriesPathForLeaf(251n, 255n)), "tile/entries/000.p/255")
    assert.strictEqual(
      Either.getOrThrow(Tiles.entriesPathForLeaf(U64_MAX - 1n, U64_MAX)),
      "tile/entries/x072/x057/x594/x037/x927/935.p/255"
    )
  })
})

describe("Tiles of a tree size", () => {
  const show = (size: bigint) =>
    Tiles.tilesForSize(size).map((l) => `${l.level}:${l.fullTiles}+${l.partialWidth}`).join(" ")
  it("matches C2SP's worked examples (70000 and 256)", () => {
    assert.strictEqual(show(70000n), "0:273+112 1:1+17 2:0+1")
    assert.strictEqual(show(256n), "0:1+0 1:0+1")
    assert.strictEqual(show(0n), "")
    assert.strictEqual(show(1n), "0:0+1")
    assert.strictEqual(
      show(U64_MAX),
      "0:72057594037927935+255 1:281474976710655+255 2:1099511627775+255 3:4294967295+255 4:16777215+255 5:65535+255 6:255+255 7:0+255"
    )
  })

  it("widthAt agrees with tilesForSize", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (size) => {
        for (const { fullTiles, level, partialWidth } of Tiles.tilesForSize(size)) {
          if (fullTiles > 0n) assert.strictEqual(Tiles.widthAt(size, level, fullTiles - 1n), 256)
          assert.strictEqual(Tiles.widthAt(size, level, fullTiles), partialWidth)
          assert.strictEqual(Tiles.widthAt(size, level, fullTiles + 1n), 0)
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })
})

describe("Hash tiles and entry bundles", () => {
  it("a hash tile's bytes are its hashes (8192 bytes full, W×32 partial); other lengths are refused", () => {
    const hashes = leavesOf(256, 1)
    const full = Either.getOrThrow(Tiles.encodeHashTile(hashes))
    assert.strictEqual(full.length, 8192)
    assert.deepStrictEqual(Either.getOrThrow(Tiles.parseHashTile(full, 256)).map(hex), hashes.map(hex))
    const partial = Either.getOrThrow(Tiles.encodeHashTile(hashes.slice(0, 5)))
    assert.strictEqual(partial.length, 160)
    const wrong = Tiles.parseHashTile(partial.subarray(0, 159), 5, 2, 7n)
    assert.isTrue(
      Either.isLeft(wrong) && wrong.left._tag === "TileBytesError" && wrong.left.length === 159 &&
        wrong.left.index === 7n
    )
    assert.isTrue(Either.isLeft(Tiles.parseHashTile(full, 5)))
    assert.isTrue(Either.isLeft(Tiles.encodeHashTile([])))
    assert.isTrue(Either.isLeft(Tiles.encodeHashTile([...hashes, hashes[0] as Uint8Array])))
    assert.isTrue(Either.isLeft(Tiles.encodeHashTile([new Uint8Array(31)])))
  })

  const entries = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 256 })

  it("entry bundles round-trip", () => {
    fc.assert(
      fc.property(entries, (es) => {
        const bytes = Either.getOrThrow(Tiles.encodeEntryBundle(es))
        assert.deepStrictEqual(Either.getOrThrow(Tiles.parseEntryBundle(bytes, es.length)).map(hex), es.map(hex))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  it("a truncated bundle is refused (cut inside an entry: truncated; at an entry's end: too few entries)", () => {
    fc.assert(
      fc.property(entries, fc.nat(), (es, cut) => {
        const bytes = Either.getOrThrow(Tiles.encodeEntryBundle(es))
        const at = cut % bytes.length
        const parsed = Tiles.parseEntryBundle(bytes.subarray(0, at), es.length)
        assert.isTrue(Either.isLeft(parsed))
        if (Either.isLeft(parsed)) assert.strictEqual(parsed.left._tag, "EntryBundleError")
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
    const cut = Tiles.parseEntryBundle(Uint8Array.of(0, 3, 0x6f, 0x6e))
    assert.isTrue(
      Either.isLeft(cut) && cut.left._tag === "EntryBundleError" && cut.left.reason.includes("truncated") &&
        cut.left.offset === 0
    )
    const half = Tiles.parseEntryBundle(Uint8Array.of(0, 1, 0x6f, 0))
    assert.isTrue(
      Either.isLeft(half) && half.left._tag === "EntryBundleError" && half.left.reason.includes("length prefix") &&
        half.left.offset === 3
    )
  })

  it("an oversized bundle or entry is refused", () => {
    const many = new Uint8Array(2 * 257) // 257 empty entries
    const parsed = Tiles.parseEntryBundle(many)
    assert.isTrue(
      Either.isLeft(parsed) && parsed.left._tag === "EntryBundleError" && parsed.left.reason.includes("more than 256")
    )
    const extra = Tiles.parseEntryBundle(new Uint8Array(2 * 9), 8)
    assert.isTrue(
      Either.isLeft(extra) && extra.left._tag === "EntryBundleError" &&
        extra.left.reason.includes("9 entries, expected 8")
    )
    assert.isTrue(Either.isLeft(Tiles.encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(0)))))
    const long = Tiles.encodeEntryBundle([new Uint8Array(1), new Uint8Array(65536)])
    assert.isTrue(Either.isLeft(long) && long.left.offset === 1)
    assert.isTrue(Either.isRight(Tiles.encodeEntryBundle([new Uint8Array(65535)])))
  })
})

describe("The tree from its tiles", () => {
  it("roots and subtrees read from tiles written by appendTiles in random batches equal the plain MTH", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        fc.array(fc.tuple(fc.nat(), fc.nat(13)), { maxLength: 8 }),
        (batches, seed, probes) => {
          const total = batches.reduce((a, b) => a + b, 0)
          const leaves = leavesOf(total, seed)
          const files = new Map<string, Uint8Array>()
          const read = readerOf(files)
          const sizes: Array<number> = [0]
          let size = 0
          for (const batch of batches) {
            const writes = Either.getOrThrow(Tiles.appendTiles(read, BigInt(size), leaves.slice(size, size + batch)))
            for (const w of writes) files.set(w.path, w.bytes)
            size += batch
            sizes.push(size)
          }
          // every size published on the way still reads (its partial tiles were written)
          for (const s of sizes) {
            assert.strictEqual(hex(Either.getOrThrow(Tiles.rootFromTiles(read, BigInt(s)))), hex(mth(leaves, 0, s)))
          }
          // the final tiles are exactly the definition's
          const want = definitionalTiles(leaves)
          for (const [path, bytes] of want) {
            assert.strictEqual(hex(files.get(path) ?? new Uint8Array()), hex(bytes), path)
          }
          // any complete subtree
          for (const [at, height] of probes) {
            if (total >> height === 0) continue
            const index = at % (total >> height)
            const got = Either.getOrThrow(Tiles.nodeHash(read, BigInt(total), height, BigInt(index)))
            assert.strictEqual(hex(got), hex(mth(leaves, index << height, (index + 1) << height)))
          }
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 25 }
    )
  })

  it("the root of 70000 leaves from definitional tiles (three levels) equals the MTH", () => {
    const leaves = leavesOf(70000, 7)
    const files = definitionalTiles(leaves)
    assert.strictEqual(files.size, 274 + 2 + 1)
    assert.strictEqual(hex(Either.getOrThrow(Tiles.rootFromTiles(readerOf(files), 70000n))), hex(mth(leaves)))
    assert.strictEqual(
      hex(Either.getOrThrow(Tiles.nodeHash(readerOf(files), 70000n, 16, 0n))),
      hex(mth(leaves, 0, 65536))
    )
    // appended in one batch, the writer gives the same files
    const written = Either.getOrThrow(Tiles.appendTiles(() => undefined, 0n, leaves))
    assert.deepStrictEqual(written.map((w) => w.path).sort(), [...files.keys()].sort())
    for (const w of written) assert.strictEqual(hex(w.bytes), hex(files.get(w.path) ?? new Uint8Array()))
  })

  it("a missing tile, a tile of the wrong length and a subtree beyond the size are typed errors", () => {
    const leaves = leavesOf(300, 3)
    const files = definitionalTiles(leaves)
    files.delete("tile/0/001.p/44")
    const missing = Tiles.rootFromTiles(readerOf(files), 300n)
    assert.isTrue(Either.isLeft(missing))
    if (Either.isLeft(missing)) {
      assert.deepInclude(missing.left, { _tag: "TileMissing", level: 0, index: 1n, width: 44 })
    }
    files.set("tile/0/001.p/44", new Uint8Array(43 * 32))
    const short = Tiles.rootFromTiles(readerOf(files), 300n)
    assert.isTrue(Either.isLeft(short) && short.left._tag === "TileBytesError")
    const beyond = Tiles.nodeHash(readerOf(files), 300n, 8, 1n)
    assert.isTrue(Either.isLeft(beyond) && beyond.left._tag === "TileRangeError" && beyond.left.field === "index")
    const huge = Tiles.rootFromTiles(readerOf(files), 1n << 64n)
    assert.isTrue(Either.isLeft(huge) && huge.left._tag === "TileRangeError" && huge.left.field === "treeSize")
    // the writer needs the old partial tile, and refuses a wrong-length leaf hash
    const append = Tiles.appendTiles(readerOf(files), 300n, leavesOf(1, 4))
    assert.isTrue(Either.isLeft(append) && append.left._tag === "TileBytesError")
    const bad = Tiles.appendTiles(() => undefined, 0n, [new Uint8Array(31)])
    assert.isTrue(Either.isLeft(bad) && bad.left._tag === "TileBytesError" && bad.left.length === 31)
    const over = Tiles.appendTiles(() => undefined, U64_MAX, leavesOf(1, 5))
    assert.isTrue(Either.isLeft(over) && over.left._tag === "TileRangeError")
  })

  it("nodeSource: proofs read from tiles equal the memory tree's; a tile it lacks throws its typed error", () => {
    const leaves = leavesOf(700, 11)
    const files = definitionalTiles(leaves)
    const tree = Merkle.MemoryTree.fromLeafHashes(leaves)
    const source = Tiles.nodeSource(readerOf(files), 700n)
    for (const [index, size] of [[0n, 700n], [255n, 256n], [256n, 513n], [699n, 700n]] as const) {
      assert.deepStrictEqual(
        Either.getOrThrow(Merkle.inclusionProof(source, index, size)).map(hex),
        Either.getOrThrow(Merkle.inclusionProof(tree, index, size)).map(hex)
      )
    }
    assert.deepStrictEqual(
      Either.getOrThrow(Merkle.consistencyProof(source, 300n, 700n)).map(hex),
      Either.getOrThrow(Merkle.consistencyProof(tree, 300n, 700n)).map(hex)
    )
    files.delete("tile/0/001")
    assert.throws(() => source.node(0, 300n), Tiles.TileMissing)
  })

  it("rootTiles lists exactly the tiles rootFromTiles reads (so a fetcher can fetch them first)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: 200_000n })), (size) => {
        const asked = new Set<string>()
        const read: Tiles.TileReader = (level, index, width) => {
          asked.add(Either.getOrThrow(Tiles.tilePath(level, index, width)))
          return new Uint8Array(width * 32)
        }
        assert.isTrue(Either.isRight(Tiles.rootFromTiles(read, size)))
        const listed = Either.getOrThrow(Tiles.rootTiles(size)).map(Tiles.formatPath)
        assert.strictEqual(new Set(listed).size, listed.length)
        assert.deepStrictEqual([...listed].sort(), [...asked].sort())
        assert.isAtMost(listed.length, 2 * Tiles.tilesForSize(size).length)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  it("the root of the empty tree is SHA-256 of nothing, and a size-1 tree's its leaf hash", () => {
    assert.strictEqual(hex(Either.getOrThrow(Tiles.rootFromTiles(() => undefined, 0n))), hex(sha256()))
    const leaf = leavesOf(1, 9)[0] as Uint8Array
    assert.strictEqual(hex(Either.getOrThrow(Tiles.rootFromTiles(() => leaf, 1n))), hex(leaf))
  })

  it("entry bundles appended in batches equal the bundles of the whole log", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 5 }), (batches) => {
        const total = batches.reduce((a, b) => a + b, 0)
        const entries = Array.from({ length: total }, (_, i) => new TextEncoder().encode(`entry ${i}`))
        const files = new Map<string, Uint8Array>()
        const read: Tiles.BundleReader = (index, width) => files.get(Either.getOrThrow(Tiles.entriesPath(index, width)))
        let size = 0
        for (const batch of batches) {
          const writes = Either.getOrThrow(
            Tiles.appendEntryBundles(read, BigInt(size), entries.slice(size, size + batch))
          )
          for (const w of writes) files.set(w.path, w.bytes)
          size += batch
        }
        for (let i = 0; i < total; i += 256) {
          const chunk = entries.slice(i, i + 256)
          const path = Either.getOrThrow(Tiles.entriesPath(BigInt(i / 256), chunk.length))
          assert.strictEqual(
            hex(files.get(path) ?? new Uint8Array()),
            hex(Either.getOrThrow(Tiles.encodeEntryBundle(chunk)))
          )
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 50 }
    )
    const missing = Tiles.appendEntryBundles(() => undefined, 3n, [new Uint8Array(1)])
    assert.isTrue(Either.isLeft(missing) && missing.left._tag === "TileMissing" && missing.left.level === "entries")
  })
})

describe("Tiles in a browser", () => {
  it("Tiles.ts and internal/tile*.ts use no Node API (imports effect and the tlog's hashing, bit arithmetic and error quoting only)", () => {
    const src = path.resolve(import.meta.dirname, "../src")
    const files = [
      "Tiles.ts",
      "internal/quote.ts",
      ...fs.readdirSync(path.join(src, "internal")).filter((f) => f.startsWith("tile")).map((f) => `internal/${f}`)
    ]
    for (const file of files) {
      const text = fs.readFileSync(path.join(src, file), "utf8")
      const imports = [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1])
      for (const spec of imports) {
        assert.match(
          spec ?? "",
          /^(effect\/|\.\/internal\/(hash|bits|quote|tile\w*)\.js$|\.\/(hash|bits)\.js$)/,
          `${file} imports ${spec}`
        )
      }
      assert.notMatch(text, /\b(process|Buffer|require|globalThis)\b/, file)
    }
  })
})
