/**
 * The hash-chained JSONL write-ahead log (SPEC §5) as a service.
 *
 * The service has a few primitives — append a record, the head, the raw bytes of the log —
 * and everything else (verified reads, verification, typed records, audited replay) is
 * written on top of them, so every layer (memory, file, later SQL) shares one reader.
 */
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ChainOptions } from "./Chain.js"
import type { Entry, Sealed } from "./Entry.js"
import * as internalFile from "./internal/file.js"
import { syncDirectoryWith } from "./internal/io.js"
import * as internalMemory from "./internal/memory.js"
import * as Own from "./internal/own.js"
import * as internalRepair from "./internal/repair.js"
import type { RepairReport } from "./internal/repair.js"
import * as Typed from "./internal/typed.js"
import * as Reader from "./Reader.js"
import type {
  WalAppendError,
  WalEmptyKey,
  WalIoError,
  WalLocked,
  WalNotAFile,
  WalNotRepairable,
  WalOptionsInvalid,
  WalReadError,
  WalTornTail,
  WalVerifyError
} from "./WalError.js"
import { WalRecordError } from "./WalError.js"

/**
 * When an append is acknowledged:
 * - `"always"`: after its own write and fsync (one of each per acknowledged append);
 * - `"batch"` (group commit): after the fsync that covers it — the appends sealed while the
 *   previous group was being written share one write and one fsync;
 * - `"never"`: no durability at all, for tests and throwaway logs. An append is acknowledged as
 *   soon as it is sealed (sequence and hash assigned); its bytes stay in the process until the
 *   writer writes them (soon, and before `bytes` is read or the log is closed), and nothing is
 *   ever fsynced. Records acknowledged but not yet written when a write fails — or when the
 *   process dies — are lost; the writer still enters the failed state.
 */
export type Durability = "always" | "batch" | "never"

export interface WalOptions extends ChainOptions {
  /** default `"always"` */
  readonly durability?: Durability | undefined
  /** longest line the reader accepts, in bytes (default 64 MiB) */
  readonly maxLineBytes?: number | undefined
  /**
   * An observer of every entry's line (a transparency log's leaf), in sequence order: each
   * existing entry as the open's one verifying pass reads it, then each entry as an append seals
   * it (before it is acknowledged: an entry is durable once its `append` completes). `line` is
   * the line's bytes exactly as the log holds them, without the LF — and without a CR before the
   * LF, which the reader drops (writers never write one); a blank line is no entry and is not
   * handed over. The array is a view into the log's buffer, valid only during the call (copy it
   * to keep it) — except an appended entry's in a file log, which stays as it is until
   * `onWritten` reports the entry written (or the log fails). `canonical` tells whether the line is
   * exactly its entry's canonical form (always, for an appended entry; see `Reader.OnLine`).
   * Synchronous, and it must not throw (a throw is a defect of the append or open
   * that called it; an entry it was handed while sealing stays sealed). Unused, it costs one
   * `undefined` check per append.
   */
  readonly onLine?: Reader.OnLine | undefined
  /**
   * A gatekeeper of appends (a transparency log's hashing, which must take every sealed line):
   * called at each append just before its entry is sealed, and synchronously followed by the
   * sealing (and `onLine`). `undefined` admits the append; an `AdmitWait` (`admitWait(wait)`)
   * holds it without blocking the thread: nothing is sealed, `wait` runs, then the gatekeeper is
   * asked again (interrupted meanwhile, the append seals nothing); anything else refuses it with
   * `WalAppendRefused` carrying that value as its cause, before anything is sealed or written.
   * It must not throw. Unused, it costs one `undefined` check per append.
   */
  readonly admit?: (() => unknown) | undefined
  /**
   * An observer of the file log's writes (`makeFile`; a memory log never calls it): after each
   * write of sealed entries (and its fsync, per durability), in order, `bytes` were written at
   * bytes `start` to `end` of the file: the lines (each with its LF; the first write after an
   * open of a log whose last line had none starts with one) of the entries after the previous
   * write's, the last of them `sequence` (entry hash `hash`). `bytes` is a view into the log's
   * buffer, valid only during the call — the writer's own bytes, not read back from the file (which
   * anyone with write access could have changed since). Synchronous, and it must not throw.
   */
  readonly onWritten?:
    | ((start: number, end: number, sequence: bigint, hash: string, bytes: Uint8Array) => void)
    | undefined
}

