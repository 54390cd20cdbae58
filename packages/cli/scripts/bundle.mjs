/**
 * The `calybris` executable as shipped: the CLI (`src/bin.ts` and everything it imports, Effect
 * included) compiled by esbuild into ES modules for Node 20 — an entry `calybris.mjs` and the
 * chunks it imports lazily (each command's handlers load only when that command runs), minified,
 * with source maps. Plain JavaScript, so `node scripts/bundle.mjs` needs no TypeScript loader.
 *
 * One set of options for every user: `pnpm build` (this file run as a script: writes
 * `dist/bundle/`, the package's `bin`) and the e2e tests (`test/e2e/support/cli.ts`: bundles
 * the current sources into the temp folder), so the tests run what ships. Both compile the
 * workspace's TypeScript sources (the `@calybris/source` condition), never a stale `dist`.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const pkg = path.resolve(import.meta.dirname, "..")

/** The CLI's entry source. */
export const entrySource = path.join(pkg, "src", "bin.ts")

/** The entry file's name inside the output folder. */
export const entryName = "calybris.mjs"

/** Where `pnpm build` writes the bundle (the package's `bin` is `<this>/calybris.mjs`). */
export const defaultOutdir = path.join(pkg, "dist", "bundle")

/**
 * `pg` (the PostgreSQL client under `@calybris/budget-pg`) is pure JavaScript; its optional native
 * binding `pg-native` is only `require`d when asked for (`pg.native`, `NODE_PG_FORCE_NATIVE`),
 * inside a `try`, and is not installed here. esbuild would leave that `require` external, so the
 * bundle would depend on a package it does not carry. Instead it resolves to a module that fails
 * as a missing package does (`MODULE_NOT_FOUND`), which `pg.native` already answers with `null`.
 * @type {import("esbuild").Plugin}
 */
export const withoutPgNative = {
  name: "calybris-without-pg-native",
  setup(build) {
    build.onResolve({ filter: /^pg-native$/ }, () => ({ path: "pg-native", namespace: "calybris-absent" }))
    build.onLoad({ filter: /^pg-native$/, namespace: "calybris-absent" }, () => ({
      contents:
        "const e = new Error(\"Cannot find module 'pg-native': the calybris bundle carries pg's pure JavaScript client only\"); e.code = \"MODULE_NOT_FOUND\"; throw e",
      loader: "js"
    }))
  }
}

/**
 * The options every compilation here shares: ES modules for Node 20 from the workspace's
 * TypeScript sources, `pg-native` absent, `require` available to CommonJS dependencies.
 * @type {import("esbuild").BuildOptions}
 */
const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  conditions: ["@calybris/source"],
  metafile: true,
  logLevel: "warning",
  plugins: [withoutPgNative],
  // CommonJS dependencies inside an ES module bundle still need `require`
  banner: {
    js:
      "import { createRequire as __calybrisRequire } from 'node:module'; const require = __calybrisRequire(import.meta.url);"
  }
}

/**
 * Compile the CLI into `outdir` (which should be empty or absent); resolves to the entry file's
 * path and esbuild's metafile (which source went into which output file).
 * @param {string} outdir
 * @returns {Promise<{ entry: string, metafile: import("esbuild").Metafile }>}
 */
export const bundle = async (outdir) => {
  const { metafile } = await esbuild.build({
    ...common,
    entryPoints: { calybris: entrySource },
    outdir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    minify: true
  })
  const entry = path.join(outdir, entryName)
  fs.chmodSync(entry, 0o755)
  return { entry, metafile }
}

/**
 * Compile one program (a TypeScript file the tests run as a child process: `test/support/bundled.ts`)
 * into one file `<outdir>/<its name>.mjs`, with the CLI's options, not minified; resolves to its path.
 * @param {string} source
 * @param {string} outdir
 * @returns {Promise<string>}
 */
export const bundleProgram = async (source, outdir) => {
  const outfile = path.join(outdir, `${path.basename(source).replace(/\.[cm]?ts$/, "")}.mjs`)
  await esbuild.build({ ...common, entryPoints: [source], outfile })
  return outfile
}

/**
 * The file the package's `bin` script imports (its one `import "…"`), resolved: the bin is a
 * committed two-line launcher of the bundle's entry.
 * @param {string} bin
 * @returns {string | undefined}
 */
export const binTarget = (bin) => {
  const imports = [...fs.readFileSync(bin, "utf8").matchAll(/^import "([^"]+)"$/gm)]
  return imports.length === 1 && imports[0] !== undefined
    ? path.resolve(path.dirname(bin), imports[0][1] ?? "")
    : undefined
}

