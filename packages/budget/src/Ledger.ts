/**
 * The `Ledger` service: applies ledger commands atomically. The pure state machine
 * (`LedgerState.step`) does the work; layers decide where commands are kept. The in-memory
 * layer applies each command in one synchronous step, so every state any fiber can observe is
 * balanced (SPEC §8) — no lock is needed because nothing can interleave inside a step.
 */
import type { Decision } from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import type { Input } from "@calybris/core/Input"
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import type { Policy } from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import type { Wal } from "@calybris/wal/Wal"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Arguments from "./Arguments.js"
import { expireDue, type Pending } from "./internal/engine.js"
import * as internalJournal from "./internal/journaled.js"
import {
  ActiveReservations,
  AggregateOverflow,
  ConservationViolated,
  ConservationViolation,
  DuplicateTenant,
  GhostReservation,
  IdempotencyConflict,
  type InvalidArgument,
  type LedgerJournalInconsistent,
  type LedgerRecoveryError,
  LedgerStoreError,
  NegativeLedgerField,
  type RestoreError
} from "./LedgerError.js"
import * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

/** The audited decision journaled with an `Admit`: the Json, or how to build it. */
export type Audit = Json.Json | (() => Either.Either<Json.Json, LedgerStoreError>)

/** The ledger service: a command applier and a consistent read. */
export class Ledger extends Context.Tag("@calybris/budget/Ledger")<Ledger, {
  /**
   * Apply one command atomically (after releasing the holds that have expired by the Clock);
   * a durable layer acknowledges only what it has stored. `audited` rides along in the journal
   * entry of an `Admit`; given as a function, it is built only by a layer that journals it
   * (before the command is applied: if it fails, nothing is). A command with an argument out of
   * range (`Arguments.validateCommand`) fails with `InvalidArgument` before anything changes.
   */
  readonly apply: <C extends L.Command>(
    command: C,
    audited?: Audit
  ) => Effect.Effect<L.ResultOf[C["_tag"]], LedgerStoreError | InvalidArgument>
  /**
   * Read the state consistently (between commands), as of the Clock now: holds that have
   * expired are seen released, on a copy (`LedgerState.asOf`) — a read never writes; the next
   * command journals the release. `f` must not keep or mutate the state.
   */
  readonly read: <A>(f: (state: L.LedgerState) => A) => Effect.Effect<A, LedgerStoreError>
  /** Release every hold that has expired by the Clock now. */
  readonly sweep: Effect.Effect<void, LedgerStoreError>
}>() {}

/**
 * A ledger kept in memory (no durability): each command is one synchronous step. The Clock is
 * read only while some open hold can expire (no hold has an expiry: nothing to release first),
 * so a plain command costs one synchronous Effect.
 */
export const makeMemory = (initial?: L.LedgerState): Effect.Effect<Ledger["Type"]> =>
  Effect.sync(() => {
    const state = initial ?? new L.LedgerState()
    const ignored: Array<Pending> = []
    const expireThen = <A>(f: () => A) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        expireDue(state, BigInt(now), ignored)
        ignored.length = 0
        return f()
      })
    const run = <A>(f: () => A): Effect.Effect<A> =>
      Effect.suspend(() => state.expiring === 0 ? Effect.succeed(f()) : expireThen(f))
    return Ledger.of({
      apply: (command) =>
        Effect.suspend(() => {
          const invalid = Arguments.validateCommand(command)
          if (invalid !== undefined) return Effect.fail(invalid)
          return state.expiring === 0
            ? Effect.succeed(L.step(state, command))
            : expireThen(() => L.step(state, command))
        }),
      read: (f) =>
        Effect.suspend(() =>
          state.expiring === 0
            ? Effect.succeed(f(state))
            : Effect.map(Clock.currentTimeMillis, (now) => f(L.asOf(state, BigInt(now))))
        ),
      sweep: run(() => undefined)
    })
  })

export const layerMemory: Layer.Layer<Ledger> = Layer.effect(Ledger, makeMemory())

