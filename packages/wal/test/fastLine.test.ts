/**
 * The verifying reader's fast path ("fast accept, exact reject", src/internal/fastLine.ts)
 * changes no verdict: for writer lines and every kind of deviation from them (byte flips,
 * whitespace, reordered and repeated keys, non-canonical numbers / escapes / floats, wrong
 * hashes and sequences, CR, blank lines, any chunking), the reader with the fast path returns
 * exactly what the exact path alone returns. The data validator only accepts texts that are
 * valid JSON and already canonical.
 */
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import type { Entry } from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { fastPath, isCanonicalData, matchLine, Sequence } from "../src/internal/fastLine.js"

const keyed = Either.getOrThrow(Chain.make({ key: new Uint8Array(32).fill(7) }))
const unkeyed = Either.getOrThrow(Chain.make())

const encoder = new TextEncoder()
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)

// ---------------------------------------------------------------------------------------------
// Data texts: canonical ones, and spellings that are not (or are not JSON at all)

const NUMBERS = [
  "0",
  "-0",
  "00",
  "01",
  "-01",
  "1",
  "-1",
  "7",
  "1.0",
  "1.5",
  "1e3",
  "1E3",
  "1e+3",
  "-",
  "9007199254740991",
  "9007199254740993",
  "18446744073709551615",
  "18446744073709551616",
  "99999999999999999999",
  "100000000000000000000",
  "-9223372036854775808",
  "-9223372036854775809",
  "-18446744073709551615",
  "123456789012345678901234567890"
]

const STRING_PIECES = [
  "a",
  "key",
  " ",
  "/",
  "\\/",
  "\\u0061",
  "\\u001f",
  "\\u001F",
  "\\u0000",
  "\\u0008",
  "\\u000a",
  "\\u000b",
  "\\u0010",
  "\\u0020",
  "\\b",
  "\\t",
  "\\n",
  "\\f",
  "\\r",
  "\\\"",
  "\\\\",
  "\\x",
  "\\u12",
  "\\ud83d\\ude00",
  "\\ud800",
  "\u007f",
  "\u0001",
  "\t",
  "é",
  "😀",
  "~"
]

const LITERALS = ["true", "false", "null", "nul", "tru", "True"]

const WS = ["", "", "", "", "", "", " ", "\n", "\t", "\r"]

const ws = fc.constantFrom(...WS)

const stringText = fc.array(fc.constantFrom(...STRING_PIECES), { maxLength: 4 }).map((p) => `"${p.join("")}"`)

const KEYS = ["\"a\"", "\"b\"", "\"c\"", "\"\\u0061\"", "\"a\\n\"", "\"\""]

/** JSON-ish texts from these pieces (objects with these keys or strings, `ws` between tokens). */
const jsonish = (
  ws: fc.Arbitrary<string>,
  strings: fc.Arbitrary<string>,
  numbers: ReadonlyArray<string>,
  keys: ReadonlyArray<string>
) =>
  fc.letrec<{ text: string; array: string; object: string }>((tie) => ({
    text: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom(...numbers),
      fc.constantFrom(...LITERALS),
      strings,
      tie("array"),
      tie("object")
    ),
    array: fc.tuple(ws, fc.array(fc.tuple(tie("text"), ws), { maxLength: 4 }), fc.boolean()).map(
      ([w, items, trailingComma]) =>
        `[${w}${items.map(([t, w2]) => t + w2).join(",")}${trailingComma && items.length > 0 ? "," : ""}]`
    ),
    object: fc.tuple(
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...keys), strings), ws, tie("text")), { maxLength: 4 }),
      ws
    ).map(([members, w]) => `{${w}${members.map(([k, w2, v]) => `${k}${w2}:${v}`).join(",")}}`)
  })).text

/** JSON-ish texts, mostly canonical, with non-canonical and invalid spellings mixed in. */
const anyText = jsonish(ws, stringText, NUMBERS, KEYS)

/** Compact texts with canonical strings: repeated keys and number spellings are what varies. */
const nearCanonical = jsonish(
  fc.constant(""),
  fc.constantFrom("\"a\"", "\"b\"", "\"k\\n\"", "\"\\u001f\""),
  ["0", "1", "-1", "-0", "01", "1.0", "1e2", "18446744073709551615", "18446744073709551616"],
  ["\"a\"", "\"b\"", "\"a\\n\""]
)

