/**
 * The tree log's write path (issue 17, `TreeLog`): appends with the Merkle tree maintained and
 * persisted as tiles, beside the plain WAL's, and reopening a large log with persisted tiles.
 *
 * - `tlog/append/keyed/no_fsync`: `wal_append/keyed/no_fsync`'s workload (100,000 of the
 *   reference's ~1 KB audited records, keyed, durability "never", one appender, the `WalNode`
 *   flusher) through `TreeLog.layerFile`: each line's leaf hash and the subtrees it completes,
 *   the tiles written in the background every 8,192 entries and at close; timed from the open to
 *   the end of the close. `…/node`: with `TreeLogNode.layer`. `…/wal_only`: the plain WAL timed
 *   the same way (`wal_append/keyed/no_fsync` times only the appends: the open, and the close's
 *   write of the last round, are outside it), the denominator of the issue's ratio. `…/paired`:
 *   the two back to back, with the share open to close and from the first append to the last
 *   (the tree log's until its head after it, every leaf hashed).
 * - `tlog/reopen/1e6/*`: a keyed log of 1,000,000 small records (`{"i":n}`, ~170-byte lines),
 *   built once in setup (untimed), reopened: `wal_only` (the WAL's own verifying open, the floor:
 *   every line is read and its HMAC checked), `tiles` (TreeLog with its persisted tiles: the
 *   right edge read from O(log n) tiles, every full tile stat-ed, no leaf hashed), `rebuild` (TreeLog with `verifyTree:
 *   "full"`: every leaf hashed and every tile compared).
 */
import type * as Json from "@calybris/core/Json"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { auditedRecords, groupsOf } from "../fixtures.js"
import { now, removeLog, type Sampler, type Workload } from "../registry.js"

const key = new Uint8Array(32).fill(0x5a)

const records = auditedRecords

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "calybris-bench-tlog-")), "log.jsonl")

const removeTree = (file: string) => {
  removeLog(file)
  fs.rmSync(`${file}.tlog`, { recursive: true, force: true })
}

type Appender = "wal_only" | "inline" | "node"

/** How the appends are made durable: the log's durability, and how many appends are started together. */
interface Durable {
  readonly durability: "never" | "batch" | "always"
  readonly group: number
}

const durable = (durability: Durable["durability"], group: number): Durable => ({ durability, group })

const NO_FSYNC = durable("never", 1)

/**
 * Append every record to a fresh log, through the tree log (hashed inline or by `TreeLogNode`), or
 * through the plain WAL (`wal_only`); returns µs per entry, timed from the open to the end of the
 * close alike (the tree log's worker starts at its open; its close writes the last tiles), and
 * `appends`: timed from the first append to the last one's return — for the tree log, to its
 * `head` after it, which waits until every leaf is hashed (no leaf left to the close) — as
 * `wal_append/keyed/no_fsync` times the plain WAL: the open and the close outside it.
 */
const appendTimed = (
  file: string,
  data: ReadonlyArray<Json.Json>,
  how: Appender,
  durable: Durable = NO_FSYNC
): Promise<{ readonly total: number; readonly appends: number }> => {
  removeTree(file)
  const durability = durable.durability
  // one at a time (the same loop as before the fsync rows), or groups of `group` appends started
  // together, the next group once all are acknowledged
  const appendAll = <E>(append: (data: Json.Json) => Effect.Effect<unknown, E>) =>
    durable.group === 1
      ? Effect.gen(function*() {
        for (const d of data) yield* append(d)
      })
      : Effect.forEach(groupsOf(data, durable.group), (group) =>
        Effect.forEach(group, append, { concurrency: "unbounded", discard: true }), { discard: true })
  return Effect.runPromise(
    Effect.gen(function*() {
      const t0 = now()
      let first = 0
      let last = 0
      yield* Effect.scoped(Effect.gen(function*() {
        if (how === "wal_only") {
          const wal = yield* Wal.makeFile(file, { key, durability })
          first = now()
          yield* appendAll(wal.append)
          last = now()
        } else {
          const log = yield* TreeLog.makeFile(file, { key, durability })
          first = now()
          yield* appendAll(log.append)
          yield* log.head
          last = now()
        }
      }))
      return { total: (now() - t0) / data.length / 1e3, appends: (last - first) / data.length / 1e3 }
    }).pipe(
      Effect.provide(how === "node" ? Layer.merge(WalNode.layer, TreeLogNode.layer) : WalNode.layer),
      Effect.provide(NodeContext.layer)
    )
  )
}

/** `appendTimed`'s open-to-close µs per entry. */
const appendTree = (file: string, data: ReadonlyArray<Json.Json>, how: Appender): Promise<number> =>
  appendTimed(file, data, how).then((timed) => timed.total)

