/**
 * kernel.jsonl: decision, trace (real per-gate counts on rejections, checked against
 * `scan_rejections`), the three digests, utilities and validation.
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
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

const encodeDecision = Schema.encodeSync(Decision.Decision)
const encodeTrace = Schema.encodeSync(Decision.Trace)
const encodeRejections = Schema.encodeSync(Decision.Rejections)

export const checkKernelCase = (line: Json.Json): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const snapshot = decode(Policy.PolicySnapshot, get(line, "policy"), "policy")
  const input = decode(Input, get(line, "input"), "input")
  const expected = decode(Decision.Decision, get(line, "decision"), "decision")
  const policy = Policy.unsafeMake(snapshot)

  const decision = Kernel.prescribe(policy, input)
  expectSame(problems, "decision", canonical(encodeDecision(decision)), canonical(encodeDecision(expected)))

  const traced = Kernel.prescribeWithTrace(policy, input)
  expectSame(
    problems,
    "traced decision",
    canonical(encodeDecision(traced.decision)),
    canonical(encodeDecision(expected))
  )
  const expectedTrace = decode(Decision.Trace, get(line, "trace"), "trace")
  const scan = get(line, "scan_rejections")
  // a rejection after the scan (the generator's `scan_rejections`; a line without that member: one
  // whose trace counts a scan, evaluated_models > 0)
  const scanned = scan !== undefined ? scan !== null : String(expectedTrace.evaluated_models) !== "0"
  if (expected.action === "Reject" && scanned) {
    // SPEC §8: our trace of a rejection carries the real per-gate counts, which the crate reports as
    // zeros: compared with the generator's replica when the line has it, else not comparable (the
    // dominant reason still is)
    if (scan !== undefined && scan !== null) {
      const scanRejections = decode(Decision.Rejections, scan, "scan_rejections")
      expectSame(
        problems,
        "trace.rejections",
        canonical(encodeRejections(traced.trace.rejections)),
        canonical(encodeRejections(scanRejections))
      )
    }
    expectSame(
      problems,
      "trace.evaluated_models",
      String(traced.trace.evaluated_models),
      String(expectedTrace.evaluated_models)
    )
    expectSame(
      problems,
      "trace.eligible_models",
      String(traced.trace.eligible_models),
      String(expectedTrace.eligible_models)
    )
    expectSame(problems, "dominant reason", Decision.dominantReason(traced.trace.rejections), expected.reason)
  } else {
    expectSame(problems, "trace", canonical(encodeTrace(traced.trace)), canonical(encodeTrace(expectedTrace)))
  }

  const digests = get(line, "digests")
  expectSame(problems, "policy digest", Digest.policyDigest(policy), String(get(digests, "policy")))
  expectSame(problems, "input digest", Digest.inputDigest(input), String(get(digests, "input")))
  expectSame(problems, "decision digest", Digest.decisionDigest(expected), String(get(digests, "decision")))

  // one pair per catalog entry, in catalog order (README): a missing or short list checked nothing
  const utilities = getArray(line, "utilities")
  if (utilities.length !== snapshot.models.length) {
    problems.push(`utilities: ${utilities.length} pairs for ${snapshot.models.length} catalog entries`)
  }
  utilities.forEach((pair, i) => {
    const id = Array.isArray(pair) ? (pair as ReadonlyArray<Json.Json>)[0] : undefined
    const model = snapshot.models[i]
    if (model !== undefined && String(asInteger(id)) !== String(model.model_id)) {
      problems.push(
        `utilities[${i}] names model ${String(asInteger(id))}, the catalog's entry ${i} is ${model.model_id}`
      )
    }
  })
  for (const pair of utilities) {
    const [id, utility] = Array.isArray(pair) ? pair as ReadonlyArray<Json.Json> : []
    const modelId = Number(asInteger(id))
    const actual = Option.getOrNull(Kernel.utilityForModel(policy, input, modelId))
    expectSame(problems, `utility_for_model(${modelId})`, String(actual), String(asInteger(utility)))
  }

  const error = Policy.validate(snapshot)
  const validate = get(line, "validate")
  expectSame(
    problems,
    "validate",
    error === undefined ? "null" : error.message,
    validate === null ? "null" : String(validate)
  )
  const variant = get(line, "validate_variant")
  if (variant !== undefined) {
    expectSame(
      problems,
      "validate_variant",
      error === undefined ? "null" : error._tag,
      variant === null ? "null" : String(variant)
    )
  }
  return problems
}

export const runKernel = (path: string): FileResult => {
  const tally = new Tally()
  for (const line of readJsonl(path)) {
    tally.case(`case ${String(asInteger(get(line, "case")))}`, () => checkKernelCase(line))
  }
  return tally.result()
}
