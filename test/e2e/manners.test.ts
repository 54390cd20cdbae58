/**
 * The CLI's manners (issue 12, items 5, 9, 10 and 11): help that says what `--durability never`
 * costs, an invalid policy refused as bad input by every command, errors people can act on
 * (sentences instead of errno codes, misuse exits 2, no file or FIFO that hangs, no error that
 * echoes more than a short excerpt of user data), every result before a bad line printed, and a
 * `--wizard` that never waits on a stdin that is not a terminal.
 */
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, mapLimit, type Result, sh, shellCommand, shellWord, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("manners")
const policyFile = write(dir, "policy.json", policyText)
const inputFile = write(dir, "input.json", inputLine())
/** A policy `Policy.make` refuses (a bps limit above 10000). */
const invalidPolicyFile = write(
  dir,
  "invalid-policy.json",
  policyText.replace(`"hard_risk_limit_bps": 9600`, `"hard_risk_limit_bps": 10001`)
)
const aDirectory = path.join(dir, "a-directory")
fs.mkdirSync(aDirectory)
const aFile = write(dir, "a-file", "")
/** A path through a regular file, as if it were a directory. */
const throughAFile = path.join(aFile, "x.json")

/** A FIFO nobody writes to (opening it for reading blocks until a writer comes). */
const fifo = (name: string): string => {
  const file = path.join(dir, name)
  execFileSync("mkfifo", [file])
  return file
}

/** Whitespace collapsed (help text is wrapped to the terminal's width). */
const flat = (text: string | undefined): string => (text ?? "").replace(/\s+/g, " ")

const show = (r: Result | undefined): string => `exit ${r?.code}\nstdout: ${r?.stdout}\nstderr: ${r?.stderr}`

describe("--durability never (item 5)", () => {
  it("says in every budget command's help that it loses acknowledged operations on a crash", async () => {
    const commands = ["init", "reserve", "commit", "admit", "status"]
    const results = await mapLimit(commands, 3, (c) => calybris(["budget", c, "--help"]))
    results.forEach((r, i) => {
      assert.strictEqual(r.code, 0, show(r))
      const help = flat(r.stdout)
      assert.include(help, "LOSES ACKNOWLEDGED OPERATIONS", commands[i])
      assert.include(help, "process crash", commands[i])
    })
  })
})

describe("wal replay under an invalid policy (item 9)", () => {
  it("is refused as bad input (exit 2, prescribe's message) before the log is read", async () => {
    const journal = path.join(dir, "replay-journal.jsonl")
    const setup = [
      ["budget", "init", "--journal", journal],
      ["budget", "ensure", "--journal", journal, "--tenant", "t", "--amount", "100000000000"],
      ["budget", "admit", "--journal", journal, "--tenant", "t", "--policy", policyFile, "--input", inputFile]
    ]
    for (const args of setup) {
      const r = await calybris(args)
      assert.strictEqual(r.code, 0, show(r))
    }
    const empty = path.join(dir, "replay-empty-journal.jsonl")
    assert.strictEqual((await calybris(["budget", "init", "--journal", empty])).code, 0)
    const [prescribed, replayed, replayedEmpty, replayedMissing, replayedJson] = await mapLimit(
      [
        ["prescribe", "--policy", invalidPolicyFile, "--input", inputFile],
        ["wal", "replay", journal, "--policy", invalidPolicyFile],
        ["wal", "replay", empty, "--policy", invalidPolicyFile],
        // the policy is checked before the log is even looked at
        ["wal", "replay", path.join(dir, "no-such-log.jsonl"), "--policy", invalidPolicyFile],
        ["wal", "replay", journal, "--policy", policyFile, "--policy", invalidPolicyFile, "--json"]
      ],
      3,
      (args) => calybris(args)
    )
    assert.strictEqual(prescribed?.code, 2, show(prescribed))
    assert.include(prescribed?.stderr, "invalid policy (OutOfRangeBps)")
    for (const r of [replayed, replayedEmpty, replayedMissing]) {
      assert.strictEqual(r?.code, 2, show(r))
      assert.strictEqual(r?.stderr, prescribed?.stderr)
      assert.strictEqual(r?.stdout, "")
    }
    assert.strictEqual(replayedJson?.code, 2, show(replayedJson))
    const error = Either.getOrThrow(Json.parse(replayedJson?.stderr ?? ""))
    assert.isTrue(Json.isObject(error))
    const fields = Json.isObject(error) ? error.get("error") : undefined
    assert.isTrue(fields !== undefined && Json.isObject(fields))
    if (fields !== undefined && Json.isObject(fields)) {
      assert.strictEqual(fields.get("_tag"), "InputError")
      assert.strictEqual(Number(fields.get("exit_code")), 2)
    }
  })
})

