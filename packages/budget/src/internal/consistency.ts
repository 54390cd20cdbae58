/**
 * What recovery checks before it trusts a journal's content (the chain only proves who wrote
 * it, not that it holds together):
 *
 * - every checkpoint passes the restore checks (SPEC §6.6: no tenant twice, no negative field,
 *   conservation) and the consistency of what a restore does not carry: every open hold has an
 *   id in `[1, next_reservation)` (the next reserve must not reuse it), a positive amount and a
 *   listed tenant, each tenant's holds sum to its `reserved` (no ghost reservation), no hold,
 *   cap or operation id is listed twice, every cap is positive, every remembered operation
 *   remembers a result of its command's kind — applied or refused (a reservation among them an
 *   id already issued; a reserve's or admit's result one its fingerprint's tenant and amount
 *   agree with; a commit or release applied one of a hold issued and no longer open, a commit's
 *   its own actual) —, no more are remembered than the checkpoint's operation window, and the
 *   certificate baseline is not negative;
 * - every journaled command applies on replay with the outcome it had when it was journaled:
 *   the writer journals only commands that changed the state (`engine.ts`), so a replayed
 *   reserve, admit, commit, release, expire, top-up or restore that is refused (or that is a
 *   retry of an operation id still remembered) means the journal is inconsistent, and so does a
 *   negative ensure or the expiry of a hold that has none; every argument is one the ledger
 *   takes (an admit's hold its audited decision's cost, as `Ledger.apply` checks). A refusal journaled under an
 *   operation id (a `refused` record, issue 15) must carry an id not yet remembered and meet,
 *   on replay, exactly the refusal it records (it changes nothing but the remembered ids).
 *   Replay remembers ids in the same
 *   window as the writer (its size is the journal's: `operation_window` of the last checkpoint,
 *   else the default), so an id that had left the window may legitimately be applied again.
 *
 * The first problem fails recovery with `LedgerJournalInconsistent` naming the entry.
 */
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import { auditedCost, isFunds, isOperationId, isTenantId, validateCommand } from "../Arguments.js"
import * as Journal from "../Journal.js"
import { encodeCheckpoint, stateOf } from "../Journal.js"
import { LedgerJournalInconsistent, LedgerRecoveryError } from "../LedgerError.js"
import * as L from "../LedgerState.js"
import * as Snapshot from "../Snapshot.js"
import { isLimit } from "./operations.js"

/** An id as it appears in a message: bounded (an id can be any length). */
const shown = (id: string): string => id.length <= 64 ? id : `${id.slice(0, 64)}… (${id.length} characters)`
/** A whole reason, bounded too (a restore's refusal quotes the snapshot's tenant ids). */
const bounded = (reason: string): string =>
  reason.length <= 1_000 ? reason : `${reason.slice(0, 1_000)}… (${reason.length} characters)`
const quoted = (id: string): string => JSON.stringify(shown(id))

// what the ledger's arguments are (`Arguments`): the writer takes no other, so a journal holds no other
const TENANT_ID = "is not a tenant id the ledger takes (well-formed Unicode of at most 1,024 UTF-8 bytes)"
const OPERATION_ID = "is not an operation id the ledger takes (well-formed Unicode of 1 to 256 UTF-8 bytes)"

/**
 * What is wrong with the arguments of a journaled command (or of a refused one's command), or
 * undefined: each in the range the ledger's operations take (`Arguments.validateCommand`, a
 * hold's duration and instant together included; the writer journals a command only once they
 * passed).
 */
const argumentsProblem = (c: L.Command): string | undefined => {
  const invalid = validateCommand(c) ?? (c._tag === "Admit" ? admitAudited(c) : undefined)
  return invalid === undefined ? undefined : `${describe(c)} has an argument the ledger refuses: ${invalid.message}`
}

