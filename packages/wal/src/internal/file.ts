/**
 * The file layer of the log: one JSONL file, one writer (see `lock.ts`), every byte through
 * `@effect/platform`'s `FileSystem` (so tests can wrap it to inject faults).
 *
 * Opening verifies the whole existing file first (streamed, bounded memory) and refuses a
 * broken one with its typed error, a torn final line included (`WalTornTail`: `repair` is the
 * explicit way out). The head comes from that verification. A last entry that is complete but
 * lacks its newline gets one, in the same write as the next entry.
 *
 * Appenders queue their record and wait; one writer fiber seals (sequence, previous hash,
 * entry hash) in queue order, writes, and acknowledges under the log's durability:
 * - `"always"`: one record at a time: write, fsync, acknowledge;
 * - `"batch"` (group commit): everything queued, sealed in order, written as ONE buffer,
 *   fsynced ONCE, then every waiter of that group is completed — so an append completes only
 *   after the fsync covering it;
 * - `"never"`: everything queued, written as one buffer, acknowledged, no fsync.
 * Sealing, writing, syncing and advancing the head are one uninterruptible step, so the head
 * is always exactly the acknowledged prefix and sequences never skip or repeat.
 *
 * Failure: a failed write (a short write or ENOSPC included) or fsync puts the writer into the
 * FAILED state. The append(s) of the failing step fail with `WalIoError`; every later append
 * fails with `WalWriterFailed` carrying the original cause. A failed fsync is never retried
 * (after a failed fsync the kernel may have dropped the dirty pages: a retry could "succeed"
 * without the data). The head does not advance past what was acknowledged, and `bytes` only
 * shows the acknowledged prefix; the file may hold more (an unacknowledged entry, or a torn
 * line that the next open reports and `repair` removes).
 *
 * `FileSystem` has no directory fsync: the directory entry of a newly created log (and of a
 * repair's saved tail) is not forced to disk. On most Linux file systems the first fsync of
 * the file in practice persists it, but that is not guaranteed by POSIX. Closing that gap needs
 * `fsync` on a directory descriptor, which `FileSystem` does not offer.
 */
import type * as Json from "@calybris/core/Json"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Chain from "../Chain.js"
import { canonicalData, seal, type Sealed } from "../Entry.js"
import * as Reader from "../Reader.js"
import { RepairClean, type RepairOptions, type RepairReport, RepairTruncated, Wal, type WalOptions } from "../Wal.js"
import {
  type WalEmptyKey,
  WalIoError,
  type WalLocked,
  WalNotRepairable,
  type WalVerifyError,
  WalWriterFailed
} from "../WalError.js"
import * as Lock from "./lock.js"

/** Read chunk size of `bytes` and of verification. */
const CHUNK = FileSystem.MiB(1)
/** Chunks read ahead (bounded memory: at most this many MiB in flight). */
const READ_AHEAD = 2
/** Most records in one group commit. */
const MAX_GROUP = 4096

const encoder = new TextEncoder()

const ioError = (operation: string, path: string) => (cause: unknown) => new WalIoError({ operation, path, cause })

/** The file's bytes (the first `length` of them, when given), in 1 MiB chunks. */
const readFile = (
  fs: FileSystem.FileSystem,
  path: string,
  options: { readonly offset?: number; readonly length?: number } = {}
): Stream.Stream<Uint8Array, WalIoError> =>
  options.length === 0
    ? Stream.empty
    : fs.stream(path, {
      chunkSize: CHUNK,
      bufferSize: READ_AHEAD,
      ...(options.offset !== undefined ? { offset: options.offset } : {}),
      ...(options.length !== undefined ? { bytesToRead: options.length } : {})
    }).pipe(Stream.mapError(ioError("read", path)))

const genesis: Reader.Verified = { count: 0n, lastHash: Chain.GENESIS, bytes: 0, missingNewline: false }

/** Verify the whole file (absent = empty = genesis). */
const verifyFile = (
  fs: FileSystem.FileSystem,
  path: string,
  reader: Reader.ReaderOptions
): Effect.Effect<Reader.Verified, WalVerifyError | WalIoError> =>
  Effect.flatMap(
    Effect.mapError(fs.exists(path), ioError("stat", path)),
    (exists) => exists ? Reader.verify(readFile(fs, path), reader) : Effect.succeed(genesis)
  )

