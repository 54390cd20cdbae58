/**
 * The tree log's hashing and tile writing on a worker thread (Node; `TreeLogNode.layer`).
 *
 * - Leaves of a file log, once open (`follow`): `push` only notes the leaf's view (the WAL leaves
 *   it unchanged until it reports the line written); `written` (the WAL's `onWritten`) copies
 *   each write's bytes, as the writer wrote them, into a "lines" chunk (one `set` a write, not one
 *   a line), transferred to the worker when full or at `sync`; the worker splits it at each LF.
 *   The writer's own bytes, never the file read back: what the tree hashes is what the log
 *   sealed, whatever the file holds. (Two other designs were built and measured: one `set` per
 *   line as it is sealed cost the appending thread 2–8% of an unsynced append; the worker reading
 *   the page cache back cost it nothing directly, but the worker then had to recompute each line's
 *   chain link to trust it, ~2 µs a line on the second core, and on 2 cores the extra load came
 *   back as run-queue waits of the appending thread.)
 * - Leaves otherwise (the lines the open reads, a memory log, and at `sync` the leaves sealed but
 *   not yet written): copied into a "records" chunk (an ordinary 256 KiB buffer: one `set` a
 *   leaf, no message, no allocation); a full chunk is transferred to the worker (a `MessagePort`
 *   message: its buffer moved, not copied). Each chunk names its first leaf; the worker skips the
 *   leaves it already has (a write of leaves that `sync` handed over before it).
 * - The worker hashes each leaf, keeps the compact range, and answers with one buffer of hashes
 *   (the leaf hashes, the higher tile-level nodes it completed, and the compact range after them:
 *   a flush's root at that size is a fold of O(log n) hashes, no tile read), handing a chunk's
 *   buffer back for reuse. The appending thread takes the answers synchronously
 *   (`receiveMessageOnPort`) once the worker's count of leaves done moved (one shared counter):
 *   at each chunk it hands over, at each write reported, and in `sync`. It never hashes a leaf.
 * - Files: a flush's tiles and tree head are sent to the worker, which writes them with
 *   `node:fs` (each a temp file, fsynced when asked, renamed into place; the head last) and
 *   answers, handing the files' buffer back for the next flush (on these machines a fresh
 *   300 KB buffer costs ~0.5 ms of page faults, more than its copy); the flush waits for that
 *   answer without blocking the event loop. The appending thread makes no file-system call for
 *   the tiles.
 *
 * Waiting uses shared flags and counters: a side about to sleep sets its flag, looks once more,
 * then waits on its wake counter; the other side bumps the counter and notifies only when the flag
 * says so. The worker first sleeps lightly (1 ms at a time, without asking to be woken: a busy
 * appender hands over a chunk every few milliseconds, and a notify costs it more than the worker's
 * poll), and after ~20 ms idle deeply (woken by the next chunk or request). An append, when
 * `maxChunks` chunks are in flight (the worker is behind), is held by `admit` (`Wal.admitWait`)
 * until half of them are answered, and `catchUp` waits for every leaf pushed so far (a head, a
 * proof, a flush): both asleep in `Atomics.waitAsync`, the thread free (a ref'd timer keeps the
 * event loop alive meanwhile). The tree log reads the size it answers for before that wait, so
 * the leaves of appends meanwhile are not waited for and no `sync` follows; the thread blocks only
 * in `sync` at the open (a full verification), in the open's `push` past `maxChunks`, and at close.
 * The main side's sleep flag is a count (a blocked wait and held appends may sleep at once). A
 * stopped worker (failed, exited, closed) or a wait without progress for `stallMillis` refuses the
 * append in `admit`, unsealed, and makes `sync` throw `TreeHashingStopped`; after a stalled wait,
 * the next waits fail at once until the worker's count of leaves done moves again.
 *
 * Hashing: `node:crypto` in the worker. (OpenSSL 3's digests on two threads at once slow each
 * other: the appending thread's `crypto.hash` of 1.1 KB took 1.13 µs alone and 1.41 µs beside a
 * thread hashing non-stop; the worker hashes a few microseconds per leaf, and a WebAssembly
 * SHA-256, which shares no lock but takes ~4× as long per leaf, measured no better in the append
 * benchmark.)
 *
 * A records chunk: `[u32 length, little-endian][0x00][length bytes]` a leaf (the 0x00 is RFC
 * 6962's leaf prefix: the worker hashes the record in place). A lines chunk: byte 0 free, then the
 * writes' bytes (the worker puts each line's 0x00 on the byte before it: byte 0, or the LF
 * before). A leaf longer than a chunk gets a chunk of its own size. Leaf indices are doubles in the worker: exact below 2^53 leaves (beyond that the
 * tree log hashes inline).
 */
import { type AdmitWait, admitWait } from "@calybris/wal/Wal"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import type { CompactRange } from "../CompactRange.js"
import { rootOfSubtrees } from "./hash.js"
import type { FileWriter, Sink, StartHashing, TreeHashing, WriteFailure } from "./treeHashing.js"
import { inline, LINKED_DIRECTORY, PRUNABLE, REMOVED_WHILE_RUNNING, TreeHashingStopped } from "./treeHashing.js"
import { TreeLogOptionsInvalid } from "./treeLogErrors.js"

const DONE = 0
const W_SLEEP = 1
const W_WAKE = 2
const M_SLEEP = 3
const M_WAKE = 4
const ERROR = 5
const STOP = 6
const CTL_WORDS = 8
/** the worker's sleep flag: awake, polling (no wake needed), asleep (wake it) */
const LIGHT = 1
const DEEP = 2