/** The last entry written: its sequence (0 for an empty log) and hash (`genesis` for an empty log). */
export interface Head {
  readonly sequence: bigint
  readonly lastHash: string
}

/** The log service. */
export class Wal extends Context.Tag("@calybris/wal/Wal")<Wal, {
  /** Append one record (its canonical JSON); completes once acknowledged under the log's durability. */
  readonly append: (data: Json.Json) => Effect.Effect<Sealed, WalAppendError>
  /** The last acknowledged entry. */
  readonly head: Effect.Effect<Head>
  /** The raw bytes of the log, as stored. */
  readonly bytes: Stream.Stream<Uint8Array, WalReadError | WalIoError>
  /** How this log is read back (its chain and limits). */
  readonly reader: Reader.ReaderOptions
}>() {}

/**
 * What to do with each existing entry while a log opens: the open verifies the log in one pass
 * and hands each verified entry to it, in order, as it reads it — so an owner that rebuilds its
 * state from the log (a ledger's recovery) reads and hashes it once, not once to open and once
 * more to read. The log's own failures come first, exactly as without it: once `onEntry` fails
 * it is given no further entry, the rest of the log is still verified, and the open fails with
 * the log's failure (a broken chain, a bad MAC, a torn tail, …) if there is one, else with
 * `onEntry`'s. It is synchronous: the open drives the reader one Effect per chunk of bytes.
 * An object (`Reader.OnEntries`) is also handed the lines the reader's fast path accepted as
 * their sequence and canonical data bytes, without building their `Entry` or JSON value.
 */
export type OnEntry<E> = ((entry: Entry) => Either.Either<void, E>) | Reader.OnEntries<E>

/**
 * An in-memory log: empty, or from existing bytes, which are verified first (each verified entry
 * handed to `onEntry`, when given, in the same pass: see `OnEntry`). The log belongs to the
 * caller: it is in no environment.
 */
export const makeMemory = <E = never>(
  options: WalOptions = {},
  initial?: Uint8Array,
  onEntry?: OnEntry<E>
): Effect.Effect<Wal["Type"], WalEmptyKey | WalVerifyError | WalTornTail | E> =>
  internalMemory.make(options, initial, onEntry)

/** An in-memory log (tests): empty, or from existing bytes, which are verified first. */
export const layerMemory = (
  options: WalOptions = {},
  initial?: Uint8Array
): Layer.Layer<Wal, WalEmptyKey | WalVerifyError | WalTornTail> =>
  Layer.effect(Wal, internalMemory.make(options, initial))

/**
 * `Effect.map(wal.append(data), f)` in one step: `f` is applied inside the append's own step
 * where the log has one (a file log; else it is that `Effect.map`). `f` runs once the append is
 * acknowledged, with its sealed entry, and must not throw. For a wrapper that maps every append
 * (a tree log's leaf index): the extra step of an `Effect.map` measured ~0.3–0.4 µs an append on
 * our 2-core machines, ~4% of an unsynced append.
 */
export const appendWith = <A>(
  wal: Wal["Type"],
  data: Json.Json,
  f: (sealed: Sealed) => A
): Effect.Effect<A, WalAppendError> => {
  const own = Own.of(wal)
  return own === undefined ? Effect.map(wal.append(data), f) : own.appendWith(data, f)
}

/**
 * Waits until every entry sealed so far is written (and synced, per durability), or its write
 * failed (the append's error reports that): the entries of appends still waiting, and of appends
 * interrupted while they waited (written all the same, never acknowledged to them). What reads
 * the head after it (a tree log's closing flush, a final checkpoint) then counts them. A log with
 * no writes of its own (in memory), or a wrapper spread over a log (`{ ...wal, append }`), returns
 * at once; one made with `withAppend` waits for the log's writes.
 */
export const settled = (wal: Wal["Type"]): Effect.Effect<void> => Own.of(wal)?.settled ?? Effect.void

