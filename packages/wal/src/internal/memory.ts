/**
 * The in-memory log: the same bytes a file would hold, kept in a list of chunks.
 */
import type * as Json from "@calybris/core/Json"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Chain from "../Chain.js"
import { canonicalData, seal, type Sealed } from "../Entry.js"
import * as Reader from "../Reader.js"
import type { OnEntry, Wal, WalOptions } from "../Wal.js"
import {
  type WalAppendError,
  type WalEmptyKey,
  WalRecordTooLong,
  type WalTornTail,
  type WalVerifyError
} from "../WalError.js"
import { notAdmitted } from "./admit.js"
import { checkDurability } from "./durability.js"

const encoder = new TextEncoder()

export const make = <E = never>(
  options: WalOptions,
  initial?: Uint8Array,
  onEntry?: OnEntry<E>
): Effect.Effect<Wal["Type"], WalEmptyKey | WalVerifyError | WalTornTail | E> =>
  Effect.gen(function*() {
    const chain = yield* Chain.make(options)
    yield* Reader.checkOptions(options)
    yield* checkDurability(options.durability)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    const maxLineBytes = options.maxLineBytes ?? Reader.DEFAULT_MAX_LINE_BYTES
    const onLine = options.onLine
    const admit = options.admit
    // the verifying pass of `initial` hands each existing line to `onLine` (the service's `reader` does not)
    const verifying = onLine === undefined ? reader : { ...reader, onLine }
    const chunks: Array<Uint8Array> = []
    let sequence = 0n
    let lastHash = Chain.GENESIS
    let needsNewline = false
    if (initial !== undefined && initial.length > 0) {
      const verified: Reader.Verified = onEntry === undefined
        ? yield* (Reader.verifyBytes(initial, verifying) as Either.Either<
          Reader.Verified,
          WalVerifyError | WalTornTail
        >)
        // the entries read in the same pass as the verification (see `Reader.verifyEach`)
        : yield* Reader.verifyEach(Stream.make(initial), verifying, onEntry)
      chunks.push(initial.slice())
      sequence = verified.count
      lastHash = verified.lastHash
      needsNewline = verified.unterminated
    }
    // Sealing is one synchronous block (no yield between reading the head and advancing it), so
    // it is atomic without a semaphore: JavaScript runs one block at a time, and sequences follow
    // call order.
    const append = (data: Json.Json): Effect.Effect<Sealed, WalAppendError> =>
      Effect.suspend(() => {
        // the gatekeeper, just before sealing (as the file log asks it): a refusal seals nothing;
        // held, nothing is sealed until the wait ends, then it is asked again
        if (admit !== undefined) {
          const verdict = admit()
          if (verdict !== undefined) return notAdmitted(verdict, append(data))
        }
        return Either.flatMap(canonicalData(data), (dataText): Either.Either<Sealed, WalRecordTooLong> => {
          const next = seal(chain, sequence + 1n, lastHash, dataText)
          const line = encoder.encode(next.line)
          // the writer writes no line its own reader would refuse
          if (line.length - 1 > maxLineBytes) {
            return Either.left(new WalRecordTooLong({ lineBytes: line.length - 1, limit: maxLineBytes }))
          }
          if (needsNewline) {
            chunks.push(encoder.encode("\n"))
            needsNewline = false
          }
          chunks.push(line)
          sequence = next.sealed.sequence
          lastHash = next.sealed.entry_hash
          if (onLine !== undefined) onLine(line.subarray(0, line.length - 1), sequence, true)
          return Either.right(next.sealed)
        })
      })
    return {
      append,
      head: Effect.sync(() => ({ sequence, lastHash })),
      bytes: Stream.suspend(() => Stream.fromIterable([...chunks])),
      reader
    }
  })
