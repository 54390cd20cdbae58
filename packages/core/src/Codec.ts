/**
 * The wire codec: `Schema.decodeUnknownEither` / `Schema.encodeEither` of a wire schema, through
 * plain functions compiled once from the schema (`internal/codec.ts`) where they decide. A
 * compiled function either produces exactly what the Schema produces, or gives up — on every
 * input the Schema refuses, and wherever it cannot tell — and the Schema runs and decides (and
 * words the error). A schema using something the compiler does not know runs through the Schema
 * only. So the Schema stays the one authority on what is valid; the compiled code only makes the
 * common case fast (tens of µs of ParseResult machinery per record on the journal, the WAL's
 * audited records and the batch decoder).
 *
 * Compiled: core's wire integers (`Int`: one range-checked reader), `JsonValue`, `jsonObject`,
 * keywords, literals, refinements and brands (by their own predicate), structs with optional and
 * renamed (`Schema.fromKey`) members, arrays, `Schema.transform` / `Schema.compose` (by their
 * own functions), unions of literals, unions tagged by a literal member (`kind`, `_tag`: one
 * lookup) and other unions (in the Schema's order).
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as internal from "./internal/codec.js"
import * as Json from "./Json.js"

/** What a compiled function answers when the Schema has to decide. */
export const FAIL: typeof internal.FAIL = internal.FAIL
/** What a compiled function answers when it cannot tell (an asynchronous transformation). */
export const DEFER: typeof internal.DEFER = internal.DEFER

/** The annotation by which a wire schema tells the compiler what it is (see `Int`, `JsonSchema`). */
export const CodecId: typeof internal.CodecId = internal.CodecId
export type CodecAnnotation = internal.CodecAnnotation

/**
 * A wire integer (a safe `number` or a `bigint`) in [min, max], as a `bigint`, else `undefined`:
 * the one range-checked reader of wire integers.
 */
export const readBigInt: (u: unknown, min: bigint, max: bigint) => bigint | undefined = internal.readBigInt

/** The compiled decoder of `schema` (`FAIL` / `DEFER`: ask the Schema), or undefined when it does not compile. */
export const compileDecoder = <A, I, R>(
  schema: Schema.Schema<A, I, R>
): ((u: unknown) => A | typeof FAIL | typeof DEFER) | undefined =>
  internal.compileDecoder(schema.ast) as ((u: unknown) => A | typeof FAIL | typeof DEFER) | undefined

/** The compiled encoder of `schema` (`FAIL` / `DEFER`: ask the Schema), or undefined when it does not compile. */
export const compileEncoder = <A, I, R>(
  schema: Schema.Schema<A, I, R>
): ((a: A) => I | typeof FAIL | typeof DEFER) | undefined =>
  internal.compileEncoder(schema.ast) as ((a: A) => I | typeof FAIL | typeof DEFER) | undefined

/** `Schema.decodeUnknownEither(schema)`, through the compiled decoder where it decides. */
export const decodeUnknownEither = <A, I>(
  schema: Schema.Schema<A, I, never>
): (u: unknown) => Either.Either<A, ParseResult.ParseError> => {
  const slow = Schema.decodeUnknownEither(schema)
  const fast = internal.compileDecoder(schema.ast)
  if (fast === undefined) return slow
  return (u) => {
    const a = fast(u)
    return a === internal.FAIL || a === internal.DEFER ? slow(u) : Either.right(a as A)
  }
}

/** `Schema.encodeEither(schema)`, through the compiled encoder where it decides. */
export const encodeEither = <A, I>(
  schema: Schema.Schema<A, I, never>
): (a: A) => Either.Either<I, ParseResult.ParseError> => {
  const slow = Schema.encodeEither(schema)
  const fast = internal.compileEncoder(schema.ast)
  if (fast === undefined) return slow
  return (a) => {
    const i = fast(a)
    return i === internal.FAIL || i === internal.DEFER ? slow(a) : Either.right(i as I)
  }
}

/**
 * The compiled printer of a `jsonObject` schema: `Json.print` of its encoding in one pass (`FAIL`
 * / `DEFER`: ask the Schema), or undefined when it does not compile.
 */
export const compilePrinter = <A, I, R>(
  schema: Schema.Schema<A, I, R>
): ((a: A) => string | undefined | typeof FAIL | typeof DEFER) | undefined =>
  internal.compilePrinter(schema.ast) as ((a: A) => string | undefined | typeof FAIL | typeof DEFER) | undefined

/**
 * `Json.print(Schema.encodeSync(schema)(value))` — the compact canonical JSON of a value —
 * through the compiled printer where it decides. Like `encodeSync`, it throws the Schema's
 * ParseError on a value that does not encode: for values the program built itself.
 */
export const printer = <A, I extends Json.Json>(schema: Schema.Schema<A, I, never>): (a: A) => string => {
  const encode = Schema.encodeSync(schema)
  const slow = (a: A): string => Json.print(encode(a))
  const fast = internal.compilePrinter(schema.ast)
  if (fast === undefined) return slow
  return (a) => {
    const text = fast(a)
    return typeof text === "string" ? text : slow(a)
  }
}
