/**
 * The JSON value model and the parse error, in a leaf module: the parser, the printer and the
 * typed decoder build these values and errors, and `Json.ts` re-exports them, so no internal
 * file needs a value from the public module (values flow public ← internal, never back).
 */
import * as Schema from "effect/Schema"
import { printFloat } from "./jsonPrint.js"

/** A JSON number that is a float on the wire (it had a fraction or an exponent, or was `-0`). */
export class JsonFloat {
  readonly _tag = "JsonFloat"
  constructor(readonly value: number) {}
  /** As serde prints it (`1.0`, `1.8446744073709552e+19`): how error messages show it. */
  toString(): string {
    return printFloat(this.value)
  }
}

export type JsonObject = ReadonlyMap<string, Json>
export type JsonArray = ReadonlyArray<Json>
export type Json = null | boolean | number | bigint | string | JsonFloat | JsonArray | JsonObject

/** serde_json's error categories. */
export const ParseCategory = Schema.Literal("Syntax", "Data", "Eof")
export type ParseCategory = typeof ParseCategory.Type

/**
 * A JSON text that could not be parsed. `line` and `column` follow serde_json: 1-based, the
 * column counted in UTF-8 bytes; `message` is serde_json's own text (without the position).
 */
export class JsonParseError extends Schema.TaggedError<JsonParseError>()("JsonParseError", {
  category: ParseCategory,
  message: Schema.String,
  line: Schema.Number,
  column: Schema.Number,
  /** for a typed decoding (`JsonSchema.decodeText`): the field the error is about (`models[2].quality_bps`) */
  field: Schema.optional(Schema.String)
}) {}
