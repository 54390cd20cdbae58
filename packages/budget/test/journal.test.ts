import type { ReservationId } from "@calybris/budget/Arguments"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import { Snapshot as SnapshotSchema } from "@calybris/budget/Snapshot"
import * as Decision from "@calybris/core/Decision"
import * as Json from "@calybris/core/Json"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import { WalIoError } from "@calybris/wal/WalError"
import { assert, describe, it } from "@effect/vitest"
import * as Brand from "effect/Brand"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { input, otherPolicy, policy } from "./support/fixtures.js"

/** A JavaScript caller's values, which no type checks: what `validateCommand` must refuse in every layer. */
const unchecked = {
  microcents: Brand.nominal<Microcents>(),
  tenant: Brand.nominal<TenantId>(),
  reservation: Brand.nominal<ReservationId>()
}

const key = new Uint8Array(32).fill(9)

/** Run a program on a journaled ledger over an in-memory WAL holding `bytes`; return the new bytes too. */
const session = <A, E>(
  bytes: Uint8Array | undefined,
  program: Effect.Effect<A, E, Ledger.Ledger | Wal.Wal>,
  options: Ledger.JournalOptions = { checkpointEvery: 0 }
) =>
  Effect.gen(function*() {
    const walLayer = Wal.layerMemory({ key }, bytes)
    return yield* Effect.gen(function*() {
      const result = yield* program.pipe(Effect.provide(Ledger.layerJournal(options)))
      const wal = yield* Wal.Wal
      const out = Buffer.concat([...Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))])
      return { result, bytes: Uint8Array.from(out) }
    }).pipe(Effect.provide(walLayer))
  })

/** The environment's Wal with its appends counted from 1: those `fails` picks fail with `error`, the others go through. */
const failingAppends = (fails: (n: number) => boolean, error: WalIoError) => {
  let appends = 0
  const layer = Layer.effect(
    Wal.Wal,
    Effect.map(Wal.Wal, (wal) =>
      Wal.Wal.of({
        ...wal,
        append: (data) => fails(++appends) ? Effect.fail(error) : wal.append(data)
      }))
  )
  return { layer, count: () => appends }
}

const balances = Effect.map(Ledger.balances, (s) => Json.print(Schema.encodeSync(SnapshotSchema)(s)))

const entries = (bytes: Uint8Array) =>
  Wal.readVerified.pipe(
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.provide(Wal.layerMemory({ key }, bytes))
  )

