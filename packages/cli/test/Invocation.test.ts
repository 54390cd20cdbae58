import { commandLine, Invocation, invocation, quote } from "@calybris/cli/Invocation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import { spawnSync } from "node:child_process"

/** What `shell -c 'printf %s <word>'` prints. */
const printed = (shell: string, word: string): string => {
  const result = spawnSync(shell, ["-c", `printf %s ${word}`], { encoding: "utf8" })
  assert.strictEqual(result.status, 0, result.stderr)
  return result.stdout
}

/** Shell shells this machine has (`sh` always). */
const shells = ["sh", "bash", "zsh"].filter((shell) => spawnSync(shell, ["-c", "true"]).status === 0)

/** Strings made mostly of what a shell treats specially, and any other text (no NUL: no argument holds one). */
const hostile = fc.oneof(
  fc.string({
    unit: fc.constantFrom(..."'\"`$\\ \t\n;&|<>()*?[]{}~#=!%^,:@-+./aZ0é"),
    maxLength: 24
  }),
  fc.string({ unit: "binary", maxLength: 24 })
).map((s) => s.replaceAll("\0", ""))

describe("quote", () => {
  it.prop("any string, quoted, is one word the shell gives back as it was", [hostile], ([text]) => {
    for (const shell of shells) assert.strictEqual(printed(shell, quote(text)), text, shell)
  })

  it("leaves safe words bare and quotes the rest", () => {
    assert.strictEqual(quote("/tmp/calybris-demo-x1/journal.jsonl"), "/tmp/calybris-demo-x1/journal.jsonl")
    assert.strictEqual(quote("--key-file"), "--key-file")
    assert.strictEqual(quote(""), "''")
    assert.strictEqual(quote("a b"), "'a b'")
    assert.strictEqual(quote("it's"), `'it'\\''s'`)
    assert.strictEqual(quote("$HOME"), "'$HOME'")
    assert.strictEqual(quote("~/x"), "'~/x'")
    assert.strictEqual(quote("a=b"), "'a=b'")
    assert.strictEqual(quote("x;rm -rf y"), "'x;rm -rf y'")
  })

  it("builds a command line: the invocation as it is, each argument quoted", () => {
    assert.strictEqual(
      commandLine("npx calybris", ["wal", "verify", "/d/a b/journal.jsonl"]),
      "npx calybris wal verify '/d/a b/journal.jsonl'"
    )
  })
})

