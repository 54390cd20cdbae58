/**
 * A transparency log over the WAL: the RFC 6962 Merkle tree of the log's entries, maintained as
 * entries are appended, and (file layer) persisted as C2SP tlog-tiles so that reopening a large
 * log does not rebuild it.
 *
 * - The leaf: leaf i (0-based) is the line of the entry with WAL sequence i + 1, its bytes
 *   exactly as the log file holds them without the LF (and without a CR before the LF, which the
 *   reader drops; writers never write one); blank lines are no entries. The WAL hands each line
 *   to the tree through `WalOptions.onLine` — while the open verifies the existing entries, and
 *   as each append seals one (a view of the bytes being written: no copy, no second printing).
 * - What is durable: `head` is the log's ACKNOWLEDGED size and the root at that size; proofs are
 *   refused (`TreeLogBeyondHead`) for larger sizes. Tiles are written only for acknowledged
 *   sizes. Under durability `"never"` nothing is durable: tiles may then be written for entries
 *   that a crash loses, and the next open refuses them (`TreeLogTilesAhead`).
 * - On disk (`layerFile(path)`): the directory `<path>.tlog/` holds `tile/<L>/<N>[.p/<W>]` hash
 *   tiles (c2sp.org/tlog-tiles; level-L tile N's hash i is the root of the perfect subtree over
 *   leaves [(256N+i)·256^L, (256N+i+1)·256^L)) for the persisted size, and `tree-head`:
 *   `<size>\n<root hex>\n` (a keyed log's with `<mac hex>\n` after them: the HMAC-SHA256 under the
 *   log's key of `calybris tlog tree-head v1\n<size>\n<root hex>\n`), written after the tiles (each file a temp file renamed into place;
 *   fsynced first unless the log's durability is `"never"`). Full tiles are written once and
 *   never change; a wider partial tile is a new file beside the narrower ones, which stay until
 *   the tile is full (C2SP: a log must serve the partial tiles of every size it signed; it may
 *   delete them once the full tile is available): then they go, with their `.p/` directory. No
 *   entry bundles are written (the entries are the log's lines). Tile writes are batched: in the
 *   background once a write of the log leaves `flushEvery` (default 8192) written entries not yet
 *   persisted (an append interrupted while it waits for its fsync is written, and counted, all the
 *   same), at `flush`, at open (catching up) and at close (once the log wrote what it sealed).
 * - Reopening: `tree-head` gives the persisted size n; the partial tiles of n (one per level,
 *   O(log n) reads) give the right edge and the root, which must equal `tree-head`'s root; only
 *   the entries after n are hashed as the open reads them. The last persisted leaf must equal the
 *   hash of the log's entry n as the open reads it. A keyed log's `tree-head` MAC (checked once
 *   the WAL opened: a wrong key is the WAL's error) binds the size and root, so a right-edge tile
 *   and the head rewritten to agree without the key are refused (`head-mac`); a keyed log's head
 *   without a MAC (an older version's) is verified as `"full"` does, then written with its MAC. An
 *   unkeyed log's head binds the last leaf only (a tile rewritten consistently with `tree-head`
 *   passes; `"full"` catches it). Tiles behind the log (a crash after the WAL's
 *   fsync, before the tiles' write) are caught up during the open; tiles AHEAD of the log (it was
 *   truncated or repaired) are refused with `TreeLogTilesAhead` naming both sizes; a mismatch is
 *   `TreeLogTilesCorrupt` naming the file. `verifyTree: "full"` recomputes the whole tree from the
 *   log and compares every tile and the head (O(n)). Without `tree-head` the tree is built from
 *   the log. The tiles and `tree-head` are derived state: deleting them rebuilds them at the next
 *   open (not the directory's `checkpoint`, which records what was published: see `checkpoint`).
 * - Proofs at a size at or above the persisted one read the right edge's tiles from memory; an
 *   older full tile is read from the directory (and kept in a small cache).
 *
 * The tiles are read before the WAL is opened (and locked): a second writer of the same log is
 * refused by the WAL's lock, but may first see a tile the first writer is replacing.
 */