/**
 * A journaled admit's audited decision as `Ledger.apply` checks it (`Arguments.audited`): an
 * audited decision whose cost is not the admit's hold is refused (the writer never journals one,
 * and the journal audit calls it tampered; recovery took it: a hostile review).
 */
const admitAudited = (c: Extract<L.Command, { readonly _tag: "Admit" }>) => {
  const record = (c as { readonly audited?: Json.Json }).audited
  return record === undefined || record === null ? undefined : auditedCost(record, c.amount)
}

/** What is wrong with a checkpoint as written (before its state is built), or undefined. */
const checkpointProblem = (c: Journal.Checkpoint): string | undefined => {
  // the restore checks (SPEC §6.6), in its order; reserved is checked against the holds below
  const tenants = new Map<string, bigint>()
  for (const t of c.tenants) {
    const id = t.tenant_id
    if (!isTenantId(id)) return `tenant id ${quoted(id)} in checkpoint ${TENANT_ID}`
    if (tenants.has(id)) return `duplicate tenant_id in checkpoint: ${shown(id)}`
    tenants.set(id, 0n)
    const fields = [
      ["remaining_microcents", t.remaining_microcents],
      ["initial_microcents", t.initial_microcents],
      ["committed_microcents", t.committed_microcents],
      ["reserved_microcents", t.reserved_microcents]
    ] as const
    for (const [field, value] of fields) {
      if (value < 0n) return `tenant ${shown(id)} has negative ${field}: ${value}`
    }
  }
  const status = Snapshot.conservationStatus(Snapshot.makeSnapshot(0n, c.tenants, BigInt(c.holds.length)))
  if (status._tag === "Violation") {
    return `checkpoint failed conservation: conservation violated for tenant ${
      shown(status.tenant_id)
    }: delta=${status.delta_microcents} microcents`
  }
  if (status._tag !== "Balanced") return `checkpoint failed conservation: ${Snapshot.statusText(status)}`
  // the holds and the reservation id counter
  const next = c.next_reservation
  // the counter starts at 1 and never wraps (a reserve at u64 max is refused)
  if (next === 0n) return "the next reservation id is 0 (ids start at 1)"
  const ids = new Set<bigint>()
  for (const h of c.holds) {
    const id = h.reservation_id
    if (ids.has(id)) return `duplicate reservation_id in checkpoint: ${id}`
    ids.add(id)
    if (id === 0n) return "hold 0 is not a reservation id (ids start at 1)"
    if (id >= next) {
      return `hold ${id} is not below the next reservation id ${next} (the next reserve would reuse its id)`
    }
    if (h.amount <= 0n) return `hold ${id} holds ${h.amount} microcents (a hold holds a positive amount)`
    if (h.expires_at_ms !== undefined && !isFunds(h.expires_at_ms)) {
      return `hold ${id} expires at ${h.expires_at_ms} (an expiry is 0 to i64 max epoch milliseconds)`
    }
    const sum = tenants.get(h.tenant_id)
    if (sum === undefined) return `hold ${id} names tenant ${shown(h.tenant_id)}, which the checkpoint does not list`
    tenants.set(h.tenant_id, sum + h.amount)
  }
  for (const t of c.tenants) {
    const held = tenants.get(t.tenant_id) ?? 0n
    if (held !== t.reserved_microcents) {
      return `tenant ${
        shown(t.tenant_id)
      } has reserved_microcents=${t.reserved_microcents} but its open holds sum to ${held}`
    }
  }
  const caps = new Set<string>()
  for (const cap of c.caps) {
    if (!isTenantId(cap.tenant_id)) return `the exposure cap of tenant id ${quoted(cap.tenant_id)} ${TENANT_ID}`
    if (caps.has(cap.tenant_id)) return `duplicate cap in checkpoint: ${shown(cap.tenant_id)}`
    caps.add(cap.tenant_id)
    if (cap.max <= 0n) return `the exposure cap of ${shown(cap.tenant_id)} is ${cap.max} (a cap is positive)`
  }
  const operations = new Set<string>()
  for (const o of c.operations) {
    if (!isOperationId(o.operation_id)) return `operation id ${quoted(o.operation_id)} in checkpoint ${OPERATION_ID}`
    if (operations.has(o.operation_id)) return `duplicate operation_id in checkpoint: ${quoted(o.operation_id)}`
    operations.add(o.operation_id)
  }
  const window = c.operation_window
  if (window !== undefined) {
    if (!isLimit(Number(window))) {
      return `the operation window is ${window} (a window is a positive integer below 2^53)`
    }
    if (BigInt(c.operations.length) > window) {
      return `the checkpoint remembers ${c.operations.length} operation ids, more than its window of ${window}`
    }
  }
  if (c.baseline < 0n) return `the certificate baseline is negative: ${c.baseline}`
  return undefined
}

