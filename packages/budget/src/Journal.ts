/**
 * The ledger journal's records: versioned Schemas, one tag (`kind`) per command kind, so old
 * journals stay readable. One WAL entry holds one group of commands applied together (a group
 * commit, or an admit with its audited decision), or a checkpoint of the whole state.
 *
 * Version 1: `{"v":1,"commands":[{"kind":"reserve",...},...]}` or `{"v":1,"checkpoint":{...}}`.
 */
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import { jsonObject, JsonValue } from "@calybris/core/JsonSchema"
import type * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { small } from "./internal/exact.js"
import * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

export const VERSION = 1

const op = { operation_id: Schema.optional(Schema.String) }
const ttl = { ttl_ms: Schema.optional(Int.I64), expires_at_ms: Schema.optional(Int.I64) }
const kind = <K extends string>(k: K) => ({ kind: Schema.Literal(k) })

/** One journaled command (its wire form). */
export const JournalCommand = Schema.Union(
  jsonObject({ ...kind("ensure_tenant"), tenant_id: Schema.String, amount: Int.I64 }),
  jsonObject({ ...kind("top_up"), tenant_id: Schema.String, amount: Int.I64, ...op }),
  jsonObject({ ...kind("set_cap"), tenant_id: Schema.String, max: Int.I64 }),
  jsonObject({ ...kind("reserve"), tenant_id: Schema.String, amount: Int.I64, ...op, ...ttl }),
  jsonObject({ ...kind("commit"), reservation_id: Int.U64, actual: Int.I64, ...op }),
  jsonObject({ ...kind("release"), reservation_id: Int.U64, ...op }),
  jsonObject({ ...kind("expire"), reservation_id: Int.U64 }),
  jsonObject({ ...kind("snapshot") }),
  jsonObject({ ...kind("verify_conservation") }),
  jsonObject({ ...kind("prove_conservation") }),
  jsonObject({ ...kind("certify") }),
  jsonObject({ ...kind("restore"), snapshot: Snapshot.Snapshot }),
  jsonObject({ ...kind("admit"), tenant_id: Schema.String, amount: Int.I64, ...op, ...ttl, audited: JsonValue })
)
export type JournalCommand = typeof JournalCommand.Type

const Hold = jsonObject({
  reservation_id: Int.U64,
  tenant_id: Schema.String,
  amount: Int.I64,
  expires_at_ms: Schema.optional(Int.I64)
})
const Cap = jsonObject({ tenant_id: Schema.String, max: Int.I64 })
const Operation = jsonObject({ operation_id: Schema.String, fingerprint: Schema.String, result: JsonValue })

/** The whole ledger state at one point of the journal. */
export const Checkpoint = jsonObject({
  tenants: Schema.Array(Snapshot.TenantBalance),
  holds: Schema.Array(Hold),
  caps: Schema.Array(Cap),
  operations: Schema.Array(Operation),
  next_reservation: Int.U64,
  snapshot_version: Int.U64,
  baseline: Int.I64
})
export type Checkpoint = typeof Checkpoint.Type

/** A journal entry. */
export const JournalEntry = Schema.Union(
  jsonObject({ v: Schema.Literal(VERSION), commands: Schema.Array(JournalCommand) }),
  jsonObject({ v: Schema.Literal(VERSION), checkpoint: Checkpoint })
)
export type JournalEntry = typeof JournalEntry.Type

/** A command with what only the journal carries (the audited decision of an admit). */
export interface Journaled {
  readonly command: L.Command
  readonly audited?: Json.Json | undefined
}

const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  value === undefined ? {} : ({ [key]: value } as Record<K, V>)

/** The wire form of a command. */
export const toWire = ({ audited, command: c }: Journaled): JournalCommand => {
  let w: unknown
  switch (c._tag) {
    case "EnsureTenant":
      w = { kind: "ensure_tenant", tenant_id: c.tenant, amount: c.amount }
      break
    case "TopUp":
      w = { kind: "top_up", tenant_id: c.tenant, amount: c.amount, ...opt("operation_id", c.operation_id) }
      break
    case "SetExposureCap":
      w = { kind: "set_cap", tenant_id: c.tenant, max: c.max }
      break
    case "Reserve":
    case "Admit":
      w = {
        kind: c._tag === "Reserve" ? "reserve" : "admit",
        tenant_id: c.tenant,
        amount: c.amount,
        ...opt("operation_id", c.operation_id),
        ...opt("ttl_ms", c.ttl_ms),
        ...opt("expires_at_ms", c.expires_at_ms),
        ...(c._tag === "Admit" ? { audited: audited ?? null } : {})
      }
      break
    case "Commit":
      w = { kind: "commit", reservation_id: c.reservation, actual: c.actual, ...opt("operation_id", c.operation_id) }
      break
    case "Release":
      w = { kind: "release", reservation_id: c.reservation, ...opt("operation_id", c.operation_id) }
      break
    case "Expire":
      w = { kind: "expire", reservation_id: c.reservation }
      break
    case "TakeSnapshot":
      w = { kind: "snapshot" }
      break
    case "VerifyConservation":
      w = { kind: "verify_conservation" }
      break
    case "ProveConservation":
      w = { kind: "prove_conservation" }
      break
    case "CertifyLedger":
      w = { kind: "certify" }
      break
    case "Restore":
      w = { kind: "restore", snapshot: c.snapshot }
      break
  }
  return w as JournalCommand
}

