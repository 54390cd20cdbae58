/**
 * The `calybris` command: every subcommand, assembled. Wiring (platform layers, error report,
 * exit codes) lives in `bin.ts`.
 */
import * as Command from "@effect/cli/Command"
import * as BudgetCommand from "./BudgetCommand.js"
import * as Demo from "./Demo.js"
import * as Explain from "./Explain.js"
import * as PolicyCommand from "./PolicyCommand.js"
import * as Prescribe from "./Prescribe.js"
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

/** Run the command line (`process.argv`: the first two entries are node and the script). */
export const run = Command.run(root, { name: "calybris", version: VERSION })
