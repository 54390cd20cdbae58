/**
 * The reader: the canonical fast path (the raw `data` text is hashed when it is already what
 * the printer writes) is byte-identical to printing, whatever the spelling; the scanner that
 * decides it validates exactly like the parser; and the line rules of SPEC §5 (blank lines,
 * CRLF, torn tails, invalid UTF-8).
 */
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import type { WalVerifyError } from "@calybris/wal/WalError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"
import { parseLine } from "../src/internal/envelope.js"

// ---------------------------------------------------------------------------------------------
// Random values and random spellings of them

const stringArb = FastCheck.oneof(
  FastCheck.string({ maxLength: 8 }),
  FastCheck.string({
    unit: FastCheck.constantFrom(..."aA/\"\\\b\f\n\r\t\u0000\u001f\u007fé€😀 ", "\u2028"),
    maxLength: 8
  }),
  FastCheck.constantFrom("a", "b", "k", "")
)

const { json: jsonArb } = FastCheck.letrec<{ json: Json.Json }>((tie) => ({
  json: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.constant(null),
    FastCheck.boolean(),
    FastCheck.integer({ min: -1000, max: 1000 }),
    FastCheck.maxSafeInteger(),
    FastCheck.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    FastCheck.constantFrom(18446744073709551615n, -9223372036854775808n, 9007199254740992n),
    FastCheck.double({ noNaN: true, noDefaultInfinity: true }).map((d) => new Json.JsonFloat(d)),
    FastCheck.constantFrom(new Json.JsonFloat(-0), new Json.JsonFloat(100), new Json.JsonFloat(1e16)),
    stringArb,
    FastCheck.array(tie("json"), { maxLength: 4 }),
    FastCheck.array(FastCheck.tuple(stringArb, tie("json")), { maxLength: 4 }).map((entries) => new Map(entries))
  )
}))

/** A tiny deterministic PRNG, so that one FastCheck integer drives every spelling choice. */
const rng = (seed: number) => {
  let s = seed >>> 0 || 1
  return (n: number): number => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) % n
  }
}
type Rng = ReturnType<typeof rng>

const hex4 = (unit: number, upper: boolean): string => {
  const h = unit.toString(16).padStart(4, "0")
  return upper ? h.toUpperCase() : h
}

/** Any valid spelling of a string. */
const spellString = (s: string, r: Rng): string => {
  if (r(3) === 0) return Json.print(s)
  let out = "\""
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    const escapeAll = r(4) === 0
    if (escapeAll || c < 0x20 || ch === "\"" || ch === "\\") {
      if (!escapeAll && r(2) === 0) {
        out += Json.print(ch).slice(1, -1)
      } else {
        for (let i = 0; i < ch.length; i++) out += "\\u" + hex4(ch.charCodeAt(i), r(2) === 0)
      }
    } else if (ch === "/" && r(2) === 0) {
      out += "\\/"
    } else {
      out += ch
    }
  }
  return out + "\""
}

/** Spellings of a number literal (some of them change its value or its kind: that is fine). */
const spellNumber = (text: string, r: Rng): string => {
  switch (r(6)) {
    case 0:
      return text.includes(".") || text.includes("e") ? text : text + ".0"
    case 1:
      return text.replace("e", "E")
    case 2:
      return text.includes("e") ? text : text + "e0"
    case 3:
      return text === "0" ? "-0" : text.includes(".") && !text.includes("e") ? text + "0" : text
    case 4:
      return text.includes("e") ? text.replace("e+", "e") : text + "E+00"
    default:
      return text
  }
}

const WS = [" ", "\t", "\r", "\n", "  \n\t"]

/** A random spelling of a value: whitespace, escapes, number forms, repeated keys. */
const spell = (value: Json.Json, r: Rng, ws: ReadonlyArray<string> = WS): string => {
  const w = () => (r(3) === 0 ? ws[r(ws.length)] ?? "" : "")
  if (typeof value === "string") return spellString(value, r)
  if (value === null || typeof value === "boolean") return Json.print(value)
  if (typeof value === "number" || typeof value === "bigint" || value instanceof Json.JsonFloat) {
    return spellNumber(Json.print(value), r)
  }
  if (Json.isArray(value)) {
    return "[" + w() + value.map((v) => spell(v, r, ws) + w()).join("," + w()) + "]"
  }
  const members: Array<string> = []
  for (const [k, v] of value) {
    // a repeated key: an earlier member with another value, or a later one
    if (r(6) === 0) members.push(spellString(k, r) + w() + ":" + w() + spell(r(2) === 0 ? 1 : "dup", r, ws))
    members.push(spellString(k, r) + w() + ":" + w() + spell(v, r, ws))
    if (r(8) === 0) members.push(spellString(k, r) + ":" + spell(v, r, ws))
  }
  return "{" + w() + members.map((m) => m + w()).join("," + w()) + "}"
}

