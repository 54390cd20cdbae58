/**
 * Which runner checks a vector file, by its name (see run.ts).
 */
import { checkLedgerDigest, runBudget, runLedger } from "./budget.js"
import { runDigests } from "./digests.js"
import { runKernel } from "./kernel.js"
import { runConsistency, runInclusion, runMerkleRoots } from "./tlogMerkle.js"
import { runCheckpoints, runCosignatures, runSignedNotes } from "./tlogNotes.js"
import { runTiles } from "./tlogTiles.js"
import type { FileResult } from "./vectors.js"
import { runVerify } from "./verify.js"

export type Runner = (file: string) => FileResult

const runners: Record<string, Runner> = {
  "kernel.jsonl": runKernel,
  "verify.jsonl": runVerify,
  "digests.json": (file) => runDigests(file, checkLedgerDigest),
  "budget.jsonl": runBudget,
  "ledger.jsonl": runLedger,
  // shared/tlog-vectors
  "merkle-roots.json": runMerkleRoots,
  "inclusion.json": runInclusion,
  "consistency.json": runConsistency,
  "signed-notes.json": runSignedNotes,
  "checkpoints.json": runCheckpoints,
  "cosignatures.json": runCosignatures,
  "tiles.json": runTiles
}

/**
 * The runner of a vector file: by its name, or — for a larger set that splits a kind over files —
 * by a name `<stem>-<anything>.<ext>` whose `<stem>.<ext>` has one (`kernel-adversarial.jsonl`
 * is a `kernel.jsonl`).
 */
export const runnerFor = (name: string): Runner | undefined => {
  const exact = runners[name]
  if (exact !== undefined) return exact
  const split = /^([a-z]+(?:-[a-z]+)*?)-[^/]+(\.jsonl?)$/.exec(name)
  for (let stem = split?.[1]; split !== null && stem !== undefined;) {
    const runner = runners[`${stem}${split[2]}`]
    if (runner !== undefined) return runner
    const dash = stem.lastIndexOf("-")
    stem = dash < 0 ? undefined : stem.slice(0, dash)
  }
  return undefined
}
