/**
 * The tree log's implementation (see TreeLog.ts for the contract): the tree kept as the WAL
 * seals entries (its `onLine` hook: one leaf hash, the subtrees it completes, the level-8L ones
 * put into the right edge's tiles), persisted as C2SP tiles for acknowledged sizes only.
 */
import * as Hash from "@calybris/core/Hash"
import type * as Json from "@calybris/core/Json"
import type { Sealed } from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import type { WalAppendError } from "@calybris/wal/WalError"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Checkpoint from "../Checkpoint.js"
import { CompactRange } from "../CompactRange.js"
import * as Merkle from "../Merkle.js"
import * as Note from "../Note.js"
import * as Tiles from "../Tiles.js"
import type { Appended, TreeLog, TreeLogOptions } from "../TreeLog.js"
import { writeAtomic } from "./atomicFile.js"
import { readBounded } from "./boundedRead.js"
import { equalBytes, hashLeaf } from "./hash.js"
import { hashAt, hashUp } from "./tileMath.js"
import {
  directoriesBetween,
  type FileWriter,
  isPrunable,
  LINKED_DIRECTORY,
  REMOVED_WHILE_RUNNING,
  type StartHashing,
  type TreeHashing,
  TreeHashingStopped,
  type WriteFailure
} from "./treeHashing.js"
import {
  TreeLogBeyondHead,
  TreeLogEntryNotCanonical,
  TreeLogHashingFailed,
  TreeLogIoError,
  type TreeLogOpenError,
  TreeLogOptionsInvalid,
  TreeLogTilesAhead,
  TreeLogTilesCorrupt
} from "./treeLogErrors.js"
import { TileSet } from "./treeLogTiles.js"

/** The file recording the persisted size and its root, written after the tiles. */
export const HEAD_FILE = "tree-head"

/** how long a background flush that fell short waits before it catches up with its write (see `flushTail`) */
const TAIL_PAUSE = Duration.millis(10)

const DEFAULT_FLUSH_EVERY = 8192
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
/** Tile files written at once by a flush. */
const WRITE_CONCURRENCY = 8
const sha256 = Hash.defaultHash.sha256
const hex = (bytes: Uint8Array): string => Encoding.encodeHex(bytes)

/**
 * `effect`, with the hashing's `TreeHashingStopped` (a throw, in the synchronous code that waits
 * for it) failing it as `TreeLogHashingFailed` instead of a defect.
 */
const hashingFailed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | TreeLogHashingFailed, R> =>
  Effect.catchSomeDefect(effect, (defect) =>
    defect instanceof TreeHashingStopped
      ? Option.some(Effect.fail(new TreeLogHashingFailed({ reason: defect.message })))
      : Option.none())

/** The tree as entries are sealed: the leaves handed to the hashing, and the tiles of the right edge. */
class Tree {
  /** the persisted last leaf, checked against the log's line as the open reads it */
  check: { readonly index: bigint; readonly hash: Uint8Array; found: Uint8Array | undefined } | undefined
  /** leaves handed to the hashing (the tiles describe them all after `synced`) */
  private sealed: bigint
  private hashing: TreeHashing | undefined
  constructor(
    private readonly range: CompactRange,
    private readonly tiles: TileSet,
    private readonly start: StartHashing
  ) {
    this.sealed = range.size
  }

  private started(): TreeHashing {
    if (this.hashing === undefined) {
      const tiles = this.tiles
      this.hashing = this.start(this.range, {
        put: (level, index, hash) => tiles.put(level, index, hash),
        putLeaves: (first, hashes) => tiles.putLeaves(first, hashes)
      })
    }
    return this.hashing
  }

  /**
   * The WAL's `admit`, before each append's entry is sealed: a hashing that cannot take the next
   * leaf (a stopped worker, or one stalled behind) refuses the append, unsealed.
   */
  readonly admit = (): TreeLogHashingFailed | Wal.AdmitWait | undefined => {
    const reason = this.hashing?.admit?.()
    return reason === undefined || typeof reason !== "string" ? reason : new TreeLogHashingFailed({ reason })
  }

  /** the first entry whose line is not its canonical form (the open then fails) */
  notCanonical: bigint | undefined

  /** The WAL's hook: each line in sequence order. */
  readonly onLine = (line: Uint8Array, sequence: bigint, canonical: boolean): void => {
    if (!canonical && this.notCanonical === undefined) this.notCanonical = sequence
    const sealed = this.sealed
    if (sequence <= sealed) {
      const check = this.check
      if (check !== undefined && sequence - 1n === check.index) check.found = hashLeaf(line)
      return
    }
    // the next entry (compared as numbers below 2^53: no BigInt allocated an append)
    if (sequence > MAX_SAFE ? sequence !== sealed + 1n : Number(sequence) !== Number(sealed) + 1) {
      throw new RangeError(`TreeLog: entry ${sequence} handed after ${sealed}`)
    }
    this.started().push(line)
    this.sealed = sequence
  }

  /**
   * The leaves from the file log's writes from here on (see `TreeHashing.follow`), when the
   * hashing can; the `sequence` entries so far are all handed over.
   */
  follow(sequence: bigint): void {
    if (sequence !== this.sealed) return
    this.started().follow?.(sequence)
  }

  /** The WAL's `onWritten` hook (a hashing that does not follow the writes ignores them). */
  readonly onWritten = (_start: number, _end: number, sequence: bigint, _hash: string, bytes: Uint8Array): void => {
    this.hashing?.written?.(sequence, bytes)
  }

  /**
   * Waits, without blocking the thread, for the hashing to catch up with the sealed leaves (a
   * worker's: see `TreeHashing.catchUp`), so that `upTo(size)` after it, for a size read before
   * it, does not wait (the leaves sealed meanwhile, by appends going on, are not waited for).
   */
  readonly catchUp: Effect.Effect<void> = Effect.suspend(() =>
    this.tiles.size === this.sealed ? Effect.void : (this.hashing?.catchUp?.() ?? Effect.void)
  )

