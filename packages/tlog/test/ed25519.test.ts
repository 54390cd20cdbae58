import * as Ed25519 from "@calybris/tlog/Ed25519"
import { assert, describe, it } from "@effect/vitest"
import { ed25519 } from "@noble/curves/ed25519.js"
import { sha512 } from "@noble/hashes/sha2.js"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import { fromHex, hex } from "./noteSupport.js"

// RFC 8032 §7.1, TEST 1 and TEST 2
const TEST1 = {
  seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  msg: "",
  sig:
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
}
const TEST2 = {
  seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
  pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
  msg: "72",
  sig:
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
}
// the group order L, little-endian: S + L is the same scalar in a non-canonical encoding
const L = (1n << 252n) + 27742317777372353535851937790883648493n

/** A raw Ed25519 public key as node:crypto's (OpenSSL's) key: its SubjectPublicKeyInfo DER. */
const spki = (pub: Uint8Array) =>
  crypto.createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pub]),
    format: "der",
    type: "spki"
  })

const withSPlusL = (sig: Uint8Array): Uint8Array => {
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] as number)
  s += L
  const out = sig.slice()
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn)
    s >>= 8n
  }
  return out
}

describe("Ed25519", () => {
  it("reproduces and verifies RFC 8032's test vectors", () => {
    for (const t of [TEST1, TEST2]) {
      const seed = Redacted.make(fromHex(t.seed))
      assert.strictEqual(hex(Ed25519.publicKeyOf(seed)), t.pub)
      assert.strictEqual(hex(Ed25519.sign(seed, fromHex(t.msg))), t.sig)
      assert.isTrue(Ed25519.verify(fromHex(t.pub), fromHex(t.msg), fromHex(t.sig)))
    }
  })

  it("refuses a non-canonical S (S + L), wrong lengths and keys off the curve, without throwing", () => {
    const pub = fromHex(TEST2.pub)
    const msg = fromHex(TEST2.msg)
    const sig = fromHex(TEST2.sig)
    assert.isFalse(Ed25519.verify(pub, msg, withSPlusL(sig)))
    assert.isFalse(Ed25519.verify(pub, msg, sig.subarray(0, 63)))
    assert.isFalse(Ed25519.verify(pub.subarray(0, 31), msg, sig))
    assert.isFalse(Ed25519.verify(new Uint8Array(32).fill(0xff), msg, sig))
    assert.isFalse(Ed25519.isValidPublicKey(new Uint8Array(32).fill(0xff)))
    assert.isTrue(Ed25519.isValidPublicKey(pub))
  })

  it("refuses non-canonical encodings of the key and small-order keys (ZIP 215 would accept both)", () => {
    const P = (1n << 255n) - 19n
    const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))
    const identity = le(1n) // y = 1: the neutral point, small order
    const nonCanonicalIdentity = le(P + 1n) // y = p + 1 ≡ 1
    const trivial = new Uint8Array(64)
    trivial.set(identity) // R = identity, S = 0: "signs" anything under a small-order key
    for (const msg of [new Uint8Array(0), fromHex("72")]) {
      assert.isFalse(Ed25519.verify(nonCanonicalIdentity, msg, trivial))
    }
    assert.isFalse(Ed25519.isValidPublicKey(identity))
    assert.isFalse(Ed25519.isValidPublicKey(nonCanonicalIdentity))
  })

  it("any one-bit change of message, signature or key is refused", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
        FastCheck.uint8Array({ maxLength: 64 }),
        FastCheck.nat(),
        (seedBytes, msg, bit) => {
          const seed = Redacted.make(seedBytes)
          const pub = Ed25519.publicKeyOf(seed)
          const sig = Ed25519.sign(seed, msg)
          assert.isTrue(Ed25519.verify(pub, msg, sig))
          const flip = (b: Uint8Array) => {
            const out = b.slice()
            const i = bit % (b.length * 8)
            out[i >> 3] = (out[i >> 3] as number) ^ (1 << (i & 7))
            return out
          }
          assert.isFalse(Ed25519.verify(pub, msg, flip(sig)))
          assert.isFalse(Ed25519.verify(flip(pub), msg, sig))
          if (msg.length > 0) assert.isFalse(Ed25519.verify(pub, flip(msg), sig))
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 30 }
    )
  })

  it("verifies as Go's crypto/ed25519 and OpenSSL do, without the cofactor: a small-order part planted in R is refused (a hostile review)", () => {
    const Point = ed25519.Point
    const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))
    const leNumber = (b: Uint8Array) => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n)
    // the signer's scalar a and prefix, as RFC 8032 §5.1.5 derives them from the seed
    const seed = new Uint8Array(32).fill(7)
    const h = sha512(seed)
    const head = h.slice(0, 32)
    head[0] = (head[0] as number) & 248
    head[31] = ((head[31] as number) & 127) | 64
    const a = leNumber(head) % L
    const pub = Ed25519.publicKeyOf(Redacted.make(seed))
    assert.strictEqual(hex(Point.BASE.multiply(a).toBytes()), hex(pub))
    const msg = new TextEncoder().encode("example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    // R = [r]B + T, T the point of order 2 (x = 0, y = -1): S = r + k·a satisfies the cofactored
    // equation [8][S]B = [8]R + [8][k]A, not [S]B = R + [k]A
    const r = 12345678901234567890n
    const order2 = Point.fromBytes(fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
    assert.isTrue(order2.isSmallOrder() && !order2.is0())
    const R = Point.BASE.multiply(r).add(order2).toBytes()
    const k = leNumber(sha512(new Uint8Array([...R, ...pub, ...msg]))) % L
    const sig = new Uint8Array([...R, ...le((r + k * a) % L)])
    assert.isFalse(crypto.verify(null, msg, spki(pub), sig), "OpenSSL refuses it")
    assert.isTrue(ed25519.verify(sig, msg, pub, { zip215: false }), "the cofactored equation accepts it")
    assert.isFalse(Ed25519.verify(pub, msg, sig))
    // and the honest signature of the same message verifies
    assert.isTrue(Ed25519.verify(pub, msg, Ed25519.sign(Redacted.make(seed), msg)))
  })

  it("agrees with node:crypto (OpenSSL, Go's equation) on signatures, forged ones and bit flips", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
        FastCheck.uint8Array({ maxLength: 64 }),
        FastCheck.nat(),
        FastCheck.uint8Array({ minLength: 64, maxLength: 64 }),
        (seedBytes, msg, bit, random) => {
          const seed = Redacted.make(seedBytes)
          const pub = Ed25519.publicKeyOf(seed)
          const key = spki(pub)
          const sig = Ed25519.sign(seed, msg)
          const flipped = sig.slice()
          const i = bit % 512
          flipped[i >> 3] = (flipped[i >> 3] as number) ^ (1 << (i & 7))
          for (const candidate of [sig, flipped, random]) {
            assert.strictEqual(Ed25519.verify(pub, msg, candidate), crypto.verify(null, msg, key, candidate))
          }
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 30 }
    )
  })
})
