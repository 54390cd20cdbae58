/**
 * Each published package's `prepack` (run by `pnpm pack` and `pnpm publish`, and by npm's): refuses,
 * exit 1, to pack a package
 * - packed by anything but pnpm: only pnpm rewrites the `workspace:*` ranges to versions and
 *   applies `publishConfig.exports` (without the workspace-only `@calybris/source` condition);
 *   `npm pack` in a package's folder made a tarball that named `"workspace:*"` and the sources'
 *   condition, which no project could install (a hostile review);
 * - whose `dist` is not its sources' build (`build-output.mjs`: a module not built, or a file of a
 *   source removed since), nor, for the CLI, without its bundle (the bin imports it): `pnpm pack`
 *   in a fresh clone's package folder made a tarball with no `dist` at all (a hostile review).
 * `pnpm release:pack` builds first, then packs: it passes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { buildOutput } from "./build-output.mjs"

const dir = process.cwd()
const name = path.basename(dir)
const agent = process.env["npm_config_user_agent"] ?? ""
const problems = []
if (!agent.startsWith("pnpm/")) {
  problems.push(
    `packed by ${agent.split(" ")[0] || "an unknown tool"}: pack with pnpm (\`pnpm release:pack\`), which rewrites ` +
      "the workspace:* ranges and applies publishConfig"
  )
}
const { missing, stale } = buildOutput(dir)
if (missing.length > 0) {
  problems.push(
    `not built: ${missing.length} module(s) missing from dist (${
      missing.slice(0, 3).join(", ")
    }…): run \`pnpm release:pack\``
  )
}
if (stale.length > 0) {
  problems.push(
    `dist holds ${stale.length} file(s) of no source (${stale.slice(0, 3).join(", ")}): run \`pnpm release:pack\``
  )
}
if (name === "cli" && !fs.existsSync(path.join(dir, "dist", "bundle", "calybris.mjs"))) {
  problems.push("no dist/bundle/calybris.mjs, which the bin imports: run `pnpm release:pack`")
}
if (problems.length > 0) {
  process.stderr.write(`refusing to pack ${dir}:\n${problems.map((p) => `  - ${p}\n`).join("")}`)
  process.exitCode = 1
}
