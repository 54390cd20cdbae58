/**
 * The budget workloads of REFERENCE.md, plus the Effect-service figure the issue asks for
 * (`budget/try_reserve+commit/service`): one tenant "bench" with 1e15 microcents; try_reserve
 * (10,000) then commit (9,500) or release; a 10,000-tenant ledger for snapshots and digests.
 * Ours only (no reference): `admit` per second in memory and journaled, and the recovery time of
 * a 1,000,000-command journal.
 */
import * as Arguments from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { benchPolicy, makeInput } from "../fixtures.js"
import {
  consume,
  type Measured,
  now,
  perOp,
  removeLog,
  type Sampler,
  throughputWithLatency,
  type Unit,
  type Workload
} from "../registry.js"

/** The journals' HMAC key (32 bytes of 0x5a). */
export const key = new Uint8Array(32).fill(0x5a)
const policy = benchPolicy(22)
const BIG = Arguments.Microcents.make(1_000_000_000_000_000n)
const bench = Arguments.TenantId.make("bench")
const HOLD = Arguments.Microcents.make(10_000n)
const SPENT = Arguments.Microcents.make(9_500n)

/** The amount of an admitted hold (its estimate), to commit it at. */
const estimate = (decision: { readonly estimated_cost_microunits: bigint }) =>
  Option.getOrThrow(Arguments.microcentsFromEstimatedCost(decision.estimated_cost_microunits))

/** One admit of make_input(s) for tenant "bench"; an admitted hold is committed at its estimate right away. */
const admitOne = (s: number) =>
  Effect.flatMap(Ledger.admit(policy, bench, makeInput(s)), (outcome) =>
    outcome._tag === "Admitted"
      ? Effect.as(Ledger.commit(outcome.reservation_id, estimate(outcome.decision)), 1)
      : Effect.succeed(0))

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "calybris-budget-"))

/** A journaled ledger that owns its keyed log file. */
const journaled = (file: string, durability: Wal.Durability, options: Ledger.JournalOptions = {}) =>
  Ledger.layerJournalFile(file, { ...options, key, durability }).pipe(
    Layer.provide(Layer.merge(NodeContext.layer, WalNode.layer))
  )

/**
 * Durable admits: `concurrency` admitters (fibers) share `count` admits of make_input(s) on a
 * fresh journal, each starting its next admit once the previous admit and the commit of its
 * hold are acknowledged (after the fsync covering them: durability "batch", group commit).
 */
const journaledAdmits = (count: number, concurrency: number): () => Sampler => () => {
  const dir = tempDir()
  const file = path.join(dir, "ledger.jsonl")
  const latencies = new Float64Array(count)
  let base = 1
  const measure = async (): Promise<Measured> => {
    removeLog(file)
    const first = base
    base += count
    const elapsed = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Ledger.ensureTenant(bench, BIG)
        let next = 0
        const worker = Effect.gen(function*() {
          while (next < count) {
            const i = next++
            const t = now()
            const outcome = yield* Ledger.admit(policy, bench, makeInput(first + i))
            latencies[i] = now() - t
            if (outcome._tag === "Admitted") {
              yield* Ledger.commit(outcome.reservation_id, estimate(outcome.decision))
            }
          }
        })
        const t0 = now()
        yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded" })
        return now() - t0
      }).pipe(Effect.provide(journaled(file, "batch")))
    )
    return throughputWithLatency(count, elapsed, latencies)
  }
  return {
    warmup: async () => {
      await measure()
    },
    sample: measure,
    teardown: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A journal of `commands` commands, written as the journaled ledger writes it but without its
 * per-caller queueing (which would dominate generation): 100 `ensure_tenant`, then reserve/commit
 * pairs over the 100 tenants, applied to a state machine and appended in groups of `group`
 * commands per WAL entry (what group commit does with `group` concurrent callers), with a
 * checkpoint entry after every `checkpointEvery` commands (0: none), through the same Journal
 * encoders, to a keyed file WAL (durability "never": only the bytes matter).
 */
export const buildJournal = async (file: string, commands: number, group: number, checkpointEvery: number) => {
  removeLog(file)
  const tenants = 100
  const state = new L.LedgerState()
  const program = Effect.gen(function*() {
    let batch: Array<Journal.Journaled> = []
    let written = 0
    let sinceCheckpoint = 0
    const flush = Effect.gen(function*() {
      if (batch.length === 0) return
      yield* Wal.append(Either.getOrThrow(Journal.encodeCommands(batch)))
      sinceCheckpoint += batch.length
      batch = []
      if (checkpointEvery > 0 && sinceCheckpoint >= checkpointEvery) {
        yield* Wal.append(Either.getOrThrow(Journal.encodeCheckpoint(state)))
        sinceCheckpoint = 0
      }
    })
    const push = (command: L.Command) => {
      const result = L.step(state, command)
      batch.push({ command })
      written++
      return result
    }
    for (let t = 0; t < tenants; t++) push({ _tag: "EnsureTenant", tenant: `tenant-${t}`, amount: BIG } as L.Command)
    for (let i = 0; written < commands; i++) {
      const r = push(
        { _tag: "Reserve", tenant: `tenant-${i % tenants}`, amount: 10_000n } as L.Command
      ) as L.ReserveResult
      if (r._tag !== "Reserved") throw new Error("the bench journal ran out of funds")
      if (written < commands) {
        push(Command.commit(r.reservation_id, Arguments.Microcents.make(BigInt(9_000 + (i % 1_000)))))
      }
      if (batch.length >= group) yield* flush
    }
    yield* flush
  })
  await Effect.runPromise(
    program.pipe(Effect.provide(Wal.layerFile(file, { key, durability: "never" })), Effect.provide(NodeContext.layer))
  )
}

/** Open the journaled ledger on `file` (one pass: verify and decode; checkpoint, replay, conservation); returns seconds. */
const recoverOnce = (file: string, checkpointEvery: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const t0 = now()
      consume(yield* Ledger.tenantCount.pipe(Effect.provide(journaled(file, "never", { checkpointEvery }))))
      return (now() - t0) / 1e9
    })
  )

