/**
 * The house has no circles (issue 13): the import graph of every source file under
 * packages/*\/src has no cycle of value imports, and an `internal/` file imports the public
 * module that owns it type-only (STYLE.md §10), as every internal file of `@effect/platform`,
 * `@effect/sql` and `@effect/experimental` does.
 *
 * A value cycle can crash at load depending on which file of it is imported first (an ES module
 * cycle evaluates one side before the other: a `const` of the other side read at the top level is
 * still in its temporal dead zone). A cycle made only of `import type` edges is harmless, since
 * those are erased; an edge that leaves any value at run time counts. With `verbatimModuleSyntax`
 * (tsconfig.base.json) `import { type A } from "./x.js"` is emitted as `import {} from "./x.js"`,
 * so it still loads `x` and is a value edge here; only `import type …` and `export type … from`
 * are type edges.
 */
import * as Source from "@calybris/testing/Source"
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")
const packagesDir = path.join(root, "packages")

interface Edge {
  readonly from: string
  readonly to: string
  readonly typeOnly: boolean
  readonly line: number
}

const sourceFiles = (): Array<string> => {
  const out: Array<string> = []
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(full)
    }
  }
  for (const pkg of fs.readdirSync(packagesDir)) {
    const src = path.join(packagesDir, pkg, "src")
    if (fs.existsSync(src)) walk(src)
  }
  return out.sort()
}

/** A module specifier as a source file of the repository, or undefined for a dependency. */
const resolve = (from: string, spec: string): string | undefined => {
  if (spec.startsWith(".")) {
    const target = path.resolve(path.dirname(from), spec).replace(/\.js$/, ".ts")
    assert.isTrue(fs.existsSync(target), `${rel(from)}: import "${spec}" does not resolve to a source file`)
    return target
  }
  const m = /^@calybris\/([^/]+)\/(.+)$/.exec(spec)
  if (m === null) return undefined
  const target = path.join(packagesDir, m[1] ?? "", "src", `${m[2]}.ts`)
  assert.isTrue(fs.existsSync(target), `${rel(from)}: import "${spec}" does not resolve to a source file`)
  return target
}

const rel = (file: string): string => path.relative(root, file)

/** Every static `import … from`, `export … from` and dynamic `import("…")` of a file. */
const edgesOf = (file: string): Array<Edge> => {
  const text = fs.readFileSync(file, "utf8")
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const out: Array<Edge> = []
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, node: ts.Node): void => {
    if (spec === undefined || !ts.isStringLiteral(spec)) return
    const to = resolve(file, spec.text)
    if (to === undefined) return
    out.push({ from: file, to, typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause?.isTypeOnly === true, node)
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly, node)
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, node)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false, node)
    } else if (ts.isImportTypeNode(node)) {
      // `typeof import("./x.js")` in a type position: erased
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return out
}

/** Strongly connected components (Tarjan) of the graph made of the given edges. */
const components = (nodes: ReadonlyArray<string>, edges: ReadonlyArray<Edge>): Array<Array<string>> => {
  const next = new Map<string, Array<string>>()
  for (const n of nodes) next.set(n, [])
  for (const e of edges) next.get(e.from)?.push(e.to)
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const out: Array<Array<string>> = []
  const connect = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0))
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: Array<string> = []
      let w: string | undefined
      do {
        w = stack.pop()
        if (w === undefined) break
        onStack.delete(w)
        scc.push(w)
      } while (w !== v)
      const selfLoop = scc.length === 1 && (next.get(v) ?? []).includes(v)
      if (scc.length > 1 || selfLoop) out.push(scc.sort())
    }
  }
  for (const n of nodes) if (!index.has(n)) connect(n)
  return out
}

