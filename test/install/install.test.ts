/**
 * The packages as a user gets them: `pnpm release:pack` packs the six published packages, and a
 * fresh npm project in the temp folder (outside this workspace) installs the tarballs with plain
 * `npm`, with nothing but Node: no pnpm, no tsx, no TypeScript, none of the workspace's
 * `node_modules`. There the README's library example runs under `node`, `npx calybris demo` runs
 * from the installed CLI, an auditor's script verifies real signed checkpoints and an inclusion
 * proof with `@calybris/tlog`'s dist build (and `npx calybris log verify` the same checkpoint), and
 * the packages' public modules (and only those) import and type-check.
 * Each tarball's manifest and files are checked, and `npm publish --dry-run` of each is clean.
 *
 * One pack and one install per run (about 30 s with npm's cache warm).
 */
import * as Json from "@calybris/core/Json"
import * as Postgres from "@calybris/testing/Postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const root = path.resolve(import.meta.dirname, "..", "..")
const published = ["core", "wal", "tlog", "budget", "budget-pg", "cli"] as const

const parse = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))
const member = (json: Json.Json | undefined, ...keys: ReadonlyArray<string>): Json.Json | undefined =>
  keys.reduce<Json.Json | undefined>((v, k) => (v !== undefined && Json.isObject(v) ? v.get(k) : undefined), json)
const text = (json: Json.Json | undefined): string => {
  assert.isString(json)
  return json as string
}
const readJson = (file: string) => parse(fs.readFileSync(file, "utf8"))

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a program to its end (asynchronously: the test's fake registry answers meanwhile). */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv }
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: "pipe" })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.stdin.end()
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const show = (what: string, result: Result) =>
  `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`

/**
 * A user's environment: this process's, less everything pnpm, npm scripts and vitest put there
 * (npm_* configuration, NODE_OPTIONS, the workspace's node_modules/.bin on PATH).
 */
const userEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|VITEST|TSX_)|^(INIT_CWD|NODE_OPTIONS|NODE_PATH|NODE_ENV|TEST)$/i.test(name)) continue
    env[name] = value
  }
  env["PATH"] = (process.env["PATH"] ?? "").split(path.delimiter)
    .filter((dir) =>
      dir !== "" && path.relative(root, path.resolve(dir)).startsWith("..") &&
      !dir.split(path.sep).includes("node_modules")
    )
    .join(path.delimiter)
  env["NO_COLOR"] = "1"
  return env
}

const manifest = readJson(path.join(root, "package.json"))
const pnpmVersion = /^pnpm@(.+)$/.exec(text(member(manifest, "packageManager")))?.[1]
/** The version the workspace pins (a dependency, or for a peer such as `effect` the devDependency). */
const version = (pkg: string, dependency: string) => {
  const manifest = readJson(path.join(root, "packages", pkg, "package.json"))
  return text(member(manifest, "dependencies", dependency) ?? member(manifest, "devDependencies", dependency))
}

