/**
 * The file layer of the log: one JSONL file, one writer (see `lock.ts`), opened, locked, verified
 * and read through `@effect/platform`'s `FileSystem` (so tests can wrap it to inject faults);
 * the flusher writes and syncs through it too, or through `WalNode`'s functions (below).
 *
 * Opening verifies the whole existing file first (streamed, bounded memory) and refuses a
 * broken one with its typed error, a torn final line included (`WalTornTail`: `repair` is the
 * explicit way out). The head comes from that verification. An owner that rebuilds its state
 * from the log (`Wal.makeFile` with an `OnEntry`: a ledger's recovery) is handed each verified
 * entry in that same pass, so the file is read and hashed once. A last entry that is complete but
 * lacks its newline gets one, in the same write as the next entry.
 *
 * Appending seals in the caller, synchronously: the record's canonical bytes printed straight
 * into the chain's hashing buffer and hashed there (`linkJsonView`, internal/links.ts), next sequence, previous
 * hash, and the line's bytes appended to the pending round around them — one synchronous
 * block, so it is atomic without a lock and sequences follow call order (an append that waits
 * for room, see below, seals when it resumes). One flusher fiber per log writes the rounds in
 * order, and acknowledges under the log's durability:
 * - `"always"`: every append is its own round: write, fsync, acknowledge — one write and one
 *   fsync per acknowledged append;
 * - `"batch"` (group commit): everything sealed before the flusher takes the round is written
 *   as ONE buffer, fsynced ONCE, then the round's one shared Deferred completes every waiter —
 *   so an append completes only after the fsync covering it. Appends sealed while a round is
 *   being written wait for the next one; once 1 MiB is pending in it, an append waits for the
 *   write in flight before it seals (backpressure: no round grows past about 1 MiB);
 * - `"never"`: the append is acknowledged as soon as it is sealed; its bytes stay in the process
 *   until the flusher writes them (it runs whenever there is pending data, and an append waits
 *   for the write in flight once 1 MiB is pending), never fsynced. `bytes` writes everything
 *   pending first; closing the scope writes everything before the file is closed.
 * Writing, syncing and advancing the head are one uninterruptible step, so the head is always
 * exactly the acknowledged prefix and sequences never skip or repeat.
 *
 * Failure: a failed write (a short write or ENOSPC included) or fsync puts the writer into the
 * FAILED state. The append(s) of the failing round fail with `WalIoError`; every later append
 * — and every append already sealed into a later round — fails with `WalWriterFailed` carrying
 * the original cause. A failed fsync is never retried (after a failed fsync the kernel may have
 * dropped the dirty pages: a retry could "succeed" without the data). The head does not advance
 * past what was acknowledged, and `bytes` only shows the acknowledged prefix; the file may hold
 * more (an unacknowledged entry, or a torn line that the next open reports and `repair`
 * removes). Under `"never"` the records acknowledged but not yet written when a write fails are
 * lost (no durability was promised): the head still names the last acknowledged one, and
 * `bytes` fails with that `WalIoError` since it can no longer show everything acknowledged.
 *
 * Two ways to write and sync, chosen when the log opens, with the same rounds, order and failure
 * states: through the `FileSystem` file (`writeAll`, then `sync`: fsync — each a round trip
 * through libuv's thread pool; the portable path, and the one fault tests wrap), or, when the
 * environment has `WalNode.layer` (`internal/io.ts`), with `node:fs` on the same descriptor:
 * `fs.writeSync` on the JavaScript thread, then `fdatasync` — on the thread too under
 * `"always"`, where an append with nothing queued or being written does it in its own call
 * (seal, write, fdatasync, acknowledge: one write and one fdatasync per append, nothing else on
 * the path, no flusher round trip; the event loop waits for that disk flush), and on the thread
 * pool under `"batch"` (appends keep sealing the next round meanwhile). Either way one fsync at most is in flight per file: the flusher starts
 * the next round's write only after the previous round's fsync completed and was acknowledged.
 *
 * The directory entry: with `WalNode.layer`, an open under `"always"` or `"batch"` fsyncs the
 * log's directory once, before any append is acknowledged (a newly created log's entry cannot be
 * lost with the entries acknowledged in it; a failure fails the open, `WalIoError` "sync
 * directory"). `FileSystem` has no directory fsync: without `WalNode`, the directory entry of a
 * newly created log (and, either way, of a repair's saved tail) is not forced to disk. On most
 * Linux file systems the first fsync of the file in practice persists it, but POSIX does not
 * promise it.
 */
