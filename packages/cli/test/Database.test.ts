/**
 * `--database URL` / `CALYBRIS_DATABASE_URL`: which ledger a budget command runs on
 * (`DatabaseUrl.select`), what its errors may name (host, port, database), and that no error —
 * a usage error about the URL, a failure of the database, a defect — ever carries the URL or
 * its password (`Database.guard`). The same through the real CLI on a real server:
 * test/postgres/cli.test.ts.
 */
import { LedgerStoreError } from "@calybris/budget/LedgerError"
import * as Database from "@calybris/cli/Database"
import * as DatabaseUrl from "@calybris/cli/DatabaseUrl"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

const url = (text: string) => Redacted.make(text)

const select = (flags: Partial<DatabaseUrl.SourceFlags>, env: Record<string, string> = {}) =>
  DatabaseUrl.select({ journal: Option.none(), database: Option.none(), ...flags }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.either
  )

const target = (text: string) => Either.map(DatabaseUrl.parse(url(text), "--database"), DatabaseUrl.targetText)

describe("DatabaseUrl", () => {
  it("names a URL's host, port and database, never its user or password", () => {
    assert.deepStrictEqual(target("postgres://gw:pw@db.internal:6543/ledger"), Either.right("db.internal:6543/ledger"))
    assert.deepStrictEqual(target("postgresql://gw:pw@db.internal/ledger"), Either.right("db.internal:5432/ledger"))
    assert.deepStrictEqual(target("postgres://gw:pw@[::1]:5433/l%C3%A9dger"), Either.right("[::1]:5433/lédger"))
    assert.deepStrictEqual(
      target("postgres:///ledger?host=%2Fvar%2Frun%2Fpostgresql&port=5433"),
      Either.right("/var/run/postgresql:5433/ledger")
    )
    assert.deepStrictEqual(target("postgres://gw@db"), Either.right("db:5432/(the user's)"))
  })

  it.effect("selects the journal, the flag's database, or the variable's; refuses two, none, and --allow-empty-key with a database", () =>
    Effect.gen(function*() {
      const db = "postgres://gw:pw@db:5432/ledger"
      const journal = yield* select({ journal: Option.some("j.jsonl") }, { CALYBRIS_DATABASE_URL: db })
      assert.deepStrictEqual(Either.map(journal, (s) => s._tag as string), Either.right("Journal"))
      const flag = yield* select({ database: Option.some(url(db)) }, { CALYBRIS_DATABASE_URL: "postgres://other/x" })
      assert.deepStrictEqual(
        Either.map(flag, (s) => s._tag === "Database" ? DatabaseUrl.targetText(s.target) : s._tag),
        Either.right("db:5432/ledger")
      )
      const env = yield* select({}, { CALYBRIS_DATABASE_URL: db })
      assert.deepStrictEqual(
        Either.map(env, (s) => s._tag === "Database" ? Redacted.value(s.url) : s._tag),
        Either.right(db)
      )
      const refusals = [
        [yield* select({ journal: Option.some("j"), database: Option.some(url(db)) }), /--journal and --database/],
        [yield* select({}), /no ledger: give --journal FILE/],
        // an empty variable is no variable
        [yield* select({}, { CALYBRIS_DATABASE_URL: "" }), /no ledger/],
        // the database's journal takes a key (`Key.load` reads --key-file / --key-env), never an empty one
        [yield* select({ database: Option.some(url(db)), allowEmptyKey: true }), /^--allow-empty-key: the journal/],
        [
          yield* select({}, { CALYBRIS_DATABASE_URL: "mysql://gw:pw@db/x" }),
          /^CALYBRIS_DATABASE_URL: not a PostgreSQL URL/
        ]
      ] as const
      for (const [result, message] of refusals) {
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "UsageError")
          assert.match(result.left.message, message)
          assert.notInclude(result.left.message, "pw@")
        }
      }
    }))

  it.prop(
    "a refused URL's error never holds the URL or its password",
    [
      // (Z: a password is never a piece of the target by chance)
      fc.string({ minLength: 3, maxLength: 40 }).map((s) => `Z${s}`),
      fc.constantFrom("postgres://u:", "postgresql://:", "http://u:", "postgres://u:[", "")
    ],
    ([password, prefix]) => {
      const text = `${prefix}${password}@h/db`
      const parsed = DatabaseUrl.parse(url(text), "--database")
      if (Either.isLeft(parsed)) {
        assert.notInclude(parsed.left.message, text)
        assert.notInclude(parsed.left.message, password)
      } else assert.notInclude(DatabaseUrl.targetText(parsed.right), password)
    }
  )
})

describe("Database.guard", () => {
  const password = "S3cret/pw?"
  const text = `postgres://gw:${encodeURIComponent(password)}@db.internal:5432/ledger`
  const db = Either.getOrThrow(DatabaseUrl.database(url(text), "--database"))

  it.effect("reports a failure of the database as a DatabaseError naming the target, scrubbed of the URL", () =>
    Effect.gen(function*() {
      const leaky = new Error(`could not use ${text} (password ${password}, ${encodeURIComponent(password)})`)
      const failures = [
        new SqlError({ cause: leaky, message: "PgClient: Failed to connect" }),
        new LedgerStoreError({ operation: "reserve", cause: new SqlError({ cause: leaky }) })
      ]
      for (const failure of failures) {
        const exit = yield* Effect.exit(Database.guard(db, "status")(Effect.fail(failure)))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = Cause.squash(exit.cause) as { _tag: string; message: string; target: string; operation: string }
          assert.strictEqual(error._tag, "DatabaseError")
          assert.strictEqual(error.target, "db.internal:5432/ledger")
          assert.strictEqual(error.operation, failure._tag === "LedgerStoreError" ? "reserve" : "status")
          assert.include(error.message, "[redacted]")
          assert.notInclude(error.message, password)
          assert.notInclude(error.message, encodeURIComponent(password))
        }
      }
      // a password given as a parameter, as pg also reads it
      const param = Either.getOrThrow(DatabaseUrl.database(url(`postgres://db/x?password=${password}`), "--database"))
      const fromParam = yield* Effect.flip(
        Database.guard(param, "status")(Effect.fail(new SqlError({ cause: new Error(`no: ${password}`) })))
      )
      assert.strictEqual(fromParam.message, "status on db:5432/x failed: no: [redacted]")
      // Node's socket errors and the server's SQLSTATEs become one line of reason
      const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" })
      const exit = yield* Effect.exit(Database.guard(db, "reserve")(Effect.fail(new SqlError({ cause: refused }))))
      assert.deepStrictEqual(
        Exit.mapBoth(exit, { onFailure: (e) => (e as { message: string }).message, onSuccess: () => "" }),
        Exit.fail(
          "reserve on db.internal:5432/ledger failed: connection refused (is a PostgreSQL server listening on that host and port?)"
        )
      )
    }))

  it.effect("passes the ledger's own errors through, and scrubs a defect's message", () =>
    Effect.gen(function*() {
      const usage = yield* Effect.exit(
        Database.guard(db, "reserve")(Effect.fail({ _tag: "SchemaOutdated", message: "run migrate" } as const))
      )
      assert.deepStrictEqual(usage, Exit.fail({ _tag: "SchemaOutdated", message: "run migrate" } as const))
      const defect = yield* Effect.exit(Database.guard(db, "reserve")(Effect.die(new Error(`bug near ${text}`))))
      assert.isTrue(Exit.isFailure(defect))
      if (Exit.isFailure(defect)) {
        const message = String((Cause.squash(defect.cause) as Error).message)
        assert.strictEqual(message, "bug near [redacted]")
      }
    }))
})
