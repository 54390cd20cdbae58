/**
 * The `Ledger` contract suite (packages/budget/test/support/contract.ts, the one every layer
 * passes) against `LedgerPg.layer` on a real PostgreSQL: each layer build gets a fresh database,
 * migrated by the layer (`migrate: true`), dropped when the layer is released.
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ledgerContract } from "../../budget/test/support/contract.js"
import { enabled, freshDatabase, SKIP_REASON } from "./support/database.js"

if (enabled) {
  ledgerContract(
    "PostgreSQL (LedgerPg.layer)",
    () =>
      Layer.unwrapScoped(
        Effect.map(
          freshDatabase,
          (url) => LedgerPg.layer({ url: Redacted.make(url), migrate: true, maxConnections: 2 })
        )
      )
  )
} else {
  describe("Ledger contract: PostgreSQL", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
