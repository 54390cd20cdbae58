/**
 * TreeLog's roots of prefixes and its periodic checkpoints (`layerFile`'s `checkpoint` option):
 * `rootAt` is RFC 6962's root of every prefix, old tiles read back from disk; the checkpoint file
 * is signed every N entries and at close and verifies with the public key; bad options are
 * refused before the log exists; a failed checkpoint refuses the next append before anything is
 * written (fail closed), through the service and through its `Wal` (as `Audited.append` and a
 * journaled ledger see it), and heals once the fault is gone.
 */
import type * as Json from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as Tiles from "@calybris/tlog/Tiles"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import { right, signer } from "./noteSupport.js"
import { gatedSyncs, linesOf } from "./treeLogSupport.js"

const ORIGIN = "example.com/tree-log"
const logSigner = signer(ORIGIN, Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 3))
const vkey = right(Note.parseVerifierKey(Note.formatVerifierKey(logSigner)))
const key = new Uint8Array(32).fill(4)

const tempLog = Effect.acquireRelease(
  Effect.sync(() => nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "treelog-cp-"))),
  (dir) => Effect.sync(() => nodeFs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => nodePath.join(dir, "log.jsonl")))

const record = (i: number): Json.Json => new Map<string, Json.Json>([["i", i]])

const appendN = (log: TreeLog.TreeLog["Type"], from: number, n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => from + i), (i) => log.append(record(i)), { discard: true })

/** The signed checkpoint on disk, verified with the public key only. */
const onDisk = (path: string): Checkpoint.Checkpoint | undefined => {
  const file = TreeLog.checkpointPath(path)
  if (!nodeFs.existsSync(file)) return undefined
  const verified = Checkpoint.verifyCheckpoint(nodeFs.readFileSync(file), [vkey], {
    origin: ORIGIN,
    keyNameIsOrigin: true
  })
  if (Either.isLeft(verified)) throw new Error(`${file} does not verify: ${verified.left.message}`)
  return verified.right.checkpoint
}

const referenceRoots = (path: string): Array<string> => {
  const leaves = linesOf(nodeFs.readFileSync(path)).map(Merkle.hashLeaf)
  return Array.from(
    { length: leaves.length + 1 },
    (_, n) => Buffer.from(Merkle.referenceRoot(leaves.slice(0, n))).toString("hex")
  )
}

const options = (every: { entries?: number; seconds?: number }): TreeLog.TreeLogFileOptions => ({
  key,
  durability: "batch",
  checkpoint: { origin: ORIGIN, signers: [logSigner], every }
})

/** Inline hashing through FileSystem, or the worker's (TreeLogNode): every test below runs with both. */
const hashings = [
  ["inline", Layer.empty],
  ["worker", TreeLogNode.layerWith({ chunkBytes: 512, maxChunks: 2 })]
] as const

