/**
 * Fault injection: the log's FileSystem is the real one wrapped (`support/ProbeFileSystem.ts`)
 * so that one write or fsync fails (under "always" and "batch": `support/faultScenario.ts`, which
 * flush.test.ts runs on the `WalNode` path too) — EIO, a short write, ENOSPC, a failed fsync. Whatever the
 * fault and the durability: the writer enters the failed state — every later append fails with
 * `WalWriterFailed` with the same cause, nothing is retried — and the head stays at the last
 * acknowledged entry. Under "always" and "batch" the failing append(s) get `WalIoError`, and
 * reopening the file with the real FileSystem (repairing the torn tail a fault left) finds
 * every acknowledged entry. Under "never" an append is acknowledged before its write, so the
 * write failure surfaces when the log is flushed (`bytes`), and the records acknowledged but
 * not yet written are lost: no durability was promised.
 */
import * as Json from "@calybris/core/Json"
import type { Sealed } from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { faultScenario, GROUP, laterAppendsFail, type ProbedPath, record } from "./support/faultScenario.js"
import * as Probe from "./support/ProbeFileSystem.js"

/**
 * The `FileSystem` path, probed (`ProbeFileSystem`); under "batch" the round in flight is held
 * at its write (a gate), so the appenders queued behind it form the next round.
 */
const probed = (): ProbedPath<Probe.Probe> => {
  const probe = new Probe.Probe()
  return {
    probe,
    wal: (path, durability) => Wal.layerFile(path, { durability }).pipe(Layer.provide(Probe.layer(probe))),
    holdNextRound: Effect.map(Deferred.make<void>(), (open) => {
      probe.gate = { at: probe.writeCalls + 1, open }
      return Deferred.succeed(open, undefined).pipe(Effect.asVoid)
    }),
    settle: "30 millis"
  }
}

/**
 * "never": appends are acknowledged when sealed; the write that carries the next GROUP of them
 * is held at a gate until all are acknowledged, then fails.
 */
const neverScenario = (fault: Probe.Fault) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-wal-fault-" })
    const path = `${dir}/log.jsonl`
    const probe = new Probe.Probe()
    // acknowledged and written before the fault
    const written: Array<Sealed> = []
    // acknowledged, but still in the process when their write failed
    const lost: Array<Sealed> = []

    yield* Effect.provide(
      Effect.gen(function*() {
        for (let i = 1; i <= 3; i++) written.push(yield* Wal.append(record(i)))
        // `bytes` writes everything pending first: the three are in the file now, unsynced
        assert.strictEqual((yield* Wal.verify).count, 3n)
        assert.strictEqual(probe.syncCalls, 0)

        const open = yield* Deferred.make<void>()
        probe.gate = { at: probe.writeCalls + 1, open }
        probe.fault = { kind: fault, at: probe.writeCalls + 1 }
        for (let i = 4; i < 4 + GROUP; i++) lost.push(yield* Wal.append(record(i)))
        assert.deepStrictEqual(lost.map((s) => s.sequence), Array.from({ length: GROUP }, (_, k) => BigInt(4 + k)))
        // acknowledged before any of them was written
        assert.strictEqual(probe.writtenLines, 3)
        assert.deepStrictEqual(yield* Wal.head, {
          sequence: BigInt(3 + GROUP),
          lastHash: lost[GROUP - 1]?.entry_hash ?? ""
        })
        yield* Deferred.succeed(open, undefined)

        // flushing them (here through `bytes`) fails with the write's WalIoError
        const first = yield* Effect.flip(Wal.verify)
        assert.strictEqual(first._tag, "WalIoError")
        if (first._tag !== "WalIoError") return
        assert.strictEqual(first.operation, "write")
        assert.strictEqual(first.path, path)
        assert.strictEqual(probe.raised.length, 1)
        assert.strictEqual(first.cause, probe.raised[0])
        const writes = probe.writeCalls

        // the head stays at the last acknowledged entry
        assert.deepStrictEqual(yield* Wal.head, {
          sequence: BigInt(3 + GROUP),
          lastHash: lost[GROUP - 1]?.entry_hash ?? ""
        })

        // every later append fails with WalWriterFailed, carrying the original cause
        yield* laterAppendsFail(first.cause)
        assert.strictEqual(probe.raised.length, 1) // nothing retried, nothing else written
        assert.strictEqual(probe.writeCalls, writes)
        assert.strictEqual(probe.syncCalls, 0)

        // the service can no longer show every acknowledged entry: `bytes` keeps failing
        const again = yield* Effect.flip(Wal.verify)
        assert.strictEqual(again._tag, "WalIoError")
        if (again._tag === "WalIoError") assert.strictEqual(again.cause, first.cause)
      }),
      Wal.layerFile(path, { durability: "never" }).pipe(Layer.provide(Probe.layer(probe)))
    )

    // reopen with the real FileSystem: repair a torn tail if the fault left one
    const opened = yield* Effect.either(Effect.provide(Wal.head, Wal.layerFile(path)))
    if (fault === "short-write" || fault === "enospc") {
      assert.isTrue(Either.isLeft(opened) && opened.left._tag === "WalTornTail")
      const report = yield* Wal.repair(path)
      assert.strictEqual(report._tag, "RepairTruncated")
    } else {
      assert.isTrue(Either.isRight(opened))
    }
    const entries = yield* Effect.provide(
      Effect.map(Stream.runCollect(Wal.readVerified), Chunk.toArray),
      Wal.layerFile(path)
    )
    // every entry written before the fault survives; what follows is a prefix of the lost ones
    const acknowledged = [...written, ...lost]
    entries.forEach((entry, k) => {
      assert.strictEqual(entry.entry_hash, acknowledged[k]?.entry_hash)
      assert.strictEqual(entry.dataText, Json.print(record(k + 1)))
    })
    assert.isAtLeast(entries.length, written.length)
    if (fault === "write") assert.strictEqual(entries.length, written.length)
    assert.isBelow(entries.length, acknowledged.length)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("fault injection", () => {
  const faults: ReadonlyArray<Probe.Fault> = ["write", "short-write", "enospc", "fsync"]
  for (const durability of ["always", "batch", "never"] as const) {
    for (const fault of faults) {
      if (durability === "never" && fault === "fsync") continue
      it.live(`${durability}: ${fault}`, () =>
        durability === "never" ? neverScenario(fault) : faultScenario(durability, fault, probed))
    }
  }
})
