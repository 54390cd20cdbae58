/**
 * Ignoring a JSON value: serde_json's `Deserializer::ignore_value` (de.rs), what `IgnoredAny` —
 * an unknown member of a derived struct — goes through. It is NOT the grammar of `parseTree`
 * (`jsonParse.ts`): no recursion limit (an explicit stack), numbers are only scanned
 * (`ignore_integer` / `ignore_decimal` / `ignore_exponent`: no range check, different EOF
 * errors), strings use `SliceRead::ignore_str` (a control character is reported before it is
 * consumed; `\u` escapes are not checked for surrogates), and `[1,]` / `{"a":1,}` are "expected
 * value" / "key must be a string".
 */
import {
  CONTROL_CHARACTER_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_LIST,
  EOF_WHILE_PARSING_OBJECT,
  EOF_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_COLON,
  EXPECTED_LIST_COMMA_OR_END,
  EXPECTED_OBJECT_COMMA_OR_END,
  EXPECTED_SOME_VALUE,
  INVALID_ESCAPE,
  INVALID_NUMBER,
  KEY_MUST_BE_A_STRING
} from "./jsonErrorCode.js"
import { isDigit, type Lexer } from "./jsonLexer.js"

/** `ignore_value` over a lexer, with its scratch stack (one per reader: `Cursor`). */
export class Ignorer {
  private readonly ignoreStack: Array<number> = []

  /** `SliceRead::ignore_str` + `ignore_escape` (read.rs); `pos` is just after the opening quote. */
  private ignoreString(lx: Lexer): boolean {
    let i = lx.pos
    for (;;) {
      while (i < lx.len) {
        const c = lx.src.charCodeAt(i)
        if (c === 34 || c === 92 || c < 32) break
        i++
      }
      if (i >= lx.len) return lx.fail(EOF_WHILE_PARSING_STRING, lx.len) ?? false
      const c = lx.src.charCodeAt(i)
      if (c === 34) {
        lx.pos = i + 1
        return true
      }
      if (c !== 92) return lx.fail(CONTROL_CHARACTER_WHILE_PARSING_STRING, i) ?? false
      i++
      if (i >= lx.len) return lx.fail(EOF_WHILE_PARSING_STRING, lx.len) ?? false
      const e = lx.src.charCodeAt(i)
      i++
      if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) continue
      if (e !== 117) return lx.failPeekAt(INVALID_ESCAPE, i - 1) ?? false
      if (lx.hex4(i) < 0) return lx.failHex(i) ?? false
      i += 4
    }
  }

  /** `ignore_exponent`: `pos` is at `e` / `E`. */
  private ignoreExponent(lx: Lexer): boolean {
    lx.pos++
    if (lx.pos < lx.len) {
      const s = lx.src.charCodeAt(lx.pos)
      if (s === 43 || s === 45) lx.pos++
    }
    // next_char_or_null: at the end it reads `\0` without consuming anything
    if (lx.pos >= lx.len) return lx.fail(INVALID_NUMBER, lx.len) ?? false
    if (!isDigit(lx.src.charCodeAt(lx.pos))) return lx.failPeekAt(INVALID_NUMBER, lx.pos) ?? false
    lx.pos++
    while (lx.pos < lx.len && isDigit(lx.src.charCodeAt(lx.pos))) lx.pos++
    return true
  }

  /** `ignore_decimal`: `pos` is at `.`. */
  private ignoreDecimal(lx: Lexer): boolean {
    lx.pos++
    const first = lx.pos
    while (lx.pos < lx.len && isDigit(lx.src.charCodeAt(lx.pos))) lx.pos++
    // a peek error even at the end of the input (parse_decimal reports EOF there)
    if (lx.pos === first) return lx.failPeekAt(INVALID_NUMBER, lx.pos) ?? false
    const c = lx.pos < lx.len ? lx.src.charCodeAt(lx.pos) : -1
    return c === 101 || c === 69 ? this.ignoreExponent(lx) : true
  }

  /** `ignore_integer`: `pos` is at the first digit (after a `-`). */
  private ignoreInteger(lx: Lexer): boolean {
    if (lx.pos >= lx.len) return lx.fail(INVALID_NUMBER, lx.len) ?? false
    const c = lx.src.charCodeAt(lx.pos)
    if (c === 48) {
      lx.pos++
      if (lx.pos < lx.len && isDigit(lx.src.charCodeAt(lx.pos))) {
        return lx.failPeekAt(INVALID_NUMBER, lx.pos) ?? false
      }
    } else if (c >= 49 && c <= 57) {
      lx.pos++
      while (lx.pos < lx.len && isDigit(lx.src.charCodeAt(lx.pos))) lx.pos++
    } else {
      // consumed by next_char_or_null, then `error`
      return lx.failPeekAt(INVALID_NUMBER, lx.pos) ?? false
    }
    const d = lx.pos < lx.len ? lx.src.charCodeAt(lx.pos) : -1
    return d === 46 ? this.ignoreDecimal(lx) : d === 101 || d === 69 ? this.ignoreExponent(lx) : true
  }

  /** `Deserializer::ignore_value`, transcribed (scratch = `ignoreStack`). */
  ignoreTree(lx: Lexer): boolean {
    const stack = this.ignoreStack
    stack.length = 0
    let enclosing = 0
    for (;;) {
      const c = lx.skipWs()
      let frame = 0
      switch (c) {
        case -1:
          return lx.failPeekAt(EOF_WHILE_PARSING_VALUE, lx.pos) ?? false
        case 116:
        case 102:
        case 110:
          if (lx.literal(c) === undefined) return false
          break
        case 45:
          lx.pos++
          if (!this.ignoreInteger(lx)) return false
          break
        case 34:
          lx.pos++
          if (!this.ignoreString(lx)) return false
          break
        case 91:
        case 123:
          if (enclosing !== 0) stack.push(enclosing)
          enclosing = 0
          lx.pos++
          frame = c
          break
        default:
          if (c >= 48 && c <= 57) {
            if (!this.ignoreInteger(lx)) return false
            break
          }
          return lx.failPeekAt(EXPECTED_SOME_VALUE, lx.pos) ?? false
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
        const k = lx.skipWs()
        if (k === 44 && acceptComma) {
          lx.pos++
          break
        }
        if ((k === 93 && frame === 91) || (k === 125 && frame === 123)) {
          lx.pos++
          const top = stack.pop()
          if (top === undefined) return true
          frame = top
          acceptComma = true
          continue
        }
        if (k === -1) {
          return lx.failPeekAt(frame === 91 ? EOF_WHILE_PARSING_LIST : EOF_WHILE_PARSING_OBJECT, lx.pos) ?? false
        }
        if (acceptComma) {
          return lx.failPeekAt(frame === 91 ? EXPECTED_LIST_COMMA_OR_END : EXPECTED_OBJECT_COMMA_OR_END, lx.pos) ??
            false
        }
        break
      }
      if (frame === 123) {
        const k = lx.skipWs()
        if (k !== 34) {
          return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, lx.pos) ?? false
        }
        lx.pos++
        if (!this.ignoreString(lx)) return false
        const d = lx.skipWs()
        if (d !== 58) return lx.failPeekAt(d === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, lx.pos) ?? false
        lx.pos++
      }
      enclosing = frame
    }
  }
}
