/**
 * Ed25519 (RFC 8032) for signed notes and cosignatures: verification with only a public key,
 * usable in a browser, and signing with the log's own 32-byte seed.
 *
 * Both go through `@noble/curves` (2.4.0) and `@noble/hashes`, pure JavaScript, one
 * implementation for every runtime (an auditor in a browser and one on Node reach one verdict).
 * Verification is Go's `crypto/ed25519.Verify` (what x/mod's `sumdb/note`, transparency-dev
 * and sigsum check, and OpenSSL): S must be canonical (S < L), k = SHA-512(R ‖ A ‖ M) mod L, and
 * the encoding of [S]B − [k]A must equal R's 32 bytes — the equation without the cofactor. noble's
 * own `verify` checks the cofactored [8][S]B = [8]R + [8][k]A, which RFC 8032 allows too, but then
 * a signer who plants a small-order component in R makes a signature Calybris accepts and every Go
 * or OpenSSL verifier refuses (a hostile review): one note, two verdicts.
 *
 * Refuses (answers false / a typed error): keys that are not 32 bytes, signatures that are not
 * 64 bytes, S ≥ L, public keys that do not decode canonically to a curve point or are of small
 * order (`verify`); `isValidPublicKey`, which every note verifier key passes, refuses the same keys.
 */
import { ed25519 } from "@noble/curves/ed25519.js"
import { bytesToNumberLE, equalBytes } from "@noble/curves/utils.js"
import { sha512 } from "@noble/hashes/sha2.js"
import * as Redacted from "effect/Redacted"

/** Length of a public key and of a seed (private key) in bytes. */
export const KEY_BYTES = 32
/** Length of a signature in bytes. */
export const SIGNATURE_BYTES = 64

const Point = ed25519.Point
/** the order L of the prime-order subgroup */
const L = Point.Fn.ORDER

/**
 * True when `signature` is a valid Ed25519 signature of `message` under `publicKey`, by Go's
 * equation (see the module's comment). Total: never throws.
 */
export const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false
  try {
    // the key: a canonical encoding of a point not of small order (every note verifier key is)
    const A = Point.fromBytes(publicKey, false)
    if (A.isSmallOrder()) return false
    const R = signature.subarray(0, 32)
    const S = bytesToNumberLE(signature.subarray(32))
    if (S >= L) return false
    const hashed = new Uint8Array(64 + message.length)
    hashed.set(R, 0)
    hashed.set(publicKey, 32)
    hashed.set(message, 64)
    const k = bytesToNumberLE(sha512(hashed)) % L
    return equalBytes(Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k)).toBytes(), R)
  } catch {
    // noble throws on a public key that does not decode: not a valid signature
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
