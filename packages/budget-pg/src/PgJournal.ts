/**
 * The ledger's tamper-evident journal on PostgreSQL: one hash chain per tenant (a ledger-wide
 * chain would order, and so serialise, every write of every tenant), appended by the very
 * statement that commits each command (`PgOperations`), under the tenant row's lock that
 * already orders that tenant's commands.
 *
 * An entry is a WAL entry (SPEC §5): sequence (per tenant, from 1), previous hash (`genesis`
 * first), hash = `hex(SHA-256(P ‖ D))`, or `hex(HMAC-SHA256(key, P ‖ D))` with a journal key
 * (`JournalKey`), computed in the database; `D` is the canonical JSON (SPEC §7) of a record:
 *
 * `{"v":1,"command":C}` for a command without a result (`ensure_tenant` that created the
 * tenant, `set_cap`, and a `restore` of this tenant alone that `LedgerPg` journals on every
 * tenant a restore rewrites), `{"v":1,"command":C,"result":R}` for the others, where `C` is the command
 * as `@calybris/budget/Journal` writes it (`{"kind":"reserve","tenant_id":…}`) and `R` the result
 * it returned as an operation id remembers it (`{"_tag":"Reserved","reservation_id":7,…}`):
 * every applied result, and every refusal remembered under an operation id on a tenant the
 * ledger has a row for (a refusal is a committed answer). The reservation id is in the result:
 * a global sequence issues it, so a tenant's chain alone could not replay it.
 *
 * `exportTenant` writes a tenant's chain as WAL JSONL bytes that `Wal.verify` and `calybris wal
 * verify [--key-file]` accept unchanged; `audit` verifies it and replays it through the state
 * machine, which must give every recorded result and end on the tenant's row in the database.
 */
