/**
 * The RFC 6962 / RFC 9162 Merkle tree over the log's entries: a leaf is an entry's line bytes
 * without the newline, hashed as SHA-256(0x00 ‖ line) (`hashLeaf`); sizes and indices are u64
 * (`bigint`), indices 0-based.
 *
 * - `root` (RFC 6962 §2.1 MTH) from a `NodeSource` — the hash of any complete subtree
 *   (level, index), which a memory array (`MemoryTree`) or a tile store can serve — in O(log n)
 *   node reads; `referenceRoot` is the plain recursive definition over an array of leaf hashes.
 * - `inclusionProof` (RFC 6962 §2.1.1 PATH) and `consistencyProof` (§2.1.2 PROOF) read
 *   O(log n) complete subtrees; the one incomplete ("ephemeral") subtree on the right edge is
 *   hashed from the complete ones that cover it. `inclusionNodes` / `consistencyNodes` give
 *   the node ids to read and `rehash` folds the hashes read, for a source that reads in batches.
 * - `verifyInclusion` (RFC 9162 §2.1.3.2) and `verifyConsistency` (§2.1.4.2) run the RFC's
 *   algorithms on the bit patterns of the sizes, after refusing, each with its own `reason`: a
 *   size or index outside u64 (`size-out-of-range`, `index-out-of-range`, e.g. the u64 underflow
 *   18446744073709551615), an index ≥ size (`index-out-of-range`), size1 > size2
 *   (`size-order`), any hash that is not 32 bytes (`hash-length`: stricter than
 *   transparency-dev/merkle, which compares roots of any length when size1 = size2), a proof of
 *   the wrong length (`wrong-proof-size`, computed from the sizes before any hashing), and a root
 *   that does not match (`root-mismatch`, naming root, root1 or root2).
 *
 * Policy, size1 = 0 (tlog-vectors README "Policy differences"): every consistency check from
 * the empty tree is refused (`empty-first-tree`), 0 → 0 included, as transparency-dev/merkle
 * does since its PR #236. RFC 9162 defines consistency proofs only for 0 < size1 < size2, and
 * an empty tree commits to nothing, so "consistent with the empty tree" is never evidence; a
 * caller holding no earlier checkpoint has nothing to check. `consistencyProof` refuses
 * size1 = 0 for the same reason, so whatever it produces verifies.
 *
 * What a proof does not bind: the tree size. An inclusion proof for (index, size) also verifies
 * for any size' whose RFC 6962 path has the same shape (e.g. leaf 0 of 5 leaves and of 7: the
 * same three siblings, hashed the same way), and a consistency proof likewise for some other
 * size1 or size2. That is inherent in RFC 9162 (every verifier answers the same): the size is
 * authenticated by the signed checkpoint that carries the root, so callers must take size and
 * root from one verified checkpoint, never the size from the proof's sender.
 *
 * Pure and synchronous, no Node API (runs in a browser): hashing through internal/hash.ts.
 */
import { isBytes } from "@calybris/core/Hash"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Schema from "effect/Schema"
import { bitLength, isU64, type NodeId, popCount, rangeNodes, trailingZeros } from "./internal/bits.js"
import { emptyRoot, equalBytes, HASH_BYTES, hashChildren, hashLeaf, rootOfSubtrees } from "./internal/hash.js"

export { emptyRoot, HASH_BYTES, hashChildren, hashLeaf, type NodeId }

/** Why a proof or a tree operation was refused. */
export const MerkleReason = Schema.Literal(
  "size-out-of-range",
  "index-out-of-range",
  "size-order",
  "empty-first-tree",
  "hash-length",
  "wrong-proof-size",
  "root-mismatch"
)
export type MerkleReason = typeof MerkleReason.Type

/** A refused proof (verification or generation): the `reason`, the `field` and its `value`. */
export class MerkleError extends Schema.TaggedError<MerkleError>()("MerkleError", {
  reason: MerkleReason,
  field: Schema.String,
  value: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `Merkle proof refused (${this.reason}): ${this.field} = ${this.value}${
      this.detail === undefined ? "" : ` (${this.detail})`
    }`
  }
}

const fail = (reason: MerkleReason, field: string, value: string, detail?: string) =>
  Either.left(new MerkleError(detail === undefined ? { reason, field, value } : { reason, field, value, detail }))

const hex = (bytes: Uint8Array): string => Encoding.encodeHex(bytes)