/** Every file under a folder, as paths relative to it. */
const walk = (dir: string, prefix = ""): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`]
  )

/** The README's library example: the js code block under "## The library". */
const readmeExample = (): string => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## The library")))?.[1]
  return block ?? assert.fail("a js code block under \"## The library\"")
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-install-"))
const packDir = path.join(work, "pack")
const project = path.join(work, "project")
/** tarball path and unpacked folder of each published package */
const tarballs = new Map<string, { readonly tarball: string; readonly unpacked: string }>()
afterAll(() => {
  if (process.env["CALYBRIS_TEST_KEEP"] !== "1") fs.rmSync(work, { recursive: true, force: true })
})

beforeAll(async () => {
  // the README's way: the pinned pnpm through npx; release:pack builds first (`pnpm build`)
  const pack = await run("npx", ["-y", `pnpm@${pnpmVersion}`, "-s", "release:pack", packDir], { cwd: root })
  assert.strictEqual(pack.code, 0, show("release:pack", pack))
  const printed = pack.stdout.trimEnd().split("\n")
  assert.deepStrictEqual(
    printed,
    published.map((name) => path.join(packDir, `calybris-${name}-0.1.0.tgz`)),
    "release:pack prints the six tarballs' paths"
  )
  for (const [i, name] of published.entries()) {
    const tarball = printed[i] as string
    const unpacked = path.join(work, "unpacked", name)
    fs.mkdirSync(unpacked, { recursive: true })
    const tar = await run("tar", ["-xzf", tarball, "-C", unpacked], { cwd: work })
    assert.strictEqual(tar.code, 0, show("tar", tar))
    tarballs.set(name, { tarball, unpacked: path.join(unpacked, "package") })
  }

  // a fresh npm project in the temp folder, outside this workspace
  fs.mkdirSync(project)
  const env = userEnv()
  const init = await run("npm", ["init", "-y"], { cwd: project, env })
  assert.strictEqual(init.code, 0, show("npm init", init))
  // what the README's Install section says: the six tarballs, and the Effect packages the example imports
  const install = await run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    ...published.map((name) => tarballs.get(name)?.tarball as string),
    `effect@${version("cli", "effect")}`,
    `@effect/platform-node@${version("cli", "@effect/platform-node")}`
  ], { cwd: project, env })
  assert.strictEqual(install.code, 0, show("npm install", install))
})

describe("install: the packed packages in a plain npm project", () => {
  it("release:pack packs the six published packages: real ranges, no workspace-only condition, the fields set", () => {
    const workspaceVersions = new Map(
      published.map((name) => {
        const pkg = readJson(path.join(root, "packages", name, "package.json"))
        return [text(member(pkg, "name")), text(member(pkg, "version"))] as const
      })
    )
    for (const name of published) {
      const { unpacked } = tarballs.get(name) as { readonly unpacked: string }
      const raw = fs.readFileSync(path.join(unpacked, "package.json"), "utf8")
      const pkg = parse(raw)
      assert.strictEqual(member(pkg, "name"), `@calybris/${name}`)
      assert.notInclude(raw, "workspace:", `${name}: every range is a real one`)
      assert.notInclude(raw, "@calybris/source", `${name}: the workspace's source condition is not published`)
      assert.isUndefined(member(pkg, "private"), `${name} is not private`)
      assert.match(text(member(pkg, "version")), /^\d+\.\d+\.\d+$/)
      assert.strictEqual(member(pkg, "license"), "Apache-2.0")
      assert.match(text(member(pkg, "repository", "url")), /^git\+https:\/\/github\.com\/.+\.git$/)
      assert.strictEqual(member(pkg, "repository", "directory"), `packages/${name}`)
      assert.strictEqual(
        Json.print(member(pkg, "files") ?? null),
        name === "cli" ? `["bin/calybris.mjs","dist","src"]` : `["dist","src"]`
      )
      // Effect is the application's: a peer, never a copy of our own (two copies of effect in one
      // program do not share their services)
      assert.isUndefined(member(pkg, "dependencies", "effect"), `${name}: effect is not a dependency`)
      assert.strictEqual(member(pkg, "peerDependencies", "effect"), `^${version(name, "effect")}`, name)
      assert.isDefined(member(pkg, "sideEffects"))
      assert.strictEqual(member(pkg, "engines", "node"), ">=20.19.0")
      assert.strictEqual(member(pkg, "type"), "module")
      assert.strictEqual(member(pkg, "exports", "./internal/*"), null, `${name}: internal/* stays closed`)
      // the bin's module runs the CLI when imported: never a public module (a helper's review: a
      // program importing it ran calybris with its own arguments, and exited with its code)
      if (name === "cli") assert.strictEqual(member(pkg, "exports", "./bin"), null, "cli: ./bin stays closed")
      // the declarations found under the older moduleResolution "node" too
      assert.strictEqual(
        Json.print(member(pkg, "typesVersions") ?? null),
        `{"*":{"internal/*":["./internal-modules-are-not-public"],"*":["./dist/*.d.ts"]}}`,
        name
      )
      assert.strictEqual(
        Json.print(member(pkg, "exports", "./*") ?? null),
        `{"types":"./dist/*.d.ts","default":"./dist/*.js"}`
      )
      // @calybris dependencies name exactly the versions packed alongside
      const dependencies = member(pkg, "dependencies")
      if (dependencies === undefined || !Json.isObject(dependencies)) return assert.fail(`${name}: no dependencies`)
      for (const [dependency, range] of dependencies) {
        if (dependency.startsWith("@calybris/")) {
          assert.strictEqual(range, workspaceVersions.get(dependency), dependency)
        }
      }
    }
    // nothing publishable is left out: every workspace package but these is private (test support)
    for (const dir of ["packages/testing", "test", "bench"]) {
      assert.strictEqual(member(readJson(path.join(root, dir, "package.json")), "private"), true, dir)
    }
    for (const dir of fs.readdirSync(path.join(root, "packages"))) {
      const pkg = readJson(path.join(root, "packages", dir, "package.json"))
      if (member(pkg, "private") !== true) assert.include(published, dir, `packages/${dir} is published: pack it`)
    }
  })

  it("each tarball holds its manifest, dist and the sources its source maps name: no tests, no build state", () => {
    for (const name of published) {
      const { unpacked } = tarballs.get(name) as { readonly unpacked: string }
      const files = walk(unpacked)
      for (const file of files) {
        assert.match(
          file,
          /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/.+|src\/.+|bin\/calybris\.mjs)$/,
          `${name}: ${file}`
        )
        assert.notMatch(file, /(^|\/)(test|tests|__tests__|examples)\/|\.test\.|\.spec\.|tsbuildinfo/, file)
        assert.notInclude(file, "calybris-dev")
      }
      assert.include(files, "LICENSE", `${name}: the license text is packed`)
      assert.include(files, "README.md", `${name}: its README (the registry's page) is packed`)
      // every source map's sources are in the tarball, and every source is named by a map
      const named = new Set<string>()
      const maps = files.filter((file) => file.endsWith(".map"))
      assert.isAbove(maps.length, 0)
      for (const map of maps) {
        const json = readJson(path.join(unpacked, map))
        const sources = member(json, "sources")
        assert.isTrue(Array.isArray(sources), `${name}/${map} names its sources`)
        if (Array.isArray(sources) && sources.length === 0) {
          // a map with no source is only right for a chunk of the bin's bundle that holds no code of
          // its own: it re-exports a module the bundler moved into a shared chunk
          const code = fs.readFileSync(path.join(unpacked, map.replace(/\.map$/, "")), "utf8")
            .split("\n").filter((line) => !line.startsWith("//# sourceMappingURL="))
            // the bundle's banner (a `require` for CommonJS dependencies), then imports and exports only
            .join("\n").replace(/^import \{ createRequire as __calybrisRequire \}.*\n/, "")
          assert.isTrue(map.startsWith("dist/bundle/"), `${name}/${map} names no source`)
          assert.match(code, /^(\s*(import[^;]*|export\{[^}]*\});?)*\s*$/, `${name}/${map}: no source, yet code`)
        }
        const contents = member(json, "sourcesContent")
        for (const [i, source] of (Array.isArray(sources) ? sources : []).entries()) {
          const resolved = path.join(path.dirname(map), String(member(json, "sourceRoot") ?? ""), text(source))
          // the bin's bundle (dist/bundle) embeds what it maps from other packages (Effect, core, wal,
          // budget): such a source is carried by the map itself, not a file of this tarball
          const embedded = map.startsWith("dist/bundle/") && !resolved.startsWith("src/") &&
            Array.isArray(contents) && typeof contents[i] === "string"
          if (embedded) continue
          assert.include(files, resolved, `${name}/${map}: source ${String(source)} is in the tarball`)
          named.add(resolved)
        }
      }
      for (const file of files.filter((file) => file.startsWith("src/"))) {
        assert.isTrue(named.has(file), `${name}: ${file} is packed but no source map names it`)
      }
      // the bundle's third-party code travels with its notices (MIT and ISC ask it: a helper's review)
      if (name === "cli") {
        assert.include(files, path.normalize("dist/bundle/THIRD_PARTY_LICENSES.md"))
        const notices = fs.readFileSync(path.join(unpacked, "dist/bundle/THIRD_PARTY_LICENSES.md"), "utf8")
        for (const bundled of ["## effect ", "## @effect/cli ", "## pg ", "## @noble/hashes "]) {
          assert.include(notices, bundled)
        }
        assert.include(notices, "Permission is hereby granted")
        // a notice for each package, from its README where it has no license file (pg-types, pgpass)
        assert.notInclude(notices, "no license file")
        assert.match(notices, /## pgpass [^\n]+\n\n```\n\(from its README\)\n\nCopyright/)
      }
      // the bin is in the tarball
      const bin = member(readJson(path.join(unpacked, "package.json")), "bin")
      for (const [, target] of bin !== undefined && Json.isObject(bin) ? bin : []) {
        assert.include(files, path.normalize(text(target)), `${name}: its bin ${String(target)}`)
      }
    }
  })

  it("npm publish --dry-run of each tarball is clean (exit 0, no warning)", async () => {
    // a registry that has never heard of @calybris (as before the first publish): npm asks it
    // whether the version exists, and publishes nothing with --dry-run
    const asked: Array<string> = []
    const registry = http.createServer((request, response) => {
      asked.push(`${request.method} ${request.url}`)
      response.writeHead(404, { "content-type": "application/json" }).end(`{"error":"not found"}`)
    })
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`
      // npm's configuration for this registry only (a token is required by publish, even dry)
      const npmrc = path.join(work, "publish.npmrc")
      fs.writeFileSync(npmrc, `registry=${url}\n${url.replace(/^http:/, "")}:_authToken=dry-run\n`)
      const env = { ...userEnv(), npm_config_userconfig: npmrc }
      for (const name of published) {
        const { tarball } = tarballs.get(name) as { readonly tarball: string }
        const result = await run("npm", ["publish", "--dry-run", "--fetch-retries=0", tarball], { cwd: work, env })
        assert.strictEqual(result.code, 0, show(`npm publish --dry-run ${name}`, result))
        assert.notMatch(`${result.stdout}\n${result.stderr}`, /npm (warn|WARN|error|ERR)/, show(name, result))
        assert.include(result.stdout, `+ @calybris/${name}@0.1.0`)
        assert.include(result.stderr, `Publishing to ${url} with tag latest and public access (dry-run)`)
      }
      assert.includeMembers(asked, published.map((name) => `GET /@calybris%2f${name}`))
      assert.isTrue(asked.every((request) => request.startsWith("GET ")), asked.join(", "))
    } finally {
      registry.close()
    }
  })

  it("the project is outside the workspace, and neither tsx nor TypeScript is installed", () => {
    assert.isTrue(path.relative(root, project).startsWith(".."), `${project} is outside ${root}`)
    for (let dir = path.dirname(project); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      assert.isFalse(fs.existsSync(path.join(dir, "pnpm-workspace.yaml")), `no workspace at ${dir}`)
      assert.isFalse(fs.existsSync(path.join(dir, "node_modules", "@calybris")), `no @calybris packages at ${dir}`)
    }
    for (const name of published) {
      const installed = path.join(project, "node_modules", "@calybris", name)
      assert.isFalse(fs.lstatSync(installed).isSymbolicLink(), `${installed} is a copy, not a link`)
    }
    const lock = parse(fs.readFileSync(path.join(project, "package-lock.json"), "utf8"))
    const packages = member(lock, "packages")
    const installed = packages !== undefined && Json.isObject(packages) ? [...packages.keys()] : []
    assert.isAbove(installed.length, 10)
    assert.includeMembers(installed, published.map((name) => `node_modules/@calybris/${name}`))
    for (const entry of installed) {
      assert.notMatch(entry, /(^|\/)node_modules\/(typescript|tsx|@calybris\/testing)$/, entry)
    }
    // one effect and one @effect/platform in the whole tree: the application's
    for (const shared of ["effect", "@effect/platform"]) {
      assert.deepStrictEqual(installed.filter((entry) => entry.endsWith(`node_modules/${shared}`)), [
        `node_modules/${shared}`
      ])
    }
  })

  it("the README's library example runs under plain node against the installed packages", async () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    // the README's Install section installs what this test installed
    for (const dependency of ["effect", "@effect/platform-node"]) {
      assert.include(readme, `${dependency}@${version("cli", dependency)}`)
    }
    const cwd = path.join(work, "example")
    fs.mkdirSync(cwd)
    fs.writeFileSync(path.join(project, "gateway.mjs"), readmeExample())
    // run from another folder than the project's: the journal goes to the working directory
    const result = await run(process.execPath, [path.join(project, "gateway.mjs")], { cwd, env: userEnv() })
    assert.strictEqual(result.code, 0, show("node gateway.mjs", result))
    const lines = result.stdout.trimEnd().split("\n")
    assert.strictEqual(lines.length, 3, result.stdout)
    assert.match(lines[0] ?? "", /^Admitted: \{"request_sequence":1,"action":"ExecuteRequested",.*"policy_epoch":7,/)
    assert.match(lines[1] ?? "", /^conserved: \{"ledger_digest_hex":"[0-9a-f]{64}","snapshot_version":1,/)
    assert.include(lines[1], "\"total_committed_microcents\":1200,")
    assert.strictEqual(lines[2], "audited: 1 admitted decision(s) replayed bit for bit")
    assert.deepStrictEqual(fs.readdirSync(cwd), ["ledger.jsonl"])
  })

  it("npx calybris demo runs from the installed CLI, and its journal verifies with npx calybris wal verify", async () => {
    const env = userEnv()
    // --no: the installed bin or nothing (never a package of that name from the registry); after
    // `--`, flags such as --version are the command's, not npx's own
    const calybris = (...args: ReadonlyArray<string>) =>
      run("npx", ["--no", "--", "calybris", ...args], { cwd: project, env })
    const [versionLine, demo] = await Promise.all([calybris("--version"), calybris("demo", "--dir", "demo-run")])
    assert.strictEqual(versionLine.code, 0, show("calybris --version", versionLine))
    assert.match(versionLine.stdout, /^\S*\s*0\.1\.0\n$/)
    assert.strictEqual(demo.code, 0, show("calybris demo", demo))
    for (const expected of ["verified: 14 journal entries, chain intact (HMAC-SHA256)", "audited:", "balanced:"]) {
      assert.include(demo.stdout, expected)
    }
    const dir = path.join(project, "demo-run")
    const verify = await calybris(
      "wal",
      "verify",
      path.join(dir, "journal.jsonl"),
      "--key-file",
      "demo-run/journal.key"
    )
    assert.strictEqual(verify.code, 0, show("calybris wal verify", verify))
    assert.match(verify.stdout, /^ok: 14 entries verified \(HMAC-SHA256\), last hash [0-9a-f]{64}/)
    // the bin npx ran is the installed package's
    const bin = member(readJson(path.join(project, "node_modules/@calybris/cli/package.json")), "bin", "calybris")
    assert.strictEqual(
      fs.realpathSync(path.join(project, "node_modules/.bin/calybris")),
      path.join(fs.realpathSync(project), "node_modules/@calybris/cli", text(bin))
    )
  })

  it("@calybris/tlog's dist verifies real checkpoints and a Rekor inclusion proof under node; npx calybris log verify agrees", async () => {
    // real logs' data, copied from shared/tlog-vectors with its provenance
    const fixture = readJson(path.join(root, "packages/tlog/test/fixtures/real-logs.json"))
    const field = (...keys: ReadonlyArray<string>) => text(member(fixture, ...keys))
    const proof = member(fixture, "rekor", "proofHex")
    assert.isTrue(Array.isArray(proof))
    const logs = {
      sumdb: { note: field("sumdb", "note"), vkey: field("sumdb", "vkey") },
      rekor: {
        note: field("rekor", "note"),
        vkey: field("rekor", "vkey"),
        leafIndex: field("rekor", "leafIndex"),
        leafHex: field("rekor", "leafHex"),
        proofHex: (proof as Array<Json.Json>).map((hash) => text(hash))
      }
    }
    // an auditor's script: only public keys, the published modules, and the application's effect
    fs.writeFileSync(
      path.join(project, "audit.mjs"),
      `import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"

const logs = ${JSON.stringify(logs)}
const bytes = (hex) => Either.getOrThrow(Encoding.decodeHex(hex))
const verify = (note, vkeys) =>
  Either.flatMap(Either.all(vkeys.map(Checkpoint.parseVerifierKey)), (keys) => Checkpoint.verifyCheckpoint(note, keys))
const answer = (result, ok) =>
  Either.isRight(result) ? ok(result.right) : ["refused", result.left._tag, result.left.reason].filter(Boolean).join(" ")

console.log("sumdb", answer(verify(logs.sumdb.note, [logs.sumdb.vkey]), (v) => \`\${v.checkpoint.size} \${v.signers}\`))
console.log("sumdb forged", answer(verify(logs.sumdb.note.replace("6476701", "6476702"), [logs.sumdb.vkey]), () => "accepted"))
const rekor = Either.getOrThrow(verify(logs.rekor.note, [logs.rekor.vkey])).checkpoint
const leaf = Merkle.hashLeaf(bytes(logs.rekor.leafHex))
const proof = logs.rekor.proofHex.map(bytes)
const index = BigInt(logs.rekor.leafIndex)
console.log("rekor", rekor.size, answer(Merkle.verifyInclusion(leaf, index, rekor.size, proof, rekor.root), () => "included"))
console.log("rekor other index", answer(Merkle.verifyInclusion(leaf, index - 1n, rekor.size, proof, rekor.root), () => "included"))
console.log(import.meta.resolve("@calybris/tlog/Merkle"))
`
    )
    const result = await run(process.execPath, [path.join(project, "audit.mjs")], { cwd: project, env: userEnv() })
    assert.strictEqual(result.code, 0, show("node audit.mjs", result))
    const merkle = pathToFileURL(path.join(fs.realpathSync(project), "node_modules/@calybris/tlog/dist/Merkle.js")).href
    assert.strictEqual(
      result.stdout,
      [
        "sumdb 6476701 sum.golang.org+033de0ae",
        "sumdb forged refused NoteInvalidSignature",
        "rekor 547662n included",
        "rekor other index refused MerkleError root-mismatch",
        merkle,
        ""
      ].join("\n")
    )
    // the installed CLI verifies the same checkpoint with the same public key (tlog is its dependency)
    fs.writeFileSync(path.join(project, "sumdb.note"), logs.sumdb.note)
    const env = userEnv()
    const verified = await run(
      "npx",
      ["--no", "--", "calybris", "log", "verify", "--vkey", logs.sumdb.vkey, "--checkpoint", "sumdb.note"],
      { cwd: project, env }
    )
    assert.strictEqual(verified.code, 0, show("calybris log verify", verified))
    assert.include(verified.stdout, "\"go.sum database tree\" size 6476701")
    fs.writeFileSync(path.join(project, "forged.note"), logs.sumdb.note.replace("6476701", "6476702"))
    const forged = await run(
      "npx",
      ["--no", "--", "calybris", "log", "verify", "--vkey", logs.sumdb.vkey, "--checkpoint", "forged.note"],
      { cwd: project, env }
    )
    assert.strictEqual(forged.code, 1, show("calybris log verify (forged)", forged))
  })

  it("every public module imports under node; internal ones are not exported", async () => {
    const modules = published.flatMap((name) => {
      const { unpacked } = tarballs.get(name) as { readonly unpacked: string }
      const sideEffects = member(readJson(path.join(unpacked, "package.json")), "sideEffects")
      const effectful = Array.isArray(sideEffects) ? sideEffects.map((file) => path.normalize(text(file))) : []
      return fs.readdirSync(path.join(unpacked, "dist"))
        .filter((file) => file.endsWith(".js") && !effectful.includes(path.join("dist", file)))
        .map((file) => `@calybris/${name}/${file.slice(0, -".js".length)}`)
    })
    assert.include(modules, "@calybris/core/Kernel")
    const script = `
      const modules = ${JSON.stringify(modules)}
      for (const m of modules) await import(m)
      const Kernel = await import("@calybris/core/Kernel")
      console.log(typeof Kernel.prescribe, import.meta.resolve("@calybris/core/Kernel"))
      try { await import("@calybris/core/internal/codec"); console.log("internal imported") }
      catch (error) { console.log(error.code) }
      try { await import("@calybris/cli/bin"); console.log("bin imported") }
      catch (error) { console.log(error.code) }`
    const result = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, env: userEnv() })
    assert.strictEqual(result.code, 0, show("import", result))
    const kernel = pathToFileURL(path.join(fs.realpathSync(project), "node_modules/@calybris/core/dist/Kernel.js")).href
    assert.strictEqual(
      result.stdout,
      `function ${kernel}\nERR_PACKAGE_PATH_NOT_EXPORTED\nERR_PACKAGE_PATH_NOT_EXPORTED\n`
    )
  })

  it.skipIf(Postgres.databaseUrl() === undefined)(
    "@calybris/budget-pg runs under node against PostgreSQL: migrate, reserve (a retry under its id answered the same), commit",
    async () => {
      // its dependencies resolve from the project: @effect/sql and @effect/sql-pg (with pg), effect as the peer
      fs.writeFileSync(
        path.join(project, "ledger-pg.mjs"),
        `import * as PgOperations from "@calybris/budget-pg/PgOperations"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

const program = Effect.gen(function*() {
  const applied = yield* PgSchema.migrate
  const tenant = TenantId.make("acme")
  yield* PgOperations.ensureTenant(Command.ensureTenant(tenant, Microcents.make(1_000n)))
  const hold = Command.reserve(tenant, Microcents.make(300n), { operation_id: "request-1" })
  const reserved = yield* PgOperations.reserve(hold)
  const again = yield* PgOperations.reserve(hold)
  const committed = yield* PgOperations.commit(Command.commit(reserved.reservation_id, Microcents.make(250n)))
  const balances = yield* PgOperations.tenantBalances(tenant)
  // every migration the package ships applied, on a fresh database
  console.log(applied.length === Object.keys(PgSchema.migrations).length, reserved._tag, again.reservation_id === reserved.reservation_id, committed._tag,
    balances.remaining, balances.committed)
})
await Effect.runPromise(program.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(process.env.DATABASE_URL) }))))
`
      )
      const result = await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(
            Postgres.makeDatabase,
            (database) =>
              Effect.promise(() =>
                run(process.execPath, [path.join(project, "ledger-pg.mjs")], {
                  cwd: project,
                  env: { ...userEnv(), DATABASE_URL: database.url }
                })
              )
          )
        )
      )
      assert.strictEqual(result.code, 0, show("node ledger-pg.mjs", result))
      assert.strictEqual(result.stdout, "true Reserved true Committed 750n 250n\n")
      // the pg driver is budget-pg's dependency, installed with it (not the workspace's)
      const resolved = await run(process.execPath, [
        "--input-type=module",
        "-e",
        `console.log(import.meta.resolve("@effect/sql-pg/PgClient"), import.meta.resolve("@effect/sql/SqlClient"))`
      ], { cwd: project, env: userEnv() })
      assert.strictEqual(resolved.code, 0, show("resolve", resolved))
      for (const url of resolved.stdout.trim().split(" ")) {
        assert.isTrue(url.startsWith(pathToFileURL(fs.realpathSync(project)).href + "/node_modules/@effect/"), url)
      }
    }
  )

  it("the installed packages' types resolve (nodenext, and node10 through typesVersions): the README's example type-checks, internal paths do not", async () => {
    fs.writeFileSync(
      path.join(project, "types.mts"),
      `import { Microcents } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Kernel from "@calybris/core/Kernel"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Wal from "@calybris/wal/Wal"
// a proof's size and index are u64 as bigint: a number is a type error
// @ts-expect-error
export const lossy = Merkle.verifyInclusion(new Uint8Array(32), 0, 1n, [], new Uint8Array(32))
export const layer = Ledger.layerJournalMemory({ key: new Uint8Array(32) })
export const prescribe: typeof Kernel.prescribe = Kernel.prescribe
export const wal = Wal.layerMemory
// real types, not \`any\`: an amount is not a reservation id
// @ts-expect-error
export const swapped = Ledger.commit(Microcents.make(1_200n), Microcents.make(1n))
`
    )
    fs.writeFileSync(path.join(project, "gateway.mjs"), readmeExample())
    fs.writeFileSync(path.join(project, "internal.mts"), `export * from "@calybris/core/internal/codec"\n`)
    const tsconfig = {
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        allowJs: true,
        checkJs: true,
        // the Node typings the packages' declarations refer to (from this workspace: a TypeScript user has them)
        types: ["node"],
        typeRoots: [path.join(root, "node_modules", "@types")]
      },
      files: ["gateway.mjs", "types.mts", "internal.mts"]
    }
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(tsconfig))
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
    const result = await run(process.execPath, [tsc, "-p", "tsconfig.json", "--pretty", "false"], {
      cwd: project,
      env: userEnv()
    })
    const errors = result.stdout.trimEnd().split("\n")
    assert.strictEqual(result.code, 2, show("tsc", result))
    assert.strictEqual(errors.length, 1, result.stdout)
    assert.match(
      errors[0] ?? "",
      /^internal\.mts\(1,15\): error TS2307: Cannot find module '@calybris\/core\/internal\/codec'/
    )
    // the older `node` resolution (node10), through typesVersions: the public modules resolve, an
    // internal one does not (it type-checked, then failed at run time: a hostile review)
    fs.writeFileSync(
      path.join(project, "types10.ts"),
      `import * as Kernel from "@calybris/core/Kernel"
import * as Wal from "@calybris/wal/Wal"
export const prescribe: typeof Kernel.prescribe = Kernel.prescribe
export const wal = Wal.layerMemory
`
    )
    fs.writeFileSync(path.join(project, "internal10.ts"), `export * from "@calybris/wal/internal/lock"\n`)
    fs.writeFileSync(
      path.join(project, "tsconfig.node10.json"),
      JSON.stringify({
        compilerOptions: { ...tsconfig.compilerOptions, module: "commonjs", moduleResolution: "node10" },
        files: ["types10.ts", "internal10.ts"]
      })
    )
    const node10 = await run(process.execPath, [tsc, "-p", "tsconfig.node10.json", "--pretty", "false"], {
      cwd: project,
      env: userEnv()
    })
    const errors10 = node10.stdout.trimEnd().split("\n")
    assert.strictEqual(node10.code, 2, show("tsc node10", node10))
    assert.strictEqual(errors10.length, 1, node10.stdout)
    assert.match(
      errors10[0] ?? "",
      /^internal10\.ts\(1,15\): error TS2307: Cannot find module '@calybris\/wal\/internal\/lock'/
    )
  })
})
