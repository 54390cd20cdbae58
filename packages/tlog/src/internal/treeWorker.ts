/**
 * The tree log's hashing and tile writing on a worker thread (Node; `TreeLogNode.layer`).
 *
 * - Leaves, following the log file (`follow`, once the file log is open): `push` only notes the
 *   leaf's view (the WAL leaves it unchanged until it reports the line written); `written` (the
 *   WAL's `onWritten`) publishes the write (its last sequence, its end byte, its entry hash) in
 *   shared memory (a seqlock), and the worker reads the lines back from the file with its own
 *   descriptor, checking each against the chain before it hashes it (see `startFollowing`). The
 *   appending thread copies nothing: copying each line into a chunk that the other core then read
 *   cost it ~5–8% of an unsynced append (its own cache evicted, each line crossing cores), reading
 *   the page cache back costs it nothing measurable.
 * - Leaves otherwise (the lines the open reads, a memory log, and at `sync` the leaves sealed but
 *   not yet written): copied into a chunk (an ordinary 256 KiB buffer: one `set`, no message, no
 *   allocation); a full chunk is transferred to the worker (a `MessagePort` message: its buffer
 *   moved, not copied). A chunk names its first leaf: the worker reads the file up to it first,
 *   and skips (after checking) the file's lines it already had from a chunk.
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
 * poll), and after ~20 ms idle deeply (woken by the next chunk or request). The appending thread
 * waits only in `sync` and when `maxChunks` chunks are in flight (the worker is behind).
 *
 * Hashing: `node:crypto` in the worker. (OpenSSL 3's digests on two threads at once slow each
 * other: the appending thread's `crypto.hash` of 1.1 KB took 1.13 µs alone and 1.41 µs beside a
 * thread hashing non-stop; the worker hashes a few microseconds per leaf, and a WebAssembly
 * SHA-256, which shares no lock but takes ~4× as long per leaf, measured no better in the append
 * benchmark.)
 *
 * A chunk's records: `[u32 length, little-endian][0x00][length bytes]` (the 0x00 is RFC 6962's
 * leaf prefix: the worker hashes the record in place). A leaf longer than a chunk gets a chunk of
 * its own size. Leaf indices are doubles in the worker: exact below 2^53 leaves (beyond that the
 * tree log hashes inline).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { closeSync, openSync } from "node:fs"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import type { CompactRange } from "../CompactRange.js"
import { rootOfSubtrees } from "./hash.js"
import type { FileWriter, Sink, StartHashing, TreeHashing, WriteFailure } from "./treeHashing.js"
import { inline } from "./treeHashing.js"
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
const { ctl: ctlBuffer, errors, gate: gateBuffer, input, mark, replies, size: startSize, edge: startEdge } = workerData
// tests: the file is read only while this is not 0
const gate = gateBuffer === undefined ? undefined : new Int32Array(gateBuffer)
const ctl = new Int32Array(ctlBuffer)
// the last write the log reported (see \`WorkerHashing.written\`): a seqlock, its entries' count,
// the byte its lines end at, where the first write after following began, and its entry hash
const markLock = new Int32Array(mark, 0, 1)
const markNumbers = new Float64Array(mark, 0, 4)
const markHash = new Uint8Array(mark, 32, 64)
/** a leaf's bytes read from the log file, when following it (see \`startFollowing\`) */
let following = undefined
/** what \`next\` returns when the log reported lines not read yet */
const FILE = {}
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
    if (following !== undefined && markNumbers[1] >= following.sequence && (gate === undefined || Atomics.load(gate, 0) !== 0)) return FILE
    const deep = idle >= 20
    const seen = Atomics.load(ctl, ${W_WAKE})
    Atomics.store(ctl, ${W_SLEEP}, deep ? ${DEEP} : ${LIGHT})
    message = receiveMessageOnPort(input)
    if (message === undefined && Atomics.load(ctl, ${STOP}) === 0) {
      Atomics.wait(ctl, ${W_WAKE}, seen, deep ? 1000 : 1)
    }
    Atomics.store(ctl, ${W_SLEEP}, 0)
    if (message !== undefined) return message.message
    if (following !== undefined && markNumbers[1] >= following.sequence && (gate === undefined || Atomics.load(gate, 0) !== 0)) return FILE
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
const writeFiles = (files, sync) => {
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
      fd = fs.openSync(temp, "w", 0o644)
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
const removeFiles = (paths) => {
  for (const path of paths) {
    try {
      fs.rmSync(path, { force: true })
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
/** A chunk's leaves from leaf \`start\`: each hashed in place (its record's 0x00 is the prefix), those the tree has already skipped. */
const takeChunk = (bytes, records, start) => {
  let at = 0
  for (let i = 0; i < records; i++) {
    const length = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0
    const index = start + i
    if (index > size) throw new Error("the tree log's worker was handed leaf " + index + " before leaf " + size)
    if (index === size) {
      addLeaf(digest(bytes, at + 4, at + 5 + length))
      if (count === CAP) answer(undefined)
    }
    at += 5 + length
  }
}
/** the reported write, read consistently (its hash copied) */
const readMark = (hash) => {
  for (;;) {
    const before = Atomics.load(markLock, 0)
    if ((before & 1) === 0) {
      const sequence = markNumbers[1]
      const end = markNumbers[2]
      const start = markNumbers[3]
      hash.set(markHash)
      if (Atomics.load(markLock, 0) === before) return { sequence, end, start }
    }
  }
}
const ascii = (text) => Buffer.from(text, "latin1")
const SEQUENCE = ascii('{"sequence":')
const PREVIOUS = ascii(',"previous_hash":"')
const ENTRY = ascii('","entry_hash":"')
const DATA = ascii('","data":')
/**
 * Follow the log file from here: its lines after entry \`sequence\` (hash \`hash\`), as the log
 * reports them written, are the next leaves. Each line is checked before it becomes a leaf: the
 * writer's exact form, its sequence, its previous hash the last entry's, its entry hash
 * recomputed from its data (the key's HMAC, or SHA-256), and the reported hash at each reported
 * write: a line someone else changed in the file fails the worker, it is never hashed into the tree.
 */
const startFollowing = ({ fd, path, sequence, hash, key }) => {
  let prefix = Buffer.alloc(0)
  let outer = undefined
  if (key !== undefined) {
    const block = Buffer.alloc(64)
    block.set(key.length > 64 ? sha(key, "buffer") : key)
    prefix = Buffer.from(block.map((b) => b ^ 0x36))
    outer = Buffer.alloc(96)
    outer.set(block.map((b) => b ^ 0x5c))
    block.fill(0)
    // this thread's copy of the key: only its pads are kept
    key.fill(0)
  }
  following = {
    fd,
    path,
    // the next line's entry sequence, and its byte (known at the first reported write)
    sequence: sequence + 1,
    digits: ascii(String(sequence + 1)),
    entry: Buffer.alloc(64),
    offset: undefined,
    previous: Buffer.from(hash, "latin1"),
    prefix,
    outer,
    read: Buffer.alloc(1 << 20),
    reported: Buffer.alloc(64),
    // a log whose last line had no LF: the first write starts with one
    blankAllowed: true
  }
}
const changed = (f, what) =>
  new Error("the log file " + f.path + " does not hold what the log wrote (entry " + f.sequence + ", byte " + f.offset + "): " + what)
/** Whether \`bytes\` at \`at\` holds \`expected\`. */
const holds = (bytes, at, expected) => {
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false
  return true
}
/**
 * Checks the line at [s, e) of \`bytes\` (see \`startFollowing\`), its entry hash kept in
 * \`f.entry\`. The line's bytes before its data are overwritten: the link's input (the key's pad
 * and the previous hash) is put right before the data and hashed in place.
 */
const checkLine = (f, bytes, s, e) => {
  let at = s
  if (!holds(bytes, at, SEQUENCE)) throw changed(f, "not a line of the log's writer")
  at += SEQUENCE.length
  if (!holds(bytes, at, f.digits) || !holds(bytes, at + f.digits.length, PREVIOUS)) throw changed(f, "another sequence")
  at += f.digits.length + PREVIOUS.length
  const previous = f.previous.length
  if (!holds(bytes, at, f.previous) || !holds(bytes, at + previous, ENTRY)) throw changed(f, "another previous hash")
  const previousAt = at
  at += previous + ENTRY.length
  const entryAt = at
  at += 64
  if (e - at < DATA.length + 1 || !holds(bytes, at, DATA) || bytes[e - 1] !== 0x7d) throw changed(f, "not a line of the log's writer")
  const dataAt = at + DATA.length
  bytes.copy(f.entry, 0, entryAt, entryAt + 64)
  // prefix ‖ previous hash ‖ data, in place (the previous hash moved first: its old bytes are overwritten)
  bytes.copy(bytes, dataAt - previous, previousAt, previousAt + previous)
  const begin = dataAt - previous - f.prefix.length
  f.prefix.copy(bytes, begin)
  let link
  if (f.outer === undefined) {
    link = sha(bytes.subarray(begin, e - 1), "hex")
  } else {
    f.outer.write(sha(bytes.subarray(begin, e - 1), "latin1"), 64, 32, "latin1")
    link = sha(f.outer, "hex")
  }
  for (let i = 0; i < 64; i++) {
    if (f.entry[i] !== link.charCodeAt(i)) throw changed(f, "its entry hash is not its data's")
  }
}
/** The next line's sequence (and its decimal digits). */
const nextSequence = (f) => {
  f.sequence++
  const digits = f.digits
  let i = digits.length - 1
  while (i >= 0 && digits[i] === 0x39) digits[i--] = 0x30
  if (i >= 0) digits[i]++
  else f.digits = Buffer.concat([Buffer.from([0x31]), digits])
}
/** Reads and checks the lines the log reported written, each a leaf unless the tree has it already (a chunk). */
const readFile = () => {
  const f = following
  const reported = readMark(f.reported)
  if (f.sequence > reported.sequence) return
  if (f.offset === undefined) f.offset = reported.start
  while (f.sequence <= reported.sequence) {
    const want = Math.min(reported.end - f.offset, f.read.length - 1)
    let n = 0
    try {
      n = fs.readSync(f.fd, f.read, 1, want, f.offset)
    } catch (error) {
      throw changed(f, "reading it failed: " + (error && error.message || error))
    }
    if (n <= 0) throw changed(f, "it ends at byte " + f.offset + ", before byte " + reported.end)
    const bytes = f.read
    const end = 1 + n
    let s = 1
    for (;;) {
      const lf = bytes.indexOf(10, s)
      if (lf < 0 || lf >= end) break
      if (lf === s && f.blankAllowed) {
        // the LF the writer put after a last line that had none
        f.blankAllowed = false
        f.offset += 1
        s = lf + 1
        continue
      }
      f.blankAllowed = false
      if (f.sequence - 1 > size) throw new Error("the tree log's worker read leaf " + (f.sequence - 1) + " before leaf " + size)
      // the leaf's hash first (the check overwrites the line), taken once the line is checked
      let leaf
      if (f.sequence - 1 === size) {
        bytes[s - 1] = 0
        leaf = digest(bytes, s - 1, lf)
      }
      checkLine(f, bytes, s, lf)
      if (f.sequence === reported.sequence && !holds(f.entry, 0, f.reported)) {
        throw changed(f, "its entry hash is not the one the log sealed")
      }
      if (f.previous.length !== 64) f.previous = Buffer.alloc(64)
      f.entry.copy(f.previous)
      if (leaf !== undefined) {
        addLeaf(leaf)
        if (count === CAP) answer(undefined)
      }
      f.offset += lf + 1 - s
      nextSequence(f)
      s = lf + 1
      if (f.sequence > reported.sequence) break
    }
    if (s === 1) {
      // no whole line in what was read: a longer line (read again into a larger buffer), or the file changed
      if (n < want) throw changed(f, "it ends at byte " + (f.offset + n) + ", before byte " + reported.end)
      if (want < f.read.length - 1) throw changed(f, "its last reported line has no LF")
      f.read = Buffer.alloc(2 * f.read.length)
    }
  }
  if (f.offset !== reported.end) throw changed(f, "the reported write ends at byte " + reported.end)
}
const run = () => {
  for (;;) {
    const message = next()
    if (message === undefined) return
    if (message === FILE) {
      readFile()
      answer(undefined)
      continue
    }
    if (message.kind === "follow") {
      startFollowing(message)
      continue
    }
    if (message.kind === "write" || message.kind === "remove") {
      let error
      try {
        error = message.kind === "write"
          ? writeFiles(message.paths.map((path, i) => ({
            path,
            bytes: new Uint8Array(message.bytes, message.offsets[i], message.offsets[i + 1] - message.offsets[i])
          })), message.sync)
          : removeFiles(message.paths)
      } catch (e) {
        error = failure(message.kind, "", e)
      }
      // a write's buffer goes back, for the next one
      if (message.kind === "write") replies.postMessage({ id: message.id, error, bytes: message.bytes }, [message.bytes])
      else replies.postMessage({ id: message.id, error })
      continue
    }
    // a chunk: the leaves before it that the file holds first (following), then its own
    if (following !== undefined && message.first > size) readFile()
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
  /** the chunk's buffer, handed back (none: leaves read from the log file) */
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
export const startWorker = (options: CheckedWorkerOptions, testing?: Testing): StartHashing => (range, sink) =>
  range.size >= 2n ** 53n ? inline(range, sink) : new WorkerHashing(range, sink, options, testing)

/** Tests only: `gate` (on a `SharedArrayBuffer`): the worker reads the log file only while `gate[0]` is not 0. */
export interface Testing {
  readonly gate?: Int32Array | undefined
}

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
  /** the last write the log reported (see the worker's `readMark`) */
  private readonly markLock: Int32Array
  private readonly markNumbers: Float64Array
  private readonly markHash: Uint8Array
  /** Following the log file (see `follow`): its descriptor (closed once the worker is gone) */
  private followFd: number | undefined = undefined
  /** the leaves sealed and not reported written (views into the log's round buffers, valid until written) from `unwritten[unwrittenAt]`, leaf `unwrittenFirst` */
  private unwritten: Array<Uint8Array> = []
  private unwrittenAt = 0
  private unwrittenFirst = 0
  /** whether a write was reported since following began */
  private reported = false
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
    options: CheckedWorkerOptions,
    testing?: Testing
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
    const mark = new SharedArrayBuffer(96)
    this.markLock = new Int32Array(mark, 0, 1)
    this.markNumbers = new Float64Array(mark, 0, 4)
    this.markHash = new Uint8Array(mark, 32, 64)
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
        mark,
        gate: testing?.gate?.buffer,
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

  readonly push = (leaf: Uint8Array): void => {
    if (this.followFd !== undefined) {
      // the worker reads it back from the file once the log reports it written (no copy here)
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
    if (this.inFlight >= this.maxChunks) {
      const limit = this.maxChunks >> 1
      this.waitUntil(() => this.inFlight <= limit)
    } else {
      this.take()
    }
    this.chunk = this.spare.pop() ?? new Uint8Array(this.chunkBytes)
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
    // an answer to a chunk hands its buffer back (one to leaves read from the file has none)
    const buffer = message.buffer
    if (buffer === undefined) return
    if (buffer.byteLength === this.chunkBytes && this.spare.length < this.maxChunks) {
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
    let progress = Atomics.load(this.ctl, DONE)
    let since = Date.now()
    for (;;) {
      this.take()
      if (ready()) return
      this.failed()
      this.wake(LIGHT)
      const seen = Atomics.load(this.ctl, M_WAKE)
      Atomics.store(this.ctl, M_SLEEP, 1)
      if (Atomics.load(this.ctl, DONE) === this.applied) Atomics.wait(this.ctl, M_WAKE, seen, 50)
      Atomics.store(this.ctl, M_SLEEP, 0)
      const now = Atomics.load(this.ctl, DONE)
      if (now !== progress) {
        progress = now
        since = Date.now()
      } else if (Date.now() - since > this.stallMillis) {
        throw new Error(`the tree log's hashing worker made no progress in ${this.stallMillis} ms`)
      }
    }
  }

  /** Throws when the worker failed, or this hashing was closed. */
  private failed(): void {
    if (Atomics.load(this.ctl, ERROR) !== 0) {
      const end = this.errors.indexOf(0)
      const text = new TextDecoder().decode(this.errors.slice(0, end < 0 ? this.errors.length : end))
      throw new Error(`the tree log's hashing worker failed: ${text}`)
    }
    if (this.closed) throw new Error("the tree log's hashing worker is closed")
    if (this.exited !== undefined) throw new Error(`the tree log's hashing worker exited (code ${this.exited})`)
  }

  readonly sync = (): void => {
    if (this.applied === this.pushed) return
    if (this.followFd !== undefined) this.handUnwritten()
    else if (this.count > 0) this.handOver()
    this.waitUntil(() => this.applied === this.pushed)
  }

  /** Following: the leaves not reported written, copied into chunks and handed over (the worker skips them in the file). */
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
   * From now on (nothing appended yet), the worker reads each leaf back from the log file at
   * `path` once the log reports it written (`written`), checking it against what the log sealed
   * (see the worker's `startFollowing`), instead of this thread copying it: the file after entry
   * `sequence` (hash `hash`), chained with `key` (none: SHA-256). False (and nothing changes) when
   * the file cannot be opened.
   */
  readonly follow = (path: string, sequence: bigint, hash: string, key: Uint8Array | undefined): boolean => {
    if (this.closed || this.followFd !== undefined || sequence >= 2n ** 53n) return false
    let fd: number
    try {
      fd = openSync(path, "r")
    } catch {
      return false
    }
    if (this.count > 0) this.handOver()
    this.followFd = fd
    this.unwrittenFirst = Number(sequence)
    this.markNumbers[1] = Number(sequence)
    this.input.postMessage({ kind: "follow", fd, path, sequence: Number(sequence), hash, key })
    this.wake(LIGHT)
    return true
  }

  /** The log wrote its entries up to `sequence` (hash `hash`) to bytes `start` to `end` of its file (`WalOptions.onWritten`). */
  readonly written = (start: number, end: number, sequence: bigint, hash: string): void => {
    if (this.followFd === undefined || this.closed) return
    const last = Number(sequence)
    // the views of the leaves written are dropped (their buffer is the log's again)
    const live = this.unwritten.length - this.unwrittenAt
    const drop = Math.min(live, last - this.unwrittenFirst)
    if (drop > 0) {
      if (drop === live) {
        this.unwritten.length = 0
        this.unwrittenAt = 0
      } else {
        this.unwrittenAt += drop
        if (this.unwrittenAt >= 1024) {
          this.unwritten.splice(0, this.unwrittenAt)
          this.unwrittenAt = 0
        }
      }
      this.unwrittenFirst += drop
    }
    const lock = this.markLock
    const version = lock[0] as number
    Atomics.store(lock, 0, version + 1)
    const numbers = this.markNumbers
    numbers[1] = last
    numbers[2] = end
    if (!this.reported) {
      numbers[3] = start
      this.reported = true
    }
    const markHash = this.markHash
    for (let i = 0; i < 64; i++) markHash[i] = hash.charCodeAt(i) & 255
    Atomics.store(lock, 0, version + 2)
    this.wake(DEEP)
    if (Atomics.load(this.ctl, DONE) !== this.applied) this.take()
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
    write: (files, sync) =>
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
          { kind: "write", paths: files.map((file) => file.path), offsets, bytes: bytes.buffer, sync },
          [bytes.buffer]
        )
      }),
    remove: (paths) => this.request({ kind: "remove", paths })
  }

  readonly close = (): void => {
    if (this.closed) return
    this.closed = true
    Atomics.store(this.ctl, STOP, 1)
    Atomics.add(this.ctl, W_WAKE, 1)
    Atomics.notify(this.ctl, W_WAKE)
    const fd = this.followFd
    // the descriptor the worker reads is closed once the worker is gone (never under it)
    const closeFd = () => {
      try {
        if (fd !== undefined) closeSync(fd)
      } catch {
        // already closed: nothing to release
      }
    }
    void this.worker.terminate().then(closeFd, closeFd)
    this.input.close()
    this.replies.close()
  }
}
