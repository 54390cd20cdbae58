/**
 * The fault scenario of the log's writer under "always" and "batch", shared by both of its I/O
 * paths: fault.test.ts runs it on the `FileSystem` path (`ProbeFileSystem`), flush.test.ts on the
 * `WalNode` functions (its `Recorder`). One write or fsync fails — EIO, a short write, ENOSPC, a
 * failed fsync — after three acknowledged appends:
 * - the failing append ("always"), or every member of the round the fault hits ("batch": GROUP
 *   appenders queued behind a round the probe holds), gets `WalIoError` with the raised cause;
 * - the head stays at the last acknowledged entry; every later append fails with
 *   `WalWriterFailed` carrying the same cause; nothing is retried;
 * - reopening the file (repairing the torn tail a short write or ENOSPC left) finds every
 *   acknowledged entry; only an fsync failure leaves its (unacknowledged) round behind.
 */
import * as Json from "@calybris/core/Json"
import type { Sealed } from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import type { WalIoError } from "@calybris/wal/WalError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Fault } from "./ProbeFileSystem.js"

export const record = (i: number): Json.Json => new Map<string, Json.Json>([["i", i], ["label", `entry ${i}`]])

/** Members of the round that the fault hits, under "batch". */
export const GROUP = 10

/** Three appends after the writer failed: each fails with `WalWriterFailed` carrying `cause`. */
export const laterAppendsFail = (cause: unknown) =>
  Effect.gen(function*() {
    const later = yield* Effect.forEach(
      [100, 101, 102],
      (i) => Effect.flip(Wal.append(record(i))),
      { concurrency: "unbounded" }
    )
    for (const e of later) {
      assert.strictEqual(e._tag, "WalWriterFailed")
      if (e._tag === "WalWriterFailed") assert.strictEqual(e.cause, cause)
    }
  })

/** What a probe of the log's I/O counts and injects (`ProbeFileSystem.Probe`, flush.test's `Recorder`). */
export interface FaultProbe {
  /** fault the `at`-th write call (or fsync call, for "fsync"); one shot */
  fault: { readonly kind: Fault; readonly at: number } | undefined
  readonly writeCalls: number
  readonly syncCalls: number
  /** the errors the faults raised */
  readonly raised: ReadonlyArray<unknown>
}

/** An I/O path of the writer, probed. */
export interface ProbedPath<P extends FaultProbe> {
  readonly probe: P
  /** the log at `path` on this path, through the probe */
  readonly wal: (path: string, durability: Wal.Durability) => Layer.Layer<Wal.Wal, unknown, FileSystem.FileSystem>
  /**
   * "batch": hold the next round in flight (its write, or its fsync) so that the appends sealed
   * meanwhile form the round after it; the effect returned lets it go on.
   */
  readonly holdNextRound: Effect.Effect<Effect.Effect<void>>
  /** how long the appenders are given to reach the held round, and the next one */
  readonly settle: Duration.DurationInput
}

export const faultScenario = <P extends FaultProbe>(
  durability: "always" | "batch",
  fault: Fault,
  make: () => ProbedPath<P>
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-wal-fault-" })
    const path = `${dir}/log.jsonl`
    const { holdNextRound, probe, settle, wal } = make()
    const acked: Array<Sealed> = []
    const ack = (i: number) => Effect.tap(Wal.append(record(i)), (s) => Effect.sync(() => acked.push(s)))
    const nextCall = () => (fault === "fsync" ? probe.syncCalls : probe.writeCalls)

    const failedRound = yield* Effect.provide(
      Effect.gen(function*() {
        for (let i = 1; i <= 3; i++) yield* ack(i)
        let errors: Array<WalIoError>
        if (durability === "always") {
          probe.fault = { kind: fault, at: nextCall() + 1 }
          errors = [yield* Effect.flip(Wal.append(record(4)))].filter((e) => e._tag === "WalIoError")
          assert.strictEqual(errors.length, 1)
        } else {
          // A's round is held while GROUP appenders seal the next round, the one the fault hits
          const release = yield* holdNextRound
          probe.fault = { kind: fault, at: nextCall() + 2 }
          const a = yield* Effect.fork(ack(4))
          yield* Effect.sleep(settle)
          const group = yield* Effect.forEach(
            Array.from({ length: GROUP }, (_, k) => 5 + k),
            (i) => Effect.fork(Effect.either(Wal.append(record(i))))
          )
          yield* Effect.sleep(settle)
          yield* release
          yield* Fiber.join(a)
          const results = yield* Effect.forEach(group, Fiber.join)
          errors = results.flatMap((r) => (Either.isLeft(r) && r.left._tag === "WalIoError" ? [r.left] : []))
          // every member of the failed round gets the error
          assert.strictEqual(errors.length, GROUP)
        }
        const [first] = errors
        assert.isDefined(first)
        if (first === undefined) return 0
        assert.strictEqual(first.operation, fault === "fsync" ? "fsync" : "write")
        assert.strictEqual(first.path, path)
        assert.strictEqual(probe.raised.length, 1)
        assert.strictEqual(first.cause, probe.raised[0])
        for (const e of errors) assert.strictEqual(e.cause, first.cause)

        // the head stays at the last acknowledged entry
        const last = acked[acked.length - 1]
        assert.deepStrictEqual(yield* Wal.head, { sequence: BigInt(acked.length), lastHash: last?.entry_hash ?? "" })

        // every later append fails with WalWriterFailed, carrying the original cause
        yield* laterAppendsFail(first.cause)
        assert.strictEqual(probe.raised.length, 1) // nothing retried, nothing else written

        // the service's view is exactly the acknowledged prefix
        assert.strictEqual((yield* Wal.verify).count, BigInt(acked.length))
        return errors.length
      }),
      wal(path, durability)
    )

    // reopen with the real FileSystem: repair a torn tail if the fault left one
    const opened = yield* Effect.either(Effect.provide(Wal.head, Wal.layerFile(path)))
    if (fault === "short-write" || fault === "enospc") {
      assert.isTrue(Either.isLeft(opened) && opened.left._tag === "WalTornTail")
      assert.strictEqual((yield* Wal.repair(path))._tag, "RepairTruncated")
    } else {
      assert.isTrue(Either.isRight(opened))
    }
    const entries = yield* Effect.provide(
      Effect.map(Stream.runCollect(Wal.readVerified), Chunk.toArray),
      Wal.layerFile(path)
    )
    // nothing acknowledged is lost; only an fsync failure leaves its (unacknowledged) round behind
    acked.forEach((s, k) => {
      const entry = entries[k]
      assert.strictEqual(entry?.entry_hash, s.entry_hash)
      assert.strictEqual(entry?.dataText, Json.print(record(k + 1)))
    })
    if (fault === "write") assert.strictEqual(entries.length, acked.length)
    if (fault === "fsync") assert.strictEqual(entries.length, acked.length + failedRound)
    assert.isAtLeast(entries.length, acked.length)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
