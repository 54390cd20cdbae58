/**
 * The printer behind `Json.print`: byte for byte `serde_json::to_string` (1.0.150, compact
 * formatter, `preserve_order`), with floats formatted like the zmij crate.
 */
import type { Json, JsonFloat } from "./jsonValue.js"

// ---------------------------------------------------------------------------------------------
// Floats

/**
 * zmij: the shortest round-trip digits, written as d.ddd × 10^k; positional when
 * -5 <= k <= 15 (an integral value gets `.0`), otherwise `d[.ddd]e+K` / `d[.ddd]e-K`.
 *
 * JavaScript's `Number.prototype.toString` produces the same shortest digits; it is positional
 * for -6 <= k <= 20 and otherwise uses exactly zmij's exponent notation, so only k = -6 and
 * 16 <= k <= 20 need rewriting.
 */
export const printFloat = (value: number): string => {
  if (value !== value || value === Infinity || value === -Infinity) return "null"
  if (value === 0) return 1 / value < 0 ? "-0.0" : "0.0"
  const s = "" + value
  const a = value < 0 ? -value : value
  // k >= -5 exactly when a >= double(1e-5); k <= 15 exactly when a < 1e16 (exact in binary)
  if (a >= 1e-5 && a < 1e16) return s.indexOf(".") < 0 ? s + ".0" : s
  if (s.indexOf("e") >= 0) return s
  const negative = value < 0
  const body = negative ? s.slice(1) : s
  let digits: string
  let exponent: string
  if (a < 1) {
    // "0.00000ddd" (k = -6)
    let i = 2
    while (body.charCodeAt(i) === 48) i++
    digits = body.slice(i)
    exponent = "e-" + (i - 1)
  } else {
    // "ddd000" (16 <= k <= 20): shortest digits padded with zeros
    let end = body.length
    while (end > 1 && body.charCodeAt(end - 1) === 48) end--
    digits = body.slice(0, end)
    exponent = "e+" + (body.length - 1)
  }
  const mantissa = digits.length > 1 ? digits.slice(0, 1) + "." + digits.slice(1) : digits
  return (negative ? "-" : "") + mantissa + exponent
}

// ---------------------------------------------------------------------------------------------
// Strings

/** serde_json's ESCAPE table for U+0000..U+001F (lowercase hex). */
const CONTROL: ReadonlyArray<string> = Array.from({ length: 32 }, (_, c) => {
  switch (c) {
    case 8:
      return "\\b"
    case 9:
      return "\\t"
    case 10:
      return "\\n"
    case 12:
      return "\\f"
    case 13:
      return "\\r"
    default:
      return "\\u00" + (c < 16 ? "0" : "") + c.toString(16)
  }
})

const quoteSlow = (s: string, from: number): string => {
  let out = "\""
  let chunk = 0
  const n = s.length
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 32 && c !== 34 && c !== 92) continue
    if (chunk < i) out += s.slice(chunk, i)
    out += c === 34 ? "\\\"" : c === 92 ? "\\\\" : CONTROL[c] ?? ""
    chunk = i + 1
  }
  return out + s.slice(chunk) + "\""
}

/** Characters serde_json escapes: `"`, `\\` and U+0000..U+001F. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/

/** A string as a JSON string literal (serde_json's escapes). */
export const quote = (s: string): string => {
  const n = s.length
  // a native scan beats a charCodeAt loop once the per-call overhead is paid off
  if (n > 24) return NEEDS_ESCAPE.test(s) ? quoteSlow(s, 0) : "\"" + s + "\""
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 32 || c === 34 || c === 92) return quoteSlow(s, i)
  }
  return "\"" + s + "\""
}

/**
 * `"key":` for object members. Keys repeat across values, so short ones are memoised; the key
 * strings usually carry their hash already (they were Map keys), so a hit is cheap.
 */
const KEY_CACHE_LIMIT = 4096
const keyCache = new Map<string, string>()

const quoteKey = (key: string): string => {
  let quoted = keyCache.get(key)
  if (quoted === undefined) {
    quoted = quote(key) + ":"
    if (key.length <= 64) {
      if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear()
      keyCache.set(key, quoted)
    }
  }
  return quoted
}