/** The command of a wire form. */
export const fromWire = (w: JournalCommand): Journaled => {
  let c: unknown
  const o = (x: { readonly operation_id?: string | undefined }) => opt("operation_id", x.operation_id)
  switch (w.kind) {
    case "ensure_tenant":
      c = { _tag: "EnsureTenant", tenant: w.tenant_id, amount: w.amount }
      break
    case "top_up":
      c = { _tag: "TopUp", tenant: w.tenant_id, amount: w.amount, ...o(w) }
      break
    case "set_cap":
      c = { _tag: "SetExposureCap", tenant: w.tenant_id, max: w.max }
      break
    case "reserve":
    case "admit":
      c = {
        _tag: w.kind === "reserve" ? "Reserve" : "Admit",
        tenant: w.tenant_id,
        amount: w.amount,
        ...o(w),
        ...opt("ttl_ms", w.ttl_ms),
        ...opt("expires_at_ms", w.expires_at_ms)
      }
      break
    case "commit":
      c = { _tag: "Commit", reservation: w.reservation_id, actual: w.actual, ...o(w) }
      break
    case "release":
      c = { _tag: "Release", reservation: w.reservation_id, ...o(w) }
      break
    case "expire":
      c = { _tag: "Expire", reservation: w.reservation_id }
      break
    case "snapshot":
      c = { _tag: "TakeSnapshot" }
      break
    case "verify_conservation":
      c = { _tag: "VerifyConservation" }
      break
    case "prove_conservation":
      c = { _tag: "ProveConservation" }
      break
    case "certify":
      c = { _tag: "CertifyLedger" }
      break
    case "restore":
      c = { _tag: "Restore", snapshot: w.snapshot }
      break
  }
  return { command: c as L.Command, audited: w.kind === "admit" ? w.audited : undefined }
}

// results remembered under operation ids: `_tag` plus integer fields, all bigints

const resultToJson = (result: L.Result): Json.Json => {
  const m = new Map<string, Json.Json>()
  if (result !== undefined && typeof result === "object") {
    for (const [k, v] of Object.entries(result)) {
      m.set(k, typeof v === "bigint" || typeof v === "string" ? v : null)
    }
  }
  return m
}

const resultFromJson = (json: Json.Json): L.Result => {
  const out: Record<string, unknown> = {}
  if (Json.isObject(json)) {
    for (const [k, v] of json) out[k] = typeof v === "number" ? BigInt(v) : v
  }
  return out as unknown as L.Result
}

/** The checkpoint of a state. */
export const checkpointOf = (s: L.LedgerState): Checkpoint => {
  const holds = [...s.holds].map(([id, h]) => ({
    reservation_id: id,
    tenant_id: h.tenant,
    amount: h.amount,
    ...opt("expires_at_ms", h.expiresAt)
  }))
  return {
    tenants: L.balances(s, s.snapshotVersion).tenants,
    holds,
    caps: [...s.caps].map(([tenant_id, max]) => ({ tenant_id, max })),
    operations: [...s.operations].map(([operation_id, r]) => ({
      operation_id,
      fingerprint: r.fingerprint,
      result: resultToJson(r.result)
    })),
    next_reservation: s.nextReservation,
    snapshot_version: s.snapshotVersion,
    baseline: s.baseline
  } as unknown as Checkpoint
}

/** The state of a checkpoint. */
export const stateOf = (c: Checkpoint): L.LedgerState => {
  const s = new L.LedgerState()
  for (const cap of c.caps) s.caps.set(cap.tenant_id, cap.max)
  for (const t of c.tenants) {
    L.putTenant(s, t.tenant_id, {
      initial: t.initial_microcents,
      remaining: t.remaining_microcents,
      reserved: t.reserved_microcents,
      committed: t.committed_microcents
    })
  }
  for (const h of c.holds) {
    L.putHold(
      s,
      h.reservation_id,
      h.tenant_id,
      s.tenants.get(h.tenant_id),
      h.amount,
      small(h.amount),
      h.expires_at_ms
    )
  }
  for (const o of c.operations) {
    s.operations.set(o.operation_id, { fingerprint: o.fingerprint, result: resultFromJson(o.result) })
  }
  s.nextReservation = c.next_reservation
  s.snapshotVersion = c.snapshot_version
  s.baseline = c.baseline
  return s
}

const encodeEntry = Schema.encodeEither(JournalEntry)
const decodeEntry = Schema.decodeUnknownEither(JournalEntry)

/** The Json of a group of commands. */
export const encodeCommands = (commands: ReadonlyArray<Journaled>): Either.Either<Json.Json, ParseResult.ParseError> =>
  encodeEntry({ v: VERSION, commands: commands.map(toWire) } as unknown as JournalEntry)

/** The Json of a checkpoint. */
export const encodeCheckpoint = (s: L.LedgerState): Either.Either<Json.Json, ParseResult.ParseError> =>
  encodeEntry({ v: VERSION, checkpoint: checkpointOf(s) } as unknown as JournalEntry)

/** Decode a journal entry. */
export const decode = (json: Json.Json): Either.Either<JournalEntry, ParseResult.ParseError> => decodeEntry(json)