/** The worker's program (CommonJS, run with `eval`: no file to resolve, in source or in dist). */
const PROGRAM = `
"use strict"
const { receiveMessageOnPort, workerData } = require("node:worker_threads")
const fs = require("node:fs")
const { ctl: ctlBuffer, errors, input, replies, size: startSize, edge: startEdge } = workerData
const ctl = new Int32Array(ctlBuffer)
const fail = (error) => {
  const text = Buffer.from(String(error && error.stack || error)).subarray(0, errors.byteLength)
  Buffer.from(errors).set(text)
  Atomics.store(ctl, ${ERROR}, 1)
  Atomics.add(ctl, ${M_WAKE}, 1)
  Atomics.notify(ctl, ${M_WAKE})
}
const crypto = require("node:crypto")
/** the next message, sleeping (lightly, then deeply) while there is none */
const next = () => {
  let idle = 0
  for (;;) {
    let message = receiveMessageOnPort(input)
    if (message !== undefined) return message.message
    if (Atomics.load(ctl, ${STOP}) !== 0) return undefined
    const deep = idle >= 20
    const seen = Atomics.load(ctl, ${W_WAKE})
    Atomics.store(ctl, ${W_SLEEP}, deep ? ${DEEP} : ${LIGHT})
    message = receiveMessageOnPort(input)
    if (message === undefined && Atomics.load(ctl, ${STOP}) === 0) {
      Atomics.wait(ctl, ${W_WAKE}, seen, deep ? 1000 : 1)
    }
    Atomics.store(ctl, ${W_SLEEP}, 0)
    if (message !== undefined) return message.message
    idle++
  }
}
const failure = (operation, path, error) => ({
  operation,
  path,
  message: String(error && error.message || error),
  code: error && error.code
})
const made = new Set()
const parentOf = (path) => path.slice(0, path.lastIndexOf("/"))
/** fsync on a directory (its entries: the renames into it, the directories made in it); a file system that cannot is left as it is */
const syncDirectory = (dir) => {
  let fd
  try {
    fd = fs.openSync(dir, "r")
    fs.fsyncSync(fd)
  } catch (error) {
    if (error && (error.code === "EINVAL" || error.code === "EISDIR" || error.code === "EBADF")) return undefined
    return failure("sync", dir, error)
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd)
      } catch {}
    }
  }
  return undefined
}
/** fsync on each directory in \`dirs\`, then forgets them; the first failure stops */
const syncDirectories = (dirs) => {
  for (const d of dirs) {
    const failed = syncDirectory(d)
    if (failed !== undefined) return failed
  }
  dirs.clear()
  return undefined
}
/**
 * each file atomically (temp, fsync when sync, rename), in order; the first failure stops. When
 * sync, the directories holding the renames (and the directories made) are fsynced before the
 * last file (the head) is renamed, and the head's directory after: a power loss cannot keep a
 * head that names a tile whose rename was lost.
 */
const writeFiles = (files, sync, expected, within) => {
  for (const path of expected) {
    if (!fs.existsSync(path)) return failure("check", path, new Error(${JSON.stringify(REMOVED_WHILE_RUNNING)}))
  }
  // no directory on a file's way below the tiles directory is a symbolic link (one absent is made)
  const checked = new Set()
  for (const { path } of files) {
    const parts = path.slice(within.length + 1).split("/")
    for (let i = 1; i < parts.length; i++) {
      const dir = within + "/" + parts.slice(0, i).join("/")
      if (checked.has(dir)) continue
      checked.add(dir)
      let stat
      try {
        stat = fs.lstatSync(dir)
      } catch {
        // absent (made by the write), or not reachable: the write itself says what is wrong
        break
      }
      if (stat.isSymbolicLink()) return failure("write", dir, new Error(${JSON.stringify(LINKED_DIRECTORY)}))
    }
  }
  const dirty = new Set()
  for (let i = 0; i < files.length; i++) {
    const { path, bytes } = files[i]
    const dir = parentOf(path)
    if (!made.has(dir)) {
      try {
        const first = fs.mkdirSync(dir, { recursive: true })
        // each directory made is an entry in its parent
        if (first !== undefined) {
          for (let d = dir; d.length >= first.length && d.includes("/"); d = parentOf(d)) dirty.add(parentOf(d))
        }
      } catch (error) {
        return failure("mkdir", dir, error)
      }
      made.add(dir)
    }
    if (sync && i === files.length - 1) {
      const failed = syncDirectories(dirty)
      if (failed !== undefined) return failed
    }
    const temp = path + ".tmp"
    let fd
    try {
      // a new file, never one planted there: created exclusively; a leftover temp (or a symbolic
      // link to another file, which "w" would follow and overwrite) is removed, then created again
      try {
        fd = fs.openSync(temp, "wx", 0o644)
      } catch (error) {
        if (!error || error.code !== "EEXIST") throw error
        fs.rmSync(temp, { force: true })
        fd = fs.openSync(temp, "wx", 0o644)
      }
    } catch (error) {
      return failure("open", temp, error)
    }
    let step = "write"
    try {
      for (let at = 0; at < bytes.length;) {
        const written = fs.writeSync(fd, bytes, at, bytes.length - at)
        if (written <= 0) throw Object.assign(new Error("write returned " + written), { code: "EIO" })
        at += written
      }
      if (sync) {
        step = "sync"
        fs.fsyncSync(fd)
      }
      step = "write"
      fs.closeSync(fd)
      fd = undefined
      step = "rename"
      fs.renameSync(temp, path)
      dirty.add(dir)
    } catch (error) {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd)
        } catch {}
      }
      try {
        fs.rmSync(temp, { force: true })
      } catch {}
      return failure(step, step === "rename" ? path : temp, error)
    }
  }
  return sync ? syncDirectories(dirty) : undefined
}
const prunable = {
  full: new RegExp(${JSON.stringify(PRUNABLE.full.source)}),
  partial: new RegExp(${JSON.stringify(PRUNABLE.partial.source)})
}
/** \`FileWriter.prune\`: of each partial-tile directory, the partial tiles and temps (a full tile's) or the temps only */
const pruneDirs = (dirs) => {
  for (const { dir, full } of dirs) {
    let path = dir
    try {
      let stat
      try {
        stat = fs.lstatSync(dir)
      } catch (error) {
        if (error && error.code === "ENOENT") continue
        throw error
      }
      // a symbolic link or a file planted there is not ours to empty
      if (!stat.isDirectory()) continue
      let left = 0
      for (const name of fs.readdirSync(dir)) {
        if (!(full ? prunable.full : prunable.partial).test(name)) {
          left++
          continue
        }
        path = dir + "/" + name
        try {
          fs.unlinkSync(path)
        } catch (error) {
          if (error && error.code === "ENOENT") continue
          // a directory of that name is not a tile: left as it is
          if (error && (error.code === "EISDIR" || error.code === "EPERM") && fs.lstatSync(path).isDirectory()) {
            left++
            continue
          }
          throw error
        }
      }
      path = dir
      if (full && left === 0) {
        try {
          fs.rmdirSync(dir)
        } catch (error) {
          if (!error || (error.code !== "ENOENT" && error.code !== "ENOTEMPTY")) throw error
        }
      }
    } catch (error) {
      return failure("remove", path, error)
    }
  }
  return undefined
}
/** SHA-256 of \`data\` in the encoding asked ("hex", or "latin1": one char per byte) */
const sha = typeof crypto.hash === "function"
  ? (data, encoding) => crypto.hash("sha256", data, encoding)
  : (data, encoding) => crypto.createHash("sha256").update(data).digest(encoding)
/** the largest number of leaves one answer holds */
const CAP = 4096
// the compact range's hashes, slot k at 32·k (a tree below 2^53 leaves has at most 53)
const edge = Buffer.alloc(64 * 32)
let top = 0
for (const hash of startEdge) edge.set(hash, 32 * top++)
let size = startSize
let done = 0
const node = new Uint8Array(65)
node[0] = 1
/** the answer being filled: its leaf hashes in \`out\`, the tile-level nodes completed in \`nodeOut\` */
const out = Buffer.allocUnsafeSlow(32 * CAP)
let nodeOut = Buffer.allocUnsafeSlow(32 * ((CAP >> 7) + 80))
let first = 0
let count = 0
let nodeCount = 0
let nodes = []
/**
 * SHA-256 of \`bytes\` from \`a\` to \`b\` as a latin1 string (one char a byte: written back with
 * a plain copy; the hex output's decoding cost more)
 */
const digest = (bytes, a, b) => sha(bytes.subarray(a, b), "latin1")
/** The next leaf, by its hash (\`digest\` of RFC 6962's 0x00 ‖ its bytes), and the subtrees it completes. */
const addLeaf = (leaf) => {
  if (count === 0) first = size
  out.write(leaf, 32 * count, 32, "latin1")
  edge.write(leaf, 32 * top++, 32, "latin1")
  let hash
  let index = size
  let level = 0
  while (index % 2 === 1) {
    // the last two subtrees merged: 0x01 ‖ left ‖ right
    node.set(edge.subarray(32 * (top - 2), 32 * top), 1)
    hash = sha(node, "latin1")
    top--
    edge.write(hash, 32 * (top - 1), 32, "latin1")
    index = (index - 1) / 2
    level++
    if (level % 8 === 0) {
      if (32 * (nodeCount + 1) > nodeOut.length) {
        const grown = Buffer.allocUnsafeSlow(2 * nodeOut.length)
        nodeOut.copy(grown)
        nodeOut = grown
      }
      nodeOut.write(hash, 32 * nodeCount++, 32, "latin1")
      nodes.push(level / 8, index)
    }
  }
  size++
  count++
}
/**
 * Sends the answer filled so far (for a chunk, \`buffer\` is its buffer, handed back: an answer is
 * sent then even without a leaf): the leaf hashes, the nodes, then the compact range.
 */
const answer = (buffer) => {
  if (count === 0 && buffer === undefined) return
  const hashes = Buffer.allocUnsafeSlow(32 * (count + nodeCount + top))
  out.copy(hashes, 0, 0, 32 * count)
  nodeOut.copy(hashes, 32 * count, 0, 32 * nodeCount)
  edge.copy(hashes, 32 * (count + nodeCount), 0, 32 * top)
  const transfer = buffer === undefined ? [hashes.buffer] : [hashes.buffer, buffer]
  replies.postMessage({ kind: "leaves", first: count === 0 ? size : first, count, nodes, top, hashes: hashes.buffer, buffer }, transfer)
  done = (done + count) | 0
  count = 0
  nodeCount = 0
  nodes = []
  Atomics.store(ctl, ${DONE}, done)
  if (Atomics.load(ctl, ${M_SLEEP}) !== 0) {
    Atomics.add(ctl, ${M_WAKE}, 1)
    Atomics.notify(ctl, ${M_WAKE})
  }
}
/** Leaf \`index\`, \`bytes\` from \`a\` (its 0x00) to \`b\`: hashed when it is the next, skipped when the tree has it already. */
const take = (index, bytes, a, b) => {
  if (index > size) throw new Error("the tree log's worker was handed leaf " + index + " before leaf " + size)
  if (index === size) {
    addLeaf(digest(bytes, a, b))
    if (count === CAP) answer(undefined)
  }
}
/** A chunk's leaves from leaf \`start\`: each hashed in place (its record's 0x00 is the prefix). */
const takeChunk = (bytes, records, start) => {
  let at = 0
  for (let i = 0; i < records; i++) {
    const length = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0
    take(start + i, bytes, at + 4, at + 5 + length)
    at += 5 + length
  }
}
/**
 * Written lines (the log's own bytes, copied as written: each line and its LF, an empty line
 * skipped), leaves \`first\` to \`last\`, from byte 1 (byte 0 is room for the first leaf's 0x00)
 */
const takeLines = (bytes, first, last) => {
  let index = first
  let s = 1
  const end = bytes.length
  while (s < end) {
    const lf = bytes.indexOf(10, s)
    if (lf < 0) throw new Error("the tree log's worker was handed a written line without its LF")
    if (lf > s) {
      // the byte before the line (byte 0, or the LF before it, already read) becomes its 0x00
      bytes[s - 1] = 0
      take(index++, bytes, s - 1, lf)
    }
    s = lf + 1
  }
  if (index !== last + 1) throw new Error("the tree log's worker was handed leaves " + first + " to " + last + " in " + (index - first) + " lines")
}
const run = () => {
  for (;;) {
    const message = next()
    if (message === undefined) return
    if (message.kind === "write" || message.kind === "prune") {
      let error
      try {
        error = message.kind === "write"
          ? writeFiles(message.paths.map((path, i) => ({
            path,
            bytes: new Uint8Array(message.bytes, message.offsets[i], message.offsets[i + 1] - message.offsets[i])
          })), message.sync, message.expected, message.within)
          : pruneDirs(message.dirs)
      } catch (e) {
        error = failure(message.kind === "write" ? "write" : "remove", "", e)
      }
      // a write's buffer goes back, for the next one
      if (message.kind === "write") replies.postMessage({ id: message.id, error, bytes: message.bytes }, [message.bytes])
      else replies.postMessage({ id: message.id, error })
      continue
    }
    if (message.kind === "lines") {
      // a Buffer: its indexOf is native (memchr), ~25× a Uint8Array's on a 1 KB line
      takeLines(Buffer.from(message.buffer, 0, message.length), message.first, message.last)
      answer(message.buffer)
      continue
    }
    takeChunk(new Uint8Array(message.buffer, 0, message.length), message.count, message.first)
    answer(message.buffer)
  }
}
try {
  run()
} catch (error) {
  fail(error)
}
`

