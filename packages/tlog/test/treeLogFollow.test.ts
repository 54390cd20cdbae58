/**
 * TreeLogNode reads the new leaves back from the log file (the appending thread no longer copies
 * them): what it reads must be what the log sealed. Here, an attacker with write access to the
 * log file changes it after the log wrote a line and before the worker read it (the worker held
 * at a gate): a changed data byte (keyed), a line rewritten with a valid SHA-256 chain (unkeyed:
 * anyone can recompute it; the last line reported, then one in the middle), a truncated file.
 * Each fails the head (naming the file and the entry), never a root over the changed bytes, and
 * no tree head is persisted past it. The control, without a change, answers the inline hashing's
 * root; so do a log whose last line had no LF, a line far longer than the worker's read buffer,
 * and every durability.
 */
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import { startWorker, workerOptions } from "../src/internal/treeWorker.js"

const key = new Uint8Array(32).fill(9)
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** The worker layer, its file reads held until `gate[0]` is set. */
const gated = () => {
  const gate = new Int32Array(new SharedArrayBuffer(4))
  const io = Layer.succeed(TreeLogNode.TreeIo, {
    startHashing: startWorker(Either.getOrThrow(workerOptions({})), { gate })
  })
  return { gate, io }
}

/** What a failed exit says (its defect's message and stack), or "succeeded". */
const said = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.pretty(exit.cause)

/** The log file's lines (without LF) and a way to put them back, changed. */
const linesAt = (path: string) => nodeFs.readFileSync(path, "utf8").split("\n").slice(0, -1)
const rewrite = (path: string, lines: ReadonlyArray<string>) => nodeFs.writeFileSync(path, lines.join("\n") + "\n")

/** An unkeyed line rewritten with `data`, its entry hash recomputed (SHA-256 of previous hash ‖ data): a valid chain link. */
const forged = (line: string, data: string): string => {
  const [, sequence, previous] = /^\{"sequence":(\d+),"previous_hash":"([0-9a-z]+)"/.exec(line) as unknown as [
    string,
    string,
    string
  ]
  const entryHash = createHash("sha256").update(previous).update(data).digest("hex")
  return `{"sequence":${sequence},"previous_hash":"${previous}","entry_hash":"${entryHash}","data":${data}}`
}

/** The root the inline hashing answers for the log file's bytes (a memory tree log over them). */
const inlineRoot = (path: string, options: TreeLog.TreeLogOptions) =>
  Effect.scoped(
    Effect.flatMap(TreeLog.makeMemory(options, new Uint8Array(nodeFs.readFileSync(path))), (log) => log.head)
  )

/**
 * Appends 20 records through a gated worker, lets the log write them, changes the file, opens the
 * gate and asks the head: its exit (and the whole scope's, whose closing flush may fail too).
 */
const attack = (path: string, options: TreeLog.TreeLogOptions, change: () => void) =>
  Effect.gen(function*() {
    const { gate, io } = gated()
    let head: Exit.Exit<unknown, unknown> | undefined
    const closed = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const log = yield* Effect.provide(TreeLog.makeFile(path, { durability: "never", ...options }), io)
      for (let i = 1; i <= 20; i++) yield* log.append(`record-${i}`)
      // every entry written (the log's bytes are read once it wrote them)
      yield* Stream.runDrain(log.wal.bytes)
      change()
      Atomics.store(gate, 0, 1)
      head = yield* Effect.exit(log.head)
    })))
    return { head: head as Exit.Exit<unknown, unknown>, closed }
  })

/** No tree head persisted past `size` (the tiles' directory may hold none at all). */
const persistedAtMost = (path: string, size: number) => {
  const file = `${path}.tlog/${TreeLog.HEAD_FILE}`
  const persisted = nodeFs.existsSync(file) ? Number(nodeFs.readFileSync(file, "utf8").split("\n")[0]) : 0
  expect(persisted).toBeLessThanOrEqual(size)
}

