/**
 * The WAL entry parser replays `serde_json::from_str::<WalEntry<Value>>` (serde_json 1.0.150,
 * serde-derive): every rule with its category, message and column (serde's byte column: for
 * `error()` the number of bytes consumed, for `peek_error()` one more), and the order in which
 * problems on one line are found.
 */
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Entry from "@calybris/wal/Entry"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { describe, expect, it } from "vitest"
import { parseLine, rustDebug } from "../src/internal/envelope.js"

/** `category: message @ column`, or `ok`. */
const verdict = (text: string): string => {
  const r = Entry.parse(text)
  return Either.isLeft(r) ? `${r.left.category}: ${r.left.reason} @ ${r.left.column}` : "ok"
}

const ok = (text: string): Entry.Envelope => {
  const r = Entry.parse(text)
  if (Either.isLeft(r)) throw new Error(`${text}: ${r.left.reason} @ ${r.left.column}`)
  return r.right
}

const HEAD = `{"sequence":1,"previous_hash":"genesis","entry_hash":"e"`
const entry = (data: string) => `${HEAD},"data":${data}}`

describe("envelope: well-formed entries", () => {
  it("reads the four members, in any order, with whitespace, ignoring unknown members", () => {
    const e = ok(
      ` {"data" : {"a":[1,2]} ,"x":{"y":[true,null,"s\\u0041",-1.5e3]}, "entry_hash":"E",\t"sequence":18446744073709551615,"previous_hash":"P"}\r\n `
    )
    expect(e.sequence).toBe(18446744073709551615n)
    expect(e.previous_hash).toBe("P")
    expect(e.entry_hash).toBe("E")
    expect(Json.print(e.data)).toBe(`{"a":[1,2]}`)
  })

  it("accepts the sequence form [sequence, previous_hash, entry_hash, data]", () => {
    const e = ok(`[7, "p", "e", {"k":1}]`)
    expect(e.sequence).toBe(7n)
    expect(e.previous_hash).toBe("p")
    expect(Json.print(e.data)).toBe(`{"k":1}`)
  })

  it("data can be any JSON value; duplicate keys inside it keep the first position, last value", () => {
    expect(Json.print(ok(entry("null")).data)).toBe("null")
    expect(Json.print(ok(entry(`{"a":1,"b":2,"a":3}`)).data)).toBe(`{"a":3,"b":2}`)
  })
})

describe("envelope: the struct", () => {
  it.each([
    ["5", "Data: invalid type: integer `5`, expected struct WalEntry @ 1"],
    ["-5", "Data: invalid type: integer `-5`, expected struct WalEntry @ 2"],
    [" 1.5 ", "Data: invalid type: floating point `1.5`, expected struct WalEntry @ 4"],
    ["-0", "Data: invalid type: floating point `-0.0`, expected struct WalEntry @ 2"],
    ["1e20", "Data: invalid type: floating point `1e+20`, expected struct WalEntry @ 4"],
    ["\"abc\"", "Data: invalid type: string \"abc\", expected struct WalEntry @ 5"],
    ["true", "Data: invalid type: boolean `true`, expected struct WalEntry @ 4"],
    ["false", "Data: invalid type: boolean `false`, expected struct WalEntry @ 5"],
    ["null", "Data: invalid type: null, expected struct WalEntry @ 4"],
    // the scalar is read first: a syntax error inside it wins
    ["nul", "Eof: EOF while parsing a value @ 3"],
    ["tru x", "Syntax: expected ident @ 4"],
    ["\"a\tb\"", "Syntax: control character (\\u0000-\\u001F) found while parsing a string @ 3"],
    ["01", "Syntax: invalid number @ 2"],
    ["x", "Syntax: expected value @ 1"],
    ["\u00a0{}", "Syntax: expected value @ 1"],
    ["\ufeff{}", "Syntax: expected value @ 1"],
    ["", "Eof: EOF while parsing a value @ 0"],
    ["{", "Eof: EOF while parsing an object @ 1"],
    ["[", "Eof: EOF while parsing a list @ 1"]
  ])("%j → %s", (text, expected) => {
    expect(verdict(text)).toBe(expected)
  })

  it("after the entry only JSON whitespace may follow", () => {
    expect(verdict(entry("1") + " \t\r\n ")).toBe("ok")
    expect(verdict(entry("1") + " x")).toBe(`Syntax: trailing characters @ ${entry("1").length + 2}`)
    expect(verdict(entry("1") + "{}")).toBe(`Syntax: trailing characters @ ${entry("1").length + 1}`)
    expect(verdict(entry("1") + "\u00a0")).toBe(`Syntax: trailing characters @ ${entry("1").length + 1}`)
  })
})

