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

// the 64-bit schemas encode a bigint as itself (the printer writes it exactly)
const encodeBigRange = (min: bigint, max: bigint): Encoder => (a) =>
  typeof a === "bigint" && a >= min && a <= max ? a : FAIL

const hasOwn = Object.prototype.hasOwnProperty

/** The fast decoder and encoder of a leaf schema (integers, strings, booleans, Json, literals), else undefined. */
const leaf = (schema: Schema.Schema.Any): { readonly decode: Decoder; readonly encode: Encoder } | undefined => {
  if (schema === Int.U64) return { decode: bigRange(0n, Int.U64_MAX), encode: encodeBigRange(0n, Int.U64_MAX) }
  if (schema === Int.I64) {
    return { decode: bigRange(Int.I64_MIN, Int.I64_MAX), encode: encodeBigRange(Int.I64_MIN, Int.I64_MAX) }
  }
  if (schema === Int.U32) return { decode: uint(Int.U32_MAX), encode: uint(Int.U32_MAX) }
  if (schema === Int.U16) return { decode: uint(Int.U16_MAX), encode: uint(Int.U16_MAX) }
  // strings, booleans and Json values are their own wire form, both ways
  if (schema === Schema.String) return same((u) => typeof u === "string")
  if (schema === Schema.Boolean) return same((u) => typeof u === "boolean")
  if (schema === JsonValue) return same(isJsonValue)
  const literals = literalsOf(schema.ast)
  return literals === undefined ? undefined : same((u) => literals.includes(u as AST.LiteralValue))
}

const same = (is: (u: unknown) => boolean) => {
  const codec = (u: unknown): unknown => is(u) ? u : FAIL
  return { decode: codec, encode: codec }
}

/** The members of a `jsonObject` schema, each compiled with `compileMember`; undefined if any is unknown. */
const members = <F>(
  schema: Schema.Schema.Any,
  compileMember: (field: Schema.Schema.Any) => F | undefined
): { readonly names: Array<string>; readonly compiled: Array<F> } | undefined => {
  if (!isJsonObjectSchema(schema)) return undefined
  const names: Array<string> = []
  const compiled: Array<F> = []
  for (const [name, field] of Object.entries(schema.to.fields)) {
    if (!Schema.isSchema(field)) return undefined
    const member = compileMember(field)
    if (member === undefined) return undefined
    names.push(name)
    compiled.push(member)
  }
  return { names, compiled }
}

/** The fast decoder of `schema`, or undefined when it uses anything this file does not know. */
export const compile = (schema: Schema.Schema.Any): Decoder | undefined => {
  const known = leaf(schema)
  if (known !== undefined) return known.decode
  const object = members(schema, compile)
  if (object === undefined) return undefined
  const { compiled: decoders, names } = object
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

/** The fast encoder of `schema`, or undefined when it uses anything this file does not know. */
export const compileEncoder = (schema: Schema.Schema.Any): Encoder | undefined => {
  const known = leaf(schema)
  if (known !== undefined) return known.encode
  const object = members(schema, compileEncoder)
  if (object === undefined) return undefined
  const { compiled: encoders, names } = object
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
