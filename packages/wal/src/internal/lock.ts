/**
 * One writer per WAL file (SPEC §8), across processes and inside one process, whatever name
 * reaches the file: its path, a symlink, a `dir/../file` spelling, or a hard link.
 *
 * A file has many names but one identity, its device and inode numbers, so a writer takes two
 * locks, each with the same exclusive-create and stale-holder logic (below):
 * - the NAME lock, `<log>.lock` next to the log's real path (symlinks and `..` resolved), taken
 *   before the file is opened. It is what other hosts sharing the directory see, what operators
 *   know, and it guards the creation of a log that does not exist yet;
 * - the IDENTITY lock, taken right after the log is opened (and created) and before a byte of
 *   it is read or written, from the opened descriptor's `fstat` (not a `stat` of the name,
 *   which could have been swapped since): `<dev>-<ino>.lock` in a per-user directory of the
 *   host's temp folder, `/tmp/calybris-locks-<uid>` — `/tmp` whatever `TMPDIR` says (see
 *   `hostTemp`: `CALYBRIS_LOCK_DIR` when set; `os.tmpdir()` only where there is no writable `/tmp`). A hard link in another directory has another real
 *   path, so no lock placed next to a name can catch it; the identity is the only thing all the
 *   names share, and the temp folder the only place every writer on the host can find by it.
 * Inside one process, two tables refuse a second holder at once, before any file is looked at:
 * one of real paths, one of identities. They live on `globalThis` so two copies of this module
 * agree.
 *
 * Why not an OS lock on the descriptor itself (`flock`/`fcntl`), which would follow the inode
 * everywhere, even across containers? Node has no `flock` in `node:fs`, and this package takes
 * no native addon. Why a per-user directory? The temp folder is shared by every user: in a
 * shared directory another user could delete our lock files (two writers) or plant one for our
 * log's identity (a log nobody can open). The directory is created mode 0700 and must be a
 * directory (not a symlink) owned by us that no one else can write, or the lock fails closed
 * (`WalIoError` naming it: remove it). The limits, documented in SECURITY.md: writers under different users
 * are kept apart only by the name lock (so only when they use the same name); processes that do
 * not share a temp folder (containers, systemd's `PrivateTmp`) likewise. Inode numbers are read
 * as doubles: two files whose inodes differ only above 2^53 share an identity lock, which can
 * only refuse a writer, never admit a second one.
 *
 * Inode reuse: while a writer holds the log it holds it open, so its inode cannot be reused.
 * Once the writer is gone its identity lock is released — or, after a crash, names a dead pid
 * and is stale — so a new file that gets the same inode number is not blocked by it.
 *
 * Each lock file is created exclusively (flag `"wx"`) and holds one line of text:
 * `pid=<pid> host=<hostname> started=<iso> token=<random>.<thread id>.<process start>` (the
 * token's parts after the random one read by this version; an older one compares the token
 * whole). Closing the scope that took it
 * deletes it (only if it still holds our line); the identity lock is released before the log is
 * closed, the name lock after.
 *
 * A lock file left by a crash must not block the log forever. A holder is stale when it names
 * this host and either its pid is not alive (`process.kill(pid, 0)` throws ESRCH) or it is our
 * own pid but this process does not hold the log (a previous process had our pid — common
 * after a container restart) — unless it names another thread of this very process (a
 * `worker_threads` Worker: same pid, tables of its own), which holds it: the token carries the
 * holder's thread id and its process's start (Linux: `/proc/self/stat`'s starttime, the same in
 * every thread; elsewhere an estimate to the second), so a lock of another thread of this process
 * is live, and one of a previous process with our pid is stale (a hostile review: a Worker judged
 * the main thread's locks stale and appended beside it). A Worker terminated while it held a log
 * leaves its locks, refusing the log to this process's other threads until it restarts (fail
 * closed: no thread's liveness can be checked). A holder on another host cannot be checked: it is reported, and
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
 * `FileSystem` cannot fsync a directory, so the lock file's directory entry (like the log's,
 * and a repair's saved tail) is not forced to disk: after a power loss the lock file may be
 * gone, which is harmless — a lock only matters while its holder runs.
 *
 * This is the only module of the package that touches `process`, `node:os`, `node:path` and
 * `node:worker_threads`.
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import { readFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { isAbsolute } from "node:path"
import { threadId } from "node:worker_threads"
import { WalIoError, WalLocked } from "../WalError.js"

/** An incomplete lock file (no full holder line) older than this is stale. */
export const INCOMPLETE_GRACE_MS = 10_000

