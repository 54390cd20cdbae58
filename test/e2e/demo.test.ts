/**
 * `calybris demo`: both use cases end to end on a keyed journal, then the journal it leaves
 * behind checked independently with `wal verify` and `wal replay`.
 */
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, cleanUp, tempDir } from "./support/cli.js"

const parse = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))
const member = (json: Json.Json | undefined, ...keys: ReadonlyArray<string>): Json.Json | undefined =>
  keys.reduce<Json.Json | undefined>((v, k) => (v !== undefined && Json.isObject(v) ? v.get(k) : undefined), json)

describe("demo", () => {
  it("runs LLM routing and a pre-trade guard through Ledger.admit, then verifies, audits and proves", async () => {
    const dir = path.join(tempDir("demo"), "run")
    const [text, json] = await Promise.all([
      calybris(["demo", "--dir", dir]),
      calybris(["demo", "--json"])
    ])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.strictEqual(text.stderr, "")
    const out = text.stdout
    for (
      const expected of [
        "1. LLM routing: 6 models from openai (gpt-4o-mini, gpt-4o), anthropic (claude-3-5-haiku, claude-3-7-sonnet), mistral",
        "ExecuteRequested",
        "Substitute",
        "Reject (budget_constraint)",
        "Insufficient: $0.0005 left",
        "2. Pre-trade guard: 5 venues: NYSE, Nasdaq, Cboe BZX, IEX, MEMX",
        "ExposureLimitExceeded: $22.50 open, cap $60.00",
        "Reject (risk_hard_limit)",
        "verified: 14 journal entries, chain intact (HMAC-SHA256), last hash ",
        "audited:  5 admitted decisions replayed bit for bit",
        "balanced: 3 tenants, 1 open hold, funds $1,005.0005",
        "ledger digest "
      ]
    ) assert.include(out, expected)
    const key = fs.readFileSync(path.join(dir, "journal.key"), "utf8")
    assert.match(key, /^hex:[0-9a-f]{64}\n$/)
    assert.strictEqual(fs.statSync(path.join(dir, "journal.key")).mode & 0o777, 0o600)
    assert.notInclude(out, key.slice(4, 68))

    // the journal it leaves behind verifies and audits with the CLI, under the key file
    const journal = path.join(dir, "journal.jsonl")
    const keyArgs = ["--key-file", path.join(dir, "journal.key")]
    const policies = ["--policy", path.join(dir, "llm-policy.json"), "--policy", path.join(dir, "trade-policy.json")]
    const [verify, replay, again] = await Promise.all([
      calybris(["wal", "verify", journal, ...keyArgs]),
      calybris(["wal", "replay", journal, ...keyArgs, ...policies]),
      calybris(["demo", "--dir", dir])
    ])
    assert.strictEqual(verify.code, 0, verify.stderr)
    const lastHash = /last hash ([0-9a-f]{64})/.exec(out)?.[1]
    assert.include(verify.stdout, `ok: 14 entries verified (HMAC-SHA256), last hash ${lastHash}`)
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, "ok: 5 admitted decisions in the ledger journal replayed bit for bit")
    assert.strictEqual(again.code, 2)
    assert.include(again.stderr, "already holds journal.jsonl: give an empty --dir")
    // a stray key alone: bad usage too, nothing written (a helper's review: it exited 1 half way)
    const stray = path.join(tempDir("demo-stray"), "run")
    fs.mkdirSync(stray, { recursive: true })
    fs.writeFileSync(path.join(stray, "journal.key"), "hex:00\n")
    const strayRun = await calybris(["demo", "--dir", stray])
    assert.strictEqual(strayRun.code, 2, strayRun.stderr)
    assert.include(strayRun.stderr, "already holds journal.key: give an empty --dir")
    assert.deepStrictEqual(fs.readdirSync(stray), ["journal.key"])
    // any other file the demo writes (a policy), or a dangling link to one: the same (a review: the
    // key was written, then exit 1; a journal.jsonl link to nothing was followed out of --dir)
    for (
      const [name, plant] of [
        ["llm-policy.json", (file: string) => fs.writeFileSync(file, "{}\n")],
        ["journal.jsonl", (file: string) => fs.symlinkSync(path.join(stray, "nowhere", "journal.jsonl"), file)]
      ] as const
    ) {
      const other = path.join(tempDir("demo-stray"), "run")
      fs.mkdirSync(other, { recursive: true })
      plant(path.join(other, name))
      const run = await calybris(["demo", "--dir", other])
      assert.strictEqual(run.code, 2, run.stderr)
      assert.include(run.stderr, `already holds ${name}: give an empty --dir`)
      assert.deepStrictEqual(fs.readdirSync(other), [name])
    }

    assert.strictEqual(json.code, 0, json.stderr)
    const report = parse(json.stdout)
    const reportDir = member(report, "dir")
    if (typeof reportDir === "string" && path.basename(reportDir).startsWith("calybris-demo-")) cleanUp(reportDir)
    const scenarios = member(report, "scenarios")
    assert.isTrue(Array.isArray(scenarios) && scenarios.length === 2)
    assert.strictEqual(member(report, "verified", "entries"), 14)
    assert.strictEqual(member(report, "audited_decisions"), 5)
    assert.strictEqual(member(report, "conservation", "aggregate_totals_representable"), true)
    const outcomes = (Array.isArray(scenarios) ? scenarios : []).flatMap((s) => {
      const requests = member(s, "requests")
      return Array.isArray(requests) ? requests.map((r) => member(r, "outcome")) : []
    })
    const kinds = outcomes.map((o) => member(o, "kind"))
    assert.deepStrictEqual(kinds, [
      "Admitted",
      "Admitted",
      "Admitted",
      "Rejected",
      "HoldFailed",
      "Admitted",
      "Admitted",
      "HoldFailed",
      "Rejected"
    ])
    assert.deepStrictEqual(outcomes.map((o) => member(o, "decision", "reason"))[3], "BudgetConstraint")
    assert.deepStrictEqual(member(outcomes[7], "hold", "kind"), "ExposureLimitExceeded")
  })
})
