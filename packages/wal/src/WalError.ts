/**
 * Every way a WAL operation can fail, as typed errors carrying what an operator needs. The
 * reading errors mirror the reference's kinds (`Io`, `Json`, `DuplicateSequence`,
 * `ChainBroken`, `AuditFailed`) and reproduce its messages (SPEC §6.8), so verdicts compare.
 */
import * as Schema from "effect/Schema"

/** Where in the file: 1-based line number and the byte offset of the line's first byte. */
const position = {
  line: Schema.Number,
  offset: Schema.Number
}

/** A line that is not valid UTF-8 (the reference's `Io` with kind `InvalidData`), or a failed read. */
export class WalReadError extends Schema.TaggedError<WalReadError>()("WalReadError", {
  ...position,
  io_kind: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `WAL I/O error: ${this.reason} (line ${this.line}, byte offset ${this.offset})`
  }
}

/** What is seen at the start of a line, when it explains a parse error better than serde's message. */
const note = {
  /** e.g. "a byte order mark (U+FEFF) at the start of line 3" */
  note: Schema.optional(Schema.String)
}

/**
 * A malformed entry (the reference's `Json`): serde_json's category, message (`reason`) and
 * position within the line (`column`, serde's "line 1 column N": each line is parsed alone);
 * the message names the line of the file and its byte offset.
 */
export class WalParseError extends Schema.TaggedError<WalParseError>()("WalParseError", {
  ...position,
  category: Schema.Literal("Syntax", "Data", "Eof"),
  reason: Schema.String,
  column: Schema.Number,
  ...note
}) {
  override get message(): string {
    return `WAL JSON error at line ${this.line} column ${this.column} (the line starts at byte offset ${this.offset}): ${this.reason}${
      this.note === undefined ? "" : ` (${this.note})`
    }`
  }
}

/**
 * The final line has no newline and is the start of the next entry as a writer spells it
 * (`{"sequence":N,"previous_hash":"H","entry_hash":"E","data":…` (E 64 lowercase hex digits), N and H those after the lines before it),
 * cut: a write torn by a crash, or a line a writer is appending. Reported apart from corruption
 * so that `repair` can truncate exactly this tail, and nothing else; a final line cut short that
 * starts otherwise is a `WalParseError` (a `WalReadError` when a character is cut).
 */
export class WalTornTail extends Schema.TaggedError<WalTornTail>()("WalTornTail", {
  ...position,
  /** bytes of the torn line */
  length: Schema.Number,
  /** what the reference reports for this line: a JSON category, or `Io` when it is not UTF-8 */
  category: Schema.Literal("Syntax", "Data", "Eof", "Io"),
  reason: Schema.String,
  column: Schema.Number,
  /** the entries before it (all verified), and the last one's hash: what a repair leaves */
  count: Schema.BigIntFromSelf,
  lastHash: Schema.String,
  ...note
}) {
  override get message(): string {
    const at = this.category === "Io" ? "" : ` at column ${this.column}`
    return `WAL torn tail: the last line (line ${this.line}, ${this.length} bytes at offset ${this.offset}) is an incomplete entry (${this.reason}${at}${
      this.note === undefined ? "" : `; ${this.note}`
    }), as a crash during a write leaves it — or a writer appending it right now: then read again once it is written (\`calybris wal repair\` refuses a log a writer holds); after a crash, run \`calybris wal repair\` to save it aside and truncate it`
  }
}

/** A sequence number that is not the next one (the reference calls every such case "duplicate"). */
export class WalSequenceError extends Schema.TaggedError<WalSequenceError>()("WalSequenceError", {
  ...position,
  /** the sequence found */
  sequence: Schema.BigIntFromSelf,
  expected: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `WAL duplicate sequence: ${this.sequence}`
  }
}

/** `previous_hash` or `entry_hash` differs from what the chain requires. */
export class WalChainBroken extends Schema.TaggedError<WalChainBroken>()("WalChainBroken", {
  ...position,
  sequence: Schema.BigIntFromSelf,
  expected: Schema.String,
  found: Schema.String
}) {
  override get message(): string {
    return `WAL chain broken at sequence ${this.sequence}: expected ${this.expected}, found ${this.found}`
  }
}

