/**
 * The verifying reader's fast path: "fast accept, exact reject". A line as a writer writes it is
 * exactly
 *
 *     {"sequence":N,"previous_hash":"P","entry_hash":"H","data":D}
 *
 * with no whitespace, N the canonical decimal of the expected sequence, P the running last hash
 * and D canonical JSON. `matchLine` checks that shape on the line's bytes and returns where D
 * starts only when it can prove that the exact path (`parseLine`, then the sequence and chain
 * checks of the reader) would read the same envelope and hash D's raw text: anything it is not
 * sure about returns -1, and the reader then runs the exact path on the line (which reports
 * every error as before). The caller still has to recompute the link over P ‖ D and compare it
 * with H.
 *
 * D is accepted only in a conservative subset of what `print` writes (so the raw text IS the
 * canonical text the exact path would hash):
 * - no whitespace at all;
 * - integers only: `0`, or an optional `-` then a non-zero digit and digits (no `-0`), within
 *   u64 (non-negative) / i64 (negative) — beyond that the exact parser reads a float; any `.`,
 *   `e` or `E` fails the structure check after the number;
 * - strings of bytes 0x20..0x7E (so the line is ASCII and valid UTF-8) except `"` and `\`, and
 *   only the escapes the printer writes: `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`, and
 *   `\u00xx` (lowercase hex) for the other code points below 0x20 — every string then has one
 *   spelling, so keys compare as raw bytes;
 * - no repeated key in an object (checked), at most `MAX_KEYS` keys per object;
 * - at most `MAX_DEPTH` nested containers (the exact path allows 126 inside the entry);
 * - `true`, `false`, `null`.
 */

import type { Json } from "@calybris/core/Json"

/** Nesting accepted in `data` (well under the exact path's 126). */
export const MAX_DEPTH = 64

/** Keys per object accepted (a wider object goes to the exact path). */
export const MAX_KEYS = 64

/** Switch for tests that compare the reader with and without the fast path. */
export const fastPath = { enabled: true }

const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

const PREFIX = bytesOf("{\"sequence\":")
const PREVIOUS = bytesOf(",\"previous_hash\":\"")
const ENTRY = bytesOf("\",\"entry_hash\":\"")
const DATA = bytesOf("\",\"data\":")

/** Length of the entry hash (hex SHA-256). */
export const HASH_LENGTH = 64

/** Bytes from the entry hash's first byte to the data's first byte. */
export const ENTRY_TO_DATA = HASH_LENGTH + DATA.length

const U64_MAX = bytesOf("18446744073709551615")
const I64_MIN = bytesOf("9223372036854775808")

/** `bytes[at, at + word.length)` equals `word` (the caller checked the bounds). */
const matches = (bytes: Uint8Array, at: number, word: Uint8Array): boolean => {
  for (let k = 0; k < word.length; k++) if (bytes[at + k] !== word[k]) return false
  return true
}

// ---------------------------------------------------------------------------------------------
// data

/** Kinds of the open containers: 1 = array, 2 = object. */
const kinds = new Uint8Array(MAX_DEPTH)
/** Where each open object's keys begin in the key arrays. */
const keyBase = new Int32Array(MAX_DEPTH)
/** The keys of the open objects (start, end of the raw contents), innermost last. */
const keyStart = new Int32Array(MAX_DEPTH * MAX_KEYS)
const keyEnd = new Int32Array(MAX_DEPTH * MAX_KEYS)
let keyTop = 0
/**
 * Per open object, 64 bits (two words) of a cheap key signature (length, first and last byte):
 * keys are compared only when their signature bit was already set.
 */
const keyBits = new Int32Array(2 * MAX_DEPTH)

/** Whether a `\u00xx` escape for code point `v` (< 0x20) is the printer's spelling. */
const isUnicodeEscape = (v: number): boolean => v !== 8 && v !== 9 && v !== 10 && v !== 12 && v !== 13

