/**
 * Wire codecs: Schemas whose encoded side is our lossless Json value type (SPEC §7).
 *
 * `jsonObject(fields, name)` is a struct whose encoded form is a `JsonObject` (a Map, members in
 * declaration order); nested structs are built the same way, so `Schema.encodeSync` of any
 * wire type yields a Json value the printer turns into the reference's bytes, and
 * `Schema.decodeUnknown` of a parsed Json value yields branded domain values or a ParseError
 * naming the field and the value.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as Codec from "./Codec.js"
import * as Int from "./Int.js"
import { type CodecAnnotation, CodecId } from "./internal/codec.js"
import * as Serde from "./internal/serde.js"
import * as Json from "./Json.js"

/**
 * `A` with every branded number or bigint, at any depth, widened to its base type: what a
 * validating constructor (`Input.make`, `Model.make`, `Policy.make`) takes from plain values.
 */
export type Unbranded<A> = A extends bigint ? bigint
  : A extends number ? number
  : A extends string | boolean | null | undefined ? A
  : A extends ReadonlyArray<infer E> ? ReadonlyArray<Unbranded<E>>
  : { readonly [K in keyof A]: Unbranded<A[K]> }

/**
 * A validating constructor of a wire type's domain value from plain numbers and bigints: every
 * field checked against its type (its width, an integer, a number or a bigint where one belongs),
 * nothing converted; a `ParseError` names the first field out of its type and the value. The way
 * to build a branded value without a cast (a cast value out of its width is cut short silently by
 * the kernel's typed arrays and the digests' fixed-width fields).
 */
export const validator = <A, I>(schema: Schema.Schema<A, I, never>) => {
  // `Schema.validateEither` is the type side's decoding: the compiled codec's, where it decides
  const validate = Codec.decodeUnknownEither(Schema.typeSchema(schema))
  return (value: Unbranded<A>): Either.Either<A, ParseResult.ParseError> => validate(value)
}

/** Any Json value (validated structurally), kept as is. */
export const JsonValue: Schema.Schema<Json.Json> = Schema.declare(
  (u: unknown): u is Json.Json => isJson(u, 0),
  {
    identifier: "JsonValue",
    description: "a JSON value",
    [CodecId]: { _tag: "Guard", is: (u: unknown) => isJson(u, 0) },
    // Json values as the parser builds them: safe integers, 64-bit bigints, floats, strings, nesting
    arbitrary: () => (fc) =>
      fc.letrec<{ value: Json.Json }>((tie) => ({
        value: fc.oneof(
          { depthSize: "small", withCrossShrink: true },
          fc.constant(null),
          fc.boolean(),
          fc.integer(),
          fc.bigInt({ min: Int.I64_MIN, max: Int.U64_MAX }),
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => new Json.JsonFloat(x)),
          fc.string(),
          fc.array(tie("value"), { maxLength: 4 }),
          fc.array(fc.tuple(fc.string({ maxLength: 6 }), tie("value")), { maxLength: 4 }).map((members) =>
            new Map(members)
          )
        )
      })).value
  }
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
 * an error naming it) and encodes to a Json object with members in field order (a member
 * renamed with `Schema.fromKey` under its wire name; an `undefined` value is left out: a Json
 * object holds none). `name` is the reference's struct name: the schema's identifier, and what
 * serde's messages call it ("expected struct KernelInput"). The compiled codec (`Codec.ts`)
 * decodes and encodes it without the Schema machinery.
 */
export const jsonObject = <Fields extends Schema.Struct.Fields>(fields: Fields, name?: string) => {
  const identified = name === undefined ? {} : { identifier: name }
  const struct = Schema.Struct(fields).annotations(identified)
  // the wire names: those of the struct's encoded side (`fromKey` renames)
  const encoded = struct.ast._tag === "Transformation" ? struct.ast.from : struct.ast
  const names = encoded._tag === "TypeLiteral"
    ? encoded.propertySignatures.map((ps) => String(ps.name))
    : Object.keys(fields)
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
      const record = value as Record<string, Json.Json | undefined>
      const map = new Map<string, Json.Json>()
      for (const name of names) {
        const v = record[name]
        if (v !== undefined && Object.prototype.hasOwnProperty.call(record, name)) map.set(name, v)
      }
      return map
    }
  }).annotations({ ...identified, [CodecId]: JSON_OBJECT })
}

const JSON_OBJECT: CodecAnnotation = { _tag: "JsonObject" }

/** A literal union on the wire as its string name. */
export const wireName = <const A extends ReadonlyArray<string>>(...names: A) => Schema.Literal(...names)