export interface WorkerOptions {
  /** a chunk's bytes: an integer from 64 to 2^30 (default 256 KiB) */
  readonly chunkBytes?: number | undefined
  /** chunks handed over and not yet answered before the appender waits for the worker: an integer from 2 to 1,024 (default 16) */
  readonly maxChunks?: number | undefined
  /** how long a wait for the worker may see no progress before it fails, in ms: a positive integer (default 60 s) */
  readonly stallMillis?: number | undefined
}

/** The options with their defaults, each checked. */
export type CheckedWorkerOptions = { readonly [K in keyof WorkerOptions]-?: number }

/** The options with their defaults, each checked: a value out of range is refused, never clamped. */
export const workerOptions = (options: WorkerOptions): Either.Either<CheckedWorkerOptions, TreeLogOptionsInvalid> => {
  const check = (field: keyof WorkerOptions, value: number | undefined, fallback: number, min: number, max: number) =>
    value === undefined
      ? Either.right(fallback)
      : Number.isSafeInteger(value) && value >= min && value <= max
      ? Either.right(value)
      : Either.left(
        new TreeLogOptionsInvalid({
          field,
          value: String(value),
          reason: `not an integer from ${min} to ${max}`
        })
      )
  return Either.all({
    chunkBytes: check("chunkBytes", options.chunkBytes, 256 * 1024, 64, 2 ** 30),
    maxChunks: check("maxChunks", options.maxChunks, 16, 2, 1024),
    stallMillis: check("stallMillis", options.stallMillis, 60_000, 1, Number.MAX_SAFE_INTEGER)
  })
}

