import type { SystemError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
export type Fault = "write" | "short-write" | "enospc" | "fsync"
/** What the log's file saw, and what it does next. Calls are counted from 1, when they start. */
export declare class Probe {
  /** fault the `at`-th write call (or fsync call, for "fsync") to the log; one shot */
  fault: {
    readonly kind: Fault
    readonly at: number
  } | undefined
  /** run before every fsync (a delay: the appends sealed meanwhile must wait for the next one) */
  beforeSync: Effect.Effect<void> | undefined
  /** the `at`-th write call waits for `open` before it writes */
  gate: {
    readonly at: number
    readonly open: Deferred.Deferred<void>
  } | undefined
  writeCalls: number
  /** the most bytes one write call was given */
  largestWrite: number
  syncCalls: number
  /** completed fsyncs */
  syncs: number
  /** newlines written to the log, and covered by a completed fsync */
  writtenLines: number
  syncedLines: number
  /** the errors the faults raised */
  readonly raised: Array<SystemError>
}
/** The real FileSystem with the log's file wrapped. */
export declare const make: (real: FileSystem.FileSystem, probe: Probe) => FileSystem.FileSystem
/** The probing FileSystem over NodeFileSystem. */
export declare const layer: (probe: Probe) => Layer.Layer<FileSystem.FileSystem>
/**
 * `real`, except that every file it opens whose open `fails` picks writes ENOSPC on each
 * `writeAll` (a full disk, for the code that writes a new file whole or not at all).
 */
export declare const failingWrites: (
  real: FileSystem.FileSystem,
  fails?: (path: string, options: FileSystem.OpenFileOptions | undefined) => boolean
) => FileSystem.FileSystem
// # sourceMappingURL=ProbeFileSystem.d.ts.map