/** Bytes a string holds as they are: 0x20..0x7E but `"` and `\\`. */
const PLAIN = Uint8Array.from({ length: 256 }, (_, b) => b >= 0x20 && b <= 0x7e && b !== 34 && b !== 92 ? 1 : 0)

/** Lowercase hex digit value, or -1. */
const hexValue = (b: number): number => b >= 48 && b <= 57 ? b - 48 : b >= 97 && b <= 102 ? b - 87 : -1

/** A string's contents from `i` (just after the opening quote): the index after the closing quote, or -1. */
const scanString = (bytes: Uint8Array, i: number, limit: number): number => {
  while (i < limit) {
    const b = bytes[i] as number
    if (PLAIN[b] === 1) {
      i++
      continue
    }
    if (b === 34) return i + 1
    if (b === 92) {
      if (i + 1 >= limit) return -1
      const e = bytes[i + 1] as number
      if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2
        continue
      }
      if (e !== 117 || i + 5 >= limit || bytes[i + 2] !== 48 || bytes[i + 3] !== 48) return -1
      const hi = bytes[i + 4]
      const lo = hexValue(bytes[i + 5] as number)
      if ((hi !== 48 && hi !== 49) || lo < 0 || !isUnicodeEscape((hi - 48) * 16 + lo)) return -1
      i += 6
      continue
    }
    return -1
  }
  return -1
}

/** A member key at `i` (its opening quote) and its colon, in the object `frame`: the index after the colon, or -1. */
const scanKey = (bytes: Uint8Array, i: number, limit: number, frame: number): number => {
  if (bytes[i] !== 34) return -1
  const start = i + 1
  const after = scanString(bytes, start, limit)
  if (after < 0 || after >= limit || bytes[after] !== 58) return -1
  const end = after - 1
  const size = end - start
  const base = keyBase[frame] as number
  const top = keyTop
  if (top - base >= MAX_KEYS) return -1
  const first = size > 0 ? bytes[start] as number : 0
  const h = (size * 31 + first * 7 + (size > 0 ? bytes[end - 1] as number : 0)) & 63
  const word = 2 * frame + (h >> 5)
  const bit = 1 << (h & 31)
  const bits = keyBits[word] as number
  keyBits[word] = bits | bit
  if ((bits & bit) !== 0) {
    for (let j = base; j < top; j++) {
      const s = keyStart[j] as number
      // (an empty key has no first byte to compare: two empty keys are a repeat)
      if ((keyEnd[j] as number) - s !== size || (size > 0 && bytes[s] !== first)) continue
      let same = true
      for (let k = 1; k < size; k++) {
        if (bytes[s + k] !== bytes[start + k]) {
          same = false
          break
        }
      }
      // a repeated key: not canonical (the exact path decides what it is)
      if (same) return -1
    }
  }
  keyStart[top] = start
  keyEnd[top] = end
  keyTop = top + 1
  return after + 1
}

/** Whether `digits` bytes at `at` are at most the same-length decimal `max`. */
const atMost = (bytes: Uint8Array, at: number, max: Uint8Array): boolean => {
  for (let k = 0; k < max.length; k++) {
    const d = bytes[at + k] as number
    const m = max[k] as number
    if (d !== m) return d < m
  }
  return true
}

/** An integer at `i` (a `-` or a digit): the index after it, or -1. */
const scanInteger = (bytes: Uint8Array, i: number, limit: number): number => {
  const negative = bytes[i] === 45
  if (negative) i++
  if (i >= limit) return -1
  const first = i
  const d = bytes[i] as number
  if (d === 48) {
    // `0`, never `-0` (a float) nor `01` (invalid)
    if (negative) return -1
    i++
    return i < limit && (bytes[i] as number) >= 48 && (bytes[i] as number) <= 57 ? -1 : i
  }
  if (d < 49 || d > 57) return -1
  i++
  while (i < limit) {
    const c = bytes[i] as number
    if (c < 48 || c > 57) break
    i++
  }
  const digits = i - first
  // beyond u64 / i64 the exact parser reads a float
  if (negative) {
    if (digits > 19 || (digits === 19 && !atMost(bytes, first, I64_MIN))) return -1
  } else if (digits > 20 || (digits === 20 && !atMost(bytes, first, U64_MAX))) {
    return -1
  }
  return i
}

