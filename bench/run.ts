/**
 * `pnpm bench [filter ...] [--runs N] [--write] [--database URL]`: runs the registered workloads (all, or those
 * whose name contains one of the filters or whose group is one), each in a fresh child `node`
 * process (the workload runs on its one thread), one after the other: warm-up, then the median
 * of N (default 5) runs. Prints a table against the Rust reference measured on this machine kind
 * (../shared/bench/reference-2026-12-03.json, or $BENCH_REFERENCE: see reference.ts) with the ratio
 * of every row it has, and writes bench/results.json (a filtered run only with --write), naming
 * the reference file and commit used.
 *
 * Environment: BENCH_SAMPLE_MS (target length of one timed run, default 400) and
 * BENCH_WARMUP_MS (minimum warm-up, default 1000) for the per-operation workloads;
 * BENCH_CLOCK=cpu to time those on the thread's CPU clock instead of the wall clock (on a
 * machine shared with other jobs; the reference figures are wall-clock medians).
 * `--database URL` (CALYBRIS_BENCH_DATABASE_URL) is the PostgreSQL server of the `budget-pg`
 * workloads (each makes a fresh database on it); without it they use CALYBRIS_TEST_DATABASE_URL or
 * start a throwaway cluster each, and are skipped when PostgreSQL is not installed.
 */
import * as Either from "effect/Either"
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Reference from "./reference.js"
import { clockName, now, ratio, type Unit, type Workload } from "./registry.js"
import { loadAll } from "./workloads/index.js"

interface Row {
  readonly name: string
  readonly unit: Unit
  readonly median: number | null
  readonly reference: number | null
  /** where `reference` comes from: the reference file, or the workload's stand-in (see Workload.reference) */
  readonly referenceFrom: "file" | "stand-in" | null
  readonly ratio: number | null
  readonly status: "ok" | "not yet implemented" | "skipped" | "failed"
  readonly samples: ReadonlyArray<number>
}

const childPath = fileURLToPath(new URL("./child.ts", import.meta.url))
/** bench/results.json, or $BENCH_RESULTS */
const resultsPath = process.env["BENCH_RESULTS"] || fileURLToPath(new URL("./results.json", import.meta.url))
const tsx = import.meta.resolve("tsx")

const parseArgs = (argv: ReadonlyArray<string>) => {
  let runs = 5
  let write = false
  let database: string | undefined
  const filters: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === "--runs") runs = Math.max(1, Number(argv[++i] ?? "5") | 0)
    else if (arg === "--write") write = true
    else if (arg === "--database") database = argv[++i]
    else if (arg !== "--") filters.push(arg)
  }
  // a filtered run writes results.json only when asked, so it never replaces a full run's file
  return { runs, filters, write: write || filters.length === 0, database }
}

const UNITS: ReadonlyArray<Unit> = [
  "ns/decision",
  "ns/op",
  "ns/pair",
  "us/pair",
  "us/entry",
  "us/op",
  "ns/leaf",
  "ms/op",
  "entries/s",
  "ops/s",
  "pairs/s",
  "ms",
  "s",
  "MiB",
  "%"
]
const isUnit = (u: string | undefined): u is Unit => UNITS.some((unit) => unit === u)

/**
 * A row's reference figure: the reference file's row of that name (its unit checked against
 * ours), else the workload's stand-in, else none.
 */
const referenceOf = (
  reference: Reference.Reference,
  name: string,
  unit: Unit,
  standIn: number | null
): Either.Either<Pick<Row, "reference" | "referenceFrom">, Reference.ReferenceUnitMismatch> =>
  Either.map(Reference.medianOf(reference, name, unit), (median) =>
    median !== null
      ? { reference: median, referenceFrom: "file" }
      : standIn !== null
      ? { reference: standIn, referenceFrom: "stand-in" }
      : { reference: null, referenceFrom: null })

/** The workload's row, then one row per secondary figure (EXTRA lines), named `<workload>/<extra>`. */
const runChild = (reference: Reference.Reference, workload: Workload, runs: number): Array<Row> => {
  // checked for every selected workload before any runs (main)
  const base = {
    name: workload.name,
    unit: workload.unit,
    ...Either.getOrThrow(referenceOf(reference, workload.name, workload.unit, workload.reference))
  }
  if (workload.skip !== undefined) return [{ ...base, median: null, ratio: null, status: "skipped", samples: [] }]
  if (workload.setup === undefined) {
    return [{ ...base, median: null, ratio: null, status: "not yet implemented", samples: [] }]
  }
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", "--conditions=@calybris/source", "--import", tsx, childPath, workload.name, String(runs)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 }
  )
  const lines = child.stdout.split("\n")
  const fields = lines.find((l) => l.startsWith("RESULT\t"))?.split("\t") ?? []
  const median = Number(fields[2])
  if (child.status !== 0 || !Number.isFinite(median)) {
    return [{ ...base, median: null, ratio: null, status: "failed", samples: [] }]
  }
  const samples = (fields[3] ?? "").split(",").map(Number)
  const rows: Array<Row> = [
    { ...base, median, ratio: ratio(workload.unit, median, base.reference), status: "ok", samples }
  ]
  for (const line of lines) {
    if (!line.startsWith("EXTRA\t")) continue
    const [, name, unit, value, values] = line.split("\t")
    if (!isUnit(unit)) continue
    const extraName = `${workload.name}/${name ?? "?"}`
    const median = Number(value)
    const samples = (values ?? "").split(",").map(Number)
    const extraReference = referenceOf(reference, extraName, unit, null)
    if (Either.isLeft(extraReference)) {
      process.stderr.write(`${extraReference.left.message}\n`)
      rows.push({
        name: extraName,
        unit,
        reference: null,
        referenceFrom: null,
        median,
        ratio: null,
        status: "failed",
        samples
      })
      continue
    }
    const { reference: extraMedian, referenceFrom } = extraReference.right
    rows.push({
      name: extraName,
      unit,
      reference: extraMedian,
      referenceFrom,
      median,
      ratio: ratio(unit, median, extraMedian),
      status: "ok",
      samples
    })
  }
  return rows
}

