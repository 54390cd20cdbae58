/**
 * The demo's "Next, with the CLI" commands can be pasted as printed: they start the CLI the way
 * the user started it, and every path is one shell word, whatever the folder's name holds. Each
 * printed command runs through `sh -c` exactly as printed (after the words that start the CLI,
 * replaced by this test's own way of running it when those are not runnable here).
 */
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Result } from "./support/cli.js"
import { calybris, defaultRunner, mapLimit, root, sh, shellCommand, shellWord, tempDir } from "./support/cli.js"

/** A folder name a shell would split, expand, or run parts of, if it were not quoted. */
const HOSTILE = "it's $HOME; `id` & \"*\" \\ ~x"

const SUBCOMMANDS = ["wal verify", "wal replay", "budget status", "explain", "prescribe"] as const

/** The printed "next" commands: the words that start the CLI, and the rest. */
const nextCommands = (stdout: string): Array<{ readonly invocation: string; readonly rest: string }> => {
  const lines = stdout.split("\n")
  const at = lines.indexOf("Next, with the CLI:")
  assert.isAtLeast(at, 0, stdout)
  const commands = lines.slice(at + 1).filter((line) => line.startsWith("  ")).map((line) => line.slice(2))
  assert.strictEqual(commands.length, SUBCOMMANDS.length, stdout)
  return commands.map((line, i) => {
    const start = line.indexOf(` ${SUBCOMMANDS[i]} `)
    assert.isAtLeast(start, 0, line)
    return { invocation: line.slice(0, start), rest: line.slice(start + 1) }
  })
}

/** Each next command's output is what that command prints for the demo's folder. */
const checkOutputs = (demo: string, results: ReadonlyArray<Result>) => {
  for (const r of results) {
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stderr, "")
  }
  const [verify, replay, status, explain, prescribe] = results.map((r) => r.stdout)
  const lastHash = /last hash ([0-9a-f]{64})/.exec(demo)?.[1]
  assert.isDefined(lastHash)
  assert.include(verify, `ok: 14 entries verified (HMAC-SHA256), last hash ${lastHash}`)
  assert.include(replay, "ok: 5 admitted decisions in the ledger journal replayed bit for bit; digests match")
  assert.include(status, "3 tenants, 1 open reservation")
  assert.include(status, "acme-support")
  assert.include(explain, "request 2 asks for model 202")
  assert.include(explain, "decision: Substitute — model 301 (index 4), alternative_maximizes_utility")
  const actions = (prescribe ?? "").trimEnd().split("\n").map((line) => {
    const json = Either.getOrThrow(Json.parse(line))
    const decision = Json.isObject(json) ? json.get("decision") : undefined
    assert.isTrue(Json.isObject(json) && json.has("trace"), line)
    return decision !== undefined && Json.isObject(decision) ? decision.get("action") : undefined
  })
  assert.deepStrictEqual(actions, ["ExecuteRequested", "Substitute", "Substitute", "Reject", "ExecuteRequested"])
}

describe("demo: next commands", () => {
  it("started as the README's `npx -y pnpm@VERSION calybris`, it prints that, and quoted paths that run as printed", async () => {
    // what `npx -y pnpm@10.34.9 calybris demo --dir …` runs: the root script, from the repository
    // root, with pnpm's variables (INIT_CWD the caller's folder)
    const caller = tempDir("demo-next-caller")
    const script = /"calybris": "([^"]*)"/.exec(fs.readFileSync(path.join(root, "package.json"), "utf8"))?.[1] ?? ""
    const demo = await sh(`${script} demo --dir ${shellWord(HOSTILE)}`, {
      env: {
        INIT_CWD: caller,
        npm_execpath: "/home/u/.npm/_npx/c80dab5832ec79ce/node_modules/pnpm/bin/pnpm.cjs",
        npm_config_user_agent: "pnpm/10.34.9 npm/? node/v20.20.2 linux x64"
      }
    })
    assert.strictEqual(demo.code, 0, demo.stderr)
    assert.isTrue(fs.existsSync(path.join(caller, HOSTILE, "journal.jsonl")))
    const commands = nextCommands(demo.stdout)
    // the rest as printed, after this test's own way of starting the CLI
    const own = await shellCommand()
    checkOutputs(demo.stdout, await mapLimit(commands, 2, ({ rest }) => sh(`${own} ${rest}`)))
    // anchored at the repository's root: pnpm finds the script from any folder (without it, from a
    // package's folder or outside the repository it did not: a hostile review)
    const rootWord = /^[A-Za-z0-9_@%+:,./-]+$/.test(root) ? root : shellWord(root)
    for (const { invocation } of commands) {
      assert.strictEqual(invocation, `npx -y pnpm@10.34.9 --dir ${rootWord} calybris`)
    }
    const first = commands[0]
    assert.isDefined(first)
    const pasted = await sh(`${first.invocation} ${first.rest}`, {
      cwd: path.join(root, "packages", "core"),
      timeoutMs: 120_000
    })
    assert.strictEqual(pasted.code, 0, pasted.stderr)
    assert.include(pasted.stdout, "ok: 14 entries verified (HMAC-SHA256)")
  })

  it("started by the path of a compiled script, it prints `node SCRIPT`, and the commands run whole as printed", async () => {
    const dir = path.join(tempDir("demo-next"), HOSTILE)
    // a path as it stands inside single quotes
    const inQuotes = (text: string) => text.replaceAll("'", `'\\''`)
    const env = { CALYBRIS_LAUNCHER: "", npm_execpath: "", npm_config_user_agent: "" }
    const [demo, json] = await Promise.all([
      calybris(["demo", "--dir", dir], { env }),
      calybris(["demo", "--json", "--dir", path.join(dir, "json")], { env })
    ])
    assert.strictEqual(demo.code, 0, demo.stderr)
    const commands = nextCommands(demo.stdout)
    // --json gives the same command lines
    assert.strictEqual(json.code, 0, json.stderr)
    const report = Either.getOrThrow(Json.parse(json.stdout))
    const next = Json.isObject(report) ? report.get("next") : undefined
    assert.deepStrictEqual(
      next,
      commands.map(({ invocation, rest }) =>
        `${invocation} ${rest.replaceAll(`${inQuotes(dir)}/`, `${inQuotes(dir)}/json/`)}`
      )
    )
    // the bundle is a compiled script: its printed words run it; tsx's source cannot be named so
    // (`calybris`, the installed bin's name, is not on this PATH: this test's own way replaces it)
    const own = defaultRunner === "bundle" ? undefined : await shellCommand()
    checkOutputs(
      demo.stdout,
      await mapLimit(commands, 2, ({ invocation, rest }) => sh(`${own ?? invocation} ${rest}`))
    )
    for (const { invocation } of commands) {
      if (defaultRunner === "bundle") assert.match(invocation, /^node \S.*\.mjs'?$/)
      else assert.strictEqual(invocation, "calybris")
    }
  })
})
