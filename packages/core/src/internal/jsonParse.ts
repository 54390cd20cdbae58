/**
 * The JSON parser behind `Json.parse`: the grammar, value model, error messages, error
 * categories and error positions of serde_json 1.0.150 (`serde_json::from_str::<Value>` with
 * `preserve_order`), except that floats are correctly rounded (`Number(literal)`).
 *
 * Error positions follow serde_json's `SliceRead`: `index` is the number of UTF-8 bytes
 * consumed so far; `Deserializer::error` reports `position_of_index(index)` and
 * `Deserializer::peek_error` reports `position_of_index(min(len, index + 1))`, where
 * `position_of_index(i)` is line = 1 + number of LF bytes in `input[..i]`, column = `i` minus
 * the byte offset just after the last LF in `input[..i]` (so the column can be 0).
 * Positions are computed from the UTF-16 index only when an error is built.
 *
 * The parser is iterative (an explicit stack of open containers), so nesting depth is bounded
 * by `maxDepth` and never by the JS call stack. The module holds no mutable state: everything
 * about the text being read lives in a `Cursor` instance, and each reader owns one (`Json.parse`
 * its parser, the typed decoder and the WAL envelope reader theirs). One instance reads one text
 * at a time (`parse` is synchronous and never re-entered).
 *
 * Besides `parse`, a `Cursor` offers the same Deserializer primitives over one text for
 * callers that replay a serde-derived `Deserialize` (the WAL entry), plus two walks with
 * the same error model — `scanValue` (parseTree's exact grammar and errors without building
 * the value, and whether the text is already canonical, i.e. what `print` writes) and
 * `ignoreValue` (serde_json's `ignore_value`, what `IgnoredAny` uses, which is NOT the same
 * grammar: see there).
 *
 * serde_json's error codes and their messages are free constants in `jsonErrorCode.ts`.
 * The four readers (`parseTree`, `scanTree`, `ignoreTree` and the Deserializer primitives) stay
 * methods of the one `Cursor` class: they share its private reading state on the hot path.
 */
import * as Either from "effect/Either"
import {
  CONTROL_CHARACTER_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_LIST,
  EOF_WHILE_PARSING_OBJECT,
  EOF_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_COLON,
  EXPECTED_LIST_COMMA_OR_END,
  EXPECTED_OBJECT_COMMA_OR_END,
  EXPECTED_SOME_IDENT,
  EXPECTED_SOME_VALUE,
  FIRST_SYNTAX,
  INVALID_ESCAPE,
  INVALID_NUMBER,
  INVALID_UNICODE_CODE_POINT,
  KEY_MUST_BE_A_STRING,
  LONE_LEADING_SURROGATE_IN_HEX_ESCAPE,
  MESSAGES,
  NUMBER_OUT_OF_RANGE,
  RECURSION_LIMIT_EXCEEDED,
  TRAILING_CHARACTERS,
  TRAILING_COMMA,
  UNEXPECTED_END_OF_HEX_ESCAPE
} from "./jsonErrorCode.js"
import { print, printFloat } from "./jsonPrint.js"
import type { Json } from "./jsonValue.js"
import { JsonFloat, JsonParseError } from "./jsonValue.js"

const U64_MAX_DIGITS = "18446744073709551615"
const I64_MIN_DIGITS = "9223372036854775808"
// A single native scan per parse: far cheaper than testing every string character in JS.
const SPECIAL = /[\u0000-\u001f\ud800-\udfff]/

const hexValue = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** While scanning, an object with more keys than this switches to a Set of its (raw) keys. */
const LINEAR_KEYS = 16

/** serde_json ErrorCode values accepted by `Cursor.failPeek` / `Cursor.failError`. */
export { ErrorCode } from "./jsonErrorCode.js"

/** One text being read: `parse`, or the Deserializer primitives below (`begin` … `release`). */
export class Cursor {
  // ---------------------------------------------------------------------------------------------
  // State

  private src = ""
  private len = 0
  private pos = 0
  private errCode = 0
  /** serde's byte index of the error (the argument of `position_of_index`). */
  private errByte = 0
  /** A Data error's text (`Error::custom`), or undefined for a syntax / EOF error code. */
  private errMessage: string | undefined = undefined

  /** Open containers (innermost last) and, for objects, the key whose value is being parsed. */
  private readonly frames: Array<Array<Json> | Map<string, Json>> = []
  private readonly keys: Array<string> = []

  /** No control character and no surrogate anywhere in `src` (see parseString). */
  private clean = false
  /** Index of the first backslash at or after the last string start checked, or `len`. */
  private nextBackslash = -1

  /** The last `parse` met a key twice in one object (it kept the first position, the last value). */
  private repeated = false

  /** Whether the last `parse` met a key twice in one object. */
  hadRepeatedKey(): boolean {
    return this.repeated
  }

  /** `scanValue` is running: integers beyond 2^53 need not become bigints. */
  private scanning = false

  /** The last integer literal beyond 2^53 and its value (WAL lines repeat u64::MAX a lot). */
  private lastBigText = ""
  private lastBig = 0n

  // ---------------------------------------------------------------------------------------------
  // Errors (cold)

