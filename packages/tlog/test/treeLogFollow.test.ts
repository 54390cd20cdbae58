/**
 * TreeLogNode takes the new leaves from the log's writes (`WalOptions.onWritten`: one copy of
 * each write's bytes, none of each line as it is sealed), and the leaves a head needs before
 * their write from the lines' views. The tree is what the log sealed, whatever the file holds:
 * an attacker with write access to the log file who changes it right after a write (a data
 * byte, a line rewritten as a valid unkeyed chain link, a truncation) changes no root. Also: a
 * log whose last line had no LF (the first write starts with one), a write far longer than a
 * chunk, every durability.
 */
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"

const key = new Uint8Array(32).fill(9)
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

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

/** The root the inline hashing answers for a log's bytes (a memory tree log over them). */
const inlineRoot = (bytes: Uint8Array, options: TreeLog.TreeLogOptions) =>
  Effect.scoped(Effect.flatMap(TreeLog.makeMemory(options, bytes), (log) => log.head))

/**
 * Appends 20 records, lets the log write them, keeps the bytes written, changes the file, appends
 * 5 more (not written yet when the head is asked) and asks the head: the root, and the bytes the
 * log wrote (the 20 kept, then what it appended to the changed file).
 */
const attack = (path: string, options: TreeLog.TreeLogOptions, change: () => void) =>
  Effect.gen(function*() {
    let written = new Uint8Array(0)
    let changed = 0
    const root = yield* Effect.scoped(Effect.gen(function*() {
      const log = yield* Effect.provide(TreeLog.makeFile(path, { durability: "never", ...options }), TreeLogNode.layer)
      for (let i = 1; i <= 20; i++) yield* log.append(`record-${i}`)
      // every entry written (the log's bytes are read once it wrote them)
      yield* Stream.runDrain(log.wal.bytes)
      written = new Uint8Array(nodeFs.readFileSync(path))
      change()
      changed = nodeFs.statSync(path).size
      for (let i = 21; i <= 25; i++) yield* log.append(`record-${i}`)
      return hex((yield* log.head).root)
    }))
    // the log appended the last 5 after the 20 it had written, at the file's end (whatever it held)
    return { root, sealed: Buffer.concat([written, nodeFs.readFileSync(path).subarray(changed)]) }
  })

describe("TreeLogNode taking the leaves from the log's writes", () => {
  for (
    const [name, options, change] of [
      ["nothing changed", { key }, () => {}],
      ["keyed: a data byte changed", { key }, (path: string) => {
        const lines = linesAt(path)
        lines[4] = (lines[4] as string).replace(`"record-5"`, `"record-X"`)
        rewrite(path, lines)
      }],
      ["unkeyed: the last line rewritten as a valid chain link", {}, (path: string) => {
        const lines = linesAt(path)
        lines[19] = forged(lines[19] as string, `"record-Y!"`)
        rewrite(path, lines)
      }],
      ["unkeyed: a middle line rewritten as a valid chain link", {}, (path: string) => {
        const lines = linesAt(path)
        lines[6] = forged(lines[6] as string, `"record-Z"`)
        rewrite(path, lines)
      }],
      ["truncated", { key }, (path: string) => nodeFs.truncateSync(path, nodeFs.statSync(path).size - 40)]
    ] as const
  ) {
    it.effect(`the file changed after a write (${name}): the head is still the root of the lines the log sealed`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${yield* fs.makeTempDirectoryScoped()}/log.jsonl`
        const { root, sealed } = yield* attack(path, options, () => change(path))
        const expected = yield* inlineRoot(sealed, options)
        expect(expected.size).toBe(25n)
        expect(root).toBe(hex(expected.root))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))
  }

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
          expect(roots).toEqual([hex((yield* inlineRoot(new Uint8Array(nodeFs.readFileSync(path)), { key })).root)])
          expect(nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").split("\n")[0]).toBe("55")
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
    )
  }
})