/**
 * The results an operation id can remember, by the kind of command that carries ids (the first
 * word of its fingerprint, `LedgerState.fingerprint`): every result that kind returns, what
 * applied and what was refused (issue 15). `Overflow` has one shape per kind (the field it
 * carries, if any).
 */
const rememberable: Readonly<Record<string, ReadonlyArray<string>>> = {
  top_up: ["ToppedUp", "MissingTenant", "InvalidAmount", "Overflow"],
  reserve: [
    "Reserved",
    "Insufficient",
    "MissingTenant",
    "ExposureLimitExceeded",
    "Overflow:current_reserved_microcents"
  ],
  admit: ["Reserved", "Insufficient", "MissingTenant", "ExposureLimitExceeded", "Overflow:current_reserved_microcents"],
  commit: [
    "Committed",
    "Overrun",
    "InvalidAmount",
    "MissingReservation",
    "MissingTenant",
    "Overflow:remaining_microcents"
  ],
  release: ["Released", "MissingReservation", "MissingTenant"]
}

/** A result's variant as `rememberable` names it (an `Overflow` with the field it carries). */
const variantOf = (result: L.Result): string => {
  const tag = tagOf(result)
  if (tag !== "Overflow") return tag
  const r = result as object
  return "current_reserved_microcents" in r
    ? "Overflow:current_reserved_microcents"
    : "remaining_microcents" in r
    ? "Overflow:remaining_microcents"
    : "Overflow"
}

/** What is wrong with the remembered operations of a state built from a checkpoint, or undefined. */
const operationsProblem = (s: L.LedgerState): string | undefined => {
  const next = s.nextReservation
  for (const [id, remembered] of s.operations) {
    const result = remembered.result
    const kind = remembered.fingerprint.split(" ", 1)[0] ?? ""
    const results = Object.hasOwn(rememberable, kind) ? rememberable[kind] : undefined
    if (results === undefined) {
      return `operation id ${quoted(id)} remembers the fingerprint of no retry-safe command: ${
        quoted(remembered.fingerprint)
      }`
    }
    if (!results.includes(variantOf(result))) {
      return `operation id ${quoted(id)} remembers ${tagOf(result)}, not a result of a ${kind}`
    }
    if (L.applied(result) && result._tag === "Reserved") {
      // (a typeof check too: a remembered result comes from a checkpoint's content)
      const reservation: unknown = result.reservation_id
      if (typeof reservation !== "bigint" || reservation === 0n || reservation >= next) {
        return `operation id ${quoted(id)} remembers reservation ${
          String(reservation)
        }, not below the next reservation id ${next}`
      }
    }
    const held = heldBy(remembered.fingerprint)
    if (held !== undefined) {
      const problem = heldProblem(s, held, result)
      if (problem !== undefined) return `operation id ${quoted(id)} remembers ${problem}`
    }
    const settled = settledProblem(s, remembered.fingerprint, result)
    if (settled !== undefined) return `operation id ${quoted(id)} remembers ${settled}`
  }
  return undefined
}

