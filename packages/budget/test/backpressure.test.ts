/**
 * Bounded memory (issue 13): the journaled ledger's queue of commands waiting for the writer is
 * bounded (`maxPending`). While the WAL is slow, submitters beyond the bound wait to enqueue
 * (backpressure) instead of growing the queue; nothing is dropped or refused, and every command
 * completes, in submission order, once the WAL proceeds.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const key = new Uint8Array(32).fill(3)

/** A WAL whose appends wait at a gate (and count how many reached it). */
const gatedWal = (gate: Effect.Latch, reached: { count: number }) =>
  Layer.effect(
    Wal.Wal,
    Effect.map(Wal.Wal, (wal) =>
      Wal.Wal.of({
        ...wal,
        append: (data) =>
          Effect.suspend(() => {
            reached.count++
            return Effect.zipRight(gate.await, wal.append(data))
          })
      }))
  ).pipe(Layer.provide(Wal.layerMemory({ key })))

/** Let every other fiber run until it suspends. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const initial = Effect.map(Ledger.initial("t"), Option.getOrThrow)

describe("the pending queue is bounded", () => {
  it.scoped("a submitter beyond maxPending waits to enqueue: interrupted there, its command never applies", () =>
    Effect.gen(function*() {
      const gate = yield* Effect.makeLatch(true)
      const reached = { count: 0 }
      const ledger = yield* Layer.build(
        Ledger.layerJournal({ checkpointEvery: 0, maxBatch: 1, maxPending: 2 }).pipe(
          Layer.provide(gatedWal(gate, reached))
        )
      )
      const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) => Effect.provide(effect, ledger)
      yield* run(Ledger.ensureTenant(TenantId.make("t"), Microcents.make(0n)))
      yield* gate.close
      // the writer takes the first top-up and waits at the WAL's gate
      const first = yield* Effect.fork(run(Ledger.topUp(TenantId.make("t"), Microcents.make(1n))))
      yield* settle
      assert.strictEqual(reached.count, 2, "the writer is at the gate with the first top-up")
      // two more fill the queue; the next three wait to enqueue
      const queued: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const amount of [2n, 3n]) {
        queued.push(yield* Effect.fork(run(Ledger.topUp(TenantId.make("t"), Microcents.make(amount)))))
        yield* settle
      }
      const waiting: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const amount of [100n, 200n, 400n]) {
        waiting.push(yield* Effect.fork(run(Ledger.topUp(TenantId.make("t"), Microcents.make(amount)))))
        yield* settle
      }
      for (const fiber of waiting) yield* Fiber.interrupt(fiber)
      yield* gate.open
      yield* Fiber.join(first)
      for (const fiber of queued) yield* Fiber.join(fiber)
      yield* settle
      // with an unbounded queue the three would have been queued, and applied despite the interrupt
      assert.strictEqual(yield* run(initial), 6n)
    }))

  it.scoped("with a tiny queue and a slow WAL every submitter completes, in submission order", () =>
    Effect.gen(function*() {
      const gate = yield* Effect.makeLatch(true)
      const reached = { count: 0 }
      const wal = yield* Layer.build(gatedWal(gate, reached))
      const ledger = yield* Layer.build(
        Ledger.layerJournal({ checkpointEvery: 5, maxBatch: 3, maxPending: 2 }).pipe(
          Layer.provide(Layer.succeedContext(wal))
        )
      )
      const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) => Effect.provide(effect, ledger)
      yield* run(Ledger.ensureTenant(TenantId.make("t"), Microcents.make(0n)))
      yield* gate.close
      const fibers = []
      for (let i = 0; i < 30; i++) {
        fibers.push(yield* Effect.fork(run(Ledger.topUp(TenantId.make("t"), Microcents.make(1n)))))
        yield* Effect.yieldNow()
      }
      yield* settle
      const appendsWhileClosed = reached.count
      yield* gate.open
      const results = []
      for (const fiber of fibers) results.push(yield* Fiber.join(fiber))
      assert.deepStrictEqual(
        results.map((r) => r._tag === "ToppedUp" ? r.new_initial_microcents : r._tag),
        Array.from({ length: 30 }, (_, i) => BigInt(i + 1)),
        "every top-up applied once, in the order submitted"
      )
      assert.isAbove(reached.count, appendsWhileClosed)
      assert.strictEqual(yield* run(initial), 30n)
      // and the journal holds them: a fresh ledger over the same WAL recovers the same balance
      const recovered = yield* initial.pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })),
        Effect.provide(Layer.succeedContext(wal))
      )
      assert.strictEqual(recovered, 30n)
    }))
})