type AppendFailure = WalIoError | WalWriterFailed

interface Pending {
  readonly dataText: string
  readonly done: Deferred.Deferred<Sealed, AppendFailure>
}

export const make = (
  path: string,
  options: WalOptions
): Effect.Effect<
  Wal["Type"],
  WalEmptyKey | WalVerifyError | WalLocked | WalIoError,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    const durability = options.durability ?? "always"
    // lock first: nobody writes while we verify
    yield* Lock.acquire(fs, path)
    const verified = yield* verifyFile(fs, path, reader)
    const file = yield* fs.open(path, { flag: "a", mode: 0o644 }).pipe(Effect.mapError(ioError("open", path)))

    // the acknowledged head; changed only inside `commit`, which runs one at a time
    let sequence = verified.count
    let lastHash = verified.lastHash
    let needsNewline = verified.missingNewline
    let size = verified.bytes
    let failure: Option.Option<unknown> = Option.none()

    const fail = (operation: string) => (cause: unknown): WalIoError => {
      failure = Option.some(cause)
      return new WalIoError({ operation, path, cause })
    }

    /**
     * Seal, write (one buffer) and — per durability — fsync a group of records, then advance
     * the head. Only the writer fiber runs it, one group at a time.
     */
    const commit = (texts: ReadonlyArray<string>): Effect.Effect<Array<Sealed>, AppendFailure> =>
      Effect.suspend((): Effect.Effect<Array<Sealed>, AppendFailure> => {
        if (Option.isSome(failure)) return Effect.fail(new WalWriterFailed({ cause: failure.value }))
        let seq = sequence
        let prev = lastHash
        let text = needsNewline ? "\n" : ""
        const sealed: Array<Sealed> = []
        for (const dataText of texts) {
          const next = seal(chain, seq + 1n, prev, dataText)
          sealed.push(next.sealed)
          text += next.line
          seq = next.sealed.sequence
          prev = next.sealed.entry_hash
        }
        const buffer = encoder.encode(text)
        const written = Effect.mapError(file.writeAll(buffer), fail("write"))
        const durable = durability === "never"
          ? written
          : Effect.zipRight(written, Effect.mapError(file.sync, fail("fsync")))
        return Effect.map(durable, () => {
          sequence = seq
          lastHash = prev
          needsNewline = false
          size += buffer.length
          return sealed
        })
      }).pipe(Effect.uninterruptible)

    // One writer fiber takes queued appends in order. ("always" takes them one at a time: one
    // write and one fsync each; "batch" and "never" take everything queued: one write, and for
    // "batch" one fsync.) A queue, not a Semaphore: Effect 3's Semaphore wakes every waiter on
    // each release, which is quadratic — with it, 1,000 concurrent unsynced appends took ~16 s
    // here instead of ~0.3 s.
    const queue = yield* Effect.acquireRelease(
      Queue.unbounded<Pending>(),
      (queue) =>
        // appends still queued when the log closes were never written: they are interrupted
        Effect.flatMap(Queue.takeAll(queue), (left) => Effect.forEach(left, (p) => Deferred.interrupt(p.done))).pipe(
          Effect.zipRight(Queue.shutdown(queue))
        )
    )
    const groupSize = durability === "always" ? 1 : MAX_GROUP
    const writeGroup = Effect.flatMap(Queue.takeBetween(queue, 1, groupSize), (group) => {
      const pending = Chunk.toReadonlyArray(group)
      return commit(pending.map((p) => p.dataText)).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.forEach(pending, (p) => Deferred.fail(p.done, error), { discard: true }),
          onSuccess: (sealed) =>
            Effect.forEach(pending, (p, i) => {
              const s = sealed[i]
              return s === undefined
                ? Effect.die(new Error("commit sealed fewer entries than it took"))
                : Deferred.succeed(p.done, s)
            }, { discard: true })
        }),
        Effect.uninterruptible
      )
    })
    yield* Effect.forkScoped(Effect.forever(writeGroup))

    /**
     * Queue a record and wait for its acknowledgement. An append interrupted while it waits may
     * still be written (like one whose fsync failed): it is just not acknowledged.
     */
    const submit = (dataText: string): Effect.Effect<Sealed, AppendFailure> =>
      Effect.suspend((): Effect.Effect<Sealed, AppendFailure> => {
        if (Option.isSome(failure)) return Effect.fail(new WalWriterFailed({ cause: failure.value }))
        return Effect.flatMap(
          Deferred.make<Sealed, AppendFailure>(),
          (done) => Effect.zipRight(Queue.offer(queue, { dataText, done }), Deferred.await(done))
        )
      })

    const append = Effect.fn("Wal.append")(function*(data: Json.Json) {
      const dataText = yield* canonicalData(data)
      return yield* submit(dataText)
    })

    return Wal.of({
      append,
      head: Effect.sync(() => ({ sequence, lastHash })),
      // the acknowledged prefix only: never a line still being written, nor what a failure left
      bytes: Stream.suspend(() => readFile(fs, path, { length: size })),
      reader
    })
  })