/**
 * What a commit's or a release's remembered result says that the state contradicts, or
 * undefined: a hold committed or released was issued (below the next reservation id) and is
 * open no more (ids are never reused), and a commit answered `Committed` committed its own
 * `actual` (a helper's hostile review: a checkpoint remembering `Committed` for a hold still open
 * answered a retry "committed" while the money stayed reserved).
 */
const settledProblem = (s: L.LedgerState, fingerprint: string, result: L.Result): string | undefined => {
  const tag = tagOf(result)
  if (tag !== "Committed" && tag !== "Released") return undefined
  const match = /^(?:commit|release) ([0-9]+)(?: (-?[0-9]+))?$/.exec(fingerprint)
  if (match === null) return undefined
  const reservation = BigInt(match[1] as string)
  if (reservation === 0n || reservation >= s.nextReservation) {
    return `${tag} for reservation ${reservation}, not below the next reservation id ${s.nextReservation}`
  }
  if (s.holds.get(reservation) !== undefined) return `${tag} for reservation ${reservation}, an open hold`
  if (tag === "Committed" && match[2] !== undefined) {
    const actual = (result as unknown as Record<string, unknown>)["actual_microcents"]
    if (actual !== BigInt(match[2])) return `Committed of ${String(actual)} for a commit of ${match[2]}`
  }
  return undefined
}

/** The tenant and amount of a reserve's or an admit's fingerprint (`LedgerState.fingerprint`), or undefined. */
const heldBy = (fingerprint: string): { readonly tenant: string; readonly amount: bigint } | undefined => {
  const match = /^(?:reserve|admit) ("(?:[^"\\]|\\.)*") (-?[0-9]+)(?: |$)/.exec(fingerprint)
  if (match === null) return undefined
  const tenant = Either.getOrUndefined(Json.parse(match[1] as string))
  return typeof tenant === "string" ? { tenant, amount: BigInt(match[2] as string) } : undefined
}

/**
 * What a reserve's or an admit's remembered result says that its own arguments contradict, or
 * undefined: a reservation still open must be a hold of that tenant for that amount (a retry is
 * handed it: a checkpoint naming another tenant's hold gave a retry that tenant's money, a
 * hostile review); a refusal must be one those arguments meet (`Insufficient`: `required` is the
 * amount, above `remaining` — or 0 or less with nothing remaining; `ExposureLimitExceeded`: the
 * amount takes `current` past `max`).
 */
const heldProblem = (
  s: L.LedgerState,
  held: { readonly tenant: string; readonly amount: bigint },
  result: L.Result
): string | undefined => {
  const r = result as unknown as Record<string, unknown>
  switch (tagOf(result)) {
    case "Reserved": {
      const reservation = r["reservation_id"]
      const hold = typeof reservation === "bigint" ? s.holds.get(reservation) : undefined
      if (hold === undefined || (hold.tenant === held.tenant && hold.amount === held.amount)) return undefined
      return `reservation ${r["reservation_id"]} for ${quoted(held.tenant)} of ${held.amount}, an open hold of ${
        quoted(hold.tenant)
      } for ${hold.amount}`
    }
    case "Insufficient": {
      // (a hold of 0 or less is refused so too, nothing remaining: `LedgerState.reserve`)
      const required = r["required_microcents"]
      const remaining = r["remaining_microcents"]
      const met = held.amount <= 0n ? remaining === 0n : typeof remaining === "bigint" && remaining < held.amount
      return required === held.amount && met
        ? undefined
        : `Insufficient (remaining ${remaining}, required ${required}) for a hold of ${held.amount}`
    }
    case "ExposureLimitExceeded": {
      const current = r["current_reserved_microcents"]
      const max = r["max_reserved_microcents"]
      return typeof current === "bigint" && typeof max === "bigint" && current + held.amount > max
        ? undefined
        : `ExposureLimitExceeded (current ${current}, max ${max}) for a hold of ${held.amount}`
    }
    default:
      return undefined
  }
}