const appendWorkload = (count: number, how: Appender) => (): Sampler => {
  const data = records(count)
  const file = tempFile()
  return {
    warmup: async () => {
      await appendTree(file, data, how)
    },
    sample: () => appendTree(file, data, how),
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/**
 * The tree log with `TreeLogNode.layer` and the plain WAL, run back to back in each sample (their
 * order swapped from one sample to the next), so that the share is of two runs seconds apart:
 * the tree log's µs per entry, with the WAL's and the WAL's time as a % of the tree log's (the
 * issue's "append rate with the tree maintained, as a share of the plain WAL's") as extras.
 */
const pairedWorkload = (count: number, how: Durable = NO_FSYNC) => (): Sampler => {
  const data = records(count)
  const file = tempFile()
  let k = 0
  const pair = async () => {
    const walFirst = k++ % 2 === 0
    const first = await appendTimed(file, data, walFirst ? "wal_only" : "node", how)
    const second = await appendTimed(file, data, walFirst ? "node" : "wal_only", how)
    const [wal, node] = walFirst ? [first, second] : [second, first]
    return {
      value: node.total,
      extras: [
        { name: "wal_only", unit: "us/entry" as const, value: wal.total },
        { name: "share", unit: "%" as const, value: 100 * wal.total / node.total },
        { name: "appends_share", unit: "%" as const, value: 100 * wal.appends / node.appends }
      ]
    }
  }
  return {
    warmup: async () => {
      await pair()
    },
    sample: pair,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

const REOPEN_SIZE = 1_000_000

/** A keyed log of `n` small records with its persisted tiles (untimed). */
const buildLog = (file: string, n: number): Promise<void> =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const log = yield* TreeLog.makeFile(file, { key, durability: "never", flushEvery: 65_536 })
      for (let i = 0; i < n; i++) yield* log.append(new Map([["i", i]]))
    })).pipe(Effect.provide(WalNode.layer), Effect.provide(NodeContext.layer))
  )

type Reopen = "wal_only" | "tiles" | "rebuild"

const reopen = (file: string, how: Reopen): Promise<number> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const t0 = now()
      yield* Effect.scoped(
        how === "wal_only"
          ? Effect.asVoid(Wal.makeFile(file, { key }))
          : Effect.flatMap(
            TreeLog.makeFile(file, { key, ...(how === "rebuild" ? { verifyTree: "full" as const } : {}) }),
            (log) =>
              Effect.map(log.head, (head) => {
                if (head.size !== BigInt(REOPEN_SIZE)) throw new Error(`reopened at ${head.size}`)
              })
          )
      )
      return (now() - t0) / 1e9
    }).pipe(Effect.provide(WalNode.layer), Effect.provide(NodeContext.layer))
  )

const reopenWorkload = (how: Reopen) => async (): Promise<Sampler> => {
  const file = tempFile()
  const started = now()
  await buildLog(file, REOPEN_SIZE)
  process.stderr.write(`tlog reopen: built ${REOPEN_SIZE} entries in ${((now() - started) / 1e9).toFixed(1)} s\n`)
  return {
    warmup: async () => {
      await reopen(file, how)
    },
    sample: () => reopen(file, how),
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

const tlog = (
  name: string,
  unit: Workload["unit"],
  setup: Workload["setup"],
  note: string,
  maxRuns?: number
): Workload => ({
  name,
  unit,
  reference: null,
  group: "tlog",
  ...(setup === undefined ? {} : { setup }),
  note,
  ...(maxRuns === undefined ? {} : { maxRuns })
})

export const tlogAppendWorkloads: ReadonlyArray<Workload> = [
  tlog(
    "tlog/append/keyed/no_fsync",
    "us/entry",
    appendWorkload(100_000, "inline"),
    "wal_append/keyed/no_fsync through TreeLog.layerFile: leaf hash + compact range + tiles written every 8,192 entries; open to close"
  ),
  tlog(
    "tlog/append/keyed/no_fsync/node",
    "us/entry",
    appendWorkload(100_000, "node"),
    "tlog/append/keyed/no_fsync with TreeLogNode.layer: the hashing and the tile files on a worker thread; open to close"
  ),
  tlog(
    "tlog/append/keyed/no_fsync/wal_only",
    "us/entry",
    appendWorkload(100_000, "wal_only"),
    "the same appends through the plain WAL, timed as the two rows above (open to close; wal_append/keyed/no_fsync times the appends only): their ratio's denominator"
  ),
  tlog(
    "tlog/append/keyed/no_fsync/paired",
    "us/entry",
    pairedWorkload(100_000),
    "…/node and …/wal_only back to back in each run (order swapped run to run): the tree log's µs/entry; extras: the WAL's, the WAL's time as a % of the tree log's (its append rate as a share of the plain WAL's: issue 17's target is ≥ 90%), and that % timed from the first append to the last (the tree log's to its head after it: every leaf hashed), as wal_append/keyed/no_fsync times the WAL"
  ),
  tlog(
    "tlog/append/keyed/fsync_every_100/paired",
    "us/entry",
    pairedWorkload(10_000, durable("batch", 100)),
    "…/paired under durability \"batch\" (tiles fsynced too), 10,000 appends in groups of 100 started together, the next group once all 100 are acknowledged (as wal_append/keyed/fsync_every_100): the tree log's µs/entry; extras as …/no_fsync/paired"
  ),
  tlog(
    "tlog/append/keyed/fsync_every_entry/paired",
    "us/entry",
    pairedWorkload(300, durable("always", 1)),
    "…/paired under durability \"always\" (tiles fsynced too), 300 appends one at a time, each acknowledged after its own fsync (as wal_append/keyed/fsync_every_entry): the tree log's µs/entry; extras as …/no_fsync/paired"
  ),
  tlog(
    "tlog/reopen/1e6/wal_only",
    "s",
    reopenWorkload("wal_only"),
    "opening a keyed 1e6-entry log with Wal.makeFile (its verifying pass): the floor of any reopen",
    3
  ),
  tlog(
    "tlog/reopen/1e6/tiles",
    "s",
    reopenWorkload("tiles"),
    "TreeLog reopen of that log with its persisted tiles (right edge from O(log n) tiles, every full tile stat-ed; no leaf hashed)",
    3
  ),
  tlog(
    "tlog/reopen/1e6/rebuild",
    "s",
    reopenWorkload("rebuild"),
    "TreeLog reopen with verifyTree \"full\" (every leaf hashed, every tile compared): a full rebuild's cost",
    3
  )
]
