/**
 * Hostile-input fuzzing of the WAL reader: arbitrary bytes, arbitrary JSON lines and mutated
 * real logs never make it throw; it always ends in a verified count or one of its typed errors.
 */
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"

const TAGS = ["WalReadError", "WalParseError", "WalTornTail", "WalSequenceError", "WalChainBroken", "WalLineTooLong"]
const chain = Either.getOrThrow(Chain.make({ key: new Uint8Array(16).fill(1) }))

const check = (bytes: Uint8Array, verify: boolean) => {
  const r = Reader.verifyBytes(bytes, { chain: verify ? chain : undefined, maxLineBytes: 4096 })
  if (Either.isLeft(r)) assert.include(TAGS, r.left._tag)
  else assert.isTrue(r.right.count >= 0n)
}

/** A valid log of a few entries. */
const validLog = fc.array(fc.json(), { minLength: 1, maxLength: 5 }).map((texts) => {
  let previous = Chain.GENESIS
  let out = ""
  texts.forEach((text, i) => {
    const data = Either.getOrThrow(Json.parse(text))
    const sealed = Entry.seal(chain, BigInt(i + 1), previous, Json.print(data))
    previous = sealed.sealed.entry_hash
    out += sealed.line
  })
  return new TextEncoder().encode(out)
})

describe("fuzz: the WAL reader never throws", () => {
  it("arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, verify) => check(bytes, verify)))
  })
  it("arbitrary JSON lines", () => {
    fc.assert(
      fc.property(
        fc.array(fc.json(), { maxLength: 6 }),
        fc.boolean(),
        (lines, verify) => check(new TextEncoder().encode(lines.join("\n")), verify)
      )
    )
  })
  it("valid logs verify; mutated logs end in a typed error or a verified count", () => {
    fc.assert(
      fc.property(validLog, fc.nat(), fc.integer({ min: 0, max: 255 }), (log, at, byte) => {
        assert.isTrue(Either.isRight(Reader.verifyBytes(log, { chain })))
        const mutated = log.slice()
        mutated[at % mutated.length] = byte
        check(mutated, true)
        check(log.subarray(0, at % log.length), true)
      })
    )
  })
  it("a line longer than the limit is a typed error, not an allocation without bound", () => {
    const r = Reader.verifyBytes(new Uint8Array(10_000).fill(0x20), { chain, maxLineBytes: 1024 })
    assert.isTrue(Either.isLeft(r) && r.left._tag === "WalLineTooLong")
  })
})
