/**
 * Checkpointer: periodic signed checkpoints over a fake source (a Merkle.MemoryTree), written to a
 * real temp directory through a FileSystem that watches every operation (the checkpoint file is
 * always absent or a complete verifying note) and injects faults; the periodic fiber on TestClock.
 */
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Checkpointer from "@calybris/tlog/Checkpointer"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { execFileSync } from "node:child_process"
import * as nodeFs from "node:fs"
import { right, signer } from "./noteSupport.js"

const ORIGIN = "example.com/log"
const logSigner = signer(ORIGIN, Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1))
const vkey = right(Note.parseVerifierKey(Note.formatVerifierKey(logSigner)))
const encoder = new TextEncoder()

/** A fake source: a memory tree; `heads` counts reads of the head. */
interface FakeSource extends Checkpointer.Source {
  tree: Merkle.MemoryTree
  heads: number
  readonly append: (n: number) => bigint
}
const makeSource = (history = "seq"): FakeSource => {
  const source: FakeSource = {
    tree: new Merkle.MemoryTree(),
    heads: 0,
    head: Effect.sync(() => {
      source.heads++
      return { size: source.tree.size, root: right(Merkle.root(source.tree, source.tree.size)) }
    }),
    rootAt: (size) => Effect.sync(() => right(Merkle.root(source.tree, size))),
    append: (n: number) => {
      for (let i = 0; i < n; i++) {
        source.tree.append(Merkle.hashLeaf(encoder.encode(`{"${history}":${source.tree.size + 1n}}`)))
      }
      return source.tree.size
    }
  }
  return source
}

/** The checkpoint file verified with the log's key: its size and root, or undefined when absent. */
const onDisk = (path: string): Checkpoint.Checkpoint | undefined => {
  if (!nodeFs.existsSync(path)) return undefined
  const verified = Checkpoint.verifyCheckpoint(nodeFs.readFileSync(path), [vkey], {
    origin: ORIGIN,
    keyNameIsOrigin: true
  })
  if (Either.isLeft(verified)) throw new Error(`${path} does not verify: ${verified.left.message}`)
  return verified.right.checkpoint
}

/** What the watching FileSystem saw, and the faults it injects. */
interface Probe {
  /** the checkpoint file; every operation checks it is absent or a complete verifying note */
  target: string
  ops: Array<string>
  renames: number
  fail: { sync?: boolean; rename?: boolean; writeHalf?: boolean }
  /** states of the target seen before each operation (undefined = absent) */
  seen: Array<bigint | undefined>
}

const ioError = (method: string, path: string | number) =>
  new SystemError({ reason: "Unknown", module: "FileSystem", method, pathOrDescriptor: path, description: "EIO" })

/** The real FileSystem, every member delegated, watching the target and failing on demand. */
const watching = (probe: Probe) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => {
      const look = (op: string) =>
        Effect.sync(() => {
          probe.ops.push(op)
          if (probe.target !== "") probe.seen.push(onDisk(probe.target)?.size)
        })
      const wrap = (file: FileSystem.File): FileSystem.File => ({
        [FileSystem.FileTypeId]: FileSystem.FileTypeId,
        fd: file.fd,
        get stat() {
          return file.stat
        },
        seek: (offset, from) => file.seek(offset, from),
        sync: Effect.zipRight(
          look("sync"),
          Effect.suspend(() => probe.fail.sync === true ? Effect.fail(ioError("sync", file.fd)) : file.sync)
        ),
        read: (buffer) => file.read(buffer),
        readAlloc: (size) => file.readAlloc(size),
        truncate: (length) => file.truncate(length),
        write: (buffer) => file.write(buffer),
        writeAll: (buffer) =>
          Effect.zipRight(
            look("writeAll"),
            Effect.suspend(() =>
              probe.fail.writeHalf === true
                ? Effect.zipRight(
                  file.writeAll(buffer.subarray(0, buffer.length >> 1)),
                  Effect.fail(ioError("write", file.fd))
                )
                : file.writeAll(buffer)
            )
          )
      })
      return FileSystem.FileSystem.of({
        ...real,
        open: (path, options) => Effect.zipRight(look(`open ${path}`), Effect.map(real.open(path, options), wrap)),
        rename: (from, to) =>
          Effect.zipRight(
            look(`rename ${from} ${to}`),
            Effect.suspend(() => {
              if (probe.fail.rename === true) return Effect.fail(ioError("rename", from))
              // counted once the rename is done: a test polling the count then reads the file renamed
              return Effect.zipRight(
                real.rename(from, to),
                Effect.zipRight(Effect.sync(() => probe.renames++), look("renamed"))
              )
            })
          ),
        readFileString: (path, encoding) => Effect.zipRight(look(`read ${path}`), real.readFileString(path, encoding)),
        // after: a failed write's temp file removed (then the failure is recorded)
        remove: (path, options) => Effect.ensuring(real.remove(path, options), look("removed"))
      })
    })
  ).pipe(Layer.provide(NodeFileSystem.layer))

