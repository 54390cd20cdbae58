/**
 * The `Ledger` service: applies ledger commands atomically. The pure state machine
 * (`LedgerState.step`) does the work; layers decide where commands are kept. The in-memory
 * layer applies each command in one synchronous step, so every state any fiber can observe is
 * balanced (SPEC §8) — no lock is needed because nothing can interleave inside a step.
 */
import type { Decision } from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import type { Input } from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import type { Policy } from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import type { Wal } from "@calybris/wal/Wal"
import type { WalEmptyKey, WalIoError, WalLocked, WalNotAFile, WalVerifyError } from "@calybris/wal/WalError"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Arguments from "./Arguments.js"
import type { Microcents, ReservationId, TenantId } from "./Arguments.js"
import * as Command from "./Command.js"
import { noteBound } from "./internal/bounds.js"
import { checkedCopy } from "./internal/consistency.js"
import * as internalJournal from "./internal/journaled.js"
import { memoryLedger } from "./internal/memory.js"
import {
  type AggregateOverflow,
  IdempotencyConflict,
  InvalidArgument,
  type LedgerJournalInconsistent,
  type LedgerRecoveryError,
  LedgerStoreError,
  type RestoreError,
  type Violation
} from "./LedgerError.js"
import type * as LedgerQuery from "./LedgerQuery.js"
import * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

/** The audited decision journaled with an `Admit`: the Json, or how to build it. */
export type Audit = Json.Json | (() => Either.Either<Json.Json, LedgerStoreError>)

/** The ledger service: a command applier and typed queries. */
export class Ledger extends Context.Tag("@calybris/budget/Ledger")<Ledger, {
  /**
   * Apply one command atomically (after releasing the holds that have expired by the Clock);
   * a durable layer acknowledges only what it has stored. `audited` rides along in the journal
   * entry of an `Admit`; given as a function, it is built only by a layer that journals it
   * (before the command is applied: if it fails, nothing is). A command with an argument out of
   * range (`Arguments.validateCommand`: a hold's `ttl_ms` and `expires_at_ms` together, or
   * neither) fails with `InvalidArgument` before anything changes, and so does an `Expire`
   * (`Arguments.validateRequest`): the ledger releases each hold itself once it is due. An
   * admit's `audited` must be a Json value the journal can write (`Arguments.audited`), given as a
   * value or built by a function (what it builds is copied and checked alike; only
   * `Ledger.admit`'s own builder, whose metadata was checked, skips the second print). Either
   * way, an audited decision (`Audited.AuditedJson`) must hold the admit's amount as its
   * estimated cost (`InvalidArgument`, field `audited`, before anything changes): the journal's
   * recovery and audit refuse any other.
   */
  readonly apply: <C extends L.Command>(
    command: C,
    audited?: Audit
  ) => Effect.Effect<L.ResultOf[C["_tag"]], LedgerStoreError | InvalidArgument>
  /** Release every hold that has expired by the Clock now. */
  readonly sweep: Effect.Effect<void, LedgerStoreError>

  // Queries (`LedgerQuery.ts`). Each is one question a backend answers natively (a database: one
  // statement), consistently (between commands) and as of the Clock now: a hold whose expiry has
  // passed is seen released, as the next command will journal it. A query never writes (not the
  // state, not the journal), takes no snapshot and advances no version. A tenant that does not
  // exist is `Option.none()` in every per-tenant answer.

