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
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { exitCodeOf } from "./CliError.js"
import * as Format from "./Format.js"
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

/**
 * An error's message; a `WalSequenceError`'s with the sequence expected there (the library keeps
 * the reference's text, "duplicate sequence: N", for a gap, a cut start and a swap alike).
 */
const messageOf = (error: unknown): string => {
  const text = error instanceof Error ? error.message : typeof error === "string" ? error : String(error)
  if (tagOf(error) !== "WalSequenceError") return text
  const { expected, sequence } = error as { readonly expected?: unknown; readonly sequence?: unknown }
  if (typeof expected !== "bigint" || typeof sequence !== "bigint") return text
  return `${text} (sequence ${expected} expected there: ${
    sequence < expected ? "an entry repeated or out of order" : "an entry missing before it, or out of order"
  })`
}

// ---------------------------------------------------------------------------------------------
// Bounded excerpts: an error never echoes more than a short piece of the user's data

/** The most characters of one piece of data (a quoted string, a run of non-blanks) an error shows. */
export const EXCERPT_CHARS = 80
/** The most characters of a whole printed message (a backstop: its head and tail around "…"). */
export const MESSAGE_CHARS = 2000
/**
 * Longer names (a path given on the command line, an error's `file`) are not kept whole: real
 * paths are shorter, and an over-long argument (a 1,025-character tenant id) is data too.
 */
const NAME_CHARS = 1024

/** The first `n` UTF-16 units of a text, without splitting a surrogate pair. */
const head = (text: string, n: number): string => {
  const code = text.charCodeAt(n - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n)
}

/** The last `n` UTF-16 units of a text, without splitting a surrogate pair. */
const tail = (text: string, n: number): string => {
  const start = text.length - n
  const code = text.charCodeAt(start)
  return text.slice(code >= 0xdc00 && code <= 0xdfff ? start + 1 : start)
}

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/**
 * Split a text into tokens: a quoted string (closed or not, with `\` escapes), a run of
 * non-blank characters, a run of blanks. A linear scan (no regular expression: a message may
 * hold megabytes).
 */
const tokens = (text: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < text.length) {
    const start = i
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      i++
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1
      i = Math.min(i + 1, text.length)
    } else if (isBlank(c)) {
      while (i < text.length && isBlank(text.charCodeAt(i))) i++
    } else {
      while (i < text.length && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x22) i++
    }
    out.push(text.slice(start, i))
  }
  return out
}

/**
 * A text bounded for printing. Every token longer than `EXCERPT_CHARS` — a quoted string, a run
 * of non-blank characters (compact JSON), a run of blanks — is cut to that many characters and
 * "…" (a quoted string keeps its closing quote), except the names in `keep` (the paths the
 * command line gave, the error's `file`): a token that is or holds one is kept up to that name
 * plus `EXCERPT_CHARS`. A text still longer than `MESSAGE_CHARS` keeps its head and its tail
 * around "…".
 */
export const bound = (text: string, keep: ReadonlyArray<string> = []): string => {
  if (text.length <= EXCERPT_CHARS) return text
  const names = keep.filter((k) => k.length > EXCERPT_CHARS / 4 && k.length <= NAME_CHARS)
  const out = tokens(text).map((token) => {
    if (token.length <= EXCERPT_CHARS) return token
    // an excerpt made upstream (a decoder quotes at most EXCERPT_CHARS characters and "…") stays as it is
    if (token.length <= EXCERPT_CHARS + 3 && token.endsWith("…\"")) return token
    let limit = EXCERPT_CHARS
    for (const name of names) {
      if (name.includes(token)) return token
      if (token.includes(name)) limit = Math.max(limit, name.length + EXCERPT_CHARS)
    }
    if (token.length <= limit) return token
    if (isBlank(token.charCodeAt(0))) return " … "
    return token.startsWith("\"") ? `${head(token, limit)}…"` : `${head(token, limit)}…`
  }).join("")
  if (out.length <= MESSAGE_CHARS) return out
  return `${head(out, MESSAGE_CHARS - 400)} … ${tail(out, 400)}`
}

/**
 * A broken chain's expected hash, withheld from every error the CLI prints (a nested one's
 * message too): it is the hash the entry should have, recomputed over the line as found — under
 * a key, the MAC of data whoever supplied the log chose. Shown to them, it would mint that entry
 * (an oracle: forge a line, have it verified, read the MAC). The sequence and the hash found
 * stay; the library's `WalChainBroken` keeps the reference's message (SPEC §6.8).
 */
const WITHHELD = "(withheld: the hash recomputed over the line, a MAC under a key, is never printed)"
const BROKEN_CHAIN = /(chain broken at sequence \d+: expected )[0-9a-f]{64}/g
export const withholdExpected = (text: string): string => text.replace(BROKEN_CHAIN, `$1${WITHHELD}`)

