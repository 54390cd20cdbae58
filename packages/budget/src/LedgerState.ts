/**
 * The budget ledger as a state machine (SPEC §6): `step(state, command) → result`, exact i64
 * semantics on bigints with checked overflow, no I/O. A command either applies completely or
 * changes nothing, and it runs synchronously, so no caller can ever observe a half-applied
 * operation: every observable state satisfies `remaining + reserved + committed == initial`.
 */
import { sha256Hex } from "@calybris/core/Hash"
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import { bigintOfSafe as big, safeNumberOf as small } from "@calybris/core/Word"
import { issuedReservationId, type ReservationId } from "./Arguments.js"
import type {
  AppliedResult,
  Command,
  ProveResult,
  ReserveResult,
  RestoreError,
  RestoreResult,
  Result,
  ResultOf,
  SettlementResult,
  TopUpResult
} from "./Command.js"
import { Account, balancesOf, Hold, store, type TenantState } from "./internal/account.js"
import { HoldTable } from "./internal/holds.js"
import { DEFAULT_LIMIT, OperationWindow } from "./internal/operations.js"
import {
  ActiveReservations,
  AggregateOverflow,
  ConservationViolation,
  DuplicateTenant,
  GhostReservation,
  IdempotencyConflict,
  NegativeLedgerField
} from "./LedgerError.js"
import * as Snapshot from "./Snapshot.js"

// commands and results (`Command.ts`) and the account representation (`internal/account.ts`),
// re-exported so that `@calybris/budget/LedgerState` keeps every name it had
export { Command } from "./Command.js"
export type {
  AppliedResult,
  ProveResult,
  ReserveResult,
  RestoreError,
  RestoreResult,
  Result,
  ResultOf,
  SettlementResult,
  TopUpResult
} from "./Command.js"
export { Account, Hold } from "./internal/account.js"
export type { TenantState } from "./internal/account.js"

// ---------------------------------------------------------------------------------------------
// State

/** Balances at most this large in magnitude are kept as numbers (exact, and so is every sum within it). */
const SAFE = Number.MAX_SAFE_INTEGER

/** An operation remembered under its client id: what it was, and what it returned (a refusal included). */
export interface Remembered {
  readonly fingerprint: string
  readonly result: Result
}

/**
 * How many client operation ids a ledger remembers by default: a retry is recognised as long as
 * fewer than this many later operations with ids have been answered, applied or refused (see
 * `LedgerState.operations`).
 */
export const DEFAULT_OPERATION_WINDOW = DEFAULT_LIMIT

/** The whole ledger. Mutated only by `step`, one complete command at a time. */
export class LedgerState {
  readonly tenants = new Map<string, Account>()
  readonly holds = new HoldTable<Hold>()
  readonly caps = new Map<string, bigint>()
  /**
   * client operation ids of answered operations, applied or refused (retry safety): the
   * `operations.limit` most recent ones (default `DEFAULT_OPERATION_WINDOW`); answering one
   * more forgets the oldest
   */
  readonly operations = new OperationWindow<Remembered>()
  snapshotVersion = 0n
  baseline = 0n
  /** the next reservation id as a number while it is safe (NaN: it is `nextWide`) */
  nextSmall = 1
  nextWide = 0n
  /** how many open holds expire, and a lower bound of their earliest expiry */
  expiring = 0
  soonest = 0n
  /** the accounts in UTF-8 order of their ids (undefined: to be sorted again) */
  sorted: Array<Account> | undefined = undefined
  /** how many tenant ids contain a unit >= 0xD800 (whose UTF-16 order may differ from UTF-8's) */
  highIds = 0

  get nextReservation(): bigint {
    return this.nextSmall === this.nextSmall ? big(this.nextSmall) : this.nextWide
  }
  set nextReservation(id: bigint) {
    const k = small(id)
    if (k >= 0) {
      this.nextSmall = k
      this.nextWide = 0n
    } else {
      this.nextSmall = NaN
      this.nextWide = id
    }
  }

