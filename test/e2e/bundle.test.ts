/**
 * The shipped `calybris` bin: the package's `bin` is the esbuild bundle `pnpm build` writes
 * (`packages/cli/scripts/bundle.mjs`, the same function the other e2e tests run the CLI through),
 * and that bundle is plain JavaScript that runs on its own: copied to a folder outside the
 * workspace (no node_modules anywhere above it), started with plain `node` — no tsx, no
 * TypeScript, no NODE_OPTIONS — it answers `--version` and `policy digest` as the library does.
 * Its start-up loads only the command line's surface: each command's handler (and with it the
 * kernel, the WAL and the ledger) is a chunk loaded when that command runs.
 */
import * as Digest from "@calybris/core/Digest"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { builtinModules, createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as Bundle from "../../packages/cli/scripts/bundle.mjs"
import { root, tempDir, write } from "./support/cli.js"
import { policyText } from "./support/fixtures.js"

const cliPackage = path.join(root, "packages", "cli")

/** The bundle's output files (relative to its folder) its entry loads at start-up: static imports, transitively. */
const startupFiles = (metafile: Awaited<ReturnType<typeof Bundle.bundle>>["metafile"], entry: string) => {
  const seen = new Set<string>()
  const stack = [entry]
  for (let file = stack.pop(); file !== undefined; file = stack.pop()) {
    if (seen.has(file)) continue
    seen.add(file)
    for (const i of metafile.outputs[file]?.imports ?? []) {
      if (i.kind === "import-statement" && i.external !== true) stack.push(i.path)
    }
  }
  return seen
}

describe("the shipped bin", () => {
  it("is the bundle pnpm build writes, and runs with plain node outside the workspace", async () => {
    const manifest = createRequire(import.meta.url)(path.join(cliPackage, "package.json")) as {
      readonly bin: Readonly<Record<string, string>>
      readonly files: ReadonlyArray<string>
      readonly scripts: Readonly<Record<string, string>>
    }
    const rootManifest = createRequire(import.meta.url)(path.join(root, "package.json")) as {
      readonly scripts: Readonly<Record<string, string>>
    }
    // the bin (committed, so installing the workspace can link it before any build) imports the
    // bundle's entry and nothing else; packed with the package, built by `pnpm build` (root and package)
    const bin = path.resolve(cliPackage, manifest.bin["calybris"] ?? "")
    assert.strictEqual(Bundle.binTarget(bin), path.join(Bundle.defaultOutdir, Bundle.entryName))
    assert.isTrue(manifest.files.includes(path.relative(cliPackage, bin)))
    assert.isTrue(manifest.files.some((f) => path.join(Bundle.defaultOutdir).startsWith(path.join(cliPackage, f))))
    assert.match(rootManifest.scripts["build"] ?? "", /^tsc -b && node packages\/cli\/scripts\/bundle\.mjs$/)
    assert.match(manifest.scripts["build"] ?? "", /&& node scripts\/bundle\.mjs$/)

    // built as pnpm build builds it, then moved where no workspace module can be found
    const built = path.join(tempDir("bundle"), "out")
    const { entry, metafile } = await Bundle.bundle(built)
    const away = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-bin-"))
    try {
      fs.cpSync(built, away, { recursive: true })
      const files = fs.readdirSync(away, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".mjs"))
      assert.include(files, Bundle.entryName)
      for (const file of files) {
        const code = fs.readFileSync(path.join(away, file), "utf8")
        assert.notMatch(code, /tsx\/esm|esbuild-kit|ts-node/, `${file} mentions a TypeScript loader`)
      }
      // self-contained: every output file imports nothing but Node's own modules and its chunks
      for (const [file, output] of Object.entries(metafile.outputs)) {
        for (const i of output.imports) {
          if (i.external === true) {
            assert.include(builtinModules, i.path.replace(/^node:/, ""), `${file} imports ${i.path}`)
          } else assert.property(metafile.outputs, i.path, `${file} imports ${i.path}`)
        }
      }
      // a map per output file, its sources embedded
      assert.isTrue(fs.existsSync(path.join(away, `${Bundle.entryName}.map`)))

      const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "", NO_COLOR: "1" }
      const run = (...args: Array<string>) =>
        spawnSync(process.execPath, [path.join(away, Bundle.entryName), ...args], { cwd: away, env, encoding: "utf8" })
      const version = run("--version")
      assert.strictEqual(version.status, 0, version.stderr)
      assert.strictEqual(version.stdout, "0.1.0\n")
      write(away, "policy.json", policyText)
      const digest = run("policy", "digest", "policy.json")
      assert.strictEqual(digest.status, 0, digest.stderr)
      const snapshot = Either.getOrThrow(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText))
      assert.strictEqual(digest.stdout, `${Digest.policyDigest(snapshot)}\n`)
      // executable, as npm links it
      assert.isTrue((fs.statSync(path.join(away, Bundle.entryName)).mode & 0o111) !== 0)
    } finally {
      fs.rmSync(away, { recursive: true, force: true })
    }

    // start-up loads the command line's surface only: no handler module, no WAL, ledger or kernel
    // the PostgreSQL client is in the bundle (a chunk of its own), pg-native is not (a missing module)
    const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs))
    assert.isTrue(inputs.some((input) => /node_modules\/pg\/lib\/client\.js$/.test(input)), "pg is bundled")
    assert.isTrue(inputs.some((input) => /packages\/budget-pg\/src\//.test(input)), "budget-pg is bundled")
    const startup = startupFiles(metafile, path.relative(process.cwd(), entry))
    assert.isAbove(startup.size, 0)
    const loaded = Array.from(startup).flatMap((file) => Object.keys(metafile.outputs[file]?.inputs ?? {}))
    assert.include(loaded.join("\n"), "packages/cli/src/Commands.ts")
    for (
      const heavy of [
        /packages\/(wal|budget|budget-pg)\//,
        // the PostgreSQL client: loaded by a command given a database only
        /node_modules\/(pg|pg-[\w-]+|pgpass|@effect\/sql|@effect\/sql-pg)\//,
        /packages\/core\/src\/(Kernel|Policy|Input|Decision|Digest)\.ts/,
        /packages\/cli\/src\/(Prescribe|Explain|PolicyCommand|WalCommand|BudgetCommand|JournalCommand|Database|DatabaseUrl|Demo|Flags)\.ts/
      ]
    ) {
      assert.deepStrictEqual(loaded.filter((input) => heavy.test(input)), [], `loaded at start-up: ${heavy}`)
    }
  })
})
