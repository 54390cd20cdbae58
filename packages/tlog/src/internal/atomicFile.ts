/**
 * Replacing a file atomically, the one way the tree log's tiles and head and the checkpointer's
 * checkpoint are written: the bytes go to `<path>.tmp` (created exclusively: whatever was there, a
 * leftover or a symbolic link planted to redirect the write, is removed and the temp created
 * again; fsynced when `sync`), which is
 * then renamed over `<path>`. A reader or a crash sees the old file or the new one, never a torn
 * one; on a failure the temp file is removed (best effort) and the step that failed is named.
 * (`FileSystem` cannot fsync a directory: after a power loss the rename itself may be lost, unless
 * the caller then fsyncs the directory — the tree log's writer does, through `Wal.syncDirectory`,
 * when its environment has `WalNode.layer`.)
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

/** The step that failed and the file it failed on (the temp file, or `path` for the rename). */
export interface AtomicWriteFailure {
  readonly operation: "open" | "write" | "sync" | "rename"
  readonly path: string
  readonly cause: PlatformError
}

export const writeAtomic = (
  fs: FileSystem.FileSystem,
  path: string,
  bytes: Uint8Array,
  sync: boolean
): Effect.Effect<void, AtomicWriteFailure> => {
  const temp = `${path}.tmp`
  const failed = (operation: AtomicWriteFailure["operation"], at: string) => (cause: PlatformError) => ({
    operation,
    path: at,
    cause
  })
  // a new file, never one planted there: the temp is created exclusively; a leftover one (or a
  // symbolic link to another file, which "w" would follow and overwrite) is removed, then the
  // write is made again
  const exclusive = sync
    ? Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(temp, { flag: "wx", mode: 0o644 })
      yield* file.writeAll(bytes).pipe(Effect.mapError(failed("write", temp)))
      yield* file.sync.pipe(Effect.mapError(failed("sync", temp)))
    }))
    : fs.writeFile(temp, bytes, { flag: "wx" })
  const write = exclusive.pipe(
    Effect.catchIf(
      (e) => "_tag" in e && e._tag === "SystemError" && e.reason === "AlreadyExists",
      () => Effect.zipRight(fs.remove(temp, { force: true }), exclusive)
    ),
    Effect.mapError((e) => "operation" in e ? e : failed(sync ? "open" : "write", temp)(e))
  )
  return write.pipe(
    Effect.zipRight(fs.rename(temp, path).pipe(Effect.mapError(failed("rename", path)))),
    Effect.tapError(() => Effect.ignore(fs.remove(temp)))
  )
}
