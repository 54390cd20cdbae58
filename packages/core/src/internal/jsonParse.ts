/**
 * The JSON parser behind `Json.parse`: the grammar, value model, error messages, error
 * categories and error positions of serde_json 1.0.150 (`serde_json::from_str::<Value>` with
 * `preserve_order`), except that floats are correctly rounded (`Number(literal)`).
 *
 * The parser is iterative (an explicit stack of open containers), so nesting depth is bounded
 * by `maxDepth` and never by the JS call stack. The modules hold no mutable state: everything
 * about the text being read lives in a `Cursor` instance, and each reader owns one (`Json.parse`
 * its parser, the typed decoder and the WAL envelope reader theirs). One instance reads one text
 * at a time (`parse` is synchronous and never re-entered).
 *
 * The parser is split by concept: the lexer (the reading state of one text and its token
 * readers: `jsonLexer.ts`), parsing into the Json value model (`Parser`, here), scanning
 * (`jsonScan.ts`: parseTree's exact grammar and errors without building the value, and whether
 * the text is already canonical, i.e. what `print` writes), ignoring (`jsonIgnore.ts`: serde_json's
 * `ignore_value`, what `IgnoredAny` uses, which is NOT the same grammar) and serde_json's error
 * codes and messages (`jsonErrorCode.ts`). A `Cursor` (here) owns one lexer and the scratch state
 * of each walk; besides `parse`, it offers the Deserializer primitives over one text for callers
 * that replay a serde-derived `Deserialize` (the WAL entry), on one shared position.
 */
import * as Either from "effect/Either"
import {
  EOF_WHILE_PARSING_LIST,
  EOF_WHILE_PARSING_OBJECT,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_COLON,
  EXPECTED_LIST_COMMA_OR_END,
  EXPECTED_OBJECT_COMMA_OR_END,
  EXPECTED_SOME_VALUE,
  KEY_MUST_BE_A_STRING,
  RECURSION_LIMIT_EXCEEDED,
  TRAILING_CHARACTERS,
  TRAILING_COMMA
} from "./jsonErrorCode.js"
import { Ignorer } from "./jsonIgnore.js"
import { Lexer } from "./jsonLexer.js"
import { Scanner } from "./jsonScan.js"
import type { Json } from "./jsonValue.js"
import { JsonParseError } from "./jsonValue.js"

/** serde_json ErrorCode values accepted by `Cursor.failPeek` / `Cursor.failError`. */
export { ErrorCode } from "./jsonErrorCode.js"

/** Parsing into the Json value model, with its scratch state (one per reader: `Cursor`). */
export class Parser {
  /** Open containers (innermost last) and, for objects, the key whose value is being parsed. */
  readonly frames: Array<Array<Json> | Map<string, Json>> = []
  readonly keys: Array<string> = []

  /** The last `parse` met a key twice in one object (it kept the first position, the last value). */
  repeated = false

  /** `Deserializer::parse_object_colon`, then the whitespace before the member value. */
  private parseColon(lx: Lexer): boolean {
    const c = lx.skipWs()
    if (c === 58) {
      lx.pos++
      return true
    }
    lx.failPeekAt(c === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_COLON, lx.pos)
    return false
  }

