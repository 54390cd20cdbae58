/**
 * The tests' PostgreSQL server is a real one with the durability settings the ledger's crash tests
 * rely on, and every test file gets a database of its own that is dropped afterwards.
 */
import * as Postgres from "@calybris/testing/Postgres"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"

const exists = (name: string) =>
  Effect.map(Postgres.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`), (n) => n === "1")

describe.skipIf(Postgres.skip())("the tests' PostgreSQL server", () => {
  layer(Postgres.layerDatabase)((it) => {
    it.effect("answers, with fsync and synchronous_commit on (and JIT off)", () =>
      Effect.gen(function*() {
        const { url } = yield* Postgres.TestDatabase
        assert.match(yield* Postgres.psql("SELECT version()", url), /^PostgreSQL \d+/)
        assert.strictEqual(yield* Postgres.psql("SHOW synchronous_commit", url), "on")
        assert.strictEqual(yield* Postgres.psql("SHOW fsync", url), "on")
        assert.strictEqual(yield* Postgres.psql("SHOW jit", url), "off")
      }))

    it.effect("gives the test file a fresh database of its own", () =>
      Effect.gen(function*() {
        const { name, url } = yield* Postgres.TestDatabase
        assert.match(name, /^calybris_test_[0-9a-f]{12}$/)
        assert.strictEqual(yield* Postgres.psql("SELECT current_database()", url), name)
        assert.strictEqual(
          yield* Postgres.psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace", url),
          "0"
        )
        yield* Postgres.psql("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)", url)
        assert.strictEqual(yield* Postgres.psql("SELECT x FROM mine", url), "1")
        // the server's default database does not see it
        assert.strictEqual(yield* Postgres.psql("SELECT to_regclass('public.mine') IS NULL"), "t")
      }))
  })

  it.live("drops a test database when its scope closes, even with a session still open on it", () =>
    Effect.gen(function*() {
      const [a, b, session] = yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* Postgres.makeDatabase
        const b = yield* Postgres.makeDatabase
        assert.notStrictEqual(a.name, b.name)
        assert.isTrue(yield* exists(a.name))
        assert.isTrue(yield* exists(b.name))
        // a session on a that outlives the scope: the drop must not wait for it
        const session = yield* Effect.forkDaemon(Effect.either(Postgres.psql("SELECT pg_sleep(60)", a.url)))
        // connected and sleeping before the scope closes (a fixed 300 ms once stood for it: a psql
        // slow to start then met the database dropped, and the test proved nothing: a flaky-test hunt)
        for (let i = 0;; i++) {
          assert.isBelow(i, 600, "the session on a never started")
          const sleeping = yield* Postgres.psql(
            `SELECT count(*) FROM pg_stat_activity WHERE datname = '${a.name}' AND query LIKE 'SELECT pg_sleep%'`
          )
          if (sleeping === "1") break
          yield* Effect.sleep("50 millis")
        }
        return [a, b, session] as const
      }))
      assert.isFalse(yield* exists(a.name))
      assert.isFalse(yield* exists(b.name))
      const ended = yield* Fiber.join(session).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(Either.isLeft(ended), "the server ended the session")
    }))
})