  /** UTF-8 length of `src[0, end)`; a lone surrogate counts 3 bytes (WTF-8). */
  private byteIndex(end: number): number {
    let bytes = 0
    for (let i = 0; i < end; i++) {
      const c = this.src.charCodeAt(i)
      if (c < 0x80) bytes += 1
      else if (c < 0x800) bytes += 2
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const d = this.src.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) {
          bytes += 4
          i++
        } else {
          bytes += 3
        }
      } else bytes += 3
    }
    return bytes
  }

  /** Record an error at serde byte index `byte`; always returns undefined (the failure marker). */
  private failAtByte(code: number, byte: number): undefined {
    this.errCode = code
    this.errByte = byte
    this.errMessage = undefined
    return undefined
  }

  /** `Deserializer::error`: the bytes before UTF-16 index `end` have been consumed. */
  private fail(code: number, end: number): undefined {
    return this.failAtByte(code, this.byteIndex(end))
  }

  /** `Deserializer::peek_error`: the byte at UTF-16 index `at` was peeked (or `at` is the end). */
  private failPeekAt(code: number, at: number): undefined {
    return this.failAtByte(code, at >= this.len ? this.byteIndex(this.len) : this.byteIndex(at) + 1)
  }

  /** `SliceRead::decode_hex_escape` failure at UTF-16 index `at` (just after `\u`). */
  private failHex(at: number): undefined {
    const start = this.byteIndex(at)
    const total = this.byteIndex(this.len)
    // fewer than four bytes left: index = len, EOF; otherwise index += 4 and invalid escape
    return total - start < 4
      ? this.failAtByte(EOF_WHILE_PARSING_STRING, total)
      : this.failAtByte(INVALID_ESCAPE, start + 4)
  }

  private buildError(): JsonParseError {
    // position_of_index(errByte), walking the UTF-16 string while counting UTF-8 bytes
    let line = 1
    let lineStart = 0
    let bytes = 0
    for (let i = 0; i < this.len && bytes < this.errByte; i++) {
      const c = this.src.charCodeAt(i)
      if (c === 10) {
        bytes += 1
        line++
        lineStart = bytes
      } else if (c < 0x80) bytes += 1
      else if (c < 0x800) bytes += 2
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < this.len) {
        const d = this.src.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) {
          bytes += 4
          i++
        } else bytes += 3
      } else bytes += 3
    }
    return new JsonParseError({
      category: this.errMessage !== undefined ? "Data" : this.errCode < FIRST_SYNTAX ? "Eof" : "Syntax",
      message: this.errMessage ?? MESSAGES[this.errCode] ?? "invalid value",
      line,
      column: this.errByte - lineStart
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Lexing

  /** Skip JSON whitespace; the code unit at `pos`, or -1 at the end. */
  private skipWs(): number {
    while (this.pos < this.len) {
      const c = this.src.charCodeAt(this.pos)
      if (c > 32 || (c !== 32 && c !== 10 && c !== 13 && c !== 9)) return c
      this.pos++
    }
    return -1
  }

  /** Four hex digits at `at`, or -1. */
  private hex4(at: number): number {
    if (at + 4 > this.len) return -1
    const a = hexValue(this.src.charCodeAt(at))
    const b = hexValue(this.src.charCodeAt(at + 1))
    const c = hexValue(this.src.charCodeAt(at + 2))
    const d = hexValue(this.src.charCodeAt(at + 3))
    return (a | b | c | d) < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d
  }

  /**
   * A string's contents; `pos` is just after the opening quote.
   *
   * When the whole text holds no control character and no surrogate (`clean`, checked once per
   * parse), a string without a backslash before its closing quote is exactly the span up to that
   * quote, found with the engine's native `indexOf` (an order of magnitude faster than a
   * `charCodeAt` loop). Everything else takes the exact character loop.
   */
  private parseString(): string | undefined {
    const start = this.pos
    if (this.clean) {
      const end = this.src.indexOf("\"", start)
      if (end >= 0) {
        if (this.nextBackslash < start) {
          this.nextBackslash = this.src.indexOf("\\", start)
          if (this.nextBackslash < 0) this.nextBackslash = this.len
        }
        if (end < this.nextBackslash) {
          this.pos = end + 1
          return this.src.slice(start, end)
        }
      }
    }
    let i = start
    while (i < this.len) {
      const c = this.src.charCodeAt(i)
      if (c === 34) {
        this.pos = i + 1
        return this.src.slice(start, i)
      }
      if (c === 92 || c < 32 || (c >= 0xd800 && c <= 0xdfff)) return this.parseStringSlow(start, i)
      i++
    }
    return this.fail(EOF_WHILE_PARSING_STRING, this.len)
  }

  /** The general string loop: escapes, control characters, surrogates. */
  private parseStringSlow(start: number, from: number): string | undefined {
    let out = ""
    let chunk = start
    let i = from
    // A raw lone surrogate can only come from a JS caller (UTF-8 input cannot hold one). It is
    // treated like serde_json::from_slice treats its WTF-8 bytes: the string is rejected with
    // "invalid unicode code point" once its closing quote has been consumed.
    let lone = false
    while (i < this.len) {
      const c = this.src.charCodeAt(i)
      if (c === 34) {
        if (lone) return this.fail(INVALID_UNICODE_CODE_POINT, i + 1)
        this.pos = i + 1
        return out + this.src.slice(chunk, i)
      }
      if (c === 92) {
        if (chunk < i) out += this.src.slice(chunk, i)
        i++
        if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len)
        const e = this.src.charCodeAt(i)
        i++
        switch (e) {
          case 34:
            out += "\""
            break
          case 92:
            out += "\\"
            break
          case 47:
            out += "/"
            break
          case 98:
            out += "\b"
            break
          case 102:
            out += "\f"
            break
          case 110:
            out += "\n"
            break
          case 114:
            out += "\r"
            break
          case 116:
            out += "\t"
            break
          case 117: {
            // serde_json read.rs parse_unicode_escape (validate = true)
            const n = this.hex4(i)
            if (n < 0) return this.failHex(i)
            i += 4
            if (n >= 0xdc00 && n <= 0xdfff) return this.fail(LONE_LEADING_SURROGATE_IN_HEX_ESCAPE, i)
            if (n < 0xd800 || n > 0xdbff) {
              out += String.fromCharCode(n)
              break
            }
            if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len)
            if (this.src.charCodeAt(i) !== 92) return this.failPeekAt(UNEXPECTED_END_OF_HEX_ESCAPE, i)
            i++
            if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len)
            if (this.src.charCodeAt(i) !== 117) return this.failPeekAt(UNEXPECTED_END_OF_HEX_ESCAPE, i)
            i++
            const n2 = this.hex4(i)
            if (n2 < 0) return this.failHex(i)
            i += 4
            if (n2 < 0xdc00 || n2 > 0xdfff) return this.fail(LONE_LEADING_SURROGATE_IN_HEX_ESCAPE, i)
            out += String.fromCharCode(n, n2)
            break
          }
          default:
            // the escape byte was consumed with next(): index is just past its first byte
            return this.failPeekAt(INVALID_ESCAPE, i - 1)
        }
        chunk = i
        continue
      }
      if (c < 32) return this.failPeekAt(CONTROL_CHARACTER_WHILE_PARSING_STRING, i)
      if (c >= 0xd800 && c <= 0xdfff) {
        if (c <= 0xdbff && i + 1 < this.len) {
          const d = this.src.charCodeAt(i + 1)
          if (d >= 0xdc00 && d <= 0xdfff) {
            i += 2
            continue
          }
        }
        lone = true
      }
      i++
    }
    return this.fail(EOF_WHILE_PARSING_STRING, this.len)
  }

  /** `true` / `false` / `null` did not match at `pos`: serde's `parse_ident` failure. */
  private failIdent(word: string): undefined {
    for (let k = 1; k < word.length; k++) {
      const i = this.pos + k
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_VALUE, this.len)
      if (this.src.charCodeAt(i) !== word.charCodeAt(k)) return this.failPeekAt(EXPECTED_SOME_IDENT, i)
    }
    return this.failPeekAt(EXPECTED_SOME_IDENT, this.pos)
  }

  /** Any digit 1-9 in `src[from, to)`: serde's `significand != 0`. */
  private hasNonZeroDigit(from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const c = this.src.charCodeAt(i)
      if (c >= 49 && c <= 57) return true
    }
    return false
  }

  /** A number; `pos` is at `-` or a digit. */
  private parseNumber(): Json | undefined {
    const start = this.pos
    let i = this.pos
    let c = this.src.charCodeAt(i)
    const negative = c === 45
    if (negative) {
      i++
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_VALUE, this.len)
      c = this.src.charCodeAt(i)
    }
    const intStart = i
    let value = 0
    if (c === 48) {
      i++
      // there can be only one leading '0'
      if (i < this.len && isDigit(this.src.charCodeAt(i))) return this.failPeekAt(INVALID_NUMBER, i)
    } else if (c >= 49 && c <= 57) {
      value = c - 48
      i++
      while (i < this.len) {
        const d = this.src.charCodeAt(i)
        if (d < 48 || d > 57) break
        value = value * 10 + (d - 48)
        i++
      }
    } else {
      return this.failPeekAt(INVALID_NUMBER, i)
    }
    const intEnd = i
    let isFloat = false
    c = i < this.len ? this.src.charCodeAt(i) : -1
    if (c === 46) {
      isFloat = true
      i++
      const fracStart = i
      while (i < this.len && isDigit(this.src.charCodeAt(i))) i++
      if (i === fracStart) {
        // at least one digit must follow the decimal point
        return i < this.len ? this.failPeekAt(INVALID_NUMBER, i) : this.failPeekAt(EOF_WHILE_PARSING_VALUE, i)
      }
      c = i < this.len ? this.src.charCodeAt(i) : -1
    }
    if (c === 101 || c === 69) {
      isFloat = true
      const mantissaEnd = i
      i++
      let positiveExp = true
      if (i < this.len) {
        const s = this.src.charCodeAt(i)
        if (s === 43 || s === 45) {
          positiveExp = s === 43
          i++
        }
      }
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_VALUE, this.len)
      const first = this.src.charCodeAt(i)
      if (!isDigit(first)) return this.failPeekAt(INVALID_NUMBER, i)
      i++
      let exp = first - 48
      while (i < this.len) {
        const d = this.src.charCodeAt(i)
        if (d < 48 || d > 57) break
        i++
        if (exp >= 214748364 && (exp > 214748364 || d > 55)) {
          // serde's i32 exponent overflows: `parse_exponent_overflow` reports a non-zero number
          // with a positive exponent right after the offending digit; anything else is +-0
          // (which is also the correctly rounded value).
          if (positiveExp && this.hasNonZeroDigit(intStart, mantissaEnd)) return this.fail(NUMBER_OUT_OF_RANGE, i)
          while (i < this.len && isDigit(this.src.charCodeAt(i))) i++
          break
        }
        exp = exp * 10 + (d - 48)
      }
    }
    this.pos = i
    if (isFloat) return this.toFloat(start, i)
    // `value` accumulated the digits in doubles: exact while below 2^53, and at least 2^53 when
    // the literal is (rounding is monotonic), so this test is exact.
    if (value <= 9007199254740991) {
      if (!negative) return value
      // `-0` is a float in serde_json (parse_number: `neg >= 0` becomes F64)
      return value === 0 ? new JsonFloat(-0) : -value
    }
    // beyond 2^53: an integer while it fits u64 (non-negative) or i64 (negative), else a float
    const digits = intEnd - intStart
    const limitDigits = negative ? 19 : 20
    if (digits > limitDigits) return this.toFloat(start, i)
    if (digits === limitDigits && this.src.slice(intStart, intEnd) > (negative ? I64_MIN_DIGITS : U64_MAX_DIGITS)) {
      return this.toFloat(start, i)
    }
    // scanning only validates: any integer will do (the literal is the canonical text)
    if (this.scanning) return 0
    const text = this.src.slice(start, i)
    if (text === this.lastBigText) return this.lastBig
    this.lastBigText = text
    this.lastBig = BigInt(text)
    return this.lastBig
  }

  private toFloat(start: number, end: number): JsonFloat | undefined {
    const f = Number(this.src.slice(start, end))
    // f64_from_parts: "number out of range" at the end of the literal
    if (f === Infinity || f === -Infinity) return this.fail(NUMBER_OUT_OF_RANGE, end)
    return new JsonFloat(f)
  }

  // ---------------------------------------------------------------------------------------------
  // Values

  /** `Deserializer::parse_object_colon`, then the whitespace before the member value. */
  private parseColon(): boolean {
    const c = this.skipWs()
    if (c === 58) {
      this.pos++
      return true
    }
    this.failPeekAt(c === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, this.pos)
    return false
  }

  /** One complete value starting at `pos` (leading whitespace allowed). */
  private parseTree(maxDepth: number): Json | undefined {
    let depth = 0
    let value: Json | undefined
    for (;;) {
      // ---- a value is expected at pos
      const c = this.skipWs()
      switch (c) {
        case 34:
          this.pos++
          value = this.parseString()
          if (value === undefined) return undefined
          break
        case 123: {
          if (depth >= maxDepth) return this.failPeekAt(RECURSION_LIMIT_EXCEEDED, this.pos)
          this.pos++
          const k = this.skipWs()
          if (k === 125) {
            this.pos++
            value = new Map<string, Json>()
            break
          }
          if (k !== 34) return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, this.pos)
          this.pos++
          const key = this.parseString()
          if (key === undefined || !this.parseColon()) return undefined
          this.frames[depth] = new Map<string, Json>()
          this.keys[depth] = key
          depth++
          continue
        }
        case 91: {
          if (depth >= maxDepth) return this.failPeekAt(RECURSION_LIMIT_EXCEEDED, this.pos)
          this.pos++
          const k = this.skipWs()
          if (k === 93) {
            this.pos++
            value = []
            break
          }
          if (k === -1) return this.failPeekAt(EOF_WHILE_PARSING_LIST, this.pos)
          this.frames[depth] = []
          depth++
          continue
        }
        case 116:
          if (
            this.pos + 3 < this.len && this.src.charCodeAt(this.pos + 1) === 114 &&
            this.src.charCodeAt(this.pos + 2) === 117 &&
            this.src.charCodeAt(this.pos + 3) === 101
          ) {
            this.pos += 4
            value = true
            break
          }
          return this.failIdent("true")
        case 102:
          if (
            this.pos + 4 < this.len && this.src.charCodeAt(this.pos + 1) === 97 &&
            this.src.charCodeAt(this.pos + 2) === 108 &&
            this.src.charCodeAt(this.pos + 3) === 115 && this.src.charCodeAt(this.pos + 4) === 101
          ) {
            this.pos += 5
            value = false
            break
          }
          return this.failIdent("false")
        case 110:
          if (
            this.pos + 3 < this.len && this.src.charCodeAt(this.pos + 1) === 117 &&
            this.src.charCodeAt(this.pos + 2) === 108 &&
            this.src.charCodeAt(this.pos + 3) === 108
          ) {
            this.pos += 4
            value = null
            break
          }
          return this.failIdent("null")
        case -1:
          return this.failPeekAt(EOF_WHILE_PARSING_VALUE, this.pos)
        default:
          if (c === 45 || (c >= 48 && c <= 57)) {
            value = this.parseNumber()
            if (value === undefined) return undefined
            break
          }
          return this.failPeekAt(EXPECTED_SOME_VALUE, this.pos)
      }

      // ---- `value` is complete: hand it to the enclosing containers
      for (;;) {
        if (depth === 0) return value
        const frame = this.frames[depth - 1]
        if (Array.isArray(frame)) {
          frame.push(value)
          const k = this.skipWs()
          if (k === 44) {
            this.pos++
            const n = this.skipWs()
            if (n === 93) return this.failPeekAt(TRAILING_COMMA, this.pos)
            if (n === -1) return this.failPeekAt(EOF_WHILE_PARSING_VALUE, this.pos)
            break
          }
          if (k === 93) {
            this.pos++
            value = frame
            depth--
            continue
          }
          return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_LIST : EXPECTED_LIST_COMMA_OR_END, this.pos)
        }
        if (frame === undefined) return undefined
        const size = frame.size
        frame.set(this.keys[depth - 1] ?? "", value)
        if (frame.size === size) this.repeated = true
        const k = this.skipWs()
        if (k === 44) {
          this.pos++
          const n = this.skipWs()
          if (n === 34) {
            this.pos++
            const key = this.parseString()
            if (key === undefined || !this.parseColon()) return undefined
            this.keys[depth - 1] = key
            break
          }
          return this.failPeekAt(
            n === 125 ? TRAILING_COMMA : n === -1 ? EOF_WHILE_PARSING_VALUE : KEY_MUST_BE_A_STRING,
            this.pos
          )
        }
        if (k === 125) {
          this.pos++
          value = frame
          depth--
          continue
        }
        return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_OBJECT_COMMA_OR_END, this.pos)
      }
    }
  }

  private parseText(text: string, maxDepth: number): Either.Either<Json, JsonParseError> {
    this.src = text
    this.len = text.length
    this.pos = 0
    this.clean = !SPECIAL.test(text)
    this.nextBackslash = -1
    this.scanning = false
    this.repeated = false
    let value = this.parseTree(maxDepth)
    // serde_json::from_str: Deserializer::end rejects anything but whitespace after the value
    if (value !== undefined && this.skipWs() !== -1) value = this.failPeekAt(TRAILING_CHARACTERS, this.pos)
    const result = value === undefined ? Either.left(this.buildError()) : Either.right(value)
    this.src = ""
    this.frames.length = 0
    this.keys.length = 0
    return result
  }

  /** Parse one JSON text; never throws. */
  parse(text: string, maxDepth: number): Either.Either<Json, JsonParseError> {
    try {
      return this.parseText(text, maxDepth)
    } catch (e) {
      // Not reachable for well-formed calls; only engine limits (memory) end up here.
      this.src = ""
      this.frames.length = 0
      this.keys.length = 0
      return Either.left(
        new JsonParseError({
          category: "Syntax",
          message: e instanceof Error ? e.message : String(e),
          line: 0,
          column: 0
        })
      )
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Literals

  /** `true` / `false` / `null` at `pos` (its first letter is `c`), or undefined (error recorded). */
  private literal(c: number): Json | undefined {
    if (c === 116) {
      if (
        this.pos + 3 < this.len && this.src.charCodeAt(this.pos + 1) === 114 &&
        this.src.charCodeAt(this.pos + 2) === 117 &&
        this.src.charCodeAt(this.pos + 3) === 101
      ) {
        this.pos += 4
        return true
      }
      return this.failIdent("true")
    }
    if (c === 102) {
      if (
        this.pos + 4 < this.len && this.src.charCodeAt(this.pos + 1) === 97 &&
        this.src.charCodeAt(this.pos + 2) === 108 &&
        this.src.charCodeAt(this.pos + 3) === 115 && this.src.charCodeAt(this.pos + 4) === 101
      ) {
        this.pos += 5
        return false
      }
      return this.failIdent("false")
    }
    if (
      this.pos + 3 < this.len && this.src.charCodeAt(this.pos + 1) === 117 &&
      this.src.charCodeAt(this.pos + 2) === 108 &&
      this.src.charCodeAt(this.pos + 3) === 108
    ) {
      this.pos += 4
      return null
    }
    return this.failIdent("null")
  }

  // ---------------------------------------------------------------------------------------------
  // Scanning: exactly parseTree's grammar, errors and positions, without building the value, and
  // finding out on the way whether the text is already what `print` writes for that value
  // (compact, every number and string spelled as the printer spells it, no repeated key).

  /** The text scanned last is byte for byte `print(value)`. */
  private canon = true

  /** Kinds of the open containers while scanning: 1 = array, 2 = object. */
  private readonly kinds: Array<number> = []
  /** Raw spans (start, end — inside the quotes) of the keys of the open objects, innermost last. */
  private keySpans = new Int32Array(256)
  /** Used length of `keySpans`. */
  private keyTop = 0
  /** Where each open object's spans begin in `keySpans`. */
  private readonly keyBase: Array<number> = []
  /** An object with many keys switches to a Set of its (raw) keys. */
  private readonly keySets: Array<Set<string> | undefined> = []
  /**
   * Per open object, 64 bits (two words) of a cheap key signature (length, first and last code
   * unit): keys are compared only when their signature bit was already set.
   */
  private keyBits = new Int32Array(2 * 64)

  /** `skipWs`, noting that insignificant whitespace makes the text non-canonical. */
  private skipWsScan(): number {
    const p = this.pos
    const c = this.skipWs()
    if (this.pos !== p) this.canon = false
    return c
  }

  /** A string's contents, `pos` just after the opening quote: parseString's errors, no value. */
  private scanString(): boolean {
    const start = this.pos
    if (this.clean) {
      const end = this.src.indexOf("\"", start)
      if (end >= 0) {
        if (this.nextBackslash < start) {
          this.nextBackslash = this.src.indexOf("\\", start)
          if (this.nextBackslash < 0) this.nextBackslash = this.len
        }
        if (end < this.nextBackslash) {
          // no escape, no control character: the printer writes exactly this
          this.pos = end + 1
          return true
        }
      }
    }
    let i = start
    while (i < this.len) {
      const c = this.src.charCodeAt(i)
      if (c === 34) {
        this.pos = i + 1
        return true
      }
      if (c === 92 || c < 32 || (c >= 0xd800 && c <= 0xdfff)) break
      i++
    }
    if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len) ?? false
    const value = this.parseStringSlow(start, i)
    if (value === undefined) return false
    // escapes (or a raw surrogate pair): canonical when spelled as the printer spells them
    if (this.canon && print(value) !== this.src.slice(start - 1, this.pos)) this.canon = false
    return true
  }

  private sameText(a: number, b: number, n: number): boolean {
    for (let k = 0; k < n; k++) if (this.src.charCodeAt(a + k) !== this.src.charCodeAt(b + k)) return false
    return true
  }

  /**
   * A key of the object open at `frame`, spanning `[start, end)`: a repeat makes the text
   * non-canonical (the value keeps the first position and the last value). Keys are compared
   * raw, which is exact while everything so far is canonical (one spelling per string).
   */
  private noteKey(frame: number, start: number, end: number): void {
    const set = this.keySets[frame]
    if (set !== undefined) {
      const key = this.src.slice(start, end)
      if (set.has(key)) this.canon = false
      else set.add(key)
      return
    }
    const spans = this.keySpans
    const base = this.keyBase[frame] ?? 0
    const n = this.keyTop
    const size = end - start
    const c0 = size > 0 ? this.src.charCodeAt(start) : 0
    const h = (size * 31 + c0 * 7 + (size > 0 ? this.src.charCodeAt(end - 1) : 0)) & 63
    const word = 2 * frame + (h >> 5)
    const bit = 1 << (h & 31)
    const bits = this.keyBits[word] as number
    this.keyBits[word] = bits | bit
    if ((bits & bit) !== 0) {
      for (let j = base; j < n; j += 2) {
        const s = spans[j] as number
        // (an empty key has no first code unit to compare: two empty keys are a repeat)
        if (
          (spans[j + 1] as number) - s === size && (size === 0 || this.src.charCodeAt(s) === c0) &&
          this.sameText(s, start, size)
        ) {
          this.canon = false
          return
        }
      }
    }
    if (n - base < 2 * LINEAR_KEYS) {
      if (n + 2 > spans.length) {
        this.keySpans = new Int32Array(spans.length * 2)
        this.keySpans.set(spans)
      }
      this.keySpans[n] = start
      this.keySpans[n + 1] = end
      this.keyTop = n + 2
      return
    }
    const all = new Set<string>([this.src.slice(start, end)])
    for (let j = base; j < n; j += 2) all.add(this.src.slice(spans[j] as number, spans[j + 1] as number))
    this.keySets[frame] = all
  }

  /** A member key and its colon; `pos` is at the key's opening quote. */
  private scanKey(frame: number): boolean {
    this.pos++
    const start = this.pos
    if (!this.scanString()) return false
    if (this.canon) this.noteKey(frame, start, this.pos - 1)
    const c = this.skipWsScan()
    if (c === 58) {
      this.pos++
      return true
    }
    this.failPeekAt(c === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, this.pos)
    return false
  }

  /** Closes the object at `frame` (its keys are forgotten). */
  private closeObject(frame: number): void {
    this.keyTop = this.keyBase[frame] ?? 0
    this.keySets[frame] = undefined
  }

  /**
   * A number, `pos` at `-` or a digit. A short plain integer (the common case) is only skipped —
   * it is valid and prints as its literal (except `-0`, a float); anything else goes through
   * parseNumber for the exact errors and value.
   */
  private scanNumber(): boolean {
    const start = this.pos
    let i = start
    if (this.src.charCodeAt(i) === 45) i++
    const first = i
    while (i < this.len) {
      const d = this.src.charCodeAt(i)
      if (d < 48 || d > 57) break
      i++
    }
    const digits = i - first
    if (digits > 0 && digits <= 15 && (digits === 1 || this.src.charCodeAt(first) !== 48)) {
      const next = i < this.len ? this.src.charCodeAt(i) : -1
      if (next !== 46 && next !== 101 && next !== 69) {
        if (first > start && digits === 1 && this.src.charCodeAt(first) === 48) this.canon = false
        this.pos = i
        return true
      }
    }
    const value = this.parseNumber()
    if (value === undefined) return false
    // integers print as their literal; a float only if the literal is its shortest form
    if (this.canon && value instanceof JsonFloat && printFloat(value.value) !== this.src.slice(start, this.pos)) {
      this.canon = false
    }
    return true
  }

  /** One complete value at `pos`, validated exactly as parseTree parses it; sets `canon`. */
  private scanTree(maxDepth: number): boolean {
    let depth = 0
    for (;;) {
      // ---- a value is expected at pos
      const c = this.skipWsScan()
      switch (c) {
        case 34:
          this.pos++
          if (!this.scanString()) return false
          break
        case 123: {
          if (depth >= maxDepth) return this.failPeekAt(RECURSION_LIMIT_EXCEEDED, this.pos) ?? false
          this.pos++
          const k = this.skipWsScan()
          if (k === 125) {
            this.pos++
            break
          }
          if (k !== 34) {
            return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, this.pos) ?? false
          }
          this.kinds[depth] = 2
          this.keyBase[depth] = this.keyTop
          this.keySets[depth] = undefined
          if (2 * depth + 2 > this.keyBits.length) {
            const bits = new Int32Array(this.keyBits.length * 2)
            bits.set(this.keyBits)
            this.keyBits = bits
          }
          this.keyBits[2 * depth] = 0
          this.keyBits[2 * depth + 1] = 0
          if (!this.scanKey(depth)) return false
          depth++
          continue
        }
        case 91: {
          if (depth >= maxDepth) return this.failPeekAt(RECURSION_LIMIT_EXCEEDED, this.pos) ?? false
          this.pos++
          const k = this.skipWsScan()
          if (k === 93) {
            this.pos++
            break
          }
          if (k === -1) return this.failPeekAt(EOF_WHILE_PARSING_LIST, this.pos) ?? false
          this.kinds[depth] = 1
          depth++
          continue
        }
        case 116:
        case 102:
        case 110:
          if (this.literal(c) === undefined) return false
          break
        case -1:
          return this.failPeekAt(EOF_WHILE_PARSING_VALUE, this.pos) ?? false
        default: {
          if (c === 45 || (c >= 48 && c <= 57)) {
            if (!this.scanNumber()) return false
            break
          }
          return this.failPeekAt(EXPECTED_SOME_VALUE, this.pos) ?? false
        }
      }

      // ---- a value is complete: continue its enclosing containers
      for (;;) {
        if (depth === 0) return true
        const frame = depth - 1
        const k = this.skipWsScan()
        if (this.kinds[frame] === 1) {
          if (k === 44) {
            this.pos++
            const n = this.skipWsScan()
            if (n === 93) return this.failPeekAt(TRAILING_COMMA, this.pos) ?? false
            if (n === -1) return this.failPeekAt(EOF_WHILE_PARSING_VALUE, this.pos) ?? false
            break
          }
          if (k === 93) {
            this.pos++
            depth--
            continue
          }
          return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_LIST : EXPECTED_LIST_COMMA_OR_END, this.pos) ?? false
        }
        if (k === 44) {
          this.pos++
          const n = this.skipWsScan()
          if (n === 34) {
            if (!this.scanKey(frame)) return false
            break
          }
          return this.failPeekAt(
            n === 125 ? TRAILING_COMMA : n === -1 ? EOF_WHILE_PARSING_VALUE : KEY_MUST_BE_A_STRING,
            this.pos
          ) ?? false
        }
        if (k === 125) {
          this.pos++
          this.closeObject(frame)
          depth--
          continue
        }
        return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_OBJECT_COMMA_OR_END, this.pos) ?? false
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ignoring: serde_json's `Deserializer::ignore_value` (de.rs), what `IgnoredAny` — an unknown
  // member of a derived struct — goes through. It is NOT the grammar of parseTree: no recursion
  // limit (an explicit stack), numbers are only scanned (`ignore_integer` / `ignore_decimal` /
  // `ignore_exponent`: no range check, different EOF errors), strings use `SliceRead::ignore_str`
  // (a control character is reported before it is consumed; `\u` escapes are not checked for
  // surrogates), and `[1,]` / `{"a":1,}` are "expected value" / "key must be a string".

  private readonly ignoreStack: Array<number> = []

  /** `SliceRead::ignore_str` + `ignore_escape` (read.rs); `pos` is just after the opening quote. */
  private ignoreString(): boolean {
    let i = this.pos
    for (;;) {
      while (i < this.len) {
        const c = this.src.charCodeAt(i)
        if (c === 34 || c === 92 || c < 32) break
        i++
      }
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len) ?? false
      const c = this.src.charCodeAt(i)
      if (c === 34) {
        this.pos = i + 1
        return true
      }
      if (c !== 92) return this.fail(CONTROL_CHARACTER_WHILE_PARSING_STRING, i) ?? false
      i++
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_STRING, this.len) ?? false
      const e = this.src.charCodeAt(i)
      i++
      if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) continue
      if (e !== 117) return this.failPeekAt(INVALID_ESCAPE, i - 1) ?? false
      if (this.hex4(i) < 0) return this.failHex(i) ?? false
      i += 4
    }
  }

  /** `ignore_exponent`: `pos` is at `e` / `E`. */
  private ignoreExponent(): boolean {
    this.pos++
    if (this.pos < this.len) {
      const s = this.src.charCodeAt(this.pos)
      if (s === 43 || s === 45) this.pos++
    }
    // next_char_or_null: at the end it reads `\0` without consuming anything
    if (this.pos >= this.len) return this.fail(INVALID_NUMBER, this.len) ?? false
    if (!isDigit(this.src.charCodeAt(this.pos))) return this.failPeekAt(INVALID_NUMBER, this.pos) ?? false
    this.pos++
    while (this.pos < this.len && isDigit(this.src.charCodeAt(this.pos))) this.pos++
    return true
  }

  /** `ignore_decimal`: `pos` is at `.`. */
  private ignoreDecimal(): boolean {
    this.pos++
    const first = this.pos
    while (this.pos < this.len && isDigit(this.src.charCodeAt(this.pos))) this.pos++
    // a peek error even at the end of the input (parse_decimal reports EOF there)
    if (this.pos === first) return this.failPeekAt(INVALID_NUMBER, this.pos) ?? false
    const c = this.pos < this.len ? this.src.charCodeAt(this.pos) : -1
    return c === 101 || c === 69 ? this.ignoreExponent() : true
  }

  /** `ignore_integer`: `pos` is at the first digit (after a `-`). */
  private ignoreInteger(): boolean {
    if (this.pos >= this.len) return this.fail(INVALID_NUMBER, this.len) ?? false
    const c = this.src.charCodeAt(this.pos)
    if (c === 48) {
      this.pos++
      if (this.pos < this.len && isDigit(this.src.charCodeAt(this.pos))) {
        return this.failPeekAt(INVALID_NUMBER, this.pos) ?? false
      }
    } else if (c >= 49 && c <= 57) {
      this.pos++
      while (this.pos < this.len && isDigit(this.src.charCodeAt(this.pos))) this.pos++
    } else {
      // consumed by next_char_or_null, then `error`
      return this.failPeekAt(INVALID_NUMBER, this.pos) ?? false
    }
    const d = this.pos < this.len ? this.src.charCodeAt(this.pos) : -1
    return d === 46 ? this.ignoreDecimal() : d === 101 || d === 69 ? this.ignoreExponent() : true
  }

  /** `Deserializer::ignore_value`, transcribed (scratch = `ignoreStack`). */
  private ignoreTree(): boolean {
    const stack = this.ignoreStack
    stack.length = 0
    let enclosing = 0
    for (;;) {
      const c = this.skipWs()
      let frame = 0
      switch (c) {
        case -1:
          return this.failPeekAt(EOF_WHILE_PARSING_VALUE, this.pos) ?? false
        case 116:
        case 102:
        case 110:
          if (this.literal(c) === undefined) return false
          break
        case 45:
          this.pos++
          if (!this.ignoreInteger()) return false
          break
        case 34:
          this.pos++
          if (!this.ignoreString()) return false
          break
        case 91:
        case 123:
          if (enclosing !== 0) stack.push(enclosing)
          enclosing = 0
          this.pos++
          frame = c
          break
        default:
          if (c >= 48 && c <= 57) {
            if (!this.ignoreInteger()) return false
            break
          }
          return this.failPeekAt(EXPECTED_SOME_VALUE, this.pos) ?? false
      }
      let acceptComma = false
      if (frame === 0) {
        if (enclosing !== 0) {
          frame = enclosing
          enclosing = 0
        } else {
          const top = stack.pop()
          if (top === undefined) return true
          frame = top
        }
        acceptComma = true
      }
      for (;;) {
        const k = this.skipWs()
        if (k === 44 && acceptComma) {
          this.pos++
          break
        }
        if ((k === 93 && frame === 91) || (k === 125 && frame === 123)) {
          this.pos++
          const top = stack.pop()
          if (top === undefined) return true
          frame = top
          acceptComma = true
          continue
        }
        if (k === -1) {
          return this.failPeekAt(frame === 91 ? EOF_WHILE_PARSING_LIST : EOF_WHILE_PARSING_OBJECT, this.pos) ?? false
        }
        if (acceptComma) {
          return this.failPeekAt(frame === 91 ? EXPECTED_LIST_COMMA_OR_END : EXPECTED_OBJECT_COMMA_OR_END, this.pos) ??
            false
        }
        break
      }
      if (frame === 123) {
        const k = this.skipWs()
        if (k !== 34) {
          return this.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, this.pos) ?? false
        }
        this.pos++
        if (!this.ignoreString()) return false
        const d = this.skipWs()
        if (d !== 58) return this.failPeekAt(d === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, this.pos) ?? false
        this.pos++
      }
      enclosing = frame
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The cursor: serde_json's Deserializer primitives over one text, for callers that replay a
  // serde-derived `Deserialize` impl (the WAL entry). Positions are UTF-16 indices into the text;
  // errors carry serde's positions (UTF-8 columns), exactly as `parse` reports them.

  /** Start reading `text` at index 0 (one text at a time; end with `release`). */
  begin(text: string): void {
    this.src = text
    this.len = text.length
    this.pos = 0
    this.clean = !SPECIAL.test(text)
    this.nextBackslash = -1
    this.errMessage = undefined
  }
  /** Done with the text. */
  release(): void {
    this.src = ""
    this.frames.length = 0
    this.keys.length = 0
    this.keyTop = 0
    this.scanning = false
  }
  /** The current index (the next code unit to read). */
  position(): number {
    return this.pos
  }
  /** Move to an index (back to a value already read, to read it again). */
  seek(at: number): void {
    this.pos = at
    // the backslash cache only ever moves forward
    this.nextBackslash = -1
  }
  /** `parse_whitespace`: skip JSON whitespace; the code unit at the index, or -1 at the end. */
  peek(): number {
    return this.skipWs()
  }
  /** `eat_char`: consume the code unit at the index (only ever an ASCII one). */
  advance(): void {
    this.pos++
  }
  /** `parse_str`, the index just after the opening quote. */
  readString(): string | undefined {
    return this.parseString()
  }
  /** `parse_integer` and what follows, the index at `-` or a digit (integers exact, `-0` a float). */
  readNumber(): Json | undefined {
    return this.parseNumber()
  }
  /** `true` / `false` / `null` at the index (`parse_ident` errors). */
  readLiteral(): Json | undefined {
    return this.literal(this.src.charCodeAt(this.pos))
  }
  /** `deserialize_any` into a value, nesting at most `maxDepth` more levels. */
  readValue(maxDepth: number): Json | undefined {
    return this.parseTree(maxDepth)
  }
  /** `readValue`'s validation and errors without building the value; see `canonical`. */
  scanValue(maxDepth: number): boolean {
    this.canon = true
    this.scanning = true
    this.keyTop = 0
    const ok = this.scanTree(maxDepth)
    this.scanning = false
    this.keyTop = 0
    return ok
  }
  /** Whether the text `scanValue` just read is exactly what `print` writes for its value. */
  canonical(): boolean {
    return this.canon
  }
  /** `ignore_value` (an `IgnoredAny`). */
  ignoreValue(): boolean {
    return this.ignoreTree()
  }
  /** The text between two indices. */
  slice(from: number, to: number): string {
    return this.src.slice(from, to)
  }
  /** `peek_error(code)` at the index; returns false. */
  failPeek(code: number): false {
    return this.failPeekAt(code, this.pos) ?? false
  }
  /** `error(code)` (the bytes before the index consumed); returns false. */
  failError(code: number): false {
    return this.fail(code, this.pos) ?? false
  }
  /** A Data error (`Error::custom(message)` positioned by `fix_position`, i.e. `error`) at the index. */
  failData(message: string): false {
    this.failAtByte(0, this.byteIndex(this.pos))
    this.errMessage = message
    return false
  }
  /** The error recorded by the last failure. */
  error(): JsonParseError {
    return this.buildError()
  }
}
