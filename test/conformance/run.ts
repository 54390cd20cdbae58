/**
 * The conformance runner: `pnpm conformance <dir> [<dir> ...]` checks this project against
 * folders of vectors: the reference crate's (format: shared/conformance/README.md) and the
 * transparency log's third-party vectors (shared/tlog-vectors/README.md), told apart by their
 * file names (`runnerFor`). One line per vector file, `<file>: N passed, N failed`, then the
 * total; exit 1 on any failure, and on any vector file (`.json`, `.jsonl`) no runner handles, which
 * is reported as skipped.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { runnerFor } from "./runners.js"
import type { FileResult } from "./vectors.js"
import { runFloatRoundtrip, runWalSample } from "./wal.js"

const main = (): number => {
  const dirs = process.argv.slice(2)
  if (dirs.length === 0) {
    process.stderr.write("usage: pnpm conformance <vector-dir> [<vector-dir> ...]\n")
    return 2
  }
  // named, with where the vectors come from: a clone without the shared folder beside it got the
  // usage line alone, after the whole test run (a fresh-machine check)
  const missing = dirs.find((dir) => !fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
  if (missing !== undefined) {
    process.stderr.write(
      `conformance: no folder ${missing} (${path.resolve(missing)}): the vectors (the reference crate's, and the ` +
        `transparency log's third-party ones) live in the shared folder beside this repository, ../shared\n`
    )
    return 2
  }
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const dir of dirs) {
    const counts = runDir(dir)
    passed += counts.passed
    failed += counts.failed
    skipped += counts.skipped
  }
  // a file it skipped was checked for nothing: said in the total, never passed over in silence
  process.stdout.write(
    `${passed} passed, ${failed} failed${
      skipped === 0 ? "" : `, ${skipped} file${skipped === 1 ? "" : "s"} skipped (not checked)`
    }\n`
  )
  // a vector file skipped was checked for nothing: the run fails, as for a failed case
  return failed === 0 && skipped === 0 ? 0 : 1
}

interface Counts {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

/** A file beside the vectors that holds none: read by people, or an index of the others. */
const isMetadata = (name: string): boolean =>
  name === "manifest.json" || name === "index.json" || !/\.jsonl?$/.test(name)

/** Prints a file's line (`shown` is its name under the folders given), its notes and first failures. */
const report = (shown: string, result: FileResult, verbose: boolean): void => {
  process.stdout.write(
    result.skipped !== undefined
      ? `${shown}: skipped (${result.skipped})\n`
      : `${shown}: ${result.passed} passed, ${result.failed} failed\n`
  )
  for (const note of result.notes ?? []) process.stdout.write(`  note: ${note}\n`)
  for (const failure of result.failures.slice(0, verbose ? 20 : 5)) process.stdout.write(`  ${failure}\n`)
}

/**
 * Runs every vector file of one folder and of its subfolders (`prefix`: the path under the folder
 * given); prints a line per file. A folder named `wal`, or `wal-…`, `wal_…`, `wal.…`, or holding an
 * `index.json`, holds WAL
 * samples (a sidecar `X.json` per file, `float-roundtrip*.json` tables); a `.json`/`.jsonl` file
 * no runner handles is skipped and counted (the run then fails: it was checked for nothing).
 */
const runDir = (dir: string, prefix = ""): Counts => {
  let passed = 0
  let failed = 0
  let skipped = 0
  const add = (counts: Counts) => {
    passed += counts.passed
    failed += counts.failed
    skipped += counts.skipped
  }
  const verbose = process.env["CONFORMANCE_VERBOSE"] !== undefined
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name)
    if (fs.statSync(file).isDirectory()) {
      add(
        /^wal(?:[-_.].*)?$/.test(name) || fs.existsSync(path.join(file, "index.json"))
          ? runWalDir(file, `${prefix}${name}/`, verbose)
          : runDir(file, `${prefix}${name}/`)
      )
      continue
    }
    const runner = runnerFor(name)
    if (runner === undefined) {
      if (isMetadata(name)) continue
      process.stdout.write(`${prefix}${name}: skipped (no runner handles this name)\n`)
      skipped++
      continue
    }
    const result = runner(file)
    add({ passed: result.passed, failed: result.failed, skipped: result.skipped === undefined ? 0 : 1 })
    report(`${prefix}${name}`, result, verbose)
  }
  return { passed, failed, skipped }
}

/** A folder of WAL samples: each sidecar's file checked (`runWalSample`), and the float tables. */
const runWalDir = (dir: string, prefix: string, verbose: boolean): Counts => {
  let passed = 0
  let failed = 0
  for (const sample of fs.readdirSync(dir).sort()) {
    if (!sample.endsWith(".json") || sample === "index.json") continue
    const result = sample.startsWith("float-roundtrip")
      ? runFloatRoundtrip(path.join(dir, sample))
      : runWalSample(dir, sample)
    passed += result.passed
    failed += result.failed
    report(`${prefix}${sample}`, result, verbose)
  }
  return { passed, failed, skipped: 0 }
}

process.exitCode = main()
