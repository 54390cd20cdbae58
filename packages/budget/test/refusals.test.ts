/**
 * Refusals are remembered durably (issue 15): an operation id names one outcome forever within
 * the window, a refusal included. In the journaled layers a refusal under a new id is a
 * `refused` journal record, so after a restart — replaying it, or from a checkpoint that
 * remembers it, or in the read-only view — a delayed duplicate still returns the original
 * refusal and holds nothing; recovery with `verifyCheckpoints` and the journal audit pass; a
 * refusal without an id is still not journaled.
 */
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as Json from "@calybris/core/Json"
import * as TempDir from "@calybris/testing/TempDir"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { input, policy } from "./support/fixtures.js"

const key = new Uint8Array(32).fill(3)
const t = TenantId.make("t")
const gw = TenantId.make("gw")

const bytesOf = Effect.gen(function*() {
  const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))
  return Uint8Array.from(Buffer.concat(chunks))
})

/** Refusals under ids of each retry-safe kind; the originals. */
const refuse = Effect.gen(function*() {
  yield* Ledger.ensureTenant(t, Microcents.make(100n))
  yield* Ledger.ensureTenant(gw, Microcents.make(10n))
  const reserve = yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "r" })
  const commit = yield* Ledger.commit(ReservationId.make(1n), Microcents.make(5n), { operationId: "c" })
  const release = yield* Ledger.release(ReservationId.make(1n), { operationId: "l" })
  const topUp = yield* Ledger.topUp(TenantId.make("later"), Microcents.make(5n), { operationId: "u" })
  const admit = yield* Ledger.admit(policy, gw, input(1), { operationId: "a" })
  assert.deepStrictEqual(
    [reserve._tag, commit._tag, release._tag, topUp._tag, admit._tag],
    ["Insufficient", "MissingReservation", "MissingReservation", "MissingTenant", "HoldFailed"]
  )
  return { reserve, commit, release, topUp, admit }
})

/** After the refusals: what refused them is gone (funds, reservation 1, the tenant); every retry returns the original. */
const retry = (original: Effect.Effect.Success<typeof refuse>) =>
  Effect.gen(function*() {
    yield* Ledger.topUp(t, Microcents.make(100_000n))
    yield* Ledger.topUp(gw, Microcents.make(10_000_000n))
    yield* Ledger.ensureTenant(TenantId.make("later"), Microcents.make(1n))
    const held = yield* Ledger.reserve(t, Microcents.make(10n))
    assert.deepStrictEqual(held._tag === "Reserved" ? held.reservation_id : undefined, 1n, "reservation 1 is open")
    const before = yield* Ledger.balances
    assert.deepStrictEqual(yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "r" }), original.reserve)
    assert.deepStrictEqual(
      yield* Ledger.commit(ReservationId.make(1n), Microcents.make(5n), { operationId: "c" }),
      original.commit
    )
    assert.deepStrictEqual(yield* Ledger.release(ReservationId.make(1n), { operationId: "l" }), original.release)
    assert.deepStrictEqual(
      yield* Ledger.topUp(TenantId.make("later"), Microcents.make(5n), { operationId: "u" }),
      original.topUp
    )
    assert.deepStrictEqual(yield* Ledger.admit(policy, gw, input(1), { operationId: "a" }), original.admit)
    assert.deepStrictEqual(yield* Ledger.balances, before, "no retry changed anything")
    assert.strictEqual(yield* Ledger.activeReservations, 1)
  })

const records = (bytes: Uint8Array) =>
  new TextDecoder().decode(bytes).split("\n").filter((l) => l.length > 0).map((l) =>
    Json.print(Either.getOrThrow(Json.parse(l)))
  )

