/**
 * What a published package's `dist` holds against its `src` (`pnpm release:pack` checks it before
 * packing): the modules the build did not write — `tsc -b` is incremental, and its state lives in
 * `build/tsbuildinfo`, not in `dist`: a `dist` removed by hand stays unbuilt while that state says
 * it is up to date — and the files a build left behind for sources removed since (packed, a
 * leftover public module would be importable through the package's `./*` export). The CLI's
 * esbuild bundle (`dist/bundle`, replaced whole by its own build) is not tsc's and is left out.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** Every file under `dir` (absent: none), as paths relative to it with `/` separators. */
const files = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) =>
        path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)).split(path.sep).join("/")
      )
    : []

/**
 * `missing`: the modules of `src` (`X.ts`, not `.d.ts`) without both `dist/X.js` and
 * `dist/X.d.ts`; `stale`: the files of `dist` (outside `dist/bundle`) of no module of `src`.
 * @param {string} packageDir
 * @returns {{ missing: Array<string>, stale: Array<string> }}
 */
export const buildOutput = (packageDir) => {
  const modules = new Set(
    files(path.join(packageDir, "src"))
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
      .map((file) => file.slice(0, -".ts".length))
  )
  const built = files(path.join(packageDir, "dist")).filter((file) => !file.startsWith("bundle/"))
  const have = new Set(built)
  const missing = [...modules].filter((module) => !have.has(`${module}.js`) || !have.has(`${module}.d.ts`))
    .map((module) => `dist/${module}.js`)
  const stale = built.filter((file) => !modules.has(file.replace(/\.(js|d\.ts)(\.map)?$/, "")))
    .map((file) => `dist/${file}`)
  return { missing: missing.sort(), stale: stale.sort() }
}
