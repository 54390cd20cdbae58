import * as Note from "@calybris/tlog/Note"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { inspect } from "node:util"
import * as vm from "node:vm"
import * as Base64 from "../src/internal/base64.js"
import {
  fromHex,
  left,
  nameArb,
  PETER_SEED_B64,
  PETER_SKEY,
  PETER_VKEY,
  right,
  seedArb,
  signer,
  textArb,
  verifierOf
} from "./noteSupport.js"

const peter = right(Note.parseVerifierKey(PETER_VKEY))
const peterSigner = right(Note.parseSignerKey(Redacted.make(PETER_SKEY)))
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
const SIGNED = right(Note.sign(TEXT, [peterSigner]))
const SIG_LINE = SIGNED.slice(TEXT.length + 1, -1)

/** Rewrites the base64 of a signature line's bytes. */
const mapLineBytes = (line: string, f: (bytes: Uint8Array) => Uint8Array): string => {
  const space = line.lastIndexOf(" ")
  const bytes = Either.getOrThrow(Encoding.decodeBase64(line.slice(space + 1)))
  return line.slice(0, space + 1) + Encoding.encodeBase64(f(bytes))
}
const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice()
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7))
  return out
}

const malformed = (note: string | Uint8Array) => {
  const e = left(Note.open(note, [peter]))
  assert.strictEqual(e._tag, "NoteMalformed")
  return e as Note.NoteMalformed
}

