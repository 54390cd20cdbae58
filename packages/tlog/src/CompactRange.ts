/**
 * The right edge of the Merkle tree [0, n) (RFC 6962 §2.1): the hashes of the complete subtrees
 * that cover it, one per one bit of n, largest (leftmost) first. Appending a leaf hash merges
 * the subtrees it completes (amortised O(1) hashing: one hash per trailing one bit of n), and
 * the root at the current size folds the O(log n) hashes right to left. With its serialization
 * a log of ten million entries reopens without rebuilding the tree.
 *
 * Serialization (both forms carry the size and the popcount(size) subtree hashes, in order):
 * - binary: u64 big-endian size ‖ 32 bytes per hash — exactly 8 + 32·popcount(size) bytes;
 * - text: the size in decimal (no sign, no leading zero), then each hash as 64 lowercase hex
 *   digits, each on its own line ending in "\n".
 * The decoders refuse (CompactRangeError, `reason` and the field) a truncated or over-long
 * form, a size beyond u64, a non-canonical number or hash, a hash count that is not the size's
 * popcount, and anything after the last hash — so a serialization has exactly one meaning.
 * They cannot tell a forged hash: the root must still be checked against a signed checkpoint.
 *
 * Pure and synchronous, no Node API (runs in a browser).
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Schema from "effect/Schema"
import { isU64, type NodeId, popCount, rangeNodes } from "./internal/bits.js"
import { HASH_BYTES, hashChildren, rootOfSubtrees } from "./internal/hash.js"
import type { NodeSource } from "./Merkle.js"

/** Why a compact range was refused. */
export const CompactRangeReason = Schema.Literal(
  "truncated",
  "trailing-bytes",
  "size-out-of-range",
  "not-canonical",
  "hash-count",
  "hash-length"
)
export type CompactRangeReason = typeof CompactRangeReason.Type

/** A refused compact range (decoding, or a hash of the wrong length): the `reason`, `field` and `value`. */
export class CompactRangeError extends Schema.TaggedError<CompactRangeError>()("CompactRangeError", {
  reason: CompactRangeReason,
  field: Schema.String,
  value: Schema.String
}) {
  override get message(): string {
    return `compact range refused (${this.reason}): ${this.field} = ${this.value}`
  }
}

const fail = (reason: CompactRangeReason, field: string, value: string) =>
  Either.left(new CompactRangeError({ reason, field, value }))

/** A node an append completed: the complete subtree (level, index) and its hash. */
export interface CompletedNode extends NodeId {
  readonly hash: Uint8Array
}

/** The right edge of the tree of `size` leaves: mutable, appended to one leaf hash at a time. */
export class CompactRange {
  private constructor(private count: bigint, private readonly hashes: Array<Uint8Array>) {}

  /** The range of the empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0n, [])
  }

  /** A range of these leaf hashes. */
  static fromLeafHashes(leafHashes: Iterable<Uint8Array>): CompactRange {
    const range = CompactRange.empty()
    for (const hash of leafHashes) range.append(hash)
    return range
  }

  /** The range of the tree of `size` leaves, from O(log size) complete subtrees of `source`. */
  static fromSource(source: NodeSource, size: bigint): Either.Either<CompactRange, CompactRangeError> {
    if (!isU64(size)) return fail("size-out-of-range", "size", String(size))
    const ids = rangeNodes(0n, size, [])
    const hashes: Array<Uint8Array> = []
    for (const id of ids) {
      const hash = source.node(id.level, id.index)
      if (hash.length !== HASH_BYTES) {
        return fail("hash-length", `node (${id.level}, ${id.index})`, Encoding.encodeHex(hash))
      }
      // a copy: a source may hand out a buffer it reuses
      hashes.push(hash.slice())
    }
    return Either.right(new CompactRange(size, hashes))
  }

  /** The number of leaves. */
  get size(): bigint {
    return this.count
  }

  /** The complete subtrees' hashes, largest (leftmost) first (copies: the range keeps its own). */
  get edge(): Array<Uint8Array> {
    return this.hashes.map((hash) => hash.slice())
  }

