/**
 * Hostile review of Checkpointer (issue 17): the checkpoint found at start is the evidence that
 * makes a rolled-back log fail closed. A file that exists but cannot be read (EACCES, EIO,
 * EMFILE…) must not count as "no checkpoint": that would sign the rolled-back head and replace
 * the published checkpoint with it.
 */
import * as Checkpointer from "@calybris/tlog/Checkpointer"
import * as Merkle from "@calybris/tlog/Merkle"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as nodeFs from "node:fs"
import { right, signer } from "./noteSupport.js"

const ORIGIN = "example.com/log-attack"
const logSigner = signer(ORIGIN, Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 2))
const encoder = new TextEncoder()

const makeSource = (history: string) => {
  const tree = new Merkle.MemoryTree()
  return {
    tree,
    head: Effect.sync(() => ({ size: tree.size, root: right(Merkle.root(tree, tree.size)) })),
    rootAt: (size: bigint) => Effect.sync(() => right(Merkle.root(tree, size))),
    append: (n: number) => {
      for (let i = 0; i < n; i++) tree.append(Merkle.hashLeaf(encoder.encode(`{"${history}":${tree.size + 1n}}`)))
      return tree.size
    }
  }
}

/** The real FileSystem whose reads of the checkpoint fail (not NotFound) while `fault.read`. */
const faulty = (fault: { read: boolean }) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) =>
      FileSystem.FileSystem.of({
        ...real,
        // the checkpoint is read through an open descriptor (bounded, fstat-checked)
        open: (path, options) =>
          fault.read && options?.flag === "r"
            ? Effect.fail(
              new SystemError({
                reason: "PermissionDenied",
                module: "FileSystem",
                method: "open",
                pathOrDescriptor: path,
                description: "EACCES"
              })
            )
            : real.open(path, options),
        readFile: (path) =>
          fault.read
            ? Effect.fail(
              new SystemError({
                reason: "PermissionDenied",
                module: "FileSystem",
                method: "readFile",
                pathOrDescriptor: path,
                description: "EACCES"
              })
            )
            : real.readFile(path),
        readFileString: (path, encoding) =>
          fault.read
            ? Effect.fail(
              new SystemError({
                reason: "PermissionDenied",
                module: "FileSystem",
                method: "readFileString",
                pathOrDescriptor: path,
                description: "EACCES"
              })
            )
            : real.readFileString(path, encoding)
      }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

describe("Checkpointer attack: an unreadable checkpoint at start", () => {
  it.scoped("is no licence to sign: a rolled-back log fails closed and the published file stays", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => nodeFs.mkdtempSync("/tmp/calybris-ckpt-attack-")),
        (d) => Effect.sync(() => nodeFs.rmSync(d, { recursive: true, force: true }))
      )
      const path = `${dir}/checkpoint`
      const options: Checkpointer.Options = { origin: ORIGIN, signers: [logSigner], every: { entries: 2 }, write: path }
      const source = makeSource("seq")
      const scope = yield* Scope.make()
      const first = yield* Checkpointer.make(options, source).pipe(
        Effect.provide(NodeFileSystem.layer),
        Scope.extend(scope)
      )
      yield* first.afterAppend(source.append(6))
      yield* Scope.close(scope, Exit.void)
      const published = nodeFs.readFileSync(path, "utf8")

      // restarted over a rolled-back log while the file cannot be read
      const fault = { read: true }
      const rolledBack = makeSource("another")
      const cp = yield* Checkpointer.make(options, rolledBack).pipe(Effect.provide(faulty(fault)))
      for (let i = 0; i < 2; i++) {
        const refused = yield* Effect.exit(cp.afterAppend(rolledBack.append(2)))
        assert.isTrue(Exit.isFailure(refused), `append ${i}: signed over an unread checkpoint`)
        assert.strictEqual(nodeFs.readFileSync(path, "utf8"), published)
      }
      const publish = yield* Effect.exit(cp.publish)
      assert.isTrue(Exit.isFailure(publish))
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), published)
      // readable again: the published checkpoint is found, the rollback refused
      fault.read = false
      const error = yield* Effect.flip(cp.afterAppend(rolledBack.append(1)))
      assert.strictEqual(error._tag, "CheckpointerHeadRegressed")
      assert.strictEqual(nodeFs.readFileSync(path, "utf8"), published)
    }))

  it.scoped("a transient read failure heals: once readable, an unchanged log signs on as before", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => nodeFs.mkdtempSync("/tmp/calybris-ckpt-attack-")),
        (d) => Effect.sync(() => nodeFs.rmSync(d, { recursive: true, force: true }))
      )
      const path = `${dir}/checkpoint`
      const options: Checkpointer.Options = { origin: ORIGIN, signers: [logSigner], every: { entries: 2 }, write: path }
      const source = makeSource("seq")
      const scope = yield* Scope.make()
      const first = yield* Checkpointer.make(options, source).pipe(
        Effect.provide(NodeFileSystem.layer),
        Scope.extend(scope)
      )
      yield* first.afterAppend(source.append(4))
      yield* Scope.close(scope, Exit.void)
      const fault = { read: true }
      const cp = yield* Checkpointer.make(options, source).pipe(Effect.provide(faulty(fault)))
      const refused = yield* Effect.exit(cp.afterAppend(source.append(2)))
      assert.isTrue(Exit.isFailure(refused))
      fault.read = false
      yield* cp.afterAppend(source.append(0))
      const latest = yield* cp.latest
      assert.isTrue(latest._tag === "Some" && latest.value.checkpoint.size === 6n)
    }))
})

describe("Checkpointer attack: the timer's head", () => {
  it.scoped("a periodic checkpoint whose source head fails is a pending failure: the owner's next append is refused", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => nodeFs.mkdtempSync("/tmp/calybris-ckpt-attack-")),
        (d) => Effect.sync(() => nodeFs.rmSync(d, { recursive: true, force: true }))
      )
      const path = `${dir}/checkpoint`
      const inner = makeSource("seq")
      const fault = { head: false, reads: 0 }
      const source: Checkpointer.Source<Error> = {
        head: Effect.suspend(() => {
          fault.reads++
          return fault.head ? Effect.fail(new Error("the tiles could not be written")) : inner.head
        }),
        rootAt: inner.rootAt
      }
      const cp = yield* Checkpointer.make(
        { origin: ORIGIN, signers: [logSigner], every: { seconds: 10 }, write: path },
        source
      ).pipe(Effect.provide(NodeFileSystem.layer))
      yield* cp.afterAppend(inner.append(2))
      fault.head = true
      const reads = fault.reads
      yield* TestClock.adjust("10 seconds")
      for (let i = 0; i < 400 && fault.reads === reads; i++) {
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
      }
      assert.isTrue(fault.reads > reads, "the tick did not read the head")
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 30)))
      assert.isFalse(nodeFs.existsSync(path))
      // the owner learns of it on its next append (fail closed), and it heals once the head reads
      const refused = yield* Effect.exit(cp.afterAppend(inner.append(1)))
      assert.isTrue(Exit.isFailure(refused), "a failed periodic checkpoint went unnoticed")
      fault.head = false
      yield* cp.afterAppend(inner.append(1))
      const latest = yield* cp.latest
      assert.isTrue(latest._tag === "Some" && latest.value.checkpoint.size === 4n)
    }))
})
