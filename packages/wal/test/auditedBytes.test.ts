/**
 * Audited records decoded from a verified line's data bytes (src/internal/auditedBytes.ts) are
 * exactly the exact path's: on any record text — written by the writers, or mutated (bytes
 * flipped, deleted or inserted, integers at and past their width's edges, non-canonical numbers,
 * repeated, extra and reordered members, escapes, other metadata) — the byte decoder either
 * declines, or gives the value the Schema decodes from the parsed text, which then is canonical
 * (printing the parse gives the same text) with no repeated member. And audited replay gives
 * the same verdicts, or the same error (tag, message, column), with and without the reader's
 * fast path, on logs of such records.
 */
import type { Decision } from "@calybris/core/Decision"
import type { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Arb from "@calybris/testing/Arbitraries"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AuditedBytes from "../src/internal/auditedBytes.js"
import { fastPath } from "../src/internal/fastLine.js"
import { benchPolicy } from "./support/fixtures.js"

const encoder = new TextEncoder()
const encodeRecord = Schema.encodeSync(Audited.AuditedJson)
const decodeExact = Schema.decodeUnknownEither(Audited.AuditedJson)

const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 })
const digest = fc.oneof({ weight: 4, arbitrary: hex }, { weight: 1, arbitrary: fc.string() })

const audit = fc.record({
  policy_digest_hex: digest,
  input_digest_hex: digest,
  decision_digest_hex: digest,
  replay_valid: fc.boolean()
})

const metadata: fc.Arbitrary<Json.Json> = fc.oneof(
  { weight: 4, arbitrary: fc.string() },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(..."abc/-_0123456789 ") }) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean()) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 })
      .map((o): Json.Json => new Map(Object.entries(o)))
  }
)

/** A record's canonical text, as writers write it. */
const recordText: fc.Arbitrary<string> = fc.record({
  audit,
  input: Arb.input(),
  decision: Arb.decision,
  metadata
}).map((r) => Json.print(encodeRecord(r)))

const EDGES = [
  "0",
  "-0",
  "00",
  "01",
  "-1",
  "-01",
  "255",
  "65535",
  "65536",
  "4294967295",
  "4294967296",
  "9007199254740991",
  "9007199254740993",
  "999999999999999",
  "1000000000000000",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "-9223372036854775809",
  "18446744073709551615",
  "18446744073709551616",
  "123456789012345678901",
  "1.0",
  "1e3",
  "\"1\"",
  "true",
  "null"
]

const MEMBERS = [
  "audit",
  "policy_digest_hex",
  "replay_valid",
  "input",
  "request_sequence",
  "requested_model_id",
  "business_value_microunits",
  "risk_bps",
  "allowed_provider_mask",
  "decision",
  "action",
  "reason",
  "selected_model_index",
  "expected_utility_microunits",
  "catalog_epoch",
  "metadata",
  "extra"
]

