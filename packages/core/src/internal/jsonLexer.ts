/**
 * The lexer of the JSON parser (serde_json 1.0.150's `Deserializer` over a `SliceRead`): the
 * reading state of one text (`Lexer`: the text, the index, the last error) and the token readers
 * over it — whitespace, strings, numbers (integers exact, `-0` and literals with a fraction or an
 * exponent floats, correctly rounded), the literals `true` / `false` / `null` — with serde_json's
 * errors. The three walks over a text build on it: `parseTree` (`jsonParse.ts`, the value),
 * `scanTree` (`jsonScan.ts`, validation and canonical form without the value) and `ignoreTree`
 * (`jsonIgnore.ts`, serde's `ignore_value`); `Cursor` (`jsonParse.ts`) owns one lexer per reader.
 *
 * Error positions follow serde_json's `SliceRead`: `index` is the number of UTF-8 bytes
 * consumed so far; `Deserializer::error` reports `position_of_index(index)` and
 * `Deserializer::peek_error` reports `position_of_index(min(len, index + 1))`, where
 * `position_of_index(i)` is line = 1 + number of LF bytes in `input[..i]`, column = `i` minus
 * the byte offset just after the last LF in `input[..i]` (so the column can be 0).
 * Positions are computed from the UTF-16 index only when an error is built.
 *
 * The members are public to the parser's internal modules (the walks read and move `pos`
 * directly: the hot path), never exported by `Json.ts` (`Json.Cursor` keeps its lexer private).
 */
import {
  CONTROL_CHARACTER_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_SOME_IDENT,
  FIRST_SYNTAX,
  INVALID_ESCAPE,
  INVALID_NUMBER,
  INVALID_UNICODE_CODE_POINT,
  LONE_LEADING_SURROGATE_IN_HEX_ESCAPE,
  MESSAGES,
  NUMBER_OUT_OF_RANGE,
  UNEXPECTED_END_OF_HEX_ESCAPE
} from "./jsonErrorCode.js"
import type { Json } from "./jsonValue.js"
import { JsonFloat, JsonParseError } from "./jsonValue.js"

const U64_MAX_DIGITS = "18446744073709551615"
const I64_MIN_DIGITS = "9223372036854775808"
// A single native scan per text: far cheaper than testing every string character in JS.
const SPECIAL = /[\u0000-\u001f\ud800-\udfff]/

const hexValue = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

export const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** One text being read, and serde_json's token readers over it. */
export class Lexer {
  /** The text being read, its length, and the index of the next code unit to read. */
  src = ""
  len = 0
  pos = 0
  /** The error code of the last failure (see `jsonErrorCode.ts`). */
  errCode = 0

  /** serde's byte index of the error (the argument of `position_of_index`). */
  errByte = 0

  /** A Data error's text (`Error::custom`), or undefined for a syntax / EOF error code. */
  errMessage: string | undefined = undefined

  /** No control character and no surrogate anywhere in `src` (see parseString). */
  clean = false

  /** Index of the first backslash at or after the last string start checked, or `len`. */
  nextBackslash = -1

  /** `scanValue` is running: integers beyond 2^53 need not become bigints. */
  scanning = false

  /** The last integer literal beyond 2^53 and its value (WAL lines repeat u64::MAX a lot). */
  lastBigText = ""
  lastBig = 0n

  /** UTF-8 length of `src[0, end)`; a lone surrogate counts 3 bytes (WTF-8). */
  byteIndex(end: number): number {
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
  failAtByte(code: number, byte: number): undefined {
    this.errCode = code
    this.errByte = byte
    this.errMessage = undefined
    return undefined
  }

  /** `Deserializer::error`: the bytes before UTF-16 index `end` have been consumed. */
  fail(code: number, end: number): undefined {
    return this.failAtByte(code, this.byteIndex(end))
  }

  /** `Deserializer::peek_error`: the byte at UTF-16 index `at` was peeked (or `at` is the end). */
  failPeekAt(code: number, at: number): undefined {
    return this.failAtByte(code, at >= this.len ? this.byteIndex(this.len) : this.byteIndex(at) + 1)
  }

  /** `SliceRead::decode_hex_escape` failure at UTF-16 index `at` (just after `\u`). */
  failHex(at: number): undefined {
    const start = this.byteIndex(at)
    const total = this.byteIndex(this.len)
    // fewer than four bytes left: index = len, EOF; otherwise index += 4 and invalid escape
    return total - start < 4
      ? this.failAtByte(EOF_WHILE_PARSING_STRING, total)
      : this.failAtByte(INVALID_ESCAPE, start + 4)
  }

  buildError(): JsonParseError {
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

  /** Start reading `text` at index 0 (the state of any previous text is dropped). */
  start(text: string): void {
    this.src = text
    this.len = text.length
    this.pos = 0
    this.clean = !SPECIAL.test(text)
    this.nextBackslash = -1
  }

  /** Skip JSON whitespace; the code unit at `pos`, or -1 at the end. */
  skipWs(): number {
    while (this.pos < this.len) {
      const c = this.src.charCodeAt(this.pos)
      if (c > 32 || (c !== 32 && c !== 10 && c !== 13 && c !== 9)) return c
      this.pos++
    }
    return -1
  }

  /** Four hex digits at `at`, or -1. */
  hex4(at: number): number {
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
  parseString(): string | undefined {
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
  parseStringSlow(start: number, from: number): string | undefined {
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
  failIdent(word: string): undefined {
    for (let k = 1; k < word.length; k++) {
      const i = this.pos + k
      if (i >= this.len) return this.fail(EOF_WHILE_PARSING_VALUE, this.len)
      if (this.src.charCodeAt(i) !== word.charCodeAt(k)) return this.failPeekAt(EXPECTED_SOME_IDENT, i)
    }
    return this.failPeekAt(EXPECTED_SOME_IDENT, this.pos)
  }

  /** Any digit 1-9 in `src[from, to)`: serde's `significand != 0`. */
  hasNonZeroDigit(from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const c = this.src.charCodeAt(i)
      if (c >= 49 && c <= 57) return true
    }
    return false
  }

  /** A number; `pos` is at `-` or a digit. */
  parseNumber(): Json | undefined {
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

  toFloat(start: number, end: number): JsonFloat | undefined {
    const f = Number(this.src.slice(start, end))
    // f64_from_parts: "number out of range" at the end of the literal
    if (f === Infinity || f === -Infinity) return this.fail(NUMBER_OUT_OF_RANGE, end)
    return new JsonFloat(f)
  }

  /** `true` / `false` / `null` at `pos` (its first letter is `c`), or undefined (error recorded). */
  literal(c: number): Json | undefined {
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
}
