/**
 * Strict standard base64 (RFC 4648 §4, with padding) for note signatures, keys and checkpoint
 * roots. A string is accepted only in its canonical spelling — the one encoding its bytes gives
 * back: length a multiple of 4, the standard alphabet, '=' only as the last one or two padding
 * characters, and the unused low bits of the last data character zero. So whitespace, missing or
 * extra padding and non-zero trailing bits are refused: one byte string has exactly one accepted
 * spelling (no malleable encodings of a signature or a root). Checked and decoded in one linear
 * pass (a signature line of a note is untrusted and may be megabytes long).
 */
import * as Encoding from "effect/Encoding"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
/** Each ASCII code's 6-bit value, -1 outside the alphabet. */
const VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i
const PAD = 0x3d

const valueAt = (text: string, i: number): number => {
  const c = text.charCodeAt(i)
  return c < 128 ? VALUES[c] as number : -1
}

/** The bytes of a canonical base64 string, or undefined. */
export const decodeStrict = (text: string): Uint8Array | undefined => {
  const n = text.length
  if (n % 4 !== 0) return undefined
  const pad = n === 0 || text.charCodeAt(n - 1) !== PAD ? 0 : text.charCodeAt(n - 2) === PAD ? 2 : 1
  const out = new Uint8Array((n / 4) * 3 - pad)
  // the quads without padding
  const full = pad === 0 ? n : n - 4
  let o = 0
  for (let i = 0; i < full; i += 4) {
    const a = valueAt(text, i)
    const b = valueAt(text, i + 1)
    const c = valueAt(text, i + 2)
    const d = valueAt(text, i + 3)
    if ((a | b | c | d) < 0) return undefined
    const v = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = v >>> 16
    out[o++] = (v >>> 8) & 0xff
    out[o++] = v & 0xff
  }
  if (pad === 0) return out
  const a = valueAt(text, full)
  const b = valueAt(text, full + 1)
  if ((a | b) < 0) return undefined
  if (pad === 2) {
    // "xx==": one byte, the second character's low 4 bits unused
    if ((b & 0x0f) !== 0) return undefined
    out[o] = (a << 2) | (b >>> 4)
    return out
  }
  // "xxx=": two bytes, the third character's low 2 bits unused
  const c = valueAt(text, full + 2)
  if (c < 0 || (c & 0x03) !== 0) return undefined
  const v = (a << 18) | (b << 12) | (c << 6)
  out[o++] = v >>> 16
  out[o] = (v >>> 8) & 0xff
  return out
}

/** Standard base64 with padding. */
export const encode = (bytes: Uint8Array): string => Encoding.encodeBase64(bytes)
