/**
 * An admit's journal entry is what its replay takes (a helper's hostile review of the journaled
 * ledger): metadata and an audited decision the WAL could not write are refused before anything
 * changes (the writer's refusal came after the state changed, and the ledger stopped serving
 * every tenant), and an admit under an operation id is bound to its audited decision as replay
 * binds it, whatever `binding` the caller built it with (a checkpoint then differed from the
 * replay, and `verifyCheckpoints` recovery and the journal audit refused the journal).
 */
import * as Arguments from "@calybris/budget/Arguments"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import type { InvalidArgument } from "@calybris/budget/LedgerError"
import type * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Fixtures from "@calybris/testing/Fixtures"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { input, policy } from "./support/fixtures.js"

const key = new TextEncoder().encode("admit journal key")
const t = TenantId.make("t")

/** A Json value `depth` arrays deep. */
const nested = (depth: number): Json.Json => {
  let value: Json.Json = 0n
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** Run `program` on a journaled ledger over a memory log holding `bytes`; the program's value and the log's bytes after it. */
const onJournal = <A, E>(
  bytes: Uint8Array | undefined,
  program: Effect.Effect<A, E, Ledger.Ledger>,
  options: Ledger.JournalOptions = {}
) =>
  Effect.gen(function*() {
    const value = yield* Effect.either(
      program.pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, ...options })))
    )
    const wal = yield* Wal.Wal
    const after = Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))))
    return { value, bytes: after }
  }).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))

const audit = (bytes: Uint8Array) => JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))

describe("no command fails the journaled ledger closed for its size", () => {
  it.effect("property: under any line limit, every command is journaled or refused as InvalidArgument before anything changes; never a LedgerStoreError, and the journal reopens to the same balances", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(
          fc.integer({ min: 300, max: 4_000 }),
          fc.array(
            fc.oneof(
              fc.record({ k: fc.constant("ensure" as const), tenant: fc.integer({ min: 1, max: 1_024 }) }),
              fc.record({
                k: fc.constant("reserve" as const),
                id: fc.integer({ min: 1, max: 256 }),
                escaped: fc.boolean()
              }),
              fc.record({ k: fc.constant("admit" as const), metadata: fc.integer({ min: 0, max: 4_000 }) })
            ),
            { minLength: 1, maxLength: 12 }
          ),
          (limit, ops) => {
            const program = Effect.gen(function*() {
              yield* Effect.either(Ledger.ensureTenant(t, Microcents.make(1_000_000_000_000n)))
              for (const [i, op] of ops.entries()) {
                const attempt: Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger> = op.k === "ensure"
                  ? Ledger.ensureTenant(TenantId.make("e".repeat(op.tenant)), Microcents.make(1n))
                  : op.k === "reserve"
                  ? Ledger.reserve(t, Microcents.make(1n), {
                    operationId: `${i}`.padEnd(op.id, op.escaped ? "\u0001" : "r").slice(0, op.id)
                  })
                  : Ledger.admit(policy, t, input(i + 1), { metadata: "m".repeat(op.metadata) })
                const outcome = yield* Effect.either(attempt)
                if (Either.isLeft(outcome)) {
                  assert.strictEqual(
                    outcome.left._tag,
                    "InvalidArgument",
                    `${JSON.stringify(op)}: ${outcome.left._tag}`
                  )
                }
              }
              const wal = yield* Wal.Wal
              const bytes = Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))))
              return { balances: yield* Ledger.balances, bytes }
            })
            const first = Effect.runSync(
              program.pipe(
                Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })),
                Effect.provide(Wal.layerMemory({ key, maxLineBytes: limit }))
              )
            )
            const again = Effect.runSync(
              Ledger.balances.pipe(
                Effect.provide(Ledger.layerJournalMemory({ key, maxLineBytes: limit, checkpointEvery: 0 }, first.bytes))
              )
            )
            assert.deepStrictEqual(again, first.balances)
          }
        ),
        { numRuns: fc.readConfigureGlobal().numRuns ?? 40 }
      )
    ))
})