describe("envelope: members of the map form", () => {
  it("a missing member is reported after the map ends, in declaration order, just past the `}`", () => {
    expect(verdict(`{}`)).toBe("Data: missing field `sequence` @ 2")
    expect(verdict(`{"a":1}  `)).toBe("Data: missing field `sequence` @ 7")
    expect(verdict(`{"a":1 }`)).toBe("Data: missing field `sequence` @ 8")
    expect(verdict(`{"sequence":1}`)).toBe("Data: missing field `previous_hash` @ 14")
    expect(verdict(`{"sequence":1,"previous_hash":"p"}`)).toBe("Data: missing field `entry_hash` @ 34")
    expect(verdict(`{"entry_hash":"e","sequence":1,"previous_hash":"p"}`)).toBe(
      "Data: missing field `data` @ 51"
    )
    expect(verdict(`{"data":1,"entry_hash":"e"}`)).toBe("Data: missing field `sequence` @ 27")
  })

  it("a repeated member fails right after its key (and the whitespace after it), before its value", () => {
    expect(verdict(`{"sequence":1,"sequence":2}`)).toBe("Data: duplicate field `sequence` @ 24")
    expect(verdict(`{"sequence":1 , "sequence" :2}`)).toBe("Data: duplicate field `sequence` @ 27")
    // the repeated member's value is never read
    expect(verdict(`{"data":1,"data":[[[`)).toBe("Data: duplicate field `data` @ 16")
    expect(verdict(`{"previous_hash":"a","previous_hash"`)).toBe("Data: duplicate field `previous_hash` @ 36")
    // end_map consumes a `}` right after the repeated key before the error is positioned
    expect(verdict(`{"previous_hash":"a","previous_hash" }`)).toBe("Data: duplicate field `previous_hash` @ 38")
    expect(verdict(`${HEAD},"entry_hash":5}`)).toBe(`Data: duplicate field \`entry_hash\` @ ${HEAD.length + 13}`)
    // unknown members may repeat
    expect(verdict(`{"x":1,"x":2,"sequence":1,"previous_hash":"p","entry_hash":"e","data":0}`)).toBe("ok")
  })

  it("sequence must be a u64", () => {
    expect(verdict(`{"sequence":-1}`)).toBe("Data: invalid value: integer `-1`, expected u64 @ 14")
    expect(verdict(`{"sequence":-9223372036854775808}`)).toBe(
      "Data: invalid value: integer `-9223372036854775808`, expected u64 @ 32"
    )
    expect(verdict(`{"sequence":1.5}`)).toBe("Data: invalid type: floating point `1.5`, expected u64 @ 15")
    expect(verdict(`{"sequence":1.0}`)).toBe("Data: invalid type: floating point `1.0`, expected u64 @ 15")
    expect(verdict(`{"sequence":1e2}`)).toBe("Data: invalid type: floating point `100.0`, expected u64 @ 15")
    expect(verdict(`{"sequence":-0}`)).toBe("Data: invalid type: floating point `-0.0`, expected u64 @ 14")
    // beyond u64 an integer literal is a float
    expect(verdict(`{"sequence":18446744073709551616}`)).toBe(
      "Data: invalid type: floating point `1.8446744073709552e+19`, expected u64 @ 32"
    )
    expect(verdict(`{"sequence":-9223372036854775809}`)).toBe(
      "Data: invalid type: floating point `-9.223372036854776e+18`, expected u64 @ 32"
    )
    expect(verdict(`{"sequence":"7"}`)).toBe("Data: invalid type: string \"7\", expected u64 @ 15")
    expect(verdict(`{"sequence":"a\\"b\\u00e9\\u0001"}`)).toBe(
      "Data: invalid type: string \"a\\\"bé\\u{1}\", expected u64 @ 30"
    )
    expect(verdict(`{"sequence":true}`)).toBe("Data: invalid type: boolean `true`, expected u64 @ 16")
    expect(verdict(`{"sequence":null}`)).toBe("Data: invalid type: null, expected u64 @ 16")
    // containers are not consumed: the position is that of the `[` / `{` (bytes before it)
    expect(verdict(`{"sequence": [1]}`)).toBe("Data: invalid type: sequence, expected u64 @ 13")
    expect(verdict(`{"sequence":{}}`)).toBe("Data: invalid type: map, expected u64 @ 12")
    expect(verdict(`{"sequence":x}`)).toBe("Syntax: expected value @ 13")
    expect(verdict(`{"sequence":`)).toBe("Eof: EOF while parsing a value @ 12")
    expect(verdict(`{"sequence":-`)).toBe("Eof: EOF while parsing a value @ 13")
    expect(verdict(`{"sequence":-x}`)).toBe("Syntax: invalid number @ 14")
    expect(verdict(`{"sequence":1.}`)).toBe("Syntax: invalid number @ 15")
    expect(verdict(`{"sequence":1e999}`)).toBe("Syntax: number out of range @ 17")
    expect(verdict(`{"sequence":"abc`)).toBe("Eof: EOF while parsing a string @ 16")
  })

  it("previous_hash and entry_hash must be strings", () => {
    expect(verdict(`{"previous_hash":5}`)).toBe("Data: invalid type: integer `5`, expected a string @ 18")
    expect(verdict(`{"entry_hash":-5}`)).toBe("Data: invalid type: integer `-5`, expected a string @ 16")
    expect(verdict(`{"entry_hash":2.50}`)).toBe("Data: invalid type: floating point `2.5`, expected a string @ 18")
    expect(verdict(`{"previous_hash":false}`)).toBe("Data: invalid type: boolean `false`, expected a string @ 22")
    expect(verdict(`{"previous_hash":null}`)).toBe("Data: invalid type: null, expected a string @ 21")
    expect(verdict(`{"previous_hash":[]}`)).toBe("Data: invalid type: sequence, expected a string @ 17")
    expect(verdict(`{"previous_hash":{"a":1}}`)).toBe("Data: invalid type: map, expected a string @ 17")
    expect(verdict(`{"previous_hash":"\\ud800"}`)).toBe("Syntax: unexpected end of hex escape @ 25")
    expect(verdict(`{"previous_hash":"\\udc00"}`)).toBe("Syntax: lone leading surrogate in hex escape @ 24")
  })

  it("map syntax: serde's MapAccess errors", () => {
    expect(verdict(`{"sequence":1,}`)).toBe("Syntax: trailing comma @ 15")
    expect(verdict(`{"sequence":1 "a"}`)).toBe("Syntax: expected `,` or `}` @ 15")
    expect(verdict(`{"sequence":1,`)).toBe("Eof: EOF while parsing a value @ 14")
    expect(verdict(`{"sequence":1`)).toBe("Eof: EOF while parsing an object @ 13")
    expect(verdict(`{1:2}`)).toBe("Syntax: key must be a string @ 2")
    expect(verdict(`{,}`)).toBe("Syntax: key must be a string @ 2")
    expect(verdict(`{"sequence" 1}`)).toBe("Syntax: expected `:` @ 13")
    expect(verdict(`{"sequence"`)).toBe("Eof: EOF while parsing an object @ 11")
  })
})

