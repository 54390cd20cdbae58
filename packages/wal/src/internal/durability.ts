/**
 * A log's `durability` checked: undefined (the default, `"always"`) or one of the three, else
 * `WalOptionsInvalid` naming it and the value — a misspelt one was taken as `"batch"` silently
 * (a helper's hostile review).
 */
import * as Either from "effect/Either"
import { WalOptionsInvalid } from "../WalError.js"

export const checkDurability = (durability: unknown): Either.Either<void, WalOptionsInvalid> =>
  durability === undefined || durability === "always" || durability === "batch" || durability === "never"
    ? Either.void
    : Either.left(
      new WalOptionsInvalid({
        field: "durability",
        value: typeof durability === "string" ? JSON.stringify(durability) : String(durability),
        reason: `not "always", "batch" or "never"`
      })
    )