/**
 * Until `woken` settles, or 50 ms: a pending `Atomics.waitAsync` keeps no event loop alive, so a
 * (ref'd) timer does — a process whose only work is an append held for the worker must not exit
 * under it.
 */
const asleep = (woken: Promise<unknown>): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let done = false
    const wake = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.void)
    }
    const timer = setTimeout(wake, 50)
    void woken.then(wake, wake)
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
    })
  })

/** Why a wait for the worker ended. */
type Ended = "ready" | "stopped" | "stalled"

/** The worker's answer to a chunk. */
interface Leaves {
  readonly kind: "leaves"
  /** the chunk's first leaf, and its leaves */
  readonly first: number
  readonly count: number
  /** the tile-level nodes completed: (tile level, index) pairs */
  readonly nodes: ReadonlyArray<number>
  /** the compact range's hash count after the chunk */
  readonly top: number
  /** 32 bytes a hash: `count` leaf hashes, the nodes' hashes, then the compact range's */
  readonly hashes: ArrayBuffer
  /** the chunk's buffer, handed back (none: an answer before its chunk's last, `CAP` leaves each) */
  readonly buffer: ArrayBuffer | undefined
}

interface Reply {
  readonly id: number
  readonly error: { operation: WriteFailure["operation"]; path: string; message: string; code?: string } | undefined
  /** a write's buffer, handed back */
  readonly bytes?: ArrayBuffer
}

