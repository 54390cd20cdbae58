/**
 * The verify path runs in a browser: test/browser/verifyEntry.ts (what an auditor runs — parse and
 * verify checkpoints, cosignatures, inclusion proofs, read a tree from tiles) is bundled by esbuild
 * for `platform: "browser"`, and the build fails on any import of a Node built-in (`node:*` or a
 * bare `crypto`, `fs`, …). The bundle then runs in a `node:vm` context holding only web globals —
 * no `process`, `require`, `Buffer` or `global` — where it verifies real checkpoints
 * (sum.golang.org, Rekor v2 with a production inclusion proof, a witnessed static-CT log) and a
 * tiled log (test/fixtures/real-logs.json). SHA-256 is then `@noble/hashes` (core's Hash finds no
 * `process.getBuiltinModule` there).
 *
 * The check bites: the same build with a `node:crypto` import, or an unguarded
 * `process.getBuiltinModule`, planted in the verify path's hashing fails.
 */
import { assert, describe, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { builtinModules } from "node:module"
import * as path from "node:path"
import * as vm from "node:vm"
import { realLogs } from "./realLogs.js"

const entry = path.join(import.meta.dirname, "browser", "verifyEntry.ts")
const hashModule = path.resolve(import.meta.dirname, "..", "src", "internal", "hash.ts")

const builtins = new Set(builtinModules.flatMap((name) => [name, name.split("/")[0] as string]))
const isNodeBuiltin = (spec: string) =>
  spec.startsWith("node:") || builtins.has(spec) || builtins.has(spec.split("/")[0] as string)

/** A change planted in the source of internal/hash.ts (the bite checks), or none. */
type Plant = (source: string) => string

/**
 * The verify entry bundled for a browser (an IIFE assigning `calybrisVerify`), or the list of
 * Node built-ins some module imports (the build refuses them).
 */
const bundle = async (plant?: Plant): Promise<{ readonly code: string } | { readonly nodeImports: Array<string> }> => {
  const nodeImports: Array<string> = []
  const plugin: esbuild.Plugin = {
    name: "calybris-no-node",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!isNodeBuiltin(args.path)) return undefined
        nodeImports.push(`${args.path} (imported by ${path.relative(process.cwd(), args.importer)})`)
        return { errors: [{ text: `a Node built-in in the verify path: ${args.path}` }] }
      })
      if (plant !== undefined) {
        build.onLoad({ filter: /internal[/\\]hash\.ts$/ }, async (args) => {
          if (args.path !== hashModule) return undefined
          const { readFile } = await import("node:fs/promises")
          return { contents: plant(await readFile(args.path, "utf8")), loader: "ts" }
        })
      }
    }
  }
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: "browser",
      format: "iife",
      globalName: "calybrisVerify",
      target: "es2022",
      conditions: ["@calybris/source"],
      logLevel: "silent",
      plugins: [plugin]
    })
    return { code: result.outputFiles[0]?.text ?? "" }
  } catch (error) {
    if (nodeImports.length > 0) return { nodeImports }
    throw error
  }
}

/** A context with a browser's globals and nothing of Node's. */
const browserContext = (): vm.Context => {
  const context = vm.createContext({
    TextEncoder,
    TextDecoder,
    crypto: globalThis.crypto,
    URL,
    atob,
    btoa,
    console,
    queueMicrotask,
    setTimeout,
    clearTimeout,
    performance
  })
  for (const name of ["process", "require", "Buffer", "global", "module", "setImmediate"]) {
    assert.strictEqual(vm.runInContext(`typeof ${name}`, context), "undefined", name)
  }
  return context
}

/** Runs the bundle in a browser-like context: its verdicts, or what it threw. */
const runInBrowser = (code: string): ReadonlyArray<string> | string => {
  const context = browserContext()
  try {
    vm.runInContext(code, context, { filename: "calybris-verify.js" })
    const api = context["calybrisVerify"] as { run: (logs: unknown) => ReadonlyArray<string> }
    return Array.from(api.run(realLogs()))
  } catch (error) {
    return String(error)
  }
}

const logs = realLogs()

describe("the verify path in a browser (esbuild platform browser, node:vm with web globals only)", () => {
  it("bundles with no Node built-in and verifies real checkpoints, a Rekor inclusion proof and a tiled log without process", async () => {
    const built = await bundle()
    if (!("code" in built)) return assert.fail(`Node built-ins in the verify path: ${built.nodeImports.join(", ")}`)
    const verdicts = runInBrowser(built.code)
    assert.deepStrictEqual(verdicts, [
      "sha256: noble",
      `sumdb: sum.golang.org+033de0ae ${logs.sumdb.size} ${logs.sumdb.rootHex}`,
      "sumdb forged size: refused NoteInvalidSignature",
      `rekor: log2025-1.rekor.sigstore.dev+cf119915 ${logs.rekor.size}`,
      "rekor inclusion: ok",
      "rekor inclusion, leaf bit flipped: refused MerkleError root-mismatch",
      `witnessed: arche2025h1.staging.ct.transparency.dev+ba2f06c0 ${logs.witnessed.size} cosigned remora.n621.de@${logs.witnessed.witnessTimestamp}`,
      "witness key alone: refused CheckpointNotSigned no-log-signature",
      `tessera: example.com/log/testdata+33d7b496 ${logs.tessera.size}`,
      "tessera root from tiles: ok",
      `tessera inclusion of ${logs.tessera.leaves.length} entries: ok`
    ])
  })

  it("the check bites: a node:crypto import planted in the hashing fails the build", async () => {
    for (const spec of ["node:crypto", "crypto"]) {
      const built = await bundle((source) =>
        `import * as planted from "${spec}"\nexport const __planted = planted\n${source}`
      )
      assert.isTrue("nodeImports" in built, spec)
      if ("nodeImports" in built) assert.include(built.nodeImports.join(), spec)
    }
  })

  it("the check bites: an unguarded process.getBuiltinModule planted in the hashing fails in the browser", async () => {
    const built = await bundle((source) =>
      `${source}\nexport const __planted = process.getBuiltinModule("node:crypto")\n`
    )
    if (!("code" in built)) return assert.fail("the planted process use builds")
    const verdicts = runInBrowser(built.code)
    assert.isString(verdicts)
    assert.match(verdicts as string, /ReferenceError: process is not defined/)
  })
})
