/**
 * The tree log's node store: the C2SP hash tiles of the tree's right edge in memory, and the
 * full tiles already written to the tiles directory, read back on demand through a small cache.
 *
 * Memory holds, at every tile level L, each tile from index `persisted >> (8L + 8)` on (the
 * partial tile of the persisted size, or the next one to fill, and everything after it): every
 * tile a flush may still write, and every node of the root, of the compact range and of the
 * tiles' next writes for any size in [persisted, size]. Older tiles are full, written and
 * immutable; a proof that needs one reads it first (`missingTiles`, then the cache).
 */
import * as Either from "effect/Either"
import type { NodeSource } from "../Merkle.js"
import * as Tiles from "../Tiles.js"
import { HASH_BYTES } from "./hash.js"

const FULL = Tiles.FULL_TILE_BYTES

/** A written full tile, by `level/index`. */
export const tileKey = (level: number, index: bigint): string => `${level}/${index}`

interface Level {
  /** index of `tiles[0]` */
  start: bigint
  /** 8192-byte buffers, filled left to right */
  readonly tiles: Array<Uint8Array>
}

/** A completed tile dropped from memory during a full verification (its hashes' digest kept). */
export interface Completed {
  readonly level: number
  readonly index: bigint
  readonly bytes: Uint8Array
}

export class TileSet {
  private readonly levels: Array<Level> = []
  /** full tiles read back from disk (or dropped after a flush): least recently used first */
  private readonly cache = new Map<string, Uint8Array>()
  /** the tile buffers this set allocated, and those no longer held (dropped from the cache), for the next tiles */
  private readonly owned = new WeakSet<Uint8Array>()
  private readonly free: Array<Uint8Array> = []

  /**
   * @param persisted the size whose tiles are on disk (memory starts at its partial tiles)
   * @param size the tree size the nodes put so far describe
   * @param dropBelow full verification: a tile that completes below this size's full tiles is
   *   handed to `onDropped` and dropped (it is on disk already, to be compared, not written; its
   *   bytes are valid during the call only: the buffer is reused)
   */
  constructor(
    public persisted: bigint,
    public size: bigint,
    private readonly cacheTiles = 64,
    private readonly dropBelow = 0n,
    private readonly onDropped?: (tile: Completed) => void
  ) {}

  /**
   * A zeroed tile buffer: one the cache dropped if there is one (no reader keeps a view of a
   * cached tile past its call: every node read from one is copied), else a new one (a fresh 8 KB
   * costs ~14 µs of page faults on these machines: one per 256 leaves).
   */
  private buffer(): Uint8Array {
    const reused = this.free.pop()
    if (reused !== undefined) return reused.fill(0)
    const fresh = new Uint8Array(FULL)
    this.owned.add(fresh)
    return fresh
  }

  /** A tile buffer no longer held, kept for the next tile when this set allocated it. */
  private release(bytes: Uint8Array | undefined): void {
    if (bytes !== undefined && this.owned.has(bytes) && this.free.length < 16) this.free.push(bytes)
  }

  private level(level: number): Level {
    let held = this.levels[level]
    if (held === undefined) {
      held = { start: this.persisted >> BigInt(8 * level + 8), tiles: [] }
      this.levels[level] = held
    }
    return held
  }

  /** Loads a tile of the persisted size's right edge (the first tile memory holds at its level). */
  load(level: number, bytes: Uint8Array): void {
    const held = this.level(level)
    const buffer = this.buffer()
    buffer.set(bytes)
    held.tiles.push(buffer)
  }

  /** Puts the hash of tree level 8·`level`, node `index` (the next one at that level). */
  put(level: number, index: bigint, hash: Uint8Array): void {
    this.putRun(level, index, hash)
  }

  /** Puts consecutive hashes of one tile, from node `index` on (the next ones at that level; the last may complete it). */
  private putRun(level: number, index: bigint, hashes: Uint8Array): void {
    const held = this.level(level)
    const tile = index >> 8n
    const position = Number(index & 255n)
    const k = Number(tile - held.start)
    let buffer = held.tiles[k]
    if (buffer === undefined) {
      buffer = this.buffer()
      held.tiles.push(buffer)
    }
    buffer.set(hashes, position * HASH_BYTES)
    if (
      position + hashes.length / HASH_BYTES === 256 && this.onDropped !== undefined && k === 0 &&
      (tile + 1n) << BigInt(8 * level + 8) <= this.dropBelow
    ) {
      this.onDropped({ level, index: tile, bytes: buffer })
      held.tiles.shift()
      held.start++
      this.release(buffer)
    }
  }

  /** Puts leaf hashes (32 bytes each) from leaf `first` on: `put(0, …)` for each, a tile's worth at once. */
  putLeaves(first: bigint, hashes: Uint8Array): void {
    const count = hashes.length / HASH_BYTES
    for (let done = 0; done < count;) {
      const index = first + BigInt(done)
      const take = Math.min(count - done, 256 - Number(index & 255n))
      this.putRun(0, index, hashes.subarray(done * HASH_BYTES, (done + take) * HASH_BYTES))
      done += take
    }
  }