// ---------------------------------------------------------------------------------------------
// Values

const isArray = Array.isArray as (value: unknown) => value is ReadonlyArray<Json>

/**
 * A float: tagged, and holding a number (an object tagged so whose `value` is a string would be
 * printed raw — a JavaScript caller's `{ _tag: "JsonFloat", value: "1e0,\"admin\":true" }` wrote
 * members of its own: a hostile review).
 */
const isFloat = (value: object): value is JsonFloat =>
  (value as { readonly _tag?: unknown })._tag === "JsonFloat" &&
  typeof (value as { readonly value?: unknown }).value === "number"

/** Most containers a value may nest (`printWithin`); Infinity for `print`. */
let limit = Infinity
/** Set when a value nested deeper than `limit` (what was printed is then meaningless). */
let tooDeep = false
/**
 * Set by the byte printer on a lone surrogate (written as U+FFFD, so what was printed no longer
 * spells the value; `printInto` then refuses it).
 */
let loneSurrogate = false
/**
 * Set by the bounded printers (`printWithin`, `printInto`) on a bigint outside the wire's
 * integers (−2^63 … 2^64 − 1): printed as its digits, it would read back as a float (as
 * serde_json reads it), another value; they refuse it. `print` (the digests' hot path) does not
 * look: `checkRange` is false there.
 */
let outOfRange = false
let checkRange = false
/**
 * Set by the bounded printers on what is no Json value (a JavaScript caller's, past the types):
 * a key that is not a string (a `Map`'s `1` prints as `""`: two such keys, one printed key twice),
 * an object that is not a `Map` (a plain object, a `Date`), `undefined`, a function or a symbol
 * (printed `null`: another value). They refuse it, as they refuse an out-of-range integer.
 */
let notJson = false

/** Is `value` (an object, not null, not an array, not a float) a Json object? */
const isJsonObject = (value: object): boolean => value instanceof Map
// Int's I64_MIN / U64_MAX (Int imports Json, which imports this module)
const I64_MIN = -(2n ** 63n)
const U64_MAX = 2n ** 64n - 1n

const write = (value: Json | undefined, depth: number): string => {
  switch (typeof value) {
    case "string":
      return quote(value)
    case "number":
      if (Number.isSafeInteger(value)) return "" + value
      // NaN and ±Infinity print `null` (serde's), another value: the bounded printers refuse them
      if (checkRange && !Number.isFinite(value)) notJson = true
      return printFloat(value)
    case "boolean":
      return value ? "true" : "false"
    case "bigint":
      if (checkRange && (value < I64_MIN || value > U64_MAX)) outOfRange = true
      return value.toString()
    case "object": {
      if (value === null) return "null"
      if (isArray(value)) {
        if (depth >= limit) {
          tooDeep = true
          return ""
        }
        const n = value.length
        if (n === 0) return "[]"
        let out = "[" + write(value[0], depth + 1)
        for (let i = 1; i < n; i++) out += "," + write(value[i], depth + 1)
        return out + "]"
      }
      if (isFloat(value)) {
        if (checkRange && !Number.isFinite(value.value)) notJson = true
        return printFloat(value.value)
      }
      if (depth >= limit) {
        tooDeep = true
        return ""
      }
      if (checkRange && !isJsonObject(value)) {
        notJson = true
        return ""
      }
      let out = "{"
      for (const [key, member] of value) {
        // a key that is no string (a symbol cannot even be quoted): refused, the rest not printed
        if (checkRange && typeof key !== "string") {
          notJson = true
          return ""
        }
        out += (out.length === 1 ? "" : ",") + quoteKey(key) + write(member, depth + 1)
      }
      return out + "}"
    }
    default:
      // not a Json value (undefined in a sparse array, ...): serde has no such value
      if (checkRange) notJson = true
      return "null"
  }
}

/** Print compactly, byte for byte as serde_json::to_string. */
export const print = (value: Json): string => write(value, 0)

/**
 * `print`, or undefined when the value nests more than `maxDepth` arrays / objects (checked
 * while printing: no separate walk over the value), holds a string with a lone surrogate (no
 * UTF-8 spelling: its bytes would read back as U+FFFD, another value; a one-byte string, the
 * usual case, is known well-formed without a scan), holds a bigint outside −2^63 … 2^64 − 1
 * (its digits would read back as a float), or holds what is no Json value (`notJson`).
 */