import * as Arguments from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as Codec from "@calybris/core/Codec"
import * as Hash from "@calybris/core/Hash"
import * as Json from "@calybris/core/Json"
import { jsonObject } from "@calybris/core/JsonSchema"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import type { WalEmptyKey, WalIoError, WalLocked, WalVerifyError } from "@calybris/wal/WalError"
import * as WalNode from "@calybris/wal/WalNode"
import { PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { tenantText } from "./internal/tenantText.js"
import { failedTransaction } from "./internal/transaction.js"

/** The record format's version. */
export const VERSION = 1

/**
 * The HMAC key of the journal (none: SHA-256, SPEC §5's unkeyed chain). Every statement passes
 * it as a parameter; the database never stores it.
 */
export class JournalKey extends Context.Reference<JournalKey>()("@calybris/budget-pg/PgJournal/JournalKey", {
  defaultValue: (): { readonly key: Uint8Array | undefined } => ({ key: undefined })
}) {}

/** A keyed journal was asked for with an empty key (forgeable by anyone: refused, as the WAL refuses it). */
export class JournalEmptyKey extends Schema.TaggedError<JournalEmptyKey>()("JournalEmptyKey", {}) {
  override get message(): string {
    return "the journal key is empty: a keyed journal needs a non-empty key"
  }
}

/**
 * A journal key that is not bytes (a JavaScript caller's string or number): copied, it became
 * zeros — a key anyone has (a helper's review of the API).
 */
export class JournalKeyInvalid extends Schema.TaggedError<JournalKeyInvalid>()("JournalKeyInvalid", {
  /** what was given instead (its `typeof`, or `null`) */
  value: Schema.String
}) {
  override get message(): string {
    return `the journal key is a ${this.value}, not bytes: give a Uint8Array (from text: new TextEncoder().encode(text))`
  }
}

/** The journal keyed with `key` (HMAC-SHA256). */
export const layerKey = (key: Uint8Array): Layer.Layer<never, JournalEmptyKey | JournalKeyInvalid> =>
  Either.match(checkedKey(key), {
    onLeft: Layer.fail,
    onRight: (checked) => Layer.succeedContext(Context.make(JournalKey, checked))
  })

/**
 * A journal key as the ledger uses it: bytes (also from another realm: `Chain.isBytes`), not
 * empty, copied — however it came (`layerKey`, `LedgerPg`'s `journalKey` option, or a
 * `JournalKey` provided directly, which was used unchecked: an empty one pinned a forgeable
 * journal; the review of the key check). Undefined: the journal is unkeyed.
 */
export const checkedKey = (
  key: unknown
): Either.Either<{ readonly key: Uint8Array }, JournalEmptyKey | JournalKeyInvalid> =>
  !Chain.isBytes(key)
    ? Either.left(new JournalKeyInvalid({ value: Chain.kindOf(key) }))
    : key.length === 0
    ? Either.left(new JournalEmptyKey())
    : Either.right({ key: Uint8Array.from(key) })

/**
 * The ledger's journal is pinned to another key than this layer's (or keyed where this layer is
 * not, or the other way round): its entries would not verify with the chains' key. Every instance
 * of a fleet, and every command, must use the ledger's one journal key.
 */
export class JournalKeyMismatch extends Schema.TaggedError<JournalKeyMismatch>()("JournalKeyMismatch", {
  /** how the ledger's journal is keyed */
  pinned: Schema.Literal("unkeyed", "keyed"),
  /** how this layer would key it */
  given: Schema.Literal("unkeyed", "keyed")
}) {
  override get message(): string {
    const what = this.pinned === this.given ? "keyed with another key" : this.pinned
    return `the ledger's journal is ${what}, this instance's is ${this.given}: ` +
      "every instance and command must use the ledger's one journal key (--key-file/--key-env)"
  }
}

/**
 * The `JournalKey` of the context, checked as `checkedKey` checks it (one provided directly was
 * used unchecked); a bad one is a `LedgerStoreError` of `operation`, nothing read or written.
 */
const contextKey = (operation: string): Effect.Effect<Uint8Array | undefined, LedgerStoreError> =>
  Effect.flatMap(
    JournalKey,
    ({ key }) =>
      key === undefined ? Effect.succeed(undefined) : Either.match(checkedKey(key), {
        onLeft: (cause) => Effect.fail(new LedgerStoreError({ operation, cause })),
        onRight: (checked) => Effect.succeed(checked.key)
      })
  )

/** The label whose keyed hash identifies a journal key (`PgJournal.pinKey`). */
const KEY_ID_LABEL = "calybris/budget-pg journal key id v1"

/** The journal key's id, and the unkeyed id, as the SQL of `pinKey` and `checkKey` compute them. */
const keyIds = (sql: SqlClient.SqlClient, key: Uint8Array | undefined) => {
  const label = new TextEncoder().encode(KEY_ID_LABEL)
  return sql`id AS (
    SELECT calybris_budget_journal_hash(NULL, ${label}::bytea, ${key ?? null}::bytea) AS mine,
      calybris_budget_journal_hash(NULL, ${label}::bytea, NULL) AS unkeyed
  )`
}

/**
 * `JournalKeyMismatch` unless the pinned key is this one (`same`); a `LedgerStoreError` when the
 * ledger's one row is missing (deleted outside the ledger: it was a defect here, and a false
 * `JournalKeyMismatch` there — a helper's hostile review).
 */
const compared = (
  row: { readonly same: boolean | null; readonly unkeyed: boolean | null; readonly present: boolean } | undefined,
  key: Uint8Array | undefined,
  operation: string
): Effect.Effect<void, JournalKeyMismatch | LedgerStoreError> => {
  if (row === undefined || !row.present) {
    return Effect.fail(
      new LedgerStoreError({
        operation,
        cause: new Error(
          "the table calybris_budget_ledger has no row (deleted outside the ledger): the ledger's version, certificate baseline and journal key id are gone; restore the database from a backup"
        )
      })
    )
  }
  return row.same === true ? Effect.void : new JournalKeyMismatch({
    pinned: row.unkeyed === true ? "unkeyed" : "keyed",
    given: key === undefined ? "unkeyed" : "keyed"
  })
}

/**
 * Pin the ledger's journal key (the `JournalKey` of the context): the first call on a database
 * records the key's id (migration `5_journal_key`), every later call must bring the same key, or
 * fails with `JournalKeyMismatch` (nothing written). One statement: the ledger row locked, its
 * pinned id (the newest, after any concurrent pin) compared. `LedgerPg` pins when it is built.
 */
export const pinKey: Effect.Effect<void, JournalKeyMismatch | LedgerStoreError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const key = yield* contextKey("pinKey")
    const [row] = yield* sql<
      { readonly same: boolean | null; readonly unkeyed: boolean | null; readonly present: boolean }
    >`WITH
      ${keyIds(sql, key)},
      cur AS (SELECT snapshot_version, baseline, journal_key_id FROM calybris_budget_ledger FOR UPDATE),
      pin AS (
        UPDATE calybris_budget_ledger l
        SET journal_key_id = id.mine, snapshot_version = cur.snapshot_version, baseline = cur.baseline
        FROM id, cur WHERE cur.journal_key_id IS NULL
        RETURNING l.journal_key_id
      ),
      pinned AS (SELECT coalesce((SELECT journal_key_id FROM pin), (SELECT journal_key_id FROM cur)) AS v)
      SELECT pinned.v = id.mine AS same, pinned.v = id.unkeyed AS unkeyed, EXISTS (SELECT 1 FROM cur) AS present
      FROM pinned, id`
    return yield* compared(row, key, "pinKey")
  }
).pipe(
  Effect.catchTag("SqlError", (cause) => Effect.fail(new LedgerStoreError({ operation: "pinKey", cause }))),
  Effect.withSpan("PgJournal.pinKey")
)

