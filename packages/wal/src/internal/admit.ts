/**
 * What a log's gatekeeper (`WalOptions.admit`) may answer to hold an append without blocking the
 * thread: the append runs `wait`, then asks the gatekeeper again; nothing is sealed meanwhile.
 */
import * as Effect from "effect/Effect"
import { WalAppendRefused } from "../WalError.js"

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

/**
 * What an append does with its gatekeeper's answer when it is not `undefined` (admitted): held
 * (an `AdmitWait`), `wait` runs and then `again` (the append, asking anew); anything else refuses
 * it with `WalAppendRefused` carrying that answer. Nothing is sealed either way.
 */
export const notAdmitted = <A, E, R>(
  verdict: unknown,
  again: Effect.Effect<A, E, R>
): Effect.Effect<A, E | WalAppendRefused, R> =>
  isAdmitWait(verdict) ? Effect.zipRight(verdict.wait, again) : Effect.fail(new WalAppendRefused({ cause: verdict }))
