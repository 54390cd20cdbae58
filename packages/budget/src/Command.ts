/**
 * The ledger's commands and their results (SPEC §6): the `Command` union every layer and the
 * journal carry, the reference's result variants, and `ResultOf` (the result of each command
 * kind). The state machine that applies them is `LedgerState.ts`, which re-exports all of this.
 */
import * as Int from "@calybris/core/Int"
import * as Schema from "effect/Schema"
import type { Microcents, ReservationId, TenantId } from "./Arguments.js"
import type { IdempotencyConflict } from "./LedgerError.js"
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

/** The command of one kind. */
export type CommandOf<T extends Command["_tag"]> = Extract<Command, { readonly _tag: T }>

// ---------------------------------------------------------------------------------------------
// Constructors: the typed way to build a command (its arguments branded, so a reservation id
// cannot stand where an amount is expected). They do not validate: every layer runs
// `Arguments.validateCommand` on each command it is given, whoever built it.

/** The client operation id of a retry-safe command, when it has one (absent, never `undefined`). */
export interface OperationFields {
  readonly operation_id?: string
}
/** The expiry of a hold, when it has one. */
export interface ExpiryFields {
  readonly ttl_ms?: Int.I64
  readonly expires_at_ms?: Int.I64
}
/** What an admit's operation id is bound to (see `LedgerState.admitBinding`). */
export interface AdmitFields extends OperationFields, ExpiryFields {
  readonly binding?: string
}

export const ensureTenant = (tenant: TenantId, amount: Microcents): CommandOf<"EnsureTenant"> => ({
  _tag: "EnsureTenant",
  tenant,
  amount
})
export const topUp = (tenant: TenantId, amount: Microcents, fields?: OperationFields): CommandOf<"TopUp"> =>
  fields === undefined ? { _tag: "TopUp", tenant, amount } : { _tag: "TopUp", tenant, amount, ...fields }
export const setExposureCap = (tenant: TenantId, max: Microcents): CommandOf<"SetExposureCap"> => ({
  _tag: "SetExposureCap",
  tenant,
  max
})
export const reserve = (
  tenant: TenantId,
  amount: Microcents,
  fields?: OperationFields & ExpiryFields
): CommandOf<"Reserve"> =>
  fields === undefined ? { _tag: "Reserve", tenant, amount } : { _tag: "Reserve", tenant, amount, ...fields }
export const commit = (reservation: ReservationId, actual: Microcents, fields?: OperationFields): CommandOf<"Commit"> =>
  fields === undefined ? { _tag: "Commit", reservation, actual } : { _tag: "Commit", reservation, actual, ...fields }
export const release = (reservation: ReservationId, fields?: OperationFields): CommandOf<"Release"> =>
  fields === undefined ? { _tag: "Release", reservation } : { _tag: "Release", reservation, ...fields }
/** The automatic release of an expired hold (built by the layers, from the ids of their own holds). */
export const expire = (reservation: ReservationId): CommandOf<"Expire"> => ({ _tag: "Expire", reservation })
export const admit = (tenant: TenantId, amount: Microcents, fields?: AdmitFields): CommandOf<"Admit"> =>
  fields === undefined ? { _tag: "Admit", tenant, amount } : { _tag: "Admit", tenant, amount, ...fields }
export const restore = (snapshot: Snapshot.Snapshot): CommandOf<"Restore"> => ({ _tag: "Restore", snapshot })
export const takeSnapshot: CommandOf<"TakeSnapshot"> = { _tag: "TakeSnapshot" }
export const verifyConservation: CommandOf<"VerifyConservation"> = { _tag: "VerifyConservation" }
export const proveConservation: CommandOf<"ProveConservation"> = { _tag: "ProveConservation" }
export const certifyLedger: CommandOf<"CertifyLedger"> = { _tag: "CertifyLedger" }

// ---------------------------------------------------------------------------------------------
// Results (the reference's variants and fields)

export type ReserveResult =
  | { readonly _tag: "Reserved"; readonly reservation_id: ReservationId; readonly remaining_microcents: bigint }
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

/** A result that changed the state: what a retry returns, and what checkpoints remember. */
export type AppliedResult =
  | Extract<ReserveResult, { readonly _tag: "Reserved" }>
  | Extract<SettlementResult, { readonly _tag: "Committed" | "Released" }>
  | Extract<TopUpResult, { readonly _tag: "ToppedUp" }>

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
