/** `--help` for every command, and usage errors (exit 2) printed once by `@effect/cli`. */
import { assert, describe, it } from "@effect/vitest"
import { calybris, mapLimit } from "./support/cli.js"

const commands: ReadonlyArray<ReadonlyArray<string>> = [
  [],
  ["prescribe"],
  ["explain"],
  ["policy"],
  ["policy", "validate"],
  ["policy", "digest"],
  ["wal"],
  ["wal", "verify"],
  ["wal", "show"],
  ["wal", "replay"],
  ["wal", "repair"],
  ["budget"],
  ...["init", "ensure", "top-up", "cap", "reserve", "commit", "release", "status", "prove", "certify", "admit"].map((
    c
  ) => ["budget", c]),
  ["budget", "migrate"],
  ["demo"],
  // a group inside a group: its help lists its own subcommands
  ["budget", "journal"],
  ["budget", "journal", "export"],
  ["budget", "journal", "audit"]
]

describe("help and usage", () => {
  it("prints help for every command (exit 0)", async () => {
    const results = await mapLimit(commands, 4, (c) => calybris([...c, "--help"]))
    results.forEach((r, i) => {
      const command = commands[i] ?? []
      assert.strictEqual(r.code, 0, `${command.join(" ")} --help: ${r.stderr}`)
      assert.include(r.stdout, "USAGE", command.join(" "))
      // the usage names the full command, as it is typed
      assert.match(
        r.stdout,
        new RegExp(`^calybris${command.map((c) => ` ${c}`).join("")}( |$)`, "m"),
        command.join(" ")
      )
    })
    const [budget, reserve] = [results[11], results[16]]
    assert.include(budget?.stdout, "- init --journal FILE")
    assert.include(budget?.stdout, "- reserve [--journal FILE] [--database URL]")
    assert.include(budget?.stdout, "- migrate [--database URL]")
    assert.include(reserve?.stdout, "--amount MICROCENTS")
    assert.include(reserve?.stdout, "--key-file PATH")
    assert.include(reserve?.stdout, "--durability always | batch | never")
    const [journal, exported, audit] = results.slice(-3)
    assert.include(journal?.stdout, "- export [--database URL] --tenant TENANT [--out FILE]")
    assert.include(journal?.stdout, "- audit [--database URL] [--tenant TENANT] [--key-file PATH] [--key-env NAME]")
    assert.include(exported?.stdout, "--out FILE")
    assert.include(audit?.stdout, "--key-env NAME")
  })

  it("reports usage errors once, with exit 2", async () => {
    const [unknown, missing, badChoice] = await mapLimit(
      [["frobnicate"], ["prescribe", "--input", "x.json"], [
        "budget",
        "status",
        "--journal",
        "j",
        "--durability",
        "sometimes"
      ]],
      3,
      (args) => calybris(args)
    )
    assert.strictEqual(unknown?.code, 2)
    assert.include(unknown?.stderr, "Invalid subcommand for calybris")
    assert.strictEqual(missing?.code, 2)
    assert.include(missing?.stderr, "--policy")
    assert.strictEqual(badChoice?.code, 2)
    for (const r of [unknown, missing, badChoice]) assert.notInclude(r?.stderr, "ValidationError")
  })
})
