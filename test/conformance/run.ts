/**
 * The conformance runner: `pnpm conformance <dir> [<dir> ...]` checks this project against
 * folders of vectors: the reference crate's (format: shared/conformance/README.md) and the
 * transparency log's third-party vectors (shared/tlog-vectors/README.md), told apart by their
 * file names (`runnerFor`). One line per vector file, `<file>: N passed, N failed`, then the
 * total; exit 1 on any failure. Files it does not handle are reported as skipped.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { runnerFor } from "./runners.js"
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
  return failed === 0 ? 0 : 1
}

/** Runs every vector file of one folder; prints a line per file. */
const runDir = (dir: string): { readonly passed: number; readonly failed: number; readonly skipped: number } => {
  let passed = 0
  let failed = 0
  let skipped = 0
  const verbose = process.env["CONFORMANCE_VERBOSE"] !== undefined
  const entries = fs.readdirSync(dir).sort()
  for (const name of entries) {
    const file = path.join(dir, name)
    if (name === "wal" && fs.statSync(file).isDirectory()) {
      for (const sample of fs.readdirSync(file).sort()) {
        if (!sample.endsWith(".json") || sample === "index.json") continue
        const result = sample === "float-roundtrip.json"
          ? runFloatRoundtrip(path.join(file, sample))
          : runWalSample(file, sample)
        passed += result.passed
        failed += result.failed
        process.stdout.write(`wal/${sample}: ${result.passed} passed, ${result.failed} failed\n`)
        for (const failure of result.failures.slice(0, verbose ? 20 : 5)) process.stdout.write(`  ${failure}\n`)
      }
      continue
    }
    const runner = runnerFor(name)
    if (runner === undefined) {
      if (name === "README.md" || name === "manifest.json") continue
      process.stdout.write(`${name}: skipped (not handled yet)\n`)
      skipped++
      continue
    }
    const result = runner(file)
    passed += result.passed
    failed += result.failed
    if (result.skipped !== undefined) skipped++
    process.stdout.write(
      result.skipped !== undefined
        ? `${name}: skipped (${result.skipped})\n`
        : `${name}: ${result.passed} passed, ${result.failed} failed\n`
    )
    for (const failure of result.failures.slice(0, verbose ? 20 : 5)) process.stdout.write(`  ${failure}\n`)
  }
  return { passed, failed, skipped }
}

process.exitCode = main()
