/**
 * A final line longer than the reader's line limit, judged without being kept (`Reader`'s
 * `LongLine`): is it the start of an entry, cut (a torn tail `repair` may remove), corruption,
 * or possibly a complete entry (only too long)? `parseLine` judges a line it holds exactly as
 * serde does (`envelope.ts`); this follows the same grammar one byte at a time, in constant
 * memory, and says "torn" only when it is certain:
 *
 * - UTF-8, checked over the whole line first, as Rust's `lines()` does before serde sees it:
 *   an invalid sequence anywhere is corruption (`Io`); one character cut at the very end is torn
 *   (`Io`) when the bytes before it are the start of an entry, cut — as `tornInCharacter`.
 * - JSON's grammar: tokens, separators, nesting (serde's limit), strings (control characters,
 *   escapes, `\u` hex and surrogate pairs — strictly, but in a member serde ignores, whose lone
 *   surrogates it accepts), numbers, literals; a cut token is serde's EOF, and a final CR is
 *   the line's own (white space after a token, a control character in a string, a bad number or
 *   literal where EOF would be a cut).
 * - The entry's own members, in serde's object and sequence forms: `sequence` an integer of u64,
 *   the two hashes strings, a known member twice or missing, another value where the entry should
 *   be — serde's Data errors, in order.
 *
 * What it does not judge exactly it leaves "possibly complete" (`WalLineTooLong`: nothing is
 * removed, and a reader with a larger limit judges it): a number that may be out of f64's range
 * (where serde does not ignore it), nesting beyond the limit in an ignored member. (A hostile review: the former scanner tracked strings and brackets only, so
 * `{xxx…`, invalid UTF-8 and a complete entry with one byte changed, over 64 MiB, were all
 * "torn", and `repair` removed them.)
 */
import { MAX_DEPTH } from "./envelope.js"

/** What the line, ending here, is (see the module's comment); undefined: possibly complete. */
export type LongVerdict =
  | { readonly category: "Syntax" | "Data" | "Eof"; readonly reason: string; readonly column: number }
  | { readonly category: "Io"; readonly torn: boolean; readonly reason: string; readonly column: number }

const enum Expect {
  /** before the entry (white space only so far) */
  Start,
  /** a value (after `:`, or `,` in a list) */
  Value,
  /** a value or `]` (after `[`) */
  ValueOrClose,
  /** a key or `}` (after `{`) */
  KeyOrClose,
  /** a key (after `,` in an object) */
  Key,
  /** `:` after a key */
  Colon,
  /** `,` or the container's close, after a value */
  Separator,
  /** the entry is closed: white space only */
  End,
  /** a `,` after the sequence form's fourth element: `]` is a trailing comma, anything else trailing characters */
  Extra
}

/** Where a number is: after its sign (or before its first digit), … */
const enum Part {
  Sign,
  /** the integer part is `0` */
  Zero,
  Integer,
  /** after `.` */
  Dot,
  Fraction,
  /** after `e` / `E` */
  E,
  ExponentSign,
  ExponentDigits
}

const enum Token {
  None,
  String,
  Number,
  Literal
}

/** What a value at the entry's level must be (the entry's members), or how it is read. */
const enum Role {
  /** `data` and everything in it: serde's `Value` */
  Value,
  /** a member serde ignores (`IgnoredAny`): grammar only, lone surrogates accepted */
  Ignored,
  /** `sequence`: an integer from 0 to u64 max */
  U64,
  /** `previous_hash`, `entry_hash`: a string */
  String,
  /** the line's value: the entry (an object or serde's sequence form) */
  Entry
}

/** The members of the entry's sequence form, in order (serde's `visit_seq`). */
const SEQUENCE_ROLES = [Role.U64, Role.String, Role.String, Role.Value]

const KNOWN: Record<string, Role> = {
  sequence: Role.U64,
  previous_hash: Role.String,
  entry_hash: Role.String,
  data: Role.Value
}

const U64_MAX_TEXT = "18446744073709551615"

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39
const isHex = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
const hexValue = (b: number): number => b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57
const isJsonSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
const SIMPLE_ESCAPES: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09
}
const LITERALS: Record<number, string> = { 0x74: "true", 0x66: "false", 0x6e: "null" }

