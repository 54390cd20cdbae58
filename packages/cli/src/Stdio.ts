/**
 * The process's standard streams as a service, so commands stay platform-free: `bin.ts`
 * provides the Node implementation, tests can provide their own. Ordinary output goes through
 * `effect/Console`; this service covers what `Console` cannot do: read stdin as bytes, ask
 * whether a stream is a terminal, and write to stderr without a newline (progress lines).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { InputError, IoError } from "./CliError.js"

export class Stdio extends Context.Tag("@calybris/cli/Stdio")<Stdio, {
  /** standard input, as bytes (a directory given as stdin is an `InputError`) */
  readonly stdin: Stream.Stream<Uint8Array, IoError | InputError>
  /** is standard input a terminal (then nobody is piping anything in) */
  readonly stdinIsTTY: boolean
  /** is standard error a terminal (then progress is shown) */
  readonly stderrIsTTY: boolean
  /**
   * may standard output carry colour escape codes: it is a terminal and `NO_COLOR` is unset or
   * empty (https://no-color.org); otherwise help is plain text
   */
  readonly stdoutColor: boolean
  /**
   * Write text to standard output as is, completing once it is flushed: streamed output goes
   * through here, so a slow reader of a pipe holds the producer back (bounded memory) instead
   * of the process buffering everything.
   */
  readonly writeStdout: (text: string) => Effect.Effect<void>
  /** write text to standard error as is (no newline added) */
  readonly writeStderr: (text: string) => Effect.Effect<void>
}>() {}
