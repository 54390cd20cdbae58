/**
 * Sealing's fast path against the exact one: `Chain.linkJson` (a record's canonical bytes printed
 * straight into the hashed buffer) against `chain.link(previous, Json.print(record))`, and the
 * file layer's lines against `Entry.canonicalData` → `Entry.seal` (same bytes, same hashes,
 * same errors), for any records, keyed or not, under every durability, on both flushers.
 */
import * as Hash from "@calybris/core/Hash"
import * as Json from "@calybris/core/Json"
import * as Arbitraries from "@calybris/testing/Arbitraries"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

const jsonArb = Arbitraries.jsonOf({ loneSurrogates: true })

/** `value` inside `depth` arrays / objects (past the reader's limit from 127 on). */
const nest = (value: Json.Json, depth: number): Json.Json => {
  let v = value
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : new Map([["k", v]])
  return v
}
/** Mostly ordinary records, sometimes one nested up to and past the limit. */
const recordArb = FastCheck.oneof(
  { weight: 6, arbitrary: jsonArb },
  {
    weight: 1,
    arbitrary: FastCheck.tuple(jsonArb, FastCheck.integer({ min: 120, max: 140 })).map(([v, d]) => nest(v, d))
  }
)

const key32 = Uint8Array.from({ length: 32 }, (_, i) => i * 7)
const key65 = Uint8Array.from({ length: 65 }, (_, i) => 255 - i)
const implementations = [
  ["default", undefined],
  ["noble", Hash.noble],
  ...(Hash.node === undefined ? [] : [["node", Hash.node] as const])
] as const
const keys = [undefined, key32, key65] as const
const previousArb = FastCheck.oneof(
  FastCheck.constant(Chain.GENESIS),
  FastCheck.stringMatching(/^[0-9a-f]{64}$/),
  // a previous hash no writer produces (the chain hashes whatever text it is given)
  FastCheck.string({
    unit: FastCheck.oneof(Arbitraries.jsonSpecialChar, Arbitraries.loneSurrogate, FastCheck.char()),
    maxLength: 70
  })
)

