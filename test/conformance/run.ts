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
import { getString, readJson } from "./vectors.js"
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
  // a vector file skipped was checked for nothing: the run fails, as for a failed case; so does
  // a run that checked nothing at all
  if (passed + failed === 0) {
    process.stdout.write("no vector checked: the folders hold no vector file this runner knows\n")
  }
  return failed === 0 && skipped === 0 && passed > 0 ? 0 : 1
}

interface Counts {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

/**
 * A file beside the vectors that holds none: one for people (a README, a licence, notes, a
 * checksum or signature list), an index of the others (`manifest.json`, `index.json`), or a
 * hidden one. Any other file no runner handles is skipped and counted.
 */
const isMetadata = (name: string): boolean =>
  name.startsWith(".") || name === "manifest.json" || name === "index.json" ||
  /^(?:README|LICEN[CS]E|NOTICE|COPYING|CHANGELOG|SHA256SUMS|MANIFEST)(?:\.[^.]*)?$/i.test(name) ||
  /\.(?:md|txt|rst|html|sha256|sha512|sig|asc|minisig)$/i.test(name)

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

/** A file's result, or — when checking it threw (a line that does not parse, say) — one failure naming why. */
const attempt = (run: () => FileResult): FileResult => {
  try {
    return run()
  } catch (error) {
    return { passed: 0, failed: 1, failures: [`threw: ${error instanceof Error ? error.message : String(error)}`] }
  }
}

const counted = (result: FileResult): Counts => ({
  passed: result.passed,
  failed: result.failed,
  skipped: result.skipped === undefined ? 0 : 1
})

/** Checks one vector file by its runner (`runnerFor`), or reports it skipped when none handles it. */
const runFile = (file: string, shown: string, verbose: boolean): Counts => {
  const runner = runnerFor(path.basename(file))
  if (runner === undefined) {
    process.stdout.write(`${shown}: skipped (no runner handles this name)\n`)
    return { passed: 0, failed: 0, skipped: 1 }
  }
  const result = attempt(() => runner(file))
  report(shown, result, verbose)
  return counted(result)
}

const sum = (a: Counts, b: Counts): Counts => ({
  passed: a.passed + b.passed,
  failed: a.failed + b.failed,
  skipped: a.skipped + b.skipped
})

const NONE: Counts = { passed: 0, failed: 0, skipped: 0 }

/**
 * Runs every vector file of one folder and of its subfolders (`prefix`: the path under the folder
 * given); prints a line per file. A folder named `wal`, or `wal-…`, `wal_…`, `wal.…`, or holding an
 * `index.json`, holds WAL samples (`runWalDir`); a file no runner handles that is not metadata
 * (`isMetadata`) is skipped and counted (the run then fails: it was checked for nothing).
 */
const runDir = (dir: string, prefix = "", checked: ReadonlySet<string> = new Set()): Counts => {
  let counts = NONE
  const verbose = process.env["CONFORMANCE_VERBOSE"] !== undefined
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name)
    if (fs.statSync(file).isDirectory()) {
      counts = sum(
        counts,
        /^wal(?:[-_.].*)?$/.test(name) || fs.existsSync(path.join(file, "index.json"))
          ? runWalDir(file, `${prefix}${name}/`, verbose, checked)
          : runDir(file, `${prefix}${name}/`, checked)
      )
      continue
    }
    if (checked.has(file) || (runnerFor(name) === undefined && isMetadata(name))) continue
    counts = sum(counts, runFile(file, `${prefix}${name}`, verbose))
  }
  return counts
}

/**
 * A folder of WAL samples: each sidecar's file checked (`runWalSample`), and the float tables
 * (`float-roundtrip*.json`). A vector file of another kind there (`kernel.jsonl`) goes to its
 * runner; a log no sidecar names, or any other file that is not metadata, is skipped and counted
 * (they passed unmentioned: a review).
 */
const runWalDir = (dir: string, prefix: string, verbose: boolean, checked: ReadonlySet<string>): Counts => {
  let counts = NONE
  const names = fs.readdirSync(dir).sort()
  const sidecars = names.filter((name) =>
    name.endsWith(".json") && !isMetadata(name) && !name.startsWith("float-roundtrip") &&
    runnerFor(name) === undefined
  )
  // the logs the sidecars name (`file`, else the sidecar's name with .jsonl), by their full paths:
  // one in a subfolder is checked with its sidecar, not again as a file of its own (a review)
  const logs = new Set([
    ...checked,
    ...sidecars.map((sidecar) => {
      let named = sidecar.replace(/\.json$/, ".jsonl")
      try {
        named = getString(readJson(path.join(dir, sidecar)), "file") ?? named
      } catch {
        // (the sample's own run reports it)
      }
      return path.resolve(dir, named)
    })
  ])
  for (const name of names) {
    const file = path.join(dir, name)
    const shown = `${prefix}${name}`
    if (fs.statSync(file).isDirectory()) {
      counts = sum(counts, runDir(file, `${shown}/`, logs))
    } else if (sidecars.includes(name)) {
      const checked = attempt(() => runWalSample(dir, name))
      // a sample checked for nothing (no checks, no rewrite) is skipped, not passed
      const result = checked.passed + checked.failed === 0 && checked.skipped === undefined
        ? { ...checked, skipped: "no check in it" }
        : checked
      report(shown, result, verbose)
      counts = sum(counts, counted(result))
    } else if (name.startsWith("float-roundtrip") && name.endsWith(".json")) {
      const result = attempt(() => runFloatRoundtrip(file))
      report(shown, result, verbose)
      counts = sum(counts, counted(result))
    } else if (logs.has(path.resolve(file)) || (runnerFor(name) === undefined && isMetadata(name))) {
      continue
    } else {
      counts = sum(counts, runFile(file, shown, verbose))
    }
  }
  return counts
}

process.exitCode = main()
