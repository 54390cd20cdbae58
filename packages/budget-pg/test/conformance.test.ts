/**
 * The budget conformance scripts (shared/conformance/budget.jsonl, the reference's vectors that
 * `pnpm conformance` replays on the state machine) replayed through `LedgerPg` on a real
 * PostgreSQL: each script on a fresh ledger (this file's database, emptied), every result, the
 * final snapshot, its digest, the proof and the certificate as the vector has them. Encoded by the
 * conformance runner's own functions (test/conformance/budget.ts).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as Command from "@calybris/budget/Command"
import type { Ledger } from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  encodeCertificate,
  encodeReserve,
  encodeSettlement,
  encodeSnapshot,
  encodeTopUp,
  proveJson,
  restoreJson,
  snapshotJson,
  statusJson
} from "../../../test/conformance/budget.js"
import { asInteger, canonical, decode, get, getArray, getString, readJsonl } from "../../../test/conformance/vectors.js"
import { enabled, migratedClient, resetLedger, SKIP_REASON } from "./support/database.js"

/** (the project's Json value: budget-pg does not depend on @calybris/core) */
type Json = NonNullable<Parameters<typeof canonical>[0]> | null

const BUDGET = fileURLToPath(new URL("../../../../shared/conformance/budget.jsonl", import.meta.url))

const i64 = (v: Json | undefined): bigint => {
  const n = asInteger(v)
  if (typeof n !== "bigint") throw new Error(`expected an integer, got ${canonical(v)}`)
  return n
}
const str = (v: Json | undefined): string => {
  if (typeof v !== "string") throw new Error(`expected a string, got ${canonical(v)}`)
  return v
}
const value = (v: bigint | number | undefined): Json => new Map([["value", v === undefined ? null : v]])

/**
 * One op of a script through the service (`apply` with the commands the state machine's runner
 * applies, and the queries), as the vector encodes its result. The commands are built as data
 * (`Command` is their schema): the vectors' numbers are the reference's i64/u64.
 */
const runOp = (ledger: Ledger["Type"], op: Json) =>
  Effect.gen(function*() {
    const name = getString(op, "op")
    const tenant = () => str(get(op, "tenant_id"))
    const apply = (command: unknown) => ledger.apply(command as Command.Command)
    const balance = (f: (b: Snapshot.TenantBalance) => bigint) =>
      Effect.map(ledger.balance(tenant()), (b) => value(Option.getOrUndefined(Option.map(b, f))))
    switch (name) {
      case "ensure_tenant": {
        const amount = i64(get(op, "budget_microcents"))
        // a negative amount: the state machine's no-op, an `InvalidArgument` (nothing changed) here
        if (amount < 0n) return null
        yield* apply({ _tag: "EnsureTenant", tenant: tenant(), amount })
        return null
      }
      case "set_max_reserved_microcents":
        yield* apply({ _tag: "SetExposureCap", tenant: tenant(), max: i64(get(op, "max_microcents")) })
        return null
      case "try_reserve":
        return encodeReserve(
          (yield* apply({ _tag: "Reserve", tenant: tenant(), amount: i64(get(op, "cost_microcents")) })) as never
        )
      case "commit":
        return encodeSettlement(
          (yield* apply({
            _tag: "Commit",
            reservation: i64(get(op, "reservation_id")),
            actual: i64(get(op, "actual_microcents"))
          })) as never
        )
      case "release":
        return encodeSettlement(
          (yield* apply({ _tag: "Release", reservation: i64(get(op, "reservation_id")) })) as never
        )
      case "top_up_tenant":
        return encodeTopUp(
          (yield* apply({ _tag: "TopUp", tenant: tenant(), amount: i64(get(op, "amount_microcents")) })) as never
        )
      case "snapshot":
        return snapshotJson((yield* apply(Command.takeSnapshot)) as Snapshot.Snapshot)
      case "verify_conservation":
        return statusJson((yield* apply(Command.verifyConservation)) as Snapshot.ConservationStatus)
      case "certify_ledger":
        return encodeCertificate((yield* apply(Command.certifyLedger)) as Snapshot.FinancialCertificate)
      case "prove_conservation":
        return proveJson((yield* apply(Command.proveConservation)) as never)
      case "restore_from_snapshot":
        return restoreJson(
          (yield* apply(Command.restore(decode(Snapshot.Snapshot, get(op, "snapshot"), "snapshot")))) as never
        )
      case "remaining_microcents":
        return yield* balance((b) => b.remaining_microcents)
      case "committed_microcents":
        return yield* balance((b) => b.committed_microcents)
      case "initial_microcents":
        return yield* balance((b) => b.initial_microcents)
      case "reserved_microcents":
        // the reference answers 0 for an unknown tenant
        return value(Option.getOrElse(
          Option.map(yield* ledger.balance(tenant()), (b): bigint => b.reserved_microcents),
          () => 0n
        ))
      case "tenant_count":
        return value((yield* ledger.counts).tenant_count)
      case "active_reservations":
        return value((yield* ledger.counts).active_reservations)
      case "snapshot_version":
        return value((yield* ledger.counts).snapshot_version)
      case "total_committed_microcents":
        return value((yield* ledger.totals).total_committed_microcents)
      case "committed_since_last_certificate":
        return value((yield* ledger.totals).committed_since_last_certificate_microcents)
      default:
        throw new Error(`unknown op ${String(name)}`)
    }
  })