  /** A tenant's balances (`none` for an unknown tenant). */
  readonly balance: (tenant: string) => Effect.Effect<Option.Option<Snapshot.TenantBalance>, LedgerStoreError>
  /** Every tenant's balances, as a snapshot would show them, under the current version (not advanced). */
  readonly balances: Effect.Effect<Snapshot.Snapshot, LedgerStoreError>
  /** The open holds of a tenant (or of every tenant when none is given), in reservation id order. */
  readonly holds: (
    tenant?: string | undefined
  ) => Effect.Effect<ReadonlyArray<LedgerQuery.OpenHold>, LedgerStoreError>
  /** A tenant's exposure cap (`none`: no cap; a cap may name a tenant that does not exist yet). */
  readonly exposureCap: (tenant: string) => Effect.Effect<Option.Option<bigint>, LedgerStoreError>
  /** Every exposure cap, in UTF-8 order of the tenant ids. */
  readonly exposureCaps: Effect.Effect<ReadonlyArray<LedgerQuery.ExposureCap>, LedgerStoreError>
  /** Tenant count, open holds and snapshot version. */
  readonly counts: Effect.Effect<LedgerQuery.Counts, LedgerStoreError>
  /** Lifetime spend, and spend since the last certificate. */
  readonly totals: Effect.Effect<LedgerQuery.Totals, LedgerStoreError>
  /**
   * Is this client operation id remembered (an operation under it was answered — applied or
   * refused — and it is still in the operation window)? A retry under it returns the original
   * result (a refusal included) or conflicts.
   */
  readonly remembers: (operationId: string) => Effect.Effect<boolean, LedgerStoreError>
}>() {}

/**
 * A ledger kept in memory (no durability): each command is one synchronous step. The Clock is
 * read only while some open hold can expire (no hold has an expiry: nothing to release first),
 * so a plain command costs one synchronous Effect.
 *
 * `initial`, when given, is checked as recovery checks a journal's checkpoint (every figure in
 * its range, conservation, each tenant's holds summing to its `reserved`, …) and copied: a state
 * that fails is an `InvalidArgument` (field `initial`), and changing the object afterwards does
 * not change the ledger.
 */
export const makeMemory = (initial?: L.LedgerState): Effect.Effect<Ledger["Type"], InvalidArgument> =>
  Effect.suspend(() => {
    if (initial === undefined) return Effect.sync(() => memoryLedger(new L.LedgerState()))
    const checked = checkedCopy(initial)
    return Either.isRight(checked)
      ? Effect.succeed(memoryLedger(checked.right))
      : Effect.fail(new InvalidArgument({ field: "initial", value: "the LedgerState given", reason: checked.left }))
  })

export const layerMemory: Layer.Layer<Ledger> = Layer.sync(Ledger, () => memoryLedger(new L.LedgerState()))

/** Options of the memory layer. */
export interface MemoryOptions {
  /**
   * how many operation ids are remembered: a retry is recognised while fewer than this many
   * later operations with ids were answered, applied or refused (default
   * `LedgerState.DEFAULT_OPERATION_WINDOW`, 100,000)
   */
  readonly operationWindow?: number | undefined
}

/** A ledger kept in memory, with options (a size out of range fails with `InvalidArgument`). */
export const layerMemoryWith = (options: MemoryOptions): Layer.Layer<Ledger, InvalidArgument> =>
  Layer.effect(
    Ledger,
    Effect.flatMap(Arguments.checkSize("operationWindow", options.operationWindow), () => {
      const state = new L.LedgerState()
      if (options.operationWindow !== undefined) state.operations.limit = options.operationWindow
      return Effect.sync(() => memoryLedger(state))
    })
  )

export type JournalOptions = internalJournal.JournalOptions
export type JournalFileOptions = internalJournal.JournalFileOptions
export type JournalMemoryOptions = internalJournal.JournalMemoryOptions

/**
 * A durable ledger journaled in a log file of its own — the way to journal a ledger. The layer
 * opens the file itself (`Wal.makeFile(path, {key, allowEmptyKey, hash, durability,
 * maxLineBytes})`: one writer, the lock, the existing file verified and a broken one refused with
 * its typed error — a torn final line with `WalTornTail`, see `Wal.repair`) and keeps it private:
 * it neither takes a `Wal` from the environment nor puts one in it, so nothing but the ledger
 * appends to its journal, and an application's own `Wal` is another log. The chain is verified
 * and the ledger recovered in one pass over the file (each entry read and hashed once). Then as
 * `layerJournal`: recovery (last trusted checkpoint, replay, conservation; every checkpoint and
 * every replayed command checked, failing closed with `LedgerJournalInconsistent` naming the
 * entry), group commit, checkpoints every `checkpointEvery` commands. A size option out of
 * range fails with `InvalidArgument` before the file is opened. Closing the layer's scope stops
 * the writer, then closes the file and releases the lock. Audit the file with
 * `JournalAudit.auditFile`.
 */
