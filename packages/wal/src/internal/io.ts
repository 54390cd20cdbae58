/**
 * How the file layer's flusher writes and syncs the log, when not through `FileSystem`: plain
 * functions on the opened descriptor (`WalNode.layer` gives `node:fs`'s). Without this service
 * in the environment the flusher uses the `FileSystem` file (the portable path, the one fault
 * tests wrap); with it, the log is still opened, locked, verified and read through `FileSystem`,
 * and only the flusher's writes and syncs go through these functions.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

export interface FileIoShape {
  /** Write all of `bytes` at the end of the file (opened for append); throws on failure. */
  readonly writeAll: (fd: number, bytes: Uint8Array) => void
  /** Force the file's data to disk (`fdatasync`) on this thread; throws on failure. */
  readonly syncNow: (fd: number) => void
  /** Force the file's data to disk off this thread; `done` gets the failure, if any, once it completes. */
  readonly sync: (fd: number, done: (error: unknown) => void) => void
  /**
   * Force to disk the directory entry of the file at `path` (fsync on its directory), so a crash
   * cannot lose the file itself after its entries were acknowledged; throws on failure. Absent:
   * not done (`FileSystem` offers no directory fsync).
   */
  readonly syncDirectoryOf?: ((path: string) => void) | undefined
  /**
   * How many directory entries name the open file (`fstat`'s link count): 0 once the log was
   * removed while its writer holds it. Absent: asked of the `FileSystem` (`File.stat`).
   */
  readonly links?: ((fd: number) => number) | undefined
}

export class FileIo extends Context.Tag("@calybris/wal/WalFileIo")<FileIo, FileIoShape>() {}

/**
 * fsync on the directory holding `file` with the `FileIo` of the environment, when it has one that
 * can (without one nothing is done); what it throws, failed as `onError` makes it.
 */
export const syncDirectoryWith = <E>(file: string, onError: (cause: unknown) => E): Effect.Effect<void, E> =>
  Effect.flatMap(Effect.serviceOption(FileIo), (found) => {
    const sync = Option.getOrUndefined(found)?.syncDirectoryOf
    return sync === undefined ? Effect.void : Effect.try({ try: () => sync(file), catch: onError })
  })
