/**
 * The compiled decoder and encoder of audited records (core's `Codec`): they produce exactly
 * what the Schema decoder / encoder produces, and refuse (the Schema then words the error)
 * exactly what the Schema refuses.
 */
import * as Codec from "@calybris/core/Codec"
import * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { ALL, benchPolicy, json, requestInput } from "./support/fixtures.js"

const policy = benchPolicy(4)

const record = (s: number): Json.JsonObject => {
  const input = requestInput(s, 4, { business_value_microunits: -50000, risk_bps: 100 + s })
  const metadata = json({ tenant: `t-${s}`, n: [1, 2.5, null] })
  return Either.getOrThrow(
    Audited.record(policy, input, Kernel.prescribe(policy, input), metadata)
  ) as Json.JsonObject
}

const fast = Codec.compileDecoder(Audited.AuditedJson)
const slow = Schema.decodeUnknownEither(Audited.AuditedJson)

/** Fast and Schema agree: equal values (same key order), or the fast path gave up. */
const agree = (data: unknown): "fast" | "fallback" => {
  if (fast === undefined) throw new Error("no fast decoder for AuditedJson")
  const a = fast(data)
  const b = slow(data)
  expect(a).not.toBe(Codec.DEFER)
  if (a === Codec.FAIL) {
    expect(Either.isLeft(b)).toBe(true)
    return "fallback"
  }
  expect(Either.isRight(b)).toBe(true)
  if (Either.isRight(b)) {
    expect(a).toStrictEqual(b.right)
    const keys = (v: unknown): unknown =>
      typeof v === "object" && v !== null && !(v instanceof Map)
        ? Object.entries(v).map(([k, x]) => [k, keys(x)])
        : v
    expect(keys(a)).toStrictEqual(keys(b.right))
  }
  return "fast"
}

/** Replace `path` (member names) of a record by `value` (undefined: delete it). */
const mutate = (r: Json.JsonObject, path: ReadonlyArray<string>, value: Json.Json | undefined): Json.JsonObject => {
  const [head, ...rest] = path
  const out = new Map(r)
  if (head === undefined) return out
  if (rest.length === 0) {
    if (value === undefined) out.delete(head)
    else out.set(head, value)
  } else {
    out.set(head, mutate(r.get(head) as Json.JsonObject, rest, value))
  }
  return out
}

