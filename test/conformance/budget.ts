/**
 * budget.jsonl (every script replayed on a fresh ledger: each result, the final snapshot,
 * digest, proof and certificate), ledger.jsonl (raw snapshots), and the ledger_digest entries
 * of digests.json.
 */
import * as Command from "@calybris/budget/Command"
import * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Hash from "@calybris/core/Hash"
import type * as Json from "@calybris/core/Json"
import * as Schema from "effect/Schema"
import {
  asInteger,
  canonical,
  decode,
  expectSame,
  type FileResult,
  get,
  getArray,
  getString,
  readJsonl,
  Tally
} from "./vectors.js"

export const encodeSnapshot = Schema.encodeSync(Snapshot.Snapshot)
export const encodeReserve = Schema.encodeSync(Command.ReserveResultWire)
export const encodeSettlement = Schema.encodeSync(Command.SettlementResultWire)
export const encodeTopUp = Schema.encodeSync(Command.TopUpResultWire)
const encodeProof = Schema.encodeSync(Snapshot.ConservationProof)
export const encodeCertificate = Schema.encodeSync(Snapshot.FinancialCertificate)

type Fields = ReadonlyArray<readonly [string, Json.Json]>
const obj = (fields: Fields): Json.Json => new Map(fields)

/** A tagged result as the reference's `{"kind": ..., fields}` object. */
const kinded = (result: { readonly _tag: string }, extra: Fields = []): Json.Json => {
  const m = new Map<string, Json.Json>([["kind", result._tag]])
  for (const [k, v] of Object.entries(result)) {
    if (k !== "_tag") m.set(k, v as Json.Json)
  }
  for (const [k, v] of extra) m.set(k, v)
  return m
}

export const statusJson = (status: Snapshot.ConservationStatus): Json.Json =>
  kinded(status, [["display", Snapshot.statusText(status)]])

export const restoreJson = (r: L.RestoreResult): Json.Json => {
  if (r._tag === "Restored") return obj([["kind", "Ok"]])
  const e = r.error
  const display = e.message
  if (e._tag === "ConservationViolation") {
    return obj([["kind", e._tag], ["status", statusJson(e.status)], ["display", display]])
  }
  return kinded(e, [["display", display]])
}

export const proveJson = (r: L.ProveResult): Json.Json =>
  r._tag === "Proved" ? obj([["ok", encodeProof(r.proof)]]) : obj([["err", statusJson(r.status)]])

export const snapshotJson = (snapshot: Snapshot.Snapshot): Json.Json =>
  obj([["snapshot", encodeSnapshot(snapshot)], ["ledger_digest", Snapshot.ledgerDigest(snapshot)]])

const i64 = (v: Json.Json | undefined): bigint => {
  const n = asInteger(v)
  if (typeof n !== "bigint") throw new Error(`expected an integer, got ${canonical(v)}`)
  return n
}
const str = (v: Json.Json | undefined): string => {
  if (typeof v !== "string") throw new Error(`expected a string, got ${canonical(v)}`)
  return v
}
const value = (v: bigint | number | undefined): Json.Json => obj([["value", v === undefined ? null : v]])

const runOp = (s: L.LedgerState, op: Json.Json): Json.Json => {
  const name = getString(op, "op")
  const tenant = () => str(get(op, "tenant_id"))
  switch (name) {
    case "ensure_tenant":
      L.ensureTenant(s, tenant(), i64(get(op, "budget_microcents")))
      return null
    case "set_max_reserved_microcents":
      L.setExposureCap(s, tenant(), i64(get(op, "max_microcents")))
      return null
    // the results' wire schemas print them (the reference's `{"kind": …, fields}`)
    case "try_reserve":
      return encodeReserve(L.reserve(s, tenant(), i64(get(op, "cost_microcents"))))
    case "commit":
      return encodeSettlement(L.commit(s, i64(get(op, "reservation_id")), i64(get(op, "actual_microcents"))))
    case "release":
      return encodeSettlement(L.release(s, i64(get(op, "reservation_id"))))
    case "top_up_tenant":
      return encodeTopUp(L.topUp(s, tenant(), i64(get(op, "amount_microcents"))))
    case "snapshot":
      return snapshotJson(L.takeSnapshot(s))
    case "verify_conservation":
      return statusJson(L.verifyConservation(s))
    case "certify_ledger":
      return encodeCertificate(L.certifyLedger(s))
    case "prove_conservation":
      return proveJson(L.proveConservation(s))
    case "restore_from_snapshot":
      return restoreJson(L.restore(s, decode(Snapshot.Snapshot, get(op, "snapshot"), "snapshot")))
    case "remaining_microcents":
      return value(L.remaining(s, tenant()))
    case "committed_microcents":
      return value(L.committed(s, tenant()))
    case "initial_microcents":
      return value(L.initial(s, tenant()))
    case "reserved_microcents":
      return value(L.reserved(s, tenant()))
    case "tenant_count":
      return value(L.tenantCount(s))
    case "active_reservations":
      return value(L.activeReservations(s))
    case "snapshot_version":
      return value(s.snapshotVersion)
    case "total_committed_microcents":
      return value(L.totalCommitted(s))
    case "committed_since_last_certificate":
      return value(L.committedSinceLastCertificate(s))
    default:
      throw new Error(`unknown op ${String(name)}`)
  }
}