/** Open only the WAL on `file` (the file layer verifies the whole chain before it accepts appends); returns seconds. */
const walOpenOnce = (file: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const t0 = now()
      const head = yield* Wal.head.pipe(
        Effect.provide(Wal.layerFile(file, { key, durability: "never" })),
        Effect.provide(NodeContext.layer)
      )
      consume(Number(head.sequence))
      return (now() - t0) / 1e9
    })
  )

const recoveryWorkload = (commands: number, callers: number): () => Promise<Sampler> => async () => {
  const dir = tempDir()
  const file = path.join(dir, "ledger.jsonl")
  const bare = path.join(dir, "bare.jsonl")
  await buildJournal(file, commands, callers, 10_000)
  await buildJournal(bare, commands, callers, 0)
  const mib = (f: string) => fs.statSync(f).size / (1 << 20)
  return {
    warmup: () => undefined,
    sample: async (): Promise<Measured> => {
      const seconds = await recoverOnce(file, 10_000)
      const noCheckpoints = await recoverOnce(bare, 0)
      const walOpen = await walOpenOnce(file)
      return {
        value: seconds,
        extras: [
          { name: "wal_open_only", unit: "s", value: walOpen },
          { name: "journal_size", unit: "MiB", value: mib(file) },
          { name: "no_checkpoints", unit: "s", value: noCheckpoints },
          { name: "no_checkpoints/journal_size", unit: "MiB", value: mib(bare) }
        ]
      }
    },
    teardown: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

const fresh = (): L.LedgerState => {
  const s = new L.LedgerState()
  L.ensureTenant(s, "bench", 1_000_000_000_000_000n)
  return s
}

const tenants10k = (): L.LedgerState => {
  const s = new L.LedgerState()
  for (let i = 0; i < 10_000; i++) L.ensureTenant(s, `tenant-${i}`, 1_000_000n + BigInt(i))
  return s
}

/** A sampler over whole operations timed one batch at a time, in ms/op. */
const msPerOp = (op: () => number, count = 20): Sampler => ({
  warmup: () => {
    for (let i = 0; i < count; i++) consume(op())
  },
  sample: () => {
    const t0 = now()
    for (let i = 0; i < count; i++) consume(op())
    return (now() - t0) / count / 1e6
  }
})

const budget = (
  name: string,
  unit: Unit,
  reference: number | null,
  setup?: Workload["setup"],
  note?: string
): Workload => ({
  name,
  unit,
  reference,
  group: "budget",
  ...(setup === undefined ? {} : { setup }),
  ...(note === undefined ? {} : { note })
})

export const budgetWorkloads: ReadonlyArray<Workload> = [
  budget("budget/try_reserve+commit", "ns/pair", null, () => {
    const s = fresh()
    return perOp("ns/pair", (count) => {
      let acc = 0
      for (let i = 0; i < count; i++) {
        const r = L.reserve(s, "bench", 10_000n)
        if (r._tag === "Reserved") acc += L.commit(s, r.reservation_id, 9_500n)._tag.length
      }
      return acc
    })
  }, "the synchronous state machine (LedgerState), as the reference's engine"),
  budget("budget/try_reserve+commit/service", "ns/pair", 232.33, () => {
    const runtime = Effect.runSync(Effect.gen(function*() {
      const ledger = yield* Ledger.makeMemory()
      yield* ledger.apply(Command.ensureTenant(bench, BIG))
      return ledger
    }))
    const pairs = (count: number) =>
      Effect.gen(function*() {
        let acc = 0
        for (let i = 0; i < count; i++) {
          const r = yield* runtime.apply(Command.reserve(bench, HOLD))
          if (r._tag === "Reserved") {
            const c = yield* runtime.apply(Command.commit(r.reservation_id, SPENT))
            acc += c._tag.length
          }
        }
        return acc
      })
    return perOp("ns/pair", (count) => Effect.runSync(pairs(count)))
  }, "through the Ledger service (memory layer), one Effect per command, run with Effect.runSync per batch"),
  budget("budget/try_reserve+release", "ns/pair", 197.45, () => {
    const s = fresh()
    return perOp("ns/pair", (count) => {
      let acc = 0
      for (let i = 0; i < count; i++) {
        const r = L.reserve(s, "bench", 10_000n)
        if (r._tag === "Reserved") acc += L.release(s, r.reservation_id)._tag.length
      }
      return acc
    })
  }),
  budget("budget/snapshot+ledger_digest/10000_tenants", "ms/op", null, () => {
    const s = tenants10k()
    return msPerOp(() => Snapshot.ledgerDigest(L.takeSnapshot(s)).length)
  }),
  budget("budget/snapshot/10000_tenants", "ms/op", 2.38, () => {
    const s = tenants10k()
    return msPerOp(() => L.takeSnapshot(s).tenants.length)
  }),
  budget("budget/ledger_digest/10000_tenants", "ms/op", 0.40, () => {
    const snapshot = L.takeSnapshot(tenants10k())
    return msPerOp(() => Snapshot.ledgerDigest(snapshot).length)
  }),
  budget(
    "budget/admit/memory",
    "ops/s",
    null,
    () => {
      const ledger = Effect.runSync(Ledger.makeMemory())
      const provide = Effect.provideService(Ledger.Ledger, ledger)
      Effect.runSync(provide(Ledger.ensureTenant(bench, BIG)))
      let s = 0
      return perOp("ops/s", (count) =>
        Effect.runSync(provide(Effect.gen(function*() {
          let acc = 0
          for (let i = 0; i < count; i++) acc += yield* admitOne(++s)
          return acc
        }))))
    },
    "Ledger.admit (prescribe on the 22-model bench policy, then the hold; the memory layer builds no audit record) over layerMemory; inputs make_input(s); tenant \"bench\" with 1e15; every admitted hold is committed at its estimate right after (counted in the op)"
  ),
  budget(
    "budget/admit/journaled",
    "ops/s",
    null,
    journaledAdmits(5_000, 100),
    "5,000 admits per run on a fresh keyed file journal (durability \"batch\"), 100 concurrent admitters; each admitted hold is committed once the admit is acknowledged (2 journaled commands per op); ack = the admit's latency"
  ),
  {
    ...budget(
      "budget/recovery/1000000_commands",
      "s",
      null,
      recoveryWorkload(1_000_000, 1_000),
      "opening the journaled ledger on a keyed file journal of 1,000,000 commands (100 ensure_tenant, then reserve/commit pairs, 1,000 commands per WAL entry as group commit writes them under 1,000 concurrent callers; built directly with the Journal encoders, not timed), checkpoints every 10,000: WAL open (verify), verified read, last checkpoint, replay, conservation proof; wal_open_only: opening the WAL layer alone (its own verification of the file); no_checkpoints: the same journal written without checkpoints (full replay)"
    ),
    maxRuns: 2
  }
]
