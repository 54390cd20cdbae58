/**
 * A command whose journal record no audit could read back (a line past the reader's limit, 64
 * MiB) is refused before anything is written (a helper's hostile review: an admit with ~70 MB of
 * metadata was answered Admitted and journaled, and the tenant's chain failed every audit after).
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import type { InvalidArgument } from "@calybris/budget/LedgerError"
import * as Reader from "@calybris/wal/Reader"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { input, policy } from "../../budget/test/support/fixtures.js"
import { enabled, freshLedger, SKIP_REASON } from "./support/database.js"

if (enabled) {
  describe("a record too long to audit", () => {
    it.live("an admit whose record would pass the reader's line limit is InvalidArgument, nothing written; the chain audits and the ledger serves on", () =>
      Effect.scoped(Effect.gen(function*() {
        const { ledger, sql } = yield* freshLedger(2, 2)
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) =>
          Effect.provideService(effect, Ledger.Ledger, ledger)
        const gw = TenantId.make("gw")
        yield* run(Ledger.ensureTenant(gw, Microcents.make(10n ** 15n)))
        const big = "x".repeat(Reader.DEFAULT_MAX_LINE_BYTES)
        const refused = yield* Effect.flip(run(Ledger.admit(policy, gw, input(1), { metadata: big })))
        assert.strictEqual(refused._tag, "InvalidArgument")
        assert.strictEqual((refused as InvalidArgument).field, "audited")
        assert.include(refused.message, `line limit (maxLineBytes) of ${Reader.DEFAULT_MAX_LINE_BYTES}`)
        // nothing written: the chain audits, one entry (the ensure)
        const audited = yield* Effect.provideService(PgJournal.audit("gw"), SqlClient.SqlClient, sql)
        assert.strictEqual(audited.count, 1n)
        // and the ledger serves on
        const ok = yield* run(Ledger.admit(policy, gw, input(2), { metadata: "x".repeat(10_000) }))
        assert.strictEqual(ok._tag, "Admitted")
        assert.strictEqual((yield* Effect.provideService(PgJournal.audit("gw"), SqlClient.SqlClient, sql)).count, 2n)
      })))
  })
} else {
  describe("a record too long to audit", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
