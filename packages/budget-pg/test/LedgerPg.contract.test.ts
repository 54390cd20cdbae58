/**
 * The `Ledger` contract suite (packages/budget/test/support/contract.ts, the one every layer
 * passes) against `LedgerPg` on a real PostgreSQL. Each layer build starts from a fresh ledger:
 * this file's database (fresh, migrated once) with every ledger table emptied, the reservation
 * ids restarted and the ledger row reset, then `LedgerPg.make` (which checks the schema) on one
 * pool shared by the file — the property tests build hundreds of layers, and a database (or a
 * pool, or a migration) per build costs more than the whole test. `LedgerPg.layer` itself (its
 * own pool, `migrate`) is tested in LedgerPg.test.ts. The suite runs on the layer's three
 * configurations: one statement per command, the group-commit batcher (`batch`), a keyed journal.
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import { Ledger } from "@calybris/budget/Ledger"
import { afterAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { ledgerContract } from "../../budget/test/support/contract.js"
import { enabled, migratedClient, resetLedger, SKIP_REASON } from "./support/database.js"

if (enabled) {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  // this file's database and pool, built on first use and released after the last test
  const client = Effect.runSync(Effect.cached(Layer.buildWithScope(migratedClient(2), scope)))
  const variants: ReadonlyArray<readonly [name: string, options: LedgerPg.LedgerOptions]> = [
    ["PostgreSQL (LedgerPg)", {}],
    ["PostgreSQL (LedgerPg, batched)", { batch: true }],
    ["PostgreSQL (LedgerPg, keyed journal)", { journalKey: Redacted.make(new TextEncoder().encode("contract key")) }]
  ]
  for (const [name, options] of variants) {
    ledgerContract(
      name,
      () =>
        Layer.unwrapEffect(
          Effect.map(client, (context) =>
            Layer.scoped(
              Ledger,
              Effect.provide(Effect.zipRight(resetLedger, LedgerPg.makeWithOptions(options)), context)
            ))
        )
    )
  }
} else {
  describe("Ledger contract: PostgreSQL", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
