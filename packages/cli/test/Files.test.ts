import * as Files from "@calybris/cli/Files"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"

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
