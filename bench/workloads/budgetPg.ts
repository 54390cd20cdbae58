/**
 * The ledger on PostgreSQL (issue 15): reserve+commit pairs per second, with each pair's latency
 * (p50/p99, from the reserve's call to the commit's acknowledgement), for 1/4/16/64 clients ×
 * (one hot tenant, 1,000 tenants) × (the one-statement operations, the group-commit batcher).
 *
 * Each client is a fiber that runs pairs back to back: reserve 10,000 microcents, then commit
 * 9,500 (as the memory workloads do; BENCH_PG_OPERATION_IDS=1 gives each an operation id, as a
 * fleet's retry-safe calls would, which the database then remembers). Direct statements use a
 * pool of one connection per client; the batcher (`PgBatcher`, 2 batches in flight) two.
 *
 * The server: `CALYBRIS_BENCH_DATABASE_URL` (`pnpm bench --database URL` sets it) or
 * `CALYBRIS_TEST_DATABASE_URL` (a fresh database is created on it and dropped afterwards);
 * otherwise each workload starts its own throwaway cluster with scripts/postgres.mjs (and stops
 * it). Without PostgreSQL the workloads are skipped, saying why. `synchronous_commit` and
 * `fsync` must be on (checked): every acknowledged pair is on disk.
 */
import * as PgBatcher from "@calybris/budget-pg/PgBatcher"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as Arguments from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Measured, now, type Sampler, throughputWithLatency, type Workload } from "../registry.js"

const script = fileURLToPath(new URL("../../scripts/postgres.mjs", import.meta.url))

const givenUrl = (): string | undefined =>
  [process.env["CALYBRIS_BENCH_DATABASE_URL"], process.env["CALYBRIS_TEST_DATABASE_URL"]].find((u) =>
    u !== undefined && u !== ""
  )

/** Why the workloads cannot run here (no server given and no PostgreSQL installed), if so. */
const unavailable = (): string | undefined => {
  if (givenUrl() !== undefined) return undefined
  const found = spawnSync(process.execPath, [script, "bindir"], { encoding: "utf8" })
  return found.status === 0
    ? undefined
    : "budget-pg: no PostgreSQL (pass --database URL, set CALYBRIS_TEST_DATABASE_URL, or install PostgreSQL)"
}

/** A database for one workload, and how to give it back. */
interface Server {
  readonly url: string
  readonly release: () => Promise<void>
}

const withDatabase = (url: string, name: string): string => {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** Run one statement on `url` (a short-lived client of its own). */
const admin = (url: string, statement: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
      Effect.scoped
    )
  )

const acquire = async (): Promise<Server> => {
  const given = givenUrl()
  if (given !== undefined) {
    const name = `calybris_bench_${crypto.randomBytes(6).toString("hex")}`
    await admin(given, `CREATE DATABASE ${name}`)
    return {
      url: withDatabase(given, name),
      release: () => admin(given, `DROP DATABASE ${name} WITH (FORCE)`).then(() => undefined)
    }
  }
  const started = spawnSync(process.execPath, [script, "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })
  const exported = (name: string) => started.stdout.match(new RegExp(`^export ${name}='?([^'\\n]*)'?$`, "m"))?.[1]
  const url = exported("CALYBRIS_TEST_DATABASE_URL")
  const dir = exported("CALYBRIS_TEST_POSTGRES_DIR")
  if (started.status !== 0 || url === undefined || dir === undefined) {
    throw new Error(`scripts/postgres.mjs start failed: ${started.stderr}`)
  }
  return {
    url,
    release: async () => {
      spawnSync(process.execPath, [script, "stop", dir], { stdio: "ignore" })
    }
  }
}

class Operations extends Context.Tag("bench/budget-pg/Operations")<Operations, PgBatcher.Operations>() {}

/** BENCH_PG_OPERATION_IDS=1: every reserve and commit carries an operation id (remembered with its result). */
const withIds = process.env["BENCH_PG_OPERATION_IDS"] === "1"

const FUNDS = Arguments.Microcents.make(1_000_000_000_000_000n)
const HOLD = Arguments.Microcents.make(10_000n)
const SPENT = Arguments.Microcents.make(9_500n)

type Mode = "direct" | "batcher"
type Spread = "hot" | "spread"

/**
 * CPU time (µs) used so far by the server (every process of the cluster: the postmaster's
 * children, read from /proc; 0 where that is not readable) and by this process (the client).
 * Per pair, their sum bounds what an idle machine could do: 2 cores ÷ (CPU per pair).
 */
const serverCpu = (postmaster: number | undefined): number => {
  if (postmaster === undefined) return 0
  const tick = 1e6 / 100 // USER_HZ
  let total = 0
  let entries: Array<string> = []
  try {
    entries = fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))
  } catch {
    return 0
  }
  for (const pid of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const ppid = Number(fields[1])
      if (Number(pid) !== postmaster && ppid !== postmaster) continue
      total += (Number(fields[11]) + Number(fields[12])) * tick
    } catch {
      // the process ended meanwhile
    }
  }
  return total
}
const clientCpu = (): number => {
  const { system, user } = process.cpuUsage()
  return user + system
}

/** The server's postmaster pid (from its data directory), when it runs on this machine. */
const postmasterOf = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql.unsafe<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)
  if (row === undefined) return undefined
  try {
    const pid = Number(fs.readFileSync(path.join(row.dir, "postmaster.pid"), "latin1").split("\n")[0])
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
})