describe("TreeLogNode reading the log file back", () => {
  it.effect("control: held, then read, the head is the inline hashing's root", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
      const { closed, head } = yield* attack(path, { key }, () => {})
      expect(Exit.isSuccess(closed)).toBe(true)
      const expected = yield* inlineRoot(path, { key })
      expect(Exit.isSuccess(head) && hex((head.value as { root: Uint8Array }).root)).toBe(hex(expected.root))
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect("keyed: a data byte changed after the write fails the head, naming the file and the entry", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
      const { closed, head } = yield* attack(path, { key }, () => {
        const lines = linesAt(path)
        lines[4] = (lines[4] as string).replace(`"record-5"`, `"record-X"`)
        rewrite(path, lines)
      })
      expect(said(head)).toContain(`the log file ${path} does not hold what the log wrote (entry 5,`)
      expect(said(head)).toContain("its entry hash is not its data's")
      expect(Exit.isSuccess(closed)).toBe(false)
      persistedAtMost(path, 0)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect("unkeyed: the last line rewritten as a valid chain link fails the head (not the hash the log sealed)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
      const { head } = yield* attack(path, {}, () => {
        const lines = linesAt(path)
        lines[19] = forged(lines[19] as string, `"record-Y!"`)
        rewrite(path, lines)
      })
      expect(said(head)).toContain("(entry 20,")
      expect(said(head)).toContain("its entry hash is not the one the log sealed")
      persistedAtMost(path, 0)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect("unkeyed: a middle line rewritten as a valid chain link fails the head at the next line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
      const { head } = yield* attack(path, {}, () => {
        const lines = linesAt(path)
        lines[6] = forged(lines[6] as string, `"record-Z"`)
        rewrite(path, lines)
      })
      expect(said(head)).toContain("(entry 8,")
      expect(said(head)).toContain("another previous hash")
      persistedAtMost(path, 0)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect("a truncated file fails the head: it ends before the bytes the log wrote", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
      const { head } = yield* attack(path, { key }, () => {
        nodeFs.truncateSync(path, nodeFs.statSync(path).size - 40)
      })
      expect(said(head)).toContain(`the log file ${path} does not hold what the log wrote`)
      expect(said(head)).toMatch(/it ends at byte \d+, before byte \d+|its last reported line has no LF/)
      persistedAtMost(path, 0)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  it.effect("every key length (empty, a block, longer than a block: hashed first) and no key: the inline hashing's roots", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const chains: ReadonlyArray<TreeLog.TreeLogOptions> = [
        {},
        { key: new Uint8Array(0), allowEmptyKey: true },
        { key: new Uint8Array(64).fill(1) },
        { key: new Uint8Array(65).fill(2) },
        { key: new Uint8Array(100).map((_, i) => i) }
      ]
      for (const [i, chain] of chains.entries()) {
        const path = `${dir}/log-${i}.jsonl`
        const root = yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Effect.provide(
            TreeLog.makeFile(path, { ...chain, durability: "never" }),
            TreeLogNode.layer
          )
          for (let n = 0; n < 40; n++) yield* log.append(n)
          yield* Stream.runDrain(log.wal.bytes)
          for (let n = 40; n < 45; n++) yield* log.append(n)
          return hex((yield* log.head).root)
        }))
        expect(root).toBe(hex((yield* inlineRoot(path, chain)).root))
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))

  for (const durability of ["always", "batch", "never"] as const) {
    it.effect(
      `${durability}: a reopened log whose last line had no LF, and a line far longer than the read buffer, answer the inline hashing's roots`,
      () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
          const open = Effect.provide(TreeLog.makeFile(path, { key, durability }), TreeLogNode.layer)
          yield* Effect.scoped(Effect.flatMap(open, (log) => Effect.forEach([1, 2, 3], (i) => log.append(i))))
          // the last line's LF dropped: the next write starts with one
          nodeFs.truncateSync(path, nodeFs.statSync(path).size - 1)
          const roots: Array<string> = []
          yield* Effect.scoped(Effect.gen(function*() {
            const log = yield* open
            yield* log.append("after the missing LF")
            // 3 MiB: the worker reads 1 MiB at a time, and reads this line again into a larger buffer
            yield* log.append("x".repeat(3 * 1024 * 1024))
            for (let i = 0; i < 50; i++) yield* log.append(i)
            roots.push(hex((yield* log.head).root))
            yield* log.flush
          }))
          expect(roots).toEqual([hex((yield* inlineRoot(path, { key })).root)])
          expect(nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").split("\n")[0]).toBe("55")
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
    )
  }
})
