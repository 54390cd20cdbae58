/**
 * The proof of the PostgreSQL ledger under many processes (multiprocess.test.ts) and across a
 * crash of the server (crash.test.ts): what the children log, and the checks made afterwards.
 *
 * Each child (proof-child.ts) logs every acknowledged result as one line, `ACK`, its operation id,
 * the command and the result as text (`Reserved remaining_microcents=5 reservation_id=12`), and
 * `retry` when the command re-sends an operation it already had an answer for. A failure of the
 * database is one `ERR` line (the error's tag, how long it took); the child then re-sends the
 * same command under the same id until it is answered.
 *
 * How a refusal is proven right: the order in which the database applied the operations is in
 * its own write-ahead log. Every operation is one statement in its own transaction, which locks
 * the rows it decides on (the tenant's, and for a settlement the hold's) until it commits; a
 * statement waiting for that lock goes on only after the holder's COMMIT record is in the WAL.
 * So the COMMIT records' order (read with pg_walinspect, kept by a replication slot from the
 * start of the run) is the lock order of the operations on each tenant, and each operation's
 * transaction is the `xmin` of its row in `calybris_budget_operations`. Replaying the commands in
 * that order through the pure state machine (`LedgerState.step`) must give every result the
 * database gave, refusals with their numbers included, and the database's final state.
 */
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as L from "@calybris/budget/LedgerState"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { endChildren } from "./children.js"

// ---------------------------------------------------------------------------------------------
// The children's commands and results, as text

/** The commands the children send (each under an operation id). */
export type ProofCommand =
  | Command.CommandOf<"Reserve">
  | Command.CommandOf<"Commit">
  | Command.CommandOf<"Release">
  | Command.CommandOf<"TopUp">

export const commandText = (c: ProofCommand): string => {
  switch (c._tag) {
    case "Reserve":
      return `reserve ${c.tenant} ${c.amount}`
    case "Commit":
      return `commit ${c.reservation} ${c.actual}`
    case "Release":
      return `release ${c.reservation}`
    case "TopUp":
      return `topup ${c.tenant} ${c.amount}`
  }
}

export const parseCommand = (text: string, operation_id: string): ProofCommand => {
  const [kind, x = "", y = ""] = text.split(" ")
  switch (kind) {
    case "reserve":
      return Command.reserve(TenantId.make(x), Microcents.make(BigInt(y)), { operation_id })
    case "commit":
      return Command.commit(ReservationId.make(BigInt(x)), Microcents.make(BigInt(y)), { operation_id })
    case "release":
      return Command.release(ReservationId.make(BigInt(x)), { operation_id })
    case "topup":
      return Command.topUp(TenantId.make(x), Microcents.make(BigInt(y)), { operation_id })
  }
  throw new Error(`not a proof command: ${text}`)
}

/** A result as text: its tag, then its fields in name order (`Insufficient remaining_microcents=3 required_microcents=9`). */
export const resultText = (result: object): string => {
  const fields = result as Record<string, unknown>
  const names = Object.keys(fields).filter((name) => name !== "_tag" && fields[name] !== undefined).sort()
  return [String(fields["_tag"]), ...names.map((name) => `${name}=${String(fields[name])}`)].join(" ")
}

/** One line of a child's log. */
export type LogLine =
  | {
    readonly _tag: "ACK"
    readonly child: number
    readonly id: string
    readonly command: string
    readonly result: string
    readonly retry: boolean
  }
  | { readonly _tag: "ERR"; readonly child: number; readonly id: string; readonly error: string; readonly ms: number }

export const ackLine = (id: string, command: string, result: string, retry: boolean): string =>
  `ACK\t${id}\t${command}\t${result}\t${retry ? "retry" : "first"}\n`
export const errLine = (id: string, error: string, ms: number): string => `ERR\t${id}\t${error}\t${ms}\n`

/** A child's log file: its complete lines (a line cut by a kill is not one). */
export const readLog = (file: string, child: number): Array<LogLine> => {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : []
  lines.pop()
  return lines.map((line): LogLine => {
    const [tag, id = "", a = "", b = "", c = ""] = line.split("\t")
    if (tag === "ACK") return { _tag: "ACK", child, id, command: a, result: b, retry: c === "retry" }
    if (tag === "ERR") return { _tag: "ERR", child, id, error: a, ms: Number(b) }
    throw new Error(`child ${child}: not a log line: ${line}`)
  })
}

