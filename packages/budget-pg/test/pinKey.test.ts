/**
 * `PgJournal.pinKey`: a ledger's journal has one key. The first layer pins its key's id; a later
 * one with another key, with a key where the ledger is unkeyed, or without one where it is keyed,
 * is refused (`JournalKeyMismatch`) before it writes an entry that would break a chain. Through
 * the layer: LedgerPg.test.ts; through the CLI: test/postgres/journal-cli.test.ts.
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { client, enabled, freshDatabase, SKIP_REASON } from "./support/database.js"

const k1 = new Uint8Array(32).fill(1)
const k2 = new Uint8Array(32).fill(2)

/** Pin with `key` (none: unkeyed) on its own pool, as a separate instance would. */
const pinWith = (url: string, key: Uint8Array | undefined) =>
  PgJournal.pinKey.pipe(
    Effect.provide(key === undefined ? client(url, 1) : Layer.merge(client(url, 1), PgJournal.layerKey(key))),
    Effect.either
  )

const migrated = Effect.gen(function*() {
  const url = yield* freshDatabase
  yield* PgSchema.migrate.pipe(Effect.provide(client(url, 1)))
  return url
})

const mismatch = (result: Either.Either<void, unknown>) =>
  Either.isLeft(result) && result.left instanceof PgJournal.JournalKeyMismatch
    ? { pinned: result.left.pinned, given: result.left.given }
    : result

describe.runIf(enabled)("PgJournal.pinKey", () => {
  it.live("an unkeyed ledger refuses a key; a keyed one refuses another key and no key", () =>
    Effect.gen(function*() {
      const unkeyed = yield* migrated
      assert.isTrue(Either.isRight(yield* pinWith(unkeyed, undefined)))
      assert.isTrue(Either.isRight(yield* pinWith(unkeyed, undefined)))
      assert.deepStrictEqual(mismatch(yield* pinWith(unkeyed, k1)), { pinned: "unkeyed", given: "keyed" })

      const keyed = yield* migrated
      assert.isTrue(Either.isRight(yield* pinWith(keyed, k1)))
      assert.isTrue(Either.isRight(yield* pinWith(keyed, k1)))
      const other = yield* pinWith(keyed, k2)
      assert.deepStrictEqual(mismatch(other), { pinned: "keyed", given: "keyed" })
      if (Either.isLeft(other)) assert.include(other.left.message, "keyed with another key")
      assert.deepStrictEqual(mismatch(yield* pinWith(keyed, undefined)), { pinned: "keyed", given: "unkeyed" })
    }).pipe(Effect.scoped))

  it.live("instances pinning two keys at once: one key wins, every instance with the other is refused", () =>
    Effect.gen(function*() {
      const url = yield* migrated
      const keys = Array.from({ length: 8 }, (_, i) => i % 2 === 0 ? k1 : k2)
      const results = yield* Effect.all(keys.map((key) => pinWith(url, key)), { concurrency: "unbounded" })
      const won = keys.filter((_, i) => results[i] !== undefined && Either.isRight(results[i]))
      assert.strictEqual(won.length, 4)
      assert.isTrue(won.every((key) => key === won[0]))
      for (const [i, result] of results.entries()) {
        if (keys[i] !== won[0]) assert.deepStrictEqual(mismatch(result), { pinned: "keyed", given: "keyed" })
      }
    }).pipe(Effect.scoped))
})

describe.skipIf(enabled)("PgJournal.pinKey", () => {
  it.skip(SKIP_REASON, () => {})
})
