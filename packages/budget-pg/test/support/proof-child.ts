/**
 * A client process of the PostgreSQL proofs (multiprocess.test.ts, crash.test.ts): `ops` random
 * reserves, commits, releases and a few top-ups on the given tenants, each under an operation id
 * of its own (`c<child>-<n>`), with retries of random earlier operations under the same id, and
 * settlements of holds it settled already. Every acknowledged result is appended to the log file
 * before the next operation (see proof.ts for the format).
 *
 * A failure of the database (`LedgerStoreError`, e.g. while the server is down) is logged as an
 * `ERR` line and the same command is sent again under the same id, until it is answered (or
 * `patienceMs` passed: exit 3). An operation that takes longer than 20 s is a hang: exit 3.
 *
 * The ledger is reached through `Ops`: the model's `pgStep` over `PgBatcher.direct` (the
 * one-statement `PgOperations`).
 *
 * argv: <url> <child number> <ops> <log file> <tenant,tenant,…> [patienceMs]
 */
import * as PgBatcher from "@calybris/budget-pg/PgBatcher"
import type * as PgOperations from "@calybris/budget-pg/PgOperations"
import { Microcents, ReservationId, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import { type IdempotencyConflict, InvalidArgument } from "@calybris/budget/LedgerError"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import { pgStep } from "./model.js"
import { ackLine, commandText, errLine, type ProofCommand, resultText } from "./proof.js"

const [url = "", childText = "0", opsText = "0", log = "", tenantList = "", patienceText = "60000"] = process.argv
  .slice(2)
const child = Number(childText)
const ops = Number(opsText)
const tenants = tenantList.split(",").map((t) => TenantId.make(t))
const patienceMs = Number(patienceText)

/** What the ledger answers this client (its commands are never snapshots, restores nor admits). */
type Answer = Command.ReserveResult | Command.SettlementResult | Command.TopUpResult | IdempotencyConflict

/**
 * The ledger as this client uses it: `pgStep` with the one-statement operations (the tests'
 * command switch), an argument refusal put back in the error channel (where it ends the child).
 */
const Ops = {
  send: (c: ProofCommand): Effect.Effect<Answer, PgOperations.OperationError, SqlClient.SqlClient> =>
    Effect.flatMap(
      pgStep(c, PgBatcher.direct),
      (answer) => answer instanceof InvalidArgument ? Effect.fail(answer) : Effect.succeed(answer as Answer)
    )
}

/** xorshift: the child's own deterministic stream */
let x = (child + 1) * 2654435761 >>> 0 || 1
const random = (n: number): number => {
  x ^= x << 13
  x >>>= 0
  x ^= x >>> 17
  x ^= x << 5
  x >>>= 0
  return x % n
}

const append = (line: string) => Effect.sync(() => fs.appendFileSync(log, line))

const bail = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`child ${child}: ${message}\n`)
    process.exit(3)
  })

/** Send a command until it is answered: its result (and the ACK line written). */
const send = (id: string, c: ProofCommand, retry: boolean) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    for (;;) {
      const before = yield* Clock.currentTimeMillis
      const outcome = yield* Ops.send(c).pipe(Effect.timeout(Duration.seconds(20)), Effect.either)
      const now = yield* Clock.currentTimeMillis
      if (outcome._tag === "Right") {
        const result = outcome.right
        yield* append(ackLine(id, commandText(c), resultText(result), retry))
        return result
      }
      const error = outcome.left
      if (error._tag !== "LedgerStoreError") return yield* bail(`${id}: ${error._tag} after ${now - before} ms`)
      yield* append(errLine(id, error._tag, now - before))
      if (now - started > patienceMs) return yield* bail(`${id}: no answer for ${now - started} ms`)
      yield* Effect.sleep(Duration.millis(100))
    }
  })

const program = Effect.gen(function*() {
  const open: Array<{ readonly reservation: bigint; readonly amount: bigint }> = []
  const settled: Array<bigint> = []
  const sent: Array<{ readonly id: string; readonly c: ProofCommand }> = []
  const tenant = () => tenants[random(tenants.length)] as TenantId
  for (let n = 0; n < ops; n++) {
    const roll = random(100)
    if (roll < 8 && sent.length > 0) {
      // a retry of an earlier operation (answered, applied or refused) under its id
      const earlier = sent[random(sent.length)] as { readonly id: string; readonly c: ProofCommand }
      yield* send(earlier.id, earlier.c, true)
      continue
    }
    const id = `c${child}-${n}`
    let c: ProofCommand
    let hold: { readonly reservation: bigint; readonly amount: bigint } | undefined
    if (roll < 10) {
      c = Command.topUp(tenant(), Microcents.make(BigInt(1 + random(300))), { operation_id: id })
    } else if (roll < 12 && settled.length > 0) {
      // a hold settled already: refused (MissingReservation)
      const reservation = ReservationId.make(settled[random(settled.length)] as bigint)
      c = random(2) === 0
        ? Command.release(reservation, { operation_id: id })
        : Command.commit(reservation, Microcents.make(BigInt(random(100))), { operation_id: id })
    } else if (open.length >= 6 || (roll < 50 && open.length > 0)) {
      const i = random(open.length)
      hold = open[i] as { readonly reservation: bigint; readonly amount: bigint }
      open.splice(i, 1)
      const reservation = ReservationId.make(hold.reservation)
      c = random(10) < 7
        ? Command.commit(reservation, Microcents.make(BigInt(random(Math.floor(Number(hold.amount) * 3 / 2) + 1))), {
          operation_id: id
        })
        : Command.release(reservation, { operation_id: id })
    } else {
      c = Command.reserve(tenant(), Microcents.make(BigInt(1 + random(200))), { operation_id: id })
    }
    const result = yield* send(id, c, false)
    sent.push({ id, c })
    if (result._tag === "Reserved" && c._tag === "Reserve") {
      open.push({ reservation: result.reservation_id, amount: c.amount })
    }
    if (hold !== undefined) {
      if (result._tag === "Committed" || result._tag === "Released") settled.push(hold.reservation)
      else open.push(hold) // an overrun: still open
    }
  }
})

const client = PgClient.layer({
  url: Redacted.make(url),
  maxConnections: 1,
  applicationName: `calybris-proof-${child}`
})

Effect.runPromise(program.pipe(Effect.provide(client), Effect.scoped)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`child ${child}: ${String(error)}\n`)
    process.exit(2)
  }
)
