/**
 * Directory fsyncs, seen in the system calls themselves (strace; skipped where it is absent):
 * - the WAL (`WalNode`, durability "batch") fsyncs the log's directory before its first
 *   fdatasync, so before any append is acknowledged;
 * - the tree log's worker, when it writes tiles durably, fsyncs each directory a tile was renamed
 *   into (and each directory that got a new subdirectory) after that rename and before
 *   `tree-head` is renamed, then the head's own directory: after a power loss the head never
 *   names a tile whose rename was lost.
 */
import * as Source from "@calybris/testing/Source"
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Event, events, hasStrace } from "../support/strace.js"

const root = path.resolve(import.meta.dirname, "..", "..")

describe("directory fsyncs (strace)", () => {
  it.skipIf(!hasStrace)(
    "the WAL's directory before its first fdatasync; each tile's directory before tree-head, the head's after",
    () => {
      const dir = fs.mkdtempSync(path.join(process.env["TMPDIR"] ?? os.tmpdir(), "dirsync-"))
      try {
        const log = path.join(dir, "log.jsonl")
        const traceFile = path.join(dir, "trace.txt")
        const run = spawnSync(
          "strace",
          [
            "-f",
            "-qq",
            "-e",
            "trace=openat,fsync,fdatasync,rename,mkdir",
            "-o",
            traceFile,
            process.execPath,
            ...Source.nodeArgs,
            path.join("test", "crash", "dirsync-child.ts"),
            log
          ],
          { cwd: root, encoding: "utf8", timeout: 60_000 }
        )
        assert.strictEqual(run.status, 0, run.stderr)
        const seen = events(fs.readFileSync(traceFile, "utf8"))
        const at = (p: (e: Event) => boolean) => seen.findIndex(p)

        // the WAL: its directory, then the log's data
        const dirSync = at((e) => e.kind === "fsync" && e.path === dir)
        const firstLogSync = at((e) => e.kind === "fsync" && e.path === log)
        assert.isAtLeast(dirSync, 0, "the log's directory is fsynced")
        assert.isAtLeast(firstLogSync, 0, "the log is fsynced")
        assert.isBelow(dirSync, firstLogSync)

        // the tree: every rename before the head's is followed by its directory's fsync, before the head's rename
        const tlog = `${log}.tlog`
        const head = at((e) => e.kind === "rename" && e.to === `${tlog}/tree-head`)
        assert.isAtLeast(head, 0, "tree-head written")
        const tiles = seen.slice(0, head).flatMap((e, i) =>
          e.kind === "rename" && e.to.startsWith(`${tlog}/tile/`) ? [i] : []
        )
        assert.isAtLeast(tiles.length, 3, "tiles written before the head")
        for (const i of tiles) {
          const tile = seen[i] as Extract<Event, { kind: "rename" }>
          const parent = path.dirname(tile.to)
          const synced = seen.findIndex((e, j) => j > i && e.kind === "fsync" && e.path === parent)
          assert.isTrue(synced > i && synced < head, `${parent} fsynced after ${tile.to} and before tree-head`)
        }
        // each directory made under the tree's directory is an entry of its parent, fsynced before the head
        for (const [i, e] of seen.entries()) {
          if (i > head || e.kind !== "mkdir" || !e.path.startsWith(`${tlog}/`)) continue
          const parent = path.dirname(e.path)
          const synced = seen.findIndex((f, j) => j > i && f.kind === "fsync" && f.path === parent)
          assert.isTrue(synced > i && synced < head, `${parent} fsynced after mkdir ${e.path} and before tree-head`)
        }
        // and the head's directory after it
        assert.isAtLeast(seen.findIndex((e, j) => j > head && e.kind === "fsync" && e.path === tlog), 0)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    90_000
  )
})
