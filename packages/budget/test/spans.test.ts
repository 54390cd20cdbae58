/**
 * Spans on the cold paths only: opening a WAL file (a ledger's own included), recovering a ledger, a read-only view,
 * repairing a log, auditing a journal, replaying an audited log each record one span; the
 * per-request paths (admit, reserve, commit, append) record none.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import { input, policy } from "./support/fixtures.js"

const key = new Uint8Array(32).fill(5)

/** A tracer that records the name of every span started, delegating the spans themselves. */
const recording = (base: Tracer.Tracer) => {
  const names: Array<string> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      names.push(name)
      return base.span(name, parent, context, links, startTime, kind, options)
    },
    context: (f, fiber) => base.context(f, fiber)
  })
  /** the names recorded since the last call */
  const take = (): Array<string> => names.splice(0, names.length)
  return { tracer, take }
}

it.live("cold paths record one span each (open, recovery, view, repair, audit, replay); admits and appends none", () =>
  Effect.gen(function*() {
    const { take, tracer } = recording(yield* Effect.tracer)
    yield* Effect.withTracer(cold(take), tracer)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

const cold = (take: () => Array<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-spans-" })
    const journal = `${dir}/journal.jsonl`
    const ledger = Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provideMerge(Wal.layerFile(journal, { key })))
    yield* Effect.gen(function*() {
      assert.deepStrictEqual(take(), ["Wal.open", "Ledger.recover"])
      // the hot paths: no span per request
      yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1_000_000_000n))
      for (let i = 1; i <= 20; i++) {
        const outcome = yield* Ledger.admit(policy, TenantId.make("acme"), input(i), { operationId: `req-${i}` })
        if (outcome._tag === "Admitted") yield* Ledger.commit(outcome.reservation_id, Microcents.make(1n))
        yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(10n))
      }
      assert.deepStrictEqual(take(), [], "no span per command")
      const verdicts = yield* JournalAudit.audit([policy])
      assert.isTrue(verdicts.length > 0)
      assert.deepStrictEqual(take(), ["JournalAudit.audit"])
    }).pipe(Effect.provide(ledger))
    take()

    // a ledger that owns its log file: the log's open (which reads, verifies and decodes every
    // entry in one pass) and the recovery's replay, then nothing per command
    yield* Effect.gen(function*() {
      assert.deepStrictEqual(take(), ["Wal.open", "Ledger.recover"])
      yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(10n))
      assert.deepStrictEqual(take(), [], "no span per command")
    }).pipe(Effect.provide(Ledger.layerJournalFile(journal, { key, checkpointEvery: 0 })))
    take()
    const audited = yield* JournalAudit.auditFile(journal, [policy], { key })
    assert.isTrue(audited.length > 0)
    assert.deepStrictEqual(take(), ["JournalAudit.audit"])

    const view = yield* LedgerView.recoverFile(journal, { key })
    assert.isTrue(view.entries > 0n)
    assert.deepStrictEqual(take(), ["LedgerView.recoverFile"])
    const repaired = yield* Wal.repair(journal, { key })
    assert.strictEqual(repaired._tag, "RepairClean")
    assert.deepStrictEqual(take(), ["Wal.repair"])

    // an audited decision log: appends record nothing, the replay one span
    const log = `${dir}/audited.jsonl`
    yield* Effect.gen(function*() {
      take()
      for (let i = 1; i <= 20; i++) {
        yield* Audited.append(policy, input(i), Kernel.prescribe(policy, input(i)), i)
      }
      assert.deepStrictEqual(take(), [], "no span per append")
      const replayed = yield* Audited.replay(policy)
      assert.strictEqual(replayed.length, 20)
      assert.deepStrictEqual(take(), ["Audited.replay"])
    }).pipe(Effect.provide(Wal.layerFile(log, { key })))
  })
