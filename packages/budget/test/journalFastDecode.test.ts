/**
 * Recovery's fast path (issue 16): the lines the log's fast path accepts reach the replay as
 * their data bytes, and their plain commands are read by `Journal.fastReplayable` instead of a
 * Json value and the Schema decoder. Both are checked against the exact path: the decoder on
 * texts as the writer writes them and mutated ones (it returns what the exact decoder returns,
 * or gives up), and recovery over whole journals — valid ones and ones whose content was
 * altered under a valid chain (a character changed, an entry dropped, two swapped, a forged
 * checkpoint, a command the state machine refuses) — against the environment's exact reading
 * (`Ledger.layerJournal` over `Wal.layerMemory`): the same state, or the same error.
 */
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { inspect } from "../src/internal/queries.js"

const key = new Uint8Array(32).fill(7)

/** Keys and values of a decoded command, in order (bigints and strings kept apart). */
const shape = (value: unknown): unknown =>
  typeof value === "bigint"
    ? `${value}n`
    : Array.isArray(value)
    ? value.map(shape)
    : typeof value === "object" && value !== null
    ? Object.entries(value).map(([k, v]) => [k, shape(v)])
    : value

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text)

const exact = (text: string): Either.Either<Journal.Replayable, unknown> =>
  Either.flatMap(Json.parse(text), Journal.decodeReplayable)

const tenantArb = fc.oneof(
  fc.constantFrom("t", "u", "tenant-1"),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "grapheme", maxLength: 4 })
)
const idArb = fc.option(fc.oneof(fc.constantFrom("op-1", "op-2"), fc.string({ maxLength: 6 })), { nil: undefined })
const i64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -5n, max: 100_000n }),
  fc.constantFrom(0n, -(2n ** 63n), 2n ** 63n - 1n, 999_999_999_999_999n, 1_000_000_000_000_000n)
)
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 20n }))
const withId = <A extends object>(c: A, id: string | undefined) => id === undefined ? c : { ...c, operation_id: id }

/** Any plain command (and a few that are not: the fast decoder must give those up). */
const commandArb: fc.Arbitrary<L.Command> = fc.oneof(
  fc.record({ tenant: tenantArb, amount: i64 }).map((f) => ({ _tag: "EnsureTenant", ...f })),
  fc.tuple(tenantArb, i64, idArb).map(([tenant, amount, id]) => withId({ _tag: "TopUp", tenant, amount }, id)),
  fc.tuple(tenantArb, i64, idArb, fc.option(i64, { nil: undefined }), fc.option(i64, { nil: undefined })).map((
    [tenant, amount, id, ttl, expires]
  ) => ({
    ...withId({ _tag: "Reserve", tenant, amount }, id),
    ...(ttl === undefined ? {} : { ttl_ms: ttl }),
    ...(expires === undefined ? {} : { expires_at_ms: expires })
  })),
  fc.tuple(u64, i64, idArb).map(([reservation, actual, id]) => withId({ _tag: "Commit", reservation, actual }, id)),
  fc.tuple(u64, idArb).map(([reservation, id]) => withId({ _tag: "Release", reservation }, id)),
  u64.map((reservation) => ({ _tag: "Expire", reservation })),
  fc.tuple(tenantArb, i64).map(([tenant, max]) => ({ _tag: "SetExposureCap", tenant, max })),
  fc.tuple(tenantArb, i64).map(([tenant, amount]) => ({
    _tag: "Admit",
    tenant,
    amount,
    operation_id: "a",
    expires_at_ms: 5n
  }))
) as fc.Arbitrary<L.Command>

const textOf = (commands: ReadonlyArray<L.Command>): string =>
  Json.print(Either.getOrThrow(Journal.encodeCommands(commands.map((command) => ({ command })))))

/** The text with one character replaced, inserted or removed. */
const mutated = (text: string, at: number, op: number, c: string): string => {
  const i = at % (text.length + 1)
  return op === 0
    ? text.slice(0, i) + c + text.slice(i + 1)
    : op === 1
    ? text.slice(0, i) + c + text.slice(i)
    : text.slice(0, i) + text.slice(i + 1)
}
const charArb = fc.oneof(
  fc.constantFrom("\"", ",", "}", "]", "{", "0", "1", "-", ".", "e", "\\", " ", "x"),
  fc.string({ minLength: 1, maxLength: 1 })
)

