/**
 * Keys never appear in errors: not in messages, not in `String(error)`, not in the encoded
 * (persisted) form of the error, not in a pretty-printed Cause.
 */
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { inspect } from "node:util"
import * as vm from "node:vm"

const key = new TextEncoder().encode("correct horse battery staple 42!")
const forms = (bytes: Uint8Array): Array<string> => {
  const b = Buffer.from(bytes)
  return [
    b.toString("hex"),
    b.toString("base64"),
    b.toString("latin1"),
    b.toString("hex").toUpperCase(),
    [...bytes].join(",")
  ]
}

const assertNoKey = (what: unknown) => {
  const texts = [
    String(what),
    inspect(what, { depth: 10 }),
    what instanceof Error ? what.message : "",
    Json.print(JSON.stringify(what, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ?? "")
  ]
  for (const text of texts) {
    for (const form of forms(key)) assert.notInclude(text, form)
  }
}

describe("secrets", () => {
  it.effect("verification failures under the right or a wrong key never carry the key", () =>
    Effect.gen(function*() {
      const bytes = yield* Effect.gen(function*() {
        yield* Wal.append(new Map([["n", 1]]))
        yield* Wal.append(new Map([["n", 2]]))
        const wal = yield* Wal.Wal
        return Buffer.concat([...Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))])
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      const wrong = Either.getOrThrow(Chain.make({ key: new Uint8Array(32).fill(3) }))
      const r = Reader.verifyBytes(bytes, { chain: wrong })
      assert.isTrue(Either.isLeft(r))
      if (Either.isLeft(r)) assertNoKey(r.left)
      const tampered = Uint8Array.from(bytes)
      tampered[tampered.length - 5] = 0x30
      const right = Either.getOrThrow(Chain.make({ key }))
      const r2 = Reader.verifyBytes(tampered, { chain: right })
      if (Either.isLeft(r2)) assertNoKey(r2.left)
      const exit = yield* Effect.exit(
        Wal.verify.pipe(Effect.provide(Wal.layerMemory({ key: new Uint8Array(32) }, tampered)))
      )
      if (exit._tag === "Failure") assertNoKey(Cause.pretty(exit.cause))
    }))

  it("the chain object itself does not expose the key when printed", () => {
    const chain = Either.getOrThrow(Chain.make({ key }))
    assertNoKey(chain)
    const empty = Chain.make({ key: new Uint8Array(0) })
    assert.isTrue(Either.isLeft(empty))
    if (Either.isLeft(empty)) assertNoKey(empty.left)
  })
})

describe("what the chain hands out holds no key", () => {
  /** Whether `haystack` holds `needle`'s bytes anywhere. */
  const holds = (haystack: Uint8Array, needle: Uint8Array) => Buffer.from(haystack).includes(Buffer.from(needle))

  it.effect("Chain.linkJson's bytes are a copy, not a view of the hashing buffer that holds the key's inner pad in front (a hostile review read K ^ 0x36 back through a log's reader.chain)", () =>
    Effect.gen(function*() {
      const innerPad = key.map((b) => b ^ 0x36)
      const wal = yield* Wal.makeMemory({ key })
      const chain = wal.reader.chain
      assert.isDefined(chain)
      if (chain === undefined) return
      for (const data of [new Map<string, Json.Json>([["n", 1n]]), "x".repeat(5000)]) {
        const linked = Chain.linkJson(chain, Chain.GENESIS, data, 128)
        assert.isDefined(linked)
        if (linked === undefined) return
        assert.strictEqual(new TextDecoder().decode(linked.bytes), Json.print(data))
        assert.strictEqual(linked.hash, chain.link(Chain.GENESIS, Json.print(data)))
        // the whole memory the view reaches is the bytes themselves
        assert.strictEqual(linked.bytes.byteOffset, 0)
        assert.strictEqual(linked.bytes.buffer.byteLength, linked.bytes.length)
        assert.isFalse(holds(new Uint8Array(linked.bytes.buffer), innerPad))
        assert.isFalse(holds(new Uint8Array(linked.bytes.buffer), key))
      }
    }))
})

describe("the public link functions hand out no view of the hashing buffer", () => {
  it("an object shaped as the internal print request, given to chain.link, linkBytes, bytesLink or bytesLinkOfBytes, is given nothing back (the review of the linkJson copy: its bytes were set to a view of the buffer, the key's pad in front)", () => {
    const chain = Either.getOrThrow(Chain.make({ key }))
    const routes: ReadonlyArray<(d: unknown) => unknown> = [
      (d) => (chain.link as (p: string, d: unknown) => string)(Chain.GENESIS, d),
      (d) => Chain.linkBytes(chain, Chain.GENESIS, d as Uint8Array),
      (d) => Chain.bytesLink(chain)(Chain.GENESIS, d as Uint8Array),
      (d) => Chain.bytesLinkOfBytes(chain)(new TextEncoder().encode(Chain.GENESIS), d as Uint8Array)
    ]
    for (const route of routes) {
      const request: { value: Json.Json; maxDepth: number; bytes: unknown } = {
        value: "hello",
        maxDepth: 8,
        bytes: undefined
      }
      try {
        route(request)
      } catch {
        // refused: as good as nothing handed out
      }
      assert.isUndefined(request.bytes)
    }
    // what is neither text nor bytes is refused, never hashed as the empty input (the review of
    // this fix: a DataView, a number and an object each gave one constant hash); bytes of any realm link
    for (const route of routes) {
      for (const wrong of [new DataView(new ArrayBuffer(4)), 7, { a: 1 }]) assert.throws(() => route(wrong), TypeError)
    }
    const foreign = vm.runInNewContext("new Uint8Array([104, 105])") as Uint8Array
    assert.strictEqual(Chain.linkBytes(chain, Chain.GENESIS, foreign), chain.link(Chain.GENESIS, "hi"))
    assert.strictEqual(Chain.linkBytes(chain, Chain.GENESIS, Buffer.from("hi")), chain.link(Chain.GENESIS, "hi"))
  })
})

describe("a key that is not bytes (a JavaScript caller's string or number)", () => {
  it.effect("is refused by the chain and by a log opened with it (WalOptionsInvalid naming key): copied as zeros, it was the empty key, and any such log verified under any other string (a helper's review of the API)", () =>
    Effect.gen(function*() {
      for (const key of ["the-operators-real-secret", 42, null, [1, 2, 3]] as ReadonlyArray<unknown>) {
        const options = { key: key as Uint8Array }
        const chain = Chain.make(options)
        assert.isTrue(Either.isLeft(chain))
        if (Either.isLeft(chain)) {
          assert.strictEqual(chain.left._tag, "WalOptionsInvalid")
          if (chain.left._tag === "WalOptionsInvalid") assert.strictEqual(chain.left.field, "key")
        }
        const memory = yield* Effect.flip(Wal.head.pipe(Effect.provide(Wal.layerMemory(options))))
        assert.strictEqual(memory._tag, "WalOptionsInvalid")
      }
      // a DataView is named as one
      const view = Chain.make({ key: new DataView(new ArrayBuffer(32)) as unknown as Uint8Array })
      assert.isTrue(Either.isLeft(view) && view.left._tag === "WalOptionsInvalid" && view.left.value === "DataView")
    }))

  it("bytes made in another realm (a vm context, a test environment's) and a Buffer are keys: the same HMAC as the local bytes (the review of the check: instanceof refused them)", () => {
    const local = Uint8Array.from({ length: 32 }, (_, i) => i)
    const foreign = vm.runInNewContext("Uint8Array.from({ length: 32 }, (_, i) => i)") as Uint8Array
    assert.isFalse(foreign instanceof Uint8Array)
    const link = (key: Uint8Array) => Either.getOrThrow(Chain.make({ key })).link(Chain.GENESIS, "{}")
    assert.strictEqual(link(foreign), link(local))
    assert.strictEqual(link(Buffer.from(local)), link(local))
  })
})