describe("invocation", () => {
  it("is `pnpm calybris` when the repository's launcher says so", () => {
    assert.strictEqual(invocation({ launcher: "pnpm", script: "/repo/packages/cli/src/bin.ts" }), "pnpm calybris")
    // pnpm from its own install (corepack, a global pnpm)
    assert.strictEqual(
      invocation({
        launcher: "pnpm",
        packageManager: "/usr/lib/node_modules/pnpm/bin/pnpm.cjs",
        userAgent: "pnpm/10.34.9 npm/? node/v20.20.2 linux x64"
      }),
      "pnpm calybris"
    )
  })

  it("is `npx -y pnpm@VERSION calybris` when pnpm itself ran through npx (the README's quickstart)", () => {
    const npx = { launcher: "pnpm", packageManager: "/root/.npm/_npx/c80dab5832ec79ce/node_modules/pnpm/bin/pnpm.cjs" }
    assert.strictEqual(
      invocation({ ...npx, userAgent: "pnpm/10.34.9 npm/? node/v20.20.2 linux x64" }),
      "npx -y pnpm@10.34.9 calybris"
    )
    // without a version it cannot name the same pnpm (the latest may not run on this Node)
    assert.strictEqual(invocation({ ...npx, userAgent: "npm/11.19.1 node/v20.20.2" }), "pnpm calybris")
    assert.strictEqual(invocation({ ...npx, userAgent: "pnpm/$(id) x" }), "pnpm calybris")
    assert.strictEqual(invocation(npx), "pnpm calybris")
  })

  it("names the repository's root (`--dir ROOT`, quoted) when the launcher gives it: runnable from any folder (a hostile review)", () => {
    const npx = { launcher: "pnpm", packageManager: "/root/.npm/_npx/c80dab5832ec79ce/node_modules/pnpm/bin/pnpm.cjs" }
    const agent = "pnpm/10.34.9 npm/? node/v20.20.2 linux x64"
    assert.strictEqual(
      invocation({ ...npx, userAgent: agent, root: "/work/main" }),
      "npx -y pnpm@10.34.9 --dir /work/main calybris"
    )
    assert.strictEqual(
      invocation({ launcher: "pnpm", root: "/home/u/it's here" }),
      "pnpm --dir '/home/u/it'\\''s here' calybris"
    )
    assert.strictEqual(invocation({ launcher: "pnpm", root: "" }), "pnpm calybris")
  })

  it("is `npx calybris` for a package installed in the project that holds the working directory", () => {
    // npm: the bin's symbolic link in node_modules/.bin
    assert.strictEqual(
      invocation({ script: "/home/u/app/node_modules/.bin/calybris", cwd: "/home/u/app" }),
      "npx calybris"
    )
    assert.strictEqual(
      invocation({ script: "/home/u/app/node_modules/.bin/calybris", cwd: "/home/u/app/src/deep" }),
      "npx calybris"
    )
    // pnpm: a shell shim that runs node on the package's file
    assert.strictEqual(
      invocation({ script: "/home/u/app/node_modules/@calybris/cli/dist/bin.js", cwd: "/home/u/app" }),
      "npx calybris"
    )
    assert.strictEqual(
      invocation({ script: "C:\\Users\\u\\app\\node_modules\\@calybris\\cli\\dist\\bin.js", cwd: "C:\\Users\\u\\app" }),
      "npx calybris"
    )
  })

  it("is `calybris` for a global install", () => {
    // npm -g: the bin's symbolic link on the PATH
    assert.strictEqual(invocation({ script: "/usr/local/bin/calybris", cwd: "/home/u" }), "calybris")
    // pnpm add -g: a shim on the PATH runs the global store's file
    assert.strictEqual(
      invocation({
        script: "/home/u/.local/share/pnpm/global/5/node_modules/@calybris/cli/dist/bin.js",
        cwd: "/home/u/work"
      }),
      "calybris"
    )
    assert.strictEqual(invocation({}), "calybris")
    assert.strictEqual(invocation({ launcher: "npm", script: "/usr/bin/calybris" }), "calybris")
  })

  it("is the bin's path for a project's bin run from outside the project (where npx would fetch another package)", () => {
    assert.strictEqual(
      invocation({ script: "/home/u/app/node_modules/.bin/calybris", cwd: "/home/u/apps" }),
      "/home/u/app/node_modules/.bin/calybris"
    )
    assert.strictEqual(
      invocation({ script: "/home/u/my app/node_modules/.bin/calybris" }),
      "'/home/u/my app/node_modules/.bin/calybris'"
    )
  })

  it("is `node SCRIPT` for a compiled script run by its path, quoted", () => {
    assert.strictEqual(
      invocation({ script: "/work/calybris/packages/cli/dist/bin.js", cwd: "/work/calybris" }),
      "node /work/calybris/packages/cli/dist/bin.js"
    )
    assert.strictEqual(invocation({ script: "/tmp/it's here/bundle.mjs" }), `node '/tmp/it'\\''s here/bundle.mjs'`)
    // a TypeScript source needs a loader the words could not name: the installed bin is the best guess
    assert.strictEqual(invocation({ script: "/work/calybris/packages/cli/src/bin.ts" }), "calybris")
  })

  it.effect("the Invocation reference is `calybris` unless provided", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Invocation, "calybris")
      assert.strictEqual(yield* Effect.provideService(Invocation, Invocation, "pnpm calybris"), "pnpm calybris")
    }))
})