describe("a database URL with a password on the command line", () => {
  it("is never repeated in an error: a stray or misspelt one is refused by position (exit 2), text and --json (a helper's hostile review)", async () => {
    const url = "postgresql://gw:S3cretPW@127.0.0.1:9/ledger"
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["budget", "migrate", url],
      ["budget", "migrate", `--databse=${url}`, "--json"],
      ["budget", "status", "--journal", url]
    ]
    for (const args of cases) {
      const r = await calybris(args)
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.include(r.stderr, "holds a URL with a password")
      assert.notInclude(r.stdout + r.stderr, "S3cretPW", args.join(" "))
    }
  })
})

describe("a bad --id or --tenant", () => {
  it("is refused before the ledger is opened or the database connected (exit 2, InvalidArgument): nothing pinned, nothing written (a helper's hostile review)", async () => {
    // a database nobody listens on: the refusal comes first, without a connection attempt
    const unreachable = "postgresql://gw@127.0.0.1:9/ledger"
    const longId = "i".repeat(302)
    const longTenant = "t".repeat(1025)
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["budget", "reserve", "--tenant", "a", "--amount", "5", "--id", longId, "--database", unreachable],
      ["budget", "top-up", "--tenant", "a", "--amount", "5", "--id", "", "--database", unreachable],
      ["budget", "ensure", "--tenant", longTenant, "--amount", "5", "--database", unreachable],
      ["budget", "commit", "--reservation", "1", "--amount", "5", "--id", longId, "--database", unreachable]
    ]
    for (const args of cases) {
      const r = await calybris(args, { env: { CALYBRIS_DATABASE_URL: "" } })
      assert.strictEqual(r.code, 2, `${args.slice(0, 2).join(" ")}: ${r.stderr}`)
      assert.include(r.stderr, "InvalidArgument", args.slice(0, 2).join(" "))
      assert.notInclude(r.stderr, "DatabaseError")
    }
    // on a journal file: refused before it is opened (its bytes and time unchanged)
    const dir = tempDir("args-first")
    const journal = path.join(dir, "j.jsonl")
    assert.strictEqual((await calybris(["budget", "init", "--journal", journal])).code, 0)
    const before = fs.statSync(journal)
    const r = await calybris([
      "budget",
      "reserve",
      "--tenant",
      "a",
      "--amount",
      "5",
      "--id",
      longId,
      "--journal",
      journal
    ])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.include(r.stderr, "InvalidArgument")
    assert.strictEqual(fs.statSync(journal).mtimeMs, before.mtimeMs)
    assert.isFalse(fs.existsSync(`${journal}.lock`))
  })
})

