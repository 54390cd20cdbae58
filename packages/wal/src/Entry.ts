/**
 * The WAL line codec (SPEC §5): one entry per line, exactly
 * `{"sequence":N,"previous_hash":"P","entry_hash":"E","data":D}` + LF, where D is the compact
 * canonical JSON of the record.
 */
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import type { Chain } from "./Chain.js"
import { type Envelope, type EnvelopeError, MAX_DEPTH, parseEnvelope } from "./internal/envelope.js"
import {
  WalRecordIntegerOutOfRange,
  WalRecordLoneSurrogate,
  WalRecordNotJson,
  WalRecordTooDeep,
  WalRecordTooLong
} from "./WalError.js"

export type { Envelope, EnvelopeError } from "./internal/envelope.js"

/** A written entry's coordinates: what an append acknowledges. */
export interface Sealed {
  readonly sequence: bigint
  readonly previous_hash: string
  readonly entry_hash: string
}

/** A verified entry as read back. */
export interface Entry extends Sealed {
  readonly data: Json.Json
  /** the canonical text of `data` (what the hash covers) */
  readonly dataText: string
  /** 1-based line number in the file */
  readonly line: number
  /** byte offset of the line */
  readonly offset: number
  /** the line's text (without LF / CR): what a typed decoding of the record reads */
  readonly text: string
  /** `data` is written exactly as `Json.print` writes it (so no member is repeated); false when not checked */
  readonly canonical: boolean
}

/** Deepest record nesting the reader accepts back (the entry object is one more level). */
export const MAX_RECORD_DEPTH = MAX_DEPTH - 1

/** Below this many levels `depthOf` recurses (fast, no allocation); deeper values take the explicit stack. */
const RECURSION_LIMIT = 512

/**
 * Depth of `value` seen at nesting `depth`, recursively, stopping early once past `limit`
 * (callers keep `limit` ≤ RECURSION_LIMIT, so the call stack stays small). The former
 * stack-of-tuples walk cost ~10–15 µs on a ~1 KB audited record; this one ~1 µs.
 */
const depthRecursive = (value: Json.Json, depth: number, limit: number): number => {
  if (typeof value !== "object" || value === null) return depth
  let max = depth + 1
  if (max > limit) return max
  if (Json.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child = value[i]
      if (child === undefined) continue
      const d = depthRecursive(child, depth + 1, limit)
      if (d > max) {
        max = d
        if (max > limit) return max
      }
    }
  } else if (Json.isObject(value)) {
    for (const child of value.values()) {
      const d = depthRecursive(child, depth + 1, limit)
      if (d > max) {
        max = d
        if (max > limit) return max
      }
    }
  } else {
    // a JsonFloat: a scalar
    return depth
  }
  return max
}

/** Nesting depth of a Json value with an explicit stack (any depth). */
const depthIterative = (value: Json.Json, limit: number): number => {
  let max = 0
  const stack: Array<[Json.Json, number]> = [[value, 0]]
  while (stack.length > 0) {
    const top = stack.pop()
    if (top === undefined) break
    const [v, d] = top
    if (Json.isArray(v) || Json.isObject(v)) {
      const depth = d + 1
      if (depth > max) {
        max = depth
        if (max > limit) return max
      }
      for (const child of Json.isArray(v) ? v : v.values()) stack.push([child, depth])
    }
  }
  return max
}

/** Nesting depth of a Json value (scalars are 0), stopping early past `limit`. */
export const depthOf = (value: Json.Json, limit = Infinity): number => {
  if (limit <= RECURSION_LIMIT) return depthRecursive(value, 0, limit)
  const shallow = depthRecursive(value, 0, RECURSION_LIMIT)
  return shallow > RECURSION_LIMIT ? depthIterative(value, limit) : shallow
}

/** Where a string of `s` breaks UTF-16: the index of its first lone surrogate, or -1. */
const loneSurrogateAt = (s: string): number => {
  if (s.isWellFormed()) return -1
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    const d = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0
    if (d >= 0xdc00 && d <= 0xdfff) i++
    else return i
  }
  return -1
}

/** `$`, `$["key"]`, `$[3]`: a member's path in a record, keys JSON-escaped (`\ud800`). */
const pathText = (path: ReadonlyArray<string | number>): string =>
  "$" + path.map((p) => typeof p === "number" ? `[${p}]` : `[${JSON.stringify(p)}]`).join("")

/** An integer's digits, or their first and last 20 with the count between (a message stays short). */
const digitsExcerpt = (value: bigint): string => {
  const digits = value.toString()
  return digits.length <= 48 ? digits : `${digits.slice(0, 20)}…(${digits.length} characters)…${digits.slice(-20)}`
}

const article = (name: string): string => `${/^[AEIOaeio]/.test(name) ? "an" : "a"} ${name}`

/** What `value` is when it is no Json value (see `WalRecordNotJson`), else undefined. */
const notJsonKind = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : String(value)
    case "object": {
      if (value === null || Array.isArray(value) || value instanceof Map) return undefined
      if ((value as { readonly _tag?: unknown })._tag === "JsonFloat") {
        const float = (value as { readonly value?: unknown }).value
        return typeof float !== "number"
          ? `a float whose value is a ${typeof float}`
          : Number.isFinite(float)
          ? undefined
          : `the float ${float}`
      }
      return article((value as { readonly constructor?: { readonly name?: string } }).constructor?.name ?? "object")
    }
    default:
      return typeof value
  }
}

/**
 * The first member of `value` (in printing order) no reader could read back: a string or key
 * holding a lone surrogate, or a bigint outside −2^63 … 2^64 − 1; undefined when none. Called on
 * a refused record only (its depth within the limit), so it recurses freely.
 */
