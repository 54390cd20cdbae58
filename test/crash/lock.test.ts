/**
 * One writer per WAL file across processes, whatever name reaches the file: a child process
 * holds the log (`hold-child.ts`) and this process tries to open it as a second writer through
 * a hard link in another directory, a symlink and a `dir/../file` path (and the other way
 * round); each attempt is refused with `WalLocked` and appends nothing. Once the holder is
 * SIGKILLed, a writer through the hard link takes over (its locks are stale).
 */
import type * as Json from "@calybris/core/Json"
import * as Env from "@calybris/testing/Env"
import { failureTag } from "@calybris/testing/Exits"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { startChild } from "./child.js"
import { program } from "./crash.js"

const key = new Uint8Array(32).fill(42)

const record = (i: number): Json.Json => new Map<string, Json.Json>([["i", i]])

const appendThrough = (name: string, i: number) => Effect.provide(Wal.append(record(i)), Wal.layerFile(name, { key }))

const countOnDisk = (file: string) =>
  Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => Reader.verify(fs.stream(file), { chain: Either.getOrThrow(Chain.make({ key })) })
  ).pipe(Effect.map((v) => v.count))

/** A log with one entry, a hard link to it in another directory, a symlink and a `..` path. */
const setUp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-lock-"))
  const other = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-lock-other-"))
  const file = path.join(dir, "log.jsonl")
  fs.mkdirSync(path.join(dir, "sub"))
  return {
    dir,
    other,
    file,
    hard: path.join(other, "hard.jsonl"),
    alias: path.join(other, "alias.jsonl"),
    dotdot: `${dir}/sub/../log.jsonl`,
    cleanup: () => {
      fs.rmSync(dir, { recursive: true, force: true })
      fs.rmSync(other, { recursive: true, force: true })
    }
  }
}

/** `setUp`'s log, with one entry and its hard link; removed when the scope closes. */
const linkedLog = Effect.gen(function*() {
  const t = setUp()
  yield* Effect.addFinalizer(() => Effect.sync(t.cleanup))
  yield* appendThrough(t.file, 1)
  fs.linkSync(t.file, t.hard)
  return t
})

describe("one writer per file across processes", () => {
  it.live(
    "a child holds the log under another TMPDIR: a writer here through a hard link in another directory still gets WalLocked (the identity lock is in /tmp, whatever TMPDIR says)",
    () =>
      Effect.gen(function*() {
        const t = yield* linkedLog
        // two temp folders: the child's and ours (a helper's hostile review got two writers in so)
        const childTmp = fs.mkdtempSync(path.join(t.dir, "tmp-child-"))
        const ourTmp = fs.mkdtempSync(path.join(t.other, "tmp-ours-"))
        const holder = yield* Effect.promise(() =>
          startChild("test/crash/hold-child.ts", [t.file], { TMPDIR: childTmp })
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => holder.child.kill("SIGKILL")))
        assert.strictEqual(yield* Effect.promise(() => holder.line("HOLDING")), "HOLDING 1")
        yield* Env.scoped("TMPDIR", ourTmp)
        assert.strictEqual(os.tmpdir(), ourTmp)
        assert.strictEqual(yield* failureTag(appendThrough(t.hard, 2)), "WalLocked")
        assert.strictEqual(yield* failureTag(Wal.repair(t.hard, { key })), "WalLocked")
        assert.strictEqual(yield* countOnDisk(t.file), 1n)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )

  it.live(
    "a child holds the log: a writer here through a hard link, a symlink or dir/../file gets WalLocked; after SIGKILL the hard link takes over",
    () =>
      Effect.gen(function*() {
        const t = yield* linkedLog
        fs.symlinkSync(t.file, t.alias)
        const holder = yield* Effect.promise(() => startChild("test/crash/hold-child.ts", [t.file]))
        yield* Effect.addFinalizer(() => Effect.sync(() => holder.child.kill("SIGKILL")))
        assert.strictEqual(yield* Effect.promise(() => holder.line("HOLDING")), "HOLDING 1")
        for (const name of [t.hard, t.alias, t.dotdot]) {
          assert.strictEqual(yield* failureTag(appendThrough(name, 2)), "WalLocked", name)
          assert.strictEqual(yield* failureTag(Wal.repair(name, { key })), "WalLocked", name)
        }
        assert.strictEqual(yield* countOnDisk(t.file), 1n)
        holder.child.kill("SIGKILL")
        yield* Effect.promise(() => holder.exited)
        // the holder is gone: its locks are stale, and a writer through the hard link gets in
        const sealed = yield* appendThrough(t.hard, 2)
        assert.strictEqual(sealed.sequence, 2n)
        assert.strictEqual(yield* countOnDisk(t.file), 2n)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )

  it.live(
    "this process holds the log through a hard link: a child opening the original, a symlink or dir/../file is refused with WalLocked",
    () =>
      Effect.gen(function*() {
        const t = yield* linkedLog
        fs.symlinkSync(t.file, t.alias)
        yield* Effect.gen(function*() {
          for (const name of [t.file, t.alias, t.dotdot]) {
            const child = yield* Effect.promise(() => startChild("test/crash/hold-child.ts", [name, "append"]))
            const line = yield* Effect.promise(() => child.line(""))
            assert.strictEqual(line, "REFUSED WalLocked", name)
            assert.strictEqual(yield* Effect.promise(() => child.exited), 0)
          }
          // the holder still works
          yield* Wal.append(record(2))
        }).pipe(Effect.provide(Wal.layerFile(t.hard, { key })))
        assert.strictEqual(yield* countOnDisk(t.file), 2n)
        // released: a child through the original gets in
        const child = yield* Effect.promise(() => startChild("test/crash/hold-child.ts", [t.file, "append"]))
        assert.match(yield* Effect.promise(() => child.line("ACK")), /^ACK 3 [0-9a-f]{64}$/)
        assert.strictEqual(yield* Effect.promise(() => child.exited), 0)
        assert.strictEqual(yield* countOnDisk(t.file), 3n)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )
})

/** `hold-child.ts` run as a worker thread of this process: its stdout, once it exited. */
const inWorker = (args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const worker = new Worker(await program("test/crash/hold-child.ts"), { argv: [...args], stdout: true })
    let out = ""
    worker.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
    })
    const code = await new Promise<number>((resolve) => worker.on("exit", resolve))
    return { code, out }
  })

describe("one writer per file across threads (a hostile review: a Worker shares the pid, not the tables)", () => {
  it.live(
    "this thread holds the log: a worker thread opening it, through its name or a hard link, is refused with WalLocked; released, it gets in",
    () =>
      Effect.gen(function*() {
        const t = yield* linkedLog
        yield* Effect.gen(function*() {
          for (const name of [t.file, t.hard]) {
            const refused = yield* inWorker([name, "append"])
            assert.strictEqual(refused.out, "REFUSED WalLocked\n", name)
          }
          // the holder still works: nothing was appended beside it
          yield* Wal.append(record(2))
        }).pipe(Effect.provide(Wal.layerFile(t.file, { key })))
        assert.strictEqual(yield* countOnDisk(t.file), 2n)
        // released: the worker gets in
        const worker = yield* inWorker([t.hard, "append"])
        assert.match(worker.out, /^HOLDING 2\nACK 3 [0-9a-f]{64}\n$/)
        assert.strictEqual(yield* countOnDisk(t.file), 3n)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )
})