/**
 * The longest lock file read: a holder line is ~150 bytes (a host name of up to 255 more). A file
 * by the lock's name that is larger, or that is neither a holder line nor the start of one (a
 * writer that crashed while writing it), is no lock: the log stays locked and the file is never
 * touched (a hostile review: a log named `X.lock` was read whole, judged an incomplete lock, and
 * deleted by the open of `X` — with a live writer's acknowledged entries).
 */
export const MAX_LOCK_BYTES = 1024

/**
 * A lock file's text, read through one descriptor whose `fstat` says it is a regular file of at
 * most `MAX_LOCK_BYTES` (a file swapped in after a `stat` by path is never read whole), or none
 * when it is gone; `Other` names what it is instead (not a regular file, too large).
 */
const readLock = (
  fs: FileSystem.FileSystem,
  lockPath: string
): Effect.Effect<
  Option.Option<
    | { readonly _tag: "Text"; readonly text: string; readonly size: bigint }
    | { readonly _tag: "Other"; readonly what: string }
  >,
  PlatformError
> =>
  Effect.scoped(Effect.gen(function*() {
    // by path first: opening a FIFO would wait for a writer
    const named = yield* fs.stat(lockPath)
    if (named.type !== "File") return Option.some({ _tag: "Other" as const, what: `a ${named.type}` })
    const file = yield* fs.open(lockPath, { flag: "r" })
    const info = yield* file.stat
    if (info.type !== "File") return Option.some({ _tag: "Other" as const, what: `a ${info.type}` })
    if (info.size > BigInt(MAX_LOCK_BYTES)) return Option.some({ _tag: "Other" as const, what: `${info.size} bytes` })
    const bytes = yield* file.readAlloc(MAX_LOCK_BYTES + 1)
    const read = Option.getOrElse(bytes, () => new Uint8Array(0))
    if (read.length > MAX_LOCK_BYTES) {
      return Option.some({ _tag: "Other" as const, what: `over ${MAX_LOCK_BYTES} bytes` })
    }
    return Option.some({ _tag: "Text" as const, text: decoder.decode(read), size: BigInt(read.length) })
  })).pipe(Effect.catchIf(isReason("NotFound"), () => Effect.succeedNone))

const decoder = new TextDecoder()

/** Whether a lock file without a holder line may be a writer's, caught while writing it. */
const mayBeIncomplete = (text: string): boolean =>
  text.length <= MAX_LOCK_BYTES && !text.includes("\n") && (text.startsWith("pid=") || "pid=".startsWith(text))

/** How often a contended acquisition starts over before reporting the log as locked. */
const ATTEMPTS = 5

const encoder = new TextEncoder()

/** A set shared by every copy of this module in the process. */
const shared = (name: string): Set<string> => {
  const key = Symbol.for(`@calybris/wal/internal/lock/${name}`)
  const global = globalThis as unknown as Record<symbol, Set<string> | undefined>
  const existing = global[key]
  if (existing !== undefined) return existing
  const created = new Set<string>()
  global[key] = created
  return created
}

/** Real paths of the logs this process holds. */
const registry: Set<string> = shared("registry")

/** Identities (`<dev>-<ino>`) of the log files this process holds. */
const identities: Set<string> = shared("identities")

interface Holder {
  readonly pid: number
  readonly host: string
  /** the holder's thread and its process's start (`processStart`), when its token names them */
  readonly thread: number | undefined
  readonly start: string | undefined
}

/**
 * This process's start, the same in each of its threads: Linux's starttime (clock ticks after
 * boot, `/proc/self/stat`: the process's, from any thread), else `m<ms>` (now − uptime).
 */