import type * as Json from "@calybris/core/Json"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Chain from "../Chain.js"
import { formatLine, MAX_RECORD_DEPTH, type RecordRefusal, refusal, type Sealed, tooLong } from "../Entry.js"
import * as Reader from "../Reader.js"
import type { OnEntry, Wal, WalOptions } from "../Wal.js"
import {
  type WalAppendError,
  type WalEmptyKey,
  WalIoError,
  type WalLocked,
  WalNotAFile,
  type WalVerifyError,
  WalWriterFailed
} from "../WalError.js"
import { notAdmitted } from "./admit.js"
import { checkDurability } from "./durability.js"
import { FileIo } from "./io.js"
import { linkJsonView } from "./links.js"
import * as Lock from "./lock.js"
import * as Own from "./own.js"

/** Read chunk size of `bytes` and of verification. */
const CHUNK = FileSystem.MiB(1)
/** Chunks read ahead (bounded memory: at most this many MiB in flight). */
const READ_AHEAD = 2
/** Under `"batch"` and `"never"`, an append waits for the write in flight once this much is pending. */
const HIGH_WATER = FileSystem.MiB(1)
/** Initial capacity of a round's buffer (it grows by doubling). */
const ROUND_BYTES = 64 * 1024
/** A written round's buffer is reused for a later round unless it grew beyond this. */
const SPARE_MAX = FileSystem.MiB(4)

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Why a round fails when the log's file lost its last directory entry (see `linked`). */
const REMOVED =
  "the log file was removed (no directory entry names it any more) while this writer held it: what it writes would be lost at close"

/** Throws `REMOVED` when no directory entry names the file open at `fd` any more (`FileIo.links`). */
const requireLinked = (links: (fd: number) => number, fd: number): void => {
  if (links(fd) === 0) throw new Error(REMOVED)
}

export const ioError = (operation: string, path: string) => (cause: unknown) =>
  new WalIoError({ operation, path, cause })

/** What a path whose file type is `type` is, as a sentence. */
const notAFileReason = (type: FileSystem.File.Type): string => {
  switch (type) {
    case "Directory":
      return "it is a directory"
    case "FIFO":
      return "it is a named pipe (FIFO)"
    case "Socket":
      return "it is a socket"
    case "BlockDevice":
      return "it is a block device"
    case "CharacterDevice":
      return "it is a character device"
    default:
      return `it is not a regular file (${type})`
  }
}

/** A platform error of an operation on the log's path: EISDIR / ENOTDIR / ELOOP as sentences. */
export const pathError = (operation: string, path: string) => (cause: PlatformError): WalNotAFile | WalIoError => {
  const code = cause._tag === "SystemError" ? /^(EISDIR|ENOTDIR|ELOOP)\b/.exec(cause.description ?? "")?.[1] : undefined
  switch (code) {
    case "EISDIR":
      return new WalNotAFile({ path, reason: "it is a directory" })
    case "ENOTDIR":
      return new WalNotAFile({ path, reason: "a component of the path is not a directory" })
    case "ELOOP":
      return new WalNotAFile({ path, reason: "too many levels of symbolic links" })
    default:
      return new WalIoError({ operation, path, cause })
  }
}

/**
 * Whether the log exists, refusing at once a path that names anything but a regular file
 * (opening a FIFO would block until a reader comes; reading a directory fails midway).
 */
export const regularFile = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<boolean, WalNotAFile | WalIoError> =>
  fs.stat(path).pipe(
    Effect.map((info) => info.type),
    Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(undefined)),
    Effect.mapError(pathError("stat", path)),
    Effect.flatMap((type) =>
      type === undefined
        ? Effect.succeed(false)
        : type === "File"
        ? Effect.succeed(true)
        : Effect.fail(new WalNotAFile({ path, reason: notAFileReason(type) }))
    )
  )