/** A UTF-8 lead byte's continuation bytes, and the range of the first of them. */
export interface Utf8Lead {
  readonly continuations: number
  readonly lo: number
  readonly hi: number
}

const LEADS: ReadonlyArray<Utf8Lead | undefined> = Array.from({ length: 256 }, (_, b) =>
  b >= 0xc2 && b <= 0xdf
    ? { continuations: 1, lo: 0x80, hi: 0xbf }
    : b >= 0xe0 && b <= 0xef
    ? { continuations: 2, lo: b === 0xe0 ? 0xa0 : 0x80, hi: b === 0xed ? 0x9f : 0xbf }
    : b >= 0xf0 && b <= 0xf4
    ? { continuations: 3, lo: b === 0xf0 ? 0x90 : 0x80, hi: b === 0xf4 ? 0x8f : 0xbf }
    : undefined)

/** What `b` starts in UTF-8 (undefined: an ASCII byte, a continuation, or no character's start). */
export const utf8Lead = (b: number): Utf8Lead | undefined => LEADS[b]

export class LongLine {
  /** bytes of the line so far */
  length = 0

  // --- UTF-8 (the whole line)
  /** continuation bytes still to come, and the range of the next one */
  private need = 0
  private lo = 0x80
  private hi = 0xbf
  /** the line's column where the character being read starts */
  private charStart = 0
  /** the first invalid sequence's column (0: none) */
  private badUtf8 = 0

  // --- before the entry: where the first byte of Unicode white space (or of no JSON) is (0: none)
  private strangeAt = 0

  // --- JSON
  private expect = Expect.Start
  /** open containers, innermost last: `{` or `[` */
  private readonly stack: Array<number> = []
  /** the roles of the open containers' values (the entry's own: its members' roles) */
  private readonly roles: Array<Role> = []
  /** the role of the value being read (or about to be) */
  private role = Role.Value
  /** the entry's sequence form: how many elements were read */
  private sequenceIndex = 0
  private token = Token.None
  // a string
  private key = false
  private escape = false
  /** hex digits of a `\u` escape still to come, and its value so far */
  private hex = 0
  private code = 0
  private badHex = false
  /** a leading surrogate was read: 2 = its `\` must follow, 1 = its `u`, then `trail` */
  private pair = 0
  private trail = false
  /** the entry's keys: the key read so far (decoded; undefined once it cannot be a known one) */
  private keyText: string | undefined = undefined
  private readonly seen = new Set<string>()
  // a number: its text's shape (bounded counts)
  private numberNegative = false
  private numberDigits = ""
  private numberIntDigits = 0
  private numberFracZeros = 0
  private numberNonZero = false
  private numberPart = Part.Sign
  private numberExponent = 0
  private numberExponentNegative = false
  private numberExponentDigits = 0
  // a literal: its text, and how much of it was read
  private literal = ""
  private literalAt = 0

  /** the first error (serde's: the first problem on the line) */
  private broken:
    | { readonly category: "Syntax" | "Data"; readonly reason: string; readonly column: number }
    | undefined = undefined
  /** something this does not judge exactly: the line is left possibly complete */
  private uncertain = false

