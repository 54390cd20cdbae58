/**
 * The `calybris` command: every subcommand, assembled. Wiring (platform layers, error report,
 * exit codes) lives in `bin.ts`.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as BudgetCommand from "./BudgetCommand.js"
import { UsageError } from "./CliError.js"
import * as Demo from "./Demo.js"
import * as Explain from "./Explain.js"
import * as PolicyCommand from "./PolicyCommand.js"
import * as Prescribe from "./Prescribe.js"
import { Stdio } from "./Stdio.js"
import * as WalCommand from "./WalCommand.js"

export const VERSION = "0.1.0"

export const root = Command.make("calybris").pipe(
  Command.withDescription(
    "Decide, log and budget requests with proofs (wire-compatible with calybris-core 0.3.10). Exit codes: 0 success; 1 verification, audit or operational failure; 2 bad usage or input."
  ),
  Command.withSubcommands([
    Prescribe.command,
    Explain.command,
    PolicyCommand.command,
    WalCommand.command,
    BudgetCommand.command,
    Demo.command
  ])
)

const runRoot = Command.run(root, { name: "calybris", version: VERSION })

/** Does the command line ask for `@effect/cli`'s built-in `--wizard` (before any `--`)? */
const asksForWizard = (args: ReadonlyArray<string>): boolean => {
  const end = args.indexOf("--")
  return (end < 0 ? args : args.slice(0, end)).includes("--wizard")
}

/**
 * Run the command line (`process.argv`: the first two entries are node and the script).
 *
 * `--wizard` asks its questions on stdin: when stdin is not a terminal (a pipe, a file,
 * `/dev/null`) nobody can answer them and the wizard would wait forever, so it is refused at
 * once as bad usage (exit 2).
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.flatMap(Stdio, (stdio) =>
    !stdio.stdinIsTTY && asksForWizard(argv.slice(2))
      ? Effect.fail(
        new UsageError({
          reason:
            "--wizard needs a terminal: it asks its questions on standard input, which is not a terminal here; give the options on the command line instead (--help lists them)"
        })
      )
      : runRoot(argv))
