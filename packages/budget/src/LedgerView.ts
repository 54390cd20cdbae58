/**
 * A read-only view of a ledger journal file — one that another process may be writing at the
 * same moment. It takes no writer lock and never writes: no checkpoint, no expiry, no byte of
 * the file changes (it is only opened for reading). For `status`, `prove` and `certify` on a
 * live journal.
 *
 * What it reads is the **verified prefix** of the file: the first N bytes, N being the file's
 * size when the read starts (what a writer appends later is not read), less a final line that
 * does not end in a newline and is the start of the next entry as a writer spells it, cut — a line
 * a writer is in the middle of appending (or one a crash tore: see `Wal.repair`); a final line
 * that starts otherwise is corruption (`WalParseError`), as at the writer's open. That line is left out and
 * reported (`torn`); every line before it must verify as the writer's open verifies them (chain,
 * sequences, HMAC under the key), and any other problem fails as it would there, with the same
 * typed error. A final line without its newline that is a complete entry verifies and counts.
 * The state is then recovered from exactly those entries with the checks of the journaled layer
 * (`Ledger.layerJournalFile`: every checkpoint and every replayed command checked, conservation).
 *
 * Entries in the prefix may not be acknowledged yet: a writer appends a group's line before its
 * fsync completes, so the view can show a group whose callers are still waiting (and that a
 * power loss before the fsync would lose).
 */
import * as Chain from "@calybris/wal/Chain"
import type { Entry } from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import type { WalOptions } from "@calybris/wal/Wal"
import { type WalEmptyKey, WalIoError, type WalVerifyError } from "@calybris/wal/WalError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { recoverEntries } from "./internal/journaled.js"
import { memoryLedger } from "./internal/memory.js"
import { Ledger } from "./Ledger.js"
import type { LedgerJournalInconsistent, LedgerRecoveryError } from "./LedgerError.js"
import type * as L from "./LedgerState.js"

export interface ViewOptions extends Pick<WalOptions, "key" | "allowEmptyKey" | "hash" | "maxLineBytes"> {
  /** replay from genesis and compare every checkpoint with the replayed state (default false) */
  readonly verifyCheckpoints?: boolean | undefined
}

/** The incomplete final line a view left out. */
export interface Torn {
  /** the line's byte offset: the length of the verified prefix */
  readonly offset: number
  /** its bytes */
  readonly length: number
}

/** What a view read. */
export interface View {
  /** the ledger recovered from the verified prefix */
  readonly state: L.LedgerState
  /** entries in the verified prefix */
  readonly entries: bigint
  /** bytes of the verified prefix */
  readonly bytes: number
  /** the incomplete final line left out, if any */
  readonly torn: Torn | undefined
}

export type ViewError =
  | WalEmptyKey
  | Exclude<WalVerifyError, { readonly _tag: "WalTornTail" }>
  | WalIoError
  | LedgerRecoveryError
  | LedgerJournalInconsistent

const CHUNK = FileSystem.MiB(1)

/** Recover the ledger of the verified prefix of a journal file, read-only (see the module's doc). */
export const recoverFile = (
  path: string,
  options: ViewOptions = {}
): Effect.Effect<View, ViewError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: options.maxLineBytes }
    const io = (operation: string) => (cause: unknown) => new WalIoError({ operation, path, cause })
    const info = yield* Effect.mapError(fs.stat(path), io("stat"))
    // a FIFO or a device would block the read (or never end); a directory cannot be read
    if (info.type !== "File") return yield* io("read")(new Error(`not a regular file (${info.type})`))
    const size = Number(info.size)
    const bytes: Stream.Stream<Uint8Array, WalIoError> = size === 0
      ? Stream.empty
      : Stream.mapError(fs.stream(path, { chunkSize: CHUNK, bytesToRead: size }), io("read"))
    let torn: Torn | undefined
    let entries = 0n
    let prefix = size
    const verified: Stream.Stream<Entry, ViewError> = Reader.entries(bytes, reader).pipe(
      Stream.map((entry) => {
        entries = entry.sequence
        return entry
      }),
      // only the final line can be torn: what came before it was emitted already
      Stream.catchTag("WalTornTail", (e) => {
        torn = { offset: e.offset, length: e.length }
        prefix = e.offset
        return Stream.empty
      })
    )
    const recovered = yield* recoverEntries(verified, options)
    return { state: recovered.state, entries, bytes: prefix, torn }
  }).pipe(Effect.withSpan("LedgerView.recoverFile"))

/**
 * `recoverFile`, with a `Ledger` over the recovered state (the one `layerFile` provides): the
 * view's figures (a torn last line, the entries read) and the ledger together. Commands applied to
 * it change only the view's state: nothing is written.
 */
export const recoverLedger = (
  path: string,
  options: ViewOptions = {}
): Effect.Effect<View & { readonly ledger: Ledger["Type"] }, ViewError, FileSystem.FileSystem> =>
  Effect.map(recoverFile(path, options), (view) => ({ ...view, ledger: memoryLedger(view.state) }))

/**
 * A `Ledger` over the view of a journal file: an in-memory copy of the recovered state.
 * Commands applied to it (a proof, a certificate, …) change only that copy: nothing is written.
 */
export const layerFile = (
  path: string,
  options: ViewOptions = {}
): Layer.Layer<Ledger, ViewError, FileSystem.FileSystem> =>
  Layer.effect(Ledger, Effect.map(recoverLedger(path, options), (view) => view.ledger))