for (const [hashingName, hashing] of hashings) {
  const open = (path: string, opts: TreeLog.TreeLogFileOptions) =>
    TreeLog.makeFile(path, opts).pipe(Effect.provide(hashing))

  describe(`TreeLog.rootAt (${hashingName})`, () => {
    it.scoped("is RFC 6962's root of every prefix, old full tiles read back from disk after a reopen", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        // 700 entries: two full level-0 tiles persisted by the small flushEvery, then reopened
        yield* Effect.scoped(
          Effect.flatMap(open(path, { key, flushEvery: 64 }), (log) => appendN(log, 0, 700))
        )
        const log = yield* open(path, { key, flushEvery: 64 })
        yield* appendN(log, 700, 20)
        const expected = referenceRoots(path)
        expect(expected.length).toBe(721)
        for (let n = 0; n <= 720; n++) {
          expect(Buffer.from(yield* log.rootAt(BigInt(n))).toString("hex"), `size ${n}`).toBe(expected[n])
        }
        const beyond = yield* Effect.flip(log.rootAt(721n))
        expect(beyond._tag).toBe("TreeLogBeyondHead")
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  describe(`TreeLog periodic checkpoints (${hashingName})`, () => {
    it.scoped("signs every N entries and at close; the file verifies with the public key and carries the head", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* open(path, options({ entries: 5 }))
          for (let i = 0; i < 12; i++) {
            yield* log.append(record(i))
            const size = BigInt(i + 1)
            const expected = size - size % 5n
            expect(onDisk(path)?.size ?? 0n, `after ${size} appends`).toBe(expected)
          }
          const head = yield* log.head
          const at10 = onDisk(path)
          assert(at10 !== undefined)
          expect(Buffer.from(at10.root)).toEqual(Buffer.from(yield* log.rootAt(10n)))
          expect(head.size).toBe(12n)
        }))
        // the final checkpoint at close: the whole log
        const last = onDisk(path)
        assert(last !== undefined)
        expect(last.size).toBe(12n)
        expect(Buffer.from(last.root).toString("hex")).toBe(referenceRoots(path)[12])
        // reopened: the checkpoint stays valid and the next ones extend it
        const log = yield* open(path, options({ entries: 5 }))
        yield* appendN(log, 12, 5)
        expect(onDisk(path)?.size).toBe(17n)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.live("closing while appends wait for their fsync: the final checkpoint counts what the log writes as it closes", () =>
      Effect.scoped(Effect.gen(function*() {
        const path = yield* tempLog
        const fs = yield* FileSystem.FileSystem
        const gate = gatedSyncs(fs)
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* open(path, options({ seconds: 3600 }))
          yield* appendN(log, 0, 2)
          yield* gate.interrupted(log.append, [2, 3, 4].map(record))
          // the fsync completes once the close has begun
          yield* Effect.forkDaemon(Effect.delay(Effect.sync(() => gate.open()), "100 millis"))
        })).pipe(Effect.provideService(FileSystem.FileSystem, gate.fileSystem))
        expect(linesOf(nodeFs.readFileSync(path)).length).toBe(5)
        const last = onDisk(path)
        assert(last !== undefined)
        expect(last.size).toBe(5n)
        expect(Buffer.from(last.root).toString("hex")).toBe(referenceRoots(path)[5])
      })).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("bad checkpoint options are refused before the log is opened (no file made)", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        for (
          const bad of [
            { origin: ORIGIN, signers: [logSigner], every: {} },
            { origin: ORIGIN, signers: [logSigner], every: { entries: 0 } },
            { origin: "", signers: [logSigner], every: { entries: 1 } },
            { origin: ORIGIN, signers: [], every: { seconds: 1 } },
            // a signer whose signatures its public key does not verify (a hostile review: refused
            // only after the log and its directory were made)
            {
              origin: ORIGIN,
              signers: [Note.makeSigner(ORIGIN, Note.TYPE_ED25519, logSigner.publicKey, () => new Uint8Array(64))],
              every: { entries: 1 }
            }
          ]
        ) {
          const exit = yield* Effect.exit(Effect.scoped(open(path, { key, checkpoint: bad })))
          assert(Exit.isFailure(exit))
          const error = yield* Effect.flip(Effect.scoped(open(path, { key, checkpoint: bad })))
          expect(error._tag).toBe("CheckpointerOptionsInvalid")
          expect(nodeFs.existsSync(path)).toBe(false)
          expect(nodeFs.existsSync(`${path}.tlog`)).toBe(false)
        }
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a failed checkpoint refuses the next append before anything is written; it heals once the fault is gone", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        const log = yield* open(path, options({ entries: 3 }))
        yield* appendN(log, 0, 3)
        expect(onDisk(path)?.size).toBe(3n)
        // the fault: the checkpoint's place is a non-empty directory, so its rename fails
        const file = TreeLog.checkpointPath(path)
        nodeFs.rmSync(file)
        nodeFs.mkdirSync(file)
        nodeFs.writeFileSync(nodePath.join(file, "x"), "x")
        yield* appendN(log, 3, 3) // the sixth append's checkpoint fails: it stays pending
        const before = nodeFs.readFileSync(path)
        const refused = yield* Effect.flip(log.append(record(6)))
        expect(refused._tag).toBe("CheckpointerWriteFailed")
        expect(nodeFs.readFileSync(path)).toEqual(before) // nothing written
        expect((yield* log.head).size).toBe(6n)
        // through the Wal the ledger and Audited.append use: a WalIoError naming the checkpoint
        const wal = TreeLog.asWal(log, file)
        const viaWal = yield* Effect.flip(wal.append(record(6)))
        assert(viaWal._tag === "WalIoError")
        expect(viaWal.operation).toBe("checkpoint")
        expect(viaWal.path).toBe(file)
        expect(nodeFs.readFileSync(path)).toEqual(before)
        // the fault gone: the retry publishes the head, and the append goes through
        nodeFs.rmSync(file, { recursive: true })
        const sealed = yield* wal.append(record(6))
        expect(sealed.sequence).toBe(7n)
        expect(onDisk(path)?.size).toBe(6n)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a log rolled back and grown again: neither the periodic checkpoints nor the log's own checkpoint sign it (no split view)", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        // published: a checkpoint at size 10
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* open(path, options({ entries: 5 }))
          yield* appendN(log, 0, 10)
        }))
        const published = nodeFs.readFileSync(TreeLog.checkpointPath(path), "utf8")
        expect(onDisk(path)?.size).toBe(10n)
        // rolled back to 3 entries, its tiles removed, grown with 10 others
        const lines = linesOf(nodeFs.readFileSync(path))
        nodeFs.writeFileSync(path, Buffer.concat(lines.slice(0, 3).map((l) => Buffer.concat([l, Buffer.from("\n")]))))
        nodeFs.rmSync(`${path}.tlog/tile`, { recursive: true })
        nodeFs.rmSync(`${path}.tlog/${TreeLog.HEAD_FILE}`)
        yield* Effect.scoped(Effect.gen(function*() {
          const wal = yield* Wal.makeFile(path, { key })
          for (let i = 0; i < 10; i++) yield* wal.append(new Map<string, Json.Json>([["other", i]]))
        }))
        const log = yield* open(path, options({ entries: 5 }))
        const appended = yield* Effect.flip(log.append(record(99)))
        expect(appended).toMatchObject({ _tag: "CheckpointerHeadRegressed", reason: "history-changed" })
        // the log's own checkpoint, with the same key: refused the same way, nothing signed
        const own = yield* Effect.flip(log.checkpoint(ORIGIN, [logSigner]))
        expect(own).toMatchObject({ _tag: "CheckpointerHeadRegressed", reason: "history-changed" })
        expect(nodeFs.readFileSync(TreeLog.checkpointPath(path), "utf8")).toBe(published)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("an unkeyed log rolled back, regrown and its tiles rebuilt over the old leaves is refused at open (verified in full); \"edge\" is refused (a hostile review: it was signed)", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        const unkeyed: TreeLog.TreeLogFileOptions = {
          durability: "batch",
          checkpoint: { origin: ORIGIN, signers: [logSigner], every: { entries: 300 } }
        }
        yield* Effect.scoped(Effect.flatMap(open(path, unkeyed), (log) => appendN(log, 0, 300)))
        const published = nodeFs.readFileSync(TreeLog.checkpointPath(path), "utf8")
        expect(onDisk(path)?.size).toBe(300n)
        const old = linesOf(nodeFs.readFileSync(path))
        // rolled back to 270 entries and regrown with 60 others (an unkeyed chain: anyone can)
        nodeFs.writeFileSync(path, Buffer.concat(old.slice(0, 270).map((l) => Buffer.concat([l, Buffer.from("\n")]))))
        yield* Effect.scoped(Effect.gen(function*() {
          const wal = yield* Wal.makeFile(path, {})
          for (let i = 0; i < 60; i++) yield* wal.append(new Map<string, Json.Json>([["other", i]]))
        }))
        const regrown = linesOf(nodeFs.readFileSync(path))
        // the tiles and head rebuilt over the OLD first 300 leaves, then the log's 300..329
        const leaves = [...old.slice(0, 300), ...regrown.slice(300)].map(Merkle.hashLeaf)
        nodeFs.rmSync(`${path}.tlog/tile`, { recursive: true })
        for (const w of Either.getOrThrow(Tiles.appendTiles(() => undefined, 0n, leaves))) {
          nodeFs.mkdirSync(nodePath.dirname(`${path}.tlog/${w.path}`), { recursive: true })
          nodeFs.writeFileSync(`${path}.tlog/${w.path}`, w.bytes)
        }
        const fake = Buffer.from(Merkle.referenceRoot(leaves)).toString("hex")
        nodeFs.writeFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, `${leaves.length}\n${fake}\n`)
        const opened = yield* Effect.flip(open(path, unkeyed))
        expect(opened).toMatchObject({ _tag: "TreeLogTilesCorrupt" })
        const edge = yield* Effect.flip(open(path, { ...unkeyed, verifyTree: "edge" }))
        expect(edge).toMatchObject({ _tag: "TreeLogOptionsInvalid", field: "verifyTree" })
        // (a second review) an empty key MACs nothing: unkeyed too; a bad verifyTree is still refused
        const empty = yield* Effect.flip(
          open(path, { ...unkeyed, key: new Uint8Array(0), allowEmptyKey: true, verifyTree: "edge" })
        )
        expect(empty).toMatchObject({ _tag: "TreeLogOptionsInvalid", field: "verifyTree" })
        const bogus = yield* Effect.flip(open(path, { ...unkeyed, verifyTree: "FULL" as "full" }))
        expect(bogus).toMatchObject({ _tag: "TreeLogOptionsInvalid", field: "verifyTree" })
        expect(nodeFs.readFileSync(TreeLog.checkpointPath(path), "utf8")).toBe(published)
        // (keyed, the tree head's MAC binds the edge: the default stays "edge")
        expect(yield* Effect.exit(Effect.scoped(open(yield* tempLog, { ...unkeyed, key, verifyTree: "edge" }))))
          .toMatchObject({
            _tag: "Success"
          })
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a symbolic link at the checkpoint's place, even to nothing, is not 'no checkpoint': nothing is signed, the link stays", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        nodeFs.mkdirSync(`${path}.tlog`)
        nodeFs.symlinkSync(`${path}.tlog/nowhere`, TreeLog.checkpointPath(path))
        const log = yield* open(path, options({ entries: 2 }))
        // unreadable from the start: a pending failure, which refuses the first append unwritten
        const refused = yield* Effect.flip(log.append(record(0)))
        expect(nodeFs.readFileSync(path).length).toBe(0)
        expect(refused).toMatchObject({ _tag: "CheckpointerWriteFailed", operation: "read" })
        expect(String((refused as { readonly cause?: unknown }).cause)).toContain("a symbolic link")
        expect(yield* Effect.flip(log.checkpoint(ORIGIN, [logSigner]))).toMatchObject({
          _tag: "CheckpointerWriteFailed"
        })
        expect(nodeFs.lstatSync(TreeLog.checkpointPath(path)).isSymbolicLink()).toBe(true)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("layerFile provides the log as a Wal: appends through Wal keep the tree and its checkpoints", () =>
      Effect.gen(function*() {
        const path = yield* tempLog
        const layer = TreeLog.layerFile(path, options({ entries: 4 })).pipe(
          Layer.provide(hashing),
          Layer.provide(NodeContext.layer)
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(layer)
          const program = Effect.gen(function*() {
            for (let i = 0; i < 9; i++) yield* Wal.append(record(i))
            const log = yield* TreeLog.TreeLog
            const head = yield* log.head
            expect(head.size).toBe(9n)
            const bytes = yield* Stream.runCollect((yield* Wal.Wal).bytes)
            const lines = linesOf(Buffer.concat(Chunk.toReadonlyArray(bytes)))
            expect(Buffer.from(head.root)).toEqual(Buffer.from(Merkle.referenceRoot(lines.map(Merkle.hashLeaf))))
            expect(onDisk(path)?.size).toBe(8n)
          })
          yield* Effect.provide(program, context)
        }))
        expect(onDisk(path)?.size).toBe(9n)
      }))
  })
}

