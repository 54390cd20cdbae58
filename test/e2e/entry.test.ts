/**
 * The entry point `pnpm calybris` runs (`tsx packages/cli/src/bin.ts`), under tsx itself rather
 * than the test bundle: the same source, started the way users start it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, root } from "./support/cli.js"
import { tempDir, write } from "./support/cli.js"
import { policyText } from "./support/fixtures.js"

describe("entry point", () => {
  it("runs under tsx: help, a command, and a failure's exit code", async () => {
    const dir = tempDir("entry")
    const policy = write(dir, "policy.json", policyText)
    const [help, digest, missing] = await Promise.all([
      calybris(["--help"], { runner: "tsx" }),
      calybris(["policy", "digest", policy], { runner: "tsx" }),
      calybris(["wal", "verify", path.join(dir, "none.jsonl")], { runner: "tsx" })
    ])
    assert.strictEqual(help.code, 0, help.stderr)
    assert.include(help.stdout, "COMMANDS")
    assert.strictEqual(digest.code, 0, digest.stderr)
    assert.match(digest.stdout, /^[0-9a-f]{64}\n$/)
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "none.jsonl: no such file")
    // `pnpm calybris …` runs exactly this entry point
    assert.include(
      fs.readFileSync(path.join(root, "package.json"), "utf8"),
      `"calybris": "tsx packages/cli/src/bin.ts"`
    )
  })
})
