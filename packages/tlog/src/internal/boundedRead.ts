/**
 * A small file read whole, safely: a regular file of at most `maxBytes`, its type and size
 * checked on the open descriptor (`fstat`) as well as before the open, and read no further than
 * the size the descriptor gives. A link to a device swapped in after the first check is refused without being read
 * (a link to /dev/zero filled memory; a helper's hostile review). A FIFO is refused by the check
 * before the open (opening one nobody writes to blocks); one swapped in between the check and
 * the open still blocks it: the platform's `FileSystem` opens without `O_NONBLOCK`.
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

/** What is at the path. */
export type Found =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "NotRegular"; readonly type: FileSystem.File.Type }
  | { readonly _tag: "TooLarge"; readonly size: bigint }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }

const isNotFound = (e: PlatformError): boolean => e._tag === "SystemError" && e.reason === "NotFound"

const MISSING: Found = { _tag: "Missing" }

/** What `info` is, when it is not a regular file of at most `maxBytes`; else undefined. */
const refused = (info: FileSystem.File.Info, maxBytes: number): Found | undefined =>
  info.type !== "File"
    ? { _tag: "NotRegular", type: info.type }
    : info.size > BigInt(maxBytes)
    ? { _tag: "TooLarge", size: info.size }
    : undefined

/** The bytes of the regular file at `path` (following links), at most `maxBytes`; or what is there instead. */
export const readBounded = (
  fs: FileSystem.FileSystem,
  path: string,
  maxBytes: number
): Effect.Effect<Found, PlatformError> =>
  Effect.scoped(Effect.gen(function*() {
    const info = yield* fs.stat(path).pipe(
      Effect.map((info): FileSystem.File.Info | undefined => info),
      Effect.catchIf(isNotFound, () => Effect.succeed(undefined))
    )
    if (info === undefined) return MISSING
    const before = refused(info, maxBytes)
    if (before !== undefined) return before
    const file = yield* fs.open(path, { flag: "r" }).pipe(
      Effect.map((file): FileSystem.File | undefined => file),
      Effect.catchIf(isNotFound, () => Effect.succeed(undefined))
    )
    if (file === undefined) return MISSING
    // what the descriptor names (the path may have been swapped since the stat)
    const descriptor = yield* file.stat
    const opened = refused(descriptor, maxBytes)
    if (opened !== undefined) return opened
    // the bytes the descriptor's size names (what grows past it meanwhile is not read: the file
    // as it was at the fstat, never more than the bound); one read for a whole small file
    const size = Number(descriptor.size)
    const buffer = new Uint8Array(size)
    let length = 0
    while (length < size) {
      const read = Number(yield* file.read(buffer.subarray(length)))
      if (read === 0) break
      length += read
    }
    return { _tag: "Bytes", bytes: length === size ? buffer : buffer.subarray(0, length) } satisfies Found
  }))
