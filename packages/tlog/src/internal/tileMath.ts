/**
 * The arithmetic under Tiles.ts (c2sp.org/tlog-tiles): the `x`-grouped decimal form of a tile
 * index, the canonical decimal numbers of a path, and hashing a perfect subtree up from its
 * hashes at a lower level. Pure and free of Node APIs; the typed errors are Tiles.ts's (this file
 * answers with a reason or `undefined`, and the public module turns it into its error).
 */
import { U64_MAX } from "./bits.js"
import { HASH_BYTES, hashChildren } from "./hash.js"

export { U64_MAX }

/**
 * N in groups of 3 digits, every group but the last prefixed with `x` (1234067 →
 * `x001/x234/067`); the first group is padded too (`000` for 0).
 */
export const formatIndex = (n: bigint): string => {
  let digits = n.toString()
  const pad = (3 - (digits.length % 3)) % 3
  digits = "0".repeat(pad) + digits
  const groups: Array<string> = []
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3))
  const last = groups.length - 1
  return groups.map((g, i) => (i === last ? g : `x${g}`)).join("/")
}

const GROUP_X = /^x[0-9]{3}$/
const GROUP_LAST = /^[0-9]{3}$/

/**
 * The inverse of `formatIndex` over its `/`-separated groups: the value, or why the groups are
 * not the canonical form of a u64 (a group that is not `xDDD` / `DDD`, a leading `x000` group,
 * more than u64).
 */
export const parseIndexGroups = (groups: ReadonlyArray<string>): bigint | string => {
  if (groups.length === 0) return "no index"
  let value = 0n
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] as string
    const last = i === groups.length - 1
    if (!(last ? GROUP_LAST : GROUP_X).test(group)) {
      return last
        ? `the index's last group "${group}" is not 3 decimal digits without an x prefix`
        : `the index's group "${group}" is not x followed by 3 decimal digits`
    }
    if (i === 0 && !last && group === "x000") return "the index has a leading x000 group (not canonical)"
    value = value * 1000n + BigInt(last ? group : group.slice(1))
    if (value > U64_MAX) return "the index exceeds 2^64-1" // early: a path of many groups costs no more
  }
  return value
}

const DECIMAL = /^(0|[1-9][0-9]*)$/

/** A canonical decimal (no sign, no leading zero) of at most `max`, or undefined. */
export const parseSmallDecimal = (text: string, max: number): number | undefined => {
  if (text.length > 3 || !DECIMAL.test(text)) return undefined
  const value = Number(text)
  return value <= max ? value : undefined
}

/** The 32-byte hash at `position` of a tile's bytes (a view, not a copy). */
export const hashAt = (bytes: Uint8Array, position: number): Uint8Array =>
  bytes.subarray(position * HASH_BYTES, (position + 1) * HASH_BYTES)

/**
 * The root of the perfect subtree whose `count` (a power of two) hashes at one level sit at
 * positions `from`.. of `bytes`: hashed up pairwise, left to right.
 */
export const hashUp = (bytes: Uint8Array, from: number, count: number): Uint8Array => {
  if (count === 1) return hashAt(bytes, from).slice()
  let level: Array<Uint8Array> = []
  for (let i = 0; i < count; i += 2) level.push(hashChildren(hashAt(bytes, from + i), hashAt(bytes, from + i + 1)))
  while (level.length > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < level.length; i += 2) {
      next.push(hashChildren(level[i] as Uint8Array, level[i + 1] as Uint8Array))
    }
    level = next
  }
  return level[0] as Uint8Array
}

/** Concatenated hashes: a hash tile's bytes. */
export const concatHashes = (hashes: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(hashes.length * HASH_BYTES)
  hashes.forEach((h, i) => out.set(h, i * HASH_BYTES))
  return out
}
