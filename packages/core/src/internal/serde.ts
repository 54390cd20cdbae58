/**
 * Typed decoding of a JSON text as serde does it: `serde_json::from_str::<T>(text)` for a
 * `#[derive(Deserialize)]` struct `T` (serde 1.x, serde_json 1.0.150). One left-to-right pass
 * over the text replays the calls the derived visitors make, so the FIRST problem of the text
 * is the one reported, with serde's category, message and position (`JsonParseError`):
 *
 * - struct (`deserialize_struct`): `{` → the derived `visit_map` (keys in any order; an
 *   unknown key's value is skipped with `ignore_value`; a known key seen twice → "duplicate
 *   field `x`" right after the key and the whitespace after it; at the `}` the missing fields
 *   in declaration order → "missing field `x`" just past the `}`), `[` → the derived
 *   `visit_seq` (the fields in order; a short one → "invalid length N, expected struct X with
 *   M elements" just past the `]`; extra elements → "trailing characters" / "trailing comma");
 *   anything else → `peek_invalid_type` ("invalid type: integer `5`, expected struct X");
 * - integers (`deserialize_number` with serde's primitive visitors): a float → "invalid type:
 *   floating point `1.5`, expected u16", an integer out of range → "invalid value: integer
 *   `70000`, expected u16" (just past the literal);
 * - `bool` / `String` (`deserialize_bool` / `deserialize_str`): "invalid type: …, expected a
 *   boolean" / "a string";
 * - unit-variant enums (`deserialize_enum`): a string naming a variant, else "unknown variant
 *   `Foo`, expected one of `A`, `B`, `C`"; `{"A":null}` is accepted too; any other value is
 *   the Syntax error "expected value";
 * - `Vec<T>` (`deserialize_seq`): "invalid type: …, expected a sequence";
 * - `serde_json::Value` (`deserialize_any`): the untyped parser;
 * - then only whitespace may follow ("trailing characters").
 *
 * Errors raised by a visitor carry no position; serde_json's `fix_position` gives them the
 * index where the deserializer stopped (after `end_map` / `end_seq` ran): each failure below
 * is recorded at exactly that index. Nesting counts against serde_json's recursion limit.
 *
 * Messages quote user data (strings, variant names) at most `EXCERPT` characters long: a
 * 60 MB string is not echoed whole (serde would; the category and position are unchanged).
 */
import * as Either from "effect/Either"
import { Cursor, ErrorCode as E } from "./jsonParse.js"
import { printFloat } from "./jsonPrint.js"
import type { Json } from "./jsonValue.js"
import { JsonFloat, JsonParseError } from "./jsonValue.js"

/** What a wire type looks like to serde. */
export type Shape =
  | {
    readonly _tag: "Int"
    readonly name: string
    readonly min: bigint
    readonly max: bigint
    /** `min` and `max` as doubles (a safe integer compares exactly with them) */
    readonly lo: number
    readonly hi: number
  }
  | { readonly _tag: "Bool" }
  | { readonly _tag: "String" }
  | { readonly _tag: "Value" }
  | { readonly _tag: "Enum"; readonly variants: ReadonlyArray<string> }
  | { readonly _tag: "Seq"; readonly element: Shape }
  | {
    readonly _tag: "Struct"
    readonly name: string
    readonly names: ReadonlyArray<string>
    readonly shapes: ReadonlyArray<Shape>
  }

/** Longest piece of user text a message quotes. */
export const EXCERPT = 80

/** `text`, cut to `EXCERPT` characters (code points) with an ellipsis. */
export const excerpt = (text: string): string => {
  if (text.length <= EXCERPT) return text
  let out = ""
  let n = 0
  for (const ch of text) {
    if (n++ === EXCERPT) return out + "…"
    out += ch
  }
  return out
}

/** Rust's `char::is_printable` is false for these general categories (except U+0020). */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]/u

/**
 * Rust's `<str as Debug>::fmt` (`"` + `char::escape_debug_ext` of every character + `"`), of at
 * most `EXCERPT` characters (a longer string ends with `…` inside the quotes).
 */
