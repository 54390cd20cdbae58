/**
 * The `calybris` command's start-up, as a user runs it: the built bin (the package's `bin`, the
 * esbuild bundle `pnpm build` writes to packages/cli/dist/bundle; rebuilt by the set-up with
 * `pnpm build`'s own bundle step, so it is the current sources) spawned with plain `node`,
 * hyperfine-like: each timed run is `SPAWNS` spawns after the warm-up spawns, its figure their
 * median wall time (spawn to exit), with their min and max as the extras `min` and `max`, and
 * their mean CPU time (user + system, all of the child's threads) as `cpu_mean`.
 * Ours only (the reference has no CLI figures); the issue's targets: `--version` median < 300 ms,
 * `budget status` on a 10,000-entry journal < 1 s.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as Bundle from "../../packages/cli/scripts/bundle.mjs"
import { type Measured, median, now, type Sampler, type Workload } from "../registry.js"
import { buildJournal, key } from "./budget.js"

const root = path.resolve(import.meta.dirname, "..", "..")
const cliPackage = path.join(root, "packages", "cli")

/** Spawns per timed run (after `WARMUP` untimed ones). */
const SPAWNS = 20
const WARMUP = 3

/** The bin as the cli package declares it (`bin.calybris`, which imports the bundle), after `pnpm build`'s bundle step. */
const builtBin = async (): Promise<string> => {
  const entry = await Bundle.build()
  const manifest = createRequire(import.meta.url)(path.join(cliPackage, "package.json")) as {
    readonly bin: { readonly calybris: string }
  }
  const bin = path.resolve(cliPackage, manifest.bin.calybris)
  if (Bundle.binTarget(bin) !== entry) throw new Error(`the package's bin ${bin} does not start the bundle ${entry}`)
  return bin
}

/** How a command is shown: paths relative to the repository root, as one would type it there. */
const shown = (argv: ReadonlyArray<string>): string =>
  ["node", ...argv.map((arg) => (path.isAbsolute(arg) ? path.relative(root, arg) || "." : arg))].join(" ")

/**
 * The CPU time (user + system, ms) of this process's finished children (Linux: /proc/self/stat
 * cutime + cstime, in clock ticks of 10 ms), or undefined elsewhere: summed over a run's spawns it
 * gives their mean CPU time, which a machine shared with other jobs inflates far less than the
 * wall time.
 */
const childrenCpuMs = (): number | undefined => {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "latin1")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[0] is the state (field 3): cutime and cstime are fields 16 and 17
    return (Number(fields[13]) + Number(fields[14])) * 10
  } catch {
    return undefined
  }
}

/**
 * Spawn `node argv…` (cwd `cwd`, no color, no inherited NODE_OPTIONS) and check it exits 0 with
 * the expected output; returns its wall time in ms.
 */
const spawnOnce = (argv: ReadonlyArray<string>, cwd: string, expect: (stdout: string) => boolean): number => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
  delete env["NODE_OPTIONS"]
  const t0 = now()
  const child = spawnSync(process.execPath, argv, { cwd, env, encoding: "utf8", maxBuffer: 1 << 26 })
  const ms = (now() - t0) / 1e6
  if (child.status !== 0 || !expect(child.stdout)) {
    throw new Error(`${shown(argv)} failed (exit ${child.status}): ${child.stderr.slice(0, 2000)}`)
  }
  return ms
}

/** A hyperfine-like sampler of one command line. */
const spawning = (
  argv: ReadonlyArray<string>,
  cwd: string,
  expect: (stdout: string) => boolean,
  teardown?: () => void
): Sampler => {
  process.stderr.write(`  command: ${shown(argv)}\n`)
  return {
    warmup: () => {
      for (let i = 0; i < WARMUP; i++) spawnOnce(argv, cwd, expect)
    },
    sample: (): Measured => {
      const cpu0 = childrenCpuMs()
      const times = Array.from({ length: SPAWNS }, () => spawnOnce(argv, cwd, expect))
      const cpu1 = childrenCpuMs()
      return {
        value: median(times),
        extras: [
          { name: "min", unit: "ms", value: Math.min(...times) },
          { name: "max", unit: "ms", value: Math.max(...times) },
          ...(cpu0 === undefined || cpu1 === undefined
            ? []
            : [{ name: "cpu_mean", unit: "ms" as const, value: (cpu1 - cpu0) / SPAWNS }])
        ]
      }
    },
    ...(teardown === undefined ? {} : { teardown })
  }
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "calybris-bench-cli-"))

const isVersion = (stdout: string) => stdout === "0.1.0\n"

const JOURNAL_ENTRIES = 10_000
/** `buildJournal` with one reserve/commit pair per entry: the first entry holds the 100 ensures and a pair */
const JOURNAL_COMMANDS = 100 + 2 * JOURNAL_ENTRIES

export const cliWorkloads: ReadonlyArray<Workload> = [
  {
    name: "cli/version",
    unit: "ms",
    reference: null,
    group: "cli",
    note:
      `cli/version: node packages/cli/bin/calybris.mjs --version (the built bin, as \`calybris --version\` runs it; cwd a temp folder), ${SPAWNS} spawns per run after ${WARMUP} warm-up spawns: median, min, max wall time (target: median < 300 ms)`,
    setup: async () => {
      const bin = await builtBin()
      const cwd = tempDir()
      return spawning([bin, "--version"], cwd, isVersion, () => fs.rmSync(cwd, { recursive: true, force: true }))
    }
  },
  {
    name: "cli/budget_status/10000_entries",
    unit: "ms",
    reference: null,
    group: "cli",
    maxRuns: 3,
    note:
      `cli/budget_status: node packages/cli/bin/calybris.mjs budget status --journal ledger.jsonl --key-file ledger.key (cwd the journal's temp folder) on a keyed journal of ${JOURNAL_ENTRIES} entries holding ${JOURNAL_COMMANDS} commands (100 ensure_tenant, then reserve/commit pairs over the 100 tenants, a pair per entry: twice the replay of a journal the CLI writes, one command per entry; built once in setup): verify the chain, recover, print 100 balances; ${SPAWNS} spawns per run (target: median < 1 s)`,
    setup: async () => {
      const bin = await builtBin()
      const cwd = tempDir()
      await buildJournal(path.join(cwd, "ledger.jsonl"), JOURNAL_COMMANDS, 1, 0)
      fs.writeFileSync(path.join(cwd, "ledger.key"), key)
      const entries = fs.readFileSync(path.join(cwd, "ledger.jsonl"), "latin1").split("\n").length - 1
      if (entries !== JOURNAL_ENTRIES) throw new Error(`the journal has ${entries} entries`)
      return spawning(
        [bin, "budget", "status", "--journal", "ledger.jsonl", "--key-file", "ledger.key"],
        cwd,
        (stdout) => stdout.startsWith("100 tenants,"),
        () => fs.rmSync(cwd, { recursive: true, force: true })
      )
    }
  },
  {
    name: "cli/version/dev",
    unit: "ms",
    reference: null,
    group: "cli",
    maxRuns: 1,
    note:
      "cli/version/dev: for comparison, `pnpm calybris --version`'s command without pnpm itself (~1 s more): node --conditions=@calybris/source packages/cli/bin/calybris-dev.mjs --version (the sources under tsx), one run of the same spawns",
    setup: () =>
      spawning(
        ["--conditions=@calybris/source", path.join(cliPackage, "bin", "calybris-dev.mjs"), "--version"],
        root,
        isVersion
      )
  }
]