/**
 * Removes the log file an open created when the open then fails before writing: the file itself,
 * at its real path (a symbolic link that named it stays: removing `path` removed the user's link
 * and left the file it created: the review of this fix), only while it is still that file (same
 * device and inode) and empty. Best effort: a failure to remove leaves an empty file, as before.
 */
const removeCreated = (fs: FileSystem.FileSystem, path: string, info: FileSystem.File.Info): Effect.Effect<void> =>
  Effect.ignore(Effect.gen(function*() {
    const real = yield* fs.realPath(path)
    const now = yield* fs.stat(real)
    if (sameFile(now, info) && now.type === "File" && now.size === 0n) yield* fs.remove(real)
  }))

/** The opened log's `fstat` (its identity for the lock), refusing anything but a regular file. */
export const openedFile = (
  file: FileSystem.File,
  path: string
): Effect.Effect<FileSystem.File.Info, WalNotAFile | WalIoError> =>
  Effect.flatMap(
    Effect.mapError(file.stat, pathError("stat", path)),
    (info) =>
      info.type === "File"
        ? Effect.succeed(info)
        : Effect.fail(new WalNotAFile({ path, reason: notAFileReason(info.type) }))
  )

/**
 * The writer locks of the log at `path` for the current scope, as a writer's open takes them: by
 * its name, then — when the file exists — by the identity of the file, opened for reading
 * (`WalLocked` while a writer holds it through any name, in this process or another on this
 * host). The opened file and its `fstat`, when there is one. A directory or a FIFO is refused
 * before anything is opened (`WalNotAFile`).
 */
export const holdLocks = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<
  Option.Option<{ readonly file: FileSystem.File; readonly info: FileSystem.File.Info }>,
  WalNotAFile | WalIoError | WalLocked,
  Scope.Scope
> =>
  Effect.gen(function*() {
    yield* regularFile(fs, path)
    yield* Lock.acquire(fs, path)
    const log = yield* fs.open(path, { flag: "r" }).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeedNone),
      Effect.mapError(pathError("open", path))
    )
    if (Option.isNone(log)) return Option.none()
    const info = yield* openedFile(log.value, path)
    yield* Lock.acquireIdentity(fs, path, info)
    return Option.some({ file: log.value, info })
  })

/** Whether two `stat`s name one file (device and inode). */
export const sameFile = (a: FileSystem.File.Info, b: FileSystem.File.Info): boolean =>
  a.dev === b.dev && Option.getOrUndefined(a.ino) === Option.getOrUndefined(b.ino)

export const REPLACED =
  "the log's path names another file than the one this writer holds (renamed away, or replaced): read by its path, another file's bytes would be taken for the log's"

/**
 * The bytes of the file a writer (or repair) holds — `held`, its `fstat` — read by its path
 * through a descriptor of their own that is checked to be that very file (device and inode)
 * before a byte is read, else a `WalIoError`. The writer's descriptor is write-only; reading the
 * path alone read whatever was there now: after a rename, or a file put in its place, the open
 * verified one file and appended to another, and `bytes` (with `Wal.verify`, `readVerified`)
 * served another file's bytes as the log's (a hostile review).
 */
