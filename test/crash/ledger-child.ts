/**
 * Crash-test child for the durable ledger: applies the commands of a command file (one journal
 * command per line) from index `start`, on a journaled ledger over a WAL file with durability
 * "always", printing `ACK <index>` after each acknowledged command, until killed or done.
 *
 * An admit is applied through `Ledger.admit` (the policy of admit-fixtures.ts, the input and
 * metadata of its journaled audited record). Before anything else, the child retries every admit
 * before `start` that held funds (by the pure state machine): each retry must return the original
 * decision and reservation, and the same id with another input must be an `IdempotencyConflict`.
 * A retry that does not is reported on stderr ("RETRY …", exit 4); the count retried is appended
 * to the report file as `RETRIED <n>`.
 * argv: <journal> <commands.jsonl> <start> <report file>
 */
import { TenantId } from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as Decision from "@calybris/core/Decision"
import * as Json from "@calybris/core/Json"
import * as Audited from "@calybris/wal/Audited"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { policy } from "./admit-fixtures.js"

const [journal = "", commandsFile = "", startText = "0", reportFile = ""] = process.argv.slice(2)
const key = new Uint8Array(32).fill(5)
const decode = Schema.decodeUnknownSync(Journal.JournalCommand)
const decodeAudited = Schema.decodeUnknownSync(Audited.AuditedJson)
const encodeDecision = Schema.encodeSync(Decision.Decision)
const commands = fs.readFileSync(commandsFile, "utf8").split("\n").filter((l) => l.length > 0).map(
  (line): Journal.Journaled => {
    const command = decode(Either.getOrThrow(Json.parse(line)))
    if (command._tag === "Refused") throw new Error("a command file holds commands, not journaled refusals")
    return { command, audited: command._tag === "Admit" ? command.audited : undefined }
  }
)
const start = Number(startText)

/** Admit as the gateway does: the input and metadata of the audited record, under the command's id. */
const admit = (j: Journal.Journaled, sequence?: bigint) => {
  const c = j.command as L.Command & { _tag: "Admit" }
  const record = decodeAudited(j.audited)
  const input = sequence === undefined ? record.input : { ...record.input, request_sequence: sequence }
  return Effect.map(
    Ledger.admit(policy, TenantId.make(c.tenant), input as typeof record.input, {
      metadata: record.metadata,
      ...(c.operation_id === undefined ? {} : { operationId: c.operation_id })
    }),
    (outcome) => ({ outcome, record })
  )
}

const mismatch = (what: string) =>
  Effect.sync(() => {
    process.stderr.write(`RETRY ${what}\n`)
    process.exit(4)
  })

const program = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  // the original results, by the pure state machine
  const model = new L.LedgerState()
  const results = commands.map((j) => L.step(model, j.command))
  let retried = 0
  for (let i = 0; i < start; i++) {
    const j = commands[i] as Journal.Journaled
    const original = results[i] as L.ReserveResult
    if (j.command._tag !== "Admit" || original._tag !== "Reserved") continue
    const { outcome, record } = yield* admit(j)
    if (
      outcome._tag !== "Admitted" || outcome.reservation_id !== original.reservation_id ||
      outcome.remaining_microcents !== original.remaining_microcents ||
      Json.print(encodeDecision(outcome.decision)) !== Json.print(encodeDecision(record.decision))
    ) return yield* mismatch(`${i}: ${outcome._tag}`)
    const altered = yield* Effect.either(admit(j, record.input.request_sequence + 1_000_000n))
    if (altered._tag !== "Left" || altered.left._tag !== "IdempotencyConflict") {
      return yield* mismatch(`${i} altered: ${altered._tag}`)
    }
    retried++
  }
  fs.appendFileSync(reportFile, `RETRIED ${retried}\n`)
  for (let i = start; i < commands.length; i++) {
    const j = commands[i]
    if (j === undefined) break
    if (j.command._tag === "Admit") yield* admit(j)
    else yield* ledger.apply(j.command)
    process.stdout.write(`ACK ${i}\n`)
  }
  process.stdout.write("DONE\n")
}).pipe(
  Effect.provide(Ledger.layerJournalFile(journal, { key, durability: "always", checkpointEvery: 25 })),
  Effect.provide(NodeContext.layer)
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`child failed: ${String(error)}\n`)
    process.exit(3)
  }
)