if (enabled && existsSync(BUDGET)) {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const database = Effect.runSync(Effect.cached(Layer.buildWithScope(migratedClient(2), scope)))

  describe("conformance: budget.jsonl through LedgerPg", () => {
    it.effect(
      "every script: each result, the final snapshot, digest, proof and certificate",
      () =>
        Effect.gen(function*() {
          const context = yield* database
          const problems: Array<string> = []
          const scripts = readJsonl(BUDGET)
          let compared = 0
          for (const line of scripts) {
            const script = `script ${String(asInteger(get(line, "script")))}`
            const ledger = yield* Effect.provide(Effect.zipRight(resetLedger, LedgerPg.make), context)
            const results = getArray(line, "results")
            for (const [i, op] of getArray(line, "ops").entries()) {
              const actual = canonical(yield* runOp(ledger, op))
              const expected = canonical(results[i])
              compared++
              if (actual !== expected) problems.push(`${script} op ${i}: got ${actual}, expected ${expected}`)
            }
            const final = (yield* ledger.apply(Command.takeSnapshot)) as Snapshot.Snapshot
            const expect = (what: string, actual: Json | string, expected: Json | undefined) => {
              const a = typeof actual === "string" ? actual : canonical(actual)
              const e = typeof actual === "string" ? String(expected) : canonical(expected)
              if (a !== e) problems.push(`${script} ${what}: got ${a}, expected ${e}`)
            }
            expect("final_snapshot", encodeSnapshot(final), get(line, "final_snapshot"))
            expect("ledger_digest", Snapshot.ledgerDigest(final), getString(line, "ledger_digest"))
            expect(
              "prove_conservation",
              proveJson((yield* ledger.apply(Command.proveConservation)) as never),
              get(line, "prove_conservation")
            )
            expect(
              "certificate",
              encodeCertificate((yield* ledger.apply(Command.certifyLedger)) as Snapshot.FinancialCertificate),
              get(line, "certificate")
            )
          }
          assert.isAbove(scripts.length, 0)
          assert.strictEqual(
            compared,
            scripts.reduce((n: number, line) => n + getArray(line, "ops").length, 0),
            "every op ran"
          )
          assert.deepStrictEqual(problems.slice(0, 20), [], `${problems.length} differences`)
        }),
      600_000
    )
  })
} else {
  describe("conformance: budget.jsonl through LedgerPg", () => {
    it.skip(enabled ? `no vectors at ${BUDGET}` : SKIP_REASON, () => {})
  })
}
