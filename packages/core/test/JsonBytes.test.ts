/**
 * `Json.printInto` (canonical bytes straight into a buffer) against the exact path it replaces:
 * `TextEncoder.encode(Json.print(value))`, and `Json.printWithin` for the depth limit.
 */
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { describe, expect, it } from "vitest"
import * as Json from "../src/Json.js"

const encoder = new TextEncoder()

/** Any UTF-16 code unit (lone surrogates included), and the characters escaping is about. */
const codeUnit = FastCheck.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const special = FastCheck.constantFrom(
  "\u2028",
  "\u0000",
  "\u001f",
  "\u007f",
  "\u0080",
  "\u07ff",
  "\u0800",
  "\"",
  "\\",
  "/",
  "😀",
  "é",
  "\ud800",
  "\udfff",
  "\ud83d",
  "\ude00"
)
const stringArb = FastCheck.oneof(
  FastCheck.string({ unit: "binary", maxLength: 20 }),
  FastCheck.string({ unit: FastCheck.oneof(special, codeUnit, FastCheck.char()), maxLength: 40 }),
  // long ASCII runs with a rare odd character
  FastCheck.string({
    unit: FastCheck.oneof(FastCheck.char(), FastCheck.char(), FastCheck.char(), special),
    maxLength: 200
  })
)
const numberArb = FastCheck.oneof(
  FastCheck.maxSafeInteger(),
  FastCheck.integer(),
  FastCheck.constantFrom(
    0,
    -0,
    1,
    -1,
    9,
    10,
    99,
    100,
    9007199254740991,
    -9007199254740991,
    9007199254740992,
    1e16,
    1e21
  ),
  // plain numbers that are not safe integers print as floats
  FastCheck.double()
)
const bigintArb = FastCheck.oneof(
  FastCheck.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  // outside the wire's integers: printed as digits, refused by the bounded printers
  FastCheck.constantFrom(2n ** 64n, -(2n ** 63n) - 1n, 2n ** 70n, -(10n ** 30n)),
  FastCheck.bigInt({ min: -(2n ** 53n) - 2n, max: 2n ** 53n + 2n }),
  FastCheck.constantFrom(
    0n,
    -0n,
    18446744073709551615n,
    -9223372036854775808n,
    9007199254740991n,
    -9007199254740991n,
    9007199254740992n,
    -9007199254740992n
  )
)

const { json: jsonArb } = FastCheck.letrec<{ json: Json.Json }>((tie) => ({
  json: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.constant(null),
    FastCheck.boolean(),
    numberArb,
    bigintArb,
    FastCheck.double().map((d) => new Json.JsonFloat(d)),
    stringArb,
    FastCheck.array(tie("json"), { maxLength: 5 }),
    FastCheck.array(FastCheck.tuple(stringArb, tie("json")), { maxLength: 5 }).map((entries) => new Map(entries))
  )
}))

/** `value` inside `depth` arrays / objects. */
const nest = (value: Json.Json, depth: number, objects: boolean): Json.Json => {
  let v = value
  for (let i = 0; i < depth; i++) v = objects && i % 2 === 0 ? new Map([["k", v]]) : [v]
  return v
}

/** A sink holding `prefix`, in a buffer of `capacity` bytes (at least the prefix). */
const sinkWith = (prefix: Uint8Array, capacity: number): Json.ByteSink => {
  const buffer = new Uint8Array(Math.max(prefix.length, capacity))
  buffer.set(prefix)
  return { buffer, length: prefix.length }
}

const bytesOf = (sink: Json.ByteSink): Uint8Array => sink.buffer.slice(0, sink.length)

/** A string with a UTF-16 half that has no partner (the oracle: code unit by code unit). */
const isLone = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
      else return true
    } else if (c >= 0xdc00 && c <= 0xdfff) return true
  }
  return false
}

/**
 * Does any string or key of `value` hold a lone surrogate, any bigint lie outside −2^63 … 2^64 − 1,
 * or any number (or float) fail to be finite (NaN, ±Infinity print `null`: another value)?
 */
const hasLone = (value: Json.Json): boolean => {
  if (typeof value === "string") return isLone(value)
  if (typeof value === "number") return !Number.isFinite(value)
  if (value instanceof Json.JsonFloat) return !Number.isFinite(value.value)
  if (typeof value === "bigint") return value < -(2n ** 63n) || value > 2n ** 64n - 1n
  if (Json.isArray(value)) return value.some(hasLone)
  if (Json.isObject(value)) return [...value].some(([k, v]) => isLone(k) || hasLone(v))
  return false
}

/** Nesting depth (scalars are 0). */
const depth = (value: Json.Json): number =>
  Json.isArray(value)
    ? 1 + Math.max(0, ...value.map(depth))
    : Json.isObject(value)
    ? 1 + Math.max(0, ...[...value.values()].map(depth))
    : 0