/**
 * `pnpm build`'s bundle step: replace `dist/bundle` (no stale chunks left behind); resolves to
 * the entry file's path (what the package's `bin` imports).
 * @returns {Promise<string>}
 */
export const build = async () => {
  fs.rmSync(defaultOutdir, { recursive: true, force: true })
  const { entry, metafile } = await bundle(defaultOutdir)
  fs.writeFileSync(path.join(defaultOutdir, LICENSES_FILE), thirdPartyLicenses(metafile))
  return entry
}

/** The notices of the third-party code the bundle carries, beside it in the tarball. */
export const LICENSES_FILE = "THIRD_PARTY_LICENSES.md"

const LICENSE_NAMES = /^(licen[cs]e|copying|notice)(\.(md|txt|markdown))?$/i

/**
 * The License section of a README (from its heading to the next heading of that level or
 * higher), or undefined.
 * @param {string} readme
 * @returns {string | undefined}
 */
const licenseSection = (readme) => {
  // (CRLF read as LF; a heading inside a fenced code block is no heading)
  const lines = readme.replace(/\r\n?/g, "\n").split("\n")
  let fenced = false
  const heading = lines.map((line) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    return fenced ? 0 : (/^(#{1,6})\s/.exec(line)?.[1] ?? "").length
  })
  const start = lines.findIndex((line, i) => (heading[i] ?? 0) > 0 && /^#{1,6}\s*licen[cs]e\b/i.test(line))
  if (start < 0) return undefined
  const level = heading[start] ?? 1
  let end = start + 1
  while (end < lines.length && !((heading[end] ?? 0) > 0 && (heading[end] ?? 0) <= level)) end++
  const text = lines.slice(start + 1, end).join("\n").trim()
  // a notice, not a mere name of a license: its copyright line or its permission text
  return /copyright|permission/i.test(text) ? `(from its README)\n\n${text}` : undefined
}

/**
 * Every third-party package whose code went into the bundle (its input files under a
 * `node_modules/<name>` folder: Effect, pg, @noble/…), with its version, its license and the
 * text of its license files: MIT and ISC ask that their notice travel with the code, and the
 * bundle carries the code (a helper's review of the tarballs found no notice).
 * @param {import("esbuild").Metafile} metafile
 * @returns {string}
 */
export const thirdPartyLicenses = (metafile) => {
  /** @type {Map<string, string>} package folder → its name */
  const folders = new Map()
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf("node_modules/")
    if (at < 0) continue
    const rest = input.slice(at + "node_modules/".length).split("/")
    const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]
    if (name === undefined || name === "" || name.startsWith("@calybris/")) continue
    folders.set(path.resolve(input.slice(0, at + "node_modules/".length) + name), name)
  }
  const sections = [...folders].map(([folder, name]) => {
    // a dependency's manifest (its name, version and license: no wire data, no large integer)
    // eslint-disable-next-line no-restricted-properties
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, "package.json"), "utf8"))
    const files = fs.readdirSync(folder).filter((file) => LICENSE_NAMES.test(file)).sort()
    const texts = files.map((file) => fs.readFileSync(path.join(folder, file), "utf8").trim())
    // no license file: the notice in the README's License section (pg-types, pgpass); none at
    // all fails the build, never a bundle shipped without a notice (a review of the first version)
    if (texts.length === 0) {
      const readme = fs.readdirSync(folder).find((file) => /^readme(\.(md|markdown|txt))?$/i.test(file))
      const section = readme === undefined
        ? undefined
        : licenseSection(fs.readFileSync(path.join(folder, readme), "utf8"))
      if (section === undefined) throw new Error(`${name}: bundled, but no license notice found in its package`)
      texts.push(section)
    }
    const license = typeof manifest.license === "string" ? manifest.license : "see the package"
    return {
      key: `${name}@${manifest.version}`,
      text: [
        `## ${name} ${manifest.version} (${license})`,
        "",
        ...texts.map((t) => "```\n" + t + "\n```")
      ].join("\n")
    }
  })
  sections.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return [
    "# Third-party licenses",
    "",
    "The `calybris` bundle (`dist/bundle`) carries code of these packages, under these licenses.",
    "",
    ...sections.map((s) => s.text + "\n")
  ].join("\n")
}

// `node scripts/bundle.mjs`
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const entry = await build()
  process.stdout.write(`bundled ${path.relative(process.cwd(), entry)}\n`)
}
