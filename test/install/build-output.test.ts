/**
 * `pnpm release:pack` packs each package's `dist` only once it is its sources' build
 * (`scripts/build-output.mjs`): a `dist` deleted under an up-to-date `tsc -b` state was packed
 * empty, and build output of a source removed since was packed (a helper's hostile review).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
// @ts-expect-error: a plain JavaScript script, without declarations
import { buildOutput } from "../../scripts/build-output.mjs"

const check = buildOutput as (dir: string) => { missing: Array<string>; stale: Array<string> }

const fakePackage = (files: ReadonlyArray<string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-build-output-"))
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), "")
  }
  return dir
}

describe("release:pack's check of a package's dist against its sources", () => {
  it("a whole build: nothing missing, nothing stale (the CLI's bundle is not tsc's and is left out)", () => {
    const dir = fakePackage([
      "src/A.ts",
      "src/internal/b.ts",
      "src/types.d.ts",
      "dist/A.js",
      "dist/A.js.map",
      "dist/A.d.ts",
      "dist/A.d.ts.map",
      "dist/internal/b.js",
      "dist/internal/b.d.ts",
      "dist/bundle/calybris.mjs",
      "dist/bundle/chunks/chunk-X.mjs"
    ])
    try {
      assert.deepStrictEqual(check(dir), { missing: [], stale: [] })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a dist deleted, or a module without its declarations: missing; output of a removed source: stale", () => {
    const deleted = fakePackage(["src/A.ts", "src/internal/b.ts"])
    const partial = fakePackage([
      "src/A.ts",
      "src/internal/b.ts",
      "dist/A.js",
      "dist/internal/b.d.ts",
      "dist/internal/gone.js",
      "dist/internal/gone.js.map",
      "dist/internal/gone.d.ts",
      "dist/Old.d.ts.map"
    ])
    try {
      assert.deepStrictEqual(check(deleted), { missing: ["dist/A.js", "dist/internal/b.js"], stale: [] })
      assert.deepStrictEqual(check(partial), {
        missing: ["dist/A.js", "dist/internal/b.js"],
        stale: ["dist/Old.d.ts.map", "dist/internal/gone.d.ts", "dist/internal/gone.js", "dist/internal/gone.js.map"]
      })
    } finally {
      fs.rmSync(deleted, { recursive: true, force: true })
      fs.rmSync(partial, { recursive: true, force: true })
    }
  })
})
