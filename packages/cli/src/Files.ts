/**
 * Reading the CLI's input files: whole JSON documents (a policy, one input) and JSON Lines
 * streamed in bounded memory (a million inputs never sit in memory at once). Every problem is
 * an `InputError` naming the file, the line (and column for bad JSON), the field and the value.
 * Wire data is parsed with our lossless parser (`Json.parse`), never `JSON.parse`.
 */
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Reader from "@calybris/wal/Reader"
import * as WalNode from "@calybris/wal/WalNode"
import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { InputError, type IoError, UsageError } from "./CliError.js"
import { Stdio } from "./Stdio.js"

/** The errno code (`EISDIR`, …) behind a platform error, when it has one. */
const errnoOf = (error: PlatformError): string | undefined => {
  const cause: unknown = error._tag === "SystemError" ? error.cause : undefined
  return typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
}

/** What a platform error means to a user: a short sentence, never an errno code. */
export const platformReason = (error: PlatformError): string => {
  switch (errnoOf(error)) {
    case "EISDIR":
      return "it is a directory"
    case "ENOTDIR":
      return "a component of the path is not a directory"
    case "ELOOP":
      return "too many levels of symbolic links"
    case "ENAMETOOLONG":
      return "the path is too long"
  }
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

const typeNames: Partial<Record<FileSystem.File.Type, string>> = {
  FIFO: "a FIFO",
  Socket: "a socket",
  CharacterDevice: "a character device",
  BlockDevice: "a block device"
}

/**
 * Why a file of this type is not read as a document or a log (`undefined`: a regular file).
 * A FIFO is refused rather than opened: opening one waits for a writer, forever if none comes.
 */
export const notRegular = (type: FileSystem.File.Type): string | undefined =>
  type === "File"
    ? undefined
    : type === "Directory"
    ? "it is a directory"
    : `not a regular file (${typeNames[type] ?? "a special file"})`

/** The path's `stat` (following symbolic links), unless it names no regular file: `InputError`. */
const regularInfo = (path: string): Effect.Effect<FileSystem.File.Info, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(path)).pipe(
    Effect.mapError((e) => new InputError({ file: path, reason: platformReason(e) })),
    Effect.flatMap((info) => {
      const reason = notRegular(info.type)
      return reason === undefined ? Effect.succeed(info) : Effect.fail(new InputError({ file: path, reason }))
    })
  )

/**
 * Fail with an `InputError` unless the path names a regular file (following symbolic links):
 * a missing file, a directory, a FIFO, a device.
 */
export const requireFile = (path: string): Effect.Effect<void, InputError, FileSystem.FileSystem> =>
  Effect.asVoid(regularInfo(path))

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * A whole file's bytes. Only a regular file is read (checked first): a directory or a FIFO is
 * refused at once, so a FIFO nobody writes to cannot hang the command. With `maxBytes`, a larger
 * file is refused before it is read (and one that grew meanwhile, after).
 */
export const readBytes = (
  path: string,
  maxBytes?: number
): Effect.Effect<Uint8Array, InputError, FileSystem.FileSystem> =>
  regularInfo(path).pipe(
    Effect.flatMap((info) =>
      maxBytes !== undefined && info.size > BigInt(maxBytes)
        ? Effect.fail(tooLarge(path, info.size, maxBytes))
        : readRegular(path)
    ),
    Effect.flatMap((bytes) =>
      maxBytes !== undefined && bytes.length > maxBytes
        ? Effect.fail(tooLarge(path, bytes.length, maxBytes))
        : Effect.succeed(bytes)
    )
  )

/** The bytes of a path already known to name a regular file. */
const readRegular = (path: string): Effect.Effect<Uint8Array, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path)).pipe(
    Effect.mapError((e) => new InputError({ file: path, reason: platformReason(e) }))
  )

/** The path that names standard input for a document (`--policy -`, `--input -`, `policy validate -`). */
export const STDIN = "-"

/** The path that names standard output for a file written (`budget journal export --out -`). */
export const STDOUT = "-"

/**
 * Refuse an empty path given for a file the command is to write (`--out ""`), before anything
 * is done: no key made, no database asked.
 */
export const requireOutPath = (flag: string, path: string): Effect.Effect<void, UsageError> =>
  path === "" ? Effect.fail(new UsageError({ reason: `${flag} "": an empty path; name a new file` })) : Effect.void

/** How a document's path is named in messages (`<stdin>` for `-`). */
export const nameOf = (path: string): string => (path === STDIN ? "<stdin>" : path)

/** The longest document read from standard input. */
export const MAX_STDIN_DOCUMENT_BYTES = 64 * 1024 * 1024

