/**
 * The WAL workloads of REFERENCE.md on the reference's record (input = make_input(s), decision
 * = prescribe on the 22-model catalog, audit = audit_bundle, metadata "tenant-<s%16>/request-<s>";
 * ~1 KB of data per line), appended through the file layer (`Wal.layerFile`), plus ours:
 * durable "batch" appends with 1 to 1,000 concurrent appenders, each acknowledged only after
 * its fsync (throughput and per-append acknowledgement latency), and the peak memory of
 * verifying a ~1 GB log with the streaming verifier.
 */
import type * as Json from "@calybris/core/Json"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { auditedRecords, benchPolicy, groupsOf } from "../fixtures.js"
import {
  type Measured,
  now,
  removeLog,
  type Sampler,
  throughputWithLatency,
  type Unit,
  type Workload
} from "../registry.js"

const key = new Uint8Array(32).fill(0x5a)
const policy = benchPolicy(22)

const records = auditedRecords

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "calybris-bench-")), "log.jsonl")

/** Append `data` to a fresh file log with `concurrency` appenders; returns elapsed ns. */
const appendAll = (
  file: string,
  data: ReadonlyArray<Json.Json>,
  options: Wal.WalOptions,
  concurrency: number
): Promise<number> => {
  removeLog(file)
  return Effect.runPromise(
    Effect.gen(function*() {
      const t0 = now()
      if (concurrency === 1) {
        for (const d of data) yield* Wal.append(d)
      } else {
        let next = 0
        const worker = Effect.gen(function*() {
          while (next < data.length) {
            const d = data[next++]
            if (d !== undefined) yield* Wal.append(d)
          }
        })
        yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded" })
      }
      return now() - t0
    }).pipe(
      Effect.provide(Wal.layerFile(file, options)),
      Effect.provide(WalNode.layer),
      Effect.provide(NodeContext.layer)
    )
  )
}