/** The state of a checkpoint, once it passed every check; else what is wrong. */
export const checkedState = (c: Journal.Checkpoint): Either.Either<L.LedgerState, string> => {
  const problem = checkpointProblem(c)
  if (problem !== undefined) return Either.left(problem)
  const state = stateOf(c)
  const remembered = operationsProblem(state)
  return remembered === undefined ? Either.right(state) : Either.left(remembered)
}

/**
 * A ledger state handed in by a caller (`Ledger.makeMemory(initial)`), as a journal's checkpoint
 * would hold it: encoded (every integer in its range), decoded and checked as recovery checks a
 * checkpoint. The state returned is a fresh copy (the caller's object, which it may still change,
 * is not the ledger's); else what is wrong.
 */
export const checkedCopy = (s: L.LedgerState): Either.Either<L.LedgerState, string> => {
  let encoded: Either.Either<Json.Json, unknown>
  try {
    encoded = encodeCheckpoint(s)
  } catch (error) {
    // not a LedgerState's shape at all (a plain object, a field of another type)
    return Either.left(`it is not a ledger state (${error instanceof Error ? error.message : String(error)})`)
  }
  if (Either.isLeft(encoded)) return Either.left(bounded(String(encoded.left)))
  const decoded = Journal.decode(encoded.right)
  if (Either.isLeft(decoded)) return Either.left(bounded(String(decoded.left)))
  const entry = decoded.right
  return "checkpoint" in entry ? Either.mapLeft(checkedState(entry.checkpoint), bounded) : Either.left("no checkpoint")
}

const tagOf = (result: L.Result): string =>
  typeof result === "object" && result !== null && "_tag" in result ? String(result._tag) : "nothing"

/** The outcome a journaled command had (the writer journals no other), or undefined when any outcome is one. */
const outcomeOf = (c: L.Command): string | undefined => {
  switch (c._tag) {
    case "TopUp":
      return "ToppedUp"
    case "Reserve":
    case "Admit":
      return "Reserved"
    case "Commit":
      return "Committed"
    case "Release":
    case "Expire":
      return "Released"
    case "Restore":
      return "Restored"
    default:
      return undefined
  }
}

/** A command in words, for a message. */
const describe = (c: Journal.ReplayCommand): string => {
  switch (c._tag) {
    case "Refused":
      return `refused ${describe(c.command)}`
    case "EnsureTenant":
      return `ensure_tenant of tenant ${shown(c.tenant)}`
    case "TopUp":
      return `top_up of ${c.amount} for tenant ${shown(c.tenant)}`
    case "Reserve":
      return `reserve of ${c.amount} for tenant ${shown(c.tenant)}`
    case "Admit":
      return `admit of ${c.amount} for tenant ${shown(c.tenant)}`
    case "Commit":
      return `commit of reservation ${c.reservation} (actual ${c.actual})`
    case "Release":
      return `release of reservation ${c.reservation}`
    case "Expire":
      return `expire of reservation ${c.reservation}`
    case "Restore":
      return "restore"
    default:
      return c._tag
  }
}

/** A refusal in words: its variant and fields (or the reference's text of a restore error). */
const refusal = (result: L.Result): string => {
  if (typeof result !== "object" || result === null || !("_tag" in result)) return "nothing"
  if (result._tag === "RestoreRefused" && "error" in result) return result.error.message
  const fields = Object.entries(result).filter(([k]) => k !== "_tag").map(([k, v]) => `${k}=${String(v)}`)
  return fields.length === 0 ? result._tag : `${result._tag} (${fields.join(", ")})`
}

/** The same result: the same variant with the same fields (the state machine's plain values). */
const sameResult = (a: L.Result, b: L.Result): boolean => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return a === b
  const x = a as unknown as Record<string, unknown>
  const y = b as unknown as Record<string, unknown>
  const keys = Object.keys(x)
  return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && x[k] === y[k])
}

/**
 * Replay a refusal remembered under an operation id: the command must carry an id not yet
 * remembered and meet exactly the refusal journaled (which changes nothing but the window).
 */
