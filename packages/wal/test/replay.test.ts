/**
 * Audited replay's fail-closed order (a broken chain anywhere, then the first record that does
 * not decode, then the first failed audit), on logs built line by line.
 */
import * as Decision from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { benchPolicy, requestInput } from "./support/fixtures.js"

const policy = benchPolicy(4)
const input = (s: number): Input => requestInput(s, 4)

const honest = (s: number): Json.Json =>
  Either.getOrThrow(Audited.auditedRecord(policy, input(s), Kernel.prescribe(policy, input(s)), s))

/** An audited record whose decision was altered after its audit bundle was made. */
const forged = (s: number): Json.Json => {
  const decision = Kernel.prescribe(policy, input(s))
  const wire = new Map(Schema.encodeSync(Decision.Decision)(decision) as Json.JsonObject)
  wire.set("expected_utility_microunits", decision.expected_utility_microunits + 1n)
  const record = new Map(honest(s) as Json.JsonObject)
  record.set("decision", wire)
  return record
}

const key = new Uint8Array(32).fill(7)
const chain = Either.getOrThrow(Chain.make({ key }))

/** A log of these records; `breakAt` (1-based) gets a wrong entry hash. */
const log = (records: ReadonlyArray<Json.Json>, breakAt = 0): Uint8Array => {
  let text = ""
  let previous = Chain.GENESIS
  records.forEach((data, i) => {
    const next = Entry.seal(chain, BigInt(i + 1), previous, Either.getOrThrow(Entry.canonicalData(data)))
    const hash = i + 1 === breakAt ? "0".repeat(64) : next.sealed.entry_hash
    text += Entry.formatLine(BigInt(i + 1), previous, hash, Either.getOrThrow(Entry.canonicalData(data)))
    previous = hash
  })
  return new TextEncoder().encode(text)
}

const replay = (bytes: Uint8Array) => Audited.replayBytes(Stream.make(bytes), { chain }, policy)

describe("replayBytes", () => {
  it.effect("passes an honest log with one verdict per entry", () =>
    Effect.gen(function*() {
      const verdicts = yield* replay(log([honest(1), honest(2), honest(3)]))
      assert.deepStrictEqual(verdicts.map((v) => v.sequence), [1n, 2n, 3n])
    }))

  it.effect("a failed audit is reported only when every record decodes", () =>
    Effect.gen(function*() {
      const audit = yield* Effect.flip(replay(log([honest(1), forged(2), honest(3)])))
      assert.strictEqual(audit._tag, "WalAuditFailed")
      const parse = yield* Effect.flip(replay(log([honest(1), forged(2), 42, honest(4)])))
      assert.strictEqual(parse._tag, "WalParseError")
      if (parse._tag === "WalParseError") assert.strictEqual(parse.line, 3)
    }))

  it.effect("a broken chain after a failed audit and an undecodable record wins over both", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(replay(log([honest(1), forged(2), 42, honest(4), honest(5)], 5)))
      assert.strictEqual(error._tag, "WalChainBroken")
    }))
})
