import * as Cli from "@calybris/cli/Cli"
import * as Output from "@calybris/cli/Output"
import { Stdio } from "@calybris/cli/Stdio"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/** Run `calybris args…` with stdout a terminal or not, and collect what it logs. */
const run = (args: ReadonlyArray<string>, stdoutColor: boolean) =>
  Effect.gen(function*() {
    const logged: Array<string> = []
    const console: Console.Console = {
      ...(yield* Console.consoleWith(Effect.succeed)),
      log: (...parts) => Effect.sync(() => void logged.push(parts.join(" ")))
    }
    const stdio = Layer.succeed(
      Stdio,
      Stdio.of({
        stdin: Stream.empty,
        stdinIsTTY: false,
        stderrIsTTY: false,
        stdoutColor,
        writeStdout: (text) => Effect.sync(() => void logged.push(text)),
        writeStderr: () => Effect.void
      })
    )
    yield* Cli.run(["node", "calybris", ...args]).pipe(
      Effect.withConsole(console),
      Effect.provide(Layer.mergeAll(NodeContext.layer, stdio, Output.layerOutputMode))
    )
    return logged.join("")
  })

describe("Cli.run help and version", () => {
  it.effect("renders help as plain text unless stdout may carry colour", () =>
    Effect.gen(function*() {
      for (const args of [["--help"], ["budget"], ["budget", "reserve", "--help"], ["wal", "verify", "-h"]]) {
        const plain = yield* run(args, false)
        const coloured = yield* run(args, true)
        assert.include(plain, "USAGE", args.join(" "))
        assert.notInclude(plain, "\x1b[", args.join(" "))
        assert.include(coloured, "\x1b[", args.join(" "))
        // the same text, colour aside
        assert.strictEqual(coloured.replace(/\x1b\[[0-9;]*m/g, ""), plain, args.join(" "))
      }
    }))

  it.effect("names the full command in a subcommand's usage, with no banner", () =>
    Effect.gen(function*() {
      const reserve = yield* run(["budget", "reserve", "--help"], false)
      assert.isTrue(reserve.startsWith("USAGE\n\ncalybris budget reserve [--journal FILE] [--database URL] "), reserve)
      const root = yield* run(["--help"], false)
      assert.isTrue(root.startsWith(`calybris ${Cli.VERSION}\n\nUSAGE\n\ncalybris\n`), root)
    }))

  it.effect("prints the version alone", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* run(["--version"], true), Cli.VERSION)
    }))
})
