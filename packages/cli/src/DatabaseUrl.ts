/**
 * Which ledger a budget command runs on: a journal file (`--journal FILE`) or a PostgreSQL
 * database (`--database URL`, else the `CALYBRIS_DATABASE_URL` environment variable).
 *
 * The URL is a secret: it may carry a password. It stays `Redacted` from the command line to the
 * client; nothing here prints it, and every error about it names the `Target` only (host, port
 * and database — never the user or the password). Light on purpose (no PostgreSQL client): every
 * budget command runs `select`, and only one that uses a database loads the client (`Database`).
 */
import * as PgUrl from "@calybris/budget-pg/PgUrl"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { UsageError } from "./CliError.js"

/** The environment variable a database URL is read from when no flag names the ledger. */
export const ENV = "CALYBRIS_DATABASE_URL"

/** Where a URL points, as errors may show it: host, port and database (no user, no password). */
export type Target = PgUrl.Target

/** `host:port/database` (an IPv6 host keeps its brackets). */
export const targetText = PgUrl.targetText

/**
 * The target of a PostgreSQL URL (`PgUrl.parse`), or why it is not one as a usage error — a
 * reason that never quotes the URL. `source`: where it came from (`--database`, the variable).
 */
export const parse = (url: Redacted.Redacted<string>, source: string): Either.Either<Target, UsageError> =>
  Either.mapLeft(
    PgUrl.parse(url),
    (invalid) => new UsageError({ reason: `${source}: ${invalid.reason} ${PgUrl.HINT}` })
  )

/** A database to run on: its URL (secret) and its target (printable). */
export interface DatabaseSource {
  readonly _tag: "Database"
  readonly url: Redacted.Redacted<string>
  readonly target: Target
}

/** The ledger a command runs on. */
export type Source =
  | { readonly _tag: "Journal"; readonly journal: string }
  | DatabaseSource

/** The flags that name a ledger (`Commands.ledgerCommon`), and the key flags. */
export interface SourceFlags {
  readonly journal: Option.Option<string>
  readonly database: Option.Option<Redacted.Redacted<string>>
  readonly allowEmptyKey?: boolean | undefined
}

/** `CALYBRIS_DATABASE_URL` through Effect's `Config` (an empty value counts as unset). */
const fromEnvironment: Effect.Effect<Option.Option<Redacted.Redacted<string>>> = Config.option(Config.redacted(ENV))
  .pipe(
    Effect.map(Option.filter((url) => Redacted.value(url) !== "")),
    Effect.orElseSucceed(() => Option.none())
  )

/** A database source from a URL, checked. */
export const database = (url: Redacted.Redacted<string>, source: string): Either.Either<DatabaseSource, UsageError> =>
  Either.map(parse(url, source), (target) => ({ _tag: "Database", url, target }))

/**
 * The database a command that only works on one (`budget migrate`, `demo --database`) runs on:
 * `--database`, else `CALYBRIS_DATABASE_URL`; `None` when neither is given.
 */
export const databaseOf = (
  flag: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<Option.Option<DatabaseSource>, UsageError> =>
  Option.isSome(flag)
    ? Effect.map(database(flag.value, "--database"), Option.some)
    : Effect.flatMap(fromEnvironment, (env) =>
      Option.isSome(env) ? Effect.map(database(env.value, ENV), Option.some) : Effect.succeedNone)

/**
 * The ledger a budget command runs on: `--journal FILE`, or `--database URL`, or (neither given)
 * `CALYBRIS_DATABASE_URL`. Both flags at once, neither flag nor variable, a URL that is not a
 * PostgreSQL URL, or `--allow-empty-key` with a database (its journal is new: an empty key, which
 * anyone could forge with, has no legacy to serve there) are usage errors (exit 2), and none of
 * them prints the URL. `--key-file` / `--key-env` key the database's journal (`Key.load` reads
 * them, under the journal file's rules).
 */
export const select = (flags: SourceFlags): Effect.Effect<Source, UsageError> =>
  Effect.gen(function*() {
    if (Option.isSome(flags.journal) && Option.isSome(flags.database)) {
      return yield* new UsageError({
        reason: "--journal and --database name two ledgers: give one (a journal file, or a PostgreSQL database)"
      })
    }
    if (Option.isSome(flags.journal)) return { _tag: "Journal", journal: flags.journal.value } as const
    const db = yield* databaseOf(flags.database)
    if (Option.isNone(db)) {
      return yield* new UsageError({
        reason: `no ledger: give --journal FILE (a journal file) or --database URL (PostgreSQL; or set ${ENV})`
      })
    }
    if (flags.allowEmptyKey === true) yield* refuseEmptyKey(db.value)
    return db.value
  })

/** `--allow-empty-key` with a database: refused (a database's journal has no legacy empty-key chain to read). */
export const refuseEmptyKey = (db: DatabaseSource): Effect.Effect<never, UsageError> =>
  new UsageError({
    reason: `--allow-empty-key: the journal on a database (${
      targetText(db.target)
    }) takes a non-empty key or none (an empty key lets anyone forge its entries)`
  })
