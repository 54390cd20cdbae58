/**
 * Checks of the per-tenant journal shared by the journal's and the batcher's tests: every
 * tenant's export verifies with the WAL's own verifier (keyed or not), is canonical, counts what
 * the row counts, and audits (replays through the state machine to the row).
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** Every tenant with a row (present or holding a cap only). */
export const tenantsOfDatabase = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ tenant: Uint8Array }>`SELECT tenant FROM calybris_budget_tenants ORDER BY tenant`
  return rows.map((r) => text.decode(r.tenant))
})

/** The WAL verifier's verdict on bytes (unkeyed, or keyed). */
export const walVerify = (bytes: Uint8Array, key?: Uint8Array) =>
  Reader.verifyBytes(bytes, { chain: Either.getOrThrow(Chain.make(key === undefined ? {} : { key })) })

const decodeRecord = Schema.decodeUnknownEither(PgJournal.Record)
const encodeRecord = Schema.encodeEither(PgJournal.Record)

/**
 * Every entry's data is exactly the canonical JSON our writer prints for it, and exactly what
 * the record's schema encodes (its members and each result's fields in the schema's order).
 */
export const assertCanonical = (bytes: Uint8Array) => {
  for (const line of text.decode(bytes).split("\n").filter((l) => l !== "")) {
    const data = line.slice(line.indexOf(`"data":`) + 7, -1)
    const parsed = Either.getOrThrow(Json.parse(data))
    assert.strictEqual(Json.print(parsed), data)
    const record = Either.getOrThrow(decodeRecord(parsed))
    assert.strictEqual(Json.print(Either.getOrThrow(encodeRecord(record)) as Json.Json), data)
  }
}

/**
 * After the commands: every tenant's export verifies with the WAL verifier (with `key`, and not
 * without it when there is one), has as many entries as the row counts, and audits (replays to
 * the row).
 */
export const checkAll = (key?: Uint8Array) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const t of yield* tenantsOfDatabase) {
      const bytes = yield* PgJournal.exportTenant(t)
      assertCanonical(bytes)
      const verified = walVerify(bytes, key)
      assert.isTrue(
        Either.isRight(verified),
        `${JSON.stringify(t)}: ${Either.isLeft(verified) && verified.left.message}`
      )
      const [row] = yield* sql<{ n: string }>`SELECT journal_seq::text AS n FROM calybris_budget_tenants
        WHERE tenant = ${utf8.encode(t)}::bytea`
      assert.strictEqual(Either.getOrThrow(verified).count, BigInt(row?.n ?? "-1"))
      if (key !== undefined && Either.getOrThrow(verified).count > 0n) {
        assert.isTrue(Either.isLeft(walVerify(bytes)), "a keyed chain does not verify without its key")
      }
      const audited = yield* PgJournal.audit(t)
      assert.strictEqual(audited.count, Either.getOrThrow(verified).count)
    }
  })

/** The whole journal table (every tenant's chain, in order) as text, to compare two databases byte for byte. */
export const journalTable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ line: string }>`SELECT encode(tenant, 'hex') || ' ' || seq::text || ' ' ||
      coalesce(encode(previous, 'hex'), '-') || ' ' || encode(hash, 'hex') || ' ' || encode(entry, 'hex') AS line
    FROM calybris_budget_journal ORDER BY tenant, seq`
  const heads = yield* sql<{ line: string }>`SELECT encode(tenant, 'hex') || ' ' || journal_seq::text || ' ' ||
      coalesce(encode(journal_head, 'hex'), '-') AS line
    FROM calybris_budget_tenants ORDER BY tenant`
  return { entries: rows.map((r) => r.line), heads: heads.map((r) => r.line) }
})