const dataText = fc.oneof(anyText, nearCanonical)

/** Canonical data (what a writer writes), from arbitrary JSON values. */
const canonicalText = fc.oneof(
  fc.json().map((t) => Json.print(Either.getOrThrow(Json.parse(t)))),
  dataText.map((t) => Either.match(Json.parse(t), { onLeft: () => "null", onRight: (v) => Json.print(v) }))
)

// ---------------------------------------------------------------------------------------------
// Lines and logs

interface LineSpec {
  readonly data: string
  /** how the entry hash is made: over the raw text, over the canonical text, or garbage */
  readonly hash: "raw" | "canonical" | "wrong"
  /** the sequence written: the right one, or off by something */
  readonly sequence: "right" | "next" | "same" | "leading-zero" | "float"
  /** the previous hash written: the right one, or another */
  readonly previous: "right" | "wrong" | "upper"
  /** envelope spelling */
  readonly shape: "writer" | "spaced" | "reordered" | "duplicate" | "extra" | "escaped"
  readonly ending: "\n" | "\r\n" | "\n\n" | "\n \n" | "\r\r\n"
}

const lineSpec: fc.Arbitrary<LineSpec> = fc.record({
  data: fc.oneof({ weight: 3, arbitrary: canonicalText }, { weight: 2, arbitrary: dataText }),
  hash: fc.constantFrom("raw", "raw", "raw", "canonical", "wrong"),
  sequence: fc.constantFrom("right", "right", "right", "right", "right", "next", "same", "leading-zero", "float"),
  previous: fc.constantFrom("right", "right", "right", "right", "wrong", "upper"),
  shape: fc.constantFrom(
    "writer",
    "writer",
    "writer",
    "writer",
    "spaced",
    "reordered",
    "duplicate",
    "extra",
    "escaped"
  ),
  ending: fc.constantFrom("\n", "\n", "\n", "\n", "\r\n", "\n\n", "\n \n", "\r\r\n")
})

const hashOf = (chain: Chain.Chain, previous: string, spec: LineSpec): string => {
  if (spec.hash === "wrong") return "0".repeat(64)
  if (spec.hash === "raw") return chain.link(previous, spec.data)
  return Either.match(Json.parse(spec.data), {
    onLeft: () => chain.link(previous, spec.data),
    onRight: (v) => chain.link(previous, Json.print(v))
  })
}

/** A log from line specs: each line links to the previous line's written hash. */
const buildLog = (chain: Chain.Chain, specs: ReadonlyArray<LineSpec>): string => {
  let previous = Chain.GENESIS
  let out = ""
  specs.forEach((spec, i) => {
    const n = BigInt(i + 1)
    const sequence = spec.sequence === "right"
      ? `${n}`
      : spec.sequence === "next"
      ? `${n + 1n}`
      : spec.sequence === "same"
      ? `${n - 1n}`
      : spec.sequence === "leading-zero"
      ? `0${n}`
      : `${n}.0`
    const prevText = spec.previous === "right"
      ? previous
      : spec.previous === "upper"
      ? previous.toUpperCase()
      : "f".repeat(64)
    const hash = hashOf(chain, previous, spec)
    const p = `"${prevText}"`
    const h = `"${hash}"`
    let line: string
    switch (spec.shape) {
      case "writer":
        line = `{"sequence":${sequence},"previous_hash":${p},"entry_hash":${h},"data":${spec.data}}`
        break
      case "spaced":
        line = `{ "sequence": ${sequence}, "previous_hash": ${p}, "entry_hash": ${h}, "data": ${spec.data} } `
        break
      case "reordered":
        line = `{"previous_hash":${p},"sequence":${sequence},"entry_hash":${h},"data":${spec.data}}`
        break
      case "duplicate":
        line = `{"sequence":${sequence},"previous_hash":${p},"entry_hash":${h},"data":${spec.data},"data":1}`
        break
      case "extra":
        line = `{"sequence":${sequence},"previous_hash":${p},"entry_hash":${h},"data":${spec.data},"x":1}`
        break
      case "escaped":
        line = `{"sequence":${sequence},"previous_hash":${p},"entry_hash":"\\u00${hash.charCodeAt(0).toString(16)}${
          hash.slice(1)
        }","data":${spec.data}}`
        break
    }
    out += line + spec.ending
    previous = hash
  })
  return out
}