describe("errors people can act on (item 10)", () => {
  it("says a path is a directory, or goes through a file, in a sentence (exit 2)", async () => {
    const journal = path.join(dir, "eisdir-journal.jsonl")
    assert.strictEqual((await calybris(["budget", "init", "--journal", journal])).code, 0)
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["prescribe", "--policy", aDirectory, "--input", inputFile], `${aDirectory}: it is a directory`],
      [["prescribe", "--policy", throughAFile, "--input", inputFile], "is not a directory"],
      [["prescribe", "--policy", policyFile, "--input", aDirectory], `${aDirectory}: it is a directory`],
      [["prescribe", "--policy", policyFile, "--input", throughAFile], "is not a directory"],
      [["prescribe", "--policy", policyFile, "--inputs", aDirectory], `${aDirectory}: it is a directory`],
      [["prescribe", "--policy", policyFile, "--inputs", throughAFile], "is not a directory"],
      [["explain", "--policy", policyFile, "--input", aDirectory], `${aDirectory}: it is a directory`],
      [["policy", "validate", aDirectory], `${aDirectory}: it is a directory`],
      [["policy", "digest", throughAFile], "is not a directory"],
      [["wal", "verify", journal, "--key-file", aDirectory], `--key-file ${aDirectory}: it is a directory`],
      [["wal", "verify", journal, "--key-file", throughAFile], "is not a directory"],
      [["wal", "verify", aDirectory], `${aDirectory}: it is a directory`],
      [["wal", "show", throughAFile], "is not a directory"],
      [["wal", "replay", journal, "--policy", aDirectory], `${aDirectory}: it is a directory`],
      [["budget", "status", "--journal", aDirectory], `${aDirectory}: it is a directory`],
      [["budget", "status", "--journal", throughAFile], "is not a directory"],
      [["budget", "prove", "--journal", aDirectory], `${aDirectory}: it is a directory`],
      [["budget", "init", "--journal", aDirectory], `${aDirectory}: it is a directory`],
      [["budget", "init", "--journal", throughAFile], "is not a directory"],
      [["budget", "init", "--journal", path.join(dir, "no-such-dir", "j.jsonl")], "no such directory"],
      [
        ["budget", "admit", "--journal", journal, "--tenant", "t", "--policy", policyFile, "--input", aDirectory],
        "it is a directory"
      ],
      [["demo", "--dir", aFile], "is not a directory"]
    ]
    const results = await mapLimit(cases, 4, ([args]) => calybris(args))
    results.forEach((r, i) => {
      const [args, phrase] = cases[i] ?? [[], ""]
      const what = `calybris ${args.join(" ")}\n${show(r)}`
      assert.strictEqual(r.code, 2, what)
      assert.include(r.stderr, phrase, what)
      assert.notMatch(r.stderr, /EISDIR|ENOTDIR|ENOENT|illegal operation/, what)
    })
  })

  it("refuses a FIFO given as a document or a journal at once instead of waiting for a writer (exit 2)", async () => {
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["prescribe", "--policy", fifo("policy.fifo"), "--input", inputFile],
      ["prescribe", "--policy", policyFile, "--input", fifo("input.fifo")],
      ["explain", "--policy", policyFile, "--input", fifo("explain.fifo")],
      ["policy", "validate", fifo("validate.fifo")],
      ["wal", "verify", policyFile, "--key-file", fifo("key.fifo")],
      ["wal", "replay", policyFile, "--policy", fifo("replay.fifo")],
      ["budget", "status", "--journal", fifo("journal.fifo")],
      ["budget", "init", "--journal", fifo("init.fifo")]
    ]
    const results = await mapLimit(cases, 4, (args) => calybris(args, { timeoutMs: 15_000 }))
    results.forEach((r, i) => {
      const what = `calybris ${(cases[i] ?? []).join(" ")}\n${show(r)}`
      assert.strictEqual(r.code, 2, what)
      assert.include(r.stderr, "not a regular file", what)
    })
  })

  it("reads a document from stdin given as -, and refuses to read stdin twice (exit 2)", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, number, string]> = [
      [["prescribe", "--policy", "-", "--input", inputFile], policyText, 0, `"request_sequence":1,`],
      [["prescribe", "--policy", policyFile, "--input", "-"], inputLine(), 0, `"request_sequence":1,`],
      [["prescribe", "--policy", policyFile, "--inputs", "-"], `${inputLine()}\n${inputLine()}\n`, 0, "}\n{"],
      [["policy", "validate", "-"], policyText, 0, "ok"],
      [["explain", "--policy", "-", "--input", inputFile], policyText, 0, "model"],
      [["prescribe", "--policy", "-", "--input", inputFile], "{", 2, "InputError: <stdin> line 1"],
      [["prescribe", "--policy", "-"], policyText, 2, "--policy and the JSON Lines inputs"],
      [["explain", "--policy", "-", "--input", "-"], policyText, 2, "standard input can be read only once"],
      [["wal", "replay", aFile, "--policy", "-", "--policy", "-"], policyText, 2, "read only once"]
    ]
    const results = await mapLimit(cases, 4, ([args, stdin]) => calybris(args, { stdin, timeoutMs: 15_000 }))
    results.forEach((r, i) => {
      const [args, , code, phrase] = cases[i] ?? [[], "", 0, ""]
      const what = `calybris ${args.join(" ")}\n${show(r)}`
      assert.strictEqual(r.code, code, what)
      assert.include(code === 0 ? r.stdout : r.stderr, phrase, what)
    })
  })

  it("refuses a directory as stdin (exit 2) instead of deciding nothing and exiting 0", async () => {
    const r = await calybris(["prescribe", "--policy", policyFile], { stdinFrom: aDirectory, timeoutMs: 15_000 })
    assert.strictEqual(r.code, 2, show(r))
    assert.include(r.stderr, "<stdin>: it is a directory")
  })

  it("a failure to write stdout (a full disk) is one line, IoError, exit 1: never a stack trace (a helper's hostile review)", async () => {
    for (
      const args of [["policy", "digest", policyFile], [
        "prescribe",
        "--policy",
        policyFile,
        "--input",
        inputFile,
        "--json"
      ]]
    ) {
      const r = await calybris(args, { stdoutFile: "/dev/full" })
      assert.strictEqual(r.code, 1, show(r))
      assert.match(r.stderr, /^IoError: write <stdout> failed: ENOSPC: no space left on device, write\n$/, show(r))
    }
  })

  it("a ledger command whose stdout fails closes its journal before it exits: no lock file left behind (a hostile review)", async () => {
    const key = write(dir, "stdout.key", `hex:${"7".repeat(64)}\n`)
    const journal = path.join(dir, "stdout-journal.jsonl")
    const ledger = ["--journal", journal, "--key-file", key]
    assert.strictEqual((await calybris(["budget", "init", ...ledger])).code, 0)
    assert.strictEqual((await calybris(["budget", "ensure", ...ledger, "--tenant", "t", "--amount", "10"])).code, 0)
    const r = await calybris(["budget", "top-up", ...ledger, "--tenant", "t", "--amount", "1"], {
      stdoutFile: "/dev/full"
    })
    assert.strictEqual(r.code, 1, show(r))
    assert.match(r.stderr, /^IoError: write <stdout> failed: ENOSPC: no space left on device, write\n$/, show(r))
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith("stdout-journal")), ["stdout-journal.jsonl"])
    // the top-up itself was journaled (it completed before its output), and the next writer opens at once
    const status = await calybris(["budget", "status", ...ledger, "--json"])
    assert.strictEqual(status.code, 0, show(status))
    assert.include(status.stdout, "\"initial_microcents\":11")
  })

  it("a command that changed the ledger exits 1 when its stdout's reader went away, a reading command 0; a stderr that cannot be written changes no exit code (a hostile review)", async () => {
    const key = write(dir, "epipe.key", `hex:${"6".repeat(64)}\n`)
    const journal = path.join(dir, "epipe-journal.jsonl")
    const ledger = ["--journal", journal, "--key-file", key]
    assert.strictEqual((await calybris(["budget", "init", ...ledger])).code, 0)
    assert.strictEqual((await calybris(["budget", "ensure", ...ledger, "--tenant", "t", "--amount", "100"])).code, 0)
    const cli = await shellCommand()
    const line = (args: ReadonlyArray<string>) => `${cli} ${args.map(shellWord).join(" ")}`
    // the reader of stdout closes its end at once: the CLI's write fails with EPIPE
    const lost = (args: ReadonlyArray<string>) =>
      sh(`( ${line(args)}; echo "exit=$?" >&2 ) | true`, { timeoutMs: 30_000 })
    const reserve = await lost(["budget", "reserve", ...ledger, "--tenant", "t", "--amount", "7", "--json"])
    assert.match(reserve.stderr, /^IoError: write <stdout> failed: write EPIPE\nexit=1\n$/, show(reserve))
    const show1 = await lost(["wal", "show", journal, "--key-file", key])
    assert.match(show1.stderr, /^exit=0\n$/, show(show1))
    // an operation id that reads like a flag is an id: the reserve ran (a review); help runs nothing
    const dashId = await lost(["budget", "reserve", ...ledger, "--tenant", "t", "--amount", "1", "--id", "-h"])
    assert.match(dashId.stderr, /^IoError: write <stdout> failed: write EPIPE\nexit=1\n$/, show(dashId))
    for (const args of [["budget", "reserve", "--help"], ["budget", "reserve", "--log-level", "info", "--help"]]) {
      const help = await lost(args)
      assert.match(help.stderr, /^exit=0\n$/, show(help))
    }
    // the reserve had applied: exit 1 told the operator so
    const status = await calybris(["budget", "status", ...ledger, "t", "--json"])
    assert.include(status.stdout, "\"reserved_microcents\":8", show(status))
    // stderr on a full device: a top-up that applied and printed its result exits 0 (it was 1: a
    // retry without --id applied it twice)
    const topUp = await sh(`${line(["budget", "top-up", ...ledger, "--tenant", "t", "--amount", "1"])} 2>/dev/full`)
    assert.strictEqual(topUp.code, 0, show(topUp))
    assert.match(topUp.stdout, /^ToppedUp: added_microcents=1 /)
    const failing = await sh(`${line(["budget", "status", ...ledger, "nobody"])} 2>/dev/full`)
    assert.strictEqual(failing.code, 2, show(failing))
  })

  it("a path it reports on success is escaped as in errors: a newline or an escape sequence in it cannot draw on the terminal (a hostile review)", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "weird-"))
    const key = write(cwd, "k", `hex:${"5".repeat(64)}\n`)
    const name = "we ird\nj\u001b[31mRED.jsonl"
    const r = await calybris(["budget", "init", "--journal", name, "--key-file", key], { cwd })
    assert.strictEqual(r.code, 0, show(r))
    assert.match(r.stdout, /^initialized we ird\\u000aj\\u001b\[31mRED\.jsonl \(/, show(r))
    assert.notInclude(r.stdout, "\u001b")
    assert.strictEqual(r.stdout.split("\n").length, 2, show(r))
  })

  it("never echoes more than a short excerpt of a bad input line (text and --json)", async () => {
    /** a run of data longer than any excerpt (80 characters) */
    const EXCERPT_RUN = 50
    const huge = 2 * 1024 * 1024
    const array = write(dir, "array.jsonl", `${inputLine()}\n[${"0,".repeat(huge / 2)}0]\n`)
    const long = `{"request_sequence":"${"y ".repeat(huge / 2)}"}`
    const spaced = write(dir, "spaced.jsonl", `${inputLine()}\n${long}\n`)
    const document = write(dir, "spaced.json", long)
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["prescribe", "--policy", policyFile, "--inputs", array],
      ["prescribe", "--policy", policyFile, "--inputs", array, "--json"],
      ["prescribe", "--policy", policyFile, "--inputs", spaced],
      ["prescribe", "--policy", policyFile, "--inputs", spaced, "--json"],
      ["prescribe", "--policy", policyFile, "--input", document]
    ]
    const results = await mapLimit(cases, 3, (args) => calybris(args))
    results.forEach((r, i) => {
      const args = cases[i] ?? []
      const what = `calybris ${args.join(" ")}\nexit ${r.code}\nstderr: ${r.stderr.slice(0, 2000)}`
      assert.strictEqual(r.code, 2, what)
      assert.isBelow(r.stderr.length, 600, what)
      // the data is never echoed beyond an excerpt: cut with "…" where quoted (the array line's error,
      // serde's "trailing characters" after the struct's 13 fields, quotes none of it)
      assert.notInclude(r.stderr, "0,".repeat(EXCERPT_RUN), what)
      assert.notInclude(r.stderr, "y ".repeat(EXCERPT_RUN), what)
      if (!args.includes(array)) assert.include(r.stderr, "…", what)
      assert.include(r.stderr, args.includes("--input") ? `${document} line 1 column ` : " line 2 ", what)
      if (!args.includes(array)) assert.include(r.stderr, "field request_sequence", what)
      if (args.includes("--json")) {
        const error = Json.parse(r.stderr)
        assert.isTrue(Either.isRight(error), what)
      }
    })
  })
})