/**
 * The hash of every complete subtree (level, index) of a tree: leaves [index·2^level, (index+1)·2^level).
 * Asked only for nodes of a tree of the size it is called with; a source asked for a node it does
 * not hold throws (a caller's bug), as `MemoryTree` does. A source that says its `size` (as
 * `MemoryTree` does) is never asked beyond it: a root or proof of a larger tree is a `MerkleError`
 * (`size-out-of-range`), not a throw (a helper's review of the API).
 */
export interface NodeSource {
  readonly node: (level: number, index: bigint) => Uint8Array
  /** the number of leaves the source holds, when it knows it */
  readonly size?: bigint | undefined
}

/** A size beyond what the source says it holds: refused before any node is asked. */
const beyondSource = (source: NodeSource, field: string, size: bigint): Either.Either<void, MerkleError> => {
  const held: unknown = source.size
  return typeof held === "bigint" && size > held
    ? fail("size-out-of-range", field, String(size), `beyond the ${held} leaves of the tree`)
    : Either.void
}

// ---------------------------------------------------------------------------------------------
// Roots

/** RFC 6962 MTH, the plain recursive definition over leaf hashes (a reference for tests). */
export const referenceRoot = (leafHashes: ReadonlyArray<Uint8Array>): Uint8Array => {
  const mth = (begin: number, end: number): Uint8Array => {
    const n = end - begin
    if (n === 0) return emptyRoot()
    if (n === 1) return (leafHashes[begin] as Uint8Array)
    let k = 1
    while (k * 2 < n) k *= 2
    return hashChildren(mth(begin, begin + k), mth(begin + k, end))
  }
  return mth(0, leafHashes.length)
}

/** The complete subtrees covering [0, size), left to right (largest first). */
const edgeNodes = (size: bigint): Either.Either<Array<NodeId>, MerkleError> =>
  isU64(size) ? Either.right(rangeNodes(0n, size, [])) : fail("size-out-of-range", "size", String(size), "not a u64")

/** The node ids whose hashes make the root of [0, size), right to left: root = H(idₖ ‖ … H(id₁ ‖ id₀)). */
export const rootNodes = (size: bigint): Either.Either<ReadonlyArray<NodeId>, MerkleError> =>
  Either.map(edgeNodes(size), (ids) => ids.reverse())

/** RFC 6962 MTH of the tree of `size` leaves, from O(log size) complete subtrees of `source`. */
export const root = (source: NodeSource, size: bigint): Either.Either<Uint8Array, MerkleError> =>
  Either.flatMap(
    beyondSource(source, "size", size),
    () => Either.map(edgeNodes(size), (ids) => rootOfSubtrees(ids.map((id) => source.node(id.level, id.index))))
  )

// ---------------------------------------------------------------------------------------------
// Proof generation

/**
 * The node ids of a proof, in proof order (from the leaf upward), with one range
 * [ephemeralBegin, ephemeralEnd) of them (right to left) that is folded into one proof element:
 * the incomplete subtree on the tree's right edge.
 */
export interface ProofNodes {
  readonly ids: ReadonlyArray<NodeId>
  readonly ephemeralBegin: number
  readonly ephemeralEnd: number
}

/** Pushes the ids of subtree [begin, end): one complete node, or the right edge's incomplete one (right to left). */
const pushSubtree = (
  ids: Array<NodeId>,
  begin: bigint,
  end: bigint,
  ephemeral: { begin: number; end: number }
) => {
  const count = end - begin
  if ((count & (count - 1n)) === 0n) {
    ids.push({ level: bitLength(count) - 1, index: begin >> BigInt(bitLength(count) - 1) })
  } else {
    // only the right edge is incomplete, and a proof meets it at most once
    ephemeral.begin = ids.length
    const covering = rangeNodes(begin, end, [])
    for (let i = covering.length - 1; i >= 0; i--) ids.push(covering[i] as NodeId)
    ephemeral.end = ids.length
  }
}

/**
 * Walks RFC 6962's recursion from the root down — PATH(m, D[0:size]) for a leaf m, or (`subproof`)
 * SUBPROOF(m, D[0:size], true) for an old size m — collecting the sibling subtrees top-down;
 * returns them leaf-upward. Every sibling is a complete subtree but at most one, on the right edge.
 */