import type * as Json from "@calybris/core/Json"
import type { Sealed } from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import {
  type WalAppendError,
  type WalEmptyKey,
  WalIoError,
  type WalLocked,
  type WalNotAFile,
  type WalTornTail,
  type WalVerifyError
} from "@calybris/wal/WalError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { CheckpointMalformed } from "./Checkpoint.js"
import * as Checkpointer from "./Checkpointer.js"
import { inline } from "./internal/treeHashing.js"
import { TreeIo } from "./internal/treeIo.js"
import * as internal from "./internal/treeLog.js"
import {
  TreeLogBeyondHead,
  TreeLogCorruptReason,
  TreeLogEntryNotCanonical,
  TreeLogHashingFailed,
  TreeLogIoError,
  type TreeLogOpenError,
  TreeLogOptionsInvalid,
  TreeLogTilesAhead,
  TreeLogTilesCorrupt
} from "./internal/treeLogErrors.js"
import type { MerkleError } from "./Merkle.js"
import type { NoteMalformed, Signer } from "./Note.js"

export {
  TreeLogBeyondHead,
  TreeLogCorruptReason,
  TreeLogEntryNotCanonical,
  TreeLogHashingFailed,
  TreeLogIoError,
  type TreeLogOpenError,
  TreeLogOptionsInvalid,
  TreeLogTilesAhead,
  TreeLogTilesCorrupt
}

/** The file beside the tiles that records the persisted size and root. */
export const HEAD_FILE = internal.HEAD_FILE

/** The WAL's options, but its hooks, which the tree log sets (`onLine`, `onWritten`, `admit`). */
export interface TreeLogOptions extends Omit<Wal.WalOptions, "onLine" | "onWritten" | "admit"> {
  /**
   * persist the tiles once this many written entries are not (default 8192: 32 full level-0 tiles
   * a flush); a positive integer, else the open fails with `TreeLogOptionsInvalid`
   */
  readonly flushEvery?: number | undefined
  /**
   * `"edge"` (default): check the right edge and the last leaf on open; `"full"`: recompute
   * everything and compare; any other value: the open fails with `TreeLogOptionsInvalid`. An
   * unkeyed file log opened with `checkpoint` is always verified in full (`"edge"` given is
   * refused): its tiles and tree head carry no MAC, so tiles rewritten to match a rolled-back and
   * regrown log would pass the published checkpoint's history check
   */
  readonly verifyTree?: "edge" | "full" | undefined
  /** called after each acknowledged append with the acknowledged size (a checkpointer's trigger) */
  readonly onAppended?: ((size: bigint) => Effect.Effect<void>) | undefined
}

/**
 * Why a checkpoint failed: the checkpointer's error, the tiles it read to check the last one's
 * root, or the tree's hashing that stopped.
 */
export type CheckpointError =
  | Checkpointer.CheckpointerError
  | TreeLogIoError
  | TreeLogTilesCorrupt
  | TreeLogHashingFailed

/** An acknowledged append: the WAL's sealed entry and its leaf index (sequence − 1). */
export interface Appended {
  readonly sealed: Sealed
  readonly index: bigint
}

/** Why a root or proof of the tree was not read. */
export type TreeReadError =
  | MerkleError
  | TreeLogBeyondHead
  | TreeLogIoError
  | TreeLogTilesCorrupt
  | TreeLogHashingFailed