  /**
   * `catchUp` for the first `size` leaves only (at most the sealed size): a worker following the
   * log's writes is handed no leaf past them that is not written yet, and `upTo(size)` after it
   * does not wait.
   */
  catchUpTo(size: bigint): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.settled() >= size ? Effect.void : (this.hashing?.catchUp?.(Number(this.sealed - size)) ?? Effect.void)
    )
  }

  /** The tiles, once every sealed leaf's nodes are in them. */
  synced(): TileSet {
    const tiles = this.tiles
    if (tiles.size !== this.sealed) {
      this.started().sync()
      tiles.size = this.sealed
    }
    return tiles
  }

  /**
   * The tiles, once every node of the first `size` leaves is in them (`size` at most the sealed
   * size): as they are when the hashing is that far (after `catchUp`, for a size read before it),
   * else `synced()`, which may block the thread until the hashing answers.
   */
  upTo(size: bigint): TileSet {
    return size <= this.settled() ? this.tiles : this.synced()
  }

  /** The largest size the tiles describe now, without waiting for the hashing (at least the persisted size). */
  settled(): bigint {
    const tiles = this.tiles
    if (tiles.size !== this.sealed && this.hashing !== undefined) {
      tiles.size = this.sealed - BigInt(this.hashing.pending())
    }
    return tiles.size
  }

  /** The hashing's own tile writer, if it has one. */
  files(): FileWriter | undefined {
    return this.started().files
  }

  /** The size whose tiles are on disk. */
  get persisted(): bigint {
    return this.tiles.persisted
  }

  /** Stops the hashing (its worker, if any). */
  close(): void {
    this.hashing?.close()
  }

  private memo: { readonly size: bigint; readonly root: Uint8Array } | undefined

  /** The root at `size` (persisted ≤ size ≤ the sealed size): from memory only. */
  rootAt(size: bigint): Uint8Array {
    const memo = this.memo
    if (memo !== undefined && memo.size === size) return memo.root
    const tiles = this.upTo(size)
    const kept = this.hashing?.root(size) ?? (size === this.range.size ? this.range.root() : undefined)
    const root = kept ?? Either.getOrThrow(Merkle.root(tiles.source, size))
    this.memo = { size, root }
    return root
  }
}

interface Disk {
  readonly fs: FileSystem.FileSystem
  readonly dir: string
  readonly sync: boolean
  /**
   * fsync on a directory, when the environment the log was opened in can (`WalNode.layer`'s
   * `FileIo`; else nothing: `FileSystem` cannot): the tiles written through `FileSystem` make
   * their names durable before the head that names them, as the worker's writer does
   */
  readonly syncDirectory?: ((dir: string) => Effect.Effect<void, unknown>) | undefined
  /** the tree head's MAC under the log's key (`headMac`), for a keyed log */
  readonly mac: ((message: Uint8Array) => Uint8Array) | undefined
}

/**
 * What a keyed log's tree head MACs: `calybris tlog tree-head v1\n<size>\n<root hex>\n`. No
 * WAL entry's HMAC input can equal it: those begin with `genesis` or with 64 hex digits (the
 * previous hash), and this one's third byte is an `l`.
 */
const headMessage = (size: bigint, root: Uint8Array): Uint8Array =>
  new TextEncoder().encode(`calybris tlog tree-head v1\n${size}\n${hex(root)}\n`)

/**
 * The MAC of a keyed log's tree head: HMAC-SHA256 under the log's key (its `hash` option's, else
 * core's default) of `headMessage`.
 */
export const headMac =
  (key: Uint8Array, hash: Hash.HashFunctions = Hash.defaultHash) => (message: Uint8Array): Uint8Array =>
    hash.hmacSha256(key, message)

/** `tree-head`'s bytes: `<size>\n<root hex>\n`, and for a keyed log `<mac hex>\n` after them. */
const headBytes = (disk: Disk, size: bigint, root: Uint8Array): Uint8Array =>
  new TextEncoder().encode(
    `${size}\n${hex(root)}\n${disk.mac === undefined ? "" : `${hex(disk.mac(headMessage(size, root)))}\n`}`
  )

const ioError = (operation: string, path: string) => (cause: unknown) => new TreeLogIoError({ operation, path, cause })

const isNotFound = (e: { readonly _tag: string; readonly reason?: string }) =>
  e._tag === "SystemError" && e.reason === "NotFound"

/** A file's `stat` (following links), or undefined when nothing is there (or a link to nothing). */
const statIfExists = (disk: Disk, path: string): Effect.Effect<FileSystem.File.Info | undefined, TreeLogIoError> =>
  disk.fs.stat(path).pipe(
    Effect.map((info): FileSystem.File.Info | undefined => info),
    Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
    Effect.mapError(ioError("stat", path))
  )

/**
 * A file's bytes, or undefined when it does not exist; `refuse` names what is there instead of
 * a regular file of at most `maxBytes` (a FIFO would block the open forever, a device such as
 * /dev/zero fill memory: a helper's hostile review planted both, as the head and as a tile).
 */
const readIfExists = (
  disk: Disk,
  path: string,
  maxBytes: number,
  refuse: (detail: string) => TreeLogTilesCorrupt
): Effect.Effect<Uint8Array | undefined, TreeLogIoError | TreeLogTilesCorrupt> =>
  Effect.flatMap(
    Effect.mapError(readBounded(disk.fs, path, maxBytes), ioError("read", path)),
    (found): Effect.Effect<Uint8Array | undefined, TreeLogTilesCorrupt> => {
      switch (found._tag) {
        case "Missing":
          return Effect.succeed(undefined)
        case "NotRegular":
          return Effect.fail(refuse(`not a regular file (a ${found.type})`))
        case "TooLarge":
          return Effect.fail(refuse(`${found.size} bytes, at most ${maxBytes} expected`))
        case "Bytes":
          return Effect.succeed(found.bytes)
      }
    }
  )

/** The longest `tree-head`: a u64 size, a root and a MAC, each in hex, on their lines. */
const MAX_HEAD_BYTES = 20 + 1 + 64 + 1 + 64 + 1

