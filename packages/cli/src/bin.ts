#!/usr/bin/env node
/**
 * The `calybris` executable: the only place that supplies platform layers and runs effects.
 * Usage errors are printed by `@effect/cli`; every other failure is printed once by
 * `Output.report` (`<_tag>: <message>`, or JSON after `--json`), and the exit code is the
 * failure's (`Output.exitCodeOfCause`: 1 for verification/audit/operational failures, 2 for bad
 * usage or input).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as Cli from "./Cli.js"
import { InputError, IoError } from "./CliError.js"
import * as Invocation from "./Invocation.js"
import * as Output from "./Output.js"
import { Stdio } from "./Stdio.js"

/** Is stdin a directory (`calybris prescribe < folder`)? Node then reads nothing, as if it were empty. */
const stdinIsDirectory = (() => {
  try {
    return fs.fstatSync(0).isDirectory()
  } catch {
    return false
  }
})()

const StdioLive = Layer.succeed(
  Stdio,
  Stdio.of({
    stdin: stdinIsDirectory
      ? Stream.fail(new InputError({ file: "<stdin>", reason: "it is a directory" }))
      : NodeStream.fromReadable(
        () => process.stdin,
        (cause) => new IoError({ operation: "read", path: "<stdin>", reason: String(cause) })
      ),
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutColor: process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === "",
    // a write that failed ends the command (interrupted, so its finalizers run: a ledger's locks
    // are released; the exit code is set in the teardown below)
    writeStdout: (text) =>
      Effect.async<void>((resume) =>
        void process.stdout.write(
          text,
          (error) => {
            if (error === null || error === undefined) return resume(Effect.void)
            stdoutFailure(error)
            resume(Effect.interrupt)
          }
        )
      ),
    writeStderr: (text) => Effect.sync(() => void process.stderr.write(text))
  })
)

// The reader of our stdout went away (`calybris … | head`): nobody wants the rest; stop quietly,
// exit 0 — unless the command changed state or printed what cannot be had again
// (`Cli.changesState`): then, as any other failure to write it (a full disk, EIO), said in one
// line, exit 1 — not a stack trace (a helper's hostile review: `> /dev/full` printed Node's). Not
// by `process.exit` here: the command stops at its failed write and closes what it opened first
// (a ledger's lock file was left behind: a hostile review), then the teardown exits with this code.
// (which command changed state is worked out on a failed write only, not at every start-up)
let stdoutFailed: number | undefined = undefined
function stdoutFailure(error: NodeJS.ErrnoException): void {
  if (stdoutFailed !== undefined) return
  const lost = error.code !== "EPIPE" || (Cli.changesState(process.argv.slice(2)) && !Cli.informational())
  stdoutFailed = lost ? 1 : 0
  // (reported after the command ended, the process may exit without the teardown's code)
  process.exitCode = stdoutFailed
  if (stdoutFailed === 1) process.stderr.write(`IoError: write <stdout> failed: ${error.message}\n`)
}
process.stdout.on("error", stdoutFailure)
// stderr is for diagnostics: one that cannot be written (`2>/dev/full`, its reader gone) changes
// no exit code (unhandled, its error event threw after a top-up had applied and printed: exit 1,
// and a retry without --id applied it again; a hostile review)
process.stderr.on("error", () => {})

// how the user started the CLI, for the commands it prints (the demo's next steps)
const InvocationLive = Layer.succeed(
  Invocation.Invocation,
  Invocation.invocation({
    launcher: process.env["CALYBRIS_LAUNCHER"],
    root: process.env["CALYBRIS_LAUNCHER_ROOT"],
    script: process.argv[1],
    cwd: process.cwd(),
    packageManager: process.env["npm_execpath"],
    userAgent: process.env["npm_config_user_agent"]
  })
)

/**
 * The platform services the commands use (file system, paths, and the terminal `@effect/cli`'s
 * wizard needs): `NodeContext.layer` without its command executor and worker manager, which no
 * command uses and which would only add to every start-up.
 */
const PlatformLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

const MainLayer = Layer.mergeAll(PlatformLive, StdioLive, Output.layerOutputMode, InvocationLive, Output.layerLogger)

Cli.run(process.argv).pipe(
  // the command line's own arguments (paths) may be echoed whole; nothing else is (Output.bound)
  Effect.tapErrorCause((cause) => Output.report(cause, process.argv.slice(2))),
  // a failure is reported once, by `report`: no fiber's failure is logged besides (with
  // `--log-level debug` each was, its cause raw: a forged line's MAC under the key; a hostile
  // review), and what is logged goes through `Output.logger`, not the pretty logger
  Effect.withUnhandledErrorLogLevel(Option.none()),
  Effect.provide(MainLayer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // on failure runMain calls process.exit: let stdout and stderr flush first (pipes are async)
    // (a failed write of stdout, reported by now — after the flush, for one reported late — sets the code)
    teardown: (exit, onExit) => {
      const code = Exit.isSuccess(exit) ? 0 : Output.exitCodeOfCause(exit.cause)
      const finish = () => onExit(stdoutFailed ?? code)
      if (stdoutFailed !== undefined) process.stderr.write("", finish)
      else process.stdout.write("", () => process.stderr.write("", finish))
    }
  })
)
