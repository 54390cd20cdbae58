/**
 * `calybris wal repair` removes a torn final line longer than the WAL line limit (64 MiB): a
 * crash can tear a write of any length, and the log must not become unrepairable for it.
 */
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, tempDir, write } from "./support/cli.js"
import { policyText } from "./support/fixtures.js"

const dir = tempDir("longline")
const LIMIT = 64 * 1024 * 1024

describe("wal repair", () => {
  it("removes a torn final line longer than the line limit, saving it", async () => {
    const log = path.join(dir, "log.jsonl")
    await Effect.runPromise(
      Wal.append(new Map([["i", 1]])).pipe(Effect.provide(Wal.layerFile(log)), Effect.provide(NodeContext.layer))
    )
    const intact = fs.statSync(log).size
    // a crash's prefix of entry 2: its sequence and the hash before it, as the writer spells them
    const last = /"entry_hash":"([0-9a-f]{64})"/.exec(fs.readFileSync(log, "utf8"))?.[1] as string
    const head = Buffer.from(
      `{"sequence":2,"previous_hash":"${last}","entry_hash":"${"de".repeat(32)}","data":{"payload":"`
    )
    const fd = fs.openSync(log, "a")
    fs.writeSync(fd, head)
    const block = Buffer.alloc(1024 * 1024, 0x78)
    for (let i = 0; i <= LIMIT / block.length; i++) fs.writeSync(fd, block)
    fs.closeSync(fd)
    const torn = fs.statSync(log).size - intact
    assert.isAbove(torn, LIMIT)

    const verified = await calybris(["wal", "verify", log])
    assert.strictEqual(verified.code, 1)
    assert.include(verified.stderr, "WalTornTail")
    assert.include(verified.stderr, `${torn} bytes at offset ${intact}`)

    const repaired = await calybris(["wal", "repair", log, "--json"])
    assert.strictEqual(repaired.code, 0, repaired.stderr)
    assert.include(repaired.stdout, `"repaired":true`)
    assert.include(repaired.stdout, `"removed_bytes":${torn}`)
    assert.strictEqual(fs.statSync(log).size, intact)
    assert.strictEqual(fs.statSync(`${log}.torn-${intact}`).size, torn)
    const after = await calybris(["wal", "verify", log])
    assert.strictEqual(after.code, 0, after.stderr)
    assert.include(after.stdout, "1 entry verified")
  }, 120_000)
})

describe("--max-line-bytes", () => {
  it(
    "a log with a line over 64 MiB (written with maxLineBytes raised, as the reference may write it) is read with --max-line-bytes: verify, show, repair, log checkpoint; without it, WalLineTooLong with a hint (a helper's hostile review: the CLI could not read it)",
    async () => {
      const log = path.join(dir, "big.jsonl")
      await Effect.runPromise(
        Effect.gen(function*() {
          yield* Wal.append(new Map([["blob", "x".repeat(LIMIT + 16)]]))
          yield* Wal.append(new Map([["i", 2]]))
        }).pipe(Effect.provide(Wal.layerFile(log, { maxLineBytes: 2 * LIMIT })), Effect.provide(NodeContext.layer))
      )
      const big = ["--max-line-bytes", String(2 * LIMIT)]
      const refused = await calybris(["wal", "verify", log])
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "WalLineTooLong")
      assert.include(refused.stderr, "--max-line-bytes N")
      const verified = await calybris(["wal", "verify", log, ...big])
      assert.strictEqual(verified.code, 0, verified.stderr)
      assert.include(verified.stdout, "2 entries verified")
      const shown = await calybris(["wal", "show", log, "--from", "2", ...big])
      assert.strictEqual(shown.code, 0, shown.stderr)
      assert.include(shown.stdout, `{"i":2}`)
      const repair = await calybris(["wal", "repair", log, "--json", ...big])
      assert.strictEqual(repair.code, 0, repair.stderr)
      assert.include(repair.stdout, `"repaired":false`)
      const skey = path.join(dir, "big.skey")
      assert.strictEqual((await calybris(["log", "keygen", "--name", "example.com/big", "--out", skey])).code, 0)
      const cp = await calybris(["log", "checkpoint", "--log", log, "--skey-file", skey, ...big])
      assert.strictEqual(cp.code, 0, cp.stderr)
      assert.match(cp.stdout, /^example\.com\/big\n2\n/)
    },
    120_000
  )

  it(
    "is passed to every reader and writer of a journal or log (a limit below a line refuses it), and a value that is no line limit is bad usage naming it",
    async () => {
      const journal = path.join(dir, "journal.jsonl")
      assert.strictEqual((await calybris(["budget", "init", "--journal", journal])).code, 0)
      assert.strictEqual(
        (await calybris(["budget", "ensure", "--journal", journal, "--tenant", "acme", "--amount", "5"])).code,
        0
      )
      const before = fs.readFileSync(journal)
      const small = ["--max-line-bytes", "64"]
      for (
        const args of [
          ["wal", "verify", journal],
          ["wal", "show", journal],
          ["wal", "repair", journal],
          ["wal", "replay", "--journal", "--policy", write(dir, "policy.json", policyText), journal],
          ["log", "prove", "1", "--log", journal],
          ["budget", "status", "--journal", journal],
          ["budget", "top-up", "--journal", journal, "--tenant", "acme", "--amount", "1"]
        ]
      ) {
        const r = await calybris([...args, ...small])
        assert.strictEqual(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`)
        assert.include(r.stderr, "WalLineTooLong", args.join(" "))
        assert.deepStrictEqual(fs.readFileSync(journal), before, args.join(" "))
      }
      for (const value of ["0", "-1", "1e9", "1.5", "", "9007199254740992", " 64"]) {
        const r = await calybris(["wal", "verify", journal, "--max-line-bytes", value])
        assert.strictEqual(r.code, 2, `${value}: ${r.stderr}`)
        assert.include(r.stderr, `--max-line-bytes ${JSON.stringify(value)}: not a line limit`)
      }
      const status = await calybris(["budget", "status", "--journal", journal, "--max-line-bytes", "1024"])
      assert.strictEqual(status.code, 0, status.stderr)
    },
    120_000
  )

  it(
    "budget init under a limit its first entry does not fit: bad usage naming the length, and no journal made (a review: an empty file was left behind)",
    async () => {
      const journal = path.join(dir, "init-limit.jsonl")
      const small = await calybris(["budget", "init", "--journal", journal, "--max-line-bytes", "254"])
      assert.strictEqual(small.code, 2, small.stderr)
      assert.include(small.stderr, "the empty ledger's checkpoint) is a line of 255 bytes")
      assert.isFalse(fs.existsSync(journal))
      const fits = await calybris(["budget", "init", "--journal", journal, "--max-line-bytes", "255"])
      assert.strictEqual(fits.code, 0, fits.stderr)
      assert.strictEqual(fs.statSync(journal).size, 256)
    },
    60_000
  )
})