describe("compiled decoder", () => {
  it("decodes honest audited records exactly as the schema does", () => {
    for (let s = 1; s <= 50; s++) expect(agree(record(s))).toBe("fast")
  })

  it("never accepts what the schema refuses, and agrees on whatever it accepts", () => {
    const base = record(7)
    const paths: Array<ReadonlyArray<string>> = [["metadata"], ["extra"]]
    for (const group of ["audit", "input", "decision"]) {
      for (const k of (base.get(group) as Json.JsonObject).keys()) paths.push([group, k])
      paths.push([group])
    }
    const values = FastCheck.oneof(
      FastCheck.constant(undefined),
      FastCheck.constantFrom<Json.Json>(
        -1,
        0,
        65535,
        65536,
        4294967295,
        4294967296,
        Number.MAX_SAFE_INTEGER,
        -(2 ** 53),
        ALL,
        ALL + 1n,
        -(1n << 63n),
        -(1n << 63n) - 1n,
        (1n << 63n) - 1n,
        1n << 63n,
        1.5,
        new Json.JsonFloat(3),
        "Substitute",
        "Reject",
        "RiskHardLimit",
        "x",
        true,
        null,
        [],
        new Map()
      )
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.constantFrom(...paths), values, (path, value) => {
        agree(mutate(base, path, value))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
    expect(agree(null)).toBe("fallback")
    expect(agree(json({}))).toBe("fallback")
  })
})

const fastEncode = Codec.compileEncoder(Audited.AuditedJson)
const slowEncode = Schema.encodeEither(Audited.AuditedJson)
const decodeTyped = Schema.decodeUnknownSync(Audited.AuditedJson)

/** Fast and Schema encoders agree: equal Json (same member order), or the fast path gave up. */
const agreeEncode = (value: unknown): "fast" | "fallback" => {
  if (fastEncode === undefined) throw new Error("no fast encoder for AuditedJson")
  const a = fastEncode(value as Audited.AuditedJson)
  const b = slowEncode(value as Audited.AuditedJson)
  expect(a).not.toBe(Codec.DEFER)
  if (a === Codec.FAIL) {
    expect(Either.isLeft(b)).toBe(true)
    return "fallback"
  }
  expect(Either.isRight(b)).toBe(true)
  if (Either.isRight(b)) {
    expect(a).toStrictEqual(b.right)
    expect(Json.print(a as Json.Json)).toBe(Json.print(b.right))
  }
  return "fast"
}

/** Replace `path` (property names) of a typed record by `value` (undefined: delete it). */
const mutateTyped = (r: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown): unknown => {
  const [head, ...rest] = path
  const out: Record<string, unknown> = { ...r }
  if (head === undefined) return out
  if (rest.length === 0) {
    if (value === undefined) delete out[head]
    else out[head] = value
  } else {
    out[head] = mutateTyped(r[head] as Record<string, unknown>, rest, value)
  }
  return out
}

describe("compiled encoder", () => {
  it("encodes honest audited records exactly as the schema does", () => {
    for (let s = 1; s <= 50; s++) expect(agreeEncode(decodeTyped(record(s)))).toBe("fast")
  })

  it("never encodes what the schema refuses, and agrees on whatever it encodes", () => {
    const base = decodeTyped(record(7)) as unknown as Record<string, Record<string, unknown>>
    const paths: Array<ReadonlyArray<string>> = [["metadata"], ["extra"]]
    for (const group of ["audit", "input", "decision"]) {
      for (const k of Object.keys(base[group] ?? {})) paths.push([group, k])
      paths.push([group])
    }
    const values = FastCheck.oneof(
      FastCheck.constant(undefined),
      FastCheck.constantFrom<unknown>(
        -1,
        0,
        65535,
        65536,
        4294967295,
        4294967296,
        1.5,
        -1n,
        0n,
        ALL,
        ALL + 1n,
        -(1n << 63n),
        -(1n << 63n) - 1n,
        (1n << 63n) - 1n,
        1n << 63n,
        new Json.JsonFloat(3),
        "Substitute",
        "Reject",
        "RiskHardLimit",
        "x",
        true,
        null,
        [],
        new Map(),
        {},
        Symbol("not json")
      )
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.constantFrom(...paths), values, (path, value) => {
        agreeEncode(mutateTyped(base, path, value))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
    expect(agreeEncode(null)).toBe("fallback")
    expect(agreeEncode(new Map())).toBe("fallback")
  })

  it("Audited.record refuses what the schema refuses, with the schema's message", () => {
    const typed = decodeTyped(record(3))
    const bad = { ...typed.input, risk_bps: 70_000 } as unknown as typeof typed.input
    const result = Audited.record(policy, bad, typed.decision, null)
    expect(Either.isLeft(result)).toBe(true)
    expect(Audited.recordOfPrescribed(policy, bad, typed.decision, null)).toStrictEqual(result)
  })

  it("Audited.recordOfPrescribed of a decision just prescribed is Audited.record's output, byte for byte", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.integer({ min: 0, max: 1_000_000 }),
        FastCheck.integer({ min: -100_000, max: 100_000_000 }),
        FastCheck.integer({ min: 0, max: 10_000 }),
        FastCheck.integer({ min: 0, max: 10_000 }),
        (s, value, risk, confidence) => {
          const input = requestInput(s, 4, {
            business_value_microunits: value,
            risk_bps: risk,
            confidence_bps: confidence
          })
          const decision = Kernel.prescribe(policy, input)
          const metadata = json({ s })
          const replayed = Either.getOrThrow(Audited.record(policy, input, decision, metadata))
          const inHand = Either.getOrThrow(Audited.recordOfPrescribed(policy, input, decision, metadata))
          expect(Json.print(inHand)).toBe(Json.print(replayed))
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 300 }
    )
  })
})
