/**
 * Fast paths for decoding and encoding wire records built with core's `jsonObject` from the
 * integer, string, boolean, literal and `JsonValue` schemas (the audited record of replay and
 * append): plain functions compiled once from the schema, that either produce exactly what
 * `Schema.decodeUnknownEither(schema)` / `Schema.encodeEither(schema)` produce, or give up
 * (`FAIL`) — on anything they do not know or whenever the input might not decode / encode — so
 * that the caller runs the Schema, which then decides (and words the error). They are never
 * looser than the schema: every check is the schema's own condition or a stricter one.
 *
 * Measured on the ~1 KB audited record: the Schema decoder is the largest cost of replay
 * (tens of µs per record, most of it ParseResult machinery for ~30 branded fields), and the
 * Schema encoder the largest cost of building a record to append (~70 µs under load).
 */
import * as Int from "@calybris/core/Int"
import { JsonObjectFromSelf, JsonValue } from "@calybris/core/JsonSchema"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/** "Does not decode here": ask the schema. */
export const FAIL: unique symbol = Symbol("fastCodec.FAIL")

type Decoder = (u: unknown) => unknown
type Encoder = (a: unknown) => unknown

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

const encodeUint = (max: number): Encoder => (a) =>
  typeof a === "number" && Number.isSafeInteger(a) && a >= 0 && a <= max ? a : FAIL

// the 64-bit schemas encode a bigint as itself (the printer writes it exactly)
const encodeBigRange = (min: bigint, max: bigint): Encoder => (a) =>
  typeof a === "bigint" && a >= min && a <= max ? a : FAIL

const hasOwn = Object.prototype.hasOwnProperty

/** The fast encoder of `schema`, or undefined when it uses anything this file does not know. */
export const compileEncoder = (schema: Schema.Schema.Any): Encoder | undefined => {
  if (schema === Int.U64) return encodeBigRange(0n, Int.U64_MAX)
  if (schema === Int.I64) return encodeBigRange(Int.I64_MIN, Int.I64_MAX)
  if (schema === Int.U32) return encodeUint(Int.U32_MAX)
  if (schema === Int.U16) return encodeUint(Int.U16_MAX)
  if (schema === Schema.String) return (a) => typeof a === "string" ? a : FAIL
  if (schema === Schema.Boolean) return (a) => typeof a === "boolean" ? a : FAIL
  if (schema === JsonValue) return (a) => isJsonValue(a) ? a : FAIL
  const literals = literalsOf(schema.ast)
  if (literals !== undefined) {
    return (a) => literals.includes(a as AST.LiteralValue) ? a : FAIL
  }
  if (isJsonObjectSchema(schema)) {
    const names: Array<string> = []
    const encoders: Array<Encoder> = []
    for (const [name, field] of Object.entries(schema.to.fields)) {
      if (!Schema.isSchema(field)) return undefined
      const encoder = compileEncoder(field)
      if (encoder === undefined) return undefined
      names.push(name)
      encoders.push(encoder)
    }
    return (a) => {
      if (typeof a !== "object" || a === null || a instanceof Map || Array.isArray(a)) return FAIL
      const record = a as Record<string, unknown>
      // a Json object with its members in field order, as the jsonObject transformation builds it
      const out = new Map<string, unknown>()
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string
        if (!hasOwn.call(record, name)) return FAIL
        const encoded = (encoders[i] as Encoder)(record[name])
        if (encoded === FAIL) return FAIL
        out.set(name, encoded)
      }
      return out
    }
  }
  return undefined
}
