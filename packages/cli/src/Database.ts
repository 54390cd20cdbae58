/**
 * The budget ledger on PostgreSQL, for the CLI: `calybris budget migrate`, and the `Ledger` layer
 * a budget command runs on when it is given `--database URL` (or `CALYBRIS_DATABASE_URL`;
 * `DatabaseUrl.select` decides). Loaded only by a command that uses a database: it carries the
 * PostgreSQL client (`pg`, through `@effect/sql-pg`), which no other command loads.
 *
 * Every failure that comes from the database (unreachable, login refused, no such database, a
 * failed statement) is a `DatabaseError` naming the target (`host:port/database`) and a one-line
 * reason; the URL, which may hold a password, is never printed: the reason is scrubbed of it and
 * of its password, and so is a defect's message (`guard`). A database that is not migrated fails
 * with the layer's `SchemaOutdated` (run `calybris budget migrate`).
 */
import * as LedgerPg from "@calybris/budget-pg/LedgerPg"
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as PgUrl from "@calybris/budget-pg/PgUrl"
import * as Ledger from "@calybris/budget/Ledger"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { DatabaseError, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import * as DatabaseUrl from "./DatabaseUrl.js"
import { emit, obj, setJson } from "./Output.js"

// ---------------------------------------------------------------------------------------------
// Failures, without the URL

/** `text` with the URL and every password in it replaced by `[redacted]`. */
const scrub = (db: DatabaseUrl.DatabaseSource, text: string): string => PgUrl.scrub(db.url, text)

const field = (value: unknown, name: string): unknown =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined

/** The innermost cause of a failure (`LedgerStoreError` → `SqlError` → `pg`'s or Node's error). */
const rootCause = (error: unknown): unknown => {
  let at = error
  for (let depth = 0; depth < 16; depth++) {
    const next = field(at, "cause")
    if (next === undefined || next === null) break
    at = next
  }
  return at
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)

/**
 * One line saying why the server could not serve us: from Node's socket error codes and from the
 * server's SQLSTATE (its own message, which names the user or the database, never a password).
 */
const reasonOf = (error: unknown): string => {
  const root = rootCause(error)
  const code = text(field(root, "code"))
  const message = text(field(root, "message")) ?? text(field(error, "message")) ?? String(root)
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (is a PostgreSQL server listening on that host and port?)"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host"
    case "ETIMEDOUT":
      return "timed out connecting"
    case "ECONNRESET":
    case "EPIPE":
      return "the server closed the connection"
    case "28P01":
      return `authentication failed: ${message}`
    case undefined:
      // (pg: "timeout expired", "Connection terminated due to connection timeout", "Query read timeout")
      return /timed out|timeout/i.test(message) ? "timed out connecting" : message
    default:
      // a SQLSTATE is five characters; Node's codes are words
      return /^[0-9A-Z]{5}$/.test(code) ? `${message} (SQLSTATE ${code})` : `${message} (${code})`
  }
}

/** The failures of the client and of the store, which `DatabaseError` reports. */
const STORE_TAGS: ReadonlySet<string> = new Set([
  "SqlError",
  "LedgerStoreError",
  "LedgerConnectionError",
  "ResultLengthMismatch"
])

/**
 * Run `effect` on `db`, its storage failures reported as `DatabaseError`s (naming `operation`
 * unless the failure names its own), everything printed scrubbed of the URL: the ledger's own
 * results and errors (an invalid argument, an idempotency conflict, `SchemaOutdated`) pass as
 * they are; a defect keeps its cause, its message scrubbed.
 */
