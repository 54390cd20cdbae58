/**
 * `Reader.verifyEach` (and the opens built on it: `Wal.makeFile` / `Wal.makeMemory` with an
 * `OnEntry`) verify and read in one pass, and fail exactly as verifying first and reading after
 * did: the log's failure wins over the reader's, wherever each is.
 */
import * as Chain from "@calybris/wal/Chain"
import type { Entry } from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"

const key = new Uint8Array(32).fill(3)
const chain = Either.getOrThrow(Chain.make({ key }))
const reader: Reader.ReaderOptions = { chain }

/** A keyed log of `n` entries `{"n": i}`. */
const log = (n: number): Uint8Array =>
  Effect.runSync(
    Effect.gen(function*() {
      const wal = yield* Wal.makeMemory({ key })
      for (let i = 1; i <= n; i++) yield* wal.append(new Map([["n", i]]))
      return Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))))
    })
  )

/** The bytes in chunks cut at `cuts` (offsets). */
const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Stream.Stream<Uint8Array> => {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const cut of [...at, bytes.length]) {
    parts.push(bytes.subarray(from, cut))
    from = cut
  }
  return Stream.fromIterable(parts)
}

class Refused {
  readonly _tag = "Refused"
  constructor(readonly sequence: bigint) {}
}

/** What verifying first, then reading, gave: the log's failure, else the reader's first, else the count. */
const twoPasses = (bytes: Uint8Array, failAt: number) =>
  Effect.runSync(Effect.exit(Effect.gen(function*() {
    const verified = yield* Reader.verify(Stream.make(bytes), reader)
    yield* Stream.runForEach(
      Reader.entries(Stream.make(bytes), reader),
      (entry) => entry.sequence === BigInt(failAt) ? Effect.fail(new Refused(entry.sequence)) : Effect.void
    )
    return verified
  })))

describe("Reader.verifyEach", () => {
  it("fails as verifying first and reading after did, whatever the chunks; the reader sees a prefix, in order", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.integer({ min: 0, max: 12 }),
        FastCheck.option(FastCheck.nat(), { nil: undefined }),
        FastCheck.option(FastCheck.integer({ min: 1, max: 12 }), { nil: undefined }),
        FastCheck.array(FastCheck.nat(), { maxLength: 6 }),
        FastCheck.boolean(),
        (n, tamper, failAt, cuts, torn) => {
          const honest = log(n)
          let bytes = honest
          if (tamper !== undefined && bytes.length > 0) {
            // one byte of a digit or letter flipped somewhere: a parse error, a broken chain, …
            bytes = bytes.slice()
            const at = tamper % bytes.length
            if (bytes[at] !== 0x0a) bytes[at] = (bytes[at] as number) ^ 0x01
          }
          if (torn && bytes.length > 3) bytes = bytes.subarray(0, bytes.length - 3)
          const seen: Array<bigint> = []
          const exit = Effect.runSync(Effect.exit(Reader.verifyEach(chunked(bytes, cuts), reader, (entry: Entry) => {
            seen.push(entry.sequence)
            return entry.sequence === BigInt(failAt ?? -1) ? Either.left(new Refused(entry.sequence)) : Either.void
          })))
          expect(exit).toStrictEqual(twoPasses(bytes, failAt ?? -1))
          // a prefix of the entries, in order, ending at the reader's failure at the latest
          seen.forEach((s, i) => expect(s).toBe(BigInt(i + 1)))
          if (failAt !== undefined) expect(seen.length).toBeLessThanOrEqual(failAt)
        }
      )
    )
  })

  it("the log's failure after the reader's wins; without it, the reader's; the count covers every entry", () => {
    const bytes = log(6)
    const refuseSecond = (entry: Entry) => entry.sequence === 2n ? Either.left(new Refused(2n)) : Either.void
    // the last entry's hash altered
    const text = new TextDecoder().decode(bytes)
    const last = text.lastIndexOf(`"entry_hash":"`) + 14
    const tampered = new TextEncoder().encode(
      text.slice(0, last) + (text[last] === "0" ? "1" : "0") + text.slice(last + 1)
    )
    const broken = Effect.runSync(Effect.flip(Reader.verifyEach(Stream.make(tampered), reader, refuseSecond)))
    expect(broken._tag).toBe("WalChainBroken")
    const refused = Effect.runSync(Effect.flip(Reader.verifyEach(Stream.make(bytes), reader, refuseSecond)))
    expect(refused).toStrictEqual(new Refused(2n))
    const all: Array<bigint> = []
    const verified = Effect.runSync(Reader.verifyEach(Stream.make(bytes), reader, (entry) => {
      all.push(entry.sequence)
      return Either.void
    }))
    expect(verified.count).toBe(6n)
    expect(all).toStrictEqual([1n, 2n, 3n, 4n, 5n, 6n])
  })

  it("Wal.makeMemory with an OnEntry: the log opens after the reader saw every entry, and appends continue the chain", () => {
    const bytes = log(4)
    const seen: Array<bigint> = []
    const exit = Effect.runSync(Effect.exit(Effect.gen(function*() {
      const wal = yield* Wal.makeMemory({ key }, bytes, (entry) => {
        seen.push(entry.sequence)
        return Either.void
      })
      const sealed = yield* wal.append(new Map([["n", 5]]))
      return sealed.sequence
    })))
    expect(exit).toStrictEqual(Exit.succeed(5n))
    expect(seen).toStrictEqual([1n, 2n, 3n, 4n])
  })
})
