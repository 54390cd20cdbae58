/**
 * The transparency log's Merkle vectors (shared/tlog-vectors): merkle-roots.json (every root and
 * complete-subtree hash of two trees, single leaf hashes), inclusion.json and consistency.json
 * (every positive case verifies, every negative case is refused; and where a valid case's root is
 * the root of a tree of merkle-roots.json at its size, our RFC 6962 proof generation reproduces
 * its proof: the derived proofs and the transparency-dev and proofgen probes, all but Rekor's).
 *
 * Policy flips (README "Policy differences"), each asserted with the reason we refuse:
 * - consistency with size1 = 0: refused (`empty-first-tree`), as transparency-dev does; the
 *   vectors already expect that, so nothing flips;
 * - a case the vector calls valid with a hash that is not 32 bytes (transparency-dev only compares
 *   roots, e.g. `td:additional/sizes-are-equal-one-and-proof-is-empty`, roots of 12 bytes):
 *   refused with `hash-length`, since every tree hash is 32 bytes. Found by the hashes' lengths,
 *   not by the case's id, so a case of the same kind under another id flips the same way.
 */
import type * as Json from "@calybris/core/Json"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Either from "effect/Either"
import { asInteger, type FileResult, get, getArray, getString, readJson, Tally } from "./vectors.js"

/** The reason our policy refuses a case the vector calls valid: a hash of it that is not 32 bytes. */
const policyFlip = (valid: boolean, hashes: ReadonlyArray<Uint8Array>): Merkle.MerkleReason | undefined =>
  valid && hashes.some((h) => h.length !== 32) ? "hash-length" : undefined

/**
 * The reason a negative case states through its id (transparency-dev's probe names), and the one
 * we must refuse it for; a negative case whose id states none (or several, e.g. a size change,
 * which can fail on the size, the proof's length or the root) only has to be refused. A stated
 * reason is held only where the case's data bears it out (`borneOut`): hashes are checked before
 * the proof's length and the root, so `hash-length` needs a hash that is not 32 bytes, and
 * `wrong-proof-size` or `root-mismatch` needs every hash to be 32 bytes.
 */
const statedReasons: ReadonlyArray<readonly [RegExp, Merkle.MerkleReason]> = [
  [/\/modified-proof|\/swapped-roots$|\/random-root$|^rekor-v2:.*tampered|^td:[0-9]\/empty-root$/, "root-mismatch"],
  [
    /\/(?:truncated-proof|empty-proof|removed-component|inserted-component|trailing-root[12]?|preceding-root[12]?|preceding-proof-@0)$/,
    "wrong-proof-size"
  ],
  [/-garbage$|\/wrong-leaf$|\/wrong-root[12]$|^td:single-entry\/empty-/, "hash-length"],
  [/\/size1-is-greater-than-size2/, "size-order"],
  [
    /\/(?:size1-is-zero|sizes-are-equal-zero|consistency-check-on-empty-tree|roots-do-not-match-and-sizes-are-zero|sizes-match-but-proof-is-not-empty-and-sizes-are-zero)/,
    "empty-first-tree"
  ],
  [/^td:[01]\/leafIdx-sub-@1$/, "index-out-of-range"] // index 0 − 1: the u64 underflow
]

const fromHex = (text: string): Uint8Array => {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) throw new Error(`not lowercase hex: ${text}`)
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

const hexAt = (value: Json.Json | undefined, key: string): Uint8Array => {
  const text = getString(value, key)
  if (text === undefined) throw new Error(`missing ${key}`)
  return fromHex(text)
}

const hexList = (value: Json.Json | undefined, key: string): Array<Uint8Array> =>
  getArray(value, key).map((h) => {
    if (typeof h !== "string") throw new Error(`${key}: not a string`)
    return fromHex(h)
  })

/** A u64 field: a JSON integer, or a decimal string for values beyond 2^53 − 1. */
const u64At = (value: Json.Json | undefined, key: string): bigint => {
  const v = get(value, key)
  if (typeof v === "string" && /^(?:0|[1-9][0-9]*)$/.test(v)) return BigInt(v)
  const n = asInteger(v)
  if (typeof n !== "bigint") throw new Error(`${key}: not an integer`)
  return n
}

const utf8 = new TextEncoder()

/** The trees of merkle-roots.json: their leaf hashes and the root of each size. */
interface Tree {
  readonly leafHashes: Array<Uint8Array>
  readonly roots: Array<string>
}

