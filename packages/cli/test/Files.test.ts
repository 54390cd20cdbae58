/**
 * Reading whole-file documents: a file too large to hold in one string is "too large" (with its
 * size), never "not valid UTF-8"; invalid UTF-8 is still named as such.
 */
import * as Files from "@calybris/cli/Files"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

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
      assert.strictEqual(error.reason, "too large: 1008 bytes (a JSON document is read whole, at most 512 bytes)")
      assert.strictEqual(yield* Files.readText(file, 2048), `{"a":"${"x".repeat(1000)}"}`)
      const bad = yield* write("bad.json", Uint8Array.from([0x7b, 0xff, 0x7d]))
      assert.strictEqual((yield* Effect.flip(Files.readText(bad))).reason, "not valid UTF-8")
      assert.isAbove(Files.MAX_DOCUMENT_BYTES, 500_000_000)
    }).pipe(Effect.provide(NodeContext.layer)))
})
