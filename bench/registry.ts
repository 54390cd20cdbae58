/**
 * The benchmark registry: every workload of shared/bench/REFERENCE.md, with its unit, and (once
 * implemented) how to set it up and take one sample. The Rust reference's medians come from the
 * reference file of this machine kind (reference.ts), by workload name.
 *
 * Adding a workload: write a `Workload` with a `setup` that builds the untimed state and
 * returns a `Sampler`, and list it in `workloads/index.ts`. For a per-operation figure use
 * `perOp` (it calibrates the batch size, warms up, and times batches); for a workload that is
 * one long run (a WAL of 100,000 appends, say) write `warmup` and `sample` yourself, using
 * `now()` for the clock. Each workload runs alone in a fresh child process (see `run.ts`), so
 * one workload's JIT feedback never pollutes another's.
 */

import * as fs from "node:fs"

/**
 * The units of REFERENCE.md, and ours: `ms` (a latency percentile), `s` (a whole run, e.g. a
 * recovery), `MiB` (peak memory), `%` (one figure as a share of another, measured in the same
 * run: no reference, no ratio). Throughputs (`entries/s`, `ops/s`): higher is better; everything
 * else but `%`: lower is better.
 */
export type Unit =
  | "ns/decision"
  | "ns/op"
  | "ns/pair"
  | "us/pair"
  | "us/entry"
  | "us/op"
  | "ns/leaf"
  | "ms/op"
  | "entries/s"
  | "ops/s"
  | "pairs/s"
  | "ms"
  | "s"
  | "MiB"
  | "%"

type Throughput = "entries/s" | "ops/s" | "pairs/s"

/** How one sample's raw measurement (elapsed nanoseconds over some operations) maps to the unit. */
const NS_PER: Record<Exclude<Unit, Throughput | "MiB" | "%">, number> = {
  "ns/decision": 1,
  "ns/op": 1,
  "ns/pair": 1,
  "us/pair": 1e3,
  "us/entry": 1e3,
  "us/op": 1e3,
  "ns/leaf": 1,
  "ms/op": 1e6,
  "ms": 1e6,
  "s": 1e9
}

export const isThroughput = (unit: Unit): unit is Throughput =>
  unit === "entries/s" || unit === "ops/s" || unit === "pairs/s"

/** The measured value of `ops` operations that took `elapsedNs`, in `unit` (not for `MiB`). */
export const toUnit = (unit: Exclude<Unit, "MiB" | "%">, elapsedNs: number, ops: number): number =>
  isThroughput(unit) ? ops / (elapsedNs / 1e9) : elapsedNs / ops / NS_PER[unit]

/**
 * Speed relative to the reference, above 1 = faster than Rust: reference time ÷ our time, or
 * our throughput ÷ the reference throughput.
 */
export const ratio = (unit: Unit, ours: number, reference: number | null): number | null =>
  reference === null || !(ours > 0) || unit === "%" ? null : isThroughput(unit) ? ours / reference : reference / ours

/**
 * A secondary figure of one timed run (a latency percentile, peak memory, ...): reported as a
 * row of its own, named `<workload>/<name>`, with the median over the runs.
 */
export interface Extra {
  readonly name: string
  readonly unit: Unit
  readonly value: number
}

/** One timed run's result: the workload's figure in its unit, and any secondary figures. */
export interface Measured {
  readonly value: number
  readonly extras: ReadonlyArray<Extra>
}

/** One workload's timed state. */
export interface Sampler {
  /** Untimed warm-up: bring the code to its optimised steady state (and calibrate, if needed). */
  readonly warmup: () => void | Promise<void>
  /** One timed run; returns the measured value in the workload's unit (and maybe extras). */
  readonly sample: () => number | Measured | Promise<number | Measured>
  /** Release whatever setup acquired (temp files, ...). */
  readonly teardown?: () => void | Promise<void>
}

export interface Workload {
  /** The reference's workload name, exactly as in REFERENCE.md. */
  readonly name: string
  readonly unit: Unit
  /**
   * A stand-in for the reference's median, for a row the reference file (../reference.ts) does not
   * have: an issue's target or a figure of the older REFERENCE.md (another machine), printed
   * marked `*`; null: none. The reference file's row of the same name always takes precedence.
   */
  readonly reference: number | null
  /** Which package the workload exercises ("core", "wal", "budget", ...). */
  readonly group: string
  /** Builds the untimed state. Absent: not yet implemented (reported, never measured). */
  readonly setup?: () => Sampler | Promise<Sampler>
  /** Why this workload cannot run here (e.g. no PostgreSQL): reported as skipped, never measured. */
  readonly skip?: string
  /** A remark printed under the table (what exactly is measured, where it differs from Rust). */
  readonly note?: string
  /**
   * At most this many timed runs (for long workloads, e.g. a million-command recovery, where
   * five runs would not fit the bench's time budget). The report says how many were taken.
   */
  readonly maxRuns?: number
}