const newProbe = (): Probe => ({ target: "", ops: [], renames: 0, fail: {}, seen: [] })

/** A temp directory (real FileSystem) and the checkpoint path in it. */
const tempCheckpoint = Effect.map(
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "calybris-ckpt-" })),
  (dir) => ({ dir, path: `${dir}/checkpoint` })
).pipe(Effect.provide(NodeFileSystem.layer))

/** Lets the periodic fiber's real I/O finish: real-time polls until `done` (bounded). */
const eventually = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !done(); i++) {
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
    }
    assert.isTrue(done(), "condition not reached")
  })
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 30)))

/**
 * Real-time polls until the periodic fiber has finished its tick and sleeps again (a sleep is
 * pending on the TestClock), bounded: the next `TestClock.adjust` then wakes it. Adjusted while
 * the tick's file I/O still ran, its next sleep started after the adjust and waited for a second
 * that never came (a CI run under load, once the tick's read took a few more round trips).
 */
const asleepAgain = Effect.gen(function*() {
  for (let i = 0; i < 2000; i++) {
    if ((yield* TestClock.sleeps()).length > 0) return
    yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
  }
  assert.fail("the periodic fiber did not sleep again")
})

const baseOptions = (path: string): Checkpointer.Options => ({
  origin: ORIGIN,
  signers: [logSigner],
  every: { entries: 3 },
  write: path
})

describe("Checkpointer: every N entries", () => {
  it.scoped("signs at N, 2N, 3N… exactly, each file verifying with the vkey and carrying the source's head", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const probe = { ...newProbe(), target: path }
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(watching(probe)))
      const sizes: Array<bigint | undefined> = []
      for (let i = 1; i <= 10; i++) {
        yield* cp.afterAppend(source.append(1))
        sizes.push(onDisk(path)?.size)
      }
      assert.deepStrictEqual(sizes, [undefined, undefined, 3n, 3n, 3n, 6n, 6n, 6n, 9n, 9n])
      assert.strictEqual(probe.renames, 3)
      const written = onDisk(path)
      assert.strictEqual(written?.origin, ORIGIN)
      assert.deepStrictEqual(written?.root, right(Merkle.root(source.tree, 9n)))
      const latest = yield* cp.latest
      assert.isTrue(Option.isSome(latest))
      assert.strictEqual(Option.getOrThrow(latest).note, nodeFs.readFileSync(path, "utf8"))
      // no temp file left behind
      assert.isFalse(nodeFs.existsSync(`${path}.tmp`))
    }))

  it.scoped("a batch of appends crossing the threshold signs the head once", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const probe = { ...newProbe(), target: path }
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(watching(probe)))
      yield* cp.afterAppend(source.append(7))
      assert.strictEqual(onDisk(path)?.size, 7n)
      assert.strictEqual(probe.renames, 1)
      yield* cp.afterAppend(source.append(2))
      assert.strictEqual(probe.renames, 1)
    }))
})

describe("Checkpointer: every N entries, any batches (property)", () => {
  it.effect("a checkpoint exactly when N entries were appended since the last one, carrying the source's head", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(
          FastCheck.integer({ min: 1, max: 5 }),
          FastCheck.array(FastCheck.integer({ min: 0, max: 7 }), { maxLength: 12 }),
          (every, batches) =>
            Effect.runPromise(
              Effect.scoped(Effect.gen(function*() {
                const { path } = yield* tempCheckpoint
                const source = makeSource()
                const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { entries: every } }, source).pipe(
                  Effect.provide(NodeFileSystem.layer)
                )
                let last: bigint | undefined
                for (const batch of batches) {
                  const size = source.append(batch)
                  yield* cp.afterAppend(size)
                  if (size - (last ?? 0n) >= BigInt(every)) last = size
                  const written = onDisk(path)
                  assert.strictEqual(written?.size, last)
                  if (written !== undefined) {
                    assert.deepStrictEqual(written.root, right(Merkle.root(source.tree, written.size)))
                  }
                }
              }))
            )
        ),
        { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 20 }
      )
    ))
})