export const printWithin = (value: Json, maxDepth: number): string | undefined => {
  limit = maxDepth
  tooDeep = false
  outOfRange = false
  notJson = false
  checkRange = true
  try {
    const text = write(value, 0)
    return tooDeep || outOfRange || notJson || !text.isWellFormed() ? undefined : text
  } finally {
    limit = Infinity
    tooDeep = false
    outOfRange = false
    notJson = false
    checkRange = false
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes

/**
 * A growable byte buffer that `printInto` appends to: its bytes are `buffer[0, length)`. When
 * more room is needed the buffer is replaced by a larger copy (the caller reads it back).
 */
export interface ByteSink {
  buffer: Uint8Array
  length: number
}

// The buffer being printed into and the write position (module state: printing is synchronous
// and never re-entered; `printInto` stores them back into its sink when it returns).
const EMPTY = new Uint8Array(0)
let out: Uint8Array = EMPTY
let pos = 0

/** Make room for `n` more bytes at `pos`. */
const room = (n: number): void => {
  const need = pos + n
  if (need > out.length) {
    const grown = new Uint8Array(Math.max(need, out.length * 2, 256))
    grown.set(out.subarray(0, pos))
    out = grown
  }
}

/** Write an ASCII text (a number, a literal): one byte per UTF-16 code unit. */
const asciiBytes = (s: string): void => {
  const n = s.length
  room(n)
  const o = out
  const at = pos
  for (let i = 0; i < n; i++) o[at + i] = s.charCodeAt(i)
  pos = at + n
}

/** Write a non-negative safe integer's decimal digits. */
const digitBytes = (value: number): void => {
  let n = value
  let len = 1
  // powers of ten are exact doubles up to 1e22; a safe integer has at most 16 digits
  for (let p = 10; p <= n; p *= 10) len++
  room(len)
  let at = pos + len
  pos = at
  while (n >= 10) {
    const r = n % 10
    out[--at] = 48 + r
    n = (n - r) / 10
  }
  out[--at] = 48 + n
}

/** Write a safe integer. */
const integerBytes = (value: number): void => {
  if (value < 0) {
    room(1)
    out[pos++] = 45 // -
    digitBytes(-value)
  } else {
    // -0 takes this branch and prints as `0`, as `"" + -0` does
    digitBytes(value === 0 ? 0 : value)
  }
}

/**
 * Write the string literal of `s` from its code unit `from` on (the opening quote and the code
 * units before `from` are written): serde_json's escapes, and UTF-8 exactly as `TextEncoder`
 * encodes it (a lone surrogate becomes U+FFFD and sets `loneSurrogate`).
 */
const stringBytesSlow = (s: string, from: number): void => {
  const n = s.length
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) {
      if (c >= 32 && c !== 34 && c !== 92) {
        room(1)
        out[pos++] = c
      } else if (c === 34 || c === 92) {
        room(2)
        out[pos++] = 92
        out[pos++] = c
      } else {
        const escape = CONTROL[c] ?? ""
        asciiBytes(escape)
      }
    } else if (c < 0x800) {
      room(2)
      out[pos++] = 0xc0 | (c >> 6)
      out[pos++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0
      room(4)
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        out[pos++] = 0xf0 | (cp >> 18)
        out[pos++] = 0x80 | ((cp >> 12) & 0x3f)
        out[pos++] = 0x80 | ((cp >> 6) & 0x3f)
        out[pos++] = 0x80 | (cp & 0x3f)
        i++
      } else {
        // a lone surrogate: U+FFFD, as TextEncoder writes it (and the print is refused)
        loneSurrogate = true
        out[pos++] = 0xef
        out[pos++] = 0xbf
        out[pos++] = 0xbd
      }
    } else {
      room(3)
      out[pos++] = 0xe0 | (c >> 12)
      out[pos++] = 0x80 | ((c >> 6) & 0x3f)
      out[pos++] = 0x80 | (c & 0x3f)
    }
  }
  room(1)
  out[pos++] = 34
}