/** A tile of exactly `width` hashes, refused when missing or of another length. */
const readTile = (
  disk: Disk,
  level: number,
  index: bigint,
  width: number
): Effect.Effect<Uint8Array, TreeLogIoError | TreeLogTilesCorrupt> => {
  const path = `${disk.dir}/${Either.getOrThrow(Tiles.tilePath(level, index, width))}`
  const refuse = (detail: string) => new TreeLogTilesCorrupt({ reason: "tile-length", path, detail })
  return Effect.flatMap(readIfExists(disk, path, width * Merkle.HASH_BYTES, refuse), (bytes) =>
    bytes === undefined
      ? Effect.fail(new TreeLogTilesCorrupt({ reason: "tile-missing", path, detail: "the tree head needs it" }))
      : bytes.length !== width * Merkle.HASH_BYTES
      ? Effect.fail(
        new TreeLogTilesCorrupt({
          reason: "tile-length",
          path,
          detail: `${bytes.length} bytes, expected ${width * Merkle.HASH_BYTES}`
        })
      )
      : Effect.succeed(bytes))
}

/**
 * A full tile read back from disk, checked before it is kept: its 256 hashes must fold to the
 * node the tile above holds for it (read back and checked the same way first when it is not held:
 * the chain ends at the right edge's tiles in memory, which the head's root — MAC'd for a keyed
 * log — binds). So a tile rewritten on disk is refused (`tile-mismatch`), never served in a root
 * or a proof, nor used to check a published checkpoint.
 */
const readFullTile = (
  disk: Disk,
  tiles: TileSet,
  level: number,
  index: bigint
): Effect.Effect<void, TreeLogIoError | TreeLogTilesCorrupt> =>
  Effect.gen(function*() {
    const bytes = yield* readTile(disk, level, index, Tiles.TILE_WIDTH)
    const position = Number(index & 255n)
    const above = () => tiles.read(level + 1, index >> 8n, position + 1)
    if (above() === undefined) yield* readFullTile(disk, tiles, level + 1, index >> 8n)
    const parent = above()
    const expected = parent === undefined ? undefined : hashAt(parent, position)
    // its 256 hashes hashed up pairwise: the node one tile level up
    const folded = hashUp(bytes, 0, Tiles.TILE_WIDTH)
    if (expected === undefined || !equalBytes(folded, expected)) {
      return yield* new TreeLogTilesCorrupt({
        reason: "tile-mismatch",
        path: `${disk.dir}/${Either.getOrThrow(Tiles.tilePath(level, index, Tiles.TILE_WIDTH))}`,
        detail: `its hashes fold to ${hex(folded)}, the tile above holds ${
          expected === undefined ? "nothing" : hex(expected)
        } for it (rewritten on disk)`
      })
    }
    tiles.remember(level, index, bytes)
  })

/**
 * The tiles' files through `FileSystem`: all but the last a few at a time (each is several
 * thread-pool round trips), then the last (the tree head that names them); directories made once.
 */
const fileSystemWriter = (disk: Disk): FileWriter => {
  const made = new Set<string>()
  /** directories whose entries changed (renames into them, directories made in them), not yet fsynced */
  const dirty = new Set<string>()
  const parentOf = (path: string) => {
    const slash = path.lastIndexOf("/")
    return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash)
  }
  const writeOne = (path: string, bytes: Uint8Array, within: string) =>
    Effect.gen(function*() {
      const parent = parentOf(path)
      if (!made.has(parent)) {
        yield* disk.fs.makeDirectory(parent, { recursive: true }).pipe(
          Effect.mapError((cause): WriteFailure => ({ operation: "mkdir", path: parent, cause }))
        )
        made.add(parent)
        // each directory it may have made is an entry in its parent (`FileSystem` does not say
        // which it made: all of them, up to the tiles directory's own entry beside the log)
        for (let d = parent;; d = parentOf(d)) {
          dirty.add(parentOf(d))
          if (d.length <= within.length || !d.includes("/")) break
        }
      }
      yield* writeAtomic(disk.fs, path, bytes, disk.sync)
      dirty.add(parent)
    })
  /** fsync on each changed directory, then forgets them; the first failure stops */
  const syncDirectories = Effect.suspend(() => {
    const sync = disk.syncDirectory
    if (sync === undefined || !disk.sync) return Effect.sync(() => dirty.clear())
    return Effect.zipRight(
      Effect.forEach(
        [...dirty],
        (dir) => Effect.mapError(sync(dir), (cause): WriteFailure => ({ operation: "sync", path: dir, cause })),
        {
          discard: true
        }
      ),
      Effect.sync(() => dirty.clear())
    )
  })
  const check = (expected: ReadonlyArray<string>) =>
    Effect.forEach(expected, (path) =>
      Effect.flatMap(
        disk.fs.exists(path).pipe(Effect.mapError((cause): WriteFailure => ({ operation: "check", path, cause }))),
        (there) =>
          there ? Effect.void : Effect.fail<WriteFailure>({
            operation: "check",
            path,
            cause: new Error(REMOVED_WHILE_RUNNING)
          })
      ), { discard: true })
  /** `FileWriter.write`'s `within` rule (`FileSystem` has no `lstat`: a link is told by `readLink`). */
  const notLinked = (within: string, files: ReadonlyArray<{ readonly path: string }>) =>
    Effect.forEach(
      directoriesBetween(within, files.map((file) => file.path)),
      (dir) =>
        Effect.flatMap(Effect.either(disk.fs.readLink(dir)), (link) =>
          link._tag === "Right"
            ? Effect.fail<WriteFailure>({ operation: "write", path: dir, cause: new Error(LINKED_DIRECTORY) })
            : Effect.void),
      { discard: true }
    )
  return {
    write: (files, _sync, expected, within) =>
      Effect.zipRight(
        Effect.zipRight(check(expected), notLinked(within, files)),
        Effect.zipRight(
          Effect.forEach(files.slice(0, -1), (file) => writeOne(file.path, file.bytes, within), {
            concurrency: WRITE_CONCURRENCY,
            discard: true
          }),
          // the tiles' names durable before the head that names them is renamed, the head's after
          // (a power loss cannot keep a head naming a tile whose rename was lost)
          Effect.zipRight(
            syncDirectories,
            Effect.zipRight(
              Effect.forEach(files.slice(-1), (file) => writeOne(file.path, file.bytes, within), { discard: true }),
              syncDirectories
            )
          )
        )
      ),
    prune: (dirs) => Effect.forEach(dirs, ({ dir, full }) => pruneDir(disk.fs, dir, full), { discard: true })
  }
}

