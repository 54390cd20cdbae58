/**
 * Bounded memory (issue 13): the ledger remembers the operation ids of the last N applied
 * operations (N = `operationWindow`), so a checkpoint no longer grows with total traffic; the
 * memory and journaled layers forget the same ids; recovery (from a checkpoint and from genesis)
 * rebuilds the same window; an id that left the window may appear again in a journal as a new
 * operation, and one still in it may not.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import { InvalidArgument, LedgerJournalInconsistent } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import { inspect } from "../src/internal/queries.js"
import { policy } from "./support/fixtures.js"

const key = new Uint8Array(32).fill(9)
const numRuns = fc.readConfigureGlobal().numRuns ?? 25

const stateText = Effect.flatMap(
  Ledger.Ledger,
  (l) => inspect(l, (s) => Json.print(Either.getOrThrow(Journal.encodeCheckpoint(s))))
)
const remembered = Effect.flatMap(Ledger.Ledger, (l) => inspect(l, (s) => [...s.operations.keys()]))

const bytesOf = Effect.gen(function*() {
  const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))
  return Uint8Array.from(Buffer.concat(chunks))
})

/** The ids of `count` operations, `op-0` … */
const ids = (count: number) => Array.from({ length: count }, (_, i) => `op-${i}`)

/**
 * Apply `n + k` top-ups under distinct ids, then check the window: the newest `n` are remembered
 * (a retry returns the original result, an altered retry conflicts), the oldest `k` are
 * forgotten (a retry applies as new). Returns the ledger's state text.
 */
const exercise = (n: number, k: number) =>
  Effect.gen(function*() {
    yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000_000n))
    const all = ids(n + k)
    const original = new Map<string, unknown>()
    for (const [i, id] of all.entries()) {
      original.set(id, yield* Ledger.topUp(TenantId.make("t"), Microcents.make(BigInt(i + 1)), { operationId: id }))
    }
    assert.deepStrictEqual(yield* remembered, all.slice(k), "the newest n ids, oldest first")
    // the newest n: remembered (checked first: a retry applied as new would shift the window)
    for (const [i, id] of all.entries()) {
      if (i < k) {
        continue
      }
      assert.deepStrictEqual(
        yield* Ledger.topUp(TenantId.make("t"), Microcents.make(BigInt(i + 1)), { operationId: id }),
        original.get(id),
        id
      )
      const altered = yield* Effect.flip(
        Ledger.topUp(TenantId.make("t"), Microcents.make(BigInt(i + 2)), { operationId: id })
      )
      assert.strictEqual(altered._tag, "IdempotencyConflict", id)
    }
    // the oldest k: forgotten, a retry applies again (and is remembered anew)
    for (const [i, id] of all.entries()) {
      if (i >= k) break
      const before = Option.getOrThrow(yield* Ledger.initial("t"))
      const again = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(BigInt(i + 1)), { operationId: id })
      assert.strictEqual(again._tag, "ToppedUp", id)
      if (again._tag === "ToppedUp") assert.strictEqual(again.new_initial_microcents, before + BigInt(i + 1), id)
      assert.notDeepEqual(again, original.get(id), `${id} applied as new`)
    }
    const window = yield* remembered
    assert.strictEqual(window.length, n)
    return yield* stateText
  })

