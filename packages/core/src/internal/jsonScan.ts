/**
 * Scanning a JSON text: exactly `parseTree`'s grammar, errors and positions (`jsonParse.ts`),
 * without building the value, and finding out on the way whether the text is already what
 * `print` writes for that value (compact, every number and string spelled as the printer spells
 * it, no repeated key). The WAL reader scans a record's `data` to verify a line without parsing
 * it twice (`Json.Cursor.scanValue`, `canonical`).
 */
import {
  EOF_WHILE_PARSING_LIST,
  EOF_WHILE_PARSING_OBJECT,
  EOF_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_COLON,
  EXPECTED_LIST_COMMA_OR_END,
  EXPECTED_OBJECT_COMMA_OR_END,
  EXPECTED_SOME_VALUE,
  KEY_MUST_BE_A_STRING,
  RECURSION_LIMIT_EXCEEDED,
  TRAILING_COMMA
} from "./jsonErrorCode.js"
import type { Lexer } from "./jsonLexer.js"
import { print, printFloat } from "./jsonPrint.js"
import { JsonFloat } from "./jsonValue.js"

/** While scanning, an object with more keys than this switches to a Set of its (raw) keys. */
const LINEAR_KEYS = 16

/** The scratch state of scans (one per reader: `Cursor`), reused from text to text. */
export class Scanner {
  /** The text scanned last is byte for byte `print(value)`. */
  canon = true

  /** Kinds of the open containers while scanning: 1 = array, 2 = object. */
  private readonly kinds: Array<number> = []

  /** Raw spans (start, end — inside the quotes) of the keys of the open objects, innermost last. */
  private keySpans = new Int32Array(256)

  /** Used length of `keySpans`. */
  keyTop = 0

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
  private skipWsScan(lx: Lexer): number {
    const p = lx.pos
    const c = lx.skipWs()
    if (lx.pos !== p) this.canon = false
    return c
  }

  /** A string's contents, `pos` just after the opening quote: parseString's errors, no value. */
  private scanString(lx: Lexer): boolean {
    const start = lx.pos
    if (lx.clean) {
      const end = lx.src.indexOf("\"", start)
      if (end >= 0) {
        if (lx.nextBackslash < start) {
          lx.nextBackslash = lx.src.indexOf("\\", start)
          if (lx.nextBackslash < 0) lx.nextBackslash = lx.len
        }
        if (end < lx.nextBackslash) {
          // no escape, no control character: the printer writes exactly this
          lx.pos = end + 1
          return true
        }
      }
    }
    let i = start
    while (i < lx.len) {
      const c = lx.src.charCodeAt(i)
      if (c === 34) {
        lx.pos = i + 1
        return true
      }
      if (c === 92 || c < 32 || (c >= 0xd800 && c <= 0xdfff)) break
      i++
    }
    if (i >= lx.len) return lx.fail(EOF_WHILE_PARSING_STRING, lx.len) ?? false
    const value = lx.parseStringSlow(start, i)
    if (value === undefined) return false
    // escapes (or a raw surrogate pair): canonical when spelled as the printer spells them
    if (this.canon && print(value) !== lx.src.slice(start - 1, lx.pos)) this.canon = false
    return true
  }

  private sameText(lx: Lexer, a: number, b: number, n: number): boolean {
    for (let k = 0; k < n; k++) if (lx.src.charCodeAt(a + k) !== lx.src.charCodeAt(b + k)) return false
    return true
  }

