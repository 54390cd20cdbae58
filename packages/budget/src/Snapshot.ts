/**
 * Ledger snapshots (SPEC §6.2–6.5): the wire shape, conservation status, totals, certificates
 * and the canonical ledger digest. All of it is pure, exact i64 arithmetic on bigints.
 */
import { TAG_LEDGER } from "@calybris/core/Digest"
import { sha256Hex } from "@calybris/core/Hash"
import * as Int from "@calybris/core/Int"
import { jsonObject } from "@calybris/core/JsonSchema"
import * as Brand from "effect/Brand"
import * as Schema from "effect/Schema"
import { AggregateOverflow, Violation } from "./LedgerError.js"

/** One tenant's balances in a snapshot. */
export const TenantBalance = jsonObject({
  tenant_id: Schema.String,
  initial_microcents: Int.I64,
  remaining_microcents: Int.I64,
  reserved_microcents: Int.I64,
  committed_microcents: Int.I64
})
export type TenantBalance = typeof TenantBalance.Type

/** A snapshot of the ledger (tenants sorted by the UTF-8 bytes of their ids when the engine takes it). */
export const Snapshot = jsonObject({
  version: Int.U64,
  tenants: Schema.Array(TenantBalance),
  active_reservations: Int.U64
})
export type Snapshot = typeof Snapshot.Type

const brandI64: (n: bigint) => Int.I64 = Brand.nominal<Int.I64>()
const brandU64: (n: bigint) => Int.U64 = Brand.nominal<Int.U64>()

/**
 * The brands of the integers these constructors are given, checked: the engine computes them in
 * range, so the check never fails there; given a value out of its width by other code, it throws
 * a RangeError naming the field (a defect: the digest's fixed-width fields would have cut it
 * short silently, -1 and 2^64 − 1 one digest: a hostile review).
 */
const i64 = (n: bigint, field: string): Int.I64 => {
  if (!Int.fitsI64(n)) throw new RangeError(`Snapshot: ${field} ${n} is not an i64`)
  return brandI64(n)
}
const u64 = (n: bigint, field: string): Int.U64 => {
  if (!Int.fitsU64(n)) throw new RangeError(`Snapshot: ${field} ${n} is not a u64`)
  return brandU64(n)
}

/**
 * A tenant id as the digest spells it: well-formed Unicode, else a RangeError (the digest writes
 * its UTF-8, in which a lone surrogate becomes U+FFFD: "\uD800" and "\uFFFD" gave one digest; a
 * hostile review). The ledger takes no other id (`Arguments.tenantId`).
 */
const tenantId = (id: string): string => {
  if (!id.isWellFormed()) throw new RangeError(`Snapshot: tenant_id ${JSON.stringify(id)} holds a lone surrogate`)
  return id
}

/** A tenant's balances as the engine computed them (exact, each in i64 by construction). */
export const tenantBalance = (
  tenant_id: string,
  initial: bigint,
  remaining: bigint,
  reserved: bigint,
  committed: bigint
): TenantBalance => ({
  tenant_id: tenantId(tenant_id),
  initial_microcents: i64(initial, "initial_microcents"),
  remaining_microcents: i64(remaining, "remaining_microcents"),
  reserved_microcents: i64(reserved, "reserved_microcents"),
  committed_microcents: i64(committed, "committed_microcents")
})

/** A snapshot of the engine's balances (`version` and the hold count are u64 by construction). */
export const makeSnapshot = (
  version: bigint,
  tenants: ReadonlyArray<TenantBalance>,
  activeReservations: bigint
): Snapshot => ({
  version: u64(version, "version"),
  tenants,
  active_reservations: u64(activeReservations, "active_reservations")
})

/** Compare two strings by their UTF-8 bytes (= by code points), not by UTF-16 code units. */
export const compareUtf8 = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // a surrogate starts an astral code point, which sorts above every BMP code point
    const sx = x >= 0xd800 && x <= 0xdfff
    const sy = y >= 0xd800 && y <= 0xdfff
    if (sx === sy) return x - y
    return sx ? 1 : -1
  }
  return a.length - b.length
}

/** The conservation status of a snapshot whose tenants all add up (SPEC §6.3). */
export class Balanced extends Schema.TaggedClass<Balanced>()("Balanced", {}) {
  /** the reference's text */
  get message(): string {
    return "conservation balanced"
  }
}
/** The one `Balanced` status (it has no fields). */
export const balanced = new Balanced()

