/**
 * What an audit covers, said where the auditor reads it (a helper's review of the audit guide):
 * a replay names the entries read and the last hash (a journal cut before its first decision
 * replayed "ok: 0 admitted decisions" and nothing more), which the chain cannot show was not cut; `wal verify` of an empty log says no MAC was checked; `wal show
 * --to N` reads no entry past N (a broken one after it does not fail the range), and a range
 * whose start is after its end is bad usage.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, tempDir } from "./support/cli.js"

const dir = path.join(tempDir("audit-scope"), "demo")
const demo = await calybris(["demo", "--dir", dir])
const journal = path.join(dir, "journal.jsonl")
const keyArgs = ["--key-file", path.join(dir, "journal.key")]
const policies = ["--policy", path.join(dir, "llm-policy.json"), "--policy", path.join(dir, "trade-policy.json")]
const lines = fs.readFileSync(journal, "utf8").split("\n").slice(0, -1)
const cut = (name: string, n: number) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, lines.slice(0, n).map((l) => `${l}\n`).join(""))
  return file
}
const firstAdmit = lines.findIndex((l) => l.includes(`"audited":`))

describe("what an audit covers", () => {
  it("a replay names the entries read and the last hash, so a journal cut (before its first admitted decision, or anywhere) shows as the shorter log it is", async () => {
    assert.strictEqual(demo.code, 0, demo.stderr)
    assert.isAbove(firstAdmit, 0)
    // cut before the first decision: the journal is still audited (its commands replayed from
    // genesis), 0 decisions, and the report says how far it reached
    const before = cut("before-admit.jsonl", firstAdmit)
    const replay = await calybris(["wal", "replay", before, ...keyArgs, ...policies])
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, "ok: 0 admitted decisions in the ledger journal")
    assert.include(replay.stdout, `  ${firstAdmit} ${firstAdmit === 1 ? "entry" : "entries"}, last hash `)
    // a whole journal: the ok line, then what the chain cannot show (a cut end) to compare
    const whole = await calybris(["wal", "replay", journal, ...keyArgs, ...policies])
    const verify = await calybris(["wal", "verify", journal, ...keyArgs])
    const lastHash = /last hash ([0-9a-f]{64})/.exec(verify.stdout)?.[1]
    assert.isDefined(lastHash)
    assert.include(whole.stdout, `  ${lines.length} entries, last hash ${lastHash}: compare it with one kept elsewhere`)
    const json = await calybris(["wal", "replay", journal, ...keyArgs, ...policies, "--json"])
    assert.include(json.stdout, `"entries":${lines.length},"last_hash":"${lastHash}"`)
    // a cut journal whose last line is re-spelt to carry the uncut journal's last hash: the replay
    // names no hash it did not verify (a review: it printed the smuggled one)
    const smuggled = path.join(dir, "smuggled.jsonl")
    const kept = lines.slice(0, 9)
    const last = (kept[8] as string).replace(/^\{/, `{"pad":{"entry_hash":"${lastHash}"},`)
    fs.writeFileSync(smuggled, [...kept.slice(0, 8), last].map((l) => `${l}\n`).join(""))
    const respelt = await calybris(["wal", "replay", smuggled, ...keyArgs, ...policies])
    assert.strictEqual(respelt.code, 0, respelt.stderr)
    assert.notInclude(respelt.stdout, lastHash ?? "?")
    assert.include(respelt.stdout, "9 entries, last hash (its line is re-spelt: see calybris wal verify)")
    // an empty log: verify says nothing was checked under the key
    const empty = cut("empty.jsonl", 0)
    const verified = await calybris(["wal", "verify", empty, ...keyArgs])
    assert.strictEqual(verified.code, 0)
    assert.include(verified.stdout, "note: the log has no entry: nothing was checked under the key")
  })

  it("wal show --to N stops at N: an entry broken after it does not fail the range; --from after --to is bad usage", async () => {
    // entry 4's data edited: the chain breaks at 4
    const broken = path.join(dir, "broken.jsonl")
    fs.writeFileSync(
      broken,
      lines.map((l, i) => `${i === 3 ? l.replace(/"data":\{"v":1,/, `"data":{"v":1,"x":1,`) : l}\n`).join("")
    )
    assert.notStrictEqual(fs.readFileSync(broken, "utf8"), fs.readFileSync(journal, "utf8"))
    const upTo3 = await calybris(["wal", "show", broken, ...keyArgs, "--to", "3"])
    assert.strictEqual(upTo3.code, 0, upTo3.stderr)
    assert.strictEqual(upTo3.stdout.split("\n").length, 4, "entries 1 to 3")
    const upTo4 = await calybris(["wal", "show", broken, ...keyArgs, "--to", "4"])
    assert.strictEqual(upTo4.code, 1)
    assert.include(upTo4.stderr, "WalChainBroken")
    const backwards = await calybris(["wal", "show", journal, ...keyArgs, "--from", "5", "--to", "2"])
    assert.strictEqual(backwards.code, 2)
    assert.include(backwards.stderr, "--from 5 is after --to 2")
    const none = await calybris(["wal", "show", journal, ...keyArgs, "--to", "0"])
    assert.strictEqual(none.code, 2)
    assert.include(none.stderr, "--to 0: the first entry is 1")
  })
})