describe("Journal.fastReplayable", () => {
  it("reads what the writer writes as the exact decoder does (or gives up where it is not a plain command)", () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 8 }), (commands) => {
        const text = textOf(commands)
        const fast = Journal.fastReplayable(bytesOf(text))
        const slow = exact(text)
        assert.isTrue(Either.isRight(slow))
        // plain commands whose strings are printable ASCII without escapes: read fast
        const plain = commands.every((c) => c._tag !== "Admit" && c._tag !== "SetExposureCap") &&
          /^[\x20-\x7e]*$/.test(text) && !text.includes("\\")
        if (plain) assert.isDefined(fast, text)
        assert.strictEqual(
          Journal.fastCount(bytesOf(text)),
          fast?._tag === "Commands" ? fast.commands.length : undefined
        )
        if (fast !== undefined) assert.deepStrictEqual(shape(fast), shape(Either.getOrThrow(slow)))
      })
    )
  })

  it("on any text changed by a character, accepts only what the exact decoder accepts, with the same value", () => {
    fc.assert(
      fc.property(
        fc.array(commandArb, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 0, max: 2 }),
        charArb,
        (commands, at, op, c) => {
          const text = mutated(textOf(commands), at, op, c)
          const fast = Journal.fastReplayable(bytesOf(text))
          // checking without building accepts exactly what building accepts
          assert.strictEqual(
            Journal.fastCount(bytesOf(text)),
            fast?._tag === "Commands" ? fast.commands.length : undefined
          )
          if (fast === undefined) return
          const slow = exact(text)
          assert.isTrue(Either.isRight(slow), text)
          assert.deepStrictEqual(shape(fast), shape(Either.getOrThrow(slow)), text)
        }
      )
    )
  })

  it("gives up on checkpoints, admits, refusals and anything it is unsure of", () => {
    for (
      const text of [
        "{\"v\":1,\"checkpoint\":{}}",
        "{\"v\":2,\"commands\":[]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"admit\",\"tenant_id\":\"t\",\"amount\":1,\"audited\":null}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"t\\u0000\",\"amount\":1}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"t\",\"amount\":1.0}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"t\",\"amount\":9223372036854775808}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"commit\",\"reservation_id\":-1,\"actual\":1}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"commit\",\"reservation_id\":1,\"actual\":1,\"extra\":1}]}",
        "{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"amount\":1,\"tenant_id\":\"t\"}]}",
        "{\"v\":1,\"commands\":[]} "
      ]
    ) {
      assert.isUndefined(Journal.fastReplayable(bytesOf(text)), text)
      assert.isUndefined(Journal.fastCount(bytesOf(text)), text)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Whole journals: the owning ledger (fast path) against the environment's exact reading

/** The bytes of a keyed log holding `records` (data texts) in order, chain valid. */
const logOf = (records: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const wal = yield* Wal.makeMemory({ key })
    for (const r of records) yield* wal.append(Either.getOrThrow(Json.parse(r)))
    const chunks = yield* Stream.runCollect(wal.bytes)
    return Buffer.concat(Chunk.toArray(chunks))
  }).pipe(Effect.orDie)

/** What a recovery ends with: the state's checkpoint text, or the error. */
const outcome = (layer: Layer.Layer<Ledger.Ledger, unknown>) =>
  Effect.exit(
    Effect.scoped(
      Effect.flatMap(Layer.build(layer), (context) => {
        const ledger = context.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger["Type"]
        return inspect(ledger, (s) => Json.print(Either.getOrThrow(Journal.encodeCheckpoint(s))), false)
      })
    )
  ).pipe(Effect.map((exit) => Exit.isSuccess(exit) ? { ok: exit.value } : { error: errorOf(exit.cause) }))

/** An error as compared: its tag and fields (a cause by its message). */
const errorOf = (cause: Cause.Cause<unknown>): unknown => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return `not a failure: ${Cause.pretty(cause)}`
  const e = failure.value as Record<string, unknown>
  return [
    String(e._tag),
    Object.entries(e).filter(([k]) => k !== "stack").map((
      [k, v]
    ) => [k, typeof v === "object" && v !== null ? String((v as { message?: unknown }).message ?? v) : shape(v)])
  ]
}

const recoveredFast = (bytes: Uint8Array, verifyCheckpoints: boolean) =>
  outcome(Ledger.layerJournalMemory({ key, verifyCheckpoints, checkpointEvery: 0 }, bytes))
const recoveredExact = (bytes: Uint8Array, verifyCheckpoints: boolean) =>
  outcome(
    Ledger.layerJournal({ verifyCheckpoints, checkpointEvery: 0 }).pipe(Layer.provide(Wal.layerMemory({ key }, bytes)))
  )

/** A valid journal: `commands` applied to a state machine, grouped, checkpoints where asked. */
const journalOf = (
  steps: ReadonlyArray<{ readonly command: L.Command; readonly cut: boolean; readonly checkpoint: boolean }>
): Array<string> => {
  const s = new L.LedgerState()
  const records: Array<string> = []
  let group: Array<L.Command> = []
  for (const { checkpoint, command, cut } of steps) {
    const result = L.step(s, command)
    if (L.applied(result) || command._tag === "EnsureTenant") group.push(command)
    if (cut && group.length > 0) {
      records.push(textOf(group))
      group = []
      if (checkpoint) records.push(Json.print(Either.getOrThrow(Journal.encodeCheckpoint(s))))
    }
  }
  if (group.length > 0) records.push(textOf(group))
  return records
}

const small = fc.bigInt({ min: 0n, max: 200n })
const stepArb = fc.record({
  command: fc.oneof(
    fc.record({ tenant: fc.constantFrom("a", "b"), amount: small }).map((f) => ({ _tag: "EnsureTenant", ...f })),
    fc.tuple(fc.constantFrom("a", "b", "c"), small, fc.option(fc.constantFrom("o1", "o2"), { nil: undefined })).map((
      [tenant, amount, id]
    ) => withId({ _tag: "Reserve", tenant, amount }, id)),
    fc.tuple(fc.bigInt({ min: 1n, max: 8n }), small).map(([reservation, actual]) => ({
      _tag: "Commit",
      reservation,
      actual
    })),
    fc.bigInt({ min: 1n, max: 8n }).map((reservation) => ({ _tag: "Release", reservation })),
    fc.tuple(fc.constantFrom("a", "b"), small).map(([tenant, amount]) => ({ _tag: "TopUp", tenant, amount }))
  ) as fc.Arbitrary<L.Command>,
  cut: fc.boolean(),
  checkpoint: fc.boolean()
})

const mutationArb = fc.oneof(
  fc.constant({ _tag: "none" as const }),
  fc.record({
    _tag: fc.constant("char" as const),
    entry: fc.nat(),
    at: fc.nat(),
    op: fc.integer({ min: 0, max: 2 }),
    c: charArb
  }),
  fc.record({ _tag: fc.constant("drop" as const), entry: fc.nat() }),
  fc.record({ _tag: fc.constant("swap" as const), entry: fc.nat() }),
  fc.record({ _tag: fc.constant("forge" as const), entry: fc.nat(), amount: small })
)

type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never

const mutate = (records: Array<string>, m: Mutation): Array<string> => {
  const out = [...records]
  if (out.length === 0 || m._tag === "none") return out
  const i = m.entry % out.length
  switch (m._tag) {
    case "char": {
      const text = mutated(out[i] as string, m.at, m.op, m.c)
      // only content that is still JSON can be appended under a valid chain
      if (Either.isRight(Json.parse(text))) out[i] = text
      return out
    }
    case "drop":
      out.splice(i, 1)
      return out
    case "swap":
      if (i + 1 < out.length) out.splice(i, 2, out[i + 1] as string, out[i] as string)
      return out
    case "forge":
      // a checkpoint whose tenant holds more than was ever given (or a command refused)
      out.splice(
        i,
        0,
        `{"v":1,"checkpoint":{"tenants":[{"tenant_id":"a","initial_microcents":${m.amount},"remaining_microcents":${
          m.amount + 1n
        },"reserved_microcents":0,"committed_microcents":0}],"holds":[],"caps":[],"operations":[],"next_reservation":1,"snapshot_version":0,"baseline":0}}`
      )
      return out
  }
  return out
}

describe("recovery's fast path", () => {
  it.effect("recovers what the exact reading recovers, or fails with the same error, on valid and altered journals", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.tuple(fc.array(stepArb, { maxLength: 40 }), mutationArb, fc.boolean()),
        Number(process.env.FC_NUM_RUNS ?? 100)
      )
      for (const [steps, mutation, verifyCheckpoints] of samples) {
        const bytes = yield* logOf(mutate(journalOf(steps), mutation))
        const fast = yield* recoveredFast(bytes, verifyCheckpoints)
        const slow = yield* recoveredExact(bytes, verifyCheckpoints)
        assert.deepStrictEqual(fast, slow)
      }
    }))
})