export { AggregateOverflow, Violation }

/** Conservation status of a snapshot (SPEC §6.3): `Balanced`, `Violation` or `AggregateOverflow`. */
export const ConservationStatus = Schema.Union(Balanced, Violation, AggregateOverflow)
export type ConservationStatus = typeof ConservationStatus.Type

/** The reference's text for a status. */
export const statusText = (status: ConservationStatus): string => status.message

/** Walk the tenants in array order; the first failure is the status. */
export const conservationStatus = (snapshot: Snapshot): ConservationStatus => {
  for (const t of snapshot.tenants) {
    const partial = t.remaining_microcents + t.reserved_microcents
    if (!Int.fitsI64(partial)) return new AggregateOverflow()
    const sum = partial + t.committed_microcents
    if (!Int.fitsI64(sum)) return new AggregateOverflow()
    if (sum !== t.initial_microcents) {
      const delta = sum - t.initial_microcents
      if (!Int.fitsI64(delta)) return new AggregateOverflow()
      return new Violation({ tenant_id: t.tenant_id, delta_microcents: delta })
    }
    if (t.remaining_microcents < 0n) {
      return new Violation({ tenant_id: t.tenant_id, delta_microcents: t.remaining_microcents })
    }
  }
  return balanced
}

/** Exact totals of initial and committed funds; `representable` when both fit i64. */
export interface Totals {
  readonly initial: bigint
  readonly committed: bigint
  readonly representable: boolean
}

export const totals = (snapshot: Snapshot): Totals => {
  let initial = 0n
  let committed = 0n
  for (const t of snapshot.tenants) {
    initial += t.initial_microcents
    committed += t.committed_microcents
  }
  return { initial, committed, representable: Int.fitsI64(initial) && Int.fitsI64(committed) }
}

/** A proof that a snapshot conserves funds (SPEC §6.4). */
export const ConservationProof = jsonObject({
  ledger_digest_hex: Schema.String,
  snapshot_version: Int.U64,
  tenant_count: Int.U64,
  active_reservations: Int.U64,
  total_initial_microcents: Int.I64,
  total_committed_microcents: Int.I64,
  aggregate_totals_representable: Schema.Boolean
})
export type ConservationProof = typeof ConservationProof.Type

/** A financial certificate of a snapshot (SPEC §6.4). */
export const FinancialCertificate = jsonObject({
  snapshot_version: Int.U64,
  ledger_digest_hex: Schema.String,
  tenant_count: Int.U64,
  active_reservations: Int.U64,
  conservation_balanced: Schema.Boolean,
  total_initial_microcents: Int.I64,
  total_committed_microcents: Int.I64,
  aggregate_totals_representable: Schema.Boolean,
  committed_since_last_certificate: Int.I64
})
export type FinancialCertificate = typeof FinancialCertificate.Type

const encoder = new TextEncoder()

/** units >= 0xD800: where UTF-16 order (the native string order) may differ from UTF-8 order */
const HIGH = /[\uD800-\uFFFF]/

/** Scratch word for writing an i64 as two little-endian 32-bit halves (it wraps like `setBigInt64`). */
const word = new BigInt64Array(1)
const halves = new Int32Array(word.buffer)
word[0] = 1n
const LO = halves[0] === 1 ? 0 : 1
const HI = 1 - LO

/**
 * Write the tenants in `order` (indices into `tenants`, or null for the listing order) into `out`
 * from `at`; returns the end offset, or -1 when an id in listing order has a unit >= 0xD800 (the
 * caller then sorts by UTF-8 bytes, which the native order does not guarantee for such ids).
 */
