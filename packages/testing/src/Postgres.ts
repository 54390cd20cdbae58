/**
 * The PostgreSQL server of the tests (a real one, never a mock): `CALYBRIS_TEST_DATABASE_URL`, set by
 * `.ci/run` or by the `postgres` vitest projects' globalSetup (`PostgresSetup`), and a fresh database
 * per test file on it, created and dropped through the server's own `psql` (no client library here).
 *
 * ```ts
 * describe.skipIf(Postgres.skip())("ledger on PostgreSQL", () => {
 *   layer(Postgres.layerDatabase)((it) => {
 *     it.effect("…", () => Effect.gen(function*() { const { url } = yield* Postgres.TestDatabase }))
 *   })
 * })
 * ```
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as path from "node:path"

const env = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}

/** The test server's URL (`postgresql://postgres@127.0.0.1:PORT/postgres`), or undefined when there is none. */
export const databaseUrl = (): string | undefined => env("CALYBRIS_TEST_DATABASE_URL")

/** `CALYBRIS_REQUIRE_POSTGRES=1` (`.ci/run`): a missing server is an error, never a skip. */
export const required = (): boolean => process.env["CALYBRIS_REQUIRE_POSTGRES"] === "1"

/** Skip the PostgreSQL tests: there is no server and none is required (the globalSetup said so, loudly). */
export const skip = (): boolean => databaseUrl() === undefined && !required()

/** The `psql` of the server's installation (the globalSetup finds it), else the one on PATH. */
export const psqlBinary = (): string => {
  const bindir = env("CALYBRIS_TEST_POSTGRES_BINDIR")
  return bindir === undefined ? "psql" : path.join(bindir, "psql")
}

/** A statement failed, or psql could not run; `url` has no password (the test server trusts). */
export class PostgresError extends Schema.TaggedError<PostgresError>()("PostgresError", {
  url: Schema.String,
  sql: Schema.String,
  message: Schema.String
}) {}

/** There is no test server (`CALYBRIS_TEST_DATABASE_URL` is unset) while the tests require one. */
export class NoTestServer extends Schema.TaggedError<NoTestServer>()("NoTestServer", {
  message: Schema.String
}) {}

const server: Effect.Effect<string, NoTestServer> = Effect.suspend(() => {
  const url = databaseUrl()
  return url === undefined
    ? Effect.fail(
      new NoTestServer({
        message: "CALYBRIS_TEST_DATABASE_URL is not set: run the tests in a vitest project with postgresSetup"
      })
    )
    : Effect.succeed(url)
})

/**
 * Run `sql` with psql on `url` (the test server by default): the rows unaligned, one a line, fields
 * separated by `|`, without the trailing newline. Stops at the first error (ON_ERROR_STOP).
 */
export const psql = (sql: string, url?: string): Effect.Effect<string, PostgresError | NoTestServer> =>
  Effect.flatMap(
    url === undefined ? server : Effect.succeed(url),
    (target) =>
      Effect.async<string, PostgresError>((resume) => {
        const child = execFile(
          psqlBinary(),
          ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", sql],
          { encoding: "utf8" },
          (error, stdout, stderr) =>
            resume(
              error === null
                ? Effect.succeed(stdout.replace(/\n$/, ""))
                : Effect.fail(new PostgresError({ url: target, sql, message: stderr.trim() || error.message }))
            )
        )
        return Effect.sync(() => child.kill())
      })
  )

/** The URL of database `name` on the server at `url`. */
export const withDatabase = (url: string, name: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${name}`
  return parsed.toString()
}

export interface Database {
  readonly name: string
  readonly url: string
}

/**
 * A fresh, empty database on the test server (`calybris_test_<12 hex digits>`, from the OS's random
 * source so parallel test files never collide, whatever their seed), dropped when the scope closes
 * (`WITH (FORCE)`: connections left open do not keep it).
 */
export const makeDatabase: Effect.Effect<Database, PostgresError | NoTestServer, Scope.Scope> = Effect
  .gen(function*() {
    const url = yield* server
    const name = `calybris_test_${randomBytes(6).toString("hex")}`
    return yield* Effect.acquireRelease(
      Effect.as(
        // UTF-8 with the C collation whatever the server's defaults: byte order, as the ledger sorts
        psql(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`, url),
        { name, url: withDatabase(url, name) }
      ),
      () => Effect.orDie(psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, url))
    )
  })

/** The database of a test file (or describe block): `layer(Postgres.layerDatabase)` in @effect/vitest. */
export class TestDatabase extends Context.Tag("@calybris/testing/Postgres/TestDatabase")<TestDatabase, Database>() {}

export const layerDatabase: Layer.Layer<TestDatabase, PostgresError | NoTestServer> = Layer.scoped(
  TestDatabase,
  makeDatabase
)