describe("Checkpointer: every T seconds (TestClock)", () => {
  it.scoped("signs the head every T seconds when it moved, never an unchanged head", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const probe = { ...newProbe(), target: path }
      const source = makeSource()
      const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 10 } }, source).pipe(
        Effect.provide(watching(probe))
      )
      yield* cp.afterAppend(source.append(2))
      assert.isUndefined(onDisk(path))
      yield* TestClock.adjust("9 seconds")
      yield* settle
      assert.isUndefined(onDisk(path))
      yield* TestClock.adjust("1 second")
      yield* eventually(() => probe.renames === 1)
      assert.strictEqual(onDisk(path)?.size, 2n)
      // unchanged: the tick reads the head and signs nothing
      const heads = source.heads
      yield* asleepAgain
      yield* TestClock.adjust("10 seconds")
      yield* eventually(() => source.heads > heads)
      yield* asleepAgain
      assert.strictEqual(probe.renames, 1)
      yield* cp.afterAppend(source.append(1))
      yield* TestClock.adjust("10 seconds")
      yield* eventually(() => probe.renames === 2)
      assert.strictEqual(onDisk(path)?.size, 3n)
    }))

  it.scoped("publish twice on an unchanged head writes once; a restarted checkpointer keeps the file", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const probe = { ...newProbe(), target: path }
      const source = makeSource()
      source.append(4)
      const scope = yield* Scope.make()
      const first = yield* Checkpointer.make(baseOptions(path), source).pipe(
        Effect.provide(watching(probe)),
        Scope.extend(scope)
      )
      const a = yield* first.publish
      const b = yield* first.publish
      assert.strictEqual(a.note, b.note)
      assert.strictEqual(probe.renames, 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(probe.renames, 1)
      const again = yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 1 } }, source).pipe(
        Effect.provide(watching(probe))
      )
      assert.strictEqual(Option.getOrThrow(yield* again.latest).note, a.note)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      assert.strictEqual(probe.renames, 1)
    }))

  it.scoped("a checkpoint removed while the head stands still is written again, by publish and by the timer (a hostile review: publish returned it, nothing on disk); one changed into no checkpoint is a pending failure", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      source.append(4)
      const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 1 } }, source).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const first = yield* cp.publish
      nodeFs.rmSync(path)
      const again = yield* cp.publish
      assert.strictEqual(again.note, first.note)
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), first.note)
      // the timer: removed, the same note comes back
      nodeFs.rmSync(path)
      yield* TestClock.adjust("1 second")
      yield* eventually(() => nodeFs.existsSync(path) && nodeFs.readFileSync(path, "utf8") === first.note)
      assert.strictEqual(Option.getOrThrow(yield* cp.latest).note, first.note)
      // changed into something that is no signed checkpoint: as at start, not taken for "none"
      // (it may be a published checkpoint damaged): nothing signed over it until it is removed
      nodeFs.writeFileSync(path, first.note.slice(0, 20))
      const pending = yield* Effect.flip(cp.publish)
      assert.strictEqual(pending._tag, "CheckpointerWriteFailed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), first.note.slice(0, 20))
      nodeFs.rmSync(path)
      assert.strictEqual((yield* cp.publish).note, first.note)
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), first.note)
    }))

  it.scoped("a source whose head asks the checkpointer's latest (while a checkpoint is made) is answered: no deadlock (the review of a latest that waited for the lock)", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      source.append(1)
      const seen: Array<string> = []
      const made: { cp?: Checkpointer.Checkpointer<never> } = {}
      const asking: typeof source = {
        ...source,
        head: Effect.flatMap(
          Effect.suspend(() => made.cp === undefined ? Effect.succeedNone : made.cp.latest),
          (latest) => {
            seen.push(Option.isSome(latest) ? String(latest.value.checkpoint.size) : "none")
            return source.head
          }
        )
      }
      const cp = yield* Checkpointer.make(baseOptions(path), asking).pipe(Effect.provide(NodeFileSystem.layer))
      made.cp = cp
      assert.strictEqual((yield* Effect.timeout(cp.publish, "10 seconds")).checkpoint.size, 1n)
      source.append(1)
      assert.strictEqual((yield* Effect.timeout(cp.publish, "10 seconds")).checkpoint.size, 2n)
      assert.includeMembers(seen, ["1"])
    }))

  it.scoped("a checkpoint written over ours meanwhile (another instance's, further on) is evidence: never replaced by an older head, by publish or the timer (the review of the rewrite)", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const ours = makeSource()
      ours.append(4)
      const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 1 } }, ours).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      yield* cp.publish
      // another instance of the same log, 4 entries further, publishes to the same file
      const further = makeSource()
      further.append(8)
      yield* Effect.scoped(
        Effect.flatMap(
          Checkpointer.make(baseOptions(path), further).pipe(Effect.provide(NodeFileSystem.layer)),
          (other) => other.publish
        )
      )
      assert.strictEqual(onDisk(path)?.size, 8n)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(onDisk(path)?.size, 8n)
      const refused = yield* Effect.flip(cp.publish)
      assert.strictEqual(refused._tag, "CheckpointerHeadRegressed")
      assert.strictEqual(onDisk(path)?.size, 8n)
      // once our head extends it, it is signed over
      ours.append(5)
      assert.strictEqual((yield* cp.publish).checkpoint.size, 9n)
      assert.strictEqual(onDisk(path)?.size, 9n)
    }))

  it.scoped("a checkpoint found at start that not every signer signed (a signer added) is signed again at its size by every signer (a hostile review)", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const second = signer("second.example/key", Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 3))
      const source = makeSource()
      source.append(4)
      const make = (signers: ReadonlyArray<Note.Signer>) =>
        Checkpointer.make({ ...baseOptions(path), signers }, source).pipe(Effect.provide(NodeFileSystem.layer))
      yield* Effect.scoped(Effect.flatMap(make([logSigner]), (cp) => cp.publish))
      const cp = yield* make([logSigner, second])
      // not `latest` (kept as evidence: the head must extend it)
      assert.isTrue(Option.isNone(yield* cp.latest))
      const signed = yield* cp.publish
      const verified = right(
        Checkpoint.verifyCheckpoint(nodeFs.readFileSync(path), [
          vkey,
          right(Note.parseVerifierKey(Note.formatVerifierKey(second)))
        ], { origin: ORIGIN })
      )
      assert.strictEqual(verified.checkpoint.size, 4n)
      assert.strictEqual(verified.signers.length, 2)
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), signed.note)
      // a head behind the file found is still refused
      const behind = yield* Effect.flip(
        Checkpointer.make({ ...baseOptions(path), signers: [logSigner, second] }, makeSource()).pipe(
          Effect.provide(NodeFileSystem.layer),
          Effect.flatMap((c) => c.publish)
        )
      )
      assert.strictEqual(behind._tag, "CheckpointerHeadRegressed")
    }))

  it.scoped("a final checkpoint on scope close when the head moved", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const scope = yield* Scope.make()
      const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { entries: 100, seconds: 3600 } }, source)
        .pipe(Effect.provide(NodeFileSystem.layer), Scope.extend(scope))
      yield* cp.afterAppend(source.append(5))
      assert.isUndefined(onDisk(path))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(onDisk(path)?.size, 5n)
    }))
  it.scoped("an empty log: the timer signs a checkpoint of the empty tree once (C2SP: a log always serves one), then none while it stays empty", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const scope = yield* Scope.make()
      yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 1 } }, source).pipe(
        Effect.provide(NodeFileSystem.layer),
        Scope.extend(scope)
      )
      yield* TestClock.adjust("1 second")
      yield* eventually(() => nodeFs.existsSync(path))
      // each checkpoint is a new file renamed into place: the same inode means not written again
      const first = nodeFs.statSync(path).ino
      assert.strictEqual(onDisk(path)?.size, 0n)
      // one second at a time: a tick reads the file (asynchronous I/O) before it sleeps again, so
      // one adjust of 3 s woke it once or three times as the machine's load had it (a CI run)
      const before = source.heads
      yield* asleepAgain
      for (let tick = 1; tick <= 3; tick++) {
        yield* TestClock.adjust("1 second")
        yield* eventually(() => source.heads >= before + tick)
        yield* asleepAgain
      }
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(nodeFs.statSync(path).ino, first)
    }))

  it.scoped("an empty log without a timer: the scope's close signs the empty tree's checkpoint", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const scope = yield* Scope.make()
      yield* Checkpointer.make({ ...baseOptions(path), every: { entries: 100 } }, source).pipe(
        Effect.provide(NodeFileSystem.layer),
        Scope.extend(scope)
      )
      assert.isFalse(nodeFs.existsSync(path))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(onDisk(path)?.size, 0n)
    }))
})