/** Standard input's bytes, whole (a document given as `-`). */
const readStdin: Effect.Effect<Uint8Array, InputError | IoError, Stdio> = Effect.flatMap(
  Stdio,
  (stdio) =>
    stdio.stdin.pipe(
      Stream.runFoldEffect(
        { parts: [] as Array<Uint8Array>, length: 0 },
        (acc, chunk): Effect.Effect<{ parts: Array<Uint8Array>; length: number }, InputError> => {
          if (acc.length + chunk.length > MAX_STDIN_DOCUMENT_BYTES) {
            return Effect.fail(
              new InputError({ file: "<stdin>", reason: `longer than ${MAX_STDIN_DOCUMENT_BYTES} bytes` })
            )
          }
          acc.parts.push(chunk)
          return Effect.succeed({ parts: acc.parts, length: acc.length + chunk.length })
        }
      ),
      Effect.map((acc) => join(acc.parts, acc.length))
    )
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
    reason: `too large: ${size} bytes (it is read whole, at most ${maxBytes} bytes)`
  })

const utf8 = (path: string, bytes: Uint8Array): Effect.Effect<string, InputError> =>
  Effect.try({
    try: () => decoder.decode(bytes),
    catch: () => new InputError({ file: nameOf(path), reason: "not valid UTF-8" })
  })

/**
 * A whole regular file as UTF-8 text, at most `maxBytes` bytes (a larger one is refused before
 * it is read).
 */
export const readText = (
  path: string,
  maxBytes: number = MAX_DOCUMENT_BYTES
): Effect.Effect<string, InputError, FileSystem.FileSystem> =>
  Effect.flatMap(readBytes(path, maxBytes), (bytes) => utf8(path, bytes))

/** A whole document as UTF-8 text: a regular file (`readText`), or standard input when the path is `-`. */
export const readDocument = (
  path: string
): Effect.Effect<string, InputError | IoError, FileSystem.FileSystem | Stdio> =>
  path === STDIN ? Effect.flatMap(readStdin, (bytes) => utf8(path, bytes)) : readText(path)

/**
 * Refuse a command line that gives standard input to more than one reader (`-` for two
 * documents, or `-` for a document while the inputs come from stdin): it can be read once.
 * `readers`: each reader's name and whether it reads stdin.
 */
export const stdinOnce = (
  readers: ReadonlyArray<readonly [name: string, readsStdin: boolean]>
): Effect.Effect<void, UsageError> => {
  const names = readers.filter(([, reads]) => reads).map(([name]) => name)
  return names.length <= 1 ? Effect.void : Effect.fail(
    new UsageError({
      reason: `standard input can be read only once, and it would be read for ${
        names.join(" and ")
      }: give files for all but one`
    })
  )
}

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

/** Read a whole JSON document (a regular file, or stdin for `-`) and decode it with a wire schema. */
export const decodeFile = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = JsonSchema.decodeText(schema)
  return (path: string): Effect.Effect<A, InputError | IoError, FileSystem.FileSystem | Stdio> =>
    Effect.flatMap(
      readDocument(path),
      (text) => Either.mapLeft(decode(text), inputError(nameOf(path), undefined, text))
    )
}

/** One line of a text stream: its 1-based number and its text (without LF / CRLF). */
export interface Line {
  readonly line: number
  readonly text: string
}

/** The longest line accepted (hostile input protection). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024

/** The bytes of several parts, as one array. */
const join = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/**
 * The complete lines of a chunk, and the problem that stopped it (a line that is not UTF-8 or
 * too long): the lines before that problem are still given, so a consumer handles every one of
 * them before it reports the problem.
 */
export interface Lines {
  readonly lines: Array<Line>
  readonly error: InputError | undefined
}

/**
 * Splits byte chunks into lines (LF, with an optional CR before it), decoding each as UTF-8.
 * The start of an unfinished line is kept as a list of parts and joined once, when its LF
 * arrives; a chunk is searched for LF once: a line of many chunks costs linear time.
 */
export class LineSplitter {
  private pending: Array<Uint8Array> = []
  private pendingLength = 0
  private number = 0

  constructor(private readonly file: string) {}

  /** The complete lines a chunk finishes (up to the first bad one). */
  push(chunk: Uint8Array): Lines {
    const out: Array<Line> = []
    let start = 0
    for (let lf = chunk.indexOf(0x0a); lf >= 0; lf = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, lf)
      const raw = this.pending.length === 0 ? piece : join([...this.pending, piece], this.pendingLength + piece.length)
      this.pending = []
      this.pendingLength = 0
      const line = this.decode(raw)
      if (Either.isLeft(line)) return { lines: out, error: line.left }
      out.push(line.right)
      start = lf + 1
    }
    if (start < chunk.length) {
      // a copy: the chunk's buffer may be reused by its producer
      this.pending.push(chunk.slice(start))
      this.pendingLength += chunk.length - start
    }
    // (a CR at the end is not counted: an LF may follow it in the next chunk, and a CR before
    // the LF is not the line's)
    const last = this.pending[this.pending.length - 1]
    if (this.pendingLength - (last !== undefined && last[last.length - 1] === 0x0d ? 1 : 0) > MAX_LINE_BYTES) {
      return { lines: out, error: this.tooLong(this.number + 1) }
    }
    return { lines: out, error: undefined }
  }

  /** The final line, when the input does not end with a newline. */
  end(): Lines {
    if (this.pendingLength === 0) return { lines: [], error: undefined }
    const last = this.decode(join(this.pending, this.pendingLength))
    this.pending = []
    this.pendingLength = 0
    return Either.isLeft(last) ? { lines: [], error: last.left } : { lines: [last.right], error: undefined }
  }

  private tooLong(line: number): InputError {
    return new InputError({ file: this.file, line, reason: `line longer than ${MAX_LINE_BYTES} bytes` })
  }

  private decode(raw: Uint8Array): Either.Either<Line, InputError> {
    this.number++
    const bytes = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw
    // every line measured, whichever chunks brought it (not only the part left pending)
    if (bytes.length > MAX_LINE_BYTES) return Either.left(this.tooLong(this.number))
    try {
      return Either.right({ line: this.number, text: decoder.decode(bytes) })
    } catch {
      return Either.left(new InputError({ file: this.file, line: this.number, reason: "not valid UTF-8" }))
    }
  }
}