/** Longest piece of user data an error message quotes (then `…`). */
export const EXCERPT = Serde.EXCERPT

/** Rust's `{:?}` of a string (what serde's messages quote), cut to `EXCERPT` characters. */
export const rustDebug = Serde.rustDebug

/** How serde sees a wire type (see `internal/serde.ts`). */
export type Shape = Serde.Shape

const intShapes: ReadonlyArray<readonly [AST.AST, string, bigint, bigint]> = [
  [Int.U8.ast, "u8", 0n, BigInt(Int.U8_MAX)],
  [Int.U16.ast, "u16", 0n, BigInt(Int.U16_MAX)],
  [Int.U32.ast, "u32", 0n, BigInt(Int.U32_MAX)],
  [Int.U64.ast, "u64", 0n, Int.U64_MAX],
  [Int.I64.ast, "i64", Int.I64_MIN, Int.I64_MAX]
]

const shapeOfAst = (ast: AST.AST): Shape | undefined => {
  for (const [known, name, min, max] of intShapes) {
    if (ast === known) return { _tag: "Int", name, min, max, lo: Number(min), hi: Number(max) }
  }
  if (ast === JsonValue.ast) return { _tag: "Value" }
  switch (ast._tag) {
    case "StringKeyword":
      return { _tag: "String" }
    case "BooleanKeyword":
      return { _tag: "Bool" }
    case "Literal":
      return typeof ast.literal === "string" ? { _tag: "Enum", variants: [ast.literal] } : undefined
    case "Union": {
      const variants: Array<string> = []
      for (const member of ast.types) {
        if (member._tag !== "Literal" || typeof member.literal !== "string") return undefined
        variants.push(member.literal)
      }
      return { _tag: "Enum", variants }
    }
    case "Refinement":
      // serde has no refinement: the schema checks it after the typed decoding
      return shapeOfAst(ast.from)
    case "TupleType": {
      const rest = ast.rest[0]
      if (ast.elements.length > 0 || ast.rest.length !== 1 || rest === undefined) return undefined
      const element = shapeOfAst(rest.type)
      return element === undefined ? undefined : { _tag: "Seq", element }
    }
    case "Transformation": {
      if (ast.from !== JsonObjectFromSelf.ast || ast.to._tag !== "TypeLiteral") return undefined
      const names: Array<string> = []
      const shapes: Array<Shape> = []
      for (const field of ast.to.propertySignatures) {
        const shape = shapeOfAst(field.type)
        if (shape === undefined || typeof field.name !== "string") return undefined
        names.push(field.name)
        shapes.push(shape)
      }
      const name = Option.getOrElse(AST.getIdentifierAnnotation(ast), () => "JsonObject")
      return { _tag: "Struct", name, names, shapes }
    }
    default:
      return undefined
  }
}

/**
 * serde's view of a wire schema built from `jsonObject`, the `Int` widths, strings, booleans,
 * string literals, arrays and `JsonValue`; undefined for anything else.
 */
export const shapeOf = (schema: Schema.Schema.Any): Shape | undefined => shapeOfAst(schema.ast)

/** A struct shape (for a wrapper the wire schemas do not describe, such as the WAL entry). */
export const structShape = (name: string, fields: ReadonlyArray<readonly [string, Shape]>): Shape => ({
  _tag: "Struct",
  name,
  names: fields.map(([n]) => n),
  shapes: fields.map(([, s]) => s)
})

/**
 * `serde_json::from_str::<T>(text)` for the shape of `T`: the Json value (objects in field
 * order) or serde's error — message, category, line and column — for the first problem of
 * the text (a duplicate field, a missing one, a value of the wrong type or out of range, bad
 * JSON).
 */
export const decodeShape = (
  shape: Shape,
  text: string,
  options?: Serde.DecodeOptions
): Either.Either<Json.Json, Json.JsonParseError> => Serde.decode(shape, text, options)

/**
 * Parse a JSON text and decode it with a wire schema; errors say where and what. A schema
 * serde can describe (see `shapeOf`) is decoded as the reference decodes it, typed, from the
 * text: the first problem wins and is reported with serde's message and position (a repeated
 * member is "duplicate field `x`", not "the last one wins"), naming the field; the schema then
 * checks what serde does not (such as the catalog's size). One deliberate difference: an integer
 * literal beyond the field's range is reported as the integer written, not as the float serde
 * parsed it into.
 */
export const decodeText = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  const shape = shapeOf(schema)
  return (text: string): Either.Either<A, Json.JsonParseError | ParseResult.ParseError> =>
    Either.flatMap(
      shape === undefined ? Json.parse(text) : Serde.decode(shape, text, { exactIntegers: true }),
      (json) => decode(json)
    )
}

