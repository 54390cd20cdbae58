/**
 * Parsing one WAL line into its envelope `{sequence, previous_hash, entry_hash, data}` exactly
 * as the reference does: `serde_json::from_str::<WalEntry<Value>>(line)` (serde_json 1.0.150)
 * with `#[derive(Deserialize)] struct WalEntry<T> { sequence: u64, previous_hash: String,
 * entry_hash: String, data: T }`.
 *
 * One left-to-right pass over the line replays what that code does, so the FIRST problem on the
 * line is the one reported, with serde's category (Syntax / Data / Eof), message and position.
 * The pieces, and where they come from:
 *
 * - `from_str` (serde_json de.rs `from_trait`): deserialize, then `Deserializer::end` — JSON
 *   whitespace, then anything else is "trailing characters" (a peek error).
 * - `Deserializer::deserialize_struct` (de.rs): after whitespace, `[` → `visit_seq` then
 *   `end_seq`, `{` → `visit_map` then `end_map` (each inside `check_recursion!`, so the entry
 *   is nesting level 1 of serde's 128), anything else → `peek_invalid_type(&visitor)`
 *   ("invalid type: …, expected struct WalEntry"). Whatever the visitor returns, `end_seq` /
 *   `end_map` still runs (`match (ret, self.end_map())`), and a visitor error without a
 *   position then gets `fix_position` = `error()` at the index where `end_*` left off: that is
 *   why "missing field" points just past the `}` and "duplicate field" just past the key and
 *   the whitespace after it.
 * - serde-derive's `visit_map` (serde_derive/src/de/struct_.rs `deserialize_map`): keys in any
 *   order; a known key seen twice → `duplicate_field` right after the key, before its value;
 *   an unknown key's value → `next_value::<IgnoredAny>` → serde_json's `ignore_value`; at the
 *   end the missing fields are reported in declaration order (`missing_field`).
 * - serde-derive's `visit_seq` (`deserialize_seq`): the four fields in order, a missing one →
 *   `invalid_length(i, "struct WalEntry with 4 elements")`; extra elements are not read by the
 *   visitor, so `end_seq` reports them: `,` then `]` → "trailing comma", anything else (even
 *   the end of the line) → "trailing characters" (peek errors).
 * - `sequence: u64` → `deserialize_number`: an integer ≥ 0 is fine; a negative integer →
 *   serde's `int_to_uint` → "invalid value: integer `-1`, expected u64"; a float (a fraction,
 *   an exponent, `-0`, or an integer beyond u64/i64) → the default `visit_f64` → "invalid type:
 *   floating point `1.5`, expected u64"; anything else → `peek_invalid_type` (which still
 *   parses the string / literal / number, so a syntax error inside it wins).
 * - `previous_hash` / `entry_hash: String` → `deserialize_str`; otherwise `peek_invalid_type`
 *   with "a string".
 * - `data: Value` → `deserialize_any` (`Cursor.readValue` / `scanValue`), at most 126 more
 *   levels (127 in all with the entry).
 * - Messages follow serde_json's `de::Error` impl (error.rs: `Unit` is "null", a float is
 *   printed by the float formatter of that version, i.e. as `Json.printFloat`) and serde's
 *   `Unexpected` Display (strings with Rust's `{:?}`: see `rustDebug`).
 */
import * as Json from "@calybris/core/Json"
import * as Serde from "@calybris/core/Serde"
import * as Either from "effect/Either"

export interface Envelope {
  readonly sequence: bigint
  readonly previous_hash: string
  readonly entry_hash: string
  readonly data: Json.Json
}

export interface EnvelopeError {
  readonly category: "Syntax" | "Data" | "Eof"
  readonly reason: string
  readonly column: number
}

/** Nesting limit counting the entry object itself (serde_json's recursion limit). */
export const MAX_DEPTH = Json.MAX_DEPTH

/** What `parseLine` should produce besides the envelope members. */
export interface LineOptions {
  /** the parsed `data` value */
  readonly value: boolean
  /** the canonical text of `data` (what the chain hashes) */
  readonly text: boolean
}

/** One parsed line: `data` / `dataText` are present when asked for. */
export interface ParsedLine {
  readonly sequence: bigint
  readonly previous_hash: string
  readonly entry_hash: string
  readonly data: Json.Json | undefined
  readonly dataText: string | undefined
  /** `data` was written exactly as `print` writes it (so no repeated key); false when not asked for the text */
  readonly dataCanonical: boolean
}

/** The envelope reader's own cursor over the line being parsed. */
const C = new Json.Cursor()
const E = Json.ParseErrorCode

