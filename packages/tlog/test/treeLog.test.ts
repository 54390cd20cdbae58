/**
 * TreeLog: one contract suite against both layers (memory; file on a real temp directory) —
 * proofs from the service verify against the head's root for random append counts, the head is
 * RFC 6962's root of the log's lines, a reopened log answers exactly as the one never closed —
 * then the file layer's tiles: the files written are exactly the tiles C2SP defines for the
 * persisted size (bytes from a MemoryTree of the lines), a crash between the WAL and the tiles is
 * caught up on open, and tampered tiles or tiles ahead of the log are refused with typed errors.
 */
import type * as Json from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Tiles from "@calybris/tlog/Tiles"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"
import { signer, verifierOf } from "./noteSupport.js"
import { filesUnder, gatedSyncs, headText, linesOf, withLogFile } from "./treeLogSupport.js"

const key = new Uint8Array(32).fill(9)
const numRuns = (n: number) => ({ numRuns: fc.readConfigureGlobal().numRuns ?? n })

const bytesOf = (wal: Wal.Wal["Type"]) =>
  Effect.map(Stream.runCollect(wal.bytes), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/** The reference tree of the log's lines. */
const referenceOf = (wal: Wal.Wal["Type"]) =>
  Effect.map(bytesOf(wal), (bytes) => {
    const lines = linesOf(bytes)
    return { lines, tree: Merkle.MemoryTree.fromLeafHashes(lines.map(Merkle.hashLeaf)) }
  })

/** records `from` to `from + n - 1`, as `appendN` appends them */
const records = (from: number, n: number): Array<Json.Json> =>
  Array.from(
    { length: n },
    (_, i) => new Map<string, Json.Json>([["i", from + i], ["pad", "x".repeat((from + i) % 7)]])
  )

const appendN = (log: TreeLog.TreeLog["Type"], from: number, n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => from + i),
    (i) =>
      Effect.map(log.append(new Map<string, Json.Json>([["i", i], ["pad", "x".repeat(i % 7)]])), (a) => {
        expect(a.index).toBe(BigInt(i))
        expect(a.sealed.sequence).toBe(BigInt(i + 1))
      }),
    { discard: true }
  )

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** Every proof the service gives for sizes up to its head verifies, for a sample of (index, size) pairs. */
const checkProofs = (log: TreeLog.TreeLog["Type"], picks: ReadonlyArray<readonly [number, number]>) =>
  Effect.gen(function*() {
    const head = yield* log.head
    const ref = yield* referenceOf(log.wal)
    expect(head.size).toBe(BigInt(ref.lines.length))
    expect(hex(head.root)).toBe(hex(Either.getOrThrow(Merkle.root(ref.tree, head.size))))
    const n = Number(head.size)
    if (n === 0) return
    for (const [a, b] of picks) {
      const size = 1 + (b % n)
      const index = a % size
      const proof = yield* log.inclusionProof(BigInt(index), BigInt(size))
      const root = Either.getOrThrow(Merkle.root(ref.tree, BigInt(size)))
      const leaf = Merkle.hashLeaf(ref.lines[index] as Uint8Array)
      assert.isTrue(Either.isRight(Merkle.verifyInclusion(leaf, BigInt(index), BigInt(size), proof, root)))
      // against the head's own root too
      const atHead = yield* log.inclusionProof(BigInt(index), head.size)
      assert.isTrue(Either.isRight(Merkle.verifyInclusion(leaf, BigInt(index), head.size, atHead, head.root)))
      const size1 = 1 + (a % size)
      const consistency = yield* log.consistencyProof(BigInt(size1), head.size)
      const root1 = Either.getOrThrow(Merkle.root(ref.tree, BigInt(size1)))
      assert.isTrue(
        Either.isRight(Merkle.verifyConsistency(BigInt(size1), head.size, consistency, root1, head.root))
      )
    }
  })

/** Everything the service answers (head, a grid of proofs), to compare two opens of one log. */
const answers = (log: TreeLog.TreeLog["Type"]) =>
  Effect.gen(function*() {
    const head = yield* log.head
    const out: Array<string> = [`${head.size} ${hex(head.root)}`]
    const n = Number(head.size)
    for (let size = 1; size <= n; size += Math.max(1, Math.floor(n / 9))) {
      for (let index = 0; index < size; index += Math.max(1, Math.floor(size / 5))) {
        out.push((yield* log.inclusionProof(BigInt(index), BigInt(size))).map(hex).join(","))
      }
      out.push((yield* log.consistencyProof(BigInt(size), head.size)).map(hex).join(","))
    }
    return out
  })

type Open = (
  dir: string,
  options?: TreeLog.TreeLogOptions
) => Effect.Effect<TreeLog.TreeLog["Type"], unknown, FileSystem.FileSystem | Scope.Scope>