/** Encode a value with a wire schema and print it as compact canonical JSON. */
export const encodeText = <A, I extends Json.Json>(schema: Schema.Schema<A, I>) => {
  const encode = Schema.encodeSync(schema)
  return (value: A): string => Json.print(encode(value))
}

/** A value in a message: printed as JSON (exact integers, no `n`; floats as serde prints them), cut short. */
export const excerptValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  const text = isJson(value, 0) ? Json.print(value as Json.Json) : String(value)
  return Serde.excerpt(text)
}

/** The value at `path` in the input (members of a Json object or a plain one, array elements). */
const valueAt = (
  input: unknown,
  path: ReadonlyArray<PropertyKey>
): { readonly found: boolean; readonly actual: unknown } => {
  let current: unknown = input
  for (const key of path) {
    if (current instanceof Map) {
      if (!current.has(key)) return { found: false, actual: undefined }
      current = current.get(key)
    } else if (Array.isArray(current) && typeof key === "number") {
      if (key >= current.length) return { found: false, actual: undefined }
      current = current[key]
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, key)) {
      current = (current as Record<PropertyKey, unknown>)[key]
    } else return { found: false, actual: undefined }
  }
  return { found: true, actual: current }
}

/** The value at the end of an issue's first branch (what the first failure was about). */
const firstActual = (issue: ParseResult.ParseIssue): { readonly found: boolean; readonly actual: unknown } => {
  let current: ParseResult.ParseIssue = issue
  for (let guard = 0; guard < 10_000; guard++) {
    switch (current._tag) {
      case "Pointer":
      case "Refinement":
      case "Transformation":
        current = current.issue
        continue
      case "Composite": {
        const first: ParseResult.ParseIssue | undefined = Array.isArray(current.issues)
          ? current.issues[0]
          : current.issues as ParseResult.ParseIssue
        if (first === undefined) return { found: true, actual: current.actual }
        current = first
        continue
      }
      case "Missing":
        return { found: false, actual: undefined }
      default:
        return { found: true, actual: current.actual }
    }
  }
  return { found: false, actual: undefined }
}

/** Schema's message for a value that is not the literal a union member's discriminator asks for. */
const LITERAL_MISMATCH = /^Expected "[^"\n]*", actual /

/** `models[2].quality_bps` from a Schema issue path. */
const fieldPath = Serde.formatPath

/**
 * One line naming the field and the value, for a wire-decoding error (Schema's own message is
 * a tree of every type involved, kilobytes for a wire record): `risk_bps: must be an integer
 * in [0, 65535], got 70000`. Values print as JSON (an integer beyond 2^53 without an `n`, a
 * float as serde prints it) and at most `EXCERPT` characters of them.
 */
export const formatError = (error: ParseResult.ParseError): string => {
  const { field, message } = describeError(error)
  return field === "" ? message : `${field}: ${message}`
}

/** `formatError` in two parts: the field (`""` for the value itself) and what is wrong with it. */
export const describeError = (error: ParseResult.ParseError): { readonly field: string; readonly message: string } => {
  // a union lists each member's issue: the others fail at their discriminator (`kind: expected
  // "ensure_tenant"`), the member it names at the real field — so of the deepest issues, the first
  // that is not a literal's mismatch (a hostile review: a commit record with a negative
  // reservation_id was refused as `kind: expected "ensure_tenant", got "commit"`)
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const deepest = issues.reduce((n, issue) => Math.max(n, issue.path.length), 0)
  const first = issues.find((issue) => issue.path.length === deepest && !LITERAL_MISMATCH.test(issue.message)) ??
    issues.find((issue) => issue.path.length === deepest) ?? issues[0]
  if (first === undefined) return { field: "", message: "does not match the schema" }
  let message = first.message
  const expected = /^Expected ([^\n]*?), actual [\s\S]*$/.exec(message)
  if (expected !== null) {
    // the value at the chosen issue's path (the first branch's, which `firstActual` follows, may
    // be another member's: "tenant_id: expected string, got \"reserve\"" — a review of the change)
    const { actual, found } = first === issues[0] ? firstActual(error.issue) : valueAt(error.issue.actual, first.path)
    message = actual instanceof Json.JsonFloat
      ? `expected an integer, got the float ${Json.printFloat(actual.value)}`
      : `expected ${expected[1]}, got ${found ? excerptValue(actual) : "nothing"}`
  }
  message = message.split("\n")[0] ?? message
  return { field: fieldPath(first.path), message }
}
