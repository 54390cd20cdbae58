/**
 * The open holds of a ledger, keyed by reservation id. Ids are handed out in sequence, so almost
 * every live id is a safe integer: those live in an open-addressing table keyed by the id as a
 * number (linear probing, backward-shift deletion: no tombstones, no rehash on churn), which
 * costs a few ns per operation where a `Map<bigint>` hashes the bigint in the runtime (~30 ns).
 * Ids beyond 2^53 − 1 (after a restore of a far-advanced counter) go to a plain `Map<bigint>`.
 */
import { bigintOfSafe as big, safeNumberOf as small } from "@calybris/core/Word"

const EMPTY = -1

export class HoldTable<H extends { readonly key: number }> implements Iterable<[bigint, H]> {
  private keys = new Float64Array(16).fill(EMPTY)
  private values: Array<H | undefined> = new Array<H | undefined>(16).fill(undefined)
  private mask = 15
  private count = 0
  private readonly wide = new Map<bigint, H>()

  get size(): number {
    return this.count + this.wide.size
  }

  /** The key of an id in the table, or NaN for the ids kept in the wide map. */
  static keyOf(id: bigint): number {
    const k = small(id)
    return k >= 0 ? k : NaN
  }

  get(id: bigint): H | undefined {
    const k = small(id)
    return k >= 0 ? this.getKey(k) : this.wide.get(id)
  }

  getKey(k: number): H | undefined {
    const keys = this.keys
    const mask = this.mask
    let i = k & mask
    for (;;) {
      const x = keys[i]
      if (x === k) return this.values[i]
      if (x === EMPTY) return undefined
      i = (i + 1) & mask
    }
  }

  /** Insert or replace the hold under `id` (its `key` must be `keyOf(id)`). */
  set(id: bigint, hold: H): void {
    const k = hold.key
    if (k !== k) {
      this.wide.set(id, hold)
      return
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.grow()
    this.insert(k, hold)
  }

  private insert(k: number, hold: H): void {
    const keys = this.keys
    const mask = this.mask
    let i = k & mask
    for (;;) {
      const x = keys[i]
      if (x === k) {
        this.values[i] = hold
        return
      }
      if (x === EMPTY) {
        keys[i] = k
        this.values[i] = hold
        this.count++
        return
      }
      i = (i + 1) & mask
    }
  }

  /** Remove the hold under `id` (whose key is `key`). */
  delete(id: bigint, key: number): void {
    if (key !== key) {
      this.wide.delete(id)
      return
    }
    const keys = this.keys
    const mask = this.mask
    let i = key & mask
    for (;;) {
      const x = keys[i]
      if (x === EMPTY) return
      if (x === key) break
      i = (i + 1) & mask
    }
    // backward shift: move later members of the probe run into the gap when their home allows
    let j = i
    for (;;) {
      j = (j + 1) & mask
      const y = keys[j] as number
      if (y === EMPTY) break
      const home = y & mask
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
        keys[i] = y
        this.values[i] = this.values[j]
        i = j
      }
    }
    keys[i] = EMPTY
    this.values[i] = undefined
    this.count--
  }

  clear(): void {
    this.keys = new Float64Array(16).fill(EMPTY)
    this.values = new Array<H | undefined>(16).fill(undefined)
    this.mask = 15
    this.count = 0
    this.wide.clear()
  }

  private grow(): void {
    const keys = this.keys
    const values = this.values
    const capacity = (this.mask + 1) * 2
    this.keys = new Float64Array(capacity).fill(EMPTY)
    this.values = new Array<H | undefined>(capacity).fill(undefined)
    this.mask = capacity - 1
    this.count = 0
    for (let i = 0; i < keys.length; i++) {
      const v = values[i]
      if (v !== undefined) this.insert(keys[i] as number, v)
    }
  }

  /** Every hold with its id, in id order. */
  entries(): Array<[bigint, H]> {
    const out: Array<[bigint, H]> = []
    for (let i = 0; i < this.keys.length; i++) {
      const v = this.values[i]
      if (v !== undefined) out.push([big(this.keys[i] as number), v])
    }
    for (const e of this.wide) out.push(e)
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  [Symbol.iterator](): Iterator<[bigint, H]> {
    return this.entries()[Symbol.iterator]()
  }
}
