/**
 * Repairing a log file whose only problem is a torn final line (a crash mid-write), apart from
 * the writer (`file.ts`) whose reading and path checks it shares. `Wal.repair` is this module's
 * `repair`; the report classes live here and are re-exported by `Wal.ts`, so this module
 * imports the public one type-only.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Chain from "../Chain.js"
import * as Reader from "../Reader.js"
import type { RepairOptions } from "../Wal.js"
import {
  type WalEmptyKey,
  type WalIoError,
  type WalLocked,
  type WalNotAFile,
  WalNotRepairable,
  type WalOptionsInvalid
} from "../WalError.js"
import { holdLocks, ioError, readHeld, REPLACED, sameFile } from "./file.js"
import { syncDirectoryWith } from "./io.js"

/** `repair` found a log that verifies: nothing was done. */
export class RepairClean extends Schema.TaggedClass<RepairClean>()("RepairClean", {
  count: Schema.BigIntFromSelf,
  lastHash: Schema.String,
  bytes: Schema.Number
}) {}

/** `repair` removed a torn final line, after saving its bytes to `savedTo`. */
export class RepairTruncated extends Schema.TaggedClass<RepairTruncated>()("RepairTruncated", {
  /** the torn line's offset: the log's new length */
  truncatedAt: Schema.Number,
  removedBytes: Schema.Number,
  savedTo: Schema.String,
  /** the repaired log's entry count and last hash */
  count: Schema.BigIntFromSelf,
  lastHash: Schema.String
}) {}

/** What `repair` did. */
export const RepairReport = Schema.Union(RepairClean, RepairTruncated)
export type RepairReport = typeof RepairReport.Type

/**
 * Repair a log whose only problem is a torn final line: save the line's bytes next to the log
 * (`<log>.torn-<offset>`, fsynced first, and with `WalNode` its directory too: the saved bytes
 * outlive a power cut before the log loses them), truncate the log to exactly the line's offset,
 * fsync. (The portable `FileSystem` cannot fsync a directory: without `WalNode`, the saved
 * file's directory entry is left to the file system.)
 * A log that verifies is left alone. Anything else is corruption and is never "repaired".
 * Holds the writer lock (both locks: see lock.ts) throughout.
 */
export const repair = (
  path: string,
  options: RepairOptions
): Effect.Effect<
  RepairReport,
  WalNotRepairable | WalNotAFile | WalIoError | WalLocked | WalEmptyKey | WalOptionsInvalid,
  FileSystem.FileSystem
> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    yield* Reader.checkOptions(options)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    const log = yield* holdLocks(fs, path)
    if (Option.isNone(log)) return new RepairClean({ count: 0n, lastHash: Chain.GENESIS, bytes: 0 })
    const held = log.value.info
    // the file locked, read and (below) truncated: never another the path names meanwhile
    const result = yield* Effect.either(Reader.verify(readHeld(fs, path, held), reader))
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
    const info = yield* Effect.mapError(log.value.file.stat, ioError("stat", path))
    if (Number(info.size) !== offset + length) {
      return yield* new WalNotRepairable({
        reason: `the torn line (${length} bytes at offset ${offset}) does not end the file (${info.size} bytes)`
      })
    }
    // a torn tail is the next entry's line as a writer spells it, cut (`Reader`: any other final
    // line is corruption, refused above, nothing removed — a hostile review: a junk entry naming
    // sequence 3 after 10 was "repaired"); the entries before it verified, as the error says
    const savedTo = yield* saveTail(fs, path, held, offset, length)
    // the saved file's directory entry durable before the log is truncated; failing, the log is left torn
    yield* syncDirectoryWith(savedTo, ioError("sync directory", savedTo))
    yield* Effect.scoped(Effect.gen(function*() {
      const log = yield* fs.open(path, { flag: "r+" })
      if (!sameFile(yield* log.stat, held)) return yield* Effect.fail(new Error(REPLACED))
      yield* log.truncate(offset)
      yield* log.sync
    })).pipe(Effect.mapError(ioError("truncate", path)))
    // what remains is the prefix verified above, byte for byte (the locks held: nobody wrote)
    return new RepairTruncated({
      truncatedAt: offset,
      removedBytes: length,
      savedTo,
      count: error.count,
      lastHash: error.lastHash
    })
  })).pipe(Effect.withSpan("Wal.repair"))

/** Copy the torn tail to a new file `<log>.torn-<offset>[-n]` and fsync it. */
const saveTail = (
  fs: FileSystem.FileSystem,
  path: string,
  held: FileSystem.File.Info,
  offset: number,
  length: number
): Effect.Effect<string, WalIoError> => {
  const base = `${path}.torn-${offset}`
  // the copy is readable by no one the log is not (a helper's hostile review: a fixed 0644 gave
  // a 0600 log's torn secrets to every user)
  const attempt = (n: number, mode: number): Effect.Effect<string, WalIoError> => {
    const target = n === 1 ? base : `${base}-${n}`
    return Effect.scoped(Effect.gen(function*() {
      const out = yield* fs.open(target, { flag: "wx", mode })
      yield* Effect.gen(function*() {
        yield* readHeld(fs, path, held, { offset, length }).pipe(
          Stream.runForEach((chunk) => Effect.mapError(out.writeAll(chunk), ioError("write", target)))
        )
        yield* Effect.mapError(out.sync, ioError("fsync", target))
      }).pipe(
        // a copy that failed is not left behind as if it were the saved tail
        Effect.onError(() => Effect.ignore(fs.remove(target)))
      )
      return target
    })).pipe(
      Effect.catchIf(
        (e) => e._tag === "SystemError" && e.reason === "AlreadyExists" && n < 1000,
        () => attempt(n + 1, mode)
      ),
      Effect.mapError((e) => e._tag === "WalIoError" ? e : ioError("save torn tail", target)(e))
    )
  }
  return attempt(1, held.mode & 0o666)
}