export const layer = (
  path: string,
  options: WalOptions
): Layer.Layer<Wal, WalEmptyKey | WalVerifyError | WalLocked | WalIoError, FileSystem.FileSystem> =>
  Layer.scoped(Wal, make(path, options))

/**
 * Repair a log whose only problem is a torn final line: save the line's bytes next to the log
 * (`<log>.torn-<offset>`, fsynced first), truncate the log to exactly the line's offset, fsync.
 * A log that verifies is left alone. Anything else is corruption and is never "repaired".
 * Holds the writer lock throughout.
 */
export const repair = (
  path: string,
  options: RepairOptions
): Effect.Effect<RepairReport, WalNotRepairable | WalIoError | WalLocked | WalEmptyKey, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    yield* Lock.acquire(fs, path)
    const result = yield* Effect.either(verifyFile(fs, path, reader))
    if (Either.isRight(result)) {
      const v = result.right
      return new RepairClean({ count: v.count, lastHash: v.lastHash, bytes: v.bytes })
    }
    const error = result.left
    if (error._tag === "WalIoError") return yield* error
    if (error._tag !== "WalTornTail") {
      return yield* new WalNotRepairable({ reason: `${error._tag}: ${error.message}` })
    }
    const { length, offset } = error
    const info = yield* Effect.mapError(fs.stat(path), ioError("stat", path))
    if (Number(info.size) !== offset + length) {
      return yield* new WalNotRepairable({
        reason: `the torn line (${length} bytes at offset ${offset}) does not end the file (${info.size} bytes)`
      })
    }
    const savedTo = yield* saveTail(fs, path, offset, length)
    yield* Effect.scoped(Effect.gen(function*() {
      const log = yield* fs.open(path, { flag: "r+" })
      yield* log.truncate(offset)
      yield* log.sync
    })).pipe(Effect.mapError(ioError("truncate", path)))
    const after = yield* verifyFile(fs, path, reader).pipe(
      Effect.mapError((e) =>
        e._tag === "WalIoError"
          ? e
          : new WalNotRepairable({ reason: `still broken after truncation (tail saved to ${savedTo}): ${e.message}` })
      )
    )
    return new RepairTruncated({
      truncatedAt: offset,
      removedBytes: length,
      savedTo,
      count: after.count,
      lastHash: after.lastHash
    })
  })).pipe(Effect.withSpan("Wal.repair"))

/** Copy the torn tail to a new file `<log>.torn-<offset>[-n]` and fsync it. */
const saveTail = (
  fs: FileSystem.FileSystem,
  path: string,
  offset: number,
  length: number
): Effect.Effect<string, WalIoError> => {
  const base = `${path}.torn-${offset}`
  const attempt = (n: number): Effect.Effect<string, WalIoError> => {
    const target = n === 1 ? base : `${base}-${n}`
    return Effect.scoped(Effect.gen(function*() {
      const out = yield* fs.open(target, { flag: "wx", mode: 0o644 })
      yield* readFile(fs, path, { offset, length }).pipe(
        Stream.runForEach((chunk) => Effect.mapError(out.writeAll(chunk), ioError("write", target)))
      )
      yield* Effect.mapError(out.sync, ioError("fsync", target))
      return target
    })).pipe(
      Effect.catchIf(
        (e) => e._tag === "SystemError" && e.reason === "AlreadyExists" && n < 1000,
        () => attempt(n + 1)
      ),
      Effect.mapError((e) => e._tag === "WalIoError" ? e : ioError("save torn tail", target)(e))
    )
  }
  return attempt(1)
}