/** memory: "reopening" is a new log over the bytes of the old one */
const memoryBytes = new Map<string, Uint8Array>()
const layers: ReadonlyArray<readonly [string, Open]> = [
  [
    "memory",
    (dir, options) =>
      Effect.gen(function*() {
        const log = yield* TreeLog.makeMemory({ key, ...options }, memoryBytes.get(dir))
        yield* Effect.addFinalizer(() =>
          Effect.orDie(Effect.map(bytesOf(log.wal), (bytes) => {
            memoryBytes.set(dir, bytes)
          }))
        )
        return log
      })
  ],
  ["file", (dir, options) => TreeLog.makeFile(`${dir}/log.jsonl`, { key, durability: "never", ...options })],
  // the worker's chunks hold a leaf or two and at most two are in flight: handed over, and waited for, all the time
  [
    "file, hashed and written by a worker (TreeLogNode)",
    (dir, options) =>
      TreeLog.makeFile(`${dir}/log.jsonl`, { key, durability: "never", ...options }).pipe(
        Effect.provide(TreeLogNode.layerWith({ chunkBytes: 100, maxChunks: 2 }))
      )
  ]
]

const picksArb = fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 })

describe("TreeLog contract", () => {
  for (const [name, open] of layers) {
    describe(name, () => {
      it.effect("proofs verify against the head's root, for random append counts (and the head is the log's root)", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(
                fc.integer({ min: 0, max: 700 }),
                fc.integer({ min: 1, max: 300 }),
                picksArb,
                (n, flushEvery, picks) =>
                  Effect.runPromise(
                    Effect.scoped(Effect.gen(function*() {
                      const dir = yield* fs.makeTempDirectoryScoped()
                      const log = yield* open(dir, { flushEvery })
                      yield* appendN(log, 0, n)
                      yield* checkProofs(log, picks)
                    })).pipe(Effect.provide(NodeContext.layer))
                  )
              ),
              numRuns(8)
            )
          )
        }).pipe(Effect.provide(NodeContext.layer)))

      it.effect("reopen equals no reopen: same head, same proofs; appending after a reopen goes on", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const first = yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* open(dir, { flushEvery: 100 })
            yield* appendN(log, 0, 600)
            return yield* answers(log)
          }))
          const second = yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* open(dir)
            const again = yield* answers(log)
            yield* appendN(log, 600, 77)
            yield* checkProofs(log, [[5, 640], [599, 676], [600, 3]])
            return again
          }))
          expect(second).toEqual(first)
          const third = yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* open(dir)
            expect((yield* log.head).size).toBe(677n)
            return yield* answers(log)
          }))
          const never = yield* Effect.scoped(Effect.gen(function*() {
            const other = yield* fs.makeTempDirectoryScoped()
            const log = yield* open(other)
            yield* appendN(log, 0, 677)
            return yield* answers(log)
          }))
          expect(third).toEqual(never)
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

      it.effect("refuses proofs beyond the acknowledged head; signs checkpoints of the head; onAppended sees each size", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const sizes: Array<bigint> = []
          const log = yield* open(dir, { onAppended: (size) => Effect.sync(() => sizes.push(size)) })
          yield* appendN(log, 0, 5)
          expect(sizes).toEqual([1n, 2n, 3n, 4n, 5n])
          const beyond = yield* Effect.exit(log.inclusionProof(0n, 6n))
          expect(beyond).toStrictEqual(Exit.fail(new TreeLog.TreeLogBeyondHead({ field: "size", value: 6n, head: 5n })))
          const refused = yield* Effect.flip(log.consistencyProof(0n, 5n))
          expect(refused._tag).toBe("MerkleError")
          const s = signer("example.com/log", new Uint8Array(32).fill(1))
          const note = yield* log.checkpoint("example.com/log", [s])
          const verified = Either.getOrThrow(Checkpoint.verifyCheckpoint(note, [verifierOf(s)]))
          const head = yield* log.head
          expect(verified.checkpoint.size).toBe(5n)
          expect(hex(verified.checkpoint.root)).toBe(hex(head.root))
          // no signer: refused, never an unsigned "checkpoint" (a hostile review)
          const unsigned = yield* Effect.flip(log.checkpoint("example.com/log", []))
          expect(unsigned).toMatchObject({ _tag: "NoteMalformed", reason: "no-signature-block" })
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))
    })
  }
})

// ---------------------------------------------------------------------------------------------
// The file layer's tiles

/** The tiles C2SP defines for the tree of these lines at `size`: path → bytes (encodeHashTile of MemoryTree nodes). */
const expectedTiles = (tree: Merkle.MemoryTree, size: bigint): Map<string, Uint8Array> => {
  const out = new Map<string, Uint8Array>()
  for (const { fullTiles, level, partialWidth } of Tiles.tilesForSize(size)) {
    const count = partialWidth > 0 ? fullTiles + 1n : fullTiles
    for (let index = 0n; index < count; index++) {
      const width = Tiles.widthAt(size, level, index)
      const hashes = Array.from({ length: width }, (_, i) => tree.node(8 * level, index * 256n + BigInt(i)))
      out.set(Either.getOrThrow(Tiles.tilePath(level, index, width)), Either.getOrThrow(Tiles.encodeHashTile(hashes)))
    }
  }
  return out
}