/** An audited entry failed replay or its digests do not bind it to the policy and input. */
export class WalAuditFailed extends Schema.TaggedError<WalAuditFailed>()("WalAuditFailed", {
  sequence: Schema.BigIntFromSelf,
  replay_valid: Schema.Boolean,
  policy_match: Schema.Boolean,
  input_match: Schema.Boolean,
  decision_match: Schema.Boolean
}) {
  get reason(): string {
    return `replay_valid=${this.replay_valid} policy_match=${this.policy_match} input_match=${this.input_match} decision_match=${this.decision_match}`
  }
  override get message(): string {
    return `WAL audit failed at sequence ${this.sequence}: ${this.reason}`
  }
}

/** A line longer than the reader's limit (hostile input protection). */
export class WalLineTooLong extends Schema.TaggedError<WalLineTooLong>()("WalLineTooLong", {
  ...position,
  limit: Schema.Number
}) {
  override get message(): string {
    return `WAL line ${this.line} at byte offset ${this.offset} is longer than ${this.limit} bytes`
  }
}

/**
 * A reader's or writer's option out of its range, named with the value given (`maxLineBytes`: a
 * positive safe integer). Refused before anything is read or written: 0 or 1.5 would refuse every
 * line, NaN would lift the limit.
 */
export class WalOptionsInvalid extends Schema.TaggedError<WalOptionsInvalid>()("WalOptionsInvalid", {
  field: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid WAL option ${this.field} = ${this.value}: ${this.reason}`
  }
}

/** Everything a verified read can fail with. */
export type WalVerifyError =
  | WalReadError
  | WalParseError
  | WalTornTail
  | WalSequenceError
  | WalChainBroken
  | WalLineTooLong
  | WalOptionsInvalid

/** An empty HMAC key: refused unless the caller opted in to legacy empty-key logs. */
export class WalEmptyKey extends Schema.TaggedError<WalEmptyKey>()("WalEmptyKey", {}) {
  override get message(): string {
    return "refusing an empty HMAC key: anyone can forge such a log (pass allowEmptyKey for legacy logs)"
  }
}

/** A record nested deeper than the reader accepts: the writer refuses what it could not read back. */
export class WalRecordTooDeep extends Schema.TaggedError<WalRecordTooDeep>()("WalRecordTooDeep", {
  depth: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `record nesting depth ${this.depth} exceeds the reader's limit of ${this.limit}`
  }
}

/**
 * A record with a string or key holding a lone surrogate (a UTF-16 half with no partner): it has
 * no UTF-8 spelling, so its line would hold U+FFFD instead and read back as another record (two
 * such keys would even print alike, and the log would no longer verify). serde_json refuses it
 * too: no Rust log can hold one. Refused before anything is written.
 */
export class WalRecordLoneSurrogate extends Schema.TaggedError<WalRecordLoneSurrogate>()("WalRecordLoneSurrogate", {
  /** the member: `$`, `$["key"]`, `$["a"][2]` (keys JSON-escaped) */
  path: Schema.String,
  /** true when the object key at `path` holds it, false when the string value there does */
  key: Schema.Boolean,
  /** its index among the string's UTF-16 code units */
  index: Schema.Number,
  /** the code unit, `U+D800` */
  codeUnit: Schema.String
}) {
  override get message(): string {
    return `record ${this.key ? "key" : "string"} at ${this.path} holds a lone surrogate ${this.codeUnit} ` +
      `at code unit ${this.index}: it has no UTF-8 form, so the log could not read the record back`
  }
}

/**
 * A record holding an integer (a bigint) outside the wire's, −2^63 … 2^64 − 1: its digits would
 * read back as a float (serde_json reads them so, and so does this reader), another value, and
 * the entry would no longer verify. Refused before anything is written; pass a `JsonFloat` to
 * store such a number as a float.
 */
export class WalRecordIntegerOutOfRange
  extends Schema.TaggedError<WalRecordIntegerOutOfRange>()("WalRecordIntegerOutOfRange", {
    /** the member: `$`, `$["key"]`, `$["a"][2]` (keys JSON-escaped) */
    path: Schema.String,
    /** the integer's digits */
    value: Schema.String
  })
{
  override get message(): string {
    return `record integer at ${this.path} is ${this.value}, outside -9223372036854775808 … ` +
      `18446744073709551615: it would read back as a float, so the log could not verify it`
  }
}

