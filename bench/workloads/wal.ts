/**
 * The WAL workloads of REFERENCE.md on the reference's record (input = make_input(s), decision
 * = prescribe on the 22-model catalog, audit = audit_bundle, metadata "tenant-<s%16>/request-<s>";
 * ~1 KB of data per line), appended through the file layer (`Wal.layerFile`), plus ours:
 * durable "batch" appends with 100 concurrent appenders, acknowledged only after their fsync.
 */
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { benchPolicy, makeInput } from "../fixtures.js"
import { now, type Sampler, type Unit, type Workload } from "../registry.js"

const key = new Uint8Array(32).fill(0x5a)
const policy = benchPolicy(22)

/** The reference's pre-built audited records (construction is not timed). */
const records = (count: number): Array<Json.Json> =>
  Array.from({ length: count }, (_, i) => {
    const s = i + 1
    const input = makeInput(s)
    return Either.getOrThrow(
      Audited.auditedRecord(policy, input, Kernel.prescribe(policy, input), `tenant-${s % 16}/request-${s}`)
    )
  })

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "calybris-bench-")), "log.jsonl")

const removeLog = (file: string) => {
  for (const f of [file, `${file}.lock`]) if (fs.existsSync(f)) fs.unlinkSync(f)
}

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
    }).pipe(Effect.provide(Wal.layerFile(file, options)), Effect.provide(NodeContext.layer))
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
        const bytes = Stream.suspend(() =>
          Stream.fromAsyncIterable(fs.createReadStream(file, { highWaterMark: 1 << 20 }), (e) => e)
        ).pipe(
          Stream.map((b) => new Uint8Array((b as Buffer).buffer, (b as Buffer).byteOffset, (b as Buffer).length)),
          Stream.orDie
        )
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

const wal = (
  name: string,
  unit: Unit,
  reference: number | null,
  setup?: Workload["setup"],
  note?: string
): Workload => ({
  name,
  unit,
  reference,
  group: "wal",
  ...(setup === undefined ? {} : { setup }),
  ...(note === undefined ? {} : { note })
})

export const walWorkloads: ReadonlyArray<Workload> = [
  wal("wal_append/unkeyed/no_fsync", "us/entry", 5.37, appendWorkload(20_000, { durability: "never" }, "us/entry")),
  wal("wal_append/keyed/no_fsync", "us/entry", 5.33, appendWorkload(20_000, { key, durability: "never" }, "us/entry")),
  wal(
    "wal_append/keyed/fsync_every_entry",
    "us/entry",
    225.02,
    appendWorkload(300, { key, durability: "always" }, "us/entry"),
    "durability \"always\": each append acknowledged after its own fsync"
  ),
  wal("wal_append/keyed/fsync_every_100", "us/entry", 9.52),
  wal(
    "wal_append/keyed/batch_100",
    "entries/s",
    100_000,
    appendWorkload(10_000, { key, durability: "batch" }, "entries/s", 100),
    "durability \"batch\", 100 concurrent appenders, each acknowledged after the fsync that covers it; reference column = the issue's target"
  ),
  wal("verify_wal_keyed", "entries/s", 165986.41, readWorkload(false)),
  wal("replay_audited_wal_keyed", "entries/s", 110090.76, readWorkload(true))
]