/** Options of the memory layer. */
export interface MemoryOptions {
  /**
   * how many operation ids are remembered: a retry is recognised while fewer than this many
   * later operations with ids were applied (default `LedgerState.DEFAULT_OPERATION_WINDOW`, 100,000)
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
      return makeMemory(state)
    })
  )

export type JournalOptions = internalJournal.JournalOptions

/**
 * A durable ledger journaled in the WAL of the environment (e.g. `Wal.layerFile(path, {key,
 * durability})`): recovery on start (verified chain, last trusted checkpoint, replay,
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
const read = <A>(f: (state: L.LedgerState) => A) => Effect.flatMap(Ledger, (ledger) => ledger.read(f))

/** Fail on an idempotency conflict; pass every other result through. */
const noConflict = <R, E>(
  effect: Effect.Effect<R | L.IdempotencyConflict, E, Ledger>
): Effect.Effect<Exclude<R, L.IdempotencyConflict>, E | IdempotencyConflict, Ledger> =>
  Effect.flatMap(effect, (r) =>
    typeof r === "object" && r !== null && "_tag" in r && r._tag === "IdempotencyConflict"
      ? Effect.fail(new IdempotencyConflict({ operation_id: (r as L.IdempotencyConflict).operation_id }))
      : Effect.succeed(r as Exclude<R, L.IdempotencyConflict>))

/** Options of retry-safe operations. */
export interface OperationOptions {
  /** a client operation id: a retry with the same id and arguments returns the original result */
  readonly operationId?: string | undefined
}

/** Options of a reservation. */
export interface ReserveOptions extends OperationOptions {
  /** the hold is released automatically once this much time has passed (by the Effect Clock) */
  readonly expiresIn?: Duration.DurationInput | undefined
}

const opId = (options?: OperationOptions) =>
  options?.operationId === undefined ? {} : { operation_id: options.operationId }

/** The expiry fields of a hold asked to expire (`InvalidArgument` when `expiresIn` is out of range). */
const expiryOf = (options?: ReserveOptions): Effect.Effect<object, InvalidArgument> =>
  options?.expiresIn === undefined
    ? Effect.succeed({})
    : Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Arguments.expiry(options.expiresIn as Duration.DurationInput, now)
    )

// ---------------------------------------------------------------------------------------------
// Operations

/** Create a tenant with `amount` (no-op when it exists; a negative amount is an `InvalidArgument`). */
export const ensureTenant = (tenant: string, amount: bigint) =>
  apply({ _tag: "EnsureTenant", tenant, amount } as L.Command & { _tag: "EnsureTenant" })

export const topUp = (tenant: string, amount: bigint, options?: OperationOptions) =>
  noConflict(apply({ _tag: "TopUp", tenant, amount, ...opId(options) } as L.Command & { _tag: "TopUp" }))

/** Cap the open holds of a tenant (`max <= 0` removes the cap; the tenant need not exist). */
export const setExposureCap = (tenant: string, max: bigint) =>
  apply({ _tag: "SetExposureCap", tenant, max } as L.Command & { _tag: "SetExposureCap" })

/** Hold `amount` for a tenant (optionally retry-safe, optionally expiring). */
export const reserve = (tenant: string, amount: bigint, options?: ReserveOptions) =>
  noConflict(Effect.flatMap(
    expiryOf(options),
    (expiry) =>
      apply({ _tag: "Reserve", tenant, amount, ...opId(options), ...expiry } as L.Command & { _tag: "Reserve" })
  ))

/** Settle a hold with the actual amount. */
export const commit = (reservation: bigint, actual: bigint, options?: OperationOptions) =>
  noConflict(apply({ _tag: "Commit", reservation, actual, ...opId(options) } as L.Command & { _tag: "Commit" }))

/** Release a hold. */
export const release = (reservation: bigint, options?: OperationOptions) =>
  noConflict(apply({ _tag: "Release", reservation, ...opId(options) } as L.Command & { _tag: "Release" }))