/** Settings of the server that must hold for the figures to mean anything. */
const checkDurable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const setting of ["synchronous_commit", "fsync"]) {
    const [row] = yield* sql.unsafe<{ value: string }>(`SELECT current_setting('${setting}') AS value`)
    if (row?.value !== "on") {
      return yield* Effect.die(new Error(`${setting} is ${row?.value}: the figures would not be durable`))
    }
  }
})

const pairs = (clients: number, spread: Spread, mode: Mode): () => Promise<Sampler> => async () => {
  const server = await acquire()
  const tenants = Array.from(
    { length: spread === "hot" ? 1 : 1_000 },
    (_, i) => Arguments.TenantId.make(spread === "hot" ? "hot" : `tenant-${String(i).padStart(4, "0")}`)
  )
  const pool = PgClient.layer({
    url: Redacted.make(server.url),
    maxConnections: mode === "direct" ? clients : 2,
    applicationName: "calybris-bench"
  })
  const operations = mode === "batcher"
    ? Layer.scoped(Operations, PgBatcher.make())
    : Layer.succeed(Operations, PgBatcher.direct)
  const runtime = ManagedRuntime.make(Layer.provideMerge(operations, pool))
  const postmaster = await runtime.runPromise(Effect.gen(function*() {
    yield* checkDurable
    yield* PgSchema.migrate
    yield* Effect.forEach(tenants, (t) => PgOperations.ensureTenant(Command.ensureTenant(t, FUNDS)), {
      concurrency: 8,
      discard: true
    })
    return yield* postmasterOf
  }))
  let run = 0
  const measure = async (ms: number): Promise<Measured> => {
    const tag = `${run++}`
    const latencies: Array<number> = []
    const cpu0 = [serverCpu(postmaster), clientCpu()] as const
    const elapsed = await runtime.runPromise(Effect.gen(function*() {
      const ops = yield* Operations
      const t0 = now()
      const deadline = t0 + ms * 1e6
      const client = (c: number) =>
        Effect.gen(function*() {
          for (let k = 0; now() < deadline; k++) {
            const tenant = tenants[(c * 7_919 + k * 31) % tenants.length] as Arguments.TenantId
            const t = now()
            const r = yield* ops.reserve(
              withIds
                ? Command.reserve(tenant, HOLD, { operation_id: `${tag}.${c}.${k}` })
                : Command.reserve(tenant, HOLD)
            )
            if (r._tag !== "Reserved") return yield* Effect.die(new Error(`reserve refused: ${r._tag}`))
            const s = yield* ops.commit(
              withIds
                ? Command.commit(r.reservation_id, SPENT, { operation_id: `${tag}.${c}.${k}.c` })
                : Command.commit(r.reservation_id, SPENT)
            )
            if (s._tag !== "Committed") return yield* Effect.die(new Error(`commit refused: ${s._tag}`))
            latencies.push(now() - t)
          }
        })
      yield* Effect.all(Array.from({ length: clients }, (_, c) => client(c)), {
        concurrency: "unbounded",
        discard: true
      })
      return now() - t0
    }))
    const count = latencies.length
    const measured = throughputWithLatency(count, elapsed, Float64Array.from(latencies))
    const server = (serverCpu(postmaster) - cpu0[0]) / count
    const client = (clientCpu() - cpu0[1]) / count
    return {
      ...measured,
      extras: [
        ...measured.extras,
        ...(postmaster === undefined ? [] : [{ name: "server_cpu", unit: "us/pair" as const, value: server }]),
        { name: "client_cpu", unit: "us/pair" as const, value: client }
      ]
    }
  }
  const sampleMs = Number(process.env["BENCH_PG_SAMPLE_MS"] ?? "2000")
  return {
    warmup: async () => {
      await measure(Math.min(1_000, sampleMs))
    },
    sample: () => measure(sampleMs),
    teardown: async () => {
      await runtime.dispose()
      await server.release()
    }
  }
}

const NOTE = "budget-pg: reserve+commit pairs/s through PostgreSQL with synchronous_commit on (client and server on " +
  "this machine); hot = one tenant, spread = 1,000 tenants; direct = one statement per operation, one connection " +
  "per client; batcher = PgBatcher (group commit, 2 batches in flight, 2 connections); ack_p50/ack_p99 = a pair's " +
  "latency in ms; server_cpu/client_cpu = CPU time per pair of the PostgreSQL processes and of the client " +
  "process (us; on a shared machine the honest cost, where pairs/s depends on the load). BENCH_PG_SAMPLE_MS " +
  "(default 2000) is one timed run; BENCH_PG_OPERATION_IDS=1: with operation ids."

const skipped = unavailable()

export const budgetPgWorkloads: ReadonlyArray<Workload> = (["hot", "spread"] as const).flatMap((spread) =>
  (["direct", "batcher"] as const).flatMap((mode) =>
    [1, 4, 16, 64].map((clients): Workload => ({
      name: `budget-pg/reserve+commit/${spread}/${mode}/c${clients}`,
      unit: "pairs/s",
      reference: null,
      group: "budget-pg",
      maxRuns: 3,
      note: NOTE,
      ...(skipped === undefined ? { setup: pairs(clients, spread, mode) } : { skip: skipped })
    }))
  )
)
