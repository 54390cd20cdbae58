/**
 * What a file log's service object carries beside its fields, off its enumerable properties: an
 * object spread over it (`{ ...wal, append }`, a wrapper with its own append) does not carry it
 * along, so nothing bypasses the wrapper.
 * - `appendWith`: the append with its result mapped in the append's own step (`Wal.appendWith`);
 * - `settled`: waits until every entry sealed so far is written (`Wal.settled`).
 */
import type * as Json from "@calybris/core/Json"
import type * as Effect from "effect/Effect"
import type { Sealed } from "../Entry.js"
import type { WalAppendError } from "../WalError.js"

export const OwnId: unique symbol = Symbol.for("@calybris/wal/Wal/own")

export type AppendWithFn = <A>(data: Json.Json, f: (sealed: Sealed) => A) => Effect.Effect<A, WalAppendError>

export interface Own {
  readonly appendWith: AppendWithFn
  readonly settled: Effect.Effect<void>
}

/** `service` with its own operations attached (non-enumerable). */
export const attach = <S extends object>(service: S, own: Own): S =>
  Object.defineProperty(service, OwnId, { value: own, enumerable: false })

/** The service's own operations, if it has them. */
export const of = (service: object): Own | undefined => (service as { readonly [OwnId]?: Own })[OwnId]