/**
 * Starts a worker for each tree (see the module's comment), with checked options (`workerOptions`);
 * at 2^53 leaves and beyond, the inline hashing.
 */
export const startWorker = (options: CheckedWorkerOptions): StartHashing => (range, sink) =>
  range.size >= 2n ** 53n ? inline(range, sink) : new WorkerHashing(range, sink, options)

class WorkerHashing implements TreeHashing {
  private readonly ctl: Int32Array
  private readonly errors: Uint8Array
  private readonly chunkBytes: number
  private readonly maxChunks: number
  private readonly stallMillis: number
  private readonly worker: Worker
  private readonly input: MessagePort
  private readonly replies: MessagePort
  private chunk: Uint8Array
  private fill = 0
  private count = 0
  /** the leaf index of the current chunk's first leaf (of the next leaf copied, while the chunk is empty) */
  private chunkFirst: number
  /** the leaves sealed and not reported written (views into the log's round buffers, valid until written) from `unwritten[unwrittenAt]`, leaf `unwrittenFirst` */
  private unwritten: Array<Uint8Array> = []
  private unwrittenAt = 0
  private unwrittenFirst = 0
  /** following the log's writes (see `follow`) */
  private following = false
  /** the written lines being gathered (from byte 1), leaves `linesFirst` to `writtenCount` - 1 */
  private lines: Uint8Array | undefined = undefined
  private linesFill = 1
  private linesFirst = 0
  /** the leaves the log reported written */
  private writtenCount = 0
  private readonly spare: Array<Uint8Array> = []
  /** leaves pushed, and leaves whose nodes were put (Int32, wrapping) */
  private pushed = 0
  private applied = 0
  private inFlight = 0
  private closed = false
  /** the worker's exit code, once it exited */
  private exited: number | undefined = undefined
  /** file requests waiting for the worker's reply, by id (the answers to chunks come first: FIFO) */
  private readonly requests = new Map<number, (reply: Reply) => void>()
  private nextId = 0
  /** the buffer a write's files are copied into, while the worker does not hold it */
  private payload: Uint8Array<ArrayBuffer> | undefined = undefined

  constructor(
    range: CompactRange,
    private readonly sink: Sink,
    options: CheckedWorkerOptions
  ) {
    this.chunkBytes = options.chunkBytes
    this.maxChunks = options.maxChunks
    this.stallMillis = options.stallMillis
    const ctl = new SharedArrayBuffer(CTL_WORDS * 4)
    const errors = new SharedArrayBuffer(2048)
    this.ctl = new Int32Array(ctl)
    this.errors = new Uint8Array(errors)
    this.chunk = new Uint8Array(this.chunkBytes)
    this.chunkFirst = Number(range.size)
    const toWorker = new MessageChannel()
    const fromWorker = new MessageChannel()
    this.input = toWorker.port1
    this.replies = fromWorker.port2
    this.worker = new Worker(PROGRAM, {
      eval: true,
      // a self-contained program: none of the process's loaders or preloads (`--import`, `--require`)
      execArgv: [],
      workerData: {
        ctl,
        errors,
        input: toWorker.port2,
        replies: fromWorker.port1,
        size: Number(range.size),
        edge: range.edge
      },
      transferList: [toWorker.port2, fromWorker.port1]
    })
    this.worker.unref()
    // a worker gone (it failed, or was killed) answers no pending file request: each fails instead of waiting forever
    this.worker.on("exit", (code) => {
      this.exited = code
      for (const id of [...this.requests.keys()]) {
        this.settle({
          id,
          error: { operation: "write", path: "", message: `the tree log's worker exited (code ${code})` }
        })
      }
    })
    this.input.unref()
    this.replies.unref()
  }

  /**
   * Before an append's leaf is sealed: the worker behind (`maxChunks` chunks in flight), the
   * append is held here (`held`, without blocking the thread: other fibers run) — never in
   * `push`, which runs while the entry is being sealed, nor in `written`, which the log's writer
   * calls: neither may throw. A stopped worker, or a wait that stalled with no progress since,
   * refuses the append, unsealed.
   */
  readonly admit = (): string | AdmitWait | undefined => {
    if (this.inFlight < this.maxChunks && !this.stopped()) return undefined
    try {
      this.failed()
      this.take()
      if (this.inFlight < this.maxChunks) return undefined
      // a wait stalled, and the worker has done nothing since: refused at once
      if (this.stalledAt === Atomics.load(this.ctl, DONE)) throw this.stall()
      return this.held
    } catch (error) {
      if (error instanceof TreeHashingStopped) return error.message
      throw error
    }
  }

  /** whether the worker failed or exited, or this hashing was closed */
  private stopped(): boolean {
    return Atomics.load(this.ctl, ERROR) !== 0 || this.closed || this.exited !== undefined
  }

  /**
   * One look of a wait, its answers taken first: why it ends (`ready`; the worker `stopped`; or
   * `stalled`: no progress for `stallMillis`, now or at an earlier wait, then `stalledAt`), or
   * `undefined` to sleep again. `watch` is the worker's count of leaves done when it last moved.
   */
  private look(ready: () => boolean, watch: { progress: number; since: number }): Ended | undefined {
    this.take()
    if (ready()) return "ready"
    if (this.stopped()) return "stopped"
    const done = Atomics.load(this.ctl, DONE)
    if (done !== watch.progress) {
      watch.progress = done
      watch.since = performance.now()
    } else if (this.stalledAt === done) {
      // an earlier wait stalled, and the worker has done nothing since: at once, rather than
      // another `stallMillis` (each append would wait again)
      return "stalled"
    } else if (performance.now() - watch.since > this.stallMillis) {
      this.stalledAt = done
      return "stalled"
    }
    return undefined
  }

