import * as Journal from "@calybris/budget/Journal"
import * as L from "@calybris/budget/LedgerState"
import * as Codec from "@calybris/core/Codec"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import { checkCodecLaws } from "@calybris/testing/CodecLaws"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointStates, journalCases, show } from "./support/journalWire.js"

const MAX = (1n << 63n) - 1n
const int = fc.oneof(
  fc.bigInt({ min: -5n, max: 1_000_000n }),
  fc.constantFrom(MAX, -MAX - 1n, MAX + 1n, 1n << 64n, (1n << 64n) - 1n, (1n << 53n) - 1n, 1n << 53n, -1n)
)
const str = fc.constantFrom("a", "", "é", "\u{1F600}", "tenant-1")
const op = fc.option(str, { nil: undefined })
const command: fc.Arbitrary<L.Command> = fc.oneof(
  fc.record({ _tag: fc.constant("EnsureTenant"), tenant: str, amount: int }),
  fc.record({
    _tag: fc.constant("Reserve"),
    tenant: str,
    amount: int,
    operation_id: op,
    ttl_ms: fc.option(int, { nil: undefined }),
    expires_at_ms: fc.option(int, { nil: undefined })
  }, { requiredKeys: ["_tag", "tenant", "amount"] }),
  fc.record({ _tag: fc.constant("Admit"), tenant: str, amount: int, operation_id: op }, {
    requiredKeys: ["_tag", "tenant", "amount"]
  }),
  fc.record({ _tag: fc.constant("Commit"), reservation: int, actual: int, operation_id: op }, {
    requiredKeys: ["_tag", "reservation", "actual"]
  }),
  fc.record({ _tag: fc.constant("Release"), reservation: int, operation_id: op }, {
    requiredKeys: ["_tag", "reservation"]
  }),
  fc.record({ _tag: fc.constant("Expire"), reservation: int }),
  fc.record({ _tag: fc.constant("TopUp"), tenant: str, amount: int }),
  fc.constant({ _tag: "TakeSnapshot" })
) as fc.Arbitrary<L.Command>

const encodeSchema = Schema.encodeEither(Journal.JournalEntry)
const decodeSchema = Schema.decodeUnknownEither(Journal.JournalEntry)
const printed = (e: Either.Either<Json.Json, unknown>) => Either.isRight(e) ? Json.print(e.right) : "error"

/** What recovery replays of an entry, as text (the audited record an admit carries left out). */
const replayed = (text: string): string => {
  const r = Journal.decodeReplayable(Either.getOrThrow(Json.parse(text)))
  if (Either.isLeft(r)) return "error"
  const v = r.right
  return show(
    v._tag === "Commands"
      ? v.commands.map((c) => {
        const { audited: _, ...rest } = c as L.Command & { readonly audited?: unknown }
        return rest
      })
      : {
        ...v,
        checkpoint: {
          ...v.checkpoint,
          // a remembered result is decoded by its schema now (the hand-written codec kept the raw
          // Json): the same fields and values, shown as the Json they re-encode to
          operations: v.checkpoint.operations.map((o) => ({ ...o, result: rawJson(o.result) }))
        }
      }
  )
}

const encodeRemembered = Schema.encodeSync(Journal.RememberedResult)
const rawJson = (result: typeof Journal.RememberedResult.Type): Json.Json =>
  Either.getOrThrow(Json.parse(Json.print(encodeRemembered(result))))