const walk = (m: bigint, size: bigint, subproof: boolean): ProofNodes => {
  const siblings: Array<[bigint, bigint]> = []
  let begin = 0n
  let end = size
  let b = subproof
  for (;;) {
    const n = end - begin
    if (!subproof && n === 1n) break // PATH reached the leaf
    if (subproof && m === end) {
      // SUBPROOF(m, D[begin:end], b): {} when b, else MTH(D[begin:end])
      if (!b) siblings.push([begin, end])
      break
    }
    const k = 1n << BigInt(bitLength(n - 1n) - 1)
    if (subproof ? m <= begin + k : m < begin + k) {
      siblings.push([begin + k, end])
      end = begin + k
    } else {
      siblings.push([begin, begin + k])
      begin += k
      b = false
    }
  }
  const ids: Array<NodeId> = []
  const ephemeral = { begin: 0, end: 0 }
  for (let i = siblings.length - 1; i >= 0; i--) {
    const [begin, end] = siblings[i] as [bigint, bigint]
    pushSubtree(ids, begin, end, ephemeral)
  }
  return { ids, ephemeralBegin: ephemeral.begin, ephemeralEnd: ephemeral.end }
}

/** Refuses a leaf index and tree size no inclusion proof exists for (generation and verification alike). */
const refuseLeaf = (index: bigint, size: bigint): Either.Either<never, MerkleError> | undefined => {
  if (!isU64(size)) return fail("size-out-of-range", "size", String(size), "not a u64")
  if (!isU64(index) || index >= size) {
    const why = typeof index === "bigint" ? `the tree has ${size} leaves` : `not a u64 (a ${typeof index})`
    return fail("index-out-of-range", "index", String(index), why)
  }
  return undefined
}

/**
 * Refuses sizes no consistency proof exists for (generation and verification alike): either not a
 * u64, size1 > size2, and size1 = 0 (the policy of the module's docs).
 */
const refuseSizes = (size1: bigint, size2: bigint): Either.Either<never, MerkleError> | undefined => {
  if (!isU64(size2)) return fail("size-out-of-range", "size2", String(size2), "not a u64")
  if (!isU64(size1)) return fail("size-out-of-range", "size1", String(size1), "not a u64")
  if (size1 > size2) return fail("size-order", "size1", String(size1), `greater than size2 = ${size2}`)
  if (size1 === 0n) return fail("empty-first-tree", "size1", "0", "no consistency proof from the empty tree")
  return undefined
}

/** The nodes of the inclusion proof (RFC 6962 PATH) of leaf `index` in the tree of `size` leaves. */
export const inclusionNodes = (index: bigint, size: bigint): Either.Either<ProofNodes, MerkleError> => {
  const refused = refuseLeaf(index, size)
  if (refused !== undefined) return refused
  return Either.right(walk(index, size, false))
}

/** The nodes of the consistency proof (RFC 6962 PROOF) from `size1` to `size2` leaves (0 < size1 ≤ size2). */
export const consistencyNodes = (size1: bigint, size2: bigint): Either.Either<ProofNodes, MerkleError> => {
  const refused = refuseSizes(size1, size2)
  if (refused !== undefined) return refused
  if (size1 === size2) return Either.right({ ids: [], ephemeralBegin: 0, ephemeralEnd: 0 })
  return Either.right(walk(size1, size2, true))
}

/** Folds the hashes read for `nodes` (same order) into the proof's elements. */
export const rehash = (nodes: ProofNodes, hashes: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  if (hashes.length !== nodes.ids.length) {
    throw new RangeError(`rehash: ${hashes.length} hashes for ${nodes.ids.length} nodes`)
  }
  const { ephemeralBegin: begin, ephemeralEnd: end } = nodes
  if (end - begin <= 1) return hashes.slice()
  const out = hashes.slice(0, begin)
  // the ephemeral subtree's cover, given right to left
  out.push(rootOfSubtrees(hashes.slice(begin, end).reverse()))
  for (let i = end; i < hashes.length; i++) out.push(hashes[i] as Uint8Array)
  return out
}

const read = (source: NodeSource, nodes: ProofNodes): Array<Uint8Array> =>
  rehash(nodes, nodes.ids.map((id) => source.node(id.level, id.index)))

