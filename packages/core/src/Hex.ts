/**
 * Hex digests (SPEC §4): decoding works on the UTF-8 bytes of the string, with the
 * reference's order of checks and messages.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** The string has an odd number of UTF-8 bytes. */
export class OddLength extends Schema.TaggedError<OddLength>()("OddLength", {}) {
  override get message(): string {
    return "odd hex string length"
  }
}

/** A byte that is not a hex digit, at its byte offset. */
export class InvalidHexCharacter extends Schema.TaggedError<InvalidHexCharacter>()("InvalidHexCharacter", {
  digit: Schema.Number,
  index: Schema.Number
}) {
  override get message(): string {
    return `invalid hex digit 0x${this.digit.toString(16).padStart(2, "0")} at index ${this.index}`
  }
}

/** Decoded, the string is not 32 bytes long. */
export class InvalidStringLength extends Schema.TaggedError<InvalidStringLength>()("InvalidStringLength", {}) {
  override get message(): string {
    return "expected 64 hex characters"
  }
}

export type HexDecodeError = OddLength | InvalidHexCharacter | InvalidStringLength

const nibble = (byte: number): number =>
  byte >= 0x30 && byte <= 0x39
    ? byte - 0x30
    : byte >= 0x61 && byte <= 0x66
    ? byte - 0x57
    : byte >= 0x41 && byte <= 0x46
    ? byte - 0x37
    : -1

const encoder = new TextEncoder()

/** Decode a 64-digit hex digest (either case) into its 32 bytes. */
export const decodeDigest = (hex: string): Either.Either<Uint8Array, HexDecodeError> => {
  const bytes = encoder.encode(hex)
  if (bytes.length % 2 !== 0) return Either.left(new OddLength())
  const out = new Uint8Array(bytes.length / 2)
  for (let i = 0; i < bytes.length; i += 2) {
    const hiByte = bytes[i] as number
    const loByte = bytes[i + 1] as number
    const hi = nibble(hiByte)
    if (hi < 0) return Either.left(new InvalidHexCharacter({ digit: hiByte, index: i }))
    const lo = nibble(loByte)
    if (lo < 0) return Either.left(new InvalidHexCharacter({ digit: loByte, index: i + 1 }))
    out[i / 2] = hi * 16 + lo
  }
  if (out.length !== 32) return Either.left(new InvalidStringLength())
  return Either.right(out)
}
