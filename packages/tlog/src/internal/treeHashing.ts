/**
 * Where the tree log's hashing runs. The WAL hands each new leaf's bytes (`push`, in leaf order,
 * on the appending thread); the hashing computes its leaf hash and the subtrees it completes and
 * hands the ones the tiles hold (levels 0, 8, 16, …) to `put`, in the order the compact range
 * completes them. `sync` returns once every pushed leaf's nodes were put: the tree log calls it
 * before it reads its tiles (a root, a proof, a flush).
 *
 * - `inline` (the default, any runtime): everything in `push`, on the appending thread.
 * - a worker (`TreeLogNode.layer`): `push` copies the bytes into a chunk, handed to a worker
 *   thread that hashes them and also writes the tiles (`files`; see `treeWorker.ts`).
 */
import type { AdmitWait } from "@calybris/wal/Wal"
import type * as Effect from "effect/Effect"
import type { CompactRange, CompletedNode } from "../CompactRange.js"
import { hashLeaf } from "./hash.js"

/** Where the nodes the tiles hold go. */
export interface Sink {
  /** the node at tree level 8·`tileLevel`, index `index` (each level's nodes in index order) */
  readonly put: (tileLevel: number, index: bigint, hash: Uint8Array) => void
  /** the leaf hashes (32 bytes each) of leaves `first`, `first` + 1, …: level 0's nodes, in bulk */
  readonly putLeaves: (first: bigint, hashes: Uint8Array) => void
}

/** A step of writing the tiles that failed, and the file it failed on. */
export interface WriteFailure {
  readonly operation: "check" | "mkdir" | "open" | "write" | "sync" | "rename" | "remove"
  readonly path: string
  readonly cause: unknown
}

/** What a write's `check` failure says of a file `expected` that is gone. */
export const REMOVED_WHILE_RUNNING =
  "removed while the log ran (the persisted head names it): nothing written. The next open rebuilds the tiles from the log if the tiles directory is gone whole; if only some files are, it fails (TreeLogTilesCorrupt) until its tile/ and tree-head are removed (keep its checkpoint)"

/** What a write's failure says of a directory on a file's way that is a symbolic link. */
export const LINKED_DIRECTORY = "a symbolic link: the tiles are written in the tiles directory only (remove the link)"

/** The directories between `within` and each of `paths` (each below `within`), shallowest first. */
export const directoriesBetween = (within: string, paths: ReadonlyArray<string>): Array<string> => {
  const dirs = new Set<string>()
  for (const path of paths) {
    const parts = path.slice(within.length + 1).split("/")
    for (let i = 1; i < parts.length; i++) dirs.add(`${within}/${parts.slice(0, i).join("/")}`)
  }
  return [...dirs]
}

/** Writes the tree's files (absolute paths). */
export interface FileWriter {
  /**
   * Replaces each file atomically (a temp file, fsynced when `sync`, renamed over it; its
   * directory made first), the last one only after all the others; stops at the first failure.
   * First, each of `expected` must exist (the head the write replaces, the partial tiles it
   * supersedes): one gone — the directory removed while the log runs — fails the write
   * (operation `check`) before anything is written. And each directory between `within` (the
   * tiles directory) and a file must be a directory of its own or absent, never a symbolic link
   * (a `.p` linked elsewhere would take the tiles out of it): one fails the write (operation
   * `write`, naming it) before anything is written.
   */
  readonly write: (
    files: ReadonlyArray<{ readonly path: string; readonly bytes: Uint8Array }>,
    sync: boolean,
    expected: ReadonlyArray<string>,
    within: string
  ) => Effect.Effect<void, WriteFailure>
  /**
   * Tidies the partial-tile directories (`<tile>.p/`) of the tiles a flush wrote, once the head
   * names them. A tile now `full`: every partial tile in its directory (an entry named by a width,
   * 1 to 255) and every temp of one (`<width>.tmp`) is removed, then the directory once that left
   * it empty — C2SP tlog-tiles lets a log delete a partial tile once the full tile is available,
   * and not before: a checkpoint already published may name any of them. A tile still partial:
   * only the temps (a crashed flush's) go. Only files (or links) of such names are touched:
   * anything else in the directory stays (a directory of such a name too), and a `dir` that is
   * missing or is not a directory (a symbolic link planted there) is left as it is.
   */
  readonly prune: (
    dirs: ReadonlyArray<{ readonly dir: string; readonly full: boolean }>
  ) => Effect.Effect<void, WriteFailure>
}