/**
 * `pinKey` for a reader (`LedgerPg.makeReadOnly`): the `JournalKey` of the context compared with
 * the ledger's pinned key, when one is pinned (`JournalKeyMismatch` otherwise), and never pinned —
 * a read-only command (`calybris budget status`) on a ledger no instance has written yet leaves
 * its key for the first writer to choose. One plain read: nothing locked, nothing written.
 */
export const checkKey: Effect.Effect<void, JournalKeyMismatch | LedgerStoreError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const key = yield* contextKey("checkKey")
    const [row] = yield* sql<
      { readonly same: boolean; readonly unkeyed: boolean | null; readonly present: boolean }
    >`WITH
      ${keyIds(sql, key)},
      cur AS (SELECT journal_key_id AS v FROM calybris_budget_ledger)
      SELECT cur.v IS NULL OR cur.v = id.mine AS same, cur.v = id.unkeyed AS unkeyed, true AS present FROM cur, id`
    return yield* compared(row, key, "checkKey")
  }
).pipe(
  Effect.catchTag("SqlError", (cause) => Effect.fail(new LedgerStoreError({ operation: "checkKey", cause }))),
  Effect.withSpan("PgJournal.checkKey")
)

/** One record of a tenant's chain: the command, and the result it returned (none for ensure and cap). */
export const Record = jsonObject({
  v: Schema.Literal(VERSION),
  command: Journal.JournalCommand,
  result: Schema.optional(Journal.RememberedResult)
}, "PgJournalRecord")
export type Record = typeof Record.Type

const encodeCommand = Codec.encodeEither(Journal.JournalCommand)
const encodeResult = Codec.encodeEither(Journal.RememberedResult)
const decodeRecord = Codec.decodeUnknownEither(Record)
const encodeRecord = Codec.encodeEither(Record)

const utf8 = new TextEncoder()

/**
 * The bytes of a record up to its result: `{"v":1,"command":C,"result":` (the statement appends
 * the result's JSON and the closing brace), or the whole record `{"v":1,"command":C}` when
 * `withResult` is false. `C` is the canonical JSON of the command as the journal writes it.
 */
export const recordHead = (
  command: L.Command,
  withResult: boolean,
  audited?: Json.Json
): Uint8Array => {
  const json = encodeCommand(Journal.journalCommand({ command, audited }))
  // the command was validated (`Arguments.validateCommand`) before it got here: a bug otherwise
  if (Either.isLeft(json)) throw new Error(`journal: cannot encode ${command._tag}: ${json.left.message}`)
  const text = Json.print(json.right as Json.Json)
  return utf8.encode(withResult ? `{"v":${VERSION},"command":${text},"result":` : `{"v":${VERSION},"command":${text}}`)
}

/** A tenant's chain does not replay to what the database holds: the entry (its sequence) and why. */
export class JournalAuditFailed extends Schema.TaggedError<JournalAuditFailed>()("JournalAuditFailed", {
  tenant: Schema.String,
  /** the entry's sequence (the chain's length + 1 when the chain ends short of the tenant's row) */
  seq: Schema.BigInt,
  reason: Schema.String
}) {
  override get message(): string {
    return `journal audit failed for tenant ${JSON.stringify(this.tenant)} at sequence ${this.seq}: ${this.reason}`
  }
}