/** How the file layer's tree is hashed and its tiles written: inline through `FileSystem`, or by a worker. */
const hashings = [
  ["inline", Layer.empty],
  ["worker (TreeLogNode)", Layer.orDie(TreeLogNode.layerWith({ chunkBytes: 4096, maxChunks: 2 }))]
] as const

const withLogUsing = <A, E, R>(
  hashing: Layer.Layer<never> | Layer.Layer<TreeLogNode.TreeIo>,
  path: string,
  f: (log: TreeLog.TreeLog["Type"]) => Effect.Effect<A, E, R>,
  options: TreeLog.TreeLogOptions = {}
) =>
  Effect.scoped(
    Effect.flatMap(TreeLog.makeFile(path, { key, durability: "never", ...options }).pipe(Effect.provide(hashing)), f)
  )

const appendPlain = (path: string, from: number, n: number, options: Wal.WalOptions = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const wal = yield* Wal.makeFile(path, { key, ...options })
    for (let i = from; i < from + n; i++) {
      yield* wal.append(new Map<string, Json.Json>([["i", i], ["pad", "x".repeat(i % 7)]]))
    }
  }))

/**
 * The persisted tree: the tiles of its size and the tree head, each byte as C2SP defines it; beside
 * them only narrower partial tiles of the tiles still partial at that size (earlier flushes'; C2SP:
 * a log must serve the partial tiles of every size it signed, until the full tile is available),
 * each the first hashes of its tile — no partial of a full tile, no temp, nothing else.
 */
const checkTileFiles = (path: string, expectedSize: bigint) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const lines = linesOf(yield* fs.readFile(path))
    const tree = Merkle.MemoryTree.fromLeafHashes(lines.map(Merkle.hashLeaf))
    const dir = `${path}.tlog`
    const head = nodeFs.readFileSync(`${dir}/${TreeLog.HEAD_FILE}`, "utf8")
    expect(head).toBe(headText(expectedSize, hex(Either.getOrThrow(Merkle.root(tree, expectedSize))), key))
    const expected = expectedTiles(tree, expectedSize)
    const files = filesUnder(dir)
    const earlier = files.filter((f) => f !== TreeLog.HEAD_FILE && !expected.has(f))
    expect(files.filter((f) => !earlier.includes(f))).toEqual([...expected.keys(), TreeLog.HEAD_FILE].sort())
    for (const [tile, bytes] of expected) {
      expect(hex(nodeFs.readFileSync(`${dir}/${tile}`)), tile).toBe(hex(bytes))
    }
    for (const file of earlier) {
      const parsed = Tiles.parsePath(file)
      expect(Either.isRight(parsed) && parsed.right._tag === "HashTile", `${file}: not a hash tile's path`).toBe(true)
      if (Either.isLeft(parsed) || parsed.right._tag !== "HashTile") continue
      const { index, level, width } = parsed.right
      const now = Tiles.widthAt(expectedSize, level, index)
      expect(width < now && now < Tiles.TILE_WIDTH, `${file}: beside ${level}/${index} of width ${now}`).toBe(true)
      const current = expected.get(Either.getOrThrow(Tiles.tilePath(level, index, now))) as Uint8Array
      expect(hex(nodeFs.readFileSync(`${dir}/${file}`)), file).toBe(hex(current.subarray(0, width * 32)))
    }
    // a full tile's partial-tile directory goes with its partials
    const dirs = (nodeFs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => f.endsWith(".p"))
    for (const partialDir of dirs) {
      expect(nodeFs.readdirSync(`${dir}/${partialDir}`).length, partialDir).toBeGreaterThan(0)
    }
  })