type Outcome = Either.Either<Reader.Verified, unknown>

/** The reader over `bytes` cut at `cuts`, with or without the fast path. */
const run = (
  bytes: Uint8Array,
  chain: Chain.Chain,
  cuts: ReadonlyArray<number>,
  fast: boolean,
  maxLineBytes?: number
): Outcome => {
  const before = fastPath.enabled
  fastPath.enabled = fast
  try {
    const reader = new Reader.LineReader({ chain, maxLineBytes }, false)
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
    let at = 0
    for (const point of [...points, bytes.length]) {
      const pushed = reader.push(bytes.subarray(at, point))
      if (Either.isLeft(pushed)) return Either.left(pushed.left)
      at = point
    }
    return Either.map(reader.end(), (r) => r.verified)
  } finally {
    fastPath.enabled = before
  }
}

/** Comparable form: the verified totals, or the error's tag and every field. */
const normalise = (outcome: Outcome): unknown =>
  Either.match(outcome, {
    onRight: (v) => ({ ok: { ...v } }),
    onLeft: (e) => ({ error: e instanceof Error ? { tag: (e as { _tag?: unknown })._tag, ...e } : e })
  })

/**
 * The reader collecting entries over `bytes` cut at `cuts`, with or without the fast path: every
 * entry (all its fields, `data` printed and compared as a value, bigints included), then the
 * totals or the error.
 */
const collect = (
  bytes: Uint8Array,
  chain: Chain.Chain,
  cuts: ReadonlyArray<number>,
  fast: boolean,
  maxLineBytes?: number
): unknown => {
  const before = fastPath.enabled
  fastPath.enabled = fast
  try {
    const reader = new Reader.LineReader({ chain, maxLineBytes })
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
    const entries: Array<unknown> = []
    const keep = (done: ReadonlyArray<Entry>) => {
      for (const e of done) entries.push({ ...e, data: e.data, printed: Json.print(e.data) })
    }
    let at = 0
    for (const point of [...points, bytes.length]) {
      const pushed = reader.push(bytes.subarray(at, point))
      if (Either.isLeft(pushed)) {
        keep(reader.takePartial())
        return { entries, end: normalise(Either.left(pushed.left)) }
      }
      keep(pushed.right)
      at = point
    }
    const end = reader.end()
    if (Either.isLeft(end)) keep(reader.takePartial())
    else keep(end.right.entries)
    return { entries, end: normalise(Either.map(end, (r) => r.verified)) }
  } finally {
    fastPath.enabled = before
  }
}

const same = (bytes: Uint8Array, chain: Chain.Chain, cuts: ReadonlyArray<number>, maxLineBytes?: number) => {
  const exact = run(bytes, chain, cuts, false, maxLineBytes)
  const fast = run(bytes, chain, cuts, true, maxLineBytes)
  assert.deepStrictEqual(normalise(fast), normalise(exact))
  // collecting entries: the fast path's entries (read from the line's bytes) are the exact path's
  assert.deepStrictEqual(
    collect(bytes, chain, cuts, true, maxLineBytes),
    collect(bytes, chain, cuts, false, maxLineBytes)
  )
  // and the chunking changes nothing either (a line completed across chunks is read apart)
  assert.deepStrictEqual(normalise(run(bytes, chain, [], false, maxLineBytes)), normalise(exact))
  return fast
}

const cutsArb = fc.array(fc.nat(), { maxLength: 4 })
const chainArb = fc.constantFrom(keyed, unkeyed)