const Row = Schema.Struct({
  seq: Schema.BigInt,
  previous: Schema.NullOr(Schema.String),
  hash: Schema.String,
  entry: Schema.Uint8ArrayFromSelf
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const Head = Schema.Struct({
  present: Schema.Boolean,
  initial: Schema.BigInt,
  remaining: Schema.BigInt,
  reserved: Schema.BigInt,
  committed: Schema.BigInt,
  cap: Schema.NullOr(Schema.BigInt),
  journal_seq: Schema.BigInt,
  journal_head: Schema.NullOr(Schema.String)
})
const decodeHead = Schema.decodeUnknown(Schema.Array(Head))

/** An open hold's row, as the audit compares it with the replay's. */
const OpenHold = Schema.Struct({
  id: Schema.BigInt,
  amount: Schema.BigInt,
  expires_at_ms: Schema.NullOr(Schema.BigInt)
})
const decodeOpenHolds = Schema.decodeUnknown(Schema.Array(OpenHold))

const newline = utf8.encode("\n")

/**
 * A tenant's chain as WAL JSONL bytes, exactly as stored: each entry's sequence, previous hash
 * and hash, and its data bytes verbatim (an entry edited in the database is exported as edited,
 * for the verifier to find). Empty for a tenant without a chain.
 */
export const exportTenant = (tenant: string): Effect.Effect<Uint8Array, LedgerStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* decodeRows(
      // (ordered by the bigint column: the text alias would sort "10" before "9")
      yield* sql`SELECT j.seq::text AS seq, encode(j.previous, 'hex') AS previous, encode(j.hash, 'hex') AS hash, j.entry
        FROM calybris_budget_journal j WHERE j.tenant = ${utf8.encode(tenant)}::bytea ORDER BY j.seq`
    )
    const parts: Array<Uint8Array> = []
    let size = 0
    for (const row of rows) {
      const head = utf8.encode(
        `{"sequence":${row.seq},"previous_hash":"${row.previous ?? Chain.GENESIS}","entry_hash":"${row.hash}","data":`
      )
      parts.push(head, row.entry, utf8.encode("}"), newline)
      size += head.length + row.entry.length + 2
    }
    const out = new Uint8Array(size)
    let at = 0
    for (const part of parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  }).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "exportTenant", cause })))

/** Writing a tenant's exported chain to `path` failed; the file there, if any, is unchanged. */
export class JournalWriteError extends Schema.TaggedError<JournalWriteError>()("JournalWriteError", {
  path: Schema.String,
  cause: PlatformError
}) {
  override get message(): string {
    return `could not write the journal to ${this.path}: ${this.cause.message}`
  }
}

/** What `writeTenant` wrote. */
export interface Written {
  /** the chain's entries (lines) */
  readonly entries: number
  /** the file's size */
  readonly bytes: number
}

/**
 * Write a tenant's chain to a file (WAL JSONL), replacing it atomically: the bytes go to a new
 * temporary file beside it (created exclusively, written and synced), which is then renamed over
 * `path`. On any failure the temporary file is removed and whatever was at `path` is left as it
 * was — a reader never finds half a journal there. With `WalNode.layer` provided, the directory
 * is fsynced after the rename (as the CLI does), so the new file survives a crash once written.
 *
 * Only an earlier export of the same chain is replaced, never a file a writer holds: the replace is
 * made under the writer locks of `path` (`Wal.holdWriterLocks`: `WalLocked` while a writer — a
 * `calybris budget` journal, a `Wal.layerFile` — has it open, through any name), and an existing
 * non-empty file whose entries are not the chain's first ones — a file ledger's journal, another
 * tenant's export, a history that forks from this one, a key file — is refused
 * (`JournalWriteError`), not replaced.
 */
export const writeTenant = (
  tenant: string,
  path: string
): Effect.Effect<
  Written,
  LedgerStoreError | JournalWriteError | WalLocked | WalIoError,
  SqlClient.SqlClient | FileSystem.FileSystem
