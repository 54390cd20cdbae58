/** Environment variables set for a test's scope, as they were again when it closes. */
import * as Effect from "effect/Effect"

/** Sets `name` to `value` until the scope closes, then restores it (or removes it, if it was unset). */
export const scoped = (name: string, value: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = process.env[name]
      process.env[name] = value
      return before
    }),
    (before) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env[name]
        else process.env[name] = before
      })
  )