  /** A wait's start: the worker's count of leaves done now. */
  private watch(): { progress: number; since: number } {
    return { progress: Atomics.load(this.ctl, DONE), since: performance.now() }
  }

  /**
   * Before a sleep: the worker asked to wake us (the sleep count up: held appends, catch-ups and a
   * blocking wait may sleep at once; the worker wakes while it is not 0), and the wake counter
   * seen — or `undefined` (the count down again) when answers wait to be taken: look again first.
   */
  private sleepFrom(): number | undefined {
    this.wake(LIGHT)
    const seen = Atomics.load(this.ctl, M_WAKE)
    Atomics.add(this.ctl, M_SLEEP, 1)
    if (Atomics.load(this.ctl, DONE) === this.applied) return seen
    Atomics.sub(this.ctl, M_SLEEP, 1)
    return undefined
  }

  /**
   * Until `look` ends it — asleep in `Atomics.waitAsync` (woken by the worker's answers, 50 ms at
   * most), never blocking the thread. The caller looks again after it (`admit`, `sync`), and
   * refuses, throws or goes on.
   */
  private waitAsync(ready: () => boolean): Effect.Effect<void> {
    const watch = this.watch()
    const step: Effect.Effect<void> = Effect.suspend(() => {
      if (this.look(ready, watch) !== undefined) return Effect.void
      const seen = this.sleepFrom()
      if (seen === undefined) return Effect.zipRight(Effect.yieldNow(), step)
      const waited = Atomics.waitAsync(this.ctl, M_WAKE, seen, 50)
      if (!waited.async) {
        Atomics.sub(this.ctl, M_SLEEP, 1)
        return step
      }
      return Effect.zipRight(
        Effect.ensuring(asleep(waited.value), Effect.sync(() => Atomics.sub(this.ctl, M_SLEEP, 1))),
        step
      )
    })
    return step
  }

  /** `admit`'s hold: until half the chunks in flight are answered (or the worker stops or stalls). */
  private readonly held: AdmitWait = admitWait(
    Effect.suspend(() => this.waitAsync(() => this.inFlight <= this.maxChunks >> 1))
  )

  /**
   * Before `sync`, without blocking the thread: the leaves pushed so far (but the last `behind`)
   * handed over (once a chunk fits), then answered — or the worker stopped or stalled (`sync` then
   * throws at once). Following the log's writes, with every leaf not written yet among the last
   * `behind`: the written lines only (no copy of the others).
   */
  readonly catchUp = (behind = 0): Effect.Effect<void> =>
    Effect.suspend(() => {
      // the target, as the call finds it (leaves pushed while it waits are not waited for); the
      // counters wrap (Int32): reached when no longer behind it
      const target = (this.pushed - behind) | 0
      const reached = () => ((this.applied - target) | 0) >= 0
      if (reached() || this.stopped()) return Effect.void
      return Effect.zipRight(
        this.waitAsync(() => this.inFlight < this.maxChunks),
        Effect.suspend(() => {
          if (this.stopped() || this.stalledAt === Atomics.load(this.ctl, DONE)) return Effect.void
          // the leaves not written yet all past the target: the written lines reach it
          if (this.following && this.unwritten.length - this.unwrittenAt <= ((this.pushed - target) | 0)) {
            this.handLines()
          } else this.handAll()
          return this.waitAsync(reached)
        })
      )
    })

  readonly push = (leaf: Uint8Array): void => {
    if (this.following) {
      // its bytes reach the worker with the log's write (`written`): no copy here (and no wait:
      // `admit` waited)
      this.unwritten.push(leaf)
      this.pushed = (this.pushed + 1) | 0
      return
    }
    this.copyIn(leaf)
    this.pushed = (this.pushed + 1) | 0
  }

  /** Copies a leaf into the current chunk (handing it over first when full). */
  private copyIn(leaf: Uint8Array): void {
    const length = leaf.length
    const need = 5 + length
    if (this.chunk.length - this.fill < need) {
      this.handOver()
      if (need > this.chunk.length) this.chunk = new Uint8Array(need)
    }
    const chunk = this.chunk
    const at = this.fill
    chunk[at] = length & 255
    chunk[at + 1] = (length >>> 8) & 255
    chunk[at + 2] = (length >>> 16) & 255
    chunk[at + 3] = length >>> 24
    chunk[at + 4] = 0
    chunk.set(leaf, at + 5)
    this.fill = at + need
    this.count++
  }

  /** Transfers the current chunk to the worker (if it holds a leaf), takes answers, and a spare chunk. */
  private handOver(): void {
    if (this.count > 0) {
      const buffer = this.chunk.buffer as ArrayBuffer
      this.input.postMessage({ kind: "leaves", buffer, length: this.fill, count: this.count, first: this.chunkFirst }, [
        buffer
      ])
      this.inFlight++
      this.chunkFirst += this.count
      this.fill = 0
      this.count = 0
      this.wake(DEEP)
    }
    // more than `maxChunks` in flight only without `admit` (the open's leaves, `sync`): an
    // admitted leaf's chunk makes at most `maxChunks`, so its `push` never waits
    if (this.inFlight > this.maxChunks) this.waitForRoom()
    else this.take()
    this.chunk = this.spare.pop() ?? new Uint8Array(this.chunkBytes)
  }

