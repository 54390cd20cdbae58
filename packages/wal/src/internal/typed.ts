/**
 * The reference decodes a record typed, from the line itself:
 * `serde_json::from_str::<WalEntry<T>>(line)`. Verification parses `data` untyped (a repeated
 * key keeps its first position and last value, which is what the chain hashes), so a record's
 * typed decoding must go back to the line: a repeated field of `T` is serde's "duplicate field",
 * and every error has serde's message and column.
 */
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Either from "effect/Either"
import type { Entry } from "../Entry.js"

const sequenceShape = JsonSchema.shapeOf(Int.U64)

/** The shape of `WalEntry<T>` for the shape of `T`. */
const entryShape = (data: JsonSchema.Shape): JsonSchema.Shape | undefined => {
  if (sequenceShape === undefined) return undefined
  const string: JsonSchema.Shape = { _tag: "String" }
  return JsonSchema.structShape("WalEntry", [
    ["sequence", sequenceShape],
    ["previous_hash", string],
    ["entry_hash", string],
    ["data", data]
  ])
}

/**
 * A decoder of entries' records typed as `schema` describes them (undefined when serde cannot
 * describe the schema): the record's Json value as serde reads it from the line, or serde's
 * error for the line.
 */
export const recordDecoder = (
  schema: JsonSchema.Shape | undefined
): ((entry: Entry) => Either.Either<Json.Json, Json.JsonParseError>) | undefined => {
  const shape = schema === undefined ? undefined : entryShape(schema)
  if (shape === undefined) return undefined
  return (entry) =>
    Either.map(JsonSchema.decodeShape(shape, entry.text), (value) => (value as Json.JsonObject).get("data") ?? null)
}