/** One shortest cycle through `start` inside a component, as `a.ts:12 → b.ts:3 → a.ts`. */
const cycleThrough = (start: string, scc: ReadonlyArray<string>, edges: ReadonlyArray<Edge>): string => {
  const inside = new Set(scc)
  const prev = new Map<string, Edge>()
  const queue = [start]
  let closing: Edge | undefined
  for (let i = 0; i < queue.length && closing === undefined; i++) {
    const v = queue[i]
    for (const e of edges) {
      if (e.from !== v || !inside.has(e.to)) continue
      if (e.to === start) {
        closing = e
        break
      }
      if (!prev.has(e.to)) {
        prev.set(e.to, e)
        queue.push(e.to)
      }
    }
  }
  const path_: Array<Edge> = []
  for (let e = closing; e !== undefined; e = e.from === start ? undefined : prev.get(e.from)) path_.unshift(e)
  return path_.map((e) => `${rel(e.from)}:${e.line}`).concat(rel(start)).join(" → ")
}

/** Every cycle of value imports, one line each (a shortest cycle through each component's first file). */
const valueCycles = (files: ReadonlyArray<string>, edges: ReadonlyArray<Edge>): Array<string> => {
  const value = edges.filter((e) => !e.typeOnly)
  return components(files, value).map((scc) =>
    `${scc.length} files {${scc.map(rel).join(", ")}}, e.g. ${cycleThrough(scc[0] ?? "", scc, value)}`
  )
}

const isInternal = (file: string): boolean => file.split(path.sep).includes("internal")
const packageOf = (file: string): string => path.relative(packagesDir, file).split(path.sep)[0] ?? ""

/**
 * Value imports by an `internal/` file of a public module of its own package, other than its
 * owner (the owner rule above has no exceptions). Making all of them type-only would mean moving
 * the chain, the entry codec, the reader, the errors, the journal codec and the state machine
 * into `internal/`; instead each is listed with its reason. Every target is a module the
 * importer's owner does not reach back through (the cycle test checks that), and a new one must
 * be added here with a reason.
 */