for (const [hashingName, hashing] of hashings) {
  describe(`TreeLog file tiles (${hashingName})`, () => {
    const withLog = <A, E, R>(
      path: string,
      f: (log: TreeLog.TreeLog["Type"]) => Effect.Effect<A, E, R>,
      options: TreeLog.TreeLogOptions = {}
    ) => withLogUsing(hashing, path, f, options)

    it.effect(
      "the files written are the C2SP tiles of the persisted size, and earlier partials of its partial tiles only (removed once full)",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const path = `${dir}/log.jsonl`
          for (
            const [n, durability] of [[1, "always"], [255, "batch"], [1, "never"], [300, "never"], [
              66_000 - 557,
              "never"
            ]] as const
          ) {
            const before = (yield* fs.exists(path)) ? linesOf(yield* fs.readFile(path)).length : 0
            yield* withLog(path, (log) => appendN(log, before, n), { durability, flushEvery: 97 })
            yield* checkTileFiles(path, BigInt(before + n))
          }
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
      60_000
    )

    it.effect("flush persists the acknowledged size; background flushes batch (not one write per append)", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        yield* withLog(path, (log) =>
          Effect.gen(function*() {
            yield* appendN(log, 0, 10)
            // nothing persisted yet (flushEvery 8192)
            assert.isFalse(nodeFs.existsSync(`${path}.tlog/${TreeLog.HEAD_FILE}`))
            yield* log.flush
            yield* checkTileFiles(path, 10n)
            yield* appendN(log, 10, 5)
            yield* checkTileFiles(path, 10n)
          }))
        yield* checkTileFiles(path, 15n)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    it.effect(
      "a proof whose full tiles the cache holds in part: reading the others back never drops the ones it counted on (a CI run: TileMissing)",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const path = `${dir}/log.jsonl`
          // 85 full tiles: more than the 64 the cache keeps
          yield* appendPlain(path, 0, 85 * 256, { durability: "never" })
          const ref = Merkle.MemoryTree.fromLeafHashes(linesOf(yield* fs.readFile(path)).map(Merkle.hashLeaf))
          yield* withLog(path, (log) =>
            Effect.gen(function*() {
              const size = 85n * 256n
              const check = (index: bigint, at: bigint) =>
                Effect.map(log.inclusionProof(index, at), (proof) => {
                  const root = Either.getOrThrow(Merkle.root(ref, at))
                  const leaf = ref.node(0, index)
                  assert.isTrue(Either.isRight(Merkle.verifyInclusion(leaf, index, at, proof, root)))
                })
              // tile 12 read back, then tiles 14 to 76: the cache's 64 are tile 12 (the least
              // recently used) and 14 to 76; a proof then needs 12 (held) and 13 (not)
              yield* check(12n * 256n, size)
              for (let tile = 14n; tile <= 76n; tile++) yield* check(tile * 256n, size)
              yield* check(13n * 256n - 1n, 13n * 256n + 1n)
              yield* check(13n * 256n - 2n, size)
              // and any pair of tiles, one read back just before
              for (const [a, b] of [[3n, 80n], [80n, 3n], [40n, 41n], [0n, 84n]] as const) {
                yield* check(a * 256n + 5n, size)
                yield* check(b * 256n + 7n, (a > b ? a : b) * 256n + 9n)
              }
            }))
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
    )

    it.effect("crash: WAL entries written without the tree (tiles behind, or none) are caught up on open", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        yield* withLog(path, (log) => appendN(log, 0, 300))
        // entries the tree never saw (a crash after the WAL's fsync, before the tiles)
        yield* appendPlain(path, 300, 250)
        const reopened = yield* withLog(
          path,
          (log) => Effect.zipRight(checkProofs(log, [[7, 549], [299, 300]]), answers(log))
        )
        yield* checkTileFiles(path, 550n)
        // the newest tiles lost: the tiles directory as it was at 300 entries
        const snapshot = `${dir}/snapshot`
        nodeFs.cpSync(`${path}.tlog`, snapshot, { recursive: true })
        yield* withLog(path, (log) => appendN(log, 550, 400))
        nodeFs.rmSync(`${path}.tlog`, { recursive: true })
        nodeFs.cpSync(snapshot, `${path}.tlog`, { recursive: true })
        yield* withLog(path, (log) => checkProofs(log, [[3, 900], [949, 950]]))
        yield* checkTileFiles(path, 950n)
        // no tiles at all: built from the log
        nodeFs.rmSync(`${path}.tlog`, { recursive: true })
        yield* withLog(path, (log) => checkProofs(log, [[1, 2]]))
        yield* checkTileFiles(path, 950n)
        expect(reopened.length).toBeGreaterThan(1)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    it.effect("batch durability, concurrent appends: proofs and tiles cover acknowledged sizes only", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        yield* withLog(path, (log) =>
          Effect.gen(function*() {
            yield* Effect.forEach(
              Array.from({ length: 600 }, (_, i) => i),
              (i) => log.append(i),
              { concurrency: 50, discard: true }
            )
            yield* checkProofs(log, [[3, 599], [598, 600], [0, 1]])
          }), { durability: "batch", flushEvery: 64 })
        yield* checkTileFiles(path, 600n)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    it.effect(
      "reopening reads O(log n) tiles (the right edge's partial tiles and the tree head), writes none",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const path = `${dir}/log.jsonl`
          yield* withLog(path, (log) => appendN(log, 0, 65_536 + 256 * 3 + 5), { flushEvery: 4096 })
          const reads: Array<string> = []
          const writes: Array<string> = []
          const counting = FileSystem.FileSystem.of({
            ...fs,
            readFile: (p) => {
              reads.push(p)
              return fs.readFile(p)
            },
            // (the tree head and the tiles are read through an open descriptor, bounded)
            open: (p, options) => {
              // (a lock file's reading at the close is no tile's)
              if (options?.flag === "r" && !p.endsWith(".lock")) reads.push(p)
              return fs.open(p, options)
            },
            writeFile: (p, data, options) => {
              writes.push(p)
              return fs.writeFile(p, data, options)
            }
          })
          const head = yield* withLog(path, (log) => log.head).pipe(
            Effect.provideService(FileSystem.FileSystem, counting)
          )
          expect(head.size).toBe(65_536n + 256n * 3n + 5n)
          // 66,309 = 259·256 + 5 leaves: partial tiles 0/259.p/5, 1/001.p/3 (259 = 256 + 3), 2/000.p/1
          // the log itself is read once (its verification, through a descriptor checked to be the file it holds)
          expect(reads.filter((p) => p === path)).toHaveLength(1)
          expect(reads.filter((p) => p !== path).map((p) => p.slice(path.length + 1)).sort()).toEqual([
            "tlog/tile/0/259.p/5",
            "tlog/tile/1/001.p/3",
            "tlog/tile/2/000.p/1",
            `tlog/${TreeLog.HEAD_FILE}`
          ])
          expect(writes).toEqual([])
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
      30_000
    )

    it.effect("a failed WAL fsync: the entry sealed into the tree is not in the head, its proofs or its tiles", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        let syncs = 0
        // the log's file (opened for append) fails its 6th fsync
        const faulty = withLogFile(fs, (file, p) => ({
          sync: Effect.suspend(() =>
            ++syncs === 6
              ? Effect.fail(
                new SystemError({ module: "FileSystem", method: "sync", reason: "Unknown", pathOrDescriptor: p })
              )
              : file.sync
          )
        }))
        yield* withLog(path, (log) =>
          Effect.gen(function*() {
            yield* appendN(log, 0, 5)
            const failed = yield* Effect.flip(log.append("lost"))
            expect(failed._tag).toBe("WalIoError")
            const head = yield* log.head
            expect(head.size).toBe(5n)
            const ref = yield* referenceOf(log.wal)
            expect(hex(head.root)).toBe(hex(Either.getOrThrow(Merkle.root(ref.tree, 5n))))
            expect((yield* Effect.flip(log.inclusionProof(5n, 6n)))._tag).toBe("TreeLogBeyondHead")
            yield* log.flush
          }), { durability: "batch" }).pipe(Effect.provideService(FileSystem.FileSystem, faulty))
        expect(nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").startsWith("5\n")).toBe(true)
        // the line was written (its fsync failed): the next open verifies it and catches the tree up
        yield* withLog(path, (log) => checkProofs(log, [[5, 5]]))
        yield* checkTileFiles(path, 6n)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    /** A fresh log whose file holds its fsyncs while `gate` is shut (see `gatedSyncs`), open for `body`; its path. */
    const withGatedLog = <A, E>(
      body: (log: TreeLog.TreeLog["Type"], gate: ReturnType<typeof gatedSyncs>, path: string) => Effect.Effect<A, E>,
      options: TreeLog.TreeLogOptions
    ) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
        const gate = gatedSyncs(fs)
        yield* withLog(path, (log) => body(log, gate, path), options).pipe(
          Effect.provideService(FileSystem.FileSystem, gate.fileSystem)
        )
        return path
      })

    it.live("appends interrupted while they wait for their fsync are written, and the background flush counts them", () =>
      Effect.gen(function*() {
        const path = yield* withGatedLog((log, gate, path) =>
          Effect.gen(function*() {
            // sealed (and written: their fsync waits), then interrupted: none is acknowledged to its caller
            const exits = yield* gate.interrupted(log.append, records(0, 5))
            expect(exits.every(Exit.isInterrupted)).toBe(true)
            gate.open()
            // no append returns again, yet the log's writes leave 5 entries not persisted (flushEvery 3)
            const headFile = `${path}.tlog/${TreeLog.HEAD_FILE}`
            let head = ""
            for (let i = 0; i < 500 && !head.startsWith("5\n"); i++) {
              yield* Effect.sleep("10 millis")
              head = nodeFs.existsSync(headFile) ? nodeFs.readFileSync(headFile, "utf8") : ""
            }
            expect(head.split("\n")[0]).toBe("5")
            expect((yield* log.head).size).toBe(5n)
          }), { durability: "batch", flushEvery: 3 })
        yield* checkTileFiles(path, 5n)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    it.live("closing while appends wait for their fsync: the closing flush counts what the log writes as it closes", () =>
      Effect.gen(function*() {
        const path = yield* withGatedLog((log, gate) =>
          Effect.gen(function*() {
            yield* appendN(log, 0, 2)
            yield* gate.interrupted(log.append, records(2, 3))
            // the fsync completes once the close has begun
            yield* Effect.forkDaemon(Effect.delay(Effect.sync(() => gate.open()), "100 millis"))
          }), { durability: "batch" })
        expect(linesOf(nodeFs.readFileSync(path)).length).toBe(5)
        expect(nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").split("\n")[0]).toBe("5")
        yield* checkTileFiles(path, 5n)
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    const refusal = (path: string, options: TreeLog.TreeLogOptions = {}) =>
      Effect.flip(withLog(path, () => Effect.void, options))

    it.effect("tiles ahead of the log (the log truncated) are refused, naming both sizes", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        yield* withLog(path, (log) => appendN(log, 0, 40))
        const lines = linesOf(yield* fs.readFile(path))
        yield* fs.writeFile(path, Buffer.concat(lines.slice(0, 25).map((l) => Buffer.concat([l, Buffer.from("\n")]))))
        const error = yield* refusal(path)
        expect(error).toStrictEqual(new TreeLog.TreeLogTilesAhead({ path: `${path}.tlog`, tiles: 40n, log: 25n }))
        expect(error.message).toContain("40")
        expect(error.message).toContain("25")
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

    it.effect(
      "tampered tiles are refused with a typed error naming the file (edge checks; every tile under verifyTree full)",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const base = yield* fs.makeTempDirectoryScoped()
          let run = 0
          /** A fresh log of `n` entries, `mutate`d, then opened. */
          const tampered = (n: number, mutate: (dir: string) => void, options: TreeLog.TreeLogOptions = {}) =>
            Effect.gen(function*() {
              const path = `${base}/log-${run++}.jsonl`
              yield* withLog(path, (log) => appendN(log, 0, n))
              mutate(`${path}.tlog`)
              return yield* refusal(path, options)
            })
          const flip = (file: string, at: number) => {
            const bytes = nodeFs.readFileSync(file)
            const i = at < 0 ? bytes.length + at : at
            bytes.writeUInt8(bytes.readUInt8(i) ^ 1, i)
            nodeFs.writeFileSync(file, bytes)
          }
          // a flipped byte in the right edge's partial tile: its root is not the head's
          const partial = yield* tampered(300, (dir) => flip(`${dir}/tile/0/001.p/44`, 5))
          expect(partial._tag).toBe("TreeLogTilesCorrupt")
          expect(partial).toMatchObject({ reason: "root-mismatch" })
          // the head's root changed (one hex digit of it, its MAC kept): its tiles' root is not it
          const head = yield* tampered(300, (dir) => {
            const file = `${dir}/${TreeLog.HEAD_FILE}`
            const [size, root, mac] = nodeFs.readFileSync(file, "utf8").split("\n")
            const digit = (root as string).endsWith("0") ? "1" : "0"
            nodeFs.writeFileSync(file, `${size}\n${(root as string).slice(0, -1)}${digit}\n${mac}\n`)
          })
          expect(head).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "root-mismatch" })
          // the last leaf's full tile changed: read back, its hashes no longer fold to the node the
          // tile above holds for it (checked before the leaf is compared with the log's line, which
          // the log replaced by another, below, still shows as leaf-mismatch)
          const leaf = yield* tampered(256, (dir) => flip(`${dir}/tile/0/000`, -1))
          expect(leaf).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "tile-mismatch",
            path: expect.stringContaining("tile/0/000")
          })
          // an older full tile: only the full verification reads it
          const older = yield* tampered(600, (dir) => flip(`${dir}/tile/0/000`, 0), { verifyTree: "full" })
          expect(older).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "tile-mismatch",
            path: expect.stringContaining("tile/0/000")
          })
          // a missing tile, a truncated one, a malformed head
          const missing = yield* tampered(300, (dir) => nodeFs.rmSync(`${dir}/tile/1/000.p/1`))
          expect(missing).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "tile-missing" })
          const short = yield* tampered(300, (dir) => nodeFs.truncateSync(`${dir}/tile/0/001.p/44`, 31))
          expect(short).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "tile-length" })
          // a head naming the largest size (its MAC left wrong): refused at the first missing full
          // tile, at once — the walk over the 2^56 tiles it names was first listed whole, and the
          // open died out of memory after a minute (a hostile review)
          const huge = yield* tampered(300, (dir) =>
            nodeFs.writeFileSync(
              `${dir}/${TreeLog.HEAD_FILE}`,
              `18446744073709551615\n${"0".repeat(64)}\n${"0".repeat(64)}\n`
            ))
          expect(huge).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "tile-missing",
            path: expect.stringContaining("tile/0/001")
          })
          const malformed = yield* tampered(3, (dir) => nodeFs.writeFileSync(`${dir}/${TreeLog.HEAD_FILE}`, "03\nzz\n"))
          expect(malformed).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "head-malformed" })
          // the good head behind a byte order mark: not the head's form either (TextDecoder would drop it)
          const bom = yield* tampered(3, (dir) => {
            const file = `${dir}/${TreeLog.HEAD_FILE}`
            nodeFs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), nodeFs.readFileSync(file)]))
          })
          expect(bom).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "head-malformed" })
          // what is not a regular file: refused at once, never read (a FIFO as the head blocked
          // the open forever; a tile linked to /dev/zero read and allocated without end: a
          // helper's hostile review)
          const fifo = yield* tampered(3, (dir) => {
            nodeFs.rmSync(`${dir}/${TreeLog.HEAD_FILE}`)
            execFileSync("mkfifo", [`${dir}/${TreeLog.HEAD_FILE}`])
          })
          expect(fifo).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "head-malformed",
            detail: expect.stringContaining("not a regular file")
          })
          const zero = yield* tampered(300, (dir) => {
            nodeFs.rmSync(`${dir}/tile/0/001.p/44`)
            nodeFs.symlinkSync("/dev/zero", `${dir}/tile/0/001.p/44`)
          })
          expect(zero).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "tile-length",
            detail: expect.stringContaining("not a regular file")
          })
          const directory = yield* tampered(300, (dir) => {
            nodeFs.rmSync(`${dir}/tile/0/001.p/44`)
            nodeFs.mkdirSync(`${dir}/tile/0/001.p/44`)
          })
          expect(directory).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "tile-length" })
          const long = yield* tampered(
            3,
            (dir) => nodeFs.appendFileSync(`${dir}/${TreeLog.HEAD_FILE}`, "x".repeat(4096))
          )
          expect(long).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "head-malformed" })
          // the log replaced by another of the same size: the last leaf differs
          const path = `${base}/log-replaced.jsonl`
          yield* withLog(path, (log) => appendN(log, 0, 20))
          nodeFs.rmSync(path)
          yield* Effect.scoped(Effect.gen(function*() {
            const wal = yield* Wal.makeFile(path, { key })
            for (let i = 0; i < 20; i++) yield* wal.append(i)
          }))
          expect(yield* refusal(path)).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "leaf-mismatch" })
          // and the full verification accepts untampered tiles
          const good = `${base}/log-good.jsonl`
          yield* withLog(good, (log) => appendN(log, 0, 70_000 - 5), { durability: "never" })
          yield* withLog(good, (log) => checkProofs(log, [[1, 69_000]]), { verifyTree: "full" })
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
      60_000
    )

    it.effect(
      "a keyed log's tree head carries its MAC: an edge tile and the head's root rewritten to agree are refused, with the MAC kept (head-mac) or dropped (the full verification)",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const base = yield* fs.makeTempDirectoryScoped()
          const unkeyed = { key: undefined }
          /**
           * A log of 300 entries whose right-edge tile holds a forged hash for leaf 260 (not the last
           * leaf, which the open checks against the log), and whose head's root is recomputed to
           * agree with it: what anyone who can write the tile directory can do without the key.
           */
          const forge = (name: string, keepMac: boolean, options: TreeLog.TreeLogOptions = {}) =>
            Effect.gen(function*() {
              const path = `${base}/${name}.jsonl`
              yield* withLog(path, (log) => appendN(log, 0, 300), options)
              const leaves = linesOf(nodeFs.readFileSync(path)).map(Merkle.hashLeaf)
              const forged = new Uint8Array(32).fill(0xee)
              leaves[260] = forged
              const tile = `${path}.tlog/tile/0/001.p/44`
              const bytes = nodeFs.readFileSync(tile)
              bytes.set(forged, 32 * (260 - 256))
              nodeFs.writeFileSync(tile, bytes)
              const root = hex(Either.getOrThrow(Merkle.root(Merkle.MemoryTree.fromLeafHashes(leaves), 300n)))
              const headFile = `${path}.tlog/${TreeLog.HEAD_FILE}`
              const [size, , mac] = nodeFs.readFileSync(headFile, "utf8").split("\n")
              nodeFs.writeFileSync(headFile, `${size}\n${root}\n${keepMac ? `${mac}\n` : ""}`)
              return { path, root }
            })
          const kept = yield* forge("kept", true)
          const refusedKept = yield* refusal(kept.path)
          expect(refusedKept).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "head-mac",
            path: `${kept.path}.tlog/${TreeLog.HEAD_FILE}`
          })
          expect(refusedKept.message).toContain("rewritten")
          // the MAC dropped (as a head written before the MAC existed): verified the full way
          const dropped = yield* forge("dropped", false)
          expect(yield* refusal(dropped.path)).toMatchObject({
            _tag: "TreeLogTilesCorrupt",
            reason: "tile-mismatch",
            path: expect.stringContaining("tile/0/001.p/44")
          })
          // an unkeyed log has nothing to bind its head to (its lines are as writable): the forged
          // tree is taken, as documented
          const plain = yield* forge("plain", false, unkeyed)
          const taken = yield* withLog(plain.path, (log) => log.head, unkeyed)
          expect(hex(taken.root)).toBe(plain.root)
          // a MAC on the head of a log opened without a key is refused
          const stray = `${base}/stray.jsonl`
          yield* withLog(stray, (log) => appendN(log, 0, 5), unkeyed)
          nodeFs.appendFileSync(`${stray}.tlog/${TreeLog.HEAD_FILE}`, `${"ab".repeat(32)}\n`)
          expect(yield* refusal(stray, unkeyed)).toMatchObject({ _tag: "TreeLogTilesCorrupt", reason: "head-mac" })
          // a wrong key is the WAL's refusal, before the tree head is looked at
          const wrong = yield* refusal(kept.path, { key: new Uint8Array(32).fill(7) })
          expect(wrong._tag).not.toBe("TreeLogTilesCorrupt")
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
      60_000
    )

    it.effect(
      "a keyed log's head without its MAC (as written before it had one) is verified the full way, then written again with its MAC",
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          for (const [name, n, more] of [["same", 300, 0], ["ahead", 300, 20], ["empty", 0, 0]] as const) {
            const path = `${dir}/${name}.jsonl`
            yield* withLog(path, (log) => appendN(log, 0, n))
            const headFile = `${path}.tlog/${TreeLog.HEAD_FILE}`
            if (n === 0) {
              // a log with no entry has no head: an old one at size 0 (the empty tree's root)
              nodeFs.mkdirSync(`${path}.tlog`, { recursive: true })
              nodeFs.writeFileSync(headFile, `0\n${createHash("sha256").digest("hex")}\n`)
            }
            const [size, root] = nodeFs.readFileSync(headFile, "utf8").split("\n")
            nodeFs.writeFileSync(headFile, `${size}\n${root}\n`)
            if (more > 0) yield* appendPlain(path, n, more)
            yield* withLog(path, (log) => checkProofs(log, [[7, 299], [n + more - 1, n + more]]))
            // exactly the tiles, and the head with its MAC
            yield* checkTileFiles(path, BigInt(n + more))
          }
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
      60_000
    )
  })
}