const parseOk = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))

const HEAD = `{"sequence":1,"previous_hash":"p","entry_hash":"e","data":`

/** The data text the reader hashes for `text` (verification only: nothing is built). */
const fastText = (text: string): string | undefined =>
  Either.getOrThrow(parseLine(HEAD + text + "}", { value: false, text: true })).dataText

const C = new Json.Cursor()

/** The scanner's verdict: the end index and the canonical flag, or the error. */
const scan = (text: string): string => {
  C.begin(text)
  try {
    if (!C.scanValue(Json.MAX_DEPTH)) {
      const e = C.error()
      return `${e.category}: ${e.message} @ ${e.line}:${e.column}`
    }
    return `ok ${C.position()}`
  } finally {
    C.release()
  }
}

/** The parser's verdict in the same form. */
const read = (text: string): string => {
  C.begin(text)
  try {
    if (C.readValue(Json.MAX_DEPTH) === undefined) {
      const e = C.error()
      return `${e.category}: ${e.message} @ ${e.line}:${e.column}`
    }
    return `ok ${C.position()}`
  } finally {
    C.release()
  }
}

const isCanonical = (text: string): boolean => {
  C.begin(text)
  try {
    return C.scanValue(Json.MAX_DEPTH) && C.canonical()
  } finally {
    C.release()
  }
}

// ---------------------------------------------------------------------------------------------