describe("fast path: the reader's verdict is the exact path's", () => {
  it("writer logs (all canonical): the same totals, and the fast path accepts them", () => {
    fc.assert(
      fc.property(fc.array(canonicalText, { minLength: 1, maxLength: 8 }), chainArb, cutsArb, (texts, chain, cuts) => {
        const specs = texts.map((data): LineSpec => ({
          data,
          hash: "raw",
          sequence: "right",
          previous: "right",
          shape: "writer",
          ending: "\n"
        }))
        const bytes = encoder.encode(buildLog(chain, specs))
        assert.isTrue(Either.isRight(same(bytes, chain, cuts)))
      })
    )
  })

  it("lines with deviations of every kind, any chunking", () => {
    fc.assert(
      fc.property(fc.array(lineSpec, { minLength: 1, maxLength: 8 }), chainArb, cutsArb, (specs, chain, cuts) => {
        same(encoder.encode(buildLog(chain, specs)), chain, cuts)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 400 }
    )
  })

  it("writer-shaped lines whose data is any spelling, hashed raw or canonical", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(dataText, fc.constantFrom<LineSpec["hash"]>("raw", "canonical")), {
          minLength: 1,
          maxLength: 6
        }),
        chainArb,
        cutsArb,
        (lines, chain, cuts) => {
          const specs = lines.map(([data, hash]): LineSpec => ({
            data,
            hash,
            sequence: "right",
            previous: "right",
            shape: "writer",
            ending: "\n"
          }))
          same(encoder.encode(buildLog(chain, specs)), chain, cuts)
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 3000 }
    )
  })

  it("byte flips, insertions, deletions and truncations of writer logs", () => {
    fc.assert(
      fc.property(
        fc.array(canonicalText, { minLength: 1, maxLength: 5 }),
        chainArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "delete")), {
          minLength: 1,
          maxLength: 3
        }),
        fc.nat(),
        cutsArb,
        (texts, chain, edits, cut, cuts) => {
          const specs = texts.map((data): LineSpec => ({
            data,
            hash: "raw",
            sequence: "right",
            previous: "right",
            shape: "writer",
            ending: "\n"
          }))
          const bytes = Array.from(encoder.encode(buildLog(chain, specs)))
          for (const [at, byte, kind] of edits) {
            const i = at % (bytes.length + 1)
            if (kind === "set") bytes[i % bytes.length] = byte
            else if (kind === "insert") bytes.splice(i, 0, byte)
            else bytes.splice(i % bytes.length, 1)
          }
          const mutated = Uint8Array.from(bytes)
          same(mutated, chain, cuts)
          same(mutated.subarray(0, cut % (mutated.length + 1)), chain, cuts)
          same(mutated, chain, cuts, 200)
        }
      ),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 400 }
    )
  })

  it("deep nesting around the limits (64 here, 126 in the exact path)", () => {
    for (const depth of [1, 63, 64, 65, 125, 126, 127, 200]) {
      for (const chain of [keyed, unkeyed]) {
        const texts = [
          "[".repeat(depth) + "]".repeat(depth),
          "{\"a\":".repeat(depth) + "1" + "}".repeat(depth),
          "[{\"a\":".repeat(depth) + "[]" + "}]".repeat(depth)
        ]
        for (const data of texts) {
          const specs = [data, "1", data].map((d): LineSpec => ({
            data: d,
            hash: "raw",
            sequence: "right",
            previous: "right",
            shape: "writer",
            ending: "\n"
          }))
          same(encoder.encode(buildLog(chain, specs)), chain, [])
        }
      }
    }
  })

  it("the conformance-like cases: CR, blank lines, torn tail, wrong key, sequence gap", () => {
    const specs = ["{\"a\":1}", "[1,2,3]", "\"x\"", "18446744073709551615", "-9223372036854775808", "{}"].map((
      data
    ): LineSpec => ({ data, hash: "raw", sequence: "right", previous: "right", shape: "writer", ending: "\n" }))
    const log = buildLog(keyed, specs)
    const variants = [
      log,
      log.replaceAll("\n", "\r\n"),
      log.replaceAll("\n", "\n\n"),
      log.replaceAll("\n", "\n \u00a0\n"),
      log.slice(0, -1),
      log.slice(0, -5),
      log.replace("\"sequence\":3", "\"sequence\":4"),
      log.replace("\"sequence\":3", "\"sequence\":03"),
      log + "\n\n",
      "\ufeff" + log
    ]
    for (const variant of variants) {
      for (const chain of [keyed, unkeyed]) {
        same(encoder.encode(variant), chain, [])
        same(encoder.encode(variant), chain, [7, 300, 301])
      }
    }
  })
})

