/** Observing how an effect ended, for assertions on typed failures. */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

/** The tag of the effect's typed failure, or "succeeded" / "died". */
export const failureTag = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(
    Effect.exit(effect),
    (exit) =>
      Exit.isSuccess(exit)
        ? "succeeded"
        : Option.match(Cause.failureOption(exit.cause), { onNone: () => "died", onSome: (e) => e._tag })
  )