  /** A deep copy (for model tests and checkpoints). */
  clone(): LedgerState {
    const copy = new LedgerState()
    for (const [id, t] of this.tenants) {
      const a = new Account(id)
      a.initial = t.initial
      a.remaining = t.remaining
      a.reserved = t.reserved
      a.committed = t.committed
      a.wide = t.wide
      a.cap = t.cap
      copy.tenants.set(id, a)
    }
    for (const [id, h] of this.holds) {
      copy.holds.set(
        id,
        new Hold(h.reservation, h.key, h.tenant, copy.tenants.get(h.tenant), h.amount, h.small, h.expiresAt)
      )
    }
    for (const [id, c] of this.caps) copy.caps.set(id, c)
    copy.operations.limit = this.operations.limit
    for (const [id, o] of this.operations) copy.operations.set(id, o)
    copy.snapshotVersion = this.snapshotVersion
    copy.baseline = this.baseline
    copy.nextSmall = this.nextSmall
    copy.nextWide = this.nextWide
    copy.expiring = this.expiring
    copy.soonest = this.soonest
    copy.highIds = this.highIds
    copy.sorted = this.sorted === undefined ? undefined : this.sorted.map((a) => copy.tenants.get(a.id) as Account)
    return copy
  }
}

const fits = Int.fitsI64

const HIGH = /[\uD800-\uFFFF]/

/** Create (or replace) a tenant's account with these balances (restore, checkpoints). */
export const putTenant = (s: LedgerState, tenant: string, b: TenantState): void => {
  let t = s.tenants.get(tenant)
  if (t === undefined) {
    t = new Account(tenant)
    const cap = s.caps.get(tenant)
    if (cap !== undefined) t.cap = Number(cap)
    s.tenants.set(tenant, t)
    if (HIGH.test(tenant)) s.highIds++
    s.sorted = undefined
  }
  store(t, b.initial, b.remaining, b.reserved, b.committed)
}

/** A tenant's balances, exact. */
export const tenantBalances = (s: LedgerState, tenant: string): TenantState | undefined => {
  const t = s.tenants.get(tenant)
  return t === undefined ? undefined : balancesOf(t)
}

/** Open a hold under the next reservation id; returns the id. */
const addHold = (
  s: LedgerState,
  tenant: string,
  account: Account | undefined,
  amount: bigint,
  amountSmall: number,
  expiresAt: bigint | undefined
): ReservationId => {
  const k = s.nextSmall
  if (k === k && k < SAFE) {
    const id = big(k)
    s.nextSmall = k + 1
    insertHold(s, new Hold(id, k, tenant, account, amount, amountSmall, expiresAt), s.holds.getKey(k))
    return issuedReservationId(id)
  }
  // below u64 max (`reserve` refuses at it): no wrap
  const id = s.nextReservation
  s.nextReservation = id + 1n
  putHold(s, id, tenant, account, amount, amountSmall, expiresAt)
  return issuedReservationId(id)
}

/** Record an open hold (also for checkpoints). */
export const putHold = (
  s: LedgerState,
  id: bigint,
  tenant: string,
  account: Account | undefined,
  amount: bigint,
  amountSmall: number,
  expiresAt: bigint | undefined
): void =>
  insertHold(s, new Hold(id, HoldTable.keyOf(id), tenant, account, amount, amountSmall, expiresAt), s.holds.get(id))

/** Insert a hold, replacing `previous` (the hold under the same id, if any: the map semantics of the reference). */
const insertHold = (s: LedgerState, hold: Hold, previous: Hold | undefined): void => {
  if (previous !== undefined) dropHold(s, previous)
  s.holds.set(hold.reservation, hold)
  const expiresAt = hold.expiresAt
  if (expiresAt !== undefined) {
    if (s.expiring === 0 || expiresAt < s.soonest) s.soonest = expiresAt
    s.expiring++
  }
}