describe("fast path: the data validator accepts only canonical JSON", () => {
  const accepts = (text: string): boolean => {
    const bytes = ascii(text)
    return isCanonicalData(bytes, 0, bytes.length)
  }

  it("whatever it accepts parses and prints back byte for byte", () => {
    fc.assert(
      fc.property(fc.oneof(dataText, canonicalText, fc.json()), (text) => {
        // only ASCII can be accepted (the validator works on the line's bytes)
        if (!accepts(text)) return
        const parsed = Json.parse(text)
        assert.isTrue(Either.isRight(parsed), text)
        if (Either.isRight(parsed)) assert.strictEqual(Json.print(parsed.right), text)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })

  it("canonical ASCII texts of bounded depth are accepted", () => {
    fc.assert(
      fc.property(canonicalText, (text) => {
        if (!/^[\u0020-\u007e]*$/.test(text)) return
        if (/\d[.eE]/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, "\"\""))) return
        assert.isTrue(accepts(text), text)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 1000 }
    )
  })

  it("refuses what is not canonical or not sure", () => {
    for (
      const text of [
        "",
        " 1",
        "1 ",
        "-0",
        "01",
        "1.0",
        "1e3",
        "18446744073709551616",
        "-9223372036854775809",
        "\"\\/\"",
        "\"\\u0061\"",
        "\"\\u001F\"",
        "\"\\u000a\"",
        "\"\u007f\"",
        "\"\t\"",
        "{\"a\":1,\"a\":2}",
        "{\"\":1,\"\":2}",
        "{\"\":1,\"\":1}",
        "{\"\":0,\"a\":1,\"\":0}",
        "{\"a\":1 }",
        "[1,]",
        "{\"a\":1,}",
        "nul",
        "[".repeat(65) + "]".repeat(65)
      ]
    ) assert.isFalse(accepts(text), text)
    for (
      const text of [
        "0",
        "-1",
        "18446744073709551615",
        "-9223372036854775808",
        "\"\\u001f\\b\\t\\n\\f\\r\\\"\\\\\"",
        "{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3}]}",
        "[".repeat(64) + "]".repeat(64),
        "{}",
        "[]",
        "{\"\":1}",
        "[{\"\":1},{\"\":1}]",
        "{\"\":{\"\":1}}",
        "true"
      ]
    ) assert.isTrue(accepts(text), text)
  })

  it("matchLine needs the exact envelope, sequence and previous hash, then LF or CR LF", () => {
    const line = `{"sequence":12,"previous_hash":"genesis","entry_hash":"${"a".repeat(64)}","data":{"x":1}}`
    const at = (text: string, expected: string, previous: string): number => {
      const bytes = ascii(text)
      const bytes2 = matchLine(bytes, 0, bytes.lastIndexOf(10), expected, previous, ascii(previous))
      const result = matchLine(bytes, 0, bytes.lastIndexOf(10), expected, previous, undefined)
      assert.strictEqual(bytes2, result)
      return result
    }
    assert.strictEqual(at(line + "\n", "12", "genesis"), line.length - 1)
    assert.strictEqual(at(line + "\r\n", "12", "genesis"), line.length - 1)
    assert.strictEqual(at(line + "\r\r\n", "12", "genesis"), -1)
    assert.strictEqual(at(line + " \n", "12", "genesis"), -1)
    assert.strictEqual(at(line + "\n", "1", "genesis"), -1)
    assert.strictEqual(at(line + "\n", "120", "genesis"), -1)
    assert.strictEqual(at(line + "\n", "12", "genesiS"), -1)
    assert.strictEqual(at(line.slice(0, -1) + "\n}\n", "12", "genesis"), -1)
  })
})

describe("fast path: the expected sequence's digits, incremented in place", () => {
  it("spell the value's decimal and give the value, around 2^53, across a carry and in any u64", () => {
    const safe = BigInt(Number.MAX_SAFE_INTEGER)
    const start = fc.oneof(
      fc.bigInt({ min: safe - 300n, max: safe + 5n }),
      fc.bigInt({ min: 1n, max: 2000n }),
      fc.bigInt({ min: 1n, max: 18446744073709551615n }),
      fc.constantFrom(9n, 99n, 999999n, 9999999999999999n, 99999999999999999999n)
    )
    fc.assert(
      fc.property(start, fc.nat({ max: 400 }), (from, steps) => {
        const sequence = new Sequence(from)
        for (let k = 0n; k <= BigInt(steps); k++) {
          const value = from + k
          assert.strictEqual(sequence.value, value)
          assert.strictEqual(String.fromCharCode(...sequence.digits.subarray(0, sequence.length)), value.toString())
          sequence.next()
        }
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
  })
})
