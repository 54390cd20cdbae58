/**
 * Output people and scripts can read (issue 14, "CLI manners"): no ANSI escape code when the
 * output is not a terminal or `NO_COLOR` is set (help of every command, errors, results),
 * `--version` on one line, and subcommand help that names the full command without a banner.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { calybris, mapLimit, type Result, tempDir, write } from "./support/cli.js"
import { policyText } from "./support/fixtures.js"

const ESC = "\x1b["
/** `NO_COLOR` unset (the test runner sets it by default; an empty value means unset) */
const colourAllowed = { NO_COLOR: "" }
const show = (r: Result | undefined) => `exit ${r?.code}\nstdout: ${r?.stdout}\nstderr: ${r?.stderr}`
const stripped = (text: string) => text.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "")

/**
 * Every command and subcommand, discovered from the root help's COMMANDS list (`- budget
 * reserve --journal FILE …`: the leading lower-case words), so a new command is covered too.
 */
const allCommands = async (): Promise<ReadonlyArray<ReadonlyArray<string>>> => {
  const r = await calybris(["--help"], { env: colourAllowed })
  assert.strictEqual(r.code, 0, show(r))
  const found: Array<ReadonlyArray<string>> = [[]]
  for (const line of stripped(r.stdout).split("\n")) {
    const m = /^\s+- (.*)$/.exec(line)
    if (m === null) continue
    const words: Array<string> = []
    for (const word of (m[1] ?? "").split(" ")) {
      if (!/^[a-z][a-z-]*$/.test(word)) break
      words.push(word)
    }
    if (words.length > 0) found.push(words)
  }
  return found
}

describe("no escape codes on a pipe or under NO_COLOR", () => {
  it("prints the help of every command and subcommand without escape codes when piped", async () => {
    const commands = await allCommands()
    const names = commands.map((c) => c.join(" "))
    for (
      const expected of ["", "prescribe", "explain", "policy validate", "wal", "wal repair", "budget reserve", "demo"]
    ) {
      assert.include(names, expected)
    }
    assert.isAtLeast(commands.length, 24)
    // `--help`, `-h`, and a group given without a subcommand (which prints its help)
    const runs = [
      ...commands.map((c) => [...c, "--help"]),
      ...commands.map((c) => [...c, "-h"]),
      ["policy"],
      ["wal"],
      ["budget"]
    ]
    const results = await mapLimit(runs, 4, (args) => calybris(args, { env: colourAllowed }))
    results.forEach((r, i) => {
      const what = `calybris ${(runs[i] ?? []).join(" ")}\n${show(r)}`
      assert.include(r.stdout, "USAGE", what)
      assert.notInclude(r.stdout, ESC, what)
      assert.notInclude(r.stderr, ESC, what)
    })
  })

  it("prints errors and results without escape codes when piped", async () => {
    const dir = tempDir("plain")
    const policy = write(dir, "policy.json", policyText)
    const runs: ReadonlyArray<ReadonlyArray<string>> = [
      ["frobnicate"],
      ["budget", "reserve", "--journal", "j"],
      ["budget", "status", "--journal", "j", "--durability", "sometimes"],
      ["prescribe", "--input", "x.json"],
      ["wal", "verify", "no-such.jsonl"],
      ["policy", "validate", policy],
      ["--version"]
    ]
    const results = await mapLimit(runs, 4, (args) => calybris(args, { env: colourAllowed }))
    results.forEach((r, i) => {
      const what = `calybris ${(runs[i] ?? []).join(" ")}\n${show(r)}`
      assert.isAbove(r.stdout.length + r.stderr.length, 0, what)
      assert.notInclude(r.stdout, ESC, what)
      assert.notInclude(r.stderr, ESC, what)
    })
  })

  // a pseudo-terminal comes from util-linux `script`
  const hasScript = spawnSync("script", ["--version"]).status === 0
  it.skipIf(!hasScript)("colours help on a terminal, and not under NO_COLOR (any non-empty value)", async () => {
    const runs: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--help"], ""],
      [["budget", "reserve", "--help"], ""],
      [["--help"], "1"],
      [["budget", "reserve", "--help"], "1"],
      [["wal"], "true"],
      [["frobnicate"], "0"],
      [["policy", "validate", "--help"], "0"]
    ]
    const results = await mapLimit(
      runs,
      4,
      ([args, noColor]) => calybris(args, { env: { NO_COLOR: noColor }, tty: true, timeoutMs: 30_000 })
    )
    results.forEach((r, i) => {
      const [args, noColor] = runs[i] ?? [[], ""]
      const what = `NO_COLOR=${noColor} calybris ${args.join(" ")} (on a terminal)\n${show(r)}`
      assert.isAbove(r.stdout.length, 0, what)
      if (noColor === "") assert.include(r.stdout, ESC, what)
      else assert.notInclude(r.stdout, ESC, what)
    })
  })
})

describe("--version", () => {
  it("prints exactly one line: the version", async () => {
    const results = await mapLimit([["--version"], ["--version"]], 2, (args) => calybris(args))
    for (const r of results) {
      assert.strictEqual(r.code, 0, show(r))
      assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/, show(r))
      assert.strictEqual(r.stderr, "")
    }
  })
})

describe("subcommand help", () => {
  it("names the full command in its usage, without a banner", async () => {
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["budget", "reserve", "--help"],
      ["budget", "--help", "reserve"],
      ["wal", "verify", "-h"],
      ["policy", "digest", "--help"],
      ["budget", "--help"],
      ["budget"],
      ["demo", "--help"]
    ]
    const results = await mapLimit(cases, 4, (args) => calybris(args))
    results.forEach((r, i) => {
      const args = cases[i] ?? []
      const command = args.filter((a) => !a.startsWith("-"))
      const what = `calybris ${args.join(" ")}\n${show(r)}`
      assert.strictEqual(r.code, 0, what)
      // the help starts with its usage: no banner, no version line
      assert.match(r.stdout, /^USAGE\n\n/, what)
      const usage = r.stdout.split("\n")[2] ?? ""
      assert.isTrue(
        usage === `calybris ${command.join(" ")}` || usage.startsWith(`calybris ${command.join(" ")} `),
        what
      )
      assert.notMatch(r.stdout, /^\$ /m, what)
    })
  })
})
