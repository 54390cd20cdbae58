/**
 * The order of the checks of `budget admit`, through the real CLI: the cheap, failure-prone
 * documents (`--policy`, `--input`) and arguments (`--tenant`, `--id`) are read and validated
 * before the key is loaded and before the journal is opened and recovered. A bad policy is
 * reported as a bad policy (exit 2) whatever the journal's state: held by another writer
 * (the journal is not even opened: no `WalLocked`), failing recovery, or missing — and the
 * journal's bytes and mtime are left unchanged.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startChild } from "../crash/child.js"
import { calybris, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("order")
// the key hold-child.ts writes with: 32 bytes of 42
const env = { CALYBRIS_E2E_JOURNAL_KEY: `hex:${"2a".repeat(32)}` }
const keyFlags = ["--key-env", "CALYBRIS_E2E_JOURNAL_KEY"]
const budget = (journal: string, args: ReadonlyArray<string>, key: ReadonlyArray<string> = keyFlags) =>
  calybris(["budget", ...args, "--journal", journal, ...key], { env })

const goodPolicy = write(dir, "policy.json", policyText)
const goodInput = write(dir, "input.json", inputLine())
const notJson = write(dir, "bad.json", `{"policy_epoch": 1, "models": [`)
// a policy Policy.make refuses (two models with id 10)
const duplicate = write(dir, "duplicate.json", policyText.replace(`"model_id": 20`, `"model_id": 10`))
const badInput = write(dir, "bad-input.json", inputLine({ risk_bps: "70000" }))

const admit = (policy: string, input: string, tenant = "acme") => [
  "admit",
  "--policy",
  policy,
  "--input",
  input,
  "--tenant",
  tenant
]

/** The bad-document cases: each exits 2 naming its document, never the journal. */
const badCases: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
  ["a policy that is not JSON", admit(notJson, goodInput), /bad\.json/],
  ["a policy Policy.make refuses", admit(duplicate, goodInput), /DuplicateModelId/],
  ["an input out of range", admit(goodPolicy, badInput), /bad-input\.json.*risk_bps/s],
  ["a tenant id out of range", admit(goodPolicy, goodInput, "t".repeat(2000)), /InvalidArgument.*tenant/s]
]

const fileState = (file: string) => {
  const info = fs.statSync(file)
  return { bytes: fs.readFileSync(file).toString("hex"), mtimeMs: info.mtimeMs }
}

const journalWithTenant = async (name: string): Promise<string> => {
  const journal = path.join(dir, name)
  assert.strictEqual((await budget(journal, ["init"])).code, 0)
  assert.strictEqual((await budget(journal, ["ensure", "--tenant", "acme", "--amount", "1000000000"])).code, 0)
  return journal
}

const expectBadDocument = async (journal: string, key: ReadonlyArray<string> = keyFlags) => {
  for (const [what, args, expected] of badCases) {
    const r = await budget(journal, args, key)
    assert.strictEqual(r.code, 2, `${what}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, expected, what)
    assert.notMatch(r.stderr, /WalLocked|WalChainBroken|WalHashMismatch|WalParseError|no such journal|KeyError/, what)
    assert.strictEqual(r.stdout, "", what)
  }
}

describe("budget admit reads and validates its documents before the journal", () => {
  it(
    "a journal held by another writer: a bad policy, input or tenant is reported (exit 2), not WalLocked; the journal is not opened",
    async () => {
      const journal = await journalWithTenant("held.jsonl")
      const before = fileState(journal)
      const holder = await startChild("test/crash/hold-child.ts", [journal])
      try {
        assert.strictEqual(await holder.line("HOLDING"), "HOLDING 2")
        await expectBadDocument(journal)
        // the control: with good documents, the same command does reach the held journal
        const locked = await budget(journal, admit(goodPolicy, goodInput))
        assert.strictEqual(locked.code, 1, locked.stderr)
        assert.match(locked.stderr, /^WalLocked: /)
        assert.deepStrictEqual(fileState(journal), before)
      } finally {
        holder.child.kill("SIGKILL")
        await holder.exited
      }
    },
    120_000
  )

  it(
    "a journal that fails recovery, a missing journal, a missing key: a bad policy is still the error reported (exit 2), the journal unchanged",
    async () => {
      const journal = await journalWithTenant("broken.jsonl")
      // break the chain: change one hex digit of the last entry's hash
      const text = fs.readFileSync(journal, "utf8")
      const at = text.lastIndexOf(`"entry_hash":"`) + `"entry_hash":"`.length
      const digit = text[at] === "0" ? "1" : "0"
      fs.writeFileSync(journal, text.slice(0, at) + digit + text.slice(at + 1))
      const before = fileState(journal)
      await expectBadDocument(journal)
      assert.deepStrictEqual(fileState(journal), before)
      // the control: with good documents, the broken journal is what fails (exit 1)
      const broken = await budget(journal, admit(goodPolicy, goodInput))
      assert.strictEqual(broken.code, 1, broken.stderr)
      assert.notMatch(broken.stderr, /bad\.json/)
      assert.deepStrictEqual(fileState(journal), before)

      const missing = path.join(dir, "missing.jsonl")
      await expectBadDocument(missing)
      assert.isFalse(fs.existsSync(missing))

      const unsetKey = ["--key-env", "CALYBRIS_E2E_NO_SUCH_KEY"]
      await expectBadDocument(journal, unsetKey)
      const noKey = await budget(journal, admit(goodPolicy, goodInput), unsetKey)
      assert.strictEqual(noKey.code, 2, noKey.stderr)
      assert.match(noKey.stderr, /CALYBRIS_E2E_NO_SUCH_KEY/)
    },
    120_000
  )
})