export const readHeld = (
  fs: FileSystem.FileSystem,
  path: string,
  held: FileSystem.File.Info,
  options: { readonly offset?: number; readonly length?: number } = {}
): Stream.Stream<Uint8Array, WalIoError> =>
  options.length === 0 ? Stream.empty : Stream.unwrapScoped(Effect.gen(function*() {
    // by path first: a FIFO put at the path would hold the open (waiting for a writer) forever
    const named = yield* Effect.mapError(fs.stat(path), ioError("stat", path))
    if (named.type !== "File") return yield* Effect.fail(ioError("read", path)(new Error(REPLACED)))
    const file = yield* Effect.mapError(fs.open(path, { flag: "r" }), ioError("open", path))
    const info = yield* Effect.mapError(file.stat, ioError("stat", path))
    if (!sameFile(info, held)) return yield* Effect.fail(ioError("read", path)(new Error(REPLACED)))
    yield* file.seek(options.offset ?? 0, "start")
    let left = options.length ?? Number.POSITIVE_INFINITY
    const chunk: Effect.Effect<Uint8Array, Option.Option<WalIoError>> = Effect.suspend(() =>
      left <= 0 ? Effect.fail(Option.none()) : file.readAlloc(Math.min(Number(CHUNK), left)).pipe(
        Effect.mapError((e) => Option.some(ioError("read", path)(e))),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(Option.none()),
          onSome: (bytes) => {
            left -= bytes.length
            return Effect.succeed(bytes)
          }
        }))
      )
    )
    return Stream.repeatEffectOption(chunk).pipe(Stream.buffer({ capacity: READ_AHEAD }))
  }))

/**
 * Verify the whole file a writer holds (`readHeld`), each verified entry to `onEntry` in the same
 * pass when given (see `Wal.OnEntry`).
 */
const verifyHeld = <E>(
  fs: FileSystem.FileSystem,
  path: string,
  held: FileSystem.File.Info,
  reader: Reader.ReaderOptions,
  onEntry: OnEntry<E> | undefined
): Effect.Effect<Reader.Verified, WalVerifyError | WalIoError | E> => {
  const bytes = readHeld(fs, path, held)
  return onEntry === undefined ? Reader.verify(bytes, reader) : Reader.verifyEach(bytes, reader, onEntry)
}

type AppendFailure = WalIoError | WalWriterFailed

/**
 * Sealed lines written and acknowledged together: their UTF-8 bytes, the last entry among them,
 * and the one Deferred that every waiter of the round shares.
 */
interface Round {
  buffer: Uint8Array
  length: number
  sequence: bigint
  hash: string
  readonly done: Deferred.Deferred<void, AppendFailure>
}

const makeRound = (buffer: Uint8Array): Round => ({
  buffer,
  length: 0,
  sequence: 0n,
  hash: "",
  done: Deferred.unsafeMake(FiberId.none)
})

/** Make room for `bytes` more bytes in the round's buffer. */
const reserve = (round: Round, bytes: number): void => {
  const need = round.length + bytes
  if (need > round.buffer.length) {
    const grown = new Uint8Array(Math.max(need, round.buffer.length * 2))
    grown.set(round.buffer.subarray(0, round.length))
    round.buffer = grown
  }
}

/** Append `text`'s UTF-8 bytes to the round. */
const put = (round: Round, text: string): void => {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit
  reserve(round, 3 * text.length)
  round.length += encoder.encodeInto(text, round.buffer.subarray(round.length)).written
}

/** Length of a hex SHA-256. */
const HASH_LENGTH = 64
const SEQUENCE_MEMBER = encoder.encode(`{"sequence":`)
const PREVIOUS_MEMBER = encoder.encode(`,"previous_hash":"`)
const ENTRY_MEMBER = encoder.encode(`","entry_hash":"`)
const DATA_MEMBER = encoder.encode(`","data":`)
/** Hash texts that are written as they are (no JSON escaping). */
const PLAIN = /^[0-9A-Za-z]*$/

/** Write ASCII `text` (digits, a hash text) at `at`; returns the position after it. */
const ascii = (buffer: Uint8Array, at: number, text: string): number => {
  const n = text.length
  for (let i = 0; i < n; i++) buffer[at + i] = text.charCodeAt(i)
  return at + n
}

/** Write `bytes` at `at` (short constants: a loop beats `set`); returns the position after them. */
const copy = (buffer: Uint8Array, at: number, bytes: Uint8Array): number => {
  const n = bytes.length
  for (let i = 0; i < n; i++) buffer[at + i] = bytes[i] as number
  return at + n
}

/**
 * Append the next entry's line to the round, byte for byte as `Entry.formatLine` lays it out,
 * around the data's canonical bytes as `linkJsonView` printed and hashed them (so the data is
 * printed once, straight into bytes, and copied once, here). A hash text that would need
 * escaping or has another length takes the string path of `Entry.formatLine`.
 */
