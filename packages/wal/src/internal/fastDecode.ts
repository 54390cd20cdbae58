/**
 * A fast path for decoding wire records built with core's `jsonObject` from the integer,
 * string, boolean, literal and `JsonValue` schemas (the audited record of replay): a plain
 * function compiled once from the schema, that either produces exactly what
 * `Schema.decodeUnknownEither(schema)` produces, or gives up (`FAIL`) — on anything it does not
 * know or whenever the input might not decode — so that the caller runs the Schema decoder,
 * which then decides (and words the error). It is never looser than the schema: every check is
 * the schema's own condition or a stricter one.
 *
 * Measured on the ~1 KB audited record: the Schema decoder is the largest cost of replay
 * (tens of µs per record, most of it ParseResult machinery for ~30 branded fields).
 */
import * as Int from "@calybris/core/Int"
import { JsonObjectFromSelf, JsonValue } from "@calybris/core/JsonSchema"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/** "Does not decode here": ask the schema. */
export const FAIL: unique symbol = Symbol("fastDecode.FAIL")

type Decoder = (u: unknown) => unknown

const uint = (max: number): Decoder => (u) =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= 0 && u <= max ? u : FAIL

const bigRange = (min: bigint, max: bigint): Decoder => (u) => {
  const v = typeof u === "bigint" ? u : typeof u === "number" && Number.isSafeInteger(u) ? BigInt(u) : undefined
  return v !== undefined && v >= min && v <= max ? v : FAIL
}

const isJsonValue = Schema.is(JsonValue)

/** The literal values of a Literal (or a union of Literals) AST, else undefined. */
const literalsOf = (ast: AST.AST): ReadonlyArray<AST.LiteralValue> | undefined => {
  if (ast._tag === "Literal") return [ast.literal]
  if (ast._tag !== "Union") return undefined
  const out: Array<AST.LiteralValue> = []
  for (const member of ast.types) {
    if (member._tag !== "Literal") return undefined
    out.push(member.literal)
  }
  return out
}

interface JsonObjectSchema {
  readonly from: unknown
  readonly to: { readonly fields: Readonly<Record<string, unknown>> }
}

const isJsonObjectSchema = (schema: Schema.Schema.Any): schema is Schema.Schema.Any & JsonObjectSchema => {
  const s = schema as Partial<JsonObjectSchema>
  // a Schema (here the Struct) is a class: a function with a `fields` property
  return schema.ast._tag === "Transformation" && s.from === JsonObjectFromSelf &&
    (typeof s.to === "function" || typeof s.to === "object") && s.to !== null && typeof s.to.fields === "object"
}

/** The fast decoder of `schema`, or undefined when it uses anything this file does not know. */
export const compile = (schema: Schema.Schema.Any): Decoder | undefined => {
  if (schema === Int.U64) return bigRange(0n, Int.U64_MAX)
  if (schema === Int.I64) return bigRange(Int.I64_MIN, Int.I64_MAX)
  if (schema === Int.U32) return uint(Int.U32_MAX)
  if (schema === Int.U16) return uint(Int.U16_MAX)
  if (schema === Schema.String) return (u) => typeof u === "string" ? u : FAIL
  if (schema === Schema.Boolean) return (u) => typeof u === "boolean" ? u : FAIL
  if (schema === JsonValue) return (u) => isJsonValue(u) ? u : FAIL
  const literals = literalsOf(schema.ast)
  if (literals !== undefined) {
    return (u) => literals.includes(u as AST.LiteralValue) ? u : FAIL
  }
  if (isJsonObjectSchema(schema)) {
    const names: Array<string> = []
    const decoders: Array<Decoder> = []
    for (const [name, field] of Object.entries(schema.to.fields)) {
      if (!Schema.isSchema(field)) return undefined
      const decoder = compile(field)
      if (decoder === undefined) return undefined
      names.push(name)
      decoders.push(decoder)
    }
    return (u) => {
      if (!(u instanceof Map)) return FAIL
      const out: Record<string, unknown> = {}
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string
        const value = u.get(name)
        if (value === undefined) return FAIL
        const decoded = (decoders[i] as Decoder)(value)
        if (decoded === FAIL) return FAIL
        out[name] = decoded
      }
      return out
    }
  }
  return undefined
}