/** The inclusion proof (RFC 6962 PATH) of leaf `index` in the tree of `size` leaves, from `source`. */
export const inclusionProof = (
  source: NodeSource,
  index: bigint,
  size: bigint
): Either.Either<Array<Uint8Array>, MerkleError> =>
  Either.flatMap(
    beyondSource(source, "size", size),
    () => Either.map(inclusionNodes(index, size), (nodes) => read(source, nodes))
  )

/** The consistency proof (RFC 6962 PROOF) between sizes `size1` ≤ `size2` (size1 > 0), from `source`. */
export const consistencyProof = (
  source: NodeSource,
  size1: bigint,
  size2: bigint
): Either.Either<Array<Uint8Array>, MerkleError> =>
  Either.flatMap(
    beyondSource(source, "size2", size2),
    () => Either.map(consistencyNodes(size1, size2), (nodes) => read(source, nodes))
  )

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162)

const wrongLength = (field: string, hash: Uint8Array) =>
  isBytes(hash)
    ? fail("hash-length", field, hex(hash), `${hash.length} bytes, not ${HASH_BYTES}`)
    : fail("hash-length", field, typeof hash, `not ${HASH_BYTES} bytes (a Uint8Array)`)

/** A hash as a JavaScript caller's value: bytes (`Hash.isBytes`: another realm's too) of `HASH_BYTES`. */
const isHash = (x: unknown): boolean => isBytes(x) && x.length === HASH_BYTES

/** The first of these hashes that is not 32 bytes long, refused; undefined when all are. */
const badHash = (
  field1: string,
  hash1: Uint8Array,
  field2: string,
  hash2: Uint8Array,
  proof: ReadonlyArray<Uint8Array>
): Either.Either<never, MerkleError> | undefined => {
  if (!isHash(hash1)) return wrongLength(field1, hash1)
  if (!isHash(hash2)) return wrongLength(field2, hash2)
  if (!Array.isArray(proof)) return fail("hash-length", "proof", typeof proof, "not an array of hashes")
  for (let i = 0; i < proof.length; i++) {
    const hash = proof[i] as Uint8Array
    if (!isHash(hash)) return wrongLength(`proof[${i}]`, hash)
  }
  return undefined
}

const wrongSize = (got: number, want: number) => fail("wrong-proof-size", "proof", `${got} hashes`, `expected ${want}`)

/** The length of the inclusion proof of `index` in a tree of `size` leaves (index < size). */
const inclusionLength = (index: bigint, size: bigint): number => {
  const inner = bitLength(index ^ (size - 1n))
  return inner + popCount(index >> BigInt(inner))
}

/**
 * The walk up a proof that both RFC 9162 verifications share (§2.1.3.2 step 4, §2.1.4.2 step
 * 6): from `proof[at]` on, with `fn` the node's index and `sn` the last index at its level, each
 * element is hashed into `sr` on the side the bits of fn and sn say, and — with `first`, for a
 * consistency proof — into `fr` (the older tree's root) when it is a left sibling. Undefined when
 * the proof runs past the top (sn = 0 before its end) or stops below it (sn ≠ 0 after): a proof
 * of the wrong length for the sizes.
 */
