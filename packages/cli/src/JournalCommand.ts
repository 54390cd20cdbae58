/**
 * `calybris budget journal …`: the per-tenant journal of the ledger on a PostgreSQL database
 * (`PgJournal`). Loaded only by these commands (it carries the PostgreSQL client, as `Database`).
 *
 * - `export --tenant T [--out FILE]`: the tenant's chain as WAL JSONL, exactly as stored (an entry
 *   edited in the database is exported as edited, for `calybris wal verify` to find). To stdout,
 *   or to `FILE` replaced atomically: written to a new temporary file beside it, synced, then
 *   renamed over it, the temporary file removed on any failure — `FILE` is either as it was or
 *   the whole export, never a part of it.
 * - `audit [--tenant T] [key]`: every tenant's chain (byte order), or one, verified (HMAC with the
 *   key) and replayed against the tenant's row (`PgJournal.audit`); one line per tenant as it
 *   passes; the first failure stops it, as a `JournalAuditFailed` naming the tenant and the
 *   sequence (a chain that does not verify too: its WAL error is the reason), exit 1.
 *
 * A tenant the database has never seen (no row, no entry) is an `UnknownTenant` (exit 2). The
 * database's URL is never printed (`Database.guard`), nor the key (`Key`).
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as Arguments from "@calybris/budget/Arguments"
import type { WalVerifyError } from "@calybris/wal/WalError"
import * as WalNode from "@calybris/wal/WalNode"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { IoError, UnknownTenant, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import * as Database from "./Database.js"
import * as DatabaseUrl from "./DatabaseUrl.js"
import { platformReason, requireOutPath, STDOUT } from "./Files.js"
import * as Format from "./Format.js"
import * as Key from "./Key.js"
import { emit, obj, printLines, setJson } from "./Output.js"
import { Stdio } from "./Stdio.js"

/** The database of a journal command: `--database`, else `CALYBRIS_DATABASE_URL`. */
const databaseOf = (flag: Option.Option<Redacted.Redacted<string>>, command: string) =>
  Effect.flatMap(DatabaseUrl.databaseOf(flag), (found) =>
    Option.isSome(found)
      ? Effect.succeed(found.value)
      : new UsageError({
        reason: `budget journal ${command} needs a database: give --database URL or set ${DatabaseUrl.ENV}`
      }))

/** Fail with `UnknownTenant` unless the database has a row or a journal entry for `tenant`. */
const requireTenant = (db: DatabaseUrl.DatabaseSource, tenant: string) =>
  Effect.flatMap(
    PgJournal.hasTenant(tenant),
    (known) =>
      known ? Effect.void : Effect.fail(new UnknownTenant({ tenant, target: DatabaseUrl.targetText(db.target) }))
  )

/**
 * Run `effect` on a connection pool on `db` migrated to this version (`PgSchema.SchemaOutdated`
 * otherwise, telling to run `budget migrate`), its failures reported without the URL (`Database.guard`).
 */
const onDatabase = <A, E, R>(db: DatabaseUrl.DatabaseSource, operation: string, effect: Effect.Effect<A, E, R>) =>
  Database.guard(db, operation)(Effect.provide(Effect.zipRight(PgSchema.check, effect), Database.client(db)))

// ---------------------------------------------------------------------------------------------
// export

const fromUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** `calybris budget journal export`. */
export const exportTenant = (flags: Commands.FlagsOf<typeof Commands.journalOptions.export>) =>
  Effect.gen(function*() {
    yield* setJson(false)
    const tenant = yield* Arguments.tenantId(flags.tenant)
    if (Option.isSome(flags.out)) yield* requireOutPath("--out", flags.out.value)
    const db = yield* databaseOf(flags.database, "export")
    // `--out -`: standard output, as without --out (never a file named "-")
    if (Option.isSome(flags.out) && flags.out.value !== STDOUT) {
      const written = yield* onDatabase(
        db,
        "journal export",
        Effect.zipRight(
          requireTenant(db, tenant),
          PgJournal.writeTenant(tenant, flags.out.value).pipe(Effect.provide(WalNode.layer))
        )
      ).pipe(
        Effect.catchTag("JournalWriteError", (e) =>
          new IoError({ operation: "write", path: e.path, reason: platformReason(e.cause) }))
      )
      return yield* printLines([
        `exported ${Format.count(written.entries, "entry", "entries")} of tenant ${Format.name(tenant)} to ${
          Format.visible(flags.out.value)
        } (${Format.int(written.bytes)} bytes)`
      ])
    }
    const bytes = yield* onDatabase(
      db,
      "journal export",
      Effect.zipRight(requireTenant(db, tenant), PgJournal.exportTenant(tenant))
    )
    let text: string
    try {
      text = fromUtf8.decode(bytes)
    } catch {
      // (stdout is text here; a file takes the bytes as stored)
      return yield* new UsageError({
        reason: `the journal of tenant ${
          Format.name(tenant)
        } holds bytes that are not UTF-8 (an entry edited in the database?): export it with --out FILE, which writes them as stored`
      })
    }
    yield* Effect.flatMap(Stdio, (stdio) =>
      stdio.writeStdout(text))
  })

// ---------------------------------------------------------------------------------------------
// audit

/**
 * The sequence a WAL error is at: the position in the chain where it breaks — for a sequence
 * number out of place, the one expected there (an entry deleted before it, or one repeated);
 * else its entry's sequence, or its line (an export's line N is entry N).
 */
const sequenceOf = (e: WalVerifyError): bigint =>
  e._tag === "WalSequenceError" ? e.expected : "sequence" in e ? e.sequence : "line" in e ? BigInt(e.line) : 0n

/** Why a chain failed, from its WAL error (a sequence error says which it expected). */
const reasonOf = (e: WalVerifyError): string =>
  e._tag === "WalSequenceError"
    ? `${e._tag}: ${e.message} (expected sequence ${e.expected} there)`
    : `${e._tag}: ${e.message}`

/** `calybris budget journal audit`. */
export const audit = (flags: Commands.FlagsOf<typeof Commands.journalOptions.audit>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const tenant = Option.isSome(flags.tenant)
      ? Option.some(yield* Arguments.tenantId(flags.tenant.value))
      : Option.none()
    const db = yield* databaseOf(flags.database, "audit")
    if (flags.allowEmptyKey) return yield* DatabaseUrl.refuseEmptyKey(db)
    const loaded = yield* Key.load(flags)
    const auditOne = (name: string) =>
      PgJournal.audit(name, { maxLineBytes: loaded.maxLineBytes }).pipe(
        Key.hintOnFailure(loaded),
        Effect.catchTags({
          WalReadError: (e) => Effect.fail(walFailure(name, e)),
          WalParseError: (e) => Effect.fail(walFailure(name, e)),
          WalTornTail: (e) => Effect.fail(walFailure(name, e)),
          WalSequenceError: (e) => Effect.fail(walFailure(name, e)),
          WalChainBroken: (e) => Effect.fail(walFailure(name, e)),
          WalLineTooLong: (e) => Effect.fail(walFailure(name, e))
        }),
        Effect.tap((found) =>
          emit(
            flags.json,
            () => [
              `ok: tenant ${Format.name(name)}: ${
                Format.count(found.count, "entry", "entries")
              } (${loaded.chain}), last hash ${found.lastHash}`
            ],
            () =>
              obj([
                ["tenant", name],
                ["ok", true],
                ["entries", found.count],
                ["last_hash", found.lastHash],
                ["chain", loaded.chain]
              ])
          )
        )
      )
    const program = Effect.gen(function*() {
      const names = Option.isSome(tenant)
        ? yield* Effect.as(requireTenant(db, tenant.value), [tenant.value])
        : yield* PgJournal.tenants
      for (const name of names) yield* auditOne(name)
      return names.length
    })
    const count = yield* onDatabase(
      db,
      "journal audit",
      loaded.key === undefined ? program : Effect.provide(program, PgJournal.layerKey(loaded.key))
    )
    if (count === 0 && !flags.json) {
      yield* printLines([`no tenant in the ledger at ${DatabaseUrl.targetText(db.target)}: nothing to audit`])
    }
  })

const walFailure = (tenant: string, e: WalVerifyError) =>
  new PgJournal.JournalAuditFailed({ tenant, seq: sequenceOf(e), reason: reasonOf(e) })
