/**
 * `Cli.repeatedOption`: an option given twice that its command takes once is named before
 * `@effect/cli` parses the line (it reported such a line with a message about another option:
 * "Expected to find option: '--amount'", "Received unknown argument: '--id'" — a hostile review);
 * the options a command takes more than once (`Options.repeated`) may repeat.
 */
import { repeatedOption } from "@calybris/cli/Cli"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"

describe("Cli.repeatedOption", () => {
  it("names the first option given twice, as --flag value or --flag=value, booleans too; nothing after --", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string | undefined]> = [
      [["budget", "reserve", "--tenant", "t", "--tenant", "u", "--amount", "1"], "--tenant"],
      [["budget", "reserve", "--tenant", "t", "--amount", "1", "--id", "a", "--id=b"], "--id"],
      [["budget", "status", "--journal", "j", "--json", "--json"], "--json"],
      [["budget", "reserve", "--tenant", "t", "--amount", "1"], undefined],
      [["prescribe", "--policy", "a", "--policy", "b"], "--policy"],
      [["log", "prove", "3", "--log", "l", "--", "--log", "x"], undefined]
    ]
    for (const [args, name] of cases) assert.strictEqual(repeatedOption(args), name, args.join(" "))
  })

  it("lets the options a command repeats repeat (--vkey of log verify, --policy of wal replay), and no other", () => {
    assert.isUndefined(repeatedOption(["log", "verify", "--vkey", "a", "--vkey", "b", "--checkpoint", "c"]))
    assert.isUndefined(repeatedOption(["wal", "replay", "--policy", "a", "--policy=b", "log.jsonl"]))
    assert.strictEqual(repeatedOption(["log", "verify", "--checkpoint", "a", "--checkpoint", "b"]), "--checkpoint")
    // every `Options.repeated` in the commands is one of those two
    const source = fs.readFileSync(new URL("../src/Commands.ts", import.meta.url), "utf8")
    assert.strictEqual(source.split("Options.repeated").length - 1, 2)
  })
})
