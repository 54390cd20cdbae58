/**
 * C2SP tlog-tiles (c2sp.org/tlog-tiles; shared/tlog-vectors/README.md "Spec notes"): the static
 * files a log serves so that any client can read its Merkle tree and entries.
 *
 * - Paths: `tile/<L>/<N>[.p/<W>]` for hash tiles and `tile/entries/<N>[.p/<W>]` for entry
 *   bundles. N is written in groups of 3 digits, every group but the last prefixed with `x`
 *   (1234067 → `x001/x234/067`); `.p/<W>` marks a partial tile of width W (1–255), a full tile
 *   (256) has no suffix. Parsing accepts exactly what formatting produces, and refuses
 *   everything else with a `TilePathError` naming the path and what is wrong: a level that is
 *   not a canonical decimal in 0–63 (tessera's bound), an index group that is not `xDDD`/`DDD`,
 *   a leading `x000` group (two paths for one tile), an index above 2^64−1, a width that is not a
 *   canonical decimal in 1–255, and Go sumdb's `tile/<H>/<L>/<N>` form (not C2SP's).
 * - Which tiles exist for a tree size s: at level L, floor(s/256^(L+1)) full tiles and a partial
 *   one of width floor(s/256^L) mod 256 when that is not 0.
 * - A hash tile is the concatenation of its hashes: 8192 bytes when full, W×32 when partial. A
 *   level-L tile holds the hashes of tree level 8L, i.e. tile N's hash i is the root of the
 *   perfect subtree over leaves [(256N+i)·256^L, (256N+i+1)·256^L).
 * - An entry bundle is a sequence of uint16-BE length ‖ entry bytes, at most 256 entries;
 *   parsing refuses a truncated length or entry, an entry count other than the width asked for,
 *   and more than 256 entries; encoding refuses an entry longer than 65535 bytes.
 * - Reading the tree from tiles: the hash of any complete subtree and the root of a tree of
 *   size n, over a `TileReader` (a directory, a memory map or an HTTP fetcher can serve it;
 *   `rootTiles` lists the tiles to fetch first, at most 2 per level). A tile the reader does not
 *   have is a `TileMissing`; a tile of the wrong length a `TileBytesError`. A reader that falls back to a full tile when a partial one is gone (as
 *   C2SP allows clients to) slices it itself: this module asks for exactly the width that
 *   exists at that size and takes exactly that many bytes.
 * - Writing: given the leaf hashes (or entries) appended to a tree of size m, the tiles (or
 *   bundles) that change and their new bytes, so a log can write them as static files.
 *
 * Pure and synchronous: hashing goes through internal/hash.ts (RFC 6962 §2.1), no Node API.
 * Sizes and indices are u64 as `bigint`; levels and widths are small `number`s.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { type NodeId, rangeNodes } from "./internal/bits.js"
import { HASH_BYTES, rootOfSubtrees } from "./internal/hash.js"
import { kindOf } from "./internal/quote.js"
import {
  concatHashes,
  formatIndex,
  hashAt,
  hashUp,
  parseIndexGroups,
  parseSmallDecimal,
  U64_MAX
} from "./internal/tileMath.js"

/** Hashes (or entries) in a full tile (or bundle). */
export const TILE_WIDTH = 256
/** Tree levels a tile spans: a level-L tile holds the hashes of tree level 8L. */
export const TILE_HEIGHT = 8
/** Bytes of a full hash tile. */
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_BYTES
/** The highest tile level a path may name (tessera's bound). */
export const MAX_LEVEL = 63
/** The longest entry an entry bundle can hold (its length prefix is a uint16). */
export const MAX_ENTRY_BYTES = 0xffff

// ---------------------------------------------------------------------------------------------
// Errors

/** A path that is not a C2SP tile or entry-bundle path. */
export class TilePathError extends Schema.TaggedError<TilePathError>()("TilePathError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `not a tlog-tiles path: "${this.path}": ${this.reason}`
  }
}