const fmt = (value: number | null): string =>
  value === null ? "—" : value >= 10_000 ? value.toFixed(0) : value >= 100 ? value.toFixed(1) : value.toFixed(2)

/** Spread of a row's samples around its median, as ± percent (max deviation). */
const spread = (row: Row): string => {
  if (row.median === null || row.samples.length === 0) return ""
  const m = row.median
  const dev = Math.max(...row.samples.map((s) => Math.abs(s - m))) / m
  return `±${(dev * 100).toFixed(1)}%`
}

const table = (rows: ReadonlyArray<Row>): string => {
  const header = ["workload", "unit", "ours (median)", "spread", "reference", "ratio"]
  const body = rows.map((r) => [
    r.name,
    r.unit,
    r.status === "ok" ? fmt(r.median) : r.status,
    spread(r),
    r.referenceFrom === "stand-in" ? `${fmt(r.reference)}*` : fmt(r.reference),
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x${r.referenceFrom === "stand-in" ? "*" : ""}`
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => (cells[c] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c >= 2 ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n")
}

const main = async () => {
  const { database, filters, runs, write } = parseArgs(process.argv.slice(2))
  // before the workloads load: the budget-pg workloads decide at load whether they can run
  if (database !== undefined) process.env["CALYBRIS_BENCH_DATABASE_URL"] = database
  // the reference first: a missing or invalid file, or a unit that differs from ours, stops the
  // bench before any run, naming the file (never a row without its ratio, or a wrong ratio)
  const loaded = Reference.load()
  if (Either.isLeft(loaded)) {
    process.stderr.write(`${loaded.left.message}\n`)
    process.exitCode = 1
    return
  }
  const reference = loaded.right
  const workloads = await loadAll()
  const selected = workloads.filter((w) =>
    filters.length === 0 || filters.some((f) => w.name.includes(f) || w.group === f)
  )
  const mismatches = selected.flatMap((w) => {
    const checked = referenceOf(reference, w.name, w.unit, null)
    return Either.isLeft(checked) ? [checked.left] : []
  })
  if (mismatches.length > 0) {
    for (const mismatch of mismatches) process.stderr.write(`${mismatch.message}\n`)
    process.exitCode = 1
    return
  }
  const rows: Array<Row> = []
  const started = now()
  for (const workload of selected) {
    for (const row of runChild(reference, workload, runs)) {
      rows.push(row)
      if (row.status !== "not yet implemented" && row.status !== "skipped") {
        process.stderr.write(`${row.name}: ${row.status === "ok" ? `${fmt(row.median)} ${row.unit}` : row.status}\n`)
      }
    }
  }
  process.stdout.write(`\n${table(rows)}\n\n`)
  process.stdout.write(
    "ratio: reference time ÷ our time (throughput: ours ÷ reference); above 1 = faster than the Rust reference.\n"
  )
  process.stdout.write(`reference: ${reference.path} (${reference.crate})\n`)
  if (rows.some((r) => r.referenceFrom === "stand-in")) {
    process.stdout.write(
      "*: not in the reference file; the workload's stand-in figure (an issue's target or an older reference " +
        "run on another machine: see its note)\n"
    )
  }
  // each distinct reason to skip once (a family of workloads shares it)
  for (const skip of new Set(selected.flatMap((w) => (w.skip === undefined ? [] : [w.skip])))) {
    process.stdout.write(`skipped: ${skip}\n`)
  }
  // each distinct note once (several workloads of one family share theirs)
  for (const note of new Set(selected.flatMap((w) => (w.note === undefined ? [] : [w.note])))) {
    process.stdout.write(`note: ${note}\n`)
  }
  for (const w of selected) {
    if (w.maxRuns !== undefined && w.maxRuns < runs) {
      process.stdout.write(`runs: ${w.name}: ${w.maxRuns} timed run(s) only (a long workload)\n`)
    }
  }
  process.stdout.write(
    `${runs} timed runs per workload after a warm-up (${clockName} clock), each workload in a fresh ` +
      `node ${process.version} process; ` +
      `${((now() - started) / 1e9).toFixed(0)} s in all.\n`
  )
  if (write) {
    const json = {
      reference: {
        path: reference.path,
        crate: reference.crate,
        commit: reference.commit,
        sha256: crypto.createHash("sha256").update(fs.readFileSync(reference.path)).digest("hex")
      },
      clock: clockName,
      node: process.version,
      rows: rows.map(({ median, name, ratio, reference, referenceFrom, unit }) => ({
        name,
        unit,
        median,
        reference,
        referenceFrom,
        ratio
      }))
    }
    fs.writeFileSync(resultsPath, JSON.stringify(json, null, 2) + "\n")
    process.stdout.write(`wrote ${resultsPath}\n`)
  } else {
    process.stdout.write(`filtered run: ${resultsPath} left as it was (pass --write to replace it)\n`)
  }
  if (rows.some((r) => r.status === "failed")) process.exitCode = 1
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