const refusedChecked = (s: L.LedgerState, r: Journal.Refused): string | undefined => {
  const c = r.command
  const id = L.operationId(c)
  if (id === undefined) return `${describe(r)} has no operation id (only a refusal under an id is journaled)`
  if (L.applied(r.result)) return `${describe(r)} holds ${refusal(r.result)}, a result that applied`
  const invalid = argumentsProblem(c)
  if (invalid !== undefined) return `refused ${invalid}`
  if (s.operations.has(id)) {
    return `${describe(r)}: operation id ${quoted(id)} was already applied (a retry is never journaled)`
  }
  const result = L.step(s, c)
  if (!sameResult(result, r.result)) {
    return `${describe(r)} was journaled as ${refusal(r.result)} but replays as ${refusal(result)}`
  }
  return undefined
}

/**
 * Apply one journaled command, checking it applies as it did when it was journaled; what is
 * wrong otherwise (the state may then be partly changed: recovery discards it).
 */
const stepChecked = (s: L.LedgerState, c: Journal.ReplayCommand): string | undefined => {
  if (c._tag === "Refused") return refusedChecked(s, c)
  const id = L.operationId(c)
  if (id !== undefined && s.operations.has(id)) {
    return `${describe(c)}: operation id ${quoted(id)} was already applied (a retry is never journaled)`
  }
  if (c._tag === "EnsureTenant" && c.amount < 0n) return `${describe(c)} with a negative amount ${c.amount}`
  const invalid = argumentsProblem(c)
  if (invalid !== undefined) return invalid
  if (c._tag === "Expire") {
    const hold = s.holds.get(c.reservation)
    if (hold !== undefined && hold.expiresAt === undefined) return `${describe(c)}, which has no expiry`
  }
  const result = L.step(s, c)
  const expected = outcomeOf(c)
  if (expected !== undefined && tagOf(result) !== expected) {
    return `${describe(c)} was journaled but does not apply: ${refusal(result)}`
  }
  return undefined
}

/** Replay the commands of the entry `sequence`; the first one that does not apply as journaled fails. */
export const replayChecked = (
  s: L.LedgerState,
  sequence: bigint,
  commands: ReadonlyArray<Journal.ReplayCommand>
): LedgerJournalInconsistent | undefined => {
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i] as Journal.ReplayCommand
    // the ledger journals a group's expiries (due at its one instant) before its commands, and a
    // caller cannot send one: an expire after a command — of a hold that command opened, say —
    // was never due when journaled (a hostile review: a hold released before its expiry passed)
    if (c._tag === "Expire" && i > 0 && commands[i - 1]?._tag !== "Expire") {
      return new LedgerJournalInconsistent({
        sequence,
        command: i + 1,
        reason: bounded(
          `${
            describe(c)
          } comes after another command in its entry (the ledger journals a group's expiries before its commands)`
        )
      })
    }
    const problem = stepChecked(s, c)
    if (problem !== undefined) {
      return new LedgerJournalInconsistent({ sequence, command: i + 1, reason: bounded(problem) })
    }
  }
  return undefined
}

/** The checked state of the checkpoint entry `sequence`. */
export const checkpointChecked = (
  sequence: bigint,
  c: Journal.Checkpoint
): Either.Either<L.LedgerState, LedgerJournalInconsistent> =>
  Either.mapLeft(checkedState(c), (reason) => new LedgerJournalInconsistent({ sequence, reason: bounded(reason) }))

/** An entry of no commands: the writer journals a group only when it changed something. */
const noCommands = (sequence: bigint): LedgerJournalInconsistent =>
  new LedgerJournalInconsistent({
    sequence,
    reason: "the entry holds no command (the ledger journals a group of commands only when one changed the state)"
  })

/** What a replay rebuilt: the state, and how many commands were journaled since the last checkpoint. */
export interface Replayed {
  readonly state: L.LedgerState
  readonly sinceCheckpoint: number
}

