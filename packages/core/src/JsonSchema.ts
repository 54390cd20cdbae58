/**
 * Wire codecs: Schemas whose encoded side is our lossless Json value type (SPEC §7).
 *
 * `jsonObject(fields)` is a struct whose encoded form is a `JsonObject` (a Map, members in
 * declaration order); nested structs are built the same way, so `Schema.encodeSync` of any
 * wire type yields a Json value the printer turns into the reference's bytes, and
 * `Schema.decodeUnknown` of a parsed Json value yields branded domain values or a ParseError
 * naming the field and the value.
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Json from "./Json.js"

/** Any Json value (validated structurally), kept as is. */
export const JsonValue: Schema.Schema<Json.Json> = Schema.declare(
  (u: unknown): u is Json.Json => isJson(u, 0),
  { identifier: "JsonValue", description: "a JSON value" }
)

const isJson = (u: unknown, depth: number): boolean => {
  if (depth > 10_000) return false
  switch (typeof u) {
    case "string":
    case "boolean":
    case "bigint":
      return true
    case "number":
      return true
    case "object": {
      if (u === null || u instanceof Json.JsonFloat) return true
      if (Array.isArray(u)) return u.every((x) => isJson(x, depth + 1))
      if (u instanceof Map) {
        for (const [k, v] of u) if (typeof k !== "string" || !isJson(v, depth + 1)) return false
        return true
      }
      return false
    }
    default:
      return false
  }
}

/** A Json object (a Map with string keys). */
export const JsonObjectFromSelf: Schema.Schema<Json.JsonObject> = Schema.declare(
  (u: unknown): u is Json.JsonObject => u instanceof Map,
  { identifier: "JsonObject", description: "a JSON object" }
)

/**
 * A struct on the wire: decodes from a Json object (unknown members ignored, a missing one is
 * an error naming it) and encodes to a Json object with members in field order.
 */
export const jsonObject = <Fields extends Schema.Struct.Fields>(fields: Fields) => {
  const struct = Schema.Struct(fields)
  const names = Object.keys(fields)
  return Schema.transform(JsonObjectFromSelf, struct, {
    strict: false,
    decode: (map) => {
      const out: Record<string, unknown> = {}
      for (const name of names) {
        if (map.has(name)) out[name] = map.get(name)
      }
      return out
    },
    encode: (value) => {
      const record = value as Record<string, Json.Json>
      const map = new Map<string, Json.Json>()
      for (const name of names) {
        if (Object.prototype.hasOwnProperty.call(record, name)) map.set(name, record[name] as Json.Json)
      }
      return map
    }
  })
}

/** A literal union on the wire as its string name. */
export const wireName = <const A extends ReadonlyArray<string>>(...names: A) => Schema.Literal(...names)

/** Parse a JSON text and decode it with a wire schema; errors say where and what. */
export const decodeText = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (text: string): Either.Either<A, Json.JsonParseError | ParseResult.ParseError> =>
    Either.flatMap(Json.parse(text), (json) => decode(json))
}

/** Encode a value with a wire schema and print it as compact canonical JSON. */
export const encodeText = <A, I extends Json.Json>(schema: Schema.Schema<A, I>) => {
  const encode = Schema.encodeSync(schema)
  return (value: A): string => Json.print(encode(value))
}
