/**
 * digests.json: policy, input and decision digests with their full preimages, hex decoding;
 * ledger digests are checked by the budget section (see `ledgerDigestCase` in run.ts).
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Hash from "@calybris/core/Hash"
import * as Hex from "@calybris/core/Hex"
import { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Policy from "@calybris/core/Policy"
import * as Either from "effect/Either"
import { canonical, decode, expectSame, type FileResult, get, getArray, getString, readJson, Tally } from "./vectors.js"

/** A checker for the ledger_digest entries, supplied by the budget section once it exists. */
export type LedgerDigestCheck = (entry: Json.Json) => ReadonlyArray<string>

export const runDigests = (path: string, ledger: LedgerDigestCheck | undefined): FileResult => {
  const tally = new Tally()
  const file = readJson(path)
  // every section the format has (README "digests.json"): one missing would check nothing, silently
  tally.case(
    "sections",
    () =>
      ["tags", "policy_digest", "input_digest", "decision_digest", "ledger_digest", "audit_bundle_hex_decode"]
        .filter((name) => get(file, name) === undefined)
        .map((name) => `no ${name} section`)
  )
  const tags = get(file, "tags")
  tally.case("tags", () => {
    const problems: Array<string> = []
    expectSame(problems, "policy tag", Hash.toHex(Digest.TAG_POLICY), String(getString(tags, "policy")))
    expectSame(problems, "input tag", Hash.toHex(Digest.TAG_INPUT), String(getString(tags, "input")))
    expectSame(problems, "decision tag", Hash.toHex(Digest.TAG_DECISION), String(getString(tags, "decision")))
    expectSame(problems, "ledger tag", Hash.toHex(Digest.TAG_LEDGER), String(getString(tags, "ledger")))
    return problems
  })
  const preimage = (problems: Array<string>, entry: Json.Json, bytes: Uint8Array, digest: string) => {
    expectSame(problems, "preimage", Hash.toHex(bytes), String(getString(entry, "preimage_hex")))
    expectSame(problems, "preimage_len", String(bytes.length), canonical(get(entry, "preimage_len")))
    expectSame(problems, "digest", digest, String(getString(entry, "digest")))
  }
  for (const entry of getArray(file, "policy_digest")) {
    tally.case(`policy_digest ${getString(entry, "name")}`, () => {
      const problems: Array<string> = []
      const snapshot = decode(Policy.PolicySnapshot, get(entry, "policy"), "policy")
      preimage(problems, entry, Digest.policyPreimage(snapshot), Digest.policyDigest(snapshot))
      return problems
    })
  }
  for (const entry of getArray(file, "input_digest")) {
    tally.case(`input_digest ${getString(entry, "name")}`, () => {
      const problems: Array<string> = []
      const input = decode(Input, get(entry, "input"), "input")
      preimage(problems, entry, Digest.inputPreimage(input).slice(), Digest.inputDigest(input))
      return problems
    })
  }
  for (const entry of getArray(file, "decision_digest")) {
    tally.case(`decision_digest ${getString(entry, "name")}`, () => {
      const problems: Array<string> = []
      const decision = decode(Decision.Decision, get(entry, "decision"), "decision")
      preimage(problems, entry, Digest.decisionPreimage(decision).slice(), Digest.decisionDigest(decision))
      return problems
    })
  }
  if (ledger !== undefined) {
    for (const entry of getArray(file, "ledger_digest")) {
      tally.case(`ledger_digest ${getString(entry, "name")}`, () => ledger(entry))
    }
  }
  for (const entry of getArray(file, "audit_bundle_hex_decode")) {
    tally.case(`hex decode ${JSON.stringify(getString(entry, "hex"))}`, () => {
      const problems: Array<string> = []
      const result = Hex.decodeDigest(String(getString(entry, "hex")))
      const expected = get(entry, "result")
      const actual: Json.Json = Either.match(result, {
        onRight: (bytes) => new Map([["ok", Hash.toHex(bytes)]]),
        onLeft: (e) => {
          const err = new Map<string, Json.Json>([["kind", e._tag]])
          if (e._tag === "InvalidHexCharacter") {
            err.set("digit", e.digit)
            err.set("index", e.index)
          }
          return new Map<string, Json.Json>([["err", err], ["display", e.message]])
        }
      })
      const expectedNormal = get(expected, "err") !== undefined
        ? new Map<string, Json.Json>([["err", get(expected, "err") ?? null], [
          "display",
          get(entry, "display") ?? get(expected, "display") ?? null
        ]])
        : expected
      expectSame(problems, "result", canonical(actual), canonical(expectedNormal))
      return problems
    })
  }
  return tally.result()
}
