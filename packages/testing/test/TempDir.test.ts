import * as TempDir from "@calybris/testing/TempDir"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// made in the tests below, looked for once this file's `afterAll`s ran (vitest.setup.ts's first)
const made: Array<string> = []
const keep = process.env["CALYBRIS_TEST_KEEP"]

afterAll(() => {
  // registered after vitest.setup.ts's, so run before it (`afterAll`s run last-registered first):
  // the folder made for this check is still there, and is removed next, with the others
  const last = made.at(-1)
  assert.isDefined(last)
  assert.isTrue(fs.existsSync(last as string))
})

describe("TempDir", () => {
  it("makes a folder in the temp folder, with the prefix, and removeAll removes it with its files", () => {
    const dir = TempDir.make("calybris-tempdir-")
    assert.strictEqual(path.dirname(dir), os.tmpdir())
    assert.isTrue(path.basename(dir).startsWith("calybris-tempdir-"))
    const file = TempDir.file("calybris-tempdir-", "journal.jsonl")
    assert.strictEqual(path.basename(file), "journal.jsonl")
    fs.writeFileSync(file, "x")
    fs.mkdirSync(path.join(dir, "nested"))
    fs.writeFileSync(path.join(dir, "nested", "y"), "y")
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-tempdir-mine-"))
    TempDir.register(outside)
    delete process.env["CALYBRIS_TEST_KEEP"]
    try {
      TempDir.removeAll()
    } finally {
      if (keep !== undefined) process.env["CALYBRIS_TEST_KEEP"] = keep
    }
    for (const gone of [dir, path.dirname(file), outside]) assert.isFalse(fs.existsSync(gone), gone)
    // forgotten once removed: a second call has nothing to do
    TempDir.removeAll()
  })

  it("a folder that cannot be removed does not stop the others: the first failure is thrown after them", () => {
    const first = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-tempdir-"))
    const file = path.join(first, "a-file")
    fs.writeFileSync(file, "x")
    // a path under a file, registered before the folder holding the file: rmSync fails (ENOTDIR)
    TempDir.register(path.join(file, "child"))
    TempDir.register(first)
    const last = TempDir.make("calybris-tempdir-")
    delete process.env["CALYBRIS_TEST_KEEP"]
    try {
      assert.throws(() => TempDir.removeAll(), /ENOTDIR/)
    } finally {
      if (keep !== undefined) process.env["CALYBRIS_TEST_KEEP"] = keep
    }
    assert.isFalse(fs.existsSync(first))
    assert.isFalse(fs.existsSync(last))
  })

  it("registers only folders inside the temp folder: anything else throws, and nothing is registered", () => {
    for (const outside of [os.tmpdir(), path.dirname(os.tmpdir()), "/", ".", path.join(os.tmpdir(), "..", "x")]) {
      assert.throws(() => TempDir.register(outside), /not inside the temp folder/, outside)
    }
    const inside = TempDir.make("calybris-tempdir-")
    delete process.env["CALYBRIS_TEST_KEEP"]
    try {
      TempDir.removeAll()
    } finally {
      if (keep !== undefined) process.env["CALYBRIS_TEST_KEEP"] = keep
    }
    assert.isFalse(fs.existsSync(inside))
  })

  it("keeps the folders under CALYBRIS_TEST_KEEP=1", () => {
    const dir = TempDir.make("calybris-tempdir-")
    process.env["CALYBRIS_TEST_KEEP"] = "1"
    try {
      assert.isTrue(TempDir.keep())
      TempDir.removeAll()
      assert.isTrue(fs.existsSync(dir))
    } finally {
      if (keep === undefined) delete process.env["CALYBRIS_TEST_KEEP"]
      else process.env["CALYBRIS_TEST_KEEP"] = keep
    }
    // still registered: removed after this file by vitest.setup.ts's afterAll
    made.push(TempDir.make("calybris-tempdir-last-"))
  })
})
