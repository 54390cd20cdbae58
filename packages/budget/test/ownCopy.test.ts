import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import type * as Snapshot from "@calybris/budget/Snapshot"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { input, policy } from "./support/fixtures.js"

// What `apply` checked is what the ledger applies and journals: the caller's objects changed after
// the call — before the journal writer takes the command — change nothing (a helper's hostile
// review: a tenant id lengthened past the limit then was applied and journaled, and the journal
// never opened again; a lone surrogate put in stopped the ledger).

const key = new TextEncoder().encode("own copy key")

/** Run `program` on a journaled ledger over a memory log holding `bytes`; its value, the log's bytes after it. */
const onJournal = <A, E>(bytes: Uint8Array | undefined, program: Effect.Effect<A, E, Ledger.Ledger>) =>
  Effect.gen(function*() {
    const value = yield* program.pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })))
    const wal = yield* Wal.Wal
    const after = Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))))
    return { value, bytes: after }
  }).pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))

/** Apply, then change the caller's objects once the call returned to the scheduler (the command queued). */
const applyThenChange = <A>(apply: Effect.Effect<A, unknown, Ledger.Ledger>, change: () => void) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(apply)
    yield* Effect.yieldNow()
    change()
    return yield* Fiber.join(fiber)
  })

/** The journal reopened: its tenants' balances (recovery checks every entry). */
const reopened = (bytes: Uint8Array) =>
  onJournal(bytes, Ledger.balances).pipe(Effect.map(({ value }) => value.tenants.map((t) => t.tenant_id)))

describe("the journaled ledger applies and journals the command it checked", () => {
  it.effect("a command's fields changed after apply: the checked values are applied and journaled, the journal reopens", () =>
    Effect.gen(function*() {
      for (const later of ["x".repeat(2_000), "\uD800"]) {
        const command = Command.ensureTenant(TenantId.make("t"), Microcents.make(5n))
        const run = yield* onJournal(
          undefined,
          applyThenChange(
            Effect.flatMap(Ledger.Ledger, (ledger) => ledger.apply(command)),
            () => {
              ;(command as { tenant: string }).tenant = later
              ;(command as { amount: bigint }).amount = -7n
            }
          )
        )
        assert.deepStrictEqual(yield* reopened(run.bytes), ["t"])
        const balance = yield* onJournal(run.bytes, Ledger.remaining(TenantId.make("t")))
        assert.deepStrictEqual(balance.value, Option.some(5n))
      }
    }))

  it.effect("a restore's snapshot changed after apply: the checked snapshot is restored and journaled", () =>
    Effect.gen(function*() {
      const tenants = [{
        tenant_id: "a",
        initial_microcents: 10n,
        remaining_microcents: 10n,
        reserved_microcents: 0n,
        committed_microcents: 0n
      }]
      const snapshot = { version: 1n, tenants, active_reservations: 0n } as unknown as Snapshot.Snapshot
      const run = yield* onJournal(
        undefined,
        applyThenChange(Ledger.restore(snapshot), () => {
          ;(tenants[0] as { remaining_microcents: bigint }).remaining_microcents = 10n ** 30n
          ;(tenants[0] as { tenant_id: string }).tenant_id = "\uD800"
          tenants.push({ ...tenants[0] as (typeof tenants)[number], tenant_id: "b" })
        })
      )
      assert.deepStrictEqual(yield* reopened(run.bytes), ["a"])
      assert.deepStrictEqual(
        (yield* onJournal(run.bytes, Ledger.remaining(TenantId.make("a")))).value,
        Option.some(10n)
      )
      // a tenant (and a snapshot) naming itself with Symbol.toStringTag, a caller's class instance:
      // copied too (the review of the restore message's fix: it was not, and its change was journaled)
      const tagged = {
        tenant_id: "a",
        initial_microcents: 10n,
        remaining_microcents: 10n,
        reserved_microcents: 0n,
        committed_microcents: 0n
      }
      Object.defineProperty(tagged, Symbol.toStringTag, { value: "TenantBalance" })
      const taggedSnapshot = { version: 1n, tenants: [tagged], active_reservations: 0n }
      Object.defineProperty(taggedSnapshot, Symbol.toStringTag, { value: "Snapshot" })
      const taggedRun = yield* onJournal(
        undefined,
        applyThenChange(Ledger.restore(taggedSnapshot as unknown as Snapshot.Snapshot), () => {
          tagged.tenant_id = "x".repeat(2000)
          taggedSnapshot.version = 2n ** 70n
        })
      )
      assert.deepStrictEqual(yield* reopened(taggedRun.bytes), ["a"])
      // a Set holding a tenant's members (what the check reads): copied too (the review of the
      // built-in exclusion: it was not, and its change was journaled)
      const setTenant = Object.assign(new Set(), {
        tenant_id: "a",
        initial_microcents: 10n,
        remaining_microcents: 10n,
        reserved_microcents: 0n,
        committed_microcents: 0n
      })
      const setRun = yield* onJournal(
        undefined,
        applyThenChange(
          Ledger.restore(
            { version: 1n, tenants: [setTenant], active_reservations: 0n } as unknown as Snapshot.Snapshot
          ),
          () => {
            setTenant.tenant_id = "x".repeat(2000)
          }
        )
      )
      assert.deepStrictEqual(yield* reopened(setRun.bytes), ["a"])
    }))

  it.effect("an admit's metadata, input and audited decision changed after the call: the journal holds what was checked and its audit passes", () =>
    Effect.gen(function*() {
      const setup = yield* onJournal(undefined, Ledger.ensureTenant(TenantId.make("t"), Microcents.make(10n ** 12n)))
      // through Ledger.admit: the metadata and the input
      const metadata = new Map<string, Json.Json>([["note", "checked"]])
      const request = input(1)
      const admitted = yield* onJournal(
        setup.bytes,
        applyThenChange(Ledger.admit(policy, TenantId.make("t"), request, { metadata }), () => {
          metadata.set("note", "\uD800")
          ;(request as { business_value_microunits: bigint }).business_value_microunits = 1n
        })
      )
      assert.strictEqual(admitted.value._tag, "Admitted")
      // through apply, an audited decision given as a value
      const decision = Kernel.prescribe(policy, input(2))
      const record = Either.getOrThrow(Audited.recordOfPrescribed(policy, input(2), decision, null)) as Map<
        string,
        Json.Json
      >
      const amount = Microcents.make(decision.estimated_cost_microunits as bigint)
      const applied = yield* onJournal(
        admitted.bytes,
        applyThenChange(
          Effect.flatMap(Ledger.Ledger, (ledger) => ledger.apply(Command.admit(TenantId.make("t"), amount), record)),
          () => record.set("metadata", "\uD800")
        )
      )
      assert.strictEqual(applied.value._tag, "Reserved")
      // the journal reopens, and its audit replays both admits as journaled
      assert.deepStrictEqual(yield* reopened(applied.bytes), ["t"])
      const report = yield* JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory({ key }, applied.bytes)))
      assert.strictEqual(report.length, 2)
      for (const verdict of report) {
        assert.isTrue(
          verdict.replay_valid && verdict.policy_digest_match && verdict.input_digest_match &&
            verdict.decision_digest_match
        )
      }
    }))
})