export const rustDebug = (s: string): string => {
  let out = "\""
  let n = 0
  for (const ch of s) {
    if (n++ === EXCERPT) return out + "…\""
    switch (ch) {
      case "\0":
        out += "\\0"
        break
      case "\t":
        out += "\\t"
        break
      case "\r":
        out += "\\r"
        break
      case "\n":
        out += "\\n"
        break
      case "\\":
        out += "\\\\"
        break
      case "\"":
        out += "\\\""
        break
      default:
        out += ch !== " " && NOT_PRINTABLE.test(ch) ? `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}` : ch
    }
  }
  return out + "\""
}

/** serde's `Unexpected` of a scalar as serde_json's `JsonUnexpected` displays it. */
export const unexpected = (value: Json): string =>
  value === null
    ? "null"
    : typeof value === "boolean"
    ? `boolean \`${value}\``
    : typeof value === "string"
    ? `string ${rustDebug(value)}`
    : typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value))
    ? `integer \`${value}\``
    : typeof value === "number"
    ? `floating point \`${printFloat(value)}\``
    : value instanceof JsonFloat
    ? `floating point \`${printFloat(value.value)}\``
    : Array.isArray(value)
    ? "sequence"
    : "map"

/** serde's `OneOf` (the expected variants of "unknown variant"). */
const oneOf = (names: ReadonlyArray<string>): string =>
  names.length === 0
    ? "there are no variants"
    : names.length === 1
    ? `expected \`${names[0]}\``
    : names.length === 2
    ? `expected \`${names[0]}\` or \`${names[1]}\``
    : `expected one of ${names.map((n) => `\`${n}\``).join(", ")}`

// ---------------------------------------------------------------------------------------------
// serde_json Deserializer methods, as the derived visitors call them (FAIL = error recorded)

/** An error was recorded on the cursor. */
export const FAIL: unique symbol = Symbol("serde.FAIL")
type Result = Json | typeof FAIL

/** serde_json's recursion limit: nested containers allowed (the next one is an error). */
const MAX_DEPTH = 127
/** The typed decoder's own cursor over the text being decoded. */
const C = new Cursor()
/** Containers open around the current index. */
let depth = 0
/**
 * The field being read (struct member names and sequence indices): on a failure, what it was
 * about. Entries are popped only on success, so after a failure it names the failing field.
 */
const path: Array<string | number> = []
/** See `DecodeOptions.exactIntegers`. */
let exactIntegers = false

const failPeek = (code: number): typeof FAIL => {
  C.failPeek(code)
  return FAIL
}

const failData = (message: string): typeof FAIL => {
  C.failData(message)
  return FAIL
}

/** `check_recursion!` before consuming a `{` / `[` at the index. */
const enter = (): boolean => {
  if (depth >= MAX_DEPTH) {
    C.failPeek(E.RECURSION_LIMIT_EXCEEDED)
    return false
  }
  depth++
  C.advance()
  return true
}

/**
 * `peek_invalid_type` on `cursor`: the value at the index is of the wrong type. Scalars are read
 * first (a syntax error inside them wins) and the error is positioned after them; `[` / `{` are
 * not consumed. Shared with the WAL's envelope reader (through `Serde.ts`).
 */
export const invalidTypeAt = (cursor: Cursor, expected: string): typeof FAIL => {
  const c = cursor.peek()
  let value: Json | undefined
  if (c === 110 || c === 116 || c === 102) {
    value = cursor.readLiteral()
  } else if (c === 45 || (c >= 48 && c <= 57)) {
    value = cursor.readNumber()
  } else if (c === 34) {
    cursor.advance()
    value = cursor.readString()
  } else if (c === 91) {
    cursor.failData(`invalid type: sequence, expected ${expected}`)
    return FAIL
  } else if (c === 123) {
    cursor.failData(`invalid type: map, expected ${expected}`)
    return FAIL
  } else {
    cursor.failPeek(E.EXPECTED_SOME_VALUE)
    return FAIL
  }
  if (value !== undefined) cursor.failData(`invalid type: ${unexpected(value)}, expected ${expected}`)
  return FAIL
}

const invalidType = (expected: string): typeof FAIL => invalidTypeAt(C, expected)

/**
 * `deserialize_number` on `cursor` with serde's primitive integer visitor for `name` (u16, u64,
 * i64, …): the integer in [min, max] (`lo`, `hi`: the bounds as doubles), else FAIL with serde's
 * error recorded. `exact`: see `DecodeOptions.exactIntegers`.
 */
export const readIntegerAt = (
  cursor: Cursor,
  name: string,
  min: bigint,
  max: bigint,
  lo: number,
  hi: number,
  exact: boolean
): number | bigint | typeof FAIL => {
  const c = cursor.peek()
  if (c === -1) {
    cursor.failPeek(E.EOF_WHILE_PARSING_VALUE)
    return FAIL
  }
  if (c !== 45 && (c < 48 || c > 57)) return invalidTypeAt(cursor, name)
  const start = cursor.position()
  const value = cursor.readNumber()
  if (value === undefined) return FAIL
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    // (a safe integer compares exactly with a bound rounded to a double: the bounds are
    // integers and rounding is monotonic)
    if (value >= lo && value <= hi) return value
  } else if (typeof value === "bigint") {
    if (value >= min && value <= max) return value
  } else {
    // ParserNumber::F64 → visit_f64, which integer visitors leave to its default: invalid_type
    const literal = exact ? cursor.slice(start, cursor.position()) : ""
    // an integer literal beyond u64 / i64 is a float to serde_json; say what was written (`-0`
    // is a float to serde_json too, `-0.0`, and is not beyond anything)
    cursor.failData(
      exact && /^-?[0-9]+$/.test(literal) && literal !== "-0"
        ? `invalid value: integer \`${excerpt(literal)}\`, expected ${name}`
        : `invalid type: ${unexpected(value)}, expected ${name}`
    )
    return FAIL
  }
  cursor.failData(`invalid value: integer \`${value}\`, expected ${name}`)
  return FAIL
}

/** `deserialize_number` with serde's primitive integer visitor for `name` (u16, u64, i64, …). */
const readInt = (name: string, min: bigint, max: bigint, lo: number, hi: number): Result =>
  readIntegerAt(C, name, min, max, lo, hi, exactIntegers)

/** `deserialize_bool`. */
const readBool = (): Result => {
  const c = C.peek()
  if (c === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  if (c !== 116 && c !== 102) return invalidType("a boolean")
  return C.readLiteral() ?? FAIL
}

/** `deserialize_str` on `cursor` with a visitor expecting `expected`. */
export const readStringAt = (cursor: Cursor, expected: string): string | typeof FAIL => {
  const c = cursor.peek()
  if (c === 34) {
    cursor.advance()
    return cursor.readString() ?? FAIL
  }
  if (c !== -1) return invalidTypeAt(cursor, expected)
  cursor.failPeek(E.EOF_WHILE_PARSING_VALUE)
  return FAIL
}

/** `deserialize_str` with a visitor expecting `expected`. */
const readStr = (expected: string): string | typeof FAIL => readStringAt(C, expected)

/** The derived variant identifier: `deserialize_identifier` (= `deserialize_str`) + `visit_str`. */
const readVariant = (variants: ReadonlyArray<string>): string | typeof FAIL => {
  const name = readStr("variant identifier")
  if (name === FAIL || variants.includes(name)) return name
  return failData(`unknown variant \`${excerpt(name)}\`, ${oneOf(variants)}`)
}

/** `deserialize_enum` of a derived enum of unit variants. */
const readEnum = (variants: ReadonlyArray<string>): Result => {
  const c = C.peek()
  if (c === 34) return readVariant(variants)
  if (c === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  if (c !== 123) return failPeek(E.EXPECTED_SOME_VALUE)
  // `{"Variant": null}`: VariantAccess (serde_json 1.0.150's `variant_seed` looks at the key before
  // reading it: a key that is no string is "key must be a string", at the key; a review against
  // its source)
  if (!enter()) return FAIL
  const key = C.peek()
  if (key !== 34) {
    return failPeek(
      key === 125 ? E.EXPECTED_SOME_VALUE : key === -1 ? E.EOF_WHILE_PARSING_OBJECT : E.KEY_MUST_BE_A_STRING
    )
  }
  const name = readVariant(variants)
  if (name === FAIL) return FAIL
  const colon = C.peek()
  if (colon !== 58) return failPeek(colon === -1 ? E.EOF_WHILE_PARSING_OBJECT : E.EXPECTED_COLON)
  C.advance()
  // unit_variant: `()` → deserialize_unit
  const u = C.peek()
  if (u === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  if (u !== 110) return invalidType("unit")
  if (C.readLiteral() === undefined) return FAIL
  depth--
  const end = C.peek()
  if (end === 125) {
    C.advance()
    return name
  }
  C.failError(end === -1 ? E.EOF_WHILE_PARSING_OBJECT : E.EXPECTED_SOME_VALUE)
  return FAIL
}

/** `end_seq` after a visitor that succeeded. */
const endSeq = (): boolean => {
  const c = C.peek()
  if (c === 93) {
    C.advance()
    return true
  }
  if (c === 44) {
    C.advance()
    C.failPeek(C.peek() === 93 ? E.TRAILING_COMMA : E.TRAILING_CHARACTERS)
    return false
  }
  C.failPeek(c === -1 ? E.EOF_WHILE_PARSING_LIST : E.TRAILING_CHARACTERS)
  return false
}

/**
 * `SeqAccess::next_element_seed` up to the element: true when an element follows (the index at
 * it), false at the `]` (not consumed), FAIL on an error.
 */
const nextElement = (first: boolean): boolean | typeof FAIL => {
  let c = C.peek()
  if (c === 93) return false
  if (c === 44 && !first) {
    C.advance()
    c = C.peek()
  } else if (c === -1) {
    return failPeek(E.EOF_WHILE_PARSING_LIST)
  } else if (!first) {
    return failPeek(E.EXPECTED_LIST_COMMA_OR_END)
  }
  if (c === 93) return failPeek(E.TRAILING_COMMA)
  if (c === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  return true
}

/** `deserialize_seq` of a `Vec<T>`. */
const readSeq = (element: Shape): Result => {
  const c = C.peek()
  if (c === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  if (c !== 91) return invalidType("a sequence")
  if (!enter()) return FAIL
  const out: Array<Json> = []
  for (let first = true;; first = false) {
    const next = nextElement(first)
    if (next === FAIL) return FAIL
    if (!next) break
    path.push(out.length)
    const value = deserialize(element)
    if (value === FAIL) return FAIL
    path.pop()
    out.push(value)
  }
  depth--
  return endSeq() ? out : FAIL
}

type StructShape = Extract<Shape, { readonly _tag: "Struct" }>

const indices = new WeakMap<StructShape, ReadonlyMap<string, number>>()

/** A struct's member names to their index. */
const indexOf = (shape: StructShape): ReadonlyMap<string, number> => {
  let index = indices.get(shape)
  if (index === undefined) {
    index = new Map(shape.names.map((name, i) => [name, i]))
    indices.set(shape, index)
  }
  return index
}

/** The derived `visit_map`, then `end_map`; the index is just after `{`. */
const visitMap = (shape: StructShape): Result => {
  const { names, shapes } = shape
  const lookup = indexOf(shape)
  // a member's value once read (a Json value is never undefined)
  const values: Array<Json | undefined> = new Array(names.length)
  for (let first = true;; first = false) {
    // MapAccess::next_key_seed
    let c = C.peek()
    if (c === 125) break
    if (c === 44 && !first) {
      C.advance()
      c = C.peek()
    } else if (c === -1) {
      return failPeek(E.EOF_WHILE_PARSING_OBJECT)
    } else if (!first) {
      return failPeek(E.EXPECTED_OBJECT_COMMA_OR_END)
    }
    if (c !== 34) {
      return failPeek(c === 125 ? E.TRAILING_COMMA : c === -1 ? E.EOF_WHILE_PARSING_VALUE : E.KEY_MUST_BE_A_STRING)
    }
    C.advance()
    const key = C.readString()
    if (key === undefined) return FAIL
    const index = lookup.get(key) ?? -1
    if (index >= 0 && values[index] !== undefined) {
      // visit_map returns; end_map skips whitespace and consumes a `}` (anything else is its
      // own error, unused); fix_position puts the error where end_map stopped
      if (C.peek() === 125) C.advance()
      path.push(key)
      return failData(`duplicate field \`${key}\``)
    }
    // MapAccess::next_value_seed: parse_object_colon, then the field's Deserialize
    const colon = C.peek()
    if (colon !== 58) return failPeek(colon === -1 ? E.EOF_WHILE_PARSING_OBJECT : E.EXPECTED_COLON)
    C.advance()
    if (index < 0) {
      if (!C.ignoreValue()) return FAIL
      continue
    }
    path.push(key)
    const value = deserialize(shapes[index] as Shape)
    if (value === FAIL) return FAIL
    path.pop()
    values[index] = value
  }
  // end_map consumes the `}`: a missing field is reported just past it
  C.advance()
  depth--
  const out = new Map<string, Json>()
  for (let i = 0; i < names.length; i++) {
    if (values[i] === undefined) {
      path.push(names[i] as string)
      return failData(`missing field \`${names[i]}\``)
    }
    out.set(names[i] as string, values[i] as Json)
  }
  return out
}

/** The derived `visit_seq`, then `end_seq`; the index is just after `[`. */
const visitSeq = (shape: StructShape): Result => {
  const { names, shapes } = shape
  const out = new Map<string, Json>()
  for (let i = 0; i < names.length; i++) {
    const next = nextElement(i === 0)
    if (next === FAIL) return FAIL
    if (!next) {
      // None: invalid_length, positioned after end_seq consumed the `]`
      C.advance()
      const n = names.length
      return failData(`invalid length ${i}, expected struct ${shape.name} with ${n} element${n === 1 ? "" : "s"}`)
    }
    path.push(names[i] as string)
    const value = deserialize(shapes[i] as Shape)
    if (value === FAIL) return FAIL
    path.pop()
    out.set(names[i] as string, value)
  }
  depth--
  return endSeq() ? out : FAIL
}

/** `deserialize_struct` of a derived struct. */
const readStruct = (shape: StructShape): Result => {
  const c = C.peek()
  if (c === -1) return failPeek(E.EOF_WHILE_PARSING_VALUE)
  if (c === 123) return enter() ? visitMap(shape) : FAIL
  if (c === 91) return enter() ? visitSeq(shape) : FAIL
  return invalidType(`struct ${shape.name}`)
}

/** `T::deserialize` for the shape of `T`. */
const deserialize = (shape: Shape): Result => {
  switch (shape._tag) {
    case "Int":
      return readInt(shape.name, shape.min, shape.max, shape.lo, shape.hi)
    case "Bool":
      return readBool()
    case "String":
      return readStr("a string")
    case "Value": {
      // deserialize_any into a Value: the untyped parser, within the recursion limit left
      C.peek()
      // (`undefined` is a failure; a JSON `null` is a value like any other)
      const value = C.readValue(MAX_DEPTH - depth)
      return value === undefined ? FAIL : value
    }
    case "Enum":
      return readEnum(shape.variants)
    case "Seq":
      return readSeq(shape.element)
    case "Struct":
      return readStruct(shape)
  }
}

/** `models[2].quality_bps` */
export const formatPath = (keys: ReadonlyArray<PropertyKey>): string =>
  keys.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`,
    ""
  )

/** The error, naming the field it is about (when it is about one). */
const withField = (error: JsonParseError): JsonParseError =>
  path.length === 0 ? error : new JsonParseError({
    category: error.category,
    message: error.message,
    line: error.line,
    column: error.column,
    field: formatPath(path)
  })

/**
 * `serde_json::from_str::<T>(text)` for the shape of `T`: the value (objects as Maps with the
 * members in field order, integers exact) or serde's error.
 */
export interface DecodeOptions {
  /**
   * Report an integer literal beyond u64 / i64 as the integer written ("invalid value: integer
   * `18446744073709551616`, expected u64") where serde reports the float it parsed it as
   * ("invalid type: floating point `1.8446744073709552e+19`, …"). Same category and position.
   */
  readonly exactIntegers?: boolean | undefined
}

export const decode = (
  shape: Shape,
  text: string,
  options?: DecodeOptions
): Either.Either<Json, JsonParseError> => {
  C.begin(text)
  depth = 0
  path.length = 0
  exactIntegers = options?.exactIntegers === true
  try {
    const value = deserialize(shape)
    if (value === FAIL) return Either.left(withField(C.error()))
    if (C.peek() !== -1) {
      C.failPeek(E.TRAILING_CHARACTERS)
      return Either.left(C.error())
    }
    return Either.right(value)
  } catch (e) {
    // Not reachable for well-formed calls; only engine limits (memory) end up here, as in Json.parse.
    return Either.left(
      new JsonParseError({
        category: "Syntax",
        message: e instanceof Error ? e.message : String(e),
        line: 0,
        column: 0
      })
    )
  } finally {
    C.release()
  }
}
