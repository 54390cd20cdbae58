/** The README's library example, kept here so that it typechecks. */
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

    yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(50_000_000n))
    // prescribe, and hold the estimated cost: decision and hold are one journal entry
    const outcome = yield* Ledger.admit(policy, TenantId.make("acme"), input, {
      operationId: "req-42",
      expiresIn: "5 minutes"
    })
    if (outcome._tag === "Admitted") {
      yield* Verify.verifyDecision(policy, input, outcome.decision) // DigestMismatch | DecisionMismatch
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

// run it once on the test layers with the quickstart's policy and input
declare const policyJson: string
declare const inputJson: string
export const program = gateway(policyJson, inputJson)
export const layers = { live, test }
export { audit }