describe("Chain.linkJson", () => {
  it("hashes and returns exactly the bytes of Json.print, or refuses exactly what printWithin refuses", () => {
    const chains = implementations.flatMap(([, hash]) =>
      keys.map((key) => Either.getOrThrow(Chain.make({ hash, key })))
    )
    FastCheck.assert(
      FastCheck.property(recordArb, previousArb, (data, previous) => {
        const text = Json.printWithin(data, Entry.MAX_RECORD_DEPTH)
        for (const chain of chains) {
          const linked = Chain.linkJson(chain, previous, data, Entry.MAX_RECORD_DEPTH)
          if (text === undefined) {
            expect(linked).toBeUndefined()
          } else {
            expect(linked?.hash).toBe(chain.link(previous, text))
            expect(linked?.bytes).toEqual(encoder.encode(text))
            // the chain's buffer is reused: the text path after it still hashes the same
            expect(chain.link(previous, text)).toBe(linked?.hash)
          }
        }
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  it("a chain not built by Chain.make gets the text path", () => {
    const inner = Either.getOrThrow(Chain.make({ key: key32 }))
    const chain: Chain.Chain = { keyed: true, link: (p, d) => inner.link(p, d) }
    const data = new Map<string, Json.Json>([["é", 1n], ["x", ["\ud83d\ude00"]]])
    const linked = Chain.linkJson(chain, Chain.GENESIS, data, Entry.MAX_RECORD_DEPTH)
    expect(linked?.hash).toBe(inner.link(Chain.GENESIS, Json.print(data)))
    expect(linked?.bytes).toEqual(encoder.encode(Json.print(data)))
    expect(Chain.linkJson(chain, Chain.GENESIS, nest(1, 127), Entry.MAX_RECORD_DEPTH)).toBeUndefined()
    // a lone surrogate is refused on this path too (its UTF-8 would be U+FFFD: another record)
    const lone = new Map<string, Json.Json>([["é", 1n], ["x", ["\ud800"]]])
    expect(Chain.linkJson(chain, Chain.GENESIS, lone, Entry.MAX_RECORD_DEPTH)).toBeUndefined()
    expect(Chain.linkJson(inner, Chain.GENESIS, lone, Entry.MAX_RECORD_DEPTH)).toBeUndefined()
  })
})

/** The exact path: each record's canonical text, sealed in turn; the refused ones with their error. */
const expected = (chain: Chain.Chain, records: ReadonlyArray<Json.Json>) => {
  let sequence = 0n
  let previous = Chain.GENESIS
  let text = ""
  const outcomes: Array<Either.Either<Entry.Sealed, unknown>> = []
  for (const data of records) {
    const canonical = Entry.canonicalData(data)
    if (Either.isLeft(canonical)) {
      outcomes.push(Either.left(canonical.left))
      continue
    }
    const next = Entry.seal(chain, ++sequence, previous, canonical.right)
    previous = next.sealed.entry_hash
    text += next.line
    outcomes.push(Either.right(next.sealed))
  }
  return { bytes: encoder.encode(text), outcomes, head: { sequence, lastHash: previous } }
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

describe("file layer sealing", () => {
  it("writes exactly the lines of canonicalData → seal, acknowledges their hashes, refuses what canonicalData refuses (nothing written)", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(
        FastCheck.array(recordArb, { minLength: 1, maxLength: 12 }),
        FastCheck.constantFrom("never", "batch", "always") as FastCheck.Arbitrary<Wal.Durability>,
        FastCheck.constantFrom(...keys),
        FastCheck.boolean(),
        FastCheck.boolean(),
        async (records, durability, key, concurrent, node) => {
          const want = expected(Either.getOrThrow(Chain.make({ key })), records)
          await Effect.runPromise(
            Effect.scoped(Effect.gen(function*() {
              const fs = yield* FileSystem.FileSystem
              const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-seal-" })
              const path = `${dir}/log.jsonl`
              const outcomes = yield* Effect.scoped(Effect.gen(function*() {
                // the FileSystem flusher, or WalNode's (writeSync + fdatasync; "always" inline)
                const wal = yield* (node
                  ? Effect.provide(Wal.makeFile(path, { key, durability }), WalNode.layer)
                  : Wal.makeFile(path, { key, durability }))
                // appends started together seal in call order, as one after the other do
                const results = yield* Effect.forEach(records, (d) => Effect.either(wal.append(d)), {
                  concurrency: concurrent ? "unbounded" : 1
                })
                expect(yield* wal.head).toEqual(want.head)
                const chunks = yield* Stream.runCollect(wal.bytes)
                expect(concat([...chunks])).toEqual(want.bytes)
                return results
              }))
              expect(outcomes).toEqual(want.outcomes)
              expect(Uint8Array.from(yield* fs.readFile(path))).toEqual(want.bytes)
              // and the memory layer writes the same
              const memory = yield* Wal.makeMemory({ key })
              for (const d of records) yield* Effect.either(memory.append(d))
              expect(concat([...yield* Stream.runCollect(memory.bytes)])).toEqual(want.bytes)
              // and it verifies, reopened
              const reopened = yield* Effect.exit(Effect.scoped(Wal.makeFile(path, { key, durability })))
              expect(Exit.isSuccess(reopened)).toBe(true)
            })).pipe(Effect.provide(NodeContext.layer))
          )
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 40 }
    ))
})

describe("Entry.lineBytes / Entry.tooLong", () => {
  const hashText = FastCheck.oneof(
    FastCheck.constant(Chain.GENESIS),
    FastCheck.stringMatching(/^[0-9a-f]{64}$/),
    // texts the line escapes (or spells in several UTF-8 bytes), longer and shorter than a digest
    FastCheck.string({
      unit: FastCheck.constantFrom("a", "é", "😀", "\u0001", "\"", "\\", "\u2028", "\ud800", "\ude00"),
      maxLength: 80
    })
  )
  it("is the UTF-8 length of formatLine without its LF; tooLong refuses exactly the lines past the limit", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        hashText,
        hashText,
        jsonArb,
        FastCheck.integer({ min: -40, max: 40 }),
        (sequence, previous, entry, data, slack) => {
          const dataText = Json.print(data)
          if (!dataText.isWellFormed()) return
          const dataBytes = encoder.encode(dataText).length
          const length = encoder.encode(Entry.formatLine(sequence, previous, entry, dataText)).length - 1
          expect(Entry.lineBytes(sequence, previous, entry, dataBytes)).toBe(length)
          // limits around the line's length, and around the fast check's bound
          for (const limit of [length + slack, dataBytes + 1024 + slack]) {
            const refused = Entry.tooLong(sequence, previous, entry, dataBytes, limit)
            expect(refused === undefined).toBe(length <= limit)
            if (refused !== undefined) expect([refused.lineBytes, refused.limit]).toEqual([length, limit])
          }
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 1000 }
    )
  })
})
