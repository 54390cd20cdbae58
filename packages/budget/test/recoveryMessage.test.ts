/**
 * A journal that holds something other than ledger records (a `--journal` pointed at another
 * log) fails recovery with a one-line message naming the field and the value, not Schema's
 * multi-kilobyte tree of every type involved.
 */
import * as Ledger from "@calybris/budget/Ledger"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"

const key = new Uint8Array(32).fill(9)

/** How recovery fails on a journal of this one record (appended through the WAL: a valid chain). */
const recoveryOf = (record: Json.Json) =>
  Effect.gen(function*() {
    const bytes = yield* Effect.gen(function*() {
      yield* Wal.append(record)
      const wal = yield* Wal.Wal
      return Uint8Array.from(Buffer.concat([...Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))]))
    }).pipe(Effect.provide(Wal.layerMemory({ key })))
    return yield* Effect.flip(
      Ledger.tenantCount.pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })),
        Effect.provide(Wal.layerMemory({ key }, bytes))
      )
    )
  })

describe("journal recovery messages", () => {
  it.effect("a foreign record fails recovery with one short line naming the field", () =>
    Effect.gen(function*() {
      const error = yield* recoveryOf(
        new Map<string, Json.Json>([["audit", 1], ["input", new Map([["request_sequence", 2n ** 64n - 1n]])]])
      )
      assert.strictEqual(error._tag, "LedgerRecoveryError")
      assert.notInclude(error.message, "\n")
      assert.isBelow(error.message.length, 300)
      assert.include(error.message, "journal entry 1 is not a ledger record: ")
    }))

  it.effect("a command record names its own field and value, not another kind's discriminator (a hostile review)", () =>
    Effect.gen(function*() {
      const error = yield* recoveryOf(
        Either.getOrThrow(Json.parse(`{"v":1,"commands":[{"kind":"commit","reservation_id":-1,"actual":5}]}`))
      )
      assert.strictEqual(
        error.message,
        "ledger recovery failed: journal entry 1 is not a ledger record: commands[0].reservation_id: must be an integer in [0, 18446744073709551615], got -1"
      )
      // the value shown is the named field's (it was the first member's: got "reserve")
      const typed = yield* recoveryOf(
        Either.getOrThrow(Json.parse(`{"v":1,"commands":[{"kind":"reserve","tenant_id":7,"amount":5}]}`))
      )
      assert.include(typed.message, "commands[0].tenant_id: expected string, got 7")
    }))
})
