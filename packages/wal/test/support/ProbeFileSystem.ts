/**
 * A FileSystem for tests: the real NodeFileSystem, every member delegated, except that a file
 * opened for append (flag "a": the log) is wrapped to count its writes and fsyncs and to
 * inject faults — a failing write, a short write, ENOSPC, a failing fsync — or hold a write
 * until a gate opens. The file's methods live on a prototype, so each member is delegated
 * explicitly (a spread would copy none of them).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export type Fault = "write" | "short-write" | "enospc" | "fsync"

/** What the log's file saw, and what it does next. Calls are counted from 1, when they start. */
export class Probe {
  /** fault the `at`-th write call (or fsync call, for "fsync") to the log; one shot */
  fault: { readonly kind: Fault; readonly at: number } | undefined = undefined
  /** run before every fsync (a delay: the appends sealed meanwhile must wait for the next one) */
  beforeSync: Effect.Effect<void> | undefined = undefined
  /** the `at`-th write call waits for `open` before it writes */
  gate: { readonly at: number; readonly open: Deferred.Deferred<void> } | undefined = undefined
  writeCalls = 0
  /** the most bytes one write call was given */
  largestWrite = 0
  syncCalls = 0
  /** completed fsyncs */
  syncs = 0
  /** newlines written to the log, and covered by a completed fsync */
  writtenLines = 0
  syncedLines = 0
  /** the errors the faults raised */
  readonly raised: Array<SystemError> = []
}

const newlines = (buffer: Uint8Array): number => {
  let n = 0
  for (const b of buffer) if (b === 0x0a) n++
  return n
}

const systemError = (
  probe: Probe,
  fd: number,
  method: string,
  reason: "Unknown" | "WriteZero",
  description: string
) => {
  const error = new SystemError({
    module: "FileSystem",
    method,
    reason,
    pathOrDescriptor: fd,
    syscall: method === "sync" ? "fsync" : "write",
    description
  })
  probe.raised.push(error)
  return error
}

const wrapFile = (file: FileSystem.File, probe: Probe): FileSystem.File => {
  const writeAll = (buffer: Uint8Array): Effect.Effect<void, PlatformError> =>
    Effect.gen(function*() {
      const call = ++probe.writeCalls
      probe.largestWrite = Math.max(probe.largestWrite, buffer.length)
      const gate = probe.gate
      if (gate !== undefined && gate.at === call) {
        probe.gate = undefined
        yield* Deferred.await(gate.open)
      }
      const fault = probe.fault
      if (fault !== undefined && fault.kind !== "fsync" && fault.at === call) {
        probe.fault = undefined
        const half = buffer.subarray(0, Math.max(1, Math.floor(buffer.length / 2)))
        switch (fault.kind) {
          case "write":
            return yield* systemError(probe, file.fd, "writeAll", "Unknown", "EIO: i/o error, write")
          case "short-write":
            // the kernel took part of the buffer, then the next write(2) returned 0
            yield* file.writeAll(half)
            return yield* systemError(probe, file.fd, "writeAll", "WriteZero", "write returned 0 bytes written")
          case "enospc":
            yield* file.writeAll(half)
            return yield* systemError(probe, file.fd, "writeAll", "Unknown", "ENOSPC: no space left on device, write")
        }
      }
      yield* file.writeAll(buffer)
      probe.writtenLines += newlines(buffer)
    })
  const sync = Effect.gen(function*() {
    const call = ++probe.syncCalls
    const fault = probe.fault
    if (fault !== undefined && fault.kind === "fsync" && fault.at === call) {
      probe.fault = undefined
      return yield* systemError(probe, file.fd, "sync", "Unknown", "EIO: i/o error, fsync")
    }
    const covered = probe.writtenLines
    if (probe.beforeSync !== undefined) yield* probe.beforeSync
    yield* file.sync
    probe.syncs++
    probe.syncedLines = covered
  })
  return {
    [FileSystem.FileTypeId]: FileSystem.FileTypeId,
    fd: file.fd,
    get stat() {
      return file.stat
    },
    seek: (offset, from) => file.seek(offset, from),
    sync,
    read: (buffer) => file.read(buffer),
    readAlloc: (size) => file.readAlloc(size),
    truncate: (length) => file.truncate(length),
    write: (buffer) => file.write(buffer),
    writeAll
  }
}

/** The real FileSystem with the log's file wrapped. */
export const make = (real: FileSystem.FileSystem, probe: Probe): FileSystem.FileSystem =>
  FileSystem.FileSystem.of({
    access: (path, options) => real.access(path, options),
    copy: (from, to, options) => real.copy(from, to, options),
    copyFile: (from, to) => real.copyFile(from, to),
    chmod: (path, mode) => real.chmod(path, mode),
    chown: (path, uid, gid) => real.chown(path, uid, gid),
    exists: (path) => real.exists(path),
    link: (from, to) => real.link(from, to),
    makeDirectory: (path, options) => real.makeDirectory(path, options),
    makeTempDirectory: (options) => real.makeTempDirectory(options),
    makeTempDirectoryScoped: (options) => real.makeTempDirectoryScoped(options),
    makeTempFile: (options) => real.makeTempFile(options),
    makeTempFileScoped: (options) => real.makeTempFileScoped(options),
    open: (path, options) =>
      options?.flag === "a"
        ? Effect.map(real.open(path, options), (file) => wrapFile(file, probe))
        : real.open(path, options),
    readDirectory: (path, options) => real.readDirectory(path, options),
    readFile: (path) => real.readFile(path),
    readFileString: (path, encoding) => real.readFileString(path, encoding),
    readLink: (path) => real.readLink(path),
    realPath: (path) => real.realPath(path),
    remove: (path, options) => real.remove(path, options),
    rename: (from, to) => real.rename(from, to),
    sink: (path, options) => real.sink(path, options),
    stat: (path) => real.stat(path),
    stream: (path, options) => real.stream(path, options),
    symlink: (from, to) => real.symlink(from, to),
    truncate: (path, length) => real.truncate(path, length),
    utimes: (path, atime, mtime) => real.utimes(path, atime, mtime),
    watch: (path, options) => real.watch(path, options),
    writeFile: (path, data, options) => real.writeFile(path, data, options),
    writeFileString: (path, data, options) => real.writeFileString(path, data, options)
  })

/** The probing FileSystem over NodeFileSystem. */
export const layer = (probe: Probe): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (real) => make(real, probe))).pipe(
    Layer.provide(NodeFileSystem.layer)
  )

/**
 * `real`, except that every file it opens whose open `fails` picks writes ENOSPC on each
 * `writeAll` (a full disk, for the code that writes a new file whole or not at all).
 */
export const failingWrites = (
  real: FileSystem.FileSystem,
  fails: (path: string, options: FileSystem.OpenFileOptions | undefined) => boolean = () => true
): FileSystem.FileSystem =>
  FileSystem.make({
    ...real,
    open: (path, options) =>
      fails(path, options)
        ? Effect.map(real.open(path, options), (opened) =>
          Object.assign(Object.create(opened) as FileSystem.File, {
            writeAll: () =>
              Effect.fail(
                new SystemError({
                  module: "FileSystem",
                  method: "writeAll",
                  reason: "Unknown",
                  pathOrDescriptor: path,
                  description: "ENOSPC: no space left on device"
                })
              )
          }))
        : real.open(path, options)
  })