export const checkScript = (line: Json.Json): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const s = new L.LedgerState()
  const ops = getArray(line, "ops")
  const results = getArray(line, "results")
  // one result per op (extra results were never compared)
  if (results.length !== ops.length) problems.push(`${ops.length} ops but ${results.length} results`)
  ops.forEach((op, i) => {
    const actual = runOp(s, op)
    expectSame(problems, `op ${i} ${String(getString(op, "op"))}`, canonical(actual), canonical(results[i]))
  })
  const final = L.takeSnapshot(s)
  expectSame(problems, "final_snapshot", canonical(encodeSnapshot(final)), canonical(get(line, "final_snapshot")))
  expectSame(problems, "ledger_digest", Snapshot.ledgerDigest(final), String(getString(line, "ledger_digest")))
  expectSame(
    problems,
    "prove_conservation",
    canonical(proveJson(L.proveConservation(s))),
    canonical(get(line, "prove_conservation"))
  )
  expectSame(
    problems,
    "certificate",
    canonical(encodeCertificate(L.certifyLedger(s))),
    canonical(get(line, "certificate"))
  )
  return problems
}

export const runBudget = (path: string): FileResult => {
  const tally = new Tally()
  for (const line of readJsonl(path)) {
    tally.case(`script ${String(asInteger(get(line, "script")))}`, () => checkScript(line))
  }
  return tally.result()
}

export const checkLedgerCase = (line: Json.Json): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const snapshot = decode(Snapshot.Snapshot, get(line, "snapshot"), "snapshot")
  expectSame(problems, "ledger_digest", Snapshot.ledgerDigest(snapshot), String(getString(line, "ledger_digest")))
  expectSame(
    problems,
    "conservation_status_for_snapshot",
    canonical(statusJson(Snapshot.conservationStatus(snapshot))),
    canonical(get(line, "conservation_status_for_snapshot"))
  )
  expectSame(
    problems,
    "certify_snapshot",
    canonical(encodeCertificate(Snapshot.certifySnapshot(snapshot, true, 0n))),
    canonical(get(line, "certify_snapshot"))
  )
  expectSame(
    problems,
    "restore_on_fresh_engine",
    canonical(restoreJson(L.restore(new L.LedgerState(), snapshot))),
    canonical(get(line, "restore_on_fresh_engine"))
  )
  return problems
}

export const runLedger = (path: string): FileResult => {
  const tally = new Tally()
  for (const line of readJsonl(path)) {
    tally.case(`case ${String(asInteger(get(line, "case")))}`, () => checkLedgerCase(line))
  }
  return tally.result()
}

/** digests.json ledger_digest entries: preimage and digest. */
export const checkLedgerDigest = (entry: Json.Json): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const snapshot = decode(Snapshot.Snapshot, get(entry, "snapshot"), "snapshot")
  const preimage = Snapshot.ledgerPreimage(snapshot)
  expectSame(problems, "preimage", Hash.toHex(preimage), String(getString(entry, "preimage_hex")))
  expectSame(problems, "preimage_len", String(preimage.length), canonical(get(entry, "preimage_len")))
  expectSame(problems, "digest", Snapshot.ledgerDigest(snapshot), String(getString(entry, "digest")))
  return problems
}
