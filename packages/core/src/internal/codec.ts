/**
 * The compiled wire codec (see `Codec.ts`): plain functions compiled once from a Schema's AST
 * that produce exactly what `Schema.decodeUnknownEither(schema)` / `Schema.encodeEither(schema)`
 * produce, or answer `FAIL` — on any input the Schema would refuse, or (`DEFER`) where they
 * cannot tell — so that the caller runs the Schema, which then decides and words the error. A
 * schema that uses anything this file does not know does not compile (`undefined`): the caller
 * then always runs the Schema.
 *
 * What compiles (each exactly as `effect/ParseResult` treats it):
 * - leaves annotated with `CodecId` (core's wire integers, `JsonValue`, `jsonObject`);
 * - string / number / boolean / bigint / undefined keywords, literals;
 * - refinements and brands (the refinement's own predicate, so any filter works);
 * - structs (`TypeLiteral`, optional members), key renames (`Schema.fromKey`), `Schema.transform`
 *   and `Schema.compose` (their own functions, when they answer synchronously), arrays;
 * - unions: of literals, tagged by a literal member (one lookup), or tried in order.
 */
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as AST from "effect/SchemaAST"
import { bigintOfSafe } from "../Word.js"
import { print, quote } from "./jsonPrint.js"
import type { Json } from "./jsonValue.js"

/** The annotation by which core's wire schemas tell the compiler what they are. */
export const CodecId: unique symbol = Symbol.for("@calybris/core/Codec")

export type CodecAnnotation =
  /**
   * A wire integer (a safe `number`, or a `bigint`) in [min, max]: decoded to a `bigint` when
   * `bigint`, else a `number`; encoded as itself.
   */
  | { readonly _tag: "Integer"; readonly min: bigint; readonly max: bigint; readonly bigint: boolean }
  /** Decoded and encoded as itself when `is` holds (a `Schema.declare` of `is`). */
  | { readonly _tag: "Guard"; readonly is: (u: unknown) => boolean }
  /** `JsonSchema.jsonObject`: a Json object (a Map) of the members of its struct, in field order. */
  | { readonly _tag: "JsonObject" }

/** The Schema refuses this input. */
export const FAIL: unique symbol = Symbol("codec.FAIL")
/** The compiled code cannot tell (an asynchronous transformation): ask the Schema. */
export const DEFER: unique symbol = Symbol("codec.DEFER")

export type Fn = (u: unknown) => unknown

const hasOwn = Object.prototype.hasOwnProperty
const OPTIONS: AST.ParseOptions = {}

// ---------------------------------------------------------------------------------------------
// The one range-checked reader of wire integers

/**
 * A wire integer (a safe `number` or a `bigint`) in [min, max], as a `bigint`; `undefined` for
 * anything else (a float, an unsafe number, a value out of range, not a number).
 */
export const readBigInt = (u: unknown, min: bigint, max: bigint): bigint | undefined => {
  const b = typeof u === "bigint" ? u : typeof u === "number" && Number.isSafeInteger(u) ? bigintOfSafe(u) : undefined
  return b !== undefined && b >= min && b <= max ? b : undefined
}

/** A safe integer `number` in [min, max] (`min`, `max` safe), else `undefined`. */
export const readSafe = (u: unknown, min: number, max: number): number | undefined =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= min && u <= max ? u : undefined

const integer = (a: Extract<CodecAnnotation, { _tag: "Integer" }>, isDecoding: boolean): Fn => {
  const { max, min } = a
  if (!a.bigint) {
    const lo = Number(min)
    const hi = Number(max)
    return (u) => readSafe(u, lo, hi) ?? FAIL
  }
  if (isDecoding) return (u) => readBigInt(u, min, max) ?? FAIL
  // the 64-bit schemas encode a bigint as itself (the printer writes it exactly)
  return (u) => typeof u === "bigint" && u >= min && u <= max ? u : FAIL
}

// ---------------------------------------------------------------------------------------------
// Structs

