/**
 * A PostgreSQL cluster of one test's own (scripts/postgres.mjs: initdb in a fresh temp dir, 127.0.0.1,
 * a free port), which the test may crash (SIGKILL of the postmaster and of every server process)
 * and start again on the same data directory. Never the test run's shared server.
 */
import { PostgresError } from "@calybris/testing/Postgres"
import { parseExports, script } from "@calybris/testing/PostgresSetup"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/** Is PostgreSQL installed here (scripts/postgres.mjs finds its binaries)? */
export const installed = (): boolean =>
  spawnSync(process.execPath, [script, "bindir"], { stdio: "ignore" }).status === 0

export interface Cluster {
  readonly url: string
  readonly dir: string
  readonly bindir: string
  readonly port: number
  /** The postmaster's pid (from postmaster.pid). */
  readonly postmaster: () => number
  /** SIGKILL the postmaster and every process of the server at once (a crash): their pids. */
  readonly crash: () => ReadonlyArray<number>
  /** Start the server again on the same data directory (crash recovery), waiting until it accepts connections. */
  readonly restart: () => void
}

const isRoot = () => typeof process.geteuid === "function" && process.geteuid() === 0

const failure = (url: string, what: string, message: string) => new PostgresError({ url, sql: what, message })

/** The state and parent pid of a process (from /proc), or undefined when it is gone. */
const stat = (pid: number): { readonly state: string; readonly parent: number } | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // pid (comm) state ppid …: comm may hold spaces and parentheses, the last ")" ends it
    const [state = "", parent = ""] = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { state, parent: Number(parent) }
  } catch {
    return undefined
  }
}
/** Running (a zombie nobody reaped yet is dead). */
const alive = (pid: number): boolean => {
  const s = stat(pid)
  return s !== undefined && s.state !== "Z" && s.state !== "X"
}

/** A throwaway cluster of this test's own, stopped and removed when the scope closes. */
export const makeCluster: Effect.Effect<Cluster, PostgresError, Scope.Scope> = Effect.acquireRelease(
  Effect.suspend(() => {
    const env = { ...process.env }
    delete env["CALYBRIS_TEST_DATABASE_URL"]
    const started = spawnSync(process.execPath, [script, "start"], {
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    const exported = parseExports(started.stdout ?? "")
    const url = exported["CALYBRIS_TEST_DATABASE_URL"]
    const dir = exported["CALYBRIS_TEST_POSTGRES_DIR"]
    const bindir = exported["CALYBRIS_TEST_POSTGRES_BINDIR"]
    if (started.status !== 0 || url === undefined || dir === undefined || bindir === undefined) {
      return Effect.fail(failure("", "scripts/postgres.mjs start", `exit ${started.status}: ${started.stderr}`))
    }
    const port = Number(new URL(url).port)
    const data = path.join(dir, "data")
    const postmaster = () => Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0])
    const crash = () => {
      const pm = postmaster()
      const children = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) =>
        stat(pid)?.parent === pm
      )
      const all = [pm, ...children]
      for (const pid of all) {
        try {
          process.kill(pid, "SIGKILL")
        } catch (error) {
          if ((error as { code?: string }).code !== "ESRCH") throw error
        }
      }
      // wait until they are gone (the new postmaster refuses to start beside the old one's shared memory)
      const gone = (pid: number) => stat(pid) === undefined
      for (let i = 0; i < 1000 && !all.every(gone); i++) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
      }
      if (all.some(alive)) throw new Error(`server processes ${all.filter(alive)} survived SIGKILL`)
      // a dead postmaster nobody reaped yet (a zombie) still answers kill(pid, 0), which the new one
      // would take for a running postmaster: its lock files go, as a reboot would have it
      if (!gone(pm)) {
        fs.rmSync(path.join(data, "postmaster.pid"), { force: true })
        fs.rmSync(path.join(dir, `.s.PGSQL.${port}.lock`), { force: true })
      }
      return all
    }
    const restart = () => {
      const pgCtl = [
        path.join(bindir, "pg_ctl"),
        "-w",
        "-t",
        "60",
        "-D",
        data,
        "-l",
        path.join(dir, "log"),
        "-o",
        `-p ${port}`,
        "start"
      ]
      const [command, args] = isRoot()
        ? ["runuser", ["-u", "postgres", "--", ...pgCtl]]
        : [pgCtl[0] as string, pgCtl.slice(1)]
      const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      if (result.status !== 0) {
        throw new Error(
          `pg_ctl start after the crash failed: ${result.stdout}${result.stderr}\n${
            fs.readFileSync(path.join(dir, "log"), "utf8").slice(-2000)
          }`
        )
      }
    }
    return Effect.succeed<Cluster>({ url, dir, bindir, port, postmaster, crash, restart })
  }),
  (cluster) =>
    Effect.sync(() => {
      spawnSync(process.execPath, [script, "stop", cluster.dir], { stdio: "ignore" })
    })
)
