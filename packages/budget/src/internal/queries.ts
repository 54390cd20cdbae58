/**
 * The ledger's queries over an in-memory `LedgerState`, shared by the layers that keep one (the
 * memory layer, the journaled layer, and so `LedgerView.layerFile`). Each layer supplies how it
 * reads its state consistently (`Run`): between commands, and — for every answer that an expiry
 * changes — as of the Clock now, on a copy when some hold is due (`LedgerState.asOf`). The
 * answers are built from the state here and never share it: nothing a caller gets back is part
 * of the state.
 *
 * A layer over a database answers the same questions with one statement each; it has no
 * `LedgerState` and does not use this module.
 */
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { issuedReservationId } from "../Arguments.js"
import type { Ledger } from "../Ledger.js"
import type { LedgerStoreError } from "../LedgerError.js"
import type * as Q from "../LedgerQuery.js"
import * as L from "../LedgerState.js"
import * as Snapshot from "../Snapshot.js"

/**
 * Run `f` on the state, consistently (between commands). `asOfNow` (the default): on the state as
 * of the Clock now (holds due seen released, on a copy); false: on the state as it stands, for an
 * answer no expiry changes (remembered operation ids). `f` must not keep or mutate the state.
 */
export type Run = <A>(f: (state: L.LedgerState) => A, asOfNow?: boolean) => Effect.Effect<A, LedgerStoreError>

/** The query members of the service. */
export type Queries = Omit<Ledger["Type"], "apply" | "sweep">

const balanceOf = (s: L.LedgerState, tenant: string): Option.Option<Snapshot.TenantBalance> => {
  const b = L.tenantBalances(s, tenant)
  return b === undefined
    ? Option.none()
    : Option.some(Snapshot.tenantBalance(tenant, b.initial, b.remaining, b.reserved, b.committed))
}

/** The open holds (of one tenant, or all), in reservation id order. */
const holdsOf = (s: L.LedgerState, tenant: string | undefined): ReadonlyArray<Q.OpenHold> => {
  const out: Array<Q.OpenHold> = []
  for (const [id, h] of s.holds) {
    if (tenant !== undefined && h.tenant !== tenant) continue
    out.push({
      reservation_id: issuedReservationId(id),
      tenant_id: h.tenant,
      amount_microcents: h.amount,
      expires_at_ms: Option.fromNullable(h.expiresAt)
    } as Q.OpenHold)
  }
  return out
}

/** Every exposure cap, in UTF-8 order of the tenant ids (as a snapshot orders its tenants). */
const capsOf = (s: L.LedgerState): ReadonlyArray<Q.ExposureCap> =>
  [...s.caps].sort(([a], [b]) => Snapshot.compareUtf8(a, b)).map(([tenant_id, max]) =>
    ({ tenant_id, max_reserved_microcents: max }) as Q.ExposureCap
  )

/** The queries, each over the state as `run` reads it. */
export const make = (run: Run): Queries => ({
  balance: (tenant) => run((s) => balanceOf(s, tenant)),
  balances: run((s) => L.balances(s, s.snapshotVersion)),
  holds: (tenant) => run((s) => holdsOf(s, tenant)),
  exposureCap: (tenant) => run((s) => Option.fromNullable(s.caps.get(tenant)), false),
  exposureCaps: run(capsOf, false),
  counts: run((s) =>
    ({
      tenant_count: s.tenants.size,
      active_reservations: s.holds.size,
      snapshot_version: s.snapshotVersion
    }) as Q.Counts
  ),
  totals: run((s) =>
    ({
      total_committed_microcents: L.totalCommitted(s),
      committed_since_last_certificate_microcents: L.committedSinceLastCertificate(s)
    }) as Q.Totals
  ),
  remembers: (operationId) => run((s) => s.operations.has(operationId), false)
})

// ---------------------------------------------------------------------------------------------
// Inspection, for this package's tests only

const inspectors = new WeakMap<object, Run>()

/**
 * Let this package's tests read the whole state of a service built here (`inspect`): the
 * recovery and window tests compare layers by their complete state (remembered ids in order,
 * counters), which no query exposes by design. Not reachable from outside the package
 * (`internal/` is not exported); the service itself has no such member.
 */
export const inspectable = <S extends object>(service: S, run: Run): S => {
  inspectors.set(service, run)
  return service
}

/** Run `f` on the state of a service built by a layer of this package (as `Run` does). */
export const inspect = <A>(
  service: Ledger["Type"],
  f: (state: L.LedgerState) => A,
  asOfNow = true
): Effect.Effect<A, LedgerStoreError> => {
  const run = inspectors.get(service)
  if (run === undefined) throw new Error("not a ledger service built by @calybris/budget")
  return run(f, asOfNow)
}
