/**
 * `calybris budget …` through the real CLI on a keyed journal: every operation with the
 * reference's JSON encodings, exact amounts beyond 2^53, refused amounts (exit 2), wrong keys
 * (exit 1), and the journal's admits audited with `wal replay`.
 */
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { calybris, mapLimit, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("budget")
const policyFile = write(dir, "policy.json", policyText)
const inputFile = write(dir, "input.json", inputLine())
const keyHex = "7f".repeat(16) + "a5".repeat(16)
const env = { CALYBRIS_E2E_JOURNAL_KEY: `hex:${keyHex}` }
const wrongKeyFile = write(dir, "wrong.key", `hex:${"00".repeat(32)}`)

const parse = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))
const member = (json: Json.Json | undefined, ...keys: ReadonlyArray<string>): Json.Json | undefined =>
  keys.reduce<Json.Json | undefined>((v, k) => (v !== undefined && Json.isObject(v) ? v.get(k) : undefined), json)

const journalOf = (name: string) => path.join(dir, name)
const budget = (journal: string, args: ReadonlyArray<string>) =>
  calybris(["budget", ...args, "--journal", journal, "--key-env", "CALYBRIS_E2E_JOURNAL_KEY"], { env })

/** Run a budget command that must succeed; its stdout. */
const ok = async (journal: string, args: ReadonlyArray<string>) => {
  const r = await budget(journal, args)
  assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
  return r.stdout
}

