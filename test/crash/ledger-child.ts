/**
 * Crash-test child for the durable ledger: applies the commands of a command file (one journal
 * command per line) from index `start`, on a journaled ledger over a WAL file with durability
 * "always", printing `ACK <index>` after each acknowledged command, until killed or done.
 * argv: <journal> <commands.jsonl> <start>
 */
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"

const [journal = "", commandsFile = "", startText = "0"] = process.argv.slice(2)
const key = new Uint8Array(32).fill(5)
const decode = Schema.decodeUnknownSync(Journal.JournalCommand)
const commands = fs.readFileSync(commandsFile, "utf8").split("\n").filter((l) => l.length > 0).map((line) =>
  Journal.fromWire(decode(Either.getOrThrow(Json.parse(line)))).command
)

const program = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  for (let i = Number(startText); i < commands.length; i++) {
    const command = commands[i]
    if (command === undefined) break
    yield* ledger.apply(command)
    process.stdout.write(`ACK ${i}\n`)
  }
  process.stdout.write("DONE\n")
}).pipe(
  Effect.provide(Ledger.layerJournal({ checkpointEvery: 25 })),
  Effect.provide(Wal.layerFile(journal, { key, durability: "always" })),
  Effect.provide(NodeContext.layer)
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`child failed: ${String(error)}\n`)
    process.exit(3)
  }
)