describe("the operation window", () => {
  it.effect.prop(
    "after n + k operations the oldest k ids are forgotten and the newest n remembered, in every layer, and recovery rebuilds the same window",
    { n: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 1, max: 6 }), every: fc.integer({ min: 0, max: 5 }) },
    ({ every, k, n }) =>
      Effect.gen(function*() {
        const memory = yield* exercise(n, k).pipe(Effect.provide(Ledger.layerMemoryWith({ operationWindow: n })))
        const { bytes, live } = yield* Effect.gen(function*() {
          const live = yield* exercise(n, k).pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: every, operationWindow: n }))
          )
          return { bytes: yield* bytesOf, live }
        }).pipe(Effect.provide(Wal.layerMemory({ key })))
        assert.strictEqual(live, memory, "the journaled layer remembers what the memory layer remembers")
        for (const verifyCheckpoints of [false, true]) {
          // no window given: the journal's own (recorded when the ledger was opened with n)
          const recovered = yield* stateText.pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
            Effect.provide(Wal.layerMemory({ key }, bytes))
          )
          assert.strictEqual(recovered, live, `verifyCheckpoints: ${verifyCheckpoints}`)
        }
        yield* JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))
      }),
    { fastCheck: { numRuns } }
  )

  it.effect.prop(
    "any sequence of retries, altered retries and new ids behaves as a window of the last n applied ids, in every layer and after recovery",
    {
      n: fc.integer({ min: 1, max: 4 }),
      every: fc.integer({ min: 0, max: 4 }),
      ops: fc.array(fc.record({ id: fc.integer({ min: 0, max: 6 }), amount: fc.integer({ min: 1, max: 2 }) }), {
        maxLength: 40
      })
    },
    ({ every, n, ops }) =>
      Effect.gen(function*() {
        // the model: ids in the order first applied, each with its amount and its result
        const window: Array<{ readonly id: string; readonly amount: number; readonly initial: bigint }> = []
        let total = 0n
        const expected = ops.map(({ amount, id }) => {
          const seen = window.find((w) => w.id === `op-${id}`)
          if (seen !== undefined) return seen.amount === amount ? seen.initial : "IdempotencyConflict"
          total += BigInt(amount)
          window.push({ id: `op-${id}`, amount, initial: total })
          if (window.length > n) window.shift()
          return total
        })
        const run = Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(0n))
          const results: Array<bigint | string> = []
          for (const { amount, id } of ops) {
            const r = yield* Effect.either(
              Ledger.topUp(TenantId.make("t"), Microcents.make(BigInt(amount)), { operationId: `op-${id}` })
            )
            results.push(
              Either.isLeft(r)
                ? r.left._tag
                : r.right._tag === "ToppedUp"
                ? r.right.new_initial_microcents
                : r.right._tag
            )
          }
          assert.deepStrictEqual(results, expected)
          assert.deepStrictEqual(yield* remembered, window.map((w) => w.id))
          return yield* stateText
        })
        const memory = yield* run.pipe(Effect.provide(Ledger.layerMemoryWith({ operationWindow: n })))
        const { bytes, live } = yield* Effect.gen(function*() {
          const live = yield* run.pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: every, operationWindow: n }))
          )
          return { bytes: yield* bytesOf, live }
        }).pipe(Effect.provide(Wal.layerMemory({ key })))
        assert.strictEqual(live, memory)
        for (const verifyCheckpoints of [false, true]) {
          const recovered = yield* stateText.pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
            Effect.provide(Wal.layerMemory({ key }, bytes))
          )
          assert.strictEqual(recovered, live, `verifyCheckpoints: ${verifyCheckpoints}`)
        }
      }),
    { fastCheck: { numRuns } }
  )

  it.effect.prop(
    "the remembered ids are those of a model window, in order, through evictions, compactions and limit changes",
    {
      steps: fc.array(
        fc.oneof(
          { weight: 20, arbitrary: fc.integer({ min: 0, max: 3_000 }).map((id) => ({ id })) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((limit) => ({ limit })) }
        ),
        // long enough for more than 1,024 evictions (the order queue compacts)
        { minLength: 2_500, maxLength: 4_000 }
      ),
      limit: fc.integer({ min: 1, max: 40 })
    },
    ({ limit, steps }) =>
      Effect.sync(() => {
        const window = new L.LedgerState().operations
        window.limit = limit
        let model: Array<string> = []
        let max = limit
        const value = { fingerprint: "", result: undefined }
        for (const step of steps) {
          if ("limit" in step) {
            window.limit = max = step.limit
            model = model.slice(Math.max(0, model.length - max))
          } else {
            const id = `op-${step.id}`
            window.set(id, value)
            if (!model.includes(id)) {
              model.push(id)
              if (model.length > max) model.shift()
            }
          }
        }
        assert.deepStrictEqual([...window.keys()], model)
        assert.strictEqual(window.size, model.length)
        for (const id of model) assert.isTrue(window.has(id))
      }),
    { fastCheck: { numRuns } }
  )

  it.effect("a checkpoint stays bounded as traffic grows", () =>
    Effect.gen(function*() {
      const n = 200
      const size = Effect.map(stateText, (text) => text.length)
      const sizes = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000_000_000_000n))
        const out: Array<number> = []
        for (let i = 0; i < 10 * n; i++) {
          // ids and amounts of one width, so every remembered operation takes the same room
          yield* Ledger.topUp(TenantId.make("t"), Microcents.make(1n), {
            operationId: `op-${String(i).padStart(6, "0")}`
          })
          if (i + 1 === n || i + 1 === 10 * n) out.push(yield* size)
        }
        return out
      }).pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, operationWindow: n })),
        Effect.provide(Wal.layerMemory({ key }))
      )
      const [atN, atTenN] = sizes as [number, number]
      assert.isAtMost(atTenN, atN + 64, `after ${n} operations: ${atN} bytes; after ${10 * n}: ${atTenN} bytes`)
    }))

  it.effect("the default window is 100,000 ids", () =>
    Effect.gen(function*() {
      assert.strictEqual(L.DEFAULT_OPERATION_WINDOW, 100_000)
      assert.strictEqual(new L.LedgerState().operations.limit, 100_000)
      // the default is not written (a checkpoint of a default ledger reads as before)
      const text = Json.print(Either.getOrThrow(Journal.encodeCheckpoint(new L.LedgerState())))
      assert.notInclude(text, "operation_window")
    }))

  it.effect("a checkpoint written before the window (every id, no window) loads with the oldest beyond the default forgotten", () =>
    Effect.sync(() => {
      const count = L.DEFAULT_OPERATION_WINDOW + 2
      // (a whole top-up result, as its writer remembered it: a remembered result is decoded by its schema)
      const result = new Map<string, Json.Json>([
        ["_tag", "ToppedUp"],
        ["added_microcents", 1n],
        ["new_initial_microcents", 1n],
        ["remaining_microcents", 1n]
      ])
      const legacy = Either.getOrThrow(Journal.decode(
        new Map<string, Json.Json>([["v", 1], [
          "checkpoint",
          new Map<string, Json.Json>([
            ["tenants", []],
            ["holds", []],
            ["caps", []],
            [
              "operations",
              Array.from({ length: count }, (_, i) =>
                new Map<string, Json.Json>([
                  ["operation_id", `op-${i}`],
                  ["fingerprint", "top_up \"t\" 1"],
                  ["result", result]
                ]))
            ],
            ["next_reservation", 1n],
            ["snapshot_version", 0n],
            ["baseline", 0n]
          ])
        ]])
      ))
      assert.isTrue("checkpoint" in legacy)
      if (!("checkpoint" in legacy)) return
      assert.strictEqual(legacy.checkpoint.operation_window, undefined)
      const state = Journal.stateOf(legacy.checkpoint)
      assert.strictEqual(state.operations.limit, L.DEFAULT_OPERATION_WINDOW)
      assert.strictEqual(state.operations.size, L.DEFAULT_OPERATION_WINDOW)
      assert.isFalse(state.operations.has("op-0"))
      assert.isFalse(state.operations.has("op-1"))
      assert.isTrue(state.operations.has("op-2"))
      assert.isTrue(state.operations.has(`op-${count - 1}`))
    }))

  it.effect("opening a journal with another window records it first; recovery uses the journal's window", () =>
    Effect.gen(function*() {
      const wal = Wal.layerMemory({ key })
      const bytes = yield* Effect.gen(function*() {
        // written under the default window: all ten ids remembered
        yield* Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
          for (const id of ids(10)) yield* Ledger.topUp(TenantId.make("t"), Microcents.make(1n), { operationId: id })
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })))
        // reopened with a window of 3: the oldest seven are forgotten
        yield* Effect.gen(function*() {
          assert.deepStrictEqual(yield* remembered, ids(10).slice(7))
          const again = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(1n), { operationId: "op-0" })
          assert.strictEqual(again._tag, "ToppedUp")
          assert.deepStrictEqual(yield* remembered, ["op-8", "op-9", "op-0"])
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, operationWindow: 3 })))
        return yield* bytesOf
      }).pipe(Effect.provide(wal))
      for (const verifyCheckpoints of [false, true]) {
        const state = yield* Effect.all([remembered, Ledger.initial("t")]).pipe(
          Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
          Effect.provide(Wal.layerMemory({ key }, bytes))
        )
        assert.deepStrictEqual(state[0], ["op-8", "op-9", "op-0"], `verifyCheckpoints: ${verifyCheckpoints}`)
      }
      // and reopened with a larger window: what was forgotten stays forgotten, the window grows
      const grown = yield* Effect.gen(function*() {
        const retry = yield* Ledger.topUp(TenantId.make("t"), Microcents.make(1n), { operationId: "op-1" })
        assert.strictEqual(retry._tag, "ToppedUp")
        return yield* remembered
      }).pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, operationWindow: 5 })),
        Effect.provide(Wal.layerMemory({ key }, bytes))
      )
      assert.deepStrictEqual(grown, ["op-8", "op-9", "op-0", "op-1"])
    }))

  it.effect("a window or a queue capacity out of range is an InvalidArgument naming it", () =>
    Effect.gen(function*() {
      for (
        const [field, options] of [
          ["operationWindow", { operationWindow: 0 }],
          ["operationWindow", { operationWindow: 2.5 }],
          ["operationWindow", { operationWindow: -1 }],
          ["maxPending", { maxPending: 0 }],
          ["maxPending", { maxPending: Number.POSITIVE_INFINITY }],
          // a maxBatch out of range took empty batches forever: every command hung, the writer
          // spinning; a checkpointEvery out of range meant "never" (a helper's review of the API)
          ["maxBatch", { maxBatch: 0 }],
          ["maxBatch", { maxBatch: Number.NaN }],
          ["maxBatch", { maxBatch: -1 }],
          ["checkpointEvery", { checkpointEvery: -5 }],
          ["checkpointEvery", { checkpointEvery: Number.NaN }],
          ["checkpointEvery", { checkpointEvery: 1.5 }]
        ] as const
      ) {
        const error = yield* Effect.flip(
          Ledger.balances.pipe(Effect.provide(Ledger.layerJournal(options)), Effect.provide(Wal.layerMemory({ key })))
        )
        assert.instanceOf(error, InvalidArgument)
        assert.strictEqual((error as InvalidArgument).field, field)
        // the file layer too, before the file is made
        const dir = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "window-options-"))
        const file = nodePath.join(dir, "journal.jsonl")
        const onFile = yield* Effect.flip(
          Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(file, { key, ...options })))
        ).pipe(Effect.provide(NodeContext.layer))
        assert.instanceOf(onFile, InvalidArgument)
        assert.strictEqual((onFile as InvalidArgument).field, field)
        assert.isFalse(nodeFs.existsSync(file))
      }
      // checkpointEvery 0 is "never", not out of range
      assert.deepStrictEqual(
        (yield* Ledger.balances.pipe(
          Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, maxBatch: 1 })),
          Effect.provide(Wal.layerMemory({ key }))
        )).tenants,
        []
      )
      const memory = yield* Effect.flip(
        Ledger.balances.pipe(Effect.provide(Ledger.layerMemoryWith({ operationWindow: 0 })))
      )
      assert.instanceOf(memory, InvalidArgument)
      assert.strictEqual((memory as InvalidArgument).field, "operationWindow")
      assert.strictEqual((memory as InvalidArgument).value, "0")
    }))
})

