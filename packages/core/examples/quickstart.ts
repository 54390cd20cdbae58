/**
 * The quickstart: build a checked policy from wire JSON, decide a request, verify the
 * decision by replay, and print it with its digests — all from the library.
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Input from "@calybris/core/Input"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const policyJson = `{"policy_epoch":7,"catalog_epoch":11,"hard_risk_limit_bps":9600,
 "minimum_confidence_bps":5500,"risk_penalty_multiplier_bps":3500,"latency_penalty_microunits_per_ms":2,
 "models":[
  {"model_id":10,"provider_id":0,"quality_bps":7500,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":180,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":150000,
   "output_cost_microunits_per_million_tokens":600000},
  {"model_id":20,"provider_id":1,"quality_bps":8600,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":300,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":1000000,
   "output_cost_microunits_per_million_tokens":4000000},
  {"model_id":30,"provider_id":2,"quality_bps":9000,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":450,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":2500000,
   "output_cost_microunits_per_million_tokens":10000000}]}`

const inputJson = `{"request_sequence":1,"requested_model_id":20,"input_tokens":2000,"output_tokens":500,
 "business_value_microunits":100000000,"budget_limit_microunits":20000000,"risk_bps":1000,"confidence_bps":9000,
 "minimum_quality_bps":7000,"max_p95_latency_ms":1000,"required_capabilities":0,
 "allowed_provider_mask":18446744073709551615,"required_region_mask":1}`

const program = Effect.gen(function*() {
  // untrusted wire JSON is parsed losslessly and decoded, never cast
  const snapshot = yield* JsonSchema.decodeText(Policy.PolicySnapshot)(policyJson)
  const input = yield* JsonSchema.decodeText(Input.Input)(inputJson)
  const policy = yield* Policy.make(snapshot)

  const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
  yield* Verify.verifyDecision(policy, input, decision)

  yield* Console.log(`decision: ${JsonSchema.encodeText(Decision.Decision)(decision)}`)
  yield* Console.log(`trace:    ${JsonSchema.encodeText(Decision.Trace)(trace)}`)
  yield* Console.log(
    `${decision.action} model ${decision.selected_model_id} (${Decision.reasonDisplay(decision.reason)}),`
      + ` cost ${decision.estimated_cost_microunits} microunits, utility ${decision.expected_utility_microunits}`
  )
  yield* Console.log(`policy digest:   ${Digest.policyDigest(policy)}`)
  yield* Console.log(`input digest:    ${Digest.inputDigest(input)}`)
  yield* Console.log(`decision digest: ${Digest.decisionDigest(decision)}`)
  yield* Console.log("verified: replaying the input under the policy gives exactly this decision")
})

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`quickstart failed: ${String(error)}\n`)
  process.exitCode = 1
})
