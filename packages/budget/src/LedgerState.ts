/**
 * The budget ledger as a state machine (SPEC §6): `step(state, command) → result`, exact i64
 * semantics on bigints with checked overflow, no I/O. A command either applies completely or
 * changes nothing, and it runs synchronously, so no caller can ever observe a half-applied
 * operation: every observable state satisfies `remaining + reserved + committed == initial`.
 */
import * as Int from "@calybris/core/Int"
import * as Schema from "effect/Schema"
import * as Snapshot from "./Snapshot.js"

// ---------------------------------------------------------------------------------------------
// Commands

/** Every state-changing operation of the reference, as data. */
const operation = { operation_id: Schema.optional(Schema.String) }
/** a hold's expiry: the duration asked for (part of the idempotency fingerprint) and the instant it ends */
const expiry = { ttl_ms: Schema.optional(Int.I64), expires_at_ms: Schema.optional(Int.I64) }

export const Command = Schema.Union(
  Schema.TaggedStruct("EnsureTenant", { tenant: Schema.String, amount: Int.I64 }),
  Schema.TaggedStruct("TopUp", { tenant: Schema.String, amount: Int.I64, ...operation }),
  Schema.TaggedStruct("SetExposureCap", { tenant: Schema.String, max: Int.I64 }),
  Schema.TaggedStruct("Reserve", { tenant: Schema.String, amount: Int.I64, ...operation, ...expiry }),
  Schema.TaggedStruct("Commit", { reservation: Int.U64, actual: Int.I64, ...operation }),
  Schema.TaggedStruct("Release", { reservation: Int.U64, ...operation }),
  /** the automatic release of an expired hold (journaled, so replay reproduces it) */
  Schema.TaggedStruct("Expire", { reservation: Int.U64 }),
  /** decide-and-hold: a reserve whose journal entry also carries the audited decision */
  Schema.TaggedStruct("Admit", { tenant: Schema.String, amount: Int.I64, ...operation, ...expiry }),
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

// ---------------------------------------------------------------------------------------------
// State

export interface TenantState {
  initial: bigint
  remaining: bigint
  reserved: bigint
  committed: bigint
}

export interface Hold {
  readonly tenant: string
  readonly amount: bigint
  /** when the hold expires (epoch milliseconds), if it does */
  readonly expiresAt?: bigint | undefined
}

/** An applied operation remembered under its client id: what it was, and what it returned. */
export interface Remembered {
  readonly fingerprint: string
  readonly result: Result
}

/** The whole ledger. Mutated only by `step`, one complete command at a time. */
export class LedgerState {
  readonly tenants = new Map<string, TenantState>()
  readonly holds = new Map<bigint, Hold>()
  readonly caps = new Map<string, bigint>()
  /** client operation ids of applied operations (retry safety) */
  readonly operations = new Map<string, Remembered>()
  nextReservation = 1n
  snapshotVersion = 0n
  baseline = 0n

  /** A deep copy (for model tests and checkpoints). */
  clone(): LedgerState {
    const copy = new LedgerState()
    for (const [id, t] of this.tenants) copy.tenants.set(id, { ...t })
    for (const [id, h] of this.holds) copy.holds.set(id, h)
    for (const [id, c] of this.caps) copy.caps.set(id, c)
    for (const [id, o] of this.operations) copy.operations.set(id, o)
    copy.nextReservation = this.nextReservation
    copy.snapshotVersion = this.snapshotVersion
    copy.baseline = this.baseline
    return copy
  }
}

const fits = Int.fitsI64

// ---------------------------------------------------------------------------------------------
// Operations (each applies completely or not at all)

export const ensureTenant = (s: LedgerState, tenant: string, amount: bigint): void => {
  if (amount < 0n || s.tenants.has(tenant)) return
  s.tenants.set(tenant, { initial: amount, remaining: amount, reserved: 0n, committed: 0n })
}

export const topUp = (s: LedgerState, tenant: string, amount: bigint): TopUpResult => {
  if (amount <= 0n) return { _tag: "InvalidAmount" }
  const t = s.tenants.get(tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  const initial = t.initial + amount
  const remaining = t.remaining + amount
  if (!fits(initial) || !fits(remaining)) return { _tag: "Overflow" }
  t.initial = initial
  t.remaining = remaining
  return {
    _tag: "ToppedUp",
    added_microcents: amount,
    new_initial_microcents: initial,
    remaining_microcents: remaining
  }
}

export const setExposureCap = (s: LedgerState, tenant: string, max: bigint): void => {
  if (max <= 0n) s.caps.delete(tenant)
  else s.caps.set(tenant, max)
}

export const reserve = (s: LedgerState, tenant: string, amount: bigint, expiresAt?: bigint): ReserveResult => {
  if (amount <= 0n) return { _tag: "Insufficient", remaining_microcents: 0n, required_microcents: amount }
  const t = s.tenants.get(tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  const reserved = t.reserved + amount
  if (!fits(reserved)) return { _tag: "Overflow", current_reserved_microcents: t.reserved }
  const cap = s.caps.get(tenant)
  if (cap !== undefined && reserved > cap) {
    return { _tag: "ExposureLimitExceeded", current_reserved_microcents: t.reserved, max_reserved_microcents: cap }
  }
  if (t.remaining < amount) {
    return { _tag: "Insufficient", remaining_microcents: t.remaining, required_microcents: amount }
  }
  t.reserved = reserved
  t.remaining -= amount
  const id = s.nextReservation
  s.nextReservation = Int.wrapU64(id + 1n)
  s.holds.set(id, expiresAt === undefined ? { tenant, amount } : { tenant, amount, expiresAt })
  return { _tag: "Reserved", reservation_id: id, remaining_microcents: t.remaining }
}

export const commit = (s: LedgerState, reservation: bigint, actual: bigint): SettlementResult => {
  if (actual < 0n) return { _tag: "InvalidAmount" }
  const hold = s.holds.get(reservation)
  if (hold === undefined) return { _tag: "MissingReservation" }
  const t = s.tenants.get(hold.tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  const committed = t.committed + actual
  if (!fits(committed)) return { _tag: "Overflow", remaining_microcents: t.remaining }
  let remaining = t.remaining
  if (actual > hold.amount) {
    const extra = actual - hold.amount
    if (remaining < extra) return { _tag: "Overrun", remaining_microcents: remaining }
    remaining -= extra
  } else {
    remaining += hold.amount - actual
  }
  t.remaining = remaining
  t.reserved -= hold.amount
  t.committed = committed
  s.holds.delete(reservation)
  return { _tag: "Committed", remaining_microcents: remaining, actual_microcents: actual }
}

export const release = (s: LedgerState, reservation: bigint): SettlementResult => {
  const hold = s.holds.get(reservation)
  if (hold === undefined) return { _tag: "MissingReservation" }
  const t = s.tenants.get(hold.tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  t.remaining += hold.amount
  t.reserved -= hold.amount
  s.holds.delete(reservation)
  return { _tag: "Released", remaining_microcents: t.remaining, returned_microcents: hold.amount }
}

/** The balances as a snapshot, without advancing the version (for queries and digests). */
export const balances = (s: LedgerState, version: bigint): Snapshot.Snapshot => {
  const ids = [...s.tenants.keys()].sort(Snapshot.compareUtf8)
  return {
    version,
    tenants: ids.map((id) => {
      const t = s.tenants.get(id) as TenantState
      return {
        tenant_id: id,
        initial_microcents: t.initial,
        remaining_microcents: t.remaining,
        reserved_microcents: t.reserved,
        committed_microcents: t.committed
      }
    }),
    active_reservations: BigInt(s.holds.size)
  } as unknown as Snapshot.Snapshot
}

/** Take a snapshot: the version counter advances first (wrapping as a u64) and the snapshot carries it. */
export const takeSnapshot = (s: LedgerState): Snapshot.Snapshot => {
  s.snapshotVersion = Int.wrapU64(s.snapshotVersion + 1n)
  return balances(s, s.snapshotVersion)
}

export const verifyConservation = (s: LedgerState): Snapshot.ConservationStatus =>
  Snapshot.conservationStatus(takeSnapshot(s))

export const proveConservation = (s: LedgerState): ProveResult => {
  const snapshot = takeSnapshot(s)
  const status = Snapshot.conservationStatus(snapshot)
  if (status._tag !== "Balanced") return { _tag: "NotConserved", status }
  const t = Snapshot.totals(snapshot)
  if (!t.representable) return { _tag: "NotConserved", status: Snapshot.AggregateOverflow }
  return {
    _tag: "Proved",
    proof: {
      ledger_digest_hex: Snapshot.ledgerDigest(snapshot),
      snapshot_version: snapshot.version,
      tenant_count: BigInt(snapshot.tenants.length),
      active_reservations: snapshot.active_reservations,
      total_initial_microcents: t.initial,
      total_committed_microcents: t.committed,
      aggregate_totals_representable: true
    } as Snapshot.ConservationProof
  }
}

export const certifyLedger = (s: LedgerState): Snapshot.FinancialCertificate => {
  const snapshot = takeSnapshot(s)
  const balanced = Snapshot.conservationStatus(snapshot)._tag === "Balanced"
  const t = Snapshot.totals(snapshot)
  let since = 0n
  if (t.representable && t.committed > s.baseline) {
    since = t.committed - s.baseline
    s.baseline = t.committed
  }
  return Snapshot.certifySnapshot(snapshot, balanced, since)
}

/** The checks of a restore, in the reference's order; `undefined` when the snapshot is acceptable. */
export const restoreCheck = (snapshot: Snapshot.Snapshot): RestoreError | undefined => {
  if (snapshot.active_reservations > 0n) return { _tag: "ActiveReservations", count: snapshot.active_reservations }
  const seen = new Set<string>()
  for (const t of snapshot.tenants) {
    const id = t.tenant_id
    if (seen.has(id)) return { _tag: "DuplicateTenant", tenant_id: id }
    seen.add(id)
    if (t.reserved_microcents !== 0n) {
      return { _tag: "GhostReservation", tenant_id: id, reserved_microcents: t.reserved_microcents }
    }
    if (t.remaining_microcents < 0n) {
      return {
        _tag: "NegativeLedgerField",
        tenant_id: id,
        field: "remaining_microcents",
        value: t.remaining_microcents
      }
    }
    if (t.initial_microcents < 0n) {
      return { _tag: "NegativeLedgerField", tenant_id: id, field: "initial_microcents", value: t.initial_microcents }
    }
    if (t.committed_microcents < 0n) {
      return {
        _tag: "NegativeLedgerField",
        tenant_id: id,
        field: "committed_microcents",
        value: t.committed_microcents
      }
    }
  }
  const status = Snapshot.conservationStatus(snapshot)
  if (status._tag !== "Balanced") return { _tag: "ConservationViolation", status }
  return undefined
}

/** Restore (exclusive recovery): drops open holds, replaces balances, sets the version. Caps, ids and baseline stay. */
export const restore = (s: LedgerState, snapshot: Snapshot.Snapshot): RestoreResult => {
  const error = restoreCheck(snapshot)
  if (error !== undefined) return { _tag: "RestoreRefused", error }
  s.holds.clear()
  s.tenants.clear()
  for (const t of snapshot.tenants) {
    s.tenants.set(t.tenant_id, {
      initial: t.initial_microcents,
      remaining: t.remaining_microcents,
      reserved: t.reserved_microcents,
      committed: t.committed_microcents
    })
  }
  s.snapshotVersion = snapshot.version
  return { _tag: "Restored" }
}

/** The arguments that identify a retry of the same operation (everything but the id and the instant). */
export const fingerprint = (c: Command): string => {
  switch (c._tag) {
    case "TopUp":
      return `top_up ${JSON.stringify(c.tenant)} ${c.amount}`
    case "Reserve":
    case "Admit":
      return `reserve ${JSON.stringify(c.tenant)} ${c.amount} ${c.ttl_ms ?? ""}`
    case "Commit":
      return `commit ${c.reservation} ${c.actual}`
    case "Release":
      return `release ${c.reservation}`
    default:
      return c._tag
  }
}

/** Did this result change the state (so a retry must not apply it again)? */
export const applied = (result: Result): boolean => {
  if (result === undefined || typeof result !== "object" || !("_tag" in result)) return false
  switch (result._tag) {
    case "Reserved":
    case "Committed":
    case "Released":
    case "ToppedUp":
      return true
    default:
      return false
  }
}

/** The client operation id of a command, if it carries one. */
export const operationId = (c: Command): string | undefined => "operation_id" in c ? c.operation_id : undefined

/**
 * Apply one command. A command with a client operation id that was applied before returns the
 * remembered result and changes nothing; the same id with other arguments is an
 * `IdempotencyConflict`. Rejected commands are not remembered: a retry re-evaluates them,
 * which is safe because they applied nothing.
 */
export const step = <C extends Command>(s: LedgerState, command: C): ResultOf[C["_tag"]] => {
  const c = command as Command
  const id = operationId(c)
  if (id !== undefined) {
    const seen = s.operations.get(id)
    if (seen !== undefined) {
      return (seen.fingerprint === fingerprint(c)
        ? seen.result
        : { _tag: "IdempotencyConflict", operation_id: id }) as ResultOf[C["_tag"]]
    }
  }
  const result = apply(s, c)
  if (id !== undefined && applied(result)) s.operations.set(id, { fingerprint: fingerprint(c), result })
  return result as ResultOf[C["_tag"]]
}

/** Release every hold whose expiry is at or before `now`: the `Expire` commands to apply, in id order. */
export const expiredHolds = (s: LedgerState, nowMs: bigint): Array<bigint> => {
  const out: Array<bigint> = []
  for (const [id, hold] of s.holds) {
    if (hold.expiresAt !== undefined && hold.expiresAt <= nowMs) out.push(id)
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

const apply = (s: LedgerState, c: Command): Result => {
  let result: Result
  switch (c._tag) {
    case "EnsureTenant":
      result = ensureTenant(s, c.tenant, c.amount)
      break
    case "TopUp":
      result = topUp(s, c.tenant, c.amount)
      break
    case "SetExposureCap":
      result = setExposureCap(s, c.tenant, c.max)
      break
    case "Reserve":
    case "Admit":
      result = reserve(s, c.tenant, c.amount, c.expires_at_ms)
      break
    case "Expire":
      result = release(s, c.reservation)
      break
    case "Commit":
      result = commit(s, c.reservation, c.actual)
      break
    case "Release":
      result = release(s, c.reservation)
      break
    case "TakeSnapshot":
      result = takeSnapshot(s)
      break
    case "VerifyConservation":
      result = verifyConservation(s)
      break
    case "ProveConservation":
      result = proveConservation(s)
      break
    case "CertifyLedger":
      result = certifyLedger(s)
      break
    case "Restore":
      result = restore(s, c.snapshot)
      break
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// Queries (no snapshot taken, nothing changed)

export const remaining = (s: LedgerState, tenant: string): bigint | undefined => s.tenants.get(tenant)?.remaining
export const committed = (s: LedgerState, tenant: string): bigint | undefined => s.tenants.get(tenant)?.committed
export const initial = (s: LedgerState, tenant: string): bigint | undefined => s.tenants.get(tenant)?.initial
export const reserved = (s: LedgerState, tenant: string): bigint => s.tenants.get(tenant)?.reserved ?? 0n
export const tenantCount = (s: LedgerState): number => s.tenants.size
export const activeReservations = (s: LedgerState): number => s.holds.size

/** Lifetime spend over all tenants, exact, or i64 max when it does not fit. */
export const totalCommitted = (s: LedgerState): bigint => {
  let sum = 0n
  for (const t of s.tenants.values()) sum += t.committed
  return sum > Int.I64_MAX ? Int.I64_MAX : sum
}

/** `total_committed − baseline`, saturating in i64 (negative after a restore is possible). */
export const committedSinceLastCertificate = (s: LedgerState): bigint => Int.clampI64(totalCommitted(s) - s.baseline)