describe("canonical fast path", () => {
  it("the hashed text is print(parse(text)) for every spelling", () => {
    FastCheck.assert(
      FastCheck.property(jsonArb, FastCheck.integer(), (value, seed) => {
        const text = spell(value, rng(seed))
        const expected = Json.print(parseOk(text))
        expect(fastText(text)).toBe(expected)
        const both = Either.getOrThrow(parseLine(HEAD + text + "}", { value: true, text: true }))
        expect(both.dataText).toBe(expected)
        expect(Json.print(both.data ?? null)).toBe(expected)
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 4000 }
    )
  })

  it("the raw text is used exactly when it is canonical", () => {
    FastCheck.assert(
      FastCheck.property(jsonArb, FastCheck.integer(), (value, seed) => {
        const printed = Json.print(value)
        expect(isCanonical(printed)).toBe(true)
        const text = spell(value, rng(seed))
        expect(isCanonical(text)).toBe(Json.print(parseOk(text)) === text)
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 4000 }
    )
  })

  it.each([
    ["{\"a\":1,\"a\":2}", "{\"a\":2}"],
    ["{\"\":0.0,\"\":0.0}", "{\"\":0.0}"],
    ["{\"\":1,\"a\":2,\"\":3}", "{\"\":3,\"a\":2}"],
    ["[{\"\":1},{\"\":1}]", "[{\"\":1},{\"\":1}]"],
    ["{\"a\":1,\"b\":{\"a\":1},\"a\":1}", "{\"a\":1,\"b\":{\"a\":1}}"],
    ["{\"a\":1,\"\\u0061\":2}", "{\"a\":2}"],
    ["[{\"k\":1},{\"k\":1}]", "[{\"k\":1},{\"k\":1}]"],
    ["{\"b\":{\"x\":1},\"x\":2}", "{\"b\":{\"x\":1},\"x\":2}"],
    ["\"\\u0041\\/\\u00e9\\u001F\"", "\"A/é\\u001f\""],
    ["\"\\u001f\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\u001f\\b\\f\\n\\r\\t\\\"\\\\\""],
    ["\"\\ud83d\\ude00\"", "\"😀\""],
    ["[1E2,1.0e2,-0,0,-0.0,1e16,1e+16,100.0,1.50]", "[100.0,100.0,-0.0,0,-0.0,1e+16,1e+16,100.0,1.5]"],
    [
      "[18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809]",
      "[18446744073709551615,1.8446744073709552e+19,-9223372036854775808,-9.223372036854776e+18]"
    ],
    [" {\"a\" : [ 1 ,2 ] } ", "{\"a\":[1,2]}"],
    [
      "[0.1,5e-324,1.7976931348623157e308,123456789012345678]",
      "[0.1,5e-324,1.7976931348623157e+308,123456789012345678]"
    ]
  ])("%s → %s", (text, expected) => {
    expect(Json.print(parseOk(text))).toBe(expected)
    expect(fastText(text)).toBe(expected)
    expect(isCanonical(text.trim())).toBe(text.trim() === expected)
  })

  it("objects with many keys (the Set path) still find repeats", () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`)
    const unique = `{${keys.join(",")}}`
    expect(isCanonical(unique)).toBe(true)
    const repeated = `{${keys.join(",")},"k3":0}`
    expect(isCanonical(repeated)).toBe(false)
    expect(fastText(repeated)).toBe(Json.print(parseOk(repeated)))
  })

  it("the scanner validates exactly like the parser (errors, positions, end)", () => {
    const noise = FastCheck.constantFrom(
      "",
      "\"",
      "\\",
      ",",
      "]",
      "}",
      "{",
      "[",
      ":",
      " ",
      "\u0000",
      "\ud800",
      "x",
      "-",
      "0",
      ".",
      "e",
      "\\u",
      "\\ud83d",
      "é"
    )
    FastCheck.assert(
      FastCheck.property(
        jsonArb,
        FastCheck.integer(),
        FastCheck.nat(),
        noise,
        FastCheck.nat(3),
        (value, seed, at, insert, cut) => {
          const text = spell(value, rng(seed))
          const i = at % (text.length + 1)
          const mutated = text.slice(0, i) + insert + text.slice(i + cut)
          expect(scan(mutated)).toBe(read(mutated))
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 6000 }
    )
    for (
      const text of ["", " ", "[", "{\"a\"", "1e999", "-", "01", "\"\\ud800\"", "[1,]", "{\"a\":1,}", "nul", "1.5e"]
    ) {
      expect(scan(text)).toBe(read(text))
    }
  })

  it("depth: the scanner has the parser's limit", () => {
    for (const levels of [126, 127, 128]) {
      const text = "[".repeat(levels) + "]".repeat(levels)
      expect(scan(text)).toBe(read(text))
      const objects = "{\"a\":".repeat(levels) + "0" + "}".repeat(levels)
      expect(scan(objects)).toBe(read(objects))
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Logs

const encoder = new TextEncoder()
const bytesOf = (...parts: Array<string | Uint8Array>): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p))
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.length
  }
  return out
}

const keyed = Either.getOrThrow(Chain.make({ key: encoder.encode("a key") }))

/** Lines (each with its LF) whose data are spelled as given but hashed canonically. */
const logLines = (datas: ReadonlyArray<string>, chain: Chain.Chain = keyed): Array<string> => {
  let previous = Chain.GENESIS
  return datas.map((text, k) => {
    const sealed = Entry.seal(chain, BigInt(k + 1), previous, Json.print(parseOk(text))).sealed
    previous = sealed.entry_hash
    return `{"sequence":${
      k + 1
    },"previous_hash":"${sealed.previous_hash}","entry_hash":"${sealed.entry_hash}","data":${text}}\n`
  })
}

const verify = (
  bytes: Uint8Array,
  chain: Chain.Chain | undefined = keyed
): Either.Either<Reader.Verified, WalVerifyError> => Reader.verifyBytes(bytes, { chain })

const entriesOf = (bytes: Uint8Array, chunk = 7): Array<Entry.Entry> => {
  const chunks: Array<Uint8Array> = []
  for (let o = 0; o < bytes.length; o += chunk) chunks.push(bytes.subarray(o, o + chunk))
  return Chunk.toArray(Effect.runSync(Stream.runCollect(Reader.entries(Stream.fromIterable(chunks), { chain: keyed }))))
}

const failure = (r: Either.Either<Reader.Verified, WalVerifyError>): WalVerifyError => {
  if (Either.isRight(r)) throw new Error("expected a failure")
  return r.left
}

describe("reader: verification with non-canonical spellings", () => {
  it("verify and entries accept any spelling of data hashed canonically, and agree", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(jsonArb, { minLength: 1, maxLength: 6 }),
        FastCheck.integer(),
        (values, seed) => {
          const r = rng(seed)
          // no LF inside a line
          const texts = values.map((v) => spell(v, r, [" ", "\t", "\r", " \t "]))
          const bytes = bytesOf(...logLines(texts))
          const verified = Either.getOrThrow(verify(bytes))
          expect(verified.count).toBe(BigInt(texts.length))
          const entries = entriesOf(bytes)
          expect(entries.map((e) => e.dataText)).toEqual(texts.map((t) => Json.print(parseOk(t))))
          expect(entries.map((e) => Json.print(e.data))).toEqual(texts.map((t) => Json.print(parseOk(t))))
          expect(entries[entries.length - 1]?.entry_hash).toBe(verified.lastHash)
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  it("a canonical spelling of different data does not verify", () => {
    const lines = logLines(["{\"a\":1}", "{\"b\":2}"])
    const forged = (lines[1] ?? "").replace("{\"b\":2}", "{\"b\":3}")
    const e = failure(verify(bytesOf(lines[0] ?? "", forged)))
    expect(e._tag).toBe("WalChainBroken")
  })
})

describe("reader: lines", () => {
  const lines = logLines(["{\"a\":1}", "[1,2]", "\"x\""])
  const [l1 = "", l2 = "", l3 = ""] = lines

  it("skips lines of Unicode White_Space only (U+0085, U+00A0, U+3000, VT, FF...)", () => {
    for (
      const blank of [
        "",
        " ",
        "\t",
        "\u000b",
        "\u000c",
        "\u0085",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u205f",
        " \u00a0\u3000 "
      ]
    ) {
      const bytes = bytesOf(l1, blank + "\n", l2, blank + "\r\n", l3)
      const verified = Either.getOrThrow(verify(bytes))
      expect(verified.count).toBe(3n)
      expect(entriesOf(bytes).map((e) => e.line)).toEqual([1, 3, 5])
    }
  })

  it("a BOM or NUL line is not blank: a parse error at its line", () => {
    for (const notBlank of ["\ufeff", "\u0000", " \ufeff "]) {
      const e = failure(verify(bytesOf(l1, notBlank + "\n", l2)))
      expect(e._tag).toBe("WalParseError")
      if (e._tag === "WalParseError") {
        expect(e.line).toBe(2)
        expect(e.category).toBe("Syntax")
        expect(e.reason).toBe("expected value")
      }
    }
  })

  it("CRLF line endings: the CR before each LF is dropped", () => {
    const crlf = bytesOf(...lines.map((l) => l.replace("\n", "\r\n")))
    expect(Either.getOrThrow(verify(crlf)).count).toBe(3n)
    expect(entriesOf(crlf).map((e) => e.dataText)).toEqual(["{\"a\":1}", "[1,2]", "\"x\""])
    // only one CR is dropped: a second one is JSON whitespace, which is fine after the entry
    expect(Either.getOrThrow(verify(bytesOf(l1.replace("\n", "\r\r\n"), l2))).count).toBe(2n)
  })

  it("a final line without its LF: a complete entry counts, an incomplete one is a torn tail", () => {
    const complete = Either.getOrThrow(verify(bytesOf(l1, l2, l3.slice(0, -1))))
    expect(complete.count).toBe(3n)
    expect(complete.missingNewline).toBe(true)
    expect(Either.getOrThrow(verify(bytesOf(l1, l2, l3))).missingNewline).toBe(false)
    const torn = failure(verify(bytesOf(l1, l2, l3.slice(0, 40))))
    expect(torn._tag).toBe("WalTornTail")
    if (torn._tag === "WalTornTail") {
      expect(torn.line).toBe(3)
      expect(torn.offset).toBe(l1.length + l2.length)
      expect(torn.category).toBe("Eof")
    }
  })

  it("a final line of zero bytes, or the next entry's start cut then zeros (a power loss's unwritten tail), is torn, with its parse error as it stands; zeros after junk or after a complete entry, or zeros mid-log, are corruption (a helper's crash review)", () => {
    const zeros = "\u0000".repeat(300)
    for (const tail of [zeros, `${l3.slice(0, 40)}${zeros}`, `${l3.slice(0, 120)}\u0000`]) {
      const torn = failure(verify(bytesOf(l1, l2, tail)))
      expect(torn._tag).toBe("WalTornTail")
      if (torn._tag === "WalTornTail") {
        expect(torn.line).toBe(3)
        expect(torn.offset).toBe(l1.length + l2.length)
        expect(torn.category).toBe("Syntax")
        expect(torn.count).toBe(2n)
      }
    }
    // a cut inside a character, then zeros: torn too (a review of the zero tails)
    const cutInChar = Buffer.concat([
      Buffer.from(l1 + l2),
      Buffer.from(`${l3.slice(0, l3.indexOf(`"data":`) + 7)}"é`).subarray(0, l3.indexOf(`"data":`) + 9),
      Buffer.alloc(50)
    ])
    const tornChar = failure(verify(new Uint8Array(cutInChar)))
    expect(tornChar._tag).toBe("WalTornTail")
    for (
      const bad of [
        bytesOf(l1, l2, `{"sequence":3,"previous_hash":"zz${zeros}`),
        bytesOf(l1, l2, `${l3.slice(0, -1)}${zeros}`),
        bytesOf(l1, `${zeros}\n`, l2)
      ]
    ) {
      expect(failure(verify(bad))._tag).toBe("WalParseError")
    }
  })

  it("a final line's CR, no LF after it, is the line's own, as Rust's lines() keeps it: inside a string serde's control-character Syntax error, elsewhere counted in the EOF's column (a review built the reference's reader)", () => {
    // (an entry hash a writer writes: 64 lowercase hex digits; the columns count its length)
    const H = "0".repeat(64)
    const cases: ReadonlyArray<readonly [string, string, string, number]> = [
      [`{"sequence":1,"previous_hash":"genesis","entry_hash":"${H}","data":"ab\r`, "WalParseError", "Syntax", 131],
      [`{"sequence":1,"previous_hash":"genesis","entry_hash":"${H}","data":1\r`, "WalTornTail", "Eof", 129],
      // serde's EOF, but a writer never writes a CR after the sequence: no crash's tear (corruption)
      [`{"sequence":1\r`, "WalParseError", "Eof", 14],
      // an escape: a CR after the backslash is no escape; serde reads the four bytes after \u only
      // once all four are there (the diff review: the long-line scanner called these otherwise)
      [`{"sequence":1,"previous_hash":"genesis","entry_hash":"${H}","data":"v\\\r`, "WalParseError", "Syntax", 131],
      [`{"sequence":1,"previous_hash":"genesis","entry_hash":"${H}","data":"\\u00\r`, "WalTornTail", "Eof", 133],
      [`{"sequence":1,"previous_hash":"genesis","entry_hash":"${H}","data":"\\u0\r12`, "WalParseError", "Syntax", 134]
    ]
    for (const [text, tag, category, column] of cases) {
      for (const maxLineBytes of [undefined, 8]) {
        // whole, and over a line limit (judged by the long-line scanner)
        const e = failure(Reader.verifyBytes(new TextEncoder().encode(text), { chain: keyed, maxLineBytes }))
        expect([e._tag, "category" in e ? e.category : "", "column" in e ? e.column : 0], `${text} ${maxLineBytes}`)
          .toEqual([tag, category, column])
      }
    }
    const syntax = failure(verify(new TextEncoder().encode(cases[0]?.[0] ?? "")))
    expect("reason" in syntax ? syntax.reason : "").toBe(
      "control character (\\u0000-\\u001F) found while parsing a string"
    )
    // a complete entry whose line ends in a CR and no LF: CR is white space after it, the entry counts
    const complete = Either.getOrThrow(verify(bytesOf(l1, l2, l3.slice(0, -1) + "\r")))
    expect(complete.count).toBe(3n)
    expect(complete.missingNewline).toBe(true)
  })

  it("the same incomplete line in the middle is a parse error", () => {
    const e = failure(verify(bytesOf(l1, l2.slice(0, 40) + "\n", l3)))
    expect(e._tag).toBe("WalParseError")
    if (e._tag === "WalParseError") {
      expect(e.line).toBe(2)
      expect(e.category).toBe("Eof")
      expect(e.column).toBe(40)
    }
  })

  it("a line that is not UTF-8 is a read error, the final unterminated one too unless a character is cut at its end (a torn tail, Io)", () => {
    const bad = Uint8Array.of(0x7b, 0x22, 0xff, 0x22)
    const middle = failure(verify(bytesOf(l1, bad, "\n", l2)))
    expect(middle._tag).toBe("WalReadError")
    if (middle._tag === "WalReadError") {
      expect(middle.line).toBe(2)
      expect(middle.io_kind).toBe("InvalidData")
    }
    // even without verification
    expect(failure(verify(bytesOf(l1, bad, "\n", l2), undefined))._tag).toBe("WalReadError")
    // a byte no crash leaves (a write is cut, never changed): corruption, which repair refuses
    const last = failure(verify(bytesOf(l1, l2, bad)))
    expect(last._tag).toBe("WalReadError")
    // a complete entry with its last character made invalid, or a lead byte after it: not torn either
    expect(failure(verify(bytesOf(l1, l2.slice(0, -1), Uint8Array.of(0xe2))))._tag).toBe("WalReadError")
    // a multi-byte character cut by the end of the file, in the next entry's line
    const [e1, e2] = logLines(["1", "\"é\""])
    const next = encoder.encode(e2 ?? "")
    const cut = failure(verify(bytesOf(e1 ?? "", next.subarray(0, next.indexOf(0xc3) + 1))))
    expect(cut._tag).toBe("WalTornTail")
    if (cut._tag === "WalTornTail") expect(cut.category).toBe("Io")
    // the same cut in a line that is not the next entry's start (no writer spells it so): corruption
    expect(failure(verify(bytesOf(l1, encoder.encode("{\"a\":\"é").subarray(0, 7))))._tag).toBe("WalReadError")
  })

  it("a parse error in the middle reports serde's category and column", () => {
    const e = failure(verify(bytesOf(l1, "{\"sequence\":\"2\"}\n", l2)))
    expect(e._tag).toBe("WalParseError")
    if (e._tag === "WalParseError") {
      expect([e.line, e.category, e.reason, e.column]).toEqual([
        2,
        "Data",
        "invalid type: string \"2\", expected u64",
        15
      ])
    }
  })

  it("verification without a chain still parses every line", () => {
    expect(Either.getOrThrow(verify(bytesOf(l1, l2, l3), undefined)).count).toBe(3n)
    expect(failure(verify(bytesOf(l1, "[1]\n", l3), undefined))._tag).toBe("WalParseError")
  })
})

