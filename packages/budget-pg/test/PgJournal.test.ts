/**
 * The per-tenant journal on a real PostgreSQL: after any sequence of commands (several tenants,
 * operation ids retried and reused, refusals, ids the JSON writer must escape) every tenant's
 * chain exported as WAL JSONL verifies with the WAL's own verifier (keyed and unkeyed) and
 * replays through the state machine to the tenant's row; every entry's data is canonical JSON;
 * editing an entry (its data, an amount in it), deleting one, swapping two, truncating the chain
 * or editing a balance behind the journal's back is found, naming the sequence.
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import type * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { enabled, migratedClient, SKIP_REASON } from "./support/database.js"
import { checkAll, walVerify } from "./support/journal.js"
import { commandOf, pgStep } from "./support/model.js"

const I64_MAX = 9223372036854775807n

// ids the canonical JSON writer must escape (a quote, a backslash, controls, U+0000, non-ASCII)
const tenants = ["a", "b", "\u0000é🙂", "q\"\\\n\u001f/"] as const
const tenant = fc.constantFrom(...tenants)
const amount = fc.oneof({ weight: 8, arbitrary: fc.bigInt(-2n, 60n) }, fc.constantFrom(I64_MAX, I64_MAX - 5n))
const funds = fc.oneof({ weight: 6, arbitrary: fc.bigInt(0n, 100n) }, fc.constantFrom(I64_MAX - 10n))
const opid = fc.option(fc.constantFrom("o1", "o2", "o3", "o4", "\"ö\\"), { nil: undefined })
const reservation = fc.bigInt(0n, 12n)

const command = commandOf({ tenant, amount, funds, max: fc.bigInt(-2n, 80n), opid, reservation })

const reset = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`TRUNCATE calybris_budget_journal, calybris_budget_operations, calybris_budget_reservations,
    calybris_budget_tenants`
})

const utf8 = new TextEncoder()
const text = new TextDecoder()
const KEY = utf8.encode("journal key of the fleet")

const Db = migratedClient(8)
const Keyed = Layer.merge(Db, PgJournal.layerKey(KEY))

const micro = Microcents.make
const tenantId = TenantId.make

/** A small history on tenant "t": 1 ensure, then reserves, commits and releases (9 entries). */
const history = Effect.gen(function*() {
  yield* reset
  const t = tenantId("t")
  yield* PgOperations.ensureTenant(Command.ensureTenant(t, micro(1_000n)))
  const ids: Array<bigint> = []
  for (let i = 1n; i <= 4n; i++) {
    const r = yield* PgOperations.reserve(Command.reserve(t, micro(10n * i), { operation_id: `r${i}` }))
    assert.strictEqual(r._tag, "Reserved")
    if (r._tag === "Reserved") ids.push(r.reservation_id)
  }
  yield* PgOperations.commit(Command.commit(ids[0] as never, micro(7n)))
  yield* PgOperations.commit(Command.commit(ids[1] as never, micro(20n)))
  yield* PgOperations.release(Command.release(ids[2] as never))
  // a refusal under an id: journaled
  const refused = yield* PgOperations.reserve(Command.reserve(t, micro(5_000n), { operation_id: "big" }))
  assert.strictEqual(refused._tag, "Insufficient")
  // a refusal without an id, and a retry: nothing changes, nothing is journaled
  yield* PgOperations.reserve(Command.reserve(t, micro(5_000n)))
  yield* PgOperations.reserve(Command.reserve(t, micro(5_000n), { operation_id: "big" }))
  return t
})

const verdictOf = (verdict: Either.Either<unknown, { readonly message: string }>): string =>
  Either.isLeft(verdict) ? verdict.left.message : "verified"

const sqlRun = (f: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.orDie(f(sql)))