const writeLine = (
  round: Round,
  sequence: bigint,
  previousHash: string,
  entryHash: string,
  data: Uint8Array,
  newline: boolean
): void => {
  if (entryHash.length === HASH_LENGTH && PLAIN.test(previousHash) && PLAIN.test(entryHash)) {
    const digits = sequence.toString()
    reserve(
      round,
      3 + SEQUENCE_MEMBER.length + digits.length + PREVIOUS_MEMBER.length + previousHash.length + ENTRY_MEMBER.length +
        HASH_LENGTH + DATA_MEMBER.length + data.length
    )
    const buffer = round.buffer
    let at = round.length
    if (newline) buffer[at++] = 0x0a
    at = copy(buffer, at, SEQUENCE_MEMBER)
    at = ascii(buffer, at, digits)
    at = copy(buffer, at, PREVIOUS_MEMBER)
    at = ascii(buffer, at, previousHash)
    at = copy(buffer, at, ENTRY_MEMBER)
    at = ascii(buffer, at, entryHash)
    at = copy(buffer, at, DATA_MEMBER)
    buffer.set(data, at)
    at += data.length
    buffer[at++] = 0x7d // }
    buffer[at++] = 0x0a // LF
    round.length = at
    return
  }
  const line = formatLine(sequence, previousHash, entryHash, decoder.decode(data))
  put(round, newline ? "\n" + line : line)
}

