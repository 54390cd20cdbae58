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
import { bigintOfSafe as big, safeNumberOf as small } from "@calybris/core/Word"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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
  /**
   * how many operation ids the ledger remembers from this point of the journal on (absent: the
   * default, `LedgerState.DEFAULT_OPERATION_WINDOW`; a journal without it was written with it)
   */
  operation_window: Schema.optional(Int.U64),
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
        ...opt("expires_at_ms", w.expires_at_ms),
        ...(w.kind === "admit" && w.operation_id !== undefined ? opt("binding", L.bindingOfAudited(w.audited)) : {})
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
    ...(s.operations.limit === L.DEFAULT_OPERATION_WINDOW ? {} : { operation_window: BigInt(s.operations.limit) }),
    next_reservation: s.nextReservation,
    snapshot_version: s.snapshotVersion,
    baseline: s.baseline
  } as unknown as Checkpoint
}

/**
 * The state of a checkpoint (its operation window checked by the caller: `consistency.ts`). A
 * checkpoint written before the window existed remembers every id: the oldest beyond the
 * default window are forgotten as it loads, as its writer would have forgotten them.
 */
export const stateOf = (c: Checkpoint): L.LedgerState => {
  const s = new L.LedgerState()
  if (c.operation_window !== undefined) s.operations.limit = Number(c.operation_window)
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

// ---------------------------------------------------------------------------------------------
// Fast codecs for command groups (the bulk of a journal). Each builds or reads exactly what the
// Schemas above build or read, for the values it recognises; for anything else it gives up
// (undefined) and the Schema runs instead, so every error (and every accepted value) is the
// Schema's.

const isI64 = (x: bigint): boolean => x >= Int.I64_MIN && x <= Int.I64_MAX
const isU64 = (x: bigint): boolean => x >= 0n && x <= Int.U64_MAX

/** A wire integer (a safe number or a bigint) as a bigint in range, or undefined. */
const readInt = (x: Json.Json | undefined, u64: boolean): bigint | undefined => {
  let b: bigint
  if (typeof x === "bigint") b = x
  else if (typeof x === "number" && Number.isSafeInteger(x)) b = big(x)
  else return undefined
  return (u64 ? isU64(b) : isI64(b)) ? b : undefined
}

const isJsonValue = Schema.is(JsonValue)

const GIVE_UP = Symbol("give up")

/** An optional member: absent → undefined; present and valid → value; else GIVE_UP. */
const optInt = (m: Json.JsonObject, key: string): bigint | undefined | typeof GIVE_UP => {
  if (!m.has(key)) return undefined
  return readInt(m.get(key), false) ?? GIVE_UP
}
const optString = (m: Json.JsonObject, key: string): string | undefined | typeof GIVE_UP => {
  if (!m.has(key)) return undefined
  const v = m.get(key)
  return typeof v === "string" ? v : GIVE_UP
}

/** The command of one wire command (as `fromWire(decode(json))` gives it), or undefined. */
const fastCommand = (json: Json.Json): L.Command | undefined => {
  if (!(json instanceof Map)) return undefined
  const m = json as Json.JsonObject
  const kind = m.get("kind")
  switch (kind) {
    case "reserve":
    case "admit": {
      const tenant = m.get("tenant_id")
      const amount = readInt(m.get("amount"), false)
      const op = optString(m, "operation_id")
      const ttl = optInt(m, "ttl_ms")
      const at = optInt(m, "expires_at_ms")
      if (typeof tenant !== "string" || amount === undefined || op === GIVE_UP || ttl === GIVE_UP || at === GIVE_UP) {
        return undefined
      }
      if (kind === "admit" && !m.has("audited")) return undefined
      const c: Record<string, unknown> = { _tag: kind === "reserve" ? "Reserve" : "Admit", tenant, amount }
      if (op !== undefined) c["operation_id"] = op
      if (ttl !== undefined) c["ttl_ms"] = ttl
      if (at !== undefined) c["expires_at_ms"] = at
      if (kind === "admit" && op !== undefined) {
        const binding = L.bindingOfAudited(m.get("audited"))
        if (binding !== undefined) c["binding"] = binding
      }
      return c as L.Command
    }
    case "commit": {
      const reservation = readInt(m.get("reservation_id"), true)
      const actual = readInt(m.get("actual"), false)
      const op = optString(m, "operation_id")
      if (reservation === undefined || actual === undefined || op === GIVE_UP) return undefined
      return (op === undefined
        ? { _tag: "Commit", reservation, actual }
        : { _tag: "Commit", reservation, actual, operation_id: op }) as L.Command
    }
    case "release":
    case "expire": {
      const reservation = readInt(m.get("reservation_id"), true)
      if (reservation === undefined) return undefined
      if (kind === "expire") return { _tag: "Expire", reservation } as L.Command
      const op = optString(m, "operation_id")
      if (op === GIVE_UP) return undefined
      return (op === undefined
        ? { _tag: "Release", reservation }
        : { _tag: "Release", reservation, operation_id: op }) as L.Command
    }
    case "ensure_tenant": {
      const tenant = m.get("tenant_id")
      const amount = readInt(m.get("amount"), false)
      if (typeof tenant !== "string" || amount === undefined) return undefined
      return { _tag: "EnsureTenant", tenant, amount } as L.Command
    }
    default:
      return undefined
  }
}

/** What recovery needs of a journal entry: its commands, or its checkpoint. */
export type Replayable =
  | { readonly _tag: "Commands"; readonly commands: ReadonlyArray<L.Command> }
  | { readonly _tag: "Checkpoint"; readonly checkpoint: Checkpoint }

/** Decode a journal entry for replay (`decode` + `fromWire`, with the fast path for command groups). */
export const decodeReplayable = (json: Json.Json): Either.Either<Replayable, ParseResult.ParseError> => {
  if (json instanceof Map && json.get("v") === VERSION) {
    const list = json.get("commands")
    if (Array.isArray(list)) {
      const commands: Array<L.Command> = new Array(list.length)
      let i = 0
      for (; i < list.length; i++) {
        const c = fastCommand(list[i] as Json.Json)
        if (c === undefined) break
        commands[i] = c
      }
      if (i === list.length) return Either.right({ _tag: "Commands", commands })
    }
  }
  return Either.map(decodeEntry(json), (entry): Replayable =>
    "checkpoint" in entry
      ? { _tag: "Checkpoint", checkpoint: entry.checkpoint }
      : { _tag: "Commands", commands: entry.commands.map((w) => fromWire(w).command) })
}

/** The wire Json of one command (what `encode(toWire(j))` gives), or undefined to let the Schema decide. */
const fastWire = ({ audited, command: c }: Journaled): Json.JsonObject | undefined => {
  const m = new Map<string, Json.Json>()
  switch (c._tag) {
    case "Reserve":
    case "Admit": {
      if (typeof c.tenant !== "string" || !isI64(c.amount)) return undefined
      if (c.operation_id !== undefined && typeof c.operation_id !== "string") return undefined
      if (c._tag === "Admit" && !isJsonValue(audited ?? null)) return undefined
      m.set("kind", c._tag === "Reserve" ? "reserve" : "admit").set("tenant_id", c.tenant).set("amount", c.amount)
      if (c.operation_id !== undefined) m.set("operation_id", c.operation_id)
      if (c.ttl_ms !== undefined) {
        if (!isI64(c.ttl_ms)) return undefined
        m.set("ttl_ms", c.ttl_ms)
      }
      if (c.expires_at_ms !== undefined) {
        if (!isI64(c.expires_at_ms)) return undefined
        m.set("expires_at_ms", c.expires_at_ms)
      }
      if (c._tag === "Admit") m.set("audited", audited ?? null)
      return m
    }
    case "Commit":
      if (!isU64(c.reservation) || !isI64(c.actual)) return undefined
      if (c.operation_id !== undefined && typeof c.operation_id !== "string") return undefined
      m.set("kind", "commit").set("reservation_id", c.reservation).set("actual", c.actual)
      if (c.operation_id !== undefined) m.set("operation_id", c.operation_id)
      return m
    case "Release":
      if (!isU64(c.reservation)) return undefined
      if (c.operation_id !== undefined && typeof c.operation_id !== "string") return undefined
      m.set("kind", "release").set("reservation_id", c.reservation)
      if (c.operation_id !== undefined) m.set("operation_id", c.operation_id)
      return m
    case "Expire":
      if (!isU64(c.reservation)) return undefined
      return m.set("kind", "expire").set("reservation_id", c.reservation)
    case "EnsureTenant":
      if (typeof c.tenant !== "string" || !isI64(c.amount)) return undefined
      return m.set("kind", "ensure_tenant").set("tenant_id", c.tenant).set("amount", c.amount)
    default:
      return undefined
  }
}

/** The Json of a group of commands. */
export const encodeCommands = (
  commands: ReadonlyArray<Journaled>
): Either.Either<Json.Json, ParseResult.ParseError> => {
  const wire: Array<Json.Json> = new Array(commands.length)
  for (let i = 0; i < commands.length; i++) {
    const w = fastWire(commands[i] as Journaled)
    if (w === undefined) return encodeEntry({ v: VERSION, commands: commands.map(toWire) } as unknown as JournalEntry)
    wire[i] = w
  }
  return Either.right(new Map<string, Json.Json>([["v", VERSION], ["commands", wire]]))
}

/** The Json of a checkpoint. */
export const encodeCheckpoint = (s: L.LedgerState): Either.Either<Json.Json, ParseResult.ParseError> =>
  encodeEntry({ v: VERSION, checkpoint: checkpointOf(s) } as unknown as JournalEntry)

/** Decode a journal entry. */
export const decode = (json: Json.Json): Either.Either<JournalEntry, ParseResult.ParseError> => decodeEntry(json)