export const layerJournalFile = (
  path: string,
  options: JournalFileOptions = {}
): Layer.Layer<
  Ledger,
  | WalEmptyKey
  | WalVerifyError
  | WalNotAFile
  | WalLocked
  | WalIoError
  | LedgerRecoveryError
  | LedgerJournalInconsistent
  | LedgerStoreError
  | InvalidArgument,
  FileSystem.FileSystem
> => Layer.scoped(Ledger, internalJournal.makeFile(path, options))

/**
 * `layerJournalFile` over an in-memory log of its own (tests): empty, or from `initial` bytes —
 * verified and recovered in one pass, failing as `Wal.layerMemory` over those bytes would.
 */
export const layerJournalMemory = (
  options: JournalMemoryOptions = {},
  initial?: Uint8Array
): Layer.Layer<
  Ledger,
  WalEmptyKey | WalVerifyError | LedgerRecoveryError | LedgerJournalInconsistent | LedgerStoreError | InvalidArgument
> => Layer.scoped(Ledger, internalJournal.makeMemory(options, initial))

/**
 * A durable ledger journaled in the WAL of the environment (e.g. `Wal.layerFile(path, {key,
 * durability})`), for a log built elsewhere (a test's fault-injecting or in-memory log whose
 * bytes it inspects). **That log must be the ledger's alone**: recovery reads every entry as a
 * ledger record, so one append by anyone else — an application that shares the `Wal` of its
 * environment with the ledger — makes the next recovery fail closed (`LedgerRecoveryError`:
 * "journal entry N is not a ledger record"). Prefer `layerJournalFile`, which owns its log (and
 * reads it once on open, where this layer reads it again after the log's own verification).
 * Recovery on start (verified chain, last trusted checkpoint, replay,
 * conservation; every checkpoint and every replayed command checked, failing closed with
 * `LedgerJournalInconsistent` naming the entry), group commit, checkpoints every
 * `checkpointEvery` commands. A size option out of range fails with `InvalidArgument`; a new
 * `operationWindow` is journaled (a checkpoint) before the layer is built, and a WAL failure
 * then is a `LedgerStoreError`.
 */
export const layerJournal = (
  options: JournalOptions = {}
): Layer.Layer<
  Ledger,
  LedgerRecoveryError | LedgerJournalInconsistent | LedgerStoreError | InvalidArgument,
  Wal
> => Layer.scoped(Ledger, internalJournal.make(options))

const apply = <C extends L.Command>(command: C, audited?: Audit) =>
  Effect.flatMap(Ledger, (ledger) => ledger.apply(command, audited))
/** Apply a command that has no arguments (it cannot be refused as an `InvalidArgument`). */
const applyConstant = <C extends L.Command>(command: C) =>
  Effect.catchTag(apply(command), "InvalidArgument", (e) => Effect.die(e))

/** (a tag check, not `instanceof`, which measured slower: it is on every retry-safe command's path) */
const isConflict = (r: unknown): r is IdempotencyConflict =>
  typeof r === "object" && r !== null && "_tag" in r && r._tag === "IdempotencyConflict"

/** Fail on an idempotency conflict (the state machine's result is the error itself); pass every other result through. */
const noConflict = <R, E>(
  effect: Effect.Effect<R | IdempotencyConflict, E, Ledger>
): Effect.Effect<R, E | IdempotencyConflict, Ledger> =>
  Effect.flatMap(effect, (r) => isConflict(r) ? Effect.fail(r) : Effect.succeed(r))

/** Options of retry-safe operations. */
export interface OperationOptions {
  /**
   * a client operation id: a retry with the same id and arguments returns the original result,
   * a refusal included (an id names one outcome within the window: docs/LEDGER.md "Retry safety")
   */
  readonly operationId?: string | undefined
}

/** Options of a reservation. */
export interface ReserveOptions extends OperationOptions {
  /** the hold is released automatically once this much time has passed (by the Effect Clock) */
  readonly expiresIn?: Duration.DurationInput | undefined
}

const opId = (options?: OperationOptions): Command.OperationFields | undefined =>
  options?.operationId === undefined ? undefined : { operation_id: options.operationId }

const noExpiry: Command.ExpiryFields = {}