describe("a hostile review of the file layer", () => {
  it.live("log.wal.append is the tree log's append: refused unwritten while a checkpoint is failing, like log.append (it acknowledged entries past the last checkpoint)", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      const log = yield* TreeLog.makeFile(path, {
        key,
        checkpoint: { origin: ORIGIN, signers: [logSigner], every: { entries: 2 } }
      })
      yield* appendN(log, 0, 4)
      // every checkpoint write fails from here
      nodeFs.mkdirSync(`${path}.tlog/checkpoint.tmp/x`, { recursive: true })
      const viaLog = yield* Effect.either(appendN(log, 4, 3))
      assert.isTrue(Either.isLeft(viaLog))
      const before = (yield* log.wal.head).sequence
      for (let i = 0; i < 3; i++) {
        const viaWal = yield* Effect.either(log.wal.append(record(100 + i)))
        assert.isTrue(Either.isLeft(viaWal), "log.wal.append while the checkpoint fails")
      }
      assert.strictEqual((yield* log.wal.head).sequence, before)
      assert.strictEqual((yield* log.head).size, before)
      // the cause removed, both write again
      nodeFs.rmSync(`${path}.tlog/checkpoint.tmp`, { recursive: true, force: true })
      yield* log.wal.append(record(200))
      assert.strictEqual((yield* log.head).size, before + 1n)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a defect in a background flush is left to the next one: the tiles go on being written in the background (one ended the flusher for the rest of the session)", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      const real = yield* FileSystem.FileSystem
      let hostile = false
      const wrapped = FileSystem.FileSystem.of({
        ...real,
        rename: (from, to) =>
          hostile && to.endsWith(TreeLog.HEAD_FILE) ? Effect.die(new Error("hostile rename")) : real.rename(from, to)
      })
      const persisted = () => {
        const file = `${path}.tlog/${TreeLog.HEAD_FILE}`
        return nodeFs.existsSync(file) ? Number(nodeFs.readFileSync(file, "utf8").split("\n")[0]) : 0
      }
      yield* Effect.scoped(
        Effect.gen(function*() {
          const log = yield* TreeLog.makeFile(path, { key, flushEvery: 5 })
          yield* appendN(log, 0, 12)
          hostile = true
          yield* appendN(log, 12, 12)
          yield* Effect.sleep("200 millis")
          hostile = false
          yield* appendN(log, 24, 40)
          // the background flusher catches up without a flush or a close
          for (let i = 0; i < 500 && persisted() < 60; i++) yield* Effect.sleep("20 millis")
          assert.isAtLeast(persisted(), 60)
        }).pipe(Effect.provideService(FileSystem.FileSystem, wrapped))
      )
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
