/**
 * The budget workloads of REFERENCE.md, plus the Effect-service figure the issue asks for
 * (`budget/try_reserve+commit/service`): one tenant "bench" with 1e15 microcents; try_reserve
 * (10,000) then commit (9,500) or release; a 10,000-tenant ledger for snapshots and digests.
 */
import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Effect from "effect/Effect"
import { consume, now, perOp, type Sampler, type Unit, type Workload } from "../registry.js"

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
  budget("budget/try_reserve+commit", "ns/pair", 232.33, () => {
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
      yield* ledger.apply({ _tag: "EnsureTenant", tenant: "bench", amount: 1_000_000_000_000_000n } as L.Command)
      return ledger
    }))
    const pairs = (count: number) =>
      Effect.gen(function*() {
        let acc = 0
        for (let i = 0; i < count; i++) {
          const r = yield* runtime.apply(
            { _tag: "Reserve", tenant: "bench", amount: 10_000n } as L.Command & {
              _tag: "Reserve"
            }
          )
          if (r._tag === "Reserved") {
            const c = yield* runtime.apply(
              { _tag: "Commit", reservation: r.reservation_id, actual: 9_500n } as L.Command & {
                _tag: "Commit"
              }
            )
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
  budget("budget/snapshot+ledger_digest/10000_tenants", "ms/op", 2.74, () => {
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
  })
]