/** Text edits: each applies where it can, else leaves the text as it is. */
const edit: fc.Arbitrary<(text: string) => string> = fc.oneof(
  // a byte replaced, deleted or inserted
  fc.tuple(fc.nat(), fc.constantFrom(..."0 19-\"\\,:{}[]aex.\u00e9")).map(([i, c]) => (t: string) => {
    const at = i % Math.max(1, t.length)
    return t.slice(0, at) + c + t.slice(at + 1)
  }),
  fc.nat().map((i) => (t: string) => {
    const at = i % Math.max(1, t.length)
    return t.slice(0, at) + t.slice(at + 1)
  }),
  fc.tuple(fc.nat(), fc.constantFrom(..."0 9-\"\\,}")).map(([i, c]) => (t: string) => {
    const at = i % Math.max(1, t.length)
    return t.slice(0, at) + c + t.slice(at)
  }),
  // the n-th integer replaced by an edge
  fc.tuple(fc.nat(), fc.constantFrom(...EDGES)).map(([n, value]) => (t: string) => {
    let k = 0
    const count = (t.match(/:-?\d+/g) ?? []).length
    const target = count === 0 ? -1 : n % count
    return t.replace(/:-?\d+/g, (m) => k++ === target ? `:${value}` : m)
  }),
  // a member repeated (with another value), an extra member, members swapped
  fc.tuple(fc.constantFrom(...MEMBERS), fc.constantFrom(...EDGES)).map(([name, value]) => (t: string) =>
    t.replace(new RegExp(`"${name}":`), `"${name}":${value},"${name}":`)
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...MEMBERS)).map(([n, name]) => (t: string) => {
    let k = 0
    const count = (t.match(/\{/g) ?? []).length
    return t.replace(/\{/g, (m) => k++ === n % count ? `{"${name}":1,` : m)
  }),
  fc.constantFrom(...MEMBERS).map((name) => (t: string) =>
    t.replace(new RegExp(`(,?"${name}":[^,{}]*)(,"[a-z_0-9]+":[^,{}]*)`), "$2$1").replace(/^\{,/, "{")
  ),
  // the metadata replaced
  fc.constantFrom("null", "\"a\\nb\"", "\"\\u0001\"", "\"\u00e9\"", "1", "{}", "[]", "\"\"").map((m) => (t: string) =>
    t.replace(/"metadata":.*\}$/, `"metadata":${m}}`)
  )
)

/** The text with each of its integer members set to each edge, one at a time. */
const edgeTexts = (text: string, edges: ReadonlyArray<string> = EDGES): Array<string> => {
  const out: Array<string> = []
  const members = text.match(/"[a-z_0-9]+":-?\d+/g) ?? []
  for (const m of members) {
    const name = m.slice(0, m.indexOf(":"))
    for (const value of edges) out.push(text.replace(m, `${name}:${value}`))
  }
  return out
}

const mutated: fc.Arbitrary<string> = fc.tuple(recordText, fc.array(edit, { minLength: 1, maxLength: 3 }))
  .map(([text, edits]) => edits.reduce((t, e) => e(t), text))

/** Whether the byte decoder is taken here: strings plain ASCII, metadata a plain string or null. */
const plain = (text: string): boolean => /^[\x20-\x7e]*$/.test(text) && !text.includes("\\")

/** The byte decoder declines, or agrees with the exact path; returns whether it accepted. */
const agree = (text: string): boolean => {
  const fast = AuditedBytes.decode(encoder.encode(text))
  if (fast === undefined) return false
  const parsed = Json.parse(text)
  assert.isTrue(Either.isRight(parsed), text)
  if (Either.isLeft(parsed)) return true
  assert.isFalse(Json.hadRepeatedKey(), text)
  assert.strictEqual(Json.print(parsed.right), text)
  const exact = decodeExact(parsed.right)
  assert.isTrue(Either.isRight(exact), text)
  if (Either.isRight(exact)) assert.deepStrictEqual(fast, exact.right)
  return true
}

describe("AuditedBytes.decode", () => {
  it("decodes every record in the writers' form (plain strings, string or null metadata) as the Schema does", () => {
    fc.assert(
      fc.property(recordText, (text) => {
        const metadataPlain = /"metadata":("[^"\\]*"|null)\}$/.test(text)
        const accepted = agree(text)
        if (plain(text) && metadataPlain) assert.isTrue(accepted, text)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 500 }
    )
  })

  it("declines, or agrees with the exact path, on mutated records", () => {
    fc.assert(
      fc.property(mutated, (text) => {
        agree(text)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 3000 }
    )
  })

  it("declines, or agrees with the exact path, with every integer member set to every edge", () => {
    for (const text of fc.sample(recordText, { seed: 3, numRuns: 3 })) {
      for (const t of edgeTexts(text)) agree(t)
    }
  })

  it("decodeAt reads a record inside a larger buffer up to its closing brace, whatever follows", () => {
    fc.assert(
      fc.property(
        fc.oneof(recordText, mutated),
        fc.string({ unit: fc.constantFrom(..."ab/"), maxLength: 3000 }),
        fc.string({ unit: fc.constantFrom(..."}\n{\"x1 "), maxLength: 8 }),
        (text, long, tail) => {
          const t = text.replace(/"metadata":"/, `"metadata":"${long}`)
          const bytes = encoder.encode(`{"data":${t}${tail}`)
          const alone = AuditedBytes.decode(encoder.encode(t))
          const end = AuditedBytes.decodeAt(bytes, 8, bytes.length)
          const value = AuditedBytes.takeDecoded()
          if (alone === undefined) {
            // declined alone: inside the buffer only when the record ends before the tail
            if (end >= 0) assert.notStrictEqual(8 + encoder.encode(t).length, end)
            return
          }
          assert.strictEqual(end, 8 + encoder.encode(t).length)
          assert.deepStrictEqual(value, alone)
          agree(t)
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  it("declines the non-canonical, the out of range and the unexpected", () => {
    const [[input, decision]] = fc.sample(fc.tuple(Arb.input(), Arb.decision), { seed: 1, numRuns: 1 }) as [
      [Input, Decision]
    ]
    const audit = { policy_digest_hex: "p", input_digest_hex: "i", decision_digest_hex: "d", replay_valid: true }
    const text = Json.print(encodeRecord({ audit, input, decision, metadata: "m" }))
    assert.isTrue(agree(text))
    const declined = [
      text.replace(/"risk_bps":\d+/, "\"risk_bps\":65536"),
      text.replace(/"input_tokens":\d+/, "\"input_tokens\":4294967296"),
      text.replace(/"budget_limit_microunits":\d+/, "\"budget_limit_microunits\":18446744073709551616"),
      text.replace(/"business_value_microunits":-?\d+/, "\"business_value_microunits\":-9223372036854775809"),
      text.replace(/"business_value_microunits":-?\d+/, "\"business_value_microunits\":-0"),
      text.replace(/"risk_bps":\d+/, "\"risk_bps\":01"),
      text.replace(/"risk_bps":\d+/, "\"risk_bps\":-1"),
      text.replace(/"action":"[A-Za-z]+"/, "\"action\":\"Foo\""),
      text.replace("\"metadata\":\"m\"", "\"metadata\":\"a\\nb\""),
      text.replace("\"metadata\":\"m\"", "\"metadata\":{}"),
      text.replace("\"p\"", "\"\\u0070\""),
      text.replace("{\"audit\"", "{\"extra\":1,\"audit\""),
      text.replace("}", ",\"replay_valid\":true}"),
      text + " ",
      text.slice(0, -1)
    ]
    for (const t of declined) {
      assert.notStrictEqual(t, text)
      assert.isUndefined(AuditedBytes.decode(encoder.encode(t)), t)
    }
    // the edges that are in range are accepted
    const edges = text
      .replace(/"budget_limit_microunits":\d+/, "\"budget_limit_microunits\":18446744073709551615")
      .replace(/"business_value_microunits":-?\d+/, "\"business_value_microunits\":-9223372036854775808")
      .replace(/"expected_utility_microunits":-?\d+/, "\"expected_utility_microunits\":9223372036854775807")
      .replace(/"risk_bps":\d+/, "\"risk_bps\":65535")
      .replace(/"input_tokens":\d+/, "\"input_tokens\":4294967295")
      .replace(/"policy_epoch":\d+/, "\"policy_epoch\":9007199254740993")
    assert.isTrue(agree(edges))
  })
})

// ---------------------------------------------------------------------------------------------
// audited replay with and without the reader's fast path

const policy = benchPolicy(4)
const chain = Either.getOrThrow(Chain.make({ key: new Uint8Array(32).fill(7) }))

/** A log of these data texts written as given (hashed over their canonical form when they parse). */
const rawLog = (dataTexts: ReadonlyArray<string>): Uint8Array => {
  let text = ""
  let previous = Chain.GENESIS
  dataTexts.forEach((raw, i) => {
    const parsed = Json.parse(raw)
    const canonical = Either.isRight(parsed) ? Json.print(parsed.right) : raw
    const next = Entry.seal(chain, BigInt(i + 1), previous, canonical)
    text += Entry.formatLine(BigInt(i + 1), previous, next.sealed.entry_hash, raw)
    previous = next.sealed.entry_hash
  })
  return encoder.encode(text)
}

const replay = (bytes: Uint8Array, fast: boolean) =>
  Effect.suspend(() => {
    fastPath.enabled = fast
    // the reader reads the switch when it is built (at the start of the replay)
    return Effect.either(Audited.replayBytes(Stream.make(bytes), { chain }, policy))
  }).pipe(Effect.ensuring(Effect.sync(() => {
    fastPath.enabled = true
  })))

describe("Audited.replayBytes: the byte decoder changes no verdict and no error", () => {
  it.effect("same verdicts or the same error with and without the fast path", () =>
    Effect.gen(function*() {
      const texts = fc.sample(
        fc.array(fc.oneof({ weight: 3, arbitrary: recordText }, { weight: 1, arbitrary: mutated }), {
          minLength: 1,
          maxLength: 6
        }),
        { numRuns: fc.readConfigureGlobal().numRuns ?? 200 }
      )
      for (const dataTexts of texts) {
        const bytes = rawLog(dataTexts)
        const withFast = yield* replay(bytes, true)
        const exact = yield* replay(bytes, false)
        assert.deepStrictEqual(withFast, exact, dataTexts.join("\n"))
      }
    }))

  it.effect("same verdict or the same error with every integer member set to every edge", () =>
    Effect.gen(function*() {
      const [text] = fc.sample(recordText, { seed: 4, numRuns: 1 })
      // (only canonical integers within u64 / i64 reach the byte decoder: the reader's fast path
      // leaves the others to the exact path, with or without it)
      for (const t of edgeTexts(text ?? "", EDGES.filter((e) => /^(0|-?[1-9]\d{0,18}|1\d{19})$/.test(e)))) {
        const bytes = rawLog([t])
        assert.deepStrictEqual(yield* replay(bytes, true), yield* replay(bytes, false), t)
      }
    }))
})