const walkUp = (
  proof: ReadonlyArray<Uint8Array>,
  at: number,
  fn: bigint,
  sn: bigint,
  seed: Uint8Array,
  first: boolean
): { readonly fr: Uint8Array; readonly sr: Uint8Array } | undefined => {
  let fr = seed
  let sr = seed
  for (; at < proof.length; at++) {
    const c = proof[at] as Uint8Array
    if (sn === 0n) return undefined
    if ((fn & 1n) === 1n || fn === sn) {
      if (first) fr = hashChildren(c, fr)
      sr = hashChildren(c, sr)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      sr = hashChildren(sr, c)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n ? { fr, sr } : undefined
}

/**
 * RFC 9162 §2.1.3.2: whether `proof` proves that `leafHash` is leaf `index` of the tree of
 * `size` leaves whose root is `root`. Right with nothing, or Left naming what failed.
 */
export const verifyInclusion = (
  leafHash: Uint8Array,
  index: bigint,
  size: bigint,
  proof: ReadonlyArray<Uint8Array>,
  root: Uint8Array
): Either.Either<void, MerkleError> => {
  const refused = refuseLeaf(index, size)
  if (refused !== undefined) return refused
  const bad = badHash("leafHash", leafHash, "root", root, proof)
  if (bad !== undefined) return bad
  const want = inclusionLength(index, size)
  if (proof.length !== want) return wrongSize(proof.length, want)
  const walked = walkUp(proof, 0, index, size - 1n, leafHash, false)
  if (walked === undefined) return wrongSize(proof.length, want)
  const r = walked.sr
  return equalBytes(r, root) ? Either.void : fail("root-mismatch", "root", hex(root), `the proof gives ${hex(r)}`)
}

/** The length of the consistency proof between 0 < size1 < size2. */
const consistencyLength = (size1: bigint, size2: bigint): number => {
  const inner0 = bitLength((size1 - 1n) ^ (size2 - 1n))
  const border = popCount((size1 - 1n) >> BigInt(inner0))
  const shift = trailingZeros(size1)
  const seedInProof = size1 === 1n << BigInt(shift) ? 0 : 1
  return seedInProof + inner0 - shift + border
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` proves that the tree of `size1` leaves with root `root1`
 * is a prefix of the tree of `size2` leaves with root `root2`. Refuses size1 = 0 (see the
 * module's docs). Right with nothing, or Left naming what failed.
 */
export const verifyConsistency = (
  size1: bigint,
  size2: bigint,
  proof: ReadonlyArray<Uint8Array>,
  root1: Uint8Array,
  root2: Uint8Array
): Either.Either<void, MerkleError> => {
  const refused = refuseSizes(size1, size2)
  if (refused !== undefined) return refused
  const bad = badHash("root1", root1, "root2", root2, proof)
  if (bad !== undefined) return bad
  if (size1 === size2) {
    if (proof.length !== 0) return wrongSize(proof.length, 0)
    return equalBytes(root1, root2)
      ? Either.void
      : fail("root-mismatch", "root2", hex(root2), `sizes are equal and root1 = ${hex(root1)}`)
  }
  const want = consistencyLength(size1, size2)
  if (proof.length !== want) return wrongSize(proof.length, want)
  // 2. a power of two's root is the proof's implicit first element
  const powerOfTwo = (size1 & (size1 - 1n)) === 0n
  const at = powerOfTwo ? 0 : 1
  // 3.–4.
  let fn = size1 - 1n
  let sn = size2 - 1n
  while ((fn & 1n) === 1n) {
    fn >>= 1n
    sn >>= 1n
  }
  // 5.–6. (fr = sr = the seed, then the walk up)
  const walked = walkUp(proof, at, fn, sn, powerOfTwo ? root1 : (proof[0] as Uint8Array), true)
  // 7.
  if (walked === undefined) return wrongSize(proof.length, want)
  const { fr, sr } = walked
  if (!equalBytes(fr, root1)) return fail("root-mismatch", "root1", hex(root1), `the proof gives ${hex(fr)}`)
  if (!equalBytes(sr, root2)) return fail("root-mismatch", "root2", hex(root2), `the proof gives ${hex(sr)}`)
  return Either.void
}

// ---------------------------------------------------------------------------------------------
// A memory tree

/**
 * A tree in memory: every complete subtree's hash, level by level, kept as leaf hashes are
 * appended (each append hashes the subtrees it completes). A `NodeSource` for tests and small logs.
 */
export class MemoryTree implements NodeSource {
  private readonly levels: Array<Array<Uint8Array>> = [[]]

  /** A tree of these leaf hashes. */
  static fromLeafHashes(leafHashes: Iterable<Uint8Array>): MemoryTree {
    const tree = new MemoryTree()
    for (const hash of leafHashes) tree.append(hash)
    return tree
  }

  /** The number of leaves. */
  get size(): bigint {
    return BigInt((this.levels[0] as Array<Uint8Array>).length)
  }

  /** Appends a leaf hash (32 bytes; copied: the caller may reuse its buffer). */
  append(leafHash: Uint8Array): void {
    let hash: Uint8Array = leafHash.slice()
    for (let level = 0;; level++) {
      const row = this.levels[level] ?? (this.levels[level] = [])
      row.push(hash)
      if ((row.length & 1) === 1) return
      hash = hashChildren(row[row.length - 2] as Uint8Array, hash)
    }
  }

  node(level: number, index: bigint): Uint8Array {
    const hash = this.levels[level]?.[Number(index)]
    if (hash === undefined) throw new RangeError(`MemoryTree: no complete node (${level}, ${index})`)
    // a copy: a proof built of it may be changed by its holder, the tree never
    return hash.slice()
  }
}