const processStart: string = (() => {
  try {
    const stat = readFileSync("/proc/self/stat", "latin1")
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
    if (ticks !== undefined && /^\d{1,20}$/.test(ticks)) return `k${ticks}`
  } catch {
    // no procfs: the estimate
  }
  return `m${Math.round(Date.now() - process.uptime() * 1000)}`
})()

/** Two process starts of one process (an estimate's threads read it a little apart: within 1 s). */
const sameStart = (a: string, b: string): boolean =>
  a.startsWith("m") && b.startsWith("m") ? Math.abs(Number(a.slice(1)) - Number(b.slice(1))) <= 1000 : a === b

/** Does this lock name another thread of this very process (which then holds it)? */
const anotherThreadOfOurs = (holder: Holder): boolean =>
  holder.pid === process.pid && holder.thread !== undefined && holder.thread !== threadId &&
  holder.start !== undefined && sameStart(holder.start, processStart)

const HOLDER = /^pid=(\d{1,10}) host=(\S+) started=(\S+)(?: token=(\S+))?\n/

const parseHolder = (text: string): Holder | undefined => {
  const m = HOLDER.exec(text)
  if (m === null) return undefined
  const pid = Number(m[1])
  const host = m[2]
  // pid 0 or a negative pid would signal a process group, never check those
  if (host === undefined || !Number.isSafeInteger(pid) || pid < 1 || pid > 0x7fffffff) return undefined
  // the token's thread and process start (absent from an older version's lock)
  const parts = (m[4] ?? "").split(".")
  const thread = parts.length === 3 && /^\d{1,10}$/.test(parts[1] as string) ? Number(parts[1]) : undefined
  return { pid, host, thread, start: thread === undefined ? undefined : parts[2] }
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
    yield* lockFile(fs, path, lockPath, "")
  })

