/**
 * Commands a user can paste as printed (the demo's "next" steps): the words that start this
 * CLI the way the user started it, and POSIX shell quoting for every argument.
 *
 * How it was started is told by its entry, not guessed by the commands: `bin.ts` gathers the
 * `Facts` (the repository's `pnpm calybris` launcher sets `CALYBRIS_LAUNCHER=pnpm`), `invocation`
 * turns them into the words, and the `Invocation` reference carries them (default `calybris`,
 * the installed bin).
 */
import * as Context from "effect/Context"

/** What the entry knows about how it was started. */
export interface Facts {
  /** `CALYBRIS_LAUNCHER`: `pnpm` when the repository's `pnpm calybris` script started it (`bin/calybris-dev.mjs`) */
  readonly launcher?: string | undefined
  /** `CALYBRIS_LAUNCHER_ROOT`: the repository's root, set by that launcher (absolute) */
  readonly root?: string | undefined
  /** the script Node runs (`process.argv[1]`: absolute, symbolic links not resolved) */
  readonly script?: string | undefined
  /** the working directory */
  readonly cwd?: string | undefined
  /** `npm_execpath`: the package manager that runs the script, when one does */
  readonly packageManager?: string | undefined
  /** `npm_config_user_agent` (`pnpm/10.34.9 npm/? node/v20.20.2 linux x64`) */
  readonly userAgent?: string | undefined
}

const segments = (path: string): ReadonlyArray<string> => path.split(/[\\/]+/).filter((s) => s !== "")

/** Is `dir` the folder `base` or inside it (both absolute)? */
const within = (dir: string, base: ReadonlyArray<string>): boolean => {
  const parts = segments(dir)
  return parts.length >= base.length && base.every((s, i) => parts[i] === s)
}

const PNPM_VERSION = /^pnpm\/([0-9A-Za-z.+-]+)(?:\s|$)/

/**
 * The words that start the CLI, as the user would type them:
 * - `pnpm --dir ROOT calybris`: the repository's script (`npx -y pnpm@VERSION --dir ROOT calybris`
 *   when pnpm itself ran through npx, as the README's quickstart runs it), anchored at the
 *   repository's root: pnpm finds the script from any folder then (without it, from a package's
 *   folder pnpm looked for the script in that package, and outside the repository in no project:
 *   a hostile review);
 * - `npx calybris`: the bin of a package installed in a project that holds the working directory
 *   (`node_modules/.bin/calybris`, or pnpm's shim to `node_modules/@calybris/cli/dist/bin.js`);
 *   `'/…/node_modules/.bin/calybris'`, that bin by its path, from outside the project;
 * - `node '/…/dist/bin.js'`: a compiled script started by path, outside any `node_modules`;
 * - `calybris`: otherwise (a global install, the bin on the `PATH`).
 */
export const invocation = (facts: Facts): string => {
  if (facts.launcher === "pnpm") {
    const version = PNPM_VERSION.exec(facts.userAgent ?? "")?.[1]
    const throughNpx = segments(facts.packageManager ?? "").includes("_npx")
    const pnpm = throughNpx && version !== undefined ? `npx -y pnpm@${version}` : "pnpm"
    return facts.root === undefined || facts.root === ""
      ? `${pnpm} calybris`
      : `${pnpm} --dir ${quote(facts.root)} calybris`
  }
  const script = segments(facts.script ?? "")
  const modules = script.indexOf("node_modules")
  if (modules >= 0) {
    // `npx calybris` finds the project's bin from inside the project only (elsewhere it would
    // fetch the registry's unrelated `calybris` package): from outside, the bin by its path
    if (facts.cwd !== undefined && within(facts.cwd, script.slice(0, modules))) return "npx calybris"
    return script[modules + 1] === ".bin" && facts.script !== undefined ? quote(facts.script) : "calybris"
  }
  const name = script[script.length - 1] ?? ""
  return /\.[cm]?js$/.test(name) && facts.script !== undefined ? `node ${quote(facts.script)}` : "calybris"
}

/** The words that start the CLI (`invocation`), `calybris` unless the entry says otherwise. */
export class Invocation extends Context.Reference<Invocation>()("@calybris/cli/Invocation", {
  defaultValue: (): string => "calybris"
}) {}

/** What a word may hold and stay bare in any position of a POSIX shell command (no `~`, `=`, `#`, glob or space). */
const BARE = /^[A-Za-z0-9_@%+:,./-]+$/

/**
 * `text` as one POSIX shell word (sh, dash, bash, zsh): bare when it holds only safe characters,
 * otherwise in single quotes, inside which nothing is special, with each `'` written `'\''`.
 * Control characters are kept as they are (a newline stays inside the quotes).
 */
export const quote = (text: string): string => BARE.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`

/** A command line: the invocation, then each argument quoted. */
export const commandLine = (invocation: string, args: ReadonlyArray<string>): string =>
  [invocation, ...args.map(quote)].join(" ")
