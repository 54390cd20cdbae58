/**
 * The in-memory ledger over a state this package already trusts (a fresh one, or one recovery
 * checked): `Ledger.makeMemory` checks a state a caller hands in first.
 */
import * as Effect from "effect/Effect"
import * as Arguments from "../Arguments.js"
import type { Ledger } from "../Ledger.js"
import type { InvalidArgument, LedgerStoreError } from "../LedgerError.js"
import * as L from "../LedgerState.js"
import { expireDue, type Pending } from "./engine.js"
import * as Queries from "./queries.js"

/**
 * A ledger kept in memory (no durability) over `state`, which it then owns: each command is one
 * synchronous step. The Clock is read only while some open hold can expire (no hold has an
 * expiry: nothing to release first), so a plain command costs one synchronous Effect.
 */
export const memoryLedger = (state: L.LedgerState): Ledger["Type"] => {
  const ignored: Array<Pending> = []
  const expireThen = <A>(f: () => A) =>
    Effect.map(Arguments.nowMillis, (now) => {
      expireDue(state, now, ignored)
      ignored.length = 0
      return f()
    })
  const run = <A>(f: () => A): Effect.Effect<A, LedgerStoreError> =>
    Effect.suspend(() => state.expiring === 0 ? Effect.succeed(f()) : expireThen(f))
  // as of the Clock now, without writing: a copy with the due holds released (`LedgerState.asOf`)
  const query: Queries.Run = (f, asOfNow = true) =>
    Effect.suspend(() =>
      state.expiring === 0 || !asOfNow
        ? Effect.succeed(f(state))
        : Effect.map(Arguments.nowMillis, (now) => f(L.asOf(state, now)))
    )
  const service: Ledger["Type"] = {
    apply: (command, audited) =>
      Effect.suspend((): Effect.Effect<L.ResultOf[typeof command["_tag"]], LedgerStoreError | InvalidArgument> => {
        // a copy checked and applied (see `Arguments.ownCommand`); an admit's audited decision
        // given as a value checked as the journaled layers check it (writable, its cost the
        // hold), though nothing journals it here: the same call is refused in every layer (a
        // helper's hostile review). One a function builds is built only by a layer that journals it.
        const own = Arguments.ownCommand(command) as typeof command
        const invalid = Arguments.validateRequest(own) ??
          (own._tag === "Admit" && audited !== undefined && typeof audited !== "function"
            ? Arguments.audited(audited, own.amount)
            : undefined)
        if (invalid !== undefined) return Effect.fail(invalid)
        return state.expiring === 0
          ? Effect.succeed(L.step(state, own))
          : expireThen(() => L.step(state, own))
      }),
    sweep: run(() => undefined),
    ...Queries.make(query)
  }
  return Queries.inspectable(service, query)
}