  /**
   * Appends a leaf hash (32 bytes; a RangeError otherwise, a caller's bug) and returns the
   * nodes it completes when `completed` is given: the leaf (0, size), then each merged subtree.
   * The leaf hash is copied; the completed nodes' hashes are the range's own (no copy on the
   * appending path): read them, never write to them.
   */
  append(leafHash: Uint8Array, completed?: Array<CompletedNode>): void {
    if (leafHash.length !== HASH_BYTES) throw new RangeError(`leaf hash of ${leafHash.length} bytes`)
    if (this.count === 0xffff_ffff_ffff_ffffn) throw new RangeError("the tree is full (2^64 − 1 leaves)")
    // a copy: the caller may reuse its buffer (a hostile review: the range's root changed with it)
    let hash: Uint8Array = leafHash.slice()
    let index = this.count
    let level = 0
    completed?.push({ level, index, hash })
    // one merge per trailing one bit of the size
    while ((index & 1n) === 1n) {
      hash = hashChildren(this.hashes.pop() as Uint8Array, hash)
      index >>= 1n
      level++
      completed?.push({ level, index, hash })
    }
    this.hashes.push(hash)
    this.count++
  }

  /** RFC 6962 MTH of the tree [0, size). */
  root(): Uint8Array {
    return rootOfSubtrees(this.hashes)
  }

  /** Binary form: u64 big-endian size ‖ the hashes (8 + 32·popcount(size) bytes). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(8 + HASH_BYTES * this.hashes.length)
    new DataView(out.buffer).setBigUint64(0, this.count, false)
    this.hashes.forEach((hash, i) => out.set(hash, 8 + HASH_BYTES * i))
    return out
  }

  /** Text form: the decimal size, then each hash in lowercase hex, one per line, each line ending in "\n". */
  toText(): string {
    let out = `${this.count}\n`
    for (const hash of this.hashes) out += `${Encoding.encodeHex(hash)}\n`
    return out
  }

  /** Decodes the binary form, refusing anything else. */
  static fromBytes(bytes: Uint8Array): Either.Either<CompactRange, CompactRangeError> {
    if (bytes.length < 8) return fail("truncated", "size", `${bytes.length} bytes, 8 needed`)
    const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, false)
    const want = 8 + HASH_BYTES * popCount(size)
    if (bytes.length < want) return fail("truncated", "hashes", `${bytes.length} bytes, ${want} for size ${size}`)
    if (bytes.length > want) return fail("trailing-bytes", "hashes", `${bytes.length} bytes, ${want} for size ${size}`)
    const hashes: Array<Uint8Array> = []
    for (let at = 8; at < want; at += HASH_BYTES) hashes.push(bytes.slice(at, at + HASH_BYTES))
    return Either.right(new CompactRange(size, hashes))
  }

  /** Decodes the text form, refusing anything else. */
  static fromText(text: string): Either.Either<CompactRange, CompactRangeError> {
    if (!text.endsWith("\n")) return fail("truncated", "text", "no final newline")
    const lines = text.slice(0, -1).split("\n")
    const sizeText = lines[0] as string
    if (!/^(?:0|[1-9][0-9]{0,19})$/.test(sizeText)) return fail("not-canonical", "size", JSON.stringify(sizeText))
    const size = BigInt(sizeText)
    if (!isU64(size)) return fail("size-out-of-range", "size", sizeText)
    const want = popCount(size)
    const hashes: Array<Uint8Array> = []
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string
      if (!/^[0-9a-f]{64}$/.test(line)) return fail("not-canonical", `hashes[${i - 1}]`, JSON.stringify(line))
      const hash = new Uint8Array(HASH_BYTES)
      for (let k = 0; k < HASH_BYTES; k++) hash[k] = parseInt(line.slice(2 * k, 2 * k + 2), 16)
      hashes.push(hash)
    }
    if (hashes.length < want) return fail("truncated", "hashes", `${hashes.length} hashes, ${want} for size ${size}`)
    if (hashes.length > want) return fail("hash-count", "hashes", `${hashes.length} hashes, ${want} for size ${size}`)
    return Either.right(new CompactRange(size, hashes))
  }
}
