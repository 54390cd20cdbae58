/**
 * Runs one workload in this (fresh) process: setup, warm-up, then the timed runs. Prints one
 * line `RESULT\t<name>\t<median>\t<sample,sample,...>\t<checksum>` on stdout for `run.ts`.
 *
 * Started by run.ts as `node --expose-gc --import tsx bench/child.ts <name> <runs>`: tsx only
 * transpiles the modules as they load; the timed code runs as ordinary JIT-compiled JS.
 */
import { median, sink, type Workload } from "./registry.js"
import { find } from "./workloads/index.js"

const collect = (globalThis as { gc?: () => void }).gc

const measure = async (workload: Workload, runs: number): Promise<Array<number>> => {
  if (workload.setup === undefined) throw new Error(`${workload.name} is not yet implemented`)
  const sampler = await workload.setup()
  const samples: Array<number> = []
  try {
    await sampler.warmup()
    for (let r = 0; r < runs; r++) {
      collect?.()
      samples.push(await sampler.sample())
    }
  } finally {
    await sampler.teardown?.()
  }
  return samples
}

const main = async () => {
  const name = process.argv[2]
  const runs = Number(process.argv[3] ?? "5")
  const workload = name === undefined ? undefined : await find(name)
  if (workload === undefined) throw new Error(`unknown workload ${String(name)}`)
  const samples = await measure(workload, runs)
  process.stdout.write(`RESULT\t${workload.name}\t${median(samples)}\t${samples.join(",")}\t${sink}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