const appendWorkload = (count: number, options: Wal.WalOptions, unit: Unit, concurrency = 1): () => Sampler => () => {
  const data = records(count)
  const file = tempFile()
  const measure = async () => {
    const ns = await appendAll(file, data, options, concurrency)
    return unit === "entries/s" ? count / (ns / 1e9) : ns / count / 1e3
  }
  return {
    warmup: async () => {
      await measure()
    },
    sample: measure,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/** The file's bytes in chunks of `chunk` bytes, read afresh by each run of the stream. */
const fileBytes = (file: string, chunk: number) =>
  Stream.suspend(() => Stream.fromAsyncIterable(fs.createReadStream(file, { highWaterMark: chunk }), (e) => e)).pipe(
    Stream.map((b) => new Uint8Array((b as Buffer).buffer, (b as Buffer).byteOffset, (b as Buffer).length)),
    Stream.orDie
  )

/** A keyed 100,000-entry log written once; verification / replay timed over it (page cache warm). */
const readWorkload = (replay: boolean): () => Promise<Sampler> => async () => {
  const file = tempFile()
  await appendAll(file, records(100_000), { key, durability: "never" }, 1)
  const chain = Either.getOrThrow(Chain.make({ key }))
  const run = () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const t0 = now()
        // a fresh read of the file for every pass (replay reads it twice: verify, then audit)
        const bytes = fileBytes(file, 1 << 20)
        const count = replay
          ? (yield* Audited.replayBytes(bytes, { chain }, policy)).length
          : Number((yield* Reader.verify(bytes, { chain })).count)
        return count / ((now() - t0) / 1e9)
      })
    )
  return {
    warmup: async () => {
      await run()
    },
    sample: run,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/**
 * Durable "batch" appends: `concurrency` appenders (fibers) share `count` records, each
 * appender calling `append` again as soon as its previous append is acknowledged (i.e. after
 * the fsync covering it). Throughput in entries/s, plus each append's acknowledgement latency
 * (from calling `append` to its completion), p50 and p99 in ms.
 */
const batchWorkload = (count: number, concurrency: number): () => Sampler => () => {
  const data = records(count)
  const file = tempFile()
  const latencies = new Float64Array(count)
  const measure = async (): Promise<Measured> => {
    removeLog(file)
    const elapsed = await Effect.runPromise(
      Effect.gen(function*() {
        let next = 0
        const worker = Effect.gen(function*() {
          while (next < data.length) {
            const i = next++
            const d = data[i]
            if (d === undefined) continue
            const t = now()
            yield* Wal.append(d)
            latencies[i] = now() - t
          }
        })
        const t0 = now()
        yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded" })
        return now() - t0
      }).pipe(
        Effect.provide(Wal.layerFile(file, { key, durability: "batch" })),
        Effect.provide(WalNode.layer),
        Effect.provide(NodeContext.layer)
      )
    )
    return throughputWithLatency(count, elapsed, latencies)
  }
  return {
    warmup: async () => {
      await measure()
    },
    sample: measure,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/**
 * `fsync_every_100`: the reference appends with a buffered writer and calls flush_and_sync
 * after every 100th entry. Our file layer has no separate sync call: its durability point is
 * group commit. So each group of 100 records is appended at once (100 appends started
 * together, sealed in order in one step) under durability "batch", and the next group starts
 * once all 100 are acknowledged, i.e. after the fsync covering the group (one round, or a few
 * when the flusher takes the round before every append of the group has sealed).
 */
const everyHundredWorkload = (count: number): () => Sampler => () => {
  const data = records(count)
  const file = tempFile()
  const groups = groupsOf(data, 100)
  const measure = async () => {
    removeLog(file)
    const ns = await Effect.runPromise(
      Effect.gen(function*() {
        const t0 = now()
        for (const group of groups) {
          yield* Effect.forEach(group, Wal.append, { concurrency: "unbounded", discard: true })
        }
        return now() - t0
      }).pipe(
        Effect.provide(Wal.layerFile(file, { key, durability: "batch" })),
        Effect.provide(WalNode.layer),
        Effect.provide(NodeContext.layer)
      )
    )
    return ns / count / 1e3
  }
  return {
    warmup: async () => {
      await measure()
    },
    sample: measure,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/**
 * A log of 3 entries of ~20 MiB each (a line far longer than a chunk), verified by `Reader.verify`
 * from a stream of 64 KiB chunks (`FileSystem.stream`'s default): ms per pass. A line over many
 * chunks once cost a copy of it per chunk (7 s per 60 MiB line at 1 MiB chunks, 80 s at 64 KiB).
 */
const longLineWorkload = async (): Promise<Sampler> => {
  const file = tempFile()
  const big = Array.from(
    { length: 3 },
    (_, i): Json.Json => new Map<string, Json.Json>([["i", i], ["payload", "x".repeat(20 << 20)]])
  )
  await appendAll(file, big, { key, durability: "never" }, 1)
  const chain = Either.getOrThrow(Chain.make({ key }))
  const run = () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const t0 = now()
        const bytes = fileBytes(file, 64 << 10)
        const count = (yield* Reader.verify(bytes, { chain })).count
        if (count !== 3n) throw new Error(`verified ${count} entries, not 3`)
        return (now() - t0) / 1e6
      })
    )
  return {
    warmup: async () => {
      await run()
    },
    sample: run,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

/** Size of the generated log of `verify_wal_keyed/1GB`. */
const BIG_LOG_BYTES = 1024 * 1024 * 1024

/**
 * Write a keyed log of about `bytes` bytes, fast: the canonical texts of 1,000 distinct records
 * are printed once and cycled (the line shape and size of the other workloads: ~1.2 KB), each
 * line sealed with `Entry.seal` on the log's chain (so every hash is real) and written in 8 MiB
 * chunks with no fsync. Returns the entry count.
 */
const writeBigLog = (file: string, bytes: number): number => {
  const texts = records(1_000).map((d) => Either.getOrThrow(Entry.canonicalData(d)))
  const chain = Either.getOrThrow(Chain.make({ key }))
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024)
  const fd = fs.openSync(file, "w")
  try {
    let at = 0
    let written = 0
    let sequence = 0n
    let previous = Chain.GENESIS
    while (written + at < bytes) {
      sequence++
      const next = Entry.seal(chain, sequence, previous, texts[Number(sequence % 1000n)] ?? "null")
      previous = next.sealed.entry_hash
      if (at + 3 * next.line.length > chunk.length) {
        fs.writeSync(fd, chunk, 0, at)
        written += at
        at = 0
      }
      at += chunk.write(next.line, at, "utf8")
    }
    fs.writeSync(fd, chunk, 0, at)
    return Number(sequence)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Peak memory of the streaming verifier on a ~1 GB keyed log (generated once in setup, page
 * cache warm): the growth of the process's resident set over its level just before the
 * verification, sampled every 2 ms by a timer (the verifier yields to the event loop between
 * the file stream's 1 MiB chunks, so the timer runs throughout) and once more at the end.
 */
const bigVerifyWorkload = (): Sampler => {
  const file = tempFile()
  const count = writeBigLog(file, BIG_LOG_BYTES)
  const size = fs.statSync(file).size
  const chain = Either.getOrThrow(Chain.make({ key }))
  const run = async (): Promise<Measured> => {
    const base = process.memoryUsage.rss()
    let peak = base
    const timer = setInterval(() => {
      const rss = process.memoryUsage.rss()
      if (rss > peak) peak = rss
    }, 2)
    try {
      const t0 = now()
      const verified = await Effect.runPromise(
        Reader.verify(
          Stream.suspend(() =>
            Stream.fromAsyncIterable(fs.createReadStream(file, { highWaterMark: 1 << 20 }), (e) => e)
          ).pipe(
            Stream.map((b) => new Uint8Array((b as Buffer).buffer, (b as Buffer).byteOffset, (b as Buffer).length)),
            Stream.orDie
          ),
          { chain }
        )
      )
      const elapsed = now() - t0
      peak = Math.max(peak, process.memoryUsage.rss())
      if (Number(verified.count) !== count) throw new Error(`verified ${verified.count} of ${count} entries`)
      return {
        value: (peak - base) / (1024 * 1024),
        extras: [
          { name: "throughput", unit: "entries/s", value: count / (elapsed / 1e9) },
          { name: "file_size", unit: "MiB", value: size / (1024 * 1024) }
        ]
      }
    } finally {
      clearInterval(timer)
    }
  }
  return {
    // no separate warm-up pass: generation leaves the file in the page cache, and the JIT
    // settles within the first thousandths of the ~870,000 entries
    warmup: () => {},
    sample: run,
    teardown: () => fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

const wal = (
  name: string,
  unit: Unit,
  reference: number | null,
  setup?: Workload["setup"],
  note?: string,
  maxRuns?: number
): Workload => ({
  name,
  unit,
  reference,
  group: "wal",
  ...(setup === undefined ? {} : { setup }),
  ...(note === undefined ? {} : { note }),
  ...(maxRuns === undefined ? {} : { maxRuns })
})

const BATCH_NOTE = "durability \"batch\", N concurrent appenders, each acknowledged after the fsync that covers it; " +
  "ack_p50/ack_p99 = per-append time from calling append to its acknowledgement"

export const walWorkloads: ReadonlyArray<Workload> = [
  wal("wal_append/unkeyed/no_fsync", "us/entry", 5.37, appendWorkload(100_000, { durability: "never" }, "us/entry")),
  wal("wal_append/keyed/no_fsync", "us/entry", null, appendWorkload(100_000, { key, durability: "never" }, "us/entry")),
  wal(
    "wal_append/keyed/fsync_every_entry",
    "us/entry",
    null,
    appendWorkload(300, { key, durability: "always" }, "us/entry"),
    "durability \"always\": each append acknowledged after its own fsync"
  ),
  wal(
    "wal_append/keyed/fsync_every_100",
    "us/entry",
    9.52,
    everyHundredWorkload(10_000),
    "groups of 100 appends started together under durability \"batch\" (group commit), the next group after all 100 are acknowledged"
  ),
  wal("wal_append/keyed/batch_1", "entries/s", null, batchWorkload(300, 1), BATCH_NOTE),
  wal("wal_append/keyed/batch_10", "entries/s", null, batchWorkload(2_000, 10), BATCH_NOTE),
  wal(
    "wal_append/keyed/batch_100",
    "entries/s",
    100_000,
    batchWorkload(10_000, 100),
    `${BATCH_NOTE}; reference column = the issue's target`
  ),
  wal("wal_append/keyed/batch_1000", "entries/s", null, batchWorkload(20_000, 1_000), BATCH_NOTE),
  wal("verify_wal_keyed", "entries/s", null, readWorkload(false)),
  wal(
    "verify_wal_keyed/1GB",
    "MiB",
    null,
    bigVerifyWorkload,
    "peak RSS growth (process.memoryUsage.rss() sampled every 2 ms) while Reader.verify streams a ~1 GB keyed log " +
      "(1 MiB chunks, page cache warm; generated once in setup)",
    2
  ),
  wal("replay_audited_wal_keyed", "entries/s", null, readWorkload(true)),
  wal(
    "verify_wal_keyed/long_lines",
    "ms",
    null,
    longLineWorkload,
    "3 entries of ~20 MiB each, streamed in 64 KiB chunks: ms to verify the log (page cache warm)"
  )
]