describe("Json.printInto", () => {
  it("appends exactly TextEncoder.encode(Json.print(x)), after what the sink held, growing it as needed; refuses a lone surrogate and an integer off the wire", () => {
    FastCheck.assert(
      FastCheck.property(
        jsonArb,
        FastCheck.uint8Array({ maxLength: 40 }),
        FastCheck.integer({ min: 0, max: 600 }),
        (value, prefix, capacity) => {
          const sink = sinkWith(prefix, capacity)
          const lone = hasLone(value)
          expect(Json.printInto(value, sink)).toBe(!lone)
          if (lone) {
            expect(sink.length).toBe(prefix.length)
            expect(sink.buffer.slice(0, prefix.length)).toEqual(prefix)
            // and the bounded text printer refuses it too, at any depth limit
            expect(Json.printWithin(value, Infinity)).toBeUndefined()
            return
          }
          const expected = new Uint8Array([...prefix, ...encoder.encode(Json.print(value))])
          expect(bytesOf(sink)).toEqual(expected)
          // what it wrote reads back as the value: bytes and text alike
          const read = Json.parse(
            new TextDecoder("utf-8", { fatal: true }).decode(bytesOf(sink).subarray(prefix.length))
          )
          expect(Json.print(Either.getOrThrow(read))).toBe(Json.print(value))
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
  })

  it("with a depth limit: true and the same bytes exactly when printWithin prints, else false and the length unchanged", () => {
    FastCheck.assert(
      FastCheck.property(
        jsonArb,
        FastCheck.integer({ min: 0, max: 6 }),
        FastCheck.integer({ min: 0, max: 6 }),
        FastCheck.boolean(),
        FastCheck.uint8Array({ maxLength: 8 }),
        (inner, extra, limit, objects, prefix) => {
          const value = nest(inner, extra, objects)
          const sink = sinkWith(prefix, 16)
          const text = Json.printWithin(value, limit)
          const printed = Json.printInto(value, sink, limit)
          expect(printed).toBe(text !== undefined)
          expect(printed).toBe(depth(value) <= limit && !hasLone(value))
          if (text !== undefined) {
            expect(bytesOf(sink)).toEqual(new Uint8Array([...prefix, ...encoder.encode(text)]))
          } else {
            expect(sink.length).toBe(prefix.length)
            expect(sink.buffer.slice(0, prefix.length)).toEqual(prefix)
          }
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 2000 }
    )
  })

  it("at the reader's limit (126) and just past it, arrays and objects", () => {
    for (const objects of [false, true]) {
      for (const depth of [125, 126, 127, 200]) {
        const value = nest(1, depth, objects)
        const sink = sinkWith(new Uint8Array(0), 0)
        const text = Json.printWithin(value, 126)
        expect(Json.printInto(value, sink, 126)).toBe(depth <= 126)
        expect(text !== undefined).toBe(depth <= 126)
        if (text !== undefined) expect(bytesOf(sink)).toEqual(encoder.encode(text))
      }
    }
  })

  it("a key first printed through the cache and then from it, and long strings, byte for byte", () => {
    const long = "x".repeat(70)
    const value: Json.Json = new Map<string, Json.Json>([
      ["é\ud83d\ude00\"k", 1],
      [long, "\ud83d\ude00\ud83d\ude01" + long],
      ["a", [new Map([["é\ud83d\ude00\"k", 2], [long, 3]])]]
    ])
    for (let i = 0; i < 3; i++) {
      const sink = sinkWith(new Uint8Array(0), 0)
      expect(Json.printInto(value, sink)).toBe(true)
      expect(bytesOf(sink)).toEqual(encoder.encode(Json.print(value)))
    }
  })

  it("two keys with lone surrogates: their UTF-8 is U+FFFD twice (a repeated key), so the bounded printers refuse them, every time", () => {
    // the counterexample CI found: distinct keys, alike once encoded
    const value: Json.Json = new Map<string, Json.Json>([["\ud800", null], ["\ud83d", null]])
    expect(encoder.encode(Json.print(value))).toEqual(encoder.encode("{\"\ufffd\":null,\"\ufffd\":null}"))
    for (const v of [value, new Map([["a", value]]), [value], new Map([["k", "x\udc00"]]), "\ud83d"]) {
      // the key cache must not remember a refused key as printable: refused on every print
      for (let i = 0; i < 3; i++) {
        const sink = sinkWith(new Uint8Array([1, 2]), 0)
        expect(Json.printInto(v, sink)).toBe(false)
        expect(sink.length).toBe(2)
        expect(Json.printWithin(v, 126)).toBeUndefined()
      }
    }
    // a surrogate pair is one code point: printed
    expect(Json.printWithin(new Map([["\ud83d\ude00", "\ud800\udc00"]]), 126)).toBe("{\"😀\":\"𐀀\"}")
  })

  it("a bigint outside -2^63 … 2^64-1 (which would read back as a float) is refused by the bounded printers; the edges print", () => {
    for (const v of [2n ** 64n, -(2n ** 63n) - 1n, 10n ** 40n]) {
      for (const value of [v, [1, v], new Map<string, Json.Json>([["a", [v]]])] as Array<Json.Json>) {
        const sink = sinkWith(new Uint8Array([9]), 0)
        expect(Json.printInto(value, sink)).toBe(false)
        expect(sink.length).toBe(1)
        expect(Json.printWithin(value, 126)).toBeUndefined()
        // print (the digests' printer) still writes the digits; the reader takes them as a float
        expect(Json.print(value)).toContain(v.toString())
        const reread = Json.print(Either.getOrThrow(Json.parse(Json.print(value))))
        expect(reread).not.toBe(Json.print(value))
      }
    }
    for (const v of [2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n, -(2n ** 53n)]) {
      const text = Json.printWithin(new Map([["v", v]]), 126)
      expect(text).toBe(`{"v":${v}}`)
      expect(Json.print(Either.getOrThrow(Json.parse(text ?? "")))).toBe(text)
    }
  })
})
