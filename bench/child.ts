/**
 * Runs one workload in this (fresh) process: setup, warm-up, then the timed runs. Prints one
 * line `RESULT\t<name>\t<median>\t<sample,sample,...>\t<checksum>` on stdout for `run.ts`, then
 * one line `EXTRA\t<name>\t<unit>\t<median>\t<sample,...>` per secondary figure.
 *
 * Started by run.ts as `node --expose-gc --import tsx bench/child.ts <name> <runs>`: tsx only
 * transpiles the modules as they load; the timed code runs as ordinary JIT-compiled JS.
 */
import { type Extra, median, sink, type Unit, type Workload } from "./registry.js"
import { find } from "./workloads/index.js"

const collect = (globalThis as { gc?: () => void }).gc

interface Runs {
  readonly samples: Array<number>
  /** per extra name: its unit and one value per run */
  readonly extras: Map<string, { readonly unit: Unit; readonly values: Array<number> }>
}

const record = (runs: Runs, extras: ReadonlyArray<Extra>) => {
  for (const extra of extras) {
    const entry = runs.extras.get(extra.name) ?? { unit: extra.unit, values: [] }
    entry.values.push(extra.value)
    runs.extras.set(extra.name, entry)
  }
}

const measure = async (workload: Workload, runs: number): Promise<Runs> => {
  if (workload.setup === undefined) throw new Error(`${workload.name} is not yet implemented`)
  const sampler = await workload.setup()
  const result: Runs = { samples: [], extras: new Map() }
  try {
    await sampler.warmup()
    for (let r = 0; r < runs; r++) {
      collect?.()
      const measured = await sampler.sample()
      if (typeof measured === "number") result.samples.push(measured)
      else {
        result.samples.push(measured.value)
        record(result, measured.extras)
      }
    }
  } finally {
    await sampler.teardown?.()
  }
  return result
}

const main = async () => {
  const name = process.argv[2]
  const runs = Number(process.argv[3] ?? "5")
  const workload = name === undefined ? undefined : await find(name)
  if (workload === undefined) throw new Error(`unknown workload ${String(name)}`)
  const { extras, samples } = await measure(workload, Math.min(runs, workload.maxRuns ?? runs))
  process.stdout.write(`RESULT\t${workload.name}\t${median(samples)}\t${samples.join(",")}\t${sink}\n`)
  for (const [name, { unit, values }] of extras) {
    process.stdout.write(`EXTRA\t${name}\t${unit}\t${median(values)}\t${values.join(",")}\n`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