> =>
  Effect.scoped(Effect.gen(function*() {
    const bytes = yield* exportTenant(tenant)
    const fs = yield* FileSystem.FileSystem
    const slash = path.lastIndexOf("/")
    const temporary = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${
      Hash.toHex(crypto.getRandomValues(new Uint8Array(6)))
    }.tmp`
    // what is there now: a regular file is replaced keeping its read/write permissions (an
    // export is never more readable than the file it replaces); a symbolic link, a directory, a
    // FIFO or a device is not replaced (a helper's hostile review: a link, even one to
    // /dev/stdout, was renamed over)
    const refuse = (description: string) =>
      new JournalWriteError({
        path,
        cause: new SystemError({
          module: "FileSystem",
          method: "writeTenant",
          reason: "BadResource",
          pathOrDescriptor: path,
          description
        })
      })
    const link = yield* Effect.either(fs.readLink(path))
    if (Either.isRight(link)) return yield* refuse("is a symbolic link: refusing to replace it")
    const existing = yield* fs.stat(path).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeedNone),
      Effect.mapError((cause) => new JournalWriteError({ path, cause }))
    )
    if (Option.isSome(existing) && existing.value.type !== "File") {
      return yield* refuse(`is not a regular file (${existing.value.type}): refusing to replace it`)
    }
    // no writer opens it until it is replaced (a live journal was renamed over: its writer's
    // acknowledged entries gone from the path; a hostile review)
    const held = yield* Wal.holdWriterLocks(path).pipe(
      Effect.catchTag("WalNotAFile", (e) => refuse(`is not a regular file (${e.reason}): refusing to replace it`))
    )
    // only an earlier export of this chain is replaced: every entry of the file one of the chain's
    // first ones, in order (blank lines, a CR before each LF and a missing final LF aside: a CRLF
    // copy is still that export), read through the locked file. Anything else — a file ledger's
    // journal between two commands, another tenant's export, a history that forks from this one
    // after its first entry (evidence), a key file — is refused (reviews: a ledger's journal was
    // replaced, and the ledger destroyed, exit 0)
    if (Option.isSome(held)) {
      const size = (yield* held.value.stat.pipe(Effect.mapError((cause) => new JournalWriteError({ path, cause }))))
        .size
      if (size > 0n) {
        const limit = 2 * bytes.length + PREFIX_ROOM
        if (size > BigInt(limit)) {
          return yield* refuse(
            `is larger (${size} bytes) than an earlier export of this tenant's chain could be: refusing to replace it`
          )
        }
        const read = yield* held.value.readAlloc(Number(size)).pipe(
          Effect.mapError((cause) => new JournalWriteError({ path, cause }))
        )
        if (Option.isNone(read) || !isEarlierExport(read.value, bytes)) {
          return yield* refuse(
            "is not an earlier export of this tenant's chain (its entries are not the chain's first ones): " +
              "refusing to replace it"
          )
        }
      }
    }
    const mode = Option.isSome(existing) ? existing.value.mode & 0o666 : 0o644
    const write = Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(temporary, { flag: "wx", mode })
      // (the mode given to open is narrowed by the umask: set it as the file it replaces has it)
      if (Option.isSome(existing)) yield* fs.chmod(temporary, mode)
      yield* handle.writeAll(bytes)
      yield* handle.sync
    }))
    yield* write.pipe(
      Effect.zipRight(fs.rename(temporary, path)),
      Effect.tapError(() => Effect.ignore(fs.remove(temporary))),
      Effect.mapError((cause) => new JournalWriteError({ path, cause }))
    )
    // with a directory fsync in the environment (`WalNode.layer`), the rename made durable: a
    // crash after the export was reported cannot bring the old file back
    yield* WalNode.syncDirectory(path).pipe(Effect.mapError((cause) => new JournalWriteError({ path, cause })))
    let entries = 0
    for (const b of bytes) if (b === 0x0a) entries++
    return { entries, bytes: bytes.length }
  }))

/** How much longer than twice the new export a file it replaces may be (blank lines, CRs). */
const PREFIX_ROOM = 64 * 1024

/** The lines of `bytes` that are not blank (spaces, tabs, CRs only), each without its LF and a CR before it (a last line without its LF too, as the reader reads it). */
const entryLines = (bytes: Uint8Array): Array<Uint8Array> => {
  const lines: Array<Uint8Array> = []
  let start = 0
  while (start < bytes.length) {
    const lf = bytes.indexOf(0x0a, start)
    const stop = lf < 0 ? bytes.length : lf
    let end = stop
    if (lf >= 0 && end > start && bytes[end - 1] === 0x0d) end--
    const line = bytes.subarray(start, end)
    if (!line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) lines.push(line)
    start = stop + 1
  }
  return lines
}

/**
 * Whether `file` holds the first entries of the chain `exported` (at least one; each whole: a line
 * is compared byte for byte with an entry, so a cut one never matches): an earlier export of it,
 * maybe with CRLF line ends, blank lines or no final LF, which an export replaces.
 */
