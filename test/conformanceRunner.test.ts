/**
 * The conformance runner's own promise: a larger, unseen set in the same format is judged by the
 * specs' rules, not by the public files' ids, notes, names or line order. Each test adds to a copy
 * of a public file a case of a kind the public files lack (or hold under another id), and checks
 * that the runner passes it — and that a case a correct implementation must fail still fails it.
 * The files are edited through our lossless `Json` (objects are `Map`s); the WAL sidecar as text.
 */
import * as Json from "@calybris/core/Json"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runKernel } from "./conformance/kernel.js"
import { readsLossily, referenceParse } from "./conformance/lossyFloat.js"
import { runnerFor } from "./conformance/runners.js"
import { runConsistency, runInclusion } from "./conformance/tlogMerkle.js"
import { runCheckpoints, runCosignatures, runSignedNotes } from "./conformance/tlogNotes.js"
import { runTiles } from "./conformance/tlogTiles.js"
import type { FileResult } from "./conformance/vectors.js"
import { runWalSample } from "./conformance/wal.js"

const shared = path.resolve(import.meta.dirname, "../../shared")
const tlogVectors = path.join(shared, "tlog-vectors")
const walVectors = path.join(shared, "conformance/wal")

type Case = Map<string, Json.Json>

/** A JSON object of the vectors (a `Map`, mutable: our parser builds plain `Map`s), checked. */
const object = (value: Json.Json | undefined): Case => {
  if (!(value instanceof Map)) throw new Error("not an object")
  return value as Case
}
/** A JSON array of the vectors (mutable), checked. */
const array = (value: Json.Json | undefined): Array<Json.Json> => {
  if (!Array.isArray(value)) throw new Error("not an array")
  return value as Array<Json.Json>
}

