/**
 * The log's directory entry: with `WalNode`, an open under "always" or "batch" fsyncs the log's
 * directory once, before any append is acknowledged; "never" does not; a failure fails the open.
 * (That the entry then survives a power cut cannot be shown here: what is shown is that the call
 * is made, on the right directory, before the first acknowledgement, and that its failure is not
 * ignored.)
 */
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"

const record = new Map([["n", 1]])

/** `WalNode.io`, with every directory fsync recorded (and, when `fail` says so, failing). */
const recording = (fail?: () => Error) => {
  const calls: Array<string> = []
  const io = {
    ...WalNode.io,
    syncDirectoryOf: (path: string) => {
      calls.push(path)
      if (fail !== undefined) throw fail()
      WalNode.io.syncDirectoryOf?.(path)
    }
  }
  return { calls, layer: WalNode.layerWith(io) }
}

describe("WalNode: the log's directory entry", () => {
  it.scoped("under always and batch: one directory fsync at the open, before the first append; none under never", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      for (const durability of ["always", "batch", "never"] as const) {
        const path = `${dir}/log-${durability}.jsonl`
        const { calls, layer } = recording()
        yield* Effect.scoped(Effect.gen(function*() {
          const wal = yield* Wal.makeFile(path, { durability, allowEmptyKey: true })
          // before any append: already done (or, under never, not at all)
          assert.deepStrictEqual(calls, durability === "never" ? [] : [path])
          yield* wal.append(record)
          yield* wal.append(record)
        })).pipe(Effect.provide(layer))
        assert.deepStrictEqual(calls, durability === "never" ? [] : [path], durability)
        // a reopen syncs it again (the log may have been created under "never")
        yield* Effect.scoped(Wal.makeFile(path, { durability, allowEmptyKey: true })).pipe(Effect.provide(layer))
        assert.strictEqual(calls.length, durability === "never" ? 0 : 2)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a directory fsync that fails fails the open (WalIoError naming it): nothing can be acknowledged", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/log.jsonl`
      const { calls, layer } = recording(() =>
        Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", syscall: "fsync" })
      )
      const error = yield* Effect.flip(
        Effect.scoped(Wal.makeFile(path, { durability: "batch", allowEmptyKey: true })).pipe(Effect.provide(layer))
      )
      assert.strictEqual(error._tag, "WalIoError")
      if (error._tag === "WalIoError") {
        assert.strictEqual(error.operation, "sync directory")
        assert.include(error.message, "EIO")
      }
      assert.deepStrictEqual(calls, [path])
      // the lock was released with the failed open: the log opens once the directory syncs
      yield* Effect.scoped(Wal.makeFile(path, { durability: "batch", allowEmptyKey: true })).pipe(
        Effect.provide(WalNode.layer)
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("repair: the saved torn tail's directory is fsynced before the log is truncated; failing, the log is left torn", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/log.jsonl`
      yield* Effect.scoped(Effect.gen(function*() {
        const wal = yield* Wal.makeFile(path, { allowEmptyKey: true })
        yield* wal.append(record)
        yield* wal.append(record)
      }))
      const intact = nodeFs.readFileSync(path)
      const torn = Buffer.concat([intact, Buffer.from(`{"sequence":3,"previous_hash":"`)])
      nodeFs.writeFileSync(path, torn)
      const saved = `${path}.torn-${intact.length}`
      // the directory fsync fails: the tail is saved, the log not truncated (repair can run again)
      const failing = recording(() =>
        Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", syscall: "fsync" })
      )
      const error = yield* Effect.flip(Wal.repair(path, { allowEmptyKey: true }).pipe(Effect.provide(failing.layer)))
      assert.strictEqual(error._tag, "WalIoError")
      if (error._tag === "WalIoError") {
        assert.strictEqual(error.operation, "sync directory")
        assert.strictEqual(error.path, saved)
      }
      assert.deepStrictEqual(failing.calls, [saved])
      assert.isTrue(nodeFs.readFileSync(path).equals(torn))
      nodeFs.rmSync(saved)
      // it syncs: the saved tail's directory once, the log still whole then
      const calls: Array<string> = []
      let sizeWhenSynced: number | undefined
      const report = yield* Wal.repair(path, { allowEmptyKey: true }).pipe(
        Effect.provide(WalNode.layerWith({
          ...WalNode.io,
          syncDirectoryOf: (file) => {
            sizeWhenSynced = nodeFs.statSync(path).size
            calls.push(file)
            WalNode.io.syncDirectoryOf?.(file)
          }
        }))
      )
      assert.strictEqual(report._tag, "RepairTruncated")
      assert.deepStrictEqual(calls, [saved])
      assert.strictEqual(sizeWhenSynced, torn.length)
      assert.isTrue(nodeFs.readFileSync(path).equals(intact))
      assert.isTrue(nodeFs.readFileSync(saved).equals(torn.subarray(intact.length)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it("WalNode.io.syncDirectoryOf: a real directory is synced; a missing one is an error", () => {
    const dir = nodeFs.mkdtempSync(nodePath.join(process.env["TMPDIR"] ?? "/tmp", "dirsync-"))
    try {
      WalNode.io.syncDirectoryOf?.(nodePath.join(dir, "log.jsonl"))
      // a relative path is resolved against the working directory
      WalNode.io.syncDirectoryOf?.("log.jsonl")
      assert.throws(() => WalNode.io.syncDirectoryOf?.(nodePath.join(dir, "missing", "log.jsonl")), /ENOENT/)
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
