import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { client, enabled, freshDatabase, SKIP_REASON } from "./support/database.js"

const migrateWith = (url: string) => PgSchema.migrate.pipe(Effect.provide(client(url, 2)))

describe.runIf(enabled)("PgSchema.migrate", () => {
  it.live("many instances booting at once migrate once", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      // eight instances, each with its own pool, at once
      const applied = yield* Effect.all(Array.from({ length: 8 }, () => migrateWith(url)), { concurrency: "unbounded" })
      const ids = applied.flat().map(([id, name]) => `${id}_${name}`)
      assert.deepStrictEqual(ids, Object.keys(PgSchema.migrations))
      // and again: nothing to do
      assert.deepStrictEqual(yield* migrateWith(url), [])
      const rows = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ migration_id: number }>`SELECT migration_id FROM calybris_budget_migrations`
      }).pipe(Effect.provide(client(url, 1)))
      assert.deepStrictEqual(
        rows.map((r) => r.migration_id),
        Object.keys(PgSchema.migrations).map((name) => Number.parseInt(name, 10))
      )
    }).pipe(Effect.scoped))
})

describe.skipIf(enabled)("PgSchema.migrate", () => {
  it.skip(SKIP_REASON, () => {})
})