/**
 * `wal` with its own `append` — `{ ...wal, append }`, but every append goes through `append`
 * (`appendWith` too) while `settled` still waits for `wal`'s writes: a spread alone carries
 * neither, and `Wal.settled` of it returned at once (a tree log's `wal`: a flaky read of the file
 * before its last round was written).
 */
export const withAppend = (wal: Wal["Type"], append: Wal["Type"]["append"]): Wal["Type"] => {
  const wrapped = { ...wal, append }
  const own = Own.of(wal)
  return own === undefined
    ? wrapped
    : Own.attach(wrapped, { appendWith: (data, f) => Effect.map(append(data), f), settled: own.settled })
}

/** Append one record. */
export const append = (data: Json.Json): Effect.Effect<Sealed, WalAppendError, Wal> =>
  Effect.flatMap(Wal, (wal) => wal.append(data))

/** The head of the log. */
export const head: Effect.Effect<Head, never, Wal> = Effect.flatMap(Wal, (wal) => wal.head)

/** Append a record of any Schema whose encoded form is a Json value. */
export const appendRecord = <A, I extends Json.Json>(schema: Schema.Schema<A, I>) => {
  const encode = Schema.encodeEither(schema)
  return (value: A): Effect.Effect<Sealed, WalAppendError, Wal> =>
    Effect.flatMap(Wal, (wal) =>
      Either.match(encode(value), {
        onLeft: (e) => Effect.fail(new WalRecordError({ sequence: 0n, reason: JsonSchema.formatError(e) })),
        onRight: (json) => wal.append(json)
      }))
}

/** Every entry, verified against the chain, in order; fails on the first bad line. */
export const readVerified: Stream.Stream<Entry, WalVerifyError | WalReadError | WalIoError, Wal> = Stream
  .unwrap(Effect.map(Wal, (wal) => Reader.entries(wal.bytes, wal.reader)))

/**
 * Every entry WITHOUT verifying sequences or hashes: it trusts its input. Only for forensics on
 * a log that failed verification; never the default.
 */
export const readUnverified: Stream.Stream<Entry, WalVerifyError | WalReadError | WalIoError, Wal> = Stream
  .unwrap(Effect.map(Wal, (wal) => Reader.entries(wal.bytes, { ...wal.reader, chain: undefined })))

/** Verify the whole log: `(count, last hash)` or the first failure. */
export const verify: Effect.Effect<Reader.Verified, WalVerifyError | WalReadError | WalIoError, Wal> = Effect
  .flatMap(Wal, (wal) => Reader.verify(wal.bytes, wal.reader))

/**
 * Verified entries decoded with a record Schema. A record is decoded as the reference decodes
 * it (typed, from its line: a repeated field is an error, see `internal/typed.ts`) whenever the
 * Schema is one serde can describe; a canonical line the Schema decodes needs no second look.
 */
export const readRecords = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  const decodeTyped = Typed.recordDecoder(JsonSchema.shapeOf(schema))
  const record = (entry: Entry): Either.Either<A, WalRecordError> => {
    const direct = decode(entry.data)
    if (decodeTyped === undefined || (entry.canonical && Either.isRight(direct))) {
      return Either.mapLeft(
        direct,
        (e) => new WalRecordError({ sequence: entry.sequence, reason: JsonSchema.formatError(e) })
      )
    }
    return Either.flatMap(
      Either.mapLeft(
        decodeTyped(entry),
        (e) =>
          new WalRecordError({
            sequence: entry.sequence,
            reason: `${e.message} at line ${entry.line} column ${e.column}`
          })
      ),
      (data) =>
        Either.mapLeft(
          decode(data),
          (e) => new WalRecordError({ sequence: entry.sequence, reason: JsonSchema.formatError(e) })
        )
    )
  }
  return readVerified.pipe(
    Stream.mapEffect((entry) =>
      Either.match(record(entry), {
        onLeft: Effect.fail,
        onRight: (value) => Effect.succeed({ entry, value })
      })
    )
  )
}

/** Options of `repair`: the log's chain and reader limits. */
export type RepairOptions = Pick<WalOptions, "key" | "allowEmptyKey" | "hash" | "maxLineBytes">

