/**
 * One writer per WAL file (SPEC §8), across processes and inside one process.
 *
 * The lock is the file `<log>.lock` (next to the log's real path, symlinks resolved), created
 * exclusively (flag `"wx"`) and holding one line of text:
 * `pid=<pid> host=<hostname> started=<iso> token=<random>`. Closing the scope that took it
 * deletes it (only if it still holds our line).
 *
 * A lock file left by a crash must not block the log forever. A holder is stale when it names
 * this host and either its pid is not alive (`process.kill(pid, 0)` throws ESRCH) or it is our
 * own pid but this process does not hold the log (a previous process had our pid — common
 * after a container restart). A holder on another host cannot be checked: it is reported, and
 * an operator removes the file once that writer is gone. A lock file that does not hold a
 * complete line is a writer between creating and writing it — or one that crashed right there:
 * it counts as stale once it has not changed for `INCOMPLETE_GRACE_MS`.
 *
 * Taking over a stale lock never overwrites it in place: the stale file is renamed aside to a
 * name of our own, and only if the file we moved is byte for byte the one we judged stale is
 * it deleted; otherwise (another process replaced it meanwhile) it is linked back. Then the
 * lock is created exclusively again, like a fresh one, and re-read to confirm we own it. Two
 * processes racing for one stale lock thus end with one holder. (Renaming over the lock with a
 * new one, then re-reading, is not enough: both racers would read their own line back.)
 *
 * Inside one process, a table keyed by the log's real path refuses a second holder at once,
 * before the file is looked at. It lives on `globalThis` so two copies of this module agree.
 *
 * `FileSystem` cannot fsync a directory, so the lock file's directory entry (like the log's,
 * and a repair's saved tail) is not forced to disk: after a power loss the lock file may be
 * gone, which is harmless — a lock only matters while its holder runs.
 *
 * This is the only module of the package that touches `process` and `node:os`.
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import { hostname } from "node:os"
import { WalIoError, WalLocked } from "../WalError.js"

/** An incomplete lock file (no full holder line) older than this is stale. */
export const INCOMPLETE_GRACE_MS = 10_000

/** How often a contended acquisition starts over before reporting the log as locked. */
const ATTEMPTS = 5

const encoder = new TextEncoder()

const REGISTRY = Symbol.for("@calybris/wal/internal/lock/registry")

/** Real paths of the logs this process holds. */
const registry: Set<string> = (() => {
  const global = globalThis as unknown as Record<symbol, Set<string> | undefined>
  const existing = global[REGISTRY]
  if (existing !== undefined) return existing
  const created = new Set<string>()
  global[REGISTRY] = created
  return created
})()

interface Holder {
  readonly pid: number
  readonly host: string
}

const HOLDER = /^pid=(\d{1,10}) host=(\S+) started=(\S+)(?: token=(\S+))?\n/

const parseHolder = (text: string): Holder | undefined => {
  const m = HOLDER.exec(text)
  if (m === null) return undefined
  const pid = Number(m[1])
  const host = m[2]
  // pid 0 or a negative pid would signal a process group, never check those
  if (host === undefined || !Number.isSafeInteger(pid) || pid < 1 || pid > 0x7fffffff) return undefined
  return { pid, host }
}

/** `process.kill(pid, 0)`: alive unless it throws ESRCH (EPERM means it exists under another user). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return !(typeof e === "object" && e !== null && "code" in e && e.code === "ESRCH")
  }
}

const isReason = (reason: string) => (e: PlatformError): boolean => e._tag === "SystemError" && e.reason === reason

const ioError = (operation: string, path: string) => (cause: unknown) => new WalIoError({ operation, path, cause })

const describe = (text: string): string => {
  const line = text.split("\n", 1)[0] ?? ""
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

/** The real path of a log, whether or not it exists yet (then its directory's real path). */
export const realPath = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string, WalIoError> =>
  Effect.gen(function*() {
    if (yield* fs.exists(path)) return yield* fs.realPath(path)
    const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"))
    const dir = cut < 0 ? "." : cut === 0 ? path.slice(0, 1) : path.slice(0, cut)
    const base = path.slice(cut + 1)
    const realDir = yield* fs.realPath(dir)
    return /[\\/]$/.test(realDir) ? realDir + base : `${realDir}/${base}`
  }).pipe(Effect.mapError(ioError("resolve", path)))

type Step =
  | { readonly _tag: "Acquired" }
  | { readonly _tag: "Retry" }

const acquired: Step = { _tag: "Acquired" }
const retry: Step = { _tag: "Retry" }

/**
 * Take the lock of the log at `path` for the current scope: fails with `WalLocked` while a
 * live writer (in this process or another on this host) holds it.
 */
