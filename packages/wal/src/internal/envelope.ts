/**
 * Parsing one WAL line into its envelope `{sequence, previous_hash, entry_hash, data}` with
 * the semantics of the reference's serde-derived struct: unknown members ignored, a missing
 * or duplicate member is a Data error, wrong member types are Data errors.
 */
import * as Json from "@calybris/core/Json"
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

const describe = (value: Json.Json): string =>
  value === null
    ? "null"
    : typeof value === "boolean"
    ? `boolean \`${value}\``
    : typeof value === "string"
    ? `string ${JSON.stringify(value)}`
    : typeof value === "number" || typeof value === "bigint"
    ? (BigInt(value) < 0n ? `integer \`${value}\`` : `integer \`${value}\``)
    : value instanceof Json.JsonFloat
    ? `floating point \`${Json.printFloat(value.value)}\``
    : Json.isArray(value)
    ? "sequence"
    : "map"

const FIELDS = ["sequence", "previous_hash", "entry_hash", "data"] as const

export const parseEnvelope = (text: string): Either.Either<Envelope, EnvelopeError> => {
  const parsed = Json.parse(text, { maxDepth: MAX_DEPTH })
  if (Either.isLeft(parsed)) {
    const e = parsed.left
    return Either.left({ category: e.category, reason: e.message, column: e.column })
  }
  const value = parsed.right
  const end = Buffer.byteLength(text)
  const dataError = (reason: string): Either.Either<Envelope, EnvelopeError> =>
    Either.left({ category: "Data", reason, column: end })
  let members: Array<Json.Json | undefined>
  if (Json.isObject(value)) {
    members = FIELDS.map((f) => value.get(f))
  } else if (Json.isArray(value)) {
    if (value.length < 4) return dataError(`invalid length ${value.length}, expected struct WalEntry with 4 elements`)
    if (value.length > 4) return Either.left({ category: "Syntax", reason: "trailing characters", column: end })
    members = [...value]
  } else {
    return dataError(`invalid type: ${describe(value)}, expected struct WalEntry`)
  }
  const [sequence, previous, entry, data] = members
  if (sequence === undefined) return dataError("missing field `sequence`")
  if (previous === undefined) return dataError("missing field `previous_hash`")
  if (entry === undefined) return dataError("missing field `entry_hash`")
  if (data === undefined) return dataError("missing field `data`")
  if (!(typeof sequence === "number" || typeof sequence === "bigint") || BigInt(sequence) < 0n) {
    return dataError(
      typeof sequence === "number" || typeof sequence === "bigint"
        ? `invalid value: ${describe(sequence)}, expected u64`
        : `invalid type: ${describe(sequence)}, expected u64`
    )
  }
  if (typeof previous !== "string") return dataError(`invalid type: ${describe(previous)}, expected a string`)
  if (typeof entry !== "string") return dataError(`invalid type: ${describe(entry)}, expected a string`)
  return Either.right({ sequence: BigInt(sequence), previous_hash: previous, entry_hash: entry, data })
}