describe("journaled ledger", () => {
  it.effect("a restart rebuilds the state: balances, open holds, operation ids, versions", () =>
    Effect.gen(function*() {
      const first = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(10_000n))
          yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(500n))
          yield* Ledger.setExposureCap(TenantId.make("a"), Microcents.make(5_000n))
          const r = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(1_000n), { operationId: "op-1" })
          const r2 = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(2_000n))
          if (r2._tag === "Reserved") yield* Ledger.commit(r2.reservation_id, Microcents.make(1_500n))
          yield* Ledger.takeSnapshot
          yield* Ledger.certify
          return { r, balances: yield* balances, version: yield* Ledger.snapshotVersion }
        })
      )
      const second = yield* session(
        first.bytes,
        Effect.gen(function*() {
          const again = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(1_000n), { operationId: "op-1" })
          return {
            again,
            balances: yield* balances,
            holds: yield* Ledger.activeReservations,
            version: yield* Ledger.snapshotVersion,
            cap: yield* Effect.flip(
              Effect.flatMap(Ledger.reserve(TenantId.make("a"), Microcents.make(4_500n)), (r) => Effect.fail(r))
            )
          }
        })
      )
      assert.deepStrictEqual(second.result.again, first.result.r, "the retry returns the original result")
      assert.strictEqual(second.result.balances, first.result.balances)
      assert.strictEqual(second.result.holds, 1)
      assert.strictEqual(second.result.version, first.result.version)
      assert.strictEqual(second.result.cap._tag, "ExposureLimitExceeded", "caps survive")
    }))

  it.effect("checkpoints: recovery from the last checkpoint equals recovery from genesis", () =>
    Effect.gen(function*() {
      const work = Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1_000_000n))
        for (let i = 0; i < 40; i++) {
          const r = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(1_000n + BigInt(i)), {
            operationId: `r${i}`
          })
          if (r._tag === "Reserved" && i % 3 !== 0) yield* Ledger.commit(r.reservation_id, Microcents.make(900n))
        }
        return yield* balances
      })
      const withCheckpoints = yield* session(undefined, work, { checkpointEvery: 7 })
      const all = yield* entries(withCheckpoints.bytes)
      const checkpoints = all.filter((e) =>
        Either.isRight(Journal.decode(e.data)) && Json.print(e.data).includes("\"checkpoint\"")
      )
      assert.isTrue(checkpoints.length >= 3, `checkpoints written: ${checkpoints.length}`)
      const fast = yield* session(withCheckpoints.bytes, balances, { checkpointEvery: 7 })
      const verified = yield* session(withCheckpoints.bytes, balances, { checkpointEvery: 7, verifyCheckpoints: true })
      assert.strictEqual(fast.result, withCheckpoints.result)
      assert.strictEqual(verified.result, withCheckpoints.result)
    }))

  it.effect("rejected commands are not journaled; admit journals the audited decision and the hold as one entry", () =>
    Effect.gen(function*() {
      const { bytes } = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("gw"), Microcents.make(50_000n))
          yield* Ledger.reserve(TenantId.make("gw"), Microcents.make(1_000_000n)) // insufficient: not journaled
          yield* Ledger.reserve(TenantId.make("nobody"), Microcents.make(5n)) // missing tenant: not journaled
          const outcome = yield* Ledger.admit(policy, TenantId.make("gw"), input(1), {
            metadata: "tenant gw / request 1"
          })
          assert.strictEqual(outcome._tag, "Admitted")
        })
      )
      const all = yield* entries(bytes)
      assert.strictEqual(all.length, 2)
      const admitEntry = Either.getOrThrow(Journal.decode(all[1]?.data ?? null))
      assert.isTrue("commands" in admitEntry)
      if (!("commands" in admitEntry)) return
      const [cmd] = admitEntry.commands
      assert.strictEqual(cmd?._tag, "Admit")
      if (cmd?._tag !== "Admit") return
      const record = Schema.decodeUnknownSync(Audited.AuditedJson)(cmd.audited)
      const verdict = Audited.audit(policy, 2n, record)
      assert.isTrue(verdict.replay_valid && verdict.policy_digest_match && verdict.input_digest_match)
      assert.strictEqual<bigint>(cmd.amount, record.decision.estimated_cost_microunits)
    }))

  it.effect("admit journals, without replaying, exactly the audited record that record builds with its replay", () =>
    Effect.gen(function*() {
      const requests = Array.from(
        { length: 12 },
        (_, k) => input(k + 1, { risk_bps: 850 * k, requested_model_id: 1 + k % 2 })
      )
      const { bytes, result } = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("gw"), Microcents.make(1_000_000_000n))
          const outcomes = []
          for (const [k, request] of requests.entries()) {
            outcomes.push(yield* Ledger.admit(policy, TenantId.make("gw"), request, { metadata: `request ${k}` }))
          }
          return outcomes
        })
      )
      const audited = (yield* entries(bytes)).flatMap((e) => {
        const decoded = Either.getOrThrow(Journal.decode(e.data))
        return "commands" in decoded ? decoded.commands.flatMap((c) => (c._tag === "Admit" ? [c.audited] : [])) : []
      })
      const admitted = result.flatMap((o, k) => {
        const request = requests[k]
        return o._tag === "Admitted" && request !== undefined ? [[o, request, k] as const] : []
      })
      assert.isAtLeast(admitted.length, 2)
      assert.isAbove(result.length, admitted.length, "some requests are rejected (nothing journaled for them)")
      assert.strictEqual(audited.length, admitted.length)
      for (const [i, [outcome, request, k]] of admitted.entries()) {
        const replayed = Either.getOrThrow(Audited.record(policy, request, outcome.decision, `request ${k}`))
        assert.strictEqual(Json.print(audited[i] ?? null), Json.print(replayed))
      }
    }))

  it.effect("expiry is journaled as an explicit release, so a replay reproduces it exactly", () =>
    Effect.gen(function*() {
      const first = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
          yield* Ledger.reserve(TenantId.make("t"), Microcents.make(300n), { expiresIn: "10 seconds" })
          yield* Ledger.reserve(TenantId.make("t"), Microcents.make(200n))
          yield* TestClock.adjust("11 seconds")
          yield* Ledger.sweepExpired
          return yield* balances
        })
      )
      const all = yield* entries(first.bytes)
      assert.isTrue(all.some((e) => Json.print(e.data).includes("\"kind\":\"expire\"")))
      // the restarted ledger runs at clock 0 again: the release comes from the journal, not the clock
      const second = yield* session(first.bytes, Effect.all([balances, Ledger.activeReservations]))
      assert.strictEqual(second.result[0], first.result)
      assert.strictEqual(second.result[1], 1)
    }))

  it.effect("a WAL failure fails closed: the command fails and so does everything after", () =>
    Effect.gen(function*() {
      const failing = failingAppends(
        (n) => n > 2,
        new WalIoError({ operation: "fsync", path: "memory", cause: new Error("EIO") })
      ).layer.pipe(Layer.provide(Wal.layerMemory({ key })))
      const result = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
        const failed = yield* Effect.flip(Ledger.reserve(TenantId.make("t"), Microcents.make(100n)))
        const after = yield* Effect.flip(Ledger.ensureTenant(TenantId.make("u"), Microcents.make(1n)))
        const read = yield* Effect.flip(Ledger.remaining("t"))
        return { failed, after, read }
      }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provide(failing))))
      assert.strictEqual(result.failed._tag, "LedgerStoreError")
      assert.strictEqual(result.after._tag, "LedgerStoreError")
      assert.strictEqual(result.read._tag, "LedgerStoreError")
    }))

  it.effect("a split group whose second line fails: the commands on the line written get their results (recovery applies them), the others fail; then closed", () =>
    Effect.gen(function*() {
      // a log that refuses lines over 700 bytes and fails its fourth append (a full disk, say): the
      // ensure, the group refused as one line, its first line, its second line
      let bytes: Uint8Array = new Uint8Array(0)
      const fourth = failingAppends(
        (n) => n === 4,
        new WalIoError({ operation: "write", path: "memory", cause: new Error("ENOSPC") })
      )
      const failing = fourth.layer.pipe(Layer.provideMerge(Wal.layerMemory({ key, maxLineBytes: 700 })))
      const y = TenantId.make("y")
      const id = (i: number) => `${String(i).padStart(3, "0")}-${"r".repeat(196)}`
      const results = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(y, Microcents.make(1n))
        // one group of four top-ups: too long for one line, split; its second line's append fails
        const answers = yield* Effect.all(
          [
            Ledger.topUp(y, Microcents.make(100n)),
            Ledger.topUp(y, Microcents.make(101n), { operationId: id(1) }),
            Ledger.topUp(y, Microcents.make(102n), { operationId: id(2) }),
            Ledger.topUp(y, Microcents.make(103n))
          ].map(Effect.either),
          { concurrency: "unbounded" }
        )
        const after = yield* Effect.flip(Ledger.ensureTenant(TenantId.make("u"), Microcents.make(1n)))
        const wal = yield* Wal.Wal
        bytes = Uint8Array.from(Buffer.concat([...Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))]))
        return { answers, after }
      }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provideMerge(failing))))
      assert.strictEqual(fourth.count(), 4)
      assert.strictEqual(results.after._tag, "LedgerStoreError")
      // recovered: the journal holds the first line's top-ups, exactly those answered with a result
      const recovered = yield* Ledger.initial("y").pipe(
        Effect.provide(Ledger.layerJournalMemory({ key, maxLineBytes: 700, checkpointEvery: 0 }, bytes))
      )
      let answered = 1n
      for (const [i, answer] of results.answers.entries()) {
        if (Either.isRight(answer)) {
          assert.strictEqual(answer.right._tag, "ToppedUp")
          answered += 100n + BigInt(i)
        } else assert.strictEqual(answer.left._tag, "LedgerStoreError")
      }
      assert.isTrue(results.answers.some(Either.isRight), "a line was written")
      assert.isTrue(results.answers.some(Either.isLeft), "a line failed")
      assert.strictEqual(Option.getOrThrow(recovered), answered)
    }))

  it.effect("recovery fails closed on a journal that does not verify", () =>
    Effect.gen(function*() {
      const { bytes } = yield* session(undefined, Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)))
      const text = new TextDecoder().decode(bytes).replace("1000", "9000")
      const error = yield* Effect.flip(session(new TextEncoder().encode(text), Ledger.tenantCount))
      assert.include(["WalChainBroken", "LedgerRecoveryError"], error._tag)
    }))

  it.effect("100 concurrent fibers share group commits and never overspend", () =>
    Effect.gen(function*() {
      const { bytes, result } = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(50_000n))
          const spent = yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) =>
              Effect.flatMap(
                Ledger.reserve(TenantId.make("t"), Microcents.make(1_000n), { operationId: `f${i}` }),
                (r) =>
                  r._tag === "Reserved"
                    ? Effect.as(Ledger.commit(r.reservation_id, Microcents.make(1_000n)), 1_000n)
                    : Effect.succeed(0n)
              ),
            { concurrency: "unbounded" }
          )
          return spent.reduce((a, b) => a + b, 0n)
        })
      )
      assert.strictEqual(result, 50_000n)
      const all = yield* entries(bytes)
      assert.isTrue(all.length < 100, `group commits: ${all.length} entries for 150 journaled commands`)
      const again = yield* session(bytes, Ledger.committed("t"))
      assert.strictEqual(Option.getOrThrow(again.result), 50_000n)
    }))

  for (const checkpointEvery of [0, 1]) {
    it.effect(
      `an admit retried after a restart returns the journaled decision; an altered retry conflicts (checkpointEvery ${checkpointEvery})`,
      () =>
        Effect.gen(function*() {
          const options: Ledger.AdmitOptions = {
            operationId: "adm-1",
            expiresIn: "1 hour",
            metadata: new Map<string, Json.Json>([["big", 2n ** 60n + 1n], ["nested", new Map([["a", [1, "x"]]])]])
          }
          const first = yield* session(
            undefined,
            Effect.gen(function*() {
              yield* Ledger.ensureTenant(TenantId.make("gw"), Microcents.make(500_000n))
              yield* Ledger.ensureTenant(TenantId.make("gw2"), Microcents.make(500_000n))
              return yield* Ledger.admit(policy, TenantId.make("gw"), input(1), options)
            }),
            { checkpointEvery }
          )
          assert.strictEqual(first.result._tag, "Admitted")
          const second = yield* session(
            first.bytes,
            Effect.gen(function*() {
              const again = yield* Ledger.admit(policy, TenantId.make("gw"), input(1), options)
              const conflicts = yield* Effect.forEach([
                Ledger.admit(policy, TenantId.make("gw"), input(2), options),
                Ledger.admit(otherPolicy, TenantId.make("gw"), input(1), options),
                Ledger.admit(policy, TenantId.make("gw2"), input(1), options),
                Ledger.admit(policy, TenantId.make("gw"), input(1), { ...options, metadata: null }),
                Ledger.admit(policy, TenantId.make("gw"), input(1), { ...options, expiresIn: "2 hours" }),
                Ledger.admit(policy, TenantId.make("gw"), input(1, { risk_bps: 9500 }), options)
              ], (retry) => Effect.map(Effect.flip(retry), (e) => e._tag))
              return { again, conflicts, holds: yield* Ledger.activeReservations }
            }),
            { checkpointEvery }
          )
          assert.deepStrictEqual(second.result.again, first.result, "the retry returns the original outcome")
          assert.deepStrictEqual(second.result.conflicts, Array(6).fill("IdempotencyConflict"))
          assert.strictEqual(second.result.holds, 1)
          assert.deepStrictEqual(second.bytes, first.bytes, "nothing was journaled by the retries")
          // the decision returned is the journaled one
          const admits = (yield* entries(first.bytes)).flatMap((e) => {
            const decoded = Either.getOrThrow(Journal.decode(e.data))
            return "commands" in decoded ? decoded.commands.filter((c) => c._tag === "Admit") : []
          })
          assert.strictEqual(admits.length, 1)
          const record = Schema.decodeUnknownSync(Audited.AuditedJson)(
            admits[0]?._tag === "Admit" ? admits[0].audited : null
          )
          if (second.result.again._tag !== "Admitted") return assert.fail("expected Admitted")
          const encode = Schema.encodeSync(Decision.Decision)
          assert.strictEqual(Json.print(encode(second.result.again.decision)), Json.print(encode(record.decision)))
        })
    )
  }

  it.effect("out-of-range arguments leave the journal byte-identical and the ledger serving", () =>
    Effect.gen(function*() {
      const first = yield* session(undefined, Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)))
      const second = yield* session(
        first.bytes,
        Effect.gen(function*() {
          const refused = yield* Effect.forEach([
            Effect.asVoid(Ledger.ensureTenant(TenantId.make("t2"), unchecked.microcents(2n ** 70n))),
            Effect.asVoid(Ledger.ensureTenant(TenantId.make("t2"), Microcents.make(-5n))),
            Effect.asVoid(Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: Duration.weeks(1e15) })),
            Effect.asVoid(Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { expiresIn: Infinity })),
            Effect.asVoid(Ledger.topUp(TenantId.make("t"), unchecked.microcents(2n ** 63n))),
            Effect.asVoid(Ledger.commit(unchecked.reservation(2n ** 64n), Microcents.make(0n)))
          ], (bad) => Effect.map(Effect.flip(bad), (e) => e._tag))
          return { refused, balances: yield* balances }
        })
      )
      assert.deepStrictEqual(second.result.refused, Array(6).fill("InvalidArgument"))
      assert.deepStrictEqual(second.bytes, first.bytes, "nothing journaled")
      // the same session keeps serving after the refusals
      const third = yield* session(
        first.bytes,
        Effect.gen(function*() {
          yield* Effect.flip(Ledger.ensureTenant(TenantId.make("t2"), unchecked.microcents(2n ** 70n)))
          yield* Ledger.ensureTenant(TenantId.make("u"), Microcents.make(10n))
          return yield* Ledger.reserve(TenantId.make("t"), Microcents.make(10n))
        })
      )
      assert.strictEqual(third.result._tag, "Reserved")
    }))

  it.effect("an ensure of a tenant that exists is not journaled", () =>
    Effect.gen(function*() {
      const first = yield* session(undefined, Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)))
      const second = yield* session(
        first.bytes,
        Effect.all([
          Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)),
          Ledger.ensureTenant(TenantId.make("t"), Microcents.make(5n))
        ])
      )
      assert.strictEqual((yield* entries(second.bytes)).length, (yield* entries(first.bytes)).length)
      assert.deepStrictEqual(second.bytes, first.bytes)
    }))

  it.effect("reads show the holds expired by the Clock as released, without writing to the journal", () =>
    Effect.gen(function*() {
      const { bytes, result } = yield* session(
        undefined,
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
          yield* Ledger.reserve(TenantId.make("t"), Microcents.make(300n), { expiresIn: "10 seconds" })
          const wal = yield* Wal.Wal
          const before = (yield* Stream.runCollect(wal.bytes)).pipe(Chunk.toReadonlyArray).length
          yield* TestClock.adjust("10 seconds")
          const seen = yield* Effect.all([Ledger.activeReservations, Ledger.reserved("t"), balances])
          const after = (yield* Stream.runCollect(wal.bytes)).pipe(Chunk.toReadonlyArray).length
          return { seen, before, after }
        })
      )
      assert.strictEqual(result.seen[0], 0)
      assert.deepStrictEqual(result.seen[1], Option.some(0n))
      assert.strictEqual(result.before, result.after, "the reads wrote nothing")
      assert.isFalse(Json.print((yield* entries(bytes)).map((e) => e.data)).includes("\"kind\":\"expire\""))
    }))
})