describe("a refusal under an operation id is durable", () => {
  for (const checkpointEvery of [0, 1, 3]) {
    it.effect(`recovered from the journal (checkpointEvery ${checkpointEvery}), a retry returns the original refusal`, () =>
      Effect.gen(function*() {
        const { bytes, original } = yield* Effect.gen(function*() {
          const original = yield* refuse.pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery })))
          return { bytes: yield* bytesOf, original }
        }).pipe(Effect.provide(Wal.layerMemory({ key })))
        const text = records(bytes).join("\n")
        assert.include(text, `"kind":"refused","command":{"kind":"reserve"`)
        assert.include(text, `"result":{"_tag":"Insufficient","remaining_microcents":100,"required_microcents":500}`)
        for (const verifyCheckpoints of [false, true]) {
          yield* retry(original).pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
            Effect.provide(Wal.layerMemory({ key }, bytes))
          )
        }
        // the audit replays the refusals too, and audits the refused admit's decision
        const verdicts = yield* JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))
        assert.strictEqual(verdicts.length, 1)
      }))
  }

  it.effect("in a journal file, and in the read-only view of it", () =>
    Effect.gen(function*() {
      const file = TempDir.file("calybris-refusals-", "journal.jsonl")
      const original = yield* refuse.pipe(Effect.provide(Ledger.layerJournalFile(file, { key })))
      yield* retry(original).pipe(Effect.provide(LedgerView.layerFile(file, { key })))
      yield* retry(original).pipe(Effect.provide(Ledger.layerJournalFile(file, { key, checkpointEvery: 2 })))
      // and once more after those retries (and checkpoints) were journaled
      yield* Effect.gen(function*() {
        assert.deepStrictEqual(yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "r" }), original.reserve)
        assert.strictEqual(yield* Ledger.activeReservations, 1)
      }).pipe(Effect.provide(Ledger.layerJournalFile(file, { key, verifyCheckpoints: true })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a checkpoint remembering a refusal loads, and the retry returns it", () =>
    Effect.gen(function*() {
      const checkpoint =
        `{"v":1,"checkpoint":{"tenants":[{"tenant_id":"t","initial_microcents":100,"remaining_microcents":100,"reserved_microcents":0,"committed_microcents":0}],"holds":[],"caps":[],"operations":[{"operation_id":"op","fingerprint":"reserve \\"t\\" 10 ","result":{"_tag":"Insufficient","remaining_microcents":0,"required_microcents":10}}],"next_reservation":1,"snapshot_version":0,"baseline":0}}`
      const bytes = yield* Effect.gen(function*() {
        yield* (yield* Wal.Wal).append(Either.getOrThrow(Json.parse(checkpoint)))
        return yield* bytesOf
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      yield* Effect.gen(function*() {
        assert.deepStrictEqual(yield* Ledger.reserve(t, Microcents.make(10n), { operationId: "op" }), {
          _tag: "Insufficient",
          remaining_microcents: 0n,
          required_microcents: 10n
        })
        assert.strictEqual(yield* Ledger.activeReservations, 0)
      }).pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })),
        Effect.provide(Wal.layerMemory({ key }, bytes))
      )
    }))

  it.effect("a refusal without an operation id is not journaled: the journal is what it was", () =>
    Effect.gen(function*() {
      const write = (refusals: boolean) =>
        Effect.gen(function*() {
          yield* Effect.gen(function*() {
            yield* Ledger.ensureTenant(t, Microcents.make(100n))
            if (refusals) {
              yield* Ledger.reserve(t, Microcents.make(500n))
              yield* Ledger.commit(ReservationId.make(9n), Microcents.make(1n))
              yield* Ledger.admit(policy, t, input(1))
            }
            yield* Ledger.reserve(t, Microcents.make(5n), { operationId: "ok" })
          }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })))
          return yield* bytesOf
        }).pipe(Effect.provide(Wal.layerMemory({ key })))
      assert.deepStrictEqual(records(yield* write(true)), records(yield* write(false)))
    }))
})

describe("an operation id on a kind of command that takes none (a JavaScript caller; a hostile review)", () => {
  it.effect("is refused with InvalidArgument before anything changes, in memory and journaled: nothing remembered, nothing written", () =>
    Effect.gen(function*() {
      const attempt = Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        for (
          const command of [
            { _tag: "EnsureTenant", tenant: "a", amount: 100n, operation_id: "k" },
            { _tag: "TakeSnapshot", operation_id: "s" }
          ]
        ) {
          const refused = yield* Effect.flip(ledger.apply(command as unknown as Parameters<typeof ledger.apply>[0]))
          assert.strictEqual(refused._tag, "InvalidArgument", command._tag)
        }
        assert.isFalse(yield* Ledger.remembers("k"))
        assert.isFalse(yield* Ledger.remembers("s"))
        assert.isTrue(Option.isNone(yield* Ledger.balance(TenantId.make("a"))))
        // the id stays free for a top-up
        yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(100n))
        const topped = yield* Ledger.topUp(TenantId.make("a"), Microcents.make(1n), { operationId: "k" })
        assert.strictEqual(topped._tag, "ToppedUp")
      })
      yield* attempt.pipe(Effect.provide(Ledger.layerMemory))
      const journal = yield* Effect.gen(function*() {
        yield* attempt.pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 1 })))
        return yield* bytesOf
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      // the journal: the ensure and the top-up (each with its checkpoint), nothing of the refused ones
      assert.notInclude(new TextDecoder().decode(journal), "\"s\"")
    }))
})

describe("the operation window bounds refusals as it bounds applied results", () => {
  const exercise = Effect.gen(function*() {
    yield* Ledger.ensureTenant(t, Microcents.make(100n))
    const refused = yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "a" })
    assert.strictEqual(refused._tag, "Insufficient")
    yield* Ledger.topUp(t, Microcents.make(1_000n), { operationId: "b" })
    // "a" is still in a window of 2: the refusal
    assert.deepStrictEqual(yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "a" }), refused)
    yield* Ledger.reserve(t, Microcents.make(1n), { operationId: "c" }) // a refused id counts as much as this one
    assert.isFalse(yield* Ledger.remembers("a"), "the refusal left the window")
    return yield* Ledger.reserve(t, Microcents.make(500n), { operationId: "a" })
  })

  it.effect("a window of 2: a refusal is forgotten after 2 later operations with ids, in memory and journaled, and after recovery", () =>
    Effect.gen(function*() {
      const memory = yield* exercise.pipe(Effect.provide(Ledger.layerMemoryWith({ operationWindow: 2 })))
      assert.strictEqual(memory._tag, "Reserved", "a command under a forgotten id applies as new")
      const { bytes, journaled } = yield* Effect.gen(function*() {
        const journaled = yield* exercise.pipe(
          Effect.provide(Ledger.layerJournal({ operationWindow: 2, checkpointEvery: 2 }))
        )
        return { bytes: yield* bytesOf, journaled }
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      assert.deepStrictEqual(journaled, memory)
      for (const verifyCheckpoints of [false, true]) {
        const remembered = yield* Effect.all([Ledger.remembers("a"), Ledger.remembers("b"), Ledger.remembers("c")])
          .pipe(
            Effect.provide(Ledger.layerJournal({ verifyCheckpoints })),
            Effect.provide(Wal.layerMemory({ key }, bytes))
          )
        // the window after the journal: "c" and the new "a" (its hold), "b" forgotten
        assert.deepStrictEqual(remembered, [true, false, true], `verifyCheckpoints: ${verifyCheckpoints}`)
      }
    }))
})