describe("budget", () => {
  it("init racing a write to an empty journal never wipes what the write acknowledged (a helper's hostile review)", async () => {
    // init looked (empty) before it took the journal's lock: a command writing in between was
    // acknowledged, then buried under init's empty-ledger checkpoint. Now init looks again under
    // the lock. Each pair races on a fresh empty journal, init started a little after.
    const runs = Array.from({ length: 16 }, (_, i) => i)
    const outcomes = await mapLimit(runs, 2, async (i) => {
      const journal = journalOf(`init-race-${i}.jsonl`)
      fs.writeFileSync(journal, "")
      const [ensured, initialized] = await Promise.all([
        budget(journal, ["ensure", "--tenant", "a", "--amount", "5"]),
        new Promise<void>((resolve) => setTimeout(resolve, (i * 13) % 90)).then(() => budget(journal, ["init"]))
      ])
      return { i, ensured, initialized, lines: fs.readFileSync(journal, "utf8").split("\n").filter((l) => l !== "") }
    })
    for (const { ensured, i, initialized, lines } of outcomes) {
      const what = `run ${i}: ensure ${ensured.code} ${ensured.stderr}, init ${initialized.code} ${initialized.stderr}`
      if (ensured.code !== 0) continue
      // the acknowledged ensure is in the ledger: init went first, or refused
      if (initialized.code === 0) assert.include(lines[0], `"checkpoint"`, what)
      else assert.match(initialized.stderr, /already exists and is not empty|WalLocked/, what)
      const status = await budget(journalOf(`init-race-${i}.jsonl`), ["status"])
      assert.include(status.stdout, "1 tenant", what)
    }
  })

  it("prints results in words as it always has: a reserved hold's id first, then its fields", async () => {
    const journal = journalOf("words.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "acme", "--amount", "1000000"])
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "400000"]),
      "Reserved: reservation_id=1 remaining_microcents=600,000\n"
    )
    assert.strictEqual(
      await ok(journal, ["commit", "--reservation", "1", "--amount", "300000"]),
      "Committed: remaining_microcents=700,000 actual_microcents=300,000\n"
    )
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "9000000"]),
      "Insufficient: remaining_microcents=700,000 required_microcents=9,000,000\n"
    )
    assert.strictEqual(await ok(journal, ["release", "--reservation", "1"]), "MissingReservation\n")
  })

  it("a refusal under --id is the answer to every retry, in a later process after the funds arrived (issue 15)", async () => {
    const journal = journalOf("refused-ids.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "acme", "--amount", "100"])
    const refused =
      `{"kind":"Insufficient","remaining_microcents":100,"required_microcents":500,"reservation_id":null}\n`
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "500", "--id", "r", "--json"]),
      refused
    )
    assert.strictEqual(
      await ok(journal, ["release", "--reservation", "1", "--id", "l", "--json"]),
      `{"kind":"MissingReservation"}\n`
    )
    await ok(journal, ["top-up", "--tenant", "acme", "--amount", "1000"])
    await ok(journal, ["reserve", "--tenant", "acme", "--amount", "10"]) // reservation 1 now exists
    // the delayed duplicates: the original refusals, nothing held or released
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "500", "--id", "r", "--json"]),
      refused
    )
    assert.strictEqual(
      await ok(journal, ["release", "--reservation", "1", "--id", "l", "--json"]),
      `{"kind":"MissingReservation"}\n`
    )
    assert.strictEqual(
      await ok(journal, ["status", "acme", "--json"]),
      `{"tenant_id":"acme","initial_microcents":1100,"remaining_microcents":1090,"reserved_microcents":10,"committed_microcents":0}\n`
    )
    // other arguments under the refused id: a conflict
    const conflict = await budget(journal, ["reserve", "--tenant", "acme", "--amount", "501", "--id", "r"])
    assert.notStrictEqual(conflict.code, 0)
    assert.include(conflict.stderr, "operation id r was already used with different arguments")
    // the refusals are journaled records the auditor replays
    assert.include(fs.readFileSync(journal, "utf8"), `"kind":"refused"`)
    const replay = await calybris(
      ["wal", "replay", journal, "--key-env", "CALYBRIS_E2E_JOURNAL_KEY", "--policy", policyFile],
      { env }
    )
    assert.strictEqual(replay.code, 0, replay.stderr)
  })

  it("runs every operation on a keyed journal with the reference's field names, exactly", async () => {
    const journal = journalOf("ledger.jsonl")
    assert.include(await ok(journal, ["init"]), "initialized")
    assert.strictEqual(
      await ok(journal, ["ensure", "--tenant", "acme", "--amount", "9007199254740993", "--json"]),
      `{"created":true,"tenant":{"tenant_id":"acme","initial_microcents":9007199254740993,"remaining_microcents":9007199254740993,"reserved_microcents":0,"committed_microcents":0}}\n`
    )
    assert.include(await ok(journal, ["cap", "--tenant", "acme", "--max", "600000"]), "exposure cap of acme: 600,000")
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "500000", "--id", "op-1", "--json"]),
      `{"kind":"Reserved","remaining_microcents":9007199254240993,"reservation_id":1}\n`
    )
    // a retry with the same operation id returns the first result and holds nothing more
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "500000", "--id", "op-1", "--json"]),
      `{"kind":"Reserved","remaining_microcents":9007199254240993,"reservation_id":1}\n`
    )
    assert.strictEqual(
      await ok(journal, ["reserve", "--tenant", "acme", "--amount", "200000", "--json"]),
      `{"kind":"ExposureLimitExceeded","current_reserved_microcents":500000,"max_reserved_microcents":600000,"reservation_id":null}\n`
    )
    assert.strictEqual(
      await ok(journal, ["commit", "--reservation", "1", "--amount", "450000", "--json"]),
      `{"kind":"Committed","remaining_microcents":9007199254290993,"actual_microcents":450000}\n`
    )
    assert.strictEqual(
      await ok(journal, ["release", "--reservation", "1", "--json"]),
      `{"kind":"MissingReservation"}\n`
    )
    assert.strictEqual(
      await ok(journal, ["top-up", "--tenant", "acme", "--amount", "9223372036854775807", "--json"]),
      `{"kind":"Overflow"}\n`
    )
    assert.strictEqual(
      await ok(journal, ["top-up", "--tenant", "acme", "--amount", "7", "--json"]),
      `{"kind":"ToppedUp","added_microcents":7,"new_initial_microcents":9007199254741000,"remaining_microcents":9007199254291000}\n`
    )
    const admitted = parse(
      await ok(journal, ["admit", "--policy", policyFile, "--input", inputFile, "--tenant", "acme", "--json"])
    )
    assert.strictEqual(member(admitted, "kind"), "Admitted")
    assert.strictEqual(member(admitted, "decision", "action"), "Substitute")
    assert.strictEqual(member(admitted, "reservation_id"), 2)
    assert.strictEqual(
      await ok(journal, ["status", "acme", "--json"]),
      `{"tenant_id":"acme","initial_microcents":9007199254741000,"remaining_microcents":9007199254281000,"reserved_microcents":10000,"committed_microcents":450000}\n`
    )
    const status = await ok(journal, ["status"])
    assert.include(status, "1 tenant, 1 open reservation")
    const proof = parse(await ok(journal, ["prove", "--json"]))
    assert.strictEqual(member(proof, "total_initial_microcents"), 9_007_199_254_741_000n)
    assert.strictEqual(member(proof, "aggregate_totals_representable"), true)
    assert.match(await ok(journal, ["certify"]), /^balanced: 1 tenant, 1 open reservation,/)
    // an auditor: the chain verifies and the admitted decision replays under the policy
    const [verify, replay] = await Promise.all([
      calybris(["wal", "verify", journal, "--key-env", "CALYBRIS_E2E_JOURNAL_KEY"], { env }),
      calybris(["wal", "replay", journal, "--key-env", "CALYBRIS_E2E_JOURNAL_KEY", "--policy", policyFile], { env })
    ])
    assert.strictEqual(verify.code, 0, verify.stderr)
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, "ok: 1 admitted decision in the ledger journal replayed bit for bit")
  })

  it("a journal of white space only: status calls it never initialised, and init says to remove it (a helper's review: each sent the operator to the other)", async () => {
    const blank = journalOf("blank.jsonl")
    fs.writeFileSync(blank, "\n \n\t\n")
    const [status, init] = await Promise.all([budget(blank, ["status"]), budget(blank, ["init"])])
    assert.strictEqual(status.code, 2)
    assert.include(status.stderr, "never initialised")
    assert.strictEqual(init.code, 2)
    assert.include(
      init.stderr,
      "holds no entry but is not empty (white space only): remove it, then init the journal there"
    )
    assert.strictEqual(fs.readFileSync(blank, "utf8"), "\n \n\t\n")
  })

  it("refuses bad amounts, unknown journals, a second init and wrong keys", async () => {
    const journal = journalOf("refusals.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "t", "--amount", "1000"])
    const reserve = (amount: string) => ["reserve", "--tenant", "t", "--amount", amount]
    const results = await mapLimit(
      [
        reserve("1.5"),
        reserve("1e6"),
        reserve("-5"),
        reserve("9223372036854775808"),
        ["commit", "--reservation", "18446744073709551616", "--amount", "1"],
        ["reserve", "--tenant", "t", "--amount", "1", "--expires", "soon"],
        ["init"]
      ],
      4,
      (args) => budget(journal, args)
    )
    const messages = [
      "--amount: expected an integer number of microcents (1 cent = 1000000 microcents), got \"1.5\": no decimal point allowed",
      "got \"1e6\": no exponent allowed",
      "--amount: must be positive, got -5",
      "--amount: 9223372036854775808 is out of range: amounts are i64 microcents, at most 9223372036854775807",
      "--reservation: 18446744073709551616 is out of range: it is a u64, at most 18446744073709551615",
      "--expires: expected a duration such as \"30 seconds\"",
      "already exists and is not empty: refusing to init it"
    ]
    results.forEach((r, i) => {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, messages[i] ?? "(missing message)")
    })
    const [missing, wrong] = await Promise.all([
      budget(journalOf("nope.jsonl"), ["status"]),
      calybris(["budget", "status", "--journal", journal, "--key-file", wrongKeyFile])
    ])
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "nope.jsonl: no such journal (create it with: calybris budget init --journal FILE)")
    assert.strictEqual(wrong.code, 1)
    assert.include(wrong.stderr, "WalChainBroken: WAL chain broken at sequence 1")
    for (const r of [...results, missing, wrong]) {
      assert.notInclude(r.stderr, keyHex)
      assert.notInclude(r.stdout, keyHex)
    }
  })

  it("a journal without an entry (empty, blank lines, or one incomplete line) is refused by every ledger command, nothing written: never initialised, or wiped (a hostile review: read as a fresh ledger, status and prove said balanced)", async () => {
    const journal = journalOf("empty.jsonl")
    fs.writeFileSync(journal, "")
    const results = await mapLimit(
      [
        ["status"],
        ["prove"],
        ["certify"],
        ["ensure", "--tenant", "a", "--amount", "5"],
        ["top-up", "--tenant", "a", "--amount", "5"],
        ["reserve", "--tenant", "a", "--amount", "5"]
      ],
      3,
      (args) => budget(journal, args)
    )
    for (const r of results) {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "the journal has no entry: never initialised")
      assert.strictEqual(fs.statSync(journal).size, 0)
    }
    // wiped to blank lines, which the reader skips: no entry either (a size check let it through)
    for (const blank of ["\n", "  \r\n\n"]) {
      const wiped = journalOf(`wiped-${blank.length}.jsonl`)
      fs.writeFileSync(wiped, blank)
      for (const args of [["status"], ["ensure", "--tenant", "evil", "--amount", "5"]]) {
        const r = await budget(wiped, args)
        assert.strictEqual(r.code, 2, r.stderr)
        assert.include(r.stderr, "the journal has no entry")
        assert.strictEqual(fs.readFileSync(wiped, "utf8"), blank)
      }
    }
    // an incomplete line only (a torn first entry), keyed or not: no entry either (a hostile
    // review: status, prove and certify read it as an empty, balanced ledger, exit 0, with any key)
    for (const torn of [`{"sequence":1,`, `\n{"sequence":1,"previous_hash":"genesis"`]) {
      const cut = journalOf(`torn-${torn.length}.jsonl`)
      fs.writeFileSync(cut, torn)
      for (
        const args of [["status"], ["prove"], ["certify", "--json"], ["reserve", "--tenant", "a", "--amount", "5"]]
      ) {
        const r = await budget(cut, args)
        assert.strictEqual(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`)
        assert.include(r.stdout + r.stderr, "the journal has no entry (its only line")
        assert.include(r.stdout + r.stderr, "calybris wal repair saves it aside and removes it, then init can run")
        assert.notInclude(r.stdout, "balanced")
        assert.strictEqual(fs.readFileSync(cut, "utf8"), torn)
      }
    }
    // the way out the message gives: repair, then init
    const torn = journalOf("torn-repaired.jsonl")
    fs.writeFileSync(torn, `{"sequence":1,`)
    const repaired = await calybris(["wal", "repair", torn])
    assert.strictEqual(repaired.code, 0, repaired.stderr)
    await ok(torn, ["init"])
    assert.include(await ok(torn, ["status"]), "0 tenants")
    // init makes it a journal: the commands then run on it
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "a", "--amount", "5"])
    assert.include(await ok(journal, ["status"]), "1 tenant")
  })

  it("admit --id: a retry returns the original outcome; another input or policy under the id is an IdempotencyConflict", async () => {
    const journal = journalOf("admit-retry.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "acme", "--amount", "1000000"])
    const admit = (policy: string, input: string, tenant = "acme") =>
      budget(journal, ["admit", "--policy", policy, "--input", input, "--tenant", tenant, "--id", "req-7", "--json"])
    const first = await admit(policyFile, inputFile)
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(member(parse(first.stdout), "kind"), "Admitted")
    const journaled = fs.readFileSync(journal)
    const again = await admit(policyFile, inputFile)
    assert.strictEqual(again.code, 0, again.stderr)
    assert.strictEqual(again.stdout, first.stdout, "an identical retry prints the original outcome")
    const otherInput = write(dir, "input-2.json", inputLine({ request_sequence: "2" }))
    const otherPolicy = write(dir, "policy-2.json", policyText.replace("18446744073709551615,", "7,"))
    const rejected = write(dir, "input-rejected.json", inputLine({ risk_bps: "9900" }))
    for (const [policy, input] of [[policyFile, otherInput], [otherPolicy, inputFile], [policyFile, rejected]]) {
      const r = await admit(policy ?? "", input ?? "")
      assert.strictEqual(r.code, 2, `${policy} ${input}: ${r.stdout}${r.stderr}`)
      assert.include(r.stderr, `"_tag":"IdempotencyConflict"`)
      assert.include(r.stderr, "operation id req-7 was already used with different arguments")
      assert.strictEqual(r.stdout, "")
    }
    assert.deepStrictEqual(fs.readFileSync(journal), journaled, "the journal is unchanged")
  })

  it("ensure and reserve with out-of-range values exit 2 and leave the journal byte-identical", async () => {
    const journal = journalOf("out-of-range.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "t", "--amount", "1000"])
    const journaled = fs.readFileSync(journal)
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["ensure", "--tenant", "u", "--amount", "9223372036854775808"], "--amount: 9223372036854775808 is out of range"],
      [["ensure", "--tenant", "u", "--amount", "-1"], "--amount: must be zero or more, got -1"],
      [["ensure", "--tenant", "u".repeat(1_025), "--amount", "1"], "InvalidArgument: invalid tenant \"uuuu"],
      // the reason is printed after an excerpt (its closing quote kept: a review found it cut)
      [["ensure", "--tenant", "u".repeat(1_025), "--amount", "1"], "must be well-formed Unicode of at most 1024"],
      [["reserve", "--tenant", "t", "--amount", "1", "--id", "i".repeat(300)], "must be well-formed Unicode of 1 to"],
      // what bytes that are not UTF-8 on a command line become: two such ids would be one
      [["ensure", "--tenant", "\uFFFD", "--amount", "1"], "InvalidArgument: invalid tenant \"\uFFFD\": holds U+FFFD"],
      [
        ["top-up", "--tenant", "t", "--amount", "1", "--id", "a\uFFFD"],
        "invalid operationId \"a\uFFFD\": holds U+FFFD"
      ],
      [
        ["reserve", "--tenant", "t", "--amount", "1", "--expires", "99999999999999999 weeks"],
        "InvalidArgument: invalid expiresIn"
      ],
      [["reserve", "--tenant", "t", "--amount", "1", "--id", ""], "InvalidArgument: invalid operationId \"\""],
      [["reserve", "--tenant", "t", "--amount", "-1"], "--amount: must be positive, got -1"],
      // an option given twice is named (a hostile review: @effect/cli said another was missing)
      [["reserve", "--tenant", "t", "--tenant", "u", "--amount", "1"], "--tenant is given twice"],
      [["top-up", "--tenant", "t", "--amount", "1", "--id", "a", "--id=b"], "--id is given twice"]
    ]
    // one at a time: the ones that reach the ledger open the journal (one writer)
    const results = await mapLimit(cases, 1, ([args]) => budget(journal, args))
    results.forEach((r, i) => {
      const [args, message] = cases[i] ?? [[], ""]
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.include(r.stderr, message)
      assert.isBelow(r.stderr.length, 400, "a short excerpt of the value, not all of it")
    })
    assert.deepStrictEqual(fs.readFileSync(journal), journaled, "the journal is unchanged")
    assert.include(await ok(journal, ["status", "t"]), "tenant t: initial 1,000, remaining 1,000")
  })

  it("a tenant id holding terminal escapes or a newline is shown quoted and escaped in text, exact in JSON (a hostile review: a fake row in status)", async () => {
    const journal = journalOf("escapes.jsonl")
    await ok(journal, ["init"])
    const id = "evil\u001b[2J\nfake          999"
    await ok(journal, ["ensure", "--tenant", id, "--amount", "5"])
    await ok(journal, ["ensure", "--tenant", "plain", "--amount", "7"])
    for (const args of [["status"], ["status", id], ["cap", "--tenant", id, "--max", "3"]]) {
      const text = await ok(journal, args)
      assert.notMatch(text, /[\u0000-\u0009\u000b-\u001f]/, args.join(" "))
      assert.include(text, `"evil\\u001b[2J\\u000afake          999"`, args.join(" "))
      assert.notInclude(text, "\nfake", args.join(" "))
    }
    const json = parse(await ok(journal, ["status", "--json"]))
    const tenants = member(json, "tenants") as ReadonlyArray<Json.JsonObject>
    assert.deepStrictEqual(tenants.map((t) => t.get("tenant_id")), [id, "plain"])
  })

  it("status shows a hold that has expired as released, and does not write the journal", async () => {
    const journal = journalOf("expired.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "t", "--amount", "1000"])
    await ok(journal, ["reserve", "--tenant", "t", "--amount", "400", "--expires", "1 second"])
    await ok(journal, ["reserve", "--tenant", "t", "--amount", "100"])
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const journaled = fs.readFileSync(journal)
    assert.include(await ok(journal, ["status"]), "1 tenant, 1 open reservation")
    const one = await ok(journal, ["status", "t"])
    assert.include(one, "tenant t: initial 1,000, remaining 900, reserved 100, committed 0 microcents")
    assert.notInclude(one, "hold 1:")
    assert.include(one, "hold 2: 100 microcents")
    assert.strictEqual(
      await ok(journal, ["status", "t", "--json"]),
      `{"tenant_id":"t","initial_microcents":1000,"remaining_microcents":900,"reserved_microcents":100,"committed_microcents":0}\n`
    )
    assert.deepStrictEqual(fs.readFileSync(journal), journaled, "status wrote nothing")
  })

  it("status shows a hold that expires past the last date JavaScript can print (a hostile review: it died)", async () => {
    const journal = journalOf("far-expiry.jsonl")
    await ok(journal, ["init"])
    await ok(journal, ["ensure", "--tenant", "t", "--amount", "10"])
    await ok(journal, ["reserve", "--tenant", "t", "--amount", "1", "--expires", "100000000 days"])
    const one = await ok(journal, ["status", "t"])
    assert.match(one, /hold 1: 1 microcents \(expires at \d+ ms after the epoch\)\n$/)
  })

  it("status prints every tenant, cap and hold exactly as before the ledger's queries replaced read(f)", async () => {
    // expected bytes captured from the CLI before issue 13's queries (same journal, same commands)
    const journal = journalOf("status-exact.jsonl")
    await ok(journal, ["init"])
    for (
      const [tenant, amount] of [["a", "1000000"], ["b", "5000"], ["😀", "77"], ["é", "9007199254740993"]] as const
    ) {
      await ok(journal, ["ensure", "--tenant", tenant, "--amount", amount])
    }
    for (const [tenant, max] of [["a", "600000"], ["ghost", "5"], ["é", "9007199254740993"]] as const) {
      await ok(journal, ["cap", "--tenant", tenant, "--max", max])
    }
    for (
      const args of [
        ["--tenant", "a", "--amount", "1000"],
        ["--tenant", "b", "--amount", "300", "--expires", "1 second"],
        ["--tenant", "a", "--amount", "20", "--expires", "1 hour"],
        ["--tenant", "é", "--amount", "9007199254740990"],
        ["--tenant", "b", "--amount", "1"]
      ]
    ) await ok(journal, ["reserve", ...args])
    await ok(journal, ["commit", "--reservation", "1", "--amount", "5"])
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const journaled = fs.readFileSync(journal)
    assert.strictEqual(
      await ok(journal, ["status"]),
      [
        "4 tenants, 3 open reservations, snapshot version 0",
        "",
        "tenant                initial  remaining               reserved  committed                    cap",
        "------  ---------------------  ---------  ---------------------  ---------  ---------------------",
        "a                   1,000,000    999,975                     20          5                600,000",
        "b                       5,000      4,999                      1          0",
        "é       9,007,199,254,740,993          3  9,007,199,254,740,990          0  9,007,199,254,740,993",
        "😀                         77         77                      0          0",
        ""
      ].join("\n")
    )
    assert.strictEqual(
      await ok(journal, ["status", "--json"]),
      `{"version":0,"tenants":[{"tenant_id":"a","initial_microcents":1000000,"remaining_microcents":999975,"reserved_microcents":20,"committed_microcents":5},{"tenant_id":"b","initial_microcents":5000,"remaining_microcents":4999,"reserved_microcents":1,"committed_microcents":0},{"tenant_id":"é","initial_microcents":9007199254740993,"remaining_microcents":3,"reserved_microcents":9007199254740990,"committed_microcents":0},{"tenant_id":"😀","initial_microcents":77,"remaining_microcents":77,"reserved_microcents":0,"committed_microcents":0}],"active_reservations":3}\n`
    )
    assert.match(
      await ok(journal, ["status", "a"]),
      /^tenant a: initial 1,000,000, remaining 999,975, reserved 20, committed 5 microcents\nexposure cap: 600,000 microcents\nhold 3: 20 microcents \(expires at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)\n$/
    )
    assert.strictEqual(
      await ok(journal, ["status", "b"]),
      "tenant b: initial 5,000, remaining 4,999, reserved 1, committed 0 microcents\nhold 5: 1 microcents\n"
    )
    assert.strictEqual(
      await ok(journal, ["status", "é"]),
      "tenant é: initial 9,007,199,254,740,993, remaining 3, reserved 9,007,199,254,740,990, committed 0 microcents\nexposure cap: 9,007,199,254,740,993 microcents\nhold 4: 9,007,199,254,740,990 microcents\n"
    )
    assert.strictEqual(
      await ok(journal, ["status", "😀", "--json"]),
      `{"tenant_id":"😀","initial_microcents":77,"remaining_microcents":77,"reserved_microcents":0,"committed_microcents":0}\n`
    )
    // a cap names "ghost", but there is no such tenant
    const ghost = await budget(journal, ["status", "ghost"])
    assert.strictEqual(ghost.code, 2)
    assert.include(ghost.stderr, `no tenant ghost in ${journal}`)
    assert.deepStrictEqual(fs.readFileSync(journal), journaled, "status wrote nothing")
  })
})

describe("budget on a database that never answers", () => {
  it(
    "a server that accepts the connection and stays silent: exit 1 'timed out connecting', never a hang, never the password (a hostile review)",
    async () => {
      const sockets: Array<net.Socket> = []
      const server = net.createServer((socket) => void sockets.push(socket))
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as net.AddressInfo).port
      try {
        const r = await calybris(["budget", "status", "--database", `postgres://u:Sil3nt-pw@127.0.0.1:${port}/db`])
        assert.strictEqual(r.code, 1, r.stderr)
        assert.strictEqual(
          r.stderr.trim(),
          `DatabaseError: status on 127.0.0.1:${port}/db failed: timed out connecting`
        )
        assert.notInclude(r.stdout + r.stderr, "Sil3nt-pw")
        assert.isAtLeast(sockets.length, 1, "it did connect")
      } finally {
        for (const socket of sockets) socket.destroy()
        server.close()
      }
    },
    120_000
  )
})

describe("budget journal export --out \"\"", () => {
  it("is bad usage (exit 2), refused before the database is asked (none listens here)", async () => {
    const r = await calybris([
      "budget",
      "journal",
      "export",
      "--database",
      "postgres://u@127.0.0.1:1/db",
      "--tenant",
      "acme",
      "--out",
      ""
    ])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.strictEqual(r.stderr.trim(), `UsageError: --out "": an empty path; name a new file`)
    assert.strictEqual(r.stdout, "")
  })
})
