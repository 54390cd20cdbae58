/**
 * What the `Ledger` service's queries answer (`Ledger.balance`, `Ledger.holds`, …). Every query
 * is one question a backend can answer natively — the memory layers from their state, a database
 * with one statement — so none of them hands out a backend's internal state.
 *
 * Every answer is as of the Clock now: a hold whose expiry has passed is seen released (its
 * amount back in `remaining`, not in `reserved`, not among the open holds), as the next command
 * will journal it. A query never writes: not the state, not the journal.
 */
import * as Int from "@calybris/core/Int"
import * as Schema from "effect/Schema"
import { Microcents, ReservationId } from "./Arguments.js"

/** An open hold: what `reserve` (or `admit`) holds until it is committed, released or expires. */
export const OpenHold = Schema.Struct({
  /** a `ReservationId`, so `Ledger.commit(hold.reservation_id, actual)` type-checks */
  reservation_id: ReservationId,
  tenant_id: Schema.String,
  /** `Microcents`, so `Ledger.commit(hold.reservation_id, hold.amount_microcents)` type-checks */
  amount_microcents: Microcents,
  /** when the hold expires (epoch milliseconds, by the Effect Clock), if it does */
  expires_at_ms: Schema.OptionFromSelf(Int.I64)
})
export type OpenHold = typeof OpenHold.Type

/** An exposure cap: the most a tenant may hold open at once (`Ledger.setExposureCap`). */
export const ExposureCap = Schema.Struct({
  tenant_id: Schema.String,
  /** `Microcents`, as `Ledger.setExposureCap` takes it */
  max_reserved_microcents: Microcents
})
export type ExposureCap = typeof ExposureCap.Type

/** How many tenants and open holds the ledger has, and its snapshot version (not advanced). */
export const Counts = Schema.Struct({
  tenant_count: Schema.NonNegativeInt,
  active_reservations: Schema.NonNegativeInt,
  snapshot_version: Int.U64
})
export type Counts = typeof Counts.Type

/** Lifetime spend over all tenants, and since the last certificate. */
export const Totals = Schema.Struct({
  /** the sum of every tenant's committed funds, or i64 max when it does not fit */
  total_committed_microcents: Int.I64,
  /** `total_committed − baseline` (the total at the last certificate), saturating in i64 */
  committed_since_last_certificate_microcents: Int.I64
})
export type Totals = typeof Totals.Type