// ---------------------------------------------------------------------------------------------
// Crafted journals (appended through the WAL, so the chain is valid)

const reserve = (id: string) => `{"kind":"reserve","tenant_id":"t","amount":10,"operation_id":"${id}"}`
const commands = (...list: ReadonlyArray<string>) => `{"v":1,"commands":[${list.join(",")}]}`
const ensure = `{"kind":"ensure_tenant","tenant_id":"t","amount":1000}`
const checkpoint = (window: number | string, operations: ReadonlyArray<string> = []) =>
  `{"v":1,"checkpoint":{"tenants":[{"tenant_id":"t","initial_microcents":1000,"remaining_microcents":1000,"reserved_microcents":0,"committed_microcents":0}],"holds":[],"caps":[],"operations":[${
    operations.join(",")
  }],"operation_window":${window},"next_reservation":1,"snapshot_version":0,"baseline":0}}`
const topUpOperation = (id: string) =>
  `{"operation_id":"${id}","fingerprint":"top_up \\"t\\" 5","result":{"_tag":"ToppedUp","added_microcents":5,"new_initial_microcents":1005,"remaining_microcents":1005}}`

const craft = (records: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const wal = yield* Wal.Wal
    for (const r of records) yield* wal.append(Either.getOrThrow(Json.parse(r)))
    return yield* bytesOf
  }).pipe(Effect.provide(Wal.layerMemory({ key })))