const trees = (file: string): Array<Tree> =>
  getArray(readJson(file), "sets").map((set) => ({
    leafHashes: hexList(set, "leafHashes"),
    roots: getArray(set, "rootsBySize").map(String)
  }))

const rootsFile = (file: string): string => file.replace(/[^/]*$/, "merkle-roots.json")

export const runMerkleRoots = (file: string): FileResult => {
  const tally = new Tally()
  const doc = readJson(file)
  for (const single of getArray(doc, "singleLeafHashes")) {
    const leaf = getString(single, "leafUtf8") ?? ""
    tally.case(`single leaf ${JSON.stringify(leaf)}`, () => {
      const got = toHex(Merkle.hashLeaf(utf8.encode(leaf)))
      const want = getString(single, "leafHash")
      return got === want ? [] : [`leaf hash ${got}, expected ${want}`]
    })
  }
  for (const set of getArray(doc, "sets")) {
    const id = getString(set, "id") ?? "?"
    const leafHashes = hexList(set, "leafHashes")
    tally.case(`${id}: leaf hashes`, () => {
      const leaves = getArray(set, "leaves").length > 0
        ? hexList(set, "leaves")
        : getArray(set, "leavesUtf8").map((s) => utf8.encode(typeof s === "string" ? s : ""))
      const problems: Array<string> = []
      if (leaves.length !== leafHashes.length) problems.push(`${leaves.length} leaves, ${leafHashes.length} hashes`)
      leaves.forEach((leaf, i) => {
        const got = toHex(Merkle.hashLeaf(leaf))
        if (got !== toHex(leafHashes[i] as Uint8Array)) problems.push(`leaf ${i}: ${got}`)
      })
      return problems
    })
    const tree = Merkle.MemoryTree.fromLeafHashes(leafHashes)
    const levels = getArray(get(set, "nodeHashesByLevel"), "levels")
    levels.forEach((row, level) => {
      tally.case(`${id}: level ${level} nodes`, () => {
        const problems: Array<string> = []
        ;(Array.isArray(row) ? row : []).forEach((h, index) => {
          const got = toHex(tree.node(level, BigInt(index)))
          if (got !== h) problems.push(`node (${level}, ${index}) = ${got}, expected ${String(h)}`)
        })
        return problems
      })
    })
    getArray(set, "rootsBySize").forEach((want, size) => {
      tally.case(`${id}: root of size ${size}`, () => {
        const problems: Array<string> = []
        const reference = toHex(Merkle.referenceRoot(leafHashes.slice(0, size)))
        if (reference !== want) problems.push(`reference root ${reference}, expected ${String(want)}`)
        const fromTree = Either.getOrThrow(Merkle.root(tree, BigInt(size)))
        if (toHex(fromTree) !== want) problems.push(`root from nodes ${toHex(fromTree)}, expected ${String(want)}`)
        return problems
      })
    })
  }
  return tally.result()
}

/** The leaves of the known tree (merkle-roots.json) whose root at `size` is `root`, if any. */
const treeOf = (known: Array<Tree>, size: bigint, root: Uint8Array): Array<Uint8Array> | undefined =>
  known.find((t) => size < BigInt(t.roots.length) && t.roots[Number(size)] === toHex(root))?.leafHashes

/**
 * Generation is checked on every valid case whose tree is known (a tree of merkle-roots.json has
 * its root at its size); the others (a real log's proofs: Rekor's) are verified only. At least one
 * valid case per file must have been reproduced, so the check cannot vanish unseen.
 */
const generationChecked = (reproduced: number, verifiedOnly: number) =>
  reproduced > 0 ? [] : [`no valid proof over a known tree (${verifiedOnly} verified only): generation was not checked`]

/** Whether the case's hashes bear out a reason its id states (see `statedReasons`). */
const borneOut = (reason: Merkle.MerkleReason, hashes: ReadonlyArray<Uint8Array>): boolean => {
  const allWhole = hashes.every((h) => h.length === 32)
  if (reason === "hash-length") return !allWhole
  if (reason === "wrong-proof-size" || reason === "root-mismatch") return allWhole
  return true
}

