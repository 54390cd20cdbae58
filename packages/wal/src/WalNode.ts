/**
 * The Node layer of the file log's flusher: writes with `fs.writeSync` on the log's descriptor
 * and syncs with `fdatasync` (the reference's `sync_data`: the data and the metadata needed to
 * read it back, such as the file's size, not its modification time) — no `@effect/platform`
 * round trip through libuv's thread pool for a write, and none at all for an fsync under
 * `"always"`. Provide it beside `FileSystem` (`Wal.layerFile(path).pipe(Layer.provide(WalNode.layer))`);
 * without it the file layer writes and syncs through `FileSystem` (portable, what fault tests wrap).
 *
 * Per durability:
 * - `"always"`: each append is written and `fdatasync`ed on the JavaScript thread, in the
 *   append's own call (`writeSync`, `fdatasyncSync`): one write and one fdatasync per append,
 *   nothing else on the path (no flusher round trip). The
 *   event loop waits for the disk during that fsync — under `"always"` the appends wait for
 *   their fsyncs one after the other anyway; use `"batch"` when many callers append at once;
 * - `"batch"`: each round is written on the JavaScript thread (into the page cache) and
 *   `fdatasync`ed on libuv's thread pool, so appends keep sealing the next round meanwhile;
 * - `"never"`: written on the JavaScript thread, never synced.
 *
 * Under `"always"` and `"batch"` the open also fsyncs the log's directory (once, before any
 * append is acknowledged), so a crash cannot lose a newly created log's directory entry with the
 * entries acknowledged in it.
 */
import { SystemError } from "@effect/platform/Error"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileIo, type FileIoShape, syncDirectoryWith } from "./internal/io.js"

export { FileIo, type FileIoShape } from "./internal/io.js"

const writeAll = (fd: number, bytes: Uint8Array): void => {
  let at = 0
  while (at < bytes.length) {
    const written = fs.writeSync(fd, bytes, at, bytes.length - at)
    if (written <= 0) {
      throw Object.assign(new Error(`write returned ${written} bytes written`), { code: "EIO", syscall: "write" })
    }
    at += written
  }
}

/**
 * fsync on the directory holding `file`. A platform or file system that cannot fsync a directory
 * (EINVAL, EISDIR, EBADF: Windows, some network file systems) is left as it is; any other
 * failure throws.
 */
const syncDirectoryOf = (file: string): void => {
  let fd: number | undefined
  try {
    fd = fs.openSync(path.dirname(path.resolve(file)), "r")
    fs.fsyncSync(fd)
  } catch (error) {
    const code = (error as { readonly code?: unknown }).code
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EBADF") throw error
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** `node:fs` on the descriptor: `writeSync`, `fdatasyncSync`, `fdatasync`, `fstat`'s link count; fsync on the log's directory. */
export const io: FileIoShape = {
  writeAll,
  syncNow: (fd) => fs.fdatasyncSync(fd),
  sync: (fd, done) => fs.fdatasync(fd, (error) => done(error ?? undefined)),
  syncDirectoryOf,
  links: (fd) => fs.fstatSync(fd).nlink
}

/**
 * fsync on the directory holding `file`, with the `FileIo` of the environment (this module's
 * `layer`, or `layerWith`'s functions), when it has one and can (`FileSystem` has no directory
 * fsync: without it nothing is done). For a file just created or renamed into place: once this
 * succeeds, a crash cannot take its directory entry away. Its failure is a `SystemError`.
 */
export const syncDirectory = (file: string): Effect.Effect<void, SystemError> =>
  syncDirectoryWith(file, (error) =>
    new SystemError({
      module: "FileSystem",
      method: "syncDirectory",
      reason: "Unknown",
      pathOrDescriptor: file,
      description: `fsync of its directory: ${error instanceof Error ? error.message : String(error)}`
    }))

/** The flusher writes and syncs with `node:fs` (see the module's comment). */
export const layer: Layer.Layer<FileIo> = Layer.succeed(FileIo, io)

/** The flusher writes and syncs with the given functions (tests: fault injection on this path). */
export const layerWith = (functions: FileIoShape): Layer.Layer<FileIo> => Layer.succeed(FileIo, functions)
