/**
 * The entry point `pnpm calybris` runs (`packages/cli/src/bin.ts` under tsx, from the caller's folder), under tsx itself rather
 * than the test bundle: the same source, started the way users start it.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
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
    // `pnpm calybris …` runs this entry point (through a launcher that only moves to the caller's folder),
    // with the workspace's packages resolved to their sources
    assert.include(
      fs.readFileSync(path.join(root, "package.json"), "utf8"),
      `"calybris": "node --conditions=@calybris/source packages/cli/bin/calybris-dev.mjs"`
    )
    assert.include(fs.readFileSync(path.join(root, "packages/cli/bin/calybris-dev.mjs"), "utf8"), `"../src/bin.ts"`)
  })

  it("`pnpm calybris` resolves relative paths against the caller's folder, not the repository root", async () => {
    const caller = tempDir("caller")
    write(caller, "ledger.key", "hex:000102030405060708090a0b0c0d0e0f")
    // what pnpm runs: the root package.json's script, from the repository root, with INIT_CWD the caller's folder
    const script = /"calybris": "([^"]*)"/.exec(fs.readFileSync(path.join(root, "package.json"), "utf8"))?.[1] ?? ""
    const run = (args: ReadonlyArray<string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("sh", ["-c", `${script} "$@"`, "calybris", ...args], {
          cwd: root,
          env: { ...process.env, INIT_CWD: caller, NO_COLOR: "1" },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      })
    const init = await run(["budget", "init", "--journal", "ledger.jsonl", "--key-file", "ledger.key"])
    assert.strictEqual(init.code, 0, init.stderr)
    assert.isTrue(fs.existsSync(path.join(caller, "ledger.jsonl")), init.stdout + init.stderr)
    assert.isFalse(fs.existsSync(path.join(root, "ledger.jsonl")))
    const verify = await run(["wal", "verify", "ledger.jsonl", "--key-file", "ledger.key"])
    assert.strictEqual(verify.code, 0, verify.stderr)
  })
})
