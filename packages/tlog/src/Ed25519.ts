/**
 * Ed25519 (RFC 8032) for signed notes and cosignatures: verification with only a public key,
 * usable in a browser, and signing with the log's own 32-byte seed.
 *
 * Both go through `@noble/curves` (2.4.0), pure JavaScript. Verification uses noble's strict
 * RFC 8032 mode (`zip215: false`): non-canonical encodings of the public key, of R and of S (S ≥
 * L) are refused. A `node:crypto` route was measured (~0.3 ms against ~1.9 ms per verify on
 * the shared machine) and not adopted: OpenSSL checks `[S]B = R + [k]A` without the cofactor
 * and noble with it, so a signer who plants a small-order component in R could make a
 * signature that one route accepts and the other refuses — an auditor in a browser and one on
 * Node would disagree on the same note. One implementation, one verdict; a checkpoint carries a
 * handful of signatures, so the cost is milliseconds.
 *
 * Refuses (answers false / a typed error): keys that are not 32 bytes, signatures that are not
 * 64 bytes, public keys that do not decode to a curve point (`verify`); `isValidPublicKey`, which
 * every note verifier key passes, also refuses non-canonical encodings and small-order keys.
 */
import { ed25519 } from "@noble/curves/ed25519.js"
import * as Redacted from "effect/Redacted"

/** Length of a public key and of a seed (private key) in bytes. */
export const KEY_BYTES = 32
/** Length of a signature in bytes. */
export const SIGNATURE_BYTES = 64

const strict = { zip215: false } as const

/** True when `signature` is a valid Ed25519 signature of `message` under `publicKey`. Total: never throws. */
export const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false
  try {
    return ed25519.verify(signature, message, publicKey, strict)
  } catch {
    // noble throws on a public key or R that does not decode: not a valid signature
    return false
  }
}

/**
 * True when the 32 bytes are the canonical encoding of a curve point that is not of small order.
 * A small-order key (the identity, say) "signs" every message with R = identity, S = 0 under
 * either verification equation (Go's crypto/ed25519 accepts it): refused as a verifier key.
 */
export const isValidPublicKey = (publicKey: Uint8Array): boolean => {
  if (publicKey.length !== KEY_BYTES || !ed25519.utils.isValidPublicKey(publicKey, false)) return false
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder()
  } catch {
    return false
  }
}

/** The public key of a 32-byte seed. The caller checks the seed's length. */
export const publicKeyOf = (seed: Redacted.Redacted<Uint8Array>): Uint8Array =>
  ed25519.getPublicKey(Redacted.value(seed))

/** The (deterministic) signature of `message` under the 32-byte seed. */
export const sign = (seed: Redacted.Redacted<Uint8Array>, message: Uint8Array): Uint8Array =>
  ed25519.sign(message, Redacted.value(seed))