describe("Reader.entries yields every good entry before the failure", () => {
  it("entries before a bad line in the same chunk are emitted, then the typed failure", () =>
    Effect.runPromise(Effect.gen(function*() {
      const chain = Either.getOrThrow(Chain.make({}))
      const first = Entry.seal(chain, 1n, Chain.GENESIS, "{\"n\":1}")
      const second = Entry.seal(chain, 2n, first.sealed.entry_hash, "{\"n\":2}")
      const bytes = new TextEncoder().encode(first.line + second.line + "{\"sequence\":3,oops}\n")
      const seen: Array<bigint> = []
      const error = yield* Effect.flip(
        Stream.runForEach(
          Reader.entries(Stream.make(bytes), { chain }),
          (e) => Effect.sync(() => seen.push(e.sequence))
        )
      )
      expect(seen).toEqual([1n, 2n])
      expect(error._tag).toBe("WalParseError")
    })))
})

describe("reader: errors people can act on", () => {
  const unkeyed = Either.getOrThrow(Chain.make({}))
  const sealed = (data: Json.Json, previous = Chain.GENESIS, sequence = 1n) =>
    Entry.seal(unkeyed, sequence, previous, Either.getOrThrow(Entry.canonicalData(data)))
  const first = sealed(1)
  const bytes = (text: string) => new TextEncoder().encode(text)
  const failure = (text: string): WalVerifyError => {
    const r = Reader.verifyBytes(bytes(text), { chain: unkeyed })
    if (Either.isRight(r)) throw new Error("expected a failure")
    return r.left
  }

  it("a parse error names the file's line, the column in it and the line's byte offset; serde's fields are kept", () => {
    const e = failure(`${first.line}{"sequence":2,"previous_hash":5}\n`)
    expect(e._tag).toBe("WalParseError")
    if (e._tag !== "WalParseError") return
    expect([e.category, e.column, e.line, e.offset]).toEqual(["Data", 31, 2, first.line.length])
    expect(e.message).toBe(
      `WAL JSON error at line 2 column 31 (the line starts at byte offset ${first.line.length}): invalid type: integer \`5\`, expected a string`
    )
  })

  it("a byte order mark is named as such", () => {
    const e = failure(`${first.line}\uFEFF${sealed(2, first.sealed.entry_hash, 2n).line}`)
    expect(e._tag).toBe("WalParseError")
    if (e._tag !== "WalParseError") return
    expect([e.category, e.reason, e.column]).toEqual(["Syntax", "expected value", 1])
    expect(e.message).toContain("a byte order mark (U+FEFF) at the start of line 2")
  })

  it("a torn tail says to run `calybris wal repair` after a crash, and that a writer appending it leaves the same line", () => {
    const e = failure(`${first.line}${sealed(2, first.sealed.entry_hash, 2n).line.slice(0, 120)}`)
    expect(e._tag).toBe("WalTornTail")
    expect(e.message).toContain("run `calybris wal repair`")
    expect(e.message).toContain("a writer appending it right now")
    expect(e.message).toContain("line 2")
  })

  it("a final line without its LF that a writer would not start so (another sequence, another previous hash, not an entry) is corruption, not a torn tail: no crash leaves it (a hostile review)", () => {
    const second = sealed(2, first.sealed.entry_hash, 2n).line
    const junk = [
      `{"sequence":3,"previous_hash":"00`,
      `{"sequence":1,"previous_hash":"${first.sealed.previous_hash}","entry_hash":"`,
      `{"sequence":2,"previous_hash":"${first.sealed.previous_hash}"`,
      `{"sequence":2,"data":1`,
      `{"sequence":2 `,
      `{"seq`.replace("seq", "sEq"),
      // the right sequence and previous hash, then no entry hash a writer writes (a review of the fix)
      `{"sequence":2,"previous_hash":"${first.sealed.entry_hash}","entry_hash":"NOT A HASH","comment":{"x":`,
      `{"sequence":2,"previous_hash":"${first.sealed.entry_hash}","entry_hash":"${"A".repeat(64)}","data":1`,
      `{"sequence":2,"previous_hash":"${first.sealed.entry_hash}","entry_hash":"${"a".repeat(64)}","comment":1`
    ]
    for (const line of junk) {
      const e = failure(`${first.line}${line}`)
      expect([e._tag, "category" in e ? e.category : ""], line).toEqual(["WalParseError", "Eof"])
      expect(e.message, line).toContain(`not the start of entry 2 after ${first.sealed.entry_hash}`)
      expect(e.message, line).not.toContain("run `calybris wal repair`")
    }
    // the writer's next line cut anywhere (a crash, or a writer appending it now): torn
    for (const length of [1, 2, 12, 13, 40, 100, second.length - 2]) {
      expect(failure(`${first.line}${second.slice(0, length)}`)._tag, String(length)).toBe("WalTornTail")
    }
  })

  it("a huge value on a bad line is quoted as a short excerpt, not whole", () => {
    const huge = `"${"x".repeat(4_000_000)}"\n`
    const e = failure(`${first.line}${huge}`)
    expect(e._tag).toBe("WalParseError")
    if (e._tag !== "WalParseError") return
    expect(e.column).toBe(huge.length - 1)
    expect(e.message.length).toBeLessThan(300)
    expect(e.reason).toBe(`invalid type: string "${"x".repeat(80)}…", expected struct WalEntry`)
  })
})

describe("reader: options", () => {
  it("maxLineBytes out of range refuses to read anything (WalOptionsInvalid, named with its value), even empty input", () => {
    const chain = Either.getOrThrow(Chain.make({}))
    for (const bad of [0, -3, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      for (const bytes of [new Uint8Array(0), new TextEncoder().encode("garbage\n")]) {
        const e = failure(Reader.verifyBytes(bytes, { chain, maxLineBytes: bad }))
        expect(e._tag).toBe("WalOptionsInvalid")
        if (e._tag !== "WalOptionsInvalid") continue
        expect([e.field, e.value]).toEqual(["maxLineBytes", String(bad)])
      }
      const reader = new Reader.LineReader({ chain, maxLineBytes: bad })
      expect(Either.isLeft(reader.push(new Uint8Array(1)))).toBe(true)
      expect(Either.isLeft(reader.end())).toBe(true)
    }
    expect(Either.isRight(Reader.checkOptions({ maxLineBytes: 2 ** 53 - 1 }))).toBe(true)
    expect(Either.isRight(Reader.checkOptions({}))).toBe(true)
  })
})
