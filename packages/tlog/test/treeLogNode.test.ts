/**
 * TreeLogNode: the tree's hashing and tile writing on a worker thread. The contract suite and the
 * tile-file suite (treeLog.test.ts) run against it too; here, what only the worker has: leaves
 * of every length against every chunk size (a leaf longer than a chunk gets its own), the same
 * head, proofs and tile files as the inline hashing for random logs, and a tile write that fails
 * in the worker failing the flush with a typed error naming the path (the log going on, the next
 * flush writing everything).
 */
import * as Json from "@calybris/core/Json"
import * as Source from "@calybris/testing/Source"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { spawnSync } from "node:child_process"
import * as nodeFs from "node:fs"
import * as os from "node:os"
import type { Worker } from "node:worker_threads"
import { CompactRange } from "../src/CompactRange.js"
import { hashLeaf } from "../src/internal/hash.js"
import type { TreeHashing } from "../src/internal/treeHashing.js"
import { startWorker, workerOptions } from "../src/internal/treeWorker.js"
import { filesUnder, linesOf } from "./treeLogSupport.js"

const key = new Uint8Array(32).fill(3)
const numRuns = (n: number) => ({ numRuns: fc.readConfigureGlobal().numRuns ?? n })
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/**
 * Runs `code` (an ES module) in a child Node process, inside the package (its own name and its
 * dependencies resolve), within 60 s: it must print `stdout` exactly, nothing on stderr, and exit 0.
 */
const expectScript = (code: string, stdout: string) => {
  const result = spawnSync(process.execPath, [...Source.nodeArgs, "--input-type=module", "-e", code], {
    encoding: "utf8",
    timeout: 60_000,
    cwd: `${import.meta.dirname}/..`
  })
  expect(result.stderr).toBe("")
  expect(result.stdout).toBe(stdout)
  expect(result.status).toBe(0)
}

/**
 * Appends `<label> <i>` in one synchronous block until an append does not complete in it (held by
 * the hashing's `admit`): how many completed, and the held append's fiber. At most `max` appends.
 */
const appendUntilHeld = (log: TreeLog.TreeLog["Type"], label: string, max: number) => {
  const found = tryAppendUntilHeld(log, label, max)
  if (found === undefined) throw new Error("no append was held")
  return found
}

/** `appendUntilHeld`, or undefined when all `max` appends completed (none held). */
const tryAppendUntilHeld = (log: TreeLog.TreeLog["Type"], label: string, max: number) => {
  for (let i = 0; i < max; i++) {
    const fiber = Effect.runFork(log.append(`${label} ${i}`))
    const exit = fiber.unsafePoll()
    if (exit === null) return { acknowledged: i, held: fiber }
    if (Exit.isFailure(exit)) throw new Error(`append ${i} failed: ${Cause.pretty(exit.cause)}`)
  }
  return undefined
}

/**
 * How many times a test that needs the worker busy when it asks appends another 32 MiB leaf: the
 * thread stalled under load (~100 ms, a GC pause after allocating the leaf) lets the worker catch
 * up before the ask, which then completes at once (a flaky failure a helper's stall injection
 * found). Twenty such stalls in a row do not happen.
 */
const ATTEMPTS = 20

/**
 * Every file under `dir` with its bytes (hex), temp files included (none may be left) — but a
 * partial tile narrower than another of its tile (an earlier flush's, kept until the tile is full:
 * which sizes the background flushes wrote depends on timing) only checked to be the first hashes
 * of the widest, and left out.
 */
const filesOf = (dir: string): Record<string, string> => {
  if (!nodeFs.existsSync(dir)) return {}
  const files = Object.fromEntries(filesUnder(dir).map((p) => [p, hex(nodeFs.readFileSync(`${dir}/${p}`))]))
  const widest = new Map<string, number>()
  for (const p of Object.keys(files)) {
    const partial = /^(.*\.p)\/([0-9]+)$/.exec(p)
    if (partial !== null) {
      widest.set(partial[1] as string, Math.max(widest.get(partial[1] as string) ?? 0, Number(partial[2])))
    }
  }
  for (const p of Object.keys(files)) {
    const partial = /^(.*\.p)\/([0-9]+)$/.exec(p)
    if (partial === null) continue
    const width = widest.get(partial[1] as string) as number
    if (Number(partial[2]) === width) continue
    expect((files[`${partial[1]}/${width}`] as string).startsWith(files[p] as string), p).toBe(true)
    delete files[p]
  }
  return files
}

