/**
 * The postgres project's globalSetup (PostgresSetup.acquire) on the real script: the server `.ci/run`
 * gives is used as is, a missing one is started and stopped, and a machine without PostgreSQL skips
 * the PostgreSQL tests loudly, unless CALYBRIS_REQUIRE_POSTGRES=1 makes that an error.
 */
import { failureTag } from "@calybris/testing/Exits"
import * as Postgres from "@calybris/testing/Postgres"
import { acquire } from "@calybris/testing/PostgresSetup"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** This process's environment without the variables the setup reads or writes. */
const clean = (over: Record<string, string> = {}): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith("CALYBRIS_")) delete env[name]
  return { ...env, ...over }
}
const nowhere = { CALYBRIS_POSTGRES_BINDIR: "/nonexistent/calybris-no-postgres" }

describe("the postgres project's globalSetup", () => {
  it("fails the run when CALYBRIS_REQUIRE_POSTGRES=1 and PostgreSQL is unavailable", () => {
    const env = clean({ ...nowhere, CALYBRIS_REQUIRE_POSTGRES: "1" })
    const warned: Array<string> = []
    assert.throws(() => acquire(env, { warn: (line) => warned.push(line) }), /CALYBRIS_REQUIRE_POSTGRES=1/)
    assert.isUndefined(env["CALYBRIS_TEST_DATABASE_URL"])
    assert.deepStrictEqual(warned, [])
  })

  it("skips the PostgreSQL tests with one loud line when PostgreSQL is unavailable and not required", () => {
    const env = clean(nowhere)
    const warned: Array<string> = []
    const teardown = acquire(env, { warn: (line) => warned.push(line) })
    assert.strictEqual(warned.length, 1)
    assert.match(warned[0] ?? "", /^!!! PostgreSQL tests SKIPPED: .*CALYBRIS_REQUIRE_POSTGRES=1/)
    assert.isUndefined(env["CALYBRIS_TEST_DATABASE_URL"])
    // a second project listing the setup does not try (nor warn) again
    acquire(env, { warn: (line) => warned.push(line), script: "/nonexistent/postgres.mjs" })
    assert.strictEqual(warned.length, 1)
    teardown()
  })

  it("uses CALYBRIS_TEST_DATABASE_URL when it is set, starting nothing (and finds psql when it can)", () => {
    const given = "postgresql://postgres@127.0.0.1:1/postgres"
    const env = clean({ CALYBRIS_TEST_DATABASE_URL: given })
    const teardown = acquire(env)
    assert.strictEqual(env["CALYBRIS_TEST_DATABASE_URL"], given)
    assert.isUndefined(env["CALYBRIS_TEST_POSTGRES_DIR"], "no cluster was started")
    if (!Postgres.skip()) assert.isTrue(fs.existsSync(path.join(env["CALYBRIS_TEST_POSTGRES_BINDIR"] ?? "", "psql")))
    teardown()
    assert.strictEqual(env["CALYBRIS_TEST_DATABASE_URL"], given)
  })

  it.live.skipIf(Postgres.skip())(
    "starts a cluster when none is given, and its teardown stops it and removes it",
    () =>
      Effect.gen(function*() {
        const env = clean()
        const teardown = acquire(env)
        const url = env["CALYBRIS_TEST_DATABASE_URL"] ?? ""
        const dir = env["CALYBRIS_TEST_POSTGRES_DIR"] ?? ""
        assert.notStrictEqual(url, process.env["CALYBRIS_TEST_DATABASE_URL"], "a cluster of its own")
        try {
          assert.strictEqual(yield* Postgres.psql("SELECT 1", url), "1")
          assert.isTrue(fs.existsSync(path.join(dir, "data")))
        } finally {
          teardown()
        }
        assert.isUndefined(env["CALYBRIS_TEST_DATABASE_URL"])
        assert.isFalse(fs.existsSync(dir))
        assert.strictEqual(yield* failureTag(Postgres.psql("SELECT 1", url)), "PostgresError")
      })
  )

  it.effect("a PostgreSQL test without a server fails under CALYBRIS_REQUIRE_POSTGRES=1 instead of skipping", () =>
    Effect.gen(function*() {
      const names = ["CALYBRIS_TEST_DATABASE_URL", "CALYBRIS_REQUIRE_POSTGRES"] as const
      const saved = names.map((name) => process.env[name])
      try {
        delete process.env["CALYBRIS_TEST_DATABASE_URL"]
        process.env["CALYBRIS_REQUIRE_POSTGRES"] = "1"
        assert.isFalse(Postgres.skip())
        assert.strictEqual(yield* failureTag(Postgres.psql("SELECT 1")), "NoTestServer")
        assert.strictEqual(yield* failureTag(Effect.scoped(Postgres.makeDatabase)), "NoTestServer")
        delete process.env["CALYBRIS_REQUIRE_POSTGRES"]
        assert.isTrue(Postgres.skip())
      } finally {
        names.forEach((name, i) => {
          const value = saved[i]
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        })
      }
    }))
})
