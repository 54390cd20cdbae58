/**
 * Typed failures of the ledger service: restore refusals (one per reference variant, with the
 * reference's texts), conservation failures, and storage failures of durable layers. The state
 * machine returns the same classes in its results (a restore's refusal, a conservation status,
 * an idempotency conflict): one definition per outcome, whose `message` is the reference's text.
 */
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

export class ActiveReservations extends Schema.TaggedError<ActiveReservations>()("ActiveReservations", {
  count: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `cannot restore snapshot with ${this.count} active reservations`
  }
}

export class DuplicateTenant extends Schema.TaggedError<DuplicateTenant>()("DuplicateTenant", {
  tenant_id: Schema.String
}) {
  override get message(): string {
    return `duplicate tenant_id in snapshot: ${this.tenant_id}`
  }
}

export class GhostReservation extends Schema.TaggedError<GhostReservation>()("GhostReservation", {
  tenant_id: Schema.String,
  reserved_microcents: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `tenant ${this.tenant_id} has reserved_microcents=${this.reserved_microcents} with no active reservations`
  }
}

export class NegativeLedgerField extends Schema.TaggedError<NegativeLedgerField>()("NegativeLedgerField", {
  tenant_id: Schema.String,
  field: Schema.Literal("remaining_microcents", "initial_microcents", "committed_microcents"),
  value: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `tenant ${this.tenant_id} has negative ${this.field}: ${this.value}`
  }
}

/**
 * A tenant whose balances do not add up (or whose remaining is negative): the reference's
 * conservation status `Violation{tenant_id, delta}` (SPEC §6.3), also the failure of a proof.
 */
export class Violation extends Schema.TaggedError<Violation>()("Violation", {
  tenant_id: Schema.String,
  delta_microcents: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `conservation violated for tenant ${this.tenant_id}: delta=${this.delta_microcents} microcents`
  }
}

/** Totals that do not fit i64: the reference's conservation status `AggregateOverflow`, also the failure of a proof. */
export class AggregateOverflow extends Schema.TaggedError<AggregateOverflow>()("AggregateOverflow", {}) {
  override get message(): string {
    return "aggregate ledger totals exceed i64::MAX — certificate totals cannot be represented"
  }
}

/** A snapshot offered for restore that fails conservation. */
export class ConservationViolation extends Schema.TaggedError<ConservationViolation>()("ConservationViolation", {
  status: Schema.Union(Violation, AggregateOverflow)
}) {
  override get message(): string {
    return `snapshot failed conservation: ${this.status.message}`
  }
}

export type RestoreError =
  | ActiveReservations
  | DuplicateTenant
  | GhostReservation
  | NegativeLedgerField
  | ConservationViolation

/** A durable ledger could not journal a command; nothing was applied. */
export class LedgerStoreError extends Schema.TaggedError<LedgerStoreError>()("LedgerStoreError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `ledger store failed during ${this.operation}: ${reason}`
  }
}

/** The journal could not be recovered: a broken chain, a foreign record, or a state that fails conservation. */
export class LedgerRecoveryError extends Schema.TaggedError<LedgerRecoveryError>()("LedgerRecoveryError", {
  reason: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    // (a Schema error in one line naming the field and the value, not Schema's tree of every type)
    const detail = ParseResult.isParseError(this.cause)
      ? `: ${JsonSchema.formatError(this.cause)}`
      : this.cause instanceof Error
      ? `: ${this.cause.message}`
      : ""
    return `ledger recovery failed: ${this.reason}${detail}`
  }
}

/**
 * A journal whose chain verifies but whose content does not hold together: a journaled command
 * that does not apply on replay as it did when it was journaled, or a checkpoint that fails the
 * restore checks or the consistency of its holds, counters and remembered operations. Names the
 * entry (its WAL sequence) and, in a group of commands, the command (1-based).
 */
export class LedgerJournalInconsistent extends Schema.TaggedError<LedgerJournalInconsistent>()(
  "LedgerJournalInconsistent",
  {
    sequence: Schema.BigIntFromSelf,
    command: Schema.optional(Schema.Number),
    reason: Schema.String
  }
) {
  override get message(): string {
    const where = this.command === undefined ? "" : ` (command ${this.command})`
    return `ledger journal entry ${this.sequence}${where} is inconsistent: ${this.reason}`
  }
}

/** A client operation id reused with different arguments. */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  operation_id: Schema.String
}) {
  override get message(): string {
    return `operation id ${this.operation_id} was already used with different arguments`
  }
}

/** An argument out of the range the ledger accepts (see `Arguments`); refused before anything changed. */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  /** the argument's name, e.g. `amount`, `tenant`, `expiresIn` */
  field: Schema.String,
  /** a short excerpt of the value given */
  value: Schema.String,
  /** what the value must be */
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid ${this.field} ${this.value}: ${this.reason}`
  }
}
