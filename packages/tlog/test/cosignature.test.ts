import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Cosignature from "@calybris/tlog/Cosignature"
import * as Ed25519 from "@calybris/tlog/Ed25519"
import * as Note from "@calybris/tlog/Note"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { left, right, seedArb, signer, verifierOf } from "./noteSupport.js"

const TEXT = "example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
const logSigner = signer("example.org/log", new Uint8Array(32).fill(1))
const witnessOf = (seed: Uint8Array, ts: bigint) =>
  right(Cosignature.makeSigner("witness.example", Redacted.make(seed), ts))
const witnessVerifier = (w: Note.Signer) => right(Cosignature.makeVerifier(w.name, w.publicKey))

describe("Cosignature", () => {
  it("log signature + cosignature round trip: the witness and its timestamp are reported", () => {
    FastCheck.assert(
      FastCheck.property(seedArb, FastCheck.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (seed, ts) => {
        const w = witnessOf(seed, ts)
        const note = right(Note.sign(TEXT, [logSigner, w]))
        const v = right(Checkpoint.verifyCheckpoint(note, [verifierOf(logSigner), witnessVerifier(w)]))
        assert.deepStrictEqual(v.signers, [Note.keyLabel(logSigner.name, logSigner.keyId)])
        assert.deepStrictEqual(v.cosignatures, [{ name: w.name, keyId: w.keyId, timestamp: ts }])
        // a witness whose key is not given is just an unknown line
        const alone = right(Checkpoint.verifyCheckpoint(note, [verifierOf(logSigner)]))
        assert.deepStrictEqual(alone.cosignatures, [])
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 20 }
    )
  })

  it("any one-bit change of the timestamp or signature of a known witness rejects the checkpoint", () => {
    FastCheck.assert(
      FastCheck.property(seedArb, FastCheck.nat(8 * 72 - 1), (seed, bit) => {
        const w = witnessOf(seed, 1234n)
        const note = right(Note.sign(TEXT, [logSigner, w]))
        const lines = note.split("\n")
        const line = lines[lines.length - 2] ?? ""
        const space = line.lastIndexOf(" ")
        const bytes = Either.getOrThrow(Encoding.decodeBase64(line.slice(space + 1)))
        const i = 32 + bit // after the key id
        bytes[i >> 3] = (bytes[i >> 3] as number) ^ (1 << (i & 7))
        lines[lines.length - 2] = line.slice(0, space + 1) + Encoding.encodeBase64(bytes)
        const e = left(Checkpoint.verifyCheckpoint(lines.join("\n"), [verifierOf(logSigner), witnessVerifier(w)]))
        assert.strictEqual(e._tag, "NoteInvalidSignature")
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 20 }
    )
  })

  it("a cosignature is not a log signature: its key id and message are separated by type", () => {
    const w = witnessOf(new Uint8Array(32).fill(5), 99n)
    const note = right(Note.sign(TEXT, [w]))
    // the same public key as an Ed25519 (0x01) verifier: another key id, so the line is unknown
    const asLogKey = verifierOf(signer(w.name, new Uint8Array(32).fill(5)))
    assert.notStrictEqual(asLogKey.keyId, w.keyId)
    assert.strictEqual(left(Checkpoint.verifyCheckpoint(note, [asLogKey]))._tag, "NoteNotVerified")
    // witness key alone: the note verifies, but a checkpoint needs a log signature
    const e = left(Checkpoint.verifyCheckpoint(note, [witnessVerifier(w)]))
    assert.strictEqual(e._tag, "CheckpointNotSigned")
    assert.strictEqual((e as Checkpoint.CheckpointNotSigned).reason, "no-log-signature")
  })

  it("parses witness keys of type 0x04 only, and payloads of exactly 76 bytes", () => {
    const w = witnessOf(new Uint8Array(32).fill(5), 0n)
    const vkey = Note.formatVerifierKey(w)
    assert.strictEqual(right(Cosignature.parseVerifierKey(vkey)).type, 4)
    assert.strictEqual(right(Checkpoint.parseVerifierKey(vkey)).type, 4)
    const logVkey = Note.formatVerifierKey(logSigner)
    assert.strictEqual(left(Cosignature.parseVerifierKey(logVkey)).reason, "unknown-type")
    assert.strictEqual(left(Note.parseVerifierKey(vkey)).reason, "unknown-type")
    for (const n of [75, 77, 68]) {
      const e = left(Cosignature.parsePayload(new Uint8Array(n)))
      assert.strictEqual(e.reason, "invalid-length")
      assert.include(e.value, `${n} bytes`)
    }
    // the spec: a timestamp "MUST NOT exceed 2^63 - 1"
    const high = new Uint8Array(76).fill(0xff)
    const e = left(Cosignature.parsePayload(high))
    assert.strictEqual(e.reason, "timestamp-out-of-range")
    assert.strictEqual(e.value, String((1n << 64n) - 1n))
    high[4] = 0x7f
    const p = right(Cosignature.parsePayload(high))
    assert.strictEqual(p.timestamp, (1n << 63n) - 1n)
    assert.strictEqual(p.keyId, 0xffffffff)
  })

  it("refuses to sign a timestamp outside int64, and its signer never prints the seed", () => {
    const seed = new Uint8Array(32).fill(0xab)
    assert.strictEqual(
      left(Cosignature.makeSigner("w", Redacted.make(seed), 1n << 63n))._tag,
      "CosignatureMalformed"
    )
    assert.strictEqual(left(Cosignature.makeSigner("w", Redacted.make(seed), -1n))._tag, "CosignatureMalformed")
    const w = witnessOf(seed, 5n)
    assert.notInclude(`${String(w)} ${JSON.stringify(w)}`, "abab")
  })

  it("a known witness's line with a timestamp ≥ 2^63 rejects the checkpoint, though its signature over that time holds", () => {
    const seed = new Uint8Array(32).fill(0x21)
    const w = witnessOf(seed, 1n)
    for (const ts of [1n << 63n, (1n << 64n) - 1n]) {
      // signed by the witness's own key over that timestamp (makeSigner refuses to: made by hand)
      const payload = new Uint8Array(Cosignature.SIGNATURE_BYTES)
      new DataView(payload.buffer).setBigUint64(0, ts)
      payload.set(Ed25519.sign(Redacted.make(seed), Cosignature.signedMessage(new TextEncoder().encode(TEXT), ts)), 8)
      assert.isTrue(
        Ed25519.verify(w.publicKey, Cosignature.signedMessage(new TextEncoder().encode(TEXT), ts), payload.subarray(8))
      )
      assert.isUndefined(Cosignature.timestampOf(payload))
      const note = right(Note.sign(TEXT, [logSigner])) + Note.signatureLine(w.name, w.keyId, payload) + "\n"
      const e = left(Checkpoint.verifyCheckpoint(note, [verifierOf(logSigner), witnessVerifier(w)]))
      assert.strictEqual(e._tag, "NoteInvalidSignature")
      // without the witness's key, an unknown line: the log's signature alone verifies, no cosignature
      assert.deepStrictEqual(right(Checkpoint.verifyCheckpoint(note, [verifierOf(logSigner)])).cosignatures, [])
    }
  })

  it("witnesses: \"all\" or k requires that many of the witness keys given to have cosigned (default 0: a stripped line still verifies)", () => {
    const w1 = witnessOf(new Uint8Array(32).fill(0x41), 5n)
    const w2 = witnessOf(new Uint8Array(32).fill(0x42), 6n)
    const keys = [verifierOf(logSigner), witnessVerifier(w1), witnessVerifier(w2)]
    const one = right(Note.sign(TEXT, [logSigner, w1]))
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(one, keys)).cosignatures.length, 1)
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(one, keys, { witnesses: 1 })).cosignatures.length, 1)
    const e = left(Checkpoint.verifyCheckpoint(one, keys, { witnesses: "all" })) as Checkpoint.CheckpointNotCosigned
    assert.strictEqual(e._tag, "CheckpointNotCosigned")
    assert.strictEqual(e.required, 2)
    assert.deepStrictEqual(e.missing, [Note.keyLabel(w2.name, w2.keyId)])
    assert.include(e.message, Note.keyLabel(w2.name, w2.keyId))
    const both = right(Note.sign(TEXT, [logSigner, w1, w2]))
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(both, keys, { witnesses: "all" })).cosignatures.length, 2)
    // the log's signature alone, every witness line stripped
    const bare = right(Note.sign(TEXT, [logSigner]))
    assert.strictEqual(left(Checkpoint.verifyCheckpoint(bare, keys, { witnesses: 1 }))._tag, "CheckpointNotCosigned")
    // a value that is not "all" or a count (a JavaScript caller's NaN, -1, 0.5, "ALL") fails closed
    for (const witnesses of [Number.NaN, -1, 0.5, "ALL"]) {
      const e = left(Checkpoint.verifyCheckpoint(bare, keys, { witnesses } as unknown as Checkpoint.VerifyOptions))
      assert.strictEqual(e._tag, "CheckpointNotCosigned", String(witnesses))
      assert.include(e.message, "impossible")
    }
  })

  it("witnesses are counted by public key: one key given under two names is one witness", () => {
    const seed = new Uint8Array(32).fill(0x51)
    const a = right(Cosignature.makeSigner("witness-a.example", Redacted.make(seed), 9n))
    const b = right(Cosignature.makeSigner("witness-b.example", Redacted.make(seed), 9n))
    const keys = [verifierOf(logSigner), witnessVerifier(a), witnessVerifier(b)]
    // a's line, and the same signature copied under b's name and key ID: both verify
    const signed = right(Note.sign(TEXT, [logSigner, a]))
    const line = signed.split("\n").find((l) => l.startsWith(`\u2014 ${a.name} `)) as string
    const payload = Buffer.from(line.split(" ")[2] as string, "base64").subarray(4)
    const copied = signed + Note.signatureLine(b.name, b.keyId, payload) + "\n"
    const both = right(Checkpoint.verifyCheckpoint(copied, keys))
    assert.strictEqual(both.cosignatures.length, 2)
    // but they are one witness: two are not there
    const e = left(Checkpoint.verifyCheckpoint(copied, keys, { witnesses: 2 })) as Checkpoint.CheckpointNotCosigned
    assert.strictEqual(e._tag, "CheckpointNotCosigned")
    assert.strictEqual(e.cosignedKeys, 1)
    assert.include(e.message, "one public key counted once")
    // a's line alone: b's key cosigned too (it is a's), so no witness is missing, and still only one
    const alone = left(Checkpoint.verifyCheckpoint(signed, keys, { witnesses: 2 })) as Checkpoint.CheckpointNotCosigned
    assert.strictEqual(alone.cosignedKeys, 1)
    assert.deepStrictEqual(alone.missing, [])
    // "all" of the keys given: the one key
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(copied, keys, { witnesses: "all" })).cosignatures.length, 2)
    // two distinct witnesses still make two
    const c = witnessOf(new Uint8Array(32).fill(0x52), 9n)
    const two = right(Note.sign(TEXT, [logSigner, a, c]))
    const distinct = [verifierOf(logSigner), witnessVerifier(a), witnessVerifier(c)]
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(two, distinct, { witnesses: 2 })).cosignatures.length, 2)
  })

  it("a witness verifier keeps its own copy of the key", () => {
    const w = witnessOf(new Uint8Array(32).fill(0x31), 7n)
    const other = witnessOf(new Uint8Array(32).fill(0x32), 7n)
    const callers = w.publicKey.slice()
    const v = right(Cosignature.makeVerifier(w.name, callers))
    ;(v.publicKey as Uint8Array).set(other.publicKey)
    callers.set(other.publicKey)
    // the other witness's cosignature under this witness's key id: refused
    const line = right(Note.sign(TEXT, [other])).slice(TEXT.length + 1)
    const forged = right(Note.sign(TEXT, [logSigner])) + line.replace(
      /^(— \S+ )(\S+)/,
      (_, head: string, b64: string) => {
        const bytes = Either.getOrThrow(Encoding.decodeBase64(b64))
        new DataView(bytes.buffer).setUint32(0, v.keyId)
        return head + Encoding.encodeBase64(bytes)
      }
    )
    assert.strictEqual(
      left(Checkpoint.verifyCheckpoint(forged, [verifierOf(logSigner), v]))._tag,
      "NoteInvalidSignature"
    )
    const good = right(Note.sign(TEXT, [logSigner, w]))
    assert.strictEqual(right(Checkpoint.verifyCheckpoint(good, [verifierOf(logSigner), v])).cosignatures.length, 1)
  })

  it("signs the message cosignature/v1, time, then the checkpoint text", () => {
    const msg = new TextDecoder().decode(Cosignature.signedMessage(new TextEncoder().encode(TEXT), 1234n))
    assert.strictEqual(msg, "cosignature/v1\ntime 1234\n" + TEXT)
  })
})
