/**
 * Each published package's `prepack` (`scripts/check-pack.mjs`) refuses a pack that would not
 * install: one not made by pnpm (npm packed `workspace:*` ranges and the sources' export
 * condition), or of a package whose `dist` is not its sources' build (`pnpm pack` in a fresh
 * clone's package folder packed no `dist`) — a hostile review. `pnpm release:pack` (builds, then
 * packs with pnpm) passes it: test/install/install.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const script = path.resolve(import.meta.dirname, "..", "..", "scripts", "check-pack.mjs")
const root = path.resolve(import.meta.dirname, "..", "..")

const fakePackage = (name: string, files: ReadonlyArray<string>): string => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "calybris-check-pack-")), name)
  for (const file of ["package.json", ...files]) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), "")
  }
  return dir
}

const check = (cwd: string, agent: string | undefined) => {
  const env: Record<string, string | undefined> = { ...process.env, npm_config_user_agent: agent }
  if (agent === undefined) delete env["npm_config_user_agent"]
  const r = spawnSync(process.execPath, [script], { cwd, env, encoding: "utf8" })
  return { code: r.status, stderr: r.stderr }
}

const PNPM = "pnpm/10.34.9 npm/? node/v20.20.2 linux x64"

describe("a package's prepack", () => {
  it("passes a built package packed by pnpm", () => {
    const dir = fakePackage("core", ["src/A.ts", "dist/A.js", "dist/A.d.ts"])
    assert.deepStrictEqual(check(dir, PNPM), { code: 0, stderr: "" })
  })

  it("refuses a pack by npm (or by nothing it knows), naming why", () => {
    const dir = fakePackage("core", ["src/A.ts", "dist/A.js", "dist/A.d.ts"])
    for (const agent of ["npm/10.8.2 node/v20.20.2 linux x64 workspaces/false", undefined]) {
      const r = check(dir, agent)
      assert.strictEqual(r.code, 1, r.stderr)
      assert.include(r.stderr, "pack with pnpm (`pnpm release:pack`), which rewrites the workspace:* ranges")
    }
  })

  it("refuses a package not built, or with output of a removed source, and the CLI without its bundle", () => {
    const unbuilt = check(fakePackage("wal", ["src/A.ts", "src/B.ts", "dist/A.js", "dist/A.d.ts"]), PNPM)
    assert.strictEqual(unbuilt.code, 1)
    assert.include(unbuilt.stderr, "not built: 1 module(s) missing from dist (dist/B.js…)")
    const stale = check(fakePackage("wal", ["src/A.ts", "dist/A.js", "dist/A.d.ts", "dist/Gone.js"]), PNPM)
    assert.strictEqual(stale.code, 1)
    assert.include(stale.stderr, "dist holds 1 file(s) of no source (dist/Gone.js)")
    const cli = check(fakePackage("cli", ["src/A.ts", "dist/A.js", "dist/A.d.ts"]), PNPM)
    assert.strictEqual(cli.code, 1)
    assert.include(cli.stderr, "no dist/bundle/calybris.mjs")
  })

  it("is every published package's prepack", () => {
    for (const name of ["core", "wal", "tlog", "budget", "budget-pg", "cli"]) {
      const text = fs.readFileSync(path.join(root, "packages", name, "package.json"), "utf8")
      assert.include(text, `"prepack": "node ../../scripts/check-pack.mjs"`, name)
    }
  })
})
