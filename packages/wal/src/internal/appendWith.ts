/**
 * A log's append with its result mapped in the append's own step (see `Wal.appendWith`): a
 * non-enumerable property of the service object, so an object spread over it (`{ ...wal,
 * append }`, a wrapper with its own append) does not carry it along and bypass the wrapper.
 */
import type * as Json from "@calybris/core/Json"
import type * as Effect from "effect/Effect"
import type { Sealed } from "../Entry.js"
import type { WalAppendError } from "../WalError.js"

export const AppendWith: unique symbol = Symbol.for("@calybris/wal/Wal/appendWith")

export type AppendWithFn = <A>(data: Json.Json, f: (sealed: Sealed) => A) => Effect.Effect<A, WalAppendError>

/** `service` with `appendWith` attached (non-enumerable). */
export const attach = <S extends object>(service: S, appendWith: AppendWithFn): S =>
  Object.defineProperty(service, AppendWith, { value: appendWith, enumerable: false })

/** The service's own `appendWith`, if it has one. */
export const of = (service: object): AppendWithFn | undefined =>
  (service as { readonly [AppendWith]?: AppendWithFn })[AppendWith]