interface Field {
  /** the member's name in the input (the encoded name when decoding) */
  readonly from: string
  /** its name in the output */
  readonly to: string
  readonly optional: boolean
  readonly fn: Fn
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A struct read from a Map (`jsonObject`'s decoding) or a record, written to a record or to a
 * Map (`jsonObject`'s encoding: members in field order, no `undefined`). The code is generated
 * per struct (one straight-line function, member names as literals), so that every property
 * access in it sees one shape: a loop shared by every struct would be megamorphic.
 */
const struct = (fields: ReadonlyArray<Field>, mode: "mapToRecord" | "recordToRecord" | "recordToMap"): Fn => {
  const lines: Array<string> = [
    mode === "mapToRecord" ? "if (!(u instanceof Map)) return FAIL" : "if (!isRecord(u)) return FAIL",
    mode === "recordToMap" ? "const out = new Map()" : "const out = {}",
    "let v"
  ]
  fields.forEach((f, i) => {
    // JSON string literals are JavaScript string literals
    const from = JSON.stringify(f.from)
    const to = JSON.stringify(f.to)
    const read = mode === "mapToRecord" ? `u.get(${from})` : `u[${from}]`
    const write = mode === "recordToMap" ? `if (v !== undefined) out.set(${to}, v)` : `out[${to}] = v`
    const body = `v = f${i}(${read}); if (v === FAIL || v === DEFER) return v; ${write}`
    const has = mode === "mapToRecord" ? `u.has(${from})` : `hasOwn.call(u, ${from})`
    lines.push(f.optional ? `if (${has}) { ${body} }` : body)
  })
  lines.push("return out")
  const names = fields.map((_, i) => `f${i}`)
  // generated from member names only (JSON string literals), never from data
  // eslint-disable-next-line no-new-func
  const make = new Function("FAIL", "DEFER", "hasOwn", "isRecord", ...names, `return (u) => {\n${lines.join("\n")}\n}`)
  return make(FAIL, DEFER, hasOwn, isRecord, ...fields.map((f) => f.fn)) as Fn
}

/**
 * The members of a struct AST (a `TypeLiteral`, or a `Schema.Struct` whose members are renamed
 * with `fromKey`), in field order: encoded name, type name, encoded-side AST, optional. Only
 * string names, no index signatures, renames without transformation.
 */
const membersOf = (ast: AST.AST): ReadonlyArray<readonly [string, string, AST.AST, boolean]> | undefined => {
  if (ast._tag === "TypeLiteral") {
    if (ast.indexSignatures.length > 0) return undefined
    const out: Array<readonly [string, string, AST.AST, boolean]> = []
    for (const ps of ast.propertySignatures) {
      if (typeof ps.name !== "string") return undefined
      out.push([ps.name, ps.name, ps.type, ps.isOptional])
    }
    return out
  }
  if (
    ast._tag !== "Transformation" || ast.transformation._tag !== "TypeLiteralTransformation" ||
    ast.from._tag !== "TypeLiteral" || ast.to._tag !== "TypeLiteral"
  ) return undefined
  const from = membersOf(ast.from)
  if (from === undefined || ast.to.propertySignatures.length !== from.length) return undefined
  const renamed = new Map<string, string>()
  for (const t of ast.transformation.propertySignatureTransformations) {
    if (t.decode !== identity || t.encode !== identity || typeof t.from !== "string" || typeof t.to !== "string") {
      return undefined
    }
    renamed.set(t.from, t.to)
  }
  const out: Array<readonly [string, string, AST.AST, boolean]> = []
  for (let i = 0; i < from.length; i++) {
    const [name, , type, optional] = from[i] as readonly [string, string, AST.AST, boolean]
    const to = renamed.get(name) ?? name
    const ps = ast.to.propertySignatures[i]
    if (ps === undefined || ps.name !== to || ps.isOptional !== optional) return undefined
    out.push([name, to, type, optional])
  }
  return out
}

const compileStruct = (ast: AST.AST, isDecoding: boolean, map: boolean): Fn | undefined => {
  const members = membersOf(ast)
  if (members === undefined) return undefined
  const fields: Array<Field> = []
  for (const [encoded, name, type, optional] of members) {
    const fn = compileAst(type, isDecoding)
    if (fn === undefined) return undefined
    fields.push(isDecoding ? { from: encoded, to: name, optional, fn } : { from: name, to: encoded, optional, fn })
  }
  return struct(fields, isDecoding ? (map ? "mapToRecord" : "recordToRecord") : map ? "recordToMap" : "recordToRecord")
}

// ---------------------------------------------------------------------------------------------
// Unions

/** `ParseResult.getLiterals`: the required literal members a union's search tree keys on. */
const literalsOf = (ast: AST.AST, isDecoding: boolean): ReadonlyArray<readonly [PropertyKey, unknown]> => {
  switch (ast._tag) {
    case "TypeLiteral": {
      const out: Array<readonly [PropertyKey, unknown]> = []
      for (const ps of ast.propertySignatures) {
        const type = isDecoding ? AST.encodedAST(ps.type) : AST.typeAST(ps.type)
        if (type._tag === "Literal" && !ps.isOptional) out.push([ps.name, type.literal])
      }
      return out
    }
    case "Refinement":
      return literalsOf(ast.from, isDecoding)
    case "Transformation":
      return literalsOf(isDecoding ? ast.from : ast.to, isDecoding)
    default:
      return []
  }
}

const isJsonObject = (ast: AST.AST): boolean =>
  ast._tag === "Transformation" && (ast.annotations[CodecId] as CodecAnnotation | undefined)?._tag === "JsonObject"

/**
 * How a union member is told apart from the others: the required literal members of its input
 * (a Json object's for a `jsonObject` being decoded, else a record's).
 */
const tagsOf = (
  ast: AST.AST,
  isDecoding: boolean
): { readonly map: boolean; readonly tags: ReadonlyMap<string, unknown> } | undefined => {
  if (ast._tag === "Refinement") return tagsOf(ast.from, isDecoding)
  if (ast._tag === "Transformation" && isJsonObject(ast) && isDecoding) {
    const members = membersOf(ast.to)
    if (members === undefined) return undefined
    const tags = new Map<string, unknown>()
    for (const [encoded, , type, optional] of members) {
      const e = AST.encodedAST(type)
      if (e._tag === "Literal" && !optional) tags.set(encoded, e.literal)
    }
    return { map: true, tags }
  }
  if (ast._tag === "Transformation" && !isJsonObject(ast)) return tagsOf(isDecoding ? ast.from : ast.to, isDecoding)
  const view = isDecoding ? AST.encodedAST(ast) : AST.typeAST(ast)
  if (view._tag !== "TypeLiteral") return undefined
  const tags = new Map<string, unknown>()
  for (const ps of view.propertySignatures) {
    if (ps.type._tag === "Literal" && !ps.isOptional && typeof ps.name === "string") tags.set(ps.name, ps.type.literal)
  }
  return { map: false, tags }
}

/** A member name whose literal tells every member apart, and the members by it. */
const discriminant = (types: ReadonlyArray<AST.AST>, isDecoding: boolean) => {
  const views = types.map((t) => tagsOf(t, isDecoding))
  const first = views[0]
  if (first === undefined || views.some((v) => v === undefined || v.map !== first.map)) return undefined
  for (const key of first.tags.keys()) {
    const byTag = new Map<unknown, number>()
    views.forEach((v, i) => {
      if (v?.tags.has(key) === true && !byTag.has(v.tags.get(key))) byTag.set(v.tags.get(key), i)
    })
    if (byTag.size === types.length) return { key, map: first.map, byTag }
  }
  return undefined
}

const compileUnion = (ast: AST.Union, isDecoding: boolean): Fn | undefined => {
  const types = ast.types
  if (types.every((t) => t._tag === "Literal")) {
    const values = new Set(types.map((t) => (t as AST.Literal).literal))
    return (u) => values.has(u as AST.LiteralValue) ? u : FAIL
  }
  if (types.length === 2 && types[1]?._tag === "UndefinedKeyword" && types[0] !== undefined) {
    // `Schema.optional(X)`: X, or undefined
    const fn = compileAst(types[0], isDecoding)
    return fn === undefined ? undefined : (u) => u === undefined ? u : fn(u)
  }
  const fns: Array<Fn> = []
  for (const t of types) {
    const fn = compileAst(t, isDecoding)
    if (fn === undefined) return undefined
    fns.push(fn)
  }
  const tagged = discriminant(types, isDecoding)
  if (tagged !== undefined) {
    // at most the member with that literal can succeed: the one the Schema finds too
    const { byTag, key, map } = tagged
    const byTagFn = new Map([...byTag].map(([tag, i]) => [tag, fns[i] as Fn]))
    return map
      ? (u) => {
        if (!(u instanceof Map)) return FAIL
        const fn = byTagFn.get(u.get(key))
        return fn === undefined ? FAIL : fn(u)
      }
      : (u) => {
        if (!isRecord(u)) return FAIL
        const fn = byTagFn.get(u[key])
        return fn === undefined ? FAIL : fn(u)
      }
  }
  // the Schema tries its candidates in order: untagged members in declaration order, or
  // members all tagged with one same literal (a version), the same order
  const literals = types.map((t) => literalsOf(t, isDecoding))
  const one = literals[0]
  const inOrder = literals.every((l) => l.length === 0) ||
    (one !== undefined && one.length === 1 &&
      literals.every((l) => l.length === 1 && l[0]?.[0] === one[0]?.[0] && l[0]?.[1] === one[0]?.[1]))
  if (!inOrder) {
    // every member keyed on one same member name, some sharing a literal (e.g. one `Overflow`
    // per result family): the Schema's search tree tries the members with the value's literal,
    // in declaration order
    const key = one?.[0]?.[0]
    if (typeof key !== "string" || !literals.every((l) => l.length === 1 && l[0]?.[0] === key)) return undefined
    const groups = new Map<unknown, Array<Fn>>()
    literals.forEach((l, i) => {
      const tag = l[0]?.[1]
      const group = groups.get(tag) ?? []
      group.push(fns[i] as Fn)
      groups.set(tag, group)
    })
    return (u) => {
      if (!isRecord(u)) return FAIL
      const group = groups.get(u[key])
      if (group === undefined) return FAIL
      for (let i = 0; i < group.length; i++) {
        const v = (group[i] as Fn)(u)
        if (v !== FAIL) return v
      }
      return FAIL
    }
  }
  return (u) => {
    for (let i = 0; i < fns.length; i++) {
      const v = (fns[i] as Fn)(u)
      if (v !== FAIL) return v
    }
    return FAIL
  }
}

// ---------------------------------------------------------------------------------------------
// Transformations

/** A transformation's function, answered synchronously (an Either), or DEFER. */
const run = (
  f: AST.FinalTransformation["decode"],
  ast: AST.Transformation,
  a: unknown,
  i: unknown
): unknown => {
  const r = f(a, OPTIONS, ast, i)
  if (!Either.isEither(r)) return DEFER
  return Either.isRight(r) ? r.right : FAIL
}

const compileTransformation = (ast: AST.Transformation, isDecoding: boolean): Fn | undefined => {
  const t = ast.transformation
  if (t._tag === "TypeLiteralTransformation") return compileStruct(ast, isDecoding, false)
  if (ast.from._tag === "Literal" && ast.to._tag === "Literal") {
    // `Schema.transformLiteral`: whatever its functions, it can only succeed by mapping the one
    // literal to the other (the other side checks it)
    const input = isDecoding ? ast.from.literal : ast.to.literal
    const output = isDecoding ? ast.to.literal : ast.from.literal
    return (u) => u === input ? output : FAIL
  }
  // decoding: from → f → to; encoding: to → f → from (as ParseResult does)
  const first = compileAst(isDecoding ? ast.from : ast.to, isDecoding)
  const second = compileAst(isDecoding ? ast.to : ast.from, isDecoding)
  if (first === undefined || second === undefined) return undefined
  if (t._tag === "ComposeTransformation") {
    return (u) => {
      const a = first(u)
      return a === FAIL || a === DEFER ? a : second(a)
    }
  }
  const f = isDecoding ? t.decode : t.encode
  return (u) => {
    const a = first(u)
    if (a === FAIL || a === DEFER) return a
    const b = run(f, ast, a, u)
    return b === FAIL || b === DEFER ? b : second(b)
  }
}

// ---------------------------------------------------------------------------------------------
// The compiler

const compileAnnotated = (ast: AST.AST, a: CodecAnnotation, isDecoding: boolean): Fn | undefined => {
  switch (a._tag) {
    case "Integer":
      return integer(a, isDecoding)
    case "Guard": {
      const is = a.is
      return (u) => is(u) ? u : FAIL
    }
    case "JsonObject":
      return ast._tag === "Transformation" ? compileStruct(ast.to, isDecoding, true) : undefined
  }
}

const compileRefinement = (ast: AST.Refinement, isDecoding: boolean): Fn | undefined => {
  if (isDecoding) {
    const from = compileAst(ast.from, true)
    if (from === undefined) return undefined
    return (u) => {
      const a = from(u)
      if (a === FAIL || a === DEFER) return a
      return Option.isNone(ast.filter(a, OPTIONS, ast)) ? a : FAIL
    }
  }
  // encoding: the value is validated on the type side, then encoded without the refinements
  const validate = compileAst(AST.typeAST(ast), true)
  let inner: AST.AST = ast.from
  while (inner._tag === "Refinement") inner = inner.from
  const encode = compileAst(inner, false)
  if (validate === undefined || encode === undefined) return undefined
  return (u) => {
    const a = validate(u)
    return a === FAIL || a === DEFER ? a : encode(a)
  }
}

const compileAst = (ast: AST.AST, isDecoding: boolean): Fn | undefined => {
  const cache = isDecoding ? decoders : encoders
  if (cache.has(ast)) return cache.get(ast)
  const fn = compileUncached(ast, isDecoding)
  cache.set(ast, fn)
  return fn
}

const decoders = new WeakMap<AST.AST, Fn | undefined>()
const encoders = new WeakMap<AST.AST, Fn | undefined>()

const compileUncached = (ast: AST.AST, isDecoding: boolean): Fn | undefined => {
  const annotation = ast.annotations[CodecId] as CodecAnnotation | undefined
  if (annotation !== undefined) return compileAnnotated(ast, annotation, isDecoding)
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string" ? u : FAIL
    case "NumberKeyword":
      return (u) => typeof u === "number" ? u : FAIL
    case "BooleanKeyword":
      return (u) => typeof u === "boolean" ? u : FAIL
    case "BigIntKeyword":
      return (u) => typeof u === "bigint" ? u : FAIL
    case "UndefinedKeyword":
      return (u) => u === undefined ? u : FAIL
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal ? u : FAIL
    }
    case "Union":
      return compileUnion(ast, isDecoding)
    case "Refinement":
      return compileRefinement(ast, isDecoding)
    case "TypeLiteral":
      return compileStruct(ast, isDecoding, false)
    case "TupleType": {
      const rest = ast.rest[0]
      if (ast.elements.length > 0 || ast.rest.length !== 1 || rest === undefined) return undefined
      const element = compileAst(rest.type, isDecoding)
      if (element === undefined) return undefined
      return (u) => {
        if (!Array.isArray(u)) return FAIL
        const out = new Array(u.length)
        for (let i = 0; i < u.length; i++) {
          const v = element(u[i])
          if (v === FAIL || v === DEFER) return v
          out[i] = v
        }
        return out
      }
    }
    case "Transformation":
      return compileTransformation(ast, isDecoding)
    default:
      return undefined
  }
}

/** The compiled decoder of a schema's AST (`FAIL` / `DEFER`: ask the Schema), or undefined. */
export const compileDecoder = (ast: AST.AST): Fn | undefined => compileAst(ast, true)

/** The compiled encoder of a schema's AST (`FAIL` / `DEFER`: ask the Schema), or undefined. */
export const compileEncoder = (ast: AST.AST): Fn | undefined => compileAst(ast, false)

// ---------------------------------------------------------------------------------------------
// Printers: encoding fused with the printer

/** `undefined`: the value encodes to nothing (a member left out) */
type Printer = (a: unknown) => string | undefined | typeof FAIL | typeof DEFER

/** The printer of one member's value: its compact canonical JSON, as `print(encode(value))`. */
const valuePrinter = (ast: AST.AST): Printer | undefined => {
  const annotation = ast.annotations[CodecId] as CodecAnnotation | undefined
  if (annotation?._tag === "Integer") {
    const { max, min } = annotation
    if (!annotation.bigint) {
      const lo = Number(min)
      const hi = Number(max)
      // a safe integer prints as its digits
      return (u) => readSafe(u, lo, hi) === undefined ? FAIL : "" + (u as number)
    }
    return (u) => typeof u === "bigint" && u >= min && u <= max ? u.toString() : FAIL
  }
  if (annotation?._tag === "JsonObject") return structPrinter(ast)
  if (
    annotation === undefined && ast._tag === "Union" && ast.types.length === 2 &&
    ast.types[1]?._tag === "UndefinedKeyword"
  ) {
    // `Schema.optional(X)`
    const inner = ast.types[0] === undefined ? undefined : valuePrinter(ast.types[0])
    return inner === undefined ? undefined : (u) => u === undefined ? undefined : inner(u)
  }
  if (annotation === undefined) {
    switch (ast._tag) {
      case "StringKeyword":
        return (u) => typeof u === "string" ? quote(u) : FAIL
      case "BooleanKeyword":
        return (u) => u === true ? "true" : u === false ? "false" : FAIL
      case "Literal":
      case "Union": {
        const types = ast._tag === "Literal" ? [ast] : ast.types
        if (!types.every((t) => t._tag === "Literal" && typeof t.literal === "string")) break
        const texts = new Map(
          types.map((t) => [(t as AST.Literal).literal, quote((t as AST.Literal).literal as string)])
        )
        return (u) => texts.get(u as string) ?? FAIL
      }
    }
  }
  const encode = compileAst(ast, false)
  if (encode === undefined) return undefined
  return (u) => {
    const e = encode(u)
    return e === FAIL || e === DEFER ? e : e === undefined ? undefined : print(e as Json)
  }
}

/** The printer of a `jsonObject` (generated per struct, as `struct` is). */
const structPrinter = (ast: AST.AST): Printer | undefined => {
  if (ast._tag !== "Transformation") return undefined
  const members = membersOf(ast.to)
  if (members === undefined) return undefined
  const printers: Array<Printer> = []
  const lines: Array<string> = ["if (!isRecord(u)) return FAIL", "let out = \"{\"", "let sep = \"\"", "let v"]
  for (const [encoded, name, type, optional] of members) {
    const printer = valuePrinter(type)
    if (printer === undefined) return undefined
    const i = printers.push(printer) - 1
    const key = JSON.stringify(name)
    // `"name":` as the printer writes it, a constant
    const prefix = JSON.stringify(quote(encoded) + ":")
    // a value encoded to undefined is left out of the Json object (see jsonObject): nothing printed
    const body =
      `v = p${i}(u[${key}]); if (v === FAIL || v === DEFER) return v; if (v !== undefined) { out += sep + ${prefix} + v; sep = "," }`
    lines.push(optional ? `if (hasOwn.call(u, ${key})) { ${body} }` : body)
  }
  lines.push("return out + \"}\"")
  const names = printers.map((_, i) => `p${i}`)
  // generated from member names only (JSON string literals), never from data
  // eslint-disable-next-line no-new-func
  const make = new Function("FAIL", "DEFER", "hasOwn", "isRecord", ...names, `return (u) => {\n${lines.join("\n")}\n}`)
  return make(FAIL, DEFER, hasOwn, isRecord, ...printers) as Printer
}

/**
 * The printer of a `jsonObject` schema's AST: `print(encode(value))` in one pass (`FAIL` /
 * `DEFER`: ask the Schema), or undefined.
 */
export const compilePrinter = (ast: AST.AST): Printer | undefined =>
  (ast.annotations[CodecId] as CodecAnnotation | undefined)?._tag === "JsonObject" ? structPrinter(ast) : undefined