export const acquire = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<void, WalLocked | WalIoError, Scope.Scope> =>
  Effect.gen(function*() {
    const target = yield* realPath(fs, path)
    const lockPath = `${target}.lock`
    yield* Effect.acquireRelease(
      Effect.suspend(() => {
        if (registry.has(target)) {
          return Effect.fail(new WalLocked({ path, holder: `this process (pid ${process.pid})` }))
        }
        registry.add(target)
        return Effect.void
      }),
      () => Effect.sync(() => registry.delete(target))
    )
    const token = (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(36) +
      (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(36)
    const started = new Date(yield* Clock.currentTimeMillis).toISOString()
    const me = `pid=${process.pid} host=${hostname()} started=${started} token=${token}\n`
    yield* Effect.acquireRelease(take(fs, path, lockPath, me, token), () => release(fs, lockPath, me))
  })

const take = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  me: string,
  token: string
): Effect.Effect<void, WalLocked | WalIoError> => {
  const attempt = (n: number): Effect.Effect<void, WalLocked | WalIoError> =>
    n >= ATTEMPTS
      ? Effect.fail(new WalLocked({ path, holder: "contended: the lock kept changing hands" }))
      : Effect.flatMap(step(fs, path, lockPath, me, token), (s) => s._tag === "Acquired" ? Effect.void : attempt(n + 1))
  return attempt(0)
}

/** Create the lock file exclusively with our line, fsync it, and read it back. */
const create = (fs: FileSystem.FileSystem, lockPath: string, me: string): Effect.Effect<boolean, PlatformError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const file = yield* fs.open(lockPath, { flag: "wx", mode: 0o644 })
      yield* Effect.gen(function*() {
        yield* file.writeAll(encoder.encode(me))
        yield* file.sync
      }).pipe(Effect.tapError(() => Effect.ignore(fs.remove(lockPath))))
      return (yield* fs.readFileString(lockPath)) === me
    })
  )

const step = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  me: string,
  token: string
): Effect.Effect<Step, WalLocked | WalIoError> =>
  Effect.gen(function*() {
    const created = yield* create(fs, lockPath, me).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isReason("AlreadyExists"), () => Effect.succeedNone)
    )
    if (Option.isNone(created)) return yield* existing(fs, path, lockPath, token)
    if (!created.value) return yield* new WalLocked({ path, holder: "another writer replaced our lock file" })
    return acquired
  }).pipe(
    Effect.mapError((e) => e._tag === "WalLocked" || e._tag === "WalIoError" ? e : ioError("lock", lockPath)(e))
  )

/** The lock file exists: a live holder locks us out; a stale one is taken over. */
const existing = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  token: string
): Effect.Effect<Step, WalLocked | WalIoError | PlatformError> =>
  Effect.gen(function*() {
    const read = yield* fs.readFileString(lockPath).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isReason("NotFound"), () => Effect.succeedNone)
    )
    // released between our create and our read: start over
    if (Option.isNone(read)) return retry
    const text = read.value
    const holder = parseHolder(text)
    if (holder === undefined) {
      const info = yield* fs.stat(lockPath)
      const now = yield* Clock.currentTimeMillis
      const changed = Option.match(info.mtime, { onNone: () => now, onSome: (d) => d.getTime() })
      if (now - changed <= INCOMPLETE_GRACE_MS) {
        return yield* new WalLocked({
          path,
          holder:
            `an incomplete lock file (${JSON.stringify(describe(text))}): a writer is starting, or crashed while ` +
            `starting (it counts as stale ${INCOMPLETE_GRACE_MS / 1000} s after its last change)`
        })
      }
    } else if (holder.host !== hostname()) {
      return yield* new WalLocked({
        path,
        holder: `${describe(text)} (another host: remove ${lockPath} by hand once that writer is gone)`
      })
    } else if (holder.pid !== process.pid && isAlive(holder.pid)) {
      return yield* new WalLocked({ path, holder: describe(text) })
    }
    // stale: move it aside, and delete it only if it is the file we judged
    const aside = `${lockPath}.stale-${process.pid}-${token}`
    const moved = yield* fs.rename(lockPath, aside).pipe(
      Effect.as(true),
      Effect.catchIf(isReason("NotFound"), () => Effect.succeed(false))
    )
    if (!moved) return retry
    const movedText = yield* fs.readFileString(aside)
    if (movedText === text) {
      yield* fs.remove(aside)
      return retry
    }
    // another process replaced the stale lock meanwhile: put its lock back, it holds the log
    yield* fs.link(aside, lockPath).pipe(Effect.ignore)
    yield* fs.remove(aside).pipe(Effect.ignore)
    return yield* new WalLocked({ path, holder: describe(movedText) })
  })

/** Delete the lock file if it still holds our line (never another writer's). */
const release = (fs: FileSystem.FileSystem, lockPath: string, me: string): Effect.Effect<void> =>
  fs.readFileString(lockPath).pipe(
    Effect.flatMap((text) => text === me ? fs.remove(lockPath) : Effect.void),
    Effect.ignore
  )
