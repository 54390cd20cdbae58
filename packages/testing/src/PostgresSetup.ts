/**
 * The vitest `globalSetup` of the projects with PostgreSQL tests (`postgresSetup` in
 * vitest.shared.ts): it gives their tests `CALYBRIS_TEST_DATABASE_URL` (read with
 * `Postgres.databaseUrl()`).
 *
 * - The variable is already set (`.ci/run` sets it, or a developer points it at a server): it is
 *   used, nothing is started.
 * - Otherwise `scripts/postgres.mjs start` starts a throwaway cluster (~1 s), and the teardown stops it
 *   and removes its dir (so does the process's exit, should vitest end without a teardown).
 * - PostgreSQL is not installed and cannot be installed (the script exits 2): with
 *   `CALYBRIS_REQUIRE_POSTGRES=1` (`.ci/run`) the run fails; otherwise one loud line says the
 *   PostgreSQL tests are skipped (`Postgres.skip()` is then true).
 *
 * Vitest runs a project's globalSetup only when a test file of that project is selected, and before
 * any test runs; the workers it starts afterwards inherit `process.env`. Projects listing it share one
 * cluster: the first starts it and sets the variable, the next ones find it set, and the first one's
 * teardown (the last to run) stops it.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"

/** The script this setup runs (`start` / `stop DIR` / `bindir`). */
export const script = path.resolve(import.meta.dirname, "../../../scripts/postgres.mjs")

export interface Options {
  readonly script?: string
  /** The one line that says the PostgreSQL tests are skipped. */
  readonly warn?: (line: string) => void
}

type Env = Record<string, string | undefined>

const isSet = (value: string | undefined): value is string => value !== undefined && value !== ""

/** `export NAME='value'` lines, as the script prints them. */
export const parseExports = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line)
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].replaceAll(`'\\''`, "'")
  }
  return out
}

/**
 * Provide the database to the tests through `env`: returns the teardown (a no-op when nothing was
 * started). Throws (failing the run) when the script fails, or when PostgreSQL is unavailable and
 * `CALYBRIS_REQUIRE_POSTGRES=1`.
 */
export const acquire = (env: Env, options: Options = {}): () => void => {
  const file = options.script ?? script
  const node = (...args: Array<string>) =>
    spawnSync(process.execPath, [file, ...args], {
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
  const nothing = () => {}
  if (isSet(env["CALYBRIS_TEST_DATABASE_URL"])) {
    // a server of the caller's: find psql for Postgres.psql, if PostgreSQL is installed here
    if (!isSet(env["CALYBRIS_TEST_POSTGRES_BINDIR"])) {
      const found = node("bindir")
      if (found.status === 0) env["CALYBRIS_TEST_POSTGRES_BINDIR"] = found.stdout.trim()
    }
    return nothing
  }
  if (isSet(env["CALYBRIS_TEST_POSTGRES_UNAVAILABLE"])) return nothing // another project's setup said so
  const started = node("start")
  if (started.status === 2) {
    if (env["CALYBRIS_REQUIRE_POSTGRES"] === "1") {
      throw new Error("CALYBRIS_REQUIRE_POSTGRES=1, but PostgreSQL is not installed and cannot be installed here")
    }
    env["CALYBRIS_TEST_POSTGRES_UNAVAILABLE"] = "1"
    ;(options.warn ?? ((line) => process.stderr.write(`${line}\n`)))(
      "!!! PostgreSQL tests SKIPPED: PostgreSQL is not installed (see the line above); "
        + "install it or set CALYBRIS_TEST_DATABASE_URL (CALYBRIS_REQUIRE_POSTGRES=1 makes this an error)"
    )
    return nothing
  }
  const exported = parseExports(started.stdout ?? "")
  const url = exported["CALYBRIS_TEST_DATABASE_URL"]
  const dir = exported["CALYBRIS_TEST_POSTGRES_DIR"]
  if (started.status !== 0 || url === undefined || dir === undefined) {
    throw new Error(`scripts/postgres.mjs start failed (exit ${started.status}; its stderr is above)`)
  }
  Object.assign(env, exported)
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    process.off("exit", stop)
    delete env["CALYBRIS_TEST_DATABASE_URL"]
    delete env["CALYBRIS_TEST_POSTGRES_DIR"]
    const result = node("stop", dir)
    if (result.status !== 0) throw new Error(`scripts/postgres.mjs stop ${dir} failed (exit ${result.status})`)
  }
  process.on("exit", stop)
  return stop
}

/** Vitest's entry point. */
export default function setup(): () => void {
  return acquire(process.env)
}
