/**
 * Running the real CLI as a child process (cwd the repository root), collecting its exit code,
 * stdout and stderr.
 *
 * The CLI's source (`packages/cli/src/bin.ts` and everything it imports) runs either
 * - `"bundle"` (default): compiled by esbuild exactly as `pnpm build` compiles the shipped `calybris`
 *   bin (`packages/cli/scripts/bundle.mjs`; once per state of the sources, cached in the temp
 *   folder), then `node calybris.mjs …`. Starting a child this way takes ~0.3 s instead
 *   of several seconds: under `--import tsx` every one of Effect's hundreds of modules goes
 *   through tsx's loader hooks, which dominates start-up (measured: 0.7 s vs 9 s per child on
 *   this 2-core machine under load);
 * - `"tsx"` (`CALYBRIS_E2E_RUNNER=tsx`): `node --import tsx packages/cli/src/bin.ts …`, the source
 *   `pnpm calybris` runs (it only moves to the caller's folder first). `entry.test.ts` always checks this path too.
 */
import * as Source from "@calybris/testing/Source"
import * as TempDir from "@calybris/testing/TempDir"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Bundle from "../../../packages/cli/scripts/bundle.mjs"
import { cachedBundle } from "../../support/bundled.js"

export const root = path.resolve(import.meta.dirname, "..", "..", "..")
const bin = path.join("packages", "cli", "src", "bin.ts")
const maxrss = pathToFileURL(path.join(import.meta.dirname, "maxrss.mjs")).href

export type Runner = "bundle" | "tsx"

/** The runner of this test run. */
export const defaultRunner: Runner = process.env["CALYBRIS_E2E_RUNNER"] === "tsx" ? "tsx" : "bundle"

/**
 * The CLI compiled as it ships (`packages/cli/scripts/bundle.mjs`, the bundling of `pnpm build`:
 * an entry module and the chunks it loads lazily), from the current sources, cached in the temp
 * folder under a key of its sources (`test/support/bundled.ts`). Resolves to the entry.
 */
const bundle = (): Promise<string> =>
  cachedBundle("e2e-bundle", [], async (outdir) => (await Bundle.bundle(outdir)).entry)

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** peak RSS of the child in KiB, when `measure` was asked for */
  readonly maxRssKb: number | undefined
}

export interface RunOptions {
  /** bytes written to the child's stdin (stdin is closed either way) */
  readonly stdin?: string | Uint8Array | undefined
  /** extra environment variables */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** flags for node itself, before the script */
  readonly node?: ReadonlyArray<string> | undefined
  /** send stdout to this file instead of collecting it */
  readonly stdoutFile?: string | undefined
  /** report the child's peak RSS */
  readonly measure?: boolean | undefined
  /** how to run the CLI (default: `defaultRunner`) */
  readonly runner?: Runner | undefined
  /** open this path as the child's stdin (instead of a pipe) */
  readonly stdinFrom?: string | undefined
  /** the child's working directory (default: the repository root) */
  readonly cwd?: string | undefined
  /** leave the child's stdin open (a pipe nobody writes to or closes) instead of closing it */
  readonly keepStdinOpen?: boolean | undefined
  /** kill the child (SIGKILL, so `code` is null) if it has not exited after this many milliseconds */
  readonly timeoutMs?: number | undefined
  /**
   * run the child on a pseudo-terminal (util-linux `script`): its stdout and stderr are then a
   * TTY, and both arrive in `stdout` (with `\r\n` line ends)
   */
  readonly tty?: boolean | undefined
}

const MARK = /\ncalybris-test-maxrss-kb=(\d+)\n$/

/** Node's arguments that start the CLI with this runner: the sources under tsx, or the bundle. */
const entryArgs = async (runner: Runner): Promise<ReadonlyArray<string>> =>
  runner === "tsx" ? [...Source.nodeArgs, bin] : [await bundle()]

/** Run `calybris args…`. */
export const calybris = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Result> => {
  const runner = options.runner ?? defaultRunner
  const entry = await entryArgs(runner)
  const nodeArgs = [...(options.node ?? []), ...(options.measure === true ? ["--import", maxrss] : []), ...entry]
  if (options.tty !== true) return spawnCli(nodeArgs, args, options)
  const command = [process.execPath, ...nodeArgs, ...args].map(shellWord).join(" ")
  return spawnCli([], args, options, ["script", ["-qec", command, "/dev/null"]])
}

/** One POSIX shell word (single quotes; a quote inside written `'\\''`). */
export const shellWord = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`

/** The shell words that run the CLI as `calybris` does with this runner, from the repository root. */
export const shellCommand = async (runner: Runner = defaultRunner): Promise<string> =>
  [process.execPath, ...await entryArgs(runner)].map(shellWord).join(" ")

/** Run a shell command line (`sh -c line`) from the repository root, with the same options as `calybris`. */
export const sh = (line: string, options: RunOptions = {}): Promise<Result> =>
  spawnCli([], [], options, ["sh", ["-c", line]])

const spawnCli = (
  nodeArgs: ReadonlyArray<string>,
  args: ReadonlyArray<string>,
  options: RunOptions,
  program: readonly [string, ReadonlyArray<string>] = [process.execPath, [...nodeArgs, ...args]]
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const out = options.stdoutFile === undefined ? "pipe" : fs.openSync(options.stdoutFile, "w")
    const input = options.stdinFrom === undefined ? "pipe" : fs.openSync(options.stdinFrom, "r")
    const child = spawn(
      program[0],
      program[1],
      {
        cwd: options.cwd ?? root,
        env: { ...process.env, NO_COLOR: "1", ...options.env },
        stdio: [input, out, "pipe"]
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs)
    child.on("error", reject)
    child.on("close", (code) => {
      if (timer !== undefined) clearTimeout(timer)
      if (typeof out === "number") fs.closeSync(out)
      if (typeof input === "number") fs.closeSync(input)
      const mark = MARK.exec(stderr)
      resolve({
        code,
        stdout,
        stderr: mark === null ? stderr : stderr.slice(0, mark.index),
        maxRssKb: mark === null ? undefined : Number(mark[1])
      })
    })
    child.stdin?.on("error", () => undefined)
    if (options.keepStdinOpen === true) child.on("exit", () => child.stdin?.destroy())
    else child.stdin?.end(options.stdin ?? "")
  })

/** Map with at most `limit` calls in flight. */
export const mapLimit = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>) => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await f(items[i] as A)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Remove this folder after the test file (kept with `CALYBRIS_TEST_KEEP=1`; `@calybris/testing/TempDir`). */
export const cleanUp = (dir: string): string => TempDir.register(dir)

/** A fresh temporary folder, removed after the test file. */
export const tempDir = (name: string): string => TempDir.make(`calybris-e2e-${name}-`)

/** Write a text file and return its path. */
export const write = (dir: string, name: string, text: string | Uint8Array): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}