describe("envelope: unknown members go through serde_json's ignore_value", () => {
  it("their values must be JSON, with ignore_value's own errors", () => {
    expect(verdict(`{"x":[1,],"sequence":1}`)).toBe("Syntax: expected value @ 9")
    expect(verdict(`{"x":{"a":1,},"sequence":1}`)).toBe("Syntax: key must be a string @ 13")
    expect(verdict(`{"x":{"a":1,`)).toBe("Eof: EOF while parsing an object @ 12")
    expect(verdict(`{"x":[1 2]}`)).toBe("Syntax: expected `,` or `]` @ 9")
    expect(verdict(`{"x":{"a" 1}}`)).toBe("Syntax: expected `:` @ 11")
    expect(verdict(`{"x":-}`)).toBe("Syntax: invalid number @ 7")
    expect(verdict(`{"x":-`)).toBe("Syntax: invalid number @ 6")
    expect(verdict(`{"x":1.}`)).toBe("Syntax: invalid number @ 8")
    expect(verdict(`{"x":1.`)).toBe("Syntax: invalid number @ 7")
    expect(verdict(`{"x":1e}`)).toBe("Syntax: invalid number @ 8")
    expect(verdict(`{"x":1e+`)).toBe("Syntax: invalid number @ 8")
    expect(verdict(`{"x":00}`)).toBe("Syntax: invalid number @ 7")
    // a control character is reported before it is consumed (parse_str: after it)
    expect(verdict(`{"x":"a\tb"}`)).toBe("Syntax: control character (\\u0000-\\u001F) found while parsing a string @ 7")
    expect(verdict(`{"data":"a\tb"}`)).toBe(
      "Syntax: control character (\\u0000-\\u001F) found while parsing a string @ 11"
    )
    expect(verdict(`{"x":"\\q"}`)).toBe("Syntax: invalid escape @ 8")
    expect(verdict(`{"x":"\\u12"}`)).toBe("Syntax: invalid escape @ 12")
    expect(verdict(`{"x":"\\u1`)).toBe("Eof: EOF while parsing a string @ 9")
    expect(verdict(`{"x":nul}`)).toBe("Syntax: expected ident @ 9")
  })

  it("are not range-checked, not surrogate-checked and not depth-limited (ignore_value has no limit)", () => {
    const rest = `,"sequence":1,"previous_hash":"p","entry_hash":"e","data":0}`
    expect(verdict(`{"x":1e999${rest}`)).toBe("ok")
    expect(verdict(`{"x":"\\ud800\\udc00\\udfff"${rest}`)).toBe("ok")
    expect(verdict(`{"x":${"[".repeat(5000)}${"]".repeat(5000)}${rest}`)).toBe("ok")
    expect(verdict(`{"x":${"{\"a\":".repeat(3000)}0${"}".repeat(3000)}${rest}`)).toBe("ok")
  })
})