const FIELDS = ["sequence", "previous_hash", "entry_hash", "data"] as const
const EXPECTING = "struct WalEntry"

// ---------------------------------------------------------------------------------------------
// serde_json Deserializer methods, as the derived visitor calls them (false = error recorded):
// core's `Serde`, the one implementation shared with `JsonSchema.decodeText`

/**
 * Rust's `<str as Debug>::fmt`, of at most `Serde.EXCERPT` characters: a 60 MB string on a
 * line is not echoed whole (the reference would; category and position are the same).
 */
export const rustDebug = Serde.rustDebug

/** `peek_invalid_type` (see `Serde.invalidType`). */
const invalidType = (expected: string): false => {
  Serde.invalidType(C, expected)
  return false
}

const U64_MAX = 0xffff_ffff_ffff_ffffn
const U64_HI = Number(U64_MAX)

/** `u64::deserialize` → `deserialize_number` with serde's u64 PrimitiveVisitor. */
const readU64 = (): bigint | undefined => {
  const v = Serde.readInteger(C, "u64", 0n, U64_MAX, 0, U64_HI, false)
  return v === Serde.FAIL ? undefined : typeof v === "bigint" ? v : BigInt(v)
}

/** `String::deserialize` → `deserialize_str` (`parse_str`). */
const readString = (): string | undefined => {
  const v = Serde.readString(C, "a string")
  return v === Serde.FAIL ? undefined : v
}

// ---------------------------------------------------------------------------------------------
// The entry

/** The members read so far (positions of `data` instead of its value, when only scanned). */
interface Members {
  sequence: bigint | undefined
  previous: string | undefined
  entry: string | undefined
  hasData: boolean
  data: Json.Json | undefined
  dataStart: number
  dataEnd: number
  dataCanonical: boolean
}

/** Nesting left for `data` once the entry object holds one level. */
const DATA_DEPTH = MAX_DEPTH - 1

/** Field `index` of the struct, from the deserializer at its value. */
const readField = (index: number, m: Members, build: boolean): boolean => {
  switch (index) {
    case 0: {
      const v = readU64()
      m.sequence = v
      return v !== undefined
    }
    case 1: {
      const v = readString()
      m.previous = v
      return v !== undefined
    }
    case 2: {
      const v = readString()
      m.entry = v
      return v !== undefined
    }
    default: {
      // deserialize_any skips the whitespace first: the raw text starts at the value
      C.peek()
      m.dataStart = C.position()
      m.hasData = true
      if (build) {
        const v = C.readValue(DATA_DEPTH)
        m.dataEnd = C.position()
        m.data = v
        return v !== undefined
      }
      const ok = C.scanValue(DATA_DEPTH)
      m.dataEnd = C.position()
      m.dataCanonical = C.canonical()
      return ok
    }
  }
}

/** serde-derive's `visit_map`, then `end_map`; the index is just after `{`. */
const visitMap = (m: Members, build: boolean): boolean => {
  let first = true
  for (;;) {
    // MapAccess::next_key_seed
    let c = C.peek()
    if (c === 125) break
    if (c === 44 && !first) {
      C.advance()
      c = C.peek()
    } else if (c === -1) {
      return C.failPeek(E.EOF_WHILE_PARSING_OBJECT)
    } else if (first) {
      first = false
    } else {
      return C.failPeek(E.EXPECTED_OBJECT_COMMA_OR_END)
    }
    if (c !== 34) {
      return C.failPeek(c === 125 ? E.TRAILING_COMMA : c === -1 ? E.EOF_WHILE_PARSING_VALUE : E.KEY_MUST_BE_A_STRING)
    }
    C.advance()
    const key = C.readString()
    if (key === undefined) return false
    const index = FIELDS.indexOf(key as typeof FIELDS[number])
    if (index >= 0) {
      const seen = index === 0
        ? m.sequence !== undefined
        : index === 1
        ? m.previous !== undefined
        : index === 2
        ? m.entry !== undefined
        : m.hasData
      if (seen) {
        // visit_map returns here; end_map skips whitespace and consumes a `}` (anything else
        // is its own error, unused); fix_position puts the error where end_map stopped
        if (C.peek() === 125) C.advance()
        return C.failData(`duplicate field \`${FIELDS[index]}\``)
      }
    }
    // MapAccess::next_value_seed: parse_object_colon, then the field's Deserialize
    const colon = C.peek()
    if (colon !== 58) return C.failPeek(colon === -1 ? E.EOF_WHILE_PARSING_OBJECT : E.EXPECTED_COLON)
    C.advance()
    if (index < 0 ? !C.ignoreValue() : !readField(index, m, build)) return false
  }
  // end_map consumes the `}` (the visitor's missing_field error is positioned after it)
  C.advance()
  const missing = m.sequence === undefined
    ? FIELDS[0]
    : m.previous === undefined
    ? FIELDS[1]
    : m.entry === undefined
    ? FIELDS[2]
    : m.hasData
    ? undefined
    : FIELDS[3]
  return missing === undefined || C.failData(`missing field \`${missing}\``)
}