const writeTenants = (
  out: Uint8Array,
  view: DataView,
  at: number,
  tenants: ReadonlyArray<TenantBalance>,
  order: ReadonlyArray<number> | null
): number => {
  let p = at
  const n = tenants.length
  for (let k = 0; k < n; k++) {
    const t = tenants[order === null ? k : (order[k] as number)] as TenantBalance
    const id = t.tenant_id
    const len = id.length
    const start = p + 4
    let j = 0
    for (; j < len; j++) {
      const c = id.charCodeAt(j)
      if (c >= 0x80) break
      out[start + j] = c
    }
    let bytes = len
    if (j < len) {
      if (order === null && HIGH.test(id)) return -1
      // (a snapshot built by hand: the constructor's check, again where the bytes are written)
      tenantId(id)
      bytes = encoder.encodeInto(id, out.subarray(start)).written
    }
    view.setUint32(p, bytes, true)
    p = start + bytes
    word[0] = t.initial_microcents
    view.setInt32(p, halves[LO] as number, true)
    view.setInt32(p + 4, halves[HI] as number, true)
    word[0] = t.remaining_microcents
    view.setInt32(p + 8, halves[LO] as number, true)
    view.setInt32(p + 12, halves[HI] as number, true)
    word[0] = t.reserved_microcents
    view.setInt32(p + 16, halves[LO] as number, true)
    view.setInt32(p + 20, halves[HI] as number, true)
    word[0] = t.committed_microcents
    view.setInt32(p + 24, halves[LO] as number, true)
    view.setInt32(p + 28, halves[HI] as number, true)
    p += 32
  }
  return p
}

/**
 * The canonical preimage of a snapshot (SPEC §6.5): tenants in UTF-8 byte order, written into
 * one buffer. A snapshot the engine took is already in that order: when its ids are strictly
 * increasing in native (UTF-16) order and none has a unit >= 0xD800, the two orders agree and
 * no sort is needed; otherwise the tenants are sorted by `compareUtf8` (stable).
 */
export const ledgerPreimage = (snapshot: Snapshot): Uint8Array => {
  const tenants = snapshot.tenants
  const n = tenants.length
  let units = 0
  let ascending = true
  let previous: string | undefined
  for (let i = 0; i < n; i++) {
    const id = (tenants[i] as TenantBalance).tenant_id
    units += id.length
    if (previous !== undefined && !(previous < id)) ascending = false
    previous = id
  }
  // a UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units)
  const out = new Uint8Array(TAG_LEDGER.length + 24 + n * 36 + units * 3)
  const view = new DataView(out.buffer)
  out.set(TAG_LEDGER, 0)
  let p = TAG_LEDGER.length
  // (the tenants' balances are checked by `tenantBalance`; the header here, at no cost)
  u64(snapshot.version, "version")
  u64(snapshot.active_reservations, "active_reservations")
  view.setBigUint64(p, snapshot.version, true)
  view.setBigUint64(p + 8, BigInt(n), true)
  view.setBigUint64(p + 16, snapshot.active_reservations, true)
  p += 24
  let end = ascending ? writeTenants(out, view, p, tenants, null) : -1
  if (end < 0) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      compareUtf8((tenants[a] as TenantBalance).tenant_id, (tenants[b] as TenantBalance).tenant_id) || a - b
    )
    end = writeTenants(out, view, p, tenants, order)
  }
  return out.subarray(0, end)
}

/** Hex SHA-256 of the snapshot's canonical bytes; independent of tenant order. */
export const ledgerDigest = (snapshot: Snapshot): string => sha256Hex(ledgerPreimage(snapshot))

/** `certify_snapshot(snapshot, balanced, since)` */
export const certifySnapshot = (snapshot: Snapshot, balanced: boolean, since: bigint): FinancialCertificate => {
  const t = totals(snapshot)
  return {
    snapshot_version: snapshot.version,
    ledger_digest_hex: ledgerDigest(snapshot),
    tenant_count: brandU64(BigInt(snapshot.tenants.length)),
    active_reservations: snapshot.active_reservations,
    conservation_balanced: balanced && t.representable,
    total_initial_microcents: brandI64(t.representable ? t.initial : 0n),
    total_committed_microcents: brandI64(t.representable ? t.committed : 0n),
    aggregate_totals_representable: t.representable,
    committed_since_last_certificate: i64(since, "committed_since_last_certificate")
  }
}

/** The proof of a balanced snapshot whose totals are representable (SPEC §6.4). */
export const conservationProof = (snapshot: Snapshot, t: Totals): ConservationProof => ({
  ledger_digest_hex: ledgerDigest(snapshot),
  snapshot_version: snapshot.version,
  tenant_count: brandU64(BigInt(snapshot.tenants.length)),
  active_reservations: snapshot.active_reservations,
  total_initial_microcents: brandI64(t.initial),
  total_committed_microcents: brandI64(t.committed),
  aggregate_totals_representable: true
})