  scan(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number
      const column = ++this.length
      this.utf8(b, column)
      if (this.broken === undefined && !this.uncertain) {
        this.json(b, column)
      }
    }
  }

  private utf8(b: number, column: number): void {
    if (this.need > 0) {
      if (b >= this.lo && b <= this.hi) {
        this.need--
        this.lo = 0x80
        this.hi = 0xbf
        return
      }
      if (this.badUtf8 === 0) this.badUtf8 = this.charStart
      this.need = 0
    }
    if (b < 0x80) return
    this.charStart = column
    const lead = utf8Lead(b)
    if (lead === undefined) {
      if (this.badUtf8 === 0) this.badUtf8 = column
      return
    }
    this.need = lead.continuations
    this.lo = lead.lo
    this.hi = lead.hi
  }

  private fail(category: "Syntax" | "Data", reason: string, column: number): void {
    this.broken = { category, reason, column }
  }

  private json(b: number, column: number): void {
    switch (this.token) {
      case Token.String:
        return this.stringByte(b, column)
      case Token.Number:
        if (this.numberByte(b, column)) return
        if (this.broken !== undefined || this.uncertain) return
        break
      case Token.Literal: {
        if (b !== this.literal.charCodeAt(this.literalAt)) return this.fail("Syntax", "expected ident", column)
        if (++this.literalAt === this.literal.length) this.valueDone(column, "literal")
        return
      }
      default:
        break
    }
    if (isJsonSpace(b)) return
    switch (this.expect) {
      case Expect.Start:
        if (b >= 0x80 || b === 0x0b || b === 0x0c) {
          // Unicode white space (VT and FF too) before the entry makes a blank line, unless a value follows
          if (this.strangeAt === 0) this.strangeAt = column
          return
        }
        if (this.strangeAt !== 0) return this.fail("Syntax", "expected value", column)
        this.role = Role.Entry
        return this.startValue(b, column)
      case Expect.End:
        return this.fail("Syntax", "trailing characters", column)
      case Expect.Extra:
        return this.fail("Syntax", b === 0x5d ? "trailing comma" : "trailing characters", column)
      case Expect.Colon:
        if (b === 0x3a) {
          this.expect = Expect.Value
          return
        }
        return this.fail("Syntax", "expected `:`", column)
      case Expect.Separator: {
        const object = this.stack[this.stack.length - 1] === 0x7b
        if (b === 0x2c) {
          // the entry's sequence form reads four elements: serde's `end_seq` then meets the rest
          if (!object && this.stack.length === 1 && this.sequenceIndex >= 4) {
            this.expect = Expect.Extra
            return
          }
          this.expect = object ? Expect.Key : Expect.Value
          return
        }
        if (b === (object ? 0x7d : 0x5d)) return this.close(column)
        return this.fail("Syntax", object ? "expected `,` or `}`" : "expected `,` or `]`", column)
      }
      case Expect.KeyOrClose:
      case Expect.Key:
        if (b === 0x22) {
          this.startString(true)
          return
        }
        if (b === 0x7d && this.expect === Expect.KeyOrClose) return this.close(column)
        return this.fail("Syntax", b === 0x7d ? "trailing comma" : "key must be a string", column)
      case Expect.Value:
      case Expect.ValueOrClose:
        if (b === 0x5d) {
          if (this.expect === Expect.ValueOrClose) return this.close(column)
          if (this.stack[this.stack.length - 1] === 0x5b) return this.fail("Syntax", "trailing comma", column)
        }
        return this.startValue(b, column)
    }
  }

  private startValue(b: number, column: number): void {
    const role = this.role
    if (b === 0x22) {
      this.startString(false)
      return
    }
    if (b === 0x7b || b === 0x5b) {
      if (role === Role.Entry) {
        this.open(b, Role.Value)
        this.sequenceIndex = 0
        if (b === 0x5b) this.role = Role.U64
        return
      }
      if (role === Role.U64 || role === Role.String) {
        return this.fail("Data", `invalid type: ${b === 0x7b ? "map" : "sequence"}, expected ${expected(role)}`, column)
      }
      if (this.stack.length >= MAX_DEPTH) {
        // serde ignores a member's value without a depth limit: not judged here
        if (role === Role.Ignored) this.uncertain = true
        else this.fail("Syntax", "recursion limit exceeded", column)
        return
      }
      this.open(b, role)
      return
    }
    if (b === 0x2d || isDigit(b)) {
      this.token = Token.Number
      this.numberNegative = b === 0x2d
      this.numberDigits = ""
      this.numberIntDigits = 0
      this.numberFracZeros = 0
      this.numberNonZero = false
      this.numberPart = Part.Sign
      this.numberExponent = 0
      this.numberExponentNegative = false
      this.numberExponentDigits = 0
      if (b !== 0x2d) this.numberByte(b, column)
      return
    }
    const literal = LITERALS[b]
    if (literal !== undefined) {
      this.token = Token.Literal
      this.literal = literal
      this.literalAt = 1
      return
    }
    this.fail("Syntax", "expected value", column)
  }

  private open(b: number, role: Role): void {
    this.stack.push(b)
    this.roles.push(role)
    this.role = this.stack.length === 1 ? Role.Value : role
    this.expect = b === 0x7b ? Expect.KeyOrClose : Expect.ValueOrClose
  }

  private close(column: number): void {
    if (this.stack.length === 1 && this.stack[0] === 0x7b) {
      // serde's `visit_map` at the entry's end: the first member missing, in declaration order
      for (const name of Object.keys(KNOWN)) {
        if (!this.seen.has(name)) return this.fail("Data", `missing field \`${name}\``, column + 1)
      }
    }
    if (this.stack.length === 1 && this.stack[0] === 0x5b && this.sequenceIndex < 4) {
      return this.fail(
        "Data",
        `invalid length ${this.sequenceIndex}, expected struct WalEntry with 4 elements`,
        column
      )
    }
    this.stack.pop()
    this.roles.pop()
    this.valueDone(column, "container")
  }

  /** A value ended (or a container closed): what must follow, and the entry's checks. */
  private valueDone(column: number, kind: "string" | "number" | "literal" | "container"): void {
    this.token = Token.None
    const depth = this.stack.length
    if (depth === 0) {
      this.expect = Expect.End
      // a string, number or literal where the entry should be (serde's `peek_invalid_type`)
      if (kind !== "container") this.fail("Data", `invalid type: ${kind}, expected struct WalEntry`, column)
      return
    }
    this.expect = Expect.Separator
    const sequence = this.stack[0] === 0x5b
    if (depth === 1 && kind !== "container") {
      const role = this.role
      if (role === Role.String && kind !== "string") {
        this.fail(
          "Data",
          `invalid type: ${kind === "number" ? "number" : this.literalType()}, expected a string`,
          column
        )
      } else if (role === Role.U64) this.checkU64(kind, column)
    }
    if (depth === 1 && sequence) {
      this.sequenceIndex++
      this.role = SEQUENCE_ROLES[this.sequenceIndex] ?? Role.Ignored
      return
    }
    // the next value in this container has the container's role (the entry's: set by its key)
    this.role = depth === 1 ? Role.Value : (this.roles[depth - 1] as Role)
  }

  private literalType(): string {
    return this.literal === "null" ? "null" : "boolean"
  }

  private checkU64(kind: "string" | "number" | "literal" | "container", column: number): void {
    if (kind === "string") return this.fail("Data", "invalid type: string, expected u64", column)
    if (kind === "literal") return this.fail("Data", `invalid type: ${this.literalType()}, expected u64`, column)
    // an integer ≥ 0 within u64 (a float, `-0`, or an integer beyond u64 and i64 is a float); a
    // number with a fraction or an exponent ended in it
    const float = this.numberPart === Part.Fraction || this.numberPart === Part.ExponentDigits
    const digits = this.numberDigits
    const fits = !float && (digits.length < 20 || (digits.length === 20 && digits <= U64_MAX_TEXT))
    if (this.numberNegative) {
      return this.fail(
        "Data",
        fits && digits !== "0" && (digits.length < 19 || (digits.length === 19 && digits <= "9223372036854775808"))
          ? `invalid value: integer \`-${digits}\`, expected u64`
          : "invalid type: floating point, expected u64",
        column
      )
    }
    if (!fits) this.fail("Data", "invalid type: floating point, expected u64", column)
  }

  private startString(key: boolean): void {
    this.token = Token.String
    this.key = key
    this.escape = false
    this.hex = 0
    this.pair = 0
    this.trail = false
    if (key && this.stack.length === 1) this.keyText = ""
  }

  /** whether the string being read is validated strictly (serde's `parse_str`), not ignored */
  private strict(): boolean {
    return this.role !== Role.Ignored
  }

  private stringByte(b: number, column: number): void {
    if (this.hex > 0) {
      // serde decodes the four bytes after `\u` once all four are there (fewer at the end: EOF)
      if (!isHex(b)) this.badHex = true
      else this.code = this.code * 16 + hexValue(b)
      if (--this.hex > 0) return
      if (this.badHex) return this.fail("Syntax", "invalid escape", column)
      return this.escaped(column)
    }
    if (this.pair > 0) {
      // after a leading surrogate: `\` then `u` must follow
      if (b !== (this.pair === 2 ? 0x5c : 0x75)) return this.fail("Syntax", "unexpected end of hex escape", column)
      if (--this.pair === 0) {
        this.trail = true
        this.hex = 4
        this.code = 0
        this.badHex = false
      }
      return
    }
    if (this.escape) {
      this.escape = false
      if (b === 0x75) {
        this.hex = 4
        this.code = 0
        this.badHex = false
        return
      }
      const simple = SIMPLE_ESCAPES[b]
      if (simple === undefined) return this.fail("Syntax", "invalid escape", column)
      this.keyChar(simple)
      return
    }
    if (b < 0x20) return this.fail("Syntax", "control character (\\u0000-\\u001F) found while parsing a string", column)
    if (b === 0x5c) {
      this.escape = true
      return
    }
    if (b === 0x22) return this.stringDone(column)
    this.keyChar(b < 0x80 ? b : -1)
  }

  /** A `\u` escape's four digits were read. */
  private escaped(column: number): void {
    const code = this.code
    if (this.trail) {
      this.trail = false
      if (code < 0xdc00 || code > 0xdfff) {
        if (this.strict()) return this.fail("Syntax", "lone leading surrogate in hex escape", column)
      }
      this.keyChar(-1)
      return
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      if (this.strict()) this.fail("Syntax", "lone leading surrogate in hex escape", column)
      this.keyChar(-1)
      return
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      // serde ignoring a value reads each escape on its own; parsing one, it wants the pair
      if (this.strict()) this.pair = 2
      this.keyChar(-1)
      return
    }
    this.keyChar(code < 0x80 ? code : -1)
  }

  /** One character of an entry's key (-1: not ASCII, so no known member's); `keyText` is set only while one is read. */
  private keyChar(c: number): void {
    const text = this.keyText
    if (text === undefined) return
    this.keyText = c < 0 || text.length >= 16 ? undefined : text + String.fromCharCode(c)
  }

  private stringDone(column: number): void {
    if (!this.key) return this.valueDone(column, "string")
    this.token = Token.None
    this.expect = Expect.Colon
    if (this.stack.length !== 1) return
    const name = this.keyText
    this.keyText = undefined
    const role = name !== undefined && Object.hasOwn(KNOWN, name) ? KNOWN[name] as Role : Role.Ignored
    if (role !== Role.Ignored) {
      if (this.seen.has(name as string)) {
        // serde reports it at the key (after the white space that follows it): a Data error either way
        return this.fail("Data", `duplicate field \`${name}\``, column + 1)
      }
      this.seen.add(name as string)
    }
    this.role = role
  }

  /** One byte of a number; false when it ends the number (the byte is then read again). */
  private numberByte(b: number, column: number): boolean {
    const part = this.numberPart
    if (isDigit(b)) {
      switch (part) {
        case Part.Sign:
          // the integer part: `0`, or a digit 1-9 and more digits
          this.numberPart = b === 0x30 ? Part.Zero : Part.Integer
          this.numberDigits = String.fromCharCode(b)
          if (b !== 0x30) {
            this.numberIntDigits = 1
            this.numberNonZero = true
          }
          return true
        case Part.Zero:
          // one leading zero only (serde: "invalid number")
          this.fail("Syntax", "invalid number", column)
          return true
        case Part.Integer:
          this.numberIntDigits = Math.min(this.numberIntDigits + 1, 1e7)
          if (this.numberDigits.length <= 20) this.numberDigits += String.fromCharCode(b)
          return true
        case Part.Dot:
        case Part.Fraction:
          this.numberPart = Part.Fraction
          if (b !== 0x30) this.numberNonZero = true
          else if (!this.numberNonZero) this.numberFracZeros = Math.min(this.numberFracZeros + 1, 1e7)
          return true
        default:
          this.numberPart = Part.ExponentDigits
          // its significant digits (leading zeros count for nothing: `e-0000001` is `e-1`)
          if (this.numberExponentDigits > 0 || b !== 0x30) {
            if (++this.numberExponentDigits <= 6) this.numberExponent = this.numberExponent * 10 + (b - 0x30)
          }
          return true
      }
    }
    if (part === Part.Sign || part === Part.Dot || part === Part.ExponentSign) {
      // a digit must follow `-`, `.` or the exponent's sign
      this.fail("Syntax", "invalid number", column)
      return true
    }
    if (part === Part.E) {
      if (b === 0x2b || b === 0x2d) {
        this.numberPart = Part.ExponentSign
        this.numberExponentNegative = b === 0x2d
        return true
      }
      this.fail("Syntax", "invalid number", column)
      return true
    }
    if (b === 0x2e && (part === Part.Zero || part === Part.Integer)) {
      this.numberPart = Part.Dot
      return true
    }
    if ((b === 0x65 || b === 0x45) && part !== Part.ExponentDigits) {
      this.numberPart = Part.E
      return true
    }
    this.numberDone(column)
    return false
  }

  /** A complete number ended: its range in `data` (a float beyond f64's is serde's error), then the value's checks. */
  private numberDone(column: number): void {
    // serde parses a number it does not ignore before it looks at its type (`sequence`, the hashes,
    // the entry itself, `data`): beyond f64's range (~1.8e308) it is "number out of range", a
    // Syntax error; near the range's end, or with digits or an exponent beyond these counts: not judged
    if (this.role !== Role.Ignored && this.numberNonZero) {
      if (this.numberExponentDigits > 6 || this.numberIntDigits >= 1e6 || this.numberFracZeros >= 1e6) {
        this.uncertain = true
        return
      }
      // the number's magnitude: 10^m ≤ |x| < 10^(m+1)
      const exponent = this.numberExponent
      const m = (this.numberIntDigits > 0 ? this.numberIntDigits - 1 : -(this.numberFracZeros + 1)) +
        (this.numberExponentNegative ? -exponent : exponent)
      if (m >= 308) {
        this.uncertain = true
        return
      }
    }
    this.valueDone(column, "number")
  }

  /**
   * Why the line, ending here, cannot be an entry — `Eof`: it is the start of one, cut (what a
   * crash leaves: a torn tail); `Syntax` / `Data`: no entry begins so (corruption); `Io`: not
   * UTF-8 (`torn` when only its last character is cut) —; undefined when it may be one, when it is
   * not judged here, or when it is blank.
   */
  verdict(): LongVerdict | undefined {
    const reason = "stream did not contain valid UTF-8"
    const notUtf8: LongVerdict = { category: "Io", torn: false, reason, column: 0 }
    if (this.badUtf8 !== 0) return notUtf8
    // a character cut at the very end: the bytes before it decide (torn only if they are a cut entry)
    const cut = this.need > 0
    const broken = this.broken
    // (a character that broke the line — outside a string, where no writer puts one — is never a
    // cut's: corruption, even cut at the very end; a review found a changed byte "repaired" away)
    if (broken !== undefined) return cut ? notUtf8 : broken
    if (this.uncertain) return undefined
    let eof: string | undefined
    if (this.token === Token.Number) {
      const part = this.numberPart
      if (part === Part.Sign || part === Part.Dot || part === Part.E || part === Part.ExponentSign) {
        // serde ignoring a value scans a number with `ignore_integer` & co.: cut there, "invalid number"
        if (this.role === Role.Ignored) {
          return cut ? notUtf8 : { category: "Syntax", reason: "invalid number", column: this.length + 1 }
        }
        eof = "EOF while parsing a value"
      } else {
        // the end of the input ends a complete number: its checks, then what must follow it
        this.numberDone(this.length)
        const after = this.broken as LongVerdict | undefined
        if (after !== undefined) return cut ? notUtf8 : after
        if (this.uncertain) return undefined
      }
    } else if (this.token === Token.Literal) eof = "EOF while parsing a value"
    else if (this.token === Token.String) eof = "EOF while parsing a string"
    if (eof === undefined) {
      const expect = this.expect
      // only white space before a cut character: serde's EOF (as `tornInCharacter` finds)
      if (expect === Expect.Start && cut && this.strangeAt === this.charStart) return notUtf8
      // blank, or a closed entry: possibly complete
      if (expect === Expect.Start || expect === Expect.End) return cut ? notUtf8 : undefined
      if (expect === Expect.Extra) {
        return cut ? notUtf8 : { category: "Syntax", reason: "trailing characters", column: this.length + 1 }
      }
      // (after a `,` in an object serde ignores, its `ignore_value` wants a key: "an object")
      eof = expect === Expect.Value || (expect === Expect.Key && this.role !== Role.Ignored)
        ? "EOF while parsing a value"
        : this.stack[this.stack.length - 1] === 0x5b
        ? "EOF while parsing a list"
        : "EOF while parsing an object"
    }
    // (judged at the end of the input, where no LF follows: a CR at its end is the line's own)
    return cut
      ? { category: "Io", torn: true, reason, column: 0 }
      : { category: "Eof", reason: eof, column: this.length }
  }
}

const expected = (role: Role): string => role === Role.U64 ? "u64" : "a string"
