import * as Format from "@calybris/cli/Format"
import { assert, describe, it } from "@effect/vitest"

describe("Format", () => {
  it("groups integers exactly, bigints included", () => {
    assert.strictEqual(Format.int(0), "0")
    assert.strictEqual(Format.int(1234567), "1,234,567")
    assert.strictEqual(Format.int(-1000n), "-1,000")
    assert.strictEqual(Format.int(18_446_744_073_709_551_615n), "18,446,744,073,709,551,615")
  })

  it("prints microcents as dollars exactly", () => {
    assert.strictEqual(Format.usd(0n), "$0.00")
    assert.strictEqual(Format.usd(100_000_000n), "$1.00")
    assert.strictEqual(Format.usd(30_000n), "$0.0003")
    assert.strictEqual(Format.usd(1_234_500_000_000n), "$12,345.00")
    assert.strictEqual(Format.usd(1n), "$0.00000001")
    assert.strictEqual(Format.usd(-150_000_000n), "-$1.50")
  })

  it("lays out tables", () => {
    assert.deepStrictEqual(Format.table(["a", "bb"], [["xyz", "1"]], ["left", "right"]), [
      "a    bb",
      "---  --",
      "xyz   1"
    ])
  })
})