/** Appends `records` to a fresh log at `path` (flushing after `flushAt` of them), then returns what it answers. */
const run = (
  path: string,
  records: ReadonlyArray<Json.Json>,
  options: TreeLog.TreeLogOptions,
  io: Layer.Layer<TreeLogNode.TreeIo> | undefined
) =>
  Effect.scoped(Effect.gen(function*() {
    const open = TreeLog.makeFile(path, { key, durability: "never", ...options })
    const log = yield* (io === undefined ? open : Effect.provide(open, io))
    const answers: Array<string> = []
    for (const [i, record] of records.entries()) {
      yield* log.append(record)
      if (i % 7 === 3) {
        const head = yield* log.head
        answers.push(`${head.size} ${hex(head.root)}`)
        answers.push((yield* log.inclusionProof(BigInt(i >> 1), head.size)).map(hex).join(","))
      }
      if (i % 11 === 5) yield* log.flush
    }
    const head = yield* log.head
    answers.push(`${head.size} ${hex(head.root)}`)
    return answers
  })).pipe(Effect.provide(NodeContext.layer))

/** A worker hashing's thread (internal: a test reaches it to kill it, as a crash of that thread would). */
const workerOf = (hashing: TreeHashing): Worker => (hashing as unknown as { readonly worker: Worker }).worker

/**
 * A worker hashing with `options`, 100 leaves of 1,000 bytes pushed and all their nodes put (checked),
 * and its worker thread.
 */
const hashingOf100 = (options: TreeLogNode.WorkerOptions) => {
  let leaves = 0
  const hashing = startWorker(Either.getOrThrow(workerOptions(options)))(CompactRange.empty(), {
    put: () => {},
    putLeaves: (_, hashes) => void (leaves += hashes.length / 32)
  })
  const leaf = new Uint8Array(1000).fill(9)
  for (let i = 0; i < 100; i++) hashing.push(leaf)
  hashing.sync()
  assert.strictEqual(leaves, 100)
  return { hashing, leaf, worker: workerOf(hashing) }
}

/** `TreeLogNode`'s service with `options`, keeping the hashings it starts: `worker()` is the first one's thread. */
const capturingWorker = (options: TreeLogNode.WorkerOptions = {}) => {
  const started: Array<TreeHashing> = []
  const io = Either.getOrThrow(TreeLogNode.make(options))
  const layer = Layer.succeed(TreeLogNode.TreeIo, {
    startHashing: (range, sink) => {
      const hashing = io.startHashing(range, sink)
      started.push(hashing)
      return hashing
    }
  })
  return { layer, worker: () => workerOf(started[0] as TreeHashing) }
}