describe("smaller promises (item 11)", () => {
  it("prints every result before an invalid UTF-8 line, across many chunks (--inputs and stdin)", async () => {
    const valid = 5_000
    const lines = Array.from({ length: valid }, (_, i) => inputLine({ request_sequence: `${i + 1}` }))
    const bytes = Buffer.concat([
      Buffer.from(`${lines.join("\n")}\n`),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from(`${inputLine()}\n`)
    ])
    const file = write(dir, "bad-utf8.jsonl", bytes)
    const [fromFile, fromStdin] = await Promise.all([
      calybris(["prescribe", "--policy", policyFile, "--inputs", file]),
      calybris(["prescribe", "--policy", policyFile], { stdin: bytes })
    ])
    for (const [r, name] of [[fromFile, file], [fromStdin, "<stdin>"]] as const) {
      const what = `exit ${r.code}\nstderr: ${r.stderr}\nstdout lines: ${r.stdout.split("\n").length - 1}`
      assert.strictEqual(r.code, 2, what)
      assert.include(r.stderr, `${name} line ${valid + 1}: not valid UTF-8`, what)
      const out = r.stdout.split("\n")
      assert.strictEqual(out.length - 1, valid, what)
      assert.strictEqual(out[valid], "")
      out.slice(0, valid).forEach((line, i) => {
        if (!line.includes(`"request_sequence":${i + 1},`)) assert.fail(`output line ${i + 1}: ${line}`)
      })
    }
  })

  it("refuses --wizard at once (exit 2) when stdin is not a terminal, even if stdin never closes", async () => {
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["--wizard"],
      ["budget", "status", "--wizard"],
      ["prescribe", "--wizard"]
    ]
    const started = Date.now()
    const results = await mapLimit(cases, 3, (args) => calybris(args, { keepStdinOpen: true, timeoutMs: 15_000 }))
    results.forEach((r, i) => {
      const what = `calybris ${(cases[i] ?? []).join(" ")}\n${show(r)}`
      assert.strictEqual(r.code, 2, what)
      assert.include(r.stderr, "--wizard needs a terminal", what)
    })
    assert.isBelow(Date.now() - started, 15_000)
  })
})
