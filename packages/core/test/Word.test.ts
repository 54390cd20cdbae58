import * as Word from "@calybris/core/Word"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"

const SAFE = Number.MAX_SAFE_INTEGER

describe("Word", () => {
  it("bigintOfSafe is BigInt on every safe integer", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, SAFE, -SAFE, 2 ** 32, -(2 ** 32), 2 ** 31)), (n) => {
        assert.strictEqual(Word.bigintOfSafe(n), BigInt(n))
      })
    )
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => assert.strictEqual(Word.bigintOfSafe(n), BigInt(n))))
  })
  it("safeNumberOf is Number inside the safe range and NaN outside", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }), (b) => {
        const inRange = b >= -BigInt(SAFE) && b <= BigInt(SAFE)
        const n = Word.safeNumberOf(b)
        if (inRange) assert.strictEqual(n, Number(b))
        else assert.isNaN(n)
      })
    )
    assert.strictEqual(Word.safeNumberOf(BigInt(SAFE)), SAFE)
    assert.isNaN(Word.safeNumberOf(BigInt(SAFE) + 1n))
    assert.strictEqual(Word.safeNumberOf(-BigInt(SAFE)), -SAFE)
  })
  it("lo32 / hi32 / load are the two's complement halves of u64 and i64 values", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), (b) => {
        const u = BigInt.asUintN(64, b)
        assert.strictEqual(Word.lo32(b), Number(BigInt.asIntN(32, u)))
        assert.strictEqual(Word.hi32(b), Number(BigInt.asIntN(32, u >> 32n)))
        Word.load(b)
        assert.strictEqual(Word.loadedLo(), Number(BigInt.asIntN(32, u)))
        assert.strictEqual(Word.loadedHi(), Number(BigInt.asIntN(32, u >> 32n)))
      })
    )
  })
})
