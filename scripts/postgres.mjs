/**
 * A throwaway PostgreSQL cluster for the tests (`.ci/run` and the `postgres` vitest project use it).
 *
 *   node scripts/postgres.mjs start      find PostgreSQL (installing Debian's `postgresql` with apt-get
 *                                        when it is missing and this runs as root), initdb a cluster in a
 *                                        fresh temp dir, start it on 127.0.0.1 and a free port, wait until
 *                                        it accepts connections, and print three shell `export` lines:
 *                                        CALYBRIS_TEST_DATABASE_URL, CALYBRIS_TEST_POSTGRES_DIR and
 *                                        CALYBRIS_TEST_POSTGRES_BINDIR (so `eval "$(… start)"` sets them)
 *   node scripts/postgres.mjs stop DIR   stop that cluster (immediate shutdown) and remove DIR
 *   node scripts/postgres.mjs bindir     print the directory of the PostgreSQL binaries (never installs)
 *
 * The binaries are looked for with `pg_config --bindir`, in /usr/lib/postgresql/<version>/bin (newest
 * first) and on PATH; CALYBRIS_POSTGRES_BINDIR=DIR uses DIR alone (a build of your own), and never installs.
 *
 * As root the cluster belongs to the `postgres` user (initdb and the server refuse to run as root);
 * otherwise to the current user. The server is the distribution's, with `fsync` and
 * `synchronous_commit` at their defaults (on): `--no-sync` only skips initdb's own flush of the
 * template files. JIT compilation is off (`jit = off`, which changes no result): the ledger's
 * snapshot statements, planned on a test's small, never-analyzed tables, are estimated far above
 * `jit_above_cost`, and LLVM then spends ~0.7 s compiling each one that runs in a millisecond.
 * Authentication is `trust` (any local user may connect while it runs), the unix socket lives in
 * the temp dir, TCP only on 127.0.0.1.
 *
 * stdout carries only the `export` lines (or the bindir); progress and errors go to stderr.
 * Exit status: 0 done; 2 PostgreSQL is not installed and cannot be installed here; 1 anything else.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** The prefix of every cluster dir: `stop` removes nothing else. */
const prefix = "calybris-pg-"
const binaries = ["initdb", "pg_ctl", "postgres", "psql"]

/** Stop with a message and an exit status (after the `finally` blocks on the way out have run). */
class Failed extends Error {
  constructor(message, status = 1) {
    super(message)
    this.status = status
  }
}
const fail = (message, status) => {
  throw new Failed(message, status)
}
const say = (message) => process.stderr.write(`postgres: ${message}\n`)

const isRoot = () => typeof process.geteuid === "function" && process.geteuid() === 0
const isExecutable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}
const hasServer = (dir) => binaries.every((name) => isExecutable(path.join(dir, name)))

/** `pg_config --bindir`, then Debian's /usr/lib/postgresql/<version>/bin (newest first), then PATH. */
const candidates = () => {
  const out = []
  const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" })
  if (pgConfig.status === 0) out.push(pgConfig.stdout.trim())
  const debian = "/usr/lib/postgresql"
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v))
    versions.sort((a, b) => Number(b) - Number(a))
    out.push(...versions.map((v) => path.join(debian, v, "bin")))
  }
  out.push(...(process.env["PATH"] ?? "").split(path.delimiter).filter((d) => d !== ""))
  return out
}
/** CALYBRIS_POSTGRES_BINDIR, when set, is the only place looked at (and nothing is installed). */
const override = () => {
  const dir = process.env["CALYBRIS_POSTGRES_BINDIR"]
  return dir === undefined || dir === "" ? undefined : dir
}
const findBindir = () => {
  const dir = override()
  return dir === undefined ? candidates().find(hasServer) : hasServer(dir) ? dir : undefined
}

const where = override() === undefined
  ? "pg_config --bindir, /usr/lib/postgresql/*/bin and PATH"
  : `CALYBRIS_POSTGRES_BINDIR=${override()}`

/** Debian's `postgresql` through apt-get, when root and apt-get are there; exit 2 otherwise. */
const install = () => {
  const hint = "install it (Debian/Ubuntu: apt-get install postgresql), or set CALYBRIS_TEST_DATABASE_URL to a server"
  if (override() !== undefined) fail(`no PostgreSQL server binaries in ${where} (${binaries.join(", ")})`, 2)
  if (!isRoot()) fail(`PostgreSQL is not installed (looked in ${where}) and this is not root: ${hint}`, 2)
  if (spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    fail(`PostgreSQL is not installed (looked in ${where}) and there is no apt-get: ${hint}`, 2)
  }
  say(
    "PostgreSQL is not installed: installing Debian's package as root (apt-get update && apt-get install -y --no-install-recommends postgresql)"
  )
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "postgresql"]]) {
    const result = spawnSync("apt-get", args, { env, stdio: ["ignore", 2, 2] })
    if (result.status !== 0) fail(`apt-get ${args.join(" ")} failed (exit ${result.status}): ${hint}`, 2)
  }
  return findBindir() ?? fail(`apt-get installed postgresql, but no server binaries were found in ${where}`, 2)
}

