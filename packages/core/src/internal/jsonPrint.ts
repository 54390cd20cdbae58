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

const isFloat = (value: object): value is JsonFloat => (value as { readonly _tag?: unknown })._tag === "JsonFloat"

/** Most containers a value may nest (`printWithin`); Infinity for `print`. */
let limit = Infinity
/** Set when a value nested deeper than `limit` (what was printed is then meaningless). */
let tooDeep = false

const write = (value: Json | undefined, depth: number): string => {
  switch (typeof value) {
    case "string":
      return quote(value)
    case "number":
      return Number.isSafeInteger(value) ? "" + value : printFloat(value)
    case "boolean":
      return value ? "true" : "false"
    case "bigint":
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
      if (isFloat(value)) return printFloat(value.value)
      if (depth >= limit) {
        tooDeep = true
        return ""
      }
      let out = "{"
      for (const [key, member] of value) {
        out += (out.length === 1 ? "" : ",") + quoteKey(key) + write(member, depth + 1)
      }
      return out + "}"
    }
    default:
      // not a Json value (undefined in a sparse array, ...): serde has no such value
      return "null"
  }
}

/** Print compactly, byte for byte as serde_json::to_string. */
export const print = (value: Json): string => write(value, 0)

/**
 * `print`, or undefined when the value nests more than `maxDepth` arrays / objects (checked
 * while printing: no separate walk over the value).
 */
export const printWithin = (value: Json, maxDepth: number): string | undefined => {
  limit = maxDepth
  tooDeep = false
  try {
    const text = write(value, 0)
    return tooDeep ? undefined : text
  } finally {
    limit = Infinity
    tooDeep = false
  }
}