/** Write `s` as a JSON string literal: the ASCII run needing no escape byte for byte, then the rest. */
const stringBytes = (s: string): void => {
  const n = s.length
  room(n + 2)
  const o = out
  let at = pos
  o[at++] = 34
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 32 || c === 34 || c === 92 || c >= 0x80) {
      pos = at
      return stringBytesSlow(s, i)
    }
    o[at++] = c
  }
  o[at++] = 34
  pos = at
}

/** `"key":` as bytes, memoised for short keys (keys repeat across values). */
const keyBytesCache = new Map<string, Uint8Array>()

const keyBytes = (key: string): void => {
  const bytes = keyBytesCache.get(key)
  if (bytes === undefined) {
    const at = pos
    stringBytes(key)
    room(1)
    out[pos++] = 58 // :
    // a key with a lone surrogate is never cached: its next print must be refused again
    if (key.length > 64 || loneSurrogate) return
    if (keyBytesCache.size >= KEY_CACHE_LIMIT) keyBytesCache.clear()
    keyBytesCache.set(key, out.slice(at, pos))
    return
  }
  const n = bytes.length
  room(n)
  const o = out
  const at = pos
  for (let i = 0; i < n; i++) o[at + i] = bytes[i] as number
  pos = at + n
}

const writeBytes = (value: Json | undefined, depth: number): void => {
  switch (typeof value) {
    case "string":
      return stringBytes(value)
    case "number":
      if (Number.isSafeInteger(value)) return integerBytes(value)
      if (!Number.isFinite(value)) notJson = true
      return asciiBytes(printFloat(value))
    case "boolean":
      return asciiBytes(value ? "true" : "false")
    case "bigint":
      if (value >= -9007199254740991n && value <= 9007199254740991n) return integerBytes(Number(value))
      if (value < I64_MIN || value > U64_MAX) outOfRange = true
      return asciiBytes(value.toString())
    case "object": {
      if (value === null) return asciiBytes("null")
      if (isArray(value)) {
        if (depth >= limit) {
          tooDeep = true
          return
        }
        const n = value.length
        room(1)
        out[pos++] = 91 // [
        for (let i = 0; i < n; i++) {
          if (i > 0) {
            room(1)
            out[pos++] = 44 // ,
          }
          writeBytes(value[i], depth + 1)
        }
        room(1)
        out[pos++] = 93 // ]
        return
      }
      if (isFloat(value)) {
        if (!Number.isFinite(value.value)) notJson = true
        return asciiBytes(printFloat(value.value))
      }
      if (depth >= limit) {
        tooDeep = true
        return
      }
      if (!isJsonObject(value)) {
        notJson = true
        return
      }
      room(1)
      out[pos++] = 123 // {
      let first = true
      for (const [key, member] of value) {
        // a key that is no string (a symbol cannot even be quoted): refused, the rest not written
        if (typeof key !== "string") {
          notJson = true
          return
        }
        if (first) first = false
        else {
          room(1)
          out[pos++] = 44 // ,
        }
        keyBytes(key)
        writeBytes(member, depth + 1)
      }
      room(1)
      out[pos++] = 125 // }
      return
    }
    default:
      // not a Json value (undefined in a sparse array, ...): serde has no such value
      notJson = true
      return asciiBytes("null")
  }
}

/**
 * Append the UTF-8 bytes of `printWithin(value, maxDepth)` to `sink` (growing its buffer when
 * needed) and return true; when `printWithin` would refuse the value (it nests deeper than
 * `maxDepth`, holds a lone surrogate, or an integer outside −2^63 … 2^64 − 1), return false and
 * leave `sink.length` as it was (bytes past it may have been overwritten).
 */
export const printInto = (value: Json, sink: ByteSink, maxDepth: number = Infinity): boolean => {
  out = sink.buffer
  pos = sink.length
  limit = maxDepth
  tooDeep = false
  loneSurrogate = false
  outOfRange = false
  notJson = false
  try {
    writeBytes(value, 0)
    sink.buffer = out
    if (tooDeep || loneSurrogate || outOfRange || notJson) return false
    sink.length = pos
    return true
  } finally {
    out = EMPTY
    limit = Infinity
    tooDeep = false
    loneSurrogate = false
    outOfRange = false
    notJson = false
  }
}