/** A monotonic wall clock in nanoseconds (as a number: exact for ~104 days of uptime). */
export const now = (): number => Number(process.hrtime.bigint())

/**
 * On-CPU time of the calling thread in nanoseconds (Linux: /proc/thread-self/schedstat), or
 * undefined where unavailable. Immune to time spent descheduled on a shared machine, but
 * blind to I/O waits and to work on other threads: only for CPU-bound, single-threaded work.
 * The kernel updates it at scheduler ticks (a few ms), so it is only meaningful over timed
 * runs of hundreds of ms (the default sample is 400 ms: under ~1% error).
 */
const threadCpu = (): number | undefined => {
  try {
    return Number(fs.readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0])
  } catch {
    return undefined
  }
}

/**
 * The clock of `perOp`: the wall clock (the reference's), or with BENCH_CLOCK=cpu the calling
 * thread's CPU time where the OS reports it (for a machine shared with other jobs).
 */
export const clockName: "wall" | "cpu" = process.env["BENCH_CLOCK"] === "cpu" && threadCpu() !== undefined
  ? "cpu"
  : "wall"
const clock = (): number => (clockName === "cpu" ? (threadCpu() ?? now()) : now())

/**
 * Results of benchmarked calls are folded into this sink so that no call is dead code. It is
 * printed by the child (as a checksum) after the runs.
 */
export let sink = 0
export const consume = (value: number): void => {
  sink = (sink + value) | 0
}

export interface PerOpOptions {
  /** Target duration of one timed sample, ms (default: BENCH_SAMPLE_MS or 400). */
  readonly sampleMs?: number
  /** Minimum warm-up duration, ms (default: BENCH_WARMUP_MS or 1000). */
  readonly warmupMs?: number
}

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const value = raw === undefined ? NaN : Number(raw)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

/**
 * A sampler for per-operation figures. `batch(n)` performs n operations (building whatever
 * the reference builds inside its timed loop) and returns a checksum that depends on every
 * result. Warm-up runs batches of growing size for at least `warmupMs`, and sizes the timed
 * batch so that one sample takes about `sampleMs`.
 */
export const perOp = (
  unit: Exclude<Unit, "MiB" | "%">,
  batch: (n: number) => number,
  options: PerOpOptions = {}
): Sampler => {
  const sampleMs = options.sampleMs ?? envNumber("BENCH_SAMPLE_MS", 400)
  const warmupMs = options.warmupMs ?? envNumber("BENCH_WARMUP_MS", 1000)
  let n = 1
  return {
    warmup: () => {
      const start = now()
      let perOpNs = 0
      for (;;) {
        const t0 = now()
        consume(batch(n))
        const elapsed = now() - t0
        perOpNs = elapsed / n
        if (now() - start >= warmupMs * 1e6 && elapsed >= 20e6) break
        if (elapsed < 50e6) n *= 2
      }
      n = Math.max(1, Math.round((sampleMs * 1e6) / perOpNs))
    },
    sample: () => {
      const t0 = clock()
      consume(batch(n))
      return toUnit(unit, clock() - t0, n)
    }
  }
}

/** The median of a non-empty list of numbers. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const hi = sorted[mid] ?? NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? NaN) + hi) / 2
}

/** The q-quantile (0..1) of ascending-sorted values (nearest rank). */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN

/**
 * A throughput run with per-operation acknowledgement latencies (ns): `count` operations in
 * `elapsedNs`, in ops per second, with the latencies' p50 and p99 (ms) as the extras
 * `ack_p50` / `ack_p99`.
 */
export const throughputWithLatency = (count: number, elapsedNs: number, latencies: Float64Array): Measured => {
  const sorted = Array.from(latencies).sort((a, b) => a - b)
  return {
    value: count / (elapsedNs / 1e9),
    extras: [
      { name: "ack_p50", unit: "ms", value: quantile(sorted, 0.5) / 1e6 },
      { name: "ack_p99", unit: "ms", value: quantile(sorted, 0.99) / 1e6 }
    ]
  }
}

/** Deletes a file log and its lock file, if present (each run of a log workload starts from nothing). */
export const removeLog = (file: string): void => {
  for (const f of [file, `${file}.lock`]) if (fs.existsSync(f)) fs.unlinkSync(f)
}