/** The tree log service. */
export class TreeLog extends Context.Tag("@calybris/tlog/TreeLog")<TreeLog, {
  /**
   * Append a record to the WAL; completes once acknowledged, with its leaf index. With periodic
   * checkpoints (`layerFile`'s `checkpoint`), an append is refused before anything is written
   * while the last checkpoint failed and its retry fails too (`CheckpointerError`, or the tile
   * read that checks the last checkpoint's root failed). With `TreeLogNode.layer`, an append the
   * tree's hashing cannot take (its worker stopped, or stalled behind) is refused before
   * anything is sealed: `WalAppendRefused` carrying a `TreeLogHashingFailed` (a retry, once
   * admitted, appends the record once).
   */
  readonly append: (
    data: Json.Json
  ) => Effect.Effect<Appended, WalAppendError | CheckpointError>
  /**
   * The acknowledged size and the tree's root at that size. Every call below fails with
   * `TreeLogHashingFailed` when the tree's hashing stopped (`TreeLogNode.layer`'s worker; never
   * the inline hashing), rather than answer from a tree that may lack a leaf.
   */
  readonly head: Effect.Effect<{ readonly size: bigint; readonly root: Uint8Array }, TreeLogHashingFailed>
  /** The root of the tree's first `size` leaves, any size up to the head (RFC 6962's MTH of a prefix). */
  readonly rootAt: (
    size: bigint
  ) => Effect.Effect<Uint8Array, TreeReadError>
  /** RFC 6962 PATH of leaf `index` in the tree of `size` leaves (size ≤ head). */
  readonly inclusionProof: (
    index: bigint,
    size: bigint
  ) => Effect.Effect<Array<Uint8Array>, TreeReadError>
  /** RFC 6962 PROOF between sizes 0 < size1 ≤ size2 (size2 ≤ head). */
  readonly consistencyProof: (
    size1: bigint,
    size2: bigint
  ) => Effect.Effect<Array<Uint8Array>, TreeReadError>
  /**
   * The head as a C2SP checkpoint signed by `signers` (a signed note's text). The file layer
   * first persists the tiles of the acknowledged size (a `flush`) and signs that size, so that
   * `<path>.tlog/` holds every tile the checkpoint names. An origin that is not one checkpoint
   * line (empty, holding "\n" or a control character) is refused (`CheckpointMalformed`) before
   * anything is written, never signed. With periodic checkpoints (`layerFile`'s `checkpoint`), it
   * is refused (`CheckpointerError`) while the last periodic checkpoint failed and its retry
   * fails, or when the head does not extend the checkpoint on disk (a rolled-back log): what the
   * periodic checkpoints refuse to sign, this does not sign either.
   */
  readonly checkpoint: (
    origin: string,
    signers: ReadonlyArray<Signer>
  ) => Effect.Effect<
    string,
    CheckpointMalformed | NoteMalformed | TreeLogHashingFailed | TreeLogIoError | CheckpointError
  >
  /** Persist the tiles of the acknowledged size now (file layer; nothing in memory). */
  readonly flush: Effect.Effect<void, TreeLogIoError | TreeLogHashingFailed>
  /** The underlying log (to read it). */
  readonly wal: Wal.Wal["Type"]
}>() {}

type WalOpenError = WalEmptyKey | WalVerifyError | WalTornTail

/** The provided `TreeIo`'s hashing (`TreeLogNode.layer`: a worker), else the inline one. */
const startHashing = Effect.map(
  Effect.serviceOption(TreeIo),
  Option.match({ onNone: () => inline, onSome: (io) => io.startHashing })
)

/** A tree log over an in-memory WAL (empty, or from existing bytes, verified first); nothing persisted. */
export const makeMemory = (
  options: TreeLogOptions = {},
  initial?: Uint8Array
): Effect.Effect<TreeLog["Type"], WalOpenError | TreeLogOpenError, Scope.Scope> =>
  Effect.flatMap(startHashing, (start) =>
    Effect.map(
      internal.make(
        ({ admit, onLine }) => Wal.makeMemory({ ...options, onLine, admit }, initial),
        options,
        undefined,
        start
      ),
      ({ persistedHead: _, ...log }) => guardedWal(log, "checkpoint")
    ))

/**
 * The tree log with its `wal` appending through the tree log's own `append` (`asWal`): the
 * periodic checkpoint's guard and `onAppended` are kept whichever field a caller appends through
 * (a hostile review: `log.wal.append` acknowledged entries while every `log.append` was refused for
 * a failing checkpoint). Reads are the log's own.
 */
const guardedWal = (log: TreeLog["Type"], checkpointFile: string): TreeLog["Type"] => ({
  ...log,
  wal: asWal(log, checkpointFile)
})

