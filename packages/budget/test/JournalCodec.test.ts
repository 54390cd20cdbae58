import * as Journal from "@calybris/budget/Journal"
import type * as L from "@calybris/budget/LedgerState"
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"

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
const printed = (e: Either.Either<Json.Json, unknown>) => Either.isRight(e) ? Json.print(e.right) : "error"

describe("journal codecs", () => {
  it("the fast command-group codecs agree with the Schemas, value for value and error for error", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 6 }), (commands) => {
        const journaled = commands.map((command) => ({
          command,
          audited: command._tag === "Admit" ? new Map([["x", 1]]) : undefined
        }))
        const fast = Journal.encodeCommands(journaled)
        const slow = encodeSchema(
          { v: Journal.VERSION, commands: journaled.map(Journal.toWire) } as unknown as Journal.JournalEntry
        )
        assert.strictEqual(printed(fast), printed(slow))
        if (Either.isLeft(fast)) return
        // decode the printed text (numbers as the parser gives them)
        const json = Either.getOrThrow(Json.parse(Json.print(fast.right)))
        const replayable = Journal.decodeReplayable(json)
        const reference = Either.map(
          Journal.decode(json),
          (e) => "commands" in e ? e.commands.map((w) => Journal.fromWire(w).command) : []
        )
        assert.isTrue(Either.isRight(replayable) && Either.isRight(reference))
        if (Either.isRight(replayable) && Either.isRight(reference) && replayable.right._tag === "Commands") {
          assert.deepStrictEqual(replayable.right.commands, reference.right)
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })

  it("malformed command groups get the Schema's error", () => {
    const bad = Either.getOrThrow(
      Json.parse("{\"v\":1,\"commands\":[{\"kind\":\"reserve\",\"tenant_id\":\"a\",\"amount\":1.5}]}")
    )
    assert.isTrue(Either.isLeft(Journal.decodeReplayable(bad)))
    assert.isTrue(Either.isLeft(Journal.decode(bad)))
    const extra = Either.getOrThrow(
      Json.parse("{\"v\":1,\"commands\":[{\"kind\":\"commit\",\"reservation_id\":3,\"actual\":2,\"x\":1}],\"y\":2}")
    )
    const r = Journal.decodeReplayable(extra)
    assert.deepStrictEqual(Either.isRight(r) && r.right._tag === "Commands" ? r.right.commands : null, [
      { _tag: "Commit", reservation: 3n, actual: 2n }
    ] as unknown as ReadonlyArray<L.Command>)
  })
})