/** `FileWriter.prune` of one directory through `FileSystem` (which has no `lstat`: a link is told by `readLink`). */
const pruneDir = (fs: FileSystem.FileSystem, dir: string, full: boolean): Effect.Effect<void, WriteFailure> =>
  Effect.gen(function*() {
    const failed = (path: string) => (cause: unknown): WriteFailure => ({ operation: "remove", path, cause })
    // a symbolic link planted there (or nothing there) is left as it is
    const link = yield* Effect.either(fs.readLink(dir))
    if (Either.isRight(link) || isNotFound(link.left)) return
    const stat = yield* Effect.either(fs.stat(dir))
    if (Either.isLeft(stat)) {
      if (isNotFound(stat.left)) return
      return yield* Effect.fail(failed(dir)(stat.left))
    }
    if (stat.right.type !== "Directory") return
    const names = yield* Effect.mapError(fs.readDirectory(dir), failed(dir))
    let left = 0
    for (const name of names) {
      if (!isPrunable(name, full)) {
        left++
        continue
      }
      const path = `${dir}/${name}`
      const removed = yield* Effect.either(fs.remove(path))
      if (Either.isLeft(removed) && !isNotFound(removed.left)) {
        // a directory of that name is not a tile: left as it is (the worker's unlink refuses it too)
        const stat = yield* Effect.either(fs.stat(path))
        if (Either.isRight(stat) && stat.right.type === "Directory") left++
        else return yield* Effect.fail(failed(path)(removed.left))
      }
    }
    if (full && left === 0) {
      // empty now: the directory goes too. FileSystem has no rmdir (a remove of a directory must
      // be recursive): listed again just before, so only what appeared in between could go with it
      const again = yield* Effect.mapError(fs.readDirectory(dir), failed(dir))
      if (again.length === 0) {
        yield* fs.remove(dir, { recursive: true }).pipe(
          Effect.catchIf(isNotFound, () => Effect.void),
          Effect.mapError(failed(dir))
        )
      }
    }
  })

/** `<size>\n<root hex>\n`, with `<mac hex>\n` after them or not; refused when anything else. */
const parseHead = (
  path: string,
  bytes: Uint8Array
): Either.Either<{ size: bigint; root: Uint8Array; mac: string | undefined }, TreeLogTilesCorrupt> => {
  // a byte order mark is kept (and refused below), not silently dropped as TextDecoder does by default
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes)
  const match = /^(0|[1-9][0-9]{0,19})\n([0-9a-f]{64})\n(?:([0-9a-f]{64})\n)?$/.exec(text)
  const size = match === null ? -1n : BigInt(match[1] as string)
  if (match === null || size > 0xffff_ffff_ffff_ffffn) {
    return Either.left(
      new TreeLogTilesCorrupt({
        reason: "head-malformed",
        path,
        detail: `not "<size>\\n<root hex>\\n" (and "<mac hex>\\n" for a keyed log): ${
          JSON.stringify(text.slice(0, 100))
        }`
      })
    )
  }
  return Either.right({ size, root: Either.getOrThrow(Encoding.decodeHex(match[2] as string)), mac: match[3] })
}

/** No persisted tree (no head, or a memory log): the tree is built from the log. */
const emptyTree = (start: StartHashing, full: boolean) => ({
  persisted: 0n,
  tree: new Tree(CompactRange.empty(), new TileSet(0n, 0n), start),
  dropped: [],
  root: undefined,
  mac: undefined,
  full,
  upgrade: false
})

/**
 * Every full tile a head of `size` names is there, a regular file of a full tile's length (one
 * `stat` a tile, none read): a tile removed, or replaced by a directory, a link to nothing or a
 * file of another length, is refused at the open (`tile-missing`, `tile-length`), not only when a
 * proof or a client reads it — full tiles are written once, so the log would otherwise go on
 * signing checkpoints whose tiles are not all in the directory (hostile reviews). Their content is
 * checked when read (see `readFullTile`), or in full with `verifyTree: "full"`.
 */
const fullTilesPresent = (disk: Disk, size: bigint): Effect.Effect<void, TreeLogTilesCorrupt | TreeLogIoError> => {
  const fullBytes = BigInt(Tiles.TILE_WIDTH * Merkle.HASH_BYTES)
  const check = (level: number, index: bigint) =>
    Effect.gen(function*() {
      const path = `${disk.dir}/${Either.getOrThrow(Tiles.tilePath(level, index, Tiles.TILE_WIDTH))}`
      const refuse = (reason: "tile-missing" | "tile-length", what: string) =>
        new TreeLogTilesCorrupt({
          reason,
          path,
          detail:
            `${what}; the tree head (size ${size}) names it: a full tile is written once, so it is gone for good (remove tile/ and tree-head to rebuild them from the log; keep the checkpoint)`
        })
      const info = yield* statIfExists(disk, path)
      if (info === undefined) return yield* refuse("tile-missing", "absent (or a link to nothing)")
      if (info.type !== "File") return yield* refuse("tile-missing", `not a regular file (${info.type})`)
      if (info.size !== fullBytes) {
        return yield* refuse("tile-length", `${info.size} bytes, not a full tile's ${fullBytes}`)
      }
    })
  // (each stat a round trip to the I/O threads: 16 at a time, ~3,900 for 10^6 entries in ~0.1 s)
  // In batches, the first missing tile ending the walk: a concurrent `forEach` copies what it is
  // given into an array first, and a forged head's size (2^64 − 1, before its MAC is checked)
  // named 2^56 tiles: the open died out of memory after a minute (a hostile review)
  // The batch's first refusal in tile order, whichever stat ended first: the same tile named every
  // time (a CI run reported tile 0/002 where 0/001 was the first missing)
  const batch = (tiles: ReadonlyArray<readonly [number, bigint]>) =>
    Effect.flatMap(
      Effect.forEach(tiles, ([level, index]) => Effect.either(check(level, index)), { concurrency: 16 }),
      (results) => {
        const refused = results.find(Either.isLeft)
        return refused === undefined ? Effect.void : Effect.fail(refused.left)
      }
    )
  return Effect.gen(function*() {
    let tiles: Array<readonly [number, bigint]> = []
    for (const { fullTiles, level } of Tiles.tilesForSize(size)) {
      for (let index = 0n; index < fullTiles; index++) {
        tiles.push([level, index])
        if (tiles.length === STAT_BATCH) {
          yield* batch(tiles)
          tiles = []
        }
      }
    }
    yield* batch(tiles)
  })
}

