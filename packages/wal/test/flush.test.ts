/**
 * The flusher, through both of its paths — `FileSystem` (the portable one, wrapped by
 * `support/ProbeFileSystem.ts`) and the functions of `WalNode` (here `node:fs` wrapped to
 * record and to fail) — with fsyncs that take a random while: every append is acknowledged
 * only after an fsync that started after its line was written has completed, the acknowledged
 * head never goes back and covers every acknowledged append, and one fsync at most is in
 * flight. On the `WalNode` path, a failed write or fsync fails exactly the failing round's
 * appends with `WalIoError` and every later one with `WalWriterFailed` (nothing retried), the
 * head stays at the acknowledged prefix, and reopening finds every acknowledged entry (the
 * scenario of fault.test.ts, support/faultScenario.ts, on this path).
 */
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { faultScenario, type ProbedPath, record } from "./support/faultScenario.js"
import * as Probe from "./support/ProbeFileSystem.js"

const newlines = (bytes: Uint8Array): number => {
  let n = 0
  for (const b of bytes) if (b === 0x0a) n++
  return n
}

/** What the log's file saw through the `WalNode` functions (counted like `Probe`). */
class Recorder {
  writtenLines = 0
  syncedLines = 0
  syncCalls = 0
  writeCalls = 0
  inflight = 0
  maxInflight = 0
  /** milliseconds an fsync off the thread is held before it starts */
  delay: () => number = () => 0
  /** fault the `at`-th write call (or fsync call, for "fsync"); one shot */
  fault: { readonly kind: Probe.Fault; readonly at: number } | undefined = undefined
  /** the first fsync off the thread is held until this is called */
  hold: { release?: () => void } | undefined = undefined
  readonly raised: Array<unknown> = []

  private failure(kind: string, message: string): Error {
    const error = Object.assign(new Error(message), { code: kind })
    this.raised.push(error)
    return error
  }

  readonly io: WalNode.FileIoShape = {
    writeAll: (fd, bytes) => {
      const call = ++this.writeCalls
      const fault = this.fault
      if (fault !== undefined && fault.kind !== "fsync" && fault.at === call) {
        this.fault = undefined
        const half = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)))
        if (fault.kind === "write") throw this.failure("EIO", "EIO: i/o error, write")
        WalNode.io.writeAll(fd, half)
        throw fault.kind === "enospc"
          ? this.failure("ENOSPC", "ENOSPC: no space left on device, write")
          : this.failure("EIO", "write returned 0 bytes written")
      }
      WalNode.io.writeAll(fd, bytes)
      this.writtenLines += newlines(bytes)
    },
    syncNow: (fd) => {
      const call = ++this.syncCalls
      const fault = this.fault
      if (fault !== undefined && fault.kind === "fsync" && fault.at === call) {
        this.fault = undefined
        throw this.failure("EIO", "EIO: i/o error, fsync")
      }
      const covered = this.writtenLines
      WalNode.io.syncNow(fd)
      this.syncedLines = covered
    },
    sync: (fd, done) => {
      const call = ++this.syncCalls
      const covered = this.writtenLines
      this.maxInflight = Math.max(this.maxInflight, ++this.inflight)
      const finish = (error: unknown) => {
        this.inflight--
        if (error === undefined) this.syncedLines = covered
        done(error)
      }
      const run = () => {
        const fault = this.fault
        if (fault !== undefined && fault.kind === "fsync" && fault.at === call) {
          this.fault = undefined
          return finish(this.failure("EIO", "EIO: i/o error, fsync"))
        }
        setTimeout(() => WalNode.io.sync(fd, finish), this.delay())
      }
      const hold = this.hold
      if (hold !== undefined) {
        this.hold = undefined
        hold.release = run
      } else run()
    }
  }
}

/**
 * The `WalNode` path, recorded; under "batch" the round in flight is held at its fsync, so the
 * appenders that seal meanwhile form the next round (support/faultScenario.ts).
 */
const recorded = (): ProbedPath<Recorder> => {
  const recorder = new Recorder()
  return {
    probe: recorder,
    wal: (path, durability) => Wal.layerFile(path, { durability }).pipe(Layer.provide(WalNode.layerWith(recorder.io))),
    holdNextRound: Effect.sync(() => {
      const hold: { release?: () => void } = {}
      recorder.hold = hold
      return Effect.sync(() => {
        assert.isDefined(hold.release)
        hold.release?.()
      })
    }),
    settle: "20 millis"
  }
}

