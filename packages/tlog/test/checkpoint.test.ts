import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Cosignature from "@calybris/tlog/Cosignature"
import * as Note from "@calybris/tlog/Note"
import * as Tiles from "@calybris/tlog/Tiles"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { left, right, seedArb, signer, verifierOf } from "./noteSupport.js"

const SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
const SUMDB_NOTE = "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n" +
  "— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n"
const ROOT = "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="

const lineArb = FastCheck.string({ unit: "binary", minLength: 1, maxLength: 20 })
  .map((s) => s.replace(/[\u0000-\u001f\u007f]/g, ""))
  .filter((s) => s.length > 0)

const checkpointArb = FastCheck.record({
  origin: lineArb,
  size: FastCheck.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  root: FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
  extensions: FastCheck.array(lineArb, { maxLength: 3 })
}).map((fields) => new Checkpoint.Checkpoint(fields))

describe("Checkpoint: body", () => {
  it("parse ∘ format is the identity, and format ∘ parse gives the text back", () => {
    FastCheck.assert(
      FastCheck.property(checkpointArb, (cp) => {
        const text = Checkpoint.format(cp)
        const back = right(Checkpoint.parse(text))
        assert.strictEqual(back.origin, cp.origin)
        assert.strictEqual(back.size, cp.size)
        assert.deepStrictEqual(back.root, cp.root)
        assert.deepStrictEqual(back.extensions, cp.extensions)
        assert.strictEqual(Checkpoint.format(back), text)
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 300 }
    )
  })

  const refused: ReadonlyArray<readonly [string, string, Checkpoint.CheckpointMalformed["reason"], number]> = [
    ["a leading zero", `Log\n0123\n${ROOT}\n`, "invalid-size", 2],
    ["a plus sign", `Log\n+123\n${ROOT}\n`, "invalid-size", 2],
    ["an empty size", `Log\n\n${ROOT}\n`, "invalid-size", 2],
    ["2^64", `Log\n18446744073709551616\n${ROOT}\n`, "size-out-of-range", 2],
    ["99,999,999,999,999,999,999 (21 digits)", `Log\n${"9".repeat(21)}\n${ROOT}\n`, "size-out-of-range", 2],
    ["a size of a million digits", `Log\n${"9".repeat(1_000_000)}\n${ROOT}\n`, "size-out-of-range", 2],
    ["a 31-byte root", `Log\n1\n${"A".repeat(40)}AA==\n`, "invalid-root-length", 3],
    ["a 33-byte root", `Log\n1\n${"A".repeat(44)}\n`, "invalid-root-length", 3],
    ["a root without padding", `Log\n1\n${ROOT.slice(0, -1)}\n`, "invalid-root", 3],
    ["an empty extension line", `Log\n1\n${ROOT}\next\n\n`, "empty-extension-line", 5],
    ["an empty origin", `\n1\n${ROOT}\n`, "empty-origin", 1],
    ["two lines", "Log\n1\n", "too-few-lines", 2],
    ["no final newline", `Log\n1\n${ROOT}`, "no-final-newline", 3],
    ["a CR", `Log\r\n1\n${ROOT}\n`, "invalid-text", 1]
  ]
  for (const [what, text, reason, line] of refused) {
    it(`refuses ${what}`, () => {
      const e = left(Checkpoint.parse(text))
      assert.strictEqual(e.reason, reason)
      assert.strictEqual(e.line, line)
    })
  }

  it("quotes a long refused size cut to 120 characters", () => {
    const e = left(Checkpoint.parse(`Log\n${"9".repeat(1_000_000)}\n${ROOT}\n`))
    assert.strictEqual(e.value, "9".repeat(120) + "…")
  })

  it("body: what is signed is exactly the checkpoint parse reads back; a field holding a newline is refused", () => {
    const root = new Uint8Array(32).fill(7)
    const forged = new Checkpoint.Checkpoint({
      origin: `Log\n1000000\n${"A".repeat(43)}=`,
      size: 1n,
      root,
      extensions: []
    })
    const e = left(Checkpoint.body(forged))
    assert.strictEqual(e.reason, "newline-in-field")
    assert.strictEqual(e.line, 1)
    const ext = left(
      Checkpoint.body(new Checkpoint.Checkpoint({ origin: "Log", size: 1n, root, extensions: ["a", "b\nc"] }))
    )
    assert.strictEqual(ext.reason, "newline-in-field")
    assert.strictEqual(ext.line, 5)
    assert.strictEqual(
      left(Checkpoint.body(new Checkpoint.Checkpoint({ origin: "", size: 1n, root, extensions: [] }))).reason,
      "empty-origin"
    )
    assert.strictEqual(
      left(Checkpoint.body(new Checkpoint.Checkpoint({ origin: "L", size: -1n, root, extensions: [] }))).reason,
      "invalid-size"
    )
    assert.strictEqual(
      left(
        Checkpoint.body(new Checkpoint.Checkpoint({ origin: "L", size: 1n, root: root.subarray(1), extensions: [] }))
      ).reason,
      "invalid-root-length"
    )
    FastCheck.assert(
      FastCheck.property(checkpointArb, (cp) => {
        assert.strictEqual(right(Checkpoint.body(cp)), Checkpoint.format(cp))
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 100 }
    )
  })

  it("accepts the largest u64 size", () => {
    assert.strictEqual(right(Checkpoint.parse(`Log\n18446744073709551615\n${ROOT}\n`)).size, (1n << 64n) - 1n)
  })
})

describe("Checkpoint: verifyCheckpoint", () => {
  const sumdb = right(Checkpoint.parseVerifierKey(SUMDB_VKEY))

  it("verifies a real sum.golang.org checkpoint whose origin is not its key name, unless keyNameIsOrigin", () => {
    const v = right(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb]))
    assert.strictEqual(v.checkpoint.origin, "go.sum database tree")
    assert.strictEqual(v.checkpoint.size, 6476701n)
    assert.deepStrictEqual(v.signers, ["sum.golang.org+033de0ae"])
    const strict = left(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], { keyNameIsOrigin: true }))
    assert.strictEqual(strict._tag, "CheckpointNotSigned")
    assert.strictEqual((strict as Checkpoint.CheckpointNotSigned).reason, "key-name-is-not-origin")
  })

  it("requires the origin it is given", () => {
    assert.isTrue(Either.isRight(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], { origin: "go.sum database tree" })))
    const e = left(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], { origin: "example.com/log" }))
    assert.strictEqual(e._tag, "CheckpointOriginMismatch")
  })

  it("rejects a signed note whose text is not a checkpoint, with the body's reason", () => {
    const s = signer("example.com/log", new Uint8Array(32).fill(3))
    const note = right(Note.sign("example.com/log\n01\n" + ROOT + "\n", [s]))
    const e = left(Checkpoint.verifyCheckpoint(note, [verifierOf(s)]))
    assert.strictEqual(e._tag, "CheckpointMalformed")
    assert.strictEqual((e as Checkpoint.CheckpointMalformed).reason, "invalid-size")
  })

  it("sign → verify round trip; a one-bit change of the size or root is rejected", () => {
    FastCheck.assert(
      FastCheck.property(checkpointArb, seedArb, FastCheck.nat(255), (cp, seed, bit) => {
        const s = signer("log.example/" + String(bit), seed)
        const text = Checkpoint.format(cp)
        const note = right(Note.sign(text, [s]))
        const v = right(Checkpoint.verifyCheckpoint(note, [verifierOf(s)]))
        assert.strictEqual(Checkpoint.format(v.checkpoint), text)
        const root = cp.root.slice()
        root[bit >> 3] = (root[bit >> 3] as number) ^ (1 << (bit & 7))
        const forged = Checkpoint.format(new Checkpoint.Checkpoint({ ...cp, root, size: cp.size ^ 1n }))
        const e = left(Checkpoint.verifyCheckpoint(forged + note.slice(text.length), [verifierOf(s)]))
        assert.strictEqual(e._tag, "NoteInvalidSignature")
      }),
      { numRuns: FastCheck.readConfigureGlobal().numRuns ?? 30 }
    )
  })
})

