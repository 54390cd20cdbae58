/**
 * `@effect/sql`'s `withTransaction` turns a COMMIT or ROLLBACK that fails into a defect (its
 * `orDie`): on a connection killed inside a transaction, the ROLLBACK fails, and the caller got a
 * `Die` that went past every typed handler (`Effect.either`, `catchAll`) where a
 * `LedgerStoreError` was promised (a hostile review: a restore and a journal audit, a backend
 * terminated while they waited). `failedTransaction` turns such a defect back into the failure
 * it is, a `SqlError`, for the caller to map as it maps the transaction's own failures.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** `effect` (a `withTransaction`) with a `SqlError` defect as its failure. */
export const failedTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.catchSomeDefect(
    effect,
    (defect) => defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none()
  )
