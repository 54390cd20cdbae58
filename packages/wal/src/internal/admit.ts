/**
 * What a log's gatekeeper (`WalOptions.admit`) may answer to hold an append without blocking the
 * thread: the append runs `wait`, then asks the gatekeeper again; nothing is sealed meanwhile.
 */
import type * as Effect from "effect/Effect"

export const AdmitWaitTypeId: unique symbol = Symbol.for("@calybris/wal/Wal/AdmitWait")

export interface AdmitWait {
  readonly [AdmitWaitTypeId]: typeof AdmitWaitTypeId
  /** runs before the gatekeeper is asked again (interrupting the append interrupts it) */
  readonly wait: Effect.Effect<void>
}

/** An answer of `admit` that holds the append until `wait` ends, then asks again. */
export const admitWait = (wait: Effect.Effect<void>): AdmitWait => ({ [AdmitWaitTypeId]: AdmitWaitTypeId, wait })

/** Whether `admit`'s answer is an `AdmitWait`. */
export const isAdmitWait = (u: unknown): u is AdmitWait => typeof u === "object" && u !== null && AdmitWaitTypeId in u