const isEarlierExport = (file: Uint8Array, exported: Uint8Array): boolean => {
  const theirs = entryLines(file)
  const ours = entryLines(exported)
  return theirs.length > 0 && theirs.length <= ours.length &&
    theirs.every((line, i) => sameBytes(line, ours[i] as Uint8Array))
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const decodeTenantRows = Schema.decodeUnknown(Schema.Array(Schema.Struct({ tenant: Schema.Uint8ArrayFromSelf })))

/**
 * Every tenant the ledger has a row or a journal entry for, in byte order (the tenants whose
 * chains an audit of the whole ledger checks: a chain whose row was deleted is listed too).
 */
export const tenants: Effect.Effect<ReadonlyArray<string>, LedgerStoreError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* decodeTenantRows(
      yield* sql`SELECT tenant FROM calybris_budget_tenants UNION SELECT DISTINCT tenant FROM calybris_budget_journal
        ORDER BY 1`
    )
    const names: Array<string> = []
    for (const { tenant } of rows) {
      try {
        names.push(tenantText(tenant))
      } catch (e) {
        return yield* Effect.fail((e as Error).message)
      }
    }
    return names
  }
).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "tenants", cause })))

/** Whether the ledger has a row or a journal entry for `tenant` (`tenants` lists it). */
export const hasTenant = (tenant: string): Effect.Effect<boolean, LedgerStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const key = utf8.encode(tenant)
    const rows = yield* decodeTenantRows(
      yield* sql`SELECT tenant FROM calybris_budget_tenants WHERE tenant = ${key}::bytea
        UNION ALL (SELECT tenant FROM calybris_budget_journal WHERE tenant = ${key}::bytea LIMIT 1)`
    )
    return rows.length > 0
  }).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation: "hasTenant", cause })))

/** What an audit found: the chain's length and last hash (SPEC §5's verification). */
export interface Audited {
  readonly count: bigint
  readonly lastHash: string
}

const I64 = (value: bigint | undefined): bigint => value ?? 0n

/**
 * Verify a tenant's chain (SPEC §5, keyed with `JournalKey` when one is set) and replay it
 * through the state machine: every entry must decode as a record of a command on this tenant,
 * the state machine must return exactly the recorded result, and the replay must end on the
 * tenant's row (balances, cap, chain length and head) and with its open holds in
 * `calybris_budget_reservations` (id, amount, expiry). The first failure names its sequence.
 */
export const audit = (
  tenant: string,
  options: Pick<Reader.ReaderOptions, "maxLineBytes"> = {}
): Effect.Effect<Audited, LedgerStoreError | WalVerifyError | WalEmptyKey | JournalAuditFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key = yield* contextKey("audit")
    const chain = yield* Chain.make(key === undefined ? {} : { key })
    const sql = yield* SqlClient.SqlClient
    // the chain and the row as of one instant (one REPEATABLE READ snapshot): read one after the
    // other while instances write the tenant, the row could be ahead of the chain read before it
    const [bytes, [row], openHolds] = yield* sql.withTransaction(
      Effect.gen(function*() {
        yield* sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`
        return yield* Effect.all([
          exportTenant(tenant),
          sql`SELECT present, initial::text, remaining::text, reserved::text, committed::text,
            cap::text, journal_seq::text, encode(journal_head, 'hex') AS journal_head
          FROM calybris_budget_tenants WHERE tenant = ${utf8.encode(tenant)}::bytea`.pipe(Effect.flatMap(decodeHead)),
          // (ordered by the number: `ORDER BY id` would name the text column, "10" before "2")
          sql`SELECT r.id::text AS id, r.amount::text AS amount, r.expires_at_ms::text AS expires_at_ms
          FROM calybris_budget_reservations r
          WHERE r.tenant = ${utf8.encode(tenant)}::bytea AND r.state = 'open' ORDER BY r.id`.pipe(
            Effect.flatMap(decodeOpenHolds)
          )
        ])
      })
    ).pipe(
      failedTransaction,
      Effect.mapError((cause) =>
        cause instanceof LedgerStoreError ? cause : new LedgerStoreError({ operation: "audit", cause })
      )
    )
    const s = new L.LedgerState()
    // every id this tenant's chain remembers (the database forgets none)
    s.operations.limit = Number.MAX_SAFE_INTEGER
    const replay: ReplayState = { state: s, issued: new Set() }
    const fail = (seq: bigint, reason: string) => new JournalAuditFailed({ tenant, seq, reason })
    const verified = yield* Reader.verifyEach(
      Stream.make(bytes),
      { chain, maxLineBytes: options.maxLineBytes },
      (entry) => replayEntry(replay, tenant, entry.sequence, entry.data, fail)
    )
    const end = verified.count + 1n
    // the tenant's open holds as the replay leaves them, against its open rows (a hold put in,
    // changed or taken out in SQL: a helper's review found the audit blind to them, though
    // snapshots refuse them and send the operator here)
    const replayedHolds = [...s.holds]
      .filter(([, h]) => h.tenant === tenant)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, h]) => `${id}:${h.amount}:${h.expiresAt ?? "-"}`)
    const rowHolds = openHolds.map((h) => `${h.id}:${h.amount}:${h.expires_at_ms ?? "-"}`)
    if (replayedHolds.join(" ") !== rowHolds.join(" ")) {
      const shown = (holds: ReadonlyArray<string>) =>
        holds.length === 0
          ? "none"
          : holds.length <= 8
          ? holds.join(" ")
          : `${holds.slice(0, 8).join(" ")} … (${holds.length})`
      return yield* fail(
        end,
        `the open holds (id:amount:expiry) in calybris_budget_reservations are ${shown(rowHolds)}, the replay's ${
          shown(replayedHolds)
        }`
      )
    }
    if (row === undefined) {
      return verified.count === 0n ? { count: 0n, lastHash: verified.lastHash } : yield* fail(end, "no tenant row")
    }
    if (row.journal_seq !== verified.count) {
      return yield* fail(end, `the chain has ${verified.count} entries, the tenant's row counts ${row.journal_seq}`)
    }
    if ((row.journal_head ?? Chain.GENESIS) !== verified.lastHash) {
      return yield* fail(end, `the chain ends at ${verified.lastHash}, the tenant's row at ${row.journal_head}`)
    }
    const replayed = L.tenantBalances(s, tenant)
    const present = replayed !== undefined
    if (present !== row.present) {
      return yield* fail(
        end,
        `replayed tenant ${present ? "exists" : "is absent"}, the row says present=${row.present}`
      )
    }
    const expected =
      `initial=${row.initial} remaining=${row.remaining} reserved=${row.reserved} committed=${row.committed} cap=${row.cap}`
    const found = `initial=${I64(replayed?.initial)} remaining=${I64(replayed?.remaining)} reserved=${
      I64(replayed?.reserved)
    } committed=${I64(replayed?.committed)} cap=${s.caps.get(tenant) ?? null}`
    if (expected !== found) return yield* fail(end, `the row holds ${expected}, the replay ${found}`)
    return { count: verified.count, lastHash: verified.lastHash }
  })