/** Take the lock file `lockPath` for the current scope, with a fresh holder line. */
const lockFile = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  note: string
): Effect.Effect<void, WalLocked | WalIoError, Scope.Scope> =>
  Effect.gen(function*() {
    const token = (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(36) +
      (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(36)
    const started = new Date(yield* Clock.currentTimeMillis).toISOString()
    const me = `pid=${process.pid} host=${hostname()} started=${started} token=${token}.${threadId}.${processStart}\n`
    yield* Effect.acquireRelease(take(fs, path, lockPath, me, token, note), () => release(fs, lockPath, me))
  })

/** The identity of an opened file, `<dev>-<ino>`, or undefined when the platform gives no inode. */
export const identityOf = (info: FileSystem.File.Info): string | undefined =>
  Option.match(info.ino, { onNone: () => undefined, onSome: (ino) => `${info.dev}-${ino}` })

/**
 * Where tests put the identity locks instead of the host's temp folder (a `globalThis` key, like
 * the tables above: never an environment variable, which two writers may see differently).
 */
export const LOCK_BASE_FOR_TESTS = Symbol.for("@calybris/wal/lock/base-for-tests")

/**
 * The folder every writer on the host puts its identity locks in (in `calybris-locks-<uid>` there):
 * - `CALYBRIS_LOCK_DIR` when set: an explicit choice, which every writer of a log must share (for
 *   a `/tmp` that is read-only or not ours to use);
 * - else `/tmp` wherever it is a directory we can write, whatever `TMPDIR` says — `os.tmpdir()`
 *   follows `TMPDIR`, which two writers may set apart (sudo, cron, a systemd unit, a relative
 *   value from another working directory): each then found its own lock directory, and two writers
 *   got into one journal through a hard link, a later open refusing it with acknowledged entries
 *   lost (a helper's hostile review);
 * - else (Windows, no `/tmp`, a read-only `/tmp`: another mount namespace, where writers do not
 *   share `/tmp` anyway) `os.tmpdir()`.
 */
const hostTemp = (fs: FileSystem.FileSystem): Effect.Effect<string> => {
  const override = (globalThis as { [LOCK_BASE_FOR_TESTS]?: unknown })[LOCK_BASE_FOR_TESTS]
  if (typeof override === "string") return Effect.succeed(override)
  const configured = process.env[LOCK_DIR_VARIABLE]
  if (configured !== undefined && configured !== "") return Effect.succeed(configured)
  return fs.stat("/tmp").pipe(
    Effect.flatMap((info) =>
      info.type === "Directory"
        ? Effect.as(fs.access("/tmp", { writable: true }), "/tmp")
        : Effect.succeed(tmpdir())
    ),
    Effect.orElseSucceed(() => tmpdir())
  )
}

/** The environment variable that names the identity locks' folder instead of `/tmp` (see `hostTemp`). */
export const LOCK_DIR_VARIABLE = "CALYBRIS_LOCK_DIR"

/** This user's private directory of identity locks (created on first use), checked before use. */
const lockDirectory = (fs: FileSystem.FileSystem): Effect.Effect<string, WalIoError> => {
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined
  const name = `calybris-locks${uid === undefined ? "" : `-${uid}`}`
  return Effect.flatMap(hostTemp(fs), (temp) => {
    // a relative folder is another folder from each working directory: two writers started from
    // two of them found each their own locks (a hostile review got two writers in so)
    if (!isAbsolute(temp)) {
      return Effect.fail(
        ioError("lock", temp)(
          new Error(
            `${LOCK_DIR_VARIABLE}=${
              JSON.stringify(temp)
            } is not an absolute path: each working directory would find another lock folder (give the same absolute folder to every writer of the log)`
          )
        )
      )
    }
    const base = temp.replace(/[\\/]+$/, "")
    const dir = `${base}/${name}`
    return Effect.gen(function*() {
      yield* fs.makeDirectory(dir, { mode: 0o700 }).pipe(Effect.catchIf(isReason("AlreadyExists"), () => Effect.void))
      const info = yield* fs.stat(dir)
      // not through a symlink: the directory must be the one we named
      const real = yield* fs.realPath(dir)
      const realBase = yield* fs.realPath(base)
      const owner = Option.getOrUndefined(info.uid)
      const problem = info.type !== "Directory"
        ? "is not a directory"
        : real !== `${realBase.replace(/[\\/]+$/, "")}/${name}`
        ? `is a symbolic link (to ${real})`
        : uid === undefined
        ? undefined // no uids here (Windows): nothing more to check
        : owner !== uid
        ? `is owned by uid ${owner}, not by this process's uid ${uid}`
        : (info.mode & 0o022) !== 0
        ? `can be written by other users (mode ${(info.mode & 0o777).toString(8)})`
        : undefined
      if (problem !== undefined) {
        return yield* ioError("lock", dir)(
          new Error(
            `the identity lock directory ${dir} ${problem}: refusing to trust its locks (remove it, or set ${LOCK_DIR_VARIABLE} to another folder, the same for every writer of the log)`
          )
        )
      }
      return dir
    }).pipe(Effect.mapError((e) => e._tag === "WalIoError" ? e : ioError("lock", dir)(e)))
  })
}

/**
 * Take the identity lock of the opened log at `path` (`info` from its descriptor's `fstat`) for
 * the current scope: fails with `WalLocked` while a live writer holds the same file through any
 * name, in this process or another on this host.
 */
export const acquireIdentity = (
  fs: FileSystem.FileSystem,
  path: string,
  info: FileSystem.File.Info
): Effect.Effect<void, WalLocked | WalIoError, Scope.Scope> =>
  Effect.gen(function*() {
    const identity = identityOf(info)
    if (identity === undefined) return
    const note = ` (the same file as ${path}: device ${info.dev}, inode ${Option.getOrElse(info.ino, () => 0)})`
    yield* Effect.acquireRelease(
      Effect.suspend(() => {
        if (identities.has(identity)) {
          return Effect.fail(
            new WalLocked({ path, holder: `this process (pid ${process.pid}), through another name${note}` })
          )
        }
        identities.add(identity)
        return Effect.void
      }),
      () => Effect.sync(() => identities.delete(identity))
    )
    const dir = yield* lockDirectory(fs)
    yield* lockFile(fs, path, `${dir}/${identity}.lock`, note)
  })

const take = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  me: string,
  token: string,
  note: string
): Effect.Effect<void, WalLocked | WalIoError> => {
  const attempt = (n: number): Effect.Effect<void, WalLocked | WalIoError> =>
    n >= ATTEMPTS
      ? Effect.fail(new WalLocked({ path, holder: `contended: the lock kept changing hands${note}` }))
      : Effect.flatMap(
        step(fs, path, lockPath, me, token, note),
        (s) => s._tag === "Acquired" ? Effect.void : attempt(n + 1)
      )
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
      // read back through a descriptor of its own, bounded (a file swapped in is not read whole)
      const back = yield* readLock(fs, lockPath)
      return Option.isSome(back) && back.value._tag === "Text" && back.value.text === me
    })
  )