/** `true` / `false` / `null` at `i`: the index after it, or -1. */
const scanLiteral = (bytes: Uint8Array, i: number, limit: number): number => {
  const c = bytes[i]
  if (c === 116) {
    return i + 4 <= limit && bytes[i + 1] === 114 && bytes[i + 2] === 117 && bytes[i + 3] === 101 ? i + 4 : -1
  }
  if (c === 102) {
    return i + 5 <= limit && bytes[i + 1] === 97 && bytes[i + 2] === 108 && bytes[i + 3] === 115 &&
        bytes[i + 4] === 101
      ? i + 5
      : -1
  }
  return i + 4 <= limit && bytes[i + 1] === 117 && bytes[i + 2] === 108 && bytes[i + 3] === 108 ? i + 4 : -1
}

/**
 * One value in the accepted canonical subset at `start`, within `limit`: the index just after
 * it, or -1.
 */
export const scanData = (bytes: Uint8Array, start: number, limit: number): number => {
  keyTop = 0
  let depth = 0
  let i = start
  for (;;) {
    // ---- a value is expected at i
    if (i >= limit) return -1
    const c = bytes[i] as number
    if (c === 123) {
      if (depth >= MAX_DEPTH) return -1
      i++
      if (i < limit && bytes[i] === 125) {
        i++
      } else {
        kinds[depth] = 2
        keyBase[depth] = keyTop
        keyBits[2 * depth] = 0
        keyBits[2 * depth + 1] = 0
        i = scanKey(bytes, i, limit, depth)
        if (i < 0) return -1
        depth++
        continue
      }
    } else if (c === 91) {
      if (depth >= MAX_DEPTH) return -1
      i++
      if (i < limit && bytes[i] === 93) {
        i++
      } else {
        kinds[depth] = 1
        depth++
        continue
      }
    } else if (c === 34) {
      i = scanString(bytes, i + 1, limit)
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      i = scanInteger(bytes, i, limit)
    } else if (c === 116 || c === 102 || c === 110) {
      i = scanLiteral(bytes, i, limit)
    } else {
      return -1
    }
    if (i < 0) return -1

    // ---- a value is complete: continue its enclosing containers
    for (;;) {
      if (depth === 0) return i
      if (i >= limit) return -1
      const frame = depth - 1
      const k = bytes[i] as number
      if (kinds[frame] === 1) {
        if (k === 44) {
          i++
          break
        }
        if (k !== 93) return -1
        i++
        depth--
        continue
      }
      if (k === 44) {
        i = scanKey(bytes, i + 1, limit, frame)
        if (i < 0) return -1
        break
      }
      if (k !== 125) return -1
      i++
      keyTop = keyBase[frame] as number
      depth--
    }
  }
}

/** Whether `bytes[start, limit)` is exactly one value in the accepted canonical subset. */
export const isCanonicalData = (bytes: Uint8Array, start: number, limit: number): boolean =>
  scanData(bytes, start, limit) === limit

// ---------------------------------------------------------------------------------------------
// the envelope

/** Where the data starts, from the line's start, for a sequence and previous hash of these lengths. */
export const dataOffset = (expected: string, previous: string): number => dataOffsetOf(expected.length, previous.length)

/** `dataOffset` from the lengths of the sequence's digits and of the previous hash. */
export const dataOffsetOf = (expectedLength: number, previousLength: number): number =>
  PREFIX.length + expectedLength + PREVIOUS.length + previousLength + ENTRY.length + ENTRY_TO_DATA

