/**
 * The long-line judge (`internal/longLine.ts`) against the exact one (`parseLine`, serde's
 * behaviour): the same final line read with a limit it exceeds (judged while scanned, not kept)
 * and with the default limit (parsed). The long judge may leave a line "too long" (what it does
 * not judge exactly: `repair` then removes nothing); otherwise it must say what the parser says —
 * above all, never "torn" (which `repair` removes) where the parser does not (a hostile review:
 * `{xxx…`, invalid UTF-8 and a complete entry with one byte changed, over 64 MiB, were "torn").
 */
import * as Reader from "@calybris/wal/Reader"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Stream from "effect/Stream"

type Verdict = { readonly tag: string; readonly category?: string; readonly reason?: string }

const judge = (bytes: Uint8Array, maxLineBytes: number | undefined, chunk: number): Verdict => {
  const chunks = Array.from(
    { length: Math.ceil(bytes.length / chunk) },
    (_, k) => bytes.subarray(k * chunk, (k + 1) * chunk)
  )
  const result = Effect.runSync(
    Effect.either(Stream.runDrain(Reader.entries(Stream.fromIterable(chunks), { chain: undefined, maxLineBytes })))
  )
  if (Either.isRight(result)) return { tag: "ok" }
  const e = result.left as unknown as { _tag: string; category?: string; reason?: string }
  return {
    tag: e._tag,
    ...(e.category === undefined ? {} : { category: e.category }),
    ...(e.reason === undefined ? {} : { reason: e.reason })
  }
}

const encoder = new TextEncoder()
const hash = "ab".repeat(32)

/** A line the writer could write, in the object form (members in any order, sometimes one more) or serde's sequence form. */
const entryText = fc.tuple(
  fc.json({ maxDepth: 3 }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom("object", "object", "object", "shuffled", "extra", "sequence"),
  fc.constantFrom("", " ", "\t")
).map(([data, sequence, form, space]) => {
  const members = [
    `"sequence":${space}${sequence}`,
    `"previous_hash":${space}"${hash}"`,
    `"entry_hash":${space}"${hash}"`,
    `"data":${space}${data}`
  ]
  switch (form) {
    case "shuffled":
      return `{${[members[3], members[1], members[0], members[2]].join(`,${space}`)}}`
    case "extra":
      return `{${members.join(",")},"zz":${space}${data}}`
    case "sequence":
      return `[${sequence},"${hash}","${hash}",${data}]`
    default:
      return `{${members.join(`,${space}`)}}`
  }
})

/** Bytes a crash, an editor or an attacker leaves: cut anywhere, a byte changed or added, a final CR. */
const damaged = fc.tuple(
  entryText,
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constantFrom("cut", "cut", "change", "insert", "cr", "cut+cr", "change+cut"),
  fc.integer({ min: 0, max: 255 }),
  fc.double({ min: 0, max: 1, noNaN: true })
).map(([text, at, how, byte, at2]) => {
  const bytes = Array.from(encoder.encode(text))
  const i = Math.floor(at * bytes.length)
  const j = Math.floor(at2 * bytes.length)
  switch (how) {
    case "cut":
      return Uint8Array.from(bytes.slice(0, i))
    case "change":
      bytes[i] = byte === 0x0a ? 0x0b : byte
      return Uint8Array.from(bytes)
    case "insert":
      bytes.splice(i, 0, byte === 0x0a ? 0x0d : byte)
      return Uint8Array.from(bytes)
    case "cr":
      return Uint8Array.from([...bytes, 0x0d])
    case "cut+cr":
      return Uint8Array.from([...bytes.slice(0, i), 0x0d])
    default:
      bytes[j] = byte === 0x0a ? 0x0b : byte
      return Uint8Array.from(bytes.slice(0, Math.max(i, 1)))
  }
})

describe("a final line judged while scanned (longer than the limit) says what the parser says, or only 'too long'", () => {
  it("never torn where the parser is not; the same category where it judges", () => {
    let judged = 0
    let total = 0
    fc.assert(
      fc.property(damaged, fc.integer({ min: 1, max: 64 }), (bytes, chunk) => {
        if (bytes.length < 2 || bytes.includes(0x0a)) return
        total++
        const exact = judge(bytes, undefined, 1 << 20)
        const long = judge(bytes, 1, chunk)
        const what = `${JSON.stringify(new TextDecoder().decode(bytes))}: exact ${JSON.stringify(exact)}, long ${
          JSON.stringify(long)
        }`
        if (long.tag === "WalLineTooLong") return
        judged++
        assert.strictEqual(long.tag, exact.tag, what)
        assert.strictEqual(long.category, exact.category, what)
        if (long.tag === "WalTornTail" && long.category === "Eof") assert.strictEqual(long.reason, exact.reason, what)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 4000 }
    )
    // most damaged lines are judged (a judge that said "too long" to everything would pass the rest)
    assert.isAbove(judged, total / 2, `${judged} of ${total} judged`)
  })

  it("the review's lines: junk after `{`, invalid UTF-8, a complete entry with its closing quote changed, a character cut or never one", () => {
    const pad = "a".repeat(5000)
    const cases: ReadonlyArray<readonly [Uint8Array, string]> = [
      [encoder.encode(`{${"x".repeat(5000)}`), "WalParseError"],
      [
        Uint8Array.from([...encoder.encode(`{"sequence":15,"previous_hash":"`), 0xff, 0xfe, ...encoder.encode(pad)]),
        "WalReadError"
      ],
      [
        encoder.encode(
          `{"sequence":3,"previous_hash":"${hash}","entry_hash":"${hash}","data":{"blob":"${pad}y,"n":3}}`
        ),
        "WalParseError"
      ],
      [
        encoder.encode(`{"sequence":3,"previous_hash":"${hash}","entry_hash":"${hash}","data":{"blob":"${pad}`),
        "WalTornTail"
      ],
      // (a review of the judge) the start of no character at the end — E0 80, ED A0, F0 80, F4 90 —
      // is corruption, not a cut character: the parser's side took them for cut
      ...[[0xe0, 0x80], [0xed, 0xa0], [0xf0, 0x80], [0xf4, 0x90]].map((end) =>
        [Uint8Array.from([...encoder.encode(`{"sequence":3,"data":"${pad}`), ...end]), "WalReadError"] as const
      ),
      [Uint8Array.from([...encoder.encode(`{"sequence":3,"data":"${pad}`), 0xe2, 0x82]), "WalTornTail"],
      // a character cut where a `\u` escape's hex digits go (a second review took it for torn: the
      // parser's EOF before it), or where no string is: no writer puts a non-ASCII byte there, so no
      // crash leaves it — corruption (a later review got a complete entry with its last byte changed
      // to a lead byte "repaired" away)
      [Uint8Array.from([...encoder.encode(`{"sequence":3,"data":"${pad}\\u00`), 0xe2, 0x82]), "WalReadError"],
      [Uint8Array.from([...encoder.encode(`{"sequence":3,"zz":"${pad}\\u `), 0xf0, 0x9f, 0x98]), "WalReadError"],
      [Uint8Array.from([...encoder.encode(`{"sequence":3,"data":{"blob":"${pad}"}`), 0xc3]), "WalReadError"],
      [Uint8Array.from([...encoder.encode(`{"sequence":3,"data":${pad.length}`), 0xc3]), "WalReadError"]
    ]
    for (const [bytes, tag] of cases) {
      assert.strictEqual(judge(bytes, 64, 1000).tag, tag, "long")
      assert.strictEqual(judge(bytes, undefined, 1000).tag, tag, "exact")
    }
  })
})
