/**
 * scripts/postgres.mjs, the throwaway cluster `.ci/run` and the `postgres` vitest project start: a real
 * server on 127.0.0.1 and a free port that `stop` really stops, and no leftovers when it cannot start.
 */
import * as Postgres from "@calybris/testing/Postgres"
import { parseExports, script } from "@calybris/testing/PostgresSetup"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** The script with its own TMPDIR (so a test sees every dir it leaves) and `env` on top. */
const run = (tmp: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [script, ...args], {
    encoding: "utf8",
    env: { ...process.env, TMPDIR: tmp, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pginfra-script-"))
  fs.chmodSync(dir, 0o755) // the postgres user (as root) creates its cluster dir in it
  return dir
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
const answers = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

describe("scripts/postgres.mjs", () => {
  it.live.skipIf(Postgres.skip())(
    "start: a server that answers on 127.0.0.1; stop: it no longer does, and its dir is gone",
    () =>
      Effect.gen(function*() {
        const tmp = tempDir()
        const started = run(tmp, ["start"])
        assert.strictEqual(started.status, 0, started.stderr)
        const exported = parseExports(started.stdout)
        const url = exported["CALYBRIS_TEST_DATABASE_URL"] ?? ""
        const dir = exported["CALYBRIS_TEST_POSTGRES_DIR"] ?? ""
        assert.match(url, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
        assert.strictEqual(path.dirname(dir), fs.realpathSync(tmp))
        const port = Number(new URL(url).port)
        assert.notStrictEqual(port, 5432)
        try {
          assert.strictEqual(yield* Postgres.psql("SELECT 6 * 7", url), "42")
          assert.strictEqual(yield* Postgres.psql("SHOW fsync", url), "on")
          assert.strictEqual(yield* Postgres.psql("SHOW synchronous_commit", url), "on")
          // no JIT: it compiles a snapshot statement planned on empty tables for ~0.7 s (see the script)
          assert.strictEqual(yield* Postgres.psql("SHOW jit", url), "off")
          assert.strictEqual(yield* Postgres.psql("SHOW listen_addresses", url), "127.0.0.1")
          assert.strictEqual(yield* Postgres.psql("SHOW unix_socket_directories", url), dir)
          if (process.geteuid?.() === 0) {
            assert.strictEqual(
              yield* Postgres.psql("SELECT current_setting('data_directory')", url),
              path.join(dir, "data")
            )
            assert.notStrictEqual(
              fs.statSync(path.join(dir, "data")).uid,
              0,
              "as root, the cluster is the postgres user's"
            )
          }
          assert.isTrue(yield* answers(port))
        } finally {
          const stopped = run(tmp, ["stop", dir])
          assert.strictEqual(stopped.status, 0, stopped.stderr)
        }
        assert.isFalse(yield* answers(port), "the port no longer answers")
        assert.isFalse(fs.existsSync(dir), "the cluster dir is gone")
        assert.deepStrictEqual(fs.readdirSync(tmp), [])
        fs.rmSync(tmp, { recursive: true })
      })
  )

  it.live.skipIf(Postgres.skip())(
    "a TMPDIR too long for the unix socket's path: the cluster goes to /tmp",
    () =>
      Effect.gen(function*() {
        const tmp = tempDir()
        const deep = path.join(tmp, "d".repeat(100))
        fs.mkdirSync(deep, { mode: 0o755 })
        const started = run(deep, ["start"])
        assert.strictEqual(started.status, 0, started.stderr)
        const exported = parseExports(started.stdout)
        const dir = exported["CALYBRIS_TEST_POSTGRES_DIR"] ?? ""
        try {
          assert.strictEqual(path.dirname(dir), "/tmp")
          assert.strictEqual(yield* Postgres.psql("SELECT 1", exported["CALYBRIS_TEST_DATABASE_URL"]), "1")
        } finally {
          run(tmp, ["stop", dir])
        }
        assert.isFalse(fs.existsSync(dir))
        fs.rmSync(tmp, { recursive: true })
      })
  )

  it("start exits 2, saying so, when there is no PostgreSQL (and leaves nothing behind)", () => {
    const tmp = tempDir()
    const result = run(tmp, ["start"], { CALYBRIS_POSTGRES_BINDIR: path.join(tmp, "nowhere") })
    assert.strictEqual(result.status, 2)
    assert.strictEqual(result.stdout, "")
    assert.include(result.stderr, "no PostgreSQL server binaries in CALYBRIS_POSTGRES_BINDIR=")
    assert.deepStrictEqual(fs.readdirSync(tmp), [])
    fs.rmSync(tmp, { recursive: true })
  })

  it("a start that fails (initdb fails) exits 1 with initdb's words and removes its dir", () => {
    const tmp = tempDir()
    const bindir = path.join(tmp, "bin")
    fs.mkdirSync(bindir, { mode: 0o755 })
    for (const name of ["initdb", "pg_ctl", "postgres", "psql"]) {
      fs.writeFileSync(path.join(bindir, name), "#!/bin/sh\necho \"initdb: broken on purpose\" >&2\nexit 1\n", {
        mode: 0o755
      })
    }
    const result = run(tmp, ["start"], { CALYBRIS_POSTGRES_BINDIR: bindir })
    assert.strictEqual(result.status, 1, result.stderr)
    assert.strictEqual(result.stdout, "")
    assert.include(result.stderr, "initdb failed")
    assert.include(result.stderr, "broken on purpose")
    assert.deepStrictEqual(fs.readdirSync(tmp), ["bin"])
    fs.rmSync(tmp, { recursive: true })
  })

  it("stop removes only a cluster dir that start made", () => {
    const tmp = tempDir()
    const precious = path.join(tmp, "precious")
    fs.mkdirSync(precious)
    for (const dir of [precious, "calybris-pg-relative", tmp]) {
      const result = run(tmp, ["stop", dir])
      assert.strictEqual(result.status, 1, dir)
      assert.include(result.stderr, "expected the absolute path of a cluster dir")
    }
    assert.isTrue(fs.existsSync(precious))
    fs.rmSync(tmp, { recursive: true })
  })
})
