/**
 * .ci/run gives the tests a real PostgreSQL and always stops it: run with a stand-in `npx` first on
 * PATH (it records what the test command would see, checks the server answers, then fails or hangs),
 * the cluster must be gone afterwards, whatever the tests did, and their exit status kept.
 */
import * as Postgres from "@calybris/testing/Postgres"
import { parseExports } from "@calybris/testing/PostgresSetup"
import { assert, describe, it, onTestFinished } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const ci = path.resolve(import.meta.dirname, "../../.ci/run")

/** A folder with an `npx` that, for `… test`, records the environment, queries the server, then runs `then`. */
const standIn = (then: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pginfra-ci-"))
  fs.chmodSync(dir, 0o755)
  const psql = Postgres.psqlBinary()
  fs.writeFileSync(
    path.join(dir, "npx"),
    `#!/bin/sh
case "$*" in
  *" install "*) exit 0 ;;
esac
{
  echo "export CALYBRIS_TEST_DATABASE_URL='$CALYBRIS_TEST_DATABASE_URL'"
  echo "export CALYBRIS_TEST_POSTGRES_DIR='$CALYBRIS_TEST_POSTGRES_DIR'"
  echo "export CALYBRIS_REQUIRE_POSTGRES='$CALYBRIS_REQUIRE_POSTGRES'"
  echo "export ANSWER='$(${psql} -X -A -t -d "$CALYBRIS_TEST_DATABASE_URL" -c "SELECT 6 * 7")'"
  echo "export ARGS='$*'"
} > "${dir}/seen.tmp"
# published whole: the test waits for this file, then reads it
mv "${dir}/seen.tmp" "${dir}/seen"
${then}
`,
    { mode: 0o755 }
  )
  return dir
}

const env = (dir: string) => {
  const out: Record<string, string | undefined> = { ...process.env, PATH: `${dir}:${process.env["PATH"]}`, TMPDIR: dir }
  for (const name of Object.keys(out)) if (name.startsWith("CALYBRIS_")) delete out[name]
  return out
}

const seen = (dir: string) => parseExports(fs.readFileSync(path.join(dir, "seen"), "utf8"))
const leftovers = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith("calybris-pg-"))

/** Remove the stand-in's folder, stopping a cluster left in it (when a test failed). */
const cleanUp = (dir: string) => {
  for (const name of leftovers(dir)) {
    spawnSync(process.execPath, [path.resolve(ci, "../../scripts/postgres.mjs"), "stop", path.join(dir, name)])
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

describe.skipIf(Postgres.skip())(".ci/run", () => {
  it("runs the README's test command on a PostgreSQL it starts, and stops it even when the tests fail", () => {
    const dir = standIn("exit 7")
    onTestFinished(() => cleanUp(dir))
    const result = spawnSync("bash", [ci], { env: env(dir), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    assert.strictEqual(result.status, 7, result.stderr)
    const got = seen(dir)
    assert.strictEqual(got["ARGS"], "-y pnpm@10.34.9 test")
    assert.strictEqual(got["ANSWER"], "42", "the server answered during the tests")
    assert.strictEqual(got["CALYBRIS_REQUIRE_POSTGRES"], "1")
    assert.match(got["CALYBRIS_TEST_DATABASE_URL"] ?? "", /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
    assert.include(result.stderr, `stopped and removed ${got["CALYBRIS_TEST_POSTGRES_DIR"]}`)
    assert.deepStrictEqual(leftovers(dir), [])
  })

  it("stops the cluster when CI cancels the run (SIGTERM)", async () => {
    const dir = standIn("sleep 60")
    onTestFinished(() => cleanUp(dir))
    const child = spawn("bash", [ci], { env: env(dir), detached: true, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const deadline = Date.now() + 60_000
    while (!fs.existsSync(path.join(dir, "seen")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.strictEqual(seen(dir)["ANSWER"], "42")
    process.kill(-(child.pid ?? 0), "SIGTERM") // the whole job, as a CI runner cancels it
    assert.strictEqual(await exited, 143, stderr)
    assert.include(stderr, "stopped and removed")
    assert.deepStrictEqual(leftovers(dir), [])
  })
})