  /** The memory tile's first `width` hashes, when memory holds that tile with that many. */
  private memory(level: number, index: bigint, width: number): Uint8Array | undefined {
    const held = this.levels[level]
    if (held === undefined) return undefined
    const k = index - held.start
    if (k < 0n || k >= BigInt(held.tiles.length)) return undefined
    if (width > Tiles.widthAt(this.size, level, index)) return undefined
    return (held.tiles[Number(k)] as Uint8Array).subarray(0, width * HASH_BYTES)
  }

  /** A `Tiles.TileReader` over memory and the cache of written full tiles. */
  readonly read: Tiles.TileReader = (level, index, width) => {
    const held = this.memory(level, index, width)
    if (held !== undefined) return held
    return this.cached(level, index)?.subarray(0, width * HASH_BYTES)
  }

  /** A written full tile from the cache, made its most recently used. */
  private cached(level: number, index: bigint): Uint8Array | undefined {
    const key = tileKey(level, index)
    const cached = this.cache.get(key)
    if (cached === undefined) return undefined
    this.cache.delete(key)
    this.cache.set(key, cached)
    return cached
  }

  /** Keeps a written full tile (read back, or dropped from memory) in the cache. */
  remember(level: number, index: bigint, bytes: Uint8Array): void {
    const key = tileKey(level, index)
    this.cache.delete(key)
    this.cache.set(key, bytes)
    while (this.cache.size > this.cacheTiles) {
      const oldest = this.cache.keys().next().value as string
      this.release(this.cache.get(oldest))
      this.cache.delete(oldest)
    }
  }

  /** Complete subtrees of the tree (of its `size` now) as a `NodeSource`; throws on a tile not held. */
  get source(): NodeSource {
    return Tiles.nodeSource(this.read, this.size)
  }

  /**
   * The full tiles (level, index) that `ids` need and neither memory nor the cache holds. The
   * cached ones they need become the most recently used: reading the missing ones back
   * (`remember`) then drops other tiles from a full cache, not these (a proof needs far fewer
   * tiles than the cache keeps). Before, a proof needing a cached tile, the least recently used,
   * and one read back dropped the first as it read the second, and failed (`TileMissing`).
   */
  missingTiles(ids: ReadonlyArray<{ readonly level: number; readonly index: bigint }>): Array<[number, bigint]> {
    const out: Array<[number, bigint]> = []
    for (const id of ids) {
      const level = Math.floor(id.level / Tiles.TILE_HEIGHT)
      const first = id.index << BigInt(id.level - level * Tiles.TILE_HEIGHT)
      const tile = first >> 8n
      if (this.memory(level, tile, 1) !== undefined || this.cached(level, tile) !== undefined) continue
      if (!out.some(([l, t]) => l === level && t === tile)) out.push([level, tile])
    }
    return out
  }

  /**
   * The tiles that change from the persisted size to `size` (≤ this.size), with their bytes
   * (views into memory: only the hashes at those widths, which later appends never touch) and
   * the partial tile each one supersedes.
   */
  writes(
    size: bigint
  ): Array<
    {
      readonly level: number
      readonly index: bigint
      readonly width: number
      readonly path: string
      readonly bytes: Uint8Array
      readonly superseded: string | undefined
    }
  > {
    const out: Array<ReturnType<TileSet["writes"]>[number]> = []
    const from = this.persisted
    for (let level = 0; size >> BigInt(8 * level) > 0n; level++) {
      const first = (from >> BigInt(8 * level)) >> 8n
      const last = ((size >> BigInt(8 * level)) - 1n) >> 8n
      for (let index = first; index <= last; index++) {
        const width = Tiles.widthAt(size, level, index)
        const before = Tiles.widthAt(from, level, index)
        if (width === before) continue
        const bytes = this.memory(level, index, width)
        if (bytes === undefined) throw new RangeError(`TileSet: tile ${level}/${index} is not in memory`)
        out.push({
          level,
          index,
          width,
          path: Either.getOrThrow(Tiles.tilePath(level, index, width)),
          bytes,
          superseded: before > 0 ? Either.getOrThrow(Tiles.tilePath(level, index, before)) : undefined
        })
      }
    }
    return out
  }

  /** The tiles of `size` are written: memory drops the full tiles below its partial ones (into the cache). */
  persist(size: bigint): void {
    for (let level = 0; level < this.levels.length; level++) {
      const held = this.levels[level]
      if (held === undefined) continue
      const start = size >> BigInt(8 * level + 8)
      while (held.start < start && held.tiles.length > 0) {
        this.remember(level, held.start, held.tiles.shift() as Uint8Array)
        held.start++
      }
      if (held.start < start) held.start = start
    }
    this.persisted = size
  }
}
