import * as Format from "@calybris/cli/Format"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"

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

  it("shows a name as it is, or quoted with what a terminal acts on escaped (a hostile review: raw escapes in status)", () => {
    assert.strictEqual(Format.name("tenant-1 é 🙂"), "tenant-1 é 🙂")
    assert.strictEqual(Format.name("a\u001b[31mX"), `"a\\u001b[31mX"`)
    assert.strictEqual(Format.name("t\nfake  1  1"), `"t\\u000afake  1  1"`)
    assert.strictEqual(Format.name("\u202eevil"), `"\\u202eevil"`)
    assert.strictEqual(Format.name("x\u009b2J"), `"x\\u009b2J"`)
    // a name that looks like another's quoted form is quoted too
    assert.strictEqual(Format.name(`"a\\u001b[31mX"`), `"\\"a\\\\u001b[31mX\\""`)
    // the empty name and one with white space at an end are quoted: `acme` and `acme ` showed
    // alike, the empty tenant as nothing (a helper's hostile review)
    assert.strictEqual(Format.name(""), `""`)
    assert.strictEqual(Format.name("acme "), `"acme "`)
    assert.strictEqual(Format.name("\u00a0acme"), `"\u00a0acme"`)
    assert.strictEqual(Format.name("acme corp"), "acme corp")
    // invisible characters too (a review: acme and acme + U+200B showed alike)
    for (
      const c of ["\u200b", "\u200e", "\u2060", "\u00ad", "\u180e", "\ufeff", "\u061c", "\u034f", "\u3164", "\ufe0f"]
    ) {
      assert.strictEqual(Format.name(`acme${c}`), `"acme\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}"`)
    }
    // beyond U+FFFF (a tag character) as its two UTF-16 escapes, and a lone surrogate (the review after)
    assert.strictEqual(Format.name("acme\u{e0041}"), `"acme\\udb40\\udc41"`)
    assert.strictEqual(Format.name("acme\ud800"), `"acme\\ud800"`)
    // an emoji or a letter beyond U+FFFF shows as it is
    assert.strictEqual(Format.name("acme 🙂 𝔸"), "acme 🙂 𝔸")
    // never a character a terminal acts on, never empty or white at an end; one name, one shown text
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        const shown = Format.name(a)
        assert.isFalse(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(shown))
        assert.isFalse(/^$|^\s|\s$/.test(shown), JSON.stringify(shown))
        if (a !== b) assert.notStrictEqual(shown, Format.name(b))
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 2000 }
    )
  })
})
