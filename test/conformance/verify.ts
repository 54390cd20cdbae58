/**
 * verify.jsonl: verify_decision, audit_bundle, certify_decision, counterfactual_utility.
 */
import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  asInteger,
  canonical,
  decode,
  expectSame,
  type FileResult,
  get,
  getArray,
  readJsonl,
  Tally
} from "./vectors.js"

const encodeBundle = Schema.encodeSync(Verify.AuditBundle)
const encodeCertificate = Schema.encodeSync(Verify.Certificate)

const verifyResult = (result: Either.Either<void, Verify.VerifyError>): Json.Json =>
  Either.match(result, {
    onRight: () => new Map([["kind", "Valid"]]),
    onLeft: (e) =>
      e._tag === "DigestMismatch"
        ? new Map<string, Json.Json>([["kind", "DigestMismatch"], ["expected_hex", e.expected_hex], [
          "actual_hex",
          e.actual_hex
        ]])
        : new Map([["kind", "Mismatch"]])
  })

export const checkVerifyCase = (line: Json.Json): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const policy = Policy.unsafeMake(decode(Policy.PolicySnapshot, get(line, "policy"), "policy"))
  const input = decode(Input, get(line, "input"), "input")
  const decision = decode(Decision.Decision, get(line, "decision"), "decision")

  expectSame(
    problems,
    "verify_decision",
    canonical(verifyResult(Verify.checkDecision(policy, input, decision))),
    canonical(get(line, "verify_decision"))
  )
  expectSame(
    problems,
    "audit_bundle",
    canonical(encodeBundle(Verify.auditBundle(policy, input, decision))),
    canonical(get(line, "audit_bundle"))
  )
  expectSame(
    problems,
    "certify_decision",
    canonical(encodeCertificate(Verify.certifyDecision(policy, input, decision))),
    canonical(get(line, "certify_decision"))
  )
  if (getArray(line, "counterfactual_utility").length === 0) problems.push("no counterfactual_utility pairs")
  for (const pair of getArray(line, "counterfactual_utility")) {
    const [id, utility] = Array.isArray(pair) ? pair as ReadonlyArray<Json.Json> : []
    const modelId = Number(asInteger(id))
    const actual = Option.getOrNull(Verify.counterfactualUtility(policy, input, modelId))
    expectSame(problems, `counterfactual_utility(${modelId})`, String(actual), String(asInteger(utility)))
  }
  return problems
}

export const runVerify = (path: string): FileResult => {
  const tally = new Tally()
  for (const line of readJsonl(path)) {
    tally.case(`case ${String(asInteger(get(line, "case")))}`, () => checkVerifyCase(line))
  }
  return tally.result()
}