describe("envelope: the sequence form", () => {
  it("needs exactly four elements", () => {
    expect(verdict(`[]`)).toBe("Data: invalid length 0, expected struct WalEntry with 4 elements @ 2")
    expect(verdict(`[1,"a"]`)).toBe("Data: invalid length 2, expected struct WalEntry with 4 elements @ 7")
    expect(verdict(`[1,"a","b" ]`)).toBe("Data: invalid length 3, expected struct WalEntry with 4 elements @ 12")
    // extra elements are found by end_seq
    expect(verdict(`[1,"a","b",null,5]`)).toBe("Syntax: trailing characters @ 17")
    expect(verdict(`[1,"a","b",null, {"x":1}]`)).toBe("Syntax: trailing characters @ 18")
    expect(verdict(`[1,"a","b",null,]`)).toBe("Syntax: trailing comma @ 17")
    expect(verdict(`[1,"a","b",null,`)).toBe("Syntax: trailing characters @ 16")
    expect(verdict(`[1,"a","b",null`)).toBe("Eof: EOF while parsing a list @ 15")
    expect(verdict(`[1,"a","b",null x`)).toBe("Syntax: trailing characters @ 17")
  })

  it("elements have the members' types, and SeqAccess's syntax", () => {
    expect(verdict(`["1","a","b",null]`)).toBe("Data: invalid type: string \"1\", expected u64 @ 4")
    expect(verdict(`[1,2,"b",null]`)).toBe("Data: invalid type: integer `2`, expected a string @ 4")
    expect(verdict(`[-1,"a","b",null]`)).toBe("Data: invalid value: integer `-1`, expected u64 @ 3")
    expect(verdict(`[1,"a",]`)).toBe("Syntax: trailing comma @ 8")
    expect(verdict(`[1 "a"]`)).toBe("Syntax: expected `,` or `]` @ 4")
    expect(verdict(`[1,`)).toBe("Eof: EOF while parsing a value @ 3")
    expect(verdict(`[,1]`)).toBe("Syntax: expected value @ 2")
  })
})

