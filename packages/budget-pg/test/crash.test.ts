/**
 * The server dies mid-run: on a cluster of this test's own (never the run's shared server), client
 * processes send random reserves, commits, releases and top-ups under operation ids; the postmaster
 * and every server process are SIGKILLed while they do (twice), and the cluster is started again on
 * the same data directory (crash recovery). Meanwhile the clients get a typed `LedgerStoreError`
 * quickly (no hang) and send the same command under the same id until it is answered.
 *
 * Afterwards (support/proof.ts): every acknowledged operation is remembered under its id with the
 * result the client got, its hold is in the table, none applied twice (each hold is one
 * remembered reserve's, no hold acknowledged to two ids, the totals are the sums over the holds),
 * and every result equals the state machine's over the operations in the database's WAL commit
 * order, across both crashes. `synchronous_commit` is on (the default), as this relies on it.
 */
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import * as Postgres from "@calybris/testing/Postgres"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fs from "node:fs"
import * as path from "node:path"
import { runChild } from "./support/children.js"
import { installed, makeCluster } from "./support/cluster.js"
import { client, enabled } from "./support/database.js"
import { createTenants, keepWal, logDir, type LogLine, prove, readLog, type TenantSetup } from "./support/proof.js"

const PROCESSES = 4
const OPS = Number(process.env["CALYBRIS_CRASH_OPS"] ?? "800")
/** Crash when the clients have this many answers in all. */
const CRASH_AT = [OPS, OPS * 2.5]

const setup: ReadonlyArray<TenantSetup> = [
  { tenant: "t0", initial: 30_000n },
  { tenant: "t1", initial: 60_000n, cap: 800n }
]

const acks = (logs: ReadonlyArray<string>) =>
  logs.reduce(
    (n, log) =>
      n + (fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("ACK")).length : 0),
    0
  )

describe.runIf(enabled && (installed() || Postgres.required()))("the server crashes mid-run", () => {
  it.live(
    "SIGKILL of PostgreSQL twice: every acknowledged operation is there with its result, none twice",
    () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        const dir = yield* logDir("calybris-pg-crash-")
        yield* Postgres.psql("CREATE DATABASE ledger", cluster.url)
        const url = Postgres.withDatabase(cluster.url, "ledger")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          // an acknowledged commit is on disk before the answer: the default, and this test relies on it
          const [settings] = yield* sql<{ synchronous_commit: string; fsync: string }>`SELECT
            current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync`
          assert.deepStrictEqual(settings, { synchronous_commit: "on", fsync: "on" })
          yield* PgSchema.migrate
          yield* createTenants(setup)
          // a slot that survives the crashes keeps the WAL from here on
          const walStart = yield* keepWal("calybris_crash_proof", { temporary: false })
          const logs = Array.from({ length: PROCESSES }, (_, child) => path.join(dir, `child-${child}.log`))
          const children = yield* Effect.fork(Effect.promise(() =>
            Promise.all(logs.map((log, child) =>
              runChild(child, {
                url,
                ops: OPS,
                log,
                tenants: setup.map((s) => s.tenant)
              }, 120_000)
            ))
          ))
          const killed: Array<number> = []
          for (const at of CRASH_AT) {
            while (acks(logs) < at) {
              yield* Effect.sleep("50 millis")
            }
            const before = acks(logs)
            killed.push(cluster.crash().length)
            // down for a while: the clients keep trying and failing
            yield* Effect.sleep("1500 millis")
            cluster.restart()
            assert.isAbove(before, 0)
          }
          const exits = yield* Fiber.join(children)
          for (const exit of exits) assert.strictEqual(exit.code, 0, `child ${exit.child}: ${exit.stderr}`)
          const lines = exits.flatMap((exit): Array<LogLine> => readLog(logs[exit.child] as string, exit.child))
          const proven = yield* prove(setup, lines, walStart)
          process.stderr.write(
            `crash proof: killed ${killed.join(" and ")} server processes; ${JSON.stringify(proven)}\n`
          )
          // the clients saw the outages, as typed errors, each quickly (no hang)
          const errors = lines.filter((line) => line._tag === "ERR")
          assert.isAbove(errors.length, 0)
          for (const e of errors) {
            if (e._tag !== "ERR") continue
            assert.strictEqual(e.error, "LedgerStoreError")
            assert.isBelow(e.ms, 10_000, `${e.id}: an answer took ${e.ms} ms`)
          }
          assert.strictEqual(
            proven.acknowledged,
            PROCESSES * OPS - lines.filter((l) => l._tag === "ACK" && l.retry).length
          )
        }).pipe(Effect.provide(client(url, 2)))
      }).pipe(Effect.scoped),
    300_000
  )
})