/**
 * A note signer key (`PRIVATE+KEY+…`) anywhere in an error's text, withheld to its prefix: the
 * library quotes none, and the CLI prints none whatever quoted it (a key file given where a
 * checkpoint goes; a hostile review).
 */
const SIGNER_KEY_TEXT = /PRIVATE\+KEY\+[^\s"]*/g
const withholdSignerKeys = (text: string): string => text.replace(SIGNER_KEY_TEXT, "PRIVATE+KEY+(withheld)")

/**
 * An error's text as the CLI prints it: the expected hash and signer keys withheld, bounded
 * (`bound`), and what a terminal would act on escaped (`Format.visible`; a defect's trace keeps
 * its lines).
 */
const printable = (text: string, keep: ReadonlyArray<string>, newlines = false): string =>
  Format.visible(bound(withholdSignerKeys(withholdExpected(text)), keep), newlines)

/**
 * The CLI's logger (what `--log-level` lets through): each line as `Logger.stringLogger` formats
 * it, cause and annotations included, then printed as an error's text is (`printable`: a broken
 * chain's expected hash and signer keys withheld, bounded, what a terminal acts on escaped), on
 * stderr. The pretty logger printed causes raw: with `--log-level debug`, a fiber's failure gave
 * a forged line's MAC under the key and a log's terminal escapes (a hostile review).
 */
export const logger: Logger.Logger<unknown, void> = Logger.withConsoleError(
  Logger.map(Logger.stringLogger, (line) => {
    // a log line whole (not cut per token as an error's data is: the review of this logger cut a
    // warning's reason at 80 characters), up to `MESSAGE_CHARS`; its newlines escaped (one
    // message printed no second line of its own making)
    const text = withholdSignerKeys(withholdExpected(line))
    return Format.visible(
      text.length <= MESSAGE_CHARS ? text : `${head(text, MESSAGE_CHARS - 400)} … ${tail(text, 400)}`
    )
  })
)

/** `logger` in place of the default one. */
export const layerLogger: Layer.Layer<never> = Logger.replace(Logger.defaultLogger, logger)

/** The names an error's message may echo whole: its `file`, `path` and `source` fields. */
const namesOf = (error: unknown): Array<string> => {
  if (typeof error !== "object" || error === null) return []
  const out: Array<string> = []
  for (const k of ["file", "path", "source"]) {
    const v: unknown = (error as Record<string, unknown>)[k]
    if (typeof v === "string") out.push(v, ...v.split(/\s+/))
  }
  return out
}

/**
 * A failure as JSON: its tag, message, exit code and its primitive fields (never a `cause`),
 * every text bounded (`bound`; `keep`: names that may be echoed whole).
 */
export const errorJson = (error: unknown, keep: ReadonlyArray<string> = []): Json.JsonObject => {
  const names = [...keep, ...namesOf(error)]
  const members: Array<readonly [string, Json.Json]> = [
    ["_tag", tagOf(error)],
    ["message", printable(messageOf(error), names)],
    ["exit_code", exitCodeOf(error)]
  ]
  if (typeof error === "object" && error !== null) {
    for (const [k, v] of Object.entries(error)) {
      if (k !== "_tag" && k !== "message" && k !== "cause" && isPrimitive(v)) {
        const withheld = k === "expected" && tagOf(error) === "WalChainBroken" && typeof v === "string" &&
          /^[0-9a-f]{64}$/.test(v)
        members.push([k, withheld ? WITHHELD : typeof v === "string" ? printable(v, names) : v])
      }
    }
  }
  return obj([["error", obj(members)]])
}

/**
 * Print a failed command's cause on stderr (skipping usage errors `@effect/cli` printed itself).
 * Every message is bounded (`bound`): no error echoes more than a short excerpt of the data it
 * is about. `keep`: the command line's arguments, which may be echoed whole (paths).
 */
export const report = <E>(
  cause: Cause.Cause<E>,
  keep: ReadonlyArray<string> = []
): Effect.Effect<void, never, OutputMode> =>
  Effect.gen(function*() {
    if (Cause.isInterruptedOnly(cause)) return
    const json = yield* Ref.get(yield* OutputMode)
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (ValidationError.isValidationError(error)) return
      yield* Console.error(
        json
          ? Json.print(errorJson(error, keep))
          : `${tagOf(error)}: ${printable(messageOf(error), [...keep, ...namesOf(error)])}`
      )
      return
    }
    const defect = Cause.dieOption(cause)
    const what = printable(Option.isSome(defect) ? messageOf(defect.value) : Cause.pretty(cause), keep, true)
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
