/**
 * The tree log's typed errors (re-exported by TreeLog.ts): values flow public ← internal.
 */
import * as Schema from "effect/Schema"

/**
 * The persisted tree covers more entries than the log holds (the log was truncated or repaired
 * after the tiles were written): refused, naming both sizes. The tiles (`tile/`) and `tree-head`
 * are derived state: removing them makes the next open rebuild the tree from the log. The
 * directory's `checkpoint` is not: it is what was published, and it makes a checkpointing log
 * that was rolled back refuse appends (removing it hides the rollback).
 */
export class TreeLogTilesAhead extends Schema.TaggedError<TreeLogTilesAhead>()("TreeLogTilesAhead", {
  path: Schema.String,
  tiles: Schema.BigInt,
  log: Schema.BigInt
}) {
  override get message(): string {
    return `the tree persisted in ${this.path} has ${this.tiles} leaves but the log has only ${this.log} entries ` +
      `(the log was truncated or repaired after its tiles were written; remove its tile/ and tree-head to ` +
      `rebuild the tree, but keep its checkpoint: it is what was published, and a log rolled back behind it ` +
      `must fail closed)`
  }
}

/** Why persisted tiles were refused. */
export const TreeLogCorruptReason = Schema.Literal(
  /** a tile the tree head needs is absent */
  "tile-missing",
  /** a tile of the wrong length */
  "tile-length",
  /** the tree head file is not `<size>\n<root hex>\n` (and `<mac hex>\n` for a keyed log) */
  "head-malformed",
  /**
   * a keyed log's tree head whose MAC is not that of its size and root under the log's key (it
   * was rewritten), or a head with a MAC on a log opened without a key
   */
  "head-mac",
  /** the root of the tiles' right edge is not the one the tree head records */
  "root-mismatch",
  /** the last persisted leaf hash is not the hash of that entry's line in the log */
  "leaf-mismatch",
  /** a tile differs from the one recomputed from the log (`verifyTree: "full"`) */
  "tile-mismatch"
)
export type TreeLogCorruptReason = typeof TreeLogCorruptReason.Type

/** Persisted tiles that do not match the log or each other: refused (fail closed), naming the file. */
export class TreeLogTilesCorrupt extends Schema.TaggedError<TreeLogTilesCorrupt>()("TreeLogTilesCorrupt", {
  reason: TreeLogCorruptReason,
  /** the file (a tile, or the tree head) */
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `tree tiles refused (${this.reason}): ${this.path}: ${this.detail}`
  }
}

/** Reading or writing a tile (or the tree head) failed. */
export class TreeLogIoError extends Schema.TaggedError<TreeLogIoError>()("TreeLogIoError", {
  operation: Schema.String,
  path: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `tree log ${this.operation} failed on ${this.path}: ${reason}`
  }
}

/** A proof asked for a size beyond the acknowledged head (no tree of that size is durable yet). */
export class TreeLogBeyondHead extends Schema.TaggedError<TreeLogBeyondHead>()("TreeLogBeyondHead", {
  field: Schema.String,
  value: Schema.BigInt,
  head: Schema.BigInt
}) {
  override get message(): string {
    return `${this.field} = ${this.value} is beyond the log's acknowledged size ${this.head}`
  }
}

/** An option refused before anything is opened: `field` names it, `value` shows it. */
export class TreeLogOptionsInvalid extends Schema.TaggedError<TreeLogOptionsInvalid>()("TreeLogOptionsInvalid", {
  field: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `tree log option ${this.field} = ${this.value}: ${this.reason}`
  }
}

/**
 * The tree's hashing can no longer answer (`TreeLogNode.layer`: its worker thread failed, exited
 * or was closed, or made no progress for `stallMillis`). Appends are refused before anything is
 * written (a `WalAppendRefused` carrying this error); a head, a proof, a checkpoint or a flush
 * fails with it. A stall lasts until the worker moves again; a stopped worker, until the log is
 * closed. What the log acknowledged is in the log: reopening it rebuilds the tree.
 */
export class TreeLogHashingFailed extends Schema.TaggedError<TreeLogHashingFailed>()("TreeLogHashingFailed", {
  reason: Schema.String
}) {
  override get message(): string {
    return `the tree log's hashing stopped: ${this.reason} (while it lasts, appends are refused unwritten and ` +
      `heads and proofs fail; reopening the log rebuilds the tree from it)`
  }
}

/**
 * An entry's line is not its entry's canonical form (`Reader.OnLine`): the log was edited by
 * someone who re-spelt a line — whitespace, escapes, member order, unknown or repeated members —
 * so that the WAL's chain, which hashes the canonical form of `data`, still verifies. The tree
 * commits to the bytes, so it refuses to take the line (its checkpoints would sign the edit).
 */
export class TreeLogEntryNotCanonical extends Schema.TaggedError<TreeLogEntryNotCanonical>()(
  "TreeLogEntryNotCanonical",
  { path: Schema.String, sequence: Schema.BigInt }
) {
  override get message(): string {
    return `tree log ${this.path}: the log's entry ${this.sequence} is not in its canonical form (it verifies, ` +
      `but was re-spelt after it was written: the log was edited); the tree commits to the line's bytes and refuses it`
  }
}

export type TreeLogOpenError =
  | TreeLogEntryNotCanonical
  | TreeLogTilesAhead
  | TreeLogTilesCorrupt
  | TreeLogIoError
  | TreeLogOptionsInvalid
  | TreeLogHashingFailed