  /** One complete value starting at `pos` (leading whitespace allowed). */
  parseTree(lx: Lexer, maxDepth: number): Json | undefined {
    let depth = 0
    let value: Json | undefined
    for (;;) {
      // ---- a value is expected at pos
      const c = lx.skipWs()
      switch (c) {
        case 34:
          lx.pos++
          value = lx.parseString()
          if (value === undefined) return undefined
          break
        case 123: {
          if (depth >= maxDepth) return lx.failPeekAt(RECURSION_LIMIT_EXCEEDED, lx.pos)
          lx.pos++
          const k = lx.skipWs()
          if (k === 125) {
            lx.pos++
            value = new Map<string, Json>()
            break
          }
          if (k !== 34) return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : KEY_MUST_BE_A_STRING, lx.pos)
          lx.pos++
          const key = lx.parseString()
          if (key === undefined || !this.parseColon(lx)) return undefined
          this.frames[depth] = new Map<string, Json>()
          this.keys[depth] = key
          depth++
          continue
        }
        case 91: {
          if (depth >= maxDepth) return lx.failPeekAt(RECURSION_LIMIT_EXCEEDED, lx.pos)
          lx.pos++
          const k = lx.skipWs()
          if (k === 93) {
            lx.pos++
            value = []
            break
          }
          if (k === -1) return lx.failPeekAt(EOF_WHILE_PARSING_LIST, lx.pos)
          this.frames[depth] = []
          depth++
          continue
        }
        case 116:
          if (
            lx.pos + 3 < lx.len && lx.src.charCodeAt(lx.pos + 1) === 114 &&
            lx.src.charCodeAt(lx.pos + 2) === 117 &&
            lx.src.charCodeAt(lx.pos + 3) === 101
          ) {
            lx.pos += 4
            value = true
            break
          }
          return lx.failIdent("true")
        case 102:
          if (
            lx.pos + 4 < lx.len && lx.src.charCodeAt(lx.pos + 1) === 97 &&
            lx.src.charCodeAt(lx.pos + 2) === 108 &&
            lx.src.charCodeAt(lx.pos + 3) === 115 && lx.src.charCodeAt(lx.pos + 4) === 101
          ) {
            lx.pos += 5
            value = false
            break
          }
          return lx.failIdent("false")
        case 110:
          if (
            lx.pos + 3 < lx.len && lx.src.charCodeAt(lx.pos + 1) === 117 &&
            lx.src.charCodeAt(lx.pos + 2) === 108 &&
            lx.src.charCodeAt(lx.pos + 3) === 108
          ) {
            lx.pos += 4
            value = null
            break
          }
          return lx.failIdent("null")
        case -1:
          return lx.failPeekAt(EOF_WHILE_PARSING_VALUE, lx.pos)
        default:
          if (c === 45 || (c >= 48 && c <= 57)) {
            value = lx.parseNumber()
            if (value === undefined) return undefined
            break
          }
          return lx.failPeekAt(EXPECTED_SOME_VALUE, lx.pos)
      }

      // ---- `value` is complete: hand it to the enclosing containers
      for (;;) {
        if (depth === 0) return value
        const frame = this.frames[depth - 1]
        if (Array.isArray(frame)) {
          frame.push(value)
          const k = lx.skipWs()
          if (k === 44) {
            lx.pos++
            const n = lx.skipWs()
            if (n === 93) return lx.failPeekAt(TRAILING_COMMA, lx.pos)
            if (n === -1) return lx.failPeekAt(EOF_WHILE_PARSING_VALUE, lx.pos)
            break
          }
          if (k === 93) {
            lx.pos++
            value = frame
            depth--
            continue
          }
          return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_LIST : EXPECTED_LIST_COMMA_OR_END, lx.pos)
        }
        if (frame === undefined) return undefined
        const size = frame.size
        frame.set(this.keys[depth - 1] ?? "", value)
        if (frame.size === size) this.repeated = true
        const k = lx.skipWs()
        if (k === 44) {
          lx.pos++
          const n = lx.skipWs()
          if (n === 34) {
            lx.pos++
            const key = lx.parseString()
            if (key === undefined || !this.parseColon(lx)) return undefined
            this.keys[depth - 1] = key
            break
          }
          return lx.failPeekAt(
            n === 125 ? TRAILING_COMMA : n === -1 ? EOF_WHILE_PARSING_VALUE : KEY_MUST_BE_A_STRING,
            lx.pos
          )
        }
        if (k === 125) {
          lx.pos++
          value = frame
          depth--
          continue
        }
        return lx.failPeekAt(k === -1 ? EOF_WHILE_PARSING_OBJECT : EXPECTED_OBJECT_COMMA_OR_END, lx.pos)
      }
    }
  }

  private parseText(lx: Lexer, text: string, maxDepth: number): Either.Either<Json, JsonParseError> {
    lx.start(text)
    lx.scanning = false
    this.repeated = false
    let value = this.parseTree(lx, maxDepth)
    // serde_json::from_str: Deserializer::end rejects anything but whitespace after the value
    if (value !== undefined && lx.skipWs() !== -1) value = lx.failPeekAt(TRAILING_CHARACTERS, lx.pos)
    const result = value === undefined ? Either.left(lx.buildError()) : Either.right(value)
    lx.src = ""
    this.frames.length = 0
    this.keys.length = 0
    return result
  }

  /** Parse one JSON text; never throws. */
  parse(lx: Lexer, text: string, maxDepth: number): Either.Either<Json, JsonParseError> {
    try {
      return this.parseText(lx, text, maxDepth)
    } catch (e) {
      // Not reachable for well-formed calls; only engine limits (memory) end up here.
      lx.src = ""
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
}

/** One text being read: `parse`, or the Deserializer primitives below (`begin` … `release`). */
export class Cursor {
  private readonly lx = new Lexer()
  private readonly parser = new Parser()
  private readonly scanner = new Scanner()
  private readonly ignorer = new Ignorer()

  /** Parse one JSON text; never throws. */
  parse(text: string, maxDepth: number): Either.Either<Json, JsonParseError> {
    return this.parser.parse(this.lx, text, maxDepth)
  }

  /** Whether the last `parse` met a key twice in one object. */
  hadRepeatedKey(): boolean {
    return this.parser.repeated
  }

  // ---------------------------------------------------------------------------------------------
  // The cursor: serde_json's Deserializer primitives over one text, for callers that replay a
  // serde-derived `Deserialize` impl (the WAL entry). Positions are UTF-16 indices into the text;
  // errors carry serde's positions (UTF-8 columns), exactly as `parse` reports them.

  /** Start reading `text` at index 0 (one text at a time; end with `release`). */
  begin(text: string): void {
    this.lx.start(text)
    this.lx.errMessage = undefined
  }
  /** Done with the text. */
  release(): void {
    this.lx.src = ""
    this.parser.frames.length = 0
    this.parser.keys.length = 0
    this.scanner.keyTop = 0
    this.lx.scanning = false
  }
  /** The current index (the next code unit to read). */
  position(): number {
    return this.lx.pos
  }
  /** Move to an index (back to a value already read, to read it again). */
  seek(at: number): void {
    this.lx.pos = at
    // the backslash cache only ever moves forward
    this.lx.nextBackslash = -1
  }
  /** `parse_whitespace`: skip JSON whitespace; the code unit at the index, or -1 at the end. */
  peek(): number {
    return this.lx.skipWs()
  }
  /** `eat_char`: consume the code unit at the index (only ever an ASCII one). */
  advance(): void {
    this.lx.pos++
  }
  /** `parse_str`, the index just after the opening quote. */
  readString(): string | undefined {
    return this.lx.parseString()
  }
  /** `parse_integer` and what follows, the index at `-` or a digit (integers exact, `-0` a float). */
  readNumber(): Json | undefined {
    return this.lx.parseNumber()
  }
  /** `true` / `false` / `null` at the index (`parse_ident` errors). */
  readLiteral(): Json | undefined {
    return this.lx.literal(this.lx.src.charCodeAt(this.lx.pos))
  }
  /** `deserialize_any` into a value, nesting at most `maxDepth` more levels. */
  readValue(maxDepth: number): Json | undefined {
    return this.parser.parseTree(this.lx, maxDepth)
  }
  /** `readValue`'s validation and errors without building the value; see `canonical`. */
  scanValue(maxDepth: number): boolean {
    return this.scanner.scanValue(this.lx, maxDepth)
  }
  /** Whether the text `scanValue` just read is exactly what `print` writes for its value. */
  canonical(): boolean {
    return this.scanner.canon
  }
  /** `ignore_value` (an `IgnoredAny`). */
  ignoreValue(): boolean {
    return this.ignorer.ignoreTree(this.lx)
  }
  /** The text between two indices. */
  slice(from: number, to: number): string {
    return this.lx.src.slice(from, to)
  }
  /** `peek_error(code)` at the index; returns false. */
  failPeek(code: number): false {
    return this.lx.failPeekAt(code, this.lx.pos) ?? false
  }
  /** `error(code)` (the bytes before the index consumed); returns false. */
  failError(code: number): false {
    return this.lx.fail(code, this.lx.pos) ?? false
  }
  /** A Data error (`Error::custom(message)` positioned by `fix_position`, i.e. `error`) at the index. */
  failData(message: string): false {
    this.lx.failAtByte(0, this.lx.byteIndex(this.lx.pos))
    this.lx.errMessage = message
    return false
  }
  /** The error recorded by the last failure. */
  error(): JsonParseError {
    return this.lx.buildError()
  }
}