/**
 * Rebuild a ledger from its journal's entries, in order, checking everything above. By default
 * it starts over from each (checked) checkpoint and replays only the commands after the last one;
 * with `verifyCheckpoints` it replays every command from genesis and requires each checkpoint
 * to equal the state replayed up to it.
 */
export class Replay {
  private base = new L.LedgerState()
  private pending: Array<{
    readonly sequence: bigint
    /** the commands, or how to build them (checked already: see `commandsLater`) */
    readonly commands: ReadonlyArray<Journal.ReplayCommand> | (() => ReadonlyArray<Journal.ReplayCommand>)
  }> = []
  private sinceCheckpoint = 0

  constructor(private readonly verifyCheckpoints: boolean) {}

  /** Take the next entry; the first problem found, if any. */
  entry(sequence: bigint, record: Journal.Replayable): LedgerJournalInconsistent | undefined {
    if (record._tag === "Commands") {
      if (record.commands.length === 0) return noCommands(sequence)
      this.sinceCheckpoint += record.commands.length
      // from genesis every command is replayed: at once; else only those after the last checkpoint
      if (this.verifyCheckpoints) return replayChecked(this.base, sequence, record.commands)
      this.pending.push({ sequence, commands: record.commands })
      return undefined
    }
    const checked = checkpointChecked(sequence, record.checkpoint)
    if (Either.isLeft(checked)) return checked.left
    this.sinceCheckpoint = 0
    if (!this.verifyCheckpoints) {
      this.base = checked.right
      this.pending = []
      return undefined
    }
    // the window from here on is the checkpoint's (a ledger opened with another window writes
    // a checkpoint first): the replayed state forgets what the writer forgot when it changed
    this.base.operations.limit = checked.right.operations.limit
    const replayed = encodeCheckpoint(this.base)
    const stored = encodeCheckpoint(checked.right)
    if (Either.isLeft(replayed) || Either.isLeft(stored) || Json.print(replayed.right) !== Json.print(stored.right)) {
      return new LedgerJournalInconsistent({
        sequence,
        reason: "the checkpoint differs from the state replayed from the entries before it"
      })
    }
    return undefined
  }

  /**
   * Take the next entry: `count` commands already decoded as far as decoding can fail, built by
   * `commands` only if they are replayed (not when a later checkpoint supersedes them, or at once
   * with `verifyCheckpoints`). The first problem found, if any: as `entry` with those commands.
   */
  commandsLater(
    sequence: bigint,
    count: number,
    commands: () => ReadonlyArray<Journal.ReplayCommand>
  ): LedgerJournalInconsistent | undefined {
    if (this.verifyCheckpoints) return this.entry(sequence, { _tag: "Commands", commands: commands() })
    if (count === 0) return noCommands(sequence)
    this.sinceCheckpoint += count
    this.pending.push({ sequence, commands })
    return undefined
  }

  private replayPending(): LedgerJournalInconsistent | undefined {
    const pending = this.pending
    this.pending = []
    for (const { commands, sequence } of pending) {
      const problem = replayChecked(this.base, sequence, typeof commands === "function" ? commands() : commands)
      if (problem !== undefined) return problem
    }
    return undefined
  }

  /** Replay what is left and prove conservation: the recovered state. */
  finish(): Either.Either<Replayed, LedgerJournalInconsistent | LedgerRecoveryError> {
    const problem = this.replayPending()
    if (problem !== undefined) return Either.left(problem)
    const state = this.base
    const status = Snapshot.conservationStatus(L.balances(state, state.snapshotVersion))
    if (status._tag !== "Balanced") {
      return Either.left(
        new LedgerRecoveryError({
          reason: `the recovered ledger fails conservation: ${Snapshot.statusText(status)}`,
          cause: null
        })
      )
    }
    return Either.right({ state, sinceCheckpoint: this.sinceCheckpoint })
  }
}
