/**
 * Reading the CLI's input files: whole JSON documents (a policy, one input) and JSON Lines
 * streamed in bounded memory (a million inputs never sit in memory at once). Every problem is
 * an `InputError` naming the file, the line (and column for bad JSON), the field and the value.
 * Wire data is parsed with our lossless parser (`Json.parse`), never `JSON.parse`.
 */
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { InputError } from "./CliError.js"

/** What a platform error means to a user. */
export const platformReason = (error: PlatformError): string => {
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "NotFound":
        return "no such file"
      case "PermissionDenied":
        return "permission denied"
      case "AlreadyExists":
        return "already exists"
      default:
        return error.description ?? error.message
    }
  }
  return error.description ?? error.message
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** A whole file's bytes. */
export const readBytes = (path: string): Effect.Effect<Uint8Array, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path)).pipe(
    Effect.mapError((e) => new InputError({ file: path, reason: platformReason(e) }))
  )

/**
 * The longest whole-file document read into one string: the engine's longest string (V8:
 * 2^29 - 24 UTF-16 units), counted in bytes (a UTF-8 file never decodes to more units than it
 * has bytes). A larger file is refused as too large, not misreported as "not valid UTF-8".
 */
export const MAX_DOCUMENT_BYTES = 2 ** 29 - 24

const tooLarge = (path: string, size: number | bigint, maxBytes: number) =>
  new InputError({
    file: path,
    reason: `too large: ${size} bytes (a JSON document is read whole, at most ${maxBytes} bytes)`
  })

/** A whole file as UTF-8 text (at most `maxBytes` bytes). */
export const readText = (
  path: string,
  maxBytes: number = MAX_DOCUMENT_BYTES
): Effect.Effect<string, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(path)).pipe(
    Effect.mapError((e) => new InputError({ file: path, reason: platformReason(e) })),
    // a regular file larger than the limit is refused before it is read
    Effect.flatMap((info) =>
      info.type === "File" && info.size > BigInt(maxBytes)
        ? Effect.fail(tooLarge(path, info.size, maxBytes))
        : readBytes(path)
    ),
    Effect.flatMap((bytes) =>
      bytes.length > maxBytes
        ? Effect.fail(tooLarge(path, bytes.length, maxBytes))
        : Effect.try({
          try: () => decoder.decode(bytes),
          catch: () => new InputError({ file: path, reason: "not valid UTF-8" })
        })
    )
  )

/** `models[2].quality_bps` from a Schema issue path. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`,
    ""
  )

/**
 * An `InputError` from a JSON syntax error, a typed-decoding error (serde's message, naming the
 * field) or a Schema error, at a file (and a line of it).
 */
export const inputError =
  (file: string, line?: number, text?: string) => (error: Json.JsonParseError | ParseResult.ParseError): InputError => {
    const at = line === undefined ? {} : { line }
    if (error._tag === "JsonParseError") {
      // serde only says "expected value at line 1 column 1": name what is there
      const bom = text !== undefined && text.charCodeAt(0) === 0xfeff && error.line === 1 && error.column === 1
        ? ` (a byte order mark (U+FEFF) at the start of ${line === undefined ? "the file" : `line ${line}`})`
        : ""
      return new InputError({
        file,
        line: line ?? error.line,
        column: error.column,
        ...(error.field === undefined ? {} : { field: error.field }),
        reason: (error.category === "Data" ? error.message : `invalid JSON: ${error.message}`) + bom
      })
    }
    const { field, message } = JsonSchema.describeError(error)
    return field === ""
      ? new InputError({ file, ...at, reason: message })
      : new InputError({ file, ...at, field, reason: message })
  }

/** Read a whole-file JSON document and decode it with a wire schema. */
export const decodeFile = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = JsonSchema.decodeText(schema)
  return (path: string): Effect.Effect<A, InputError, FileSystem.FileSystem> =>
    Effect.flatMap(readText(path), (text) => Either.mapLeft(decode(text), inputError(path, undefined, text)))
}

/** One line of a text stream: its 1-based number and its text (without LF / CRLF). */
export interface Line {
  readonly line: number
  readonly text: string
}

/** The longest line accepted (hostile input protection). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Splits byte chunks into lines (LF, with an optional CR before it), decoding each as UTF-8. */
export class LineSplitter {
  private pending: Uint8Array = new Uint8Array(0)
  private number = 0

  constructor(private readonly file: string) {}

  /** The complete lines a chunk finishes. */
  push(chunk: Uint8Array): Either.Either<Array<Line>, InputError> {
    const buffer = concat(this.pending, chunk)
    const out: Array<Line> = []
    let start = 0
    for (;;) {
      const lf = buffer.indexOf(0x0a, start)
      if (lf < 0) break
      const line = this.decode(buffer.subarray(start, lf))
      if (Either.isLeft(line)) return Either.left(line.left)
      out.push(line.right)
      start = lf + 1
    }
    this.pending = start === 0 ? buffer : buffer.slice(start)
    if (this.pending.length > MAX_LINE_BYTES) {
      return Either.left(
        new InputError({ file: this.file, line: this.number + 1, reason: `line longer than ${MAX_LINE_BYTES} bytes` })
      )
    }
    return Either.right(out)
  }

  /** The final line, when the input does not end with a newline. */
  end(): Either.Either<Array<Line>, InputError> {
    if (this.pending.length === 0) return Either.right([])
    const last = this.decode(this.pending)
    this.pending = new Uint8Array(0)
    return Either.map(last, (line) => [line])
  }

  private decode(raw: Uint8Array): Either.Either<Line, InputError> {
    this.number++
    const bytes = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw
    try {
      return Either.right({ line: this.number, text: decoder.decode(bytes) })
    } catch {
      return Either.left(new InputError({ file: this.file, line: this.number, reason: "not valid UTF-8" }))
    }
  }
}

/**
 * The lines of a byte stream, in chunks (one array per input chunk, so a consumer can work a
 * chunk at a time), in bounded memory.
 */
export const lineChunks = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  file: string
): Stream.Stream<Array<Line>, E | InputError, R> =>
  Stream.suspend(() => {
    const splitter = new LineSplitter(file)
    return bytes.pipe(
      Stream.mapEffect((chunk) => splitter.push(chunk)),
      Stream.concat(Stream.fromEffect(Effect.suspend(() => splitter.end()))),
      Stream.filter((lines) => lines.length > 0)
    )
  })

/** Only JSON whitespace (such lines are skipped in JSON Lines input). */
export const isBlank = (text: string): boolean => /^[ \t\r]*$/.test(text)

/** A file's bytes, streamed (a missing file is an `InputError` naming it). */
export const streamFile = (
  path: string,
  chunkSize: number = 256 * 1024
): Stream.Stream<Uint8Array, InputError, FileSystem.FileSystem> =>
  Stream.unwrap(Effect.map(FileSystem.FileSystem, (fs) => fs.stream(path, { chunkSize }))).pipe(
    Stream.mapError((e) => new InputError({ file: path, reason: platformReason(e) }))
  )

/** Fail with an `InputError` unless the file exists. */
export const requireFile = (path: string): Effect.Effect<void, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(path)).pipe(
    Effect.mapError((e) => new InputError({ file: path, reason: platformReason(e) })),
    Effect.flatMap((info) =>
      info.type === "File" ? Effect.void : Effect.fail(new InputError({ file: path, reason: "not a regular file" }))
    )
  )