/** Full tiles stat-ed at the open per batch (16 at a time). */
const STAT_BATCH = 256

/**
 * The persisted tree: its head (size and root) and the tiles of its right edge loaded into a
 * fresh TileSet (O(log n) reads), its compact range, and the last leaf to check against the log.
 */
const loadTree = (disk: Disk, verifyFull: boolean, start: StartHashing) =>
  Effect.gen(function*() {
    const headPath = `${disk.dir}/${HEAD_FILE}`
    const headBytes = yield* readIfExists(
      disk,
      headPath,
      MAX_HEAD_BYTES,
      (detail) => new TreeLogTilesCorrupt({ reason: "head-malformed", path: headPath, detail })
    )
    if (headBytes === undefined) return emptyTree(start, verifyFull)
    const head = yield* parseHead(headPath, headBytes)
    const size = head.size
    // a keyed log's head without its MAC (as versions before it wrote them, or stripped): nothing
    // binds its right edge, so the open recomputes and compares everything, then MACs the head
    const upgrade = disk.mac !== undefined && head.mac === undefined
    const full = verifyFull || upgrade
    const mac = head.mac
    const dropped: Array<{ level: number; index: bigint; digest: Uint8Array }> = []
    if (full) {
      // everything is recomputed from the log; the tiles are compared after the open
      const tiles = new TileSet(0n, 0n, 64, size, (tile) => {
        dropped.push({ level: tile.level, index: tile.index, digest: sha256(tile.bytes) })
      })
      return {
        persisted: size,
        tree: new Tree(CompactRange.empty(), tiles, start),
        dropped,
        root: head.root,
        mac,
        full,
        upgrade
      }
    }
    yield* fullTilesPresent(disk, size)
    const tiles = new TileSet(size, size)
    for (const { level, partialWidth } of Tiles.tilesForSize(size)) {
      if (partialWidth > 0) {
        tiles.load(level, yield* readTile(disk, level, size >> BigInt(8 * level + 8), partialWidth))
      }
    }
    const range = Either.getOrThrow(CompactRange.fromSource(tiles.source, size))
    const tree = new Tree(range, tiles, start)
    if (!equalBytes(range.root(), head.root)) {
      return yield* new TreeLogTilesCorrupt({
        reason: "root-mismatch",
        path: headPath,
        detail: `the tiles' root at size ${size} is ${hex(range.root())}, the head records ${hex(head.root)}`
      })
    }
    if (size > 0n) {
      const last = size - 1n
      const tile = last >> 8n
      if (tiles.read(0, tile, 1) === undefined) yield* readFullTile(disk, tiles, 0, tile)
      tree.check = { index: last, hash: Either.getOrThrow(Tiles.nodeHash(tiles.read, size, 0, last)), found: undefined }
    }
    return { persisted: size, tree, dropped, root: head.root, mac, full, upgrade }
  })

/**
 * The tree head's MAC checked, once the WAL opened (a wrong key is the WAL's error first): a
 * keyed log's head must carry the MAC of its size and root under the log's key; a log opened
 * without a key must find none.
 */
const checkHeadMac = (
  disk: Disk,
  loaded: {
    readonly persisted: bigint
    readonly root: Uint8Array | undefined
    readonly mac: string | undefined
  }
): Effect.Effect<void, TreeLogTilesCorrupt> => {
  const path = `${disk.dir}/${HEAD_FILE}`
  if (loaded.mac === undefined || loaded.root === undefined) return Effect.void
  if (disk.mac === undefined) {
    return new TreeLogTilesCorrupt({
      reason: "head-mac",
      path,
      detail: "the tree head carries a MAC, but the log is opened without a key"
    })
  }
  return Hash.constantTimeEquals(hex(disk.mac(headMessage(loaded.persisted, loaded.root))), loaded.mac)
    ? Effect.void
    : new TreeLogTilesCorrupt({
      reason: "head-mac",
      path,
      detail: `the MAC of size ${loaded.persisted} and root ${
        hex(loaded.root)
      } under the log's key is not the one recorded: the head (or a tile with it) was rewritten`
    })
}

/** What the file layer needs beside the service. */
export interface Internal {
  /**
   * The tiles of the acknowledged size written (a flush), then the persisted size and its root:
   * the head a checkpoint may name (the directory then holds every tile of the tree it signs).
   */
  readonly persistedHead: Effect.Effect<
    { readonly size: bigint; readonly root: Uint8Array },
    TreeLogIoError | TreeLogHashingFailed
  >
}

/**
 * The service over a WAL opened by `open` with the tree's hook; tiles in `dir` when given
 * (`fs` then), else memory only.
 */