export const guard =
  (db: DatabaseUrl.DatabaseSource, operation: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | DatabaseError, R> =>
    effect.pipe(
      Effect.mapError((error) => {
        const tag = text(field(error, "_tag"))
        if (tag === undefined || !STORE_TAGS.has(tag)) return error
        return new DatabaseError({
          target: DatabaseUrl.targetText(db.target),
          operation: text(field(error, "operation")) ?? operation,
          reason: scrub(db, reasonOf(error))
        })
      }),
      Effect.catchAllDefect((defect) =>
        Effect.die(new Error(scrub(db, defect instanceof Error ? defect.message : String(defect))))
      )
    )

// ---------------------------------------------------------------------------------------------
// Layers

/** A connection pool on `db` (`@effect/sql-pg`), its connection checked when it is built. */
export const client = (db: DatabaseUrl.DatabaseSource) =>
  LedgerPg.pool({ url: db.url, applicationName: "calybris", maxConnections: 2 })

/**
 * The ledger on `db` (`LedgerPg.layerClient`: which must be migrated, `SchemaOutdated`
 * otherwise) over this module's pool, so that a connection failure is reported as every other
 * failure of the database (`guard`).
 */
export const ledgerLayer = (
  db: DatabaseUrl.DatabaseSource,
  options: { readonly migrate?: boolean; readonly readOnly?: boolean; readonly maintenance?: boolean } = {}
) =>
  Layer.provide(
    options.migrate === true ?
      Layer.effect(Ledger.Ledger, Effect.zipRight(PgSchema.migrate, LedgerPg.make)) :
      options.readOnly === true ?
      LedgerPg.layerClientReadOnly :
      options.maintenance === true ?
      LedgerPg.layerClientMaintenance :
      LedgerPg.layerClient,
    client(db)
  )

/** Options of `withLedger`. */
export interface LedgerOptions {
  /** run the pending migrations first, as `budget migrate` does — the demo's way; a command never does */
  readonly migrate?: boolean
  /**
   * the journal's HMAC key (`--key-file` / `--key-env`, loaded by `Key.load`): every entry the
   * operation writes is keyed with it (`PgJournal.layerKey`); none: unkeyed (SHA-256)
   */
  readonly key?: Uint8Array | undefined
  /**
   * a reader's ledger (`LedgerPg.makeReadOnly`), for a read-only command: the key compared with
   * the ledger's, never pinned; nothing written
   */
  readonly readOnly?: boolean
  /**
   * a maintenance ledger (`LedgerPg.makeMaintenance`: `prove`, `certify`): snapshots and
   * certificates only, the key compared with the ledger's, never pinned
   */
  readonly maintenance?: boolean
}

/**
 * Run `operation` on the ledger of `db`, failures reported by `guard`, its journal entries keyed
 * with `options.key` when given.
 */
export const withLedger = <A, E, R>(
  db: DatabaseUrl.DatabaseSource,
  operation: string,
  effect: Effect.Effect<A, E, R>,
  options: LedgerOptions = {}
) =>
  guard(db, operation)(
    Effect.provide(
      effect,
      // the key is the ledger's, given to it when it is built: it pins the key (`PgJournal.pinKey`)
      // and keys every statement with it
      options.key === undefined
        ? ledgerLayer(db, options)
        : Layer.provide(ledgerLayer(db, options), PgJournal.layerKey(options.key))
    )
  )

// ---------------------------------------------------------------------------------------------
// calybris budget migrate

/** `id_name` keys of the migrations this version knows (`1_ledger`, …), as [id, name]. */
const known = (): ReadonlyArray<readonly [number, string]> =>
  Object.keys(PgSchema.migrations).map((key) => {
    const at = key.indexOf("_")
    return [Number(key.slice(0, at)), key.slice(at + 1)] as const
  }).sort((a, b) => a[0] - b[0])

/** `calybris budget migrate`. */
export const migrate = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.migrate>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const found = yield* DatabaseUrl.databaseOf(flags.database)
    if (Option.isNone(found)) {
      return yield* new UsageError({
        reason: `budget migrate needs a database: give --database URL or set ${DatabaseUrl.ENV}`
      })
    }
    const db = found.value
    const applied = yield* PgSchema.migrate.pipe(Effect.provide(client(db)), guard(db, "migrate"))
    const target = DatabaseUrl.targetText(db.target)
    const latest = known().at(-1)
    yield* emit(
      flags.json,
      () =>
        applied.length === 0
          ? [`${target}: up to date, no migration pending (schema ${latest === undefined ? 0 : latest[0]})`]
          : [
            `${target}: applied ${applied.length} migration${applied.length === 1 ? "" : "s"}`,
            ...applied.map(([id, name]) => `  ${id} ${name}`)
          ],
      () =>
        obj([
          ["target", target],
          ["applied", applied.map(([id, name]) => obj([["id", id], ["name", name]]))],
          ["schema", latest === undefined ? 0 : latest[0]]
        ])
    )
  })