const tempLog = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-wal-flush-" })
  return `${dir}/log.jsonl`
})

/** `appenders` fibers append `each` records each; at each acknowledgement, what was synced and the head. */
const appendConcurrently = (appenders: number, each: number, synced: () => number) =>
  Effect.gen(function*() {
    const seen: Array<{ readonly sequence: bigint; readonly synced: number; readonly head: bigint }> = []
    yield* Effect.forEach(
      Array.from({ length: appenders }, (_, a) => a),
      (a) =>
        Effect.forEach(Array.from({ length: each }, (_, k) => a * each + k), (i) =>
          Effect.flatMap(Wal.append(record(i)), (sealed) =>
            Effect.map(Wal.head, (head) => {
              seen.push({ sequence: sealed.sequence, synced: synced(), head: head.sequence })
            })), { discard: true }),
      { concurrency: "unbounded", discard: true }
    )
    return seen
  })

const checkAcks = (
  seen: ReadonlyArray<{ readonly sequence: bigint; readonly synced: number; readonly head: bigint }>,
  total: number
) => {
  assert.strictEqual(seen.length, total)
  let head = 0n
  for (const ack of seen) {
    // acknowledged only once an fsync covering its line completed
    assert.isAtLeast(ack.synced, Number(ack.sequence))
    // the head covers it, and never goes back
    assert.isTrue(ack.head >= ack.sequence && ack.head >= head)
    head = ack.head
  }
  assert.deepStrictEqual(
    seen.map((s) => s.sequence).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    Array.from({ length: total }, (_, k) => BigInt(k + 1))
  )
}

const shapes = FastCheck.record({
  appenders: FastCheck.integer({ min: 1, max: 12 }),
  each: FastCheck.integer({ min: 1, max: 6 }),
  durability: FastCheck.constantFrom<Wal.Durability>("batch", "always"),
  delays: FastCheck.array(FastCheck.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 })
})

describe("flusher", () => {
  it.live("acknowledges in order and only after the covering fsync (FileSystem path)", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(shapes, ({ appenders, delays, durability, each }) =>
          Effect.gen(function*() {
            const path = yield* tempLog
            const probe = new Probe.Probe()
            let k = 0
            probe.beforeSync = Effect.suspend(() => Effect.sleep(delays[k++ % delays.length] ?? 0))
            const seen = yield* Effect.provide(
              appendConcurrently(appenders, each, () => probe.syncedLines),
              Wal.layerFile(path, { durability }).pipe(Layer.provide(Probe.layer(probe)))
            )
            checkAcks(seen, appenders * each)
            if (durability === "always") assert.strictEqual(probe.syncCalls, appenders * each)
          }).pipe(Effect.scoped, Effect.provide(NodeContext.layer), Effect.runPromise)),
        { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 25 }
      )
    ))

  it.live("acknowledges in order and only after the covering fsync (WalNode path)", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(shapes, ({ appenders, delays, durability, each }) =>
          Effect.gen(function*() {
            const path = yield* tempLog
            const recorder = new Recorder()
            let k = 0
            recorder.delay = () => delays[k++ % delays.length] ?? 0
            const seen = yield* Effect.provide(
              appendConcurrently(appenders, each, () => recorder.syncedLines),
              Wal.layerFile(path, { durability }).pipe(Layer.provide(WalNode.layerWith(recorder.io)))
            )
            checkAcks(seen, appenders * each)
            assert.isAtMost(recorder.maxInflight, 1)
            if (durability === "always") assert.strictEqual(recorder.syncCalls, appenders * each)
            // the bytes on disk are the acknowledged entries
            const entries = yield* Effect.provide(
              Effect.map(Stream.runCollect(Wal.readVerified), Chunk.toArray),
              Wal.layerFile(path)
            )
            assert.strictEqual(entries.length, appenders * each)
          }).pipe(Effect.scoped, Effect.provide(NodeContext.layer), Effect.runPromise)),
        { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 25 }
      )
    ))

  for (const durability of ["always", "batch"] as const) {
    for (const fault of ["write", "short-write", "enospc", "fsync"] as const) {
      it.live(`WalNode path, ${durability}: ${fault} fails the round's appends, then every later one`, () =>
        faultScenario(durability, fault, recorded))
    }
  }
})