export const make = <E, R>(
  open: (hooks: Pick<Wal.WalOptions, "onLine" | "onWritten" | "admit">) => Effect.Effect<Wal.Wal["Type"], E, R>,
  options: TreeLogOptions,
  disk: Disk | undefined,
  start: StartHashing
): Effect.Effect<TreeLog["Type"] & Internal, E | TreeLogOpenError, R | Scope.Scope> =>
  // the open's leaves (its verifying pass, its catching up) wait for the hashing too
  hashingFailed(Effect.gen(function*() {
    // refused before anything is opened (BigInt of a fraction or NaN would throw)
    const every = options.flushEvery
    if (every !== undefined && !(Number.isSafeInteger(every) && every > 0)) {
      return yield* new TreeLogOptionsInvalid({
        field: "flushEvery",
        value: String(every),
        reason: "not a positive integer"
      })
    }
    // a JavaScript caller's or a config file's "FULL" or `true` is refused, never read as "edge"
    const verify: unknown = options.verifyTree
    if (verify !== undefined && verify !== "edge" && verify !== "full") {
      return yield* new TreeLogOptionsInvalid({
        field: "verifyTree",
        value: typeof verify === "string" ? JSON.stringify(verify) : String(verify),
        reason: "not \"edge\" or \"full\""
      })
    }
    const verifyFull = verify === "full"
    const loaded = disk === undefined ? emptyTree(start, verifyFull) : yield* loadTree(disk, verifyFull, start)
    const full = loaded.full
    const tree = loaded.tree
    // after every other finalizer (the closing flush waits for the hashing)
    yield* Effect.addFinalizer(() => Effect.sync(() => tree.close()))
    // set once the background flusher runs (below): each of the log's writes may wake it
    let afterWrite: ((sequence: bigint) => void) | undefined = undefined
    const onWritten: NonNullable<Wal.WalOptions["onWritten"]> = (start, end, sequence, hash, bytes) => {
      tree.onWritten(start, end, sequence, hash, bytes)
      afterWrite?.(sequence)
    }
    const wal = yield* open({ onLine: tree.onLine, onWritten, admit: tree.admit })
    const logSize = (yield* wal.head).sequence
    const persisted = loaded.persisted
    const path = disk === undefined ? "memory" : disk.dir
    if (disk !== undefined) yield* checkHeadMac(disk, loaded)
    if (persisted > logSize) return yield* new TreeLogTilesAhead({ path, tiles: persisted, log: logSize })
    // a line re-spelt after it was written (its chain holds): never a leaf, persisted or not
    if (tree.notCanonical !== undefined) {
      return yield* new TreeLogEntryNotCanonical({ path, sequence: tree.notCanonical })
    }
    const check = tree.check
    if (check !== undefined && (check.found === undefined || !equalBytes(check.found, check.hash))) {
      return yield* new TreeLogTilesCorrupt({
        reason: "leaf-mismatch",
        path: `${path}/${
          Either.getOrThrow(Tiles.tilePath(0, check.index >> 8n, Tiles.widthAt(persisted, 0, check.index >> 8n)))
        }`,
        detail: `leaf ${check.index} is ${hex(check.hash)} in the tiles, the log's entry ${
          check.index + 1n
        } hashes to ${check.found === undefined ? "nothing" : hex(check.found)}`
      })
    }
    if (disk !== undefined && full && persisted > 0n) {
      // the tiles dropped as the open completed them are all handed over
      tree.synced()
      yield* compareTiles(
        disk,
        tree,
        loaded.dropped as ReadonlyArray<{ level: number; index: bigint; digest: Uint8Array }>,
        persisted
      )
      const root = tree.rootAt(persisted)
      if (loaded.root !== undefined && !equalBytes(root, loaded.root)) {
        return yield* new TreeLogTilesCorrupt({
          reason: "root-mismatch",
          path: `${path}/${HEAD_FILE}`,
          detail: `the log's root at size ${persisted} is ${hex(root)}, the head records ${hex(loaded.root)}`
        })
      }
    }
    if (full) tree.synced().persist(persisted)
    // a file log reports its writes: the hashing takes the new leaves from them, when it can
    // (one copy of each write, none of each line as it is sealed)
    if (disk !== undefined) tree.follow(logSize)

    const lock = yield* Effect.makeSemaphore(1)
    const flushEveryNumber = every ?? DEFAULT_FLUSH_EVERY
    let flushing = false
    // a keyed log's head on disk without its MAC (verified the full way above): the next flush
    // writes it again, with its MAC, even at the persisted size
    let unsignedHead = loaded.upgrade

    /** Write the tiles of the acknowledged size, then the tree head; then drop superseded partial tiles. */
    const defaultWriter = disk === undefined ? undefined : fileSystemWriter(disk)
    /**
     * The files a flush over persisted tiles must find before it writes (checked by the writer,
     * where the writes are): the head it replaces and the partial tiles it supersedes. Gone (the
     * directory removed while the log runs), nothing is written — a head would name full tiles
     * that are gone and are never written again — and the flush fails (`TreeLogIoError`,
     * operation `check`); the next open, finding no head, rebuilds every tile from the log.
     */
    const expectedFiles = (
      writes: ReadonlyArray<
        { readonly superseded: string | undefined; readonly level: number; readonly index: bigint }
      >
    ) =>
      disk === undefined || tree.persisted === 0n ? [] : [
        `${disk.dir}/${HEAD_FILE}`,
        ...writes.flatMap((w) => w.superseded === undefined ? [] : [`${disk.dir}/${w.superseded}`]),
        ...persistedEdge(tree.persisted, writes).map((tile) => `${disk.dir}/${tile}`)
      ]
    /**
     * The last full tile of each level at the persisted size that this flush does not write: the
     * new head names them too. (With only the head and the superseded partial tiles looked for, a
     * directory removed when the size was a multiple of 256 — no partial tile to supersede — went
     * unnoticed, and a checkpoint was signed over tiles that were gone: a hostile review.)
     */
    const persistedEdge = (
      persisted: bigint,
      writes: ReadonlyArray<{ readonly level: number; readonly index: bigint }>
    ): Array<string> => {
      const out: Array<string> = []
      for (let level = 0, width = 1n; level <= Tiles.MAX_LEVEL; level++, width *= 256n) {
        const full = persisted / width / 256n
        if (full === 0n) break
        const index = full - 1n
        if (writes.some((w) => w.level === level && w.index === index)) continue
        out.push(Either.getOrThrow(Tiles.tilePath(level, index, Tiles.TILE_WIDTH)))
      }
      return out
    }

    /**
     * Writes the tiles of the acknowledged size, then the head — `written`: the background flush,
     * of at most that many entries (the log's write that woke it), and of no more than the hashing
     * has put: it does not wait for a worker (its answers come on the event loop, which a busy
     * appender may not let run for a long while).
     */
    const flushTo = (written?: bigint): Effect.Effect<void, TreeLogIoError | TreeLogHashingFailed> =>
      hashingFailed(Effect.gen(function*() {
        if (disk === undefined) return
        // the size read before the catching up: the leaves of appends meanwhile are not waited for
        const acknowledged = (yield* wal.head).sequence
        let size = written !== undefined && written < acknowledged ? written : acknowledged
        if (written === undefined) yield* tree.catchUp
        else if (tree.settled() < size) size = tree.settled()
        if (size < tree.persisted || (size === tree.persisted && !unsignedHead)) return
        const tiles = tree.upTo(size)
        const writes = tiles.writes(size)
        const root = tree.rootAt(size)
        const writer = tree.files() ?? (defaultWriter as FileWriter)
        // every tile before the head that names them
        yield* Effect.mapError(
          writer.write(
            [
              ...writes.map((write) => ({ path: `${disk.dir}/${write.path}`, bytes: write.bytes })),
              { path: `${disk.dir}/${HEAD_FILE}`, bytes: headBytes(disk, size, root) }
            ],
            disk.sync,
            expectedFiles(writes),
            disk.dir
          ),
          (failure) => new TreeLogIoError(failure)
        )
        unsignedHead = false
        tiles.persist(size)
        // once the head names the tiles written: of a tile now full, its partial tiles (C2SP: a
        // log MAY delete them once the full tile is available; a published checkpoint may name
        // any narrower one, so a partial superseded by a wider one stays until then), and of
        // every tile written, the temps a crashed flush left
        const partials = writes.map((write) => ({
          dir: `${disk.dir}/${Either.getOrThrow(Tiles.tilePath(write.level, write.index, Tiles.TILE_WIDTH))}.p`,
          full: write.width === Tiles.TILE_WIDTH
        }))
        if (partials.length > 0) {
          yield* Effect.mapError(writer.prune(partials), (failure) => new TreeLogIoError(failure))
        }
      }))
    // uninterruptible: a flush interrupted between its tile writes and the head's would orphan
    // the partial tiles it wrote (closing waits for a background flush instead)
    const flush = lock.withPermits(1)(Effect.uninterruptible(flushTo()))
    /** the background flush: at most the entries the log wrote, as far as the hashing has put them (no wait) */
    const flushWritten = (written: bigint) => lock.withPermits(1)(Effect.uninterruptible(flushTo(written)))

    // tiles behind the log (a crash between the WAL's fsync and the tiles' write), or a head
    // without its MAC: caught up now
    yield* flush
    // closing: the acknowledged entries' tiles are written (a failure leaves them to the next open),
    // once the log has written what it sealed: appends interrupted while they waited for their
    // write are in the log all the same (it writes them before it closes, after this), and in the
    // head read after that
    yield* Effect.addFinalizer(() => Effect.ignore(Effect.zipRight(Wal.settled(wal), flush)))

    // The background flusher: one fiber, woken (synchronously, by the log's write that leaves
    // `flushEvery` written entries not persisted — not by an append's continuation, which an append
    // interrupted while it waits never runs); a failure is left to the next flush.
    let wakeup = Deferred.unsafeMake<void>(FiberId.none)
    const scope = yield* Effect.scope
    // a flush that fell short of its write (the hashing behind it) is done again once the hashing
    // caught up with that write, unless a later write woke the flusher meanwhile: the entries of a
    // burst's last writes are persisted though nothing is written after them. After a pause on the
    // event loop's timers, which a busy appender holds off: until then the next writes hand the
    // worker its leaves and wake the flusher, and no wait for the worker costs the appender.
    let tail: bigint | undefined = undefined
    const flushTail: Effect.Effect<void> = Effect.suspend(() => {
      const target = tail
      if (target === undefined) return Effect.void
      return Effect.zipRight(
        Effect.zipRight(Effect.sleep(TAIL_PAUSE), tree.catchUpTo(target)),
        Effect.suspend(() => {
          // a later write's flush fell short meanwhile: its target now
          if (tail !== target) return flushTail
          tail = undefined
          return tree.persisted < target ? Effect.ignore(flushWritten(target)) : Effect.void
        })
      )
    })
    // the log's last write (its last entry), noted even while a flush runs
    let lastWritten = 0n
    /** whether the log's writes up to `sequence` leave `flushEvery` entries not persisted (numbers: exact below 2^53, no BigInt allocated a write) */
    const due = (sequence: bigint): boolean => Number(sequence) - Number(tree.persisted) >= flushEveryNumber
    const flusher = Effect.forever(Effect.gen(function*() {
      yield* Deferred.await(wakeup)
      wakeup = Deferred.unsafeMake<void>(FiberId.none)
      let written = lastWritten
      for (;;) {
        // a failure (a defect too) is left to the next flush: a defect ended this fiber, and no
        // background flush ran again until close (a hostile review)
        yield* flushWritten(written).pipe(
          Effect.ignore,
          Effect.catchAllDefect((defect) =>
            Effect.logError("tree log: a background flush failed", defect).pipe(
              Effect.annotateLogs({ written: String(written) })
            )
          )
        )
        if (tree.persisted < written) {
          const waiting = tail !== undefined
          tail = written
          if (!waiting) yield* Effect.forkIn(flushTail, scope)
        }
        // the writes made while it ran leave `flushEvery` more not persisted: again now (the next
        // write would not wake it, and there may be none)
        if (lastWritten === written || !due(lastWritten)) break
        written = lastWritten
      }
      flushing = false
    }))
    if (disk !== undefined) {
      yield* Effect.forkScoped(flusher)
      afterWrite = (sequence) => {
        lastWritten = sequence
        if (!flushing && due(sequence)) {
          flushing = true
          Deferred.unsafeDone(wakeup, Exit.void)
        }
      }
    }

    const appended = (sealed: Sealed): Appended => ({ sealed, index: sealed.sequence - 1n })
    const onAppended = options.onAppended
    const append = onAppended === undefined
      ? (data: Json.Json): Effect.Effect<Appended, WalAppendError> => Wal.appendWith(wal, data, appended)
      : (data: Json.Json): Effect.Effect<Appended, WalAppendError> =>
        Effect.flatMap(wal.append(data), (sealed) => {
          const result = appended(sealed)
          return Effect.as(Effect.flatMap(wal.head, (head) => onAppended(head.sequence)), result)
        })

    // the acknowledged head as asked, its root once the hashing caught up with it (appends going
    // on meanwhile are not waited for); a copy: the memo's array is what the next flush writes into
    // `tree-head`
    const head = hashingFailed(
      Effect.flatMap(wal.head, (h) =>
        Effect.zipRight(
          tree.catchUp,
          Effect.sync(() => ({ size: h.sequence, root: tree.rootAt(h.sequence).slice() }))
        ))
    )

    const persistedHead = disk === undefined ? head : lock.withPermits(1)(Effect.uninterruptible(
      Effect.map(flushTo(), () => {
        const size = tree.persisted
        return { size, root: size === 0n ? Merkle.emptyRoot() : tree.rootAt(size) }
      })
    ))

    /**
     * The nodes' hashes (of the tree of the first `size` leaves, a size at most the head read
     * before), the full tiles they need read first (under the lock: memory stays put; the cached
     * ones they need stay cached as those are read: see `missingTiles`).
     */
    const readNodes = (nodes: Merkle.ProofNodes, size: bigint) =>
      lock.withPermits(1)(hashingFailed(Effect.gen(function*() {
        yield* tree.catchUp
        const tiles = tree.upTo(size)
        if (disk !== undefined) {
          for (const [level, index] of tiles.missingTiles(nodes.ids)) {
            yield* readFullTile(disk, tiles, level, index)
          }
        }
        const source = tiles.source
        return Merkle.rehash(nodes, nodes.ids.map((id) => source.node(id.level, id.index)))
      })))

    const withinHead = (field: string, value: bigint) =>
      Effect.flatMap(wal.head, (h) =>
        value > h.sequence
          ? Effect.fail(new TreeLogBeyondHead({ field, value, head: h.sequence }))
          : Effect.void)

    const inclusionProof = (index: bigint, size: bigint) =>
      Effect.zipRight(
        withinHead("size", size),
        Effect.flatMap(Merkle.inclusionNodes(index, size), (nodes) => readNodes(nodes, size))
      )

    const consistencyProof = (size1: bigint, size2: bigint) =>
      Effect.zipRight(
        withinHead("size2", size2),
        Effect.flatMap(Merkle.consistencyNodes(size1, size2), (nodes) => readNodes(nodes, size2))
      )

    /** The root of the tree's first `size` leaves (any size up to the head: its nodes from the tiles). */
    const rootAt = (size: bigint) =>
      Effect.zipRight(
        withinHead("size", size),
        size === 0n ? Effect.succeed(Merkle.emptyRoot()) : Effect.flatMap(Merkle.rootNodes(size), (ids) =>
          Effect.map(
            // the root's subtrees, right to left: one proof element folded from all of them
            readNodes({ ids, ephemeralBegin: 0, ephemeralEnd: ids.length }, size),
            (hashes) => hashes[0] as Uint8Array
          ))
      )

    /**
     * The persisted head signed: the tiles of the acknowledged size written first (a flush), so the
     * directory holds every tile the checkpoint names (a head signed before its tiles were written
     * named a partial tile that a later flush, at a wider size, never wrote). The origin is checked
     * before anything is written.
     */
    const checkpoint = (origin: string, signers: ReadonlyArray<Note.Signer>) =>
      Effect.flatMap(
        Checkpoint.checkOrigin(origin),
        () =>
          Effect.flatMap(
            persistedHead,
            ({ root, size }) =>
              Either.flatMap(
                Checkpoint.body(new Checkpoint.Checkpoint({ origin, size, root, extensions: [] })),
                (text) => Note.sign(text, signers)
              )
          )
      )

    return {
      append,
      head,
      rootAt,
      inclusionProof,
      consistencyProof,
      checkpoint,
      flush,
      wal,
      persistedHead
    }
  }))

