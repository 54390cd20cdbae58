/**
 * Witness cosignatures, c2sp.org/tlog-cosignature version 1 (signature type 0x04), Ed25519.
 *
 * A cosignature is a signed-note line by the witness's key whose bytes are keyID[4] ‖
 * u64be(timestamp) ‖ Ed25519 signature[64] (76 bytes); key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖
 * pub)[:4]; the signed message is `cosignature/v1\ntime <timestamp>\n` followed by the whole
 * checkpoint text (with its final "\n", without signature lines). The timestamp is the witness's
 * clock in seconds since the epoch.
 *
 * Witness verifier keys take the form `name+hex8(keyID)+base64(0x04 ‖ pub)` (the form of
 * transparency-dev/formats' `NewVerifierForCosignatureV1` and of the vectors), parsed by
 * `parseVerifierKey`. A cosignature verifier plugs into `Note.open` like any `Note.Verifier`:
 * a known witness whose line is not 72 bytes after the key ID, or whose signature fails,
 * rejects the note (for a malformed line of a known key, C2SP allows "ignore or reject": we
 * reject).
 *
 * Refuses: payloads that are not 76 bytes (`parsePayload`); timestamps ≥ 2^63 (the spec's "MUST
 * NOT exceed 2^63 - 1"; Go's formats reads it as an int64) when signing, when decoding a payload,
 * and when verifying: a known witness's line with such a timestamp rejects the note as a failed
 * signature, even when its Ed25519 signature over that timestamp holds.
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Ed25519 from "./Ed25519.js"
import * as Note from "./Note.js"

/** The signature type byte of cosignature/v1. */
export const TYPE_COSIGNATURE_V1 = 0x04

/** Bytes of a cosignature line after the key ID: timestamp and signature. */
export const SIGNATURE_BYTES = 8 + Ed25519.SIGNATURE_BYTES

/** A cosignature payload that does not decode; `field` and `value` say what is wrong. */
export class CosignatureMalformed extends Schema.TaggedError<CosignatureMalformed>()("CosignatureMalformed", {
  reason: Schema.Literal("invalid-length", "timestamp-out-of-range"),
  field: Schema.String,
  value: Schema.String
}) {
  override get message() {
    return `malformed cosignature: ${this.reason} in ${this.field}: ${this.value}`
  }
}

/** A decoded cosignature payload. */
export interface Payload {
  readonly keyId: number
  readonly timestamp: bigint
  readonly signature: Uint8Array
}

const encoder = new TextEncoder()

/** Timestamps are below this (the spec's int64 range). */
const U63 = 1n << 63n

/** `cosignature/v1\ntime <timestamp>\n` ‖ the checkpoint text's bytes: what a witness signs. */
export const signedMessage = (checkpointText: Uint8Array, timestamp: bigint): Uint8Array => {
  const header = encoder.encode(`cosignature/v1\ntime ${timestamp.toString()}\n`)
  const out = new Uint8Array(header.length + checkpointText.length)
  out.set(header)
  out.set(checkpointText, header.length)
  return out
}

/** Decodes keyID[4] ‖ u64be(timestamp) ‖ signature[64] (a note line's full bytes, 76). */
export const parsePayload = (bytes: Uint8Array): Either.Either<Payload, CosignatureMalformed> => {
  if (bytes.length !== 4 + SIGNATURE_BYTES) {
    return Either.left(
      new CosignatureMalformed({
        reason: "invalid-length",
        field: "payload",
        value: `${bytes.length} bytes, expected 76`
      })
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const timestamp = view.getBigUint64(4)
  if (timestamp >= U63) {
    return Either.left(
      new CosignatureMalformed({ reason: "timestamp-out-of-range", field: "timestamp", value: timestamp.toString() })
    )
  }
  return Either.right({ keyId: view.getUint32(0), timestamp, signature: bytes.slice(12) })
}

/**
 * The timestamp of a line's bytes after the key ID, when they have a cosignature's length and
 * the timestamp is below 2^63.
 */
export const timestampOf = (signature: Uint8Array): bigint | undefined => {
  if (signature.length !== SIGNATURE_BYTES) return undefined
  const timestamp = new DataView(signature.buffer, signature.byteOffset, signature.byteLength).getBigUint64(0)
  return timestamp < U63 ? timestamp : undefined
}

/** A checked witness public key as a note verifier of cosignature/v1 lines. */
export const makeVerifier = (name: string, publicKey: Uint8Array): Either.Either<Note.Verifier, Note.NoteKeyInvalid> =>
  Either.map(Note.ed25519Verifier(name, publicKey), (ed) => {
    // its own copy: a caller changing the `publicKey` it was given does not change what verifies
    const key = ed.publicKey.slice()
    return {
      name,
      keyId: Note.keyIdFor(name, TYPE_COSIGNATURE_V1, key),
      type: TYPE_COSIGNATURE_V1,
      publicKey: ed.publicKey,
      verify: (text: Uint8Array, signature: Uint8Array) => {
        const timestamp = timestampOf(signature)
        return timestamp !== undefined &&
          Ed25519.verify(key, signedMessage(text, timestamp), signature.subarray(8))
      }
    }
  })

/** Parses a witness verifier key `name+hex8(keyID)+base64(0x04 ‖ pub)`. */
export const parseVerifierKey = (vkey: string): Either.Either<Note.Verifier, Note.NoteKeyInvalid> =>
  Either.flatMap(Note.decodeVerifierKey(vkey), (parts) =>
    parts.type !== TYPE_COSIGNATURE_V1
      ? Either.left(
        new Note.NoteKeyInvalid({
          reason: "unknown-type",
          field: "type",
          value: `0x${parts.type.toString(16).padStart(2, "0")}`
        })
      )
      : makeVerifier(parts.name, parts.key))

/**
 * A witness signer for one timestamp (a `Note.Signer` of type 0x04): `Note.sign(checkpoint,
 * [logSigner, witness])` appends its cosignature line.
 */
export const makeSigner = (
  name: string,
  seed: Redacted.Redacted<Uint8Array>,
  timestamp: bigint
): Either.Either<Note.Signer, Note.NoteKeyInvalid | CosignatureMalformed> => {
  if (timestamp < 0n || timestamp >= U63) {
    return Either.left(
      new CosignatureMalformed({ reason: "timestamp-out-of-range", field: "timestamp", value: timestamp.toString() })
    )
  }
  return Either.map(Note.ed25519Signer(name, seed), (ed) => {
    const own = Redacted.make(Redacted.value(seed).slice())
    return Note.makeSigner(name, TYPE_COSIGNATURE_V1, ed.publicKey, (text) => {
      const out = new Uint8Array(SIGNATURE_BYTES)
      new DataView(out.buffer).setBigUint64(0, timestamp)
      out.set(Ed25519.sign(own, signedMessage(text, timestamp)), 8)
      return out
    })
  })
}