describe("an admit's journal entry is one its replay takes", () => {
  it.effect("an admit whose journal record could not fit the log's line is InvalidArgument before anything changes; the ledger serves every caller on (a helper's hostile review: applied, then refused by the log, it failed the ledger closed)", () =>
    Effect.gen(function*() {
      const small = Wal.layerMemory({ key, maxLineBytes: 4096 })
      const result = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(t, Microcents.make(10n ** 12n))
        // through Ledger.admit (its metadata's bound), and through apply with the record as a value
        const big = yield* Effect.flip(Ledger.admit(policy, t, input(1), { metadata: "x".repeat(5_000) }))
        const decision = Kernel.prescribe(policy, input(2))
        const record = Either.getOrThrow(Audited.recordOfPrescribed(policy, input(2), decision, "y".repeat(5_000)))
        const amount = Microcents.make(decision.estimated_cost_microunits as bigint)
        const ledger = yield* Ledger.Ledger
        const asValue = yield* Effect.flip(ledger.apply(Command.admit(t, amount), record))
        const asFunction = yield* Effect.flip(ledger.apply(Command.admit(t, amount), () => Either.right(record)))
        // the ledger serves on: an admit whose record fits, a reserve, a query
        const fits = yield* Ledger.admit(policy, t, input(3), { metadata: "z".repeat(1_000) })
        const reserved = yield* Ledger.reserve(t, Microcents.make(5n))
        return { big, asValue, asFunction, fits, reserved, active: yield* Ledger.activeReservations }
      }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })), Effect.provide(small))
      for (const refused of [result.big, result.asValue, result.asFunction]) {
        assert.strictEqual(refused._tag, "InvalidArgument")
        assert.strictEqual((refused as InvalidArgument).field, "audited")
        assert.include(refused.message, "line limit (maxLineBytes) of 4096")
      }
      assert.strictEqual(result.fits._tag, "Admitted")
      assert.strictEqual(result.reserved._tag, "Reserved")
      assert.strictEqual(result.active, 2)
    }))

  it.effect("metadata the WAL could not write is InvalidArgument before anything changes; the ledger keeps serving", () =>
    Effect.gen(function*() {
      const setup = yield* onJournal(undefined, Ledger.ensureTenant(t, Microcents.make(1_000_000n)))
      for (
        const metadata of [
          "\uD800" as Json.Json,
          new Map([["k\uDFFF", 1n]]),
          new Map([["x", 1n << 70n]]),
          nested(Arguments.MAX_METADATA_DEPTH + 1)
        ]
      ) {
        const run = yield* onJournal(
          setup.bytes,
          Effect.gen(function*() {
            const refused = yield* Effect.either(Ledger.admit(policy, t, input(1), { operationId: "adm", metadata }))
            assert.isTrue(Either.isLeft(refused))
            if (Either.isLeft(refused)) {
              assert.strictEqual(refused.left._tag, "InvalidArgument")
              assert.strictEqual((refused.left as InvalidArgument).field, "metadata")
            }
            // every tenant still served: a write and a read
            yield* Ledger.topUp(t, Microcents.make(1n))
            return yield* Ledger.remaining(t)
          })
        )
        assert.deepStrictEqual(run.value, Either.right(Option.some(1_000_001n)))
      }
    }))

  it.effect("an audited decision the WAL could not write, given to apply, is InvalidArgument before anything changes", () =>
    Effect.gen(function*() {
      const setup = yield* onJournal(undefined, Ledger.ensureTenant(t, Microcents.make(1_000n)))
      const run = yield* onJournal(
        setup.bytes,
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          // not writable, or not Json at all (an untyped caller's: a fuzzing helper's review)
          const bad: ReadonlyArray<unknown> = [
            new Map([["x", "\uD800"]]),
            new Map([["x", 1n << 64n]]),
            new Map([["x", undefined]]),
            new Map([["f", () => 1]]),
            { a: 1 }
          ]
          for (const audited of bad) {
            const refused = yield* Effect.either(
              ledger.apply(Command.admit(t, Microcents.make(5n), { operation_id: "a1" }), audited as Json.Json)
            )
            assert.isTrue(Either.isLeft(refused) && refused.left._tag === "InvalidArgument", String(refused))
            if (Either.isLeft(refused)) assert.strictEqual((refused.left as InvalidArgument).field, "audited")
          }
          yield* Ledger.topUp(TenantId.make("u"), Microcents.make(1n))
          return yield* Ledger.remaining(t)
        })
      )
      assert.deepStrictEqual(run.value, Either.right(Option.some(1_000n)))
      assert.deepStrictEqual(run.bytes, setup.bytes, "nothing journaled")
    }))

  it.effect("an audited decision whose cost is not the admit's hold, given to apply, is InvalidArgument before anything changes: the journal audit would refuse it (a hostile review)", () =>
    Effect.gen(function*() {
      const setup = yield* onJournal(undefined, Ledger.ensureTenant(t, Microcents.make(1_000_000n)))
      const decision = Kernel.prescribe(policy, input(1))
      const record = Either.getOrThrow(Audited.recordOfPrescribed(policy, input(1), decision, null))
      const cost = decision.estimated_cost_microunits as bigint
      assert.isAbove(Number(cost), 1)
      const run = yield* onJournal(
        setup.bytes,
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          // given as a value, and built by a function (a hostile review: that one was journaled, and
          // the journal no longer opened: recovery refuses it)
          for (const audited of [record, () => Either.right(record)]) {
            for (const amount of [1n, cost + 1n]) {
              const refused = yield* Effect.flip(
                ledger.apply(Command.admit(t, Microcents.make(amount), { operation_id: "q" }), audited)
              )
              assert.strictEqual(refused._tag, "InvalidArgument")
              assert.strictEqual((refused as InvalidArgument).field, "audited")
              assert.include(refused.message, `estimated_cost_microunits is ${cost}, the admit holds ${amount}`)
            }
          }
          return yield* Ledger.remaining(t)
        })
      )
      assert.deepStrictEqual(run.value, Either.right(Option.some(1_000_000n)))
      assert.deepStrictEqual(run.bytes, setup.bytes, "nothing journaled")
      // its own cost: held, journaled, and the journal audits
      const held = yield* onJournal(
        setup.bytes,
        Effect.flatMap(
          Ledger.Ledger,
          (ledger) =>
            Effect.zipRight(
              ledger.apply(Command.admit(t, Microcents.make(cost), { operation_id: "q" }), record),
              ledger.apply(Command.admit(t, Microcents.make(cost), { operation_id: "f" }), () => Either.right(record))
            )
        )
      )
      assert.isTrue(Either.isRight(held.value) && held.value.right._tag === "Reserved")
      yield* audit(held.bytes)
      // and reopens
      const reopened = yield* onJournal(held.bytes, Ledger.remaining(t), { verifyCheckpoints: true })
      assert.deepStrictEqual(reopened.value, Either.right(Option.some(1_000_000n - 2n * cost)))
    }))

  it.effect("metadata at the deepest the journal takes is journaled, applied and refused, and recovers and audits", () =>
    Effect.gen(function*() {
      const metadata = nested(Arguments.MAX_METADATA_DEPTH)
      const run = yield* onJournal(
        undefined,
        Effect.gen(function*() {
          const poor = TenantId.make("poor")
          yield* Ledger.ensureTenant(t, Microcents.make(1_000_000n))
          yield* Ledger.ensureTenant(poor, Microcents.make(0n))
          const held = yield* Ledger.admit(policy, t, input(1), { operationId: "deep-1", metadata })
          // a refusal remembered under its id: journaled as a refused record, the deepest place
          const short = yield* Ledger.admit(policy, poor, input(2), { operationId: "deep-2", metadata })
          return [held._tag, short._tag] as const
        })
      )
      assert.deepStrictEqual(Either.getOrThrow(run.value), ["Admitted", "HoldFailed"])
      const reopened = yield* onJournal(run.bytes, Ledger.remaining(t), { verifyCheckpoints: true })
      if (Either.isLeft(reopened.value)) assert.fail(reopened.value.left.message)
      yield* audit(run.bytes)
    }))

  it.effect("a hand-built admit's binding is its audited decision's: checkpoints equal the replay, a retry answers alike after a reopen", () =>
    Effect.gen(function*() {
      const audited: Json.Json = new Map<string, Json.Json>([
        ["audit", new Map([["policy_digest_hex", "p"], ["input_digest_hex", "i"]])],
        ["metadata", null]
      ])
      const admits = [
        Command.admit(t, Microcents.make(5n), { operation_id: "x", binding: "hand" }),
        Command.admit(t, Microcents.make(6n), { operation_id: "y", binding: "hand" })
      ] as const
      const first = yield* onJournal(
        undefined,
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* Ledger.ensureTenant(t, Microcents.make(1_000n))
          const x = yield* ledger.apply(admits[0])
          const y = yield* ledger.apply(admits[1], audited)
          // a checkpoint after them (checkpointEvery 2): it remembers both ids' fingerprints
          yield* Ledger.topUp(t, Microcents.make(1n))
          yield* Ledger.topUp(t, Microcents.make(1n))
          // retried as built: the original answers
          return [x, y, yield* ledger.apply(admits[0]), yield* ledger.apply(admits[1], audited)]
        }),
        { checkpointEvery: 2 }
      )
      if (Either.isLeft(first.value)) assert.fail(first.value.left.message)
      const answers = Either.getOrThrow(first.value)
      assert.deepStrictEqual(answers[2], answers[0])
      assert.deepStrictEqual(answers[3], answers[1])
      // reopened from genesis, every checkpoint compared with the replay; the retries answer alike
      const again = yield* onJournal(
        first.bytes,
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          return [yield* ledger.apply(admits[0]), yield* ledger.apply(admits[1], audited)]
        }),
        { verifyCheckpoints: true, checkpointEvery: 2 }
      )
      if (Either.isLeft(again.value)) assert.fail(again.value.left.message)
      assert.deepStrictEqual(Either.getOrThrow(again.value), [answers[0], answers[1]])
      // (not audited: the journal audit refuses an admit without a valid audited decision)
    }))
})