/**
 * Periodic signed checkpoints of a file tree log: `Checkpointer`'s options without `write` (the
 * checkpoint goes to the C2SP location `<path>.tlog/checkpoint`).
 */
export type CheckpointOptions = Omit<Checkpointer.Options, "write">

export interface TreeLogFileOptions extends TreeLogOptions {
  /**
   * Sign the head as a C2SP checkpoint every `every.entries` appended entries and/or every
   * `every.seconds` seconds (when it moved), and once when the log closes, written atomically to
   * `<path>.tlog/checkpoint` (see `Checkpointer`). The tiles of the head are written first (a
   * flush; its failure is the checkpoint's), so every checkpoint in the directory names a tree
   * whose tiles are there (a C2SP tlog-tiles client finds them). Fail-closed: a checkpoint that fails is
   * retried before the next append, and that append is refused (nothing written) if the retry
   * fails too. A checkpoint on disk that the log contradicts (a rolled-back log) refuses every
   * append. Bad options fail the open with `CheckpointerOptionsInvalid` before the log is opened.
   */
  readonly checkpoint?: CheckpointOptions | undefined
}

/** The path of a file tree log's periodic checkpoint: `<path>.tlog/checkpoint`. */
export const checkpointPath = (path: string): string => `${path}.tlog/checkpoint`

/**
 * A tree log over a WAL file `path`, its tiles in `<path>.tlog/` (and, with `checkpoint`, its
 * signed checkpoints in `<path>.tlog/checkpoint`); the value belongs to the caller's scope.
 */
export const makeFile = (
  path: string,
  options: TreeLogFileOptions = {}
): Effect.Effect<
  TreeLog["Type"],
  WalOpenError | WalNotAFile | WalLocked | WalIoError | TreeLogOpenError | Checkpointer.CheckpointerOptionsInvalid,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const context = yield* Effect.context<never>()
    const start = yield* startHashing
    const checkpoint = options.checkpoint
    // bad checkpoint options are refused before the log is opened
    if (checkpoint !== undefined) yield* Checkpointer.validate({ ...checkpoint, write: checkpointPath(path) })
    // an unkeyed log's tiles and head carry no MAC: anyone who can regrow its chain can rewrite
    // them to match, and the checkpointer's history check reads its roots from them — so with a
    // published checkpoint to guard, every tile is recomputed from the log at open (a hostile
    // review: a log rolled back, regrown, and its tiles rebuilt over the old leaves was signed)
    // (an empty key, allowed for legacy logs, MACs nothing anyone could not forge: unkeyed too)
    const unkeyedGuard = checkpoint !== undefined && (options.key === undefined || options.key.length === 0)
    if (unkeyedGuard && options.verifyTree === "edge") {
      return yield* new TreeLogOptionsInvalid({
        field: "verifyTree",
        value: "\"edge\"",
        reason:
          "an unkeyed log opened with checkpoint is verified in full (its tiles carry no MAC: edge verification would let rewritten tiles pass the published checkpoint's check)"
      })
    }
    const { persistedHead, ...log } = yield* internal.make(
      (hooks) => Wal.makeFile(path, { ...options, ...hooks }),
      // (any other value given is refused by the open's own check)
      unkeyedGuard && options.verifyTree === undefined ? { ...options, verifyTree: "full" } : options,
      {
        fs,
        dir: `${path}.tlog`,
        sync: (options.durability ?? "always") !== "never",
        // with the environment the log is opened in (its `FileIo`, when `WalNode.layer` gives one)
        // (`Wal.syncDirectory` syncs the directory holding the path it is given: any name in `dir`)
        syncDirectory: (dir: string) => Effect.provide(Wal.syncDirectory(`${dir}/-`, (cause) => cause), context),
        mac: options.key === undefined ? undefined : internal.headMac(options.key, options.hash)
      },
      start
    )
    if (checkpoint === undefined) return guardedWal(log, checkpointPath(path))
    // the checkpoint's directory (the tiles' directory, which the first flush would make)
    const dir = `${path}.tlog`
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(
      Effect.mapError((cause) => new TreeLogIoError({ operation: "mkdir", path: dir, cause }))
    )
    // made after the log: its finalizer (the final checkpoint) runs before the log closes
    const checkpointer = yield* Checkpointer.make({ ...checkpoint, write: checkpointPath(path) }, {
      // the head whose tiles are written: a client reading the checkpoint finds its tree's tiles
      head: persistedHead,
      // the sizes it asks for are at most the head: a MerkleError or TreeLogBeyondHead is a bug
      rootAt: (size) => Effect.catchTags(log.rootAt(size), { MerkleError: Effect.die, TreeLogBeyondHead: Effect.die })
    })
    // closing, before the final checkpoint (finalizers run in reverse): the log writes what it
    // sealed first, so that the checkpoint counts the entries of appends interrupted while they
    // waited for their write
    yield* Effect.addFinalizer(() => Wal.settled(log.wal))
    const size = Effect.map(log.wal.head, (h) => h.sequence)
    const append = (data: Json.Json) =>
      Effect.gen(function*() {
        // a pending failure is retried first; still failing, the append is refused unwritten
        yield* Effect.flatMap(size, checkpointer.afterAppend)
        const appended = yield* log.append(data)
        // this append's own checkpoint: a failure stays pending and refuses the next append
        yield* Effect.ignore(Effect.flatMap(size, checkpointer.afterAppend))
        return appended
      })
    // the log's own checkpoint too: never of a head the checkpoint on disk contradicts
    const signed = (origin: string, signers: ReadonlyArray<Signer>) =>
      Effect.zipRight(checkpointer.guard, log.checkpoint(origin, signers))
    return guardedWal({ ...log, append, checkpoint: signed }, checkpointPath(path))
  })