/** An argument out of its range (a level, index, width, size or subtree), named with its value. */
export class TileRangeError extends Schema.TaggedError<TileRangeError>()("TileRangeError", {
  field: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.field} = ${this.value}: ${this.reason}`
  }
}

/** Bytes that are not the hash tile asked for (`level` -1: not from a tile, e.g. a hash appended). */
export class TileBytesError extends Schema.TaggedError<TileBytesError>()("TileBytesError", {
  level: Schema.Number,
  index: Schema.BigInt,
  width: Schema.Number,
  length: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `tile ${this.level}/${this.index} (width ${this.width}): ${this.reason} (${this.length} bytes)`
  }
}

/** The reader has no tile (or bundle) at this place and width. `level` is "entries" for bundles. */
export class TileMissing extends Schema.TaggedError<TileMissing>()("TileMissing", {
  level: Schema.Union(Schema.Number, Schema.Literal("entries")),
  index: Schema.BigInt,
  width: Schema.Number
}) {
  override get message(): string {
    return `tile ${this.level}/${this.index} of width ${this.width} is missing`
  }
}

/** Bytes that are not an entry bundle, or entries that do not fit one. */
export class EntryBundleError extends Schema.TaggedError<EntryBundleError>()("EntryBundleError", {
  /** byte offset in the bundle (parsing), or the entry's position (encoding) */
  offset: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `entry bundle: ${this.reason} (at ${this.offset})`
  }
}

/** Every way reading a tree from tiles can fail. */
export type TileReadError = TileMissing | TileBytesError | TileRangeError

// ---------------------------------------------------------------------------------------------
// Paths

/** A hash tile: level L, index N, width W (256 when full). */
export class HashTile extends Schema.TaggedClass<HashTile>()("HashTile", {
  level: Schema.Int.pipe(Schema.between(0, MAX_LEVEL)),
  index: Schema.BigIntFromSelf.pipe(Schema.betweenBigInt(0n, U64_MAX)),
  width: Schema.Int.pipe(Schema.between(1, TILE_WIDTH))
}) {}

/** An entry bundle: index N, width W (256 when full). */
export class EntriesTile extends Schema.TaggedClass<EntriesTile>()("EntriesTile", {
  index: Schema.BigIntFromSelf.pipe(Schema.betweenBigInt(0n, U64_MAX)),
  width: Schema.Int.pipe(Schema.between(1, TILE_WIDTH))
}) {}

const checkLevel = (level: number): TileRangeError | undefined =>
  Number.isInteger(level) && level >= 0 && level <= MAX_LEVEL
    ? undefined
    : new TileRangeError({ field: "level", value: String(level), reason: `not an integer in 0..${MAX_LEVEL}` })

const checkIndex = (index: bigint, field = "index"): TileRangeError | undefined =>
  index >= 0n && index <= U64_MAX
    ? undefined
    : new TileRangeError({ field, value: index.toString(), reason: "not a u64" })

const checkWidth = (width: number): TileRangeError | undefined =>
  Number.isInteger(width) && width >= 1 && width <= TILE_WIDTH
    ? undefined
    : new TileRangeError({ field: "width", value: String(width), reason: `not an integer in 1..${TILE_WIDTH}` })

const suffix = (width: number): string => (width === TILE_WIDTH ? "" : `.p/${width}`)

/** `tile/<L>/<N>[.p/<W>]`; width 256 (the default) is a full tile. */
export const tilePath = (
  level: number,
  index: bigint,
  width: number = TILE_WIDTH
): Either.Either<string, TileRangeError> => {
  const bad = checkLevel(level) ?? checkIndex(index) ?? checkWidth(width)
  return bad !== undefined ? Either.left(bad) : Either.right(`tile/${level}/${formatIndex(index)}${suffix(width)}`)
}

/** `tile/entries/<N>[.p/<W>]`; width 256 (the default) is a full bundle. */
export const entriesPath = (index: bigint, width: number = TILE_WIDTH): Either.Either<string, TileRangeError> => {
  const bad = checkIndex(index) ?? checkWidth(width)
  return bad !== undefined ? Either.left(bad) : Either.right(`tile/entries/${formatIndex(index)}${suffix(width)}`)
}

/** The path of a parsed (or built) tile. */
export const formatPath = (tile: HashTile | EntriesTile): string =>
  tile._tag === "HashTile"
    ? `tile/${tile.level}/${formatIndex(tile.index)}${suffix(tile.width)}`
    : `tile/entries/${formatIndex(tile.index)}${suffix(tile.width)}`

/** The path of the entry bundle holding leaf `leafIndex` in a tree of size `treeSize`. */
export const entriesPathForLeaf = (leafIndex: bigint, treeSize: bigint): Either.Either<string, TileRangeError> => {
  const bad = checkIndex(leafIndex, "leafIndex") ?? checkIndex(treeSize, "treeSize")
  if (bad !== undefined) return Either.left(bad)
  if (leafIndex >= treeSize) {
    return Either.left(
      new TileRangeError({
        field: "leafIndex",
        value: leafIndex.toString(),
        reason: `not below the tree size ${treeSize}`
      })
    )
  }
  const index = leafIndex >> 8n
  return entriesPath(index, widthAt(treeSize, 0, index))
}

/**
 * Parses a tile or entry-bundle path (relative to the log's prefix, e.g. `tile/0/x001/234.p/7`),
 * accepting exactly the paths `tilePath`/`entriesPath` produce.
 */
export const parsePath = (path: string): Either.Either<HashTile | EntriesTile, TilePathError> => {
  if (typeof path !== "string") return Either.left(new TilePathError({ path: kindOf(path), reason: "not a string" }))
  const fail = (reason: string) => Either.left(new TilePathError({ path, reason }))
  const segments = path.split("/")
  if (segments[0] !== "tile") return fail(`does not start with "tile/"`)
  if (segments.length < 3) return fail("has no index")
  const head = segments[1] as string
  let level: number | undefined
  if (head !== "entries") {
    level = parseSmallDecimal(head, MAX_LEVEL)
    if (level === undefined) return fail(`the level "${head}" is not "entries" nor a decimal in 0..${MAX_LEVEL}`)
  }
  let groups = segments.slice(2)
  let width = TILE_WIDTH
  const beforeLast = groups.length >= 2 ? groups[groups.length - 2] as string : ""
  if (beforeLast.endsWith(".p")) {
    const text = groups[groups.length - 1] as string
    const parsed = parseSmallDecimal(text, TILE_WIDTH - 1)
    if (parsed === undefined || parsed === 0) return fail(`the partial width "${text}" is not a decimal in 1..255`)
    width = parsed
    groups = [...groups.slice(0, -2), beforeLast.slice(0, -2)]
  }
  const index = parseIndexGroups(groups)
  if (typeof index === "string") return fail(index)
  return Either.right(
    level === undefined ? new EntriesTile({ index, width }) : new HashTile({ level, index, width })
  )
}

// ---------------------------------------------------------------------------------------------
// Tiles of a tree size

/** The tiles of one level for a tree size: `fullTiles` full ones, then one of `partialWidth` if not 0. */
export interface LevelTiles {
  readonly level: number
  readonly fullTiles: bigint
  readonly partialWidth: number
}

/** Nodes at tree level 8L in a tree of size s: floor(s / 256^L). */
const nodesAt = (treeSize: bigint, level: number): bigint => treeSize >> BigInt(TILE_HEIGHT * level)

/** The width of tile `index` at `level` in a tree of size `treeSize` (0: the tile does not exist). */
export const widthAt = (treeSize: bigint, level: number, index: bigint): number => {
  const rest = nodesAt(treeSize, level) - (index << 8n)
  return rest <= 0n ? 0 : rest >= 256n ? TILE_WIDTH : Number(rest)
}

/** The tiles that exist for a tree size, level by level (none for the empty tree). */
export const tilesForSize = (treeSize: bigint): ReadonlyArray<LevelTiles> => {
  const out: Array<LevelTiles> = []
  for (let level = 0; nodesAt(treeSize, level) > 0n; level++) {
    const nodes = nodesAt(treeSize, level)
    out.push({ level, fullTiles: nodes >> 8n, partialWidth: Number(nodes & 255n) })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Hash tiles' bytes

/** A hash tile's bytes from its 1–256 hashes of 32 bytes. */
export const encodeHashTile = (hashes: ReadonlyArray<Uint8Array>): Either.Either<Uint8Array, TileRangeError> => {
  if (hashes.length < 1 || hashes.length > TILE_WIDTH) {
    return Either.left(
      new TileRangeError({ field: "hashes", value: String(hashes.length), reason: "a tile holds 1..256 hashes" })
    )
  }
  const bad = hashes.findIndex((h) => h.length !== HASH_BYTES)
  if (bad >= 0) {
    return Either.left(
      new TileRangeError({
        field: `hashes[${bad}]`,
        value: `${hashes[bad]?.length} bytes`,
        reason: "not a 32-byte hash"
      })
    )
  }
  return Either.right(concatHashes(hashes))
}

/** The hashes of tile `level/index` of width `width`: exactly width×32 bytes (8192 when full). */
export const parseHashTile = (
  bytes: Uint8Array,
  width: number,
  level = 0,
  index = 0n
): Either.Either<ReadonlyArray<Uint8Array>, TileBytesError | TileRangeError> => {
  const bad = checkWidth(width)
  if (bad !== undefined) return Either.left(bad)
  if (bytes.length !== width * HASH_BYTES) {
    return Either.left(
      new TileBytesError({ level, index, width, length: bytes.length, reason: `expected ${width * HASH_BYTES} bytes` })
    )
  }
  const out: Array<Uint8Array> = []
  for (let i = 0; i < width; i++) out.push(hashAt(bytes, i).slice())
  return Either.right(out)
}

// ---------------------------------------------------------------------------------------------
// Entry bundles

/** An entry bundle's bytes: each entry as uint16-BE length ‖ bytes; 1–256 entries of ≤ 65535 bytes. */
export const encodeEntryBundle = (entries: ReadonlyArray<Uint8Array>): Either.Either<Uint8Array, EntryBundleError> => {
  if (entries.length < 1 || entries.length > TILE_WIDTH) {
    return Either.left(new EntryBundleError({ offset: entries.length, reason: "a bundle holds 1..256 entries" }))
  }
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    const length = (entries[i] as Uint8Array).length
    if (length > MAX_ENTRY_BYTES) {
      return Either.left(new EntryBundleError({ offset: i, reason: `entry ${i} has ${length} bytes, more than 65535` }))
    }
    total += 2 + length
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const entry of entries) {
    out[at] = entry.length >> 8
    out[at + 1] = entry.length & 0xff
    out.set(entry, at + 2)
    at += 2 + entry.length
  }
  return Either.right(out)
}

/**
 * The entries of a bundle. Refuses a bundle cut inside a length or an entry, more than 256
 * entries, and — when `width` is given — a count other than `width`. The entries are views into
 * `bytes`.
 */
export const parseEntryBundle = (
  bytes: Uint8Array,
  width?: number
): Either.Either<ReadonlyArray<Uint8Array>, EntryBundleError | TileRangeError> => {
  if (width !== undefined) {
    const bad = checkWidth(width)
    if (bad !== undefined) return Either.left(bad)
  }
  const out: Array<Uint8Array> = []
  let at = 0
  while (at < bytes.length) {
    if (out.length === TILE_WIDTH) {
      return Either.left(new EntryBundleError({ offset: at, reason: "more than 256 entries" }))
    }
    if (at + 2 > bytes.length) {
      return Either.left(new EntryBundleError({ offset: at, reason: "truncated: a length prefix is cut" }))
    }
    const length = ((bytes[at] as number) << 8) | (bytes[at + 1] as number)
    if (at + 2 + length > bytes.length) {
      return Either.left(
        new EntryBundleError({
          offset: at,
          reason: `truncated: entry ${out.length} needs ${length} bytes, ${bytes.length - at - 2} remain`
        })
      )
    }
    out.push(bytes.subarray(at + 2, at + 2 + length))
    at += 2 + length
  }
  if (width !== undefined && out.length !== width) {
    return Either.left(new EntryBundleError({ offset: at, reason: `${out.length} entries, expected ${width}` }))
  }
  return Either.right(out)
}

// ---------------------------------------------------------------------------------------------
// Reading the tree from tiles

/**
 * Serves a hash tile's bytes (exactly `width`×32 of them), or undefined when it has none. A
 * directory, a memory map or an HTTP fetcher (which fetches ahead, then calls this) can serve it.
 */
export type TileReader = (level: number, index: bigint, width: number) => Uint8Array | undefined

/** One call's tiles, each read and checked once. */
const cached = (read: TileReader) => {
  const tiles = new Map<string, Uint8Array>()
  return (level: number, index: bigint, width: number): Either.Either<Uint8Array, TileMissing | TileBytesError> => {
    const key = `${level}/${index}/${width}`
    const known = tiles.get(key)
    if (known !== undefined) return Either.right(known)
    const bytes = read(level, index, width)
    if (bytes === undefined) return Either.left(new TileMissing({ level, index, width }))
    if (bytes.length !== width * HASH_BYTES) {
      return Either.left(
        new TileBytesError({
          level,
          index,
          width,
          length: bytes.length,
          reason: `expected ${width * HASH_BYTES} bytes`
        })
      )
    }
    tiles.set(key, bytes)
    return Either.right(bytes)
  }
}

/** Where the complete subtree (height, index) of a tree of size `treeSize` is read from. */
const locate = (treeSize: bigint, height: number, index: bigint) => {
  const level = Math.floor(height / TILE_HEIGHT)
  const rest = height - level * TILE_HEIGHT
  const first = index << BigInt(rest)
  const tileIndex = first >> 8n
  return {
    level,
    tileIndex,
    width: widthAt(treeSize, level, tileIndex),
    offset: Number(first & 255n),
    count: 1 << rest
  }
}

const subtreeHash = (
  read: ReturnType<typeof cached>,
  treeSize: bigint,
  height: number,
  index: bigint
): Either.Either<Uint8Array, TileMissing | TileBytesError> => {
  const at = locate(treeSize, height, index)
  return Either.map(read(at.level, at.tileIndex, at.width), (bytes) => hashUp(bytes, at.offset, at.count))
}

/** The complete subtrees of a tree of size `treeSize`, left to right: one per bit, highest first. */
const subtreesOf = (treeSize: bigint): Array<NodeId> => rangeNodes(0n, treeSize, [])

const checkSize = (treeSize: bigint): TileRangeError | undefined => checkIndex(treeSize, "treeSize")

/**
 * The hash of the complete subtree of height `height` (leaves [index·2^h, (index+1)·2^h)) in a
 * tree of size `treeSize`, from the tile that holds its level (height 8L: read; between tile
 * levels: hashed up from the tile below). The subtree must lie within the tree.
 */
export const nodeHash = (
  read: TileReader,
  treeSize: bigint,
  height: number,
  index: bigint
): Either.Either<Uint8Array, TileReadError> => {
  const bad = checkSize(treeSize) ??
    (Number.isInteger(height) && height >= 0 && height < 64
      ? undefined
      : new TileRangeError({ field: "height", value: String(height), reason: "not an integer in 0..63" })) ??
    checkIndex(index)
  if (bad !== undefined) return Either.left(bad)
  if ((index + 1n) << BigInt(height) > treeSize) {
    return Either.left(
      new TileRangeError({
        field: "index",
        value: index.toString(),
        reason: `the subtree of height ${height} is not complete in a tree of size ${treeSize}`
      })
    )
  }
  return subtreeHash(cached(read), treeSize, height, index)
}

/**
 * The tree of size `treeSize` as a `Merkle.NodeSource` read from its tiles (`nodeHash`), for
 * `Merkle.inclusionProof`, `consistencyProof` and `root`. A `NodeSource` answers synchronously:
 * a node the tiles cannot give (a tile `read` lacks, a node outside the tree) throws its
 * `TileReadError` — for tiles at hand (a directory, a fetched set), not for untrusted sizes.
 */
export const nodeSource = (
  read: TileReader,
  treeSize: bigint
): { readonly node: (height: number, index: bigint) => Uint8Array; readonly size: bigint } => ({
  node: (height, index) => Either.getOrThrowWith(nodeHash(read, treeSize, height, index), (error) => error),
  // (a root or proof of a larger tree is then a MerkleError, before any tile is asked)
  size: treeSize
})

/**
 * The root (RFC 6962 MTH) of the tree of size `treeSize` from its tiles: the hashes of its
 * complete subtrees, left to right (one per bit of the size), folded from the right.
 */
export const rootFromTiles = (read: TileReader, treeSize: bigint): Either.Either<Uint8Array, TileReadError> => {
  const bad = checkSize(treeSize)
  if (bad !== undefined) return Either.left(bad)
  const reader = cached(read)
  const hashes: Array<Uint8Array> = []
  for (const { index, level: height } of subtreesOf(treeSize)) {
    const hash = subtreeHash(reader, treeSize, height, index)
    if (Either.isLeft(hash)) return hash
    hashes.push(hash.right)
  }
  return Either.right(rootOfSubtrees(hashes))
}

/**
 * The tiles `rootFromTiles` reads for a tree of size `treeSize` (at most 2 per level), so that an
 * asynchronous source (HTTP) can fetch them first and then serve the pure computation.
 */
export const rootTiles = (treeSize: bigint): Either.Either<ReadonlyArray<HashTile>, TileRangeError> => {
  const bad = checkSize(treeSize)
  if (bad !== undefined) return Either.left(bad)
  const out: Array<HashTile> = []
  for (const { index, level: height } of subtreesOf(treeSize)) {
    const at = locate(treeSize, height, index)
    const seen = out.some((t) => t.level === at.level && t.index === at.tileIndex && t.width === at.width)
    if (!seen) out.push(new HashTile({ level: at.level, index: at.tileIndex, width: at.width }))
  }
  return Either.right(out)
}

// ---------------------------------------------------------------------------------------------
// Writing tiles

/** A tile (or bundle) to write: where, and its whole new content. */
export interface TileWrite {
  /** "entries" for an entry bundle */
  readonly level: number | "entries"
  readonly index: bigint
  readonly width: number
  readonly path: string
  readonly bytes: Uint8Array
}

const checkAppend = (oldSize: bigint, count: number): TileRangeError | undefined =>
  checkSize(oldSize) ??
    (oldSize + BigInt(count) > U64_MAX
      ? new TileRangeError({ field: "treeSize", value: (oldSize + BigInt(count)).toString(), reason: "exceeds 2^64-1" })
      : undefined)

/**
 * The hash tiles that change when `leafHashes` are appended to a tree of size `oldSize`, with
 * their new bytes, level by level and left to right. Reads the old partial tile of each level
 * that grows (the tiles of the tree of size `oldSize`); a completed level-L tile gives the next
 * level its new hash (its 256 hashes hashed up 8 levels). Writing them all (then the
 * checkpoint) publishes the tree of the new size.
 */
export const appendTiles = (
  read: TileReader,
  oldSize: bigint,
  leafHashes: ReadonlyArray<Uint8Array>
): Either.Either<ReadonlyArray<TileWrite>, TileReadError> => {
  const bad = checkAppend(oldSize, leafHashes.length)
  if (bad !== undefined) return Either.left(bad)
  const wrong = leafHashes.findIndex((h) => h.length !== HASH_BYTES)
  if (wrong >= 0) {
    return Either.left(
      new TileBytesError({
        level: -1,
        index: BigInt(wrong),
        width: 1,
        length: leafHashes[wrong]?.length ?? 0,
        reason: "not a 32-byte leaf hash"
      })
    )
  }
  const reader = cached(read)
  const out: Array<TileWrite> = []
  let fresh: ReadonlyArray<Uint8Array> = leafHashes
  for (let level = 0; fresh.length > 0; level++) {
    const before = nodesAt(oldSize, level)
    const firstTile = before >> 8n
    const kept = Number(before & 255n)
    let hashes: Array<Uint8Array> = []
    if (kept > 0) {
      const old = reader(level, firstTile, kept)
      if (Either.isLeft(old)) return Either.left(old.left)
      for (let i = 0; i < kept; i++) hashes.push(hashAt(old.right, i))
    }
    hashes = hashes.concat(fresh)
    const next: Array<Uint8Array> = []
    for (let at = 0, tile = firstTile; at < hashes.length; at += TILE_WIDTH, tile++) {
      const chunk = hashes.slice(at, at + TILE_WIDTH)
      const bytes = concatHashes(chunk)
      out.push({
        level,
        index: tile,
        width: chunk.length,
        path: `tile/${level}/${formatIndex(tile)}${suffix(chunk.length)}`,
        bytes
      })
      if (chunk.length === TILE_WIDTH) next.push(hashUp(bytes, 0, TILE_WIDTH))
    }
    fresh = next
  }
  return Either.right(out)
}

/**
 * Reads an entry bundle's bytes (exactly `width` entries), or undefined when it has none.
 */
export type BundleReader = (index: bigint, width: number) => Uint8Array | undefined

/**
 * The entry bundles that change when `entries` are appended to a log of size `oldSize`, with
 * their new bytes: the old partial bundle (read and parsed) completed, then new ones.
 */
export const appendEntryBundles = (
  read: BundleReader,
  oldSize: bigint,
  entries: ReadonlyArray<Uint8Array>
): Either.Either<ReadonlyArray<TileWrite>, TileMissing | EntryBundleError | TileRangeError> => {
  const bad = checkAppend(oldSize, entries.length)
  if (bad !== undefined) return Either.left(bad)
  if (entries.length === 0) return Either.right([])
  const long = entries.findIndex((e) => e.length > MAX_ENTRY_BYTES)
  if (long >= 0) {
    return Either.left(
      new EntryBundleError({
        offset: long,
        reason: `entry ${long} has ${entries[long]?.length} bytes, more than 65535`
      })
    )
  }
  const firstBundle = oldSize >> 8n
  const kept = Number(oldSize & 255n)
  let all: ReadonlyArray<Uint8Array> = entries
  if (kept > 0) {
    const bytes = read(firstBundle, kept)
    if (bytes === undefined) return Either.left(new TileMissing({ level: "entries", index: firstBundle, width: kept }))
    const old = parseEntryBundle(bytes, kept)
    if (Either.isLeft(old)) return Either.left(old.left)
    all = [...old.right, ...entries]
  }
  const out: Array<TileWrite> = []
  for (let at = 0, index = firstBundle; at < all.length; at += TILE_WIDTH, index++) {
    const chunk = all.slice(at, at + TILE_WIDTH)
    const bytes = encodeEntryBundle(chunk)
    if (Either.isLeft(bytes)) return Either.left(bytes.left)
    out.push({
      level: "entries",
      index,
      width: chunk.length,
      path: `tile/entries/${formatIndex(index)}${suffix(chunk.length)}`,
      bytes: bytes.right
    })
  }
  return Either.right(out)
}