describe("TreeLog background flush (inline hashing)", () => {
  it.live(
    "writes made while a flush runs that leave flushEvery more not persisted are flushed then, not at the next write",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
        // the second tree head's rename (the second background flush) takes a second
        let heads = 0
        const slow = FileSystem.FileSystem.of({
          ...fs,
          rename: (from, to) =>
            to.endsWith(`/${TreeLog.HEAD_FILE}`) && ++heads === 2
              ? Effect.zipRight(Effect.sleep("1 second"), fs.rename(from, to))
              : fs.rename(from, to)
        })
        yield* withLogUsing(Layer.empty, path, (log) =>
          Effect.gen(function*() {
            yield* appendN(log, 0, 1000)
            // no append after the last write: the flusher alone must persist what the slow flush left
            const headFile = `${path}.tlog/${TreeLog.HEAD_FILE}`
            let persisted = 0
            for (let i = 0; i < 300 && persisted <= 900; i++) {
              yield* Effect.sleep("10 millis")
              persisted = Number(nodeFs.readFileSync(headFile, "utf8").split("\n")[0])
            }
            expect(persisted).toBeGreaterThan(900)
          }), { durability: "batch", flushEvery: 100 }).pipe(Effect.provideService(FileSystem.FileSystem, slow))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
    30_000
  )
})

