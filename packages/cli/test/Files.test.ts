import * as Files from "@calybris/cli/Files"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"

const encoder = new TextEncoder()

/** Feed the bytes to a splitter cut at the given offsets; the lines, and the first error's line. */
const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>) => {
  const splitter = new Files.LineSplitter("f.jsonl")
  const lines: Array<string> = []
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  let at = 0
  for (const cut of [...offsets, bytes.length]) {
    const { error, lines: got } = splitter.push(bytes.subarray(at, cut))
    lines.push(...got.map((l) => `${l.line}:${l.text}`))
    if (error !== undefined) return { lines, error: error.line }
    at = cut
  }
  const { error, lines: last } = splitter.end()
  lines.push(...last.map((l) => `${l.line}:${l.text}`))
  return { lines, error: error?.line }
}

describe("LineSplitter", () => {
  it.prop(
    "gives the same lines however the bytes are cut into chunks",
    [
      fc.array(fc.string({ unit: "grapheme" }).map((s) => s.replace(/[\r\n]/g, "")), { minLength: 1, maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 })
    ],
    ([texts, cuts]) => {
      const bytes = encoder.encode(texts.join("\n"))
      const expected = texts.map((t, i) => `${i + 1}:${t}`)
      // a final empty line is no line
      if (texts[texts.length - 1] === "") expected.pop()
      assert.deepStrictEqual(split(bytes, cuts), { lines: expected, error: undefined })
    }
  )

  it.prop(
    "gives every line before a line that is not UTF-8, however the bytes are cut",
    [fc.integer({ min: 0, max: 50 }), fc.array(fc.nat(), { maxLength: 30 })],
    ([good, cuts]) => {
      const head = encoder.encode(Array.from({ length: good }, (_, i) => `line ${i + 1}\n`).join(""))
      const bytes = new Uint8Array([...head, 0x7b, 0xff, 0x7d, 0x0a, ...encoder.encode("after\n")])
      const result = split(bytes, cuts)
      assert.deepStrictEqual(result.lines, Array.from({ length: good }, (_, i) => `${i + 1}:line ${i + 1}`))
      assert.strictEqual(result.error, good + 1)
    }
  )

  it("a line of the limit's length is read, one byte longer refused, wherever the chunks end (a CRLF's CR not counted)", () => {
    const max = Files.MAX_LINE_BYTES
    for (const [length, crlf] of [[max, true], [max, false], [max + 1, false], [max + 1, true]] as const) {
      const bytes = new Uint8Array(length + (crlf ? 2 : 1) + 2).fill(0x61)
      if (crlf) bytes[length] = 0x0d
      bytes[bytes.length - 3] = 0x0a
      bytes[bytes.length - 1] = 0x0a
      // cut: nowhere, just after the CR (or where it would be), and a byte before the line's end
      for (const cuts of [[], [length + 1], [length - 1]]) {
        const result = split(bytes, cuts)
        if (length === max) {
          assert.deepStrictEqual(result.error, undefined, `${length} ${crlf} ${cuts}`)
          assert.deepStrictEqual(result.lines.length, 2)
        } else {
          assert.deepStrictEqual(result, { lines: [], error: 1 }, `${length} ${crlf} ${cuts}`)
        }
      }
    }
  })

  it("joins a line spread over many chunks, and a CR before LF is not part of it", () => {
    const splitter = new Files.LineSplitter("f.jsonl")
    for (let i = 0; i < 1000; i++) assert.deepStrictEqual(splitter.push(encoder.encode("ab")).lines, [])
    const { lines } = splitter.push(encoder.encode("c\r\nd"))
    assert.deepStrictEqual(lines, [{ line: 1, text: `${"ab".repeat(1000)}c` }])
    assert.deepStrictEqual(splitter.end().lines, [{ line: 2, text: "d" }])
  })
})

const write = (name: string, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    const file = `${dir}/${name}`
    yield* fs.writeFile(file, bytes)
    return file
  })

