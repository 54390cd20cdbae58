/**
 * Strict standard base64 (RFC 4648 §4, with padding) for note signatures, keys and checkpoint
 * roots. `effect/Encoding` decodes; a string is accepted only when encoding the decoded bytes
 * gives the same string back, so whitespace, missing or extra padding and non-zero trailing
 * bits are refused: one byte string has exactly one accepted spelling (no malleable encodings
 * of a signature or a root).
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"

/** The bytes of a canonical base64 string, or undefined. */
export const decodeStrict = (text: string): Uint8Array | undefined => {
  const decoded = Encoding.decodeBase64(text)
  if (Either.isLeft(decoded)) return undefined
  return Encoding.encodeBase64(decoded.right) === text ? decoded.right : undefined
}

/** Standard base64 with padding. */
export const encode = (bytes: Uint8Array): string => Encoding.encodeBase64(bytes)
