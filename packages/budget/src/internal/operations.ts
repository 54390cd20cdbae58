/**
 * The remembered client operation ids of a ledger: a window of the `limit` most recently
 * answered ones (applied or refused). Inserting a new id beyond the limit forgets the oldest (in
 * the order they were first answered). The window is a pure function of the sequence of answered
 * operations under ids and the limit, so replaying a journal (whose `refused` records hold the
 * refusals) with the same limit rebuilds exactly the same window.
 *
 * A `Map` keeps insertion order, but V8 finds its first live entry by skipping the holes that
 * deletions at the front leave (until the next rehash): reading the oldest key that way costs
 * O(window) per eviction. So the order is also kept in a queue (an array and a head index,
 * compacted once half of it is consumed): every insert and eviction is O(1) amortized.
 */

/** How many operation ids a ledger remembers unless told otherwise. */
export const DEFAULT_LIMIT = 100_000

/** Is `n` a valid window size (a positive safe integer)? */
export const isLimit = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 1

const COMPACT = 1_024

export class OperationWindow<V> {
  private readonly map = new Map<string, V>()
  /** the ids in insertion order, from `head` on */
  private order: Array<string> = []
  private head = 0

  constructor(private max: number = DEFAULT_LIMIT) {}

  /** How many ids are remembered at most. */
  get limit(): number {
    return this.max
  }

  /** Change the limit; the oldest ids beyond the new one are forgotten at once. */
  set limit(n: number) {
    this.max = n
    this.trim()
  }

  get size(): number {
    return this.map.size
  }

  get(id: string): V | undefined {
    return this.map.get(id)
  }

  has(id: string): boolean {
    return this.map.has(id)
  }

  /** Remember `id` (a new id becomes the newest, and the oldest is forgotten beyond the limit). */
  set(id: string, value: V): this {
    const map = this.map
    const size = map.size
    map.set(id, value)
    if (map.size === size) return this // replaced in place: its age is unchanged
    this.order.push(id)
    if (map.size > this.max) this.trim()
    return this
  }

  private trim(): void {
    const map = this.map
    const order = this.order
    let head = this.head
    while (map.size > this.max) {
      map.delete(order[head] as string)
      order[head++] = "" // the id's string is not kept until the next compaction
    }
    if (head >= COMPACT && head * 2 >= order.length) {
      this.order = order.slice(head)
      this.head = 0
    } else {
      this.head = head
    }
  }

  /** The remembered ids and values, oldest first. */
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.map[Symbol.iterator]()
  }

  keys(): IterableIterator<string> {
    return this.map.keys()
  }
}
