/**
 * Our lossless JSON value type, a serde_json-exact parser and printer (SPEC §7).
 *
 * - integers are `number` (safe integers) or `bigint` (anything else that fits u64 / i64);
 * - floats are `JsonFloat` (so a parsed `100.0` prints back as `100.0`); a plain `number`
 *   that is not a safe integer is also treated as a float by the printer;
 * - objects are `ReadonlyMap`s that keep insertion order (a repeated key keeps the position
 *   of its first occurrence and the value of its last, like serde_json's `preserve_order`).
 *
 * Never send wire data through `JSON.parse`.
 */
import type * as Either from "effect/Either"
import * as internalParse from "./internal/jsonParse.js"
import * as internalPrint from "./internal/jsonPrint.js"
import { type Json, type JsonArray, JsonFloat, type JsonObject, type JsonParseError } from "./internal/jsonValue.js"

// The value model lives in a leaf module (the parser and the printer build it without
// importing this one); it is part of this module's API.
export { JsonFloat, JsonParseError, ParseCategory } from "./internal/jsonValue.js"
export type { Json, JsonArray, JsonObject } from "./internal/jsonValue.js"

export interface ParseOptions {
  /** Most nested arrays/objects allowed; the next level is `recursion limit exceeded`. Default 127. */
  readonly maxDepth?: number
}

/** serde_json's default recursion limit, expressed as the deepest nesting that still parses. */
export const MAX_DEPTH = 127

/** The parser behind `parse` (one text at a time: `parse` is synchronous and never re-entered). */
const parser = new internalParse.Cursor()

/** Parse one complete JSON text (surrounding JSON whitespace allowed, trailing characters are an error). */
export const parse = (text: string, options?: ParseOptions): Either.Either<Json, JsonParseError> =>
  parser.parse(text, options?.maxDepth ?? MAX_DEPTH)

/**
 * Whether the last `parse` met a key twice in one object (the value keeps the first position
 * and the last value, as serde_json's `Value` does; serde's typed decoding of a struct refuses
 * a repeated field instead — see `JsonSchema.decodeText`).
 */
export const hadRepeatedKey = (): boolean => parser.hadRepeatedKey()

/** Print compactly, byte for byte as serde_json 1.0.150 (with `preserve_order`) does. */
export const print = (value: Json): string => internalPrint.print(value)

/**
 * `print`, or undefined when a reader could not read the text back as `value`: it nests more
 * than `maxDepth` arrays / objects, a string (or key) holds a lone surrogate, which has no
 * UTF-8 spelling (`print` writes it as U+FFFD, as `TextEncoder` does, so two keys could print
 * alike; serde_json refuses it), or a bigint lies outside −2^63 … 2^64 − 1 (`print` writes its
 * digits, which serde_json, and `parse`, read as a float). A writer checks all three while
 * printing.
 */
export const printWithin = (value: Json, maxDepth: number): string | undefined =>
  internalPrint.printWithin(value, maxDepth)

/** A growable byte buffer that `printInto` appends to: its bytes are `buffer[0, length)`. */
export type ByteSink = internalPrint.ByteSink

/**
 * Append the UTF-8 bytes of `print(value)` to `sink` (exactly `TextEncoder.encode(print(value))`,
 * written straight into the buffer: no string, no separate encoding), replacing `sink.buffer`
 * by a larger copy when it needs room; true. When `printWithin` would refuse it (it nests more
 * than `maxDepth` arrays / objects, holds a lone surrogate or an integer outside the wire's):
 * false, and `sink.length` is unchanged (the bytes after it may have been overwritten).
 */
export const printInto = (value: Json, sink: ByteSink, maxDepth?: number): boolean =>
  internalPrint.printInto(value, sink, maxDepth)

/** Print a double as serde_json/zmij does (`1.0`, `1e+16`, `-0.0`; NaN and infinities are `null`). */
export const printFloat = (value: number): string => internalPrint.printFloat(value)

/** Is this a JSON object? */
export const isObject = (value: Json): value is JsonObject => value instanceof Map

/** Is this a JSON array? */
export const isArray = (value: Json): value is JsonArray => Array.isArray(value)

/**
 * A deep copy of a JSON value, `maxDepth` levels of arrays and objects at most (deeper, the rest
 * is the value itself, uncopied: a printer bounded by the same depth refuses it). Each member is
 * read once: a value checked after it is copied is the value used, whatever the caller does to
 * the original afterwards (or a getter answers the next time). What is not JSON is kept as it is,
 * for the caller's check to refuse.
 */
export const copy = (value: unknown, maxDepth: number = MAX_DEPTH): unknown => {
  if (typeof value !== "object" || value === null || maxDepth < 0) return value
  if (Array.isArray(value)) {
    const length = value.length
    const out = new Array<unknown>(length)
    for (let i = 0; i < length; i++) out[i] = copy(value[i], maxDepth - 1)
    return out
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>()
    for (const [key, member] of value) out.set(key, copy(member, maxDepth - 1))
    return out
  }
  if (value instanceof JsonFloat) return new JsonFloat(value.value)
  return value
}

/** Deep structural equality of two JSON values (object member order matters, as it does on the wire). */
export const equals = (a: Json, b: Json): boolean => print(a) === print(b)

/**
 * Low-level, serde_json-exact reading of one text (internal: for `@calybris/wal`, which replays
 * serde-derive's `Deserialize` of the WAL entry struct on top of it). See `internal/jsonParse.ts`.
 * Each reader owns its cursor (`new Json.Cursor()`): the state of one text lives in the instance.
 */
export const Cursor = internalParse.Cursor
export type Cursor = internalParse.Cursor

/** serde_json's syntax / EOF error codes, for `Cursor.failPeek`. */
export const ParseErrorCode = internalParse.ErrorCode