/** The expiry fields of a hold asked to expire (`InvalidArgument` when `expiresIn` is out of range). */
const expiryOf = (options?: ReserveOptions): Effect.Effect<Command.ExpiryFields, InvalidArgument> => {
  const expiresIn = options?.expiresIn
  return expiresIn === undefined
    ? Effect.succeed(noExpiry)
    : Effect.flatMap(Clock.currentTimeMillis, (now) => Arguments.expiry(expiresIn, now))
}

// ---------------------------------------------------------------------------------------------
// Operations

/** Create a tenant with `amount` (no-op when it exists; a negative amount is an `InvalidArgument`). */
export const ensureTenant = (tenant: TenantId, amount: Microcents) => apply(Command.ensureTenant(tenant, amount))

export const topUp = (tenant: TenantId, amount: Microcents, options?: OperationOptions) =>
  noConflict(apply(Command.topUp(tenant, amount, opId(options))))

/** Cap the open holds of a tenant (`max <= 0` removes the cap; the tenant need not exist). */
export const setExposureCap = (tenant: TenantId, max: Microcents) => apply(Command.setExposureCap(tenant, max))

/** Hold `amount` for a tenant (optionally retry-safe, optionally expiring). */
export const reserve = (tenant: TenantId, amount: Microcents, options?: ReserveOptions) =>
  noConflict(Effect.flatMap(
    expiryOf(options),
    (expiry) =>
      apply(Command.reserve(tenant, amount, expiry === noExpiry ? opId(options) : { ...opId(options), ...expiry }))
  ))

/** Settle a hold with the actual amount. */
export const commit = (reservation: ReservationId, actual: Microcents, options?: OperationOptions) =>
  noConflict(apply(Command.commit(reservation, actual, opId(options))))

/** Release a hold. */
export const release = (reservation: ReservationId, options?: OperationOptions) =>
  noConflict(apply(Command.release(reservation, opId(options))))

/** Release every hold that has expired by now. */
export const sweepExpired = Effect.flatMap(Ledger, (ledger) => ledger.sweep)

/** What `admit` did. */
export type AdmitOutcome =
  /** the kernel allowed the request and its estimated cost is held */
  | {
    readonly _tag: "Admitted"
    readonly decision: Decision
    readonly reservation_id: ReservationId
    readonly remaining_microcents: bigint
  }
  /** the kernel rejected the request: nothing was held */
  | { readonly _tag: "Rejected"; readonly decision: Decision }
  /** the kernel allowed it but the hold failed (insufficient funds, exposure cap, unknown tenant, …) */
  | { readonly _tag: "HoldFailed"; readonly decision: Decision; readonly hold: L.ReserveResult }
  /**
   * the kernel allowed it at an estimated cost above the largest hold (an i64 of microcents):
   * nothing was held, nothing journaled (before, a `HoldFailed` whose `Insufficient` named a
   * remaining 0 and a required i64 maximum that were nobody's: a helper's review of the API)
   */
  | { readonly _tag: "CostTooLarge"; readonly decision: Decision }

export interface AdmitOptions extends ReserveOptions {
  /** free-form metadata journaled with the audited decision */
  readonly metadata?: Json.Json | undefined
}

/**
 * An outcome the ledger never sees (a kernel reject, a cost no hold can carry): it holds
 * nothing and is not remembered (the kernel is deterministic and the id bound to its
 * arguments, so a retry gets it again). It stands unless the operation id is remembered — the
 * id then names another outcome: a conflict, never a new outcome under an old id.
 */