export const make = <E = never>(
  path: string,
  options: WalOptions,
  onEntry?: OnEntry<E>
): Effect.Effect<
  Wal["Type"],
  WalEmptyKey | WalVerifyError | WalNotAFile | WalLocked | WalIoError | E,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    yield* Reader.checkOptions(options)
    yield* checkDurability(options.durability)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    // the writer writes no line its own reader would refuse
    const maxLineBytes = options.maxLineBytes ?? Reader.DEFAULT_MAX_LINE_BYTES
    const durability = options.durability ?? "always"
    const onLine = options.onLine
    const onWritten = options.onWritten
    const admit = options.admit
    // node:fs on the descriptor when the environment has it (`WalNode.layer`), else FileSystem
    const io = Option.getOrUndefined(yield* Effect.serviceOption(FileIo))
    // the span covers the opening only: a span current in the writer fiber would wrap each
    // failure it fails with again (the same error, every append after a failure) in one more proxy
    const { file, info, verified } = yield* Effect.gen(function*() {
      // a directory or a FIFO is refused before anything is created (opening a FIFO blocks)
      const existed = yield* regularFile(fs, path)
      // lock first: nobody writes while we verify. The name, then (once the file is open and its
      // identity known) the file itself, whatever other name reaches it: see lock.ts
      yield* Lock.acquire(fs, path)
      const file = yield* fs.open(path, { flag: "a", mode: 0o644 }).pipe(Effect.mapError(pathError("open", path)))
      const info = yield* openedFile(file, path)
      yield* Lock.acquireIdentity(fs, path, info).pipe(
        // the file this open created, still empty, is removed again when its lock could not be
        // taken at all (a failed `budget init` left an empty journal behind: a hostile review);
        // not when another writer holds it (it may be using the file), nor a file that existed
        Effect.tapError((error) => !existed && error._tag !== "WalLocked" ? removeCreated(fs, path, info) : Effect.void)
      )
      // the open's verifying pass hands each existing line to `onLine` (the service's `reader` does not)
      const verifying = options.onLine === undefined ? reader : { ...reader, onLine: options.onLine }
      const verified = yield* verifyHeld(fs, path, info, verifying, onEntry)
      // the log's directory entry on disk before anything is acknowledged (see the module's comment)
      const syncDirectoryOf = io?.syncDirectoryOf
      if (durability !== "never" && syncDirectoryOf !== undefined) {
        yield* Effect.try({
          try: () => syncDirectoryOf(path),
          catch: (cause) => new WalIoError({ operation: "sync directory", path, cause })
        })
      }
      return { file, info, verified }
    }).pipe(Effect.withSpan("Wal.open", { attributes: { path } }))

    // The acknowledged head (what `head` reports). "batch" and "always" advance it when a
    // round's fsync completes; "never" when an append is sealed.
    let ackSequence = verified.count
    let ackHash = verified.lastHash
    // The file's written (and, unless "never", fsynced) prefix, and the last entry inside it.
    let size = verified.bytes
    let sizeSequence = verified.count
    // The chain's tail: the last entry sealed.
    let sealedSequence = verified.count
    let sealedHash = verified.lastHash
    let needsNewline = verified.unterminated
    let failure: { readonly operation: string; readonly cause: unknown } | undefined = undefined
    let closed = false

    // Rounds sealed and closed, oldest first ("always": one per append).
    const queue: Array<Round> = []
    // The round being filled ("batch", "never"); the flusher closes it when it takes it.
    let open: Round | undefined = undefined
    // The round being written.
    let inflight: Round | undefined = undefined
    // A written round's buffer, for the next round.
    let spare: Uint8Array | undefined = undefined
    // Set while the flusher sleeps; an append that seals something completes it.
    let wakeup: Deferred.Deferred<void> | undefined = undefined

    const wake = (): void => {
      const sleeping = wakeup
      if (sleeping !== undefined) {
        wakeup = undefined
        Deferred.unsafeDone(sleeping, Exit.void)
      }
    }

    /** "always" on `WalNode` with nothing queued or being written: the caller writes and syncs its round. */
    const inline = (): boolean =>
      durability === "always" && io !== undefined && queue.length === 0 && inflight === undefined

    /**
     * Seal one record into its round (synchronous: the atomic step of an append): its canonical
     * bytes printed and hashed in the chain's buffer, then its line appended to the round; `own`:
     * a round of its own, not queued.
     */
    const sealOne = (
      data: Json.Json,
      own = false
    ): { readonly sealed: Sealed; readonly round: Round } | RecordRefusal => {
      const sequence = sealedSequence + 1n
      const previousHash = sealedHash
      const printed = linkJsonView(chain, previousHash, data, MAX_RECORD_DEPTH)
      if (printed === undefined) return refusal(data)
      const long = tooLong(sequence, previousHash, printed.hash, printed.bytes.length, maxLineBytes)
      if (long !== undefined) return long
      let round: Round
      if (durability === "always") {
        round = makeRound(new Uint8Array(printed.bytes.length + 256))
        if (!own) queue.push(round)
      } else {
        if (open === undefined) {
          open = makeRound(spare ?? new Uint8Array(ROUND_BYTES))
          spare = undefined
        }
        round = open
      }
      const entryHash = printed.hash
      const lineStart = needsNewline ? round.length + 1 : round.length
      writeLine(round, sequence, previousHash, entryHash, printed.bytes, needsNewline)
      needsNewline = false
      round.sequence = sealedSequence = sequence
      round.hash = sealedHash = entryHash
      // the line as written into the round (without its LF): a view, no copy
      if (onLine !== undefined) onLine(round.buffer.subarray(lineStart, round.length - 1), sequence, true)
      if (durability === "never") {
        ackSequence = sequence
        ackHash = entryHash
      }
      if (!own) wake()
      return { sealed: { sequence, previous_hash: previousHash, entry_hash: entryHash }, round }
    }

    const failWith = (operation: string) => (cause: unknown): WalIoError => {
      failure = { operation, cause }
      return new WalIoError({ operation, path, cause })
    }

    /** Fail every round not yet taken: the writer is failed. */
    const failRest = (cause: unknown): void => {
      const rest = open === undefined ? queue.splice(0) : [...queue.splice(0), open]
      open = undefined
      const refused = Exit.fail(new WalWriterFailed({ cause }))
      for (const round of rest) Deferred.unsafeDone(round.done, refused)
    }

    /** Write all of `bytes` at the end of the file. */
    const writeAll = (bytes: Uint8Array): Effect.Effect<void, unknown> =>
      io === undefined ? file.writeAll(bytes) : Effect.try({ try: () => io.writeAll(file.fd, bytes), catch: identity })
    /** Force the written bytes to disk: on this thread under "always" (one append waits for it), else off it. */
    const sync: Effect.Effect<void, unknown> = io === undefined
      ? file.sync
      : durability === "always"
      ? Effect.try({ try: () => io.syncNow(file.fd), catch: identity })
      : Effect.async<void, unknown>((resume) => {
        io.sync(file.fd, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
      })

    /**
     * The log's file still named by a directory entry (its link count above 0) after a round's
     * write: one removed while this writer holds it takes the writes, and loses them at close, so
     * the round fails and the writer with it, nothing of it acknowledged (a hostile review: every
     * append went on succeeding). One `fstat` a round.
     */
    const links = io?.links
    const linked: Effect.Effect<void, unknown> = links !== undefined
      ? Effect.try({ try: () => requireLinked(links, file.fd), catch: identity })
      : Effect.flatMap(
        file.stat,
        (info) => Option.getOrUndefined(info.nlink) === 0 ? Effect.fail(new Error(REMOVED)) : Effect.void
      )

    /** Write (and per durability fsync) one round, then acknowledge it. One round at a time. */
    const commit = (round: Round): Effect.Effect<void> => {
      if (failure !== undefined) return Deferred.fail(round.done, new WalWriterFailed({ cause: failure.cause }))
      inflight = round
      // the round's bytes: written, then handed to `onWritten` (one view for both)
      const bytes = round.buffer.subarray(0, round.length)
      const written = Effect.mapError(Effect.zipRight(writeAll(bytes), linked), failWith("write"))
      const durable = durability === "never"
        ? written
        : Effect.zipRight(written, Effect.mapError(sync, failWith("fsync")))
      return Effect.matchEffect(durable, {
        onFailure: (error) => {
          inflight = undefined
          failRest(error.cause)
          return Deferred.fail(round.done, error)
        },
        onSuccess: () => {
          inflight = undefined
          const start = size
          size += round.length
          sizeSequence = round.sequence
          if (onWritten !== undefined) onWritten(start, size, round.sequence, round.hash, bytes)
          if (durability !== "never") {
            ackSequence = round.sequence
            ackHash = round.hash
          }
          if (durability !== "always" && round.buffer.length <= SPARE_MAX) spare = round.buffer
          return Deferred.succeed(round.done, undefined)
        }
      })
    }

    /**
     * Write and fdatasync a round of its own on this thread, then acknowledge it (the caller's
     * append): `commit` without the flusher, for `inline` appends. Same state changes and errors.
     */
    const commitNow = (round: Round, functions: NonNullable<typeof io>): Exit.Exit<void, AppendFailure> => {
      let operation = "write"
      const bytes = round.buffer.subarray(0, round.length)
      try {
        functions.writeAll(file.fd, bytes)
        if (functions.links !== undefined) requireLinked(functions.links, file.fd)
        operation = "fsync"
        functions.syncNow(file.fd)
      } catch (cause) {
        const error = failWith(operation)(cause)
        failRest(cause)
        return Exit.fail(error)
      }
      const start = size
      size += round.length
      sizeSequence = ackSequence = round.sequence
      ackHash = round.hash
      if (onWritten !== undefined) onWritten(start, size, round.sequence, round.hash, bytes)
      return Exit.void
    }

    const takeRound = (): Round | undefined => {
      const queued = queue.shift()
      if (queued !== undefined) return queued
      const round = open
      open = undefined
      return round
    }

    /** Take the next round and commit it, as one uninterruptible step; false when there is none. */
    const step: Effect.Effect<boolean> = Effect.uninterruptible(Effect.suspend(() => {
      const round = takeRound()
      return round === undefined ? Effect.succeed(false) : Effect.as(commit(round), true)
    }))

    /** Wait for an append, unless one is pending already (checked and armed in one step). */
    const sleep: Effect.Effect<void> = Effect.suspend(() => {
      if (queue.length > 0 || open !== undefined) return Effect.void
      const sleeping = Deferred.unsafeMake<void>(FiberId.none)
      wakeup = sleeping
      return Deferred.await(sleeping)
    })

    const flusher = Effect.gen(function*() {
      for (;;) {
        if (yield* step) continue
        yield* sleep
        // let the appends of this tick join the round ("always" writes one append per round)
        if (durability !== "always") yield* Effect.yieldNow()
      }
    })

    // Closing: the flusher is interrupted first (a round being written completes), then every
    // round left is written here, then the file is closed and the lock released. Appends after
    // that are interrupted.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const round = takeRound()
      return round === undefined ? Effect.void : Effect.zipRight(commit(round), drain)
    })
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        return drain
      })
    )
    yield* Effect.forkScoped(flusher)

    /** Under "never": everything acknowledged is in the file, or the write that lost some failed. */
    const lost: Effect.Effect<void, WalIoError> = Effect.suspend(() =>
      failure !== undefined && ackSequence > sizeSequence
        ? Effect.fail(new WalIoError({ operation: failure.operation, path, cause: failure.cause }))
        : Effect.void
    )
    /**
     * Until every round sealed so far is written (and synced, per durability) or failed: `settled`
     * (each round's `done` settles after its `onWritten` and its acknowledgement).
     */
    const settled: Effect.Effect<void> = Effect.suspend(() => {
      const last = open ?? queue[queue.length - 1] ?? inflight
      if (last === undefined) return Effect.void
      wake()
      return Effect.asVoid(Effect.exit(Deferred.await(last.done)))
    })
    /** Under "never" (acknowledged before written): until the acknowledged entries are written, or the write that lost some failed. */
    const flushed: Effect.Effect<void, WalIoError> = durability === "never"
      ? Effect.zipRight(settled, lost)
      : Effect.void

    /**
     * Append: seal now, then wait for the round's acknowledgement ("never": none). An append
     * interrupted while it waits may still be written (like one whose fsync failed): it is just
     * not acknowledged.
     *
     * No `Effect.fn` span here, unlike STYLE's default for service methods: `Effect.fn` captures
     * a stack trace per call, measured at ~35–58 µs per append on our 2-core machines (loaded),
     * against ~1 µs for this `Effect.suspend` — more than the whole rest of an unsynced append.
     */
    const appendWith = <A>(data: Json.Json, f: (sealed: Sealed) => A): Effect.Effect<A, WalAppendError> =>
      Effect.suspend((): Effect.Effect<A, WalAppendError> => {
        if (failure !== undefined) return Effect.fail(new WalWriterFailed({ cause: failure.cause }))
        if (closed) return Effect.interrupt
        if (durability !== "always" && open !== undefined && open.length >= HIGH_WATER) {
          // backpressure: wait for the write in flight (or of this round), then seal
          const waitFor = inflight ?? open
          wake()
          return Effect.zipRight(Effect.exit(Deferred.await(waitFor.done)), appendWith(data, f))
        }
        // the gatekeeper, just before sealing (nothing in between): a refusal seals nothing
        if (admit !== undefined) {
          const verdict = admit()
          // held (nothing sealed until the wait ends, then asked again) or refused
          if (verdict !== undefined) return notAdmitted(verdict, appendWith(data, f))
        }
        if (io !== undefined && inline()) {
          // one write and one fdatasync, in this call: no flusher round trip
          const next = sealOne(data, true)
          if ("_tag" in next) return Effect.fail(next)
          const written = commitNow(next.round, io)
          return Exit.isSuccess(written) ? Effect.succeed(f(next.sealed)) : Effect.failCause(written.cause)
        }
        const next = sealOne(data)
        if ("_tag" in next) return Effect.fail(next)
        const sealed = next.sealed
        return durability === "never"
          ? Effect.succeed(f(sealed))
          : Effect.map(Deferred.await(next.round.done), () => f(sealed))
      })
    const append = (data: Json.Json): Effect.Effect<Sealed, WalAppendError> => appendWith(data, identity)

    return Own.attach({
      append,
      head: Effect.sync(() => ({ sequence: ackSequence, lastHash: ackHash })),
      // the acknowledged prefix only: never a line still being written, nor what a failure left
      bytes: Stream.unwrap(Effect.map(flushed, () => readHeld(fs, path, info, { length: size }))),
      reader
    }, { appendWith, settled })
  })