describe("envelope: the first problem on the line wins", () => {
  it("a type error in an early member wins over a syntax error later in the line", () => {
    expect(verdict(`{"sequence":"abc","previous_hash":"genesis","entry_hash":"x","data":[`)).toBe(
      "Data: invalid type: string \"abc\", expected u64 @ 17"
    )
    expect(verdict(`{"previous_hash":1,"data":{"a" 1}}`)).toBe(
      "Data: invalid type: integer `1`, expected a string @ 18"
    )
    expect(verdict(`[1,2,"b",{]`)).toBe("Data: invalid type: integer `2`, expected a string @ 4")
    expect(verdict(`{"sequence":1,"sequence":"x" x}`)).toBe("Data: duplicate field `sequence` @ 24")
  })

  it("a syntax error in an early member wins over a type error later in the line", () => {
    expect(verdict(`{"data":[,"sequence":"abc"}`)).toBe("Syntax: expected value @ 10")
    expect(verdict(`{"x":[1,],"sequence":"abc"}`)).toBe("Syntax: expected value @ 9")
    expect(verdict(`{"data":1e400,"sequence":-1}`)).toBe("Syntax: number out of range @ 13")
  })

  it("a missing member is only noticed at the end, after everything else", () => {
    expect(verdict(`{"sequence":1,"x":[}`)).toBe("Syntax: expected value @ 20")
    expect(verdict(`{"sequence":1} x`)).toBe("Data: missing field `previous_hash` @ 14")
  })
})