/** A temp copy of the tlog vector `name` (and merkle-roots.json beside it) after `edit`; the runner's result. */
const runEdited = (name: string, run: (file: string) => FileResult, edit: (doc: Case) => void): FileResult => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-runner-"))
  try {
    fs.copyFileSync(path.join(tlogVectors, "merkle-roots.json"), path.join(dir, "merkle-roots.json"))
    const doc = object(Either.getOrThrow(Json.parse(fs.readFileSync(path.join(tlogVectors, name), "utf8"))))
    edit(doc)
    fs.writeFileSync(path.join(dir, name), Json.print(doc))
    return run(path.join(dir, name))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const cases = (doc: Case, key: string): Array<Case> => array(doc.get(key)).map(object)
const push = (doc: Case, key: string, ...added: Array<Case | Record<string, Json.Json>>) =>
  array(doc.get(key)).push(...added.map((c) => c instanceof Map ? c : new Map(Object.entries(c))))
/** A deep copy of `c` (through the printer and the parser) with `changes`. */
const clone = (c: Case, changes: Record<string, Json.Json>): Case => {
  const copy = object(Either.getOrThrow(Json.parse(Json.print(c))))
  for (const [k, v] of Object.entries(changes)) copy.set(k, v)
  return copy
}
const passes = (result: FileResult) => assert.deepStrictEqual([result.failed, result.failures], [0, []])
const failsWith = (result: FileResult, text: string) => {
  assert.strictEqual(result.failed, 1, result.failures.join("\n"))
  assert.include(result.failures.join("\n"), text)
}
const root32 = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString("base64")

describe.skipIf(!fs.existsSync(tlogVectors))("conformance runner: tlog vectors it has not seen", () => {
  it("a real inclusion proof under an id the public files do not use passes (verified only: its tree is unknown)", () => {
    passes(runEdited("inclusion.json", runInclusion, (doc) => {
      const rekor = cases(doc, "cases").find((c) =>
        String(c.get("id")).startsWith("rekor-v2:") && c.get("valid") === true
      )
      push(doc, "cases", clone(object(rekor), { id: "sumdb:a-real-proof-under-another-id" }))
    }))
  })

  it("a proof called valid but corrupted still fails the runner", () => {
    failsWith(
      runEdited("inclusion.json", runInclusion, (doc) => {
        const rekor = object(
          cases(doc, "cases").find((c) => String(c.get("id")).startsWith("rekor-v2:") && c.get("valid") === true)
        )
        const proof = array(rekor.get("proof")).map(String)
        proof[0] = (proof[0]?.startsWith("0") ? "1" : "0") + (proof[0] ?? "").slice(1)
        push(doc, "cases", clone(rekor, { id: "x:corrupted", proof }))
      }),
      "x:corrupted: valid proof refused"
    )
  })

  it("a probe named for a short hash but whose hashes are all 32 bytes only has to be refused", () => {
    passes(runEdited("inclusion.json", runInclusion, (doc) => {
      const probe = object(cases(doc, "cases").find((c) => c.get("id") === "td:1/wrong-leaf"))
      push(doc, "cases", clone(probe, { id: "td:9/wrong-leaf", leafHash: "ab".repeat(32) }))
    }))
  })

  it("a probe named for a short hash that is refused for another reason still fails the runner", () => {
    failsWith(
      runEdited("inclusion.json", runInclusion, (doc) => {
        const probe = object(cases(doc, "cases").find((c) => c.get("id") === "td:1/wrong-leaf"))
        push(doc, "cases", clone(probe, { id: "td:9/wrong-leaf", leafIndex: 99, treeSize: 3 }))
      }),
      "td:9/wrong-leaf: refused for index-out-of-range, not for the stated hash-length"
    )
  })

  it("short roots called valid under another id are refused as hash-length, the README's flagged policy", () => {
    passes(runEdited("consistency.json", runConsistency, (doc) => {
      const flagged = cases(doc, "cases").find((c) =>
        c.get("id") === "td:additional/sizes-are-equal-one-and-proof-is-empty"
      )
      push(
        doc,
        "cases",
        clone(object(flagged), {
          id: "td:additional/two-short-roots",
          size1: 2,
          size2: 2,
          root1: "ab".repeat(5),
          root2: "ab".repeat(5)
        })
      )
    }))
  })

  it("checkpoint bodies are judged by C2SP's rules, not by the vector's note", () => {
    passes(runEdited("checkpoints.json", runCheckpoints, (doc) => {
      push(
        doc,
        "bodyParsing",
        {
          body: `Log\n9944\n${root32}\nan extension line\n`,
          validPerTransparencyDevFormats: true,
          note: "one extension, a 32-byte root"
        },
        { body: `Log\n0123\n${root32}\n`, validPerTransparencyDevFormats: false, note: "a leading zero" },
        { body: `Log\n5\n${root32}\n\n`, validPerTransparencyDevFormats: true, note: "a trailing blank line" },
        {
          body: `Log\n5\n${root32.slice(0, -2)}B=\n`,
          validPerTransparencyDevFormats: true,
          note: "non-canonical base64"
        }
      )
    }))
  })

  it("a checkpoint body the runner's rules and the parser judge apart fails the runner", () => {
    // formats refuses it, yet no C2SP rule does: the vector is suspect, and the runner says so
    failsWith(
      runEdited("checkpoints.json", runCheckpoints, (doc) => {
        push(doc, "bodyParsing", {
          body: `Log\n5\n${root32}\n`,
          validPerTransparencyDevFormats: false,
          note: "odd"
        })
      }),
      "no C2SP rule refuses it"
    )
  })

  it("the keys a note verified are compared as a set: a vector listing them in another order passes", () => {
    passes(runEdited("signed-notes.json", runSignedNotes, (doc) => {
      for (const note of cases(doc, "notes")) {
        const expect = object(note.get("expect"))
        const verified = expect.get("verified")
        if (Array.isArray(verified)) expect.set("verified", [...verified].reverse())
      }
    }))
    passes(runEdited("checkpoints.json", runCheckpoints, (doc) => {
      for (const checkpoint of cases(doc, "checkpoints")) {
        const expect = object(checkpoint.get("expect"))
        const verified = expect.get("verified")
        if (Array.isArray(verified)) expect.set("verified", [...verified].reverse())
      }
    }))
  })

  it("a key missing from a note's verified keys still fails the runner", () => {
    failsWith(
      runEdited("signed-notes.json", runSignedNotes, (doc) => {
        const both = object(cases(doc, "notes").find((n) => n.get("id") === "xmod:open-both-known"))
        object(both.get("expect")).set("verified", ["PeterNeumann+c74f20a3"])
      }),
      "note xmod:open-both-known: verified"
    )
  })

  it("cosignature lines in another order are judged by their content", () => {
    passes(runEdited("cosignatures.json", runCosignatures, (doc) => {
      const sigsum = object(cases(doc, "cases")[0])
      const lines = array(sigsum.get("signatureLines"))
      const reordered = clone(sigsum, {
        id: "sigsum:reordered",
        signatureLines: [3, 1, 0, 2].map((i) => lines[i] ?? null)
      })
      object(reordered.get("expect")).set("verifyingLineIndex", 1)
      push(doc, "cases", reordered)
    }))
  })

  it("a cosignature case naming the wrong verifying line still fails the runner", () => {
    failsWith(
      runEdited("cosignatures.json", runCosignatures, (doc) => {
        const wrong = clone(object(cases(doc, "cases")[0]), { id: "x:wrong-line" })
        object(wrong.get("expect")).set("verifyingLineIndex", 0)
        push(doc, "cases", wrong)
      }),
      "x:wrong-line"
    )
  })

  it("a tampered test-log checkpoint fails the runner (its signature is checked with the log's vkey)", () => {
    failsWith(
      runEdited("tiles.json", runTiles, (doc) => {
        const size6 = object(array(object(doc.get("testLog")).get("sizes"))[5])
        size6.set("checkpoint", String(size6.get("checkpoint")).slice(0, -6) + "AAAA=\n")
      }),
      "testLog size 6: checkpoint: invalid signature"
    )
  })
})

describe.skipIf(!fs.existsSync(walVectors))("conformance runner: WAL samples it has not seen", () => {
  it("the reference's lossy-float break is found by the sample's content under any name (SPEC §8)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-runner-"))
    try {
      fs.copyFileSync(path.join(walVectors, "float-lossy-unkeyed.jsonl"), path.join(dir, "adversarial-ulp.jsonl"))
      const sidecar = fs.readFileSync(path.join(walVectors, "float-lossy-unkeyed.json"), "utf8")
      assert.include(sidecar, `"float-lossy-unkeyed.jsonl"`)
      fs.writeFileSync(
        path.join(dir, "adversarial-ulp.json"),
        sidecar.replace(`"float-lossy-unkeyed.jsonl"`, `"adversarial-ulp.jsonl"`)
      )
      const result = runWalSample(dir, "adversarial-ulp.json")
      passes(result)
      assert.isAbove(result.passed, 1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("conformance runner: file names", () => {
  it("a kind split over files (<stem>-<anything>.<ext>) gets its kind's runner; other names none", () => {
    assert.strictEqual(runnerFor("kernel.jsonl"), runKernel)
    assert.strictEqual(runnerFor("kernel-adversarial.jsonl"), runKernel)
    assert.strictEqual(runnerFor("kernel_2.jsonl"), runKernel)
    assert.strictEqual(runnerFor("consistency-large-trees.json"), runConsistency)
    assert.strictEqual(runnerFor("signed-notes-extra.json"), runSignedNotes)
    assert.strictEqual(runnerFor("kernel.json"), undefined)
    assert.strictEqual(runnerFor("kernel-x.json"), undefined)
    assert.strictEqual(runnerFor("provenance.json"), undefined)
    assert.strictEqual(runnerFor("manifest.json"), undefined)
  })
})

const kernelVectors = path.join(shared, "conformance/kernel.jsonl")

describe.skipIf(!fs.existsSync(kernelVectors))("conformance runner: kernel lines without the generator's extra", () => {
  it("a rejection after the scan without scan_rejections (the crate's zero counts only) is checked as far as it can be, never failed for our real counts (a review)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-runner-"))
    try {
      const lines = fs.readFileSync(kernelVectors, "utf8").split("\n").filter((l) => l !== "").slice(0, 400)
      let removed = 0
      const stripped = lines.map((l) =>
        l.replace(/,"scan_rejections":(null|\{[^{}]*\})/, () => {
          removed++
          return ""
        })
      )
      assert.strictEqual(removed, lines.length)
      assert.isTrue(stripped.some((l) => l.includes(`"action":"Reject"`)), "rejections among them")
      const file = path.join(dir, "kernel-noscan.jsonl")
      fs.writeFileSync(file, `${stripped.join("\n")}\n`)
      const result = runKernel(file)
      passes(result)
      assert.strictEqual(result.passed, lines.length)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("conformance runner: what it must not pass (reviews of the runner)", () => {
  const runner = path.resolve(import.meta.dirname, "conformance", "run.ts")
  const runFolder = (dir: string) =>
    spawnSync(process.execPath, ["--conditions=@calybris/source", "--import", "tsx", runner, dir], {
      encoding: "utf8",
      cwd: path.resolve(import.meta.dirname, "..")
    })
  const folder = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-runner-"))
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), text)
    }
    return dir
  }
  const kernelLine = fs.existsSync(kernelVectors) ? fs.readFileSync(kernelVectors, "utf8").split("\n")[0] ?? "" : ""

  it("the reference's float parse: the README's example reads one ulp off; 0.5 and 0.1 read exactly", () => {
    assert.strictEqual(referenceParse("1.602176634e-19"), 1.6021766340000001e-19)
    assert.isTrue(readsLossily(`{"price":1.602176634e-19}`))
    assert.isFalse(readsLossily(`{"price":0.5,"q":0.1,"s":"1.602176634e-19","n":-3}`))
    assert.strictEqual(referenceParse("1e-400"), 0)
    assert.isUndefined(referenceParse("1e400"))
  })

  it.skipIf(!fs.existsSync(walVectors))(
    "a break at an entry the reference reads exactly is not excused as a lossy float's",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-runner-"))
      try {
        fs.copyFileSync(path.join(walVectors, "float-lossy-unkeyed.jsonl"), path.join(dir, "float-lossy-unkeyed.jsonl"))
        const sidecar = object(
          Either.getOrThrow(Json.parse(fs.readFileSync(path.join(walVectors, "float-lossy-unkeyed.json"), "utf8")))
        )
        // the break moved to entry 1, whose record ({"price":0.5}) the reference reads exactly
        const check = object(array(sidecar.get("checks"))[0])
        const err = object(object(check.get("expected")).get("err"))
        err.set("sequence", 1)
        fs.writeFileSync(path.join(dir, "float-lossy-unkeyed.json"), Json.print(sidecar))
        const result = runWalSample(dir, "float-lossy-unkeyed.json")
        assert.strictEqual(result.failed, 1, result.failures.join("\n"))
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it("file names: <stem>.<anything>.<ext> is its stem's kind", () => {
    assert.strictEqual(runnerFor("kernel.holdout.jsonl"), runKernel)
  })

  it.skipIf(kernelLine === "")(
    "a folder run fails on a vector file it cannot check, on a run that checks nothing, and goes on past a line that does not parse",
    () => {
      const unknown = folder({ "kernel.jsonl": `${kernelLine}\n`, "mystery.json": "{}" })
      const nothing = folder({ "README.md": "notes" })
      const unlisted = folder({
        "wal-x/index.json": "{}",
        "wal-x/lonely.jsonl": "{}\n",
        "kernel.jsonl": `${kernelLine}\n`
      })
      const badLine = folder({ "budget.jsonl": "{\"case\":0,\"ops\":1e999}\n", "kernel.jsonl": `${kernelLine}\n` })
      try {
        for (
          const [dir, said] of [
            [unknown, ["mystery.json: skipped"]],
            [nothing, ["no vector checked"]],
            [unlisted, ["wal-x/lonely.jsonl: skipped"]],
            [badLine, ["budget.jsonl: 0 passed, 1 failed", "kernel.jsonl: 1 passed, 0 failed"]]
          ] as const
        ) {
          const r = runFolder(dir)
          assert.strictEqual(r.status, 1, r.stdout + r.stderr)
          for (const line of said) assert.include(r.stdout, line)
        }
      } finally {
        for (const dir of [unknown, nothing, unlisted, badLine]) fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it.skipIf(!fs.existsSync(walVectors))(
    "a log a sidecar names in a subfolder is checked with it, not counted again as unchecked",
    () => {
      const sidecar = fs.readFileSync(path.join(walVectors, "generic-keyed.json"), "utf8")
      assert.include(sidecar, `"generic-keyed.jsonl"`)
      const dir = folder({
        "wal/generic-keyed.json": sidecar.replace(`"generic-keyed.jsonl"`, `"logs/generic-keyed.jsonl"`),
        "wal/logs/generic-keyed.jsonl": fs.readFileSync(path.join(walVectors, "generic-keyed.jsonl"), "utf8")
      })
      try {
        const r = runFolder(dir)
        assert.strictEqual(r.status, 0, r.stdout + r.stderr)
        assert.notInclude(r.stdout, "skipped")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  it.skipIf(kernelLine === "")("a kernel line whose utilities do not cover its catalog fails", () => {
    const line = object(Either.getOrThrow(Json.parse(kernelLine)))
    line.set("utilities", array(line.get("utilities")).slice(1))
    const dir = folder({ "kernel.jsonl": `${Json.print(line)}\n` })
    try {
      const result = runKernel(path.join(dir, "kernel.jsonl"))
      assert.strictEqual(result.failed, 1)
      assert.include(result.failures.join("\n"), "pairs for")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
