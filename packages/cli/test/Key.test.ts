import * as Key from "@calybris/cli/Key"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const text = (s: string) => new TextEncoder().encode(s)

const fromEnv = (value: string | undefined, allowEmptyKey = false) =>
  Key.load({ keyFile: Option.none(), keyEnv: Option.some("CALYBRIS_TEST_KEY"), allowEmptyKey }).pipe(
    Effect.withConfigProvider(
      ConfigProvider.fromMap(new Map(value === undefined ? [] : [["CALYBRIS_TEST_KEY", value]]))
    ),
    Effect.provide(NodeContext.layer),
    Effect.either
  )

describe("Key", () => {
  it("reads raw bytes as they are, and hex: with surrounding whitespace", () => {
    assert.deepStrictEqual(Key.keyBytes(text("secret\n")), Either.right(text("secret\n")))
    assert.deepStrictEqual(Key.keyBytes(text("hex:00ff10\n")), Either.right(Uint8Array.from([0, 255, 16])))
    assert.deepStrictEqual(Key.keyBytes(text("hex:  AbCd ")), Either.right(Uint8Array.from([0xab, 0xcd])))
  })

  it("says what is wrong with a hex key without repeating any of it", () => {
    const odd = Key.keyBytes(text("hex:abc"))
    assert.deepStrictEqual(odd, Either.left("the hex key has an odd number of digits"))
    const bad = Key.keyBytes(text("hex:00zq"))
    assert.deepStrictEqual(bad, Either.left("the hex key has a non-hex character at position 2"))
    // a stray character between two halves is named, not counted as an odd length (a helper's review)
    const spaced = Key.keyBytes(text(`hex:${"a".repeat(32)} ${"b".repeat(32)}`))
    assert.deepStrictEqual(spaced, Either.left("the hex key has a non-hex character at position 32"))
    assert.deepStrictEqual(
      Key.keyBytes(text("hex:a b")),
      Either.left("the hex key has a non-hex character at position 1")
    )
  })

  it.effect("loads a key from the environment, refuses an empty one unless allowed, never echoes it", () =>
    Effect.gen(function*() {
      const ok = yield* fromEnv("hex:0102")
      assert.deepStrictEqual(Either.map(ok, (l) => [...(l.key ?? [])]), Either.right([1, 2]))
      const empty = yield* fromEnv("")
      assert.isTrue(Either.isLeft(empty))
      if (Either.isLeft(empty)) assert.match(empty.left.message, /^--key-env CALYBRIS_TEST_KEY: the key is empty/)
      const allowed = yield* fromEnv("", true)
      assert.deepStrictEqual(Either.map(allowed, (l) => l.key?.length), Either.right(0))
      const missing = yield* fromEnv(undefined)
      assert.isTrue(Either.isLeft(missing))
      const wrong = yield* fromEnv("hex:s3cr3t!")
      assert.isTrue(Either.isLeft(wrong))
      if (Either.isLeft(wrong)) assert.notInclude(wrong.left.message, "s3cr3t")
    }))

  it.effect("an environment value holding U+FFFD (what Node reads for bytes that are not UTF-8) is refused; valid UTF-8 is its bytes", () =>
    Effect.gen(function*() {
      for (const value of ["\uFFFD\uFFFD", "abc\uFFFD", "\uFFFD"]) {
        const refused = yield* fromEnv(value)
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "KeyError", value)
        if (Either.isLeft(refused)) {
          assert.include(refused.left.message, "--key-env CALYBRIS_TEST_KEY: the value is not valid UTF-8")
          assert.notInclude(refused.left.message, "abc")
        }
      }
      const accented = yield* fromEnv("clé")
      assert.deepStrictEqual(Either.map(accented, (l) => [...(l.key ?? [])]), Either.right([0x63, 0x6c, 0xc3, 0xa9]))
    }))

  it.effect("a key file past 64 KiB is refused before it is read, naming the file and its size; one of 64 KiB is a key (a file named by mistake: a log, a dump)", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-key-"))
      const load = (file: string) =>
        Key.load({ keyFile: Option.some(file), keyEnv: Option.none(), allowEmptyKey: false }).pipe(
          Effect.provide(NodeContext.layer),
          Effect.either
        )
      const edge = path.join(dir, "edge.key")
      fs.writeFileSync(edge, Buffer.alloc(Key.MAX_KEY_FILE_BYTES, 7))
      const big = path.join(dir, "big.key")
      fs.writeFileSync(big, "s3cr3t")
      // sparse: a read of it whole would take 3 GiB
      fs.truncateSync(big, 3 * 1024 ** 3)
      const [atEdge, tooBig] = [yield* load(edge), yield* load(big)]
      fs.rmSync(dir, { recursive: true, force: true })
      assert.deepStrictEqual(Either.map(atEdge, (l) => l.key?.length), Either.right(65_536))
      assert.isTrue(Either.isLeft(tooBig) && tooBig.left._tag === "KeyError")
      if (Either.isLeft(tooBig)) {
        assert.strictEqual(
          tooBig.left.message,
          `--key-file ${big}: too large: 3221225472 bytes (it is read whole, at most 65536 bytes)`
        )
      }
    }))

  it.effect("refuses two key sources at once", () =>
    Effect.gen(function*() {
      const both = yield* Key.load({ keyFile: Option.some("/k"), keyEnv: Option.some("K"), allowEmptyKey: false }).pipe(
        Effect.provide(NodeContext.layer),
        Effect.either
      )
      assert.isTrue(Either.isLeft(both) && both.left._tag === "UsageError")
    }))
})