describe("envelope: nesting", () => {
  const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`

  it("the entry object is level 1: data may nest 126 levels (127 in all), the 128th fails", () => {
    expect(verdict(entry(nested(126)))).toBe("ok")
    expect(verdict(entry(nested(127)))).toBe(
      `Syntax: recursion limit exceeded @ ${HEAD.length + ",\"data\":".length + 127}`
    )
    expect(verdict(entry(`${"{\"a\":".repeat(126)}0${"}".repeat(126)}`))).toBe("ok")
    expect(verdict(entry(`${"{\"a\":".repeat(127)}0${"}".repeat(127)}`))).toBe(
      `Syntax: recursion limit exceeded @ ${HEAD.length + ",\"data\":".length + 126 * 5 + 1}`
    )
  })

  it("the same in the sequence form", () => {
    expect(verdict(`[1,"p","e",${nested(126)}]`)).toBe("ok")
    expect(verdict(`[1,"p","e",${nested(127)}]`)).toBe("Syntax: recursion limit exceeded @ 138")
  })

  it("matches Json.parse with the default limit on the whole line", () => {
    for (const levels of [125, 126, 127, 128]) {
      const line = entry(nested(levels))
      const whole = Json.parse(line)
      expect(verdict(line) === "ok").toBe(Either.isRight(whole))
      if (Either.isLeft(whole)) expect(verdict(line)).toBe(`Syntax: recursion limit exceeded @ ${whole.left.column}`)
    }
  })
})

describe("envelope: messages", () => {
  it("strings are shown with Rust's {:?}", () => {
    expect(rustDebug("abc")).toBe("\"abc\"")
    expect(rustDebug("a\"b\\c'")).toBe("\"a\\\"b\\\\c'\"")
    expect(rustDebug("\0\t\r\n\u0001\u001f\u007f")).toBe("\"\\0\\t\\r\\n\\u{1}\\u{1f}\\u{7f}\"")
    expect(rustDebug("é😀 ")).toBe("\"é😀 \"")
    expect(rustDebug("\u00a0\u200b\u2028\ufeff\u0301")).toBe("\"\\u{a0}\\u{200b}\\u{2028}\\u{feff}\\u{301}\"")
  })

  it("columns count UTF-8 bytes", () => {
    expect(verdict(`{"é":1,"sequence":"x"}`)).toBe("Data: invalid type: string \"x\", expected u64 @ 22")
    expect(verdict(`{"😀":1,"sequence":1} x`)).toBe("Data: missing field `previous_hash` @ 23")
  })
})

describe("envelope: parseLine agrees with Entry.parse", () => {
  const line = FastCheck.oneof(
    FastCheck.constantFrom(
      entry(`{"a":1}`),
      `[1,"p","e",[1,2]]`,
      `{"sequence":1,"x":[1,{"y":"z"}],"previous_hash":"p","entry_hash":"e","data":{"b":[true,null]}}`
    ),
    FastCheck.string({ unit: FastCheck.constantFrom(..."{}[]:,\"\\ 0123456789-.eE", "sequence", "data", "x") })
  )

  it("whatever is asked for, the verdict is the same", () => {
    FastCheck.assert(
      FastCheck.property(line, FastCheck.nat(), FastCheck.nat(6), (text, at, cut) => {
        const mutated = text.slice(0, at % (text.length + 1)) + text.slice((at % (text.length + 1)) + cut)
        const expected = verdict(mutated)
        for (
          const options of [{ value: true, text: true }, { value: false, text: true }, { value: false, text: false }]
        ) {
          const r = parseLine(mutated, options)
          expect(Either.isLeft(r) ? `${r.left.category}: ${r.left.reason} @ ${r.left.column}` : "ok").toBe(expected)
        }
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
  })
})

describe("envelope: core's generic serde decoder agrees with the entry parser", () => {
  // the same struct described as a shape: WalEntry { sequence: u64, previous_hash: String,
  // entry_hash: String, data: Value }
  const shape = JsonSchema.structShape("WalEntry", [
    ["sequence", { _tag: "Int", name: "u64", min: 0n, max: Int.U64_MAX, lo: 0, hi: Number(Int.U64_MAX) }],
    ["previous_hash", { _tag: "String" }],
    ["entry_hash", { _tag: "String" }],
    ["data", { _tag: "Value" }]
  ])
  const generic = (text: string): string => {
    const r = JsonSchema.decodeShape(shape, text)
    return Either.isLeft(r) ? `${r.left.category}: ${r.left.message} @ ${r.left.column}` : "ok"
  }
  const line = FastCheck.oneof(
    FastCheck.constantFrom(
      entry(`{"a":1}`),
      `[1,"p","e",[1,2]]`,
      `{"sequence":1,"x":[1,{"y":"z"}],"previous_hash":"p","entry_hash":"e","data":{"b":[true,null]}}`,
      `{"sequence":1,"sequence":2}`,
      `{"sequence":-1.5e3,"previous_hash":null}`,
      `{"previous_hash":"a","previous_hash"}`
    ),
    FastCheck.string({
      unit: FastCheck.constantFrom(..."{}[]:,\"\\ 0123456789-.eEtfnul", "sequence", "data", "x", "\"previous_hash\"")
    })
  )

  it("same category, message and column on any (mutated) line", () => {
    FastCheck.assert(
      FastCheck.property(line, FastCheck.nat(), FastCheck.nat(6), (text, at, cut) => {
        const mutated = text.slice(0, at % (text.length + 1)) + text.slice((at % (text.length + 1)) + cut)
        expect(generic(mutated)).toBe(verdict(mutated))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
  })
})
