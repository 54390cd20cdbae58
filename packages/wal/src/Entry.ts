/**
 * The WAL line codec (SPEC §5): one entry per line, exactly
 * `{"sequence":N,"previous_hash":"P","entry_hash":"E","data":D}` + LF, where D is the compact
 * canonical JSON of the record.
 */
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import type { Chain } from "./Chain.js"
import { type Envelope, type EnvelopeError, MAX_DEPTH, parseEnvelope } from "./internal/envelope.js"
import { WalRecordTooDeep } from "./WalError.js"

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

/** The refusal of a record nesting deeper than `MAX_RECORD_DEPTH` (its depth measured, up to just past the limit). */
export const recordTooDeep = (data: Json.Json): WalRecordTooDeep =>
  new WalRecordTooDeep({ depth: depthOf(data, MAX_RECORD_DEPTH), limit: MAX_RECORD_DEPTH })

/** Canonical data text of a record, refusing one the reader could not read back. */
export const canonicalData = (data: Json.Json): Either.Either<string, WalRecordTooDeep> => {
  // the depth is checked while printing; the exact depth is only measured for the error
  const text = Json.printWithin(data, MAX_RECORD_DEPTH)
  if (text !== undefined) return Either.right(text)
  return Either.left(recordTooDeep(data))
}

/** Hash texts we write (hex digests, `genesis`) need no JSON escaping. */
const PLAIN = /^[0-9A-Za-z]*$/

const quote = (text: string): string => PLAIN.test(text) ? `"${text}"` : Json.print(text)

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