// `repair`'s report (`RepairClean` | `RepairTruncated`), defined next to `repair` itself
export { type AdmitWait, admitWait, AdmitWaitTypeId, isAdmitWait } from "./internal/admit.js"
export { RepairClean, RepairReport, RepairTruncated } from "./internal/repair.js"

/**
 * fsync on the directory holding `file`, with the `FileIo` of the environment (`WalNode.layer`),
 * when it has one; nothing without one (`FileSystem` cannot fsync a directory). What it throws is
 * failed as `onError` makes it. Portable: for code beside a log that writes files of its own (a
 * tree log's tiles) and must make their names durable when a Node environment can.
 */
export const syncDirectory: <E>(file: string, onError: (cause: unknown) => E) => Effect.Effect<void, E> =
  syncDirectoryWith

/**
 * A log in one JSONL file, with one writer per file whatever name reaches it (a `<path>.lock`
 * file, an identity lock on the file's device and inode, and one holder per process: see
 * `internal/lock.ts`). A path that is not a regular file (a directory, a FIFO) is refused at
 * once with `WalNotAFile`. The existing file is verified first; a broken one is refused with its typed error,
 * a torn final line with `WalTornTail` (see `repair`). Closing the layer's scope closes the
 * file and releases the lock. Appends are acknowledged per `options.durability` (default
 * `"always"`); after a write or fsync failure the writer refuses every further append.
 */
export const layerFile = (
  path: string,
  options: WalOptions = {}
): Layer.Layer<
  Wal,
  WalEmptyKey | WalVerifyError | WalTornTail | WalNotAFile | WalLocked | WalIoError,
  FileSystem.FileSystem
> => Layer.scoped(Wal, internalFile.make(path, options))

/**
 * The log of `layerFile` as a scoped value that belongs to the caller (it is in no environment):
 * the same open — the lock, the verification of the existing file, refusing a broken one with
 * its typed error — with each verified entry handed to `onEntry`, when given, in the open's one
 * verifying pass (see `OnEntry`). Closing the scope closes the file and releases the lock.
 */
export const makeFile = <E = never>(
  path: string,
  options: WalOptions = {},
  onEntry?: OnEntry<E>
): Effect.Effect<
  Wal["Type"],
  WalEmptyKey | WalVerifyError | WalTornTail | WalNotAFile | WalLocked | WalIoError | E,
  FileSystem.FileSystem | Scope.Scope
> => internalFile.make(path, options, onEntry)

/**
 * Hold the writer locks of the log file at `path` for the current scope — the locks a writer's
 * open takes: by the file's name and, when it exists, by the file itself (whatever other name
 * reaches it) — so that no writer opens it meanwhile; `WalLocked` while a writer holds it. For a
 * tool that replaces the file whole (a journal export renamed over it): a live writer's log is
 * never replaced under it. A directory or a FIFO at `path` is `WalNotAFile`. The file locked,
 * when there is one, opened for reading (closed with the scope): what is read through it is the
 * file the locks hold, whatever is put at the path meanwhile.
 */
export const holdWriterLocks = (
  path: string
): Effect.Effect<
  Option.Option<FileSystem.File>,
  WalNotAFile | WalIoError | WalLocked,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => Effect.map(internalFile.holdLocks(fs, path), Option.map((held) => held.file))
  )

/**
 * Repair a log whose only problem is a torn final line (a crash mid-write): its bytes are
 * saved to `<path>.torn-<offset>` (fsynced) before the log is truncated to exactly that offset
 * and fsynced. A log that verifies is left alone (`RepairClean`). Anything else — corruption
 * in the middle, a broken chain — fails with `WalNotRepairable` and the file is untouched.
 * Refused (`WalLocked`) while a writer holds the log.
 */
export const repair = (
  path: string,
  options: RepairOptions = {}
): Effect.Effect<
  RepairReport,
  WalNotRepairable | WalNotAFile | WalIoError | WalLocked | WalEmptyKey | WalOptionsInvalid,
  FileSystem.FileSystem
> => internalRepair.repair(path, options)
