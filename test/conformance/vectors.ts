/**
 * Shared helpers of the conformance runner: reading vector files with our own lossless
 * parser, and small accessors over Json values.
 */
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"

/** Outcome of one vector file. */
export interface FileResult {
  readonly passed: number
  readonly failed: number
  readonly failures: ReadonlyArray<string>
  readonly skipped?: string
  /** what the file holds that was not compared (printed under its line) */
  readonly notes?: ReadonlyArray<string>
}

/** Collects per-case outcomes; keeps the first few failure messages. */
export class Tally {
  passed = 0
  failed = 0
  readonly failures: Array<string> = []
  /** Runs one case: it passes when `check` returns no problems and does not throw. */
  case(label: string, check: () => ReadonlyArray<string>) {
    let problems: ReadonlyArray<string>
    try {
      problems = check()
    } catch (error) {
      problems = [`threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`]
    }
    if (problems.length === 0) {
      this.passed++
    } else {
      this.failed++
      if (this.failures.length < 20) this.failures.push(`${label}: ${problems.join("; ")}`)
    }
  }
  result(): FileResult {
    return { passed: this.passed, failed: this.failed, failures: this.failures }
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true })

const parseOrThrow = (text: string, where: string): Json.Json =>
  Either.getOrElse(Json.parse(text, { maxDepth: 100_000 }), (e) => {
    throw new Error(`${where}: ${e.message} at line ${e.line} column ${e.column}`)
  })

/** Every non-empty LF-separated line of a .jsonl file, parsed. */
export const readJsonl = (path: string): Array<Json.Json> => {
  const text = decoder.decode(fs.readFileSync(path))
  const out: Array<Json.Json> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ""
    if (line.length > 0) out.push(parseOrThrow(line, `${path}:${i + 1}`))
  }
  return out
}

/** A .json file, parsed. */
export const readJson = (path: string): Json.Json => parseOrThrow(decoder.decode(fs.readFileSync(path)), path)

/** A member of a Json object (undefined when absent or not an object). */
export const get = (value: Json.Json | undefined, key: string): Json.Json | undefined =>
  value !== undefined && Json.isObject(value) ? value.get(key) : undefined

export const getArray = (value: Json.Json | undefined, key: string): ReadonlyArray<Json.Json> => {
  const v = get(value, key)
  return v !== undefined && Json.isArray(v) ? v : []
}

export const getString = (value: Json.Json | undefined, key: string): string | undefined => {
  const v = get(value, key)
  return typeof v === "string" ? v : undefined
}

/** An integer member as bigint, null as null. */
export const asInteger = (value: Json.Json | undefined): bigint | null | undefined =>
  value === null ? null : typeof value === "number" || typeof value === "bigint" ? BigInt(value) : undefined

/** Decode with a wire schema or throw with the schema's message. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, value: Json.Json | undefined, what: string): A =>
  Either.getOrElse(Schema.decodeUnknownEither(schema)(value), (e) => {
    throw new Error(`cannot decode ${what}: ${e.message}`)
  })

/** Print a Json value canonically (for messages and structural comparison). */
export const show = (value: Json.Json | undefined): string => (value === undefined ? "<absent>" : Json.print(value))

/** Collect a problem when two printed values differ. */
export const expectSame = (problems: Array<string>, what: string, actual: string, expected: string) => {
  if (actual !== expected) problems.push(`${what}: got ${actual}, expected ${expected}`)
}

/** Sort members of a Json object recursively, so comparisons ignore the oracle's member order. */
export const normalize = (value: Json.Json): Json.Json => {
  if (Json.isArray(value)) return value.map(normalize)
  if (Json.isObject(value)) {
    const keys = [...value.keys()].sort()
    return new Map(keys.map((k) => [k, normalize(value.get(k) ?? null)]))
  }
  return typeof value === "bigint" && Number.isSafeInteger(Number(value)) ? Number(value) : value
}

/** Canonical text of a Json value, member order ignored. */
export const canonical = (value: Json.Json | undefined): string =>
  value === undefined ? "<absent>" : Json.print(normalize(value))
