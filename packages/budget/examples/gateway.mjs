// gateway.mjs: one request through a budget ledger on a keyed journal file, then an auditor's replay.
// npm install @calybris/budget @calybris/core effect@3.22.4 @effect/platform@0.97.2 @effect/platform-node@0.108.2 && node gateway.mjs
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Decision from "@calybris/core/Decision"
import * as Input from "@calybris/core/Input"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

// wire JSON as the Rust crate writes it: u64 fields such as region_mask are plain JSON numbers
const policyJson = `{"policy_epoch":7,"catalog_epoch":11,"hard_risk_limit_bps":9600,
 "minimum_confidence_bps":5500,"risk_penalty_multiplier_bps":3500,"latency_penalty_microunits_per_ms":2,
 "models":[
  {"model_id":10,"provider_id":0,"quality_bps":7500,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":180,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":150000,
   "output_cost_microunits_per_million_tokens":600000},
  {"model_id":20,"provider_id":1,"quality_bps":8600,"risk_ceiling_bps":9500,"enabled":1,"p95_latency_ms":300,
   "capabilities":0,"region_mask":18446744073709551615,"input_cost_microunits_per_million_tokens":1000000,
   "output_cost_microunits_per_million_tokens":4000000}]}`
const inputJson = `{"request_sequence":1,"requested_model_id":20,"input_tokens":2000,"output_tokens":500,
 "business_value_microunits":100000000,"budget_limit_microunits":20000000,"risk_bps":1000,"confidence_bps":9000,
 "minimum_quality_bps":7000,"max_p95_latency_ms":1000,"required_capabilities":0,
 "allowed_provider_mask":18446744073709551615,"required_region_mask":1}`

/**
 * @param {string} policyJson
 * @param {string} inputJson
 */
const gateway = (policyJson, inputJson) =>
  Effect.gen(function*() {
    // wire JSON is parsed losslessly (u64 stays exact) and decoded into branded domain values
    const snapshot = yield* JsonSchema.decodeText(Policy.PolicySnapshot)(policyJson)
    const input = yield* JsonSchema.decodeText(Input.Input)(inputJson)
    // EmptyCatalog | DuplicateModelId | InvalidProviderId | NoEnabledModels | OutOfRangeBps, and
    // InvalidPolicyField for a snapshot built in code with a field out of its width. Built in code,
    // without a cast: `Policy.make({ policy_epoch: 7n, …, models: [{ model_id: 10, … }] })`,
    // `Input.make({ request_sequence: 1n, … })` (a ParseError naming the field and the value)
    const policy = yield* Policy.make(snapshot)

    // tenant ids and amounts are brands built by constructors that validate: `make` throws on
    // a bad value; for untrusted input `Arguments.tenantId(x)` / `Arguments.microcents(x)` fail
    // with `InvalidArgument {field, value, reason}` instead
    const acme = TenantId.make("acme")
    yield* Ledger.ensureTenant(acme, Microcents.make(50_000_000n))
    // prescribe, and hold the estimated cost: decision and hold are one journal entry (an
    // operation id makes it retry-safe: run this file again and the journal returns the same results)
    const outcome = yield* Ledger.admit(policy, acme, input, { operationId: "req-42", expiresIn: "5 minutes" })
    yield* Console.log(`${outcome._tag}: ${JsonSchema.encodeText(Decision.Decision)(outcome.decision)}`)
    if (outcome._tag === "Admitted") {
      yield* Verify.verifyDecision(policy, input, outcome.decision) // DigestMismatch | DecisionMismatch
      // the hold's id is a `ReservationId`: `commit(amount, reservation)` does not type-check
      yield* Ledger.commit(outcome.reservation_id, Microcents.make(1_200n), { operationId: "settle-42" })
    }
    const proof = yield* Ledger.proveConservation
    yield* Console.log(`conserved: ${JsonSchema.encodeText(Snapshot.ConservationProof)(proof)}`)
    return policy
  })

// production: a keyed journal on disk that the ledger owns, acknowledged after group-committed fsyncs
const key = new Uint8Array(32) // read it from a key file or the environment, never from argv
const live = Ledger.layerJournalFile("ledger.jsonl", { key, durability: "batch" }).pipe(
  Layer.provide(NodeContext.layer)
)
// tests: the same program on a journal in memory is `Effect.provide(Ledger.layerJournalMemory({ key }))`

// an auditor's replay of the journal file (no Wal, no writer lock): the chain, then every
// admitted decision bit for bit
/** @param {Policy.Policy} policy */
const audit = (policy) =>
  JournalAudit.auditFile("ledger.jsonl", [policy], { key }).pipe(Effect.provide(NodeContext.layer))

gateway(policyJson, inputJson).pipe(
  Effect.provide(live), // the ledger closes the journal when the gateway is done
  Effect.flatMap(audit),
  Effect.flatMap((verdicts) => Console.log(`audited: ${verdicts.length} admitted decision(s) replayed bit for bit`)),
  NodeRuntime.runMain
)