describe("TreeLogNode", () => {
  it.effect(
    "answers and tile files equal the inline hashing's, for leaves of any length against any chunk size",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const base = yield* fs.makeTempDirectoryScoped()
        let n = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.nat({ max: 5000 })), { maxLength: 120 }),
              fc.integer({ min: 64, max: 2048 }),
              fc.integer({ min: 2, max: 5 }),
              fc.integer({ min: 1, max: 50 }),
              (items, chunkBytes, maxChunks, flushEvery) => {
                // some records far longer than a chunk (one leaf per chunk of its own size)
                const records: Array<Json.Json> = items.map((item) =>
                  typeof item === "number" ? "y".repeat(item) : item
                )
                const inline = `${base}/inline-${n}.jsonl`
                const worker = `${base}/worker-${n++}.jsonl`
                return Effect.runPromise(Effect.gen(function*() {
                  const expected = yield* run(inline, records, { flushEvery }, undefined)
                  const got = yield* run(
                    worker,
                    records,
                    { flushEvery },
                    Layer.orDie(TreeLogNode.layerWith({ chunkBytes, maxChunks }))
                  )
                  expect(got).toEqual(expected)
                  expect(filesOf(`${worker}.tlog`)).toEqual(filesOf(`${inline}.tlog`))
                  // and the head is RFC 6962's root of the log's lines
                  const lines = linesOf(nodeFs.readFileSync(worker))
                  const tree = Merkle.MemoryTree.fromLeafHashes(lines.map(Merkle.hashLeaf))
                  expect(got[got.length - 1]).toBe(
                    `${lines.length} ${hex(Either.getOrThrow(Merkle.root(tree, BigInt(lines.length))))}`
                  )
                }))
              }
            ),
            numRuns(15)
          )
        )
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
    120_000
  )

  it.effect("a tile write failing in the worker fails the flush, naming the step and path; the log goes on", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/log.jsonl`
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* Effect.provide(TreeLog.makeFile(path, { key, durability: "never" }), TreeLogNode.layer)
        for (let i = 0; i < 300; i++) yield* log.append(i)
        // the level-0 tiles' directory cannot be made: a file is in the way
        nodeFs.mkdirSync(`${path}.tlog`, { recursive: true })
        nodeFs.writeFileSync(`${path}.tlog/tile`, "in the way")
        const failed = yield* Effect.flip(log.flush)
        expect(failed).toMatchObject({ _tag: "TreeLogIoError", operation: "mkdir", path: `${path}.tlog/tile/0` })
        expect(failed.message).toContain(`${path}.tlog/tile/0`)
        expect(nodeFs.existsSync(`${path}.tlog/${TreeLog.HEAD_FILE}`)).toBe(false)
        // appends, heads and proofs go on
        for (let i = 300; i < 310; i++) yield* log.append(i)
        expect((yield* log.head).size).toBe(310n)
        expect((yield* log.inclusionProof(5n, 310n)).length).toBeGreaterThan(0)
        // the obstacle gone, the next flush writes every tile of the acknowledged size
        nodeFs.rmSync(`${path}.tlog/tile`)
        yield* log.flush
        expect(nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").startsWith("310\n")).toBe(true)
      }))
      // the tiles written by the worker are the inline hashing's
      const inline = `${dir}/inline.jsonl`
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(inline, { key, durability: "never" })
        for (let i = 0; i < 310; i++) yield* log.append(i)
      }))
      expect(filesOf(`${path}.tlog`)).toEqual(filesOf(`${inline}.tlog`))
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect(
    "background flushes answered while appends hand chunks over, then explicit flushes: each answer put once",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        const inline = `${dir}/inline.jsonl`
        const records = Array.from({ length: 400 }, (_, i): Json.Json => `record ${i} ${"z".repeat(i % 37)}`)
        // a background flush every 3 entries, a chunk handed over at nearly every append (which also takes
        // the flushes' replies), an explicit flush and a head every 11: a reply taken outside the listener
        // must not leave it attached to see later answers twice
        const got = yield* run(
          path,
          records,
          { flushEvery: 3 },
          Layer.orDie(TreeLogNode.layerWith({ chunkBytes: 64, maxChunks: 2 }))
        )
        const expected = yield* run(inline, records, { flushEvery: 3 }, undefined)
        expect(got).toEqual(expected)
        expect(filesOf(`${path}.tlog`)).toEqual(filesOf(`${inline}.tlog`))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped),
    60_000
  )

  it.effect("a file request's reply taken synchronously (not by the listener): later answers are each put once", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const seen = new Map<bigint, number>()
      const hashing = startWorker(Either.getOrThrow(workerOptions({ chunkBytes: 64 })))(CompactRange.empty(), {
        put: () => {},
        putLeaves: (first, hashes) => {
          for (let i = 0; i < hashes.length / 32; i++) {
            seen.set(first + BigInt(i), (seen.get(first + BigInt(i)) ?? 0) + 1)
          }
        }
      })
      const files = hashing.files
      assert(files !== undefined)
      const leaf = new Uint8Array(50).fill(7)
      // a request whose reply `pending` takes while the event loop is held
      const first = Effect.runFork(files.write([{ path: `${dir}/a`, bytes: new Uint8Array([1]) }], false, [], dir))
      const until = Date.now() + 200
      while (Date.now() < until) hashing.pending()
      yield* Fiber.join(first)
      // a second request, then leaves answered while it waits: the event loop delivers them
      const second = Effect.runFork(files.write([{ path: `${dir}/b`, bytes: new Uint8Array([2]) }], false, [], dir))
      for (let i = 0; i < 20; i++) hashing.push(leaf)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      yield* Fiber.join(second)
      hashing.sync()
      expect(hashing.pending()).toBe(0)
      expect([...seen.values()]).toEqual(Array.from({ length: 20 }, () => 1))
      hashing.close()
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it("the stall detector measures with a monotonic clock: the wall clock stepped forward (an hour a call) while a wait sees no progress yet is no stall (a review: Date.now() read it as one)", () => {
    const { hashing } = hashingOf100({ chunkBytes: 65536, maxChunks: 16, stallMillis: 500 })
    // one leaf that keeps the worker busy: the first look of the wait below sees no progress
    hashing.push(new Uint8Array(32 * 1024 * 1024).fill(7))
    const wall = Date.now
    let calls = 0
    Date.now = () => wall() + 3_600_000 * ++calls
    try {
      hashing.sync()
    } finally {
      Date.now = wall
    }
    expect(hashing.pending()).toBe(0)
    hashing.close()
  })

  it.live("a worker that exits (killed) fails the file request waiting for it and every later call; none hangs", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      // chunks many enough that the pushes below never wait: all of them queued before the request
      const { hashing, leaf, worker } = hashingOf100({ chunkBytes: 65536, maxChunks: 1024, stallMillis: 500 })
      const files = hashing.files
      assert(files !== undefined)
      // a file request queued behind ~50 MB of leaves to hash, the worker killed before it answers: the request fails
      for (let i = 0; i < 50_000; i++) hashing.push(leaf)
      const pending = Effect.runFork(files.write([{ path: `${dir}/a`, bytes: new Uint8Array([1]) }], false, [], dir))
      yield* Effect.promise(() => worker.terminate())
      const failed = yield* Effect.flip(Fiber.join(pending))
      expect(String(failed.cause)).toMatch(/the tree log's worker exited \(code \d+\)/)
      expect(nodeFs.existsSync(`${dir}/a`)).toBe(false)
      // every later call fails at once, naming the exit: a new request, a wait for the leaves, a push that hands a chunk over
      const again = yield* Effect.flip(files.write([{ path: `${dir}/b`, bytes: new Uint8Array([2]) }], false, [], dir))
      expect(String(again.cause)).toMatch(/exited \(code \d+\)/)
      expect(() => hashing.sync()).toThrow(/the tree log's hashing worker exited \(code \d+\)/)
      // an append is refused before it is sealed, at once
      expect(hashing.admit?.()).toMatch(/^the tree log's hashing worker exited \(code \d+\)$/)
      expect(() => {
        // more than `maxChunks` chunks' worth (1,024 × 65 leaves; none answered any more): a push
        // not admitted (the open's) waits past `maxChunks`, and fails
        for (let i = 0; i < 70_000; i++) hashing.push(leaf)
      }).toThrow(/the tree log's hashing worker exited \(code \d+\)/)
      hashing.close()
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.live(
    "a worker killed while the appending thread waits for it: the wait fails after stallMillis, never hangs, and later waits fail at once",
    () =>
      Effect.gen(function*() {
        const { hashing, leaf, worker } = hashingOf100({ chunkBytes: 4096, stallMillis: 1000 })
        // killed without the event loop turning: the exit is not seen, the wait sees no progress
        void worker.terminate()
        const started = Date.now()
        // the pushes wait past `maxChunks` chunks in flight, or `sync` waits: either fails
        expect(() => {
          for (let i = 0; i < 20_000; i++) hashing.push(leaf)
          hashing.sync()
        }).toThrow(/made no progress in 1000 ms/)
        expect(Date.now() - started).toBeLessThan(30_000)
        // the worker has done nothing since: an append's admission, and a wait for the leaves, fail
        // at once instead of blocking the thread for another second each
        const again = Date.now()
        expect(hashing.admit?.()).toBe("the tree log's hashing worker made no progress in 1000 ms")
        expect(() => hashing.sync()).toThrow(/made no progress in 1000 ms/)
        expect(Date.now() - again).toBeLessThan(500)
        hashing.close()
      })
  )

  it.live(
    "a worker that stops under a log: each later append is refused unsealed (a retry appends once), the tree's calls fail typed, the log closes, and reopened its tree is whole",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const path = `${dir}/log.jsonl`
        const capturing = capturingWorker()
        const signer = Note.makeSigner(
          "example.com/log",
          Note.TYPE_ED25519,
          new Uint8Array(32),
          () => new Uint8Array(64)
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Effect.provide(
            TreeLog.makeFile(path, { key, durability: "never", flushEvery: 64 }),
            capturing.layer
          )
          for (let i = 0; i < 100; i++) yield* log.append(`before ${i}`)
          expect((yield* log.head).size).toBe(100n)
          const worker = capturing.worker()
          // killed, and 20 appends in the same synchronous block: the exit not seen yet, they are
          // admitted and acknowledged (as appends racing a crash of the worker would be); their
          // leaves reach no worker
          yield* Effect.sync(() => {
            void worker.terminate()
            for (let i = 0; i < 20; i++) Effect.runSync(log.append(`racing ${i}`))
          })
          yield* Effect.sleep("200 millis")
          // the tree lacks those leaves: every call fails typed, none answers from it
          const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string; readonly message: string }>> = [
            log.head,
            log.rootAt(110n),
            log.inclusionProof(3n, 120n),
            log.consistencyProof(100n, 120n),
            log.checkpoint("example.com/log", [signer]),
            log.flush
          ]
          for (const call of calls) {
            const error = yield* Effect.flip(call)
            expect(error._tag).toBe("TreeLogHashingFailed")
            expect(error.message).toMatch(/hashing stopped: the tree log's hashing worker exited \(code \d+\)/)
          }
          // each append is refused before it is sealed: nothing written, the head where it was
          const bytes = nodeFs.readFileSync(path)
          for (let i = 0; i < 3; i++) {
            const refused = yield* Effect.flip(log.append("retried"))
            assert(refused._tag === "WalAppendRefused")
            assert.instanceOf(refused.cause, TreeLog.TreeLogHashingFailed)
            expect(refused.message).toMatch(/^WAL append refused before anything was written: the tree log's hashing/)
          }
          expect((yield* log.wal.head).sequence).toBe(120n)
          expect(nodeFs.readFileSync(path).equals(bytes)).toBe(true)
        }))
        // closed without a defect; reopened (a new worker), the whole tree is rebuilt from the log
        // and checked (every tile and the head recomputed), and the retried record is appended once
        const { head, proof } = yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Effect.provide(
            TreeLog.makeFile(path, { key, durability: "never", verifyTree: "full" }),
            TreeLogNode.layer
          )
          expect((yield* log.head).size).toBe(120n)
          yield* log.append("retried")
          return { head: yield* log.head, proof: yield* log.inclusionProof(120n, 121n) }
        }))
        const lines = linesOf(nodeFs.readFileSync(path))
        // the root of all 121 lines, each once; the retried one proven in it
        expect(head.size).toBe(121n)
        expect(hex(head.root)).toBe(hex(Merkle.referenceRoot(lines.map((line) => hashLeaf(line)))))
        Either.getOrThrow(Merkle.verifyInclusion(hashLeaf(lines[120] as Uint8Array), 120n, 121n, proof, head.root))
        const data = lines.map((line) =>
          (Either.getOrThrow(Json.parse(Buffer.from(line).toString("utf8"))) as Json.JsonObject).get("data")
        )
        expect(data).toEqual([
          ...Array.from({ length: 100 }, (_, i) => `before ${i}`),
          ...Array.from({ length: 20 }, (_, i) => `racing ${i}`),
          "retried"
        ])
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
  )

  it.live(
    "a memory log whose worker dies unseen: appends are admitted while chunks fit, then held without blocking the thread, then refused unsealed",
    () =>
      Effect.gen(function*() {
        // 64-byte chunks: each leaf is longer, so each push hands a chunk over; 2 in flight at most
        const capturing = capturingWorker({ chunkBytes: 64, maxChunks: 2, stallMillis: 60_000 })
        const log = yield* Effect.provide(TreeLog.makeMemory({ key }), capturing.layer)
        yield* log.append("first")
        expect((yield* log.head).size).toBe(1n)
        const worker = capturing.worker()
        // killed, and appends in the same synchronous block (the exit unseen) until one is held:
        // the pushes hand chunks to a worker that no longer answers, so admission holds the next
        const { acknowledged, held } = yield* Effect.sync(() => {
          void worker.terminate()
          // (bounded; the worker is gone within milliseconds, a few thousand appends at most)
          return appendUntilHeld(log, "racing", 100_000)
        })
        // held, not blocking: this fiber runs, the event loop turns (a timer fires), nothing sealed
        yield* Effect.sleep("20 millis")
        expect((yield* log.wal.head).sequence).toBe(BigInt(1 + acknowledged))
        // the worker's exit, seen on a turn of the event loop, ends the hold (not the 60 s stall):
        // the held append is refused, unsealed
        const refused = yield* Effect.flip(Fiber.join(held))
        expect(refused._tag).toBe("WalAppendRefused")
        expect(refused.message).toMatch(/the tree log's hashing worker exited \(code \d+\)/)
        // exactly the admitted appends are in the log, the refused one is not
        const head = yield* log.wal.head
        expect(head.sequence).toBe(BigInt(1 + acknowledged))
        const lines = linesOf(Buffer.concat(Chunk.toArray(yield* Stream.runCollect(log.wal.bytes))))
        expect(lines.length).toBe(1 + acknowledged)
        // the next append is refused at once, naming the exit; the tree's calls fail typed
        const next = yield* Effect.flip(log.append("later"))
        expect(next.message).toMatch(/the tree log's hashing worker exited \(code \d+\)/)
        const error = yield* Effect.flip(log.head)
        expect(error._tag).toBe("TreeLogHashingFailed")
      }).pipe(Effect.scoped)
  )

  it.live(
    "an append held behind a slow worker waits without blocking the thread: other fibers run, and it is sealed once the worker catches up",
    () =>
      Effect.gen(function*() {
        const capturing = capturingWorker({ chunkBytes: 64, maxChunks: 2 })
        const log = yield* Effect.provide(TreeLog.makeMemory({ key }), capturing.layer)
        let appended = 0n
        for (let attempt = 0;; attempt++) {
          expect(attempt).toBeLessThan(ATTEMPTS)
          // a 32 MiB leaf keeps the worker busy for tens of milliseconds; the appends after it fill
          // the chunks in flight, and the next is held
          yield* log.append("x".repeat(32 * 1024 * 1024))
          appended++
          const found = yield* Effect.sync(() => tryAppendUntilHeld(log, `behind ${attempt}`, 1_000))
          if (found === undefined) {
            appended += 1_000n
            continue
          }
          appended += BigInt(found.acknowledged) + 1n
          // while it is held, this fiber runs on a timer: the thread is not blocked
          yield* Effect.sleep("1 millis")
          const heldAcrossTimer = found.held.unsafePoll() === null
          // and it is sealed once the worker catches up
          const sealed = yield* Fiber.join(found.held)
          expect(sealed.sealed.sequence).toBe(appended)
          if (heldAcrossTimer) break
        }
        const head = yield* log.head
        expect(head.size).toBe(appended)
        const lines = linesOf(Buffer.concat(Chunk.toArray(yield* Stream.runCollect(log.wal.bytes))))
        expect(hex(head.root)).toBe(hex(Merkle.referenceRoot(lines.map((line) => hashLeaf(line)))))
      }).pipe(Effect.scoped)
  )

  it.live(
    "a head, proof or flush asked while the worker is behind waits without blocking the thread, then answers from every leaf",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const capturing = capturingWorker({ chunkBytes: 64, maxChunks: 2 })
        const log = yield* Effect.provide(
          TreeLog.makeFile(`${dir}/log.jsonl`, { key, durability: "never" }),
          capturing.layer
        )
        for (const call of ["head", "proof", "flush"] as const) {
          for (let attempt = 0;; attempt++) {
            expect(attempt).toBeLessThan(ATTEMPTS)
            // a 32 MiB leaf keeps the worker busy for tens of milliseconds
            yield* log.append("x".repeat(32 * 1024 * 1024))
            yield* log.append(`after ${call}`)
            const size = (yield* log.wal.head).sequence
            const asked = Effect.runFork(
              call === "head"
                ? Effect.map(log.head, (head) => head.size)
                : call === "proof"
                ? Effect.as(log.inclusionProof(size - 1n, size), size)
                : Effect.as(log.flush, size)
            )
            // not answered in the same synchronous block, and still waiting when this fiber's
            // timer fires: it waits for the worker, the thread free
            const pending = asked.unsafePoll() === null
            yield* Effect.sleep("1 millis")
            const pendingAcrossTimer = pending && asked.unsafePoll() === null
            expect(yield* Fiber.join(asked)).toBe(size)
            if (pendingAcrossTimer) break
          }
        }
        const head = yield* log.head
        // (durability "never" acknowledges before the write: the file is read once the log wrote
        // what it sealed — read before, under load, it lacked the last round: a flaky failure)
        yield* Wal.settled(log.wal)
        const lines = linesOf(nodeFs.readFileSync(`${dir}/log.jsonl`))
        expect(BigInt(lines.length)).toBe(head.size)
        expect(hex(head.root)).toBe(hex(Merkle.referenceRoot(lines.map((line) => hashLeaf(line)))))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
  )

  it.live(
    "a head, proof or flush asked while another fiber appends never blocks the thread: it answers at the size it was asked at, from leaves the worker has hashed",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        // the worker's `sync` counted each time it would have to wait (leaves not answered yet):
        // the thread blocked until the worker answers them
        let blocking = 0
        const io = Either.getOrThrow(TreeLogNode.make({ chunkBytes: 64, maxChunks: 4 }))
        const layer = Layer.succeed(TreeLogNode.TreeIo, {
          startHashing: (range, sink) => {
            const hashing = io.startHashing(range, sink)
            return {
              ...hashing,
              sync: () => {
                if (hashing.pending() > 0) blocking++
                hashing.sync()
              }
            }
          }
        })
        const log = yield* Effect.provide(
          TreeLog.makeFile(`${dir}/log.jsonl`, { key, durability: "never", flushEvery: 16 }),
          layer
        )
        // appends all along (up to 20,000), each a turn of its own: the asking fiber runs between them
        let n = 0
        const appender = yield* Effect.fork(
          Effect.forever(
            Effect.zipRight(
              Effect.suspend(() => n < 20_000 ? log.append(`entry ${n++}`) : Effect.sleep("1 millis")),
              Effect.yieldNow()
            )
          )
        )
        const answered: Array<
          { readonly size: bigint; readonly root: Uint8Array; readonly proof: ReadonlyArray<Uint8Array> }
        > = []
        for (let i = 0; i < 40; i++) {
          const asked = (yield* log.wal.head).sequence
          const head = yield* log.head
          expect(head.size).toBeGreaterThanOrEqual(asked)
          const proof = head.size > 1n ? yield* log.inclusionProof(head.size - 2n, head.size) : []
          answered.push({ ...head, proof })
          yield* log.flush
          yield* Effect.sleep("2 millis")
        }
        yield* Fiber.interrupt(appender)
        expect(n).toBeGreaterThan(40)
        expect(blocking).toBe(0)
        // every head answered is the tree of the log's first `size` lines (the reference's roots,
        // from one pass over the leaves), and each proof verifies in it
        const lines = linesOf(Buffer.concat(Chunk.toArray(yield* Stream.runCollect(log.wal.bytes))))
        const leaves = lines.map((line) => hashLeaf(line))
        const range = CompactRange.empty()
        const roots = new Map<bigint, string>([[0n, hex(Merkle.emptyRoot())]])
        const sizes = new Set(answered.map((head) => head.size))
        for (const leaf of leaves) {
          range.append(leaf)
          if (sizes.has(range.size)) roots.set(range.size, hex(range.root()))
        }
        for (const { proof, root, size } of answered) {
          expect(hex(root)).toBe(roots.get(size))
          if (size > 1n) {
            Either.getOrThrow(
              Merkle.verifyInclusion(leaves[Number(size) - 2] as Uint8Array, size - 2n, size, proof, root)
            )
          }
        }
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
  )

  it("a process whose log closed exits on its own: the worker never keeps it alive", () => {
    const dir = nodeFs.mkdtempSync(`${os.tmpdir()}/calybris-exit-`)
    try {
      const code = `
        import * as TreeLog from "@calybris/tlog/TreeLog"
        import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
        import * as NodeContext from "@effect/platform-node/NodeContext"
        import * as Effect from "effect/Effect"
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const log = yield* TreeLog.makeFile(${JSON.stringify(`${dir}/log.jsonl`)}, { durability: "never" })
          for (let i = 0; i < 100; i++) yield* log.append("entry " + i)
        })).pipe(Effect.provide(TreeLogNode.layer), Effect.provide(NodeContext.layer)))
        console.log("closed")
      `
      // a process kept alive by the worker would be killed by the timeout (status null)
      expectScript(code, "closed\n")
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)

  it("a process whose only work is appends held behind the worker does not exit under them", () => {
    const code = `
      import * as TreeLog from "@calybris/tlog/TreeLog"
      import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
      import * as Effect from "effect/Effect"
      let held = 0
      let appended = 0n
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeMemory({})
        // (another 32 MiB leaf when none was held: the thread stalled while the worker caught up)
        for (let attempt = 0; attempt < ${ATTEMPTS} && held === 0; attempt++) {
          // a 32 MiB leaf keeps the worker busy; with 2 chunks of 64 bytes in flight at most, the
          // appends after it are held, and nothing else keeps the event loop alive
          yield* log.append("x".repeat(32 * 1024 * 1024))
          for (let i = 0; i < 50; i++) {
            const fiber = Effect.runFork(log.append("entry " + i))
            if (fiber.unsafePoll() === null) held++
            yield* fiber.await
          }
          appended += 51n
        }
        const head = yield* log.head
        if (head.size !== appended) throw new Error("head " + head.size)
      })).pipe(Effect.provide(TreeLogNode.layerWith({ chunkBytes: 64, maxChunks: 2 }))))
      console.log(held > 0 ? "done" : "none held")
    `
    // a process that exited under a held append prints nothing (its top-level await unsettled)
    expectScript(code, "done\n")
  }, 90_000)

  it.effect("an option out of its range is refused, naming it and its value (never clamped), before any log is opened", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const bad: ReadonlyArray<readonly [TreeLogNode.WorkerOptions, string, string]> = [
        [{ chunkBytes: 63 }, "chunkBytes", "63"],
        [{ chunkBytes: 2 ** 30 + 1 }, "chunkBytes", "1073741825"],
        [{ chunkBytes: 1024.5 }, "chunkBytes", "1024.5"],
        [{ maxChunks: 1 }, "maxChunks", "1"],
        [{ maxChunks: Number.NaN }, "maxChunks", "NaN"],
        [{ maxChunks: 1025 }, "maxChunks", "1025"],
        [{ stallMillis: 0 }, "stallMillis", "0"],
        [{ stallMillis: Infinity }, "stallMillis", "Infinity"],
        [{ chunkBytes: 64, maxChunks: 2, stallMillis: -5 }, "stallMillis", "-5"]
      ]
      for (const [options, field, value] of bad) {
        const path = `${dir}/log-${field}-${value}.jsonl`
        const error = yield* Effect.flip(
          TreeLog.makeFile(path, { durability: "never", allowEmptyKey: true }).pipe(
            Effect.provide(TreeLogNode.layerWith(options))
          )
        )
        expect(error._tag).toBe("TreeLogOptionsInvalid")
        if (error._tag === "TreeLogOptionsInvalid") expect([error.field, error.value]).toEqual([field, value])
        expect(nodeFs.existsSync(path)).toBe(false)
        expect(Either.isLeft(TreeLogNode.make(options))).toBe(true)
      }
      // the edges of each range are accepted
      for (
        const options of [{ chunkBytes: 64, maxChunks: 2, stallMillis: 1 }, { chunkBytes: 2 ** 30, maxChunks: 1024 }]
      ) {
        expect(Either.isRight(TreeLogNode.make(options))).toBe(true)
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))
})