  /**
   * A key of the object open at `frame`, spanning `[start, end)`: a repeat makes the text
   * non-canonical (the value keeps the first position and the last value). Keys are compared
   * raw, which is exact while everything so far is canonical (one spelling per string).
   */
  private noteKey(lx: Lexer, frame: number, start: number, end: number): void {
    const set = this.keySets[frame]
    if (set !== undefined) {
      const key = lx.src.slice(start, end)
      if (set.has(key)) this.canon = false
      else set.add(key)
      return
    }
    const spans = this.keySpans
    const base = this.keyBase[frame] ?? 0
    const n = this.keyTop
    const size = end - start
    const c0 = size > 0 ? lx.src.charCodeAt(start) : 0
    const h = (size * 31 + c0 * 7 + (size > 0 ? lx.src.charCodeAt(end - 1) : 0)) & 63
    const word = 2 * frame + (h >> 5)
    const bit = 1 << (h & 31)
    const bits = this.keyBits[word] as number
    this.keyBits[word] = bits | bit
    if ((bits & bit) !== 0) {
      for (let j = base; j < n; j += 2) {
        const s = spans[j] as number
        // (an empty key has no first code unit to compare: two empty keys are a repeat)
        if (
          (spans[j + 1] as number) - s === size && (size === 0 || lx.src.charCodeAt(s) === c0) &&
          this.sameText(lx, s, start, size)
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
    const all = new Set<string>([lx.src.slice(start, end)])
    for (let j = base; j < n; j += 2) all.add(lx.src.slice(spans[j] as number, spans[j + 1] as number))
    this.keySets[frame] = all
  }

  /** A member key and its colon; `pos` is at the key's opening quote. */
  private scanKey(lx: Lexer, frame: number): boolean {
    lx.pos++
    const start = lx.pos
    if (!this.scanString(lx)) return false
    if (this.canon) this.noteKey(lx, frame, start, lx.pos - 1)
    const c = this.skipWsScan(lx)
    if (c === 58) {
      lx.pos++
      return true
    }
    lx.failPeekAt(c === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, lx.pos)
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
  private scanNumber(lx: Lexer): boolean {
    const start = lx.pos
    let i = start
    if (lx.src.charCodeAt(i) === 45) i++
    const first = i
    while (i < lx.len) {
      const d = lx.src.charCodeAt(i)
      if (d < 48 || d > 57) break
      i++
    }
    const digits = i - first
    if (digits > 0 && digits <= 15 && (digits === 1 || lx.src.charCodeAt(first) !== 48)) {
      const next = i < lx.len ? lx.src.charCodeAt(i) : -1
      if (next !== 46 && next !== 101 && next !== 69) {
        if (first > start && digits === 1 && lx.src.charCodeAt(first) === 48) this.canon = false
        lx.pos = i
        return true
      }
    }
    const value = lx.parseNumber()
    if (value === undefined) return false
    // integers print as their literal; a float only if the literal is its shortest form
    if (this.canon && value instanceof JsonFloat && printFloat(value.value) !== lx.src.slice(start, lx.pos)) {
      this.canon = false
    }
    return true
  }

  /** One complete value at `pos`, validated exactly as parseTree parses it; sets `canon`. */
  private scanTree(lx: Lexer, maxDepth: number): boolean {
    let depth = 0
    for (;;) {
      // ---- a value is expected at pos
      const c = this.skipWsScan(lx)
      switch (c) {
        case 34:
          lx.pos++
          if (!this.scanString(lx)) return false
          break
        case 123: {
          if (depth >= maxDepth) return lx.failPeekAt(RECURSION_LIMIT_EXCEEDED, lx.pos) ?? false
          lx.pos++
          const k = this.skipWsScan(lx)
          if (k === 125) {
            lx.pos++
            break
          }
          if (k !== 34) {
            return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, lx.pos) ?? false
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
          if (!this.scanKey(lx, depth)) return false
          depth++
          continue
        }
        case 91: {
          if (depth >= maxDepth) return lx.failPeekAt(RECURSION_LIMIT_EXCEEDED, lx.pos) ?? false
          lx.pos++
          const k = this.skipWsScan(lx)
          if (k === 93) {
            lx.pos++
            break
          }
          if (k === -1) return lx.failPeekAt(EOF_WHILE_PARSING_LIST, lx.pos) ?? false
          this.kinds[depth] = 1
          depth++
          continue
        }
        case 116:
        case 102:
        case 110:
          if (lx.literal(c) === undefined) return false
          break
        case -1:
          return lx.failPeekAt(EOF_WHILE_PARSING_VALUE, lx.pos) ?? false
        default: {
          if (c === 45 || (c >= 48 && c <= 57)) {
            if (!this.scanNumber(lx)) return false
            break
          }
          return lx.failPeekAt(EXPECTED_SOME_VALUE, lx.pos) ?? false
        }
      }

      // ---- a value is complete: continue its enclosing containers
      for (;;) {
        if (depth === 0) return true
        const frame = depth - 1
        const k = this.skipWsScan(lx)
        if (this.kinds[frame] === 1) {
          if (k === 44) {
            lx.pos++
            const n = this.skipWsScan(lx)
            if (n === 93) return lx.failPeekAt(TRAILING_COMMA, lx.pos) ?? false
            if (n === -1) return lx.failPeekAt(EOF_WHILE_PARSING_VALUE, lx.pos) ?? false
            break
          }
          if (k === 93) {
            lx.pos++
            depth--
            continue
          }
          return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_LIST : EXPECTED_LIST_COMMA_OR_END, lx.pos) ?? false
        }
        if (k === 44) {
          lx.pos++
          const n = this.skipWsScan(lx)
          if (n === 34) {
            if (!this.scanKey(lx, frame)) return false
            break
          }
          return lx.failPeekAt(
            n === 125 ? TRAILING_COMMA : n === -1 ? EOF_WHILE_PARSING_VALUE : KEY_MUST_BE_A_STRING,
            lx.pos
          ) ?? false
        }
        if (k === 125) {
          lx.pos++
          this.closeObject(frame)
          depth--
          continue
        }
        return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_OBJECT_COMMA_OR_END, lx.pos) ?? false
      }
    }
  }

  /** `parseTree`'s validation and errors at `lx.pos` without building the value; sets `canon`. */
  scanValue(lx: Lexer, maxDepth: number): boolean {
    this.canon = true
    lx.scanning = true
    this.keyTop = 0
    const ok = this.scanTree(lx, maxDepth)
    lx.scanning = false
    this.keyTop = 0
    return ok
  }
}