/** The `postgres` user's uid and gid (root hands the cluster to it). */
const postgresUser = () => {
  const id = (flag) => {
    const result = spawnSync("id", [flag, "postgres"], { encoding: "utf8" })
    return result.status === 0 ? Number(result.stdout.trim()) : undefined
  }
  const uid = id("-u")
  const gid = id("-g")
  if (uid === undefined || gid === undefined) {
    fail("running as root, but there is no `postgres` user to own the cluster (PostgreSQL refuses to run as root)")
  }
  return { uid, gid }
}

/** Run a PostgreSQL binary as the cluster's owner; its output is returned, and shown on failure. */
const asOwner = (file, args) => {
  const [command, argv] = isRoot() ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args]
  const result = spawnSync(command, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? result.error ?? ""}` }
}

/** A port the kernel just gave out on 127.0.0.1 (never PostgreSQL's default 5432, which is not ephemeral). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const quote = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`
const confString = (value) => `'${value.replaceAll("'", "''")}'`
const tail = (file) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "")

const start = async () => {
  const bindir = findBindir() ?? install()
  const owner = isRoot() ? postgresUser() : undefined
  // the socket's path (DIR/.s.PGSQL.PORT) must fit in a sockaddr_un (107 bytes): a long TMPDIR falls back to /tmp
  const base = path.join(os.tmpdir(), `${prefix}XXXXXX/.s.PGSQL.65535`).length <= 100 ? os.tmpdir() : "/tmp"
  const dir = fs.mkdtempSync(path.join(base, prefix))
  let started = false
  try {
    if (owner !== undefined) fs.chownSync(dir, owner.uid, owner.gid)
    const data = path.join(dir, "data")
    const log = path.join(dir, "log")
    const initdb = asOwner(path.join(bindir, "initdb"), [
      "--no-sync",
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "-D",
      data
    ])
    if (!initdb.ok) fail(`initdb failed in ${dir}:\n${initdb.output}`)
    // fsync and synchronous_commit stay at their defaults (on); no JIT (see above)
    fs.appendFileSync(
      path.join(data, "postgresql.conf"),
      `\n# calybris test cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ${confString(dir)}\n`
        + "jit = off\n"
    )
    for (let attempt = 1;; attempt++) {
      const port = await freePort()
      if (port === 5432) continue // never PostgreSQL's default port, whatever the ephemeral range
      const pgCtl = asOwner(path.join(bindir, "pg_ctl"), [
        "-w",
        "-t",
        "60",
        "-D",
        data,
        "-l",
        log,
        "-o",
        `-p ${port}`,
        "start"
      ])
      if (pgCtl.ok) {
        started = true
        const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
        process.stdout.write(
          `export CALYBRIS_TEST_DATABASE_URL=${quote(url)}\n`
            + `export CALYBRIS_TEST_POSTGRES_DIR=${quote(dir)}\n`
            + `export CALYBRIS_TEST_POSTGRES_BINDIR=${quote(bindir)}\n`
        )
        say(`PostgreSQL (${bindir}) ready on ${url}, cluster in ${dir}`)
        return
      }
      // another process took the port between freePort and the bind: try another one
      if (attempt < 3 && /could not bind|already in use/i.test(tail(log))) continue
      fail(`pg_ctl start failed:\n${pgCtl.output}\n${tail(log)}`)
    }
  } finally {
    if (!started) {
      try {
        stop(dir)
      } catch (error) {
        say(`could not clean up ${dir}: ${error.message}`)
      }
    }
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Immediate shutdown, as `pg_ctl -m immediate stop` does it: SIGQUIT to the postmaster, then wait
 * until it removes its pid file on exit (not for the process: a zombie would never go away where
 * nothing reaps it). Then the dir goes. Needs neither the binaries nor the `postgres` user.
 */
const stop = (dir) => {
  if (dir === undefined || !path.isAbsolute(dir) || !path.basename(dir).startsWith(prefix)) {
    fail(`stop: expected the absolute path of a cluster dir (${prefix}*) that start printed, got ${dir}`)
  }
  const pidFile = path.join(dir, "data", "postmaster.pid")
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]) : NaN
  if (Number.isSafeInteger(pid) && pid > 0) {
    const signal = (name) => {
      try {
        process.kill(pid, name)
      } catch (error) {
        if (error.code !== "ESRCH") throw error
      }
    }
    signal("SIGQUIT")
    for (let waited = 0; fs.existsSync(pidFile); waited += 20) {
      if (waited === 30_000) signal("SIGKILL")
      if (waited > 35_000) fail(`the server ${pid} of ${dir} did not stop`)
      sleep(20)
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

try {
  const [command, arg] = process.argv.slice(2)
  if (command === "start") await start()
  else if (command === "stop") {
    stop(arg)
    say(`stopped and removed ${arg}`)
  } else if (command === "bindir") {
    process.stdout.write(`${findBindir() ?? fail(`PostgreSQL is not installed (looked in ${where})`, 2)}\n`)
  } else fail("usage: node scripts/postgres.mjs start | stop DIR | bindir")
} catch (error) {
  if (!(error instanceof Failed)) throw error
  say(error.message)
  process.exitCode = error.status
}