/** a canonical partial width, 1 to 255 */
const WIDTH = "(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])"

/**
 * The names `prune` removes from a partial-tile directory (the worker's program gets their
 * sources): of a full tile, its partial tiles (a width) and their temps (`<width>.tmp`); of a tile
 * still partial, the temps only.
 */
export const PRUNABLE = {
  full: new RegExp(`^${WIDTH}(?:\\.tmp)?$`),
  partial: new RegExp(`^${WIDTH}\\.tmp$`)
} as const

/** Whether `prune` removes the entry `name` of a partial-tile directory (`PRUNABLE`). */
export const isPrunable = (name: string, full: boolean): boolean => (full ? PRUNABLE.full : PRUNABLE.partial).test(name)

/**
 * Thrown by a hashing that can no longer answer (its worker failed, exited, was closed, or made
 * no progress for its `stallMillis`); the tree log turns it into `TreeLogHashingFailed`.
 */
export class TreeHashingStopped extends Error {
  override readonly name = "TreeHashingStopped"
}

export interface TreeHashing {
  /**
   * Asked just before an append's leaf is sealed (the WAL's `admit`; `push` follows at once):
   * `undefined` when `push` can take the leaf without waiting; while the hashing is behind, an
   * `AdmitWait` (the WAL holds the append, without blocking the thread, and asks again); else why
   * it cannot (`TreeHashingStopped`'s message): the append is then refused before anything is
   * sealed. Absent: always admitted.
   */
  readonly admit?: (() => string | AdmitWait | undefined) | undefined
  /**
   * Before `sync`: an effect that waits for the hashing to catch up with the leaves pushed so far
   * (but the last `behind` of them, default 0) without blocking the thread (a worker's), so that
   * `sync` (or `pending() <= behind`) then holds at once; it never fails (a stopped hashing makes
   * `sync` throw). A hashing following the log's writes hands over no leaf among those `behind`
   * that is not written yet (no copy of it). Absent: `sync` alone.
   */
  readonly catchUp?: ((behind?: number) => Effect.Effect<void>) | undefined
  /**
   * the next leaf's bytes (read before `push` returns: the caller may reuse them). Once `admit`
   * admitted the leaf, `push` neither waits nor throws (a leaf a stopped hashing can no longer
   * take is dropped: every later call refuses or throws); the open's leaves, not admitted, may
   * wait, and throw `TreeHashingStopped`
   */
  readonly push: (leaf: Uint8Array) => void
  /** returns once every pushed leaf's nodes were put; throws `TreeHashingStopped` when it cannot */
  readonly sync: () => void
  /** puts the nodes the hashing has ready, without waiting; returns how many pushed leaves' nodes are not put yet */
  readonly pending: () => number
  /**
   * the root of the tree of the first `size` leaves, when the hashing has it at hand (inline: at
   * every pushed leaf; a worker: at the size its last answer reached); else undefined
   */
  readonly root: (size: bigint) => Uint8Array | undefined
  /** stops the hashing (idempotent) */
  readonly close: () => void
  /** where it writes the tiles, when it does (else the tree log writes them through `FileSystem`) */
  readonly files?: FileWriter | undefined
  /**
   * When it can (a file log: its writes are reported): from now on (the log's `sequence` existing
   * leaves pushed, nothing appended yet), `push` only notes each leaf (its bytes stay as they are
   * until reported written), and the leaves are taken from the log's writes (`written`). Once:
   * later calls change nothing.
   */
  readonly follow?: ((sequence: bigint) => void) | undefined
  /** the log wrote `bytes`, its entries up to `sequence` (from the log's `onWritten`; ignored unless following) */
  readonly written?: ((sequence: bigint, bytes: Uint8Array) => void) | undefined
}

/** Starts hashing after the tree `range` (its size and right edge), putting nodes into `sink`. */
export type StartHashing = (range: CompactRange, sink: Sink) => TreeHashing

/** Everything on the calling thread: a compact range, each completed tile-level node put at once. */
export const inline: StartHashing = (range, { put }) => {
  const completed: Array<CompletedNode> = []
  return {
    push: (leaf) => {
      completed.length = 0
      range.append(hashLeaf(leaf), completed)
      for (let i = 0; i < completed.length; i++) {
        const node = completed[i] as CompletedNode
        if ((node.level & 7) === 0) put(node.level >> 3, node.index, node.hash)
      }
    },
    sync: () => {},
    pending: () => 0,
    root: (size) => size === range.size ? range.root() : undefined,
    close: () => {}
  }
}