/** serde-derive's `visit_seq`, then `end_seq`; the index is just after `[`. */
const visitSeq = (m: Members, build: boolean): boolean => {
  for (let i = 0; i < FIELDS.length; i++) {
    // SeqAccess::next_element_seed
    let c = C.peek()
    if (c === 93) {
      // None: invalid_length, positioned after end_seq consumed the `]`
      C.advance()
      return C.failData(`invalid length ${i}, expected ${EXPECTING} with ${FIELDS.length} elements`)
    }
    if (c === 44 && i > 0) {
      C.advance()
      c = C.peek()
    } else if (c === -1) {
      return C.failPeek(E.EOF_WHILE_PARSING_LIST)
    } else if (i > 0) {
      return C.failPeek(E.EXPECTED_LIST_COMMA_OR_END)
    }
    if (c === 93) return C.failPeek(E.TRAILING_COMMA)
    if (c === -1) return C.failPeek(E.EOF_WHILE_PARSING_VALUE)
    if (!readField(i, m, build)) return false
  }
  // end_seq
  const c = C.peek()
  if (c === 93) {
    C.advance()
    return true
  }
  if (c === 44) {
    C.advance()
    return C.failPeek(C.peek() === 93 ? E.TRAILING_COMMA : E.TRAILING_CHARACTERS)
  }
  return C.failPeek(c === -1 ? E.EOF_WHILE_PARSING_LIST : E.TRAILING_CHARACTERS)
}

/** `from_str::<WalEntry<Value>>`: the struct, then only whitespace. */
const readEntry = (m: Members, build: boolean): boolean => {
  const c = C.peek()
  if (c === -1) return C.failPeek(E.EOF_WHILE_PARSING_VALUE)
  let ok: boolean
  if (c === 123 || c === 91) {
    C.advance()
    ok = c === 123 ? visitMap(m, build) : visitSeq(m, build)
  } else {
    ok = invalidType(EXPECTING)
  }
  return ok && (C.peek() === -1 || C.failPeek(E.TRAILING_CHARACTERS))
}

const toError = (e: Json.JsonParseError): EnvelopeError => ({
  category: e.category,
  reason: e.message,
  column: e.column
})

/**
 * Parse one line (without its LF / CR), producing the data value and / or its canonical text
 * as asked. Without `value`, `data` is only validated (no value is built); its text is the raw
 * text when that is already canonical, else it is parsed again and printed.
 */
export const parseLine = (text: string, options: LineOptions): Either.Either<ParsedLine, EnvelopeError> => {
  const m: Members = {
    sequence: undefined,
    previous: undefined,
    entry: undefined,
    hasData: false,
    data: undefined,
    dataStart: 0,
    dataEnd: 0,
    dataCanonical: false
  }
  C.begin(text)
  try {
    if (!readEntry(m, options.value)) return Either.left(toError(C.error()))
    let data = m.data
    let dataText: string | undefined
    if (options.text) {
      if (options.value) {
        C.seek(m.dataStart)
        C.scanValue(DATA_DEPTH)
        m.dataCanonical = C.canonical()
      }
      if (m.dataCanonical) {
        dataText = C.slice(m.dataStart, m.dataEnd)
      } else {
        if (data === undefined) {
          C.seek(m.dataStart)
          data = C.readValue(DATA_DEPTH)
        }
        dataText = Json.print(data ?? null)
      }
    }
    return Either.right({
      sequence: m.sequence ?? 0n,
      previous_hash: m.previous ?? "",
      entry_hash: m.entry ?? "",
      data: options.value ? data : undefined,
      dataText,
      dataCanonical: options.text && m.dataCanonical
    })
  } catch (e) {
    // Not reachable for well-formed calls; only engine limits (memory) end up here, as in Json.parse.
    return Either.left({ category: "Syntax", reason: e instanceof Error ? e.message : String(e), column: 0 })
  } finally {
    C.release()
  }
}

/** Parse one line (without its LF / CR) into its envelope. */
export const parseEnvelope = (text: string): Either.Either<Envelope, EnvelopeError> =>
  Either.map(parseLine(text, { value: true, text: false }), (line) => ({
    sequence: line.sequence,
    previous_hash: line.previous_hash,
    entry_hash: line.entry_hash,
    data: line.data ?? null
  }))
