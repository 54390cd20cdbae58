/**
 * What someone with SQL write access does to the tables behind the ledger's back is refused where
 * the ledger reads it, never reported as a balanced state, and a refused snapshot or certificate
 * changes nothing (helpers' hostile reviews): a hold's amount raised in SQL (a negative `reserved`
 * that `certify` called balanced; the certificate's baseline rotated all the same), the ledger's
 * one row deleted (an untyped defect, or a false `JournalKeyMismatch`), a journal key that is not
 * bytes (copied as zeros).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as vm from "node:vm"
import { client, enabled, freshLedger, freshMigrated, SKIP_REASON } from "./support/database.js"

const setup = freshLedger(2, 2)

const versionRow = (sql: SqlClient.SqlClient) =>
  sql<{ v: string; b: string }>`SELECT snapshot_version::text AS v, baseline::text AS b FROM calybris_budget_ledger`

if (enabled) {
  describe("the tables edited in SQL", () => {
    it.live("a hold's amount raised in SQL: snapshots and certificates fail (LedgerStoreError naming the tenant), never balanced, and advance nothing", () =>
      Effect.scoped(Effect.gen(function*() {
        const { ledger, sql } = yield* setup
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) =>
          Effect.provideService(effect, Ledger.Ledger, ledger)
        yield* run(Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1000n)))
        const held = yield* run(Ledger.reserve(TenantId.make("acme"), Microcents.make(100n)))
        assert.strictEqual(held._tag, "Reserved")
        yield* run(Ledger.ensureTenant(TenantId.make("beta"), Microcents.make(50n)))
        // a certificate first, then one more commit: the baseline has something to rotate
        yield* run(Ledger.certify)
        const other = yield* run(Ledger.reserve(TenantId.make("beta"), Microcents.make(10n)))
        if (other._tag === "Reserved") yield* run(Ledger.commit(other.reservation_id, Microcents.make(10n)))
        const before = yield* versionRow(sql)
        const acme = new TextEncoder().encode("acme")
        const refused = (message: string, commandsToo: boolean) =>
          Effect.gen(function*() {
            for (
              const [what, effect] of [
                ["balances", Ledger.balances],
                ["takeSnapshot", Ledger.takeSnapshot],
                ["certifyLedger", Ledger.certify],
                ["proveConservation", Ledger.proveConservation],
                // the tenant's own balance too (a helper's hostile review: `status acme` showed it)
                ["balances", Ledger.balance("acme")]
              ] as const
            ) {
              const error = yield* Effect.flip(
                run(effect as Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger>)
              )
              assert.strictEqual(error._tag, "LedgerStoreError", what)
              // (a command releases the holds due first: with one due, that statement fails first)
              if (what === "balances" || commandsToo) {
                assert.include((error as unknown as Error).message, message, what)
              }
            }
            assert.deepStrictEqual(yield* versionRow(sql), before, "the version or the baseline advanced")
          })
        // raised, not due: the row's reserved (100) is not its holds' (5000); the certificate's
        // statement runs, and is undone
        yield* sql`UPDATE calybris_budget_reservations SET amount = 5000 WHERE tenant = ${acme}`
        yield* refused(`tenant "acme": reserved is 4900 less than its open holds`, true)
        // raised and due: seen released, reserved would be -4900
        yield* sql`UPDATE calybris_budget_reservations SET expires_at_ms = 1 WHERE tenant = ${acme}`
        yield* refused(`tenant "acme": reserved is -4900 (below 0)`, false)
        // put back: the certificate counts the commit made since the last one
        yield* sql`UPDATE calybris_budget_reservations SET amount = 100, expires_at_ms = NULL WHERE tenant = ${acme}`
        const certificate = yield* run(Ledger.certify)
        assert.strictEqual(certificate.committed_since_last_certificate, 10n)
        assert.isTrue(certificate.conservation_balanced)
      })))

    it.live("an open hold put in SQL on a tenant the ledger does not hold (a cap-only row): snapshots and certificates fail naming it, never balanced, and advance nothing (a helper's hostile review: it was counted in active_reservations and certified balanced)", () =>
      Effect.scoped(Effect.gen(function*() {
        const { ledger, sql } = yield* setup
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) =>
          Effect.provideService(effect, Ledger.Ledger, ledger)
        yield* run(Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1000n)))
        yield* run(Ledger.reserve(TenantId.make("a"), Microcents.make(100n)))
        yield* run(Ledger.setExposureCap(TenantId.make("c"), Microcents.make(500n)))
        const before = yield* versionRow(sql)
        // (a hold of no tenant row at all is refused by the table's foreign key)
        for (const tenant of ["c"]) {
          const bytes = new TextEncoder().encode(tenant)
          yield* sql`INSERT INTO calybris_budget_reservations (id, tenant, amount) VALUES (99, ${bytes}, 300)`
          for (
            const effect of [
              Ledger.balances,
              Ledger.takeSnapshot,
              Ledger.certify,
              Ledger.proveConservation,
              // the tenant's own balance too (a review: it was none, "no such tenant")
              Ledger.balance(tenant)
            ]
          ) {
            const error = yield* Effect.flip(
              run(effect as Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger>)
            )
            assert.strictEqual(error._tag, "LedgerStoreError")
            assert.include(
              (error as unknown as Error).message,
              `tenant "${tenant}": open holds of a tenant the ledger does not hold`
            )
          }
          assert.deepStrictEqual(yield* versionRow(sql), before, "the version or the baseline advanced")
          // and the journal audit, where the message sends the operator, finds it (a review: it
          // compared the tenant's row only, and said ok)
          const audit = yield* Effect.flip(Effect.provideService(PgJournal.audit(tenant), SqlClient.SqlClient, sql))
          assert.strictEqual(audit._tag, "JournalAuditFailed")
          assert.include(
            audit.message,
            "the open holds (id:amount:expiry) in calybris_budget_reservations are 99:300:-"
          )
          yield* sql`DELETE FROM calybris_budget_reservations WHERE id = 99`
        }
        // a present tenant's hold changed in SQL where no snapshot looks (its expiry): the audit finds it
        yield* Effect.provideService(PgJournal.audit("a"), SqlClient.SqlClient, sql)
        yield* sql`UPDATE calybris_budget_reservations SET expires_at_ms = 4102444800000 WHERE tenant = ${
          new TextEncoder().encode("a")
        }`
        const changed = yield* Effect.flip(Effect.provideService(PgJournal.audit("a"), SqlClient.SqlClient, sql))
        assert.include(changed.message, ":100:4102444800000, the replay's 1:100:-")
        yield* sql`UPDATE calybris_budget_reservations SET expires_at_ms = NULL`
        assert.isTrue((yield* run(Ledger.certify)).conservation_balanced)
      })))

    it.live("the journal audit of an untouched tenant with open holds of every digit count passes (a review: its holds sorted as text, 10 before 2, failed a legitimate ledger)", () =>
      Effect.scoped(Effect.gen(function*() {
        const { ledger, sql } = yield* setup
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) =>
          Effect.provideService(effect, Ledger.Ledger, ledger)
        yield* run(Ledger.ensureTenant(TenantId.make("many"), Microcents.make(1000n)))
        for (let i = 0; i < 12; i++) yield* run(Ledger.reserve(TenantId.make("many"), Microcents.make(1n)))
        const audited = yield* Effect.provideService(PgJournal.audit("many"), SqlClient.SqlClient, sql)
        assert.strictEqual(audited.count, 13n)
        // and the ledger lists them in id order, the number's (a review: hold 10 before 2)
        const ids = (yield* run(Ledger.holds("many"))).map((h) => h.reservation_id as bigint)
        assert.deepStrictEqual(ids, [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
        assert.strictEqual(ids.length, 12)
      })))

    it.live("the ledger's row deleted: a writer's and a reader's layer fail with LedgerStoreError naming the table, not a defect nor a JournalKeyMismatch", () =>
      Effect.scoped(Effect.gen(function*() {
        const { sql, url } = yield* setup
        yield* sql`DELETE FROM calybris_budget_ledger`
        for (
          const layer of [
            LedgerPg.layer({ url: Redacted.make(url), maxConnections: 1 }) as Layer.Layer<
              Ledger.Ledger,
              { readonly _tag: string }
            >,
            LedgerPg.layerClientReadOnly.pipe(Layer.provide(client(url, 1))),
            LedgerPg.layerClientMaintenance.pipe(Layer.provide(client(url, 1)))
          ]
        ) {
          const error = yield* Effect.flip(Layer.build(layer).pipe(Effect.scoped))
          assert.strictEqual(error._tag, "LedgerStoreError")
          assert.include((error as unknown as Error).message, "calybris_budget_ledger has no row")
        }
      })))

    it.live("a journal key that is not bytes is JournalKeyInvalid, before anything is built; one provided directly as the JournalKey is checked too; bytes from another realm are a key", () =>
      Effect.scoped(Effect.gen(function*() {
        // a database migrated, no ledger built on it yet (no key pinned)
        const { sql, url } = yield* freshMigrated(1)
        const error = yield* Effect.flip(
          Layer.build(
            LedgerPg.layer({
              url: Redacted.make(url),
              journalKey: Redacted.make("the-secret" as unknown as Uint8Array)
            })
          ).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "JournalKeyInvalid")
        // one provided directly as the JournalKey: checked too (it was used unchecked: an empty
        // one pinned a forgeable journal; the review of the check), nothing pinned
        for (const [key, tag] of [[new Uint8Array(0), "JournalEmptyKey"], ["secret", "JournalKeyInvalid"]] as const) {
          const given = Layer.succeed(PgJournal.JournalKey, { key: key as Uint8Array })
          const direct = yield* Effect.flip(
            Layer.build(LedgerPg.layer({ url: Redacted.make(url), maxConnections: 1 }).pipe(Layer.provide(given))).pipe(
              Effect.scoped
            )
          )
          assert.strictEqual(direct._tag, tag)
          // the client layers (no options) check it where they pin or compare it
          for (
            const layer of [
              LedgerPg.layerClient.pipe(Layer.provide(client(url, 1)), Layer.provide(given)),
              LedgerPg.layerClientReadOnly.pipe(Layer.provide(client(url, 1)), Layer.provide(given))
            ]
          ) {
            const error = yield* Effect.flip(Layer.build(layer).pipe(Effect.scoped))
            assert.strictEqual(error._tag, "LedgerStoreError")
            assert.strictEqual((error as { readonly cause?: { readonly _tag?: string } }).cause?._tag, tag)
          }
        }
        const pinned = yield* sql<{ id: Uint8Array | null }>`SELECT journal_key_id AS id FROM calybris_budget_ledger`
        assert.strictEqual(pinned[0]?.id, null, "nothing pinned")
        // bytes from another realm are a key
        const foreign = vm.runInNewContext("new Uint8Array(32).fill(5)") as Uint8Array
        yield* Layer.build(LedgerPg.layer({ url: Redacted.make(url), journalKey: Redacted.make(foreign) })).pipe(
          Effect.scoped
        )
      })))
  })
} else {
  describe("the tables edited in SQL", () => {
    it.skip(SKIP_REASON, () => {})
  })
}
