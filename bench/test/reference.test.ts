import * as TempDir from "@calybris/testing/TempDir"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Reference from "../reference.js"
import { loadAll } from "../workloads/index.js"

const temp = (name: string, text: string): string => {
  const file = TempDir.file("calybris-bench-reference-", name)
  fs.writeFileSync(file, text)
  return file
}

const row = (name: string, unit: string, median: unknown) => ({ name, unit, median, runs: [median] })
const file = (results: ReadonlyArray<unknown>) =>
  JSON.stringify({ crate: "calybris-core 0.3.10 (commit e437ed1a2314c56187a18ae6495ae4a9c57bb05d)", results })

const invalid = (text: string): Reference.ReferenceInvalid => {
  const f = temp("reference.json", text)
  const loaded = Reference.load(f)
  assert.isTrue(Either.isLeft(loaded), "a bad file must not load")
  const error = Either.getLeft(loaded).pipe((o) => (o._tag === "Some" ? o.value : undefined))
  assert.instanceOf(error, Reference.ReferenceInvalid)
  assert.strictEqual(error.path, f)
  assert.include(error.message, f)
  return error
}

/** what the test reads of bench/results.json */
const Written = Schema.Struct({
  reference: Schema.Struct({ path: Schema.String, commit: Schema.String }),
  rows: Schema.Array(Schema.Struct({ name: Schema.String, reference: Schema.Number, ratio: Schema.Number }))
})

const run = fileURLToPath(new URL("../run.ts", import.meta.url))
/** `pnpm bench make_input [--write]` with that reference file (results to `results`) and a 1 ms sample */
const bench = (reference: string, write?: string, results?: string) =>
  spawnSync(
    process.execPath,
    ["--conditions=@calybris/source", "--import", "tsx", run, "make_input", ...(write === undefined ? [] : [write])],
    {
      cwd: path.dirname(run),
      encoding: "utf8",
      env: {
        ...process.env,
        BENCH_REFERENCE: reference,
        BENCH_RESULTS: results ?? "",
        BENCH_SAMPLE_MS: "1",
        BENCH_WARMUP_MS: "1"
      }
    }
  )

describe("bench reference", () => {
  it("resolves beside the repository whatever the working directory, or to $BENCH_REFERENCE", () => {
    const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
    assert.strictEqual(Reference.resolvePath({}), path.resolve(repo, "../shared/bench/reference-2026-12-03.json"))
    assert.strictEqual(Reference.resolvePath({ BENCH_REFERENCE: "/x/y.json" }), "/x/y.json")
  })

  it("today's reference file decodes, with its commit, and every row it shares with a workload has our unit", async () => {
    const reference = Either.getOrThrow(Reference.load())
    assert.strictEqual(reference.commit, "e437ed1a2314c56187a18ae6495ae4a9c57bb05d")
    const workloads = await loadAll()
    const shared = workloads.filter((w) => reference.rows.has(w.name))
    for (const name of ["prescribe/22_models", "input_digest", "decision_digest", "verify_wal_keyed"]) {
      assert.isTrue(shared.some((w) => w.name === name), `${name} has a reference row`)
    }
    for (const w of shared) {
      const median = Either.getOrThrow(Reference.medianOf(reference, w.name, w.unit))
      assert.strictEqual(median, reference.rows.get(w.name)?.median)
    }
  })

  it("a missing file fails naming it", () => {
    const f = path.join(os.tmpdir(), "calybris-no-such-reference.json")
    const loaded = Reference.load(f)
    assert.isTrue(Either.isLeft(loaded))
    if (Either.isLeft(loaded)) {
      assert.instanceOf(loaded.left, Reference.ReferenceUnreadable)
      assert.strictEqual(loaded.left.path, f)
      assert.include(loaded.left.message, f)
    }
  })

  it("an invalid file fails naming it and what is wrong", () => {
    invalid("{ not json")
    assert.include(invalid(JSON.stringify({ crate: "x" })).detail, "results")
    assert.include(invalid(file([row("prescribe/22_models", "ns/decision", "90")])).detail, "median")
    assert.include(invalid(file([row("prescribe/22_models", "ns/decision", -1)])).detail, "median")
    assert.include(invalid(file([row("prescribe/22_models", "ns/decision", 0)])).detail, "median")
    assert.include(invalid(file([{ name: "prescribe/22_models", median: 90 }])).detail, "unit")
    assert.include(
      invalid(file([row("input_digest", "ns/op", 96), row("input_digest", "ns/op", 97)])).detail,
      "input_digest appears twice"
    )
  })

  it("a row the reference lacks has no reference; one in another unit is an error naming both units", () => {
    const reference = Either.getOrThrow(
      Reference.decode("r.json", file([row("input_digest", "ns/op", 96), row("verify_wal_keyed", "us/entry", 5)]))
    )
    assert.deepStrictEqual(Reference.medianOf(reference, "policy_digest/22_models", "ns/op"), Either.right(null))
    assert.deepStrictEqual(Reference.medianOf(reference, "input_digest", "ns/op"), Either.right(96))
    const mismatch = Reference.medianOf(reference, "verify_wal_keyed", "entries/s")
    assert.isTrue(Either.isLeft(mismatch))
    if (Either.isLeft(mismatch)) {
      assert.instanceOf(mismatch.left, Reference.ReferenceUnitMismatch)
      assert.deepInclude(mismatch.left, {
        path: "r.json",
        workload: "verify_wal_keyed",
        ours: "entries/s",
        reference: "us/entry"
      })
      assert.include(mismatch.left.message, "verify_wal_keyed")
    }
  })

  it("pnpm bench prints the ratio of a row the reference file has, and records the file used", () => {
    const reference = temp("reference.json", file([row("make_input", "ns/op", 1e9)]))
    const results = path.join(path.dirname(reference), "results.json")
    const result = bench(reference, "--write", results)
    assert.strictEqual(result.status, 0, result.stderr)
    const line = result.stdout.split("\n").find((l) => l.startsWith("make_input ")) ?? ""
    // 1 s per input: far slower than ours, so a ratio far above 1
    assert.match(line, /\s1000000000\s+[\d.]+x$/)
    assert.include(result.stdout, `reference: ${reference}`)
    const written = Schema.decodeUnknownSync(Schema.parseJson(Written))(fs.readFileSync(results, "utf8"))
    assert.strictEqual(written.reference.path, reference)
    assert.strictEqual(written.reference.commit, "e437ed1a2314c56187a18ae6495ae4a9c57bb05d")
    assert.strictEqual(written.rows[0]?.reference, 1e9)
    assert.isAbove(written.rows[0]?.ratio ?? 0, 1)
  })

  it("pnpm bench stops before any run on a missing, invalid or unit-mismatched reference, naming the file", () => {
    const missing = path.join(os.tmpdir(), "calybris-no-such-reference.json")
    const bad = temp("bad.json", "[]")
    const mismatched = temp("mismatched.json", file([row("make_input", "us/entry", 5)]))
    for (const [f, expected] of [[missing, "cannot read"], [bad, "invalid"], [mismatched, "us/entry"]] as const) {
      const result = bench(f)
      assert.strictEqual(result.status, 1, result.stderr)
      assert.include(result.stderr, f)
      assert.include(result.stderr, expected)
      assert.notInclude(result.stdout, "make_input", "no workload ran")
    }
  })
})