describe("Checkpointer: atomic writes, fail closed", () => {
  for (const fault of ["writeHalf", "sync", "rename"] as const) {
    it.scoped(`a ${fault} failure leaves the old checkpoint; the next afterAppend fails, then retries`, () =>
      Effect.gen(function*() {
        const { path } = yield* tempCheckpoint
        const probe = { ...newProbe(), target: path }
        const source = makeSource()
        const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { entries: 2 } }, source).pipe(
          Effect.provide(watching(probe))
        )
        yield* cp.afterAppend(source.append(2))
        const old = nodeFs.readFileSync(path, "utf8")
        probe.fail[fault] = true
        const failed = yield* Effect.flip(cp.afterAppend(source.append(2)))
        assert.strictEqual(failed._tag, "CheckpointerWriteFailed")
        assert.strictEqual(
          (failed as Checkpointer.CheckpointerWriteFailed).operation,
          fault === "writeHalf" ? "write" : fault
        )
        assert.strictEqual(nodeFs.readFileSync(path, "utf8"), old)
        assert.isFalse(nodeFs.existsSync(`${path}.tmp`))
        // still failing: the next append's call fails too, though below the threshold
        const again = yield* Effect.flip(cp.afterAppend(source.append(1)))
        assert.strictEqual(again._tag, "CheckpointerWriteFailed")
        assert.strictEqual(onDisk(path)?.size, 2n)
        probe.fail = {}
        yield* cp.afterAppend(source.append(0))
        assert.strictEqual(onDisk(path)?.size, 5n)
        // every state of the file seen during all of it: absent or a complete verifying note
        assert.includeMembers([undefined, 2n, 5n], probe.seen)
      }))
  }

  it.scoped("a failed periodic checkpoint fails the owner's next afterAppend; once the fault clears it heals", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const probe = { ...newProbe(), target: path }
      const source = makeSource()
      const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { seconds: 5 } }, source).pipe(
        Effect.provide(watching(probe))
      )
      yield* cp.afterAppend(source.append(1))
      probe.fail.sync = true
      yield* TestClock.adjust("5 seconds")
      // the failed write's temp removed (a fixed wait after the sync was seen flaked under load)
      yield* eventually(() => probe.ops.includes("removed"))
      yield* settle
      assert.isUndefined(onDisk(path))
      const failed = yield* Effect.flip(cp.afterAppend(source.append(1)))
      assert.strictEqual(failed._tag, "CheckpointerWriteFailed")
      probe.fail = {}
      yield* cp.afterAppend(source.append(1))
      assert.strictEqual(onDisk(path)?.size, 3n)
      // healed: below no threshold (seconds only), afterAppend signs nothing more
      yield* cp.afterAppend(source.append(1))
      assert.strictEqual(onDisk(path)?.size, 3n)
    }))

  it.scoped("a head that shrank or changed its root at the same size is never signed", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(source.append(3))
      const old = nodeFs.readFileSync(path, "utf8")
      source.tree = Merkle.MemoryTree.fromLeafHashes([Merkle.hashLeaf(encoder.encode("x"))])
      const shrank = yield* Effect.flip(cp.publish)
      assert.strictEqual(shrank._tag, "CheckpointerHeadRegressed")
      assert.strictEqual((shrank as Checkpointer.CheckpointerHeadRegressed).reason, "size-decreased")
      source.append(2)
      const forked = yield* Effect.flip(cp.publish)
      assert.strictEqual((forked as Checkpointer.CheckpointerHeadRegressed).reason, "root-changed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), old)
    }))

  it.scoped("restarted over a log shorter than its published checkpoint (a rollback): fails closed, the file stays", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const scope = yield* Scope.make()
      const first = yield* Checkpointer.make(baseOptions(path), source).pipe(
        Effect.provide(NodeFileSystem.layer),
        Scope.extend(scope)
      )
      yield* first.afterAppend(source.append(6))
      yield* Scope.close(scope, Exit.void)
      const published = nodeFs.readFileSync(path, "utf8")
      const rolledBack = makeSource("another")
      const cp = yield* Checkpointer.make(baseOptions(path), rolledBack).pipe(Effect.provide(NodeFileSystem.layer))
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(cp.afterAppend(rolledBack.append(2)))
        assert.strictEqual(error._tag, "CheckpointerHeadRegressed")
      }
      // the same size again, another history: still refused (root-changed)
      assert.strictEqual(rolledBack.tree.size, 6n)
      const forked = yield* Effect.flip(cp.afterAppend(rolledBack.append(0)))
      assert.strictEqual((forked as Checkpointer.CheckpointerHeadRegressed).reason, "root-changed")
      // beyond it: the tree's root at size 6 is not the published one (history-changed)
      const beyond = yield* Effect.flip(cp.afterAppend(rolledBack.append(3)))
      assert.strictEqual((beyond as Checkpointer.CheckpointerHeadRegressed).reason, "history-changed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), published)
    }))

  it.scoped("a forked history beyond the last checkpoint is refused when the source gives rootAt", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(source.append(3))
      const published = nodeFs.readFileSync(path, "utf8")
      // the owner's tree is replaced by another history of 6 entries
      source.tree = Merkle.MemoryTree.fromLeafHashes(
        Array.from({ length: 6 }, (_, i) => Merkle.hashLeaf(encoder.encode(`other ${i}`)))
      )
      const error = yield* Effect.flip(cp.afterAppend(source.tree.size))
      assert.strictEqual((error as Checkpointer.CheckpointerHeadRegressed).reason, "history-changed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), published)
    }))

  it.scoped("a checkpoint file put back to an earlier one of ours does not lower what the head must extend: a fork past it, behind the later checkpoint signed, is refused (a review: the re-read took the older file as the evidence)", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(source.append(3))
      const older = nodeFs.readFileSync(path, "utf8")
      yield* cp.afterAppend(source.append(3))
      assert.strictEqual(onDisk(path)?.size, 6n)
      // the file put back to the checkpoint of 3; the log rolled back to 3 and grown otherwise to 7
      nodeFs.writeFileSync(path, older)
      const leaves = Array.from(
        { length: 7 },
        (_, i) => Merkle.hashLeaf(encoder.encode(i < 3 ? `{"seq":${i + 1}}` : `{"fork":${i + 1}}`))
      )
      source.tree = Merkle.MemoryTree.fromLeafHashes(leaves)
      const error = yield* Effect.flip(cp.publish)
      assert.strictEqual(error._tag, "CheckpointerHeadRegressed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), older)
    }))

  it.scoped("the file overwritten with another history's checkpoint of the same size or larger (another key's, or no valid signature) does not lower what the head must extend: what this checkpointer signed stays (the review of the fix above: our key signed two roots at one size)", () =>
    Effect.gen(function*() {
      const other = signer(ORIGIN, new Uint8Array(32).fill(9))
      const forkTree = (size: number) =>
        Merkle.MemoryTree.fromLeafHashes(
          Array.from({ length: size }, (_, i) =>
            Merkle.hashLeaf(encoder.encode(i < 3 ? `{"seq":${i + 1}}` : `{"fork":${i + 1}}`)))
        )
      for (const [size, signed] of [[6, true], [7, true], [7, false]] as const) {
        const { path } = yield* tempCheckpoint
        const source = makeSource()
        const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
        yield* cp.afterAppend(source.append(6))
        const ours = nodeFs.readFileSync(path, "utf8")
        // the log rolled back to 3 and grown otherwise; the file overwritten with the fork's head
        source.tree = forkTree(size)
        const head = yield* source.head
        const body = Checkpoint.format(new Checkpoint.Checkpoint({ ...head, origin: ORIGIN, extensions: [] }))
        // (unsigned: another key's note with one signature byte changed, which verifies with no key)
        const byOther = right(Note.sign(body, [other]))
        const at = byOther.lastIndexOf("\n") - 2
        const note = signed
          ? byOther
          : `${byOther.slice(0, at)}${byOther[at] === "A" ? "B" : "A"}${byOther.slice(at + 1)}`
        nodeFs.writeFileSync(path, note)
        const error = yield* Effect.flip(cp.publish)
        assert.strictEqual(error._tag, "CheckpointerHeadRegressed", `${size} ${signed}`)
        assert.strictEqual(nodeFs.readFileSync(path, "utf8"), note, "nothing signed over it")
        // our checkpoint put back: the head still contradicts it
        nodeFs.writeFileSync(path, ours)
        assert.strictEqual((yield* Effect.flip(cp.publish))._tag, "CheckpointerHeadRegressed")
      }
    }))

  it.scoped("a start whose history check cannot be made (the source's rootAt fails) is a pending failure: appends are refused until it can", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const first = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), first).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(first.append(3))
      // restarted over a log of 4 entries whose tree cannot answer the root at 3 (a tile unreadable)
      let broken = true
      const source = makeSource()
      source.append(4)
      const failing: Checkpointer.Source<Error> = {
        head: source.head,
        rootAt: (size) =>
          broken ? Effect.fail(new Error("tile unreadable")) : Effect.sync(() => right(Merkle.root(source.tree, size)))
      }
      const restarted = yield* Checkpointer.make(baseOptions(path), failing).pipe(Effect.provide(NodeFileSystem.layer))
      // one entry past the checkpoint (below its N): refused all the same, not let through unchecked
      const refused = yield* Effect.flip(restarted.afterAppend(4n))
      assert.strictEqual((refused as Error).message, "tile unreadable")
      broken = false
      yield* restarted.afterAppend(4n)
      assert.strictEqual(onDisk(path)?.size, 4n)
    }))

  it.scoped("a file signed with another key (a key rotated) that the head extends is evidence: kept until the next checkpoint replaces it", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      source.append(2)
      const head = yield* source.head
      const rotated = signer(ORIGIN, new Uint8Array(32).fill(9))
      nodeFs.writeFileSync(
        path,
        right(
          Note.sign(Checkpoint.format(new Checkpoint.Checkpoint({ ...head, origin: ORIGIN, extensions: [] })), [
            rotated
          ])
        )
      )
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
      assert.isTrue(Option.isNone(yield* cp.latest))
      yield* cp.afterAppend(source.append(1))
      assert.strictEqual(onDisk(path)?.size, 3n)
    }))

  it.scoped("a file signed with another key that the head contradicts (rolled back, or another history) is refused: nothing signed, the file kept", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const other = signer(ORIGIN, new Uint8Array(32).fill(9))
      for (
        const [size, root, reason] of [
          [50n, undefined, "size-decreased"],
          [1n, new Uint8Array(32).fill(0xaa), "history-changed"]
        ] as const
      ) {
        const source = makeSource()
        source.append(3)
        const body = Checkpoint.format(
          new Checkpoint.Checkpoint({ origin: ORIGIN, size, root: root ?? new Uint8Array(32), extensions: [] })
        )
        const note = right(Note.sign(body, [other]))
        nodeFs.writeFileSync(path, note)
        const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
        const failed = yield* Effect.flip(cp.afterAppend(source.append(3)))
        assert.strictEqual(failed._tag, "CheckpointerHeadRegressed")
        assert.strictEqual((failed as Checkpointer.CheckpointerHeadRegressed).reason, reason)
        assert.strictEqual(nodeFs.readFileSync(path, "utf8"), note)
      }
    }))

  it.scoped("a file that is not a signed checkpoint, not a regular file, or too large fails closed: nothing signed, read again before each checkpoint", () =>
    Effect.gen(function*() {
      const { dir, path } = yield* tempCheckpoint
      const plant: ReadonlyArray<readonly [string, () => void]> = [
        ["junk", () => nodeFs.writeFileSync(path, "torn\n")],
        ["not UTF-8", () => nodeFs.writeFileSync(path, Uint8Array.of(0xff, 0xfe, 0x0a))],
        ["a directory", () => nodeFs.mkdirSync(path)],
        ["a FIFO", () => execFileSync("mkfifo", [path])],
        ["a device", () => nodeFs.symlinkSync("/dev/zero", path)],
        ["2 MiB", () => nodeFs.writeFileSync(path, "x".repeat(2 * 1024 * 1024))]
      ]
      for (const [what, planted] of plant) {
        nodeFs.rmSync(path, { recursive: true, force: true })
        planted()
        const source = makeSource()
        const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
        const failed = yield* Effect.flip(cp.afterAppend(source.append(3)))
        assert.strictEqual(failed._tag, "CheckpointerWriteFailed", what)
        assert.strictEqual((failed as Checkpointer.CheckpointerWriteFailed).operation, "read", what)
        // removed, the next checkpoint is signed
        nodeFs.rmSync(path, { recursive: true, force: true })
        yield* cp.afterAppend(source.append(3))
        assert.strictEqual(onDisk(path)?.size, 6n, what)
      }
      assert.isTrue(nodeFs.existsSync(dir))
    }))

  it.scopedLive("a FIFO or a link to /dev/zero put at the checkpoint while it runs: every append, the timer and the close go on, the checkpoint is a pending failure until it is removed (a helper's hostile review: the append due to sign and the close hung, the timer stopped, memory filled)", () =>
    Effect.gen(function*() {
      for (
        const [what, plant] of [
          ["a FIFO", (path: string) => execFileSync("mkfifo", [path])],
          ["a device", (path: string) => nodeFs.symlinkSync("/dev/zero", path)]
        ] as const
      ) {
        const { path } = yield* tempCheckpoint
        const source = makeSource()
        const scope = yield* Scope.make()
        const cp = yield* Checkpointer.make({ ...baseOptions(path), every: { entries: 2, seconds: 1 } }, source).pipe(
          Effect.provide(NodeFileSystem.layer),
          Scope.extend(scope)
        )
        yield* cp.afterAppend(source.append(2))
        assert.strictEqual(onDisk(path)?.size, 2n, what)
        nodeFs.rmSync(path)
        plant(path)
        // the append due to sign: answered (the failure pending), never hung
        const due = yield* cp.afterAppend(source.append(2)).pipe(Effect.either, Effect.timeout("10 seconds"))
        assert.strictEqual(Either.isLeft(due) ? due.left._tag : "answered", "CheckpointerWriteFailed", what)
        // the timer's look at the file (the head unchanged) returns too
        yield* Effect.sleep("1500 millis")
        const publish = yield* cp.publish.pipe(Effect.either, Effect.timeout("10 seconds"))
        assert.strictEqual(Either.isLeft(publish) ? publish.left._tag : "answered", "CheckpointerWriteFailed", what)
        // removed: the next checkpoint is signed
        nodeFs.rmSync(path)
        yield* cp.afterAppend(source.append(2)).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(onDisk(path)?.size, 6n, what)
        // planted again: the close returns
        nodeFs.rmSync(path)
        plant(path)
        source.append(1)
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("10 seconds"))
        nodeFs.rmSync(path)
      }
    }))

  it.scoped("a symbolic link planted at the temp file is replaced, never followed: its target is untouched", () =>
    Effect.gen(function*() {
      const { dir, path } = yield* tempCheckpoint
      const victim = `${dir}/victim`
      nodeFs.writeFileSync(victim, "untouched\n")
      nodeFs.symlinkSync(victim, `${path}.tmp`)
      const source = makeSource()
      const cp = yield* Checkpointer.make(baseOptions(path), source).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(source.append(3))
      assert.strictEqual(nodeFs.readFileSync(victim, "utf8"), "untouched\n")
      assert.isFalse(nodeFs.lstatSync(path).isSymbolicLink())
      assert.strictEqual(onDisk(path)?.size, 3n)
    }))

  it.scoped("a signer whose signatures do not verify with its public key is refused at make (a hostile review: found only after the first append); one that breaks later publishes nothing", () =>
    Effect.gen(function*() {
      const { path } = yield* tempCheckpoint
      const source = makeSource()
      const make = (signer: Note.Signer) =>
        Checkpointer.make({ ...baseOptions(path), signers: [signer] }, source).pipe(
          Effect.provide(NodeFileSystem.layer)
        )
      const broken = Note.makeSigner(ORIGIN, Note.TYPE_ED25519, logSigner.publicKey, () => new Uint8Array(64))
      const throwing = Note.makeSigner(ORIGIN, Note.TYPE_ED25519, logSigner.publicKey, () => {
        throw new Error("HSM offline")
      })
      const otherId = Note.makeSigner(ORIGIN, Note.TYPE_ED25519, logSigner.publicKey, logSigner.sign)
      const renamed = { ...otherId, keyId: (logSigner.keyId + 1) >>> 0 }
      for (
        const [signer, reason] of [
          [broken, "its signature does not verify with its public key"],
          [throwing, "it failed to sign: HSM offline"],
          [renamed, "its key ID is not the one of its name and public key"]
        ] as const
      ) {
        const refused = yield* Effect.flip(make(signer))
        assert.strictEqual(refused._tag, "CheckpointerOptionsInvalid")
        assert.strictEqual(refused.field, "signers[0]")
        assert.include(refused.message, reason)
        assert.isFalse(nodeFs.existsSync(path))
      }
      // a signer that passes the probe, then breaks: the self-check at each signature still holds
      const after = (broke: (text: Uint8Array) => Uint8Array) => {
        let calls = 0
        return Note.makeSigner(
          ORIGIN,
          Note.TYPE_ED25519,
          logSigner.publicKey,
          (text) => calls++ === 0 ? logSigner.sign(text) : broke(text)
        )
      }
      const cp = yield* make(after(() => new Uint8Array(64)))
      const failed = yield* Effect.flip(cp.afterAppend(source.append(3)))
      assert.strictEqual(failed._tag, "CheckpointerSignFailed")
      assert.strictEqual((failed as Checkpointer.CheckpointerSignFailed).reason, "self-check")
      assert.isFalse(nodeFs.existsSync(path))
      const cp2 = yield* make(after(() => {
        throw new Error("HSM offline")
      }))
      const threw = yield* Effect.flip(cp2.publish)
      assert.strictEqual((threw as Checkpointer.CheckpointerSignFailed).reason, "signer-threw")
      assert.include(threw.message, "HSM offline")
      assert.isFalse(nodeFs.existsSync(path))
    }))
})

