/**
 * The ledger's commands and their results (SPEC §6): the `Command` union every layer and the
 * journal carry, the reference's result variants, and `ResultOf` (the result of each command
 * kind). The state machine that applies them is `LedgerState.ts`, which re-exports all of this.
 */
import * as Int from "@calybris/core/Int"
import { jsonObject } from "@calybris/core/JsonSchema"
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"
import {
  type Microcents,
  type ReservationId,
  ReservationId as ReservationIdSchema,
  type TenantId
} from "./Arguments.js"
import type { AggregateOverflow, IdempotencyConflict, RestoreError, Violation } from "./LedgerError.js"
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

/**
 * A result variant: the domain value `{_tag, ...fields}`, and on the wire the reference's
 * `{"kind": tag, ...fields}` with its members in field order (what the CLI prints with `--json`
 * and the conformance vectors hold). `nullHold` adds the `"reservation_id": null` that the
 * reference's try_reserve encoding carries for every variant but `Reserved`.
 */
const variant = <const Tag extends string, Fields extends Schema.Struct.Fields>(
  tag: Tag,
  fields: Fields,
  nullHold = false
) =>
  Schema.transform(
    jsonObject({ kind: Schema.Literal(tag), ...fields, ...(nullHold ? { reservation_id: Schema.Null } : {}) }),
    Schema.TaggedStruct(tag, fields),
    {
      strict: false,
      decode: ({ kind: _kind, reservation_id: _null, ...fields }: Record<string, unknown>) =>
        nullHold || _null === undefined ? { _tag: tag, ...fields } : { _tag: tag, ...fields, reservation_id: _null },
      encode: ({ _tag, ...fields }: Record<string, unknown>) =>
        nullHold ? { kind: tag, ...fields, reservation_id: null } : { kind: tag, ...fields }
    }
  )

const microcents = Schema.BigIntFromSelf

/** The result of a reserve (or of an admit's hold), on the wire as try_reserve's. */
export const ReserveResultWire = Schema.Union(
  variant("Reserved", { remaining_microcents: microcents, reservation_id: ReservationIdSchema }),
  variant("Insufficient", { remaining_microcents: microcents, required_microcents: microcents }, true),
  variant("MissingTenant", {}, true),
  variant(
    "ExposureLimitExceeded",
    { current_reserved_microcents: microcents, max_reserved_microcents: microcents },
    true
  ),
  variant("Overflow", { current_reserved_microcents: microcents }, true)
)
export type ReserveResult = typeof ReserveResultWire.Type
/** Constructors and `$is`/`$match` of reserve results (the state machine builds them as plain literals). */
export const ReserveResult = Data.taggedEnum<ReserveResult>()

/** The result of a commit, a release or an expiry. */
export const SettlementResultWire = Schema.Union(
  variant("Committed", { remaining_microcents: microcents, actual_microcents: microcents }),
  variant("Released", { remaining_microcents: microcents, returned_microcents: microcents }),
  variant("Overrun", { remaining_microcents: microcents }),
  variant("InvalidAmount", {}),
  variant("MissingReservation", {}),
  variant("MissingTenant", {}),
  variant("Overflow", { remaining_microcents: microcents })
)
export type SettlementResult = typeof SettlementResultWire.Type
/** Constructors and `$is`/`$match` of settlement results. */
export const SettlementResult = Data.taggedEnum<SettlementResult>()

/** The result of a top-up. */
export const TopUpResultWire = Schema.Union(
  variant("ToppedUp", {
    added_microcents: microcents,
    new_initial_microcents: microcents,
    remaining_microcents: microcents
  }),
  variant("MissingTenant", {}),
  variant("InvalidAmount", {}),
  variant("Overflow", {})
)
export type TopUpResult = typeof TopUpResultWire.Type
/** Constructors and `$is`/`$match` of top-up results. */
export const TopUpResult = Data.taggedEnum<TopUpResult>()

/** Why a snapshot cannot be restored (SPEC §6.6): the `LedgerError` classes, whose `message` is the reference's text. */
export type { RestoreError } from "./LedgerError.js"

export type ProveResult =
  | { readonly _tag: "Proved"; readonly proof: Snapshot.ConservationProof }
  | { readonly _tag: "NotConserved"; readonly status: Violation | AggregateOverflow }

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