const step = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  me: string,
  token: string,
  note: string
): Effect.Effect<Step, WalLocked | WalIoError> =>
  Effect.gen(function*() {
    const created = yield* create(fs, lockPath, me).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isReason("AlreadyExists"), () => Effect.succeedNone)
    )
    if (Option.isNone(created)) return yield* existing(fs, path, lockPath, token, note)
    if (!created.value) return yield* new WalLocked({ path, holder: `another writer replaced our lock file${note}` })
    return acquired
  }).pipe(
    Effect.mapError((e) => e._tag === "WalLocked" || e._tag === "WalIoError" ? e : ioError("lock", lockPath)(e))
  )

/** The lock file exists: a live holder locks us out; a stale one is taken over. */
const existing = (
  fs: FileSystem.FileSystem,
  path: string,
  lockPath: string,
  token: string,
  note: string
): Effect.Effect<Step, WalLocked | WalIoError | PlatformError> =>
  Effect.gen(function*() {
    const notALock = (what: string) =>
      new WalLocked({
        path,
        holder: `${lockPath} is not a lock file (${what}): a writer's lock is one line "pid=… host=… ` +
          `started=…"; the log stays locked, and that file untouched, until it is renamed or removed by hand${note}`
      })
    // a large file by the lock's name is not read whole (nor ever removed)
    const read = yield* readLock(fs, lockPath)
    // released between our create and our read: start over
    if (Option.isNone(read)) return retry
    if (read.value._tag === "Other") return yield* notALock(read.value.what)
    const text = read.value.text
    const holder = parseHolder(text)
    if (holder === undefined) {
      if (!mayBeIncomplete(text)) {
        return yield* notALock(`${read.value.size} bytes, beginning ${JSON.stringify(text.slice(0, 24))}`)
      }
      // an empty file (or "pid=…" cut short) that a live writer holds as its log: no lock (the
      // review of this check: an empty log named X.lock was removed under its writer)
      const held = yield* heldAsLog(fs, lockPath)
      if (held !== undefined) return yield* notALock(`a log another writer holds, empty: ${held}`)
      if (yield* fresh(fs, lockPath)) {
        return yield* new WalLocked({
          path,
          holder:
            `an incomplete lock file (${JSON.stringify(describe(text))}): a writer is starting, or crashed while ` +
            `starting (it counts as stale ${INCOMPLETE_GRACE_MS / 1000} s after its last change)${note}`
        })
      }
    } else if (holder.host !== hostname()) {
      return yield* new WalLocked({
        path,
        holder: `${describe(text)} (another host: remove ${lockPath} by hand once that writer is gone)${note}`
      })
    } else if (holder.pid !== process.pid && isAlive(holder.pid)) {
      // the lock file named: a process that took a dead writer's pid keeps the log refused until
      // this file is removed by hand (a helper's review: the operator had to rebuild its name)
      return yield* new WalLocked({ path, holder: `${describe(text)} (lock file ${lockPath})${note}` })
    } else if (anotherThreadOfOurs(holder)) {
      return yield* new WalLocked({
        path,
        holder: `${
          describe(text)
        } (thread ${holder.thread} of this process: a worker thread holds it; lock file ${lockPath})${note}`
      })
    }
    // stale: move it aside, and delete it only if it is the file we judged
    const aside = `${lockPath}.stale-${process.pid}-${token}`
    const moved = yield* fs.rename(lockPath, aside).pipe(
      Effect.as(true),
      Effect.catchIf(isReason("NotFound"), () => Effect.succeed(false))
    )
    if (!moved) return retry
    const movedRead = yield* readLock(fs, aside)
    const movedText = Option.isSome(movedRead) && movedRead.value._tag === "Text" ? movedRead.value.text : undefined
    if (movedText === text) {
      yield* fs.remove(aside)
      return retry
    }
    // another process replaced the stale lock meanwhile: put its lock back, it holds the log
    yield* fs.link(aside, lockPath).pipe(Effect.ignore)
    yield* fs.remove(aside).pipe(Effect.ignore)
    return yield* new WalLocked({ path, holder: describe(movedText ?? "(another file)") + note })
  })

