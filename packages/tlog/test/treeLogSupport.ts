/** Shared by the tree log's tests. */
import type * as Json from "@calybris/core/Json"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { createHmac } from "node:crypto"
import * as nodeFs from "node:fs"

/** Every file under `dir` (relative paths, sorted). */
export const filesUnder = (dir: string): Array<string> =>
  (nodeFs.readdirSync(dir, { recursive: true }) as Array<string>)
    .filter((p) => nodeFs.statSync(`${dir}/${p}`).isFile())
    .sort()

/** The lines of a log's bytes, each without its LF (a final line without LF included): the tree's leaves. */
export const linesOf = (bytes: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let from = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.slice(from, i))
      from = i + 1
    }
  }
  if (from < bytes.length) out.push(bytes.slice(from))
  return out
}

/**
 * The bytes of `tree-head` for `size` and `rootHex`, computed here with `node:crypto` (not the
 * library's code): `<size>\n<root hex>\n`, and for a keyed log the HMAC-SHA256 under its key of
 * `calybris tlog tree-head v1\n<size>\n<root hex>\n`, in hex, on a third line.
 */
export const headText = (size: bigint | number, rootHex: string, key?: Uint8Array): string => {
  const body = `${size}\n${rootHex}\n`
  return key === undefined
    ? body
    : `${body}${createHmac("sha256", key).update(`calybris tlog tree-head v1\n${body}`).digest("hex")}\n`
}

/**
 * `fs` with the members of every file opened for append (the log's file) taken from `change`,
 * the others delegated (they live on a prototype, which a spread does not copy).
 */
export const withLogFile = (
  fs: FileSystem.FileSystem,
  change: (file: FileSystem.File, path: string) => Partial<Pick<FileSystem.File, "sync" | "write" | "writeAll">>
): FileSystem.FileSystem =>
  FileSystem.FileSystem.of({
    ...fs,
    open: (p, options) =>
      Effect.map(fs.open(p, options), (file): FileSystem.File =>
        options?.flag !== "a" ? file : {
          [FileSystem.FileTypeId]: file[FileSystem.FileTypeId],
          fd: file.fd,
          stat: file.stat,
          seek: (offset, from) => file.seek(offset, from),
          sync: file.sync,
          read: (buffer) => file.read(buffer),
          readAlloc: (size) => file.readAlloc(size),
          truncate: (length) => file.truncate(length),
          write: (buffer) => file.write(buffer),
          writeAll: (buffer) => file.writeAll(buffer),
          ...change(file, p)
        })
  })

/**
 * `fs` whose log file holds each fsync while the gate is shut (`shut`, then `open`): an append
 * under "batch" or "always" waits for its acknowledgement, sealed and written, as long as a test
 * wants. `interrupted` shuts it, starts an append of each record, and interrupts each once it is
 * sealed and written: none is acknowledged to its caller (their exits, all interrupted, returned).
 */
export const gatedSyncs = (fs: FileSystem.FileSystem) => {
  let gate: Deferred.Deferred<void> | undefined = undefined
  const fileSystem = withLogFile(fs, (file) => ({
    sync: Effect.suspend(() => gate === undefined ? file.sync : Effect.zipRight(Deferred.await(gate), file.sync))
  }))
  const shut = (): void => {
    gate ??= Deferred.unsafeMake<void>(FiberId.none)
  }
  return {
    fileSystem,
    shut,
    open: (): void => {
      if (gate !== undefined) Deferred.unsafeDone(gate, Exit.void)
      gate = undefined
    },
    interrupted: <A, E>(append: (data: Json.Json) => Effect.Effect<A, E>, records: ReadonlyArray<Json.Json>) =>
      Effect.gen(function*() {
        shut()
        const fibers = yield* Effect.forEach(records, (record) => Effect.fork(append(record)))
        yield* Effect.sleep("20 millis")
        return yield* Effect.forEach(fibers, Fiber.interrupt)
      })
  }
}
