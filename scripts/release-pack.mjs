/**
 * `pnpm release:pack [DIR]`: build (`pnpm build`, each package's `dist` checked against its
 * sources: see `build`), then pack the six published packages
 * (`@calybris/core`, `wal`, `tlog`, `budget`, `budget-pg`, `cli`) into DIR (default `dist-pack/` at the repository root;
 * a relative DIR means the folder you called it from), printing each tarball's path on its own line.
 *
 * `pnpm pack` applies each package's `publishConfig` (its `exports` without the workspace-only
 * `@calybris/source` condition) and rewrites `workspace:*` ranges to the packages' versions, so the
 * tarballs install with plain `npm install ./calybris-*.tgz` outside this repository
 * (test/install/install.test.ts does that, and checks what each tarball holds).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { buildOutput } from "./build-output.mjs"

/** The published packages, in dependency order. */
const published = ["core", "wal", "tlog", "budget", "budget-pg", "cli"]

const root = path.resolve(import.meta.dirname, "..")
// a package.json (no wire data, no u64)
// eslint-disable-next-line no-restricted-properties
const manifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))

/** Stop with a message and exit 1 (after the `finally` blocks on the way out have run). */
class Failed extends Error {}
const fail = (message) => {
  throw new Failed(message)
}

/** pnpm as the caller ran it (`pnpm release:pack`), or the pinned one through npx. */
const pnpm = () => {
  const execpath = process.env["npm_execpath"]
  if (execpath !== undefined && /pnpm/.test(path.basename(execpath))) {
    return [process.execPath, [execpath]]
  }
  const [, version] = /^pnpm@(.+)$/.exec(manifest(root).packageManager) ?? []
  return ["npx", ["-y", `pnpm@${version}`]]
}

const run = (cwd, args) => {
  const [command, prefix] = pnpm()
  // pack's file list goes to stderr: stdout stays the tarball paths
  const result = spawnSync(command, [...prefix, ...args], { cwd, stdio: ["ignore", 2, 2] })
  if (result.status !== 0) fail(`pnpm ${args.join(" ")} failed in ${cwd} (exit ${result.status})`)
}

const caller = process.env["INIT_CWD"] ?? process.cwd()
const out = path.resolve(caller, process.argv[2] ?? path.join(root, "dist-pack"))

/**
 * Build, and make each published package's `dist` its sources' (`build-output.mjs`). A package
 * whose modules are not all in `dist` (deleted under a `tsc -b` state that says it is up to date)
 * has that state removed first, so the build writes it whole; after the build, the files left for
 * sources removed since are deleted, and a module still not built fails the pack.
 */
const build = () => {
  for (const name of published) {
    const dir = path.join(root, "packages", name)
    const { missing } = buildOutput(dir)
    if (missing.length > 0) {
      process.stderr.write(
        `release:pack: packages/${name}: ${missing.length} module(s) not in dist (${
          missing[0]
        }, …): building it from scratch\n`
      )
      fs.rmSync(path.join(dir, "build", "tsbuildinfo", "src.tsbuildinfo"), { force: true })
    }
  }
  run(root, ["build"])
  for (const name of published) {
    const dir = path.join(root, "packages", name)
    const { missing, stale } = buildOutput(dir)
    if (missing.length > 0) fail(`packages/${name}: ${missing.join(", ")} not built`)
    for (const file of stale) {
      process.stderr.write(`release:pack: removing packages/${name}/${file}: build output of no source\n`)
      fs.rmSync(path.join(dir, file), { force: true })
    }
  }
}

const pack = () => {
  build()
  fs.mkdirSync(out, { recursive: true })
  for (const name of published) {
    const dir = path.join(root, "packages", name)
    const { name: full, version } = manifest(dir)
    const tarball = path.join(out, `${full.replace(/^@/, "").replace("/", "-")}-${version}.tgz`)
    fs.rmSync(tarball, { force: true })
    // the repository's LICENSE goes into every tarball (npm packs a package folder's LICENSE file)
    const license = path.join(dir, "LICENSE")
    fs.copyFileSync(path.join(root, "LICENSE"), license)
    try {
      run(dir, ["pack", "--pack-destination", out])
    } finally {
      fs.rmSync(license, { force: true })
    }
    if (!fs.existsSync(tarball)) fail(`pnpm pack did not write ${tarball}`)
    process.stdout.write(`${tarball}\n`)
  }
}

try {
  pack()
} catch (error) {
  if (!(error instanceof Failed)) throw error
  process.stderr.write(`release:pack: ${error.message}\n`)
  process.exitCode = 1
}
