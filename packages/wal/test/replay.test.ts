/**
 * Audited replay's fail-closed order (a broken chain anywhere, then the first record that does
 * not decode, then the first failed audit), on logs built line by line.
 */
import * as Decision from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { benchPolicy, requestInput } from "./support/fixtures.js"

const policy = benchPolicy(4)
const input = (s: number): Input => requestInput(s, 4)

const honest = (s: number): Json.Json =>
  Either.getOrThrow(Audited.record(policy, input(s), Kernel.prescribe(policy, input(s)), s))

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

/** A log of these data texts written as given (the hash covers their canonical form, as readers compute it). */
const rawLog = (dataTexts: ReadonlyArray<string>): { readonly bytes: Uint8Array; readonly lines: Array<string> } => {
  const lines: Array<string> = []
  let previous = Chain.GENESIS
  dataTexts.forEach((raw, i) => {
    const canonical = Json.print(Either.getOrThrow(Json.parse(raw)))
    const next = Entry.seal(chain, BigInt(i + 1), previous, canonical)
    lines.push(Entry.formatLine(BigInt(i + 1), previous, next.sealed.entry_hash, raw).slice(0, -1))
    previous = next.sealed.entry_hash
  })
  return { bytes: new TextEncoder().encode(lines.map((l) => l + "\n").join("")), lines }
}

/** serde's column (1-based UTF-8 byte count) of the byte just after `needle` in `line`. */
const after = (line: string, needle: string, from = 0): number => {
  const at = line.indexOf(needle, from)
  if (at < 0) throw new Error(`${needle} not in line`)
  return Buffer.byteLength(line.slice(0, at + needle.length))
}

const honestText = (s: number): string => Json.print(honest(s))

describe("replayBytes: a record that does not decode (serde's typed decoding of the line)", () => {
  const verdict = (dataTexts: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const { bytes, lines } = rawLog(dataTexts)
      const error = yield* Effect.flip(replay(bytes))
      assert.strictEqual(error._tag, "WalParseError")
      if (error._tag !== "WalParseError") throw new Error("unreachable")
      return { error, line: lines[error.line - 1] ?? "" }
    })

  it.effect("missing field: the message of serde and the column just past the record's `}`", () =>
    Effect.gen(function*() {
      const record = honestText(2).replace(/^\{"audit":\{[^}]*\},/, "{")
      const { error, line } = yield* verdict([honestText(1), record])
      assert.strictEqual(error.line, 2)
      assert.strictEqual(error.category, "Data")
      assert.strictEqual(error.reason, "missing field `audit`")
      // the record is the entry's last member: its `}` is the line's last but one byte
      assert.strictEqual(error.column, Buffer.byteLength(line) - 1)
    }))

  it.effect("unknown variant: serde's list of variants, the column just past the string", () =>
    Effect.gen(function*() {
      const record = honestText(1).replace(/"action":"[A-Za-z]+"/, "\"action\":\"Foo\"")
      const { error, line } = yield* verdict([record])
      assert.strictEqual(
        error.reason,
        "unknown variant `Foo`, expected one of `ExecuteRequested`, `Substitute`, `Reject`"
      )
      assert.strictEqual(error.column, after(line, "\"action\":\"Foo\""))
    }))

  it.effect("an integer out of range and a value of the wrong type name the Rust type", () =>
    Effect.gen(function*() {
      const big = honestText(1).replace(/"risk_bps":\d+/, "\"risk_bps\":70000")
      const a = yield* verdict([big])
      assert.strictEqual(a.error.reason, "invalid value: integer `70000`, expected u16")
      assert.strictEqual(a.error.column, after(a.line, "\"risk_bps\":70000"))
      const text = honestText(1).replace(/"input":\{"request_sequence":\d+/, "\"input\":{\"request_sequence\":\"x\"")
      const b = yield* verdict([text])
      assert.strictEqual(b.error.reason, "invalid type: string \"x\", expected u64")
      assert.strictEqual(b.error.column, after(b.line, "\"request_sequence\":\"x\""))
      const negative = honestText(1).replace(/"input_tokens":\d+/, "\"input_tokens\":-1")
      const c = yield* verdict([negative])
      assert.strictEqual(c.error.reason, "invalid value: integer `-1`, expected u32")
      const bool = honestText(1).replace(/"replay_valid":(true|false)/, "\"replay_valid\":1")
      const d = yield* verdict([bool])
      assert.strictEqual(d.error.reason, "invalid type: integer `1`, expected a boolean")
      const struct = honestText(1).replace(/"decision":\{[^}]*\}/, "\"decision\":[]")
      const e = yield* verdict([struct])
      assert.strictEqual(e.error.reason, "invalid length 0, expected struct KernelDecision with 13 elements")
      assert.strictEqual(e.error.column, after(e.line, "\"decision\":[]"))
    }))

  it.effect("a repeated member of the record is serde's duplicate field (the untyped data keeps the last)", () =>
    Effect.gen(function*() {
      const record = honestText(1).replace("\"request_sequence\":", "\"risk_bps\":1,\"request_sequence\":")
      const { error, line } = yield* verdict([record])
      assert.strictEqual(error.reason, "duplicate field `risk_bps`")
      // just past the second key (serde stops there, before its value)
      const first = line.indexOf("\"risk_bps\"")
      assert.strictEqual(error.column, after(line, "\"risk_bps\"", first + 1))
      const top = honestText(1).replace(/^\{/, "{\"metadata\":0,")
      const m = yield* verdict([top])
      assert.strictEqual(m.error.reason, "duplicate field `metadata`")
    }))

  it.effect("a record written differently but decoding the same passes; unknown members are ignored", () =>
    Effect.gen(function*() {
      const spaced = honestText(1).replace(/,/g, " , ").replace(/^\{/, "{\"extra\":[1,{\"a\":2}], ")
      const verdicts = yield* replay(rawLog([spaced, honestText(2)]).bytes)
      assert.deepStrictEqual(verdicts.map((v) => v.sequence), [1n, 2n])
    }))
})

describe("Wal.readRecords decodes a record as the reference does", () => {
  const read = (bytes: Uint8Array) =>
    Wal.readRecords(Audited.AuditedJson).pipe(Stream.runCollect, Effect.provide(Wal.layerMemory({ key }, bytes)))

  it.effect("a repeated field of the record is an error (the untyped data would keep the last)", () =>
    Effect.gen(function*() {
      const ok = yield* read(rawLog([honestText(1), honestText(2).replace(/,/g, ", ")]).bytes)
      assert.strictEqual(Chunk.size(ok), 2)
      const record = honestText(2).replace(/^\{/, "{\"metadata\":7,")
      const error = yield* Effect.flip(read(rawLog([honestText(1), record]).bytes))
      assert.strictEqual(error._tag, "WalRecordError")
      if (error._tag !== "WalRecordError") return
      assert.strictEqual(error.sequence, 2n)
      assert.match(error.reason, /^duplicate field `metadata` at line 2 column \d+$/)
    }))
})