describe("admit's own refusals (a helper's review of the API)", () => {
  const hugePolicy = () => {
    const snap = Fixtures.ledgerPolicy(1n).snapshot
    return Policy.unsafeMake({
      ...snap,
      models: snap.models.map((m) => ({
        ...m,
        input_cost_microunits_per_million_tokens: 10_000_000_000_000_000_000n as Int.U64,
        output_cost_microunits_per_million_tokens: 0n as Int.U64
      }))
    })
  }
  const hugeInput = Fixtures.ledgerInput({
    input_tokens: 1_000_000,
    output_tokens: 0,
    budget_limit_microunits: 18446744073709551615n,
    // (a confidence above 10,000 bps scales the value past the cost: the kernel allows it)
    business_value_microunits: 9223372036854775807n,
    confidence_bps: 65535,
    risk_bps: 0
  })
  const key = new Uint8Array(32).fill(3)
  for (
    const [name, layer] of [
      ["memory", Ledger.layerMemory],
      ["journaled", Ledger.layerJournal().pipe(Layer.provide(Wal.layerMemory({ key })))]
    ] as const
  ) {
    it.effect(`${name}: a cost above the largest hold is CostTooLarge, nothing held or journaled — not an Insufficient with made-up figures, whatever the tenant (even none)`, () =>
      Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("rich"), Microcents.make(5_000_000_000n))
        for (const tenant of ["rich", "no-such-tenant"]) {
          const outcome = yield* Ledger.admit(hugePolicy(), TenantId.make(tenant), hugeInput, {
            operationId: `op-${tenant}`
          })
          assert.strictEqual(outcome._tag, "CostTooLarge", tenant)
          assert.strictEqual(outcome.decision.estimated_cost_microunits, 10_000_000_000_000_000_000n)
          assert.isFalse(yield* Ledger.remembers(`op-${tenant}`))
        }
        assert.strictEqual(Option.getOrThrow(yield* Ledger.remaining("rich")), 5_000_000_000n)
        assert.deepStrictEqual(yield* Ledger.holds(), [])
      }).pipe(Effect.provide(layer)))

    it.effect(`${name}: a policy that is no Policy (a plain object) is an InvalidArgument naming it, not a defect`, () =>
      Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(5n))
        const error = yield* Effect.flip(
          Ledger.admit({ ...hugePolicy().snapshot } as unknown as Policy.Policy, TenantId.make("t"), hugeInput)
        )
        assert.strictEqual(error._tag, "InvalidArgument")
        if (error._tag === "InvalidArgument") assert.strictEqual(error.field, "policy")
      }).pipe(Effect.provide(layer)))
  }
})
