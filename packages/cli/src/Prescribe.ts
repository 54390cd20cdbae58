/**
 * `calybris prescribe`: decide inputs under a policy, one JSON line per input.
 *
 * Inputs come from `--input FILE` (one JSON document), `--inputs FILE.jsonl` or stdin (JSON
 * Lines). Batches are STREAMED: bytes are split into lines a chunk at a time, each line is
 * parsed losslessly, decoded, decided and printed before the next chunk is read, so memory
 * stays bounded for any number of inputs. The first bad line stops the run with exit 2 and a
 * message naming the file, the line, the field and the value.
 *
 * Output per input: the decision, or — with `--trace` and/or `--audit` —
 * `{"decision":…,"trace":…,"audit":…}` (only the members asked for). Integers print exactly.
 */
import * as Codec from "@calybris/core/Codec"
import * as Decision from "@calybris/core/Decision"
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import type { Policy } from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { InputError, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import { readInput, readPolicy } from "./Documents.js"
import { inputError, isBlank, type Line, lineChunks, requireFile, STDIN, stdinOnce, streamFile } from "./Files.js"
import { printLines, setJson, streamLines } from "./Output.js"
import { Stdio } from "./Stdio.js"

/** What to print for each input. */
export interface Shape {
  readonly trace: boolean
  readonly audit: boolean
}

// compiled from the wire Schemas (`Codec`): byte for byte what the Schemas and `Json.print` give
const printDecision = Codec.printer(Decision.Decision)
const printTrace = Codec.printer(Decision.Trace)
const printAudit = Codec.printer(Verify.AuditBundle)
const decodeInput = Codec.compileDecoder(Input.Input)

/** The output line of one decided input. */
export const render = (policy: Policy, input: Input.Input, shape: Shape): string => {
  if (!shape.trace && !shape.audit) return printDecision(Kernel.prescribe(policy, input))
  const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
  let out = `{"decision":${printDecision(decision)}`
  if (shape.trace) out += `,"trace":${printTrace(trace)}`
  // the decision was computed just above from this policy and input: its bundle needs no replay
  if (shape.audit) out += `,"audit":${printAudit(Verify.auditBundleOfPrescribed(policy, input, decision))}`
  return `${out}}`
}

/** The reference's typed decoding of an input line (serde's errors: a repeated field is one). */
const decodeInputText = JsonSchema.decodeText(Input.Input)

/** Decide one JSON Lines line (blank lines give nothing). */
const decideLine = (
  policy: Policy,
  shape: Shape,
  file: string,
  line: Line
): Either.Either<string | null, InputError> => {
  if (isBlank(line.text)) return Either.right(null)
  // the common case: an object without a repeated key that the compiled decoder accepts
  const parsed = Json.parse(line.text)
  if (decodeInput !== undefined && Either.isRight(parsed) && !Json.hadRepeatedKey()) {
    const fast = decodeInput(parsed.right)
    if (fast !== Codec.FAIL && fast !== Codec.DEFER) return Either.right(render(policy, fast, shape))
  }
  // anything else: the typed decoding decides, and words the error as the reference does
  return Either.mapBoth(decodeInputText(line.text), {
    onLeft: inputError(file, line.line, line.text),
    onRight: (input) => render(policy, input, shape)
  })
}

/** Decide every line of a JSON Lines byte stream, printing a chunk of results at a time. */
export const decideStream = <E, R>(
  policy: Policy,
  shape: Shape,
  file: string,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<void, E | InputError, R | Stdio> =>
  lineChunks(bytes, file).pipe(
    Stream.runForEach((lines) => {
      const out: Array<string> = []
      for (const line of lines) {
        const result = decideLine(policy, shape, file, line)
        if (Either.isLeft(result)) return Effect.zipRight(streamLines(out), Effect.fail(result.left))
        if (result.right !== null) out.push(result.right)
      }
      return streamLines(out)
    })
  )

/** `calybris prescribe` (options: `Commands.prescribeOptions`). */
export const run = (flags: Commands.FlagsOf<typeof Commands.prescribeOptions>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    if (Option.isSome(flags.input) && Option.isSome(flags.inputs)) {
      return yield* new UsageError({ reason: "give --input or --inputs, not both" })
    }
    const implicitStdin = Option.isNone(flags.input) && Option.isNone(flags.inputs)
    yield* stdinOnce([
      ["--policy", flags.policy === STDIN],
      ["--input", Option.contains(flags.input, STDIN)],
      ["--inputs", Option.contains(flags.inputs, STDIN)],
      ["the JSON Lines inputs (no --input or --inputs given)", implicitStdin]
    ])
    const policy = yield* readPolicy(flags.policy)
    const shape: Shape = { trace: flags.trace, audit: flags.audit }
    const stdio = yield* Stdio
    if (Option.contains(flags.inputs, STDIN)) return yield* decideStream(policy, shape, "<stdin>", stdio.stdin)
    if (Option.isSome(flags.input)) {
      const input = yield* readInput(flags.input.value)
      return yield* printLines([render(policy, input, shape)])
    }
    if (Option.isSome(flags.inputs)) {
      // a regular file (pipes go to stdin: the file reader reads at positions)
      yield* requireFile(flags.inputs.value).pipe(
        Effect.mapError((e) =>
          e.reason.startsWith("not a regular file")
            ? new InputError({ file: e.file, reason: `${e.reason}: pipe JSON Lines into stdin instead` })
            : e
        )
      )
      return yield* decideStream(policy, shape, flags.inputs.value, streamFile(flags.inputs.value))
    }
    if (stdio.stdinIsTTY) {
      return yield* new UsageError({
        reason: "no inputs: give --input FILE or --inputs FILE.jsonl, or pipe JSON Lines into stdin"
      })
    }
    return yield* decideStream(policy, shape, "<stdin>", stdio.stdin)
  })