// ---------------------------------------------------------------------------------------------
// The database's order of commits

/**
 * Keep the WAL from now on (a physical replication slot reserving it: no checkpoint recycles it),
 * and return where it starts. `temporary`: the slot goes with this session (the scope's reserved
 * connection); otherwise it is dropped when the scope closes (a crash of the server keeps it).
 */
export const keepWal = (name: string, options: { readonly temporary: boolean }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE EXTENSION IF NOT EXISTS pg_walinspect`
    if (options.temporary) {
      const connection = yield* sql.reserve
      yield* connection.executeRaw("SELECT pg_create_physical_replication_slot($1, true, true)", [name])
    } else {
      yield* Effect.acquireRelease(
        sql`SELECT pg_create_physical_replication_slot(${name}, true, false)`,
        () => Effect.ignore(sql`SELECT pg_drop_replication_slot(${name})`)
      )
    }
    const [row] = yield* sql<{ lsn: string }>`SELECT restart_lsn::text AS lsn FROM pg_replication_slots
      WHERE slot_name = ${name}`
    if (row === undefined) return yield* Effect.dieMessage(`replication slot ${name} not created`)
    return row.lsn
  })

/** A remembered operation, with its place among the commits of the database (`order`, from 1). */
export interface OperationRow {
  readonly id: string
  readonly tag: string
  readonly a: bigint | null
  readonly b: bigint | null
  readonly c: bigint | null
  readonly order: number | null
}

const big = (s: string | null): bigint | null => s === null ? null : BigInt(s)

/** Every remembered operation, in the order of its transaction's COMMIT record in the WAL since `start`. */
export const operationsInCommitOrder = (
  start: string
): Effect.Effect<Array<OperationRow>, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<
      { id: string; tag: string; a: string | null; b: string | null; c: string | null; ord: string | null }
    >`WITH commits AS (
        -- up to what is flushed (every acknowledged commit is: synchronous_commit is on); pg_walinspect
        -- refuses an end beyond it, where the write position of a busy server may be
        SELECT xid, row_number() OVER (ORDER BY start_lsn) AS ord
        FROM pg_get_wal_records_info(${start}::pg_lsn, pg_current_wal_flush_lsn())
        WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT'
      )
      SELECT convert_from(o.operation_id, 'UTF8') AS id, o.tag, o.a::text AS a, o.b::text AS b, o.c::text AS c,
        w.ord::text AS ord
      FROM calybris_budget_operations o LEFT JOIN commits w ON w.xid = o.xmin
      ORDER BY w.ord`
    return rows.map((r) => ({
      id: r.id,
      tag: r.tag,
      a: big(r.a),
      b: big(r.b),
      c: big(r.c),
      order: r.ord === null ? null : Number(r.ord)
    }))
  })

/** The fields of a remembered result (the columns a, b, c of `calybris_budget_operations`), by command and tag. */
const columns = (kind: ProofCommand["_tag"], tag: string): ReadonlyArray<string> => {
  if (kind === "Reserve") {
    switch (tag) {
      case "Reserved":
        return ["remaining_microcents", "reservation_id"]
      case "Insufficient":
        return ["remaining_microcents", "required_microcents"]
      case "ExposureLimitExceeded":
        return ["current_reserved_microcents", "max_reserved_microcents"]
      case "Overflow":
        return ["current_reserved_microcents"]
    }
    return []
  }
  if (kind === "TopUp") {
    return tag === "ToppedUp"
      ? ["added_microcents", "new_initial_microcents", "remaining_microcents"]
      : []
  }
  switch (tag) {
    case "Committed":
      return ["remaining_microcents", "actual_microcents"]
    case "Released":
      return ["remaining_microcents", "returned_microcents"]
    case "Overrun":
    case "Overflow":
      return ["remaining_microcents"]
  }
  return []
}

/** A remembered operation's result as text (as `resultText` prints the result the client got). */
export const rowResultText = (kind: ProofCommand["_tag"], row: OperationRow): string => {
  const values = [row.a, row.b, row.c]
  const fields: Record<string, unknown> = { _tag: row.tag }
  columns(kind, row.tag).forEach((name, i) => (fields[name] = values[i]))
  return resultText(fields)
}

// ---------------------------------------------------------------------------------------------
// The checks

export interface TenantSetup {
  readonly tenant: string
  readonly initial: bigint
  readonly cap?: bigint
}

/**
 * The run's folder of client logs (removed with the scope), with every client process still
 * running when the scope ends (a failed test) ended first.
 */
export const logDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) =>
      Effect.sync(() => {
        endChildren()
        fs.rmSync(dir, { recursive: true, force: true })
      })
  )

/** Create the run's tenants (and their caps) with the one-statement operations. */
export const createTenants = (
  setup: ReadonlyArray<TenantSetup>
): Effect.Effect<void, PgOperations.OperationError, SqlClient.SqlClient> =>
  Effect.forEach(setup, (s) => {
    const tenant = TenantId.make(s.tenant)
    return Effect.zipRight(
      PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(s.initial))),
      s.cap === undefined
        ? Effect.void
        : PgOperations.setExposureCap(Command.setExposureCap(tenant, Microcents.make(s.cap)))
    )
  }, { discard: true })

export interface TenantRow {
  readonly tenant: string
  readonly initial: bigint
  readonly remaining: bigint
  readonly reserved: bigint
  readonly committed: bigint
  readonly cap: bigint | null
}
export interface ReservationRow {
  readonly id: bigint
  readonly tenant: string
  readonly amount: bigint
  readonly state: string
  readonly actual: bigint | null
}

export interface Proven {
  readonly acknowledged: number
  readonly retries: number
  readonly errors: number
  /** operations answered only after the database failed them at least once (their outcome was in doubt) */
  readonly inDoubt: number
  readonly tags: Record<string, number>
}

const fail = (message: string): never => {
  throw new Error(message)
}
const check = (ok: boolean, message: () => string): void => {
  if (!ok) fail(message())
}

/** What the database holds after a run: its rows, and its remembered operations in commit order. */
export interface Database {
  readonly tenants: ReadonlyArray<TenantRow>
  readonly reservations: ReadonlyMap<bigint, ReservationRow>
  readonly operations: ReadonlyArray<OperationRow>
}

/** Read the database's rows, and its operations in the order of the WAL since `walStart`. */
export const readDatabase = (walStart: string): Effect.Effect<Database, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tenants = (yield* sql<Record<string, string | null>>`SELECT convert_from(tenant, 'UTF8') AS tenant,
        initial::text, remaining::text, reserved::text, committed::text, cap::text
      FROM calybris_budget_tenants ORDER BY tenant`).map((r): TenantRow => ({
      tenant: String(r["tenant"]),
      initial: BigInt(r["initial"] ?? fail("initial")),
      remaining: BigInt(r["remaining"] ?? fail("remaining")),
      reserved: BigInt(r["reserved"] ?? fail("reserved")),
      committed: BigInt(r["committed"] ?? fail("committed")),
      cap: big(r["cap"] ?? null)
    }))
    const reservations = new Map(
      (yield* sql<Record<string, string | null>>`SELECT id::text, convert_from(tenant, 'UTF8') AS tenant,
          amount::text, state, actual::text FROM calybris_budget_reservations`).map((r): [bigint, ReservationRow] => {
        const id = BigInt(r["id"] ?? fail("id"))
        return [id, {
          id,
          tenant: String(r["tenant"]),
          amount: BigInt(r["amount"] ?? fail("amount")),
          state: String(r["state"]),
          actual: big(r["actual"] ?? null)
        }]
      })
    )
    const operations = yield* operationsInCommitOrder(walStart)
    return { tenants, reservations, operations }
  })

/**
 * Everything the children were told, against everything the database holds (see the module's
 * comment); throws on the first thing that does not hold, and returns what was checked.
 */
export const verify = (
  setup: ReadonlyArray<TenantSetup>,
  logs: ReadonlyArray<LogLine>,
  { operations, reservations, tenants }: Database
): Proven => {
  // 1. the invariant on every row, recomputed here (not only trusted to the CHECK constraints),
  // and each tenant's totals equal to the sums over its reservation rows
  check(tenants.length === setup.length, () => `${tenants.length} tenant rows, ${setup.length} set up`)
  for (const t of tenants) {
    check(
      t.remaining >= 0n && t.reserved >= 0n && t.committed >= 0n,
      () => `tenant ${t.tenant}: a negative balance (${[t.remaining, t.reserved, t.committed]})`
    )
    check(
      t.remaining + t.reserved + t.committed === t.initial,
      () => `tenant ${t.tenant}: remaining + reserved + committed ≠ initial`
    )
    if (t.cap !== null) check(t.reserved <= t.cap, () => `tenant ${t.tenant}: reserved ${t.reserved} > cap ${t.cap}`)
    let open = 0n
    let committed = 0n
    for (const r of reservations.values()) {
      if (r.tenant !== t.tenant) continue
      if (r.state === "open") open += r.amount
      if (r.state === "committed") committed += r.actual ?? fail(`hold ${r.id} committed without an actual`)
      check(r.state !== "committed" || r.actual !== null, () => `hold ${r.id}: committed without actual`)
    }
    check(open === t.reserved, () => `tenant ${t.tenant}: reserved ${t.reserved} ≠ Σ open holds ${open}`)
    check(committed === t.committed, () => `tenant ${t.tenant}: committed ${t.committed} ≠ Σ actuals ${committed}`)
    check(setup.some((s) => s.tenant === t.tenant), () => `tenant ${t.tenant} was not set up`)
  }

  // 2. what the children were told: one first answer per id, every retry identical to it, no hold
  // acknowledged to two operations
  const answered = new Map<string, { readonly command: string; readonly result: string }>()
  let retries = 0
  let errors = 0
  let inDoubt = 0
  const erred = new Set<string>()
  const tags: Record<string, number> = {}
  for (const line of logs) {
    if (line._tag === "ERR") {
      errors++
      erred.add(line.id)
      continue
    }
    const first = answered.get(line.id)
    if (first === undefined) {
      check(!line.retry, () => `${line.id}: a retry logged before a first answer`)
      if (erred.has(line.id)) inDoubt++
      answered.set(line.id, { command: line.command, result: line.result })
      const tag = line.result.split(" ")[0] ?? ""
      tags[tag] = (tags[tag] ?? 0) + 1
    } else {
      if (line.retry) retries++
      check(first.command === line.command, () => `${line.id}: sent as ${first.command} and as ${line.command}`)
      check(
        first.result === line.result,
        () => `${line.id} (${line.command}): answered ${first.result}, then ${line.result}`
      )
    }
  }
  const holder = new Map<bigint, string>()
  for (const [id, { result }] of answered) {
    const m = /^Reserved .*reservation_id=(\d+)/.exec(result)
    if (m?.[1] === undefined) continue
    const reservation = BigInt(m[1])
    const other = holder.get(reservation)
    check(other === undefined, () => `hold ${reservation} acknowledged to ${other} and to ${id}`)
    holder.set(reservation, id)
  }

  // 3. every acknowledged result is in the database: the remembered result under its id, and the hold
  const remembered = new Map(operations.map((o) => [o.id, o]))
  for (const [id, { command, result }] of answered) {
    const c = parseCommand(command, id)
    const row = remembered.get(id) ?? fail(`${id} (${command} → ${result}) acknowledged but not remembered`)
    check(
      rowResultText(c._tag, row) === result,
      () => `${id}: acknowledged ${result}, remembered ${rowResultText(c._tag, row)}`
    )
    const [tag] = result.split(" ")
    if (c._tag === "Reserve" && tag === "Reserved") {
      const reservation = row.b ?? fail(`${id}: no hold id`)
      const hold = reservations.get(reservation) ?? fail(`${id}: hold ${reservation} acknowledged, not in the table`)
      check(
        hold.tenant === c.tenant && hold.amount === c.amount,
        () =>
          `${id}: hold ${reservation} is ${hold.amount} for ${hold.tenant}, acknowledged ${c.amount} for ${c.tenant}`
      )
    }
    if (c._tag === "Commit" && tag === "Committed") {
      const hold = reservations.get(c.reservation) ?? fail(`${id}: committed hold ${c.reservation} not in the table`)
      check(
        hold.state === "committed" && hold.actual === c.actual,
        () => `${id}: hold ${c.reservation} is ${hold.state} (${hold.actual}), acknowledged committed with ${c.actual}`
      )
    }
    if (c._tag === "Release" && tag === "Released") {
      const hold = reservations.get(c.reservation) ?? fail(`${id}: released hold ${c.reservation} not in the table`)
      check(hold.state === "released", () => `${id}: hold ${c.reservation} is ${hold.state}, acknowledged released`)
    }
  }
  // and nothing the children did not ask for: every hold row is the hold of one remembered reserve
  const heldBy = new Map<bigint, string>()
  for (const o of operations) {
    if (o.tag === "Reserved" && o.b !== null) {
      check(!heldBy.has(o.b), () => `hold ${o.b} remembered under two ids`)
      heldBy.set(o.b, o.id)
    }
  }
  for (const id of reservations.keys()) check(heldBy.has(id), () => `hold ${id} has no remembered reserve`)
  check(
    operations.length === answered.size,
    () => `${operations.length} remembered operations, ${answered.size} acknowledged`
  )

  // 4. no result was wrong, refusals included: the state machine, run over the operations in the
  // order the database committed them, answers each one as the database did and ends in its state
  const model = new L.LedgerState()
  for (const s of setup) {
    L.step(model, Command.ensureTenant(TenantId.make(s.tenant), Microcents.make(s.initial)))
    if (s.cap !== undefined) L.step(model, Command.setExposureCap(TenantId.make(s.tenant), Microcents.make(s.cap)))
  }
  const modelId = new Map<bigint, bigint>() // the database's hold id → the model's
  const databaseId = new Map<bigint, bigint>()
  for (const o of operations) {
    check(o.order !== null, () => `${o.id}: its transaction's COMMIT is not in the WAL kept since the run began`)
    const sent = answered.get(o.id) ?? fail(`${o.id} remembered but never acknowledged`)
    const c = parseCommand(sent.command, o.id)
    const translated = c._tag === "Commit" || c._tag === "Release"
      ? { ...c, reservation: ReservationId.make(modelId.get(c.reservation) ?? 0n) }
      : c
    const result = L.step(model, translated) as Record<string, unknown>
    if (result["_tag"] === "Reserved") {
      const mine = result["reservation_id"] as bigint
      const theirs = o.b ?? fail(`${o.id}: Reserved without a hold id`)
      modelId.set(theirs, mine)
      databaseId.set(mine, theirs)
      result["reservation_id"] = theirs
    }
    check(
      resultText(result) === sent.result,
      () =>
        `${o.id} (${sent.command}), commit #${o.order}: the database answered ${sent.result}, in its commit order the state machine answers ${
          resultText(result)
        }`
    )
  }
  for (const t of tenants) {
    const m = L.tenantBalances(model, t.tenant) ?? fail(`tenant ${t.tenant} not in the model`)
    check(
      m.initial === t.initial && m.remaining === t.remaining && m.reserved === t.reserved &&
        m.committed === t.committed,
      () =>
        `tenant ${t.tenant}: the database ends at ${[
          t.initial,
          t.remaining,
          t.reserved,
          t.committed
        ]}, the replay at ${[m.initial, m.remaining, m.reserved, m.committed]}`
    )
  }
  const openInModel = [...model.holds].map(([id]) => databaseId.get(id)).sort()
  const openInDatabase = [...reservations.values()].filter((r) => r.state === "open").map((r) => r.id).sort()
  check(
    openInModel.join(",") === openInDatabase.join(","),
    () => `open holds: database ${openInDatabase.length}, replay ${openInModel.length}`
  )
  return { acknowledged: answered.size, retries, errors, inDoubt, tags }
}

/** `verify` on the database as it is now. */
export const prove = (
  setup: ReadonlyArray<TenantSetup>,
  logs: ReadonlyArray<LogLine>,
  walStart: string
): Effect.Effect<Proven, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(readDatabase(walStart), (database) => Effect.sync(() => verify(setup, logs, database)))