describe("Checkpointer: options", () => {
  const cosigner = Note.makeSigner("witness", 0x04, logSigner.publicKey, () => new Uint8Array(72))
  const bad: ReadonlyArray<[string, (path: string) => Checkpointer.Options, string]> = [
    ["origin", (p) => ({ ...baseOptions(p), origin: "" }), "\"\""],
    ["origin", (p) => ({ ...baseOptions(p), origin: "a\nb" }), "\"a\\nb\""],
    ["origin", (p) => ({ ...baseOptions(p), origin: "a\u0001" }), "\"a\\u0001\""],
    ["signers", (p) => ({ ...baseOptions(p), signers: [] }), "[]"],
    // a JavaScript caller's one signer not in an array, or none (a helper's hostile review: a TypeError)
    ["signers", (p) => ({ ...baseOptions(p), signers: logSigner as unknown as ReadonlyArray<Note.Signer> }), "object"],
    [
      "signers",
      (p) => ({ ...baseOptions(p), signers: undefined as unknown as ReadonlyArray<Note.Signer> }),
      "undefined"
    ],
    [
      "signers[1]",
      (p) => ({ ...baseOptions(p), signers: [logSigner, logSigner] }),
      Note.keyLabel(ORIGIN, logSigner.keyId)
    ],
    ["signers[0].type", (p) => ({ ...baseOptions(p), signers: [cosigner] }), "0x04"],
    ["every", (p) => ({ ...baseOptions(p), every: {} }), "{}"],
    ["every.entries", (p) => ({ ...baseOptions(p), every: { entries: 0 } }), "0"],
    ["every.entries", (p) => ({ ...baseOptions(p), every: { entries: 1.5 } }), "1.5"],
    ["every.entries", (p) => ({ ...baseOptions(p), every: { entries: Number.NaN, seconds: 1 } }), "NaN"],
    ["every.seconds", (p) => ({ ...baseOptions(p), every: { entries: 1, seconds: -1 } }), "-1"],
    ["every.seconds", (p) => ({ ...baseOptions(p), every: { seconds: Infinity } }), "Infinity"],
    // a longer timer never fires (a hostile review: a monthly checkpoint never came)
    [
      "every.seconds",
      (p) => ({ ...baseOptions(p), every: { seconds: Checkpointer.MAX_EVERY_SECONDS + 1 } }),
      "2147484"
    ],
    // a JavaScript caller's or a configuration file's: typed errors, not a TypeError
    [
      "every",
      (p) => ({ ...baseOptions(p), every: undefined as unknown as Checkpointer.Options["every"] }),
      "undefined"
    ],
    ["every.entries", (p) => ({ ...baseOptions(p), every: { entries: 10n as unknown as number } }), "10"],
    ["write", (p) => ({ ...baseOptions(p), write: "" }), "\"\""]
  ]
  for (const [field, options, value] of bad) {
    it.scoped(`refuses ${field} = ${value} before touching the file system`, () =>
      Effect.gen(function*() {
        const { dir, path } = yield* tempCheckpoint
        const probe = newProbe()
        const source = makeSource()
        source.append(5)
        const error = yield* Effect.flip(
          Checkpointer.make(options(path), source).pipe(Effect.provide(watching(probe)))
        )
        assert.strictEqual(error._tag, "CheckpointerOptionsInvalid")
        assert.strictEqual(error.field, field)
        assert.strictEqual(error.value, value)
        if (value === "10") assert.include(error.message, "not a number (a bigint)")
        if (value === "2147484") assert.include(error.message, "more than 2147483")
        assert.deepStrictEqual(probe.ops, [])
        assert.strictEqual(source.heads, 0)
        assert.deepStrictEqual(nodeFs.readdirSync(dir), [])
      }))
  }
})