/** Release every hold that has expired by now. */
export const sweepExpired = Effect.flatMap(Ledger, (ledger) => ledger.sweep)

/** What `admit` did. */
export type AdmitOutcome =
  /** the kernel allowed the request and its estimated cost is held */
  | {
    readonly _tag: "Admitted"
    readonly decision: Decision
    readonly reservation_id: bigint
    readonly remaining_microcents: bigint
  }
  /** the kernel rejected the request: nothing was held */
  | { readonly _tag: "Rejected"; readonly decision: Decision }
  /** the kernel allowed it but the hold failed (insufficient funds, exposure cap, unknown tenant, …) */
  | { readonly _tag: "HoldFailed"; readonly decision: Decision; readonly hold: L.ReserveResult }

export interface AdmitOptions extends ReserveOptions {
  /** free-form metadata journaled with the audited decision */
  readonly metadata?: Json.Json | undefined
}

/**
 * An outcome that holds nothing: it stands unless the operation id was already applied — an
 * admit retried with the same arguments would have held again, so the retry differs from the
 * original: a conflict, never a new outcome under an old id.
 */
const notRemembered = (
  id: string | undefined,
  outcome: AdmitOutcome
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  id === undefined
    ? Effect.succeed(outcome)
    : Effect.flatMap(read((s) => s.operations.has(id)), (remembered) =>
      remembered ? Effect.fail(new IdempotencyConflict({ operation_id: id })) : Effect.succeed(outcome))

/**
 * Decide and hold: prescribe, and when the decision is not a reject, reserve its estimated cost
 * for the tenant. The audited decision (bundle, input, decision, metadata) and the hold are one
 * journal entry, so neither can exist without the other. The one call a gateway makes per request.
 */
export const admit = (
  policy: Policy,
  tenant: string,
  input: Input,
  options?: AdmitOptions
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  Effect.suspend(() => {
    // every argument is checked before the kernel runs, whatever the decision will be
    const checked = Either.all([
      Arguments.checkTenant(tenant),
      Arguments.checkOperationId(options?.operationId),
      Arguments.metadata(options?.metadata ?? null)
    ])
    if (Either.isLeft(checked)) return Effect.fail(checked.left)
    return options?.expiresIn === undefined
      ? decideAndHold(policy, tenant, input, checked.right[2], {}, options)
      : Effect.flatMap(
        expiryOf(options),
        (expiry) => decideAndHold(policy, tenant, input, checked.right[2], expiry, options)
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
    Audited.auditedRecordOfPrescribed(policy, input, decision, metadata),
    (cause) => new LedgerStoreError({ operation: "admit", cause })
  )

const decideAndHold = (
  policy: Policy,
  tenant: string,
  input: Input,
  metadata: Json.Json,
  expiry: object,
  options: AdmitOptions | undefined
): Effect.Effect<AdmitOutcome, LedgerStoreError | IdempotencyConflict | InvalidArgument, Ledger> =>
  Effect.suspend(() => {
    const decision = Kernel.prescribe(policy, input)
    const id = options?.operationId
    if (decision.action === "Reject") {
      return notRemembered(id, { _tag: "Rejected", decision })
    }
    const cost = decision.estimated_cost_microunits
    if (cost > Int.I64_MAX) {
      return notRemembered(id, {
        _tag: "HoldFailed",
        decision,
        hold: { _tag: "Insufficient", remaining_microcents: 0n, required_microcents: Int.I64_MAX }
      })
    }
    // the operation id is bound to everything that shapes the outcome (see `LedgerState.fingerprint`)
    const binding = id === undefined
      ? {}
      : { binding: L.admitBinding(Digest.policyDigest(policy), Digest.inputDigest(input), metadata) }
    const hold = noConflict(apply(
      { _tag: "Admit", tenant, amount: cost as bigint, ...opId(options), ...expiry, ...binding } as L.Command & {
        _tag: "Admit"
      },
      auditedOf(policy, input, decision, metadata)
    ))
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

/** Take a snapshot (advances the snapshot version). */
export const snapshot = applyConstant({ _tag: "TakeSnapshot" } as L.Command & { _tag: "TakeSnapshot" })

/** Conservation status of a fresh snapshot (advances the snapshot version). */
export const verifyConservation = applyConstant(
  { _tag: "VerifyConservation" } as L.Command & { _tag: "VerifyConservation" }
)

const statusError = (status: Snapshot.ConservationStatus): ConservationViolated | AggregateOverflow =>
  status._tag === "Violation"
    ? new ConservationViolated({ tenant_id: status.tenant_id, delta_microcents: status.delta_microcents })
    : new AggregateOverflow()

/** Prove conservation: the proof, or the violation as a typed failure. */
export const proveConservation: Effect.Effect<
  Snapshot.ConservationProof,
  ConservationViolated | AggregateOverflow | LedgerStoreError,
  Ledger
> = Effect.flatMap(
  applyConstant({ _tag: "ProveConservation" } as L.Command & { _tag: "ProveConservation" }),
  (r) => r._tag === "Proved" ? Effect.succeed(r.proof) : Effect.fail(statusError(r.status))
)

/** Certify the ledger (rotates the certificate baseline). */
export const certifyLedger = applyConstant({ _tag: "CertifyLedger" } as L.Command & { _tag: "CertifyLedger" })

const restoreError = (e: L.RestoreError): RestoreError => {
  switch (e._tag) {
    case "ActiveReservations":
      return new ActiveReservations({ count: e.count })
    case "DuplicateTenant":
      return new DuplicateTenant({ tenant_id: e.tenant_id })
    case "GhostReservation":
      return new GhostReservation({ tenant_id: e.tenant_id, reserved_microcents: e.reserved_microcents })
    case "NegativeLedgerField":
      return new NegativeLedgerField({ tenant_id: e.tenant_id, field: e.field, value: e.value })
    case "ConservationViolation":
      return new ConservationViolation({
        status: statusError(e.status) as ConservationViolated | AggregateOverflow
      })
  }
}

/** Restore from a snapshot (exclusive recovery), with a typed error per reference variant. */
export const restore = (
  from: Snapshot.Snapshot
): Effect.Effect<void, RestoreError | LedgerStoreError | InvalidArgument, Ledger> =>
  Effect.flatMap(
    apply({ _tag: "Restore", snapshot: from } as L.Command & { _tag: "Restore" }),
    (r) => (r._tag === "Restored" ? Effect.void : Effect.fail(restoreError(r.error)))
  )

/** Conservation status of any snapshot, as an Either. */
export const conservationOf = (
  of: Snapshot.Snapshot
): Either.Either<void, ConservationViolated | AggregateOverflow> => {
  const status = Snapshot.conservationStatus(of)
  return status._tag === "Balanced" ? Either.void : Either.left(statusError(status))
}

// ---------------------------------------------------------------------------------------------
// Queries (take no snapshot, change nothing)

export const remaining = (tenant: string) => read((s) => Option.fromNullable(L.remaining(s, tenant)))
export const committed = (tenant: string) => read((s) => Option.fromNullable(L.committed(s, tenant)))
export const initial = (tenant: string) => read((s) => Option.fromNullable(L.initial(s, tenant)))
export const reserved = (tenant: string) => read((s) => L.reserved(s, tenant))
export const tenantCount = read(L.tenantCount)
export const activeReservations = read(L.activeReservations)
export const snapshotVersion = read((s) => s.snapshotVersion)
export const totalCommitted = read(L.totalCommitted)
export const committedSinceLastCertificate = read(L.committedSinceLastCertificate)
/** The current balances without advancing the version (what a snapshot would show). */
export const balances = read((s) => L.balances(s, s.snapshotVersion))
/** The ledger digest of the current balances, without advancing the version. */
export const ledgerDigest = read((s) => Snapshot.ledgerDigest(L.balances(s, s.snapshotVersion)))