/**
 * The kinds a tenant's chain holds, and whether their record carries a result. A `Restore` is
 * a restore of this tenant alone (`LedgerPg` journals one on every tenant a restore rewrites):
 * the snapshot holds its balance, or none when the restore made it absent; replayed as the state
 * machine restores (its open holds dropped, its cap and remembered ids kept).
 */
const hasResult = (c: L.Command): boolean | undefined => {
  switch (c._tag) {
    case "EnsureTenant":
    case "SetExposureCap":
    case "Restore":
      return false
    case "TopUp":
    case "Reserve":
    case "Admit":
    case "Commit":
    case "Release":
    case "Expire":
      return true
    default:
      return undefined
  }
}

/** What a tenant's replay carries from entry to entry besides the state: the reservation ids its chain issued. */
interface ReplayState {
  readonly state: L.LedgerState
  readonly issued: Set<bigint>
}

/**
 * What the writer never journals (`PgOperations`, `PgBatcher`), beyond a result the state
 * machine does not give: a record it would not spell so (a member it does not write, another
 * order), a command with an argument the ledger refuses (`Arguments.validateCommand`), an
 * ensure of a tenant that exists (only the ensure that creates one is journaled), a refusal
 * under no operation id (only a refusal remembered under an id is), a retry of an id already
 * answered (a retry returns the remembered result and writes nothing), a settlement of a
 * reservation this chain never issued (such a refusal names no tenant row: not chained), a
 * removal of a cap the tenant does not have (nothing changes: not journaled). (The
 * expiry of a hold that has none is not refused: `PgOperations.release(Command.expire(id))`
 * journals one for any open hold; `LedgerPg` expires only the holds due.)
 */