/**
 * A line at `start` with the writer's exact shape, with `sequence` spelled `expected`,
 * `previous_hash` equal to `previous` (an ASCII text without `"`, `\` or LF) and canonical data,
 * then `}` and LF (or CR LF) before `limit`: the index of that `}` (the data spans from
 * `start + dataOffset(expected, previous)` to it, the entry hash is the `HASH_LENGTH` bytes at
 * `ENTRY_TO_DATA` before the data — to be compared with the recomputed link, which has no `"`
 * nor LF), or -1 when the exact path must decide. The line's bytes up to that `}` hold no LF
 * (none of the bytes checked is one; the entry hash is compared by the caller), so the LF
 * after it ends the line.
 */
export const matchLine = (
  bytes: Uint8Array,
  start: number,
  limit: number,
  expected: string,
  previous: string,
  previousBytes: Uint8Array | undefined
): number => {
  for (let k = 0; k < previous.length; k++) if (previous.charCodeAt(k) > 0x7e) return -1
  const p = previousBytes !== undefined && previousBytes.length === previous.length ? previousBytes : bytesOf(previous)
  return matchLineBytes(bytes, start, limit, bytesOf(expected), expected.length, p, p.length)
}

/**
 * `matchLine` with the sequence given as its ASCII digits (`expected[0, expectedLength)`) and
 * the previous hash as its ASCII bytes (`previous[0, previousLength)`). `scan`, when given, is
 * tried on the data before `scanData`: a scanner of a subset of `scanData`'s texts (its own
 * accepted texts are canonical JSON without repeated keys, as `scanData`'s are), returning the
 * index after the data or -1 (then `scanData` decides).
 */
export const matchLineBytes = (
  bytes: Uint8Array,
  start: number,
  limit: number,
  expected: Uint8Array,
  expectedLength: number,
  previous: Uint8Array,
  previousLength: number,
  scan?: (bytes: Uint8Array, start: number, limit: number) => number
): number => {
  let i = start
  // at least one data byte, then the closing brace
  if (limit - start < dataOffsetOf(expectedLength, previousLength) + 2) return -1
  if (!matches(bytes, i, PREFIX)) return -1
  i += PREFIX.length
  for (let k = 0; k < expectedLength; k++) if (bytes[i + k] !== expected[k]) return -1
  i += expectedLength
  if (!matches(bytes, i, PREVIOUS)) return -1
  i += PREVIOUS.length
  for (let k = 0; k < previousLength; k++) if (bytes[i + k] !== previous[k]) return -1
  i += previousLength
  if (!matches(bytes, i, ENTRY)) return -1
  i += ENTRY.length + HASH_LENGTH
  if (!matches(bytes, i, DATA)) return -1
  i += DATA.length
  let end = scan === undefined ? -1 : scan(bytes, i, limit)
  if (end < 0) end = scanData(bytes, i, limit)
  if (end < 0 || bytes[end] !== 125) return -1
  const next = bytes[end + 1]
  return next === 10 || (next === 13 && bytes[end + 2] === 10) ? end : -1
}

/**
 * The verifying reader's expected sequence: its decimal ASCII digits, incremented in place (what
 * the fast path compares a line's sequence with: no bigint arithmetic nor `toString` per line),
 * and its value — a number while it is a safe integer, a bigint beyond.
 */
export class Sequence {
  /** the digits, most significant first, in `digits[0, length)` */
  digits: Uint8Array = new Uint8Array(24)
  length = 0
  private small = 0
  private big: bigint | undefined = undefined

  constructor(start: bigint) {
    const text = start.toString()
    if (text.length > this.digits.length) this.digits = new Uint8Array(text.length)
    for (let k = 0; k < text.length; k++) this.digits[k] = text.charCodeAt(k)
    this.length = text.length
    if (start <= MAX_SAFE) this.small = Number(start)
    else this.big = start
  }

  get value(): bigint {
    return this.big ?? BigInt(this.small)
  }

