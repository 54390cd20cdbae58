/**
 * test/fixtures/real-logs.json as plain strings: real signed checkpoints (sum.golang.org, Rekor v2,
 * a witnessed static-CT log), Rekor's production inclusion proof, and tessera's tiled test log,
 * copied from shared/tlog-vectors with their provenance. Read through core's Json, never JSON.parse.
 */
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"

export interface RealLogs {
  readonly sumdb: { readonly vkey: string; readonly note: string; readonly size: string; readonly rootHex: string }
  readonly rekor: {
    readonly vkey: string
    readonly note: string
    readonly size: string
    readonly rootHex: string
    readonly leafIndex: string
    readonly leafHex: string
    readonly proofHex: ReadonlyArray<string>
  }
  readonly witnessed: {
    readonly logVkey: string
    readonly witnessVkey: string
    readonly note: string
    readonly size: string
    readonly witnessTimestamp: string
  }
  readonly tessera: {
    readonly vkey: string
    readonly note: string
    readonly size: string
    readonly rootHex: string
    readonly tileHex: string
    readonly entriesHex: string
    readonly leaves: ReadonlyArray<string>
  }
}

export const fixturePath = path.join(import.meta.dirname, "fixtures", "real-logs.json")

/** The fixture's values as plain objects, arrays and strings (only what `RealLogs` names). */
const plain = (value: Json.Json): unknown => {
  if (typeof value === "string") return value
  if (Array.isArray(value)) return value.map(plain)
  if (Json.isObject(value)) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
  return String(value)
}

export const realLogs = (): RealLogs =>
  plain(Either.getOrThrow(Json.parse(fs.readFileSync(fixturePath, "utf8")))) as RealLogs
