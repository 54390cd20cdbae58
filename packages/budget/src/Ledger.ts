/**
 * The `Ledger` service: applies ledger commands atomically. The pure state machine
 * (`LedgerState.step`) does the work; layers decide where commands are kept. The in-memory
 * layer applies each command in one synchronous step, so every state any fiber can observe is
 * balanced (SPEC §8) — no lock is needed because nothing can interleave inside a step.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  ActiveReservations,
  AggregateOverflow,
  ConservationViolated,
  ConservationViolation,
  DuplicateTenant,
  GhostReservation,
  type LedgerStoreError,
  NegativeLedgerField,
  type RestoreError
} from "./LedgerError.js"
import * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

/** The ledger service: a command applier and a consistent read. */
export class Ledger extends Context.Tag("@calybris/budget/Ledger")<Ledger, {
  /** Apply one command atomically; a durable layer acknowledges only what it has stored. */
  readonly apply: <C extends L.Command>(command: C) => Effect.Effect<L.ResultOf[C["_tag"]], LedgerStoreError>
  /** Read the state consistently (between commands); `f` must not keep or mutate it. */
  readonly read: <A>(f: (state: L.LedgerState) => A) => Effect.Effect<A>
}>() {}

/** A ledger kept in memory. */
export const makeMemory = (initial?: L.LedgerState): Effect.Effect<Ledger["Type"]> =>
  Effect.sync(() => {
    const state = initial ?? new L.LedgerState()
    return Ledger.of({
      apply: (command) => Effect.sync(() => L.step(state, command)),
      read: (f) => Effect.sync(() => f(state))
    })
  })

export const layerMemory: Layer.Layer<Ledger> = Layer.effect(Ledger, makeMemory())

const apply = <C extends L.Command>(command: C) => Effect.flatMap(Ledger, (ledger) => ledger.apply(command))
const read = <A>(f: (state: L.LedgerState) => A) => Effect.flatMap(Ledger, (ledger) => ledger.read(f))

// ---------------------------------------------------------------------------------------------
// Operations

/** Create a tenant with `amount` (no-op when it exists or the amount is negative). */
export const ensureTenant = (tenant: string, amount: bigint) =>
  apply({ _tag: "EnsureTenant", tenant, amount } as L.Command & { _tag: "EnsureTenant" })

export const topUp = (tenant: string, amount: bigint) =>
  apply({ _tag: "TopUp", tenant, amount } as L.Command & { _tag: "TopUp" })

/** Cap the open holds of a tenant (`max <= 0` removes the cap; the tenant need not exist). */
export const setExposureCap = (tenant: string, max: bigint) =>
  apply({ _tag: "SetExposureCap", tenant, max } as L.Command & { _tag: "SetExposureCap" })

export const reserve = (tenant: string, amount: bigint) =>
  apply({ _tag: "Reserve", tenant, amount } as L.Command & { _tag: "Reserve" })

export const commit = (reservation: bigint, actual: bigint) =>
  apply({ _tag: "Commit", reservation, actual } as L.Command & { _tag: "Commit" })

export const release = (reservation: bigint) =>
  apply({ _tag: "Release", reservation } as L.Command & { _tag: "Release" })

/** Take a snapshot (advances the snapshot version). */
export const snapshot = apply({ _tag: "TakeSnapshot" } as L.Command & { _tag: "TakeSnapshot" })

/** Conservation status of a fresh snapshot (advances the snapshot version). */
export const verifyConservation = apply({ _tag: "VerifyConservation" } as L.Command & { _tag: "VerifyConservation" })

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
  apply({ _tag: "ProveConservation" } as L.Command & { _tag: "ProveConservation" }),
  (r) => r._tag === "Proved" ? Effect.succeed(r.proof) : Effect.fail(statusError(r.status))
)

/** Certify the ledger (rotates the certificate baseline). */
export const certifyLedger = apply({ _tag: "CertifyLedger" } as L.Command & { _tag: "CertifyLedger" })

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
export const restore = (from: Snapshot.Snapshot): Effect.Effect<void, RestoreError | LedgerStoreError, Ledger> =>
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