const dropHold = (s: LedgerState, h: Hold): void => {
  s.holds.delete(h.reservation, h.key)
  if (h.expiresAt !== undefined) s.expiring--
}

// ---------------------------------------------------------------------------------------------
// Operations (each applies completely or not at all)

export const ensureTenant = (s: LedgerState, tenant: string, amount: bigint): void => {
  if (amount < 0n || s.tenants.has(tenant)) return
  putTenant(s, tenant, { initial: amount, remaining: amount, reserved: 0n, committed: 0n })
}

export const topUp = (s: LedgerState, tenant: string, amount: bigint): TopUpResult => {
  if (amount <= 0n) return { _tag: "InvalidAmount" }
  const t = s.tenants.get(tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  const b = balancesOf(t)
  const initial = b.initial + amount
  const remaining = b.remaining + amount
  if (!fits(initial) || !fits(remaining)) return { _tag: "Overflow" }
  store(t, initial, remaining, b.reserved, b.committed)
  return {
    _tag: "ToppedUp",
    added_microcents: amount,
    new_initial_microcents: initial,
    remaining_microcents: remaining
  }
}

export const setExposureCap = (s: LedgerState, tenant: string, max: bigint): void => {
  const t = s.tenants.get(tenant)
  if (max <= 0n) {
    s.caps.delete(tenant)
    if (t !== undefined) t.cap = Infinity
  } else {
    s.caps.set(tenant, max)
    if (t !== undefined) t.cap = Number(max)
  }
}

export const reserve = (s: LedgerState, tenant: string, amount: bigint, expiresAt?: bigint): ReserveResult => {
  const a = small(amount)
  if (a <= 0 || (a !== a && amount <= 0n)) {
    return { _tag: "Insufficient", remaining_microcents: 0n, required_microcents: amount }
  }
  const t = s.tenants.get(tenant)
  if (t === undefined) return { _tag: "MissingTenant" }
  // the id counter at its end: ids are never reused (only a journal's checkpoint sets it there)
  if (s.nextSmall !== s.nextSmall && s.nextWide === Int.U64_MAX) {
    return { _tag: "Overflow", current_reserved_microcents: balancesOf(t).reserved }
  }
  const reserved = t.reserved + a
  // false for a wide account or amount (NaN) and for a sum beyond the safe range
  if (reserved <= SAFE) {
    if (reserved > t.cap) {
      return {
        _tag: "ExposureLimitExceeded",
        current_reserved_microcents: big(t.reserved),
        max_reserved_microcents: s.caps.get(tenant) as bigint
      }
    }
    const remaining = t.remaining
    if (remaining < a) {
      return { _tag: "Insufficient", remaining_microcents: big(remaining), required_microcents: amount }
    }
    t.reserved = reserved
    t.remaining = remaining - a
    const id = addHold(s, tenant, t, amount, a, expiresAt)
    return { _tag: "Reserved", reservation_id: id, remaining_microcents: big(remaining - a) }
  }
  const b = balancesOf(t)
  const wideReserved = b.reserved + amount
  if (!fits(wideReserved)) return { _tag: "Overflow", current_reserved_microcents: b.reserved }
  const cap = s.caps.get(tenant)
  if (cap !== undefined && wideReserved > cap) {
    return { _tag: "ExposureLimitExceeded", current_reserved_microcents: b.reserved, max_reserved_microcents: cap }
  }
  if (b.remaining < amount) {
    return { _tag: "Insufficient", remaining_microcents: b.remaining, required_microcents: amount }
  }
  const remaining = b.remaining - amount
  store(t, b.initial, remaining, wideReserved, b.committed)
  const id = addHold(s, tenant, t, amount, a, expiresAt)
  return { _tag: "Reserved", reservation_id: id, remaining_microcents: remaining }
}

export const commit = (s: LedgerState, reservation: bigint, actual: bigint): SettlementResult => {
  const x = small(actual)
  if (x < 0 || (x !== x && actual < 0n)) return { _tag: "InvalidAmount" }
  const hold = s.holds.get(reservation)
  if (hold === undefined) return { _tag: "MissingReservation" }
  const t = hold.account
  if (t === undefined) return { _tag: "MissingTenant" }
  const committed = t.committed + x
  // false for a wide account, actual or hold (NaN) and for results beyond the safe range
  if (committed <= SAFE) {
    const amount = hold.small
    let remaining = t.remaining
    if (x > amount) {
      const extra = x - amount
      if (remaining < extra) return { _tag: "Overrun", remaining_microcents: big(remaining) }
      remaining -= extra
    } else {
      remaining += amount - x
    }
    if (remaining <= SAFE) {
      t.remaining = remaining
      t.reserved -= amount
      t.committed = committed
      dropHold(s, hold)
      return { _tag: "Committed", remaining_microcents: big(remaining), actual_microcents: actual }
    }
  }
  const b = balancesOf(t)
  const wideCommitted = b.committed + actual
  if (!fits(wideCommitted)) return { _tag: "Overflow", remaining_microcents: b.remaining }
  let remaining = b.remaining
  if (actual > hold.amount) {
    const extra = actual - hold.amount
    if (remaining < extra) return { _tag: "Overrun", remaining_microcents: remaining }
    remaining -= extra
  } else {
    remaining += hold.amount - actual
  }
  store(t, b.initial, remaining, b.reserved - hold.amount, wideCommitted)
  dropHold(s, hold)
  return { _tag: "Committed", remaining_microcents: remaining, actual_microcents: actual }
}

export const release = (s: LedgerState, reservation: bigint): SettlementResult => {
  const hold = s.holds.get(reservation)
  if (hold === undefined) return { _tag: "MissingReservation" }
  const t = hold.account
  if (t === undefined) return { _tag: "MissingTenant" }
  const remaining = t.remaining + hold.small
  if (remaining <= SAFE) {
    t.remaining = remaining
    t.reserved -= hold.small
    dropHold(s, hold)
    return { _tag: "Released", remaining_microcents: big(remaining), returned_microcents: hold.amount }
  }
  const b = balancesOf(t)
  const wideRemaining = b.remaining + hold.amount
  store(t, b.initial, wideRemaining, b.reserved - hold.amount, b.committed)
  dropHold(s, hold)
  return { _tag: "Released", remaining_microcents: wideRemaining, returned_microcents: hold.amount }
}

/** The accounts in UTF-8 byte order of their ids (cached until a tenant is added). */
const sortedAccounts = (s: LedgerState): Array<Account> => {
  if (s.sorted !== undefined) return s.sorted
  const accounts = [...s.tenants.values()]
  // without units >= 0xD800, UTF-16 order (the native string order) is code point order
  const sorted = s.highIds === 0
    ? accounts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    : accounts.sort((a, b) => Snapshot.compareUtf8(a.id, b.id))
  s.sorted = sorted
  return sorted
}

/** The balances as a snapshot, without advancing the version (for queries and digests). */
export const balances = (s: LedgerState, version: bigint): Snapshot.Snapshot => {
  const accounts = sortedAccounts(s)
  const tenants = new Array<Snapshot.TenantBalance>(accounts.length)
  for (let i = 0; i < accounts.length; i++) {
    const t = accounts[i] as Account
    const w = t.wide
    tenants[i] = w === undefined
      ? Snapshot.tenantBalance(t.id, big(t.initial), big(t.remaining), big(t.reserved), big(t.committed))
      : Snapshot.tenantBalance(t.id, w.initial, w.remaining, w.reserved, w.committed)
  }
  return Snapshot.makeSnapshot(version, tenants, BigInt(s.holds.size))
}

/** Take a snapshot: the version counter advances first (wrapping as a u64) and the snapshot carries it. */
export const takeSnapshot = (s: LedgerState): Snapshot.Snapshot => {
  s.snapshotVersion = Int.wrapU64(s.snapshotVersion + 1n)
  return balances(s, s.snapshotVersion)
}

export const verifyConservation = (s: LedgerState): Snapshot.ConservationStatus =>
  Snapshot.conservationStatus(takeSnapshot(s))

export const proveConservation = (s: LedgerState): ProveResult => proofOf(takeSnapshot(s))

/** The conservation proof of a snapshot (SPEC §6.4), or why there is none. */
export const proofOf = (snapshot: Snapshot.Snapshot): ProveResult => {
  const status = Snapshot.conservationStatus(snapshot)
  if (status._tag !== "Balanced") return { _tag: "NotConserved", status }
  const t = Snapshot.totals(snapshot)
  if (!t.representable) return { _tag: "NotConserved", status: new AggregateOverflow() }
  return { _tag: "Proved", proof: Snapshot.conservationProof(snapshot, t) }
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
  if (snapshot.active_reservations > 0n) return new ActiveReservations({ count: snapshot.active_reservations })
  const seen = new Set<string>()
  for (const t of snapshot.tenants) {
    const id = t.tenant_id
    if (seen.has(id)) return new DuplicateTenant({ tenant_id: id })
    seen.add(id)
    if (t.reserved_microcents !== 0n) {
      return new GhostReservation({ tenant_id: id, reserved_microcents: t.reserved_microcents })
    }
    if (t.remaining_microcents < 0n) {
      return new NegativeLedgerField({ tenant_id: id, field: "remaining_microcents", value: t.remaining_microcents })
    }
    if (t.initial_microcents < 0n) {
      return new NegativeLedgerField({ tenant_id: id, field: "initial_microcents", value: t.initial_microcents })
    }
    if (t.committed_microcents < 0n) {
      return new NegativeLedgerField({ tenant_id: id, field: "committed_microcents", value: t.committed_microcents })
    }
  }
  const status = Snapshot.conservationStatus(snapshot)
  if (status._tag !== "Balanced") return new ConservationViolation({ status })
  return undefined
}

/** Restore (exclusive recovery): drops open holds, replaces balances, sets the version. Caps, ids and baseline stay. */
export const restore = (s: LedgerState, snapshot: Snapshot.Snapshot): RestoreResult => {
  const error = restoreCheck(snapshot)
  if (error !== undefined) return { _tag: "RestoreRefused", error }
  s.holds.clear()
  s.expiring = 0
  s.tenants.clear()
  s.highIds = 0
  s.sorted = undefined
  for (const t of snapshot.tenants) {
    putTenant(s, t.tenant_id, {
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
      return `reserve ${JSON.stringify(c.tenant)} ${c.amount} ${c.ttl_ms ?? ""}`
    case "Admit":
      // "?" when unbound (a command built without it, or an audited record without digests):
      // never equal to the binding of an admit through `Ledger.admit`
      return `admit ${JSON.stringify(c.tenant)} ${c.amount} ${c.ttl_ms ?? ""} ${c.binding ?? "?"}`
    case "Commit":
      return `commit ${c.reservation} ${c.actual}`
    case "Release":
      return `release ${c.reservation}`
    default:
      return c._tag
  }
}

const utf8 = new TextEncoder()

/**
 * What an admit's operation id is bound to besides tenant, amount and expiry: the policy digest,
 * the input digest and the SHA-256 of the metadata's canonical Json. Every one of them is in the
 * admit's audited record (`auditDigests`), so recovery derives the same binding from the journal.
 */
export const admitBinding = (policyDigestHex: string, inputDigestHex: string, metadata: Json.Json): string =>
  `${policyDigestHex} ${inputDigestHex} ${sha256Hex(utf8.encode(Json.print(metadata)))}`

/** The binding of a journaled admit, from its audited record (undefined when the record lacks the digests). */
export const bindingOfAudited = (audited: Json.Json | undefined): string | undefined => {
  if (audited === undefined || !Json.isObject(audited)) return undefined
  const bundle = audited.get("audit")
  if (bundle === undefined || !Json.isObject(bundle) || !audited.has("metadata")) return undefined
  const policy = bundle.get("policy_digest_hex")
  const input = bundle.get("input_digest_hex")
  if (typeof policy !== "string" || typeof input !== "string") return undefined
  return admitBinding(policy, input, audited.get("metadata") as Json.Json)
}

/** Did this result change the state (so a retry must not apply it again)? */
export const applied = (result: Result): result is AppliedResult => {
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
 * Apply one command. An operation id names one outcome: a command under an id seen before
 * returns the remembered result and changes nothing, whether that result applied or was a
 * refusal (`Insufficient`, `MissingReservation`, …: a refusal is remembered too, so a delayed
 * duplicate of a refused operation cannot succeed later and leave a hold nobody settles); the
 * same id with other arguments is an `IdempotencyConflict`. Only the `operations.limit` most
 * recent ids are remembered: an id older than that is forgotten, and a command under it
 * applies as new.
 */
export const step = <C extends Command>(s: LedgerState, command: C): ResultOf[C["_tag"]] => {
  const c = command as Command
  const id = operationId(c)
  if (id !== undefined) {
    const seen = s.operations.get(id)
    if (seen !== undefined) {
      return (seen.fingerprint === fingerprint(c)
        ? seen.result
        : new IdempotencyConflict({ operation_id: id })) as ResultOf[C["_tag"]]
    }
  }
  const result = apply(s, c)
  // every result of an operation under an id, refusals included (an id names one outcome)
  if (id !== undefined) s.operations.set(id, { fingerprint: fingerprint(c), result })
  return result as ResultOf[C["_tag"]]
}

/** Release every hold whose expiry is at or before `now`: the `Expire` commands to apply, in id order. */
export const expiredHolds = (s: LedgerState, nowMs: bigint): Array<ReservationId> => {
  if (s.expiring === 0 || nowMs < s.soonest) return []
  const out: Array<ReservationId> = []
  let soonest: bigint | undefined
  for (const [id, hold] of s.holds) {
    const at = hold.expiresAt
    if (at === undefined) continue
    if (at <= nowMs) out.push(issuedReservationId(id))
    if (soonest === undefined || at < soonest) soonest = at
  }
  // a lower bound of every expiry still open (the expired ones are about to be released)
  s.soonest = soonest ?? 0n
  return out
}

/**
 * The state as of `nowMs`, for queries: `s` itself when no hold is due, otherwise a copy with
 * every due hold released (what the next write will journal as `Expire` commands). `s` is not
 * changed (but for its cached lower bound of the expiries).
 */
export const asOf = (s: LedgerState, nowMs: bigint): LedgerState => {
  const due = expiredHolds(s, nowMs)
  if (due.length === 0) return s
  const view = s.clone()
  for (const id of due) release(view, id)
  return view
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

export const remaining = (s: LedgerState, tenant: string): bigint | undefined => tenantBalances(s, tenant)?.remaining
export const committed = (s: LedgerState, tenant: string): bigint | undefined => tenantBalances(s, tenant)?.committed
export const initial = (s: LedgerState, tenant: string): bigint | undefined => tenantBalances(s, tenant)?.initial
export const reserved = (s: LedgerState, tenant: string): bigint => tenantBalances(s, tenant)?.reserved ?? 0n
export const tenantCount = (s: LedgerState): number => s.tenants.size
export const activeReservations = (s: LedgerState): number => s.holds.size

/** Lifetime spend over all tenants, exact, or i64 max when it does not fit. */
export const totalCommitted = (s: LedgerState): bigint => {
  let sum = 0n
  for (const t of s.tenants.values()) sum += t.wide === undefined ? big(t.committed) : t.wide.committed
  return sum > Int.I64_MAX ? Int.I64_MAX : sum
}

/** `total_committed − baseline`, saturating in i64 (negative after a restore is possible). */
export const committedSinceLastCertificate = (s: LedgerState): bigint => Int.clampI64(totalCommitted(s) - s.baseline)
