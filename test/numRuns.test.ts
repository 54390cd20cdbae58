/**
 * `FC_NUM_RUNS=N pnpm test` runs every property test at N cases (vitest.setup.ts sets fast-check's
 * global `numRuns`): no property test may fix its own count in a way that ignores it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")

const testFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name)
    if (d.isDirectory()) return d.name === "node_modules" ? [] : testFiles(full)
    return d.name.endsWith(".ts") ? [full] : []
  })

describe("FC_NUM_RUNS", () => {
  it("reaches every property test (no hard-coded numRuns)", () => {
    const offenders: Array<string> = []
    const dirs = [
      ...fs.readdirSync(path.join(root, "packages")).map((p) => path.join(root, "packages", p, "test")),
      path.join(root, "test")
    ]
    for (const dir of dirs.filter((d) => fs.existsSync(d))) {
      for (const file of testFiles(dir)) {
        const lines = fs.readFileSync(file, "utf8").split("\n")
        lines.forEach((line, i) => {
          // fc.sample's count is a sample size, not a property run count
          if (
            /numRuns[:](?!\s*(?:fc|FastCheck)\.readConfigureGlobal\(\)\.numRuns \?\?)/.test(line) &&
            !/fc\.sample\(/.test(line)
          ) {
            offenders.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`)
          }
        })
      }
    }
    assert.deepStrictEqual(offenders, [])
  })
})
