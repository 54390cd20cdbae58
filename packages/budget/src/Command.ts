/**
 * The ledger's commands and their results (SPEC §6): the `Command` union every layer and the
 * journal carry, the reference's result variants, and `ResultOf` (the result of each command
 * kind). The state machine that applies them is `LedgerState.ts`, which re-exports all of this.
 */
import * as Int from "@calybris/core/Int"
import * as Schema from "effect/Schema"
import * as Snapshot from "./Snapshot.js"

// ---------------------------------------------------------------------------------------------
// Commands

const operation = { operation_id: Schema.optional(Schema.String) }
/** a hold's expiry: the duration asked for (part of the idempotency fingerprint) and the instant it ends */
const expiry = { ttl_ms: Schema.optional(Int.I64), expires_at_ms: Schema.optional(Int.I64) }

/** Every state-changing operation of the reference, as data. */
export const Command = Schema.Union(
  Schema.TaggedStruct("EnsureTenant", { tenant: Schema.String, amount: Int.I64 }),
  Schema.TaggedStruct("TopUp", { tenant: Schema.String, amount: Int.I64, ...operation }),
  Schema.TaggedStruct("SetExposureCap", { tenant: Schema.String, max: Int.I64 }),
  Schema.TaggedStruct("Reserve", { tenant: Schema.String, amount: Int.I64, ...operation, ...expiry }),
  Schema.TaggedStruct("Commit", { reservation: Int.U64, actual: Int.I64, ...operation }),
  Schema.TaggedStruct("Release", { reservation: Int.U64, ...operation }),
  /** the automatic release of an expired hold (journaled, so replay reproduces it) */
  Schema.TaggedStruct("Expire", { reservation: Int.U64 }),
  /**
   * decide-and-hold: a reserve whose journal entry also carries the audited decision. `binding`
   * (see `admitBinding`) ties an operation id to the policy, input and metadata of the decision;
   * it is not written to the journal but derived from the audited record when replayed.
   */
  Schema.TaggedStruct("Admit", {
    tenant: Schema.String,
    amount: Int.I64,
    ...operation,
    ...expiry,
    binding: Schema.optional(Schema.String)
  }),
  Schema.TaggedStruct("TakeSnapshot", {}),
  Schema.TaggedStruct("VerifyConservation", {}),
  Schema.TaggedStruct("ProveConservation", {}),
  Schema.TaggedStruct("CertifyLedger", {}),
  Schema.TaggedStruct("Restore", { snapshot: Snapshot.Snapshot })
)
export type Command = typeof Command.Type

// ---------------------------------------------------------------------------------------------
// Results (the reference's variants and fields)

export type ReserveResult =
  | { readonly _tag: "Reserved"; readonly reservation_id: bigint; readonly remaining_microcents: bigint }
  | { readonly _tag: "Insufficient"; readonly remaining_microcents: bigint; readonly required_microcents: bigint }
  | { readonly _tag: "MissingTenant" }
  | {
    readonly _tag: "ExposureLimitExceeded"
    readonly current_reserved_microcents: bigint
    readonly max_reserved_microcents: bigint
  }
  | { readonly _tag: "Overflow"; readonly current_reserved_microcents: bigint }

export type SettlementResult =
  | { readonly _tag: "Committed"; readonly remaining_microcents: bigint; readonly actual_microcents: bigint }
  | { readonly _tag: "Released"; readonly remaining_microcents: bigint; readonly returned_microcents: bigint }
  | { readonly _tag: "Overrun"; readonly remaining_microcents: bigint }
  | { readonly _tag: "InvalidAmount" }
  | { readonly _tag: "MissingReservation" }
  | { readonly _tag: "MissingTenant" }
  | { readonly _tag: "Overflow"; readonly remaining_microcents: bigint }

export type TopUpResult =
  | {
    readonly _tag: "ToppedUp"
    readonly added_microcents: bigint
    readonly new_initial_microcents: bigint
    readonly remaining_microcents: bigint
  }
  | { readonly _tag: "MissingTenant" }
  | { readonly _tag: "InvalidAmount" }
  | { readonly _tag: "Overflow" }

/** Why a snapshot cannot be restored (SPEC §6.6). */
export type RestoreError =
  | { readonly _tag: "ActiveReservations"; readonly count: bigint }
  | { readonly _tag: "DuplicateTenant"; readonly tenant_id: string }
  | { readonly _tag: "GhostReservation"; readonly tenant_id: string; readonly reserved_microcents: bigint }
  | {
    readonly _tag: "NegativeLedgerField"
    readonly tenant_id: string
    readonly field: "remaining_microcents" | "initial_microcents" | "committed_microcents"
    readonly value: bigint
  }
  | { readonly _tag: "ConservationViolation"; readonly status: Snapshot.ConservationStatus }

/** The reference's text for a restore error. */
export const restoreErrorText = (e: RestoreError): string => {
  switch (e._tag) {
    case "ActiveReservations":
      return `cannot restore snapshot with ${e.count} active reservations`
    case "DuplicateTenant":
      return `duplicate tenant_id in snapshot: ${e.tenant_id}`
    case "GhostReservation":
      return `tenant ${e.tenant_id} has reserved_microcents=${e.reserved_microcents} with no active reservations`
    case "NegativeLedgerField":
      return `tenant ${e.tenant_id} has negative ${e.field}: ${e.value}`
    case "ConservationViolation":
      return `snapshot failed conservation: ${Snapshot.statusText(e.status)}`
  }
}

export type ProveResult =
  | { readonly _tag: "Proved"; readonly proof: Snapshot.ConservationProof }
  | { readonly _tag: "NotConserved"; readonly status: Snapshot.ConservationStatus }

export type RestoreResult = { readonly _tag: "Restored" } | {
  readonly _tag: "RestoreRefused"
  readonly error: RestoreError
}

/** The same operation id was used before with different arguments. */
export interface IdempotencyConflict {
  readonly _tag: "IdempotencyConflict"
  readonly operation_id: string
}

/** The result of each command kind. */
export interface ResultOf {
  readonly EnsureTenant: void
  readonly TopUp: TopUpResult | IdempotencyConflict
  readonly SetExposureCap: void
  readonly Reserve: ReserveResult | IdempotencyConflict
  readonly Commit: SettlementResult | IdempotencyConflict
  readonly Release: SettlementResult | IdempotencyConflict
  readonly Expire: SettlementResult
  readonly Admit: ReserveResult | IdempotencyConflict
  readonly TakeSnapshot: Snapshot.Snapshot
  readonly VerifyConservation: Snapshot.ConservationStatus
  readonly ProveConservation: ProveResult
  readonly CertifyLedger: Snapshot.FinancialCertificate
  readonly Restore: RestoreResult
}
export type Result = ResultOf[keyof ResultOf]
