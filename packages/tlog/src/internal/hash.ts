/**
 * RFC 6962 §2.1 hashing, shared by the tree, its proofs and tiles: a leaf hash is
 * SHA-256(0x00 ‖ data), an interior node's SHA-256(0x01 ‖ left ‖ right), and the empty tree's
 * root SHA-256(""). SHA-256 is core's default (`node:crypto` where the runtime has it, else
 * `@noble/hashes`; chosen once when the module loads), so this runs in a browser too.
 */
import * as Hash from "@calybris/core/Hash"

const sha256 = Hash.defaultHash.sha256

/** A tree hash's length in bytes. */
export const HASH_BYTES = 32

/** Leaves up to this many bytes are prefixed in one reused buffer (a WAL line is ~1 KB); longer ones get their own. */
const LEAF_SCRATCH_MAX = 64 * 1024
let leafScratch = new Uint8Array(4096)

/** SHA-256(0x00 ‖ data): the hash of a leaf whose bytes are `data`. */
export const hashLeaf = (data: Uint8Array): Uint8Array => {
  const length = data.length + 1
  if (length > leafScratch.length) {
    if (length > LEAF_SCRATCH_MAX) {
      const buffer = new Uint8Array(length)
      buffer.set(data, 1)
      return sha256(buffer)
    }
    leafScratch = new Uint8Array(Math.min(LEAF_SCRATCH_MAX, Math.max(length, leafScratch.length * 2)))
  }
  leafScratch.set(data, 1)
  return sha256(leafScratch.subarray(0, length))
}

const node = new Uint8Array(1 + 2 * HASH_BYTES)
node[0] = 1

/**
 * SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. Two 32-byte hashes (every tree
 * node) go through one reused buffer; other lengths are hashed as given, in a buffer of their own.
 */
export const hashChildren = (left: Uint8Array, right: Uint8Array): Uint8Array => {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    const buffer = new Uint8Array(1 + left.length + right.length)
    buffer[0] = 1
    buffer.set(left, 1)
    buffer.set(right, 1 + left.length)
    return sha256(buffer)
  }
  node.set(left, 1)
  node.set(right, 1 + HASH_BYTES)
  return sha256(node)
}

/** The root of the empty tree: SHA-256 of no bytes. */
export const emptyRoot = (): Uint8Array => sha256(new Uint8Array(0))

/**
 * The hash of adjacent complete subtrees joined as RFC 6962 joins them along a tree's right edge
 * (each one the left child of the join of all that follow): H(h₀ ‖ H(h₁ ‖ … H(hₖ₋₁ ‖ hₖ))), for
 * hashes given left to right, largest first. The root of a tree from the subtrees covering it
 * (`rangeNodes(0, size)`), and the proofs' incomplete right-edge subtree from the ones covering
 * it; none gives the empty tree's root.
 */
export const rootOfSubtrees = (hashes: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (hashes.length === 0) return emptyRoot()
  // one subtree: its hash, copied (the caller's array, or a tree's own node, never handed out)
  if (hashes.length === 1) return (hashes[0] as Uint8Array).slice()
  let root = hashes[hashes.length - 1] as Uint8Array
  for (let i = hashes.length - 2; i >= 0; i--) root = hashChildren(hashes[i] as Uint8Array, root)
  return root
}

/** Whether two byte arrays hold the same bytes (hashes and roots: public data, no timing to hide). */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