describe("a JavaScript caller's values where the types allow none (a hostile review: each threw a TypeError)", () => {
  const sumdb = right(Checkpoint.parseVerifierKey(SUMDB_VKEY))
  // the types keep TypeScript callers from these; a JavaScript caller (a key map's miss) is not
  const js = <A>(value: unknown): A => value as A
  const failure = (either: Either.Either<unknown, { readonly _tag: string; readonly message: string }>) => {
    const e = left(either)
    return `${e._tag}: ${e.message}`
  }

  it("verifyCheckpoint: verifiers that are no list, or hold no verifier, are a NoteKeyInvalid naming the place", () => {
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js(undefined))),
      `NoteKeyInvalid: invalid note key: not-a-verifier in verifiers: "undefined, not a list of verifiers"`
    )
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js([sumdb, null]))),
      `NoteKeyInvalid: invalid note key: not-a-verifier in verifiers[1]: "null, not a verifier"`
    )
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js([{ ...sumdb, keyId: -1 }]))),
      `NoteKeyInvalid: invalid note key: not-a-verifier in verifiers[0]: "its keyId is not a u32"`
    )
    assert.strictEqual(
      failure(Note.open(SUMDB_NOTE, js([{ ...sumdb, verify: undefined }]))),
      `NoteKeyInvalid: invalid note key: not-a-verifier in verifiers[0]: "its verify is undefined"`
    )
    // a witness key without its public key (the review of this check: a TypeError in the count of witnesses)
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js([sumdb, { ...sumdb, name: "w", type: 4, publicKey: null }]))),
      `NoteKeyInvalid: invalid note key: not-a-verifier in verifiers[1]: "its publicKey is null, not bytes"`
    )
    // any iterable of verifiers, as before the check (a Set), one read once too (a generator: the
    // review of this acceptance found it read twice, the second time empty)
    assert.isTrue(Either.isRight(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js(new Set([sumdb])))))
    assert.isTrue(Either.isRight(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js(new Map([["k", sumdb]]).values()))))
    const once = function*() {
      yield sumdb
    }
    assert.isTrue(Either.isRight(Checkpoint.verifyCheckpoint(SUMDB_NOTE, js(once()))))
  })

  it("verifyCheckpoint: options that are not an object (an origin given in their place) are refused, never read as none", () => {
    // the origin given as the options: before, it pinned nothing and the checkpoint verified
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], js("example.com/log"))),
      "CheckpointOptionsInvalid: invalid checkpoint verification options: options: a string, not a plain object of options"
    )
    // a String object or a Map holds no options either (the review of this check: they pinned nothing)
    for (const options of [new String("example.com/log"), new Map([["origin", "example.com/log"]])]) {
      assert.include(
        failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], js(options))),
        `CheckpointOptionsInvalid: invalid checkpoint verification options: options: a ${
          options instanceof Map ? "Map" : "String"
        }, not a plain object of options`
      )
    }
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], js(null))),
      "CheckpointOptionsInvalid: invalid checkpoint verification options: options: null, not a plain object of options"
    )
    assert.strictEqual(
      failure(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], js({ origin: 7 }))),
      "CheckpointOptionsInvalid: invalid checkpoint verification options: origin: a number, not a string"
    )
    assert.isTrue(Either.isRight(Checkpoint.verifyCheckpoint(SUMDB_NOTE, [sumdb], undefined)))
  })

  it("parse, keys and tile paths of values that are no string are refused with the module's own error", () => {
    assert.strictEqual(
      failure(Checkpoint.parse(js(null))),
      `CheckpointMalformed: malformed checkpoint: invalid-text at line 1: "null, not a string"`
    )
    assert.strictEqual(
      failure(Note.parse(js(new ArrayBuffer(3)))),
      `NoteMalformed: malformed note: invalid-utf8 at line 1: "an object, not a string nor a Uint8Array"`
    )
    assert.strictEqual(
      failure(Note.parseVerifierKey(js(null))),
      `NoteKeyInvalid: invalid note key: not-a-string in vkey: "null"`
    )
    assert.strictEqual(
      failure(Checkpoint.parseVerifierKey(js(undefined))),
      `NoteKeyInvalid: invalid note key: not-a-string in vkey: "undefined"`
    )
    assert.strictEqual(
      failure(Note.parseSignerKey(js(42))),
      `NoteKeyInvalid: invalid note key: not-a-string in skey: "a number"`
    )
    assert.strictEqual(
      failure(Note.ed25519Verifier("a", js(null))),
      `NoteKeyInvalid: invalid note key: invalid-key-length in key: "null, not bytes"`
    )
    assert.strictEqual(
      failure(Cosignature.makeVerifier("w", js("x".repeat(32)))),
      `NoteKeyInvalid: invalid note key: invalid-key-length in key: "a string, not bytes"`
    )
    assert.strictEqual(
      failure(Note.ed25519Verifier(js(5), sumdb.publicKey)),
      `NoteKeyInvalid: invalid note key: not-a-string in name: "a number"`
    )
    assert.strictEqual(failure(Tiles.parsePath(js(null))), `TilePathError: not a tlog-tiles path: "null": not a string`)
  })
})
