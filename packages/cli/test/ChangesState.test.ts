/**
 * Which command lines change state or print what cannot be had again (`Cli.changesState`): their
 * output lost to a reader gone away (EPIPE) is exit 1, anyone else's exit 0 (bin.ts).
 */
import * as Cli from "@calybris/cli/Cli"
import { assert, describe, it } from "@effect/vitest"

describe("Cli.changesState", () => {
  it("the ledger's writes, certify and (on a database) prove, wal repair, log keygen and checkpoint, demo", () => {
    for (
      const line of [
        "budget reserve --journal j --tenant t --amount 1",
        "--log-level debug budget top-up --journal j --tenant t --amount 1",
        "budget init --journal j",
        "budget migrate --database URL",
        "budget certify --journal j",
        "budget prove --database URL",
        "wal repair j",
        "log keygen --name n --out f",
        "log checkpoint --log j",
        "demo",
        "budget reserve --journal j -- --help",
        "budget reserve --journal j --tenant t --amount 1 --id -h",
        "budget reserve --help",
        "budget --wizard",
        "--wizard"
      ]
    ) assert.isTrue(Cli.changesState(line.split(" ")), line)
  })

  it("not the reading commands (a command's help is told apart when run parses the line: Cli.informational)", () => {
    for (
      const line of [
        "wal show j",
        "wal verify j",
        "budget status --journal j",
        "budget journal export --tenant t",
        "prescribe --policy p",
        "policy digest p",
        "log prove 1 --log j",
        ""
      ]
    ) assert.isFalse(Cli.changesState(line === "" ? [] : line.split(" ")), line)
  })
})