const neverWritten = (r: ReplayState, tenant: string, data: Json.Json, record: Record): string | undefined => {
  const encoded = encodeRecord(record)
  if (Either.isLeft(encoded) || Json.print(encoded.right as Json.Json) !== Json.print(data)) {
    return "the record is not as the ledger writes it (a member it does not write, or another order)"
  }
  const command = record.command as L.Command
  const invalid = Arguments.validateCommand(command)
  if (invalid !== undefined) return `an argument the ledger refuses: ${invalid.message}`
  const s = r.state
  if (command._tag === "EnsureTenant" && L.tenantBalances(s, tenant) !== undefined) {
    return "an ensure of a tenant that exists (the ledger journals the ensure that creates it)"
  }
  if (command._tag === "SetExposureCap" && command.max === 0n && !s.caps.has(tenant)) {
    return "a removal of a cap the tenant does not have (the ledger journals none)"
  }
  const recorded = record.result
  const id = L.operationId(command)
  if (recorded !== undefined && !L.applied(recorded as L.Result) && id === undefined) {
    return `a refusal (${recorded._tag}) under no operation id (only a refusal remembered under an id is journaled)`
  }
  if (id !== undefined && s.operations.has(id)) {
    return `operation id ${JSON.stringify(id)} was answered already (a retry is never journaled)`
  }
  if (command._tag === "Commit" || command._tag === "Release" || command._tag === "Expire") {
    if (!r.issued.has(command.reservation)) {
      return `reservation ${command.reservation} was never issued to this tenant (a refusal naming no tenant row is not chained)`
    }
  }
  return undefined
}

/** Apply one verified entry to the replayed state: it must be a record of this tenant whose result the state machine gives. */
const replayEntry = (
  r: ReplayState,
  tenant: string,
  seq: bigint,
  data: Json.Json,
  fail: (seq: bigint, reason: string) => JournalAuditFailed
): Either.Either<void, JournalAuditFailed> => {
  const s = r.state
  const decoded = decodeRecord(data)
  if (Either.isLeft(decoded)) {
    return Either.left(fail(seq, `not a journal record: ${JsonSchema.formatError(decoded.left)}`))
  }
  const record = decoded.right
  const command = record.command as L.Command
  const withResult = hasResult(command)
  if (withResult === undefined) return Either.left(fail(seq, `a ${command._tag} has no place in a tenant's chain`))
  if ("tenant" in command && command.tenant !== tenant) {
    return Either.left(fail(seq, `the entry names tenant ${JSON.stringify(command.tenant)}`))
  }
  const never = neverWritten(r, tenant, data, record)
  if (never !== undefined) return Either.left(fail(seq, never))
  // before the restore's own checks: a restore with a result (a top-up's, say) passed them
  if (withResult !== (record.result !== undefined)) {
    return Either.left(fail(seq, withResult ? "the entry lacks its result" : "the entry has a result it cannot have"))
  }
  if (command._tag === "Restore") {
    // a restore of this tenant alone: its balance, or none (made absent); no open hold
    const other = command.snapshot.tenants.find((t) => t.tenant_id !== tenant)
    if (other !== undefined) {
      return Either.left(fail(seq, `the restore names tenant ${JSON.stringify(other.tenant_id)}`))
    }
    if (command.snapshot.tenants.length > 1 || command.snapshot.active_reservations !== 0n) {
      return Either.left(fail(seq, "a tenant's restore holds one balance at most and no hold"))
    }
    const restored = L.step(s, command)
    return restored._tag === "Restored"
      ? Either.void
      : Either.left(fail(seq, `the state machine refuses the restore: ${restored._tag}`))
  }
  if (command._tag === "Admit" && command.operation_id !== undefined) {
    const binding = L.bindingOfAudited((command as { audited?: Json.Json }).audited)
    if (binding !== undefined) (command as { binding?: string }).binding = binding
  }
  const recorded = record.result
  if (recorded !== undefined && recorded._tag === "Reserved") {
    // the global sequence issued this id: the replay issues the same one
    if (r.issued.has(recorded.reservation_id)) {
      return Either.left(fail(seq, `reservation ${recorded.reservation_id} is issued twice`))
    }
    r.issued.add(recorded.reservation_id)
    s.nextReservation = recorded.reservation_id
  }
  const result = L.step(s, command)
  if (recorded === undefined) return Either.void
  const expected = encodeResult(recorded)
  const found = encodeResult(result as typeof Journal.RememberedResult.Type)
  const expectedText = Either.isRight(expected) ? Json.print(expected.right as Json.Json) : "?"
  // (a result no operation id can remember, such as an IdempotencyConflict, does not encode)
  const foundText = Either.isRight(found) ? Json.print(found.right as Json.Json) : String(found.left.message)
  return expectedText === foundText
    ? Either.void
    : Either.left(fail(seq, `recorded ${expectedText}, the state machine gives ${foundText}`))
}