/** Delete the lock file if it still holds our line (never another writer's). */
const release = (fs: FileSystem.FileSystem, lockPath: string, me: string): Effect.Effect<void> =>
  readLock(fs, lockPath).pipe(
    Effect.flatMap((read) =>
      Option.isSome(read) && read.value._tag === "Text" && read.value.text === me ? fs.remove(lockPath) : Effect.void
    ),
    Effect.ignore
  )

/**
 * Whether the file at `lockPath` is a log a live writer holds: its identity (device and inode) in
 * this process's table, or named by an identity lock whose holder is alive. Anything that cannot
 * be told (the identity lock folder unusable) counts as held: such a file is kept.
 */
const heldAsLog = (fs: FileSystem.FileSystem, lockPath: string): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    const info = yield* fs.stat(lockPath).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isReason("NotFound"), () => Effect.succeedNone)
    )
    // gone meanwhile: the takeover that follows finds it gone, and starts over
    if (Option.isNone(info)) return undefined
    // its own name lock, beside it: a writer whose identity locks are elsewhere (another user,
    // another CALYBRIS_LOCK_DIR, another /tmp) is found there (the review of this check); judged
    // as any lock is: one without a holder line counts only while it is fresh
    const namedPath = `${lockPath}.lock`
    const named = yield* readLock(fs, namedPath)
    if (Option.isSome(named)) {
      const by = `its own lock ${namedPath} names a writer`
      if (named.value._tag === "Other") return `${by}: it is ${named.value.what}`
      const holder = parseHolder(named.value.text)
      if (holder !== undefined && isLive(holder)) return `${by}: ${describe(named.value.text)}`
      if (holder === undefined && (yield* fresh(fs, namedPath))) return `${by} starting`
    }
    const identity = identityOf(info.value)
    if (identity === undefined) return undefined
    if (identities.has(identity)) return `this process writes it (pid ${process.pid})`
    const identityPath = `${yield* lockDirectory(fs)}/${identity}.lock`
    const read = yield* readLock(fs, identityPath)
    if (Option.isNone(read)) return undefined
    const by = `its identity lock ${identityPath} names a writer`
    if (read.value._tag === "Other") return `${by}: it is ${read.value.what}`
    const holder = parseHolder(read.value.text)
    if (holder !== undefined) return isLive(holder) ? `${by}: ${describe(read.value.text)}` : undefined
    return (yield* fresh(fs, identityPath)) ? `${by} starting` : undefined
  }).pipe(Effect.orElseSucceed(() => "whether a writer holds it could not be told"))

/** Whether a file changed within `INCOMPLETE_GRACE_MS` (a lock without a holder line counts while fresh). */
const fresh = (fs: FileSystem.FileSystem, path: string): Effect.Effect<boolean, PlatformError> =>
  Effect.gen(function*() {
    const info = yield* fs.stat(path)
    const now = yield* Clock.currentTimeMillis
    return now - Option.match(info.mtime, { onNone: () => now, onSome: (d) => d.getTime() }) <= INCOMPLETE_GRACE_MS
  })

/** Whether a holder line names a writer that may be alive: on another host, another live process, or another thread of ours. */
const isLive = (holder: Holder): boolean =>
  holder.host !== hostname() || (holder.pid !== process.pid && isAlive(holder.pid)) || anotherThreadOfOurs(holder)