describe.runIf(enabled)("PgJournal", () => {
  layer(Db, { timeout: 120_000 })((it) => {
    it.effect.prop(
      "after any commands, every tenant's chain verifies with the WAL verifier and replays to its row",
      { commands: fc.array(command, { minLength: 1, maxLength: 40 }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          for (const c of commands) yield* pgStep(c)
          yield* checkAll()
        })
    )

    it.effect("the records: what each command wrote, the reservation id and the result in it", () =>
      Effect.gen(function*() {
        const t = yield* history
        const bytes = yield* PgJournal.exportTenant(t)
        const lines = text.decode(bytes).split("\n")
        assert.strictEqual(lines.length, 10) // 9 entries and the final newline
        assert.strictEqual(lines[9], "")
        assert.match(
          lines[0] ?? "",
          /^\{"sequence":1,"previous_hash":"genesis","entry_hash":"[0-9a-f]{64}","data":\{"v":1,"command":\{"kind":"ensure_tenant","tenant_id":"t","amount":1000\}\}\}$/
        )
        assert.match(
          lines[1] ?? "",
          /"data":\{"v":1,"command":\{"kind":"reserve","tenant_id":"t","amount":10,"operation_id":"r1"\},"result":\{"_tag":"Reserved","reservation_id":\d+,"remaining_microcents":990\}\}\}$/
        )
        assert.include(
          lines[8],
          `"command":{"kind":"reserve","tenant_id":"t","amount":5000,"operation_id":"big"},"result":{"_tag":"Insufficient","remaining_microcents":933,"required_microcents":5000}}}`
        )
        const verified = Either.getOrThrow(walVerify(bytes))
        assert.strictEqual(verified.count, 9n)
        const audited = yield* PgJournal.audit(t)
        assert.deepStrictEqual(audited, { count: 9n, lastHash: verified.lastHash })
      }))

    it.effect("an admit's hold is journaled with its audited decision (null without one), and audits", () =>
      Effect.gen(function*() {
        yield* reset
        const t = tenantId("adm")
        yield* PgOperations.ensureTenant(Command.ensureTenant(t, micro(100n)))
        const audited: Json.Json = new Map<string, Json.Json>([["metadata", new Map<string, Json.Json>([["k", 1]])]])
        const first = yield* PgOperations.reserve(Command.admit(t, micro(10n), { operation_id: "adm-1" }), audited)
        assert.strictEqual(first._tag, "Reserved")
        const second = yield* PgOperations.reserve(Command.admit(t, micro(200n)))
        assert.strictEqual(second._tag, "Insufficient")
        const third = yield* PgOperations.reserve(Command.admit(t, micro(20n)))
        assert.strictEqual(third._tag, "Reserved")
        const lines = text.decode(yield* PgJournal.exportTenant(t)).split("\n")
        assert.include(
          lines[1],
          `"command":{"kind":"admit","tenant_id":"adm","amount":10,"operation_id":"adm-1","audited":{"metadata":{"k":1}}},"result":{"_tag":"Reserved",`
        )
        // the refusal without an id is not journaled
        assert.include(lines[2], `"command":{"kind":"admit","tenant_id":"adm","amount":20,"audited":null},`)
        assert.strictEqual((yield* PgJournal.audit(t)).count, 3n)
      }))

    it.effect("an edited entry (its data, an amount in it) breaks the chain at that sequence", () =>
      Effect.gen(function*() {
        const t = yield* history
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal
            SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"actual_microcents":20', '"actual_microcents":2'), 'UTF8')
            WHERE seq = 7`
        )
        const verdict = walVerify(yield* PgJournal.exportTenant(t))
        assert.isTrue(Either.isLeft(verdict))
        if (Either.isLeft(verdict)) {
          assert.strictEqual(verdict.left._tag, "WalChainBroken")
          assert.strictEqual((verdict.left as { sequence?: bigint }).sequence, 7n)
        }
        const audit = yield* Effect.flip(PgJournal.audit(t))
        assert.strictEqual(audit._tag, "WalChainBroken")
      }))

    it.effect("an edited entry whose hash is recomputed (unkeyed) breaks the next link", () =>
      Effect.gen(function*() {
        const t = yield* history
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal
            SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"amount":10,', '"amount":1,'), 'UTF8')
            WHERE seq = 2`
        )
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal SET hash = calybris_budget_journal_hash(previous, entry, NULL) WHERE seq = 2`
        )
        const verdict = walVerify(yield* PgJournal.exportTenant(t))
        assert.isTrue(Either.isLeft(verdict) && verdict.left._tag === "WalChainBroken")
        if (Either.isLeft(verdict)) assert.strictEqual((verdict.left as { sequence?: bigint }).sequence, 3n)
      }))

    it.effect("a deleted entry is a sequence error, two swapped entries a broken chain", () =>
      Effect.gen(function*() {
        const t = yield* history
        yield* sqlRun((sql) => sql`DELETE FROM calybris_budget_journal WHERE seq = 4`)
        const deleted = walVerify(yield* PgJournal.exportTenant(t))
        assert.isTrue(Either.isLeft(deleted) && deleted.left._tag === "WalSequenceError", verdictOf(deleted))

        yield* history
        yield* sqlRun((sql) => sql`UPDATE calybris_budget_journal SET seq = 1000 WHERE seq = 3`)
        yield* sqlRun((sql) => sql`UPDATE calybris_budget_journal SET seq = 3 WHERE seq = 5`)
        yield* sqlRun((sql) => sql`UPDATE calybris_budget_journal SET seq = 5 WHERE seq = 1000`)
        const swapped = walVerify(yield* PgJournal.exportTenant(t))
        assert.isTrue(Either.isLeft(swapped) && swapped.left._tag === "WalChainBroken", verdictOf(swapped))
        if (Either.isLeft(swapped)) assert.strictEqual((swapped.left as { sequence?: bigint }).sequence, 3n)
      }))

    it.effect("a truncated chain, or a balance edited behind the journal, fails the audit naming the sequence", () =>
      Effect.gen(function*() {
        const t = yield* history
        yield* sqlRun((sql) => sql`DELETE FROM calybris_budget_journal WHERE seq = 9`)
        // what is left verifies: the audit compares it with the row
        assert.isTrue(Either.isRight(walVerify(yield* PgJournal.exportTenant(t))))
        const truncated = yield* Effect.flip(PgJournal.audit(t))
        assert.strictEqual(truncated._tag, "JournalAuditFailed")
        if (truncated._tag === "JournalAuditFailed") assert.strictEqual(truncated.seq, 9n)

        yield* history
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_tenants SET initial = initial + 50, remaining = remaining + 50
            WHERE tenant = ${utf8.encode("t")}::bytea`
        )
        const edited = yield* Effect.flip(PgJournal.audit(t))
        assert.strictEqual(edited._tag, "JournalAuditFailed")
        if (edited._tag === "JournalAuditFailed") {
          assert.strictEqual(edited.seq, 10n)
          assert.include(edited.reason, "initial=1050")
        }
      }))

    it.effect("an entry replayed to another result fails the audit at its sequence", () =>
      Effect.gen(function*() {
        const t = yield* history
        // a consistent chain (rehashed from the edit on, unkeyed: anyone can) that lies about a result
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal
            SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"remaining_microcents":933', '"remaining_microcents":934'), 'UTF8')
            WHERE seq = 9`
        )
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal SET hash = calybris_budget_journal_hash(previous, entry, NULL) WHERE seq = 9`
        )
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_tenants t SET journal_head = j.hash FROM calybris_budget_journal j
            WHERE j.tenant = t.tenant AND j.seq = 9`
        )
        assert.isTrue(Either.isRight(walVerify(yield* PgJournal.exportTenant(t))))
        const lie = yield* Effect.flip(PgJournal.audit(t))
        assert.strictEqual(lie._tag, "JournalAuditFailed")
        if (lie._tag === "JournalAuditFailed") {
          assert.strictEqual(lie.seq, 9n)
          assert.include(lie.reason, `"remaining_microcents":933`)
        }
      }))

    it.effect("many connections creating one tenant at once: one creation is journaled, every cap is", () =>
      Effect.gen(function*() {
        yield* reset
        const t = tenantId("new")
        yield* Effect.all(
          Array.from({ length: 8 }, (_, i) =>
            i % 2 === 0
              ? PgOperations.ensureTenant(Command.ensureTenant(t, micro(BigInt(100 + i))))
              : PgOperations.setExposureCap(Command.setExposureCap(t, micro(BigInt(10 + i))))),
          { concurrency: "unbounded" }
        )
        const lines = text.decode(yield* PgJournal.exportTenant(t)).split("\n").filter((l) => l !== "")
        assert.strictEqual(lines.filter((l) => l.includes(`"kind":"ensure_tenant"`)).length, 1)
        assert.strictEqual(lines.filter((l) => l.includes(`"kind":"set_cap"`)).length, 4)
        yield* checkAll()
      }))

    it.effect("concurrent operations on one tenant leave one chain that verifies and audits", () =>
      Effect.gen(function*() {
        yield* reset
        const t = tenantId("hot")
        yield* PgOperations.ensureTenant(Command.ensureTenant(t, micro(500n)))
        const worker = (w: number) =>
          Effect.forEach(Array.from({ length: 25 }, (_, i) => i), (i) =>
            Effect.gen(function*() {
              const r = yield* PgOperations.reserve(
                Command.reserve(t, micro(BigInt(1 + ((w * 7 + i) % 30))), { operation_id: `w${w}.${i}` })
              )
              if (r._tag !== "Reserved") return
              if (i % 3 === 0) yield* PgOperations.release(Command.release(r.reservation_id))
              else yield* PgOperations.commit(Command.commit(r.reservation_id, micro(BigInt(i % 5))))
            }))
        yield* Effect.all(Array.from({ length: 8 }, (_, w) => worker(w)), { concurrency: "unbounded" })
        yield* checkAll()
      }))

    it.effect("an audit while others write the tenant reads its chain and its row as of one instant", () =>
      Effect.gen(function*() {
        yield* reset
        const t = tenantId("busy")
        yield* PgOperations.ensureTenant(Command.ensureTenant(t, micro(1_000_000n)))
        let writing = true
        const writer = (w: number) =>
          Effect.gen(function*() {
            for (let i = 0; writing; i++) {
              const r = yield* PgOperations.reserve(Command.reserve(t, micro(1n), { operation_id: `b${w}.${i}` }))
              if (r._tag === "Reserved") yield* PgOperations.commit(Command.commit(r.reservation_id, micro(1n)))
            }
          })
        const writers = yield* Effect.fork(
          Effect.all(Array.from({ length: 4 }, (_, w) => writer(w)), { concurrency: "unbounded" })
        )
        // every audit must pass: a chain read before a write and a row read after it are not a tampering
        const audits = yield* Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          () => Effect.either(PgJournal.audit("busy"))
        ).pipe(Effect.ensuring(Effect.sync(() => (writing = false))))
        yield* Fiber.join(writers)
        for (const a of audits) assert.isTrue(Either.isRight(a), Either.isLeft(a) ? String(a.left) : "")
      }))
  })

  layer(Keyed, { timeout: 120_000 })((it) => {
    it.effect.prop(
      "a keyed journal verifies with its key only, and audits",
      { commands: fc.array(command, { minLength: 1, maxLength: 15 }) },
      ({ commands }) =>
        Effect.gen(function*() {
          yield* reset
          for (const c of commands) yield* pgStep(c)
          yield* checkAll(KEY)
        })
    )

    it.effect("an entry forged without the key (rehashed unkeyed) does not verify", () =>
      Effect.gen(function*() {
        const t = yield* history
        const before = Either.getOrThrow(walVerify(yield* PgJournal.exportTenant(t), KEY))
        assert.strictEqual(before.count, 9n)
        yield* sqlRun((sql) =>
          sql`UPDATE calybris_budget_journal SET hash = calybris_budget_journal_hash(previous, entry, NULL) WHERE seq = 9`
        )
        const verdict = walVerify(yield* PgJournal.exportTenant(t), KEY)
        assert.isTrue(Either.isLeft(verdict) && verdict.left._tag === "WalChainBroken")
      }))

    it.effect("an entry the writer never writes fails the audit at its sequence, however well it chains (a helper's hostile review)", () =>
      Effect.gen(function*() {
        const reserve = (extra: string, amount = 5_000) =>
          `{"kind":"reserve","tenant_id":"t","amount":${amount}${extra}}`
        const short = `{"_tag":"Insufficient","remaining_microcents":933,"required_microcents":5000}`
        const record = (command: string, result?: string) =>
          result === undefined ? `{"v":1,"command":${command}}` : `{"v":1,"command":${command},"result":${result}}`
        const cases: ReadonlyArray<readonly [string, () => string, string]> = [
          ["an empty operation id", () => record(reserve(`,"operation_id":""`), short), "invalid operationId"],
          [
            "an operation id of 257 bytes",
            () => record(reserve(`,"operation_id":"${"o".repeat(257)}"`), short),
            "invalid operationId"
          ],
          ["a refusal under no operation id", () => record(reserve(""), short), "under no operation id"],
          [
            "a duration without its instant",
            () => record(reserve(`,"operation_id":"x1","ttl_ms":1000`), short),
            "ttl_ms needs its expires_at_ms"
          ],
          [
            "a member the writer does not write",
            () => record(reserve(`,"operation_id":"x2","evil":true`), short),
            "not as the ledger writes it"
          ],
          [
            "a record member the writer does not write",
            () => record(reserve(`,"operation_id":"x3"`), short).replace(/}$/, `,"extra":"hi"}`),
            "not as the ledger writes it"
          ],
          [
            "an ensure of the tenant that exists",
            () => record(`{"kind":"ensure_tenant","tenant_id":"t","amount":5}`),
            "an ensure of a tenant that exists"
          ],
          [
            "a retry journaled again",
            () => record(reserve(`,"operation_id":"big"`), short),
            "operation id \"big\" was answered already"
          ],
          [
            "a commit of a reservation never issued",
            () =>
              record(
                `{"kind":"commit","reservation_id":123456,"actual":1,"operation_id":"c9"}`,
                `{"_tag":"MissingReservation"}`
              ),
            "reservation 123456 was never issued to this tenant"
          ],
          [
            "a restore carrying a result (a top-up that never happened)",
            () =>
              record(
                `{"kind":"restore","snapshot":{"version":7,"tenants":[{"tenant_id":"t","initial_microcents":100,"remaining_microcents":100,"reserved_microcents":0,"committed_microcents":0}],"active_reservations":0}}`,
                `{"_tag":"ToppedUp","added_microcents":5,"new_initial_microcents":105,"remaining_microcents":105}`
              ),
            "the entry has a result it cannot have"
          ],
          [
            "a removal of a cap the tenant does not have",
            () => record(`{"kind":"set_cap","tenant_id":"t","max":0}`),
            "a removal of a cap the tenant does not have"
          ]
        ]
        for (const [name, forged, reason] of cases) {
          const t = yield* history
          // appended by the schema's own function, with the journal's key (the attacker holds it): a
          // valid chain, the tenant row's head moved with it
          yield* sqlRun((sql) =>
            sql`SELECT calybris_budget_journal_append(${utf8.encode("t")}::bytea, ${
              utf8.encode(forged())
            }::bytea, ${KEY}::bytea)`
          )
          const chained = walVerify(yield* PgJournal.exportTenant(t), KEY)
          assert.isTrue(
            Either.isRight(chained),
            `${name}: the chain verifies: ${Either.isLeft(chained) ? String(chained.left) : ""}`
          )
          const audited = yield* Effect.either(PgJournal.audit(t))
          assert.isTrue(Either.isLeft(audited), `${name}: audited`)
          if (Either.isLeft(audited)) {
            const e = audited.left
            assert.strictEqual(e._tag, "JournalAuditFailed", `${name}: ${e.message}`)
            if (e._tag === "JournalAuditFailed") {
              assert.strictEqual(e.seq, 10n, name)
              assert.include(e.reason, reason, name)
            }
          }
        }
      }))

    it.effect("calybris_budget_journal_append (for plpgsql callers) extends the same chain, keyed", () =>
      Effect.gen(function*() {
        yield* reset
        const t = tenantId("fn")
        yield* PgOperations.ensureTenant(Command.ensureTenant(t, micro(100n)))
        const sql = yield* SqlClient.SqlClient
        // a record the writer writes (a cap set: a removal of a cap never set is one it never writes)
        const record = utf8.encode(`{"v":1,"command":{"kind":"set_cap","tenant_id":"fn","max":50}}`)
        const [row] = yield* sql<{ seq: string }>`SELECT calybris_budget_journal_append(
          ${utf8.encode("fn")}::bytea, ${record}::bytea, ${KEY}::bytea)::text AS seq`
        assert.strictEqual(row?.seq, "2")
        // the caller applies what it journaled, as the ledger's own statements do
        yield* sql`UPDATE calybris_budget_tenants SET cap = 50 WHERE tenant = ${utf8.encode("fn")}::bytea`
        yield* PgOperations.reserve(Command.reserve(t, micro(10n)))
        yield* checkAll(KEY)
        const missing = yield* Effect.flip(
          sql`SELECT calybris_budget_journal_append(${utf8.encode("nobody")}::bytea, ${record}::bytea, NULL)`
        )
        assert.include(String((missing.cause as { message?: unknown }).message), "no tenant row")
      }))

    it.effect("the SQL HMAC is RFC 2104's (keys shorter and longer than a block)", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const key of [KEY, new Uint8Array(64).fill(7), new Uint8Array(131).fill(0xaa)]) {
          const [row] = yield* sql<{ h: string }>`SELECT encode(calybris_budget_journal_hash(
            decode(${"ab".repeat(32)}, 'hex'), ${utf8.encode("{\"v\":1}")}::bytea, ${key}::bytea), 'hex') AS h`
          const chain = Either.getOrThrow(Chain.make({ key }))
          assert.strictEqual(row?.h, chain.link("ab".repeat(32), "{\"v\":1}"))
        }
        const [genesis] = yield* sql<{ h: string }>`SELECT encode(calybris_budget_journal_hash(
          NULL, ${utf8.encode("{}")}::bytea, NULL), 'hex') AS h`
        assert.strictEqual(genesis?.h, Either.getOrThrow(Chain.make()).link("genesis", "{}"))
      }))
  })

  it.effect("an empty journal key is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(PgJournal.layerKey(new Uint8Array(0))).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "JournalEmptyKey")
    }))
})

describe.skipIf(enabled)("PgJournal", () => {
  it.skip(SKIP_REASON, () => {})
})