describe("journal wire form", () => {
  it("writes and reads, byte for byte, what the hand-written codec wrote and read", () => {
    // fixtures/journal-wire.jsonl: the entries of `journalCases(1, 300)` and `checkpointStates`,
    // encoded and replayed by the hand-written toWire / fromWire / fastWire / fastCommand codec
    const expected = fs.readFileSync(path.join(import.meta.dirname, "fixtures", "journal-wire.jsonl"), "utf8")
      .split("\n").filter((line) => line.length > 0).map((line) => {
        const m = Either.getOrThrow(Json.parse(line)) as Json.JsonObject
        return { wire: m.get("wire"), replay: m.get("replay") }
      })
    const entries = [
      ...journalCases(1, 300).map((group) => Journal.encodeCommands(group)),
      ...checkpointStates(L).map((s) => Journal.encodeCheckpoint(s))
    ]
    assert.strictEqual(entries.length, expected.length)
    entries.forEach((entry, i) => {
      const wire = printed(entry)
      assert.strictEqual(wire, expected[i]?.wire, `entry ${i}`)
      assert.strictEqual(wire === "error" ? "error" : replayed(wire), expected[i]?.replay, `entry ${i} replayed`)
    })
  })

  it("the journal encoders give the Schema's output, value for value and error for error", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 6 }), (commands) => {
        const journaled = commands.map((command) => ({
          command,
          audited: command._tag === "Admit" ? new Map([["x", 1]]) : undefined
        }))
        const fast = Journal.encodeCommands(journaled)
        const slow = encodeSchema({ v: Journal.VERSION, commands: journaled.map(Journal.journalCommand) })
        assert.strictEqual(printed(fast), printed(slow))
        if (Either.isLeft(fast)) return
        // decode the printed text (numbers as the parser gives them)
        const json = Either.getOrThrow(Json.parse(Json.print(fast.right)))
        const replayable = Journal.decodeReplayable(json)
        const reference = Either.map(decodeSchema(json), (e) => "commands" in e ? e.commands : [])
        assert.isTrue(Either.isRight(replayable) && Either.isRight(reference))
        if (Either.isRight(replayable) && Either.isRight(reference) && replayable.right._tag === "Commands") {
          assert.deepStrictEqual(replayable.right.commands, reference.right)
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })

  for (
    const [name, schema] of [
      ["JournalCommand", Journal.JournalCommand],
      ["JournalEntry", Journal.JournalEntry],
      ["Checkpoint", Journal.Checkpoint]
    ] as const
  ) {
    it(`the compiled codec of ${name} agrees with its Schema (valid and hostile values)`, () => {
      checkCodecLaws(schema as Schema.Schema<unknown, unknown>)
    })
  }

  it("every journal schema compiles (no command falls back to the Schema machinery)", () => {
    for (const schema of [Journal.JournalCommand, Journal.JournalEntry, Journal.Checkpoint]) {
      assert.isDefined(Codec.compileDecoder(schema as Schema.Schema<unknown, unknown>))
      assert.isDefined(Codec.compileEncoder(schema as Schema.Schema<unknown, unknown>))
    }
  })

  it("an admit reads back with its binding, derived from its audited decision", () => {
    const audited = new Map<string, Json.Json>([
      ["audit", new Map<string, Json.Json>([["policy_digest_hex", "aa"], ["input_digest_hex", "bb"]])],
      ["metadata", null]
    ])
    const wire = Either.getOrThrow(Journal.encodeCommands([{
      command: { _tag: "Admit", tenant: "t", amount: 5n, operation_id: "op" } as L.Command,
      audited
    }]))
    assert.strictEqual(
      Json.print(wire),
      "{\"v\":1,\"commands\":[{\"kind\":\"admit\",\"tenant_id\":\"t\",\"amount\":5,\"operation_id\":\"op\",\"audited\":{\"audit\":{\"policy_digest_hex\":\"aa\",\"input_digest_hex\":\"bb\"},\"metadata\":null}}]}"
    )
    const r = Either.getOrThrow(Journal.decodeReplayable(wire))
    assert.deepStrictEqual(r._tag === "Commands" ? r.commands : null, [{
      _tag: "Admit",
      tenant: "t",
      amount: 5n,
      operation_id: "op",
      audited,
      binding: L.admitBinding("aa", "bb", null)
    }] as unknown as ReadonlyArray<L.Command>)
  })

  it("malformed command groups get the Schema's error; a member the writer never writes is refused, named (it was passed over: an admit's decision rode unaudited on a reserve)", () => {
    const bad = Either.getOrThrow(
      Json.parse("{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"a\",\"amount\":1.5}]}")
    )
    assert.isTrue(Either.isLeft(Journal.decodeReplayable(bad)))
    assert.deepStrictEqual(Journal.decode(bad), decodeSchema(bad))
    /** What decoding answered: the error as formatted, or "decoded". */
    const answer = (result: Either.Either<unknown, ParseResult.ParseError>) =>
      Either.isLeft(result) ? JsonSchema.formatError(result.left) : "decoded"
    const unknown = (member: string) => `${member}: is not a member of a journal record: the writer never writes it`
    const parsed = (text: string) => Either.getOrThrow(Json.parse(text))
    const extra = parsed(
      "{\"v\":1,\"commands\":[{\"kind\":\"commit\",\"reservation_id\":3,\"actual\":2,\"x\":1}],\"y\":2}"
    )
    assert.strictEqual(answer(Journal.decodeReplayable(extra)), unknown("commands[0].x"))
    const outer = parsed("{\"v\":1,\"commands\":[{\"kind\":\"release\",\"reservation_id\":3}],\"y\":2}")
    assert.strictEqual(answer(Journal.decode(outer)), unknown("y"))
    const audited = parsed(
      "{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"a\",\"amount\":5,\"audited\":{}}]}"
    )
    assert.strictEqual(answer(Journal.decode(audited)), unknown("commands[0].audited"))
    // a checkpoint's own members and the entry's are checked by name
    const checkpoint = Either.getOrThrow(Journal.encodeCheckpoint(new L.LedgerState())) as Json.JsonObject
    assert.strictEqual(answer(Journal.decode(checkpoint)), "decoded")
    const inner = new Map(checkpoint.get("checkpoint") as Json.JsonObject).set("extra", 1)
    assert.strictEqual(
      answer(Journal.decode(new Map(checkpoint).set("checkpoint", inner))),
      unknown("checkpoint.extra")
    )
    // the same records without them decode, in any member order
    const plain = Journal.decode(
      Either.getOrThrow(Json.parse("{\"commands\":[{\"actual\":2,\"reservation_id\":3,\"kind\":\"commit\"}],\"v\":1}"))
    )
    assert.deepStrictEqual(
      Either.isRight(plain) && "commands" in plain.right ? plain.right.commands as unknown : null,
      [
        { _tag: "Commit", reservation: 3n, actual: 2n }
      ] as unknown as ReadonlyArray<L.Command>
    )
  })
})
