/**
 * What the CLI prints: results on stdout (JSON through our lossless printer, so u64/i64 stay
 * exact), failures on stderr as `<_tag>: <message>` — or, when the command ran with `--json`,
 * as one JSON object `{"error":{"_tag":…,"message":…,"exit_code":…,…fields}}`.
 *
 * `@effect/cli` prints its own usage errors (`ValidationError`); `report` skips them, so
 * nothing is printed twice (STYLE §8).
 */
import * as Json from "@calybris/core/Json"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { exitCodeOf } from "./CliError.js"
import { Stdio } from "./Stdio.js"

/** Whether the running command was asked for `--json` (decides how failures are printed). */
export class OutputMode extends Context.Tag("@calybris/cli/OutputMode")<OutputMode, Ref.Ref<boolean>>() {}

export const layerOutputMode: Layer.Layer<OutputMode> = Layer.effect(OutputMode, Ref.make(false))

/** Record the command's `--json` flag. Every handler calls it first. */
export const setJson = (json: boolean): Effect.Effect<void, never, OutputMode> =>
  Effect.flatMap(OutputMode, (mode) => Ref.set(mode, json))

/** A JSON object from members in order. */
export const obj = (members: ReadonlyArray<readonly [string, Json.Json]>): Json.JsonObject => new Map(members)

/** Print one JSON value as a compact line on stdout. */
export const printJson = (value: Json.Json): Effect.Effect<void> => Console.log(Json.print(value))

/** Print lines of text on stdout. */
export const printLines = (lines: ReadonlyArray<string>): Effect.Effect<void> =>
  lines.length === 0 ? Effect.void : Console.log(lines.join("\n"))

/** Write lines on stdout through `Stdio`, waiting until they are flushed (streamed output). */
export const streamLines = (lines: ReadonlyArray<string>): Effect.Effect<void, never, Stdio> =>
  lines.length === 0 ? Effect.void : Effect.flatMap(Stdio, (stdio) => stdio.writeStdout(`${lines.join("\n")}\n`))

/** Print text or JSON depending on `json`. */
export const emit = (json: boolean, text: () => ReadonlyArray<string>, value: () => Json.Json): Effect.Effect<void> =>
  json ? printJson(value()) : printLines(text())

const isPrimitive = (v: unknown): v is string | number | bigint | boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "bigint" || typeof v === "boolean"

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "Error"

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/** A failure as JSON: its tag, message, exit code and its primitive fields (never a `cause`). */
export const errorJson = (error: unknown): Json.JsonObject => {
  const members: Array<readonly [string, Json.Json]> = [
    ["_tag", tagOf(error)],
    ["message", messageOf(error)],
    ["exit_code", exitCodeOf(error)]
  ]
  if (typeof error === "object" && error !== null) {
    for (const [k, v] of Object.entries(error)) {
      if (k !== "_tag" && k !== "message" && k !== "cause" && isPrimitive(v)) members.push([k, v])
    }
  }
  return obj([["error", obj(members)]])
}

/** Print a failed command's cause on stderr (skipping usage errors `@effect/cli` printed itself). */
export const report = <E>(cause: Cause.Cause<E>): Effect.Effect<void, never, OutputMode> =>
  Effect.gen(function*() {
    if (Cause.isInterruptedOnly(cause)) return
    const json = yield* Ref.get(yield* OutputMode)
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (ValidationError.isValidationError(error)) return
      yield* Console.error(json ? Json.print(errorJson(error)) : `${tagOf(error)}: ${messageOf(error)}`)
      return
    }
    const defect = Cause.dieOption(cause)
    const what = Option.isSome(defect) ? messageOf(defect.value) : Cause.pretty(cause)
    yield* Console.error(
      json ?
        Json.print(obj([["error", obj([["_tag", "Defect"], ["message", what], ["exit_code", 1]])]])) :
        `Defect: ${what}`
    )
  })

/** Exit code of a finished program: 0, or the code of its failure (1 for defects). */
export const exitCodeOfCause = <E>(cause: Cause.Cause<E>): number => {
  if (Cause.isInterruptedOnly(cause)) return 130
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) ? exitCodeOf(failure.value) : 1
}