  /** Add one. */
  next(): void {
    const digits = this.digits
    let k = this.length - 1
    while (k >= 0 && digits[k] === 57) digits[k--] = 48
    if (k >= 0) {
      digits[k] = (digits[k] as number) + 1
    } else {
      // all nines: one digit more, a 1 then zeros
      const grown = this.length + 1 > digits.length ? new Uint8Array(2 * digits.length) : digits
      grown.fill(48, 1, this.length + 1)
      grown[0] = 49
      this.digits = grown
      this.length++
    }
    if (this.big !== undefined) this.big++
    else if (this.small < Number.MAX_SAFE_INTEGER) this.small++
    else this.big = BigInt(this.small) + 1n
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

// ---------------------------------------------------------------------------------------------
// the data's value

/** Where `readData` is in the text it reads (module state: it is synchronous and not reentrant). */
let pos = 0

/**
 * The Json value of data that `scanData` accepted, read from the line's text (ASCII, so a code
 * unit per byte and string indices are byte offsets) at `start`: exactly the value the exact
 * parser builds from the same text (objects as Maps in member order, integers as safe numbers or
 * else bigints, strings unescaped). Only for text `scanData` accepted: it checks nothing.
 */
export const readData = (text: string, start: number): Json => {
  pos = start
  return readValue(text)
}

const readValue = (t: string): Json => {
  const c = t.charCodeAt(pos)
  if (c === 123) {
    const object = new Map<string, Json>()
    if (t.charCodeAt(++pos) === 125) {
      pos++
      return object
    }
    for (;;) {
      const key = readString(t)
      pos++
      object.set(key, readValue(t))
      if (t.charCodeAt(pos++) === 125) return object
    }
  }
  if (c === 91) {
    const array: Array<Json> = []
    if (t.charCodeAt(++pos) === 93) {
      pos++
      return array
    }
    for (;;) {
      array.push(readValue(t))
      if (t.charCodeAt(pos++) === 93) return array
    }
  }
  if (c === 34) return readString(t)
  if (c === 116) {
    pos += 4
    return true
  }
  if (c === 102) {
    pos += 5
    return false
  }
  if (c === 110) {
    pos += 4
    return null
  }
  return readInteger(t)
}

/** An integer in `scanData`'s subset: a safe one as a number, else a bigint (as the exact parser reads it). */
const readInteger = (t: string): number | bigint => {
  const start = pos
  const negative = t.charCodeAt(pos) === 45
  let i = negative ? pos + 1 : pos
  let value = 0
  for (;;) {
    const d = t.charCodeAt(i)
    if (!(d >= 48 && d <= 57)) break
    value = value * 10 + (d - 48)
    i++
  }
  pos = i
  // exact below 2^53, at least 2^53 when the literal is (rounding is monotonic)
  if (value <= 9007199254740991) return negative ? -value : value
  return BigInt(t.slice(start, i))
}

/** A string at `pos` (its opening quote) in `scanData`'s subset (only the printer's escapes), unescaped. */
const readString = (t: string): string => {
  const start = ++pos
  let i = start
  for (;;) {
    const c = t.charCodeAt(i)
    if (c === 34) {
      pos = i + 1
      return t.slice(start, i)
    }
    if (c === 92) break
    i++
  }
  let out = t.slice(start, i)
  for (;;) {
    const c = t.charCodeAt(i)
    if (c === 34) {
      pos = i + 1
      return out
    }
    if (c !== 92) {
      let j = i + 1
      for (;;) {
        const d = t.charCodeAt(j)
        if (d === 34 || d === 92) break
        j++
      }
      out += t.slice(i, j)
      i = j
      continue
    }
    const e = t.charCodeAt(i + 1)
    if (e === 117) {
      out += String.fromCharCode(parseInt(t.slice(i + 2, i + 6), 16))
      i += 6
    } else {
      out += e === 98 ? "\b" : e === 116 ? "\t" : e === 110 ? "\n" : e === 102 ? "\f" : e === 114 ? "\r" : t[i + 1]
      i += 2
    }
  }
}
