/**
 * `pnpm bench [filter ...] [--runs N] [--write] [--database URL]`: runs the registered workloads (all, or those
 * whose name contains one of the filters or whose group is one), each in a fresh child `node`
 * process (the workload runs on its one thread), one after the other: warm-up, then the median
 * of N (default 5) runs. Prints a table against the Rust reference (shared/bench/REFERENCE.md) and
 * writes bench/results.json (a filtered run only with --write).
 *
 * Environment: BENCH_SAMPLE_MS (target length of one timed run, default 400) and
 * BENCH_WARMUP_MS (minimum warm-up, default 1000) for the per-operation workloads;
 * BENCH_CLOCK=cpu to time those on the thread's CPU clock instead of the wall clock (on a
 * machine shared with other jobs; the reference figures are wall-clock medians).
 * `--database URL` (CALYBRIS_BENCH_DATABASE_URL) is the PostgreSQL server of the `budget-pg`
 * workloads (each makes a fresh database on it); without it they use CALYBRIS_TEST_DATABASE_URL or
 * start a throwaway cluster each, and are skipped when PostgreSQL is not installed.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { clockName, now, ratio, type Unit, type Workload } from "./registry.js"
import { loadAll } from "./workloads/index.js"

interface Row {
  readonly name: string
  readonly unit: Unit
  readonly median: number | null
  readonly reference: number | null
  readonly ratio: number | null
  readonly status: "ok" | "not yet implemented" | "skipped" | "failed"
  readonly samples: ReadonlyArray<number>
}

const childPath = fileURLToPath(new URL("./child.ts", import.meta.url))
const resultsPath = fileURLToPath(new URL("./results.json", import.meta.url))
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
  "ms/op",
  "entries/s",
  "ops/s",
  "pairs/s",
  "ms",
  "s",
  "MiB"
]
const isUnit = (u: string | undefined): u is Unit => UNITS.some((unit) => unit === u)

/** The workload's row, then one row per secondary figure (EXTRA lines), named `<workload>/<extra>`. */
const runChild = (workload: Workload, runs: number): Array<Row> => {
  const base = { name: workload.name, unit: workload.unit, reference: workload.reference }
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
    { ...base, median, ratio: ratio(workload.unit, median, workload.reference), status: "ok", samples }
  ]
  for (const line of lines) {
    if (!line.startsWith("EXTRA\t")) continue
    const [, name, unit, value, values] = line.split("\t")
    if (!isUnit(unit)) continue
    rows.push({
      name: `${workload.name}/${name ?? "?"}`,
      unit,
      reference: null,
      median: Number(value),
      ratio: null,
      status: "ok",
      samples: (values ?? "").split(",").map(Number)
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
    fmt(r.reference),
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x`
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
  const workloads = await loadAll()
  const selected = workloads.filter((w) =>
    filters.length === 0 || filters.some((f) => w.name.includes(f) || w.group === f)
  )
  const rows: Array<Row> = []
  const started = now()
  for (const workload of selected) {
    for (const row of runChild(workload, runs)) {
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
    const json = rows.map(({ median, name, ratio, reference, unit }) => ({ name, unit, median, reference, ratio }))
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
