/**
 * The CLI's own failures, and the exit code of every failure (README "CLI"):
 *
 * - `2`: bad usage or bad input — a missing or unreadable file, a path that is a directory, a
 *   FIFO or a device (`Files.requireFile`), bad JSON, a value out of range (the message names
 *   the file, the line, the field and what was wrong), an invalid policy (for every command,
 *   `wal replay` included), a refused key, a flag the parser rejected (`@effect/cli`'s
 *   `ValidationError`), `--wizard` without a terminal;
 * - `1`: everything else: a verification or audit failure (fail-closed: broken chain, torn
 *   tail, failed replay, conservation violated), or an operational failure (I/O, a held lock).
 *
 * Errors never carry key material: key errors name where the key came from, never its bytes.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Schema from "effect/Schema"

/** A file, a line of a file, or a field of a record that is not what it must be. */
export class InputError extends Schema.TaggedError<InputError>()("InputError", {
  /** the path as given, or `<stdin>` */
  file: Schema.String,
  /** 1-based line number, when the problem is on one line */
  line: Schema.optional(Schema.Number),
  /** 1-based column (UTF-8 bytes), for JSON syntax errors */
  column: Schema.optional(Schema.Number),
  /** the field, as a path (`models[2].quality_bps`) */
  field: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    // an empty path is named as such, not left as an empty word before the colon
    const where = (this.file === "" ? "\"\" (an empty path)" : this.file) +
      (this.line === undefined ? "" : ` line ${this.line}`) +
      (this.column === undefined ? "" : ` column ${this.column}`)
    return `${where}: ${this.field === undefined ? "" : `field ${this.field}: `}${this.reason}`
  }
}

/** The command line asks for something that cannot be done as asked. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

/** The HMAC key could not be loaded, or was refused. Names its source, never its bytes. */
export class KeyError extends Schema.TaggedError<KeyError>()("KeyError", {
  /** `--key-file <path>` or `--key-env <NAME>` */
  source: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.reason}`
  }
}

/** Reading or writing a file failed (not a missing input file: that is an `InputError`). */
export class IoError extends Schema.TaggedError<IoError>()("IoError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} ${this.path} failed: ${this.reason}`
  }
}

/** A self-check failed: the CLI's explanation disagrees with the kernel (a bug: exit 1). */
export class ExplainMismatch extends Schema.TaggedError<ExplainMismatch>()("ExplainMismatch", {
  reason: Schema.String
}) {
  override get message(): string {
    return `the per-model explanation disagrees with the kernel: ${this.reason}`
  }
}

/**
 * The PostgreSQL database of `--database` could not serve the command: unreachable, refused the
 * login, missing, or failed a statement. Names the server by its target (`host:port/database`),
 * never by its URL, which may hold a password; the reason never quotes the URL either.
 */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  /** `host:port/database` */
  target: Schema.String,
  /** what was being done: `connect`, `migrate`, `reserve`, … */
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} on ${this.target} failed: ${this.reason}`
  }
}

/**
 * A tenant the database's ledger has never seen (no tenant row, no journal entry): asked for by
 * `budget journal export` or `audit --tenant`. Names the tenant and the database's target.
 */
export class UnknownTenant extends Schema.TaggedError<UnknownTenant>()("UnknownTenant", {
  tenant: Schema.String,
  /** `host:port/database` */
  target: Schema.String
}) {
  override get message(): string {
    return `no tenant ${JSON.stringify(this.tenant)} in the ledger at ${this.target} (no tenant row, no journal entry)`
  }
}

/**
 * An audited replay of a log without an entry: an empty log verifies (SPEC §5), but an audit of
 * nothing is not a passed audit (exit 1; it said "ok: 0 audited decisions": a hostile review).
 */
export class NothingToAudit extends Schema.TaggedError<NothingToAudit>()("NothingToAudit", {
  file: Schema.String
}) {
  override get message(): string {
    return `nothing to replay: ${this.file} has no entry (an empty log verifies, but an audit of nothing is not a passed audit)`
  }
}

/** A ledger certificate that is not balanced: printed, then reported as a failure (fail-closed). */
export class CertificateUnbalanced extends Schema.TaggedError<CertificateUnbalanced>()("CertificateUnbalanced", {
  ledger_digest_hex: Schema.String
}) {
  override get message(): string {
    return `the ledger certificate ${this.ledger_digest_hex} is not balanced`
  }
}

/** Failures that mean "bad usage or bad input" (exit 2). Everything else exits 1. */
const USAGE_TAGS: ReadonlySet<string> = new Set([
  "InputError",
  "UsageError",
  "KeyError",
  "WalEmptyKey",
  "WalNotAFile",
  "IdempotencyConflict",
  "UnknownTenant",
  // a ledger argument out of range (the flags check most of them first)
  "InvalidArgument",
  // Policy.make's refusals (SPEC §2.2)
  "EmptyCatalog",
  "DuplicateModelId",
  "InvalidProviderId",
  "NoEnabledModels",
  "OutOfRangeBps",
  // a snapshot field out of its type (Policy.make checks that first)
  "InvalidPolicyField"
])

/** Exit code of a failure value. */
export const exitCodeOf = (error: unknown): 1 | 2 => {
  if (ValidationError.isValidationError(error)) return 2
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    return USAGE_TAGS.has(error._tag) ? 2 : 1
  }
  return 1
}