describe("Files.readText", () => {
  it.scoped("an ASCII file above the limit is too large, not 'not valid UTF-8'", () =>
    Effect.gen(function*() {
      const file = yield* write("big.json", new TextEncoder().encode(`{"a":"${"x".repeat(1000)}"}`))
      const error = yield* Effect.flip(Files.readText(file, 512))
      assert.strictEqual(error.reason, "too large: 1008 bytes (it is read whole, at most 512 bytes)")
      assert.strictEqual(yield* Files.readText(file, 2048), `{"a":"${"x".repeat(1000)}"}`)
      const bad = yield* write("bad.json", Uint8Array.from([0x7b, 0xff, 0x7d]))
      assert.strictEqual((yield* Effect.flip(Files.readText(bad))).reason, "not valid UTF-8")
      assert.isAbove(Files.MAX_DOCUMENT_BYTES, 500_000_000)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("writeNewSecret: a new file, mode 0600, whole or not at all (a helper's hostile review of log keygen)", () => {
  const secret = new TextEncoder().encode("PRIVATE+KEY+example.com/log+00000000+AAAA\n")
  const temporaries = (dir: string) => nodeFs.readdirSync(dir).filter((f) => f.startsWith("."))

  it.effect("writes it; refuses anything already there (a file, a dangling link), leaving it as it was", () =>
    Effect.gen(function*() {
      const dir = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "calybris-secret-"))
      const fs = yield* FileSystem.FileSystem
      const out = nodePath.join(dir, "k.skey")
      yield* Files.writeNewSecret(fs, out, secret)
      assert.deepStrictEqual(new Uint8Array(nodeFs.readFileSync(out)), secret)
      assert.strictEqual(nodeFs.statSync(out).mode & 0o777, 0o600)
      const again = yield* Effect.flip(Files.writeNewSecret(fs, out, new TextEncoder().encode("other")))
      assert.strictEqual(again._tag, "SystemError")
      assert.deepStrictEqual(new Uint8Array(nodeFs.readFileSync(out)), secret)
      const dangling = nodePath.join(dir, "dangling.skey")
      nodeFs.symlinkSync(nodePath.join(dir, "nowhere"), dangling)
      yield* Effect.flip(Files.writeNewSecret(fs, dangling, secret))
      assert.isFalse(nodeFs.existsSync(nodePath.join(dir, "nowhere")))
      assert.deepStrictEqual(temporaries(dir), [])
      nodeFs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("with a directory fsync in the environment (WalNode.layer, as log keygen runs), the directory is synced once the file is in it; its failure is reported", () =>
    Effect.gen(function*() {
      const dir = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "calybris-secret-"))
      const fs = yield* FileSystem.FileSystem
      const synced: Array<[string, boolean]> = []
      const recording = WalNode.layerWith({
        ...WalNode.io,
        syncDirectoryOf: (file) => {
          synced.push([file, nodeFs.existsSync(file)])
          WalNode.io.syncDirectoryOf?.(file)
        }
      })
      const out = nodePath.join(dir, "k.skey")
      yield* Files.writeNewSecret(fs, out, secret).pipe(Effect.provide(recording))
      assert.deepStrictEqual(synced, [[out, true]])
      const failing = WalNode.layerWith({
        ...WalNode.io,
        syncDirectoryOf: () => {
          throw new Error("EIO: i/o error, fsync")
        }
      })
      const other = nodePath.join(dir, "other.skey")
      const error = yield* Effect.flip(Files.writeNewSecret(fs, other, secret).pipe(Effect.provide(failing)))
      assert.strictEqual(error._tag, "SystemError")
      assert.include(error.message, "fsync of its directory: EIO")
      nodeFs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a write that fails (a full disk) leaves no file at the path and no temporary: the command can run again", () =>
    Effect.gen(function*() {
      const dir = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "calybris-secret-"))
      const real = yield* FileSystem.FileSystem
      // every write fails as on a full disk (the wal package's tests have the same probe: a test
      // project here cannot import another package's test support)
      const full = FileSystem.make({
        ...real,
        open: (file, options) =>
          Effect.map(real.open(file, options), (opened) =>
            Object.assign(Object.create(opened) as FileSystem.File, {
              writeAll: () =>
                Effect.fail(
                  new SystemError({
                    module: "FileSystem",
                    method: "writeAll",
                    reason: "Unknown",
                    pathOrDescriptor: file,
                    description: "ENOSPC: no space left on device"
                  })
                )
            }))
      })
      const out = nodePath.join(dir, "k.skey")
      yield* Effect.flip(Files.writeNewSecret(full, out, secret))
      assert.isFalse(nodeFs.existsSync(out))
      assert.deepStrictEqual(temporaries(dir), [])
      // and once there is room, it is written
      yield* Files.writeNewSecret(real, out, secret)
      assert.deepStrictEqual(new Uint8Array(nodeFs.readFileSync(out)), secret)
      nodeFs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeContext.layer)))
})