const publicImportsOfInternals: ReadonlyArray<{
  readonly target: string
  readonly reason: string
  readonly importers: ReadonlyArray<string>
}> = [
  {
    target: "packages/core/src/Word.ts",
    reason: "32-bit word helpers (hi32 / lo32, the codec's exact bigint of a safe number); Word imports nothing",
    importers: ["packages/core/src/internal/codec.ts", "packages/core/src/internal/compile.ts"]
  },
  {
    target: "packages/wal/src/WalError.ts",
    reason: "the package's typed errors, constructed where the failure happens; WalError imports nothing of wal",
    importers: [
      "packages/wal/src/internal/admit.ts",
      "packages/wal/src/internal/durability.ts",
      "packages/wal/src/internal/file.ts",
      "packages/wal/src/internal/lock.ts",
      "packages/wal/src/internal/memory.ts",
      "packages/wal/src/internal/repair.ts"
    ]
  },
  {
    target: "packages/wal/src/Chain.ts",
    reason: "the hash chain a log is made with (Chain.make, GENESIS); Chain imports only WalError",
    importers: [
      "packages/wal/src/internal/file.ts",
      "packages/wal/src/internal/memory.ts",
      "packages/wal/src/internal/repair.ts"
    ]
  },
  {
    target: "packages/wal/src/Entry.ts",
    reason: "sealing a line (canonicalData, seal), shared by both layers and the reader's tests",
    importers: ["packages/wal/src/internal/file.ts", "packages/wal/src/internal/memory.ts"]
  },
  {
    target: "packages/wal/src/Reader.ts",
    reason:
      "the one verifying reader every layer opens its existing bytes with (SPEC §5), and its check of the reader's options, which repair makes too",
    importers: [
      "packages/wal/src/internal/file.ts",
      "packages/wal/src/internal/memory.ts",
      "packages/wal/src/internal/repair.ts"
    ]
  },
  {
    target: "packages/budget/src/LedgerState.ts",
    reason: "the state machine the engine, the journal and recovery drive",
    importers: [
      "packages/budget/src/internal/consistency.ts",
      "packages/budget/src/internal/engine.ts",
      "packages/budget/src/internal/journaled.ts",
      "packages/budget/src/internal/memory.ts",
      "packages/budget/src/internal/queries.ts"
    ]
  },
  {
    target: "packages/budget/src/LedgerError.ts",
    reason: "the ledger's typed errors; LedgerError imports nothing of budget",
    importers: ["packages/budget/src/internal/consistency.ts", "packages/budget/src/internal/journaled.ts"]
  },
  {
    target: "packages/budget/src/Journal.ts",
    reason: "the journal's wire codec (commands, checkpoints), public for the audit and the CLI",
    importers: ["packages/budget/src/internal/consistency.ts", "packages/budget/src/internal/journaled.ts"]
  },
  {
    target: "packages/budget/src/Snapshot.ts",
    reason: "the snapshot digest recovery checks a checkpoint against; the UTF-8 order the queries answer in",
    importers: ["packages/budget/src/internal/consistency.ts", "packages/budget/src/internal/queries.ts"]
  },
  {
    target: "packages/budget/src/Command.ts",
    reason:
      "the command constructors (the engine builds the Expire of an expired hold); Command imports no internal file",
    importers: ["packages/budget/src/internal/engine.ts"]
  },
  {
    target: "packages/budget/src/Arguments.ts",
    reason:
      "argument validation, one place shared by every layer (validateCommand) and by recovery, which refuses a journaled command it refuses; the brand of issued reservation ids",
    importers: [
      "packages/budget/src/internal/consistency.ts",
      "packages/budget/src/internal/journaled.ts",
      "packages/budget/src/internal/memory.ts",
      "packages/budget/src/internal/queries.ts"
    ]
  },
  ...["Checkpoint", "CompactRange", "Merkle", "Note", "Tiles"].map((name) => ({
    target: `packages/tlog/src/${name}.ts`,
    reason:
      "the tree log (TreeLog.ts builds its layers from internal/treeLog.ts) keeps its tree with the package's pure modules: compact range, tiles, proofs, checkpoint signing; none of them imports TreeLog",
    importers: name === "Tiles"
      ? ["packages/tlog/src/internal/treeLog.ts", "packages/tlog/src/internal/treeLogTiles.ts"]
      : ["packages/tlog/src/internal/treeLog.ts"]
  }))
]