  /** The worker behind (`maxChunks` chunks in flight, or more): waits until half of them are answered. */
  private waitForRoom(): void {
    const limit = this.maxChunks >> 1
    this.waitUntil(() => this.inFlight <= limit)
  }

  /** Wakes the worker when its sleep flag is at least `level` (DEEP: asleep; LIGHT: polling too). */
  private wake(level: number): void {
    if (Atomics.load(this.ctl, W_SLEEP) >= level) {
      Atomics.add(this.ctl, W_WAKE, 1)
      Atomics.notify(this.ctl, W_WAKE)
    }
  }

  /** Puts the nodes of every chunk the worker answered, and settles the file requests it answered. */
  private take(): void {
    for (;;) {
      const received = receiveMessageOnPort(this.replies)
      if (received === undefined) return
      this.settle(received.message as Leaves | Reply)
    }
  }

  /** whether the listener on `replies` is attached (while a file request waits) */
  private listening = false

  private readonly settle = (message: Leaves | Reply): void => {
    if (!("kind" in message)) {
      if (message.bytes !== undefined) this.payload = new Uint8Array(message.bytes)
      const resume = this.requests.get(message.id)
      this.requests.delete(message.id)
      if (this.requests.size === 0 && this.listening) {
        // the last reply (taken by the listener or by `take`): nothing keeps the event loop alive
        this.listening = false
        this.replies.off("message", this.settle)
        this.replies.unref()
      }
      resume?.(message)
      return
    }
    const { count, hashes, nodes } = message
    if (count > 0) this.sink.putLeaves(BigInt(message.first), new Uint8Array(hashes, 0, 32 * count))
    let at = 32 * count
    for (let i = 0; i < nodes.length; i += 2, at += 32) {
      this.sink.put(nodes[i] as number, BigInt(nodes[i + 1] as number), new Uint8Array(hashes, at, 32))
    }
    this.edge = { size: message.first + count, hashes, at, top: message.top }
    this.applied = (this.applied + count) | 0
    // a chunk's last answer hands its buffer back
    const buffer = message.buffer
    if (buffer === undefined) return
    // kept for the next chunk (records or lines): a fresh buffer costs ~14 µs a 4 KiB page here
    if (buffer.byteLength >= this.chunkBytes && this.spare.length < this.maxChunks) {
      this.spare.push(new Uint8Array(buffer))
    }
    this.inFlight--
  }

  /** the compact range after the last chunk answered: its size, and its hashes at `at` in `hashes` */
  private edge:
    | { readonly size: number; readonly hashes: ArrayBuffer; readonly at: number; readonly top: number }
    | undefined = undefined

  /** Waits (taking answers) until `ready`; fails when the worker failed or made no progress for `stallMillis`. */
  private waitUntil(ready: () => boolean): void {
    const watch = this.watch()
    for (;;) {
      const ended = this.look(ready, watch)
      if (ended === "ready") return
      if (ended !== undefined) {
        this.failed()
        throw this.stall()
      }
      const seen = this.sleepFrom()
      if (seen !== undefined) {
        Atomics.wait(this.ctl, M_WAKE, seen, 50)
        Atomics.sub(this.ctl, M_SLEEP, 1)
      }
    }
  }

  /** the worker's count of leaves done when a wait last stalled (until it moves again) */
  private stalledAt: number | undefined = undefined

  private stall(): TreeHashingStopped {
    return new TreeHashingStopped(`the tree log's hashing worker made no progress in ${this.stallMillis} ms`)
  }

  /** Throws `TreeHashingStopped` when the worker failed or exited, or this hashing was closed. */
  private failed(): void {
    if (Atomics.load(this.ctl, ERROR) !== 0) {
      const end = this.errors.indexOf(0)
      const text = new TextDecoder().decode(this.errors.slice(0, end < 0 ? this.errors.length : end))
      throw new TreeHashingStopped(`the tree log's hashing worker failed: ${text}`)
    }
    if (this.closed) throw new TreeHashingStopped("the tree log's hashing worker is closed")
    if (this.exited !== undefined) {
      throw new TreeHashingStopped(`the tree log's hashing worker exited (code ${this.exited})`)
    }
  }

  readonly sync = (): void => {
    if (this.applied === this.pushed) return
    this.handAll()
    this.waitUntil(() => this.applied === this.pushed)
  }

  /** Hands the worker every leaf pushed and not handed over yet. */
  private handAll(): void {
    if (this.following) {
      // the written lines gathered, then the leaves not written yet (their views, copied)
      this.handLines()
      this.handUnwritten()
    } else if (this.count > 0) this.handOver()
  }

  /** Following: the leaves not reported written, copied into a chunk and handed over (the worker skips them when their write comes). */
  private handUnwritten(): void {
    const views = this.unwritten
    if (views.length === this.unwrittenAt) return
    this.chunkFirst = this.unwrittenFirst
    for (let i = this.unwrittenAt; i < views.length; i++) this.copyIn(views[i] as Uint8Array)
    this.unwrittenFirst += views.length - this.unwrittenAt
    views.length = 0
    this.unwrittenAt = 0
    this.handOver()
  }