const recoverAll = (bytes: Uint8Array) =>
  Effect.forEach([false, true], (verifyCheckpoints) =>
    Effect.all([remembered, Ledger.activeReservations]).pipe(
      Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
      Effect.provide(Wal.layerMemory({ key }, bytes)),
      Effect.either
    ))

describe("recovery with a window", () => {
  it.effect("an id that left the window re-appears as a new operation: it recovers", () =>
    Effect.gen(function*() {
      // window 2: after a, b, c the id a is forgotten, so the writer applied a again as new
      const bytes = yield* craft([
        commands(ensure),
        checkpoint(2),
        commands(reserve("a"), reserve("b"), reserve("c")),
        commands(reserve("a"))
      ])
      for (const result of yield* recoverAll(bytes)) {
        assert.isTrue(Either.isRight(result), String(Either.isLeft(result) ? result.left : ""))
        if (Either.isRight(result)) assert.deepStrictEqual(result.right, [["c", "a"], 4])
      }
      yield* JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))
    }))

  it.effect("an id still in the window journaled again is refused, naming the entry", () =>
    Effect.gen(function*() {
      const bytes = yield* craft([
        commands(ensure),
        checkpoint(3),
        commands(reserve("a"), reserve("b"), reserve("c")),
        commands(reserve("a"))
      ])
      for (const result of yield* recoverAll(bytes)) {
        assert.isTrue(Either.isLeft(result))
        const error = Either.isLeft(result) ? result.left : undefined
        assert.instanceOf(error, LedgerJournalInconsistent)
        const e = error as LedgerJournalInconsistent
        assert.strictEqual(e.sequence, 4n)
        assert.strictEqual(e.command, 1)
        assert.include(e.reason, "operation id \"a\" was already applied")
      }
    }))

  it.effect("the default window applies to a journal without one: a repeated id is refused", () =>
    Effect.gen(function*() {
      const bytes = yield* craft([commands(ensure, reserve("a"), reserve("b")), commands(reserve("a"))])
      for (const result of yield* recoverAll(bytes)) {
        assert.isTrue(Either.isLeft(result))
        assert.include(String(Either.isLeft(result) ? result.left : ""), "already applied")
      }
    }))

  it.effect("a checkpoint remembering more ids than its window, or with a window out of range, is refused", () =>
    Effect.gen(function*() {
      const cases = [
        [
          checkpoint(1, [topUpOperation("x"), topUpOperation("y")]),
          "remembers 2 operation ids, more than its window of 1"
        ],
        [checkpoint(0), "the operation window is 0"],
        [checkpoint("9007199254740992"), "the operation window is 9007199254740992"]
      ] as const
      for (const [record, reason] of cases) {
        for (const result of yield* recoverAll(yield* craft([commands(ensure), record]))) {
          assert.isTrue(Either.isLeft(result), reason)
          const error = Either.isLeft(result) ? result.left : undefined
          assert.instanceOf(error, LedgerJournalInconsistent)
          assert.include((error as LedgerJournalInconsistent).reason, reason)
        }
      }
    }))
})
