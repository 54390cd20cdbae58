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
import { calybris, tempDir } from "./support/cli.js"

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
