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
 * by a name `<stem>-<anything>.<ext>`, `<stem>_<anything>.<ext>` or `<stem>.<anything>.<ext>`
 * whose `<stem>.<ext>` has one (`kernel-adversarial.jsonl`, `kernel_2.jsonl` and
 * `kernel.holdout.jsonl` are `kernel.jsonl`s).
 */
export const runnerFor = (name: string): Runner | undefined => {
  const exact = runners[name]
  if (exact !== undefined) return exact
  let found: { readonly stem: string; readonly runner: Runner } | undefined
  for (const [known, runner] of Object.entries(runners)) {
    const ext = known.slice(known.lastIndexOf("."))
    const stem = known.slice(0, -ext.length)
    // the longest stem wins (`signed-notes-x.json` is a `signed-notes.json`, not a `signed…`)
    if (
      (name.startsWith(`${stem}-`) || name.startsWith(`${stem}_`) || name.startsWith(`${stem}.`)) &&
      name.endsWith(ext) && name.length > stem.length + 1 + ext.length &&
      (found === undefined || stem.length > found.stem.length)
    ) found = { stem, runner }
  }
  return found?.runner
}