/**
 * The tree log as a `Wal`: its `append` keeps the tree (and the periodic checkpoints), so
 * anything written over a `Wal` — `Audited.append`, a journaled ledger (`Ledger.layerJournal`) —
 * maintains the tree. A refused checkpoint surfaces as a `WalIoError` (operation
 * `"checkpoint"`, the checkpoint's path, the `CheckpointError` as its cause).
 */
export const asWal = (log: TreeLog["Type"], checkpointFile = "checkpoint"): Wal.Wal["Type"] =>
  // (`withAppend`: `Wal.settled` of it still waits for the log's writes)
  Wal.withAppend(log.wal, (data) =>
    Effect.map(
      Effect.catchIf(
        log.append(data),
        (e): e is CheckpointError =>
          e._tag === "CheckpointerSignFailed" || e._tag === "CheckpointerWriteFailed" ||
          e._tag === "CheckpointerHeadRegressed" || e._tag === "TreeLogIoError" || e._tag === "TreeLogTilesCorrupt" ||
          e._tag === "TreeLogHashingFailed",
        (cause) => Effect.fail(new WalIoError({ operation: "checkpoint", path: checkpointFile, cause }))
      ),
      (appended) => appended.sealed
    ))

/** The tree log over an in-memory WAL. */
export const layerMemory = (
  options: TreeLogOptions = {},
  initial?: Uint8Array
): Layer.Layer<TreeLog, WalOpenError | TreeLogOpenError> => Layer.scoped(TreeLog, makeMemory(options, initial))

/**
 * The tree log over a WAL file, persisted as tiles in `<path>.tlog/`. It also provides the log as
 * a `Wal` (see `asWal`), so `Audited.append` or `Ledger.layerJournal` over this layer keep the
 * tree and its periodic checkpoints.
 */
export const layerFile = (
  path: string,
  options: TreeLogFileOptions = {}
): Layer.Layer<
  TreeLog | Wal.Wal,
  WalOpenError | WalNotAFile | WalLocked | WalIoError | TreeLogOpenError | Checkpointer.CheckpointerOptionsInvalid,
  FileSystem.FileSystem
> =>
  Layer.scopedContext(
    Effect.map(makeFile(path, options), (log) =>
      Context.make(TreeLog, log).pipe(Context.add(Wal.Wal, asWal(log, checkpointPath(path)))))
  )