describe("TreeLog inline tile writer: directory fsyncs", () => {
  it.live(
    "with WalNode's FileIo and durability batch, each renamed tile's directory (and every directory made) is fsynced before the tree head is renamed, and the head's directory after it: a power loss cannot keep a head that names a lost tile",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
        const events: Array<readonly ["rename" | "sync", string]> = []
        const recording = FileSystem.FileSystem.of({
          ...fs,
          rename: (from, to) => Effect.zipRight(fs.rename(from, to), Effect.sync(() => events.push(["rename", to])))
        })
        const io = WalNode.layerWith({
          ...WalNode.io,
          syncDirectoryOf: (file) => {
            events.push(["sync", nodePath.dirname(nodePath.resolve(file))])
            WalNode.io.syncDirectoryOf?.(file)
          }
        })
        yield* withLogUsing(Layer.empty, path, (log) => appendN(log, 0, 700), { durability: "batch", flushEvery: 256 })
          .pipe(Effect.provide(io), Effect.provideService(FileSystem.FileSystem, recording))
        const tiles = `${path}.tlog`
        const pending = new Set<string>()
        let heads = 0
        let headDir: string | undefined
        for (const [what, at] of events) {
          if (what === "sync") {
            pending.delete(at)
            if (at === headDir) headDir = undefined
          } else if (at === `${tiles}/${TreeLog.HEAD_FILE}`) {
            assert.deepStrictEqual([...pending], [], `tile directories not synced before head ${heads + 1}`)
            assert.isUndefined(headDir, `the previous head's directory not synced`)
            headDir = tiles
            heads++
          } else if (at.startsWith(`${tiles}/`)) {
            pending.add(nodePath.dirname(at))
          }
        }
        assert.isAtLeast(heads, 2)
        assert.isUndefined(headDir, "the last head's directory not synced")
        // the tiles directory's own entry, beside the log, and a tile directory made for the first time
        const synced = new Set(events.filter(([what]) => what === "sync").map(([, at]) => at))
        assert.isTrue(synced.has(nodePath.dirname(path)))
        assert.isTrue(synced.has(`${tiles}/tile/0`))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
    30_000
  )
})
