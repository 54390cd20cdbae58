/**
 * The journal's path through the real CLI: one writer per journal whatever name reaches it (a
 * process holding the journal locks out `budget` commands through a hard link, a symlink or a
 * `dir/../file` path: exit 1, `WalLocked`, nothing journaled), and a journal or log that is a
 * directory, a FIFO or behind a non-directory is refused at once with a sentence (exit 2; a
 * FIFO used to hang).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { startChild } from "../crash/child.js"
import { calybris, tempDir } from "./support/cli.js"

const dir = tempDir("journal-path")
// the key hold-child.ts writes with: 32 bytes of 42
const env = { CALYBRIS_E2E_JOURNAL_KEY: `hex:${"2a".repeat(32)}` }
const budget = (journal: string, args: ReadonlyArray<string>) =>
  calybris(["budget", ...args, "--journal", journal, "--key-env", "CALYBRIS_E2E_JOURNAL_KEY"], { env })

describe("the journal's path", () => {
  it(
    "a process holds the journal: budget reserve through a hard link, a symlink or dir/../file exits 1 with WalLocked and journals nothing",
    async () => {
      const journal = path.join(dir, "held.jsonl")
      const other = fs.mkdtempSync(path.join(dir, "other-"))
      fs.mkdirSync(path.join(dir, "sub"))
      assert.strictEqual((await budget(journal, ["init"])).code, 0)
      assert.strictEqual((await budget(journal, ["ensure", "--tenant", "t", "--amount", "1000"])).code, 0)
      const hard = path.join(other, "hard.jsonl")
      const alias = path.join(other, "alias.jsonl")
      fs.linkSync(journal, hard)
      fs.symlinkSync(journal, alias)
      const before = fs.readFileSync(journal)
      const holder = await startChild("test/crash/hold-child.ts", [journal])
      try {
        assert.strictEqual(await holder.line("HOLDING"), "HOLDING 2")
        for (const name of [hard, alias, path.join(dir, "sub", "..", "held.jsonl"), journal]) {
          const r = await budget(name, ["reserve", "--tenant", "t", "--amount", "100", "--id", "second-writer"])
          assert.strictEqual(r.code, 1, `${name}: ${r.stdout}${r.stderr}`)
          assert.match(r.stderr, /^WalLocked: WAL .* is locked by another writer \(pid=\d+ /, name)
          assert.strictEqual(r.stdout, "")
        }
        assert.isTrue(fs.readFileSync(journal).equals(before))
      } finally {
        holder.child.kill("SIGKILL")
        await holder.exited
      }
      // the holder is gone: the hard link works
      const r = await budget(hard, ["reserve", "--tenant", "t", "--amount", "100", "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, `"kind":"Reserved"`)
    },
    120_000
  )

  it(
    "a journal or log that is a FIFO, a directory or behind a non-directory is refused at once (exit 2, a sentence)",
    async () => {
      const fifo = path.join(dir, "fifo.jsonl")
      execFileSync("mkfifo", [fifo])
      const folder = fs.mkdtempSync(path.join(dir, "folder-"))
      const plain = path.join(dir, "plain.txt")
      fs.writeFileSync(plain, "")
      const behind = path.join(plain, "journal.jsonl")
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, RegExp]> = [
        [["status"], fifo, /fifo\.jsonl: not a regular file \(a FIFO\)/],
        [["init"], fifo, /fifo\.jsonl: not a regular file \(a FIFO\)/],
        [["reserve", "--tenant", "t", "--amount", "1"], fifo, /fifo\.jsonl: not a regular file \(a FIFO\)/],
        [["status"], folder, /folder-\w+: it is a directory/],
        [["init"], folder, /folder-\w+: it is a directory/],
        [["status"], behind, /a component of the path is not a directory/],
        [["init"], behind, /a component of the path is not a directory/]
      ]
      for (const [args, journal, expected] of cases) {
        const r = await budget(journal, args)
        assert.strictEqual(r.code, 2, `${args.join(" ")} ${journal}: ${r.stderr}`)
        assert.match(r.stderr, expected, `${args.join(" ")} ${journal}`)
        assert.notMatch(r.stderr, /EISDIR|ENOTDIR|BadResource/)
      }
      for (const command of ["verify", "show", "repair"]) {
        for (
          const [file, expected] of [[fifo, /not a regular file/], [folder, /it is a directory/], [
            behind,
            /a component of the path is not a directory/
          ]] as const
        ) {
          const r = await calybris(["wal", command, file])
          assert.strictEqual(r.code, 2, `wal ${command} ${file}: ${r.stderr}`)
          assert.match(r.stderr, expected, `wal ${command} ${file}`)
          assert.notMatch(r.stderr, /EISDIR|ENOTDIR|BadResource/)
        }
      }
      // nothing was created next to them
      assert.isFalse(fs.existsSync(`${fifo}.lock`))
      assert.isFalse(fs.existsSync(`${folder}.lock`))
    },
    120_000
  )

  it("a journal named j.lock is not j's lock: budget init --journal j exits 1 with WalLocked naming it, however old it is, and j.lock keeps every entry (a hostile review: the open of j deleted it)", async () => {
    const lockNamed = path.join(dir, "j.lock")
    assert.strictEqual((await budget(lockNamed, ["init"])).code, 0)
    assert.strictEqual((await budget(lockNamed, ["ensure", "--tenant", "t", "--amount", "100"])).code, 0)
    const before = fs.readFileSync(lockNamed)
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(lockNamed, old, old)
    const r = await budget(path.join(dir, "j"), ["init"])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.include(r.stderr, `WalLocked`)
    assert.include(r.stderr, `${lockNamed} is not a lock file`)
    assert.deepStrictEqual(fs.readFileSync(lockNamed), before)
    assert.isFalse(fs.existsSync(path.join(dir, "j")))
    const status = await budget(lockNamed, ["status", "t"])
    assert.strictEqual(status.code, 0, status.stderr)
  })
})
