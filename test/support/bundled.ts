/**
 * Programs the tests start as child processes, compiled by esbuild from the workspace's current
 * sources (`packages/cli/scripts/bundle.mjs`: the options `pnpm build` compiles the shipped
 * `calybris` bin with) and run with plain `node`. A child started under `--import tsx` instead
 * takes ~1.6 s on these 2-core machines before its first line (every one of Effect's hundreds of
 * modules goes through tsx's loader hooks); a bundle, ~0.3 s.
 *
 * Each build is cached in the temp folder under a key of its sources (every `.ts` file under
 * `packages/*\/src` and under the folders named, with its size and mtime, the lockfile and
 * bundle.mjs), so test files share one build per state of the sources; it is written to a private
 * folder, then renamed into place atomically. The bundles of older sources are removed first, once
 * unused for an hour: a test process started before the sources changed (another vitest run, or a
 * second worker) still runs the bundle it found.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "..", "..")

/** Every `.ts` file under `dirs` (recursively), with its size and mtime. */
const sourceFiles = (dirs: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules") walk(full)
      } else if (entry.name.endsWith(".ts")) {
        const info = fs.statSync(full)
        out.push(`${full}:${info.size}:${info.mtimeMs}`)
      }
    }
  }
  for (const dir of dirs) walk(dir)
  return out
}

/** The key of the workspace's sources and of `dirs` (absolute): what a bundle is built from. */
const sourcesKey = (dirs: ReadonlyArray<string>): string => {
  const packages = fs.readdirSync(path.join(root, "packages"))
    .map((pkg) => path.join(root, "packages", pkg, "src"))
    .filter((src) => fs.existsSync(src))
  const files = sourceFiles([...packages, ...dirs])
  files.push(`${fs.statSync(path.join(root, "pnpm-lock.yaml")).mtimeMs}`)
  // the bundling's own options
  files.push(`${fs.statSync(path.join(root, "packages", "cli", "scripts", "bundle.mjs")).mtimeMs}`)
  return createHash("sha256").update(files.sort().join("\n")).digest("hex").slice(0, 16)
}

const builds = new Map<string, Promise<string>>()

/** A bundle of older sources is removed once nothing has built or taken it for this long. */
export const STALE_MS = 60 * 60 * 1000

/** When a bundle was last built or taken (its marker's mtime), in ms; 0 when it has none. */
const lastUsed = (dir: string): number => {
  try {
    return fs.statSync(path.join(dir, ".entry")).mtimeMs
  } catch {
    try {
      return fs.statSync(dir).mtimeMs
    } catch {
      return 0
    }
  }
}

/**
 * The entry of a bundle named `name` (`calybris-cache-<name>-<key>` in the temp folder), built by
 * `build(outdir)` (which resolves to the entry's path inside `outdir`) when this state of the
 * sources has none yet; `dirs`: the folders of test code it is built from, besides the packages'
 * sources. Once per process per name.
 */
export const cachedBundle = (
  name: string,
  dirs: ReadonlyArray<string>,
  build: (outdir: string) => Promise<string>
): Promise<string> => {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`a bundle's name is lowercase letters, digits and -: ${name}`)
  let built = builds.get(name)
  if (built === undefined) {
    built = (async () => {
      const cached = path.join(os.tmpdir(), `calybris-cache-${name}-${sourcesKey(dirs)}`)
      // this name's builds, and nothing else (no other name's, no test's temp folder)
      const own = new RegExp(`^calybris-cache-${name}-[0-9a-f]{16}$`)
      const marker = path.join(cached, ".entry")
      if (fs.existsSync(marker)) {
        // taken: not stale while in use
        const now = new Date()
        fs.utimesSync(marker, now, now)
        return path.join(cached, fs.readFileSync(marker, "utf8"))
      }
      const building = fs.mkdtempSync(path.join(os.tmpdir(), `calybris-building-${name}-`))
      try {
        const entry = await build(path.join(building, "out"))
        fs.writeFileSync(path.join(building, "out", ".entry"), path.relative(path.join(building, "out"), entry))
        for (const old of fs.readdirSync(os.tmpdir())) {
          const dir = path.join(os.tmpdir(), old)
          if (own.test(old) && old !== path.basename(cached) && Date.now() - lastUsed(dir) > STALE_MS) {
            fs.rmSync(dir, { recursive: true, force: true })
          }
        }
        try {
          fs.renameSync(path.join(building, "out"), cached)
        } catch (error) {
          // another test file published the same build first
          if (!fs.existsSync(marker)) throw error
        }
      } finally {
        fs.rmSync(building, { recursive: true, force: true })
      }
      return path.join(cached, fs.readFileSync(marker, "utf8"))
    })()
    builds.set(name, built)
  }
  return built
}