/**
 * A record whose line would be longer than the log's reader accepts (`maxLineBytes`, default
 * 64 MiB): written, the log would no longer open under its own options. Refused before anything
 * is written.
 */
export class WalRecordTooLong extends Schema.TaggedError<WalRecordTooLong>()("WalRecordTooLong", {
  /** the line's length in bytes (without its LF) */
  lineBytes: Schema.Number,
  /** the reader's limit (`maxLineBytes`) */
  limit: Schema.Number
}) {
  override get message(): string {
    return `record's line would be ${this.lineBytes} bytes, longer than the reader's limit of ${this.limit} ` +
      `(maxLineBytes): the log could not read it back`
  }
}

/** Another writer holds the log. */
export class WalLocked extends Schema.TaggedError<WalLocked>()("WalLocked", {
  path: Schema.String,
  holder: Schema.String
}) {
  override get message(): string {
    return `WAL ${this.path} is locked by another writer (${this.holder})`
  }
}

/**
 * The log's path does not name a regular file — a directory, a named pipe (FIFO), a socket, a
 * device — or cannot name one (a component of the path is not a directory). Refused at once:
 * opening a FIFO would wait for a reader forever.
 */
export class WalNotAFile extends Schema.TaggedError<WalNotAFile>()("WalNotAFile", {
  path: Schema.String,
  /** a sentence: "it is a directory", "a component of the path is not a directory", … */
  reason: Schema.String
}) {
  override get message(): string {
    return `WAL ${this.path} is not a log file: ${this.reason}`
  }
}

/** A write, fsync or other I/O operation failed; the writer is now failed and acknowledges nothing more. */
export class WalIoError extends Schema.TaggedError<WalIoError>()("WalIoError", {
  operation: Schema.String,
  path: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `WAL ${this.operation} failed on ${this.path}: ${reason}`
  }
}

/** The writer failed earlier (write or fsync error) and refuses further appends. */
export class WalWriterFailed extends Schema.TaggedError<WalWriterFailed>()("WalWriterFailed", {
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `WAL writer is failed after an earlier I/O error and acknowledges nothing more: ${reason}`
  }
}

/**
 * The log's gatekeeper (`WalOptions.admit`: a transparency log whose hashing cannot take another
 * leaf) refused the append before it was sealed: nothing was written, the head did not move, and
 * the same append may be retried once the cause is gone.
 */
export class WalAppendRefused extends Schema.TaggedError<WalAppendRefused>()("WalAppendRefused", {
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `WAL append refused before anything was written: ${reason}`
  }
}

/** `repair` found something other than a torn tail: corruption is never "repaired". */
export class WalNotRepairable extends Schema.TaggedError<WalNotRepairable>()("WalNotRepairable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `WAL not repairable: ${this.reason}`
  }
}

/** A record could not be encoded or decoded with its Schema. */
export class WalRecordError extends Schema.TaggedError<WalRecordError>()("WalRecordError", {
  sequence: Schema.BigIntFromSelf,
  reason: Schema.String
}) {
  override get message(): string {
    return `WAL record at sequence ${this.sequence} does not match its schema: ${this.reason}`
  }
}

/**
 * A record holding what is no Json value (a JavaScript caller's, past the types): a key that is
 * not a string, an object that is not a `Map`, `undefined`, a function or a symbol. Printed, it
 * would spell another record (a number key as `""`, `undefined` as `null`) or one that does not
 * verify: nothing is written.
 */
export class WalRecordNotJson extends Schema.TaggedError<WalRecordNotJson>()("WalRecordNotJson", {
  /** the member: `$`, `$["key"]`, `$["a"][2]` (keys JSON-escaped) */
  path: Schema.String,
  /** what is there: `a number key`, `a Date`, `undefined` */
  found: Schema.String
}) {
  override get message(): string {
    return `record at ${this.path} holds ${this.found}, not a JSON value (JSON objects are Maps with string keys): ` +
      `the log could not read it back as written`
  }
}

/** Everything an append can fail with. */
export type WalAppendError =
  | WalRecordTooDeep
  | WalRecordLoneSurrogate
  | WalRecordIntegerOutOfRange
  | WalRecordNotJson
  | WalRecordTooLong
  | WalIoError
  | WalWriterFailed
  | WalAppendRefused
  | WalRecordError