const verdict = (
  id: string,
  result: Either.Either<void, Merkle.MerkleError>,
  valid: boolean,
  flip: Merkle.MerkleReason | undefined,
  hashes: ReadonlyArray<Uint8Array>,
  problems: Array<string>
) => {
  if (flip !== undefined) {
    if (Either.isRight(result) || result.left.reason !== flip) {
      problems.push(
        `policy: expected refusal with ${flip}, got ${Either.isRight(result) ? "accepted" : result.left.message}`
      )
    }
  } else if (valid && Either.isLeft(result)) {
    problems.push(`valid proof refused: ${result.left.message}`)
  } else if (!valid && Either.isRight(result)) {
    problems.push("invalid proof accepted")
  } else if (!valid && Either.isLeft(result)) {
    const stated = statedReasons.find(([pattern]) => pattern.test(id))?.[1]
    if (stated !== undefined && borneOut(stated, hashes) && result.left.reason !== stated) {
      problems.push(`refused for ${result.left.reason}, not for the stated ${stated}: ${result.left.message}`)
    }
  }
}

export const runInclusion = (file: string): FileResult => {
  const tally = new Tally()
  const known = trees(rootsFile(file))
  let reproduced = 0
  let verifiedOnly = 0
  for (const c of getArray(readJson(file), "cases")) {
    const id = getString(c, "id") ?? "?"
    tally.case(id, () => {
      const problems: Array<string> = []
      const index = u64At(c, "leafIndex")
      const size = u64At(c, "treeSize")
      const leafHash = hexAt(c, "leafHash")
      const proof = hexList(c, "proof")
      const root = hexAt(c, "root")
      const valid = get(c, "valid") === true
      const leafData = getString(c, "leafData")
      if (leafData !== undefined && valid && toHex(Merkle.hashLeaf(fromHex(leafData))) !== toHex(leafHash)) {
        problems.push("leafData does not hash to leafHash")
      }
      // with the entry's bytes, verify from them (as an auditor holding the entry would)
      const entryHash = leafData === undefined ? leafHash : Merkle.hashLeaf(fromHex(leafData))
      const hashes = [entryHash, root, ...proof]
      const flip = policyFlip(valid, hashes)
      verdict(id, Merkle.verifyInclusion(entryHash, index, size, proof, root), valid, flip, hashes, problems)
      const leaves = treeOf(known, size, root)
      if (valid && flip === undefined && leaves === undefined) verifiedOnly++
      if (valid && flip === undefined && leaves !== undefined) {
        const tree = Merkle.MemoryTree.fromLeafHashes(leaves)
        const generated = Either.getOrThrow(Merkle.inclusionProof(tree, index, size)).map(toHex)
        if (generated.join(",") !== proof.map(toHex).join(",")) {
          problems.push(`generated proof differs: ${generated.join(",")}`)
        }
        reproduced++
      }
      return problems
    })
  }
  tally.case(
    "generation: every valid proof over a known tree reproduced",
    () => generationChecked(reproduced, verifiedOnly)
  )
  return tally.result()
}

export const runConsistency = (file: string): FileResult => {
  const tally = new Tally()
  const known = trees(rootsFile(file))
  let reproduced = 0
  let verifiedOnly = 0
  for (const c of getArray(readJson(file), "cases")) {
    const id = getString(c, "id") ?? "?"
    tally.case(id, () => {
      const problems: Array<string> = []
      const size1 = u64At(c, "size1")
      const size2 = u64At(c, "size2")
      const proof = hexList(c, "proof")
      const root1 = hexAt(c, "root1")
      const root2 = hexAt(c, "root2")
      const valid = get(c, "valid") === true
      const hashes = [root1, root2, ...proof]
      const flip = policyFlip(valid, hashes)
      verdict(id, Merkle.verifyConsistency(size1, size2, proof, root1, root2), valid, flip, hashes, problems)
      const leaves = treeOf(known, size2, root2)
      if (valid && flip === undefined && leaves === undefined) verifiedOnly++
      if (valid && flip === undefined && leaves !== undefined) {
        const tree = Merkle.MemoryTree.fromLeafHashes(leaves)
        const generated = Either.getOrThrow(Merkle.consistencyProof(tree, size1, size2)).map(toHex)
        if (generated.join(",") !== proof.map(toHex).join(",")) {
          problems.push(`generated proof differs: ${generated.join(",")}`)
        }
        reproduced++
      }
      return problems
    })
  }
  tally.case(
    "generation: every valid proof over a known tree reproduced",
    () => generationChecked(reproduced, verifiedOnly)
  )
  return tally.result()
}
