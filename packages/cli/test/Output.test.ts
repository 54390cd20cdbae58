import { InputError } from "@calybris/cli/CliError"
import * as Output from "@calybris/cli/Output"
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

describe("Output.bound", () => {
  it("cuts every quoted string or run of non-blanks longer than the excerpt limit, keeping the rest", () => {
    const long = "y".repeat(10_000)
    const text = `f.jsonl line 2: field a: Expected number, actual "${long}" and [${"0,".repeat(5_000)}0] end`
    const out = Output.bound(text)
    assert.isBelow(out.length, 300)
    assert.include(out, `actual "${"y".repeat(79)}…"`)
    assert.include(out, `[${"0,".repeat(39)}0…`)
    assert.isTrue(out.startsWith("f.jsonl line 2: field a: Expected number, actual"))
    assert.isTrue(out.endsWith(" and end") || out.endsWith("end"))
    // short texts and short tokens are left alone
    assert.strictEqual(Output.bound("short"), "short")
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ")
    assert.strictEqual(Output.bound(words), words)
  })

  it("keeps the names it is given whole (paths), and never splits a surrogate pair", () => {
    const path = `/${"deep/".repeat(40)}inputs.jsonl`
    assert.strictEqual(Output.bound(`${path}: no such file`, [path]), `${path}: no such file`)
    assert.isBelow(Output.bound(`${path}: no such file`).length, 100)
    // an over-long "name" (an argument of 1,025 characters) is data: bounded like the rest
    const tenant = "u".repeat(1_025)
    assert.isBelow(Output.bound(`no tenant ${tenant} in j.jsonl`, [tenant]).length, 120)
    const emoji = "😀".repeat(100)
    const cut = Output.bound(`x ${emoji}`)
    assert.isFalse(/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut))
  })

  it("bounds a message of many short tokens as a whole (head … tail)", () => {
    const out = Output.bound("ab ".repeat(100_000))
    assert.isAtMost(out.length, Output.MESSAGE_CHARS + 3)
  })

  it("bounds every text of an error printed as JSON, keeping its file", () => {
    const file = `/${"long-folder-name/".repeat(10)}inputs.jsonl`
    const error = new InputError({ file, line: 3, reason: `Expected JsonObject, actual "${"x".repeat(100_000)}"` })
    const printed = Json.print(Output.errorJson(error))
    assert.isBelow(printed.length, 1_000)
    assert.include(printed, `"file":"${file}"`)
  })
})

describe("Output.logger", () => {
  it.effect("prints a log line and its cause as an error's text is printed: a broken chain's expected hash withheld, escapes escaped, on stderr (a hostile review: the pretty logger printed them raw, on stdout)", () =>
    Effect.gen(function*() {
      const printed: Array<readonly [string, string]> = []
      const capture = (stream: string) => (...args: ReadonlyArray<unknown>) => {
        printed.push([stream, args.map(String).join(" ")])
      }
      const console: Console.Console = {
        ...globalThis.console,
        [Console.TypeId]: Console.TypeId,
        unsafe: { ...globalThis.console, log: capture("out"), info: capture("out"), error: capture("err") }
      } as unknown as Console.Console
      const mac = "ab".repeat(32)
      yield* Effect.logDebug("line \u001b]0;PWNED\u0007").pipe(
        Effect.annotateLogs("what", "\u001b[2J"),
        Effect.zipRight(
          Effect.logError(Cause.fail(new Error(`WAL chain broken at sequence 2: expected ${mac}, found x`)))
        ),
        Effect.provide(Output.layerLogger),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.withConsole(console)
      )
      assert.strictEqual(printed.length, 2)
      for (const [stream, text] of printed) {
        assert.strictEqual(stream, "err")
        assert.notInclude(text, "\u001b")
        assert.notInclude(text, "\u0007")
        assert.notInclude(text, mac)
      }
      assert.include(printed[0]?.[1], "line \\u001b]0;PWNED\\u0007")
      assert.include(printed[1]?.[1], "expected (withheld")
      // a message whole, up to 2,000 characters (the review of this logger: cut at 80), its newlines escaped
      printed.length = 0
      const reason = `ledger checkpoint skipped: ${"r".repeat(300)} the end\nlevel=ERROR message="forged"`
      yield* Effect.logWarning(reason).pipe(Effect.provide(Output.layerLogger), Effect.withConsole(console))
      assert.strictEqual(printed.length, 1)
      assert.include(printed[0]?.[1], `${"r".repeat(300)} the end`)
      assert.include(printed[0]?.[1], "level=ERROR")
      assert.notInclude(printed[0]?.[1], "\n")
    }))
})
