/**
 * The README's library example (the part between the markers is the README's code block,
 * character for character: packages/budget/test/examples.test.ts checks it), and a run of it on
 * the test layers with the quickstart's policy and input: `npx tsx packages/budget/examples/gateway.ts`.
 */
// README: begin
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import * as Input from "@calybris/core/Input"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const gateway = (policyJson: string, inputJson: string) =>
  Effect.gen(function*() {
    // wire JSON is parsed losslessly (u64 stays exact) and decoded into branded domain values
    const snapshot = yield* JsonSchema.decodeText(Policy.PolicySnapshot)(policyJson)
    const input = yield* JsonSchema.decodeText(Input.Input)(inputJson)
    // EmptyCatalog | DuplicateModelId | InvalidProviderId | NoEnabledModels | OutOfRangeBps
    const policy = yield* Policy.make(snapshot)

    // tenant ids and amounts are brands built by constructors that validate: `make` throws on
    // a bad value; for untrusted input `Arguments.tenantId(x)` / `Arguments.microcents(x)` fail
    // with `InvalidArgument {field, value, reason}` instead
    const acme = TenantId.make("acme")
    yield* Ledger.ensureTenant(acme, Microcents.make(50_000_000n))
    // prescribe, and hold the estimated cost: decision and hold are one journal entry
    const outcome = yield* Ledger.admit(policy, acme, input, { operationId: "req-42", expiresIn: "5 minutes" })
    if (outcome._tag === "Admitted") {
      yield* Verify.verifyDecision(policy, input, outcome.decision) // DigestMismatch | DecisionMismatch
      // the hold's id is a `ReservationId`: `commit(amount, reservation)` does not type-check
      yield* Ledger.commit(outcome.reservation_id, Microcents.make(1_200n), { operationId: "settle-42" })
    }
    return yield* Ledger.proveConservation
  })

// production: a keyed journal on disk that the ledger owns, acknowledged after group-committed fsyncs
const key = new Uint8Array(32) // read it from a key file or the environment, never from argv
const live = Ledger.layerJournalFile("ledger.jsonl", { key, durability: "batch" }).pipe(
  Layer.provide(NodeContext.layer)
)
// tests: the same program on a journal in memory
const test = Ledger.layerJournalMemory({ key })

// an auditor's replay of the journal file (no Wal, no writer lock): the chain, then every
// admitted decision bit for bit
const audit = (policy: Policy.Policy) =>
  JournalAudit.auditFile("ledger.jsonl", [policy], { key }).pipe(Effect.provide(NodeContext.layer))
// README: end
export const layers = { live, test }
export { audit }

import * as Snapshot from "@calybris/budget/Snapshot"
import * as Console from "effect/Console"

export const policyJson = `{"policy_epoch":7,"catalog_epoch":11,"hard_risk_limit_bps":9600,
 "minimum_confidence_bps":5500,"risk_penalty_multiplier_bps":3500,"latency_penalty_microunits_per_ms":2,
 "models":[
  {"model_id":10,"provider_id":0,"quality_bps":7500,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":180,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":150000,
   "output_cost_microunits_per_million_tokens":600000},
  {"model_id":20,"provider_id":1,"quality_bps":8600,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":300,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":1000000,
   "output_cost_microunits_per_million_tokens":4000000}]}`

export const inputJson = `{"request_sequence":1,"requested_model_id":20,"input_tokens":2000,"output_tokens":500,
 "business_value_microunits":100000000,"budget_limit_microunits":20000000,"risk_bps":1000,"confidence_bps":9000,
 "minimum_quality_bps":7000,"max_p95_latency_ms":1000,"required_capabilities":0,
 "allowed_provider_mask":18446744073709551615,"required_region_mask":1}`

/** The example on the test layers: the conservation proof, printed. */
export const main = gateway(policyJson, inputJson).pipe(
  Effect.tap((proof) => Console.log(`conserved: ${JsonSchema.encodeText(Snapshot.ConservationProof)(proof)}`)),
  Effect.provide(test)
)

// run when executed (`npx tsx …/gateway.ts`), not when a test imports it
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  Effect.runPromise(main).catch((error: unknown) => {
    process.stderr.write(`gateway failed: ${String(error)}\n`)
    process.exitCode = 1
  })
}