/** Full verification: every tile of the persisted size equals the one recomputed from the log. */
const compareTiles = (
  disk: Disk,
  tree: Tree,
  dropped: ReadonlyArray<{ level: number; index: bigint; digest: Uint8Array }>,
  size: bigint
) =>
  Effect.gen(function*() {
    const mismatch = (level: number, index: bigint, width: number) =>
      new TreeLogTilesCorrupt({
        reason: "tile-mismatch",
        path: `${disk.dir}/${Either.getOrThrow(Tiles.tilePath(level, index, width))}`,
        detail: `differs from the tile recomputed from the log at size ${size}`
      })
    for (const { digest, index, level } of dropped) {
      const bytes = yield* readTile(disk, level, index, Tiles.TILE_WIDTH)
      if (!equalBytes(sha256(bytes), digest)) return yield* mismatch(level, index, Tiles.TILE_WIDTH)
    }
    // every full tile of the size was recomputed and compared above; its partial tiles are in memory
    for (const { fullTiles, level, partialWidth } of Tiles.tilesForSize(size)) {
      if (dropped.filter((d) => d.level === level).length !== Number(fullTiles)) {
        return yield* mismatch(level, fullTiles, Tiles.TILE_WIDTH)
      }
      if (partialWidth === 0) continue
      const expected = tree.synced().read(level, fullTiles, partialWidth)
      const bytes = yield* readTile(disk, level, fullTiles, partialWidth)
      if (expected === undefined || !equalBytes(bytes, expected)) return yield* mismatch(level, fullTiles, partialWidth)
    }
  })
