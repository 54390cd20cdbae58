/**
 * Queries never write (issue 13): after a hold's expiry time, every query answers as if the hold
 * were released — without releasing it. The journal's bytes do not change, the layer's own state
 * still holds it, and the next command journals the release (one `Expire`), after which the
 * answers are the same. Checked for the memory layer, the journaled layer over an in-memory WAL
 * and over a WAL file, and the read-only view of a journal file.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as Json from "@calybris/core/Json"
import * as TempDir from "@calybris/testing/TempDir"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import { inspect } from "../src/internal/queries.js"

const key = new Uint8Array(32).fill(5)

const tempFile = () => TempDir.file("calybris-queries-", "journal.jsonl")

/** Every query's answer, printed (one string to compare). */
const everyAnswer = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  const answers = {
    balance: yield* ledger.balance("t"),
    unknown: yield* ledger.balance("nobody"),
    balances: yield* ledger.balances,
    holds: yield* ledger.holds(),
    holdsOfT: yield* ledger.holds("t"),
    cap: yield* ledger.exposureCap("t"),
    caps: yield* ledger.exposureCaps,
    counts: yield* ledger.counts,
    totals: yield* ledger.totals,
    remembers: yield* ledger.remembers("hold-1"),
    digest: yield* Ledger.ledgerDigest,
    status: yield* Ledger.conservationStatus,
    proof: yield* Ledger.conservationProof
  }
  return JSON.stringify(answers, (_, v) => typeof v === "bigint" ? `${v}n` : v)
})

/**
 * Hold 400 (expiring in a minute) and 100 (not expiring) of 1,000; move the Clock past the
 * expiry; ask every query, with `storage` (the bytes the layer has written) before and after.
 */
const scenario = <R>(storage: Effect.Effect<string, unknown, R>) =>
  Effect.gen(function*() {
    yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
    yield* Ledger.setExposureCap(TenantId.make("t"), Microcents.make(900n))
    const expiring = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(400n), {
      expiresIn: "1 minute",
      operationId: "hold-1"
    })
    const kept = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
    if (expiring._tag !== "Reserved" || kept._tag !== "Reserved") return assert.fail("expected holds")
    yield* TestClock.adjust("1 minute")
    const before = yield* storage
    const ledger = yield* Ledger.Ledger
    const answers = yield* everyAnswer
    // the hold is seen released …
    assert.deepStrictEqual(
      Option.map(yield* ledger.balance("t"), (b) => [b.remaining_microcents, b.reserved_microcents]),
      Option.some([900n, 100n])
    )
    assert.deepStrictEqual((yield* ledger.holds()).map((h) => h.reservation_id), [kept.reservation_id])
    assert.strictEqual((yield* ledger.counts).active_reservations, 1)
    assert.strictEqual((yield* Ledger.conservationProof).active_reservations, 1n)
    // … by every query, again and again, without writing anything
    assert.strictEqual(yield* everyAnswer, answers)
    assert.strictEqual(yield* storage, before, "no query wrote")
    assert.deepStrictEqual(
      yield* inspect(ledger, (s) => [...s.holds].map(([id]) => id)),
      [kept.reservation_id],
      "as of now, on a copy"
    )
    // the layer's own state still holds it: only a command releases it
    assert.strictEqual(yield* inspect(ledger, (s) => s.holds.size, false), 2)
    return { answers, before, expiring: expiring.reservation_id }
  })

/** The bytes of the WAL of the environment. */
const walBytes = Effect.flatMap(Wal.Wal, (wal) =>
  Effect.map(
    Stream.runCollect(wal.bytes),
    (chunks) => Buffer.concat([...Chunk.toReadonlyArray(chunks)]).toString("hex")
  ))

describe("a query never writes, and sees an expired hold released", () => {
  it.effect("memory layer: the state keeps the hold until a command; the answers agree before and after", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      // the memory layer has no storage: its state is what a write would change
      const held = inspect(ledger, (s) => `${s.holds.size} ${s.expiring}`, false)
      const { answers } = yield* scenario(Effect.orDie(held))
      // untouched by the queries: the state itself still has both holds, one expiring
      assert.strictEqual(yield* held, "2 1")
      yield* Ledger.sweepExpired
      assert.strictEqual(yield* held, "1 0", "the next command releases it")
      assert.strictEqual(yield* everyAnswer, answers, "and the answers were already those")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("journaled layer over an in-memory WAL: the journal is unchanged; the next command journals one expire", () =>
    Effect.gen(function*() {
      const { answers, before, expiring } = yield* scenario(Effect.orDie(walBytes))
      yield* Ledger.sweepExpired
      const after = yield* walBytes
      assert.notStrictEqual(after, before, "the command journals the release")
      assert.strictEqual(yield* everyAnswer, answers)
      const last = (yield* Stream.runCollect(Wal.readVerified)).pipe(Chunk.toReadonlyArray).at(-1)
      assert.strictEqual(
        Json.print(last?.data ?? null),
        `{"v":1,"commands":[{"kind":"expire","reservation_id":${expiring}}]}`
      )
    }).pipe(
      Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provideMerge(Wal.layerMemory({ key }))))
    ))

  it.scoped("journaled layer over a WAL file: the file's bytes are unchanged", () => {
    const file = tempFile()
    const bytes = Effect.sync(() => fs.readFileSync(file).toString("hex"))
    return Effect.gen(function*() {
      const { answers, before } = yield* scenario(bytes)
      yield* Ledger.sweepExpired
      assert.notStrictEqual(yield* bytes, before)
      assert.strictEqual(yield* everyAnswer, answers)
    }).pipe(
      Effect.provide(
        Ledger.layerJournal({ checkpointEvery: 0 }).pipe(
          Layer.provide(Wal.layerFile(file, { key, durability: "always" })),
          Layer.provide(NodeContext.layer)
        )
      )
    )
  })

  it.effect("the view of a journal file: the same answers, the file untouched", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, "")
      const bytes = Effect.sync(() => fs.readFileSync(file).toString("hex"))
      const { answers, before } = yield* scenario(bytes).pipe(
        Effect.provide(LedgerView.layerFile(file, { key }).pipe(Layer.provide(NodeContext.layer)))
      )
      assert.strictEqual(before, "")
      assert.strictEqual(yield* bytes, "")
      assert.include(answers, "\"active_reservations\":1")
    }))
})