describe("Note: sign and open", () => {
  it("signs like x/mod (the PeterNeumann vector) and opens its own output", () => {
    assert.strictEqual(
      SIGNED,
      TEXT +
        "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    const opened = right(Note.open(SIGNED, [peter]))
    assert.strictEqual(opened.text, TEXT)
    assert.deepStrictEqual(opened.verified.map((s) => s.line), [4])
  })

  it("sign → open round trip for random texts, names and keys; parse finds each line", () => {
    FastCheck.assert(
      FastCheck.property(
        textArb,
        FastCheck.uniqueArray(FastCheck.tuple(nameArb, seedArb), {
          minLength: 1,
          maxLength: 3,
          selector: ([n]) => n
        }),
        (text, keys) => {
          const signers = keys.map(([n, seed]) => signer(n, seed))
          const note = right(Note.sign(text, signers))
          const opened = right(Note.open(note, signers.map(verifierOf)))
          assert.strictEqual(opened.text, text)
          assert.deepStrictEqual(opened.verified.map((s) => s.name), keys.map(([n]) => n))
          assert.deepStrictEqual(opened.unverified, [])
          // only the first key known: the others are unverified, not errors
          const partly = right(Note.open(note, [verifierOf(signers[0] as Note.Signer)]))
          assert.strictEqual(partly.verified.length, 1)
          assert.strictEqual(partly.unverified.length, keys.length - 1)
        }
      ),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 40 }
    )
  })

  it("any one-bit change of the text, the signature, the key id or the key is rejected", () => {
    FastCheck.assert(
      FastCheck.property(textArb, nameArb, seedArb, FastCheck.nat(), (text, name, seed, bit) => {
        const s = signer(name, seed)
        const v = verifierOf(s)
        const note = right(Note.sign(text, [s]))
        const line = note.slice(text.length + 1, -1)
        // signature bits (after the 4-byte key id): a known key's bad signature
        const badSig = text + "\n" + mapLineBytes(line, (b) => flipBit(b, 32 + (bit % 512))) + "\n"
        assert.strictEqual(left(Note.open(badSig, [v]))._tag, "NoteInvalidSignature")
        // key id bits: the line names another key, unknown here
        const badId = text + "\n" + mapLineBytes(line, (b) => flipBit(b, bit % 32)) + "\n"
        assert.strictEqual(left(Note.open(badId, [v]))._tag, "NoteNotVerified")
        // text: one bit of one character's code point, kept a valid non-control character
        const codes = Array.from(text)
        const at = bit % codes.length
        const flipped = ((codes[at] ?? "A").codePointAt(0) ?? 0x41) ^ (1 << (bit % 7)) || 0x41
        if (flipped >= 0x20 && codes[at] !== "\n") {
          codes[at] = String.fromCodePoint(flipped)
          const badText = codes.join("") + note.slice(text.length)
          assert.strictEqual(left(Note.open(badText, [v]))._tag, "NoteInvalidSignature")
        }
        // key: one bit of the public key makes another key (another key id, or no curve point)
        const other = Note.ed25519Verifier(name, flipBit(v.publicKey, bit % 256))
        if (Either.isRight(other)) assert.isTrue(Either.isLeft(Note.open(note, [other.right])))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 40 }
    )
  })

  it("a known key whose signature fails rejects the note even when another known key verifies", () => {
    const enoch = signer("EnochRoot", new Uint8Array(32).fill(7))
    const note = right(Note.sign(TEXT, [peterSigner, enoch]))
    const badEnoch = note.replace(
      /— EnochRoot (.*)\n$/,
      (_, b64: string) => `— EnochRoot ${mapLineBytes(`x ${b64}`, (b) => flipBit(b, 100)).slice(2)}\n`
    )
    const e = left(Note.open(badEnoch, [peter, verifierOf(enoch)]))
    assert.strictEqual(e._tag, "NoteInvalidSignature")
    assert.include(e.message, "EnochRoot+")
    assert.include(e.message, "line 5")
  })

  it("checks every line of a known key: a repeated key with a bad second signature rejects (x/mod checks only the first)", () => {
    const bad = mapLineBytes(SIG_LINE, (b) => flipBit(b, 40))
    const note = `${TEXT}\n${SIG_LINE}\n${bad}\n`
    const e = left(Note.open(note, [peter]))
    assert.strictEqual(e._tag, "NoteInvalidSignature")
    assert.strictEqual((e as Note.NoteInvalidSignature).line, 5)
  })

  it("reports identical repeated lines once", () => {
    const note = `${TEXT}\n${SIG_LINE}\n${SIG_LINE}\n`
    assert.strictEqual(right(Note.open(note, [peter])).verified.length, 1)
  })

  it("rejects a note no known key signed, listing who signed it", () => {
    const e = left(Note.open(SIGNED, []))
    assert.strictEqual(e._tag, "NoteNotVerified")
    assert.deepStrictEqual((e as Note.NoteNotVerified).unverified, ["PeterNeumann+c74f20a3"])
  })

  it("refuses two verifiers with the same name and key id", () => {
    assert.strictEqual(left(Note.open(SIGNED, [peter, peter]))._tag, "NoteAmbiguousKey")
  })

  it("accepts 100 signature lines and refuses 101", () => {
    const unknown = "— Unknown AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    const lines = (n: number) => Array.from({ length: n }, (_, i) => i === 0 ? SIG_LINE : unknown).join("\n")
    assert.isTrue(Either.isRight(Note.open(`${TEXT}\n${lines(100)}\n`, [peter])))
    const e = malformed(`${TEXT}\n${lines(101)}\n`)
    assert.strictEqual(e.reason, "too-many-signatures")
  })
})

describe("Note: refusals name the rule, the line and the value", () => {
  const cases: ReadonlyArray<readonly [string, string | Uint8Array, Note.NoteMalformed["reason"], number]> = [
    ["CR in the text", TEXT.replace("\n", "\r\n") + "\n" + SIG_LINE + "\n", "control-character", 1],
    ["a tab in a signature line", `${TEXT}\n${SIG_LINE.replace(" ", "\t")}\n`, "control-character", 4],
    ["no blank line", TEXT + SIG_LINE + "\n", "no-signature-block", 4],
    ["no signature lines", TEXT + "\n", "no-signature-block", 4],
    ["no final newline", `${TEXT}\n${SIG_LINE}`, "no-final-newline", 4],
    ["a hyphen for the em dash", `${TEXT}\n-${SIG_LINE.slice(1)}\n`, "not-a-signature-line", 4],
    ["an en dash for the em dash", `${TEXT}\n\u2013${SIG_LINE.slice(1)}\n`, "not-a-signature-line", 4],
    ["a trailing line", `${TEXT}\n${SIG_LINE}\nnot a signature\n`, "not-a-signature-line", 5],
    ["'+' in the key name", `${TEXT}\n${SIG_LINE.replace("PeterNeumann", "Peter+Neumann")}\n`, "invalid-key-name", 4],
    ["a space in the key name", `${TEXT}\n${SIG_LINE.replace("PeterNeumann", "Peter Neumann")}\n`, "invalid-base64", 4],
    ["base64 without padding", `${TEXT}\n${SIG_LINE.slice(0, -1)}\n`, "invalid-base64", 4],
    // the last base64 digit of 70 bytes carries 2 unused bits: 'M' → 'N' keeps the bytes, changes the spelling
    ["base64 with non-zero trailing bits", `${TEXT}\n${SIG_LINE.replace(/M=$/, "N=")}\n`, "invalid-base64", 4],
    ["a signature of 4 bytes", `${TEXT}\n— PeterNeumann x08gow==\n`, "signature-too-short", 4],
    ["a lone surrogate", TEXT.replace("If", "I\ud800f") + "\n" + SIG_LINE + "\n", "invalid-utf8", 1]
  ]
  for (const [what, note, reason, line] of cases) {
    it(what, () => {
      const e = malformed(note)
      assert.strictEqual(e.reason, reason)
      assert.strictEqual(e.line, line)
      assert.include(e.message, `line ${line}`)
    })
  }

  it("invalid UTF-8 bytes", () => {
    const bytes = new TextEncoder().encode(SIGNED)
    bytes[0] = 0xff
    assert.strictEqual(malformed(bytes).reason, "invalid-utf8")
  })

  it("sign refuses a text that could not be opened", () => {
    const texts = [["no newline", "no-final-newline"], ["a\rb\n", "control-character"], ["", "empty-text"]] as const
    for (const [text, reason] of texts) {
      assert.strictEqual(left(Note.sign(text, [peterSigner])).reason, reason)
    }
    const badName = Note.makeSigner("bad name", 1, peterSigner.publicKey, peterSigner.sign)
    assert.strictEqual(left(Note.sign(TEXT, [badName])).reason, "invalid-key-name")
    assert.strictEqual(left(Note.sign(TEXT, Array(101).fill(peterSigner))).reason, "too-many-signatures")
    // no signer: an empty signature block, which open refuses (a hostile review: TreeLog.checkpoint
    // with no signer gave an unsigned note)
    assert.strictEqual(left(Note.sign(TEXT, [])).reason, "no-signature-block")
  })
})

describe("Note: keys", () => {
  it("parses verifier keys, splitting on the first two '+' only", () => {
    const v = right(Note.parseVerifierKey("Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH"))
    assert.strictEqual(v.name, "Known")
    assert.strictEqual(Note.formatVerifierKey(v), "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH")
  })

  const bad: ReadonlyArray<readonly [string, Note.NoteKeyInvalid["reason"], string]> = [
    ["PeterNeumann+c74f20a3", "missing-part", "vkey"],
    ["Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid-key-id", "keyId"],
    ["+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid-key-name", "name"],
    ["PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key-id-mismatch", "keyId"],
    ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "invalid-base64", "key"],
    ["PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "unknown-type", "type"],
    // x/mod's "wrong key length" vector: its base64 is not canonical (non-zero trailing bits), refused first
    ["PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "invalid-base64", "key"],
    [
      `Long+${Note.hex8(Note.keyIdFor("Long", 1, new Uint8Array(33).fill(9)))}+${
        Encoding.encodeBase64(new Uint8Array([1, ...new Uint8Array(33).fill(9)]))
      }`,
      "invalid-key-length",
      "key"
    ],
    // the identity point (small order): it would verify R = identity, S = 0 over any text
    [
      `Id+${Note.hex8(Note.keyIdFor("Id", 1, fromHex("01".padEnd(64, "0"))))}+${
        Encoding.encodeBase64(fromHex("0101".padEnd(66, "0")))
      }`,
      "invalid-public-key",
      "key"
    ]
  ]
  for (const [vkey, reason, field] of bad) {
    it(`refuses the verifier key ${vkey} (${reason})`, () => {
      const e = left(Note.parseVerifierKey(vkey))
      assert.strictEqual(e.reason, reason)
      assert.strictEqual(e.field, field)
    })
  }

  it("a signer key's seed appears in no error, toString, JSON or inspection", () => {
    const seedHex = "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173"
    const printed = (x: unknown) => `${String(x)} ${JSON.stringify(x)} ${inspect(x, { depth: 10 })}`
    const shown = printed(peterSigner)
    assert.include(shown, "PeterNeumann+c74f20a3")
    assert.notInclude(shown, PETER_SEED_B64.slice(0, 12))
    assert.notInclude(shown, seedHex.slice(0, 12))
    const wrongId = PETER_SKEY.replace("c74f20a3", "c74f20a4")
    const truncated = PETER_SKEY.slice(0, -4)
    const wrongType = PETER_SKEY.replace("+AYEK", "+AoEK")
    // the secret part holds a '+': a key without its key ID, or without its name, shifts a part of
    // the seed into the key ID's (or the name's) place
    const secret = PETER_SKEY.slice("PRIVATE+KEY+PeterNeumann+c74f20a3+".length)
    assert.include(secret, "+")
    const noId = PETER_SKEY.replace("+c74f20a3", "")
    const noName = PETER_SKEY.replace("+PeterNeumann", "")
    const neither = `PRIVATE+KEY+${secret}`
    const bad = [
      wrongId,
      truncated,
      wrongType,
      "PRIVATE+KEY+x",
      PETER_SKEY.replace("PRIVATE", "PUBLIC"),
      noId,
      noName,
      neither
    ]
    for (const skey of bad) {
      const e = left(Note.parseSignerKey(Redacted.make(skey)))
      const text = `${printed(e)} ${e.message} ${e.stack ?? ""}`
      // no 6 characters in a row of the secret part, nor of the seed
      for (let i = 0; i + 6 <= secret.length; i++) assert.notInclude(text, secret.slice(i, i + 6), skey)
      for (let i = 0; i + 6 <= PETER_SEED_B64.length; i++) assert.notInclude(text, PETER_SEED_B64.slice(i, i + 6), skey)
    }
    assert.strictEqual(left(Note.parseSignerKey(noId)).reason, "invalid-key-id")
    assert.strictEqual(left(Note.parseSignerKey(noName)).reason, "invalid-key-id")
    assert.strictEqual(left(Note.parseSignerKey(wrongId)).reason, "key-id-mismatch")
    assert.strictEqual(left(Note.parseSignerKey(wrongType)).reason, "unknown-type")
  })

  it("a signer key read as a note (a key file given as a checkpoint) is never quoted by the error (a hostile review)", () => {
    const secret = PETER_SKEY.slice("PRIVATE+KEY+PeterNeumann+c74f20a3+".length)
    for (const text of [`\n\n${PETER_SKEY}\n`, `x\n\n${PETER_SKEY}\n`, `${PETER_SKEY}\n\n— a b\n`]) {
      const e = left(Note.parse(text))
      const shown = `${e.message} ${JSON.stringify(e)} ${inspect(e, { depth: 10 })}`
      assert.notInclude(shown, "PRIVATE+KEY+PeterNeumann")
      for (let i = 0; i + 6 <= secret.length; i++) assert.notInclude(shown, secret.slice(i, i + 6), text)
    }
  })

  it("formatSignerKey writes x/mod's signer key text (the PeterNeumann key) and parseSignerKey reads it back", () => {
    const seed = Encoding.decodeBase64(PETER_SEED_B64).pipe(Either.getOrThrow)
    assert.strictEqual(Redacted.value(right(Note.formatSignerKey("PeterNeumann", Redacted.make(seed)))), PETER_SKEY)
    FastCheck.assert(
      FastCheck.property(nameArb, seedArb, (name, bytes) => {
        const skey = right(Note.formatSignerKey(name, Redacted.make(bytes)))
        const parsed = right(Note.parseSignerKey(skey))
        const direct = right(Note.ed25519Signer(name, Redacted.make(bytes)))
        assert.strictEqual(parsed.keyId, direct.keyId)
        assert.deepStrictEqual(parsed.publicKey, direct.publicKey)
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 50 }
    )
    assert.strictEqual(
      left(Note.formatSignerKey("bad name", Redacted.make(new Uint8Array(32)))).reason,
      "invalid-key-name"
    )
  })

  it("the key id is SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]", () => {
    assert.strictEqual(Note.hex8(Note.keyIdFor("PeterNeumann", 1, peter.publicKey)), "c74f20a3")
    assert.notStrictEqual(Note.keyIdFor("PeterNeumann", 4, peter.publicKey), peter.keyId)
    assert.deepStrictEqual(peterSigner.publicKey, peter.publicKey)
    assert.deepStrictEqual(fromHex("1a5cd907"), peter.publicKey.subarray(0, 4))
  })
})

/** x/mod's `unicode.IsSpace`: the Unicode White_Space property, listed (not JavaScript's `\s`). */
const GO_SPACES = Array.from(
  "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
  (ch) => ch.codePointAt(0) ?? 0
)

describe("Note: C2SP's and x/mod's rules, exactly", () => {
  it("DEL (U+007F) is allowed, as C2SP (\"below U+0020\") and x/mod allow it; every code below U+0020 but \\n is refused as U+xxxx", () => {
    const text = "a\u007fb\n"
    const note = right(Note.sign(text, [peterSigner]))
    assert.strictEqual(right(Note.open(note, [peter])).text, text)
    for (let c = 0; c < 0x20; c++) {
      if (c === 0x0a) continue
      const bad = `a${String.fromCharCode(c)}b\n`
      const signed = left(Note.sign(bad, [peterSigner])) as Note.NoteMalformed
      assert.strictEqual(signed.reason, "control-character")
      assert.strictEqual(signed.value, `U+${c.toString(16).padStart(4, "0")}`)
      const opened = malformed(`${bad}\n${SIG_LINE}\n`)
      assert.strictEqual(opened.reason, "control-character")
      assert.strictEqual(opened.value, `U+${c.toString(16).padStart(4, "0")}`)
    }
  })

  it("a key name holds no Unicode space (White_Space, as Go's unicode.IsSpace) and no '+': U+0085 refused, U+FEFF allowed", () => {
    for (const c of GO_SPACES) assert.isFalse(Note.isValidName(`w${String.fromCodePoint(c)}x`), c.toString(16))
    assert.isFalse(Note.isValidName("w+x"))
    assert.isTrue(Note.isValidName("w\ufeffx"))
    assert.isTrue(Note.isValidName("w\u200bx")) // ZERO WIDTH SPACE is not White_Space
    // the same rule, character by character, over random names
    FastCheck.assert(
      FastCheck.property(FastCheck.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), (name) => {
        const go = ![...name].some((ch) => {
          const c = ch.codePointAt(0) ?? 0
          return GO_SPACES.includes(c) || ch === "+" || c < 0x20
        })
        assert.strictEqual(Note.isValidName(name), go, JSON.stringify(name))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 200 }
    )
    // a note signed by a key named with U+FEFF opens; one naming U+0085 in its line is malformed
    const feff = signer("w\ufeffx", new Uint8Array(32).fill(3))
    assert.strictEqual(right(Note.open(right(Note.sign(TEXT, [feff])), [verifierOf(feff)])).verified.length, 1)
    assert.strictEqual(malformed(`${TEXT}\n— w\u0085x ${SIG_LINE.split(" ")[2]}\n`).reason, "invalid-key-name")
  })

  it("a valid line repeated is verified once (100 copies cost one verification); a second, different line of the key is still verified", () => {
    let calls = 0
    const counting: Note.Verifier = { ...peter, verify: (text, sig) => (calls++, peter.verify(text, sig)) }
    const repeated = `${TEXT}\n${`${SIG_LINE}\n`.repeat(Note.MAX_SIGNATURES)}`
    const opened = right(Note.open(repeated, [counting]))
    assert.strictEqual(calls, 1)
    assert.strictEqual(opened.verified.length, 1)
    // another spelling of the key's line (a bad signature) after the good one still rejects the note
    const bad = `${TEXT}\n${SIG_LINE}\n${mapLineBytes(SIG_LINE, (b) => flipBit(b, 100))}\n`
    calls = 0
    assert.strictEqual(left(Note.open(bad, [counting]))._tag, "NoteInvalidSignature")
    assert.strictEqual(calls, 2)
  })

  it("base64 is accepted in its canonical spelling only, decoded as effect's decoder does (any string, any bytes)", () => {
    const reference = (text: string): Uint8Array | undefined => {
      const decoded = Encoding.decodeBase64(text)
      return Either.isRight(decoded) && Encoding.encodeBase64(decoded.right) === text ? decoded.right : undefined
    }
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    const b64ish = FastCheck.array(FastCheck.constantFrom(...alphabet, " ", "-", "_", "é", "\n"), { maxLength: 16 })
      .map((cs) => cs.join(""))
    const near = FastCheck.uint8Array({ maxLength: 40 }).chain((bytes) =>
      FastCheck.tuple(FastCheck.nat(60), FastCheck.constantFrom(...alphabet)).map(([at, ch]) => {
        const text = Encoding.encodeBase64(bytes)
        return at < text.length ? text.slice(0, at) + ch + text.slice(at + 1) : text
      })
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.oneof(b64ish, near), (text) => {
        assert.deepStrictEqual(Base64.decodeStrict(text), reference(text), JSON.stringify(text))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 3000 }
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepStrictEqual(Base64.decodeStrict(Base64.encode(bytes)), bytes)
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 500 }
    )
    // a 4 MB line of base64 is refused or parsed in one linear pass (it used to be re-encoded)
    assert.strictEqual(malformed(`${TEXT}\n— x ${"A".repeat(4_000_001)}\n`).reason, "invalid-base64")
    assert.strictEqual(left(Note.open(`${TEXT}\n— x ${"A".repeat(4_000_000)}\n`, [peter]))._tag, "NoteNotVerified")
  })

  it("a verifier keeps its own copy of the key: changing the publicKey it gives back, or the caller's array, changes nothing", () => {
    const other = signer("PeterNeumann", new Uint8Array(32).fill(9))
    const callers = peter.publicKey.slice()
    const v = right(Note.ed25519Verifier("PeterNeumann", callers))
    ;(v.publicKey as Uint8Array).set(other.publicKey)
    callers.set(other.publicKey)
    // a note by the other key, under this key's id: refused; the real note still opens
    const forged = `${TEXT}\n${
      Note.signatureLine("PeterNeumann", v.keyId, other.sign(new TextEncoder().encode(TEXT)))
    }\n`
    assert.strictEqual(left(Note.open(forged, [v]))._tag, "NoteInvalidSignature")
    assert.strictEqual(right(Note.open(SIGNED, [v])).verified.length, 1)
  })

  it("a long value quoted in an error is cut on a character, never inside a surrogate pair", () => {
    const name = "a".repeat(119) + "😀".repeat(5) + "+"
    const e = left(Note.ed25519Verifier(name, peter.publicKey)) as Note.NoteKeyInvalid
    assert.isTrue(e.value.isWellFormed())
    assert.isTrue(e.value.endsWith("…"))
  })
})

describe("Note.ed25519Signer of a seed that is not Redacted bytes", () => {
  it("is a NoteKeyInvalid naming the seed, never a throw (a helper's review of the API)", () => {
    for (
      const seed of [
        Redacted.make("a string seed"),
        "plain",
        7,
        Redacted.make(null),
        // an object that only claims to be bytes (the review of the realm-proof check: a throw)
        Redacted.make({ [Symbol.toStringTag]: "Uint8Array", length: 32 })
      ] as ReadonlyArray<unknown>
    ) {
      const signer = Note.ed25519Signer("example.com/log", seed as Redacted.Redacted<Uint8Array>)
      assert.isTrue(Either.isLeft(signer))
      if (Either.isLeft(signer)) assert.strictEqual(signer.left.field, "seed")
    }
    // bytes from another realm are a seed (the review of the check: instanceof refused them)
    const foreign = vm.runInNewContext("new Uint8Array(32).fill(9)") as Uint8Array
    const a = Either.getOrThrow(Note.ed25519Signer("example.com/log", Redacted.make(foreign)))
    const b = Either.getOrThrow(Note.ed25519Signer("example.com/log", Redacted.make(new Uint8Array(32).fill(9))))
    assert.strictEqual(Note.formatVerifierKey(a), Note.formatVerifierKey(b))
  })
})
