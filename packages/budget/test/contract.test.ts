/**
 * One contract suite for every Ledger layer: memory, the journaled ledger over an in-memory
 * WAL and over a real WAL file (each durability) of the environment, the journaled ledgers
 * that own their log (in memory, and in a file under each durability), and the read-only view of
 * a journal file (`LedgerView.layerFile`: commands change only its in-memory copy).
 */
import * as Ledger from "@calybris/budget/Ledger"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as TempDir from "@calybris/testing/TempDir"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import { ledgerContract } from "./support/contract.js"

const key = new Uint8Array(32).fill(7)
let counter = 0
const tempFile = () => TempDir.file("calybris-ledger-", `journal-${counter++}.jsonl`)

ledgerContract("memory", () => Ledger.layerMemory)
ledgerContract(
  "journal over an in-memory WAL",
  () => Ledger.layerJournal({ checkpointEvery: 3 }).pipe(Layer.provide(Wal.layerMemory({ key })))
)
for (const durability of ["always", "batch", "never"] as const) {
  ledgerContract(
    `journal over a WAL file (${durability})`,
    () =>
      Ledger.layerJournal({ checkpointEvery: 3 }).pipe(
        Layer.provide(Wal.layerFile(tempFile(), { key, durability })),
        Layer.provide(NodeContext.layer)
      )
  )
}
ledgerContract("journal owning an in-memory log", () => Ledger.layerJournalMemory({ key, checkpointEvery: 3 }))
for (const durability of ["always", "batch", "never"] as const) {
  ledgerContract(
    `journal owning a log file (${durability})`,
    () =>
      Ledger.layerJournalFile(tempFile(), { key, durability, checkpointEvery: 3 }).pipe(
        Layer.provide(NodeContext.layer)
      )
  )
}
ledgerContract("view of a journal file", () => {
  const file = tempFile()
  fs.writeFileSync(file, "")
  return LedgerView.layerFile(file, { key }).pipe(Layer.provide(NodeContext.layer))
})
