/**
 * The README's library example is packages/budget/examples/gateway.mjs (the README's code block is
 * that file, character for character), a JavaScript program that plain `node` runs against the
 * installed packages (test/install/install.test.ts runs the README's block so). It typechecks
 * (this package's test project checks the examples' JavaScript too: `allowJs`, `checkJs`), and it
 * runs here on the workspace's sources.
 */
import * as Source from "@calybris/testing/Source"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const root = path.resolve(import.meta.dirname, "../../..")
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8")
const example = path.join(root, "packages/budget/examples/gateway.mjs")

const dirs: Array<string> = []
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

/** `node gateway.mjs` in a fresh folder, on the workspace's sources (tsx, the source condition). */
const runExample = (cwd: string) => {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
  const args = Source.nodeArgs.map((arg) => (arg === "tsx" ? tsx : arg))
  return spawnSync(process.execPath, [...args, example], { cwd, encoding: "utf8", timeout: 60_000 })
}

describe("examples", () => {
  it("the README's library example is packages/budget/examples/gateway.mjs", () => {
    const readme = read("README.md")
    const section = readme.slice(readme.indexOf("## The library"))
    const block = /```js\n([\s\S]*?)```/.exec(section)?.[1]
    assert.isDefined(block, "a js code block under \"## The library\"")
    assert.strictEqual(block, fs.readFileSync(example, "utf8"))
  })

  it("the gateway example runs: admit, verify, commit, a conservation proof and an audit of its journal", () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-gateway-"))
    dirs.push(cwd)
    for (const run of [1, 2]) {
      const result = runExample(cwd)
      assert.strictEqual(result.status, 0, result.stderr)
      const lines = result.stdout.trimEnd().split("\n")
      assert.strictEqual(lines.length, 3, result.stdout)
      assert.match(lines[0] ?? "", /^Admitted: \{"request_sequence":1,"action":"ExecuteRequested",/)
      assert.include(lines[1], "\"tenant_count\":1,\"active_reservations\":0,")
      assert.include(lines[1], "\"total_committed_microcents\":1200,", "the admitted hold was committed at 1,200")
      assert.include(lines[1], `"snapshot_version":${run},`, "a second run finds the first run's journal")
      assert.strictEqual(lines[2], "audited: 1 admitted decision(s) replayed bit for bit")
    }
    // it writes its journal into the folder it runs in, nothing else
    assert.deepStrictEqual(fs.readdirSync(cwd), ["ledger.jsonl"])
  })
})