  /**
   * From now on (the log's existing leaves all pushed: `sequence` of them), `push` only notes each
   * leaf's view, and the log's writes (`written`) are copied to the worker as written: one copy
   * of each write's bytes instead of one of each line as it is sealed.
   */
  readonly follow = (sequence: bigint): void => {
    if (this.closed || this.following) return
    if (this.count > 0) this.handOver()
    this.following = true
    this.unwrittenFirst = this.writtenCount = Number(sequence)
  }

  /** The log wrote `bytes`, its entries up to `sequence` (`WalOptions.onWritten`): gathered for the worker. */
  readonly written = (sequence: bigint, bytes: Uint8Array): void => {
    if (!this.following || this.closed) return
    const last = Number(sequence)
    // the views of the leaves written are dropped (their buffer is the log's again)
    const views = this.unwritten
    const live = views.length - this.unwrittenAt
    const drop = Math.min(live, last - this.unwrittenFirst)
    if (drop > 0) {
      if (drop === live) {
        views.length = 0
        this.unwrittenAt = 0
      } else {
        this.unwrittenAt += drop
        if (this.unwrittenAt >= 1024) {
          views.splice(0, this.unwrittenAt)
          this.unwrittenAt = 0
        }
      }
      this.unwrittenFirst += drop
    }
    if (this.lines !== undefined && this.lines.length - this.linesFill < bytes.length) this.handLines()
    if (this.lines === undefined) {
      // a kept buffer that holds the write, else a new one with 64 KiB to spare (a busy log's
      // writes are its ~1 MiB rounds: a few buffers of one size go round)
      const spare = this.spare.pop()
      if (spare !== undefined && spare.length > bytes.length) {
        this.lines = spare
      } else {
        if (spare !== undefined) this.spare.push(spare)
        this.lines = new Uint8Array(Math.max(this.chunkBytes, (Math.ceil((bytes.length + 1) / 65536) + 1) * 65536))
      }
      this.linesFill = 1
      this.linesFirst = this.writtenCount
    }
    this.lines.set(bytes, this.linesFill)
    this.linesFill += bytes.length
    // after the lines handed over above: they end at the write before this one
    this.writtenCount = last
    if (Atomics.load(this.ctl, DONE) !== this.applied) this.take()
  }

  /** Transfers the written lines gathered (if any) to the worker (never waits: see `push`). */
  private handLines(): void {
    const lines = this.lines
    if (lines === undefined) return
    this.lines = undefined
    const buffer = lines.buffer as ArrayBuffer
    this.input.postMessage({
      kind: "lines",
      buffer,
      length: this.linesFill,
      first: this.linesFirst,
      last: this.writtenCount - 1
    }, [buffer])
    this.inFlight++
    this.wake(DEEP)
  }

  readonly pending = (): number => {
    this.take()
    return (this.pushed - this.applied) | 0
  }

  /** the root at the size the last answer reached (a fold of its compact range: no tile read, O(log n) hashes) */
  readonly root = (size: bigint): Uint8Array | undefined => {
    const edge = this.edge
    if (edge === undefined || BigInt(edge.size) !== size) return undefined
    const hashes: Array<Uint8Array> = []
    for (let k = 0; k < edge.top; k++) hashes.push(new Uint8Array(edge.hashes, edge.at + 32 * k, 32))
    // a copy: the answer's buffer is not the caller's
    return rootOfSubtrees(hashes).slice()
  }

  /** A file request: posted to the worker, answered on `replies` (read by a listener while one is pending). */
  private request(message: object, transfer: ReadonlyArray<ArrayBuffer> = []): Effect.Effect<void, WriteFailure> {
    return Effect.async<void, WriteFailure>((resume) => {
      try {
        this.failed()
      } catch (cause) {
        return resume(Effect.fail({ operation: "write", path: "", cause }))
      }
      const id = ++this.nextId
      this.requests.set(id, (reply) =>
        resume(
          reply.error === undefined ? Effect.void : Effect.fail({
            operation: reply.error.operation,
            path: reply.error.path,
            cause: Object.assign(new Error(reply.error.message), { code: reply.error.code })
          })
        ))
      if (!this.listening) {
        // the listener delivers the reply from the event loop; answers to chunks it meets are put too
        this.listening = true
        this.replies.on("message", this.settle)
        this.replies.ref()
      }
      this.input.postMessage({ ...message, id }, transfer as Array<ArrayBuffer>)
      this.wake(LIGHT)
    })
  }

  readonly files: FileWriter = {
    write: (files, sync, expected, within) =>
      Effect.suspend(() => {
        // every file's bytes in one buffer, transferred (one copy here, none in the message) and
        // handed back by the worker for the next write (a fresh buffer costs more than the copy)
        const offsets = [0]
        for (const file of files) offsets.push((offsets[offsets.length - 1] as number) + file.bytes.length)
        const total = offsets[offsets.length - 1] as number
        const held = this.payload
        const bytes = held !== undefined && held.length >= total ? held : new Uint8Array(total + (total >> 2))
        this.payload = undefined
        files.forEach((file, i) => bytes.set(file.bytes, offsets[i]))
        return this.request(
          {
            kind: "write",
            paths: files.map((file) => file.path),
            offsets,
            bytes: bytes.buffer,
            sync,
            expected,
            within
          },
          [bytes.buffer]
        )
      }),
    prune: (dirs) => this.request({ kind: "prune", dirs })
  }

  readonly close = (): void => {
    if (this.closed) return
    this.closed = true
    Atomics.store(this.ctl, STOP, 1)
    Atomics.add(this.ctl, W_WAKE, 1)
    Atomics.notify(this.ctl, W_WAKE)
    void this.worker.terminate()
    this.input.close()
    this.replies.close()
  }
}