describe("import graph of packages/*/src", () => {
  const files = sourceFiles()
  const edges = files.flatMap(edgesOf)

  it("finds the source files and their imports", () => {
    assert.isAbove(files.length, 50)
    assert.isAbove(edges.length, 100)
  })

  it("classifies imports: only `import type` / `export type … from` are type edges", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imports-"))
    try {
      for (const name of ["a", "b", "c", "d", "e", "f", "g"]) fs.writeFileSync(path.join(dir, `${name}.ts`), "")
      const main = path.join(dir, "main.ts")
      fs.writeFileSync(
        main,
        [
          `import type { A } from "./a.js"`,
          `import { type B } from "./b.js"`, // kept as `import {} from "./b.js"` (verbatimModuleSyntax)
          `import * as C from "./c.js"`,
          `export type { D } from "./d.js"`,
          `export * as E from "./e.js"`,
          `import "./f.js"`,
          `const g = () => import("./g.js")`,
          `import * as Effect from "effect/Effect"`
        ].join("\n")
      )
      const kinds = edgesOf(main).map((e) => `${path.basename(e.to)}:${e.typeOnly ? "type" : "value"}`)
      assert.deepStrictEqual(kinds, [
        "a.ts:type",
        "b.ts:value",
        "c.ts:value",
        "d.ts:type",
        "e.ts:value",
        "f.ts:value",
        "g.ts:value"
      ])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("has no cycle of value imports", () => {
    const cycles = valueCycles(files, edges)
    assert.deepStrictEqual(cycles, [], `value import cycles:\n  ${cycles.join("\n  ")}`)
  })

  it("an internal file imports the public modules that import it type-only", () => {
    const bad: Array<string> = []
    for (const e of edges) {
      if (e.typeOnly || !isInternal(e.from) || isInternal(e.to) || packageOf(e.from) !== packageOf(e.to)) continue
      const owner = edges.some((back) => back.from === e.to && back.to === e.from)
      if (owner) bad.push(`${rel(e.from)}:${e.line} value-imports its owner ${rel(e.to)}`)
    }
    assert.deepStrictEqual(bad, [], bad.join("\n"))
  })

  it("an internal file value-imports a public module of its own package only where listed, with a reason", () => {
    const found = new Set<string>()
    for (const e of edges) {
      if (e.typeOnly || !isInternal(e.from) || isInternal(e.to) || packageOf(e.from) !== packageOf(e.to)) continue
      found.add(`${rel(e.from)} → ${rel(e.to)}`)
    }
    const listed = new Set(publicImportsOfInternals.flatMap((l) => l.importers.map((i) => `${i} → ${l.target}`)))
    const unlisted = [...found].filter((k) => !listed.has(k)).sort()
    const stale = [...listed].filter((k) => !found.has(k)).sort()
    assert.deepStrictEqual(unlisted, [], `unlisted value imports of a public module:\n  ${unlisted.join("\n  ")}`)
    assert.deepStrictEqual(stale, [], `listed but no longer imported:\n  ${stale.join("\n  ")}`)
  })
})

/**
 * Runs `code` (an ES module body) in a fresh `node --import tsx` process: a fresh module graph,
 * so the module it imports first is evaluated first. Resolves with the exit code and output.
 */
const runFresh = (code: string): Promise<{ readonly code: number; readonly output: string }> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [...Source.nodeArgs, "--input-type=module", "-e", code],
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr })
    )
  })

const url = (file: string): string => pathToFileURL(path.join(root, file)).href

describe("load order", () => {
  // Before the value model moved to a leaf, importing the parser first evaluated Json.ts first
  // (a value cycle), which read the parser's `cursor` export in its temporal dead zone:
  // "ReferenceError: Cannot access 'cursor' before initialization".
  it("the JSON parser imported first, in a fresh module graph, loads and parses", async () => {
    const { code, output } = await runFresh(`
      await import(${JSON.stringify(url("packages/core/src/internal/jsonParse.ts"))})
      const Json = await import(${JSON.stringify(url("packages/core/src/Json.ts"))})
      const parsed = Json.parse('{"a":[1,2.5,18446744073709551615],"b":null}')
      if (parsed._tag !== "Right") throw new Error("not parsed")
      console.log(Json.print(parsed.right))
    `)
    assert.strictEqual(code, 0, output)
    assert.strictEqual(output.trim(), "{\"a\":[1,2.5,18446744073709551615],\"b\":null}")
  })

  // The other modules of the cycles this test file forbids, each imported before its public
  // module (they did not crash, only because nothing read a value at load).
  it("the internal modules that were in a cycle load first in a fresh module graph", async () => {
    const firsts: ReadonlyArray<readonly [string, string]> = [
      ["packages/core/src/internal/serde.ts", "packages/core/src/JsonSchema.ts"],
      ["packages/wal/src/internal/file.ts", "packages/wal/src/Wal.ts"],
      ["packages/wal/src/internal/memory.ts", "packages/wal/src/Wal.ts"],
      ["packages/budget/src/internal/journaled.ts", "packages/budget/src/Ledger.ts"]
    ]
    const results = await Promise.all(firsts.map(([first, then]) =>
      runFresh(`
        await import(${JSON.stringify(url(first))})
        const m = await import(${JSON.stringify(url(then))})
        console.log(Object.keys(m).length > 0 ? "ok" : "empty")
      `).then((r) => [first, r] as const)
    ))
    for (const [first, { code, output }] of results) {
      assert.strictEqual(code, 0, `${first}: ${output}`)
      assert.strictEqual(output.trim(), "ok", first)
    }
  })
})
