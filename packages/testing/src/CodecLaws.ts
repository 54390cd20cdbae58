/**
 * The laws of the compiled wire codec (`@calybris/core/Codec`), checked against the Schema it is
 * compiled from: on valid values (`Arbitrary.make(schema)`) and on hostile ones (wire and typed
 * values with members replaced, removed or added), the compiled decoder and encoder accept
 * exactly what the Schema accepts, with the same value (the same printed bytes, for encoding),
 * and refuse exactly what it refuses. fast-check runs at its global count (FC_NUM_RUNS).
 */
import * as Codec from "@calybris/core/Codec"
import * as Json from "@calybris/core/Json"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { isDeepStrictEqual } from "node:util"

const U64_MAX = (1n << 64n) - 1n
const I64_MIN = -(1n << 63n)

/** Values that sit on the edges of what the wire schemas accept. */
const hostile: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  undefined,
  null,
  true,
  -1,
  0,
  1.5,
  -0,
  65_535,
  65_536,
  4_294_967_295,
  4_294_967_296,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  -1n,
  0n,
  U64_MAX,
  U64_MAX + 1n,
  I64_MIN,
  I64_MIN - 1n,
  -I64_MIN - 1n,
  -I64_MIN,
  new Json.JsonFloat(3),
  "",
  "x",
  "reserve",
  "Reserve",
  "admit",
  "Admit",
  [],
  new Map(),
  {}
)

/** `value` with the member or element at a random path replaced by `replacement`, removed (undefined), or added. */
const mutate = (value: unknown, path: ReadonlyArray<number>, replacement: unknown, add: boolean): unknown => {
  const [step, ...rest] = path
  if (value instanceof Map) {
    const keys = [...value.keys()]
    if (step === undefined || keys.length === 0 || add && rest.length === 0) {
      return new Map([...value, [add ? "extra_member" : keys[0], replacement]])
    }
    const key = keys[step % keys.length]
    const out = new Map(value)
    if (rest.length === 0 && replacement === undefined) out.delete(key)
    else out.set(key, rest.length === 0 ? replacement : mutate(value.get(key), rest, replacement, add))
    return out
  }
  if (Array.isArray(value)) {
    if (step === undefined || value.length === 0) return add ? [...value, replacement] : replacement
    const out = [...value]
    const i = step % value.length
    out[i] = rest.length === 0 ? replacement : mutate(value[i], rest, replacement, add)
    return out
  }
  if (typeof value === "object" && value !== null && !(value instanceof Json.JsonFloat)) {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record)
    if (step === undefined || keys.length === 0) return add ? { ...record, extra_member: replacement } : replacement
    const key = keys[step % keys.length] as string
    const out: Record<string, unknown> = { ...record }
    if (rest.length === 0 && replacement === undefined) delete out[key]
    else out[key] = rest.length === 0 ? replacement : mutate(record[key], rest, replacement, add)
    return out
  }
  return replacement
}

const mutation = fc.tuple(fc.array(fc.nat(), { maxLength: 4 }), hostile, fc.boolean())

/** A failure message naming the input. */
const show = (u: unknown): string => {
  try {
    return Json.print(u as Json.Json)
  } catch {
    return String(u)
  }
}

/**
 * Check the codec laws for `schema` (it must compile: the compiled functions must exist). Throws
 * (a fast-check counterexample) when the compiled code and the Schema disagree.
 */
export const checkCodecLaws = <A, I>(schema: Schema.Schema<A, I, never>, options: {
  /** valid values (default `Arbitrary.make(schema)`) */
  readonly values?: fc.Arbitrary<A> | undefined
} = {}): void => {
  const fastDecode = Codec.compileDecoder(schema)
  const fastEncode = Codec.compileEncoder(schema)
  const fastPrint = Codec.compilePrinter(schema)
  if (fastDecode === undefined || fastEncode === undefined) throw new Error("the schema does not compile")
  const slowDecode = Schema.decodeUnknownEither(schema)
  const slowEncode = Schema.encodeEither(schema)

  const decodesAlike = (u: unknown): void => {
    const fast = fastDecode(u)
    const slow = slowDecode(u)
    if (fast === Codec.DEFER) throw new Error(`deferred on ${show(u)}`)
    if (Either.isLeft(slow)) {
      if (fast !== Codec.FAIL) throw new Error(`the compiled decoder accepts what the Schema refuses: ${show(u)}`)
    } else if (fast === Codec.FAIL) {
      throw new Error(`the compiled decoder refuses what the Schema accepts: ${show(u)}`)
    } else if (!isDeepStrictEqual(fast, slow.right)) {
      throw new Error(`the compiled decoder and the Schema decode ${show(u)} differently`)
    }
  }

  const encodesAlike = (a: unknown): I | undefined => {
    const fast = fastEncode(a as A)
    const slow = slowEncode(a as A)
    if (fast === Codec.DEFER) throw new Error("deferred")
    if (Either.isLeft(slow)) {
      if (fast !== Codec.FAIL) throw new Error(`the compiled encoder accepts what the Schema refuses: ${show(fast)}`)
      if (fastPrint !== undefined && fastPrint(a as A) !== Codec.FAIL) {
        throw new Error("the compiled printer prints what the Schema refuses")
      }
      return undefined
    }
    if (fast === Codec.FAIL) {
      throw new Error(`the compiled encoder refuses what the Schema accepts: ${show(slow.right)}`)
    }
    if (
      !isDeepStrictEqual(fast, slow.right) ||
      fast instanceof Map && Json.print(fast as Json.Json) !== Json.print(slow.right as Json.Json)
    ) {
      throw new Error(`the compiled encoder and the Schema encode differently: ${show(fast)} vs ${show(slow.right)}`)
    }
    if (fastPrint !== undefined && fastPrint(a as A) !== Json.print(slow.right as Json.Json)) {
      throw new Error(`the compiled printer does not print ${show(slow.right)}`)
    }
    return slow.right
  }

  const values = options.values ?? Arbitrary.make(schema)
  fc.assert(fc.property(values, mutation, mutation, (a, [path, replacement, add], [typedPath, typed, addTyped]) => {
    const wire = encodesAlike(a)
    if (wire === undefined) throw new Error("a valid value does not encode")
    decodesAlike(wire)
    // as the parser gives it back (integers as numbers where safe)
    if (wire instanceof Map) decodesAlike(Either.getOrThrow(Json.parse(Json.print(wire as Json.Json))))
    decodesAlike(mutate(wire, path, replacement, add))
    encodesAlike(mutate(a, typedPath, typed, addTyped))
  }))
}