const notRemembered = (
  id: string | undefined,
  outcome: AdmitOutcome
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  id === undefined
    ? Effect.succeed(outcome)
    : Effect.flatMap(remembers(id), (remembered) =>
      remembered ? Effect.fail(new IdempotencyConflict({ operation_id: id })) : Effect.succeed(outcome))

/**
 * Decide and hold: prescribe, and when the decision is not a reject, reserve its estimated cost
 * for the tenant. The audited decision (bundle, input, decision, metadata) and the hold are one
 * journal entry, so neither can exist without the other. The one call a gateway makes per request.
 */
export const admit = (
  policy: Policy,
  tenant: TenantId,
  input: Input,
  options?: AdmitOptions
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  Effect.suspend(() => {
    // every argument is checked before the kernel runs, whatever the decision will be
    const checked = Either.all([
      Arguments.checkTenant(tenant),
      Arguments.checkOperationId(options?.operationId),
      Arguments.metadataPrinted(options?.metadata ?? null),
      Arguments.checkInput(input),
      Arguments.checkPolicy(policy)
    ])
    if (Either.isLeft(checked)) return Effect.fail(checked.left)
    // the checked copies of the metadata and the input: what is decided and journaled
    const [, , own, ownInput] = checked.right
    return options?.expiresIn === undefined
      ? decideAndHold(policy, tenant, ownInput, own, noExpiry, options)
      : Effect.flatMap(
        expiryOf(options),
        (expiry) => decideAndHold(policy, tenant, ownInput, own, expiry, options)
      )
  })

/**
 * The audited record of an admit, built only by a layer that journals it (the memory layer keeps
 * no journal); the decision was computed from this policy and input: its bundle needs no replay.
 * (A closure returned here, not one bound to a name in `decideAndHold`: a transpiler keeping
 * names, as tsx does, would give each admit's closure its name with `Object.defineProperty`.)
 */
const auditedOf = (policy: Policy, input: Input, decision: Decision, metadata: Json.Json): Audit => () =>
  Either.mapLeft(
    Audited.recordOfPrescribed(policy, input, decision, metadata),
    (cause) => new LedgerStoreError({ operation: "admit", cause })
  )

const decideAndHold = (
  policy: Policy,
  tenant: TenantId,
  input: Input,
  metadata: readonly [Json.Json, number],
  expiry: Command.ExpiryFields,
  options: AdmitOptions | undefined
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  Effect.suspend(() => {
    const decision = Kernel.prescribe(policy, input)
    const id = options?.operationId
    if (decision.action === "Reject") {
      return notRemembered(id, { _tag: "Rejected", decision })
    }
    const cost = Arguments.microcentsFromEstimatedCost(decision.estimated_cost_microunits)
    if (Option.isNone(cost)) {
      // no hold can carry it (the tenant is not asked: nothing it has could)
      return notRemembered(id, { _tag: "CostTooLarge", decision })
    }
    // the operation id is bound to everything that shapes the outcome (see `LedgerState.fingerprint`)
    const fields: Command.AdmitFields | undefined = id === undefined
      ? (expiry === noExpiry ? undefined : expiry)
      : {
        operation_id: id,
        ...expiry,
        binding: L.admitBinding(Digest.policyDigest(policy), Digest.inputDigest(input), metadata[0])
      }
    const audit = auditedOf(policy, input, decision, metadata[0])
    // the metadata is the record's only unbounded part: from its bound a journaled layer knows
    // that the record fits a line, without printing it once more
    noteBound(audit as object, metadata[1])
    const hold = noConflict(apply(Command.admit(tenant, cost.value, fields), audit))
    return Effect.map(
      hold,
      (held): AdmitOutcome =>
        held._tag === "Reserved"
          ? {
            _tag: "Admitted",
            decision,
            reservation_id: held.reservation_id,
            remaining_microcents: held.remaining_microcents
          }
          : { _tag: "HoldFailed", decision, hold: held }
    )
  })

/** Take a snapshot (advances the snapshot version; `balances` reads without advancing it). */
export const takeSnapshot = applyConstant(Command.takeSnapshot)

/** Take a snapshot (advancing the snapshot version) and return its conservation status. */
export const takeSnapshotAndVerify = applyConstant(Command.verifyConservation)

/** Prove conservation: the proof, or the violation as a typed failure. */
export const proveConservation: Effect.Effect<
  Snapshot.ConservationProof,
  Violation | AggregateOverflow | LedgerStoreError,
  Ledger
> = Effect.flatMap(
  applyConstant(Command.proveConservation),
  (r) => r._tag === "Proved" ? Effect.succeed(r.proof) : Effect.fail(r.status)
)

/** Certify the ledger (takes a snapshot, advancing the version; rotates the certificate baseline). */
export const certify = applyConstant(Command.certifyLedger)

/** Restore from a snapshot (exclusive recovery), with a typed error per reference variant. */
export const restore = (
  from: Snapshot.Snapshot
): Effect.Effect<void, RestoreError | LedgerStoreError | InvalidArgument, Ledger> =>
  Effect.flatMap(
    apply(Command.restore(from)),
    (r) => (r._tag === "Restored" ? Effect.void : Effect.fail(r.error))
  )

/** Conservation status of any snapshot, as an Either. */
export const conservationOf = (
  of: Snapshot.Snapshot
): Either.Either<void, Violation | AggregateOverflow> => {
  const status = Snapshot.conservationStatus(of)
  return status._tag === "Balanced" ? Either.void : Either.left(status)
}

// ---------------------------------------------------------------------------------------------
// Queries (the service's; see `Ledger` and `LedgerQuery.ts`): as of the Clock now, they take no
// snapshot, advance no version and write nothing

/** A tenant's balances (`none`: no such tenant). */
export const balance = (tenant: string) => Effect.flatMap(Ledger, (ledger) => ledger.balance(tenant))
/** A tenant's spendable funds (`none`: no such tenant). */
export const remaining = (tenant: string) =>
  Effect.map(balance(tenant), Option.map((b): bigint => b.remaining_microcents))
/** A tenant's lifetime spend (`none`: no such tenant). */
export const committed = (tenant: string) =>
  Effect.map(balance(tenant), Option.map((b): bigint => b.committed_microcents))
/** All funds ever granted to a tenant (`none`: no such tenant). */
export const initial = (tenant: string) => Effect.map(balance(tenant), Option.map((b): bigint => b.initial_microcents))
/** A tenant's open holds, summed (`none`: no such tenant). */
export const reserved = (tenant: string) =>
  Effect.map(balance(tenant), Option.map((b): bigint => b.reserved_microcents))
/** The current balances without advancing the version (what a snapshot would show). */
export const balances = Effect.flatMap(Ledger, (ledger) => ledger.balances)
/** The open holds of a tenant, or of every tenant, in reservation id order. */
export const holds = (tenant?: string) => Effect.flatMap(Ledger, (ledger) => ledger.holds(tenant))
/** A tenant's exposure cap (`none`: no cap). */
export const exposureCap = (tenant: string) => Effect.flatMap(Ledger, (ledger) => ledger.exposureCap(tenant))
/** Every exposure cap, in UTF-8 order of the tenant ids. */
export const exposureCaps = Effect.flatMap(Ledger, (ledger) => ledger.exposureCaps)
const counts = Effect.flatMap(Ledger, (ledger) => ledger.counts)
export const tenantCount = Effect.map(counts, (c) => c.tenant_count)
export const activeReservations = Effect.map(counts, (c) => c.active_reservations)
/** The snapshot version (not advanced). */
export const snapshotVersion = Effect.map(counts, (c) => c.snapshot_version)
const totals = Effect.flatMap(Ledger, (ledger) => ledger.totals)
/** Lifetime spend over all tenants, exact, or i64 max when it does not fit. */
export const totalCommitted = Effect.map(totals, (t) => t.total_committed_microcents)
/** `total_committed − baseline` (the total at the last certificate), saturating in i64. */
export const committedSinceLastCertificate = Effect.map(totals, (t) => t.committed_since_last_certificate_microcents)
/** The ledger digest of the current balances, without advancing the version. */
export const ledgerDigest = Effect.map(balances, Snapshot.ledgerDigest)
/** The conservation status of the current balances, without advancing the version. */
export const conservationStatus = Effect.map(balances, Snapshot.conservationStatus)
/**
 * Prove conservation of the current balances without advancing the version (the proof carries
 * the current version; `proveConservation` takes a snapshot, advancing it): the proof, or the
 * violation as a typed failure.
 */
export const conservationProof: Effect.Effect<
  Snapshot.ConservationProof,
  Violation | AggregateOverflow | LedgerStoreError,
  Ledger
> = Effect.flatMap(balances, (current) => {
  const r = L.proofOf(current)
  return r._tag === "Proved" ? Effect.succeed(r.proof) : Effect.fail(r.status)
})
/** Is this client operation id remembered, applied or refused (a retry under it returns the original result or conflicts)? */
export const remembers = (operationId: string) => Effect.flatMap(Ledger, (ledger) => ledger.remembers(operationId))
