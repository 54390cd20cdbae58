/**
 * `wal replay --checkpoint` builds the cited tree from the bytes the replay reads
 * (LogCommand.treeTap): for any log — any data, blank lines and CRLF between entries, a final
 * line without its newline, any chunking of the bytes — the tapped tree is the tree of the lines
 * the verifying reader reads (`Reader.verifyEach`, what `log checkpoint` builds its tree from).
 */
import type * as Json from "@calybris/core/Json"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Stream from "effect/Stream"
import { treeTap } from "../src/LogCommand.js"

const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
const encoder = new TextEncoder()

const walBytes = (values: ReadonlyArray<Json.Json>) =>
  Effect.gen(function*() {
    for (const v of values) yield* Wal.append(new Map<string, Json.Json>([["v", v]]))
    const wal = yield* Wal.Wal
    const chunks = yield* Stream.runCollect(wal.bytes)
    return Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(chunks)))
  }).pipe(Effect.provide(Wal.layerMemory({ key })))

/** The log's lines, with blank lines, CRLF and a missing final newline put in as `noise` says. */
const reshape = (bytes: Uint8Array, noise: ReadonlyArray<number>, dropFinal: boolean): Uint8Array => {
  const lines = new TextDecoder().decode(bytes).split("\n").slice(0, -1)
  let out = ""
  lines.forEach((line, i) => {
    const n = noise[i % Math.max(1, noise.length)] ?? 0
    if (n === 1) out += "\n"
    if (n === 2) out += " \t\u3000\n"
    out += line + (n === 3 ? "\r\n" : "\n")
  })
  if (dropFinal && out.endsWith("\n") && !out.endsWith("\r\n")) out = out.slice(0, -1)
  return encoder.encode(out)
}

const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Stream.Stream<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    parts.push(bytes.subarray(from, p))
    from = p
  }
  parts.push(bytes.subarray(from))
  return Stream.fromIterable(parts)
}

const valueArb: fc.Arbitrary<Json.Json> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null)
)

describe("LogCommand.treeTap", () => {
  it.effect("the tapped tree is the verifying reader's tree, for any log and chunking", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(valueArb, { maxLength: 20 }),
          fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }),
          fc.boolean(),
          fc.array(fc.nat(), { maxLength: 8 }),
          (values, noise, dropFinal, cuts) =>
            Effect.runPromise(Effect.gen(function*() {
              const bytes = reshape(yield* walBytes(values), noise, dropFinal)
              const chain = yield* Chain.make({ key })
              const exact = new Merkle.MemoryTree()
              yield* Reader.verifyEach(Stream.make(bytes), { chain }, (entry) => {
                exact.append(Merkle.hashLeaf(encoder.encode(entry.text)))
                return Either.void
              })
              const tap = treeTap({ chain })
              // the consumer verifies the tapped stream, as the audited replay does
              yield* Reader.verify(tap.tap(chunked(bytes, cuts)), { chain })
              const { notCanonical, tree: tapped } = yield* tap.tree
              // written by the log itself: every line canonical
              assert.isUndefined(notCanonical)
              assert.strictEqual(tapped.size, BigInt(values.length))
              assert.strictEqual(tapped.size, exact.size)
              assert.deepStrictEqual(
                Either.getOrThrow(Merkle.root(tapped, tapped.size)),
                Either.getOrThrow(Merkle.root(exact, exact.size))
              )
            }))
        ),
        { numRuns: fc.readConfigureGlobal().numRuns ?? 100 }
      )
    ))
})