/** The lines as one stream element, then the problem that stopped them (if any). */
const emitLines = ({ error, lines }: Lines): Stream.Stream<Array<Line>, InputError> => {
  const head = lines.length === 0 ? Stream.empty : Stream.succeed(lines)
  return error === undefined ? head : Stream.concat(head, Stream.fail(error))
}

/**
 * The lines of a byte stream, in chunks (one array per input chunk, so a consumer can work a
 * chunk at a time), in bounded memory. A bad line ends the stream with its `InputError` after
 * every line before it.
 */
export const lineChunks = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  file: string
): Stream.Stream<Array<Line>, E | InputError, R> =>
  Stream.suspend(() => {
    const splitter = new LineSplitter(file)
    return bytes.pipe(
      Stream.flatMap((chunk) => emitLines(splitter.push(chunk))),
      Stream.concat(Stream.suspend(() => emitLines(splitter.end())))
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

/**
 * The data of a log's first entry, read without verification (the verifying read that follows
 * checks it): none when the log has no entry — empty, or blank lines only. Reads no further than
 * that entry's line.
 */
export const firstEntry = (path: string) =>
  Reader.entries(streamFile(path, 64 * 1024), { chain: undefined }).pipe(
    Stream.take(1),
    Stream.runHead,
    Effect.map(Option.map((entry) => entry.data))
  )

/**
 * The temporary name `writeNewSecret` writes `path` under: fixed, beside it, so that one left by
 * a killed write (SIGKILL: nothing runs after it) is found by the next write to that path.
 */
export const newSecretTemporary = (path: string): string => {
  const slash = path.lastIndexOf("/")
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.calybris-new`
}

/**
 * Write `bytes` to a new file `path`, mode 0600, whole or not at all: into a temporary file
 * beside it (`newSecretTemporary`: created exclusively, written, fsynced), then hard-linked to
 * `path` — which fails if anything is there (a file, a link, even a dangling one, a directory, a
 * FIFO): nothing is ever replaced — and the temporary name removed, the three steps not
 * interrupted (SIGINT, SIGTERM: a kill between the link and the removal left a hidden second name
 * of the key). A failure (a full disk, a kill before the link) leaves no file at `path`, so the
 * command can be run again (a helper's hostile review: an interrupted write left an empty key file
 * that refused every retry). A temporary file already there (one a SIGKILL left, which may hold a
 * secret, or another write's under way) is refused (`AlreadyExists`, naming it), never removed nor
 * written: it is the operator's to remove (a hostile review: a killed write's secret stayed under a
 * random hidden name no later run noticed).
 */
export const writeNewSecret = (fs: FileSystem.FileSystem, path: string, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const alreadyExists = (at: string, description: string) =>
      new SystemError({
        module: "FileSystem",
        method: "writeFile",
        reason: "AlreadyExists",
        pathOrDescriptor: at,
        description
      })
    // anything there already (a link counts, even a dangling one): refused before a temporary
    // file is made beside it (e.g. in /dev)
    const link = yield* Effect.either(fs.readLink(path))
    if (Either.isRight(link) || (yield* fs.exists(path))) {
      return yield* alreadyExists(path, "already exists: refusing to replace it")
    }
    const temporary = newSecretTemporary(path)
    yield* Effect.uninterruptible(Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(temporary, { flag: "wx", mode: 0o600 }).pipe(
        Effect.mapError((e) =>
          e._tag === "SystemError" && e.reason === "AlreadyExists"
            ? alreadyExists(
              temporary,
              `the temporary file ${temporary} is there: a write of it was interrupted (it may hold ` +
                "a secret) or is under way: remove it, then run again"
            )
            : e
        )
      )
      // from here the temporary file is ours: removed whatever happens
      yield* Effect.gen(function*() {
        yield* handle.writeAll(bytes)
        yield* handle.sync
        yield* fs.link(temporary, path)
      }).pipe(Effect.ensuring(Effect.ignore(fs.remove(temporary))))
    })))
    // the new name durable (with `WalNode.layer`): a crash after the command said the key was
    // written cannot take the file away
    yield* WalNode.syncDirectory(path)
  })