const findUnreadable = (
  value: Json.Json,
  path: Array<string | number>
): WalRecordLoneSurrogate | WalRecordIntegerOutOfRange | WalRecordNotJson | undefined => {
  const foreign = notJsonKind(value)
  if (foreign !== undefined) return new WalRecordNotJson({ path: pathText(path), found: foreign })
  if (typeof value === "bigint") {
    return value < Int.I64_MIN || value > Int.U64_MAX
      ? new WalRecordIntegerOutOfRange({ path: pathText(path), value: digitsExcerpt(value) })
      : undefined
  }
  const found = (s: string, at: number, key: boolean) =>
    new WalRecordLoneSurrogate({
      path: pathText(path),
      key,
      index: at,
      codeUnit: `U+${s.charCodeAt(at).toString(16).toUpperCase()}`
    })
  if (typeof value === "string") {
    const at = loneSurrogateAt(value)
    return at < 0 ? undefined : found(value, at, false)
  }
  if (Json.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child = value[i] as Json.Json
      path.push(i)
      const inner = findUnreadable(child, path)
      path.pop()
      if (inner !== undefined) return inner
    }
  } else if (Json.isObject(value)) {
    for (const [key, child] of value) {
      if (typeof key !== "string") {
        return new WalRecordNotJson({ path: pathText(path), found: `${article(typeof key)} key` })
      }
      path.push(key)
      const at = loneSurrogateAt(key)
      const inner = at >= 0 ? found(key, at, true) : findUnreadable(child, path)
      path.pop()
      if (inner !== undefined) return inner
    }
  }
  return undefined
}

/**
 * Why a record the writer's printer refused (`Json.printWithin` / `Json.printInto` at
 * `MAX_RECORD_DEPTH`) could not be read back: it nests too deep, a string or key holds a lone
 * surrogate, or an integer is outside the wire's (its line would read back as another record, or
 * not verify at all).
 */
export const refusal = (
  data: Json.Json
): WalRecordTooDeep | WalRecordLoneSurrogate | WalRecordIntegerOutOfRange | WalRecordNotJson => {
  const depth = depthOf(data, MAX_RECORD_DEPTH)
  if (depth > MAX_RECORD_DEPTH) return new WalRecordTooDeep({ depth, limit: MAX_RECORD_DEPTH })
  return findUnreadable(data, []) ??
    // unreachable: the printer refuses only these
    new WalRecordTooDeep({ depth, limit: MAX_RECORD_DEPTH })
}

/** Everything the writer refuses a record for before writing anything. */
export type RecordRefusal =
  | WalRecordTooDeep
  | WalRecordLoneSurrogate
  | WalRecordIntegerOutOfRange
  | WalRecordNotJson
  | WalRecordTooLong

/** Canonical data text of a record, refusing one the reader could not read back. */
export const canonicalData = (data: Json.Json): Either.Either<string, RecordRefusal> => {
  // checked while printing; the refusal is only classified (depth, path) when there is one
  const text = Json.printWithin(data, MAX_RECORD_DEPTH)
  if (text !== undefined) return Either.right(text)
  return Either.left(refusal(data))
}

/** Hash texts we write (hex digests, `genesis`) need no JSON escaping. */
const PLAIN = /^[0-9A-Za-z]*$/

const quote = (text: string): string => PLAIN.test(text) ? `"${text}"` : Json.print(text)

// `lineBytes` runs only near the limit (see `tooLong`): encoding the two hash texts there is cheap
const encoder = new TextEncoder()

/** `{"sequence":` + `,"previous_hash":` + `,"entry_hash":` + `,"data":` + `}` */
const ENVELOPE_BYTES = 12 + 17 + 14 + 8 + 1

/**
 * The byte length of `formatLine(sequence, previousHash, entryHash, data)` without its LF, for
 * data of `dataBytes` UTF-8 bytes: what a reader measures against its `maxLineBytes`.
 */
export const lineBytes = (sequence: bigint, previousHash: string, entryHash: string, dataBytes: number): number =>
  ENVELOPE_BYTES + sequence.toString().length + encoder.encode(quote(previousHash)).length +
  encoder.encode(quote(entryHash)).length + dataBytes

/**
 * The refusal of a line longer than `limit` (its length measured as `lineBytes`); undefined when
 * it fits. Measured only near the limit: with hash texts of at most 64 code units the envelope is
 * under 1 KiB (a u64 sequence, and each hash text quoted, at most 6 bytes a unit).
 */
export const tooLong = (
  sequence: bigint,
  previousHash: string,
  entryHash: string,
  dataBytes: number,
  limit: number
): WalRecordTooLong | undefined => {
  if (dataBytes + 1024 <= limit && previousHash.length <= 64 && entryHash.length <= 64) return undefined
  const length = lineBytes(sequence, previousHash, entryHash, dataBytes)
  return length > limit ? new WalRecordTooLong({ lineBytes: length, limit }) : undefined
}

/** The line (with its LF) for an entry whose data text is already canonical. */
export const formatLine = (sequence: bigint, previousHash: string, entryHash: string, dataText: string): string =>
  `{"sequence":${sequence},"previous_hash":${quote(previousHash)},"entry_hash":${
    quote(entryHash)
  },"data":${dataText}}\n`

/** Seal the next entry: compute its hash and line. */
export const seal = (
  chain: Chain,
  sequence: bigint,
  previousHash: string,
  dataText: string
): { readonly sealed: Sealed; readonly line: string } => {
  const entryHash = chain.link(previousHash, dataText)
  return {
    sealed: { sequence, previous_hash: previousHash, entry_hash: entryHash },
    line: formatLine(sequence, previousHash, entryHash, dataText)
  }
}

/** Parse one line (without its LF / CR) into its envelope. */
export const parse = (text: string): Either.Either<Envelope, EnvelopeError> => parseEnvelope(text)
